//! Behavioural tests of the public API.

use super::*;

fn types_of(text: &str) -> Vec<DistortionType> {
    analyze(text).fragments.iter().map(|f| f.r#type).collect()
}

fn assert_type(text: &str, t: DistortionType) {
    let a = analyze(text);
    assert!(
        a.fragments.iter().any(|f| f.r#type == t),
        "expected {t} in {text:?}, got {:?}",
        a.fragments
    );
    for f in &a.fragments {
        let slice: String = text.chars().skip(f.start).take(f.end - f.start).collect();
        assert_eq!(slice, f.text);
        assert!(!f.explanation.is_empty());
        assert!((0.0..=1.0).contains(&f.confidence));
    }
}

#[test]
fn all_or_nothing() {
    assert_type(
        "If it isn't perfect, I'm a complete failure.",
        DistortionType::AllOrNothing,
    );
    assert_type(
        "My whole life is completely ruined now.",
        DistortionType::AllOrNothing,
    );
}

#[test]
fn overgeneralization() {
    assert_type(
        "I always mess everything up.",
        DistortionType::Overgeneralization,
    );
    assert_type(
        "Nobody ever listens to me.",
        DistortionType::Overgeneralization,
    );
}

#[test]
fn mental_filter() {
    assert_type(
        "All I can think about is the one mistake I made in the meeting.",
        DistortionType::MentalFilter,
    );
    assert_type(
        "That one comment ruined the whole evening for me.",
        DistortionType::MentalFilter,
    );
}

#[test]
fn disqualifying_positive() {
    assert_type(
        "They were just being nice when they praised my work.",
        DistortionType::DisqualifyingPositive,
    );
    assert_type(
        "I passed, but it was just luck.",
        DistortionType::DisqualifyingPositive,
    );
}

#[test]
fn mind_reading() {
    assert_type("Everyone thinks I'm stupid.", DistortionType::MindReading);
    assert_type("I just know she hates me.", DistortionType::MindReading);
}

#[test]
fn fortune_telling() {
    assert_type("I'll never find a job.", DistortionType::FortuneTelling);
    assert_type("Nobody will ever love me.", DistortionType::FortuneTelling);
}

#[test]
fn magnification() {
    assert_type(
        "This is the worst thing that could ever happen.",
        DistortionType::Magnification,
    );
    assert_type(
        "I can't handle this, it's a total disaster.",
        DistortionType::Magnification,
    );
}

#[test]
fn emotional_reasoning() {
    assert_type(
        "I feel like a failure, so I must be one.",
        DistortionType::EmotionalReasoning,
    );
    assert_type(
        "I feel stupid, which means I am.",
        DistortionType::EmotionalReasoning,
    );
}

#[test]
fn should_statements() {
    assert_type(
        "I should have known better.",
        DistortionType::ShouldStatements,
    );
    assert_type(
        "I shouldn't feel this way.",
        DistortionType::ShouldStatements,
    );
}

#[test]
fn labeling() {
    assert_type("I'm such an idiot.", DistortionType::Labeling);
    assert_type("I am a loser.", DistortionType::Labeling);
}

#[test]
fn personalization() {
    assert_type(
        "It's all my fault that they divorced.",
        DistortionType::Personalization,
    );
    assert_type(
        "My team lost because of me.",
        DistortionType::Personalization,
    );
}

#[test]
fn blaming() {
    assert_type(
        "It's all his fault that my life is like this.",
        DistortionType::Blaming,
    );
    assert_type(
        "She makes me feel worthless every single day.",
        DistortionType::Blaming,
    );
}

#[test]
fn neutral_text_has_no_fragments() {
    for t in [
        "We went to the park and had a picnic with my cousins.",
        "The meeting moved to Thursday at 3pm.",
        "I made pasta for dinner and watched a film.",
        "",
    ] {
        assert!(
            types_of(t).is_empty(),
            "{t:?} -> {:?}",
            analyze(t).fragments
        );
    }
}

#[test]
fn several_fragments_without_overlap() {
    let t = "I always mess everything up. Everyone thinks I'm stupid. I'll never find a job.";
    let a = analyze(t);
    assert!(a.fragments.len() >= 3, "{:?}", a.fragments);
    for w in a.fragments.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap: {:?}", a.fragments);
    }
}

#[test]
fn offsets_are_chars_with_non_ascii() {
    let t = "Café ☕ 日本語の日記。😔 Honestly, I always mess everything up — toujours, désolé. 🙁 Ñandú!";
    let a = analyze(t);
    assert!(!a.fragments.is_empty());
    let chars: Vec<char> = t.chars().collect();
    for f in &a.fragments {
        let s: String = chars[f.start..f.end].iter().collect();
        assert_eq!(s, f.text);
        assert!(f.end <= chars.len());
    }
    assert!(a.fragments[0].text.contains("I always mess everything up"));
}

#[test]
fn sentiment_rules() {
    let p = |t: &str| analyze(t).sentiment.polarity;
    assert!(p("I am happy today.") > 0.3);
    assert!(p("I am not happy today.") < 0.0, "negation");
    assert!(
        p("I am very happy today.") > p("I am happy today."),
        "intensifier"
    );
    assert!(
        p("I am slightly happy today.") < p("I am happy today."),
        "dampener"
    );
    assert!(
        p("I am HAPPY today!!!") > p("I am happy today."),
        "caps and exclamation"
    );
    assert!(p("The day was fine, but I feel awful.") < 0.0, "contrast");
    assert!(p("I feel awful, but the day was great.") > p("The day was great, but I feel awful."));
    assert_eq!(p("The bus leaves at nine."), 0.0);
    let s = analyze("I love this and I'm grateful.").sentiment;
    assert!(s.confidence > 0.4 && s.confidence <= 1.0);
}

#[test]
fn emotions_vector() {
    let e = analyze("I'm so scared and anxious about tomorrow.").emotions;
    assert!(e.fear > 0.4 && e.fear > e.joy, "{e:?}");
    assert!(e.valence < 0.0);
    let e = analyze("I'm furious, he lied to me again.").emotions;
    assert!(e.anger > 0.3 && e.anger >= e.joy, "{e:?}");
    let e = analyze("I feel so happy and grateful today!").emotions;
    assert!(e.joy > 0.4 && e.valence > 0.3, "{e:?}");
    let e = analyze("I am not happy.").emotions;
    assert!(
        e.joy < 0.1 && e.sadness > 0.0,
        "negated joy leans to sadness: {e:?}"
    );
    let e = analyze("I'm exhausted and empty.").emotions;
    assert!(e.sadness > 0.2 && e.arousal < 0.4, "{e:?}");
    for t in ["", "x", "I am here"] {
        let e = analyze(t).emotions;
        for v in e.plutchik() {
            assert!((0.0..=1.0).contains(&v));
        }
        assert!((-1.0..=1.0).contains(&e.valence) && (0.0..=1.0).contains(&e.arousal));
    }
}

#[test]
fn json_shape() {
    let a = analyze("I always mess everything up.");
    let v = serde_json::to_value(&a).unwrap();
    for k in ["sentiment", "emotions", "fragments", "crisis"] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["fragments"][0]["type"], "overgeneralization");
    assert_eq!(v["crisis"]["level"], "none");
    assert!(v["emotions"].get("anticipation").is_some());
    let back: Analysis = serde_json::from_value(v).unwrap();
    assert_eq!(back, a);
}

#[test]
fn distortion_type_names() {
    for d in DistortionType::ALL {
        assert_eq!(d.as_str().parse::<DistortionType>().unwrap(), d);
        assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        assert!(!d.explanation().is_empty());
    }
    assert!("nope".parse::<DistortionType>().is_err());
    assert_eq!(
        "All-or-nothing".parse::<DistortionType>().unwrap(),
        DistortionType::AllOrNothing
    );
}

#[test]
fn crisis_level_order_and_bypass() {
    assert!(CrisisLevel::None < CrisisLevel::Concern);
    assert!(CrisisLevel::Concern < CrisisLevel::High);
    assert!(CrisisLevel::High < CrisisLevel::Imminent);
    assert!(
        !CrisisLevel::Concern.bypasses()
            && CrisisLevel::High.bypasses()
            && CrisisLevel::Imminent.bypasses()
    );
    assert_eq!(
        serde_json::to_value(CrisisCategory::HarmToOthers).unwrap(),
        "harm_to_others"
    );
    assert_eq!(
        serde_json::to_value(CrisisLevel::Imminent).unwrap(),
        "imminent"
    );
}

#[test]
fn long_input_is_fast_enough_and_safe() {
    let para = "I always mess everything up and nobody cares. The weather was nice. ";
    let t = para.repeat(2000);
    let a = analyze(&t);
    assert!(!a.fragments.is_empty());
    // pathological inputs
    for t in [
        "!!!!!!!!",
        "\u{0}\u{1}",
        "'''---",
        "İSTANBUL ǅ ß ﬃ",
        "a\u{301}\u{301}\u{301}",
    ] {
        let _ = analyze(t);
    }
}

mod crisis_cases;
