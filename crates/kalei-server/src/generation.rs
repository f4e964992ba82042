//! What the product asks of the model side: Turn reframes, fragment reframes,
//! session reflections, daily affirmations. Every call here comes after the
//! safety gate, and every output is checked again before it is returned.
//!
//! Today the built-in `local` provider (the offline engine's templates)
//! answers; the AI gateway (`kalei-ai`) plugs in behind these functions with
//! routing, budgets and remote models, without changing the callers.

use kalei_analysis::templates::{self, MicroAction, Reframe, SessionSummary};
use kalei_analysis::{DistortionType, Emotions};

/// The model and prompt behind a generated result, stored with it.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub model: String,
    pub provider: String,
    pub prompt_version: String,
}

pub struct Generated<T> {
    pub output: T,
    pub provenance: Provenance,
}

/// Template revision of the built-in provider.
pub const LOCAL_PROMPT_VERSION: &str = concat!("local-templates@", env!("CARGO_PKG_VERSION"));

fn local<T>(output: T) -> Generated<T> {
    Generated {
        output,
        provenance: Provenance {
            model: "local".into(),
            provider: "local".into(),
            prompt_version: LOCAL_PROMPT_VERSION.into(),
        },
    }
}

/// A stable seed from ids, so the same item always gets the same wording.
pub fn seed(parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

pub struct TurnOutput {
    pub reframes: Vec<Reframe>,
    pub micro_action: MicroAction,
}

pub fn turn(
    distortion: Option<DistortionType>,
    emotions: &Emotions,
    seed: u64,
) -> Generated<TurnOutput> {
    local(TurnOutput {
        reframes: templates::reframes(distortion, emotions, seed).to_vec(),
        micro_action: templates::micro_action(distortion, emotions, seed),
    })
}

pub fn fragment_reframes(
    distortion: DistortionType,
    emotions: &Emotions,
    seed: u64,
) -> Generated<Vec<Reframe>> {
    local(templates::reframes(Some(distortion), emotions, seed).to_vec())
}

pub fn session_reflection(summary: &SessionSummary, seed: u64) -> Generated<String> {
    local(templates::session_reflection(summary, seed))
}

pub fn affirmation(emotions: Option<&Emotions>, seed: u64) -> Generated<String> {
    local(templates::affirmation(emotions, seed))
}
