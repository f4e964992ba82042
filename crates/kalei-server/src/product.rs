//! Pieces shared by the product modules (Mirror, Turn, Lens, Gallery).

use kalei_analysis::templates::Reframe;
use kalei_analysis::Emotions;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

/// Longest accepted piece of writing, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// What a closed session that held crisis language gets instead of a
/// generated reflection: fixed, calm, pointing to people.
pub const CRISIS_REFLECTION: &str = "Thank you for writing today. Some of what you shared sounded really painful. \
You don't have to carry it alone: the support lines in your resources are there any time, and talking with \
someone you trust can help too.";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReframeView {
    /// e.g. evidence_check, compassionate_friend, balanced_alternative
    #[schema(example = "compassionate_friend")]
    pub style: String,
    #[schema(
        example = "If a friend said this about themselves, you might remind them of the times it went fine."
    )]
    pub text: String,
}

impl From<&Reframe> for ReframeView {
    fn from(r: &Reframe) -> Self {
        ReframeView {
            style: r.style.as_str().to_string(),
            text: r.text.clone(),
        }
    }
}

/// Non-empty, not too long, no control characters except whitespace.
pub fn check_user_text(field: &str, text: &str, max_chars: usize) -> ApiResult<()> {
    let n = text.chars().count();
    let message = if text.trim().is_empty() {
        Some("must not be empty".to_string())
    } else if n > max_chars {
        Some(format!("must be at most {max_chars} characters"))
    } else if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        Some("must not contain control characters".to_string())
    } else {
        None
    };
    match message {
        Some(m) => Err(ApiError::field(field, m)),
        None => Ok(()),
    }
}

/// Orders crisis levels stored as text.
pub fn level_rank(level: &str) -> u8 {
    match level {
        "concern" => 1,
        "high" => 2,
        "imminent" => 3,
        _ => 0,
    }
}

/// Model output goes through the gate before it reaches the user; crisis
/// language in generated text is an internal failure, never shown.
pub async fn ensure_safe_output(
    state: &AppState,
    user_id: &str,
    feature: &str,
    texts: &[String],
) -> ApiResult<()> {
    for text in texts {
        if !crate::safety::output_is_safe(state, user_id, feature, text).await? {
            return Err(ApiError::internal(format!(
                "{feature}: generated output failed the safety gate"
            )));
        }
    }
    Ok(())
}

/// The mean of emotional vectors (zero vector for none).
pub fn mean_emotions(vectors: &[Emotions]) -> Emotions {
    if vectors.is_empty() {
        return Emotions::default();
    }
    let n = vectors.len() as f32;
    let mut m = Emotions::default();
    for v in vectors {
        m.valence += v.valence / n;
        m.arousal += v.arousal / n;
        m.joy += v.joy / n;
        m.trust += v.trust / n;
        m.fear += v.fear / n;
        m.surprise += v.surprise / n;
        m.sadness += v.sadness / n;
        m.disgust += v.disgust / n;
        m.anger += v.anger / n;
        m.anticipation += v.anticipation / n;
    }
    m
}
