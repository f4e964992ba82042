//! The attacker's view (SECURITY.md): cross-user access on every route that
//! takes an id, mass assignment on every JSON body, forged forwarding
//! headers, brute force across addresses and spellings, header injection
//! and oversized headers. Routes are enumerated from the OpenAPI document,
//! so routes added later are covered without editing this file, or fail it
//! loudly when their id is of a new kind.

use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::*;
use crate::seed::*;

/// Like `api_test!`, with a configuration tweak.
macro_rules! api_test_with {
    (async fn $name:ident($app:ident) config $tweak:expr; $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = spawn_app_with(kalei_store::testing::Backend::Sqlite, $tweak)
                    .await
                    .expect("sqlite app");
                run(app).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = spawn_app_with(kalei_store::testing::Backend::Postgres, $tweak).await {
                    run(app).await
                }
            }
        }
    };
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn openapi(app: &TestApp) -> Value {
    json_ok(app.get("/api/openapi.json", None).await, 200).await
}

/// Whose id fills a path parameter: decided by the path up to the
/// parameter. A route with an id of a kind not listed here fails the test:
/// add its source (an id the victim owns) below.
enum IdSource {
    Owned(String),
    /// Admin routes: the id is not owned by anyone; a user gets 403.
    AdminOnly,
    /// Ids that only exist after the weekly pipeline has run for the victim;
    /// the named test proves the cross-user 404 for them.
    ProvenIn(&'static str),
}

fn id_source(prefix: &str, ids: &Seeded, auth_session: &str) -> Option<IdSource> {
    let owned = |id: &str| Some(IdSource::Owned(id.to_string()));
    match prefix {
        "/v1/mirror/sessions/" => owned(&ids.closed_session),
        "/v1/mirror/fragments/" => owned(&ids.fragment),
        "/v1/turns/" => owned(&ids.turn),
        "/v1/lens/goals/" => owned(&ids.goal),
        "/v1/lens/actions/" => owned(&ids.action),
        "/v1/gallery/" => owned(&ids.gallery_item),
        "/v1/devices/" => owned(&ids.device),
        "/v1/briefs/" => Some(IdSource::ProvenIn("briefs::empty_weeks_and_bad_requests")),
        "/v1/auth/sessions/" => owned(auth_session),
        p if p.starts_with("/v1/admin/") => Some(IdSource::AdminOnly),
        _ => None,
    }
}

/// A valid request body for `op`: its documented example, else one built
/// from the schema's required properties (their examples, or a plain value
/// of their type).
fn example_body(spec: &Value, op: &Value) -> Value {
    let content = &op["requestBody"]["content"]["application/json"];
    if !content["example"].is_null() {
        return content["example"].clone();
    }
    if let Some(first) = content["examples"]
        .as_object()
        .and_then(|m| m.values().next())
    {
        return first["value"].clone();
    }
    example_of(spec, &content["schema"], 0)
}

fn example_of(spec: &Value, schema: &Value, depth: usize) -> Value {
    assert!(depth < 16, "schema nests too deep: {schema}");
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return example_of(spec, &spec["components"]["schemas"][name], depth + 1);
    }
    if !schema["example"].is_null() {
        return schema["example"].clone();
    }
    if let Some(first) = schema["examples"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema[key].as_array() {
            if let Some(option) = options.iter().find(|o| o["type"] != "null") {
                return example_of(spec, option, depth + 1);
            }
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        return values[0].clone();
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match ty.as_str() {
        Some("object") | None if schema["properties"].is_object() || ty == "object" => {
            let mut out = serde_json::Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                out.insert(
                    name.into(),
                    example_of(spec, &schema["properties"][name], depth + 1),
                );
            }
            Value::Object(out)
        }
        Some("string") => json!("x"),
        Some("integer") => json!(schema["minimum"].as_i64().unwrap_or(1)),
        Some("number") => json!(schema["minimum"].as_f64().unwrap_or(1.0)),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        _ => json!({}),
    }
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: &str,
) -> reqwest::Response {
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = app.client.request(m, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.expect("request")
}

api_test!(
    async fn every_id_route_answers_404_to_another_user(app) {
        let victim = app.register("victim@example.com").await;
        let ids = seed_content(&app, &victim).await;
        let sessions = json_ok(app.get("/v1/auth/sessions", Some(&victim.access)).await, 200).await;
        let auth_session = sessions["items"][0]["id"].as_str().unwrap().to_string();
        let attacker = app.register("attacker@example.com").await;
        seed_content(&app, &attacker).await; // the attacker has ids of every kind too

        let spec = openapi(&app).await;
        let mut checked = Vec::new();
        let mut unknown = Vec::new();
        for (template, item) in spec["paths"].as_object().unwrap() {
            let Some(open) = template.find('{') else { continue };
            let close = template[open..].find('}').unwrap() + open;
            assert!(!template[close..].contains('{'), "{template}: one path parameter expected; extend this test");
            let Some(source) = id_source(&template[..open], &ids, &auth_session) else {
                unknown.push(template.clone());
                continue;
            };
            if let IdSource::ProvenIn(test) = source {
                checked.push(format!("{template} (in {test})"));
                continue;
            }
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let body = op.get("requestBody").map(|_| example_body(&spec, op));
                let res = match &source {
                    IdSource::Owned(id) => {
                        let path = format!("{}{}{}", &template[..open], id, &template[close + 1..]);
                        let res = call(&app, method, &path, body.as_ref(), &attacker.access).await;
                        assert_eq!(res.status(), 404, "{method} {template} with the victim's id");
                        res
                    }
                    IdSource::ProvenIn(_) => unreachable!("skipped above"),
                    IdSource::AdminOnly => {
                        let path = format!("{}{}{}", &template[..open], ids.turn, &template[close + 1..]);
                        let res = call(&app, method, &path, body.as_ref(), &attacker.access).await;
                        assert_eq!(res.status(), 403, "{method} {template} as a user");
                        res
                    }
                };
                let status = res.status().as_u16();
                problem(res, status, if status == 404 { "not_found" } else { "forbidden" }).await;
                checked.push(format!("{method} {template}"));
            }
        }
        assert!(unknown.is_empty(), "routes with an id this test cannot fill (add them to id_source): {unknown:?}");
        assert!(checked.len() >= 12, "too few id routes found: {checked:?}");

        // Ids in bodies are checked the same way.
        let res = app.post("/v1/mirror/messages", &json!({"session_id": ids.closed_session, "content": "mine now"}), Some(&attacker.access)).await;
        problem(res, 404, "not_found").await;
        for body in [json!({"session_id": ids.closed_session, "excluded": true}), json!({"turn_id": ids.turn, "excluded": true})] {
            problem(app.post("/v1/spectrum/exclusions", &body, Some(&attacker.access)).await, 404, "not_found").await;
        }

        // Nothing of the victim's changed: content, sessions, sign-in.
        assert_content_readable(&app, &victim, &ids).await;
        let session = json_ok(app.get(&format!("/v1/mirror/sessions/{}", ids.closed_session), Some(&victim.access)).await, 200).await;
        assert_eq!(session["messages"].as_array().unwrap().len(), 1, "no message was added");
        assert_eq!(app.count("SELECT COUNT(*) FROM mirror_sessions WHERE excluded = 1").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM turns WHERE excluded = 1").await, 0);
        assert_eq!(app.get("/v1/me", Some(&victim.access)).await.status(), 200);
    }
);

api_test!(
    async fn every_json_body_refuses_unknown_fields(app) {
        // Mass assignment: owner, role or plan smuggled into any body is a
        // 422 naming the field, never silently applied.
        let s = app.register("mass@example.com").await;
        let ids = seed_content(&app, &s).await;
        let spec = openapi(&app).await;
        let mut checked = 0;
        for (template, item) in spec["paths"].as_object().unwrap() {
            for method in ["post", "put", "patch"] {
                let Some(op) = item.get(method) else { continue };
                if op["requestBody"]["content"]["application/json"].is_null() {
                    continue;
                }
                // Store notifications are the stores' documents, verified by
                // signature: new fields the stores add must not break them.
                if template.starts_with("/v1/billing/webhooks/") {
                    continue;
                }
                let mut body = example_body(&spec, op);
                let Some(fields) = body.as_object_mut() else { continue };
                fields.insert("user_id".into(), json!("someone-else"));
                fields.insert("role".into(), json!("admin"));
                // Any id works: the body is refused before the id is looked up.
                let path = match template.find('{') {
                    Some(open) => {
                        let close = template[open..].find('}').unwrap() + open;
                        format!("{}{}{}", &template[..open], ids.turn, &template[close + 1..])
                    }
                    None => template.clone(),
                };
                let res = call(&app, method, &path, Some(&body), &s.access).await;
                let problem_body = problem(res, 422, "validation_failed").await;
                assert!(problem_body.to_string().contains("unknown field"), "{method} {template}: {problem_body}");
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} JSON bodies found");
        let me = json_ok(app.get("/v1/me", Some(&s.access)).await, 200).await;
        assert_eq!(me["role"], "user");
    }
);

api_test_with!(
    async fn forged_forwarded_for_does_not_dodge_the_ip_limit(app) config |c| {
        c.http.trust_forwarded_for = true;
        // Few enough that no token refills while the test runs (GCRA: one
        // per 20 s), however slow the machine.
        c.auth.login_per_ip_per_minute = 3;
    }; {
        // Behind the proxy, the client controls everything left of the
        // address the proxy appended: rotating it must not reset the count.
        let login = |i: usize| {
            app.client
                .post(app.url("/v1/auth/login"))
                .header("x-forwarded-for", format!("10.0.{}.{}, 203.0.113.7", i / 250, i % 250))
                .json(&json!({"email": format!("stuff{i}@example.com"), "password": "whatever123"}))
                .send()
        };
        for i in 0..3 {
            assert_eq!(login(i).await.unwrap().status(), 401);
        }
        let res = login(3).await.unwrap();
        assert!(res.headers().contains_key("retry-after"));
        problem(res, 429, "rate_limited").await;
        // A different client address (as the proxy saw it) is not limited.
        let res = app.client.post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", "203.0.113.8")
            .json(&json!({"email": "x@example.com", "password": "whatever123"}))
            .send().await.unwrap();
        problem(res, 401, "invalid_credentials").await;
    }
);

api_test_with!(
    async fn account_limit_holds_across_addresses_and_spellings(app) config |c| c.http.trust_forwarded_for = true; {
        // Credential stuffing against one account from many addresses, with
        // the email spelled differently each time.
        app.register("target@example.com").await;
        let spellings = ["target@example.com", "TARGET@example.com", " Target@Example.com ", "target@EXAMPLE.COM"];
        for i in 0..10 {
            let res = app.client.post(app.url("/v1/auth/login"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&json!({"email": spellings[i % spellings.len()], "password": "wrong password"}))
                .send().await.unwrap();
            assert_eq!(res.status(), 401);
        }
        let res = app.client.post(app.url("/v1/auth/login"))
            .header("x-forwarded-for", "198.51.100.200")
            .json(&json!({"email": "target@example.com", "password": "correct horse battery"}))
            .send().await.unwrap();
        assert!(res.headers().contains_key("retry-after"));
        problem(res, 429, "rate_limited").await;
    }
);

api_test_with!(
    async fn registration_is_limited_per_ip(app) config |c| c.auth.register_per_ip_per_hour = 3; {
        for i in 0..3 {
            app.register(&format!("signup{i}@example.com")).await;
        }
        let res = app.post("/v1/auth/register", &json!({"email": "signup9@example.com", "password": "correct horse battery"}), None).await;
        assert!(res.headers().contains_key("retry-after"));
        problem(res, 429, "rate_limited").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 3);
    }
);

/// Sends raw bytes and returns the raw response head ("" when the server
/// closed the connection without one).
fn raw_request(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

api_test!(
    async fn header_injection_and_oversized_headers_are_refused(app) {
        let a = app.addr;
        tokio::task::spawn_blocking(move || {
            // A bare CR inside a header value would split the header if it were
            // echoed: the request is refused outright.
            let head = raw_request(a, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\rSet-Cookie: pwn=1\r\nConnection: close\r\n\r\n");
            assert!(head.is_empty() || head.starts_with("HTTP/1.1 400"), "{head}");
            assert!(!head.to_lowercase().contains("set-cookie"), "{head}");
            // An encoded CRLF in the path stays in the path.
            let head = raw_request(a, b"GET /v1/me%0d%0aSet-Cookie:%20pwn=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assert!(head.starts_with("HTTP/1.1 404"), "{head}");
            assert!(!head.to_lowercase().contains("set-cookie"), "{head}");
            // A request id with characters outside the safe set is replaced.
            let head = raw_request(a, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: <script>é\r\nConnection: close\r\n\r\n".as_bytes());
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(!head.contains("<script>"), "{head}");
            // A megabyte of headers: refused before any handler runs.
            let mut huge = b"GET /v1/me HTTP/1.1\r\nHost: x\r\n".to_vec();
            for i in 0..128 {
                huge.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(8 * 1024)).as_bytes());
            }
            huge.extend_from_slice(b"Connection: close\r\n\r\n");
            let head = raw_request(a, &huge);
            assert!(head.is_empty() || head.starts_with("HTTP/1.1 431") || head.starts_with("HTTP/1.1 400"), "{}", &head[..head.len().min(200)]);
        })
        .await
        .unwrap();
        // A bearer token of 100 KB is just an invalid token.
        let res = app.get("/v1/me", Some(&"a".repeat(100 * 1024))).await;
        problem(res, 401, "unauthorized").await;
        assert_eq!(app.get("/healthz", None).await.status(), 200, "still serving");
    }
);

api_test!(
    async fn every_operation_documents_the_shared_error_answers(app) {
        // What the shared layers can answer on any route is in the document
        // (the schemathesis run relies on it), always as problem+json.
        let spec = openapi(&app).await;
        let mut operations = 0;
        for (template, item) in spec["paths"].as_object().unwrap() {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                operations += 1;
                let responses = op["responses"].as_object().unwrap();
                let has = |status: &str| responses.contains_key(status);
                let bearer = op["security"].as_array().is_some_and(|alternatives| {
                    !alternatives.is_empty() && alternatives.iter().all(|a| a.get("bearer").is_some())
                });
                let what = format!("{method} {template}");
                assert!(has("503"), "{what}: 503");
                if bearer {
                    assert!(has("401"), "{what}: 401");
                }
                if op["tags"].as_array().is_some_and(|t| t.contains(&json!("admin"))) {
                    assert!(has("403"), "{what}: 403");
                }
                if !op["requestBody"]["content"]["application/json"].is_null() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(has(status), "{what}: {status}");
                    }
                }
                // Health probes answer with their own small documents.
                let probe = op["tags"].as_array().is_some_and(|t| t.contains(&json!("ops")));
                for (status, response) in responses {
                    if !probe && (status.starts_with('4') || status.starts_with('5')) {
                        assert!(
                            response["content"]["application/problem+json"].is_object(),
                            "{what}: {status} is not documented as problem+json"
                        );
                    }
                }
            }
        }
        assert!(operations >= 40, "{operations}");
    }
);
