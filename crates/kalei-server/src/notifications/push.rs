//! Push delivery behind the [`Push`] trait: [`LogPush`] (development: logs a
//! redacted line) and [`WebhookPush`] (POSTs JSON to a relay you run, e.g. a
//! small service holding the APNs/FCM credentials). APNs and FCM proper can
//! be added as further implementations without touching the jobs.
//!
//! Nothing here logs a device token or message text.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::quiet::QuietHours;
use crate::config::Secret;

/// `[push]`: provider, webhook relay and the quiet-hours default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// `log` (default) or `webhook`.
    pub provider: String,
    /// Where `webhook` POSTs each push (required for `webhook`).
    pub webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer …` to the webhook, when set.
    pub webhook_secret: Option<Secret>,
    /// Whole-request timeout of one webhook call.
    pub timeout_secs: u64,
    /// Local time (user's zone) from which no push goes out, `HH:MM`.
    pub quiet_hours_start: String,
    /// Local time at which quiet hours end and delayed pushes go out, `HH:MM`.
    pub quiet_hours_end: String,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            provider: "log".into(),
            webhook_url: None,
            webhook_secret: None,
            timeout_secs: 10,
            quiet_hours_start: "22:00".into(),
            quiet_hours_end: "08:00".into(),
        }
    }
}

impl PushConfig {
    pub fn validate(&self) -> Result<(), String> {
        match self.provider.as_str() {
            "log" => {}
            "webhook" => {
                let url = self.webhook_url.as_deref().unwrap_or_default();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err("invalid configuration: push.webhook_url (KALEI_PUSH__WEBHOOK_URL) must be an http(s) URL when push.provider is `webhook`".into());
                }
            }
            other => {
                return Err(format!(
                    "invalid configuration: push.provider (KALEI_PUSH__PROVIDER) must be `log` or `webhook`, not `{other}`"
                ))
            }
        }
        if self.timeout_secs == 0 || self.timeout_secs > 120 {
            return Err(
                "invalid configuration: push.timeout_secs must be between 1 and 120".into(),
            );
        }
        if self.quiet_hours().is_none() {
            return Err("invalid configuration: push.quiet_hours_start and push.quiet_hours_end must be HH:MM (24-hour)".into());
        }
        Ok(())
    }

    pub fn quiet_hours(&self) -> Option<QuietHours> {
        QuietHours::parse(&self.quiet_hours_start, &self.quiet_hours_end)
    }
}

/// One push to one device. `title`/`body` are fixed product copy, never
/// user text. No `Debug`: it holds the token.
#[derive(Clone, Serialize)]
pub struct PushMessage<'a> {
    pub device_id: &'a str,
    /// `ios`, `android` or `web`.
    pub platform: &'a str,
    #[serde(skip)]
    pub token: &'a str,
    /// Notification kind, e.g. `weekly_brief_ready`.
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// Deep link data for the client, e.g. the brief's week.
    pub data: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Worth retrying later (network, timeout, provider 5xx/4xx).
    #[error("push not delivered: {0}")]
    Retryable(String),
    /// The provider says the token is dead (HTTP 410): forget the device.
    #[error("device token no longer registered")]
    Unregistered,
}

#[async_trait]
pub trait Push: Send + Sync {
    /// `log`, `webhook`, …
    fn name(&self) -> &'static str;
    async fn send(&self, message: &PushMessage<'_>) -> Result<(), PushError>;
}

/// Logs that a push would go out: device id, platform and kind only.
pub struct LogPush;

#[async_trait]
impl Push for LogPush {
    fn name(&self) -> &'static str {
        "log"
    }
    async fn send(&self, m: &PushMessage<'_>) -> Result<(), PushError> {
        tracing::info!(
            device_id = m.device_id,
            platform = m.platform,
            kind = m.kind,
            "push (log provider)"
        );
        Ok(())
    }
}

/// POSTs `{device_id, platform, token, kind, title, body, data}` as JSON.
/// 2xx is delivered, 410 means the token is gone, anything else (and
/// network errors or the timeout) is retried by the job queue.
pub struct WebhookPush {
    client: reqwest::Client,
    url: String,
    secret: Option<Secret>,
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    #[serde(flatten)]
    message: &'a PushMessage<'a>,
    token: &'a str,
}

impl WebhookPush {
    pub fn new(url: &str, secret: Option<Secret>, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the push webhook client: {e}"))?;
        Ok(Self {
            client,
            url: url.to_string(),
            secret,
        })
    }
}

#[async_trait]
impl Push for WebhookPush {
    fn name(&self) -> &'static str {
        "webhook"
    }
    async fn send(&self, m: &PushMessage<'_>) -> Result<(), PushError> {
        let mut req = self.client.post(&self.url).json(&WebhookBody {
            message: m,
            token: m.token,
        });
        if let Some(s) = &self.secret {
            req = req.bearer_auth(s.expose());
        }
        // `without_url`: the error text lands in the job's last_error.
        let res = req
            .send()
            .await
            .map_err(|e| PushError::Retryable(e.without_url().to_string()))?;
        let status = res.status();
        if status.is_success() {
            Ok(())
        } else if status == reqwest::StatusCode::GONE {
            Err(PushError::Unregistered)
        } else {
            Err(PushError::Retryable(format!("webhook answered {status}")))
        }
    }
}

/// The configured provider.
pub fn from_config(c: &PushConfig) -> Result<Arc<dyn Push>, String> {
    Ok(match c.provider.as_str() {
        "webhook" => Arc::new(WebhookPush::new(
            c.webhook_url.as_deref().unwrap_or_default(),
            c.webhook_secret.clone(),
            Duration::from_secs(c.timeout_secs),
        )?),
        _ => Arc::new(LogPush),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked() {
        PushConfig::default().validate().unwrap();
        let c = PushConfig {
            provider: "webhook".into(),
            ..PushConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("push.webhook_url"));
        let c = PushConfig {
            provider: "apns".into(),
            ..PushConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("push.provider"));
        let c = PushConfig {
            quiet_hours_end: "8am".into(),
            ..PushConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("quiet_hours"));
    }

    #[test]
    fn messages_never_serialise_the_token_by_themselves() {
        let m = PushMessage {
            device_id: "d1",
            platform: "ios",
            token: "secret-token",
            kind: "weekly_brief_ready",
            title: "t",
            body: "b",
            data: serde_json::json!({}),
        };
        assert!(!serde_json::to_string(&m).unwrap().contains("secret-token"));
    }
}
