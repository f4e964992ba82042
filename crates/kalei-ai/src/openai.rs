//! The OpenAI-compatible chat-completions wire format: request bodies
//! (with OpenRouter's `provider` pinning and `models` fallback), responses,
//! SSE chunks, `Retry-After`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::RemoteTarget;
use crate::types::Feature;

pub(crate) struct Remote {
    pub name: String,
    pub cfg: RemoteTarget,
    pub url: String,
    pub auth: Option<String>,
}

impl Remote {
    pub fn new(name: &str, cfg: &RemoteTarget) -> Self {
        Self {
            name: name.to_string(),
            url: format!("{}/chat/completions", cfg.base_url.trim_end_matches('/')),
            auth: cfg
                .api_key
                .as_ref()
                .map(|k| format!("Bearer {}", k.expose())),
            cfg: cfg.clone(),
        }
    }

    /// Whether the OpenRouter-only fields are in use.
    fn openrouter(&self) -> bool {
        self.cfg.provider.is_some() || !self.cfg.models.is_empty()
    }

    /// The request body. `messages` are (role, content) pairs.
    #[allow(clippy::too_many_arguments)]
    pub fn body(
        &self,
        feature: Feature,
        schema: &Value,
        messages: &[(&str, &str)],
        max_tokens: u32,
        temperature: f32,
        stream: bool,
    ) -> Vec<u8> {
        let msgs: Vec<Value> = messages
            .iter()
            .map(|(r, c)| json!({"role": r, "content": c}))
            .collect();
        let mut b = json!({
            "model": self.cfg.model,
            "messages": msgs,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": stream,
        });
        let m = b.as_object_mut().expect("object");
        if self.cfg.structured_outputs {
            m.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {
                    "name": feature.as_str(), "strict": true, "schema": schema}}),
            );
        }
        if let Some(p) = &self.cfg.provider {
            m.insert("provider".into(), p.clone());
        }
        if !self.cfg.models.is_empty() {
            m.insert("models".into(), json!(self.cfg.models));
        }
        if self.openrouter() {
            m.insert("usage".into(), json!({"include": true}));
        }
        if stream {
            m.insert("stream_options".into(), json!({"include_usage": true}));
        }
        serde_json::to_vec(&b).expect("serialisable")
    }
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    /// OpenRouter: the charge in USD (credits).
    #[serde(default)]
    pub cost: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// A decoded chat completion.
#[derive(Debug, Clone)]
pub(crate) struct Completion {
    pub content: String,
    pub finish_reason: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub usage: Option<WireUsage>,
}

pub(crate) fn parse_completion(body: &[u8]) -> Result<Completion, String> {
    let r: WireResponse =
        serde_json::from_slice(body).map_err(|e| format!("undecodable response: {e}"))?;
    let choice = r.choices.into_iter().next();
    let (content, finish_reason) = match choice {
        Some(c) => (
            c.message.and_then(|m| m.content).unwrap_or_default(),
            c.finish_reason,
        ),
        None => (String::new(), None),
    };
    Ok(Completion {
        content,
        finish_reason,
        model: r.model,
        provider: r.provider,
        usage: r.usage,
    })
}

#[derive(Debug, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

impl Chunk {
    pub fn content(&self) -> Option<&str> {
        self.choices
            .first()
            .and_then(|c| c.delta.as_ref())
            .and_then(|d| d.content.as_deref())
            .filter(|s| !s.is_empty())
    }
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices
            .first()
            .and_then(|c| c.finish_reason.as_deref())
    }
}

/// Incremental SSE decoder: feed bytes, get the `data:` payloads of complete
/// events (`[DONE]` included as is).
#[derive(Default)]
pub(crate) struct SseDecoder {
    buf: Vec<u8>,
}

impl SseDecoder {
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<String>) {
        self.buf.extend_from_slice(bytes);
        while let Some((end, sep)) = find_event_end(&self.buf) {
            let event: Vec<u8> = self.buf.drain(..end + sep).collect();
            let text = String::from_utf8_lossy(&event[..end]);
            let mut data = String::new();
            for line in text.lines() {
                if let Some(d) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            if !data.is_empty() {
                out.push(data);
            }
        }
    }
}

fn find_event_end(b: &[u8]) -> Option<(usize, usize)> {
    for i in 0..b.len() {
        if b[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
        if b[i..].starts_with(b"\n\n") {
            return Some((i, 2));
        }
    }
    None
}

/// `Retry-After`: delay-seconds (integer or decimal) or an HTTP date.
pub(crate) fn parse_retry_after(v: &str, now_ms: i64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        if s.is_finite() && s >= 0.0 {
            return Some(Duration::from_secs_f64(s.min(86_400.0)));
        }
        return None;
    }
    let t = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = t.timestamp_millis() - now_ms;
    Some(Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_reads() {
        let mut d = SseDecoder::default();
        let mut out = Vec::new();
        d.feed(b"data: {\"a\":1}\n\nda", &mut out);
        assert_eq!(out, vec!["{\"a\":1}"]);
        d.feed(b"ta: [DONE]\r\n\r\n: comment\n\n", &mut out);
        assert_eq!(out, vec!["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2", 0), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("0.5", 0),
            Some(Duration::from_millis(500))
        );
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:03 GMT", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn openrouter_fields_are_sent() {
        let t: RemoteTarget = serde_json::from_value(json!({
            "base_url": "https://openrouter.ai/api/v1/", "model": "deepseek/deepseek-v3.2",
            "provider": {"only": ["deepinfra"], "allow_fallbacks": false, "require_parameters": true, "data_collection": "deny"},
            "models": ["anthropic/claude-haiku-4.5"]
        }))
        .unwrap();
        let r = Remote::new("x", &t);
        assert_eq!(r.url, "https://openrouter.ai/api/v1/chat/completions");
        let b: Value = serde_json::from_slice(&r.body(
            Feature::Turn,
            &json!({"type": "object"}),
            &[("system", "s"), ("user", "u")],
            100,
            0.5,
            false,
        ))
        .unwrap();
        assert_eq!(b["provider"]["data_collection"], "deny");
        assert_eq!(b["provider"]["allow_fallbacks"], false);
        assert_eq!(b["models"][0], "anthropic/claude-haiku-4.5");
        assert_eq!(b["response_format"]["json_schema"]["strict"], true);
        assert_eq!(b["usage"]["include"], true);
    }
}
