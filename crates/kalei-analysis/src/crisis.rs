//! Multi-stage deterministic crisis detector.
//!
//! 1. Normalisation (shared `Doc`: lower-case, contractions, chat spellings)
//!    plus crisis slang written into the patterns ("kms", "unalive",
//!    "sewerslide", "ctb", "su1cide", ...).
//! 2. Gating: a sentence is examined only if it holds an anchor word of some
//!    rule (most text never reaches the patterns).
//! 3. Risk patterns per category (suicide, self-harm, abuse, overdose, harm to
//!    others, general distress) and escalation signals (plan, means, timing,
//!    act in progress).
//! 4. Guards: idioms ("this deadline is killing me"), negation ("I'd never
//!    hurt myself"), third person ("my friend said she wanted to die"),
//!    historical mentions ("years ago I was suicidal, now I'm doing well"),
//!    joking markers for hyperbolic threats. Guarded matches are capped at
//!    `concern` (third person, historical) or dropped (idioms, negation).
//! 5. Aggregation: the highest level wins; ideation/self-harm/overdose with a
//!    plan, means or timing nearby becomes `imminent`.
//!
//! The detector favours recall: ambiguous first-person statements of wanting
//! to die are treated as real.

use std::sync::LazyLock;

use regex::Regex;

use crate::lexicon::FxMap;
use crate::patterns::{anchor_words, compile};
use crate::text::Doc;
use crate::{Crisis, CrisisCategory as C, CrisisLevel as L};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Risk,
    Plan,
    Means,
    Timing,
    Idiom,
}

/// The match can be negated by a preceding "not/never/no".
const NEG: u8 = 1;
/// The subject must be the writer (nearest preceding pronoun is checked).
const SUBJ: u8 = 2;
/// The pattern itself is about a third person.
const THIRD: u8 = 4;
/// An act in progress or completed just now: imminent on its own.
const ACT: u8 = 8;
/// Not subject to the historical guard (e.g. present-tense-only patterns).
const NOHIST: u8 = 16;
/// A joking marker ("lol", "jk"): softens hyperbolic threats in its sentence.
const JOKE: u8 = 32;

type Src = (
    Kind,
    Option<C>,
    L,
    f32,
    u8,
    &'static str,
    &'static str,
    &'static str,
);

const SELF_VERBS: &str = "kill|killing|killed|kms|k1ll|unalive|unaliving|unalived|off|offing|hang|hanging|hanged|drown|drowning|shoot|shooting|poison|poisoning|suffocate|suffocating|electrocute|gas";

/// (kind, category, level, confidence, flags, anchors, pattern, unless)
const RULES: &[Src] = &[
    // ------------------------------------------------------------------ suicide
    (Kind::Risk, Some(C::Suicide), L::High, 0.92, NEG, "kill killing killed kms k1ll unalive unaliving unalived off offing hang hanging hanged drown drowning shoot shooting poison poisoning suffocate suffocating electrocute gas myself", r"\b(?:kill|killing|killed|kms|k1ll|unalive|unaliving|unalived|off|offing|hang|hanging|hanged|drown|drowning|shoot|shooting|poison|poisoning|suffocate|suffocating|electrocute|gas) my ?s(?:el|le)f\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, NEG | SUBJ, "kms ctb sewerslide sewer su1cide suic1de unalive", r"\b(?:kms|ctb|sewerslide|sewer slide|su1cide|suic1de|s u i c i d e|unalive|unaliving|catch the bus)\b", r"\b\d+ ?kms\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, NEG | SUBJ, "suicidal suicide ideation", r"\b(?:suicidal|suicide (?:thoughts|ideation|plan|plans|attempt|urges?)|thoughts of suicide|thinking (?:about|of) suicide|(?:commit|committing|attempt|attempting|considering|consider|contemplating|contemplate) suicide|want to (?:commit )?suicide)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::Concern, 0.6, SUBJ, "suicide", r"\bsuicide\b", r"\bsuicide (?:squad|mission|doors?|run|runs|drills?|sprints?|prevention|hotline|awareness)\b|\b(?:career|social|political|commercial) suicide\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, NEG | SUBJ, "die dead alive exist existing disappear wake sleep end take gone", r"\b(?:want|wants|wanted|wanna|wish|wishes|wished|going|ready|deserve|need|needs|would rather|rather|prefer|would like|longing|long|hope|hoping|trying|tempted|planning|plan|decided|about) (?:to )?(?:just |simply |really |honestly )?(?:die|be dead|not be alive|not exist|stop existing|cease to exist|disappear forever|vanish forever|not wake up|never wake up|sleep forever|go to sleep and (?:never|not) wake up|fall asleep and (?:never|not) wake up|end my life|end it all|end everything|take my (?:own )?life|not be here anymore|be gone forever|not be around|stop living|stop breathing|be with (?:my )?(?:dead|late) )\b", r"\bdie (?:of|from) (?:embarrassment|laughter|laughing|boredom|shame|cuteness|happiness)\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, SUBJ, "wish", r"\bwish (?:i|that i) (?:was|were|had|could|would|did) (?:just )?(?:go to sleep and (?:never|not) wake up|sleep and (?:never|not) wake up|fall asleep and (?:never|not) wake up|never born|not born|dead|not alive|gone|never existed|not exist|die|just die|disappear|not wake up|sleep forever|been born|never been born|not here|just not exist|stop existing|not been born|fall asleep and)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, NEG | SUBJ, "end ending take taking took life", r"\b(?:end|ending|take|taking|took) my (?:own )?life\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.88, NEG | SUBJ, "end ending", r"\bend (?:it all|everything|things|it) (?:tonight|today|now|soon|this week|for good|once and for all|right now)\b|\bend(?:ing)? it all\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.85, SUBJ, "end", r"\b(?:want to|going to|wanna|ready to|decided to|will|planning to|plan to|thinking about|thinking of|need to|have to|tempted to|so i can|i can|i could|finally) (?:just )?end (?:it|things|everything)\b", r"\bend (?:it|things) (?:with|between)\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, SUBJ, "live alive exist wake continue living", r"\b(?:do not|no longer|never) (?:{adv})?(?:want|wanna|wish|feel like) (?:to )?(?:live|be alive|exist|wake up|go on|keep going|keep living|continue living|continue|be around|live anymore|be alive anymore|be here anymore|do life)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.86, SUBJ, "live alive here", r"\bnot sure (?:if |that )?i (?:want|wanna) to (?:live|be alive|be here|go on|keep going|exist)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.88, SUBJ, "reason will point purpose nothing", r"\b(?:no|not any|not a single|lost(?: the| my| all)?|without(?: a| any)?|what is the|what's the|nothing left) (?:reason|will|point|purpose|desire)(?: for me| left)? (?:to|in|for|of) (?:live|living|go on|going on|keep going|keep living|be alive|being alive|exist|existing|stay|staying alive|life)\b|\bnothing (?:left )?to live for\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.88, SUBJ, "see find point reason purpose", r"\b(?:do not|can not|no longer|never|can no longer) (?:really )?(?:see|find) (?:the |any |a )?(?:point|reason|purpose) (?:in|of|to|for) (?:living|life|being alive|going on|existing|staying alive|live|being here)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.88, NEG | SUBJ, "using use myself", r"\b(?:using|use) (?:it|the gun|the knife|them|the pills|the rope) on myself\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.85, NOHIST, "standing sitting", r"\b(?:standing|sitting) on (?:the|a) (?:bridge|ledge|roof|rooftop|edge|railing|tracks|cliff edge) (?:right now|now|and|thinking|ready|about to)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.86, NOHIST, "know note letter goodbyes giving", r"\bknow (?:how|when|where) i (?:will|am going to|would|want to) do it\b|\b(?:suicide|goodbye) (?:note|letter)s?\b|\bsaid (?:my )?goodbyes? to (?:everyone|my family|them)\b|\bgiving away (?:all )?my (?:stuff|things|belongings|possessions|pets)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.88, 0, "worth", r"\b(?:life|living|my life|it) (?:is not|is no longer|was not|does not feel|does not seem|not) worth (?:living|it anymore|living anymore|the pain|the struggle)\b|\bnot worth living\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, 0, "better happier easier without dead gone", r"\b(?:better off|be better|happier|easier|be fine|be relieved)(?: for (?:everyone|everybody|them|all of them|my family|everyone else))? (?:dead|without me|if i (?:was|were|am) (?:dead|gone|not here|not around|never born|not alive)|if i (?:was not|were not) (?:here|around|alive)|if i died|if i disappeared|if i killed myself|when i am gone|once i am gone|after i am gone|with me gone|with me dead)\b|\bbetter off dead\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.88, SUBJ, "burden around here longer bothering worry waiting problem", r"\b(?:will not|won't|will no longer|am not going to|wont) be (?:a burden|around|here|a problem|bothering (?:you|anyone|anybody)|in your way|anyone's problem)(?: (?:for|to|on) (?:anyone|anybody|you|everyone|them|my family))? (?:much longer|for (?:much|too) long|for long|anymore|any more|soon|after (?:tonight|today|this))\b|\bnot be a burden (?:much|for) (?:longer|long)\b|\b(?:will not|won't) have to (?:worry about|deal with|put up with|see|hear from) me (?:for )?(?:much longer|anymore|any more|for long|soon)\b|\b(?:just )?waiting to die\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.85, NOHIST, "goodbye farewell note letter last", r"\b(?:this is (?:my )?(?:goodbye|good bye|farewell)|(?:my )?(?:final|last) (?:goodbye|message|post|words|note|day on earth|night alive|day alive)|goodbye forever|(?:suicide|goodbye) (?:note|letter)|by the time you (?:read|see) this)\b", r"\blast (?:message|post|note|words) (?:before|for|of the|until|till)\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.85, NEG | SUBJ, "thinking thought thoughts about dying death", r"\b(?:thinking|thought|thoughts|think|fantasi[sz]e|fantasi[sz]ing|dream|dreaming) (?:a lot )?(?:about|of) (?:ending it|ending things|ending my life|dying|my death|death|not being here|not existing|killing myself|suicide|jumping|my funeral|not waking up|being dead|how to die|how i would die|taking my life)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.88, NEG | SUBJ, "jump jumping jumped throw", r"\b(?:jump|jumping|jumped|throw myself|throwing myself|step|stepping|walk|walking) (?:off|from|in front of|into|onto) (?:a |the |my |this )?(?:bridge|building|roof|rooftop|cliff|balcony|train|car|truck|bus|ledge|tower|window|overpass|traffic|tracks|river)\b", r"\b(?:bungee|base|cliff) (?:jumping|jumped|jump)\b|\b(?:jump|jumping|jumped) (?:off|from) (?:a |the )?(?:[a-z]+ )?(?:into the (?:water|pool|lake|sea|river)|for fun)\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.9, NEG, "slit gun trigger brains noose", r"\b(?:slit|slitting|cut|cutting|slash|slashing) my (?:wrists?|throat)\b|\b(?:gun|pistol) (?:to|against) my head\b|\bblow my brains out\b|\bpull the trigger\b|\b(?:tie|tied|tying|made|make|making) (?:a |the )?noose\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.86, SUBJ, "tired sick exhausted", r"\b(?:tired|sick|exhausted|done) (?:of|with) (?:living|being alive|existing|life itself|being here|staying alive)\b", r"\bliving (?:in|with|at|paycheck|out of|on|here|there|near|alone in)\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.86, SUBJ, "miss notice care", r"\b(?:no one|nobody|noone|who) (?:would|will|is going to|would even) (?:miss|notice|care|cry)(?: me)? (?:if|when) i (?:died|was gone|were gone|disappeared|killed myself|was dead|were dead|am gone|die|left forever)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.85, SUBJ, "deserve die", r"\bi (?:{adv})?deserve to (?:die|be dead|not exist|not live)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.86, SUBJ, "hope hoping pray praying wish wishing wake take takes", r"\b(?:hope|hoping|pray|praying) (?:that )?(?:i|god) (?:do not|does not|will not|never|would) (?:wake up|take me|let me wake|die|just die)\b|\bhope i (?:die|just die|do not wake up|never wake up)\b|\bpray (?:for|to) (?:death|die)\b|\b(?:hope|hoping|pray|praying) (?:that )?(?:god|he|the lord|death) (?:takes|will take|would take|comes for) me\b|\b(?:pray|praying|hope|hoping|wish|wishing) (?:that )?i (?:die|just die|would die|will die|do not wake up|never wake up|could die|was dead)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.85, 0, "death relief release escape welcome", r"\bdeath (?:would be|is|seems like|feels like) (?:a |the |my )?(?:relief|release|escape|welcome|only way out|answer|easier|peaceful|better)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.8, SUBJ, "kill me", r"\b(?:want|wish|hope|need) (?:someone|somebody|something|god|a car|a truck|a bus|it) (?:would |to |could |will )?(?:just )?kill (?:me|me off)\b|\bplease (?:just )?kill me\b", r"\bkill me (?:lol|lmao|haha)\b"),
    (Kind::Risk, Some(C::Suicide), L::High, 0.8, SUBJ, "live on go", r"\b(?:can not|could not|can no longer|do not know how to) (?:{adv})?(?:go on living|keep living|keep on living|go on like this|live like this anymore|live with this anymore|go on anymore)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.82, SUBJ, "dying die dead", r"\bi (?:{adv})?(?:want|wanna|wish|need|am ready|would love|would like) (?:to )?(?:die|be dead|disappear and never come back|stop waking up)\b", r"\bdie (?:of|from) (?:embarrassment|laughter|laughing|boredom|shame)\b"),
    (Kind::Risk, Some(C::Suicide), L::Concern, 0.65, SUBJ, "disappear vanish exist", r"\b(?:want|wish|wanna|would like) (?:i could )?(?:to )?(?:just )?(?:disappear|vanish|stop existing|not exist|fade away|evaporate|be invisible forever)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::Concern, 0.6, SUBJ, "miss burden", r"\b(?:no one|nobody) would (?:even )?(?:miss me|notice if i was gone|notice if i were gone|care if i was gone)\b|\b(?:i am|i feel like|i am just|i have become) (?:such )?a burden (?:to|on) (?:everyone|everybody|my family|them|people|my parents|my friends)\b", ""),
    (Kind::Risk, Some(C::Suicide), L::High, 0.8, SUBJ, "attempt attempted overdosed tried", r"\b(?:attempted|tried|try|trying|going to try|will try|want to try) (?:again )?(?:to )?(?:kill myself|end my life|take my life|commit suicide|overdose)\b", ""),
    // -------------------------------------------------------------- self-harm
    (Kind::Risk, Some(C::SelfHarm), L::High, 0.9, NEG | SUBJ, "cut cutting cuts burn burning burned burnt scratch scratching hit hitting punch punching bite biting carve carving hurt hurting harm harming harmed starve starving stab stabbing bang banging injure injuring", r"\b(?:cut|cutting|cuts|burn|burning|burned|burnt|scratch|scratching|scratched|hit|hitting|punch|punching|bite|biting|carve|carving|carved|hurt|hurting|harm|harming|harmed|starve|starving|stab|stabbing|bang|banging|injure|injuring|injured|bruise|bruising|punish|punishing) (?:myself|my (?:own )?(?:wrists?|arms?|legs?|thighs?|skin|stomach|body|hips?|forearms?|head against))\b", r"\bhit my head\b"),
    (Kind::Risk, Some(C::SelfHarm), L::High, 0.9, NEG | SUBJ, "self-harm self harm selfharm sh self-harming self-injury", r"\b(?:self-harm(?:ing|ed)?|self harm(?:ing|ed)?|selfharm(?:ing|ed)?|self-injur(?:y|e|ing|ed)|self injur(?:y|e|ing|ed)|(?:relapsed?|relapsing|urges?|clean|scars|cuts) (?:on |to |from |with )?sh)\b", ""),
    (Kind::Risk, Some(C::SelfHarm), L::High, 0.88, NEG | SUBJ, "cutting cut", r"\b(?:started|start|been|keep|kept|back to|relapsed into|relapse into|went back to|going back to|can not stop|began|i am) cutting\b|\bcutting (?:again|myself)\b|\bcut (?:again|myself again)\b|\bi cut (?:again|last night|today|yesterday)\b", r"\bcutting (?:back|down|costs?|corners|class|classes|school|ties|hair|the)\b"),
    (Kind::Risk, Some(C::SelfHarm), L::High, 0.86, SUBJ, "cuts scars wounds urge urges", r"\b(?:fresh|new|deep|bleeding) (?:cuts|scars|wounds) (?:on|in) my\b|\b(?:urge|urges|need|craving) to (?:cut|hurt myself|self harm|self-harm|harm myself|burn myself|bleed)\b", ""),
    (Kind::Risk, Some(C::SelfHarm), L::High, 0.84, SUBJ, "razor blade blades sharpener", r"\b(?:razor|razors|blade|blades|sharpener|scissors|lighter) (?:to|on|against|into) my (?:skin|arm|arms|wrist|wrists|leg|legs|thigh|thighs)\b|\b(?:took|take|taking|used|use|using) (?:a |the |my )?(?:razor|blade) (?:to|on) my\b", ""),
    (Kind::Risk, Some(C::SelfHarm), L::High, 0.84, NEG | SUBJ, "want wanna need urge urges going tempted craving", r"\b(?:want|wanna|need|urge|urges|going|tempted|craving|feel the need|itching) to (?:cut|bleed|burn myself|scratch myself)\b", r"\bcut (?:my hair|my nails|the|down|back|costs?|ties|class|classes|it|him|her|them|out|off|in|a|an|some|my losses|carbs|sugar|school|corners|loose|through)\b"),
    (Kind::Risk, Some(C::SelfHarm), L::High, 0.86, NEG | SUBJ, "carve carved carving", r"\bcarv(?:e|ed|ing) (?:into|words into|letters into) my (?:skin|arm|arms|wrist|wrists|thigh|thighs|leg|legs|stomach)\b", ""),
    (Kind::Risk, Some(C::SelfHarm), L::Concern, 0.6, 0, "deserve punished suffer", r"\bi (?:{adv})?deserve (?:to (?:suffer|be punished|be in pain|hurt|feel pain)|pain|the pain)\b", ""),
    (Kind::Risk, Some(C::SelfHarm), L::Concern, 0.6, 0, "stopped cutting quit", r"\b(?:stopped|quit) (?:cutting|self-harming|self harming|hurting myself)\b", ""),
    // ---------------------------------------------------------------- overdose
    (Kind::Risk, Some(C::Overdose), L::Imminent, 0.95, NEG | SUBJ | ACT, "took taken swallowed swallow downed ate popped", r"\b(?:took|taken|swallowed|downed|ate|popped|have taken|just took|already took|necked) (?:like |about |around |maybe |almost |over |at least )?(?:all|the whole|a whole|an entire|the entire|a bunch of|a handful of|handfuls of|too many|way too many|lots of|\d+|twenty|thirty|forty|fifty|sixty|a hundred|a lot of|all of|all the|double|triple|every one of|the rest of) (?:of )?(?:my |the |his |her |mom's |dad's |those |these |her |his |our )?(?:bottle|pack|packet|box|pills|tablets|meds|medication|medications|sleeping pills|painkillers|pain killers|paracetamol|tylenol|acetaminophen|ibuprofen|xanax|benzos|oxy|oxycodone|insulin|antidepressants|advil|aspirin|opioids|heroin|fentanyl|sleeping tablets|capsules|prescription|lithium|seroquel|ambien|melatonin|lorazepam|diazepam|valium|codeine|morphine)\b", ""),
    (Kind::Risk, Some(C::Overdose), L::High, 0.9, NEG | SUBJ, "overdose overdosed overdosing od odd odded oding", r"\b(?:overdos(?:e|ed|ing)|od|od'd|odd|oded|odded|oding) (?:on|with|again|tonight|today|last night)\b|\b(?:overdosed|overdosing)\b|\b(?:want|wanna|going|planning|plan|thinking about|thought about|try|tried|trying) (?:to )?overdose\b|\b(?:want|wanna|going|planning|plan|try|tried|trying|about|gonna) to od\b", r"\boverdos(?:e|ed|ing) on (?:chocolate|caffeine|coffee|sugar|netflix|tv|anime|memes|cuteness|candy|cake|sweets|love|work|music|books|games|shopping)\b|\bod(?:d|'d|ed)? on (?:chocolate|caffeine|coffee|sugar|netflix|tv|anime|memes|candy|cake|sweets|games)\b"),
    (Kind::Risk, Some(C::Overdose), L::High, 0.88, NEG | SUBJ, "take swallow pills bottle", r"\b(?:want|wanna|going|planning|plan|thinking about|thought about|tempted|ready|about) (?:to )?(?:take|swallow|down|taking|swallowing) (?:all|the whole|a whole|an entire|every one of|all of) (?:of )?(?:my |the |those )?(?:bottle|pills|tablets|meds|medication|sleeping pills|painkillers|box|pack)\b", ""),
    (Kind::Risk, Some(C::Overdose), L::High, 0.82, NEG | SUBJ, "stockpiling stockpiled hoarding saving collecting all", r"\b(?:stockpiling|stockpiled|hoarding|saving up|saving|collecting) (?:my |all my |the |up )?(?:pills|meds|medication|tablets|sleeping pills|painkillers)\b|\b(?:take|swallow) them all (?:at once|together|tonight|in one go)\b", ""),
    (Kind::Risk, Some(C::Overdose), L::High, 0.85, SUBJ, "mixed mixing mix", r"\b(?:mixed|mixing|mix) (?:my |the |all my )?(?:pills|meds|medication|sleeping pills|xanax|benzos|painkillers) (?:with|and) (?:alcohol|vodka|wine|whiskey|booze|drinks|more pills)\b", ""),
    // ------------------------------------------------------------------- abuse
    (Kind::Risk, Some(C::Abuse), L::High, 0.9, NEG, "hits hit hitting beats beat beating chokes choked choking strangles strangled kicks kicked punches punched slaps slapped hurts hurt threatens threatened raped rapes molested molests touches touched abuses abused abusing shoves shoved pushes pushed burns burned locks locked grabs grabbed throws threw stalks stalked forces forced assaulted attacked attacks batters battered whips whipped", r"\b(?:he|she|they|my (?:[a-z]+)|his (?:[a-z]+)|her (?:[a-z]+)|the (?:man|guy|woman|teacher|coach)|someone|somebody) (?:{adv})?(?:hits|hit|hitting|beats|beat|beating|chokes|choked|choking|strangles|strangled|kicks|kicked|punches|punched|slaps|slapped|hurts|threatens|threatened|raped|rapes|molested|molests|touches|touched|abuses|abused|abusing|shoves|shoved|burns|burned|locks|locked|grabs|grabbed|throws things at|threw things at|stalks|stalked|sexually assaulted|assaulted|attacked|attacks|batters|battered|whips|whipped|is hurting|is hitting|is beating|keeps hitting|keeps hurting) (?:me|us|my (?:mom|mum|sister|brother|kids|children|baby))\b|\b(?:he|she|they|my [a-z]+) (?:pushed|pushes|threw|throws|dragged|drags) me (?:down|into|against|off|over|to the (?:floor|ground)|across)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::High, 0.88, NOHIST, "safe", r"\b(?:i am not|i do not feel|i never feel|i no longer feel|i am not feeling|not|i feel un|i am un)(?: {adv})? ?safe (?:at home|in my (?:own )?(?:home|house|room|bed)|here|with (?:him|her|them|my [a-z]+)|around (?:him|her|them|my [a-z]+)|living (?:here|with)|anymore|in this house|with him anymore)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::High, 0.85, 0, "afraid scared terrified frightened", r"\b(?:afraid|scared|terrified|frightened) (?:to go|of going|to be) (?:back )?home\b|\b(?:afraid|scared|terrified|frightened) (?:he|she|they|my [a-z]+) (?:will|is going to|might|would) (?:hurt|hit|kill|beat|find) (?:me|us|my)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::High, 0.88, 0, "kill", r"\b(?:he|she|they|my (?:husband|wife|boyfriend|girlfriend|partner|ex|dad|father|stepdad|stepfather|mom|mother|stepmom|brother|uncle)) (?:will|is going to|would|threatened to|said (?:he|she|they) would|says (?:he|she|they) will|swore (?:he|she|they) would|is gonna|could) (?:{adv})?kill (?:me|us|my)\b", r"\bkill (?:me|us) (?:if|when) (?:i|we) (?:am late|are late|forget|forgot|miss|missed|fail|failed|lose|lost|break|broke|spill|spilled|eat|ate|don't|do not|get home late|come home late|see|tell (?:her|him) about the|crash|dent|scratch|spend|spent)\b|\bkill me (?:when|if) (?:she|he|they) (?:see|sees|find out|finds out about (?:the|my) (?:grade|grades|report|bill|car|dent|haircut|tattoo))"),
    (Kind::Risk, Some(C::Abuse), L::High, 0.85, NEG, "domestic abused raped rape molested assaulted groomed abuse", r"\b(?:domestic (?:violence|abuse)|being (?:abused|hit|beaten|raped|molested|groomed|assaulted|choked|strangled)|(?:sexually|physically|emotionally) (?:abused|assaulted|abusing)|sexual (?:abuse|assault)|raped|molested|(?:he|she|they) (?:rape|molest|abuse)d? me)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::High, 0.8, 0, "let", r"\b(?:he|she|they|my [a-z]+) (?:will not|does not|do not|won't|never) let me (?:leave|go out|go outside|see my (?:friends|family)|talk to (?:my|anyone)|have (?:my )?(?:phone|money|keys)|eat|sleep|call)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::High, 0.85, 0, "threatens threatened threatening", r"\b(?:threatens|threatened|threatening|threaten) (?:to )?(?:hurt|kill|beat|hit|harm|take the kids|burn|shoot|stab|rape|post) (?:me|us|the kids|my|himself if i|herself if i)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::High, 0.82, 0, "locks locked", r"\b(?:locks|locked|lock|locking) me (?:in|up|out of the house|in my room|in the)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::High, 0.82, 0, "forced forces forcing", r"\b(?:forced|forces|forcing|force|pressured|pressures) me (?:to|into) (?:have sex|sex|do (?:sexual|things i)|sleep with|touch|take|drink|watch)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::Concern, 0.65, 0, "kys kill die tell told telling", r"\b(?:told|tells|telling|tell|keep telling|keeps telling) (?:me|me to|me that i should) (?:to )?(?:kys|kill myself|go die|die|go kill myself|i should die|i should kill myself)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::Concern, 0.6, 0, "afraid scared terrified", r"\b(?:afraid|scared|terrified|frightened) of (?:my )?(?:husband|wife|boyfriend|girlfriend|partner|dad|father|mom|mother|stepdad|stepfather|stepmom|parents|uncle|ex)\b", ""),
    (Kind::Risk, Some(C::Abuse), L::Concern, 0.62, 0, "bruises marks", r"\b(?:bruises|marks|black eye) (?:he|she|they|my [a-z]+) (?:gave|left) me\b|\b(?:he|she|my [a-z]+) (?:gave|left) me (?:bruises|a black eye|marks)\b", ""),
    // ---------------------------------------------------------- harm to others
    (Kind::Risk, Some(C::HarmToOthers), L::High, 0.88, NEG, "kill killing hurt hurting stab stabbing shoot shooting strangle strangling murder murdering beat beating harm harming attack attacking poison poisoning", r"\bi (?:{adv})?(?:want to|wanna|am going to|will|might|could|am gonna|feel like|have thoughts of|have urges to|have the urge to|keep thinking about|plan to|am planning to|fantasi[sz]e about|dream about|am scared i will|am afraid i will|am scared i might|am afraid i might|think about|thought about|have been thinking about|swear i will|am about to|need to) (?:kill|killing|hurt|hurting|stab|stabbing|shoot|shooting|strangle|strangling|murder|murdering|beat up|beating up|harm|harming|attack|attacking|poison|poisoning|smother|smothering|drown|drowning) (?:him|her|them|someone|somebody|people|everyone|my (?:[a-z]+)|the [a-z]+|a [a-z]+|others|all of them|you|this [a-z]+|that [a-z]+|those [a-z]+)\b", r"\bkill (?:it|time)\b|\b(?:could|would) kill for\b"),
    (Kind::Risk, Some(C::HarmToOthers), L::High, 0.9, 0, "shoot bomb blow", r"\b(?:shoot up|bomb|blow up|shoot everyone (?:at|in)|attack) (?:the|my|a|our) (?:school|office|class|classroom|work|workplace|church|mosque|synagogue|mall|building|campus)\b", ""),
    (Kind::Risk, Some(C::HarmToOthers), L::High, 0.85, 0, "thoughts urges", r"\b(?:thoughts|urges|fantasies|images) (?:of|about) (?:hurting|killing|harming|stabbing|strangling|drowning|shooting) (?:my|someone|people|others|him|her|them|the|a)\b", ""),
    (Kind::Risk, Some(C::HarmToOthers), L::High, 0.85, NEG, "bring bringing take taking", r"\b(?:bring|bringing|take|taking) (?:a |my |the |dad's |my dad's )?(?:gun|knife|weapon|rifle|bomb|pistol) (?:to|into|and) (?:[a-z']+ ){0,2}(?:school|class|work|office|attack|shoot|kill|hurt|stab)\b", ""),
    (Kind::Risk, Some(C::HarmToOthers), L::Concern, 0.6, 0, "pay", r"\b(?:make|making) (?:them|him|her|everyone|all of them) pay\b", ""),
    (Kind::Risk, Some(C::HarmToOthers), L::Concern, 0.55, 0, "kys", r"\b(?:you should|go|just|pls|please|u should|should) kys\b|\bkys\b", r"\b(?:told|tells|telling|tell) me (?:to )?kys\b"),
    // -------------------------------------------------------- general distress
    (Kind::Risk, None, L::Concern, 0.6, NEG, "hopeless give up point trapped way out anymore", r"\b(?:i feel (?:so |completely |totally )?hopeless|i (?:just )?want to give up|i give up|i am giving up|what is the point(?: anymore| of anything| of it all)?|there is no way out|i feel trapped|i can not do this anymore|i can not take (?:it|this) (?:anymore|any more)|i can not go on|i am done with (?:everything|it all)|i am so done|i can not keep doing this)\b", ""),
    (Kind::Risk, None, L::Concern, 0.55, NEG, "hate empty numb", r"\b(?:i hate my life|i hate myself|i feel (?:so )?(?:empty|numb|dead inside)|dying inside|i am dead inside|nothing matters anymore|i do not care anymore|i do not care what happens to me)\b", ""),
    (Kind::Risk, None, L::Concern, 0.55, SUBJ, "shoot kill me", r"\b(?:just )?(?:kill|shoot) me now\b", ""),
    // ------------------------------------------------------ escalation signals
    (Kind::Plan, None, L::Imminent, 0.9, NEG | NOHIST, "plan planned planning note letter giving goodbye goodbyes decided researched researching googled looked date", r"\b(?:i (?:have|have got|made|am making|got) a plan|(?:planned|planning) (?:it|how|when|my|out|to)|(?:wrote|written|writing|left|finished) (?:a |my )?(?:suicide |goodbye )?(?:note|letter)s?|giving away my|gave away my|said (?:my )?goodbyes?|know (?:how|when|where) i (?:will|am going to|would|want to) do it|i have decided|chose the (?:date|day|place|time)|picked (?:a|the) (?:date|day|place|time)|(?:researched|researching|googled|looked up|searching) (?:how|ways|methods|the best way|painless ways) to|how many (?:pills|tablets) (?:it takes|would|to))\b", ""),
    (Kind::Means, None, L::Imminent, 0.9, NEG | NOHIST, "have got bought buying stockpiled stockpiling saved saving hoarding collected collecting found holding loaded tied standing knife gun", r"\b(?:i have|i have got|i got|bought|buying|got|stockpiled|stockpiling|saved up|saving up|hoarding|collected|collecting|found|holding|have|grabbed|hid|hidden|hiding|ready|sitting with|next to me|in my hand|counted) (?:a |the |some |enough |my (?:dad's |mom's |mum's |father's )?|all my |all the |his |her )?(?:pills|rope|gun|knife|razor|razors|blades?|noose|bottle of pills|sleeping pills|pistol|rifle|firearm|ammo|charcoal|poison|meds|medication|painkillers|tablets|belt|cord)\b|\b(?:loaded|tied|tying|load|loading) (?:the |a |my )?(?:gun|noose|rope|pistol)\b|\b(?:standing|sitting|i am) (?:on|at) (?:the|a) (?:bridge|ledge|roof|rooftop|edge|tracks|cliff)\b|\b(?:knife|gun|blade|razor|pills) (?:is |are )?(?:in|to|on|against) my (?:hand|head|wrist|throat|arm|desk|bed|table)\b", r"\b(?:cut|cutting|chopping|slicing|knife) (?:the |some )?(?:vegetables|onions|bread|meat|cake|fruit)\b"),
    (Kind::Timing, None, L::Imminent, 0.85, NOHIST, "tonight tomorrow today now weekend week hour hours asleep leave leaves soon morning", r"\b(?:tonight|tomorrow|today|right now|this weekend|this week|in an hour|in a few hours|in a few minutes|when everyone is asleep|when (?:they|everyone) (?:leave|leaves|go|goes|are asleep|is asleep)|after (?:they|everyone|my [a-z]+) (?:leave|leaves|go|goes|is asleep|are asleep|go to sleep|goes to sleep)|before (?:morning|sunrise)|soon|by (?:tonight|tomorrow|friday|monday|the end of the (?:day|week)))\b", ""),
    (Kind::Risk, Some(C::SelfHarm), L::Imminent, 0.92, ACT | NOHIST, "bleeding blood", r"\b(?:bleeding|blood) (?:a lot|heavily|everywhere|(?:will|would|is) not stop(?:ping)?|won't stop|all over)\b|\b(?:cut|cuts) (?:too|so|really) deep\b", ""),
    // ------------------------------------------------------------------- idioms
    (Kind::Idiom, None, L::None, 0.0, 0, "killing", r"\b(?:is|are|was|were|it is|this is|that is|they are|you are|keeps|keep) (?:[a-z']+ )?killing me\b|\bkilling me (?:softly|slowly lol|lol|haha)\b", ""),
    (Kind::Idiom, None, L::None, 0.0, 0, "kill killed killing", r"\b(?:could|would|will|can) kill for\b|\bkill(?:ed|ing)? (?:it|time|the (?:lights?|engine|music|vibe|mood|game|set|show|interview|presentation|exam|test)|two birds|a (?:bottle|pizza|few hours|couple of hours)|the bottle|my (?:buzz|vibe|phone battery))\b|\bkiller (?:app|workout|deal|song|view|outfit|heels)\b|\bkill(?:ing|ed)? myself (?:laughing|at (?:work|the gym)|with (?:work|training|this)|over (?:this|work)|to (?:finish|get|make|meet|keep|pass|study))\b|\b(?:my|our|the) (?:character|sim|hero|player|avatar|protagonist|villain|guy) (?:[a-z]+ )?(?:dies|died|killed|kills|gets killed)\b", ""),
    (Kind::Idiom, None, L::None, 0.0, 0, "dying die died dead death", r"\bdying (?:to|for)\b|\bto die for\b|\bdie of (?:embarrassment|laughter|boredom|shame|cuteness)\b|\b(?:died|dying|dead) (?:laughing|of laughter|from laughter|of embarrassment|of boredom)\b|\b(?:i am|i was|i am literally|literally) (?:so )?(?:dead|dying|deceased)(?: lol\b| lmao\b| haha| 😂| 🤣| !)|\b(?:bored|scared|worried|sick|freezing|tired) to death\b|\bdead (?:tired|on my feet|end|serious|set|center|last|wrong|right)\b|\bdeadline\b|\bover my dead body\b|\bdrop dead (?:gorgeous|handsome)\b|\b(?:phone|battery|laptop|car|plant|plants|computer|tv|printer|router|console|headphones) (?:is |was |just |finally )*(?:died|dead|dying)\b|\bdeath (?:by chocolate|metal|stare|grip)\b", ""),
    (Kind::Idiom, None, L::None, 0.0, 0, "shot cut hurt hang jump slack", r"\bshot myself in the foot\b|\bcut myself (?:some|a little|a) (?:slack|break|slice|piece)\b|\bcut (?:my|the) (?:losses|hair|nails|fringe|bangs)\b|\b(?:accidentally|by accident) (?:cut|hurt|burned|burnt|hit|stabbed) myself\b|\b(?:cut|hurt|burned|burnt) myself (?:while|when|on|shaving|cooking|chopping|playing|at the gym|lifting|running|skiing|climbing|falling|by accident|accidentally)\b|\bhurt myself (?:at|during|in) (?:the gym|practice|training|football|soccer|a game|the match|yoga)\b", ""),
    (Kind::Idiom, None, L::None, 0.0, JOKE, "lol lmao lmfao haha hahaha jk kidding 😂 🤣", r"\b(?:lol|lmao|lmfao|haha+|jk|just kidding)\b|😂|🤣", ""),
];

struct Rule {
    kind: Kind,
    cat: Option<C>,
    level: L,
    conf: f32,
    flags: u8,
    re: Regex,
    unless: Option<Regex>,
}

struct Compiled {
    rules: Vec<Rule>,
    anchors: FxMap<[u64; 2]>,
    hist: Regex,
    present: Regex,
    third: Regex,
    recovery: Regex,
    media: Regex,
    asked: Regex,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    assert!(RULES.len() <= 128, "anchor bitsets hold 128 rules");
    let _ = SELF_VERBS;
    let mut rules = Vec::with_capacity(RULES.len());
    let mut anchors: FxMap<[u64; 2]> = FxMap::default();
    for (i, (kind, cat, level, conf, flags, anc, pat, unless)) in RULES.iter().enumerate() {
        rules.push(Rule {
            kind: *kind,
            cat: *cat,
            level: *level,
            conf: *conf,
            flags: *flags,
            re: compile(pat),
            unless: (!unless.is_empty()).then(|| compile(unless)),
        });
        for w in anchor_words(anc) {
            anchors.entry(w).or_default()[i / 64] |= 1u64 << (i % 64);
        }
    }
    Compiled {
        rules,
        anchors,
        hist: compile(
            r"\b(?:years ago|months ago|a year ago|a long time ago|long ago|ages ago|decades ago|\d+ (?:years|months) ago|(?:two|three|four|five|six|ten|many|several|few) (?:years|months) ago|when i was (?:younger|a teen|a teenager|a kid|a child|little|in (?:high school|middle school|college|school|university)|\d+|small)|in the past|used to|back then|back in|as a (?:teen|teenager|kid|child)|in (?:19|20)\d\d|at (?:age )?\d+|last year|in my (?:teens|twenties|childhood)|growing up|as a little|in (?:high school|college|university|middle school|my teens|my twenties))\b",
        ),
        recovery: compile(
            r"\b(?:doing (?:much |a lot |so much |way )?better|(?:a )?(?:much )?better place|recovered|in recovery|recovering|clean for|(?:been )?clean since|sober (?:for|since)|grateful (?:i|to be)|glad i (?:got help|survived|am alive|stayed)|proud of|those days are (?:behind|over)|no longer (?:feel|suicidal|cut|self harm)|therapy (?:helped|saved))\b",
        ),
        media: compile(
            r"\b(?:news|article|story|documentary|podcast|movie|film|show|book|novel|series|episode|chapter|game|video|lecture|class about|read about|learned about|song|lyrics|character|fiction|play)\b",
        ),
        asked: compile(r"\b(?:asked|asks|asking|ask) (?:me )?(?:if|whether)\b"),
        present: compile(
            r"\b(?:again|still|lately|recently|these days|tonight|right now|anymore|any more|currently|this week|today|now i (?:want|am thinking|feel like|can not)|coming back|returned|starting to)\b",
        ),
        third: compile(
            r"\b(?:he|she|they|him|her|them|his|their|himself|herself|themselves|friend|friends|sister|brother|mom|mum|mother|dad|father|son|daughter|cousin|aunt|uncle|husband|wife|boyfriend|girlfriend|partner|classmate|coworker|colleague|neighbor|neighbour|character|someone|somebody|people|patient|client|student|kid|child|man|woman|guy|girl|celebrity|singer|actor)\b",
        ),
    }
});

pub(crate) fn warm() {
    LazyLock::force(&COMPILED);
}

#[derive(Clone, Copy, Debug)]
struct Hit {
    rule: usize,
    sent: usize,
    t0: usize,
    t1: usize,
}

const NEGATORS: &[&str] = &["not", "never", "no", "nor", "without", "nothing", "none"];
const RESETS: &[&str] = &[
    "stop",
    "stopped",
    "help",
    "but",
    "because",
    "that",
    "and",
    "if",
    "when",
    "or",
    "except",
    "until",
    "so",
    "quit",
    "afraid",
    "scared",
    "worried",
    "terrified",
    "why",
];

/// Negated when a negator precedes the match within 4 words of the same
/// clause (scanning stops at clause words like "but", "if", "stop").
fn negated(doc: &Doc, s0: usize, t0: usize) -> bool {
    let mut k = 0;
    let mut j = t0;
    // the match itself may begin with a negator-free verb; check before it
    while j > s0 && k < 4 {
        j -= 1;
        let t = &doc.tokens[j];
        if !t.is_word {
            if matches!(doc.word(j), "," | ";" | ":" | "-") {
                return false;
            }
            continue;
        }
        k += 1;
        let w = doc.word(j);
        if NEGATORS.contains(&w) {
            return true;
        }
        if RESETS.contains(&w) {
            return false;
        }
    }
    false
}

/// Third person when the nearest subject before the match (same sentence) is
/// not the writer.
fn third_person(doc: &Doc, s0: usize, t0: usize) -> bool {
    let c = &*COMPILED;
    let mut j = t0;
    let mut k = 0;
    while j > s0 && k < 10 {
        j -= 1;
        if !doc.tokens[j].is_word {
            continue;
        }
        k += 1;
        let w = doc.word(j);
        if matches!(w, "i" | "me" | "myself" | "im") {
            return false;
        }
        // "my friend" → third person; "my life" → keep looking
        if c.third.is_match(w)
            && !matches!(
                w,
                "people" | "someone" | "somebody" | "them" | "him" | "her"
            )
        {
            return true;
        }
    }
    false
}

fn is_historical(doc: &Doc, sent: usize, hit_t0: usize) -> bool {
    let c = &*COMPILED;
    let s = doc.sentences[sent];
    let (a, b) = doc.sentence_range(&s);
    let text = &doc.norm[a..b];
    let past_verb = {
        // "I was suicidal", "I used to cut", "I tried to kill myself"
        let mut j = hit_t0;
        let mut k = 0;
        let mut found = false;
        while j > s.t0 && k < 4 {
            j -= 1;
            if !doc.tokens[j].is_word {
                continue;
            }
            k += 1;
            if matches!(
                doc.word(j),
                "was" | "were" | "had" | "used" | "tried" | "attempted"
            ) {
                found = true;
                break;
            }
        }
        found
    };
    let hist_marker = c.hist.is_match(text);
    if !hist_marker && !past_verb {
        return false;
    }
    if !hist_marker {
        // past tense alone is not enough
        return false;
    }
    // recovery language keeps it historical whatever else is said
    let next_text = doc.sentences.get(sent + 1).map(|n| {
        let (a2, b2) = doc.sentence_range(n);
        &doc.norm[a2..b2]
    });
    if c.recovery.is_match(text) || next_text.is_some_and(|t| c.recovery.is_match(t)) {
        return true;
    }
    // a present-risk marker in the same or the next sentence overrides
    if c.present.is_match(text) {
        return false;
    }
    if let Some(n) = doc.sentences.get(sent + 1) {
        let (a2, b2) = doc.sentence_range(n);
        let next = &doc.norm[a2..b2];
        if c.present.is_match(next) && !next.contains("better") && !next.contains("well") {
            return false;
        }
    }
    true
}

pub(crate) fn detect(doc: &Doc) -> Crisis {
    let c = &*COMPILED;
    let mut hits: Vec<Hit> = Vec::new();
    let mut any_anchor = false;
    for (si, s) in doc.sentences.iter().enumerate() {
        let mut mask = [0u64; 2];
        for i in s.t0..s.t1 {
            if let Some(m) = c.anchors.get(doc.word(i)) {
                mask[0] |= m[0];
                mask[1] |= m[1];
            }
        }
        if mask == [0; 2] {
            continue;
        }
        any_anchor = true;
        let (a, b) = doc.sentence_range(s);
        let slice = &doc.norm[a..b];
        for (k, word) in mask.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let r = k * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let rule = &c.rules[r];
                for m in rule.re.find_iter(slice) {
                    let ms = m.as_str().trim_end();
                    if ms.is_empty() {
                        continue;
                    }
                    if let Some(u) = &rule.unless {
                        // the exception may reach outside the match ("career suicide")
                        let (ms0, ms1) = (m.start(), m.end());
                        if u.find_iter(slice).any(|x| x.start() < ms1 && ms0 < x.end()) {
                            continue;
                        }
                    }
                    let (t0, t1) = doc.tokens_of(a + m.start(), a + m.start() + ms.len());
                    hits.push(Hit {
                        rule: r,
                        sent: si,
                        t0,
                        t1,
                    });
                }
            }
        }
    }
    if hits.is_empty() {
        return Crisis {
            level: L::None,
            categories: Vec::new(),
            confidence: if any_anchor { 0.93 } else { 0.97 },
        };
    }

    // idiom spans and joking markers
    let idioms: Vec<&Hit> = hits
        .iter()
        .filter(|h| c.rules[h.rule].kind == Kind::Idiom)
        .collect();
    let mut guarded = 0u32;
    struct Risk {
        cat: Option<C>,
        level: L,
        conf: f32,
        sent: usize,
        act: bool,
    }
    let mut risks: Vec<Risk> = Vec::new();
    let mut signals: Vec<(Kind, usize)> = Vec::new();
    for h in &hits {
        let rule = &c.rules[h.rule];
        if rule.kind == Kind::Idiom {
            continue;
        }
        let s0 = doc.sentences[h.sent].t0;
        // idiom overlapping the match → drop
        if idioms.iter().any(|i| {
            i.sent == h.sent && c.rules[i.rule].flags & JOKE == 0 && i.t0 < h.t1 && h.t0 < i.t1
        }) {
            guarded += 1;
            continue;
        }
        if rule.flags & NEG != 0 && negated(doc, s0, h.t0) {
            guarded += 1;
            continue;
        }
        match rule.kind {
            Kind::Plan | Kind::Means | Kind::Timing => {
                signals.push((rule.kind, h.sent));
                continue;
            }
            _ => {}
        }
        let mut level = rule.level;
        let mut conf = rule.conf;
        if rule.flags & THIRD != 0 || (rule.flags & SUBJ != 0 && third_person(doc, s0, h.t0)) {
            level = level.min(L::Concern);
            conf = conf.min(0.7);
            guarded += 1;
        }
        if level > L::Concern && rule.flags & ACT == 0 {
            let s = doc.sentences[h.sent];
            let (a, b) = doc.sentence_range(&s);
            let sent_text = &doc.norm[a..b];
            let before = &doc.norm[a..doc.tokens[h.t0].ns as usize];
            // fiction / media ("a news story about…") and questions put to the
            // writer ("she asked if I wanted to die") are not statements of risk
            let _ = sent_text;
            if c.media.is_match(before) || c.asked.is_match(before) {
                level = L::Concern;
                conf = conf.min(0.7);
                guarded += 1;
            }
        }
        if level > L::Concern && rule.flags & NOHIST == 0 && is_historical(doc, h.sent, h.t0) {
            level = L::Concern;
            conf = conf.min(0.75);
            guarded += 1;
        }
        // joking marker in the same sentence softens threats to others
        if rule.cat == Some(C::HarmToOthers)
            && level > L::Concern
            && idioms
                .iter()
                .any(|i| i.sent == h.sent && c.rules[i.rule].flags & JOKE != 0)
        {
            level = L::Concern;
        }
        risks.push(Risk {
            cat: rule.cat,
            level,
            conf,
            sent: h.sent,
            act: rule.flags & ACT != 0 && level >= L::High,
        });
    }
    if risks.is_empty() {
        return Crisis {
            level: L::None,
            categories: Vec::new(),
            confidence: if guarded > 0 { 0.8 } else { 0.9 },
        };
    }
    // escalation: self-directed risk with plan/means (±2 sentences) or timing (same/next sentence)
    let mut level = L::None;
    let mut conf = 0f32;
    let mut cats: Vec<C> = Vec::new();
    let mut n_high = 0;
    for r in &risks {
        let mut lv = r.level;
        let self_risk = matches!(
            r.cat,
            Some(C::Suicide) | Some(C::SelfHarm) | Some(C::Overdose)
        );
        if self_risk && lv == L::High {
            let near = signals.iter().any(|(k, s)| {
                let d = (*s as isize - r.sent as isize).abs();
                match k {
                    Kind::Timing => d <= 1,
                    _ => d <= 2,
                }
            });
            if near {
                lv = L::Imminent;
            }
        }
        if r.act {
            lv = L::Imminent;
        }
        if lv >= L::High {
            n_high += 1;
        }
        if lv > level || (lv == level && r.conf > conf) {
            conf = conf.max(r.conf);
        }
        level = level.max(lv);
        if let Some(cat) = r.cat {
            if !cats.contains(&cat) {
                cats.push(cat);
            }
        }
    }
    // plan/means without a category but with concern-level distress: keep as concern
    let _ = n_high;
    let best = risks
        .iter()
        .filter(|r| r.level >= level.min(L::High) || level <= L::Concern)
        .map(|r| r.conf)
        .fold(0f32, f32::max);
    let extra = (risks.len().saturating_sub(1) as f32 * 0.03).min(0.06);
    let confidence = ((best.max(conf) + extra).min(0.99) * 100.0).round() / 100.0;
    // categories: only those at the reported level's tier when bypassing
    if level.bypasses() {
        let tier: Vec<C> = risks
            .iter()
            .filter(|r| r.level >= L::High || r.act)
            .filter_map(|r| r.cat)
            .collect();
        if !tier.is_empty() {
            cats.retain(|c| tier.contains(c));
        }
    }
    cats.sort();
    cats.dedup();
    Crisis {
        level,
        categories: cats,
        confidence,
    }
}
