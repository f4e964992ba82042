//! Request and response bodies of the auth and account endpoints, with their
//! validation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 256
    )]
    pub password: String,
    #[schema(example = "Ada")]
    pub display_name: Option<String>,
    /// IANA time zone; default UTC.
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
    #[schema(example = "en")]
    pub locale: Option<String>,
    /// Shown in the device sessions list.
    #[schema(example = "Ada's iPhone")]
    pub device_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    #[schema(example = "Ada's iPhone")]
    pub device_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(example = "hC3v0c0mQhU1y6I1xJ3vY2m9m1b7zqKQ9Xl0F4s8a2E")]
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialSignInRequest {
    /// The ID token (JWT) the provider's SDK returned to the app.
    #[schema(example = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiIwMDEyMyJ9.c2ln")]
    pub id_token: String,
    #[schema(example = "Ada's iPhone")]
    pub device_name: Option<String>,
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    #[schema(example = "01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10")]
    pub id: String,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "user")]
    pub role: String,
    #[schema(example = "Ada")]
    pub display_name: Option<String>,
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    #[schema(example = "en")]
    pub locale: String,
    #[schema(example = "2026-11-22T09:30:00Z")]
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    #[schema(example = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIuLi4ifQ.sig")]
    pub access_token: String,
    #[schema(example = "hC3v0c0mQhU1y6I1xJ3vY2m9m1b7zqKQ9Xl0F4s8a2E")]
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    #[schema(example = "01932f6e-7a1c-7cc3-9a55-3f1f0e6f4a10")]
    pub id: String,
    #[schema(example = "Ada's iPhone")]
    pub device_name: Option<String>,
    #[schema(example = "2026-11-22T09:30:00Z")]
    pub created_at: String,
    #[schema(example = "2026-11-22T10:30:00Z")]
    pub last_used_at: String,
    /// True for the session of the token making this request.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Empty string clears it.
    #[schema(example = "Ada L.")]
    pub display_name: Option<String>,
    #[schema(example = "America/New_York")]
    pub timezone: Option<String>,
    #[schema(example = "en-US")]
    pub locale: Option<String>,
}

/// Lower-cases and trims an email, then checks its shape.
pub fn normalise_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let err = |m: &str| FieldError {
        field: "email".into(),
        message: m.into(),
    };
    if email.len() > 254 {
        return Err(err("must be at most 254 characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(err("must be a valid email address"));
    };
    let ok = !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(email)
    } else {
        Err(err("must be a valid email address"))
    }
}

pub fn check_password(password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if !(8..=256).contains(&n) {
        return Err(FieldError {
            field: "password".into(),
            message: "must be between 8 and 256 characters".into(),
        });
    }
    Ok(())
}

pub fn check_timezone(tz: &str) -> Result<(), FieldError> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| FieldError {
            field: "timezone".into(),
            message: "must be an IANA time zone such as Europe/Berlin".into(),
        })
}

pub fn check_locale(locale: &str) -> Result<(), FieldError> {
    // BCP 47-ish: letters, digits and hyphens, 2–35 characters.
    let ok = (2..=35).contains(&locale.len())
        && locale
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && locale.as_bytes()[0].is_ascii_alphabetic();
    if ok {
        Ok(())
    } else {
        Err(FieldError {
            field: "locale".into(),
            message: "must be a language tag such as en or pt-BR".into(),
        })
    }
}

pub fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), FieldError> {
    if value.chars().count() > max_chars || value.chars().any(|c| c.is_control()) {
        return Err(FieldError {
            field: field.into(),
            message: format!("must be at most {max_chars} characters without control characters"),
        });
    }
    Ok(())
}

/// Collects field errors into one 422.
pub fn collect(results: Vec<Result<(), FieldError>>) -> Result<(), ApiError> {
    let errors: Vec<FieldError> = results.into_iter().filter_map(Result::err).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_normalise() {
        assert_eq!(
            normalise_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "a b@x.com",
            "ada@x",
            "a@@x.com",
            "a@x.com.",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
        assert!(normalise_email("o'brien+tag@example.co.uk").is_ok());
    }

    #[test]
    fn fields_validate() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_timezone("Europe/Berlin").is_ok());
        assert!(check_timezone("Mars/Olympus").is_err());
        assert!(check_locale("pt-BR").is_ok());
        assert!(check_locale("'; DROP TABLE users; --").is_err());
        assert!(check_text("display_name", "Ada\u{0}", 100).is_err());
    }
}
