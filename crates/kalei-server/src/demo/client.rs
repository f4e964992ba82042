//! Calls the real HTTP router in process (no socket): the demo goes through
//! the same extractors, validation, safety gate, encryption and job enqueueing
//! as a phone would.

use axum::body::Body;
use axum::http::{header, Method, Request};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

pub struct InProcess {
    router: Router,
    token: Option<String>,
}

impl InProcess {
    pub fn new(router: Router) -> Self {
        Self {
            router,
            token: None,
        }
    }

    pub fn sign_in(&mut self, access_token: String) {
        self.token = Some(access_token);
    }

    /// Sends one request; a non-2xx answer is an error naming the route and
    /// the problem code (never the request body, which holds user text).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = Request::builder().method(method.clone()).uri(path);
        if let Some(t) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(b)?))?,
            None => req.body(Body::empty())?,
        };
        let res = self.router.clone().oneshot(req).await?;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if !status.is_success() {
            anyhow::bail!(
                "{method} {path} answered {status} ({})",
                value["code"].as_str().unwrap_or("no problem code")
            );
        }
        Ok(value)
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }
}
