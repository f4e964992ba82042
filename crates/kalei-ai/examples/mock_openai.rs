//! The tests' mock OpenAI-compatible server as a process, for benchmarks:
//! `cargo run --release -p kalei-ai --example mock_openai -- 127.0.0.1:18080 50`
//! (address, provider latency in ms). Answers schema-valid content for the
//! feature named in `response_format`, with `usage`.

#[path = "../tests/common/mock.rs"]
mod mock;

use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18080".into());
    let delay_ms: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let cfg = mock::MockConfig {
            delay: Duration::from_millis(delay_ms),
            ..Default::default()
        };
        let m = mock::Mock::start_on(&addr, cfg, false).await;
        println!("mock listening on {} (delay {delay_ms} ms)", m.addr);
        std::future::pending::<()>().await;
    });
}
