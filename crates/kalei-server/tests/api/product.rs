//! Mirror, Turn, Lens, Gallery, entitlements: the product flows, the safety
//! gate on every path, ownership, encryption at rest.

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::*;

const DISTORTED: &str = "I always mess everything up at work. Everyone thinks I'm useless.";
const CRISIS: &str =
    "I can't do this anymore. I want to kill myself tonight, I have the pills ready.";

async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

api_test!(
    async fn mirror_flow_with_fragments_reframe_and_reflection(app) {
        let s = app.register("mirror@example.com").await;
        let session = json_of(app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await, 201).await;
        assert_eq!(session["status"], "open");
        let sid = session["id"].as_str().unwrap();

        let msg = json_of(app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": DISTORTED}), Some(&s.access)).await, 201).await;
        assert_eq!(msg["crisis"]["level"], "none");
        let fragments = msg["fragments"].as_array().unwrap();
        assert!(!fragments.is_empty(), "{msg}");
        for f in fragments {
            let (start, end) = (f["start"].as_u64().unwrap() as usize, f["end"].as_u64().unwrap() as usize);
            let slice: String = DISTORTED.chars().skip(start).take(end - start).collect();
            assert_eq!(f["text"].as_str().unwrap(), slice);
            assert!(!f["explanation"].as_str().unwrap().is_empty());
        }
        // Raw text is encrypted at rest.
        let stored: Vec<u8> = sqlx::query_scalar("SELECT content_sealed FROM mirror_messages")
            .fetch_one(app.db.db.pool()).await.unwrap();
        assert!(!String::from_utf8_lossy(&stored).contains("mess everything"));

        let fid = fragments[0]["id"].as_str().unwrap();
        let reframed = json_of(app.post(&format!("/v1/mirror/fragments/{fid}/reframe"), &json!({}), Some(&s.access)).await, 200).await;
        let reframes = reframed["reframes"].as_array().unwrap();
        assert_eq!(reframes.len(), 3);
        assert_eq!(reframed["crisis"]["level"], "none");

        let closed = json_of(app.post(&format!("/v1/mirror/sessions/{sid}/close"), &json!({}), Some(&s.access)).await, 200).await;
        assert_eq!(closed["status"], "closed");
        let reflection = closed["reflection"].as_str().unwrap();
        assert!(!reflection.is_empty());
        assert!(!reflection.contains("mess everything"), "the reflection quotes the user");
        problem(app.post(&format!("/v1/mirror/sessions/{sid}/close"), &json!({}), Some(&s.access)).await, 409, "session_closed").await;
        problem(app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": "more"}), Some(&s.access)).await, 409, "session_closed").await;
        // The post-session analysis job was enqueued with the close.
        assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'spectrum.session_analysis'").await, 1);

        let detail = json_of(app.get(&format!("/v1/mirror/sessions/{sid}"), Some(&s.access)).await, 200).await;
        assert_eq!(detail["messages"][0]["content"], DISTORTED);
        assert_eq!(detail["messages"][0]["fragments"].as_array().unwrap().len(), fragments.len());
        let list = json_of(app.get("/v1/mirror/sessions", Some(&s.access)).await, 200).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let gallery = json_of(app.get("/v1/gallery", Some(&s.access)).await, 200).await;
        assert_eq!(gallery["items"][0]["kind"], "reflection");

        // Another user sees none of it.
        let other = app.register("other@example.com").await;
        problem(app.get(&format!("/v1/mirror/sessions/{sid}"), Some(&other.access)).await, 404, "not_found").await;
        problem(app.post(&format!("/v1/mirror/fragments/{fid}/reframe"), &json!({}), Some(&other.access)).await, 404, "not_found").await;
        problem(app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": "x"}), Some(&other.access)).await, 404, "not_found").await;
        let res = app.client.delete(app.url(&format!("/v1/mirror/sessions/{sid}"))).bearer_auth(&other.access).send().await.unwrap();
        problem(res, 404, "not_found").await;

        let res = app.client.delete(app.url(&format!("/v1/mirror/sessions/{sid}"))).bearer_auth(&s.access).send().await.unwrap();
        assert_eq!(res.status(), 204);
        for table in ["mirror_sessions", "mirror_messages", "mirror_fragments", "gallery_items"] {
            assert_eq!(app.count(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
        }
    }
);

api_test!(
    async fn crisis_is_never_reframed_in_mirror(app) {
        let s = app.register("crisis@example.com").await;
        let session = json_of(app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await, 201).await;
        let sid = session["id"].as_str().unwrap();
        let msg = json_of(app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": CRISIS}), Some(&s.access)).await, 201).await;
        assert!(msg["fragments"].as_array().unwrap().is_empty());
        let level = msg["crisis"]["level"].as_str().unwrap();
        assert!(level == "high" || level == "imminent", "{msg}");
        assert!(msg["crisis"]["message"].as_str().unwrap().len() > 40);
        let resources = msg["crisis"]["resources"].as_array().unwrap();
        assert!(resources.iter().any(|r| r["phone"] == "988"), "US default region: {resources:?}");
        // A safety event without any text.
        let (feature, categories): (String, String) = sqlx::query_as("SELECT feature, categories FROM safety_events")
            .fetch_one(app.db.db.pool()).await.unwrap();
        assert_eq!(feature, "mirror");
        assert!(!categories.contains("pills"));
        assert!(app.get("/metrics", None).await.text().await.unwrap().contains("safety_escalations_total"));

        // Closing gives the fixed reflection, nothing generated from it, no card.
        let closed = json_of(app.post(&format!("/v1/mirror/sessions/{sid}/close"), &json!({}), Some(&s.access)).await, 200).await;
        assert!(closed["reflection"].as_str().unwrap().contains("support lines"));
        assert_eq!(app.count("SELECT COUNT(*) FROM gallery_items").await, 0);

    }
);

api_test!(
    async fn fragment_of_a_crisis_message_is_not_reframed(app) {
        let s = app.register("frag@example.com").await;
        let session = json_of(app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await, 201).await;
        let sid = session["id"].as_str().unwrap();
        let msg = json_of(app.post("/v1/mirror/messages", &json!({"session_id": sid, "content": DISTORTED}), Some(&s.access)).await, 201).await;
        let fid = msg["fragments"][0]["id"].as_str().unwrap();
        // The stored message turns out to hold crisis language (e.g. the
        // detector improved since): the reframe path must check again.
        let sealed = app.app.cipher.seal_str(&format!("{DISTORTED} {CRISIS}"), &format!("mirror_messages.content:{}", s.user_id));
        sqlx::query("UPDATE mirror_messages SET content_sealed = $1").bind(sealed).execute(app.db.db.pool()).await.unwrap();
        let res = json_of(app.post(&format!("/v1/mirror/fragments/{fid}/reframe"), &json!({}), Some(&s.access)).await, 200).await;
        assert!(res["reframes"].as_array().unwrap().is_empty());
        assert!(!res["crisis"]["resources"].as_array().unwrap().is_empty());
    }
);

api_test!(
    async fn turn_flow_gallery_and_card(app) {
        let s = app.register("turn@example.com").await;
        let turn = json_of(app.post("/v1/turns", &json!({"thought": DISTORTED, "belief_before": 80}), Some(&s.access)).await, 201).await;
        let reframes = turn["reframes"].as_array().unwrap();
        assert_eq!(reframes.len(), 3);
        let styles: std::collections::HashSet<&str> = reframes.iter().map(|r| r["style"].as_str().unwrap()).collect();
        assert_eq!(styles.len(), 3, "styles must be distinct");
        assert!(turn["micro_action"]["minutes"].as_u64().unwrap() > 0);
        assert!(!turn["distortions"].as_array().unwrap().is_empty());
        assert_eq!(turn["model"], "local");
        assert!(!turn["prompt_version"].as_str().unwrap().is_empty(), "the prompt version is recorded");
        let tid = turn["id"].as_str().unwrap();
        assert_eq!(app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'spectrum.turn_analysis'").await, 1);

        let saved = json_of(app.post(&format!("/v1/turns/{tid}/save"), &json!({"chosen_reframe": 1, "belief_after": 40, "include_reframe": true}), Some(&s.access)).await, 200).await;
        assert_eq!(saved["belief_after"], 40);
        assert!(saved["saved_at"].is_string());
        problem(app.post(&format!("/v1/turns/{tid}/save"), &json!({"chosen_reframe": 3}), Some(&s.access)).await, 422, "validation_failed").await;

        let gallery = json_of(app.get("/v1/gallery", Some(&s.access)).await, 200).await;
        let item = &gallery["items"][0];
        assert_eq!(item["kind"], "turn");
        assert_eq!(item["text"], reframes[1]["text"]);
        let card_url = item["card_url"].as_str().unwrap();
        let res = app.get(card_url, Some(&s.access)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/svg+xml");
        let svg = res.text().await.unwrap();
        roxmltree::Document::parse(&svg).expect("valid SVG XML");
        assert!(svg.contains("<text"), "the chosen reframe is on the card");
        assert_eq!(app.get(card_url, Some(&s.access)).await.text().await.unwrap(), svg, "deterministic");
        assert!(!svg.contains("mess everything"), "never the raw thought");

        let other = app.register("other2@example.com").await;
        problem(app.get(card_url, Some(&other.access)).await, 404, "not_found").await;
        problem(app.get(&format!("/v1/turns/{tid}"), Some(&other.access)).await, 404, "not_found").await;
        problem(app.post(&format!("/v1/turns/{tid}/save"), &json!({}), Some(&other.access)).await, 404, "not_found").await;

        let got = json_of(app.get(&format!("/v1/turns/{tid}"), Some(&s.access)).await, 200).await;
        assert_eq!(got["thought"], DISTORTED);
        assert_eq!(got["chosen_reframe"], 1);
        let list = json_of(app.get("/v1/turns?limit=1", Some(&s.access)).await, 200).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert!(list["next_cursor"].is_null());
        let stored: Vec<u8> = sqlx::query_scalar("SELECT thought_sealed FROM turns").fetch_one(app.db.db.pool()).await.unwrap();
        assert!(!String::from_utf8_lossy(&stored).contains("mess everything"));
    }
);

api_test!(
    async fn crisis_turn_gets_resources_not_reframes_even_at_the_cap(app) {
        let s = app.register("crisisturn@example.com").await;
        for _ in 0..3 {
            json_of(app.post("/v1/turns", &json!({"thought": "I'm such a failure, I never get anything right."}), Some(&s.access)).await, 201).await;
        }
        let res = app.post("/v1/turns", &json!({"thought": "Nobody likes me."}), Some(&s.access)).await;
        assert!(res.headers().contains_key("retry-after"));
        let body = problem(res, 429, "daily_limit_reached").await;
        assert!(body["detail"].as_str().unwrap().contains("turns_per_day"));
        assert!(body["detail"].as_str().unwrap().contains("resets at"));

        // Crisis language is answered at the cap, with resources and no reframes.
        let turn = json_of(app.post("/v1/turns", &json!({"thought": CRISIS}), Some(&s.access)).await, 201).await;
        assert!(turn["reframes"].as_array().unwrap().is_empty());
        assert!(turn["micro_action"].is_null());
        assert!(turn["crisis"]["resources"].as_array().unwrap().len() >= 2);
        let tid = turn["id"].as_str().unwrap();
        problem(app.post(&format!("/v1/turns/{tid}/save"), &json!({}), Some(&s.access)).await, 409, "nothing_to_save").await;

        let ent = json_of(app.get("/v1/billing/entitlements", Some(&s.access)).await, 200).await;
        assert_eq!(ent["plan"], "free");
        assert_eq!(ent["usage_today"]["turns_per_day"]["used"], 3);
        assert_eq!(ent["usage_today"]["turns_per_day"]["limit"], 3);

        // Streaming gives the same shape as events.
        let res = app.client.post(app.url("/v1/turns")).bearer_auth(&s.access)
            .header("accept", "text/event-stream").json(&json!({"thought": CRISIS})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(text.contains("event: analysis") && text.contains("event: crisis") && text.contains("event: done"));
        assert!(!text.contains("event: reframe"));
    }
);

api_test!(
    async fn turn_streams_as_server_sent_events(app) {
        let s = app.register("sse@example.com").await;
        let res = app.client.post(app.url("/v1/turns")).bearer_auth(&s.access)
            .header("accept", "text/event-stream").json(&json!({"thought": DISTORTED})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let text = res.text().await.unwrap();
        assert_eq!(text.matches("event: reframe").count(), 3);
        assert!(text.contains("event: micro_action"));
        let done = text.split("event: done\ndata: ").nth(1).unwrap().lines().next().unwrap();
        let turn: Value = serde_json::from_str(done).unwrap();
        assert_eq!(turn["reframes"].as_array().unwrap().len(), 3);
    }
);

api_test!(
    async fn mirror_session_cap_of_the_free_plan(app) {
        let s = app.register("cap@example.com").await;
        json_of(app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await, 201).await;
        let res = app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await;
        problem(res, 429, "daily_limit_reached").await;
        // An upgraded user is not capped.
        sqlx::query("INSERT INTO subscriptions (user_id, plan, store, status, updated_at) VALUES ($1, 'prism', 'test', 'active', 0)")
            .bind(&s.user_id).execute(app.db.db.pool()).await.unwrap();
        json_of(app.post("/v1/mirror/sessions", &json!({}), Some(&s.access)).await, 201).await;
        let ent = json_of(app.get("/v1/billing/entitlements", Some(&s.access)).await, 200).await;
        assert_eq!(ent["plan"], "prism");
        assert!(ent["usage_today"]["turns_per_day"]["limit"].is_null());
    }
);

api_test!(
    async fn lens_goals_actions_streak_and_affirmation(app) {
        let s = app.register("lens@example.com").await;
        let goal = json_of(app.post("/v1/lens/goals", &json!({"title": "Sleep before midnight"}), Some(&s.access)).await, 201).await;
        let gid = goal["id"].as_str().unwrap();
        let action = json_of(app.post(&format!("/v1/lens/goals/{gid}/actions"), &json!({"title": "Phone away at 23:00"}), Some(&s.access)).await, 201).await;
        let aid = action["id"].as_str().unwrap();
        let done = json_of(app.post(&format!("/v1/lens/actions/{aid}/complete"), &json!({}), Some(&s.access)).await, 200).await;
        assert!(done["action"]["completed_at"].is_string());
        assert_eq!(done["streak_days"], 1);
        problem(app.post(&format!("/v1/lens/actions/{aid}/complete"), &json!({}), Some(&s.access)).await, 409, "already_completed").await;
        let goals = json_of(app.get("/v1/lens/goals", Some(&s.access)).await, 200).await;
        assert_eq!(goals["items"][0]["title"], "Sleep before midnight");
        assert_eq!(goals["items"][0]["actions"][0]["title"], "Phone away at 23:00");
        assert_eq!(goals["streak_days"], 1);

        let a = json_of(app.get("/v1/lens/affirmation/today", Some(&s.access)).await, 200).await;
        let b = json_of(app.get("/v1/lens/affirmation/today", Some(&s.access)).await, 200).await;
        assert_eq!(a, b, "one affirmation per local day");
        assert_eq!(a["date"].as_str().unwrap().len(), 10);

        let other = app.register("other3@example.com").await;
        problem(app.post(&format!("/v1/lens/goals/{gid}/actions"), &json!({"title": "x"}), Some(&other.access)).await, 404, "not_found").await;
        problem(app.post(&format!("/v1/lens/actions/{aid}/complete"), &json!({}), Some(&other.access)).await, 404, "not_found").await;
        problem(app.post("/v1/lens/goals", &json!({"title": "   "}), Some(&s.access)).await, 422, "validation_failed").await;
    }
);

api_test!(
    async fn preferences_validate_and_pick_the_crisis_region(app) {
        let s = app.register("prefs@example.com").await;
        let p = json_of(app.get("/v1/me/preferences", Some(&s.access)).await, 200).await;
        assert_eq!(p["region"], "US");
        assert_eq!(p["weekly_brief_frequency"], "weekly");
        let patch = |body: Value| app.client.patch(app.url("/v1/me/preferences")).bearer_auth(&s.access).json(&body).send();
        problem(patch(json!({"weekly_brief_frequency": "daily"})).await.unwrap(), 422, "validation_failed").await;
        problem(patch(json!({"reminder_time": "25:00"})).await.unwrap(), 422, "validation_failed").await;
        let p = json_of(patch(json!({"region": "gb", "reminder_time": "08:30", "weekly_brief_frequency": "biweekly"})).await.unwrap(), 200).await;
        assert_eq!(p["region"], "GB");
        let turn = json_of(app.post("/v1/turns", &json!({"thought": CRISIS}), Some(&s.access)).await, 201).await;
        let resources = turn["crisis"]["resources"].as_array().unwrap();
        assert_eq!(resources[0]["phone"], "116 123");
    }
);
