//! SPEC section 4 conventions: problem+json, request ids, idempotency, bad
//! input of every kind answered with 4xx and no write.

use crate::api_test;
use crate::helpers::*;
use serde_json::{json, Value};

api_test!(
    async fn request_ids_are_echoed_or_generated(app) {
        let res = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
        assert_eq!(res.headers()["x-request-id"], "abc-123");
        let res = app.client.get(app.url("/healthz")).header("x-request-id", "bad id\twith tab").send().await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, "bad id\twith tab");
        assert_eq!(id.len(), 36);
        let res = app.get("/nope", None).await;
        let body = problem(res, 404, "not_found").await;
        assert!(body["type"].as_str().unwrap().contains("not_found"));
        assert!(body["detail"].is_string() && body["title"].is_string());
    }
);

api_test!(
    async fn malformed_and_wrong_bodies_are_4xx_without_writes(app) {
        let url = app.url("/v1/auth/register");
        // Malformed JSON.
        let res = app.client.post(&url).header("content-type", "application/json").body("{\"email\":").send().await.unwrap();
        problem(res, 400, "malformed_json").await;
        // Wrong content type.
        let res = app.client.post(&url).header("content-type", "text/plain").body("hi").send().await.unwrap();
        problem(res, 415, "unsupported_media_type").await;
        // Wrong types.
        let res = app.post("/v1/auth/register", &json!({"email": 5, "password": true}), None).await;
        problem(res, 422, "validation_failed").await;
        // Unknown fields (mass assignment of the role).
        let res = app.post("/v1/auth/register", &json!({"email": "a@example.com", "password": "long enough!", "role": "admin"}), None).await;
        let body = problem(res, 422, "validation_failed").await;
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("unknown field"));
        // Field validation lists every bad field.
        let res = app.post("/v1/auth/register", &json!({"email": "nope", "password": "short", "timezone": "Mars/Base"}), None).await;
        let body = problem(res, 422, "validation_failed").await;
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["email", "password", "timezone"]);
        // Oversize body.
        let big = "x".repeat(300 * 1024);
        let res = app.post("/v1/auth/register", &json!({"email": "a@example.com", "password": big}), None).await;
        problem(res, 413, "payload_too_large").await;
        // Deeply nested JSON.
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let res = app.client.post(&url).header("content-type", "application/json").body(deep).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
        // Still serving.
        assert_eq!(app.get("/healthz", None).await.status(), 200);
    }
);

api_test!(
    async fn sql_metacharacters_are_just_text(app) {
        let nasty = "Robert'); DROP TABLE users; -- \" \\ %_";
        let s = app.register("bobby@example.com").await;
        let res = app.client.patch(app.url("/v1/me/profile")).bearer_auth(&s.access)
            .json(&json!({"display_name": nasty})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let me: Value = app.get("/v1/me", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(me["display_name"], nasty);
        let res = app.post("/v1/auth/login", &json!({"email": "' OR '1'='1", "password": "' OR '1'='1"}), None).await;
        problem(res, 401, "invalid_credentials").await;
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": "' OR 1=1 --"}), None).await;
        problem(res, 401, "invalid_refresh_token").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }
);

api_test!(
    async fn idempotency_key_replays_and_rejects_mismatch(app) {
        let s = app.register("idem@example.com").await;
        let patch = |body: Value, key: &str| {
            app.client.patch(app.url("/v1/me/profile")).bearer_auth(&s.access)
                .header("idempotency-key", key).json(&body)
        };
        let first = patch(json!({"display_name": "One"}), "k-1").send().await.unwrap();
        assert_eq!(first.status(), 200);
        let first_body: Value = first.json().await.unwrap();
        // Someone changes the name in between; a replay must not write again.
        let res = app.client.patch(app.url("/v1/me/profile")).bearer_auth(&s.access)
            .json(&json!({"display_name": "Two"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let replay = patch(json!({"display_name": "One"}), "k-1").send().await.unwrap();
        assert_eq!(replay.status(), 200);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        let replay_body: Value = replay.json().await.unwrap();
        assert_eq!(replay_body, first_body);
        let me: Value = app.get("/v1/me", Some(&s.access)).await.json().await.unwrap();
        assert_eq!(me["display_name"], "Two", "the replay performed a second write");
        // Same key, different body.
        let res = patch(json!({"display_name": "Three"}), "k-1").send().await.unwrap();
        problem(res, 422, "idempotency_key_reused").await;
        // Errors replay too, with the same problem code.
        let bad = patch(json!({"timezone": "Nowhere/Land"}), "k-2").send().await.unwrap();
        problem(bad, 422, "validation_failed").await;
        let again = patch(json!({"timezone": "Nowhere/Land"}), "k-2").send().await.unwrap();
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        problem(again, 422, "validation_failed").await;
        // Keys are per user: another user may use the same key.
        let other = app.register("idem2@example.com").await;
        let res = app.client.patch(app.url("/v1/me/profile")).bearer_auth(&other.access)
            .header("idempotency-key", "k-1").json(&json!({"display_name": "Other"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("idempotent-replayed").is_none());
    }
);
