//! The Apify scraper: runs the TikTok actor for one video, waits for the run, reads its dataset
//! and downloads the best subtitle track.
//!
//! A run costs money, so its id is remembered per task ([`RunMemo`](super::RunMemo)): a retried
//! job re-attaches to the run it already started instead of paying for another one, unless that
//! run failed.
//!
//! Failure policy (the job-level retry decides how often to try again):
//! - 401/403, 402, 404 on start, other 4xx and an `ABORTED` run are permanent;
//! - 408, 429, 5xx, network errors, an unreadable body, a `FAILED` or `TIMED-OUT` run and a run
//!   still going after `max_wait` are transient. A retry after a failed run starts a fresh run
//!   (the memo check below skips failed runs); after `max_wait` it re-attaches to the same one.
//!
//! **The video file.** Asked for the video ([`ScrapeRequest::video`], the media pass of the
//! cascade), the run input sets `shouldDownloadVideos: true` (Apify charges extra per video) and
//! the actor stores the MP4 in the run's key-value store. Real dataset items name the stored copy
//! in `mediaUrls` (`https://api.apify.com/v2/key-value-stores/<store>/records/<key>`); some
//! versions of the actor also carry `videoMeta.downloadAddr`, TikTok's own short-lived CDN link.
//! We read `mediaUrls[0]` when present, else `downloadAddr` (an assumption from public outputs,
//! not a documented contract). Records of a key-value store need the API token: it is sent as
//! `Authorization: Bearer` only to the configured `base_url`'s origin, on every redirect hop
//! too, so the token never leaves Apify.
//!
//! **Scraped links** (subtitles, the video file, the cover) come from the item, so anyone who
//! controls what the actor returns controls them: they are fetched only through
//! [`crate::outbound::Fetcher`] (https to public addresses, or the trusted origins: `base_url`'s
//! and `trusted_origins`), and the cover is kept only when it is https to a public host.
//!
//! The two kinds of run are remembered separately ([`RunKind`]), so a retry of the media pass
//! re-attaches to the video run and never pays for either twice.
//!
//! The dataset-item-to-[`VideoData`] mapping (`items.rs`) is shared with the offline
//! [`FixtureScraper`](super::fixtures::FixtureScraper), so the fixtures exercise the real parsing.

mod api;
pub(super) mod items;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use protocol::TikTokUrl;
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};
use url::Url;

use self::api::{Call, CallError, Run, RunEnvelope, RunStatus};
use self::items::{best_subtitle, first_item, video_file_of, video_from_item};
use super::vtt::vtt_to_text;
use super::{ProviderError, RunKind, ScrapeRequest, Scraper, VideoData, VideoFile};
use crate::outbound::{FetchError, FetchLimits, Fetcher, UrlPolicy};

/// Apify's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.apify.com";
/// The TikTok scraper actor, in the `user~name` form the API paths take.
pub const DEFAULT_ACTOR: &str = "clockworks~tiktok-scraper";
/// How long each status request asks Apify to hold it open; 60 s is Apify's own maximum.
pub const DEFAULT_POLL_WAIT_SECS: u32 = 60;
/// Time allowed for one request beyond any `waitForFinish` it asked for.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(90);
/// Overall cap on waiting for one run.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(600);

/// Subtitle files are a few kilobytes; anything bigger is not a subtitle track.
const MAX_SUBTITLE_BYTES: u64 = 2 * 1024 * 1024;
/// The whole subtitle download, redirects included; a few kilobytes need no more.
const SUBTITLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A `Retry-After` beyond this is treated as this, so a bogus header cannot park a task.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Least time between two status requests, for servers that answer before `waitForFinish`.
const MIN_POLL_GAP: Duration = Duration::from_millis(500);
/// How much of an error body goes into an error message.
const MAX_DETAIL_CHARS: usize = 300;

/// Settings of [`ApifyScraper`].
pub struct ApifyConfig {
    /// API root, normally [`DEFAULT_BASE_URL`]; tests point it at a mock server.
    pub base_url: Url,
    /// The Apify API token, sent as `Authorization: Bearer` to `base_url` only.
    pub token: SecretString,
    /// The actor to run, `user~name` (a `user/name` form is accepted too).
    pub actor: String,
    /// `waitForFinish` of each status request, in seconds (Apify caps it at 60).
    pub poll_wait_secs: u32,
    /// Timeout of one request, on top of the `waitForFinish` time it asked for.
    pub request_timeout: Duration,
    /// Overall cap on waiting for a run; past it the attempt fails as transient.
    pub max_wait: Duration,
    /// Origins besides `base_url`'s that scraped links may be fetched from as they are (no
    /// https or public-address rule): an egress proxy or a mirror of Apify's stores. The token
    /// is never sent to them.
    pub trusted_origins: Vec<Url>,
}

impl ApifyConfig {
    /// The defaults above with the given token.
    pub fn new(token: SecretString) -> Self {
        Self {
            // A constant, parsed in a unit test; it cannot fail at run time.
            base_url: Url::parse(DEFAULT_BASE_URL).expect("DEFAULT_BASE_URL is a valid URL"),
            token,
            actor: DEFAULT_ACTOR.to_owned(),
            poll_wait_secs: DEFAULT_POLL_WAIT_SECS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_wait: DEFAULT_MAX_WAIT,
            trusted_origins: Vec::new(),
        }
    }
}

// By hand, so that what a log line shows is decided here and the token is never part of it.
impl fmt::Debug for ApifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApifyConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token", &"[redacted]")
            .field("actor", &self.actor)
            .field("poll_wait_secs", &self.poll_wait_secs)
            .field("request_timeout", &self.request_timeout)
            .field("max_wait", &self.max_wait)
            .field("trusted_origins", &self.trusted_origins.iter().map(Url::as_str).collect::<Vec<_>>())
            .finish()
    }
}

/// Why an [`ApifyScraper`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ApifyConfigError {
    /// The base URL is not http(s) or cannot take a path.
    #[error("the Apify base URL must be an http(s) URL, got {0:?}")]
    BaseUrl(String),
    /// No actor name.
    #[error("the Apify actor name is empty")]
    EmptyActor,
    /// No token: every call would be refused, so fail at startup instead.
    #[error("the Apify token is empty")]
    EmptyToken,
    /// The HTTP client could not be set up (TLS backend).
    #[error("could not build the HTTP client for Apify")]
    Client(#[from] reqwest::Error),
}

/// Scrapes TikTok videos by running an Apify actor.
#[derive(Debug)]
pub struct ApifyScraper {
    config: ApifyConfig,
    client: Client,
    /// For the links of scraped items: subtitles and video files, under the URL policy; the
    /// token only to `base_url`'s origin.
    fetcher: Fetcher,
    /// [`MIN_POLL_GAP`], lowered by tests so they do not sleep.
    min_poll_gap: Duration,
}

impl ApifyScraper {
    /// Checks the config and builds the HTTP client.
    ///
    /// # Errors
    /// [`ApifyConfigError`] for an unusable base URL, an empty actor or token, or a client that
    /// cannot be built.
    pub fn new(mut config: ApifyConfig) -> Result<Self, ApifyConfigError> {
        let base = &config.base_url;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ApifyConfigError::BaseUrl(base.as_str().to_owned()));
        }
        // API paths take `user~name`; `user/name` is how the Apify console shows actors.
        config.actor = config.actor.trim().replace('/', "~");
        if config.actor.is_empty() {
            return Err(ApifyConfigError::EmptyActor);
        }
        if config.token.expose_secret().trim().is_empty() {
            return Err(ApifyConfigError::EmptyToken);
        }
        let client = Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("recipe-relay-worker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose_secret().trim()))
            .map_err(|_| ApifyConfigError::EmptyToken)?;
        let policy = UrlPolicy::new(std::iter::once(&config.base_url).chain(&config.trusted_origins));
        let fetcher = Fetcher::new(policy, Some((&config.base_url, auth)))?;
        Ok(Self { config, client, fetcher, min_poll_gap: MIN_POLL_GAP })
    }

    /// `{base}/seg/seg/...`, each segment percent-encoded (run ids come from the network).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.config.base_url.clone();
        // Cannot fail: `new` refused bases that cannot take a path.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends an authenticated API call and decodes its JSON answer.
    async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, CallError> {
        let response = request
            .bearer_auth(self.config.token.expose_secret())
            .send()
            .await
            .map_err(CallError::Network)?;
        let response = self.check_status(response).await?;
        let body = response.bytes().await.map_err(CallError::Network)?;
        serde_json::from_slice(&body).map_err(|e| CallError::Decode(e.to_string()))
    }

    /// Turns a non-2xx answer into [`CallError::Status`] with Apify's error message.
    async fn check_status(&self, response: Response) -> Result<Response, CallError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER));
        // The body only improves the message; failing to read it must not hide the status.
        let body = response.text().await.unwrap_or_default();
        Err(CallError::Status { status, retry_after, detail: self.error_detail(&body, status) })
    }

    /// Apify's `{"error":{"type","message"}}` as `type: message`, else the start of the body.
    fn error_detail(&self, body: &str, status: StatusCode) -> String {
        let parsed = serde_json::from_str::<Value>(body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
        let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
        let detail = match (kind, message) {
            (Some(kind), Some(message)) => format!("{kind}: {message}"),
            (None, Some(message)) => message.to_owned(),
            (Some(kind), None) => kind.to_owned(),
            (None, None) if !body.trim().is_empty() => body.trim().to_owned(),
            (None, None) => status.canonical_reason().unwrap_or("no details").to_owned(),
        };
        // Should Apify ever echo the request back, the token must still not reach logs or users.
        let detail = detail.replace(self.config.token.expose_secret(), "[redacted]");
        detail.chars().take(MAX_DETAIL_CHARS).collect()
    }

    /// Maps a failed call to the permanent/transient split of [`ProviderError`].
    fn provider_error(&self, error: CallError, call: Call) -> ProviderError {
        let what = call.describe();
        let (status, retry_after, detail) = match error {
            CallError::Status { status, retry_after, detail } => (status, retry_after, detail),
            other => return ProviderError::transient(format!("{what} failed: {other}")),
        };
        match status.as_u16() {
            401 | 403 => ProviderError::permanent(
                "apify_unauthorized",
                format!("Apify refused the API token while {what} (HTTP {status}): {detail}"),
            ),
            402 => ProviderError::permanent(
                "apify_quota",
                format!("The Apify account is out of credit or over its limits (HTTP 402): {detail}"),
            ),
            404 if call == Call::StartRun => ProviderError::permanent(
                "apify_actor_not_found",
                format!("The Apify actor {} does not exist (HTTP 404): {detail}", self.config.actor),
            ),
            408 | 429 | 500..=599 => ProviderError::Transient {
                message: format!("{what} failed with HTTP {status}: {detail}"),
                retry_after,
            },
            // A run or dataset that vanished mid-task: a retry starts over with a new run.
            404 => ProviderError::transient(format!("{what} failed with HTTP 404: {detail}")),
            400..=499 => ProviderError::permanent(
                "apify_rejected",
                format!("Apify rejected the request while {what} (HTTP {status}): {detail}"),
            ),
            _ => ProviderError::transient(format!("{what} gave an unexpected HTTP {status}: {detail}")),
        }
    }

    /// Re-attaches to the task's remembered run if it can still deliver, else starts a new one.
    #[tracing::instrument(skip_all)]
    async fn attach_or_start(&self, request: &ScrapeRequest<'_>) -> Result<Run, ProviderError> {
        let kind = if request.video { RunKind::Video } else { RunKind::Text };
        let remembered = request.memo.get(request.task_id, kind).await.filter(|id| !id.trim().is_empty());
        if let Some(run_id) = remembered {
            match self.get_run(&run_id, None).await {
                Ok(run) if run.status.is_failure() => tracing::info!(
                    %run_id, status = run.status.as_str(),
                    "the remembered Apify run ended without results; starting a new one"
                ),
                Ok(run) => {
                    let status = run.status.as_str();
                    tracing::info!(%run_id, status, "re-attached to the remembered Apify run");
                    return Ok(run);
                }
                Err(CallError::Status { status: StatusCode::NOT_FOUND, .. }) => {
                    tracing::info!(%run_id, "the remembered Apify run no longer exists; starting a new one");
                }
                Err(error) => return Err(self.provider_error(error, Call::GetRun)),
            }
        }
        let run = self
            .start_run(request.url, request.video)
            .await
            .map_err(|e| self.provider_error(e, Call::StartRun))?;
        tracing::info!(run_id = %run.id, video = request.video, "started an Apify run");
        crate::stats::apify_run_started(&self.config.actor);
        request.memo.set(request.task_id, kind, &run.id).await;
        Ok(run)
    }

    /// `POST /v2/acts/{actor}/runs` with the actor input for one video; `video` also stores the
    /// video file.
    async fn start_run(&self, url: &TikTokUrl, video: bool) -> Result<Run, CallError> {
        let input = json!({
            "postURLs": [url.as_str()],
            "resultsPerPage": 1,
            "shouldDownloadSubtitles": true,
            "shouldDownloadVideos": video,
            "shouldDownloadCovers": false,
        });
        let endpoint = self.endpoint(&["v2", "acts", &self.config.actor, "runs"]);
        let envelope: RunEnvelope = self.call(self.client.post(endpoint).json(&input)).await?;
        Ok(envelope.data)
    }

    /// `GET /v2/actor-runs/{id}`, held open by Apify for up to `wait_secs` until the run ends.
    #[tracing::instrument(skip_all, fields(run_id = %run_id, wait_secs = ?wait_secs))]
    async fn get_run(&self, run_id: &str, wait_secs: Option<u32>) -> Result<Run, CallError> {
        let mut endpoint = self.endpoint(&["v2", "actor-runs", run_id]);
        let mut timeout = self.config.request_timeout;
        if let Some(wait) = wait_secs {
            endpoint.query_pairs_mut().append_pair("waitForFinish", &wait.to_string());
            // The server holds the request for up to `wait`; only time beyond that is a stall.
            timeout += Duration::from_secs(wait.into());
        }
        let envelope: RunEnvelope = self.call(self.client.get(endpoint).timeout(timeout)).await?;
        Ok(envelope.data)
    }

    /// Polls until the run reaches a terminal status or `deadline` passes.
    #[tracing::instrument(skip_all, fields(run_id = %run.id))]
    async fn wait_for_run(&self, mut run: Run, deadline: Instant) -> Result<Run, ProviderError> {
        loop {
            match run.status {
                RunStatus::Succeeded => return Ok(run),
                // Apify-side trouble (crash, actor timeout) that a fresh run usually gets past.
                RunStatus::Failed | RunStatus::TimedOut => {
                    return Err(ProviderError::transient(format!(
                        "the Apify run {} ended {}; the next attempt starts a new run",
                        run.id,
                        run.status.as_str()
                    )));
                }
                // Somebody stopped the run on purpose (console, API); starting another would
                // overrule them.
                RunStatus::Aborted => {
                    return Err(ProviderError::permanent(
                        "scrape_aborted",
                        format!("The scraper run {} was aborted", run.id),
                    ));
                }
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ProviderError::transient(format!(
                    "the Apify run {} was still {} after {} s",
                    run.id,
                    run.status.as_str(),
                    self.config.max_wait.as_secs()
                )));
            }
            let remaining = u32::try_from((deadline - now).as_secs()).unwrap_or(u32::MAX);
            let wait = self.config.poll_wait_secs.min(remaining);
            let started = Instant::now();
            run =
                self.get_run(&run.id, Some(wait)).await.map_err(|e| self.provider_error(e, Call::GetRun))?;
            if !run.status.is_terminal() {
                let gap = self.min_poll_gap.saturating_sub(started.elapsed());
                sleep(gap.min(deadline.saturating_duration_since(Instant::now()))).await;
            }
        }
    }

    /// `GET /v2/datasets/{id}/items`: the run's results as a bare JSON array.
    #[tracing::instrument(skip_all, fields(dataset_id = %dataset_id))]
    async fn dataset_items(&self, dataset_id: &str) -> Result<Vec<Value>, ProviderError> {
        let mut endpoint = self.endpoint(&["v2", "datasets", dataset_id, "items"]);
        endpoint.query_pairs_mut().append_pair("clean", "1").append_pair("format", "json");
        self.call(self.client.get(endpoint)).await.map_err(|e| self.provider_error(e, Call::Items))
    }

    /// Downloads a subtitle track as text, under the URL policy. Without credentials: Apify
    /// key-value store records are readable by their unguessable id.
    async fn fetch_subtitle(&self, url: &Url) -> Result<String, FetchError> {
        let limits = FetchLimits { max_bytes: MAX_SUBTITLE_BYTES, timeout: SUBTITLE_TIMEOUT };
        let body = self.fetcher.bytes(url, limits).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// The transcript of the best subtitle track; `None`, logged, when there is none or the
    /// download fails, because caption alone is often enough for a recipe.
    #[tracing::instrument(skip_all)]
    async fn transcript(&self, item: &Value) -> Option<String> {
        let link = best_subtitle(item)?;
        match self.fetch_subtitle(&link.url).await {
            Ok(vtt) => Some(vtt_to_text(&vtt)).filter(|text| !text.is_empty()),
            Err(error) => {
                tracing::warn!(
                    language = link.language.as_deref().unwrap_or("?"),
                    host = link.url.host_str().unwrap_or("?"),
                    %error,
                    "subtitle download failed; continuing without a transcript"
                );
                None
            }
        }
    }
}

#[async_trait]
impl Scraper for ApifyScraper {
    fn provider(&self) -> &'static str {
        "apify"
    }

    #[tracing::instrument(skip_all, fields(task_id = %request.task_id))]
    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        let now = Instant::now();
        // A max_wait too large for the clock means "no cap"; a year is as good as that.
        let deadline =
            now.checked_add(self.config.max_wait).unwrap_or(now + Duration::from_secs(365 * 86_400));
        let run = self.attach_or_start(&request).await?;
        let run = self.wait_for_run(run, deadline).await?;
        let dataset_id =
            run.default_dataset_id.as_deref().filter(|id| !id.trim().is_empty()).ok_or_else(|| {
                ProviderError::transient(format!("the Apify run {} succeeded without a dataset id", run.id))
            })?;
        let item = first_item(self.dataset_items(dataset_id).await?)?;
        let transcript = self.transcript(&item).await;
        let mut video = video_from_item(&item, request.url, transcript);
        if request.video {
            video.video_file = video_file_of(&item).map(VideoFile::Remote);
            if video.video_file.is_none() {
                tracing::warn!(run_id = %run.id, "the Apify item names no video file (mediaUrls, downloadAddr)");
            }
        }
        Ok(video)
    }

    #[tracing::instrument(skip_all, fields(host = url.host_str().unwrap_or("?")))]
    async fn download(&self, url: &Url, dest: &Path, limits: &media::Limits) -> Result<u64, ProviderError> {
        let fetch = async {
            let response = self.fetcher.open(url, true).await.map_err(video_fetch_error)?;
            media::save(response, dest, limits).await.map_err(crate::video::provider_error)
        };
        match tokio::time::timeout(limits.timeout, fetch).await {
            Ok(result) => result,
            Err(_) => {
                let _ = tokio::fs::remove_file(dest).await;
                let timeout = media::MediaError::Timeout { what: "download", after: limits.timeout };
                Err(crate::video::provider_error(timeout))
            }
        }
    }
}

/// A failed opening of the video link: a refused link is permanent, and says so to the app.
fn video_fetch_error(error: FetchError) -> ProviderError {
    if error.is_refusal() {
        tracing::warn!(%error, "the video link was refused by the outbound URL policy");
        ProviderError::permanent("video_url_refused", format!("The video file was not downloaded: {error}"))
    } else {
        crate::video::provider_error(media::MediaError::Download(error.to_string()))
    }
}
