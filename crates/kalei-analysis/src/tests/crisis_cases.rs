//! Crisis detector: every category, escalation, and each guard.

use crate::{detect_crisis, CrisisCategory as C, CrisisLevel as L};

fn check(text: &str, min: L, cat: Option<C>) {
    let c = detect_crisis(text);
    assert!(
        c.level >= min,
        "{text:?}: expected at least {min:?}, got {c:?}"
    );
    if let Some(cat) = cat {
        assert!(
            c.categories.contains(&cat),
            "{text:?}: expected {cat:?}, got {c:?}"
        );
    }
    assert!((0.0..=1.0).contains(&c.confidence));
}

fn at_most(text: &str, max: L) {
    let c = detect_crisis(text);
    assert!(
        c.level <= max,
        "{text:?}: expected at most {max:?}, got {c:?}"
    );
}

#[test]
fn suicide_explicit_and_slang() {
    for t in [
        "I want to kill myself.",
        "i want to die",
        "I'm going to end it all.",
        "honestly i just wanna kms",
        "thinking about how to unalive myself",
        "i keep thinking about sewerslide",
        "I'm suicidal.",
        "I don't want to be alive anymore.",
        "I wish I was never born.",
        "I want to go to sleep and never wake up.",
        "I can't go on living like this.",
    ] {
        check(t, L::High, Some(C::Suicide));
    }
}

#[test]
fn suicide_passive_ideation() {
    for t in [
        "Everyone would be better off without me.",
        "I won't be a burden much longer.",
        "There's no reason to live anymore.",
        "Nobody would even notice if I was gone forever, they'd be happier if I died.",
        "Life isn't worth living.",
    ] {
        check(t, L::High, Some(C::Suicide));
    }
}

#[test]
fn plans_means_timing_are_imminent() {
    for t in [
        "I want to die. I have the pills ready.",
        "I'm going to kill myself tonight.",
        "I've written my suicide note and I have a plan.",
        "I want to end my life, I bought a rope yesterday.",
    ] {
        check(t, L::Imminent, Some(C::Suicide));
    }
}

#[test]
fn self_harm() {
    for t in [
        "I started cutting again last night.",
        "I cut myself to feel something.",
        "I keep hurting myself when I'm upset.",
        "relapsed on sh after 3 months clean",
        "The urge to self harm is so strong today.",
    ] {
        check(t, L::High, Some(C::SelfHarm));
    }
}

#[test]
fn overdose() {
    check(
        "I just took the whole bottle of pills.",
        L::Imminent,
        Some(C::Overdose),
    );
    check(
        "I swallowed a handful of sleeping pills.",
        L::Imminent,
        Some(C::Overdose),
    );
    check("I want to overdose on my meds.", L::High, Some(C::Overdose));
}

#[test]
fn abuse() {
    for t in [
        "He hits me when he's drunk.",
        "I'm not safe at home.",
        "My stepdad touched me and I don't know who to tell.",
        "My boyfriend threatened to kill me if I leave.",
        "I'm scared to go home tonight.",
    ] {
        check(t, L::High, Some(C::Abuse));
    }
}

#[test]
fn harm_to_others() {
    check("I want to kill him.", L::High, Some(C::HarmToOthers));
    check(
        "I keep having thoughts of hurting my baby.",
        L::High,
        Some(C::HarmToOthers),
    );
    check(
        "I'm going to shoot up the school.",
        L::High,
        Some(C::HarmToOthers),
    );
}

#[test]
fn idioms_do_not_trip() {
    for t in [
        "This deadline is killing me.",
        "I could kill for a coffee right now.",
        "I'm dying to see that movie!",
        "We killed it at the gig last night.",
        "My feet are killing me after that hike.",
        "lol I'm dead 😂",
        "My phone died on the train.",
        "I was bored to death in that meeting.",
        "I cut myself some slack today and rested.",
        "That was career suicide, honestly.",
        "I accidentally cut myself while cooking.",
        "My mom will kill me if I'm late again.",
        "I ran 10 kms this morning!",
    ] {
        at_most(t, L::None);
    }
}

#[test]
fn negations_do_not_bypass() {
    for t in [
        "I'd never hurt myself.",
        "I'm not suicidal, just exhausted.",
        "I don't want to die, I want things to change.",
        "I have no intention of killing myself.",
        "He never hits me, we just argue.",
    ] {
        at_most(t, L::Concern);
    }
}

#[test]
fn third_person_and_fiction_do_not_bypass() {
    for t in [
        "My character dies in the last chapter.",
        "My friend said she wanted to die.",
        "The singer killed himself in 1994.",
        "In the movie the hero jumps off the bridge.",
    ] {
        at_most(t, L::Concern);
    }
    // reported speech about oneself still counts
    check(
        "I told my therapist that I want to die.",
        L::High,
        Some(C::Suicide),
    );
}

#[test]
fn historical_is_at_most_concern() {
    at_most("Years ago I was suicidal, now I'm doing well.", L::Concern);
    at_most(
        "I used to cut when I was a teenager, but I've been clean for five years.",
        L::Concern,
    );
    // but a return is current
    check(
        "Years ago I was suicidal and now the thoughts are coming back again.",
        L::High,
        Some(C::Suicide),
    );
}

#[test]
fn buried_in_long_entry() {
    let mut t = String::new();
    for _ in 0..30 {
        t.push_str("Work was busy and I had lunch with Sam. The train was late again. ");
    }
    t.push_str("Sometimes I think everyone would be better off without me. ");
    for _ in 0..30 {
        t.push_str("In the evening I watched a documentary about whales. ");
    }
    check(&t, L::High, Some(C::Suicide));
}

#[test]
fn plain_text_is_none_with_confidence() {
    let c = detect_crisis("Had a lovely walk by the river with my sister.");
    assert_eq!(c.level, L::None);
    assert!(c.categories.is_empty());
    assert!(c.confidence > 0.9);
    let c = detect_crisis("I feel hopeless and I can't do this anymore.");
    assert_eq!(c.level, L::Concern);
}
