//! Pattern compilation shared by the distortion and crisis stages.
//!
//! Patterns are regular expressions over the normalised text (lower-case,
//! contractions expanded, tokens separated by single spaces). They may use
//! `{name}` macros for shared word classes; `\b` means an ASCII word
//! boundary (which keeps every pattern on the fast DFA engines).

use regex::{Regex, RegexBuilder};

pub(crate) const MACROS: &[(&str, &str)] = &[
    (
        "{adv}",
        r"(?:(?:really|just|so|still|truly|honestly|literally|totally|actually|probably|definitely|kind of|sort of|also|even|simply|seriously|already|ever|completely|sometimes|often|now|then|basically|usually|always|constantly|genuinely|secretly|deep down|all|only|obviously|clearly) )*",
    ),
    (
        "{others}",
        r"(?:he|she|they|everyone|everybody|people|nobody|no one|others|other people|anyone|anybody|someone|somebody|the others|my (?:friends?|family|parents|mom|mum|mother|dad|father|boss|partner|husband|wife|boyfriend|girlfriend|sister|brother|teachers?|coworkers?|colleagues?|classmates?|roommates?|ex|in-laws|fianc[a-z]*|therapist|doctor|kids|children|son|daughter)|his (?:friends|family|parents|mom|mother)|her (?:friends|family|parents|mom|mother)|the (?:girls|guys|kids|teacher|boss|class))",
    ),
    (
        "{negnoun}",
        r"(?:failure|loser|idiot|moron|fool|burden|fraud|disappointment|mess|wreck|joke|freak|monster|coward|nobody|waste of space|waste|screw ?up|fuck ?up|disaster|embarrassment|weirdo|creep|psycho|hypocrite|liar|outcast|reject|pushover|doormat|bad person|terrible person|horrible person|awful person|bad (?:mother|father|mom|mum|dad|friend|parent|wife|husband|daughter|son|girlfriend|boyfriend|student|sister|brother)|terrible (?:mother|father|mom|friend|parent|wife|husband|daughter|son)|useless person|worthless person|piece of (?:shit|crap|garbage|trash)|failure as a [a-z]+|nothing|zero|nobody|basket case|lost cause|screwup|fuckup|dumbass|retard|imposter|impostor|sinner|slut|whore)",
    ),
    (
        "{negadj}",
        r"(?:stupid|worthless|useless|pathetic|ugly|disgusting|weak|lazy|hopeless|broken|unlovable|hideous|fat|boring|annoying|selfish|dumb|incompetent|inadequate|unworthy|defective|damaged|repulsive|inferior|unlikable|unlikeable|toxic|evil|crazy|insane|messed up|fucked up|screwed up|no good|not good enough|apathetic|cursed|doomed|needy|clingy|cowardly|spineless|gross|weird|unattractive|too sensitive|too much|not enough|not normal|abnormal|mental|psycho|awkward|a mess|a wreck|a failure|a loser|a burden|a joke|an idiot|a fraud|a disappointment|a freak|unwanted|unloved|invisible|insignificant|unimportant|replaceable|forgettable|dirty|bad|horrible|terrible|awful|fake|dramatic|overreacting|attention seeking|attention-seeking|lying|faking|lame|childish|immature|irresponsible|unreliable|a bad person|ignorant|naive|foolish|ridiculous|strange|odd|creepy)",
    ),
    (
        "{negemo}",
        r"(?:anxious|sad|tired|angry|depressed|stressed|worried|scared|afraid|upset|lonely|alone|exhausted|miserable|nervous|unhappy|irritated|annoyed|frustrated|on edge|paranoid|moody|grumpy|guilty|ashamed|empty|numb|overwhelmed|hurt|hurting|in pain|crying|stuck|late|wrong|the problem|left out|ignored|rejected|bullied|judged|sick|insecure|self-conscious|awkward|embarrassed|tense|restless|bored|confused|lost|down|low|jealous|broke|behind|losing|failing|messing up|screwing up|forgetting|letting)",
    ),
    ("{w}", r"[a-z0-9'-]+"),
];

pub(crate) fn expand(src: &str) -> String {
    expand_macros(src).replace(r"\b", r"(?-u:\b)")
}

/// Macros expanded, `\b` left as written.
pub(crate) fn expand_macros(src: &str) -> String {
    let mut s = src.to_string();
    // macros may contain other macros only in the order given
    for _ in 0..2 {
        for (k, v) in MACROS {
            if s.contains(k) {
                s = s.replace(k, v);
            }
        }
    }
    s
}

pub(crate) fn compile(src: &str) -> Regex {
    let p = expand(src);
    RegexBuilder::new(&p)
        .size_limit(64 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .unwrap_or_else(|e| panic!("bad pattern {src}: {e}"))
}

/// Splits an anchor list ("a b|c d") into words.
pub(crate) fn anchor_words(a: &'static str) -> impl Iterator<Item = &'static str> {
    a.split(['|', ' ']).filter(|w| !w.is_empty())
}
