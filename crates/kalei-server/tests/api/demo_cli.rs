//! `kalei demo` as a user runs it: the binary, a data directory (SQLite) or
//! `KALEI_DATABASE_URL` (Postgres, when the test service is configured),
//! twice on the same database.

use std::process::Command;

use kalei_store::testing::{Backend, TestDb};
use serde_json::Value;

fn kalei() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kalei"));
    for (k, _) in std::env::vars() {
        if k.starts_with("KALEI_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("KALEI_LOG__LEVEL", "warn");
    cmd
}

fn run_demo(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "kalei demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn check_report(report: &Value) {
    assert!(report["email"].as_str().unwrap().starts_with("demo-"));
    assert_eq!(report["password"].as_str().unwrap().len(), 20);
    assert!(report["docs_url"].as_str().unwrap().ends_with("/api/docs"));
    let weeks = report["weekly"]["items"].as_array().unwrap();
    assert_eq!(weeks.len(), 8, "eight weeks in the feed");
    let mut valences = Vec::new();
    for w in weeks {
        assert_eq!(w["teaser"], false, "the demo user has the full feed");
        assert!(w["sessions"].as_i64().unwrap() >= 3, "{w}");
        assert!(w["turns"].as_i64().unwrap() >= 1, "{w}");
        assert_eq!(w["vector"]["samples"], w["sessions"]);
        assert!(w["activity"]["messages"].as_i64().unwrap() >= 6);
        assert!(w["activity"]["words"].as_i64().unwrap() > 50);
        assert!(w["turn_impact"]["rated_turns"].as_i64().unwrap() >= 1);
        assert!(
            w["turn_impact"]["mean_belief_change"].as_f64().unwrap() < 0.0,
            "{w}"
        );
        assert_eq!(w["landscape"].as_array().unwrap().len(), 7);
        assert!(!w["insight"]["text"].as_str().unwrap().is_empty());
        valences.push(w["vector"]["mean"]["valence"].as_f64().unwrap());
    }
    // Not a flat line: the writer's mood moves over the weeks.
    let (lo, hi) = valences
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert!(hi - lo > 0.05, "{valences:?}");
    assert!(weeks
        .iter()
        .any(|w| !w["patterns"].as_array().unwrap().is_empty()));
    let m = &report["monthly"];
    assert!(m["sessions"].as_i64().unwrap() >= 3, "{m}");
    assert!(m["landscape"].as_array().unwrap().len() >= 28);
    assert!(
        m["insight"]["text"]
            .as_str()
            .unwrap()
            .contains("This month"),
        "{m}"
    );
}

fn demo_twice(configure: impl Fn(&mut Command)) {
    let mut first = kalei();
    configure(&mut first);
    let out = run_demo(first.args(["demo", "--json", "--timezone", "Pacific/Auckland"]));
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    check_report(&report);

    // A second run on the same database: a new user, the text report.
    let mut second = kalei();
    configure(&mut second);
    let text = run_demo(second.arg("demo"));
    let email = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("email:"))
        .unwrap()
        .trim();
    assert_ne!(email, report["email"].as_str().unwrap());
    assert!(text.contains("Weekly feed"), "{text}");
    assert!(text.contains("Monthly deep dive"), "{text}");
    assert!(text.contains("/api/docs"), "{text}");
    assert_eq!(text.matches("insight:").count(), 8, "{text}");
}

#[test]
fn demo_on_a_sqlite_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    demo_twice(|cmd| {
        cmd.env("KALEI_DATA_DIR", &data);
    });
}

#[tokio::test]
async fn demo_on_postgres_via_database_url() {
    let Some(db) = TestDb::new_unmigrated(Backend::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        demo_twice(|cmd| {
            cmd.env("KALEI_DATA_DIR", &data)
                .env("KALEI_DATABASE_URL", &url);
        })
    })
    .await
    .unwrap();
}
