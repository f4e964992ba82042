//! Retry delays: exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

/// `delay(attempt) = min(base · 2^(attempt-1), max)` scaled by a random factor
/// in `[1 - jitter, 1 + jitter]` (and capped at `max` again), so failed jobs
/// spread out instead of retrying in lockstep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    /// 0.0 (none) to 1.0.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 2 s, 4 s, 8 s, … capped at one hour, ±25 %: 20 attempts span about 13 h.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(3600),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// Delay before retrying after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, rand::thread_rng().gen::<f64>())
    }

    /// Deterministic form of [`delay`](Self::delay): `r` in `[0, 1)` picks the
    /// point in the jitter band (0.5 = no jitter).
    pub fn delay_with(&self, attempt: u32, r: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(62);
        let base_ms = self.base.as_millis() as f64;
        let max_ms = self.max.as_millis() as f64;
        let raw = (base_ms * 2f64.powi(exp as i32)).min(max_ms);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter + 2.0 * jitter * r.clamp(0.0, 1.0);
        let ms = (raw * factor).min(max_ms).max(0.0);
        Duration::from_millis(ms.round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_without_jitter() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3600),
            jitter: 0.0,
        };
        let got: Vec<u64> = (1..=6).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32]);
    }

    #[test]
    fn is_capped_at_max_even_with_jitter() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.5,
        };
        for attempt in [7, 10, 30, 64, 1000, u32::MAX] {
            for r in [0.0, 0.5, 0.999] {
                assert!(p.delay_with(attempt, r) <= Duration::from_secs(60));
            }
        }
        assert_eq!(p.delay_with(1000, 0.999), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_the_band() {
        let p = RetryPolicy {
            base: Duration::from_millis(1000),
            max: Duration::from_secs(3600),
            jitter: 0.25,
        };
        // attempt 3 → 4 s ± 25 %.
        assert_eq!(p.delay_with(3, 0.0), Duration::from_millis(3000));
        assert_eq!(p.delay_with(3, 0.5), Duration::from_millis(4000));
        assert!(p.delay_with(3, 0.999_999) <= Duration::from_millis(5000));
        for _ in 0..1000 {
            let d = p.delay(3);
            assert!(d >= Duration::from_millis(3000) && d <= Duration::from_millis(5000));
        }
        // Random draws actually spread.
        let draws: std::collections::HashSet<_> = (0..50).map(|_| p.delay(3)).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn attempt_zero_is_treated_as_first() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(0), p.delay(1));
    }
}
