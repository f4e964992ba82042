use crate::api_test;
use serde_json::Value;

api_test!(
    async fn health_ready_metrics_and_docs(app) {
        let res = app.get("/healthz", None).await;
        assert_eq!(res.status(), 200);
        let res = app.get("/readyz", None).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["pending_migrations"].as_array().unwrap().len(), 0);

        // A request first, so the metrics have something to show.
        app.get("/v1/me", None).await;
        let res = app.get("/metrics", None).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(text.contains("http_requests_total"), "{text}");
        assert!(text.contains("http_request_duration_seconds_bucket"));
        assert!(text.contains("route=\"/v1/me\""));
        assert!(text.contains("db_pool_connections"));

        let res = app.get("/api/openapi.json", None).await;
        assert_eq!(res.status(), 200);
        let doc: Value = res.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/v1/auth/register",
            "/v1/auth/login",
            "/v1/auth/refresh",
            "/v1/auth/logout",
            "/v1/auth/sessions",
            "/v1/auth/apple",
            "/v1/auth/google",
            "/v1/me",
            "/v1/me/profile",
            "/healthz",
            "/readyz",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing from OpenAPI");
        }
        // Request bodies carry examples.
        let example = &doc["components"]["schemas"]["RegisterRequest"]["properties"]["email"]["example"];
        assert_eq!(example, "ada@example.com");

        let res = app.get("/api/docs", None).await;
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("openapi"));
    }
);
