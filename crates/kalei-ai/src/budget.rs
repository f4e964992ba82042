//! Budgets as reserve-then-reconcile tickets on the shared counters (atomic
//! in memory and in Redis), so concurrent calls cannot overspend:
//!
//! * per-user daily tokens: `ai:tok:<user hash>:<YYYYMMDD>` (UTC day);
//! * global monthly spend in nano-dollars: `ai:spend:<YYYYMM>` (UTC month,
//!   reservations included) and `ai:spent:<YYYYMM>` (settled spend only, for
//!   alerts and the degradation order).
//!
//! Before each remote attempt the worst case (prompt estimate + `max_tokens`,
//! priced) is reserved; afterwards the difference to the actual usage is
//! given back (or added). Alerts at the configured percentages of the cap
//! fire once per month each (`set_once`), to the log and a Slack-compatible
//! webhook. Counter errors fail open (logged and counted): an unreachable
//! Redis should not take AI down.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};
use kalei_store::counters::{Reservation, SharedCounters};
use kalei_store::Clock;

use crate::config::BudgetConfig;
use crate::types::BudgetKind;

const DAY_TTL: Duration = Duration::from_secs(2 * 86_400);
const MONTH_TTL: Duration = Duration::from_secs(35 * 86_400);
const ALERT_TTL: Duration = Duration::from_secs(40 * 86_400);

pub(crate) struct Budgets {
    pub cfg: BudgetConfig,
    counters: SharedCounters,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

/// What one attempt holds until it reconciles.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    user: Option<(String, i64)>,
    spend: Option<(String, i64)>,
}

fn day_key(ms: i64) -> String {
    let t = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    t.format("%Y%m%d").to_string()
}

/// The counter keys that may hold `user_hash`'s token budget at `now_ms`
/// (a key lives two days: today's and the two days before). Account purge
/// deletes them.
pub fn user_token_keys(user_hash: &str, now_ms: i64) -> Vec<String> {
    (0..3)
        .map(|d| format!("ai:tok:{user_hash}:{}", day_key(now_ms - d * 86_400_000)))
        .collect()
}

fn month_key(ms: i64) -> String {
    let t = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    t.format("%Y%m").to_string()
}

/// Start of the next UTC day / month after `ms`, in unix ms.
pub(crate) fn next_period_start(which: BudgetKind, ms: i64) -> i64 {
    let t = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    let d = t.date_naive();
    let next = match which {
        BudgetKind::UserDailyTokens => d.succ_opt().unwrap_or(d),
        BudgetKind::GlobalMonthlySpend => {
            let (y, m) = if d.month() == 12 {
                (d.year() + 1, 1)
            } else {
                (d.year(), d.month() + 1)
            };
            chrono::NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
        }
    };
    next.and_hms_opt(0, 0, 0)
        .map(|n| n.and_utc().timestamp_millis())
        .unwrap_or(ms)
}

fn store_error(what: &str, e: impl std::fmt::Display) {
    metrics::counter!("kalei_ai_budget_store_errors_total").increment(1);
    tracing::warn!(target: "kalei_ai", error = %e, "budget counter {what} failed; allowing the call");
}

impl Budgets {
    pub fn new(
        cfg: BudgetConfig,
        counters: SharedCounters,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            cfg,
            counters,
            clock,
            http,
        }
    }

    pub fn spend_capped(&self) -> bool {
        self.cfg.global_monthly_cap_nanos > 0
    }

    /// Reserves `tokens` for the user and `nanos` of global spend.
    pub async fn reserve(
        &self,
        user_hash: &str,
        tokens: i64,
        nanos: i64,
    ) -> Result<Ticket, BudgetKind> {
        let now = self.clock.now_ms();
        let mut ticket = Ticket::default();
        if self.cfg.user_daily_tokens > 0 {
            let key = format!("ai:tok:{user_hash}:{}", day_key(now));
            match self
                .counters
                .reserve(&key, tokens, self.cfg.user_daily_tokens, DAY_TTL)
                .await
            {
                Ok(Reservation::Granted(_)) => ticket.user = Some((key, tokens)),
                Ok(Reservation::Denied(_)) => return Err(BudgetKind::UserDailyTokens),
                Err(e) => store_error("reserve", e),
            }
        }
        if self.spend_capped() {
            let key = format!("ai:spend:{}", month_key(now));
            match self
                .counters
                .reserve(&key, nanos, self.cfg.global_monthly_cap_nanos, MONTH_TTL)
                .await
            {
                Ok(Reservation::Granted(_)) => ticket.spend = Some((key, nanos)),
                Ok(Reservation::Denied(_)) => {
                    self.release(ticket).await;
                    return Err(BudgetKind::GlobalMonthlySpend);
                }
                Err(e) => store_error("reserve", e),
            }
        }
        Ok(ticket)
    }

    /// Settles a ticket with what the attempt actually used.
    pub async fn reconcile(&self, ticket: Ticket, tokens: i64, nanos: i64) {
        if let Some((key, reserved)) = ticket.user {
            if tokens != reserved {
                if let Err(e) = self.counters.incr(&key, tokens - reserved, DAY_TTL).await {
                    store_error("reconcile", e);
                }
            }
        }
        if let Some((key, reserved)) = ticket.spend {
            if nanos != reserved {
                if let Err(e) = self.counters.incr(&key, nanos - reserved, MONTH_TTL).await {
                    store_error("reconcile", e);
                }
            }
            if nanos > 0 {
                // Actual spend (without in-flight reservations): alerts and
                // the degradation order read this one.
                let spent_key = key.replacen("ai:spend:", "ai:spent:", 1);
                match self.counters.incr(&spent_key, nanos, MONTH_TTL).await {
                    Ok(v) => self.check_alerts(v).await,
                    Err(e) => store_error("reconcile", e),
                }
            }
        }
    }

    /// Gives a whole ticket back (the attempt never reached a provider).
    pub async fn release(&self, ticket: Ticket) {
        self.reconcile(ticket, 0, 0).await
    }

    /// This month's spend as a percentage of the cap (None when uncapped).
    pub async fn month_percent(&self) -> Option<f64> {
        if !self.spend_capped() {
            return None;
        }
        let key = format!("ai:spent:{}", month_key(self.clock.now_ms()));
        match self.counters.get(&key).await {
            Ok(v) => Some(v as f64 * 100.0 / self.cfg.global_monthly_cap_nanos as f64),
            Err(e) => {
                store_error("read", e);
                None
            }
        }
    }

    async fn check_alerts(&self, spend: i64) {
        let cap = self.cfg.global_monthly_cap_nanos;
        if cap <= 0 {
            return;
        }
        let month = month_key(self.clock.now_ms());
        for &pct in &self.cfg.alert_thresholds {
            if (spend as i128) * 100 < (pct as i128) * (cap as i128) {
                continue;
            }
            let key = format!("ai:alert:{month}:{pct}");
            match self.counters.set_once(&key, ALERT_TTL).await {
                Ok(true) => self.alert(pct, spend, &month),
                Ok(false) => {}
                Err(e) => store_error("alert", e),
            }
        }
    }

    fn alert(&self, pct: u8, spend: i64, month: &str) {
        let cap = self.cfg.global_monthly_cap_nanos;
        let text = format!(
            "Kalei AI spend reached {pct}% of the monthly cap: {:.2} of {:.2} USD ({}-{}).",
            spend as f64 / 1e9,
            cap as f64 / 1e9,
            &month[..4],
            &month[4..]
        );
        metrics::counter!("kalei_ai_budget_alerts_total", "percent" => pct.to_string())
            .increment(1);
        tracing::warn!(target: "kalei_ai", percent = pct, spend_nanos = spend, cap_nanos = cap, "{text}");
        if let Some(url) = &self.cfg.alert_webhook_url {
            let req = self
                .http
                .post(url.expose())
                .timeout(Duration::from_secs(5))
                .json(&serde_json::json!({ "text": text }));
            tokio::spawn(async move {
                match req.send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => {
                        tracing::warn!(target: "kalei_ai", status = %r.status(), "budget alert webhook refused")
                    }
                    Err(e) => {
                        tracing::warn!(target: "kalei_ai", error = %e, "budget alert webhook failed")
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        // 2026-12-31T23:00:00Z
        let ms = Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(day_key(ms), "20261231");
        assert_eq!(month_key(ms), "202612");
        assert_eq!(
            next_period_start(BudgetKind::UserDailyTokens, ms),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            next_period_start(BudgetKind::GlobalMonthlySpend, ms),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
    }
}
