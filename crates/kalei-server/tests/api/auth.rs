use crate::api_test;
use crate::helpers::*;
use serde_json::{json, Value};

api_test!(
    async fn register_me_refresh_logout(app) {
        let res = app.post("/v1/auth/register", &json!({
            "email": "  Ada@Example.COM ", "password": "correct horse battery",
            "display_name": "Ada", "timezone": "Europe/Berlin", "locale": "de"}), None).await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["user"]["email"], "ada@example.com");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        let access = body["access_token"].as_str().unwrap().to_string();
        let refresh = body["refresh_token"].as_str().unwrap().to_string();

        let me: Value = app.get("/v1/me", Some(&access)).await.json().await.unwrap();
        assert_eq!(me["timezone"], "Europe/Berlin");
        assert_eq!(me["role"], "user");

        // Refresh tokens are stored hashed, never in clear.
        assert_eq!(app.count(&format!("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = '{refresh}'")).await, 0);

        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": refresh}), None).await;
        assert_eq!(res.status(), 200);
        let rotated: Value = res.json().await.unwrap();
        let refresh2 = rotated["refresh_token"].as_str().unwrap().to_string();
        assert_ne!(refresh2, refresh);
        let access2 = rotated["access_token"].as_str().unwrap().to_string();
        assert_eq!(app.get("/v1/me", Some(&access2)).await.status(), 200);

        let res = app.client.post(app.url("/v1/auth/logout")).bearer_auth(&access2).send().await.unwrap();
        assert_eq!(res.status(), 204);
        // Both the access token and the refresh token of that session are dead.
        problem(app.get("/v1/me", Some(&access2)).await, 401, "unauthorized").await;
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": refresh2}), None).await;
        problem(res, 401, "invalid_refresh_token").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'logout'").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'register'").await, 1);
    }
);

api_test!(
    async fn reused_refresh_token_revokes_the_family(app) {
        let s = app.register("reuse@example.com").await;
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": s.refresh}), None).await;
        let fresh: Value = res.json().await.unwrap();
        let fresh_refresh = fresh["refresh_token"].as_str().unwrap().to_string();
        let fresh_access = fresh["access_token"].as_str().unwrap().to_string();
        // An attacker replays the old one.
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": s.refresh}), None).await;
        problem(res, 401, "refresh_token_reused").await;
        // The legitimate holder's newer tokens die with the family.
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": fresh_refresh}), None).await;
        problem(res, 401, "invalid_refresh_token").await;
        problem(app.get("/v1/me", Some(&fresh_access)).await, 401, "unauthorized").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'token_reuse'").await, 1);
        // Signing in again works.
        let res = app.post("/v1/auth/login", &json!({"email": "reuse@example.com", "password": "correct horse battery"}), None).await;
        assert_eq!(res.status(), 200);
    }
);

api_test!(
    async fn another_users_refresh_token_is_refused(app) {
        let a = app.register("a@example.com").await;
        let b = app.register("b@example.com").await;
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": b.refresh}), Some(&a.access)).await;
        problem(res, 401, "invalid_refresh_token").await;
        // Nothing was written: b's token still works for b.
        let res = app.post("/v1/auth/refresh", &json!({"refresh_token": b.refresh}), Some(&b.access)).await;
        assert_eq!(res.status(), 200);
    }
);

api_test!(
    async fn duplicate_email_is_409_case_insensitively(app) {
        app.register("dup@example.com").await;
        let res = app.post("/v1/auth/register", &json!({"email": "DUP@example.com", "password": "another password"}), None).await;
        problem(res, 409, "email_taken").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }
);

api_test!(
    async fn login_failures_are_uniform_audited_and_rate_limited(app) {
        app.register("lim@example.com").await;
        let wrong = json!({"email": "lim@example.com", "password": "wrong password"});
        let res = app.post("/v1/auth/login", &wrong, None).await;
        problem(res, 401, "invalid_credentials").await;
        let res = app.post("/v1/auth/login", &json!({"email": "nobody@example.com", "password": "whatever123"}), None).await;
        problem(res, 401, "invalid_credentials").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'sign_in_failed'").await, 2);
        // Per-account limit (10 per 15 minutes by default): 9 more wrong tries
        // pass through, the next is refused even with the right password.
        for _ in 0..9 {
            assert_eq!(app.post("/v1/auth/login", &wrong, None).await.status(), 401);
        }
        let res = app.post("/v1/auth/login", &json!({"email": "lim@example.com", "password": "correct horse battery"}), None).await;
        let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry_after >= 1);
        problem(res, 429, "rate_limited").await;
    }
);

api_test!(
    async fn per_ip_login_limit(app) {
        // 20 per minute per IP by default, across accounts.
        for i in 0..20 {
            let res = app.post("/v1/auth/login", &json!({"email": format!("x{i}@example.com"), "password": "whatever123"}), None).await;
            assert_eq!(res.status(), 401);
        }
        let res = app.post("/v1/auth/login", &json!({"email": "y@example.com", "password": "whatever123"}), None).await;
        assert!(res.headers().contains_key("retry-after"));
        problem(res, 429, "rate_limited").await;
    }
);

api_test!(
    async fn bad_tokens_are_401(app) {
        let s = app.register("tok@example.com").await;
        for bad in ["", "garbage", "a.b.c", &format!("{}x", s.access)] {
            problem(app.get("/v1/me", Some(bad)).await, 401, "unauthorized").await;
        }
        // alg:none with a valid-looking payload.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = s.access.split('.').nth(1).unwrap();
        let none = format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#), payload);
        problem(app.get("/v1/me", Some(&none)).await, 401, "unauthorized").await;
        // Expired: issued an hour ago with the server's own key.
        let old = app.app.tokens.issue(&s.user_id, "sid", "user", chrono::Utc::now().timestamp_millis() - 3_600_000);
        problem(app.get("/v1/me", Some(&old)).await, 401, "unauthorized").await;
        problem(app.get("/v1/me", None).await, 401, "unauthorized").await;
    }
);

api_test!(
    async fn device_sessions_list_and_revoke_with_ownership(app) {
        let a = app.register("dev@example.com").await;
        let res = app.post("/v1/auth/login", &json!({"email": "dev@example.com", "password": "correct horse battery", "device_name": "Tablet"}), None).await;
        let second: Value = res.json().await.unwrap();
        let list: Value = app.get("/v1/auth/sessions", Some(&a.access)).await.json().await.unwrap();
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
        let tablet = items.iter().find(|s| s["device_name"] == "Tablet").unwrap()["id"].as_str().unwrap().to_string();

        // Another user cannot revoke it: 404, and it stays alive.
        let b = app.register("other@example.com").await;
        let res = app.client.delete(app.url(&format!("/v1/auth/sessions/{tablet}"))).bearer_auth(&b.access).send().await.unwrap();
        problem(res, 404, "not_found").await;
        assert_eq!(app.get("/v1/me", Some(second["access_token"].as_str().unwrap())).await.status(), 200);

        let res = app.client.delete(app.url(&format!("/v1/auth/sessions/{tablet}"))).bearer_auth(&a.access).send().await.unwrap();
        assert_eq!(res.status(), 204);
        problem(app.get("/v1/me", Some(second["access_token"].as_str().unwrap())).await, 401, "unauthorized").await;
        let list: Value = app.get("/v1/auth/sessions", Some(&a.access)).await.json().await.unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
    }
);

api_test!(
    async fn profile_patch_validates_and_refuses_other_fields(app) {
        let s = app.register("prof@example.com").await;
        let patch = |body: Value| app.client.patch(app.url("/v1/me/profile")).bearer_auth(&s.access).json(&body).send();
        let res = patch(json!({"timezone": "America/New_York", "locale": "en-US"})).await.unwrap();
        assert_eq!(res.status(), 200);
        let me: Value = res.json().await.unwrap();
        assert_eq!(me["timezone"], "America/New_York");
        assert_eq!(me["display_name"], "Test", "untouched fields are kept");
        problem(patch(json!({"email": "evil@example.com"})).await.unwrap(), 422, "validation_failed").await;
        problem(patch(json!({"role": "admin"})).await.unwrap(), 422, "validation_failed").await;
        problem(patch(json!({"timezone": "Nowhere"})).await.unwrap(), 422, "validation_failed").await;
        let res = patch(json!({"display_name": ""})).await.unwrap();
        let me: Value = res.json().await.unwrap();
        assert!(me["display_name"].is_null());
        assert_eq!(me["email"], "prof@example.com");
        assert_eq!(me["role"], "user");
    }
);
