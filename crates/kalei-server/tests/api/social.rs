//! Apple/Google sign-in against a locally generated RSA key set.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kalei_server::config::SocialConfig;
use kalei_store::testing::Backend;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use crate::helpers::*;

const ISSUER: &str = "https://appleid.apple.com";
const AUDIENCE: &str = "app.kalei.ios";

struct Keys {
    signing: EncodingKey,
    other: EncodingKey,
    jwks: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        let make = |rng: &mut rand::rngs::ThreadRng| rsa::RsaPrivateKey::new(rng, 2048).unwrap();
        let key = make(&mut rng);
        let other = make(&mut rng);
        let public = key.to_public_key();
        let jwks = json!({"keys": [{
            "kty": "RSA", "kid": "test-1", "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }]});
        let pem = |k: &rsa::RsaPrivateKey| {
            EncodingKey::from_rsa_pem(
                k.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                    .unwrap()
                    .as_bytes(),
            )
            .unwrap()
        };
        Keys {
            signing: pem(&key),
            other: pem(&other),
            jwks: jwks.to_string(),
        }
    })
}

fn id_token(claims: Value, key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn claims(sub: &str, email: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "email": email,
           "email_verified": "true", "iat": now, "exp": now + 600})
}

async fn run(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.auth.apple = Some(SocialConfig {
            issuer: ISSUER.into(),
            audiences: vec![AUDIENCE.into()],
            jwks: Some(keys().jwks.clone()),
            jwks_file: None,
        });
    })
    .await
    else {
        return;
    };
    let k = keys();
    let good = id_token(claims("apple-001", "Ada@Example.com"), &k.signing, "test-1");
    let res = app
        .post("/v1/auth/apple", &json!({"id_token": good}), None)
        .await;
    assert_eq!(res.status(), 201, "first sign-in creates the account");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    let res = app
        .post("/v1/auth/apple", &json!({"id_token": good}), None)
        .await;
    assert_eq!(res.status(), 200, "second sign-in finds it");
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["user"]["id"], body["user"]["id"]);

    let mut wrong_aud = claims("apple-002", "b@example.com");
    wrong_aud["aud"] = json!("someone.else");
    let mut wrong_iss = claims("apple-002", "b@example.com");
    wrong_iss["iss"] = json!("https://evil.example");
    let mut expired = claims("apple-002", "b@example.com");
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    for bad in [
        id_token(wrong_aud, &k.signing, "test-1"),
        id_token(wrong_iss, &k.signing, "test-1"),
        id_token(expired, &k.signing, "test-1"),
        id_token(claims("apple-002", "b@example.com"), &k.other, "test-1"),
        id_token(
            claims("apple-002", "b@example.com"),
            &k.signing,
            "unknown-kid",
        ),
        "not.a.jwt".to_string(),
    ] {
        let res = app
            .post("/v1/auth/apple", &json!({"id_token": bad}), None)
            .await;
        problem(res, 401, "invalid_id_token").await;
    }
    // Google is not configured here.
    let res = app
        .post("/v1/auth/google", &json!({"id_token": good}), None)
        .await;
    problem(res, 400, "provider_not_configured").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_sign_in_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_sign_in_postgres() {
    run(Backend::Postgres).await;
}
