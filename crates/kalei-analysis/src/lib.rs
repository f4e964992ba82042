//! Offline analysis engine for Kalei (SPEC section 3, issue 3).
//!
//! A pure library: no I/O, no async, no global mutable state. Everything
//! expensive (lexicon, patterns) is compiled once behind `LazyLock`s.
//!
//! * [`analyze`] — sentiment, emotional vector, cognitive-distortion
//!   fragments and crisis assessment of one text.
//! * [`detect_crisis`] — the crisis stage alone (the safety gate's fast path).
//! * [`templates`] — reframes, micro-actions, affirmations and reflections
//!   written for the local provider.
//!
//! Offsets (`Fragment::start`/`end`) are in Unicode scalar values (chars) of
//! the input and `Fragment::text` is exactly that slice.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

mod affect;
mod crisis;
mod distortions;
mod gate;
mod lexicon;
mod patterns;
pub mod templates;
mod text;

pub use lexicon::lexicon_size;

/// Overall polarity of the text.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Sentiment {
    /// -1 (very negative) .. 1 (very positive).
    pub polarity: f32,
    /// 0 .. 1.
    pub confidence: f32,
}

/// The emotional vector Spectrum aggregates: valence in [-1, 1], everything
/// else in [0, 1] (the eight Plutchik intensities and arousal).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Emotions {
    pub valence: f32,
    pub arousal: f32,
    pub joy: f32,
    pub trust: f32,
    pub fear: f32,
    pub surprise: f32,
    pub sadness: f32,
    pub disgust: f32,
    pub anger: f32,
    pub anticipation: f32,
}

impl Emotions {
    /// The eight Plutchik intensities in a fixed order
    /// (joy, trust, fear, surprise, sadness, disgust, anger, anticipation).
    pub fn plutchik(&self) -> [f32; 8] {
        [
            self.joy,
            self.trust,
            self.fear,
            self.surprise,
            self.sadness,
            self.disgust,
            self.anger,
            self.anticipation,
        ]
    }

    /// Name and intensity of the strongest Plutchik emotion, if any is above 0.
    pub fn dominant(&self) -> Option<(&'static str, f32)> {
        const NAMES: [&str; 8] = [
            "joy",
            "trust",
            "fear",
            "surprise",
            "sadness",
            "disgust",
            "anger",
            "anticipation",
        ];
        let p = self.plutchik();
        let (i, v) = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("8 values");
        (*v > 0.0).then_some((NAMES[i], *v))
    }
}

/// The twelve cognitive-distortion types of SPEC section 3.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DistortionType {
    AllOrNothing,
    Overgeneralization,
    MentalFilter,
    DisqualifyingPositive,
    MindReading,
    FortuneTelling,
    Magnification,
    EmotionalReasoning,
    ShouldStatements,
    Labeling,
    Personalization,
    Blaming,
}

impl DistortionType {
    pub const ALL: [DistortionType; 12] = [
        DistortionType::AllOrNothing,
        DistortionType::Overgeneralization,
        DistortionType::MentalFilter,
        DistortionType::DisqualifyingPositive,
        DistortionType::MindReading,
        DistortionType::FortuneTelling,
        DistortionType::Magnification,
        DistortionType::EmotionalReasoning,
        DistortionType::ShouldStatements,
        DistortionType::Labeling,
        DistortionType::Personalization,
        DistortionType::Blaming,
    ];

    /// The snake_case wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DistortionType::AllOrNothing => "all_or_nothing",
            DistortionType::Overgeneralization => "overgeneralization",
            DistortionType::MentalFilter => "mental_filter",
            DistortionType::DisqualifyingPositive => "disqualifying_positive",
            DistortionType::MindReading => "mind_reading",
            DistortionType::FortuneTelling => "fortune_telling",
            DistortionType::Magnification => "magnification",
            DistortionType::EmotionalReasoning => "emotional_reasoning",
            DistortionType::ShouldStatements => "should_statements",
            DistortionType::Labeling => "labeling",
            DistortionType::Personalization => "personalization",
            DistortionType::Blaming => "blaming",
        }
    }

    /// Human-readable name ("All-or-nothing thinking").
    pub fn label(&self) -> &'static str {
        match self {
            DistortionType::AllOrNothing => "All-or-nothing thinking",
            DistortionType::Overgeneralization => "Overgeneralization",
            DistortionType::MentalFilter => "Mental filter",
            DistortionType::DisqualifyingPositive => "Disqualifying the positive",
            DistortionType::MindReading => "Mind reading",
            DistortionType::FortuneTelling => "Fortune telling",
            DistortionType::Magnification => "Magnification",
            DistortionType::EmotionalReasoning => "Emotional reasoning",
            DistortionType::ShouldStatements => "Should statements",
            DistortionType::Labeling => "Labeling",
            DistortionType::Personalization => "Personalization",
            DistortionType::Blaming => "Blaming",
        }
    }

    /// One plain-language sentence describing the pattern in general.
    pub fn explanation(&self) -> &'static str {
        distortions::explanation(*self)
    }
}

impl fmt::Display for DistortionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown distortion type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDistortion(pub String);

impl fmt::Display for UnknownDistortion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown distortion type: {}", self.0)
    }
}

impl std::error::Error for UnknownDistortion {}

impl FromStr for DistortionType {
    type Err = UnknownDistortion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let k = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        DistortionType::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == k)
            .ok_or_else(|| UnknownDistortion(s.to_string()))
    }
}

/// One highlighted span showing a cognitive distortion.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Fragment {
    #[serde(rename = "type")]
    pub r#type: DistortionType,
    /// Char offset (Unicode scalar values) of the first char.
    pub start: usize,
    /// Char offset one past the last char.
    pub end: usize,
    /// Exactly `input.chars().skip(start).take(end - start)`.
    pub text: String,
    pub confidence: f32,
    pub explanation: String,
}

/// Crisis level. Ordered: `None < Concern < High < Imminent`.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum CrisisLevel {
    #[default]
    None,
    Concern,
    High,
    Imminent,
}

impl CrisisLevel {
    /// Whether the safety gate must bypass every AI path (high or imminent).
    pub fn bypasses(&self) -> bool {
        matches!(self, CrisisLevel::High | CrisisLevel::Imminent)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CrisisLevel::None => "none",
            CrisisLevel::Concern => "concern",
            CrisisLevel::High => "high",
            CrisisLevel::Imminent => "imminent",
        }
    }
}

/// Kind of risk found.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum CrisisCategory {
    Suicide,
    SelfHarm,
    Abuse,
    Overdose,
    HarmToOthers,
}

impl CrisisCategory {
    pub const ALL: [CrisisCategory; 5] = [
        CrisisCategory::Suicide,
        CrisisCategory::SelfHarm,
        CrisisCategory::Abuse,
        CrisisCategory::Overdose,
        CrisisCategory::HarmToOthers,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            CrisisCategory::Suicide => "suicide",
            CrisisCategory::SelfHarm => "self_harm",
            CrisisCategory::Abuse => "abuse",
            CrisisCategory::Overdose => "overdose",
            CrisisCategory::HarmToOthers => "harm_to_others",
        }
    }
}

/// Crisis assessment of one text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Crisis {
    pub level: CrisisLevel,
    /// Sorted, without duplicates.
    pub categories: Vec<CrisisCategory>,
    /// Confidence in the level, 0..1.
    pub confidence: f32,
}

/// Full analysis of one text (the JSON object of SPEC section 3).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Analysis {
    pub sentiment: Sentiment,
    pub emotions: Emotions,
    pub fragments: Vec<Fragment>,
    pub crisis: Crisis,
}

/// Analyses one text: sentiment, emotions, distortion fragments and crisis.
pub fn analyze(input: &str) -> Analysis {
    let mut doc = text::Doc::new(input);
    doc.lookup_all();
    let (sentiment, emotions) = affect::analyze(&doc);
    let fragments = distortions::detect(&doc);
    let crisis = crisis::detect(&doc);
    Analysis {
        sentiment,
        emotions,
        fragments,
        crisis,
    }
}

/// The crisis stage alone (what the safety gate runs on every message).
pub fn detect_crisis(input: &str) -> Crisis {
    let doc = text::Doc::new(input);
    crisis::detect(&doc)
}

/// Compiles every lexicon and pattern table now instead of on first use
/// (call at server start so the first request does not pay for it).
pub fn warm() {
    distortions::warm();
    crisis::warm();
    let _ = lexicon::lookup("warm");
}

/// Fragments alone (no sentiment, emotions or crisis).
pub fn detect_fragments(input: &str) -> Vec<Fragment> {
    let mut doc = text::Doc::new(input);
    doc.lookup_all();
    distortions::detect(&doc)
}

/// Fragments down to a lower confidence than the product reports (for
/// evaluation and threshold tuning only).
#[doc(hidden)]
pub fn detect_fragments_min(input: &str, min_confidence: f32) -> Vec<Fragment> {
    let mut doc = text::Doc::new(input);
    doc.lookup_all();
    distortions::detect_min(&doc, min_confidence)
}

/// Document-level evidence features of the distortion stage (evaluation
/// tooling only).
#[doc(hidden)]
pub fn distortion_features(input: &str) -> Vec<(&'static str, f32)> {
    let mut doc = text::Doc::new(input);
    doc.lookup_all();
    distortions::features(&doc)
}

/// Per-rule cost profile of the distortion patterns (benchmark tooling).
#[doc(hidden)]
pub fn profile_distortion_rules(texts: &[&str]) -> Vec<(DistortionType, &'static str, u32, f64)> {
    distortions::profile(texts)
}

#[cfg(test)]
mod tests;
