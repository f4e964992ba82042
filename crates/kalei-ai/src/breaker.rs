//! Circuit breaker per (provider, model) target: `failure_threshold`
//! consecutive failures open it; after `open_ms` it lets
//! `half_open_probes` concurrent probes through; a successful probe closes
//! it, a failed one opens it again. Time comes from the injected clock.

use std::sync::Mutex;

use crate::config::BreakerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_gauge(&self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    opened_at: i64,
    probes: u32,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    cfg: BreakerConfig,
    target: String,
    inner: Mutex<Inner>,
}

/// Permission to make one attempt. `probe` attempts must report back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Permit {
    pub probe: bool,
}

impl Breaker {
    pub fn new(target: &str, cfg: &BreakerConfig) -> Self {
        let b = Self {
            cfg: cfg.clone(),
            target: target.to_string(),
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                opened_at: 0,
                probes: 0,
            }),
        };
        b.gauge(BreakerState::Closed);
        b
    }

    fn gauge(&self, s: BreakerState) {
        metrics::gauge!("kalei_ai_breaker_state", "target" => self.target.clone())
            .set(s.as_gauge());
    }

    pub fn state(&self, now_ms: i64) -> BreakerState {
        let g = self.inner.lock().expect("breaker lock");
        if g.state == BreakerState::Open && now_ms - g.opened_at >= self.cfg.open_ms as i64 {
            BreakerState::HalfOpen
        } else {
            g.state
        }
    }

    /// May an attempt go out now?
    pub fn try_acquire(&self, now_ms: i64) -> Option<Permit> {
        let mut g = self.inner.lock().expect("breaker lock");
        match g.state {
            BreakerState::Closed => Some(Permit { probe: false }),
            BreakerState::Open => {
                if now_ms - g.opened_at >= self.cfg.open_ms as i64 {
                    g.state = BreakerState::HalfOpen;
                    g.probes = 1;
                    drop(g);
                    self.gauge(BreakerState::HalfOpen);
                    Some(Permit { probe: true })
                } else {
                    None
                }
            }
            BreakerState::HalfOpen => {
                if g.probes < self.cfg.half_open_probes {
                    g.probes += 1;
                    Some(Permit { probe: true })
                } else {
                    None
                }
            }
        }
    }

    pub fn success(&self, p: Permit) {
        let mut g = self.inner.lock().expect("breaker lock");
        g.failures = 0;
        if p.probe || g.state != BreakerState::Closed {
            g.state = BreakerState::Closed;
            g.probes = 0;
            drop(g);
            self.gauge(BreakerState::Closed);
        }
    }

    pub fn failure(&self, p: Permit, now_ms: i64) {
        let mut g = self.inner.lock().expect("breaker lock");
        if p.probe || g.state == BreakerState::HalfOpen {
            g.state = BreakerState::Open;
            g.opened_at = now_ms;
            g.probes = 0;
            drop(g);
            self.gauge(BreakerState::Open);
            return;
        }
        g.failures += 1;
        if g.state == BreakerState::Closed && g.failures >= self.cfg.failure_threshold {
            g.state = BreakerState::Open;
            g.opened_at = now_ms;
            drop(g);
            tracing::warn!(target: "kalei_ai", ai_target = %self.target, "circuit breaker opened");
            self.gauge(BreakerState::Open);
        }
    }

    /// A probe that ended without a verdict (e.g. the caller gave up).
    pub fn release(&self, p: Permit) {
        if p.probe {
            let mut g = self.inner.lock().expect("breaker lock");
            g.probes = g.probes.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_half_opens_and_closes() {
        let b = Breaker::new(
            "t",
            &BreakerConfig {
                failure_threshold: 3,
                open_ms: 1000,
                half_open_probes: 1,
            },
        );
        for _ in 0..3 {
            let p = b.try_acquire(0).unwrap();
            b.failure(p, 0);
        }
        assert_eq!(b.state(0), BreakerState::Open);
        assert!(b.try_acquire(999).is_none());
        let probe = b.try_acquire(1000).expect("half-open probe");
        assert!(probe.probe);
        assert!(b.try_acquire(1000).is_none(), "one probe at a time");
        b.failure(probe, 1000);
        assert_eq!(b.state(1500), BreakerState::Open);
        let probe = b.try_acquire(2000).unwrap();
        b.success(probe);
        assert_eq!(b.state(2000), BreakerState::Closed);
        // A success resets the consecutive count.
        let p = b.try_acquire(2000).unwrap();
        b.failure(p, 2000);
        let p = b.try_acquire(2000).unwrap();
        b.success(p);
        for _ in 0..2 {
            let p = b.try_acquire(2000).unwrap();
            b.failure(p, 2000);
        }
        assert_eq!(b.state(2000), BreakerState::Closed);
    }
}
