//! JSON Schemas of each feature's output (sent as `response_format`
//! json_schema strict, and always validated locally with a precompiled
//! validator), plus the checks a schema cannot express.
//!
//! The schemas use only keywords that strict structured-output modes accept
//! (types, enums, required, additionalProperties false, min/maxItems,
//! minimum/maximum); lengths and distinctness are checked in code.

use std::collections::HashSet;

use jsonschema::Validator;
use kalei_analysis::templates::{MicroAction, Reframe, ReframeStyle};
use kalei_analysis::{DistortionType, Fragment};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::types::{Feature, FragmentsOutput, ReframesOutput, TextOutput, TurnOutput};

const STYLES: [&str; 8] = [
    "evidence_check",
    "compassionate_friend",
    "balanced_alternative",
    "decatastrophising",
    "perspective",
    "curiosity",
    "responsibility",
    "flexibility",
];

fn reframes_schema() -> Value {
    json!({
        "type": "array", "minItems": 3, "maxItems": 3,
        "items": {
            "type": "object", "additionalProperties": false,
            "required": ["style", "text"],
            "properties": {
                "style": {"type": "string", "enum": STYLES},
                "text": {"type": "string"}
            }
        }
    })
}

fn text_schema() -> Value {
    json!({
        "type": "object", "additionalProperties": false,
        "required": ["text"],
        "properties": {"text": {"type": "string"}}
    })
}

/// The output schema of `feature`.
pub fn schema(feature: Feature) -> Value {
    match feature {
        Feature::Turn => json!({
            "type": "object", "additionalProperties": false,
            "required": ["reframes", "micro_action"],
            "properties": {
                "reframes": reframes_schema(),
                "micro_action": {
                    "type": "object", "additionalProperties": false,
                    "required": ["text", "minutes"],
                    "properties": {
                        "text": {"type": "string"},
                        "minutes": {"type": "integer", "minimum": 1, "maximum": 30}
                    }
                }
            }
        }),
        Feature::MirrorReframe => json!({
            "type": "object", "additionalProperties": false,
            "required": ["reframes"],
            "properties": {"reframes": reframes_schema()}
        }),
        Feature::MirrorFragments => {
            let types: Vec<&str> = DistortionType::ALL.iter().map(|d| d.as_str()).collect();
            json!({
                "type": "object", "additionalProperties": false,
                "required": ["fragments"],
                "properties": {"fragments": {
                    "type": "array", "maxItems": 12,
                    "items": {
                        "type": "object", "additionalProperties": false,
                        "required": ["type", "quote", "explanation", "confidence"],
                        "properties": {
                            "type": {"type": "string", "enum": types},
                            "quote": {"type": "string"},
                            "explanation": {"type": "string"},
                            "confidence": {"type": "number", "minimum": 0, "maximum": 1}
                        }
                    }
                }}
            })
        }
        Feature::MirrorReflection
        | Feature::Lens
        | Feature::SpectrumWeekly
        | Feature::SpectrumMonthly => text_schema(),
    }
}

/// Precompiled validators for every feature.
pub(crate) struct Schemas {
    validators: Vec<(Feature, Validator, Value)>,
}

impl Schemas {
    pub fn compile() -> Result<Self, String> {
        let mut validators = Vec::new();
        for f in Feature::ALL {
            let s = schema(f);
            let v = jsonschema::validator_for(&s).map_err(|e| format!("schema {f}: {e}"))?;
            validators.push((f, v, s));
        }
        Ok(Self { validators })
    }

    pub fn get(&self, f: Feature) -> (&Validator, &Value) {
        let (_, v, s) = self
            .validators
            .iter()
            .find(|(g, _, _)| *g == f)
            .expect("every feature has a schema");
        (v, s)
    }

    /// Validates `v` against the schema of `f`: at most 3 messages.
    pub fn validate(&self, f: Feature, v: &Value) -> Result<(), String> {
        let (validator, _) = self.get(f);
        let errs: Vec<String> = validator
            .iter_errors(v)
            .take(3)
            .map(|e| {
                let path = e.instance_path.to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

/// Extracts the JSON object from a model's answer: tolerates a Markdown code
/// fence or prose around one object.
pub(crate) fn extract_json(content: &str) -> Result<Value, String> {
    let t = content.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Ok(v);
    }
    match (t.find('{'), t.rfind('}')) {
        (Some(a), Some(b)) if b > a => serde_json::from_str::<Value>(&t[a..=b])
            .map_err(|e| format!("the answer is not valid JSON: {e}")),
        _ => Err("the answer contains no JSON object".to_string()),
    }
}

fn check_len(what: &str, s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.trim().chars().count();
    if n < min || n > max {
        return Err(format!(
            "{what} must be {min}-{max} characters (it has {n})"
        ));
    }
    Ok(())
}

fn check_reframes(r: &[Reframe]) -> Result<(), String> {
    if r.len() != 3 {
        return Err(format!("exactly 3 reframes are required (got {})", r.len()));
    }
    let styles: HashSet<ReframeStyle> = r.iter().map(|x| x.style).collect();
    if styles.len() != 3 {
        return Err("the 3 reframes must have 3 different styles".into());
    }
    for (i, x) in r.iter().enumerate() {
        check_len(&format!("reframes[{i}].text"), &x.text, 20, 400)?;
    }
    Ok(())
}

fn check_micro(m: &MicroAction) -> Result<(), String> {
    check_len("micro_action.text", &m.text, 10, 300)?;
    if !(1..=30).contains(&m.minutes) {
        return Err("micro_action.minutes must be 1-30".into());
    }
    Ok(())
}

/// A parsed and shape-checked output, before safety checks.
pub(crate) trait Output: Sized + Clone + serde::Serialize + Send + Sync + 'static {
    /// Parses a schema-valid value and checks what the schema cannot say.
    /// `input` is the user text for features that quote it (fragments).
    fn parse(v: Value, input: &str) -> Result<Self, String>;
    /// The user-facing texts (for safety checks).
    fn texts(&self) -> Vec<&str>;
}

impl Output for TurnOutput {
    fn parse(v: Value, _: &str) -> Result<Self, String> {
        let o: TurnOutput = serde_json::from_value(v).map_err(|e| e.to_string())?;
        check_reframes(&o.reframes)?;
        check_micro(&o.micro_action)?;
        Ok(o)
    }
    fn texts(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.reframes.iter().map(|r| r.text.as_str()).collect();
        t.push(&self.micro_action.text);
        t
    }
}

impl Output for ReframesOutput {
    fn parse(v: Value, _: &str) -> Result<Self, String> {
        let o: ReframesOutput = serde_json::from_value(v).map_err(|e| e.to_string())?;
        check_reframes(&o.reframes)?;
        Ok(o)
    }
    fn texts(&self) -> Vec<&str> {
        self.reframes.iter().map(|r| r.text.as_str()).collect()
    }
}

impl Output for TextOutput {
    fn parse(v: Value, _: &str) -> Result<Self, String> {
        let o: TextOutput = serde_json::from_value(v).map_err(|e| e.to_string())?;
        check_len("text", &o.text, 10, 1500)?;
        Ok(o)
    }
    fn texts(&self) -> Vec<&str> {
        vec![&self.text]
    }
}

#[derive(Deserialize)]
struct RawFragment {
    r#type: DistortionType,
    quote: String,
    explanation: String,
    confidence: f32,
}

#[derive(Deserialize)]
struct RawFragments {
    fragments: Vec<RawFragment>,
}

impl Output for FragmentsOutput {
    fn parse(v: Value, input: &str) -> Result<Self, String> {
        let raw: RawFragments = serde_json::from_value(v).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(raw.fragments.len());
        for (i, f) in raw.fragments.into_iter().enumerate() {
            let q = f.quote.trim();
            if q.is_empty() {
                return Err(format!("fragments[{i}].quote is empty"));
            }
            let Some(byte) = input.find(q) else {
                return Err(format!(
                    "fragments[{i}].quote is not an exact substring of the text"
                ));
            };
            check_len(
                &format!("fragments[{i}].explanation"),
                &f.explanation,
                5,
                400,
            )?;
            let start = input[..byte].chars().count();
            let end = start + q.chars().count();
            out.push(Fragment {
                r#type: f.r#type,
                start,
                end,
                text: q.to_string(),
                confidence: f.confidence.clamp(0.0, 1.0),
                explanation: f.explanation,
            });
        }
        out.sort_by_key(|f| (f.start, f.end));
        Ok(FragmentsOutput { fragments: out })
    }
    fn texts(&self) -> Vec<&str> {
        self.fragments
            .iter()
            .map(|f| f.explanation.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_compiles_and_is_strict() {
        let s = Schemas::compile().unwrap();
        for f in Feature::ALL {
            let (_, v) = s.get(f);
            assert_eq!(v["additionalProperties"], json!(false), "{f}");
            let req = v["required"].as_array().unwrap().len();
            let props = v["properties"].as_object().unwrap().len();
            assert_eq!(
                req, props,
                "strict mode needs every property required ({f})"
            );
        }
    }

    #[test]
    fn turn_needs_three_distinct_styles() {
        let s = Schemas::compile().unwrap();
        let good = json!({"reframes": [
            {"style": "evidence_check", "text": "What facts support this thought, and what facts do not?"},
            {"style": "compassionate_friend", "text": "If a friend said this, you would answer with warmth."},
            {"style": "perspective", "text": "A year from now this moment may look smaller than it does."}],
            "micro_action": {"text": "Write down one thing that went okay today.", "minutes": 3}});
        assert!(s.validate(Feature::Turn, &good).is_ok());
        assert!(TurnOutput::parse(good.clone(), "").is_ok());
        let mut dup = good.clone();
        dup["reframes"][1]["style"] = json!("evidence_check");
        assert!(s.validate(Feature::Turn, &dup).is_ok());
        assert!(TurnOutput::parse(dup, "")
            .unwrap_err()
            .contains("different styles"));
        let mut two = good.clone();
        two["reframes"].as_array_mut().unwrap().pop();
        assert!(s
            .validate(Feature::Turn, &two)
            .unwrap_err()
            .contains("reframes"));
        let mut mins = good;
        mins["micro_action"]["minutes"] = json!(90);
        assert!(s.validate(Feature::Turn, &mins).is_err());
    }

    #[test]
    fn fragments_must_quote_exactly() {
        let text = "Honestly, I always mess everything up at work.";
        let v = json!({"fragments": [{"type": "overgeneralization", "quote": "I always mess everything up",
            "explanation": "One event stands for all of them.", "confidence": 0.8}]});
        let o = FragmentsOutput::parse(v, text).unwrap();
        assert_eq!(o.fragments[0].start, 10);
        assert_eq!(o.fragments[0].end, 37);
        let bad = json!({"fragments": [{"type": "labeling", "quote": "I am a failure",
            "explanation": "A label for a whole person.", "confidence": 0.8}]});
        assert!(FragmentsOutput::parse(bad, text)
            .unwrap_err()
            .contains("exact substring"));
    }

    #[test]
    fn json_is_extracted_from_fences() {
        assert_eq!(
            extract_json("```json\n{\"text\": \"hi\"}\n```").unwrap(),
            json!({"text": "hi"})
        );
        assert!(extract_json("no json here").is_err());
        assert!(extract_json("{\"text\": ").is_err());
    }
}
