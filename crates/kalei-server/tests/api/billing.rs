//! Store notifications with a locally generated CA (Apple) and key set
//! (Google): verified ones apply once, forged ones change nothing.

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kalei_server::billing::{AppleConfig, BillingConfig, GoogleConfig};
use kalei_server::config::SocialConfig;
use kalei_store::testing::Backend;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use crate::helpers::*;

const BUNDLE: &str = "app.kalei.ios";
const PRODUCT: &str = "app.kalei.prism.monthly";

/// A root → intermediate → leaf chain; the leaf signs JWS.
struct Chain {
    root_pem: String,
    x5c: Vec<String>,
    leaf_key: EncodingKey,
}

fn chain() -> Chain {
    let ca = |name: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        p
    };
    let root_key = KeyPair::generate().unwrap();
    let root = ca("Test Root").self_signed(&root_key).unwrap();
    let int_key = KeyPair::generate().unwrap();
    let int = ca("Test Intermediate")
        .signed_by(&int_key, &root, &root_key)
        .unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut lp = CertificateParams::new(Vec::<String>::new()).unwrap();
    lp.distinguished_name
        .push(rcgen::DnType::CommonName, "Test Leaf");
    let leaf = lp.signed_by(&leaf_key, &int, &int_key).unwrap();
    Chain {
        root_pem: root.pem(),
        x5c: [leaf.der(), int.der(), root.der()]
            .iter()
            .map(|d| STANDARD.encode(d.as_ref()))
            .collect(),
        leaf_key: EncodingKey::from_ec_pem(leaf_key.serialize_pem().as_bytes()).unwrap(),
    }
}

fn trusted() -> &'static Chain {
    static C: OnceLock<Chain> = OnceLock::new();
    C.get_or_init(chain)
}

fn jws(c: &Chain, payload: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.x5c = Some(c.x5c.clone());
    jsonwebtoken::encode(&h, payload, &c.leaf_key).unwrap()
}

fn notification(c: &Chain, id: &str, kind: &str, user_id: &str, bundle: &str) -> Value {
    let transaction = jws(
        c,
        &json!({
            "bundleId": bundle, "productId": PRODUCT, "originalTransactionId": "orig-1",
            "appAccountToken": user_id, "expiresDate": chrono::Utc::now().timestamp_millis() + 30 * 86_400_000i64,
        }),
    );
    json!({"signedPayload": jws(c, &json!({
        "notificationType": kind, "notificationUUID": id,
        "data": {"bundleId": bundle, "signedTransactionInfo": transaction, "environment": "Sandbox"},
    }))})
}

struct Google {
    key: EncodingKey,
    jwks: String,
}

fn google() -> &'static Google {
    static G: OnceLock<Google> = OnceLock::new();
    G.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let public = key.to_public_key();
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "g1", "alg": "RS256", "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())}]});
        Google {
            key: EncodingKey::from_rsa_pem(key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap().as_bytes()).unwrap(),
            jwks: jwks.to_string(),
        }
    })
}

fn push_token(aud: &str) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("g1".into());
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(&h, &json!({"iss": "https://accounts.google.com", "aud": aud, "sub": "pubsub", "iat": now, "exp": now + 600}), &google().key).unwrap()
}

async fn app_with_billing(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.billing = BillingConfig {
            apple: Some(AppleConfig {
                bundle_id: BUNDLE.into(),
                root_cert_pem: Some(trusted().root_pem.clone()),
                root_cert_file: None,
                products: [(PRODUCT.to_string(), "prism".to_string())].into(),
            }),
            google: Some(GoogleConfig {
                package_name: "app.kalei.android".into(),
                push_auth: SocialConfig {
                    issuer: "https://accounts.google.com".into(),
                    audiences: vec!["https://kalei.example/v1/billing/webhooks/google".into()],
                    jwks: Some(google().jwks.clone()),
                    jwks_file: None,
                },
                products: [("prism_plus_monthly".to_string(), "prism_plus".to_string())].into(),
            }),
        };
    })
    .await
}

async fn plan(app: &TestApp, token: &str) -> String {
    let e: Value = app
        .get("/v1/billing/entitlements", Some(token))
        .await
        .json()
        .await
        .unwrap();
    e["plan"].as_str().unwrap().to_string()
}

async fn apple(backend: Backend) {
    let Some(app) = app_with_billing(backend).await else {
        return;
    };
    let s = app.register("buyer@example.com").await;
    let hook = "/v1/billing/webhooks/apple";

    // Forged: a chain from another CA, the wrong bundle, a tampered payload.
    let rogue = chain();
    problem(
        app.post(
            hook,
            &notification(&rogue, "n-0", "SUBSCRIBED", &s.user_id, BUNDLE),
            None,
        )
        .await,
        401,
        "invalid_signature",
    )
    .await;
    problem(
        app.post(
            hook,
            &notification(trusted(), "n-0", "SUBSCRIBED", &s.user_id, "com.other.app"),
            None,
        )
        .await,
        401,
        "invalid_signature",
    )
    .await;
    let good = notification(trusted(), "n-1", "SUBSCRIBED", &s.user_id, BUNDLE);
    let signed = good["signedPayload"].as_str().unwrap();
    let parts: Vec<&str> = signed.split('.').collect();
    let tampered_body = URL_SAFE_NO_PAD.encode(
        json!({"notificationType": "SUBSCRIBED", "notificationUUID": "n-x",
        "data": {"bundleId": BUNDLE}})
        .to_string(),
    );
    let tampered = format!("{}.{}.{}", parts[0], tampered_body, parts[2]);
    problem(
        app.post(hook, &json!({"signedPayload": tampered}), None)
            .await,
        401,
        "invalid_signature",
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM billing_events").await, 0);
    assert_eq!(plan(&app, &s.access).await, "free");

    let res: Value = app.post(hook, &good, None).await.json().await.unwrap();
    assert_eq!(res["status"], "applied");
    assert_eq!(plan(&app, &s.access).await, "prism");
    // Replay: same notification id, nothing changes.
    let res: Value = app.post(hook, &good, None).await.json().await.unwrap();
    assert_eq!(res["status"], "duplicate");
    assert_eq!(app.count("SELECT COUNT(*) FROM billing_events").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM entitlement_snapshots")
            .await,
        1
    );

    let res: Value = app
        .post(
            hook,
            &notification(trusted(), "n-2", "EXPIRED", &s.user_id, BUNDLE),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["status"], "applied");
    assert_eq!(plan(&app, &s.access).await, "free");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM entitlement_snapshots")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'entitlement_changed'")
            .await,
        2
    );
}

async fn google_rtdn(backend: Backend) {
    let Some(app) = app_with_billing(backend).await else {
        return;
    };
    let s = app.register("droid@example.com").await;
    let res = app
        .post(
            "/v1/billing/google/purchases",
            &json!({"purchase_token": "tok-1"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(
        plan(&app, &s.access).await,
        "free",
        "registering grants nothing"
    );
    let other = app.register("thief@example.com").await;
    problem(
        app.post(
            "/v1/billing/google/purchases",
            &json!({"purchase_token": "tok-1"}),
            Some(&other.access),
        )
        .await,
        409,
        "purchase_taken",
    )
    .await;

    let rtdn = |message_id: &str, kind: i64| {
        let data = json!({"version": "1.0", "packageName": "app.kalei.android", "eventTimeMillis": "1",
            "subscriptionNotification": {"version": "1.0", "notificationType": kind, "purchaseToken": "tok-1", "subscriptionId": "prism_plus_monthly"}});
        json!({"message": {"data": STANDARD.encode(data.to_string()), "messageId": message_id}, "subscription": "projects/p/subscriptions/s"})
    };
    let url = app.url("/v1/billing/webhooks/google");
    let send = |body: Value, token: Option<String>| {
        let mut r = app.client.post(&url).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let aud = "https://kalei.example/v1/billing/webhooks/google";
    problem(
        send(rtdn("m-1", 4), None).await.unwrap(),
        401,
        "invalid_signature",
    )
    .await;
    problem(
        send(rtdn("m-1", 4), Some(push_token("https://someone.else")))
            .await
            .unwrap(),
        401,
        "invalid_signature",
    )
    .await;
    assert_eq!(plan(&app, &s.access).await, "free");
    let res: Value = send(rtdn("m-1", 4), Some(push_token(aud)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["status"], "applied");
    assert_eq!(plan(&app, &s.access).await, "prism_plus");
    let res: Value = send(rtdn("m-1", 4), Some(push_token(aud)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["status"], "duplicate");
    let res: Value = send(rtdn("m-2", 13), Some(push_token(aud)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["status"], "applied");
    assert_eq!(plan(&app, &s.access).await, "free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_notifications_sqlite() {
    apple(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_notifications_postgres() {
    apple(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_notifications_sqlite() {
    google_rtdn(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_notifications_postgres() {
    google_rtdn(Backend::Postgres).await;
}
