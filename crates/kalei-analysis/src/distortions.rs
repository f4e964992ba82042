//! Cognitive-distortion fragments.
//!
//! Rules are written from the clinical descriptions of the twelve patterns
//! (Beck, Burns): each rule is a pattern over the normalised text with a base
//! confidence and a few *anchor* words; a rule is only tried on sentences
//! that contain one of its anchors, so a typical sentence runs a handful of
//! patterns. Evidence inside one span is combined (noisy-or), the strongest
//! type names the fragment, overlapping spans are resolved by confidence.

use std::sync::LazyLock;

use regex::Regex;

use crate::gate::{Present, MAX_SETS};
use crate::lexicon::FxMap;
use crate::patterns::{anchor_words, compile};
use crate::text::Doc;
use crate::{DistortionType as D, Fragment};

/// Minimum combined confidence for a fragment to be reported.
pub(crate) const EMIT_MIN: f32 = 0.58;

/// Spans longer than this (in chars) are clipped to the clause around the match.
const MAX_SPAN_CHARS: u32 = 240;

struct Rule {
    ty: D,
    conf: f32,
    re: Regex,
    unless: Option<Regex>,
}

type RuleSrc = (D, f32, &'static str, &'static str, &'static str);

/// (type, confidence, anchors, pattern, unless-pattern)
const RULES: &[RuleSrc] = &[
    // ---------------------------------------------------------------- all-or-nothing
    (D::AllOrNothing, 0.75, "complete total utter absolute", r"\b(?:a |an )?(?:complete|total|utter|absolute) (?:failure|waste|mess|loser|idiot|fraud|wreck|joke)\b", ""),
    (D::AllOrNothing, 0.7, "everything all life", r"\b(?:everything|it all|my (?:whole |entire )?life|all of it) (?:is|was|will be|has been|feels|seems|went|goes|just) (?:(?:completely|totally|just|so|now|already|all|always) )*(?:ruined|wrong|pointless|meaningless|worthless|falling apart|a mess|over|hopeless|broken|destroyed|bad|awful|terrible|horrible|a failure|a waste|a lie|fake|against me)\b", ""),
    (D::AllOrNothing, 0.7, "nothing", r"\bnothing (?:i do |i did |i try |ever )?(?:is|was|will be|goes|went|seems|feels|works|worked|helps|helped|will ever be|is ever) (?:ever )?(?:right|good enough|enough|good|okay|ok|working|well|going to work|going to help)\b", ""),
    (D::AllOrNothing, 0.82, "perfect flawless best", r"\b(?:if|unless) (?:i|it|everything) (?:am|is|was|do|can|get) not (?:(?:do|get|be) )?(?:perfect|the best|100|flawless|everything)", ""),
    (D::AllOrNothing, 0.65, "perfect flawless best", r"\b(?:i|it|everything|things) (?:have|has|need|needs|must|should) (?:to )?be (?:absolutely |completely |just )?(?:perfect|flawless|the best)\b", ""),
    (D::AllOrNothing, 0.7, "either nothing black", r"\b(?:all or nothing|black and white|either (?:[a-z']+ ){1,6}or (?:nothing|never|i am (?:a )?(?:failure|worthless|nothing)|not at all))\b", ""),
    (D::AllOrNothing, 0.66, "completely totally entirely utterly absolutely", r"\b(?:completely|totally|entirely|utterly|absolutely|100 %) (?:useless|worthless|hopeless|pointless|ruined|failed|broken|alone|unlovable|stupid|incompetent|meaningless|wrong|destroyed|lost|empty|a failure|alone in this|unable|incapable|unhappy|miserable|done|different|the opposite)\b", ""),
    (D::AllOrNothing, 0.6, "anything everything", r"\b(?:no good|worthless|useless|terrible|hopeless|bad) (?:at|in|with) (?:anything|everything|life)\b", ""),
    (D::AllOrNothing, 0.66, "everything all life", r"\b(?:ruined|ruin|ruins|destroyed|destroy|messed up|mess up|screwed up|screw up|fucked up|lost) (?:everything|it all|all of it|my (?:whole |entire )?life)\b", ""),
    (D::AllOrNothing, 0.55, "all whatsoever", r"\bnot (?:[a-z']+ ){1,4}(?:at all|whatsoever)\b", r"\bnot (?:sure|certain) "),
    (D::AllOrNothing, 0.6, "perfect enough", r"\b(?:never|nothing|not) (?:[a-z']+ ){0,3}(?:perfect|good enough)\b", ""),
    (D::AllOrNothing, 0.55, "either", r"\beither (?:i|it|he|she|they|we) (?:[a-z']+ ){1,6}or (?:i|it|he|she|they|we)\b", ""),
    (D::AllOrNothing, 0.55, "all nothing", r"\b(?:all|nothing) (?:or|and) (?:nothing|all|everything)\b", ""),
    (D::AllOrNothing, 0.6, "anything", r"\b(?:i|he|she|they) (?:can not|could not|never|do not|does not|did not|will not) (?:do|get|have|enjoy|feel|achieve|accomplish|manage) anything\b", ""),
    // ------------------------------------------------------------- overgeneralization
    (D::Overgeneralization, 0.8, "always never constantly", r"\b(?:always|never|constantly) (?:[a-z']+ ){0,2}(?:mess|messes|messed|screw|screws|ruin|ruins|fail|fails|disappoint|disappoints|lose|loses|sabotage|sabotages|let|lets) (?:[a-z']+ ){0,2}(?:up|everything|it|things|down|people|everyone)?", ""),
    (D::Overgeneralization, 0.62, "always never constantly", r"\bi (?:have |had |am |was )?(?:{adv})?(?:always|never|constantly) [a-z']+", r"\bi (?:have |had )?(?:always|never) (?:wanted|loved|liked|knew|known|thought|enjoyed|imagined|expected|told|realized|realised|understood|dreamed|dreamt|asked|used|seen|mentioned|been close|did drugs|smoked|drank|drink|tried)\b"),
    (D::Overgeneralization, 0.8, "nobody no one noone", r"\b(?:nobody|no one) (?:{adv})?(?:ever |really |even |actually )?(?:likes|loves|cares|care|wants|understands|listens|notices|gets|believes|helps|respects|talks|calls|texts|invites|remembers|wants to|is there|was there|has ever|took|takes|gives|asks|checks|knows|sees|appreciates)\b", ""),
    (D::Overgeneralization, 0.72, "everyone everybody people", r"\b(?:everyone|everybody|people|all my friends|all of them|they all) (?:{adv})?(?:always |eventually |ends up |end up |just )?(?:leaves|leave|hates|hate|ignores|ignore|abandons|abandon|betrays|betray|uses|use|judges|judge|rejects|reject|lies|lie|hurts|hurt|gets tired of|get tired of|turns on|turn on|walks away|walk away|laughs at|laugh at|forgets|forget|treats me|treat me|takes advantage|take advantage|is against|are against)\b", ""),
    (D::Overgeneralization, 0.62, "every time whenever each", r"\b(?:every ?time|whenever|each time|every single time|anytime) (?:i|someone|something|people|he|she|they|we) (?:[a-z']+ ){0,6}(?:always|never|again|it|i|they|something|everything|nothing|someone|people|fail|wrong|worse|ruin|end|same)\b", ""),
    (D::Overgeneralization, 0.75, "always only ever", r"\b(?:this|it|that|these things|bad things|stuff like this|the same thing) (?:always|only ever|keeps|keep) (?:happens?|happening) (?:to me)?", ""),
    (D::Overgeneralization, 0.75, "everything nothing", r"\b(?:everything|nothing) (?:always |ever |ever seems to |seems to )?(?:goes|go|went|turns|works|worked|turns out|goes my way|works out) (?:out |right|wrong|well|my way|badly)?", ""),
    (D::Overgeneralization, 0.7, "all", r"\ball (?:men|women|guys|girls|people|boys|teachers|doctors|therapists|parents|friends|relationships|my (?:friends|exes|relationships|partners)) (?:are|do|want|will|just|only|eventually|end|leave|cheat|lie)\b", ""),
    (D::Overgeneralization, 0.72, "anything right", r"\bi (?:will |would )?(?:can not|could not|do not|never|can never) (?:ever )?(?:do|get|say|make) (?:anything|everything|something|nothing) (?:right|correctly|well|good)\b", ""),
    (D::Overgeneralization, 0.7, "never", r"\bi (?:have |had )?never (?:been|felt|fit|fitted|belonged|had|was|found) (?:[a-z']+ ){0,2}(?:happy|loved|good enough|normal|in|enough|wanted|a friend|any friends|accepted|good at|successful|liked|understood|myself|a relationship|real friends|close)\b", ""),
    (D::Overgeneralization, 0.6, "always constantly", r"\b(?:i am|i feel|i get|i have been|i was|i always feel|i always get) (?:{adv})?(?:always|constantly|forever|all the time|every day|24/7) (?:[a-z']+ ){0,2}{negemo}", ""),
    (D::Overgeneralization, 0.6, "every", r"\b(?:every|each) (?:single )?(?:day|night|morning|time|relationship|friend|job|person|guy|girl|man|woman|boyfriend|girlfriend|friendship|attempt) (?:[a-z']+ ){0,4}(?:always|never|ends|ended|same|worse|fails|failed|leaves|left|hates|hurts|goes wrong|turns)\b", ""),
    (D::Overgeneralization, 0.65, "never always", r"\b(?:i|my life|things|it|life) (?:{adv})?(?:never|always) (?:get|gets|go|goes|went|work|works|turn|turns|end|ends|seem|seems) (?:better|right|wrong|my way|well|out|badly|the same|worse)\b", ""),
    (D::Overgeneralization, 0.6, "since", r"\bever since (?:[a-z']+ ){0,8}(?:never|always|every|nothing|no one|nobody|constantly)\b", ""),
    (D::Overgeneralization, 0.65, "never always", r"\b(?:he|she|they|my (?:husband|wife|boyfriend|girlfriend|partner|mom|mum|mother|dad|father|parents|boss|family|friends)) (?:{adv})?(?:never|always) (?:listens?|helps?|cares?|does anything|do anything|supports?|appreciates?|thinks? about|lets? me|criticizes?|criticises?|puts? me down|yells?|blames? me|ignores? me|lies|lied|has|have|makes? me|takes?|puts?|treats? me|gets? (?:angry|mad))\b", ""),
    (D::Overgeneralization, 0.55, "everyone everybody", r"\b(?:everyone|everybody) (?:else )?(?:is|seems|has|gets|can) (?:[a-z']+ ){0,2}(?:happy|better|normal|perfect|successful|fine|friends|together|a life|it)\b", ""),
    (D::Overgeneralization, 0.5, "can could", r"\bi (?:just )?(?:can not|could not) (?:seem to |ever |even |never )?(?:do|get|make|stop|control|concentrate|focus|function|enjoy|find|trust|connect|talk|speak|move on|let go|get over|escape|understand|figure|handle|believe|keep|seem|fit)\b", ""),
    (D::Overgeneralization, 0.55, "all time", r"\ball the time\b", ""),
    (D::Overgeneralization, 0.58, "anymore", r"\bi (?:do not|can not|could not|no longer) (?:{adv})?(?:enjoy|feel|care|want|love|like|know|trust|recognize|recognise) (?:[a-z']+ ){0,4}(?:anymore|any more|anything)\b", ""),
    // ---------------------------------------------------------------- mental filter
    (D::MentalFilter, 0.72, "all", r"\ball (?:i|that i) (?:can |could |ever |do |did |seem to |ever seem to )?(?:think|thought|focus|focused|see|saw|notice|noticed|remember|hear|heard|feel|felt|care) (?:about |on |of |is |was |are )?", ""),
    (D::MentalFilter, 0.7, "stop help quit", r"\bi (?:can not|could not|do not|can never|just can not) (?:seem to )?(?:stop|help|quit) (?:thinking|dwelling|worrying|obsessing|replaying|focusing|going over|remembering|ruminating|analyzing|analysing|overthinking)\b", ""),
    (D::MentalFilter, 0.68, "keep kept constantly always", r"\bi (?:{adv})?(?:keep|kept|constantly|always|still) (?:on )?(?:thinking|dwelling|replaying|going over|remembering|focusing|obsessing|ruminating|reliving|coming back to|worrying|analyzing|analysing|overthinking|going back to) (?:about|on|over|what|how|that|the|it|this|back)?\b", ""),
    (D::MentalFilter, 0.75, "only just", r"\b(?:only|just|all i) (?:see|saw|notice|noticed|remember|remembered|focus on|focused on|think about|thought about|hear|heard|count|care about|look at) (?:is |are |was )?(?:the |my |his |her |their )?(?:bad|negative|worst|mistakes?|flaws?|failures?|criticism|things i|what went wrong|one thing|faults?|problems?|imperfections?|negatives)\b", ""),
    (D::MentalFilter, 0.7, "mistake comment thing remark error one", r"\b(?:one|a single|that one|the one|a little|a small|one little|one small) (?:bad |little |small |stupid |tiny |negative )?(?:mistake|comment|thing|remark|error|criticism|word|day|moment|look|incident|argument|problem) (?:[a-z']+ ){0,4}(?:ruined|ruins|spoiled|spoils|destroyed|overshadowed|overshadows|is all i|sets me off|set me off|wrecked|ruin)\b", ""),
    (D::MentalFilter, 0.7, "whole entire", r"\b(?:ruined|ruins|spoiled|spoils|wrecked) (?:the |my |our )?(?:whole|entire) (?:day|night|evening|week|trip|holiday|vacation|party|thing|experience|weekend|date|relationship|year|month|time)\b", ""),
    (D::MentalFilter, 0.62, "reminds remind reminded", r"\b(?:everything|all|anything) (?:just )?(?:reminds|remind|reminded|would remind) me (?:of)?\b", ""),
    (D::MentalFilter, 0.6, "remember", r"\b(?:can not|could not|do not|hardly|barely) (?:even )?remember (?:the last time|a time|ever|when i (?:was|felt|last)|being happy|feeling)\b", ""),
    (D::MentalFilter, 0.56, "worst part", r"\bthe (?:worst|only) (?:part|thing) (?:is|was|about)\b", ""),
    (D::MentalFilter, 0.7, "nothing good", r"\bnothing (?:good|positive|nice) (?:ever )?(?:happens|happened|comes|came|in my life|about me)\b", ""),
    (D::MentalFilter, 0.6, "dwell dwelling ruminate ruminating obsess obsessing fixate fixating fixated obsessed", r"\b(?:dwell|dwelling|ruminate|ruminating|obsess|obsessing|obsessed|fixate|fixating|fixated) (?:on|over|about)\b", ""),
    (D::MentalFilter, 0.64, "think thought thinking", r"\bi (?:{adv})?(?:think|thought|thinking) about (?:it|this|that|what|how|them|him|her|my|the) (?:[a-z']+ ){0,4}(?:all the time|constantly|every day|nonstop|24/7|day and night|over and over|every night|every second|every minute)\b", ""),
    (D::MentalFilter, 0.55, "only", r"\b(?:only|all) (?:the )?(?:bad|negative|sad|painful) (?:things|memories|stuff|parts|thoughts)\b", ""),
    (D::MentalFilter, 0.55, "even though although despite", r"\b(?:even though|although|despite) (?:[a-z']+ ){1,10}(?:good|great|well|fine|lucky|success|successful|praise|compliments?|loving|supportive|happy|nice) (?:[a-z']+ |, ){0,4}(?:i still|all i|i can not|i only|i just|it does not|i feel)\b", ""),
    // ------------------------------------------------------- disqualifying the positive
    (D::DisqualifyingPositive, 0.8, "nice polite kind friendly", r"\b(?:they|he|she|people|everyone|you|my [a-z]+) (?:were|was|are|is) (?:just |only |probably |simply )*being (?:nice|polite|kind|friendly|generous|supportive|sympathetic|nice to me|polite to me)\b", ""),
    (D::DisqualifyingPositive, 0.75, "luck fluke chance coincidence pity charity", r"\b(?:it|that|this|i|the [a-z]+) (?:was|were|is) (?:just|only|pure|sheer|all|probably|simply|nothing but) (?:luck|a fluke|chance|a coincidence|beginner's luck|pity|charity|a mistake|dumb luck|good luck)\b", ""),
    (D::DisqualifyingPositive, 0.75, "lucky", r"\bi (?:just |only |probably |simply )?got lucky\b", ""),
    (D::DisqualifyingPositive, 0.72, "count matter mean prove", r"\b(?:it|that|this|those|compliments?|praise|good (?:grades?|days?|things|marks)|my (?:grades?|success|achievements?)|a good day) (?:does not|do not|did not|would not|will not) (?:really )?(?:count|matter|mean anything|mean much|mean a thing|prove anything|change anything)\b", ""),
    (D::DisqualifyingPositive, 0.75, "anyone anybody idiot monkey", r"\b(?:anyone|anybody|any idiot|a monkey|a child|any fool) (?:could|can|would) (?:have )?(?:done|do|pass|passed|get|got|manage|managed|achieve|achieved) (?:it|that|this)\b", ""),
    (D::DisqualifyingPositive, 0.7, "only just", r"\b(?:they|he|she|people|you|everyone) (?:only|just) (?:said|say|says|complimented|praised|like|liked|hired|chose|picked|invited|helped) (?:that|it|me|so|this) (?:because|to|out of)\b", ""),
    (D::DisqualifyingPositive, 0.7, "mean", r"\b(?:they|he|she|people|you) (?:do not|did not|does not) (?:really )?mean it\b", ""),
    (D::DisqualifyingPositive, 0.64, "deserve earn earned", r"\bi (?:do not|did not|never) (?:really |truly )?(?:deserve|deserved|earn|earned) (?:it|this|that|the|their|his|her|any|praise|credit|compliments?|love|the promotion|to be happy|good things|happiness|kindness)\b", ""),
    (D::DisqualifyingPositive, 0.6, "but", r"\b(?:yes|yeah|sure|ok|okay) , but (?:[a-z']+ ){0,5}(?:does not count|was just|was only|anyone|not really|still|i am still|that is just)\b", ""),
    (D::DisqualifyingPositive, 0.55, "nothing deal impressive", r"\b(?:it was|that was|it is|that is) (?:nothing|no big deal|not a big deal|not that impressive|not impressive|nothing special)\b", ""),
    (D::DisqualifyingPositive, 0.62, "good positive well", r"\b(?:even when|even if) (?:something|things|anything|it) (?:good|positive|goes well|go well|goes right)\b", ""),
    // ---------------------------------------------------------------- mind reading
    (D::MindReading, 0.8, "think thinks thought believe believes see sees find finds consider considers", r"\b{others} (?:{adv})?(?:must |probably |secretly |definitely |obviously |all |clearly |would |will |might |may |must all )?(?:think|thinks|thought|believe|believes|see|sees|saw|find|finds|consider|considers|view|views) (?:that )?(?:i am|i was|me as|me|i look|i sound|my|i have) (?:(?:so|a|an|such a|too|really|very|just|being|the) )*{negadj}", ""),
    (D::MindReading, 0.7, "hate hates dislike dislikes judge judges judging laugh laughs laughing talk talking talks mad angry annoyed disgusted pity pities resent resents look looks tired sick bored avoid avoids avoiding staring stare looking", r"\b{others} (?:{adv})?(?:must |probably |secretly |definitely |obviously |all |clearly |will |would |might |may |are |is )?(?:hate|hates|dislike|dislikes|judge|judges|judging|laugh at|laughs at|laughing at|talk about|talking about|talks about|are mad at|is mad at|is angry with|are angry with|is annoyed with|are annoyed with|are disgusted by|is disgusted by|pity|pities|resent|resents|look down on|looks down on|are tired of|is tired of|got tired of|are sick of|is sick of|are bored of|avoid|avoids|avoiding|are staring at|is staring at|stare at|staring at|are looking at|looking at|laugh about) (?:me|us|my)\b", ""),
    (D::MindReading, 0.76, "know knew tell bet sure certain convinced feel sense suspect worry worried assume assumed fear afraid think thought feeling", r"\bi (?:just |can |could |really |always |kind of |sort of )?(?:know|knew|can tell|could tell|bet|am sure|am certain|am convinced|feel like|feel that|felt like|felt that|sense|suspect|worry|worried|assume|assumed|fear|am afraid|think|thought|get the feeling|have a feeling|get the sense|have the feeling) (?:that )?{others} (?:[a-z']+ ){0,3}(?:think|thinks|thought|hate|hates|hated|do not (?:like|care|want|love|respect|trust)|does not (?:like|care|want|love|respect|trust)|did not (?:like|care|want|love)|judge|judges|is judging|are judging|see me|sees me|would think|will think|will judge|would judge|see me as|are talking|is talking|are laughing|is laughing|is mad|are mad|is upset|are upset|is annoyed|are annoyed|feel sorry|pity|wants? me to|is (?:just )?(?:pretending|faking|lying|using me)|are (?:just )?(?:pretending|faking|lying|using me)|is cheating|blames?|blamed|resents?|resented|is disappointed|are disappointed|was disappointed|find me|finds me|noticed|could tell|can tell|read my|is tired of|are tired of|is bored|are bored|is not interested|are not interested|prefers?|would rather|would be better|would be happier|does not understand|do not understand|feels|feel|is thinking|are thinking|secretly|is only|are only|only wants?|just wants?)\b", ""),
    (D::MindReading, 0.62, "care like love want respect need miss understand listen value notice", r"\b{others} (?:{adv})?(?:do not|does not|did not|never|no longer) (?:really |even |actually |truly )?(?:care about me|care|like me|love me|want me|want to (?:see|talk|be with|hang)|respect me|need me|miss me|understand me|listen to me|value me|notice me|think about me|trust me)\b", ""),
    (D::MindReading, 0.72, "pretending faking lying using laughing judging talking humoring tolerating putting", r"\b(?:he|she|they|people|everyone|everybody) (?:is|are|was|were) (?:just |only |probably |obviously |secretly |all )+(?:pretending|faking|lying|using me|laughing|judging|talking about me|humoring me|humouring me|tolerating me|putting up with me|being fake)\b", ""),
    (D::MindReading, 0.65, "tell see read sense hear", r"\b(?:they|he|she|people|everyone|everybody|others) (?:can|could) (?:all )?(?:tell|see|read my|hear my|sense|smell) (?:that |how |i |my |it |what i)", ""),
    (D::MindReading, 0.74, "feel feels seems", r"\b(?:i (?:{adv})?feel like|i (?:{adv})?felt like|it feels like|it seems like|seems like|it seems) (?:he|she|they|everyone|everybody|people|nobody|no one|my [a-z]+|the others) (?:[a-z']+ ){0,4}(?:hates?|does not (?:care|like|love|want)|do not (?:care|like|love|want)|did not (?:care|like|love|want)|is mad|are mad|thinks?|judges?|avoids?|ignores?|is ignoring|are ignoring|annoyed|tired of|sick of|pity|feel sorry|would rather|want me gone|does not understand|do not understand|is using|are using|blames?|wants?|is only|are only|is lying|are lying|knows?|sees?|cares?|likes?|loves?)\b", ""),
    (D::MindReading, 0.66, "staring looking laughing whispering talking", r"\b(?:everyone|people|they|others|the others|everybody) (?:are|were|is|keep|keeps) (?:always |all |constantly )?(?:staring|looking|laughing|whispering|talking|gossiping) (?:at|about|behind) (?:me|my back)\b", ""),
    (D::MindReading, 0.62, "back", r"\b(?:talking|talk|talks|laughing|gossiping) behind my back\b", ""),
    (D::MindReading, 0.58, "know sure certain", r"\bi (?:know|am sure|am certain|am convinced) (?:that )?(?:he|she|they|my [a-z]+) (?:is|are|was|were|does|do|will|would|did|has|have)\b", ""),
    (D::MindReading, 0.58, "read thoughts mind minds", r"\b(?:read|reading|hear|hearing) my (?:thoughts|mind)\b", ""),
    (D::MindReading, 0.6, "must", r"\b(?:he|she|they|people|everyone) must (?:think|hate|be thinking|know|see|be laughing|be judging|feel|be disgusted|be annoyed|be tired|have noticed)\b", ""),
    // ---------------------------------------------------------------- fortune telling
    (D::FortuneTelling, 0.78, "never", r"\bi (?:will|am going to|would|shall|am) (?:{adv})?never (?:going to |gonna |ever )?(?:be|get|find|have|feel|make|succeed|recover|change|amount|graduate|meet|pass|escape|fit|live|marry|heal|improve|stop|know|achieve|reach|do|see|go|become|lose|forgive|trust|move|love|enjoy|overcome|win|able)\b", ""),
    (D::FortuneTelling, 0.75, "be change come end forgive get go happen heal improve last love make matter recover stop succeed want work", r"\b(?:it|this|things|life|my life|nothing|that|the situation|my situation|the pain|this feeling|it all|i|my [a-z]+|he|she|they) (?:will|is going to|are going to|would|am going to) (?:{adv})?(?:never|not ever|not) (?:ever )?(?:get better|improve|change|work|work out|end|go away|stop|be okay|be ok|be fine|be the same|be different|get easier|happen|last|matter|heal|recover|love me|want me|come back|forgive me|be happy|be normal|make it|succeed|get any better)\b", ""),
    (D::FortuneTelling, 0.72, "always forever", r"\b(?:i|it|this|things|life|my life) (?:will|is going to|am going to) (?:{adv})?(?:always|forever) (?:be|feel|end up|stay|remain|have|hurt|suffer)\b", ""),
    (D::FortuneTelling, 0.78, "nobody no one", r"\b(?:nobody|no one|no man|no woman|no girl|no guy|no employer|no school|no college|no university) (?:will|would|is going to|is ever going to|could) (?:{adv})?(?:ever )?(?:love|want|like|date|marry|hire|care|understand|accept|choose|need|be with|help|find me|forgive|believe)\b", ""),
    (D::FortuneTelling, 0.66, "what", r"\bwhat if (?:i|it|they|he|she|something|this|people|my|the|everyone|nobody|no one|we|that|things)\b", ""),
    (D::FortuneTelling, 0.7, "afraid scared terrified worried convinced sure certain petrified anxious paranoid frightened", r"\bi (?:am|was|get|feel|have been) (?:{adv})?(?:so |really |very |extremely |super |deeply )?(?:afraid|scared|terrified|worried|convinced|sure|certain|petrified|anxious|paranoid|frightened|nervous) (?:that )?(?:i|it|they|he|she|people|something|everyone|this|my [a-z]+|the [a-z]+|nobody|no one|things|we) (?:[a-z']+ ){0,3}(?:will|would|is going to|are going to|am going to|might|could|may|is gonna)\b", ""),
    (D::FortuneTelling, 0.68, "fear worry dread", r"\bi (?:{adv})?(?:fear|worry|dread|am worried|am scared) (?:that )?(?:i|it|they|he|she|people|something|this|my [a-z]+|the [a-z]+|things|we) (?:[a-z']+ ){0,3}(?:will|would|is going to|am going to|are going to|might|may|could)\b", ""),
    (D::FortuneTelling, 0.75, "going bound sure destined doomed", r"\b(?:i|it|this|things|everything|that|my [a-z]+|he|she|they) (?:am|is|are|will be) (?:{adv})?(?:going to|bound to|sure to|destined to|doomed to|definitely going to) (?:[a-z']+ ){0,1}(?:fail|go wrong|end badly|be a disaster|be terrible|be awful|be horrible|end up|mess up|screw up|be alone|die alone|lose|crash|fall apart|get worse|be rejected|embarrass|ruin|hate|leave|never|break up|cheat|laugh|judge|fire|kill|die|regret|suffer|hurt|be a failure)\b", ""),
    (D::FortuneTelling, 0.74, "", r"\bi (?:will|am going to|would) (?:{adv})?(?:probably |definitely |surely |just )?(?:end up|die|be|stay|remain|grow old) (?:alone|homeless|single|broke|a failure|miserable|unhappy|depressed|forever alone|lonely|like (?:my|him|her|them)|a loser|on the streets|jobless|unemployed|a burden|crazy)\b", ""),
    (D::FortuneTelling, 0.72, "forever life die", r"\b(?:alone|stuck|broken|damaged|miserable|single|sad|depressed|ruined|cursed|scarred|trapped|suffer|suffering|unhappy|hated|this way|like this|messed up|a failure|lonely) (?:[a-z']+ ){0,3}(?:forever|for life|for the rest of my life|until i die|for good)\b", ""),
    (D::FortuneTelling, 0.64, "hope future way point chance", r"\b(?:there is|i see|i have|there will be|with) no (?:hope|future|way out|point|chance|light at the end)\b", ""),
    (D::FortuneTelling, 0.62, "hopeless pointless late use", r"\b(?:it is|it was|it all seems|everything is|it seems|it feels) (?:{adv})?(?:hopeless|pointless|too late|no use|useless|futile|a lost cause)\b", ""),
    (D::FortuneTelling, 0.72, "know sure certain", r"\b(?:i know|i just know|i am sure|i am certain|i am convinced|i can tell) (?:that )?(?:i|it|this|they|he|she|things|everything|nobody|no one) (?:will|is going to|am going to|are going to|would|is never|am never|is not going|am not going|are not going)\b", ""),
    (D::FortuneTelling, 0.64, "fail lose mess screw rejected fired embarrass fool", r"\bi (?:will|would|am going to) (?:probably |definitely |surely |just |only |inevitably |eventually )?(?:fail|lose|mess up|screw up|be rejected|get fired|embarrass myself|make a fool|get hurt|get dumped|end up hurt|ruin it|blow it|let everyone down)\b", ""),
    (D::FortuneTelling, 0.6, "afraid scared worried terrified", r"\bi (?:am|was|have been) (?:{adv})?(?:afraid|scared|worried|terrified|frightened) (?:of|about) (?:losing|failing|being|ending up|never|getting|becoming|going|not|having|falling|hurting|disappointing|relapsing)\b", ""),
    (D::FortuneTelling, 0.6, "able ever", r"\bwill (?:never|not) (?:be able to|ever)\b", ""),
    (D::FortuneTelling, 0.68, "live survive", r"\bi (?:will not|will never|am not going to|do not think i will) (?:live|make it|survive) (?:past|to|until|beyond|through|much longer|another)\b", ""),
    (D::FortuneTelling, 0.55, "future ahead", r"\bmy future (?:is|looks|seems) (?:{adv})?(?:bleak|hopeless|ruined|over|dark|doomed|pointless|empty)\b", ""),
    // ---------------------------------------------------------------- magnification
    (D::Magnification, 0.72, "worst", r"\b(?:the |my )?worst (?:thing|day|mistake|person|feeling|moment|pain|experience|decision|week|year|time|situation|nightmare|possible|ever|part|fear|case)(?: (?:ever|in the world|of my life|imaginable|that could|i have ever))?\b", ""),
    (D::Magnification, 0.72, "disaster catastrophe catastrophic nightmare hell torture tragedy unbearable intolerable impossible end devastating horrendous horrible terrible awful worst mess much overwhelming excruciating agony hopeless", r"\b(?:it|this|that|everything|my life|life|i|work|school|home|things|the situation|my situation|the pain|my anxiety|my depression) (?:is|was|has been|feels|felt|seems|became|turned into|will be|would be|is becoming|has become) (?:like )?(?:{adv})?(?:a |an )?(?:total |complete |absolute |utter |living |such a |so )?(?:disaster|catastrophe|catastrophic|nightmare|hell|torture|tragedy|unbearable|intolerable|impossible|the end of the world|devastating|horrendous|horrible|terrible|awful|the worst|hell on earth|a mess|too much|overwhelming|excruciating|agony|hopeless|falling apart|a living hell|unsurvivable)\b", ""),
    (D::Magnification, 0.72, "handle take bear stand cope deal survive tolerate face live", r"\bi (?:can not|could not|will not be able to|am not able to|just can not|can no longer) (?:{adv})?(?:handle|take|bear|stand|cope with|deal with|survive|tolerate|face|live with|go through|manage) (?:it|this|that|anymore|any more|much more|another|the|him|her|them|my|being|the thought|the idea|the pain|life|everything|any of)\b", ""),
    (D::Magnification, 0.7, "cope function breathe anymore", r"\bi (?:can not|could not|can no longer) (?:{adv})?(?:cope|go on|function|breathe|do this anymore|take it anymore|take it any more|take this anymore|handle it anymore)\b", ""),
    (D::Magnification, 0.72, "world life destroyed devastated crushed shattered terrified petrified", r"\b(?:end of the world|ruined my (?:whole |entire )?life|my (?:whole |entire )?life is (?:over|ruined|destroyed|a mess|falling apart|hell)|life is over|i am (?:completely |totally |absolutely |utterly )?(?:destroyed|devastated|crushed|shattered|terrified|petrified|traumatized|traumatised|paralyzed|paralysed|horrified|mortified))\b", ""),
    (D::Magnification, 0.64, "die recover survive mind crazy breakdown apart", r"\bi (?:would|will|am going to|could|might|feel like i am going to|feel like i will) (?:literally |just |probably |totally |completely )?(?:die|never recover|never get over|never survive|lose my mind|go crazy|go insane|have a breakdown|fall apart|break down|explode|lose it)\b", ""),
    (D::Magnification, 0.55, "bad terrible horrible awful painful scary overwhelming unbearable huge embarrassing humiliating stressful hard difficult", r"\b(?:so|too|extremely|incredibly|unbearably|insanely|very|really|unbelievably) (?:bad|terrible|horrible|awful|painful|scary|overwhelming|unbearable|huge|embarrassing|humiliating|stressful|hard|difficult) (?:that|i|it)\b", ""),
    (D::Magnification, 0.65, "mistake failure problem deal embarrassment disaster error sin", r"\b(?:huge|massive|enormous|terrible|horrible|awful|unforgivable|humiliating|catastrophic|fatal|biggest|worst|colossal|horrendous|grave) (?:mistake|failure|problem|deal|embarrassment|disaster|error|sin|failure)\b", ""),
    (D::Magnification, 0.62, "terrified petrified horrified mortified devastated destroyed crushed paralyzed paralysed", r"\bi (?:am|feel|felt|was) (?:{adv})?(?:terrified|petrified|horrified|mortified|devastated|destroyed|crushed|paralyzed|paralysed|consumed|tormented|haunted)\b", ""),
    (D::Magnification, 0.65, "falling crashing much overwhelming control spiraling spiralling", r"\b(?:everything|it all|this|my life|things) (?:is|are|feels|seems) (?:{adv})?(?:falling apart|crashing down|too much|overwhelming|out of control|spiraling|spiralling|unbearable|collapsing)\b", ""),
    (D::Magnification, 0.66, "ruin ruined destroy destroyed", r"\b(?:ruin|ruined|ruins|destroy|destroyed|destroys|wreck|wrecked) (?:my|our|the) (?:whole |entire )?(?:life|future|career|family|relationship|everything|chances|reputation|marriage)\b", ""),
    (D::Magnification, 0.6, "hell torture agony nightmare", r"\b(?:pure|absolute|living|utter|complete) (?:hell|torture|agony|nightmare|misery)\b", ""),
    (D::Magnification, 0.55, "terrified afraid", r"\bterrified of (?:life|everything|everyone|people|the future|going|being|losing)\b", ""),
    (D::Magnification, 0.56, "extremely severely incredibly", r"\b(?:extremely|severely|incredibly|unbearably|horribly|terribly|insanely|painfully) (?:depressed|anxious|hurt|upset|stressed|scared|worried|lonely|sad|miserable|overwhelmed|hopeless|embarrassed|ashamed)\b", ""),
    // ---------------------------------------------------------------- emotional reasoning
    (D::EmotionalReasoning, 0.72, "feel felt feeling", r"\bi (?:{adv})?(?:feel|felt|am feeling) (?:{adv})?(?:like |as if |as though |that )?(?:i am |i was |i have been |i must be )?(?:a |an |such a |the |so |completely |totally |just )?(?:{negnoun}|worthless|useless|stupid|pathetic|ugly|hideous|disgusting|unlovable|crazy|insane|broken|inadequate|incompetent|weak|unworthy|defective|not good enough|not enough|too much|inferior|fake|a fraud|dirty|damaged|invisible|unwanted|unloved|like a (?:[a-z']+ )?(?:failure|burden|fraud|loser|idiot|joke|mess|freak|monster|outsider|outcast|ghost|robot|child|zombie|shell|alien|prisoner|bad person))\b", ""),
    (D::EmotionalReasoning, 0.82, "feel felt", r"\bi (?:{adv})?(?:feel|felt) (?:{adv})?(?:so |really |very )?(?:guilty|ashamed|stupid|scared|anxious|bad|afraid|worthless|ugly|unlovable|like a failure|like a fraud|like a burden|like (?:it|this|i)) (?:[a-z']+ |, ){0,5}(?:so|therefore|which means|that means|it means|must mean|it must|i must|so i must|then i must|it proves|proves|so it)\b", ""),
    (D::EmotionalReasoning, 0.75, "feel felt", r"\b(?:because|since|as) i (?:{adv})?(?:feel|felt) (?:[a-z']+ ){0,4}(?:it|i|that|this|they|he|she) (?:must|has to|have to|is|am|are|will)\b", ""),
    (D::EmotionalReasoning, 0.56, "feel felt", r"\bi (?:{adv})?(?:feel|felt) (?:{adv})?(?:like|as if|as though|that) (?:i|nothing|everything|no one|nobody|everyone|something|this|it|my|there is|life|the world|i should|i must|i need|there|all|people|none)\b", ""),
    (D::EmotionalReasoning, 0.58, "feels felt", r"\b(?:it|this|that|everything|life) (?:just )?(?:feels|felt) (?:so |really |very |completely )?(?:wrong|true|real|hopeless|pointless|meaningless|like (?:a|the|i|nothing|everything|my|the end|it|no one|nobody|i am|i will|i have|i can not|i am not|i do not|i should))\b", ""),
    (D::EmotionalReasoning, 0.64, "gut heart instinct intuition feelings feeling", r"\b(?:my )?(?:gut|heart|instinct|intuition|feelings?|emotions?) (?:tells|told|says|said|is telling|tell|are telling|keep telling) me\b", ""),
    (D::EmotionalReasoning, 0.52, "feel felt feeling", r"\bi (?:{adv})?(?:feel|felt|am feeling|have been feeling|keep feeling) (?:{adv})?(?:so |really |very |completely |extremely |incredibly |super |totally )?(?:guilty|ashamed|dirty|disgusting|stupid|worthless|useless|unwanted|unloved|unlovable|inadequate|inferior|hopeless|helpless|trapped|crazy|insane|broken|empty|numb|alone|lonely|rejected|ugly|fat|invisible|insignificant|unimportant|awful|terrible|horrible|lost|weird|possessed|cursed|doomed|defective|disconnected|unreal|hated|abandoned|betrayed|attacked|judged|misunderstood|different|out of place|left out|like an outsider|under-appreciated|underappreciated|unappreciated|resentful|unworthy|responsible|guilty|miserable|overwhelmed|anxious|depressed|scared|afraid|terrified|paranoid|insecure|sad|angry|frustrated)\b", ""),
    (D::EmotionalReasoning, 0.55, "feeling", r"\bi (?:have|get|got|had) (?:this|a|the) (?:feeling|sense) (?:that|like)\b", ""),
    // ---------------------------------------------------------------- should statements
    (D::ShouldStatements, 0.74, "should must ought", r"\bi (?:{adv})?(?:should|must|ought to) (?:have )?(?:known|done|been|seen|stopped|said|tried|listened|noticed|realized|realised|gotten|got|left|worked|studied|be able|be|not|never|always|know|feel|just)\b", ""),
    (D::ShouldStatements, 0.72, "supposed", r"\bi (?:am|was|feel|felt) (?:{adv})?supposed to (?:be|have|know|feel|do|get|handle|want|look|act)\b", ""),
    (D::ShouldStatements, 0.6, "supposed", r"\b(?:is|are|was|were) (?:{adv})?supposed to (?:be|have|know|feel|do|get|handle|want|look|act|make)\b", ""),
    (D::ShouldStatements, 0.72, "best better everything fine flawless good happier happy in liked loved more normal ok okay over perfect prettier productive right smart smarter strong stronger successful thin thinner tougher", r"\bi (?:{adv})?(?:have to|need to|got to|must|should) (?:always )?(?:be|stay|look|seem|get|do|make|prove|keep|feel) (?:[a-z']+ ){0,2}(?:perfect|strong|happy|better|the best|thin|smart|successful|in control|everything|right|flawless|normal|fine|okay|ok|good enough|productive|liked|loved|thinner|prettier|stronger|smarter|tougher|happier|over it|more)\b", ""),
    (D::ShouldStatements, 0.72, "should must ought", r"\b(?:should|should not|must not|ought not|ought to|must) (?:{adv})?(?:be|have|feel|need|let|care|think|react|get|cry|want|miss) (?:[a-z']+ ){0,2}(?:this way|like this|so|upset|sad|anxious|angry|hurt|bothered|affected|a big deal|this hard|this bad|depressed|struggling|jealous|scared|afraid|emotional|sensitive|over it|better|stronger|happy|grateful|thankful|fine|normal|able)\b", ""),
    (D::ShouldStatements, 0.6, "should must ought", r"\b(?:i|you|he|she|they|we|people|everyone|my [a-z]+|a [a-z]+|men|women|parents|friends|family) (?:{adv})?(?:should|must|ought to|should not|must not|should never|should always|should have|should be)\b", r"\b(?:should|must) (?:i|we)\b"),
    (D::ShouldStatements, 0.55, "should must", r"\b(?:should|must|shouldn't) (?:have|be)\b", ""),
    (D::ShouldStatements, 0.52, "wish", r"\bi (?:{adv})?wish i (?:was|were|had|could|did|would|never|had not|was not|were not)\b", ""),
    // ---------------------------------------------------------------------- labeling
    (D::Labeling, 0.8, "failure loser idiot moron fool burden fraud disappointment mess wreck joke freak monster coward nobody waste screw fuck screwup fuckup disaster embarrassment weirdo creep psycho hypocrite liar outcast reject pushover doormat person mother father mom mum dad friend parent wife husband daughter son girlfriend boyfriend student sister brother piece nothing zero basket lost dumbass retard imposter impostor sinner slut whore", r"\bi (?:am|was|have always been|have been|will always be|will never be anything but|feel like|am just|am such|am nothing but) (?:{adv})?(?:just |only |nothing but |nothing more than |basically |such )?(?:a |an |such a |such an |the |one big )?(?:(?:complete|total|utter|absolute|huge|big|giant|pathetic|stupid|worthless|useless|fat|ugly|lazy|horrible|terrible|awful|bad|disgusting|selfish|miserable|sad|dumb|hopeless|lost|sick|broken|weak) )?{negnoun}\b", r"\bi am (?:nothing|nobody) (?:like|without)\b"),
    (D::Labeling, 0.72, "abnormal addict alcoholic annoying antisocial apathetic awkward bad boring broken clingy coward cowardly crazy cursed damaged defective disgusting doomed dumb evil fat freak fucked good gross hideous hopeless horrible hypocrite inadequate incompetent inferior insane lazy liar mess messed monster needy normal pathetic psycho repulsive retarded screwed selfish sensitive slut spineless stupid toxic ugly unattractive unlikable unlikeable unlovable unloved unwanted unworthy useless weak weird worthless wreck", r"\bi (?:am|was|have always been|have been|will always be|am just|am basically) (?:{adv})?(?:so |such |too |really |very |completely |totally |just |extremely |incredibly |hopelessly |fundamentally |inherently |naturally |a |an )*(?:stupid|worthless|useless|pathetic|ugly|disgusting|weak|lazy|hopeless|broken|unlovable|hideous|fat|boring|annoying|selfish|dumb|incompetent|inadequate|unworthy|defective|damaged|repulsive|inferior|unlikable|unlikeable|toxic|evil|crazy|insane|a mess|a wreck|messed up|fucked up|screwed up|no good|not good enough|apathetic|cursed|doomed|a bad person|needy|clingy|cowardly|spineless|gross|weird|a freak|unattractive|too sensitive|not normal|abnormal|retarded|psycho|crazy person|a horrible person|disgusting person|useless person|unwanted|unloved|awkward|antisocial|a coward|a hypocrite|a liar|a monster|an addict|an alcoholic|a slut)\b", ""),
    (D::Labeling, 0.78, "what such", r"\b(?:what a|what an|such a|such an) (?:(?:stupid|complete|total|useless|pathetic|worthless) )?{negnoun}(?: i am| i was)?\b", ""),
    (D::Labeling, 0.66, "abuser asshole awful bad bitch brat cheater control coward crazy creep cruel deadbeat disgusting drama evil failure freak heartless horrible hypocrite idiot insane jerk lazy liar loser manipulative manipulator mean mess monster moron narcissist pathetic pig psycho psychopath selfish slob sociopath spoiled stupid terrible toxic uncaring ungrateful unsociable useless user waste weirdo worthless", r"\b(?:he|she|they|my (?:[a-z']+)|his (?:[a-z']+)|her (?:[a-z']+)|this guy|this girl) (?:is|are|was|were|has always been|is just|is such|are such) (?:{adv})?(?:a |an |such a |such an |the |so |total |complete )?(?:(?:complete|total|utter|absolute|huge|selfish|lazy|fucking) )?(?:idiot|moron|jerk|loser|narcissist|psycho|psychopath|sociopath|monster|asshole|bitch|liar|cheater|manipulator|manipulative|selfish|evil|toxic|lazy|useless|worthless|stupid|pathetic|crazy|insane|heartless|cruel|bad person|horrible person|terrible person|hypocrite|control freak|drama queen|deadbeat|waste of space|coward|pig|slob|brat|spoiled brat|user|abuser|creep|weirdo|freak|failure|uncaring|unsociable|a mess|disgusting|ungrateful|mean|horrible|awful|terrible)\b", ""),
    (D::Labeling, 0.65, "most", r"\b(?:the )?most (?:selfish|stupid|useless|annoying|horrible|awful|pathetic|worthless|evil|toxic|manipulative|arrogant|ignorant|lazy|boring|ugly|disgusting|unlovable|hateful|mean|cruel|insensitive|difficult) (?:person|people|human|man|woman|girl|guy|being|kid|child|one)\b", ""),
    (D::Labeling, 0.64, "person human mother father mom mum dad parent friend wife husband daughter son sister brother girlfriend boyfriend partner student employee man woman", r"\b(?:a |an |such a |such an )(?:bad|terrible|horrible|awful|useless|worthless|lousy|shitty|crappy|pathetic|selfish|evil|rotten|disgusting|weak|failure of a|miserable|despicable|hateful|toxic|broken|defective|sick|weird|horrid|unlovable) (?:person|human|human being|mother|father|mom|mum|dad|parent|friend|wife|husband|daughter|son|sister|brother|girlfriend|boyfriend|partner|student|employee|man|woman|girl|guy|kid|child|christian|muslim)\b", ""),
    (D::Labeling, 0.64, "hate loathe despise", r"\bi (?:{adv})?(?:hate|loathe|despise|detest|cannot stand|can not stand) (?:myself|me|who i am|my body|the person i|everything about me|my face|my life|being me)\b", ""),
    (D::Labeling, 0.72, "consider call see myself", r"\b(?:consider|call|see|think of|view|describe|label) (?:myself|him|her|them) (?:as )?(?:a |an |being )?(?:[a-z]+ )?(?:{negnoun}|unattractive|ugly|stupid|worthless|weird|crazy|fat|hideous|useless|pathetic|lazy|selfish|evil|broken)\b", ""),
    (D::Labeling, 0.58, "crazy insane psycho mental nuts", r"\b(?:i am|i was|i must be|i might be|am i|i am going|i feel) (?:{adv})?(?:going )?(?:crazy|insane|psycho|mental|nuts|losing my mind|a psycho|a lunatic)\b", ""),
    (D::Labeling, 0.6, "sounds", r"\b(?:i|this|it) (?:sound|sounds) (?:so |really |totally )?(?:crazy|insane|stupid|pathetic|dumb|ridiculous|weird|selfish)\b", ""),
    // ---------------------------------------------------------------- personalization
    (D::Personalization, 0.82, "fault", r"\b(?:it is|it was|it has been|this is|that is|that was|this was|everything is|everything was|all|it is all|it was all|it must be|it might be|maybe it is|maybe it was|must be|is) (?:{adv})?(?:all |entirely |completely |totally |partly |partially )?my (?:own )?fault\b", ""),
    (D::Personalization, 0.78, "blame blamed blaming", r"\bi (?:{adv})?(?:blame|blamed|am blaming|keep blaming|can not help but blame|can not stop blaming) (?:myself|me)\b", ""),
    (D::Personalization, 0.74, "because due thanks fault blame reason cause problem caused made", r"\b(?:because of me|due to me|thanks to me|my fault|i am to blame|i am the (?:reason|cause|problem|one to blame)|i was the (?:reason|cause|problem)|i caused (?:it|this|that|the|her|him|them|everything|all|my)|i made (?:him|her|them|it|everyone|my [a-z]+) (?:[a-z']+ ){0,2}(?:leave|left|angry|mad|sad|upset|cry|cheat|hate|drink|sick|worse|hit|yell|feel bad|do it|unhappy|miserable|depressed|stay|lose))\b", ""),
    (D::Personalization, 0.68, "responsible guilty blame", r"\bi (?:am|feel|felt|was) (?:{adv})?(?:responsible|guilty|to blame|at fault) (?:for|that|about|because)\b", ""),
    (D::Personalization, 0.58, "if had", r"\b(?:if (?:only )?i (?:had|had not|would have|would not have|was|were|did|did not|could have|had just|had been|was not|were not|was more|were more|was a better|were a better)|had i (?:not |just |only )?(?:been|done|known|said|stayed|left|listened)) (?:[a-z']+ ){0,5}(?:then|would|could|might|,|it|he|she|they|this|maybe)\b", ""),
    (D::Personalization, 0.66, "did done said caused something", r"\b(?:i (?:must have|probably|definitely|must|may have|might have) (?:did|done|said|caused|done something)|what (?:did|have) i (?:do|done) (?:wrong|to deserve)|something i (?:did|said) (?:wrong)?)\b", ""),
    (D::Personalization, 0.7, "because", r"\b(?:he|she|they|my [a-z]+|everyone|people) (?:is|are|was|were|got|gets|left|leaves|cheated|drinks|yells|yelled|hates|hate|is angry|are angry|is upset|are upset|is sad|are sad|is mad|are mad|feel bad|felt bad|died|broke up|divorced|fights|fought|argue|argued) (?:[a-z']+ ){0,3}because (?:of )?(?:me|i am|i was|i did|i said|i)\b", ""),
    (D::Personalization, 0.6, "ruined ruin destroyed wrecked broke spoiled messed", r"\bi (?:{adv})?(?:ruined|ruin|destroyed|wrecked|broke up|spoiled|messed up|screwed up|fucked up) (?:it|everything|his|her|their|our|the|my family|my relationship|the relationship|things|christmas|the party|the day|us)\b", ""),
    (D::Personalization, 0.62, "maybe perhaps probably", r"\b(?:maybe|perhaps|probably) (?:it is|it was|i am|i was|it is all) (?:because of )?(?:me|my fault|i|the reason)\b", ""),
    (D::Personalization, 0.6, "maybe perhaps", r"\b(?:maybe|perhaps) i (?:am|was) (?:the (?:problem|reason|cause)|forcing|pushing|too|not|causing|making|doing something)\b", ""),
    (D::Personalization, 0.7, "personally", r"\bi (?:always |tend to |just )?(?:take|took|taking) (?:it|things|everything|this|that) (?:so )?personally\b", ""),
    (D::Personalization, 0.7, "should could have", r"\bi (?:should have|could have|should not have|could not have|should've) (?:[a-z']+ )?(?:stopped|prevented|saved|helped|protected|seen|known|been there|noticed|done more|done something|done better|tried harder|listened|caught)\b", ""),
    (D::Personalization, 0.6, "guilty sorry", r"\bi (?:feel|am|felt|was) (?:so |really |very |extremely |incredibly )?(?:guilty|sorry|ashamed) (?:for|about|that|because) (?:[a-z']+ ){0,5}(?:him|her|them|my|happened|hurt|divorce|died|death|sick|left|upset|sad)\b", ""),
    (D::Personalization, 0.62, "let down", r"\bi (?:always |keep |have )?(?:let|letting) (?:everyone|them|him|her|my [a-z]+|you|people|my family|everybody) down\b", ""),
    (D::Personalization, 0.56, "burden", r"\bi am (?:just )?(?:a burden|burdening|holding (?:him|her|them|everyone) back|in the way|dragging (?:him|her|them|everyone) down)\b", ""),
    // ------------------------------------------------ weaker first-person cues
    (D::FortuneTelling, 0.55, "scared afraid worried terrified frightened anxious nervous", r"\bi (?:am|was|get|have been|feel) (?:{adv})?(?:so |really |very |extremely |super |quite |a little |a bit )?(?:scared|afraid|worried|terrified|frightened|anxious|nervous|paranoid)\b", ""),
    (D::Magnification, 0.52, "hate", r"\bi (?:{adv})?hate (?:it|when|that|how|being|this|my|everything|people|everyone|the way|having|going|feeling|myself|life|me)\b", ""),
    (D::EmotionalReasoning, 0.58, "feel", r"\bi (?:{adv})?feel (?:so|too|very|really|extremely|incredibly) [a-z]+", r"\bfeel (?:so|very|really) (?:good|happy|grateful|lucky|blessed|loved|excited|proud|much better|relieved|close)\b"),
    (D::EmotionalReasoning, 0.55, "so", r"\bi am (?:just )?so (?:{negemo}|confused|done|tired|sick|over|fed up|hurt|lost)\b", ""),
    (D::Overgeneralization, 0.5, "can could", r"\bi (?:{adv})?(?:can not|could not) (?:even |ever |seem to |really |just |stop )?[a-z]+", r"\b(?:can not|could not) (?:wait|believe|thank|remember the name|afford)\b"),
    (D::Magnification, 0.5, "know", r"\bi (?:really |just |honestly )?(?:do not|no longer) know what (?:to do|else to do|i am doing|is wrong|i should do|to think)\b", ""),
    (D::Labeling, 0.62, "wrong", r"\bwhat is (?:wrong|the matter) with me\b|\bsomething is (?:wrong|seriously wrong) with me\b", ""),
    (D::MindReading, 0.6, "feel felt", r"\bi (?:{adv})?(?:feel|felt) (?:like|that|as if) (?:he|she|they|people|everyone|everybody|nobody|no one|my (?:[a-z]+)|others) (?:is|are|was|were|does|do|did|has|have|will|would|can|just|only|never|always|really|does not|do not|did not|is not|are not)\b", ""),
    (D::Magnification, 0.6, "worst", r"\b(?:was|is|been|were|are) (?:{adv})?the worst\b", ""),
    (D::Overgeneralization, 0.5, "every", r"\bevery (?:single |little )?(?:thing|time|day|night|one|person|guy|girl|boyfriend|girlfriend|relationship|job|friend|fight|argument|conversation|morning)\b", ""),
    // ------------------------------------------------ weak cues (counted by the document score)
    (D::MindReading, 0.45, "think believe feel felt wonder guess suppose suspect sense", r"\bi (?:{adv})?(?:think|believe|feel|felt|wonder if|guess|suppose|suspect|sense) (?:that )?{others} (?:{adv})?(?:is|are|was|were|wants?|wanted|does not|do not|did not|never|only|just|would|will|has|have|had|thinks?|feels?|hates?|likes?|loves?|does|is not|are not|can not|could)\b", ""),
    (D::Overgeneralization, 0.45, "never always", r"\b(?:he|she|they|my (?:husband|wife|boyfriend|girlfriend|partner|mom|mum|mother|dad|father|parents|boss|family|friends|son|daughter|sister|brother)) (?:{adv})?(?:never|always|constantly) [a-z]+", ""),
    (D::Overgeneralization, 0.45, "anybody anyone nobody everyone everybody everything", r"\b(?:to|with|about|for|of|from|by) (?:anybody|anyone|nobody|everyone|everybody|anything|everything)\b", ""),
    (D::EmotionalReasoning, 0.45, "feel felt feeling", r"\bi (?:{adv})?(?:feel|felt|am feeling|have been feeling|keep feeling) (?:{adv})?(?:so |really |very |extremely |completely |totally )?(?:{negemo}|worthless|hopeless|useless|horrible|terrible|awful|like a|like i|like nobody|like no one|like everyone|like my|as if|as though|that)\b", ""),
    (D::FortuneTelling, 0.45, "will going", r"\bi (?:will|am going to) (?:{adv})?(?:never|not be able|not ever|end up|lose|fail|be alone|always be)\b", ""),
    (D::Labeling, 0.45, "am", r"\bi am (?:{adv})?(?:such |so |a |an )*(?:{negadj})\b", ""),
    // ----------------------------------------------------------------------- blaming
    (D::Blaming, 0.8, "fault", r"\b(?:it is|it was|this is|that is|everything is|all|it is all|it was all) (?:{adv})?(?:all |entirely |completely |totally )?(?:his|her|their|your|my [a-z]+'s|[a-z]+'s) fault\b", ""),
    (D::Blaming, 0.68, "made make makes making forced forces", r"\b(?:he|she|they|you|my [a-z]+|his [a-z]+|her [a-z]+|people|everyone|this [a-z]+) (?:{adv})?(?:made|make|makes|is making|are making|forced|forces|drove|drives|pushed|pushes) me (?:feel |so |do |be |this |like |act |say |angry|sad|depressed|anxious|crazy|miserable|hate|cry|lose|suffer|insane|to )", ""),
    (D::Blaming, 0.7, "ruined ruins destroyed wrecked", r"\b(?:he|she|they|you|my [a-z]+) (?:{adv})?(?:ruined|ruins|destroyed|destroys|wrecked|took away|stole) (?:my|our|everything|it)\b", ""),
    (D::Blaming, 0.6, "because thanks", r"\b(?:because of|thanks to) (?:him|her|them|you|my (?:mom|mum|mother|dad|father|parents|ex|boss|husband|wife|boyfriend|girlfriend|family|sister|brother|partner))(?: ,| \.|$| i | my | everything| now| this| all)", ""),
    (D::Blaming, 0.7, "reason cause blame responsible", r"\b(?:he|she|they|you|my [a-z]+) (?:is|are|was|were) (?:the )?(?:reason|cause|one to blame|to blame|responsible) (?:for |why |that )?(?:i|my|me|everything|this|all)", ""),
    (D::Blaming, 0.7, "blame blamed hold", r"\bi (?:{adv})?(?:blame|blamed|hold) (?:him|her|them|you|my [a-z]+|everyone|society|the world|god|the system)(?: for| responsible|$| \.| ,)", ""),
    (D::Blaming, 0.6, "if only", r"\bif (?:only )?(?:he|she|they|you|my [a-z]+) (?:had|had not|would|would not|did|did not|were|was|could|had just) (?:[a-z']+ ){0,4}(?:i would|i could|i would not|i wouldn't|then|i might|i wouldn)\b", ""),
];

/// Everything the distortion stage knows about one word, found with one
/// hash lookup: the rules it anchors, the gate conditions it satisfies and
/// the rules whose matches can start at it.
#[derive(Default)]
struct WordInfo {
    anchor: [u64; 4],
    gate_ids: Vec<u16>,
    start: [u64; 4],
}

struct Compiled {
    words: crate::lexicon::FxMap<WordInfo>,
    rules: Vec<Rule>,
    gates: crate::gate::Gates,
    starts: crate::gate::Starts,
    /// word → bitset of rules that use it as an anchor
    anchors: FxMap<[u64; 4]>,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    assert!(RULES.len() <= 256, "anchor bitsets hold 256 rules");
    let mut rules = Vec::with_capacity(RULES.len());
    let mut anchors: FxMap<[u64; 4]> = FxMap::default();
    for (i, (ty, conf, anc, pat, unless)) in RULES.iter().enumerate() {
        rules.push(Rule {
            ty: *ty,
            conf: *conf,
            re: compile(pat),
            unless: (!unless.is_empty()).then(|| compile(unless)),
        });
        for w in anchor_words(anc) {
            anchors.entry(w).or_default()[i / 64] |= 1u64 << (i % 64);
        }
    }
    let gates = crate::gate::Gates::new(RULES.iter().map(|r| r.3));
    let starts = crate::gate::Starts::new(RULES.iter().map(|r| r.3));
    let mut words: crate::lexicon::FxMap<WordInfo> = Default::default();
    let leak = |w: &str| -> &'static str { Box::leak(w.to_string().into_boxed_str()) };
    for (w, m) in anchors.iter() {
        words.entry(w).or_default().anchor = *m;
    }
    for (w, ids) in gates.words.iter() {
        words.entry(leak(w)).or_default().gate_ids = ids.clone();
    }
    for (w, m) in starts.words.iter() {
        words.entry(leak(w)).or_default().start = *m;
    }
    Compiled {
        words,
        rules,
        gates,
        starts,
        anchors,
    }
});

/// Forces compilation of every pattern (used by benchmarks and servers at start).
pub(crate) fn warm() {
    LazyLock::force(&COMPILED);
}

pub(crate) fn explanation(t: D) -> &'static str {
    match t {
        D::AllOrNothing => "This sees the situation in only two extremes, total success or total failure, leaving out everything in between.",
        D::Overgeneralization => "This turns one or a few experiences into a rule about always or never, as if it must keep happening.",
        D::MentalFilter => "This zooms in on one painful detail and lets it colour everything, while the rest of the picture fades out.",
        D::DisqualifyingPositive => "This explains away something good, as if it does not count, so it never gets to balance the hard things.",
        D::MindReading => "This assumes you know what someone else is thinking about you, without checking whether it is true.",
        D::FortuneTelling => "This predicts how things will turn out and treats that guess as a fact, before it has happened.",
        D::Magnification => "This makes a hard moment feel bigger and more permanent than it may really be, as if it is unbearable.",
        D::EmotionalReasoning => "This treats a feeling as proof of a fact; feelings are real and important, but they are not always evidence.",
        D::ShouldStatements => "This holds you (or others) to a rigid rule of should or must, which often turns into guilt or frustration.",
        D::Labeling => "This sums up a whole person with one harsh label, instead of describing a specific moment or action.",
        D::Personalization => "This takes responsibility for something that depended on many people and circumstances, not only on you.",
        D::Blaming => "This puts all the responsibility on someone else, which can leave you feeling stuck and without a way to act.",
    }
}

/// Per-rule cost profile over some texts: (type, anchors, runs, seconds).
/// For tuning anchors only.
pub(crate) fn profile(texts: &[&str]) -> Vec<(D, &'static str, u32, f64)> {
    let c = &*COMPILED;
    let mut runs = vec![0u32; c.rules.len()];
    let mut secs = vec![0f64; c.rules.len()];
    for t in texts {
        let doc = Doc::new(t);
        for s in &doc.sentences {
            let mut mask = [0u64; 4];
            let mut present: Present = [0; MAX_SETS / 64];
            for i in s.t0..s.t1 {
                if !doc.tokens[i].is_word {
                    continue;
                }
                c.gates.mark_token(doc.word(i), &mut present);
                if let Some(m) = c.anchors.get(doc.word(i)) {
                    for k in 0..4 {
                        mask[k] |= m[k];
                    }
                }
            }
            let (a, b) = doc.sentence_range(s);
            let slice = &doc.norm[a..b];
            for r in 0..c.rules.len() {
                if mask[r / 64] & (1u64 << (r % 64)) != 0 && c.gates.open(r, &present) {
                    let st = std::time::Instant::now();
                    std::hint::black_box(c.rules[r].re.find_iter(slice).count());
                    secs[r] += st.elapsed().as_secs_f64();
                    runs[r] += 1;
                }
            }
        }
    }
    RULES
        .iter()
        .enumerate()
        .map(|(i, r)| (r.0, r.2, runs[i], secs[i]))
        .collect()
}

struct Cand {
    ty: D,
    conf: f32,
    /// token range of the match
    m0: usize,
    m1: usize,
    sent: usize,
}

pub(crate) fn detect(doc: &Doc) -> Vec<Fragment> {
    detect_min(doc, EMIT_MIN)
}

pub(crate) fn detect_min(doc: &Doc, min: f32) -> Vec<Fragment> {
    let cands = candidates(doc);
    build_fragments(doc, cands, min)
}

/// Base confidence of a fragment found by the document score alone.
const FALLBACK_BASE: f32 = 0.3;

/// The sentence with the most first-person, mental-state and negative-affect
/// words, typed by the cue it holds.
fn fallback_span(doc: &Doc) -> Option<Span> {
    let mut best: Option<(f32, usize)> = None;
    for (si, s) in doc.sentences.iter().enumerate() {
        let mut score = 0f32;
        for i in s.t0..s.t1 {
            if !doc.tokens[i].is_word {
                continue;
            }
            score += match doc.word(i) {
                "i" | "me" | "my" | "myself" => 1.0,
                "feel" | "felt" | "think" | "thought" | "believe" | "know" | "always" | "never"
                | "should" | "must" | "everyone" | "nobody" | "nothing" | "everything" => 1.5,
                _ => doc.tokens[i]
                    .entry
                    .map_or(0.0, |e| if e.valence <= -1.0 { 1.0 } else { 0.0 }),
            };
        }
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, si));
        }
    }
    let (score, si) = best?;
    if score < 3.0 {
        return None;
    }
    let s = doc.sentences[si];
    let has = |ws: &[&str]| (s.t0..s.t1).any(|i| ws.contains(&doc.word(i)));
    let ty = if has(&["should", "must"]) {
        D::ShouldStatements
    } else if has(&[
        "always",
        "never",
        "everyone",
        "nobody",
        "nothing",
        "everything",
    ]) {
        D::Overgeneralization
    } else if has(&["feel", "felt"]) {
        D::EmotionalReasoning
    } else if has(&["think", "thought", "believe", "know"]) {
        D::MindReading
    } else {
        D::Magnification
    };
    let (t0, t1) = span_for(doc, si, s.t0, s.t1);
    Some(Span {
        t0,
        t1,
        best: ty,
        best_conf: FALLBACK_BASE,
        miss: 1.0,
    })
}

/// Document-level evidence features (evaluation tooling).
pub(crate) fn features(doc: &Doc) -> Vec<(&'static str, f32)> {
    let spans = merge_spans(doc, candidates(doc));
    let f = doc_features(doc, &spans);
    FEATURE_NAMES.iter().copied().zip(f).collect()
}

fn candidates(doc: &Doc) -> Vec<Cand> {
    let c = &*COMPILED;
    let mut cands: Vec<Cand> = Vec::new();
    let mut starts = crate::gate::StartList::new();
    for (si, s) in doc.sentences.iter().enumerate() {
        let mut mask = [0u64; 4];
        let mut present: Present = [0; MAX_SETS / 64];
        let a = doc.tokens[s.t0].ns as usize;
        starts.clear();
        for i in s.t0..s.t1 {
            if !doc.tokens[i].is_word {
                continue;
            }
            let w = doc.word(i);
            let info = c.words.get(w);
            if let Some(info) = info {
                for (m, x) in mask.iter_mut().zip(info.anchor) {
                    *m |= x;
                }
            }
            if w.bytes().all(|b| b.is_ascii_alphanumeric()) {
                if let Some(info) = info {
                    crate::gate::Gates::mark_ids(&info.gate_ids, &mut present);
                    if info.start != [0; 4] {
                        starts.push((doc.tokens[i].ns as usize - a, info.start));
                    }
                }
            } else {
                // runs of letters and digits inside "self-harm", "été"
                let base = doc.tokens[i].ns as usize - a;
                let bytes = w.as_bytes();
                let mut j = 0;
                while j < bytes.len() {
                    if bytes[j].is_ascii_alphanumeric() {
                        let st = j;
                        while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
                            j += 1;
                        }
                        if let Some(info) = c.words.get(&w[st..j]) {
                            crate::gate::Gates::mark_ids(&info.gate_ids, &mut present);
                            if info.start != [0; 4] {
                                starts.push((base + st, info.start));
                            }
                        }
                    } else {
                        j += 1;
                    }
                }
            }
        }
        if mask == [0; 4] {
            continue;
        }
        let (a, b) = doc.sentence_range(s);
        let slice = &doc.norm[a..b];
        for (k, word) in mask.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let r = k * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if !c.gates.open(r, &present) {
                    continue;
                }
                let rule = &c.rules[r];
                c.starts.find_each(r, &rule.re, slice, &starts, |ms0, ms1| {
                    let trimmed = slice[ms0..ms1].trim_end();
                    if trimmed.is_empty() {
                        return;
                    }
                    if let Some(u) = &rule.unless {
                        // the exception may reach outside the match ("career suicide")
                        if u.find_iter(slice).any(|x| x.start() < ms1 && ms0 < x.end()) {
                            return;
                        }
                    }
                    let (m0, m1) = doc.tokens_of(a + ms0, a + ms0 + trimmed.len());
                    cands.push(Cand {
                        ty: rule.ty,
                        conf: rule.conf,
                        m0,
                        m1,
                        sent: si,
                    });
                });
            }
        }
    }
    cands
}

/// A fragment under construction: token span and accumulated evidence.
struct Span {
    t0: usize,
    t1: usize,
    best: D,
    best_conf: f32,
    /// product of (1 - conf) over distinct rules
    miss: f32,
}

fn merge_spans(doc: &Doc, mut cands: Vec<Cand>) -> Vec<Span> {
    cands.sort_by(|x, y| x.sent.cmp(&y.sent).then(x.m0.cmp(&y.m0)));
    let mut spans: Vec<Span> = Vec::new();
    for cd in &cands {
        let (t0, t1) = span_for(doc, cd.sent, cd.m0, cd.m1);
        // merge with an overlapping span of the same sentence
        if let Some(sp) = spans
            .iter_mut()
            .rev()
            .take(4)
            .find(|sp| sp.t0 < t1 && t0 < sp.t1)
        {
            // agreeing evidence counts less than independent evidence
            sp.miss *= 1.0 - cd.conf * 0.5;
            if cd.conf > sp.best_conf {
                sp.best_conf = cd.conf;
                sp.best = cd.ty;
                sp.t0 = sp.t0.min(t0);
                sp.t1 = sp.t1.max(t1);
            }
            continue;
        }
        spans.push(Span {
            t0,
            t1,
            best: cd.ty,
            best_conf: cd.conf,
            miss: 1.0,
        });
    }
    spans
}

const FEATURE_NAMES: [&str; NF] = [
    "max_base",
    "n50",
    "n65",
    "ntypes",
    "words",
    "fp_rate",
    "tp_rate",
    "neg_rate",
    "pos_rate",
    "abs_rate",
    "feel_like",
    "should",
    "questions",
    "advice",
    "digits",
    "you_rate",
    "i_rate",
    "neg_fp",
    "think",
    "mental_rate",
    "clinical_rate",
    "sentences",
];
const NF: usize = 22;

#[allow(clippy::needless_range_loop)]
fn doc_features(doc: &Doc, spans: &[Span]) -> [f32; NF] {
    let mut f = [0f32; NF];
    let mut types = 0u16;
    for sp in spans {
        let b = 1.0 - (1.0 - sp.best_conf) * sp.miss;
        f[0] = f[0].max(b);
        if b >= 0.5 {
            f[1] += 1.0;
            types |= 1 << (sp.best as u16);
        }
        if b >= 0.65 {
            f[2] += 1.0;
        }
    }
    f[3] = types.count_ones() as f32;
    let toks = &doc.tokens;
    let mut words = 0f32;
    for s in &doc.sentences {
        let mut has_fp = false;
        let mut neg = false;
        for i in s.t0..s.t1 {
            let t = &toks[i];
            let w = doc.word(i);
            if !t.is_word {
                if w == "?" {
                    f[12] += 1.0;
                }
                continue;
            }
            words += 1.0;
            match w {
                "i" | "me" | "my" | "myself" | "mine" => {
                    f[5] += 1.0;
                    has_fp = true;
                    if w == "i" {
                        f[16] += 1.0;
                    }
                }
                "he" | "she" | "him" | "her" | "his" | "they" | "them" | "their" | "hers" => {
                    f[6] += 1.0
                }
                "always" | "never" | "everyone" | "everybody" | "nobody" | "nothing"
                | "everything" | "anyone" | "ever" | "completely" | "totally" => f[9] += 1.0,
                "should" | "must" | "supposed" => f[11] += 1.0,
                "you" | "your" => f[15] += 1.0,
                "feel" | "felt" | "feels" => {
                    f[19] += 1.0;
                    if i + 1 < s.t1 && matches!(doc.word(i + 1), "like" | "that" | "as") {
                        f[10] += 1.0;
                    }
                }
                "think" | "thought" | "believe" => {
                    f[18] += 1.0;
                    f[19] += 1.0;
                }
                "know" | "knew" | "want" | "wanted" | "wish" | "hate" | "hated" | "worry"
                | "worried" | "afraid" | "scared" | "seem" | "seems" | "seemed" | "guess"
                | "wonder" | "hope" | "fear" | "feeling" | "feelings" => f[19] += 1.0,
                "diagnosed" | "disorder" | "medication" | "medications" | "meds" | "mg"
                | "prescribed" | "psychiatrist" | "doctor" | "doctors" | "symptoms"
                | "diagnosis" | "adhd" | "bpd" | "ocd" | "bipolar" | "ptsd" | "schizophrenia"
                | "hospital" | "therapy" | "therapist" | "counselor" | "counseling" | "dsm" => {
                    f[20] += 1.0
                }
                "what" | "how" | "is" | "any" | "can" => {
                    let n1 = if i + 1 < s.t1 { doc.word(i + 1) } else { "" };
                    let n2 = if i + 2 < s.t1 { doc.word(i + 2) } else { "" };
                    if matches!(
                        (w, n1, n2),
                        ("what", "should", "i")
                            | ("what", "can", "i")
                            | ("what", "do", "i")
                            | ("how", "can", "i")
                            | ("how", "do", "i")
                            | ("how", "should", "i")
                            | ("is", "it", "normal")
                            | ("is", "this", "normal")
                            | ("any", "advice", _)
                            | ("can", "you", _)
                    ) {
                        f[13] += 1.0;
                    }
                }
                _ => {}
            }
            if w.bytes().all(|b| b.is_ascii_digit()) {
                f[14] += 1.0;
            }
            if let Some(e) = t.entry {
                if e.valence <= -1.0 {
                    f[7] += 1.0;
                    neg = true;
                } else if e.valence >= 1.0 {
                    f[8] += 1.0;
                }
            }
        }
        if has_fp && neg {
            f[17] += 1.0;
        }
    }
    let n = words.max(1.0);
    f[4] = words;
    f[21] = doc.sentences.len() as f32;
    for k in [5, 6, 7, 8, 9, 14, 15, 16, 19, 20] {
        f[k] /= n;
    }
    f[17] /= (doc.sentences.len() as f32).max(1.0);
    f
}

/// Spans at least this strong are reported on their own evidence, whatever
/// the rest of the text says.
const STRONG: f32 = 0.7;

/// Document score a text needs before its weaker spans are reported
/// (in the same log-odds units as a span's confidence).
const DOC_THRESHOLD: f32 = 2.3;

#[inline]
fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-3, 1.0 - 1e-3);
    (p / (1.0 - p)).ln()
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Document-level evidence, in log-odds, added to every span's own.
///
/// A hand-set linear score over interpretable features (weights chosen from
/// the clinical picture of distorted thinking, then checked only against
/// aggregate metrics, never fitted): distorted thinking comes in clusters of
/// cues, in first-person text dense with mental-state words ("feel", "think",
/// "know", "wish", "worry") and in sentences where the writer and negative
/// affect meet; factual reports with many numbers and stories about third
/// persons are less likely to be distorted. Longer texts give distorted
/// thinking more room to show, so length counts a little.
fn doc_offset(f: &[f32; NF]) -> f32 {
    let words = f[4];
    // rates are smoothed so a five-word text cannot look extreme
    let shrink = words / (words + 20.0);
    0.25 * f[1].min(6.0)
        + 0.8 * (words / 100.0 + 0.2).max(0.5).ln()
        + 8.0 * f[16] * shrink
        + 0.25 * f[10].min(2.0)
        - 6.0 * f[14] * shrink
        - 3.0 * f[6] * shrink
        + 0.5 * f[17]
        + 40.0 * f[19] * shrink
}

fn build_fragments(doc: &Doc, cands: Vec<Cand>, min: f32) -> Vec<Fragment> {
    let spans = merge_spans(doc, cands);
    let f = doc_features(doc, &spans);
    let shift = doc_offset(&f) - DOC_THRESHOLD + logit(EMIT_MIN);
    let mut frags: Vec<(f32, Span)> = spans
        .into_iter()
        .map(|sp| {
            let b = 1.0 - (1.0 - sp.best_conf) * sp.miss;
            let adjusted = sigmoid(logit(b) + shift);
            let conf = if b >= STRONG {
                adjusted.max(b)
            } else {
                adjusted
            };
            (conf.min(0.95), sp)
        })
        .filter(|(c, _)| *c >= min)
        .collect();
    if frags.is_empty() {
        // no rule is sure enough, but the text as a whole reads as distorted:
        // point at the sentence that carries most of that evidence
        let conf = sigmoid(logit(FALLBACK_BASE) + shift);
        if conf >= min {
            if let Some(sp) = fallback_span(doc) {
                frags.push((conf, sp));
            }
        }
    }
    // overlap resolution: strongest first
    frags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.t0.cmp(&b.1.t0)));
    let mut kept: Vec<(f32, Span)> = Vec::with_capacity(frags.len());
    for f in frags {
        if kept.iter().all(|k| k.1.t1 <= f.1.t0 || f.1.t1 <= k.1.t0) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|k| k.1.t0);
    kept.into_iter()
        .map(|(conf, sp)| {
            let toks = &doc.tokens;
            Fragment {
                r#type: sp.best,
                start: toks[sp.t0].cs as usize,
                end: toks[sp.t1 - 1].ce as usize,
                text: doc.orig_slice(sp.t0, sp.t1).to_string(),
                confidence: (conf * 100.0).round() / 100.0,
                explanation: explanation(sp.best).to_string(),
            }
        })
        .collect()
}

fn is_clause_break(doc: &Doc, i: usize) -> bool {
    let t = &doc.tokens[i];
    !t.is_word && matches!(doc.word(i), "," | ";" | ":" | "-" | "(" | ")" | "\"")
}

/// Token span of the fragment for a match: the sentence, without leading and
/// trailing punctuation, clipped to the surrounding clause when long.
fn span_for(doc: &Doc, sent: usize, m0: usize, m1: usize) -> (usize, usize) {
    let s = doc.sentences[sent];
    let toks = &doc.tokens;
    let mut t0 = s.t0;
    let mut t1 = s.t1;
    if toks[t1 - 1].ce - toks[t0].cs > MAX_SPAN_CHARS {
        // clip to clause boundaries around the match
        let mut a = m0;
        while a > t0
            && !is_clause_break(doc, a - 1)
            && toks[m1 - 1].ce - toks[a - 1].cs <= MAX_SPAN_CHARS
        {
            a -= 1;
        }
        let mut b = m1;
        while b < t1 && !is_clause_break(doc, b) && toks[b].ce - toks[a].cs <= MAX_SPAN_CHARS {
            b += 1;
        }
        t0 = a;
        t1 = b;
    }
    while t0 < t1 && !toks[t0].is_word && t0 < m0 {
        t0 += 1;
    }
    while t1 > t0 + 1 && !toks[t1 - 1].is_word && t1 > m1 {
        t1 -= 1;
    }
    (t0, t1.max(t0 + 1))
}
