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

/// One OIDC issuer's keys and our audiences: verifies its signed JWTs.
pub struct OidcKeys {
    issuer: String,
    audiences: Vec<String>,
    jwks: JwkSet,
}

impl OidcKeys {
    /// Loads the JWKS of `config` (inline or file). `name` is the setting's
    /// path, for error messages.
    pub fn from_config(name: &str, c: &SocialConfig) -> Result<Self, String> {
        let text = match (&c.jwks, &c.jwks_file) {
            (Some(inline), _) => inline.clone(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "invalid configuration: {name}.jwks_file {}: {e}",
                    path.display()
                )
            })?,
            (None, None) => {
                return Err(format!(
                    "invalid configuration: {name} needs jwks or jwks_file"
                ))
            }
        };
        let jwks: JwkSet = serde_json::from_str(&text)
            .map_err(|e| format!("invalid configuration: {name}.jwks is not a JWKS: {e}"))?;
        Ok(Self {
            issuer: c.issuer.clone(),
            audiences: c.audiences.clone(),
            jwks,
        })
    }

    /// Verifies signature (RS256/ES256, key by `kid`), issuer, audience and
    /// expiry, and returns the claims.
    pub fn verify<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, SocialError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| SocialError::Invalid)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(SocialError::Invalid);
        }
        let kid = header.kid.ok_or(SocialError::Invalid)?;
        let jwk = self.jwks.find(&kid).ok_or(SocialError::Invalid)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| SocialError::Invalid)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 30;
        jsonwebtoken::decode::<T>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|_| SocialError::Invalid)
    }
}

#[derive(Default)]
pub struct SocialVerifier {
    apple: Option<OidcKeys>,
    google: Option<OidcKeys>,
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
        Ok(Self {
            apple: apple
                .map(|c| OidcKeys::from_config("auth.apple", c))
                .transpose()?,
            google: google
                .map(|c| OidcKeys::from_config("auth.google", c))
                .transpose()?,
        })
    }

    pub fn verify(
        &self,
        provider: Provider,
        id_token: &str,
    ) -> Result<IdentityClaims, SocialError> {
        match provider {
            Provider::Apple => self.apple.as_ref(),
            Provider::Google => self.google.as_ref(),
        }
        .ok_or(SocialError::NotConfigured)?
        .verify(id_token)
    }
}
