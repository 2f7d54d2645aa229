//! Typed settings for the api and the worker, loaded once at start.
//!
//! Sources, later ones winning: the built-in `config/base.toml`, then `config/{env}.toml` from
//! the config folder (`APP_ENVIRONMENT` = `production` (default) or `local`), then environment
//! variables. The seed's variable names work unchanged (`REDIS_URL`, `DATABASE_URL`,
//! `SUPABASE_JWT_SECRET`, `MAIN_DOMAIN`, `APIFY_TOKEN`, `APIFY_BASE_URL`, `OPENAI_API_KEY`,
//! `OPENAI_BASE_URL`, `LLM_MODEL`); every other setting is `RELAY__<SECTION>__<KEY>`.
//!
//! A missing or malformed setting is a [`SettingsError`] whose one-line message names the
//! variable; binaries print it and exit with code 2 ([`load_or_exit`]).

mod log_writer;
pub mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

const BASE: &str = include_str!("../../../config/base.toml");

/// The seed's flat variable names and the setting each one fills.
const SEED_VARIABLES: &[(&str, &str)] = &[
    ("REDIS_URL", "redis.url"),
    ("DATABASE_URL", "database.url"),
    ("SUPABASE_JWT_SECRET", "auth.jwt_secret"),
    ("SUPABASE_URL", "auth.supabase_url"),
    ("SUPABASE_JWKS_URL", "auth.jwks_url"),
    ("MAIN_DOMAIN", "api.main_domain"),
    ("APIFY_TOKEN", "apify.token"),
    ("APIFY_BASE_URL", "apify.base_url"),
    ("OPENAI_API_KEY", "llm.api_key"),
    ("OPENAI_BASE_URL", "llm.base_url"),
    ("LLM_MODEL", "llm.model"),
];

/// A setting that is missing or malformed. Its `Display` is the one line printed at start.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {variable}: {reason}")]
pub struct SettingsError {
    /// The environment variable that sets it.
    pub variable: String,
    /// What is wrong with it.
    pub reason: String,
}

impl SettingsError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        Self { variable: variable_for(key), reason: reason.into() }
    }
}

/// The environment variable that sets a dotted key (`api.port` -> `RELAY__API__PORT`).
pub fn variable_for(key: &str) -> String {
    SEED_VARIABLES
        .iter()
        .find(|(_, k)| *k == key)
        .map(|(var, _)| (*var).to_owned())
        .unwrap_or_else(|| format!("RELAY__{}", key.replace('.', "__").to_uppercase()))
}

/// Redis connection and key layout.
#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` URL (may hold a password).
    pub url: Option<SecretString>,
    /// Prefix of every key, so several deployments (and tests) can share one Redis.
    pub key_prefix: String,
    /// Connections per process for blocking claims; other commands share one connection.
    pub pool_size: usize,
}

/// Postgres connection.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://` URL (may hold a password).
    pub url: Option<SecretString>,
    /// Pool size per process.
    pub max_connections: u32,
}

/// How access tokens are verified.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// HS256 secret of the Supabase project (legacy JWT secret).
    pub jwt_secret: Option<SecretString>,
    /// The Supabase project URL; its `/auth/v1/.well-known/jwks.json` holds the asymmetric keys.
    pub supabase_url: Option<Url>,
    /// An explicit JWKS URL (wins over `supabase_url`).
    pub jwks_url: Option<Url>,
    /// Required `aud` claim.
    pub audience: String,
    /// Clock skew allowed on `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
    /// Accept Supabase anonymous sign-ins (`is_anonymous: true`) as users.
    pub allow_anonymous_users: bool,
}

impl AuthSettings {
    /// The JWKS endpoint, when asymmetric keys are configured.
    pub fn jwks_endpoint(&self) -> Option<Url> {
        self.jwks_url.clone().or_else(|| {
            self.supabase_url.as_ref().and_then(|base| base.join("/auth/v1/.well-known/jwks.json").ok())
        })
    }
}

/// The gateway's listener and limits.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    /// Address to bind.
    pub host: String,
    /// Port to bind (0 picks a free one).
    pub port: u16,
    /// The public domain nginx-proxy serves (used for links in responses).
    pub main_domain: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time a request body has to arrive in full (408 and close after it).
    pub body_timeout_secs: u64,
    /// HTTP requests one user may have in flight on this process (long polls included).
    pub max_requests_per_user: u32,
    /// Open connections this process accepts; more wait in the listen backlog.
    pub max_connections: usize,
    /// Serve `/ws/{task_id}` (off forces clients onto polling).
    pub sockets_enabled: bool,
    /// Server ping interval.
    pub ws_ping_secs: u64,
    /// A socket silent for this long is dropped.
    pub ws_client_timeout_secs: u64,
    /// Messages buffered per socket before a slow reader is closed.
    pub ws_queue_capacity: usize,
    /// Largest inbound frame.
    pub ws_max_frame_bytes: usize,
    /// Inbound frames allowed per socket per minute.
    pub ws_max_frames_per_minute: u32,
    /// Upper bound of `?wait=` on `GET /task/{id}`.
    pub long_poll_max_secs: u64,
    /// Submissions per user per minute.
    pub submissions_per_minute: u32,
    /// Unfinished tasks per user.
    pub max_tasks_in_flight: u32,
    /// Open sockets per user.
    pub max_sockets_per_user: u32,
    /// Serve the web demo under `/demo`.
    pub demo_enabled: bool,
    /// Development helpers (token minting). Never on in production.
    pub dev_mode: bool,
}

/// The operators' console (`/admin`, `/admin/api/...`), separate from user sign-in.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    /// Serve the console and its API; when off, their paths are unknown paths (404).
    pub enabled: bool,
    /// The operators' bearer token (at least 16 characters). Without it only Supabase
    /// `service_role` JWTs get in.
    pub token: Option<SecretString>,
}

impl AdminSettings {
    /// The admin token, unless it is unset or blank.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(ExposeSecret::expose_secret).filter(|t| !t.trim().is_empty())
    }
}

/// Which scraper and extractor the worker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderMode {
    /// Real clients where a key is set, offline providers otherwise.
    Auto,
    /// Fixtures and the rule-based extractor, even when keys are set.
    Offline,
    /// Real clients; a missing key is a startup error.
    Real,
}

/// The worker's concurrency, leases and retries.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Jobs run at once per process.
    pub concurrency: usize,
    /// A claimed job's lease; renewed by the heartbeat.
    pub lease_secs: u64,
    /// Heartbeat interval (well under `lease_secs`).
    pub heartbeat_secs: u64,
    /// Attempts before a job is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay (doubles each attempt, full jitter).
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// On SIGTERM, how long in-flight jobs may run before they are handed back.
    pub shutdown_grace_secs: u64,
    /// A recipe extracted this recently for the same video and language is reused.
    pub cache_freshness_hours: u64,
    /// How long a finished task's event log stays in Redis.
    pub event_ttl_hours: u64,
    /// Provider choice.
    pub providers: ProviderMode,
    /// Simulated latency of each offline provider call (demo), in milliseconds.
    pub offline_delay_ms: u64,
    /// When to download and read the video itself (frames, on-screen text, speech).
    pub media: MediaMode,
    /// Largest video file downloaded, in bytes.
    pub media_max_bytes: u64,
    /// Longest video analysed, in seconds.
    pub media_max_secs: u64,
    /// Most keyframes kept per video (they go to OCR and, as images, to the LLM).
    pub media_max_frames: usize,
    /// Root of the per-task media folders; empty means the system temp folder.
    pub media_dir: String,
    /// Longest time for the video download, and separately for its analysis, in seconds.
    pub media_timeout_secs: u64,
    /// How long what the media pass read of a video (transcript, OCR text, frames) stays cached.
    pub media_cache_hours: u64,
    /// Where the worker serves `/metrics`, `/healthz` and `/readyz` (`host:port`); read with
    /// [`WorkerSettings::metrics_addr`].
    pub metrics_addr: String,
}

/// When the worker reads the video itself, as the cost-aware cascade decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaMode {
    /// Caption and subtitles first; the video only when they hold no (or a too thin) recipe.
    Auto,
    /// Download and read the video on the first pass.
    Always,
    /// Caption, subtitles and cover only.
    Never,
}

impl WorkerSettings {
    /// The address of the worker's metrics and health port.
    ///
    /// # Errors
    /// [`SettingsError`] naming `RELAY__WORKER__METRICS_ADDR` when it is not `host:port`.
    pub fn metrics_addr(&self) -> Result<std::net::SocketAddr, SettingsError> {
        self.metrics_addr.trim().parse().map_err(|_| {
            SettingsError::new(
                "worker.metrics_addr",
                format!("must be an address like 0.0.0.0:9091, got {:?}", self.metrics_addr),
            )
        })
    }

    /// The folder per-task media folders are made in.
    pub fn media_root(&self) -> PathBuf {
        match self.media_dir.trim() {
            "" => std::env::temp_dir().join("recipe-relay-media"),
            dir => PathBuf::from(dir),
        }
    }
}

/// The Apify TikTok scraper.
#[derive(Debug, Clone, Deserialize)]
pub struct ApifySettings {
    /// API token; without it the offline fixture scraper is used.
    pub token: Option<SecretString>,
    /// API base URL.
    pub base_url: Url,
    /// Actor id (`user~name`).
    pub actor: String,
    /// `waitForFinish` per poll, seconds.
    pub poll_wait_secs: u32,
    /// Longest wait for a run.
    pub max_wait_secs: u64,
    /// Per-request timeout.
    pub request_timeout_secs: u64,
    /// Comma-separated origins (`scheme://host[:port]`) besides `base_url`'s that the links of
    /// scraped items (subtitles, video files) may be fetched from without the https and
    /// public-address rule: an egress proxy or a mirror of Apify's stores. Read with
    /// [`ApifySettings::trusted_origins`].
    pub trusted_origins: String,
}

impl ApifySettings {
    /// The entries of `trusted_origins` (validated by [`Settings::load`]).
    pub fn trusted_origins(&self) -> Vec<Url> {
        self.trusted_origins.split(',').filter_map(|entry| Url::parse(entry.trim()).ok()).collect()
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let key = "apify.trusted_origins";
        for entry in self.trusted_origins.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let url = Url::parse(entry)
                .map_err(|e| SettingsError::new(key, format!("{entry:?} is not a URL ({e})")))?;
            let bare = url.path() == "/" && url.query().is_none() && url.username().is_empty();
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
                return Err(SettingsError::new(
                    key,
                    format!("{entry:?} must be an origin: http(s)://host[:port], nothing after it"),
                ));
            }
        }
        Ok(())
    }
}

/// The OpenAI-compatible LLM.
#[derive(Debug, Clone, Deserialize)]
pub struct LlmSettings {
    /// API key; without it the offline rule-based extractor is used.
    pub api_key: Option<SecretString>,
    /// Chat Completions base URL (OpenAI, Azure, Ollama, vLLM).
    pub base_url: Url,
    /// Model name.
    pub model: String,
    /// Per-request timeout.
    pub request_timeout_secs: u64,
    /// Output token limit.
    pub max_tokens: u32,
    /// Input token budget of one request: text is trimmed, then frames dropped, to fit.
    pub max_input_tokens: u32,
}

/// The OpenAI-compatible speech-to-text API (`POST {base_url}/audio/transcriptions`).
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptionSettings {
    /// API key; falls back to `llm.api_key` when unset.
    pub api_key: Option<SecretString>,
    /// API root (with `/v1`); falls back to `llm.base_url` when unset.
    pub base_url: Option<Url>,
    /// Model name (`whisper-1`, `gpt-4o-mini-transcribe`, Groq's `whisper-large-v3`).
    pub model: String,
    /// Per-request timeout.
    pub request_timeout_secs: u64,
}

/// Log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter (RUST_LOG wins).
    pub filter: String,
}

/// Every setting of both binaries.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Redis.
    pub redis: RedisSettings,
    /// Postgres.
    pub database: DatabaseSettings,
    /// Token verification.
    pub auth: AuthSettings,
    /// The gateway.
    pub api: ApiSettings,
    /// The worker.
    pub worker: WorkerSettings,
    /// Apify.
    pub apify: ApifySettings,
    /// The LLM.
    pub llm: LlmSettings,
    /// Speech to text.
    pub transcription: TranscriptionSettings,
    /// Logging.
    pub log: LogSettings,
    /// The admin console.
    pub admin: AdminSettings,
}

/// Which binary is loading: each requires different settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The gateway needs a way to verify tokens.
    Api,
    /// The worker needs provider keys only in `real` mode.
    Worker,
    /// Tools that only need Redis and Postgres.
    Tool,
}

impl Settings {
    /// Loads settings from the files and the process environment.
    ///
    /// # Errors
    /// [`SettingsError`] naming the first missing or malformed variable.
    pub fn load(role: Role) -> Result<Self, SettingsError> {
        Self::load_from(role, std::env::vars())
    }

    /// Loads settings with `vars` standing in for the process environment (tests).
    ///
    /// # Errors
    /// [`SettingsError`] naming the first missing or malformed variable.
    pub fn load_from(
        role: Role,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let vars: config::Map<String, String> = vars.into_iter().collect();
        let env = |name: &str| vars.get(name).cloned();
        let environment = env("APP_ENVIRONMENT").unwrap_or_else(|| "production".into());
        if !matches!(environment.as_str(), "local" | "production") {
            return Err(SettingsError {
                variable: "APP_ENVIRONMENT".into(),
                reason: format!("must be \"local\" or \"production\", got {environment:?}"),
            });
        }
        let dir = env("RELAY_CONFIG_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("config"));
        let relay_vars: config::Map<String, String> = vars
            .iter()
            .filter(|(k, _)| k.starts_with("RELAY__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut builder = Config::builder()
            .add_source(File::from_str(BASE, FileFormat::Toml))
            .add_source(File::from(dir.join(&environment)).format(FileFormat::Toml).required(false))
            .add_source(
                Environment::with_prefix("RELAY")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(relay_vars)),
            );
        for (var, key) in SEED_VARIABLES {
            let value = env(var).filter(|v| !v.trim().is_empty());
            builder = builder
                .set_override_option(*key, value)
                .map_err(|e| SettingsError::new(key, e.to_string()))?;
        }
        // The platform's port (Cloud Run, Render, Heroku) wins over RELAY__API__PORT: the
        // platform routes traffic to it and nowhere else. Parsed here so that its errors name
        // PORT and RELAY__API__PORT's errors keep their own name.
        if let Some(port) = env("PORT").filter(|v| !v.trim().is_empty()) {
            let port: u16 = port.trim().parse().map_err(|_| SettingsError {
                variable: "PORT".into(),
                reason: format!("must be a port number (0-65535), got {port:?}"),
            })?;
            builder = builder
                .set_override("api.port", port)
                .map_err(|e| SettingsError { variable: "PORT".into(), reason: e.to_string() })?;
        }
        let settings: Self =
            builder.build().and_then(Config::try_deserialize).map_err(|e| config_error(&e))?;
        settings.validate(role)?;
        Ok(settings)
    }

    fn validate(&self, role: Role) -> Result<(), SettingsError> {
        let redis = required_secret(&self.redis.url, "redis.url")?;
        check_url(redis, "redis.url", &["redis", "rediss", "redis+unix", "unix"])?;
        let database = required_secret(&self.database.url, "database.url")?;
        check_url(database, "database.url", &["postgres", "postgresql"])?;
        if self.redis.key_prefix.is_empty() || self.redis.key_prefix.contains(char::is_whitespace) {
            return Err(SettingsError::new("redis.key_prefix", "must be non-empty without spaces"));
        }
        if self.redis.pool_size == 0 {
            return Err(SettingsError::new("redis.pool_size", "must be at least 1"));
        }
        match role {
            Role::Api => {
                self.validate_admin()?;
                if self.auth.jwt_secret.is_none() && self.auth.jwks_endpoint().is_none() {
                    return Err(SettingsError::new(
                        "auth.jwt_secret",
                        "is required to verify tokens (or set SUPABASE_URL / SUPABASE_JWKS_URL for asymmetric keys)",
                    ));
                }
                if self.api.ws_queue_capacity == 0 {
                    return Err(SettingsError::new("api.ws_queue_capacity", "must be at least 1"));
                }
                for (value, key) in [
                    (self.api.body_timeout_secs, "api.body_timeout_secs"),
                    (u64::from(self.api.max_requests_per_user), "api.max_requests_per_user"),
                    (self.api.max_connections as u64, "api.max_connections"),
                ] {
                    if value == 0 {
                        return Err(SettingsError::new(key, "must be at least 1"));
                    }
                }
                if self.api.long_poll_max_secs > 30 {
                    return Err(SettingsError::new("api.long_poll_max_secs", "must be at most 30"));
                }
                if let Some(domain) = &self.api.main_domain {
                    check_domain(domain)?;
                }
            }
            Role::Worker => {
                if self.worker.concurrency == 0 {
                    return Err(SettingsError::new("worker.concurrency", "must be at least 1"));
                }
                if self.worker.max_attempts == 0 {
                    return Err(SettingsError::new("worker.max_attempts", "must be at least 1"));
                }
                if self.worker.heartbeat_secs == 0 || self.worker.heartbeat_secs * 2 > self.worker.lease_secs
                {
                    return Err(SettingsError::new(
                        "worker.heartbeat_secs",
                        "must be at least 1 and at most half of RELAY__WORKER__LEASE_SECS",
                    ));
                }
                self.worker.metrics_addr()?;
                self.validate_media()?;
                self.apify.validate()?;
                if self.worker.providers == ProviderMode::Real {
                    if self.apify.token.is_none() {
                        return Err(SettingsError::new(
                            "apify.token",
                            "is required when RELAY__WORKER__PROVIDERS=real",
                        ));
                    }
                    if self.llm.api_key.is_none() {
                        return Err(SettingsError::new(
                            "llm.api_key",
                            "is required when RELAY__WORKER__PROVIDERS=real",
                        ));
                    }
                }
            }
            Role::Tool => {}
        }
        Ok(())
    }

    /// An enabled console needs a way in: its token, or a key that verifies `service_role` JWTs.
    fn validate_admin(&self) -> Result<(), SettingsError> {
        if !self.admin.enabled {
            return Ok(());
        }
        match self.admin.token() {
            Some(token) if token.chars().count() < 16 => {
                Err(SettingsError::new("admin.token", "must be at least 16 characters"))
            }
            Some(_) => Ok(()),
            None if self.auth.jwt_secret.is_none() && self.auth.jwks_endpoint().is_none() => {
                Err(SettingsError::new(
                    "admin.token",
                    "is required when RELAY__ADMIN__ENABLED=true and neither SUPABASE_JWT_SECRET nor \
                     SUPABASE_URL / SUPABASE_JWKS_URL can verify service_role tokens",
                ))
            }
            None => Ok(()),
        }
    }

    fn validate_media(&self) -> Result<(), SettingsError> {
        let worker = &self.worker;
        if worker.media_max_bytes < 1024 {
            return Err(SettingsError::new("worker.media_max_bytes", "must be at least 1024"));
        }
        if worker.media_max_secs == 0 {
            return Err(SettingsError::new("worker.media_max_secs", "must be at least 1"));
        }
        if !(1..=32).contains(&worker.media_max_frames) {
            return Err(SettingsError::new("worker.media_max_frames", "must be between 1 and 32"));
        }
        if worker.media_cache_hours == 0 {
            return Err(SettingsError::new("worker.media_cache_hours", "must be at least 1"));
        }
        if worker.media_timeout_secs == 0 {
            return Err(SettingsError::new("worker.media_timeout_secs", "must be at least 1"));
        }
        let root = worker.media_root();
        if root.is_relative() {
            return Err(SettingsError::new("worker.media_dir", "must be an absolute path (or empty)"));
        }
        if root.parent().is_none() {
            return Err(SettingsError::new("worker.media_dir", "must not be the root folder"));
        }
        if self.llm.max_input_tokens < 1000 {
            return Err(SettingsError::new("llm.max_input_tokens", "must be at least 1000"));
        }
        if self.transcription.model.trim().is_empty() {
            return Err(SettingsError::new("transcription.model", "must not be empty"));
        }
        if self.transcription.request_timeout_secs == 0 {
            return Err(SettingsError::new("transcription.request_timeout_secs", "must be at least 1"));
        }
        Ok(())
    }

    /// The Redis URL (validated present by [`Settings::load`]).
    pub fn redis_url(&self) -> &str {
        self.redis.url.as_ref().map(ExposeSecret::expose_secret).unwrap_or_default()
    }

    /// The Postgres URL (validated present by [`Settings::load`]).
    pub fn database_url(&self) -> &str {
        self.database.url.as_ref().map(ExposeSecret::expose_secret).unwrap_or_default()
    }
}

fn required_secret<'a>(value: &'a Option<SecretString>, key: &str) -> Result<&'a str, SettingsError> {
    value.as_ref().map(ExposeSecret::expose_secret).ok_or_else(|| SettingsError::new(key, "is not set"))
}

/// `MAIN_DOMAIN` goes into `https://{MAIN_DOMAIN}/...` links, so it must be a bare host name.
fn check_domain(domain: &str) -> Result<(), SettingsError> {
    let label_ok =
        |l: &str| (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if domain.len() > 253 || !domain.split('.').all(label_ok) {
        return Err(SettingsError::new(
            "api.main_domain",
            format!(
                "{domain:?} must be a bare host name such as recipes.example.com (no scheme, port or path)"
            ),
        ));
    }
    Ok(())
}

fn check_url(value: &str, key: &str, schemes: &[&str]) -> Result<(), SettingsError> {
    // The message never repeats the value: it may hold a password.
    let url = Url::parse(value).map_err(|e| SettingsError::new(key, format!("is not a URL ({e})")))?;
    if schemes.contains(&url.scheme()) {
        Ok(())
    } else {
        Err(SettingsError::new(key, format!("must use one of the schemes {}", schemes.join(", "))))
    }
}

/// Turns the config crate's error into one line naming the variable.
fn config_error(error: &config::ConfigError) -> SettingsError {
    let text = error.to_string();
    // config reports the dotted key as "... for key `api.port`" or "missing field `x`".
    let key = text.split("for key `").nth(1).and_then(|rest| rest.split('`').next()).map(str::to_owned);
    match key {
        Some(key) => {
            let reason = text.split(" for key `").next().unwrap_or(&text).to_owned();
            SettingsError::new(&key, reason)
        }
        None => SettingsError { variable: "configuration".into(), reason: text },
    }
}

/// Loads settings or prints the one-line error and returns exit code 2 for `main` to return.
///
/// # Errors
/// The exit code the binary should end with.
pub fn load_or_exit(role: Role) -> Result<Settings, ExitCode> {
    Settings::load(role).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const GOOD: &[(&str, &str)] = &[
        ("REDIS_URL", "redis://127.0.0.1:6379/0"),
        ("DATABASE_URL", "postgres://relay:pw@127.0.0.1:5432/relay"),
        ("SUPABASE_JWT_SECRET", "super-secret-jwt-token-with-at-least-32-characters"),
        ("RELAY_CONFIG_DIR", "/nonexistent"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut all: Vec<_> = GOOD.to_vec();
        all.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        all.extend_from_slice(extra);
        all
    }

    #[test]
    fn seed_variables_fill_the_settings() {
        let settings = Settings::load_from(
            Role::Api,
            env(&with(&[("MAIN_DOMAIN", "recipes.example.com"), ("LLM_MODEL", "llama3")])),
        )
        .unwrap();
        assert_eq!(settings.redis_url(), "redis://127.0.0.1:6379/0");
        assert_eq!(settings.api.main_domain.as_deref(), Some("recipes.example.com"));
        assert_eq!(settings.llm.model, "llama3");
        assert_eq!(settings.api.port, 8000);
        assert!(!settings.api.dev_mode, "production is the default environment");
    }

    #[test]
    fn relay_variables_override_nested_settings() {
        let settings = Settings::load_from(
            Role::Worker,
            env(&with(&[("RELAY__WORKER__CONCURRENCY", "3"), ("RELAY__API__PORT", "9001")])),
        )
        .unwrap();
        assert_eq!(settings.worker.concurrency, 3);
        assert_eq!(settings.api.port, 9001);
    }

    #[test]
    fn the_platform_port_wins_over_the_relay_variable() {
        let both = env(&with(&[("PORT", "8080"), ("RELAY__API__PORT", "9001")]));
        let blank = env(&with(&[("PORT", " "), ("RELAY__API__PORT", "9001")]));

        assert_eq!(Settings::load_from(Role::Api, both).unwrap().api.port, 8080);
        assert_eq!(Settings::load_from(Role::Api, blank).unwrap().api.port, 9001, "a blank PORT is unset");
        let error = Settings::load_from(Role::Api, env(&with(&[("PORT", "http")]))).unwrap_err();
        assert_eq!(error.variable, "PORT", "{error}");
    }

    #[test]
    fn secrets_are_not_printed_by_debug() {
        let settings = Settings::load_from(Role::Api, env(GOOD)).unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("super-secret"), "{debug}");
        assert!(!debug.contains(":pw@"), "{debug}");
    }

    #[test]
    fn bad_settings_name_their_variable() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Role, &'a str, &'a str);
        let cases: &[Case] = &[
            (&[("REDIS_URL", "")], Role::Api, "REDIS_URL", "an empty seed variable counts as unset"),
            (&[("DATABASE_URL", "mysql://x")], Role::Api, "DATABASE_URL", "wrong scheme"),
            (&[("DATABASE_URL", "not a url")], Role::Worker, "DATABASE_URL", "not a URL"),
            (
                &[("SUPABASE_JWT_SECRET", "")],
                Role::Api,
                "SUPABASE_JWT_SECRET",
                "the api needs a way to verify tokens",
            ),
            (&[("RELAY__API__PORT", "eighty")], Role::Api, "RELAY__API__PORT", "not a number"),
            (&[("RELAY__API__PORT", "70000")], Role::Api, "RELAY__API__PORT", "out of range"),
            (
                &[("RELAY__WORKER__CONCURRENCY", "0")],
                Role::Worker,
                "RELAY__WORKER__CONCURRENCY",
                "zero workers",
            ),
            (
                &[("RELAY__WORKER__METRICS_ADDR", "9091")],
                Role::Worker,
                "RELAY__WORKER__METRICS_ADDR",
                "a port without a host",
            ),
            (
                &[("RELAY__WORKER__PROVIDERS", "magic")],
                Role::Worker,
                "RELAY__WORKER__PROVIDERS",
                "unknown mode",
            ),
            (&[("RELAY__WORKER__PROVIDERS", "real")], Role::Worker, "APIFY_TOKEN", "real mode needs keys"),
            (&[("APP_ENVIRONMENT", "staging")], Role::Api, "APP_ENVIRONMENT", "unknown environment"),
            (
                &[("RELAY__WORKER__MEDIA", "sometimes")],
                Role::Worker,
                "RELAY__WORKER__MEDIA",
                "unknown media mode",
            ),
            (
                &[("RELAY__WORKER__MEDIA_MAX_FRAMES", "0")],
                Role::Worker,
                "RELAY__WORKER__MEDIA_MAX_FRAMES",
                "no frames",
            ),
            (
                &[("RELAY__WORKER__MEDIA_MAX_BYTES", "-5")],
                Role::Worker,
                "RELAY__WORKER__MEDIA_MAX_BYTES",
                "negative size",
            ),
            (
                &[("RELAY__WORKER__MEDIA_DIR", "relative/media")],
                Role::Worker,
                "RELAY__WORKER__MEDIA_DIR",
                "a relative media folder depends on the working directory",
            ),
            (
                &[("RELAY__APIFY__TRUSTED_ORIGINS", "https://mirror.example, 10.0.0.5:9000")],
                Role::Worker,
                "RELAY__APIFY__TRUSTED_ORIGINS",
                "an allow-list entry without a scheme",
            ),
            (
                &[("RELAY__APIFY__TRUSTED_ORIGINS", "https://mirror.example/records")],
                Role::Worker,
                "RELAY__APIFY__TRUSTED_ORIGINS",
                "an allow-list entry with a path is not an origin",
            ),
            (
                &[("MAIN_DOMAIN", "https://recipes.example.com")],
                Role::Api,
                "MAIN_DOMAIN",
                "a URL, not a host",
            ),
            (
                &[("MAIN_DOMAIN", "recipes.example.com/api")],
                Role::Api,
                "MAIN_DOMAIN",
                "a path after the host",
            ),
            (
                &[("RELAY__LLM__MAX_INPUT_TOKENS", "10")],
                Role::Worker,
                "RELAY__LLM__MAX_INPUT_TOKENS",
                "a budget too small for any prompt",
            ),
        ];
        for (overrides, role, variable, why) in cases {
            let err = Settings::load_from(*role, env(&with(overrides))).expect_err(why);
            assert_eq!(err.variable, *variable, "{why}: {err}");
            let line = err.to_string();
            assert!(!line.contains('\n'), "{why}: one line, got {line}");
            assert!(!line.contains(":pw@"), "{why}: never echo secrets: {line}");
        }
    }

    #[test]
    fn trusted_origins_are_a_comma_separated_list_empty_by_default() {
        let none = Settings::load_from(Role::Worker, env(GOOD)).unwrap();
        let pairs = [("RELAY__APIFY__TRUSTED_ORIGINS", " https://mirror.example , http://10.0.0.5:9000,")];
        let two = Settings::load_from(Role::Worker, env(&with(&pairs))).unwrap();

        assert_eq!(none.apify.trusted_origins(), Vec::<Url>::new());
        let origins: Vec<String> = two.apify.trusted_origins().iter().map(|u| u.to_string()).collect();
        assert_eq!(origins, ["https://mirror.example/", "http://10.0.0.5:9000/"]);
    }

    #[test]
    fn media_defaults_come_from_the_base_file() {
        let settings = Settings::load_from(Role::Worker, env(GOOD)).unwrap();
        let worker = &settings.worker;
        assert_eq!(worker.media, MediaMode::Auto);
        assert_eq!(
            (worker.media_max_bytes, worker.media_max_secs, worker.media_max_frames),
            (104_857_600, 600, 8)
        );
        assert_eq!(worker.media_root(), std::env::temp_dir().join("recipe-relay-media"));
        assert_eq!(settings.transcription.model, "whisper-1");
        assert!(settings.transcription.base_url.is_none() && settings.transcription.api_key.is_none());
    }

    #[test]
    fn the_admin_console_is_off_by_default_and_needs_a_way_in_when_on() {
        let default = Settings::load_from(Role::Api, env(GOOD)).unwrap();
        let token = [("RELAY__ADMIN__ENABLED", "true"), ("RELAY__ADMIN__TOKEN", "an-admin-token-of-length")];
        let with_token = Settings::load_from(Role::Api, env(&with(&token))).unwrap();
        let jwt_only =
            Settings::load_from(Role::Api, env(&with(&[("RELAY__ADMIN__ENABLED", "true")]))).unwrap();

        assert!(!default.admin.enabled);
        assert_eq!(with_token.admin.token(), Some("an-admin-token-of-length"));
        assert!(!format!("{with_token:?}").contains("an-admin-token"), "the token is never in Debug");
        assert!(jwt_only.admin.enabled && jwt_only.admin.token().is_none(), "service_role JWTs suffice");
        let short = [("RELAY__ADMIN__ENABLED", "true"), ("RELAY__ADMIN__TOKEN", "short")];
        let error = Settings::load_from(Role::Api, env(&with(&short))).unwrap_err();
        assert_eq!(error.variable, "RELAY__ADMIN__TOKEN", "{error}");
        assert!(!error.to_string().contains("short\""), "{error}");
        let no_way_in = [("RELAY__ADMIN__ENABLED", "true"), ("SUPABASE_JWT_SECRET", "")];
        let error = Settings::load_from(Role::Api, env(&with(&no_way_in))).unwrap_err();
        assert_eq!(error.variable, "RELAY__ADMIN__TOKEN", "{error}");
    }

    #[test]
    fn the_metrics_port_defaults_to_9091_on_every_interface() {
        let settings = Settings::load_from(Role::Worker, env(GOOD)).unwrap();
        assert_eq!(settings.worker.metrics_addr().unwrap(), "0.0.0.0:9091".parse().unwrap());
    }

    #[test]
    fn the_worker_does_not_need_the_jwt_secret() {
        let settings = Settings::load_from(Role::Worker, env(&with(&[("SUPABASE_JWT_SECRET", "")])));
        assert!(settings.is_ok());
    }

    #[test]
    fn jwks_endpoint_derives_from_the_project_url() {
        let settings = Settings::load_from(
            Role::Api,
            env(&with(&[("SUPABASE_URL", "https://abc.supabase.co"), ("SUPABASE_JWT_SECRET", "")])),
        )
        .unwrap();
        assert_eq!(
            settings.auth.jwks_endpoint().unwrap().as_str(),
            "https://abc.supabase.co/auth/v1/.well-known/jwks.json"
        );
    }
}
