//! One user with a value in every sealed column and an id of every kind:
//! the fixture of the key-rotation and cross-user (IDOR) tests.

use serde_json::{json, Value};

use crate::helpers::{Session, TestApp};

pub const MESSAGE: &str = "I always mess everything up at work. Everyone thinks I'm useless.";
pub const THOUGHT: &str = "I never get anything right, I'm such a failure.";
pub const GOAL: &str = "Sleep before midnight";
pub const ACTION: &str = "Phone away at 23:00";

/// Ids of what [`seed_content`] created.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// A closed session (reflection sealed) with one message and its
    /// fragments (one session: the free plan allows one a day).
    pub closed_session: String,
    pub fragment: String,
    pub turn: String,
    pub goal: String,
    pub action: String,
    pub gallery_item: String,
    /// A registered push device (its token is sealed).
    pub device: String,
}

pub async fn json_ok(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// Writes through the API so every sealed column holds a value of `s`.
pub async fn seed_content(app: &TestApp, s: &Session) -> Seeded {
    let token = Some(s.access.as_str());
    let closed = json_ok(
        app.post("/v1/mirror/sessions", &json!({}), token).await,
        201,
    )
    .await;
    let closed_session = closed["id"].as_str().unwrap().to_string();
    let msg = json_ok(
        app.post(
            "/v1/mirror/messages",
            &json!({"session_id": closed_session, "content": MESSAGE}),
            token,
        )
        .await,
        201,
    )
    .await;
    let fragment = msg["fragments"][0]["id"]
        .as_str()
        .expect("a fragment")
        .to_string();
    json_ok(
        app.post(
            &format!("/v1/mirror/fragments/{fragment}/reframe"),
            &json!({}),
            token,
        )
        .await,
        200,
    )
    .await;
    json_ok(
        app.post(
            &format!("/v1/mirror/sessions/{closed_session}/close"),
            &json!({}),
            token,
        )
        .await,
        200,
    )
    .await;

    let turn = json_ok(
        app.post("/v1/turns", &json!({"thought": THOUGHT}), token)
            .await,
        201,
    )
    .await;
    let turn = turn["id"].as_str().unwrap().to_string();
    json_ok(
        app.post(
            &format!("/v1/turns/{turn}/save"),
            &json!({"chosen_reframe": 0, "include_reframe": true}),
            token,
        )
        .await,
        200,
    )
    .await;

    let goal = json_ok(
        app.post("/v1/lens/goals", &json!({"title": GOAL}), token)
            .await,
        201,
    )
    .await;
    let goal = goal["id"].as_str().unwrap().to_string();
    let action = json_ok(
        app.post(
            &format!("/v1/lens/goals/{goal}/actions"),
            &json!({"title": ACTION}),
            token,
        )
        .await,
        201,
    )
    .await;
    let action = action["id"].as_str().unwrap().to_string();

    let gallery = json_ok(app.get("/v1/gallery", token).await, 200).await;
    let gallery_item = gallery["items"][0]["id"]
        .as_str()
        .expect("a gallery item")
        .to_string();
    let device = json_ok(
        app.post(
            "/v1/devices",
            &json!({"platform": "ios", "token": format!("device-token-of-{}", s.user_id)}),
            token,
        )
        .await,
        201,
    )
    .await;
    let device = device["id"].as_str().unwrap().to_string();
    Seeded {
        closed_session,
        fragment,
        turn,
        goal,
        action,
        gallery_item,
        device,
    }
}

/// Reads everything back through the API and checks the plaintext.
pub async fn assert_content_readable(app: &TestApp, s: &Session, ids: &Seeded) {
    let token = Some(s.access.as_str());
    let session = json_ok(
        app.get(
            &format!("/v1/mirror/sessions/{}", ids.closed_session),
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(session["messages"][0]["content"], MESSAGE);
    assert!(
        !session["reflection"].as_str().unwrap_or("").is_empty(),
        "{session}"
    );
    let turn = json_ok(
        app.get(&format!("/v1/turns/{}", ids.turn), token).await,
        200,
    )
    .await;
    assert_eq!(turn["thought"], THOUGHT);
    assert_eq!(turn["reframes"].as_array().map(Vec::len), Some(3), "{turn}");
    let goals = json_ok(app.get("/v1/lens/goals", token).await, 200).await;
    let goal = goals["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == ids.goal.as_str())
        .expect("the goal");
    assert_eq!(goal["title"], GOAL, "{goals}");
    assert_eq!(goal["actions"][0]["title"], ACTION, "{goals}");
    let reframed = json_ok(
        app.post(
            &format!("/v1/mirror/fragments/{}/reframe", ids.fragment),
            &json!({}),
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        reframed["reframes"].as_array().map(Vec::len),
        Some(3),
        "{reframed}"
    );
    let gallery = json_ok(app.get("/v1/gallery", token).await, 200).await;
    assert!(
        gallery["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["text"].is_string()),
        "{gallery}"
    );
}
