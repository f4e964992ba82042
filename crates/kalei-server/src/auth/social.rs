//! Apple and Google sign-in: the app sends the provider's ID token; we verify
//! its signature against the provider's JWKS (from configuration), and its
//! issuer, audience and expiry.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::SocialConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Apple,
    Google,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Apple => "apple",
            Provider::Google => "google",
        }
    }
}

/// The claims we use from a verified ID token.
#[derive(Debug, Clone, Deserialize)]
pub struct IdentityClaims {
    pub sub: String,
    pub email: Option<String>,
    /// Google sends a bool, Apple a bool or the string "true".
    #[serde(default, deserialize_with = "bool_or_string")]
    pub email_verified: bool,
}

fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::Bool(b)) => b,
        Some(B::Str(s)) => s == "true",
        None => false,
    })
}

struct ProviderKeys {
    issuer: String,
    audiences: Vec<String>,
    jwks: JwkSet,
}

#[derive(Default)]
pub struct SocialVerifier {
    apple: Option<ProviderKeys>,
    google: Option<ProviderKeys>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SocialError {
    NotConfigured,
    Invalid,
}

impl SocialVerifier {
    pub fn from_config(
        apple: Option<&SocialConfig>,
        google: Option<&SocialConfig>,
    ) -> Result<Self, String> {
        let load = |name: &str, c: Option<&SocialConfig>| -> Result<Option<ProviderKeys>, String> {
            let Some(c) = c else { return Ok(None) };
            let text = match (&c.jwks, &c.jwks_file) {
                (Some(inline), _) => inline.clone(),
                (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "invalid configuration: auth.{name}.jwks_file {}: {e}",
                        path.display()
                    )
                })?,
                (None, None) => {
                    return Err(format!("invalid configuration: auth.{name} needs jwks"))
                }
            };
            let jwks: JwkSet = serde_json::from_str(&text).map_err(|e| {
                format!("invalid configuration: auth.{name}.jwks is not a JWKS: {e}")
            })?;
            Ok(Some(ProviderKeys {
                issuer: c.issuer.clone(),
                audiences: c.audiences.clone(),
                jwks,
            }))
        };
        Ok(Self {
            apple: load("apple", apple)?,
            google: load("google", google)?,
        })
    }

    pub fn verify(
        &self,
        provider: Provider,
        id_token: &str,
    ) -> Result<IdentityClaims, SocialError> {
        let keys = match provider {
            Provider::Apple => self.apple.as_ref(),
            Provider::Google => self.google.as_ref(),
        }
        .ok_or(SocialError::NotConfigured)?;
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| SocialError::Invalid)?;
        // Providers sign with RS256 (ES256 allowed for self-hosted OIDC).
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(SocialError::Invalid);
        }
        let kid = header.kid.ok_or(SocialError::Invalid)?;
        let jwk = keys.jwks.find(&kid).ok_or(SocialError::Invalid)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| SocialError::Invalid)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&keys.issuer]);
        validation.set_audience(&keys.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        jsonwebtoken::decode::<IdentityClaims>(id_token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|_| SocialError::Invalid)
    }
}
