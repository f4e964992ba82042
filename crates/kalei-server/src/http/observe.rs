//! The outermost middleware: assigns the request id, renders problem
//! documents, writes one access-log line and the request metrics.
//!
//! The log line carries request id, method, route template, status, latency
//! and a keyed hash of the user id: never a body, a query string or a token.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;

pub const REQUEST_ID: &str = "x-request-id";

/// Per-request facts the inner layers fill in for the access log.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    user_hash: Arc<OnceLock<String>>,
}

impl RequestContext {
    /// Called by the auth extractor once the caller is known.
    pub fn set_user_hash(&self, hash: String) {
        let _ = self.user_hash.set(hash);
    }
}

/// Accepts a caller's request id only if it is short and printable, so it
/// cannot inject into logs or headers.
fn valid_request_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')))
    .then_some(s)
}

pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id: Arc<str> = req
        .headers()
        .get(REQUEST_ID)
        .and_then(valid_request_id)
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(uuid::Uuid::now_v7().to_string()));
    let ctx = RequestContext {
        request_id: request_id.clone(),
        user_hash: Arc::new(OnceLock::new()),
    };
    req.extensions_mut().insert(ctx.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());

    let mut res = next.run(req).await;
    res = render_problem(res, &request_id);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }

    // The matched route is known only after routing; fall back to the router's
    // own record in the response extensions, then to "unmatched" so unknown
    // paths cannot blow up metric cardinality.
    let route = route
        .or_else(|| {
            res.extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_string())
        })
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    let labels = [
        ("method", method.to_string()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    tracing::info!(
        target: "kalei::access",
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        user = ctx.user_hash.get().map(String::as_str).unwrap_or("-"),
    );
    res
}

/// Turns error responses into problem+json: our own `ApiError`s (from the
/// response extension) and every other 4xx/5xx that is not one yet.
pub fn render_problem(res: Response, request_id: &str) -> Response {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, _body) = res.into_parts();
    let error = parts
        .extensions
        .remove::<ApiError>()
        .unwrap_or_else(|| ApiError::for_status(status));
    let problem = error.to_problem(Some(request_id.to_string()));
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    parts.status = StatusCode::from_u16(problem.status).unwrap_or(status);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_sanitised() {
        assert_eq!(
            valid_request_id(&HeaderValue::from_static("abc-123_x.y:z")),
            Some("abc-123_x.y:z")
        );
        assert_eq!(valid_request_id(&HeaderValue::from_static("a b")), None);
        assert_eq!(valid_request_id(&HeaderValue::from_static("")), None);
        let long = "a".repeat(129);
        assert_eq!(
            valid_request_id(&HeaderValue::from_str(&long).unwrap()),
            None
        );
    }
}
