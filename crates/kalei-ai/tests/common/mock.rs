//! A mock OpenAI-compatible chat-completions server over real HTTP on
//! loopback, for the gateway tests and the benchmark (`examples/mock_openai`).
//!
//! It answers with schema-valid content for the feature named in
//! `response_format.json_schema.name`, and can be told to answer slowly,
//! fail a fraction of calls with 500, return 429 with `Retry-After`, return
//! an undecodable body or schema-breaking content, stream SSE chunks, stall
//! before or in the middle of a stream, or end a stream without a finish
//! reason. It records request bodies and webhook posts (`POST /hook`).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// What to do with one call (scripted replies are used first, in order).
#[derive(Debug, Clone)]
pub enum Reply {
    /// Valid content for the requested schema.
    Ok,
    /// This content string (for invalid or unsafe answers).
    Content(String),
    Status(u16),
    /// 429 with `Retry-After: <secs>`.
    RateLimited(u64),
    /// A 200 whose body is not a chat completion.
    Garbage,
    /// Wait, then answer normally.
    Slow(Duration),
    /// Stream: send this many content chunks, then hang.
    StallAfter(usize),
    /// Stream: hang before the first byte of content.
    StallBeforeContent,
    /// Stream: send everything but no finish reason.
    NoFinishReason,
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub delay: Duration,
    /// Fraction of unscripted calls answered with 500.
    pub fail_rate: f64,
    pub script: VecDeque<Reply>,
    /// Reported `model`; default: the requested model.
    pub model: Option<String>,
    /// Reported `provider` (OpenRouter style).
    pub provider: Option<String>,
    /// Reported `usage.cost` in USD.
    pub cost: Option<f64>,
    /// Include `usage` at all.
    pub usage: bool,
    pub stream_chunks: usize,
    pub chunk_delay: Duration,
    /// Content for every unscripted call (default: valid per schema).
    pub content: Option<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            fail_rate: 0.0,
            script: VecDeque::new(),
            model: None,
            provider: None,
            cost: None,
            usage: true,
            stream_chunks: 6,
            chunk_delay: Duration::from_millis(5),
            content: None,
        }
    }
}

#[derive(Default)]
pub struct MockState {
    pub cfg: Mutex<MockConfig>,
    pub requests: Mutex<Vec<Value>>,
    pub hooks: Mutex<Vec<Value>>,
    pub calls: AtomicU64,
    pub record: std::sync::atomic::AtomicBool,
    rng: Mutex<Option<rand::rngs::StdRng>>,
}

pub struct Mock {
    pub addr: SocketAddr,
    pub base_url: String,
    pub state: Arc<MockState>,
}

impl Mock {
    pub async fn start(cfg: MockConfig) -> Mock {
        Self::start_on("127.0.0.1:0", cfg, true).await
    }

    pub async fn start_on(bind: &str, cfg: MockConfig, record: bool) -> Mock {
        let state = Arc::new(MockState::default());
        *state.cfg.lock().unwrap() = cfg;
        *state.rng.lock().unwrap() = Some(rand::rngs::StdRng::seed_from_u64(7));
        state.record.store(record, Ordering::Relaxed);
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/hook", post(hook))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Mock {
            addr,
            base_url: format!("http://{addr}/v1"),
            state,
        }
    }

    pub fn set(&self, f: impl FnOnce(&mut MockConfig)) {
        f(&mut self.state.cfg.lock().unwrap());
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.cfg.lock().unwrap().script.extend(replies);
    }

    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn hooks(&self) -> Vec<Value> {
        self.state.hooks.lock().unwrap().clone()
    }

    pub fn hook_url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }
}

async fn hook(State(s): State<Arc<MockState>>, Json(v): Json<Value>) -> StatusCode {
    s.hooks.lock().unwrap().push(v);
    StatusCode::OK
}

/// Schema-valid content for a feature.
pub fn valid_content(feature: &str) -> String {
    match feature {
        "turn" => json!({
            "reframes": [
                {"style": "evidence_check", "text": "What has actually happened so far, and what is a prediction about what might happen?"},
                {"style": "compassionate_friend", "text": "If a friend told you this, you would probably answer with patience and warmth."},
                {"style": "perspective", "text": "A month from now, this moment may feel smaller than it does tonight."}
            ],
            "micro_action": {"text": "Write down one thing that went okay today, however small.", "minutes": 3}
        }),
        "mirror_reframe" => json!({"reframes": [
            {"style": "balanced_alternative", "text": "Some things went wrong and some went fine; both are part of the picture."},
            {"style": "curiosity", "text": "What would you notice if you looked at this week like a curious scientist?"},
            {"style": "compassionate_friend", "text": "You are allowed to have a hard week without it meaning something about you."}
        ]}),
        "mirror_fragments" => json!({"fragments": []}),
        _ => json!({"text": "This period had a mix of heavier and lighter days, and you kept showing up to write."}),
    }
    .to_string()
}

fn feature_of(req: &Value) -> String {
    req["response_format"]["json_schema"]["name"]
        .as_str()
        .unwrap_or("turn")
        .to_string()
}

async fn chat(State(s): State<Arc<MockState>>, Json(req): Json<Value>) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let (cfg_delay, reply, model, provider, cost, usage, chunks, chunk_delay, content) = {
        let mut c = s.cfg.lock().unwrap();
        let reply = match c.script.pop_front() {
            Some(r) => r,
            None => {
                let fail = c.fail_rate > 0.0 && {
                    let mut g = s.rng.lock().unwrap();
                    g.as_mut().unwrap().gen_bool(c.fail_rate)
                };
                if fail {
                    Reply::Status(500)
                } else {
                    Reply::Ok
                }
            }
        };
        (
            c.delay,
            reply,
            c.model.clone(),
            c.provider.clone(),
            c.cost,
            c.usage,
            c.stream_chunks,
            c.chunk_delay,
            c.content.clone(),
        )
    };
    if s.record.load(Ordering::Relaxed) {
        s.requests.lock().unwrap().push(req.clone());
    }
    if !cfg_delay.is_zero() {
        tokio::time::sleep(cfg_delay).await;
    }
    let feature = feature_of(&req);
    let model = model.unwrap_or_else(|| req["model"].as_str().unwrap_or("mock").to_string());
    let content = match &reply {
        Reply::Content(c) => c.clone(),
        _ => content.unwrap_or_else(|| valid_content(&feature)),
    };
    match reply {
        Reply::Status(code) => {
            return (
                StatusCode::from_u16(code).unwrap(),
                "{\"error\":{\"message\":\"mock failure\"}}",
            )
                .into_response()
        }
        Reply::RateLimited(secs) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                "{\"error\":{\"message\":\"slow down\"}}",
            )
                .into_response();
            r.headers_mut().insert(
                "retry-after",
                HeaderValue::from_str(&secs.to_string()).unwrap(),
            );
            return r;
        }
        Reply::Garbage => return (StatusCode::OK, "<html>bad gateway</html>").into_response(),
        Reply::Slow(d) => tokio::time::sleep(d).await,
        _ => {}
    }
    let prompt_tokens = (req["messages"].to_string().len() / 4) as u64;
    let completion_tokens = (content.len() / 4) as u64;
    let mut usage_v = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens});
    if let Some(c) = cost {
        usage_v["cost"] = json!(c);
    }
    if req["stream"].as_bool() == Some(true) {
        return stream(
            reply,
            content,
            model,
            provider,
            usage.then_some(usage_v),
            chunks,
            chunk_delay,
        );
    }
    let mut body = json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    });
    if let Some(p) = provider {
        body["provider"] = json!(p);
    }
    if usage {
        body["usage"] = usage_v;
    }
    Json(body).into_response()
}

fn stream(
    reply: Reply,
    content: String,
    model: String,
    provider: Option<String>,
    usage: Option<Value>,
    chunks: usize,
    chunk_delay: Duration,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Value| {
            let mut c = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            if let Some(p) = &provider {
                c["provider"] = json!(p);
            }
            format!("data: {c}\n\n")
        };
        if matches!(reply, Reply::StallBeforeContent) {
            let _ = tx.send(Ok(": keep-alive\n\n".into())).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        let _ = tx
            .send(Ok(chunk(json!({"role": "assistant"}), Value::Null)))
            .await;
        let chars: Vec<char> = content.chars().collect();
        let n = chunks.max(1);
        let per = chars.len().div_ceil(n).max(1);
        for (i, part) in chars.chunks(per).enumerate() {
            if let Reply::StallAfter(k) = reply {
                if i == k {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
            }
            let text: String = part.iter().collect();
            if tx
                .send(Ok(chunk(json!({"content": text}), Value::Null)))
                .await
                .is_err()
            {
                return;
            }
            if !chunk_delay.is_zero() {
                tokio::time::sleep(chunk_delay).await;
            }
        }
        if !matches!(reply, Reply::NoFinishReason) {
            let _ = tx.send(Ok(chunk(json!({}), json!("stop")))).await;
            if let Some(u) = usage {
                let _ = tx
                    .send(Ok(format!(
                        "data: {}\n\n",
                        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": u})
                    )))
                    .await;
            }
            let _ = tx.send(Ok("data: [DONE]\n\n".into())).await;
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(body)
        .unwrap()
}
