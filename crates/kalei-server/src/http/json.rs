//! `ApiJson<T>`: axum's JSON extractor with its rejections mapped to problem
//! documents (400 malformed, 415 wrong content type, 422 wrong shape or
//! unknown field), and the same type as a JSON response.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, FieldError};

/// Deepest JSON nesting we accept; serde_json's own limit (128) is a stack
/// guard, this one keeps pathological bodies cheap to reject.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        // Bytes' rejection is a body-limit or read failure; keep its status.
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| ApiError::for_status(rejection.status()))?;
        Self::parse(&bytes)
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        if nesting_depth(bytes) > MAX_DEPTH {
            return Err(ApiError::bad_request(
                "json_too_deep",
                format!("JSON nesting deeper than {MAX_DEPTH} levels is not accepted."),
            ));
        }
        deserialize(&mut serde_json::Deserializer::from_slice(bytes)).map(ApiJson)
    }
}

fn deserialize<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    match T::deserialize(&mut *de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => Ok(v),
        Err(e) => Err(match e.classify() {
            serde_json::error::Category::Data => ApiError::validation(vec![FieldError {
                field: "body".into(),
                message: strip_position(&e.to_string()),
            }]),
            _ => ApiError::bad_request("malformed_json", "The request body is not valid JSON."),
        }),
    }
}

/// serde's message without " at line 1 column 17" (not useful to clients).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Maximum bracket depth outside strings; linear and allocation-free.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `201 Created` with a JSON body.
pub fn created<T: Serialize>(value: T) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
    }

    #[test]
    fn errors_are_classified() {
        assert!(ApiJson::<Body>::parse(br#"{"name":"a"}"#).is_ok());
        let e = ApiJson::<Body>::parse(b"{nope").unwrap_err();
        assert_eq!(e.code, "malformed_json");
        let e = ApiJson::<Body>::parse(br#"{"name":1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let e = ApiJson::<Body>::parse(br#"{"name":"a","role":"admin"}"#).unwrap_err();
        assert!(e.errors[0].message.contains("unknown field"));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            ApiJson::<Body>::parse(deep.as_bytes()).unwrap_err().code,
            "json_too_deep"
        );
        assert_eq!(nesting_depth(br#"{"a":"[[[[["}"#), 1);
    }
}
