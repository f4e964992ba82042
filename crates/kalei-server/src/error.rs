//! API errors as RFC 9457 `application/problem+json`, with a stable machine
//! `code`. Internals of 500s are logged (without user content) and never sent.
//!
//! Handlers return [`ApiError`]; its response carries the problem in an
//! extension and the outer `http::problem` middleware renders the body, adding
//! the request id. That middleware also turns every other error response
//! (404 from the router, 405, 413 from the body limit, timeouts, panics) into
//! a problem document, so there is exactly one error format.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use kalei_store::StoreError;

/// A field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    #[schema(example = "email")]
    pub field: String,
    #[schema(example = "must be a valid email address")]
    pub message: String,
}

/// The problem document every error response carries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "https://kalei.app/problems/validation_failed")]
    pub type_: String,
    #[schema(example = "Validation failed")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "One or more fields are invalid.")]
    pub detail: String,
    #[schema(example = "validation_failed")]
    pub code: String,
    #[schema(example = "01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// Also what another user's resource answers: existence is not revealed.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "One or more fields are invalid.",
            )
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn rate_limited(code: &'static str, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                code,
                "Too many requests; retry later.",
            )
        }
    }

    /// A server-side failure. `context` goes to the log only.
    pub fn internal(context: impl std::fmt::Display) -> Self {
        tracing::error!(error = %context, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side.",
        )
    }

    pub fn to_problem(&self, request_id: Option<String>) -> Problem {
        Problem {
            type_: format!("https://kalei.app/problems/{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            request_id,
            errors: self.errors.clone(),
        }
    }

    /// The stable code for an error status produced outside our handlers.
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("not_found", "No such resource."),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed here."),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("payload_too_large", "The request body is too large.")
            }
            StatusCode::REQUEST_TIMEOUT => ("timeout", "The request took too long."),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "Send the body as application/json.",
            ),
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "The server is busy; retry later."),
            s if s.is_server_error() => ("internal_error", "Something went wrong on our side."),
            _ => ("bad_request", "The request could not be processed."),
        };
        Self::new(status, code, detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(_) => {
                ApiError::conflict("conflict", "The resource already exists.")
            }
            StoreError::Database(sqlx::Error::PoolTimedOut) => overloaded(),
            other => ApiError::internal(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::from_sqlx(err).into()
    }
}

/// Overload (no database connection free in time) is not a bug: 503 with
/// `Retry-After`, so clients back off instead of reporting a failure.
fn overloaded() -> ApiError {
    metrics::counter!("db_pool_timeouts_total").increment(1);
    ApiError {
        retry_after_secs: Some(1),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "The server is busy; retry shortly.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        // Rendered by the problem middleware, which knows the request id.
        res.extensions_mut().insert(self);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_are_503_not_500() {
        let e: ApiError = sqlx::Error::PoolTimedOut.into();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, "overloaded");
        assert_eq!(e.retry_after_secs, Some(1));
        let e: ApiError = sqlx::Error::RowNotFound.into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
