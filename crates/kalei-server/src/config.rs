//! Configuration: defaults → `kalei.toml` (or the file named by `KALEI_CONFIG`)
//! → `KALEI_*` environment variables (nested keys with `__`, e.g.
//! `KALEI_AUTH__ACCESS_TTL_SECS`). Secrets are redacted in `Debug` and in
//! `kalei config`. Invalid settings stop the start with a message naming them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A string that never shows up in logs, `Debug` output or `kalei config`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port the HTTP server binds (`KALEI_LISTEN`).
    pub listen: String,
    /// Where the SQLite database and generated keys live (`KALEI_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…` (`KALEI_DATABASE_URL`); default
    /// `sqlite://<data_dir>/kalei.db`.
    pub database_url: Option<Secret>,
    /// Redis for shared counters, rate limits and cache (`KALEI_REDIS_URL`);
    /// default: in-process.
    pub redis_url: Option<Secret>,
    /// Namespace for every Redis key, so deployments can share a server.
    pub redis_key_prefix: String,
    /// Apply pending migrations when `serve`/`worker` start.
    pub migrate_on_start: bool,
    pub database_max_connections: u32,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub jobs: JobsConfig,
    /// Limits per plan (`[plans.free]`, `[plans.prism]`, `[plans.prism_plus]`).
    pub plans: crate::entitlements::PlansConfig,
    pub encryption: EncryptionConfig,
    /// Store notification verification (`[billing.apple]`, `[billing.google]`).
    pub billing: crate::billing::BillingConfig,
    /// The AI gateway (`[ai]`: targets, routes per feature, budgets…).
    /// `KALEI_AI_BASE_URL` + `KALEI_AI_MODEL` (+ `KALEI_AI_API_KEY`) put one
    /// OpenAI-compatible target in front of `local` for every feature.
    pub ai: kalei_ai::GatewayConfig,
    /// Account deletion grace period and consent defaults (`[privacy]`).
    pub privacy: crate::privacy::config::PrivacyConfig,
    /// How long kept records live (`[retention]`).
    pub retention: crate::privacy::config::RetentionConfig,
    /// Push notifications (`[push]`: provider, webhook, quiet hours).
    pub push: crate::notifications::PushConfig,
}

/// Column encryption keys. Default: generated into `<data_dir>/encryption.keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncryptionConfig {
    /// Key id used for new writes.
    pub active_key: Option<String>,
    /// key id → base64 of 32 random bytes (`KALEI_ENCRYPTION__KEYS__K1=…`).
    pub keys: std::collections::BTreeMap<String, Secret>,
    /// How often a running process checks the key file for a rotation
    /// (seconds; 0 = never, restart instead). Unused with configured keys.
    pub reload_secs: u64,
}

impl Default for EncryptionConfig {
    fn default() -> Self {
        EncryptionConfig {
            active_key: None,
            keys: Default::default(),
            reload_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Queues this process works, e.g. `analysis=8,spectrum=2`; empty = all.
    pub queues: String,
    /// Concurrency of a queue named without `=n`.
    pub concurrency: usize,
    /// Heartbeat lease: a dead worker's jobs run again after about this long.
    pub lease_secs: u64,
    /// How long shutdown waits for running jobs before handing them back.
    pub shutdown_grace_secs: u64,
    pub completed_retention_hours: u64,
    /// How long dead-lettered (discarded) and cancelled jobs are kept.
    pub dead_letter_retention_days: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            queues: String::new(),
            concurrency: 8,
            lease_secs: 30,
            shutdown_grace_secs: 20,
            completed_retention_hours: 24,
            dead_letter_retention_days: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` (default) or `pretty`.
    pub format: String,
    /// A `tracing` filter, e.g. `info,kalei_server=debug`.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest accepted request body in bytes.
    pub body_limit_bytes: usize,
    /// Allowed CORS origins; empty means no cross-origin access.
    pub cors_origins: Vec<String>,
    /// Whole-request timeout in seconds.
    pub request_timeout_secs: u64,
    /// Take the client IP from the right-most `X-Forwarded-For` entry, the
    /// one your proxy appended (only behind exactly one trusted proxy).
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 key for access tokens; default: generated into
    /// `<data_dir>/signing.key` on first start. Replicas must share it.
    pub signing_key: Option<Secret>,
    pub issuer: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_days: u64,
    /// Emails that get the admin role when they register or sign in.
    pub admin_emails: Vec<String>,
    pub login_per_ip_per_minute: u64,
    pub login_per_account_per_15min: u64,
    pub register_per_ip_per_hour: u64,
    pub apple: Option<SocialConfig>,
    pub google: Option<SocialConfig>,
}

/// One social identity provider: its issuer, our client ids, and its JWKS
/// (inline JSON or a file path).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialConfig {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub jwks: Option<String>,
    pub jwks_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_key_prefix: "kalei".into(),
            migrate_on_start: true,
            database_max_connections: 16,
            log: LogConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            jobs: JobsConfig::default(),
            plans: crate::entitlements::PlansConfig::default(),
            encryption: EncryptionConfig::default(),
            billing: crate::billing::BillingConfig::default(),
            ai: kalei_ai::GatewayConfig::default(),
            privacy: crate::privacy::config::PrivacyConfig::default(),
            retention: crate::privacy::config::RetentionConfig::default(),
            push: crate::notifications::PushConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "json".into(),
            level: "info".into(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 256 * 1024,
            cors_origins: Vec::new(),
            request_timeout_secs: 30,
            trust_forwarded_for: false,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            signing_key: None,
            issuer: "kalei".into(),
            access_ttl_secs: 15 * 60,
            refresh_ttl_days: 30,
            admin_emails: Vec::new(),
            login_per_ip_per_minute: 20,
            login_per_account_per_15min: 10,
            register_per_ip_per_hour: 20,
            apple: None,
            google: None,
        }
    }
}

/// Environment variables with the `KALEI_` prefix that are not settings.
/// (`KALEI_AI_*` are read by `GatewayConfig::apply_simple_env`.)
const NON_SETTING_ENV: &[&str] = &["config", "ai_base_url", "ai_api_key", "ai_model"];

impl Config {
    /// Loads the layered configuration. `file` overrides `KALEI_CONFIG`; a
    /// missing default `kalei.toml` is fine, a missing named file is not.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let named = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("KALEI_CONFIG").map(PathBuf::from));
        if let Some(path) = &named {
            if !path.exists() {
                return Err(format!(
                    "configuration file {} does not exist",
                    path.display()
                ));
            }
        }
        let path = named.unwrap_or_else(|| PathBuf::from("kalei.toml"));
        let env = Env::prefixed("KALEI_").split("__").filter(|k| {
            // Keys arrive as written in the environment (upper case).
            let k = k.as_str().to_ascii_lowercase();
            !NON_SETTING_ENV.contains(&k.as_str()) && !k.starts_with("test_")
        });
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&path))
            .merge(env)
            .extract()
            .map_err(|e| {
                e.into_iter()
                    .map(|e| format!("invalid configuration: {e}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        config.ai.apply_simple_env();
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: formats, ranges and combinations.
    pub fn validate(&self) -> Result<(), String> {
        self.listen_addr()?;
        self.ai
            .validate()
            .map_err(|e| format!("invalid configuration: ai: {e}"))?;
        self.privacy.validate()?;
        self.retention.validate()?;
        self.push.validate()?;
        let db = self.database_url();
        kalei_store::Dialect::from_url(&db).map_err(|e| {
            format!("invalid configuration: database_url (KALEI_DATABASE_URL): {e}")
        })?;
        if let Some(r) = &self.redis_url {
            if !(r.expose().starts_with("redis://") || r.expose().starts_with("rediss://")) {
                return Err("invalid configuration: redis_url (KALEI_REDIS_URL) must start with redis:// or rediss://".into());
            }
        }
        if !["json", "pretty"].contains(&self.log.format.as_str()) {
            return Err(format!(
                "invalid configuration: log.format (KALEI_LOG__FORMAT) must be `json` or `pretty`, not `{}`",
                self.log.format
            ));
        }
        if self.auth.access_ttl_secs < 30 || self.auth.access_ttl_secs > 24 * 3600 {
            return Err(
                "invalid configuration: auth.access_ttl_secs must be between 30 and 86400".into(),
            );
        }
        if self.auth.refresh_ttl_days == 0 || self.auth.refresh_ttl_days > 365 {
            return Err(
                "invalid configuration: auth.refresh_ttl_days must be between 1 and 365".into(),
            );
        }
        if let Some(k) = &self.auth.signing_key {
            if k.expose().len() < 32 {
                return Err("invalid configuration: auth.signing_key (KALEI_AUTH__SIGNING_KEY) must be at least 32 characters".into());
            }
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(
                "invalid configuration: http.body_limit_bytes must be at least 1024".into(),
            );
        }
        if self.jobs.concurrency == 0 || self.jobs.lease_secs < 2 {
            return Err("invalid configuration: jobs.concurrency must be at least 1 and jobs.lease_secs at least 2".into());
        }
        if self.database_max_connections == 0 {
            return Err(
                "invalid configuration: database_max_connections must be at least 1".into(),
            );
        }
        for (name, social) in [("apple", &self.auth.apple), ("google", &self.auth.google)] {
            if let Some(s) = social {
                if s.audiences.is_empty() {
                    return Err(format!(
                        "invalid configuration: auth.{name}.audiences is empty"
                    ));
                }
                if s.jwks.is_none() && s.jwks_file.is_none() {
                    return Err(format!(
                        "invalid configuration: auth.{name} needs `jwks` or `jwks_file`"
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|_| {
            format!(
                "invalid configuration: listen (KALEI_LISTEN) must be address:port, got `{}`",
                self.listen
            )
        })
    }

    /// The configured database URL, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}", self.data_dir.join("kalei.db").display()),
        }
    }

    /// The effective configuration as TOML, secrets and URL passwords redacted.
    pub fn redacted_toml(&self) -> String {
        let mut value = toml::Value::try_from(self).unwrap_or(toml::Value::String(String::new()));
        if let toml::Value::Table(t) = &mut value {
            t.insert(
                "database_url".into(),
                toml::Value::String(redact_url_password(&self.database_url())),
            );
        }
        toml::to_string_pretty(&value).unwrap_or_default()
    }
}

/// `postgres://user:pw@host/db` → `postgres://user:[redacted]@host/db`.
pub fn redact_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:[redacted]{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_embedded() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.listen_addr().unwrap().to_string(), "127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
        assert!(c.database_url().ends_with("kalei.db"));
    }

    #[test]
    fn invalid_settings_are_named() {
        let c = Config {
            listen: "nonsense".into(),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().contains("KALEI_LISTEN"));
        let c = Config {
            database_url: Some(Secret::new("mysql://x")),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().contains("KALEI_DATABASE_URL"));
        let c = Config {
            redis_url: Some(Secret::new("http://x")),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().contains("KALEI_REDIS_URL"));
    }

    #[test]
    fn secrets_never_print() {
        let c = Config {
            database_url: Some(Secret::new("postgres://kalei:hunter2@db/kalei")),
            redis_url: Some(Secret::new("redis://:pw@cache")),
            ..Config::default()
        };
        let shown = format!("{c:?}\n{}", c.redacted_toml());
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains(":pw@"));
        assert!(shown.contains("postgres://kalei:[redacted]@db/kalei"));
    }
}
