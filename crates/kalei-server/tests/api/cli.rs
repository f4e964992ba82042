//! The `kalei` binary itself: configuration errors, `config`, `migrate`, and
//! `serve` with graceful shutdown on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kalei() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kalei"));
    // Only what the test sets: no stray KALEI_* from the environment.
    for (k, _) in std::env::vars() {
        if k.starts_with("KALEI_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn invalid_configuration_names_the_setting_and_exits_non_zero() {
    let out = kalei()
        .env("KALEI_LISTEN", "not-an-address")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("KALEI_LISTEN"), "{err}");

    let out = kalei()
        .env("KALEI_DATABASE_URL", "mysql://x/y")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KALEI_DATABASE_URL"));

    let out = kalei()
        .env("KALEI_AUTH__ACCESS_TTL_SECS", "soon")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .to_lowercase()
        .contains("access_ttl_secs"));

    let out = kalei()
        .arg("--config")
        .arg("/nonexistent/kalei.toml")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn config_prints_effective_settings_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kalei.toml"),
        "listen = \"127.0.0.1:9999\"\n[auth]\naccess_ttl_secs = 600\n",
    )
    .unwrap();
    let out = kalei()
        .current_dir(dir.path())
        .env("KALEI_DATABASE_URL", "postgres://kalei:hunter2@db/kalei")
        .env(
            "KALEI_AUTH__SIGNING_KEY",
            "a-very-long-signing-key-that-is-secret-123",
        )
        .env("KALEI_AUTH__ACCESS_TTL_SECS", "300")
        .env("KALEI_AI_BASE_URL", "http://127.0.0.1:9/v1")
        .env("KALEI_AI_MODEL", "deepseek/deepseek-chat")
        .env("KALEI_AI_API_KEY", "sk-very-secret-key")
        .env("KALEI_TEST_SOMETHING", "ignored")
        .arg("config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("127.0.0.1:9999"), "file layer: {text}");
    assert!(
        text.contains("access_ttl_secs = 300"),
        "env beats file: {text}"
    );
    assert!(!text.contains("hunter2") && !text.contains("a-very-long-signing-key"));
    assert!(
        !text.contains("sk-very-secret-key"),
        "AI key leaked: {text}"
    );
    assert!(
        text.contains("deepseek/deepseek-chat"),
        "KALEI_AI_* set the simple route: {text}"
    );
    assert!(text.contains("[redacted]"));
}

#[test]
fn migrate_then_serve_then_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = kalei()
        .env("KALEI_DATA_DIR", &data)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("kalei.db").exists());

    // Find a free port, then serve on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = kalei()
        .env("KALEI_DATA_DIR", &data)
        .env("KALEI_LISTEN", format!("127.0.0.1:{port}"))
        .args(["serve", "--role", "api"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                up = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "server did not answer /healthz");
    // A request whose body holds private text: it must never reach the logs.
    {
        use std::io::{Read, Write};
        let body = r#"{"email":"private-marker@example.com","password":"secret-marker-password","display_name":"Marker Name"}"#;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "POST /v1/auth/register?note=query-marker HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        assert!(buf.starts_with("HTTP/1.1 201"), "{buf}");
    }
    assert!(
        data.join("signing.key").exists(),
        "signing key generated on first start"
    );
    // SIGTERM: graceful exit with status 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut logs = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("kalei serving"), "{logs}");
    // One JSON access line per request, with route and status, no content.
    assert!(logs.contains(r#""route":"/v1/auth/register""#), "{logs}");
    assert!(logs.contains(r#""status":201"#));
    for private in [
        "private-marker",
        "secret-marker-password",
        "Marker Name",
        "query-marker",
    ] {
        assert!(!logs.contains(private), "`{private}` leaked into the logs");
    }
    assert!(logs.contains("shutdown signal received"));
}

#[test]
fn jobs_cli_lists_runs_cron_and_reports_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        kalei()
            .env("KALEI_DATA_DIR", &data)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["jobs", "run-cron", "prune-idempotency-keys"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["jobs", "list", "--state", "available"]);
    assert!(out.status.success());
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        page["items"][0]["kind"],
        "maintenance.prune_idempotency_keys"
    );
    let out = run(&["jobs", "show", &id]);
    assert!(out.status.success());
    let out = run(&["jobs", "cancel", &id]);
    assert!(out.status.success());
    let out = run(&["jobs", "retry", &id]);
    assert!(out.status.success());

    for (args, needle) in [
        (vec!["jobs", "list", "--state", "bogus"], "unknown state"),
        (vec!["jobs", "show", "no-such-id"], "no job"),
        (vec!["jobs", "run-cron", "nope"], "no cron schedule"),
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
