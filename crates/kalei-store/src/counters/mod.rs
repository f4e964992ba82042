//! Counters, rate limits and a small cache behind one interface, with an
//! in-process implementation (the embedded default) and a Redis one (shared
//! across replicas). Both pass the same test suite (`suite` below).

mod memory;
mod redis_backend;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryCounters;
pub use redis_backend::RedisCounters;

use crate::error::StoreResult;

/// The outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u64,
    /// Requests still allowed right now after this one.
    pub remaining: u64,
    /// When denied, how long until one more request is allowed.
    pub retry_after: Duration,
}

/// The outcome of a bounded increment (budget reservations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved; the counter now holds this value.
    Granted(i64),
    /// Not reserved: the counter would pass the limit; it holds this value.
    Denied(i64),
}

#[async_trait]
pub trait Counters: Send + Sync + std::fmt::Debug {
    /// Adds `delta` to `key` (a missing key starts at 0 and expires after
    /// `ttl`; an existing key keeps its expiry). Returns the new value.
    async fn incr(&self, key: &str, delta: i64, ttl: Duration) -> StoreResult<i64>;

    /// The current value of `key` (0 when missing or expired).
    async fn get(&self, key: &str) -> StoreResult<i64>;

    /// Atomically adds `amount` only if the result stays `<= limit`: the
    /// reserve half of reserve-then-reconcile budgets (reconcile with `incr`).
    async fn reserve(
        &self,
        key: &str,
        amount: i64,
        limit: i64,
        ttl: Duration,
    ) -> StoreResult<Reservation>;

    /// GCRA rate limit: at most `limit` requests per `window`, spread evenly
    /// once the burst is spent.
    async fn rate_limit(
        &self,
        key: &str,
        limit: u64,
        window: Duration,
    ) -> StoreResult<RateDecision>;

    /// Sets `key` only when absent. True when this call set it.
    async fn set_once(&self, key: &str, ttl: Duration) -> StoreResult<bool>;

    async fn cache_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    async fn cache_set(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()>;
    async fn cache_delete(&self, key: &str) -> StoreResult<()>;

    /// Which implementation this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
}

pub type SharedCounters = Arc<dyn Counters>;

/// GCRA state transition shared by both implementations (Redis runs the same
/// arithmetic in Lua). Times in milliseconds. Returns the decision and the new
/// theoretical arrival time to store when allowed.
pub(crate) fn gcra(
    now_ms: i64,
    stored_tat_ms: Option<i64>,
    limit: u64,
    window: Duration,
) -> (RateDecision, Option<i64>) {
    let limit = limit.max(1);
    let window_ms = window.as_millis().max(1) as i64;
    let interval = (window_ms / limit as i64).max(1);
    let tat = stored_tat_ms.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat + interval;
    let allow_at = new_tat - window_ms;
    if now_ms < allow_at {
        let retry = (allow_at - now_ms) as u64;
        (
            RateDecision {
                allowed: false,
                limit,
                remaining: 0,
                retry_after: Duration::from_millis(retry),
            },
            None,
        )
    } else {
        let remaining = ((window_ms - (new_tat - now_ms)) / interval).max(0) as u64;
        (
            RateDecision {
                allowed: true,
                limit,
                remaining,
                retry_after: Duration::ZERO,
            },
            Some(new_tat),
        )
    }
}

/// The behaviour every implementation must show; run against each backend.
#[cfg(any(test, feature = "testing"))]
pub mod suite {
    use super::*;

    fn key(name: &str) -> String {
        format!("test:{}:{name}", uuid::Uuid::new_v4().simple())
    }

    pub async fn run_all(c: &dyn Counters) {
        incr_and_get(c).await;
        keys_expire(c).await;
        reserve_never_overspends(c).await;
        rate_limit_allows_burst_then_denies(c).await;
        set_once_is_once(c).await;
        cache_roundtrip(c).await;
    }

    pub async fn incr_and_get(c: &dyn Counters) {
        let k = key("incr");
        assert_eq!(c.get(&k).await.unwrap(), 0);
        assert_eq!(c.incr(&k, 2, Duration::from_secs(60)).await.unwrap(), 2);
        assert_eq!(c.incr(&k, 3, Duration::from_secs(60)).await.unwrap(), 5);
        assert_eq!(c.incr(&k, -1, Duration::from_secs(60)).await.unwrap(), 4);
        assert_eq!(c.get(&k).await.unwrap(), 4);
    }

    pub async fn keys_expire(c: &dyn Counters) {
        let k = key("expire");
        c.incr(&k, 1, Duration::from_millis(50)).await.unwrap();
        c.cache_set(&k, b"v", Duration::from_millis(50))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(c.get(&k).await.unwrap(), 0);
        assert_eq!(c.cache_get(&k).await.unwrap(), None);
    }

    pub async fn reserve_never_overspends(c: &dyn Counters) {
        let k = key("budget");
        let ttl = Duration::from_secs(60);
        // 50 concurrent reservations of 7 against a limit of 100: exactly 14 fit.
        let results = futures::future::join_all((0..50).map(|_| c.reserve(&k, 7, 100, ttl))).await;
        let granted = results
            .iter()
            .filter(|r| matches!(r, Ok(Reservation::Granted(_))))
            .count();
        assert_eq!(granted, 14);
        assert_eq!(c.get(&k).await.unwrap(), 98);
        assert!(matches!(
            c.reserve(&k, 3, 100, ttl).await.unwrap(),
            Reservation::Denied(98)
        ));
        // Reconcile: give back an unused part, then it fits.
        c.incr(&k, -5, ttl).await.unwrap();
        assert!(matches!(
            c.reserve(&k, 3, 100, ttl).await.unwrap(),
            Reservation::Granted(96)
        ));
    }

    pub async fn rate_limit_allows_burst_then_denies(c: &dyn Counters) {
        let k = key("rl");
        let window = Duration::from_secs(60);
        for i in 0..5u64 {
            let d = c.rate_limit(&k, 5, window).await.unwrap();
            assert!(d.allowed, "request {i} should pass");
            assert_eq!(d.remaining, 4 - i);
        }
        let d = c.rate_limit(&k, 5, window).await.unwrap();
        assert!(!d.allowed);
        assert!(d.retry_after > Duration::ZERO && d.retry_after <= Duration::from_secs(12));
        // A different key is independent.
        assert!(
            c.rate_limit(&key("other"), 5, window)
                .await
                .unwrap()
                .allowed
        );
        // After the emission interval one more request is allowed.
        let k2 = key("rl-fast");
        let w = Duration::from_millis(200);
        assert!(c.rate_limit(&k2, 2, w).await.unwrap().allowed);
        assert!(c.rate_limit(&k2, 2, w).await.unwrap().allowed);
        assert!(!c.rate_limit(&k2, 2, w).await.unwrap().allowed);
        tokio::time::sleep(Duration::from_millis(130)).await;
        assert!(c.rate_limit(&k2, 2, w).await.unwrap().allowed);
    }

    pub async fn set_once_is_once(c: &dyn Counters) {
        let k = key("once");
        assert!(c.set_once(&k, Duration::from_secs(60)).await.unwrap());
        assert!(!c.set_once(&k, Duration::from_secs(60)).await.unwrap());
    }

    pub async fn cache_roundtrip(c: &dyn Counters) {
        let k = key("cache");
        assert_eq!(c.cache_get(&k).await.unwrap(), None);
        c.cache_set(&k, b"hello", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            c.cache_get(&k).await.unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        c.cache_set(&k, b"again", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            c.cache_get(&k).await.unwrap().as_deref(),
            Some(&b"again"[..])
        );
        c.cache_delete(&k).await.unwrap();
        assert_eq!(c.cache_get(&k).await.unwrap(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_burst_then_spacing() {
        let w = Duration::from_secs(10);
        let mut tat = None;
        for _ in 0..5 {
            let (d, t) = gcra(0, tat, 5, w);
            assert!(d.allowed);
            tat = t;
        }
        let (d, _) = gcra(0, tat, 5, w);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(2));
        let (d, _) = gcra(2_000, tat, 5, w);
        assert!(d.allowed);
    }

    #[tokio::test]
    async fn memory_counters_pass_the_suite() {
        suite::run_all(&MemoryCounters::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_counters_pass_the_suite() {
        let Some(url) = crate::testing::service_url(crate::testing::REDIS_ENV) else {
            return;
        };
        let c = RedisCounters::connect(&url, "kalei-test")
            .await
            .expect("redis");
        suite::run_all(&c).await;
    }
}
