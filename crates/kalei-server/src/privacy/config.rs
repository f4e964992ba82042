//! `[privacy]` and `[retention]` settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Account deletion and consent defaults (`[privacy]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Days between `DELETE /v1/me` and the purge; signing in during them
    /// cancels the deletion. 0 purges at the next worker run.
    pub deletion_grace_days: u32,
    /// The answer for a purpose the user never recorded
    /// (`[privacy.consent_defaults]`, e.g. `analytics = false`).
    pub consent_defaults: BTreeMap<String, bool>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            deletion_grace_days: 7,
            consent_defaults: super::consents::Purpose::ALL
                .iter()
                .map(|p| (p.as_str().to_string(), p.default_granted()))
                .collect(),
        }
    }
}

impl PrivacyConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.deletion_grace_days > 90 {
            return Err(
                "invalid configuration: privacy.deletion_grace_days must be between 0 and 90"
                    .into(),
            );
        }
        for purpose in self.consent_defaults.keys() {
            if super::consents::Purpose::parse(purpose).is_none() {
                return Err(format!(
                    "invalid configuration: privacy.consent_defaults.{purpose} is not a consent purpose \
                     (analytics, ai_processing_remote, marketing)"
                ));
            }
        }
        Ok(())
    }

    pub fn grace_ms(&self) -> i64 {
        i64::from(self.deletion_grace_days) * DAY_MS
    }
}

pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// How long kept records live (`[retention]`), enforced by the daily
/// `privacy.retention` job. 0 days = keep forever. Records older than
/// `anonymise_after_days` lose what ties them to a person (user id, IP hash,
/// user hash, free-form detail) but keep what they count.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub safety_events_days: u32,
    pub audit_events_days: u32,
    pub ai_usage_events_days: u32,
    pub analytics_events_days: u32,
    pub anonymise_after_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            // A year of safety history for trend reports and incident review.
            safety_events_days: 365,
            // Security investigations rarely look back further than a year.
            audit_events_days: 365,
            // Thirteen months: year-over-year cost comparisons.
            ai_usage_events_days: 395,
            analytics_events_days: 395,
            // A month of linkable history is enough to investigate abuse.
            anonymise_after_days: 30,
        }
    }
}

impl RetentionConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.anonymise_after_days == 0 {
            return Err(
                "invalid configuration: retention.anonymise_after_days must be at least 1".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_name_every_purpose() {
        let p = PrivacyConfig::default();
        p.validate().unwrap();
        assert_eq!(p.deletion_grace_days, 7);
        assert_eq!(p.consent_defaults.get("ai_processing_remote"), Some(&true));
        assert_eq!(p.consent_defaults.get("analytics"), Some(&false));
        assert_eq!(p.consent_defaults.get("marketing"), Some(&false));
        RetentionConfig::default().validate().unwrap();
    }

    #[test]
    fn invalid_settings_are_named() {
        let p = PrivacyConfig {
            deletion_grace_days: 365,
            ..PrivacyConfig::default()
        };
        assert!(p.validate().unwrap_err().contains("deletion_grace_days"));
        let mut p = PrivacyConfig::default();
        p.consent_defaults.insert("telemetry".into(), true);
        assert!(p
            .validate()
            .unwrap_err()
            .contains("consent_defaults.telemetry"));
        let r = RetentionConfig {
            anonymise_after_days: 0,
            ..RetentionConfig::default()
        };
        assert!(r.validate().unwrap_err().contains("anonymise_after_days"));
    }

    #[test]
    fn a_toml_table_overrides_one_default_and_keeps_the_others() {
        use figment::providers::{Format, Serialized, Toml};
        let p: PrivacyConfig =
            figment::Figment::from(Serialized::defaults(PrivacyConfig::default()))
                .merge(Toml::string(
                    "deletion_grace_days = 14\n[consent_defaults]\nanalytics = true\n",
                ))
                .extract()
                .unwrap();
        assert_eq!(p.deletion_grace_days, 14);
        assert_eq!(p.consent_defaults.get("analytics"), Some(&true));
        assert_eq!(p.consent_defaults.get("ai_processing_remote"), Some(&true));
    }
}
