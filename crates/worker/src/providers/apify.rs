//! The Apify scraper: runs the TikTok actor for one video, waits for the run, reads its dataset
//! and downloads the best subtitle track.
//!
//! A run costs money, so its id is remembered per task ([`RunMemo`]): a retried job re-attaches
//! to the run it already started instead of paying for another one, unless that run failed.
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
//! The dataset-item-to-[`VideoData`] mapping is shared with the offline
//! [`FixtureScraper`](super::fixtures::FixtureScraper), so the fixtures exercise the real parsing.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use protocol::TikTokUrl;
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};
use url::Url;

use super::vtt::vtt_to_text;
use super::{ProviderError, RunKind, ScrapeRequest, Scraper, VideoData, VideoFile};
use crate::outbound::{FetchError, FetchLimits, Fetcher, UrlPolicy, public_cover};

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
/// What the app shows when there is no video to read.
const VIDEO_UNAVAILABLE: &str = "The video is private, deleted or unavailable";

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

/// The stored video file of a dataset item: `mediaUrls[0]`, else `videoMeta.downloadAddr`.
pub(crate) fn video_file_of(item: &Value) -> Option<Url> {
    let stored = item.get("mediaUrls").and_then(|urls| urls.get(0));
    let tiktok = item.get("videoMeta").and_then(|meta| meta.get("downloadAddr"));
    [stored, tiktok].into_iter().find_map(web_url_of).and_then(|url| Url::parse(&url).ok())
}

/// Which API call failed, for messages and the 404 rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    StartRun,
    GetRun,
    Items,
}

impl Call {
    fn describe(self) -> &'static str {
        match self {
            Self::StartRun => "starting the Apify run",
            Self::GetRun => "checking the Apify run",
            Self::Items => "reading the Apify dataset",
        }
    }
}

/// A failed HTTP call, before it is classified into a [`ProviderError`].
#[derive(Debug, thiserror::Error)]
enum CallError {
    /// A non-2xx answer.
    #[error("HTTP {status}: {detail}")]
    Status { status: StatusCode, retry_after: Option<Duration>, detail: String },
    /// No answer: connection, TLS or timeout.
    #[error("{0}")]
    Network(reqwest::Error),
    /// An answer we could not read.
    #[error("unexpected response: {0}")]
    Decode(String),
}

/// `{"data": {...}}`, the wrapper of Apify's run endpoints.
#[derive(Debug, Deserialize)]
struct RunEnvelope {
    data: Run,
}

/// The part of an Apify run object we use.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    id: String,
    status: RunStatus,
    #[serde(default)]
    default_dataset_id: Option<String>,
}

/// An Apify run status. Unknown words are kept and treated as "still going".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
enum RunStatus {
    Ready,
    Running,
    Succeeded,
    Failed,
    TimingOut,
    TimedOut,
    Aborting,
    Aborted,
    Other(String),
}

impl From<String> for RunStatus {
    fn from(word: String) -> Self {
        match word.as_str() {
            "READY" => Self::Ready,
            "RUNNING" => Self::Running,
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            "TIMING-OUT" => Self::TimingOut,
            "TIMED-OUT" => Self::TimedOut,
            "ABORTING" => Self::Aborting,
            "ABORTED" => Self::Aborted,
            _ => Self::Other(word),
        }
    }
}

impl RunStatus {
    fn as_str(&self) -> &str {
        match self {
            Self::Ready => "READY",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimingOut => "TIMING-OUT",
            Self::TimedOut => "TIMED-OUT",
            Self::Aborting => "ABORTING",
            Self::Aborted => "ABORTED",
            Self::Other(word) => word,
        }
    }

    /// Ended without results.
    fn is_failure(&self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::Aborted)
    }

    fn is_terminal(&self) -> bool {
        self.is_failure() || *self == Self::Succeeded
    }
}

/// The first dataset item, or `video_unavailable` when the actor found nothing.
///
/// The actor reports a private or deleted video either as an empty dataset or as an item that
/// only carries an `error` (and the input `url`); both mean there is nothing to read.
///
/// # Errors
/// `video_unavailable` as above; transient when the item is not a JSON object.
pub(crate) fn first_item(items: Vec<Value>) -> Result<Value, ProviderError> {
    let unavailable = || ProviderError::permanent("video_unavailable", VIDEO_UNAVAILABLE);
    let item = items.into_iter().next().ok_or_else(unavailable)?;
    if !item.is_object() {
        return Err(ProviderError::transient("the scraper returned a dataset item that is not an object"));
    }
    let has_content = ["id", "text", "webVideoUrl", "videoMeta"].iter().any(|key| item.get(key).is_some());
    if let Some(error) = item.get("error").filter(|_| !has_content) {
        tracing::info!(error = %error, "the scraper reported the video as unavailable");
        return Err(unavailable());
    }
    Ok(item)
}

/// Maps one Apify dataset item to [`VideoData`]; `transcript` comes from the caller (downloaded
/// subtitle or fixture file).
///
/// Every field is optional and read leniently: strings may come as numbers, a wrong type counts
/// as absent. `url` and the video id come from the request, since that is what the task is about;
/// the item's `id` fills in for short links.
pub(crate) fn video_from_item(item: &Value, url: &TikTokUrl, transcript: Option<String>) -> VideoData {
    let meta = item.get("videoMeta");
    let caption = text_of(item.get("text")).unwrap_or_default();
    let author = item
        .get("authorMeta")
        .and_then(|author| text_of(author.get("name")))
        .or_else(|| handle_from_url(url));
    let cover_url = [
        meta.and_then(|m| m.get("coverUrl")),
        meta.and_then(|m| m.get("originalCoverUrl")),
        item.get("covers").and_then(|covers| covers.get(0)),
    ]
    .into_iter()
    // The app loads the cover, and the LLM may be sent it: only https to a public host.
    .find_map(|value| text_of(value).as_deref().and_then(public_cover));
    VideoData {
        url: url.as_str().to_owned(),
        video_id: url.video_id().map(str::to_owned).or_else(|| text_of(item.get("id"))),
        hashtags: hashtags_of(item, &caption),
        caption,
        transcript: transcript.filter(|text| !text.trim().is_empty()),
        author,
        cover_url,
        text_language: text_language(item),
        duration_secs: meta.and_then(|m| seconds_of(m.get("duration"))),
        ..VideoData::default()
    }
}

/// A subtitle track offered by the actor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubtitleLink {
    /// Where to download it.
    pub(crate) url: Url,
    /// As TikTok labels it, e.g. `eng-US`.
    pub(crate) language: Option<String>,
    /// `ASR` (speech recognition), `MT` (machine translation) or another origin.
    pub(crate) source: Option<String>,
}

/// Picks the subtitle track most likely to hold the recipe as spoken.
///
/// Ranked by: language matching the caption's `textLanguage` (what the creator speaks, usually),
/// then English (the most common, and what a translation pipeline reads best), then any; within
/// that, originals (`ASR`, creator captions) before machine translations (`MT`, derived from the
/// original and lossier); ties keep the actor's order. TikTok labels tracks with three-letter
/// codes (`eng-US`, `deu-DE`), which are matched to the two-letter `textLanguage`.
pub(crate) fn best_subtitle(item: &Value) -> Option<SubtitleLink> {
    let wanted = text_language(item);
    let links = item.get("videoMeta")?.get("subtitleLinks")?.as_array()?;
    links
        .iter()
        .filter_map(subtitle_link)
        .enumerate()
        .min_by_key(|(index, link)| {
            let language = link.language.as_deref().and_then(primary_language);
            let language_rank = match language.as_deref() {
                Some(lang) if Some(lang) == wanted.as_deref().and_then(primary_language).as_deref() => 0,
                Some("en") => 1,
                _ => 2,
            };
            let is_translation = link.source.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("MT"));
            (language_rank, is_translation, *index)
        })
        .map(|(_, link)| link)
}

fn subtitle_link(entry: &Value) -> Option<SubtitleLink> {
    // `downloadLink` is the copy the actor stored; TikTok's own link expires quickly.
    let url = [entry.get("downloadLink"), entry.get("tiktokLink")].into_iter().find_map(web_url_of)?;
    Some(SubtitleLink {
        url: Url::parse(&url).ok()?,
        language: text_of(entry.get("language")),
        source: text_of(entry.get("source")),
    })
}

/// ISO 639-2 codes TikTok uses for subtitle tracks, with their ISO 639-1 equivalent.
#[rustfmt::skip]
const ISO_639_2_TO_1: &[(&str, &str)] = &[
    ("ara", "ar"), ("ces", "cs"), ("chi", "zh"), ("cmn", "zh"), ("cze", "cs"), ("dan", "da"),
    ("deu", "de"), ("dut", "nl"), ("ell", "el"), ("eng", "en"), ("fil", "tl"), ("fin", "fi"),
    ("fra", "fr"), ("fre", "fr"), ("ger", "de"), ("gre", "el"), ("heb", "he"), ("hin", "hi"),
    ("hun", "hu"), ("ind", "id"), ("ita", "it"), ("jpn", "ja"), ("kor", "ko"), ("may", "ms"),
    ("msa", "ms"), ("nld", "nl"), ("nob", "nb"), ("nor", "no"), ("pol", "pl"), ("por", "pt"),
    ("ron", "ro"), ("rum", "ro"), ("rus", "ru"), ("spa", "es"), ("swe", "sv"), ("tgl", "tl"),
    ("tha", "th"), ("tur", "tr"), ("ukr", "uk"), ("vie", "vi"), ("zho", "zh"),
];

/// `eng-US`, `en`, `EN_gb` -> `en`; `None` for codes we cannot map.
fn primary_language(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    match primary.len() {
        2 if primary.bytes().all(|b| b.is_ascii_lowercase()) => Some(primary),
        3 => ISO_639_2_TO_1.iter().find(|(long, _)| *long == primary).map(|(_, short)| (*short).to_owned()),
        _ => None,
    }
}

/// `textLanguage`, lower-cased; TikTok's `un` ("undetermined") counts as unknown.
fn text_language(item: &Value) -> Option<String> {
    text_of(item.get("textLanguage")).map(|lang| lang.to_ascii_lowercase()).filter(|lang| lang != "un")
}

/// A trimmed, non-empty string; numbers are accepted as their decimal text (ids often are).
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.trim().to_owned()).filter(|text| !text.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// An http(s) URL string, or `None`: anything else must not reach the app as an image source.
fn web_url_of(value: Option<&Value>) -> Option<String> {
    let text = text_of(value)?;
    let url = Url::parse(&text).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(text)
}

/// Whole seconds from a number or numeric string; negative, fractional-NaN or huge values are absent.
fn seconds_of(value: Option<&Value>) -> Option<u32> {
    let seconds = match value? {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() || seconds < 0.0 || seconds > f64::from(u32::MAX) {
        return None;
    }
    // In range and not negative, checked above, so the cast neither truncates nor wraps.
    Some(seconds.round() as u32)
}

/// Hashtag names without `#`, deduplicated in order. From the item's `hashtags` (objects with
/// `name`, or plain strings); when it has none, from `#words` in the caption.
fn hashtags_of(item: &Value, caption: &str) -> Vec<String> {
    let listed = item.get("hashtags").and_then(Value::as_array).into_iter().flatten().filter_map(|entry| {
        if entry.is_object() { text_of(entry.get("name")) } else { text_of(Some(entry)) }
    });
    let mut tags = clean_tags(listed);
    if tags.is_empty() {
        let from_caption = caption
            .split_whitespace()
            .filter(|word| word.starts_with('#'))
            .map(|word| word.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_')).to_owned());
        tags = clean_tags(from_caption);
    }
    tags
}

fn clean_tags(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim().trim_start_matches('#').trim();
        if !name.is_empty() && !tags.iter().any(|tag| tag == name) {
            tags.push(name.to_owned());
        }
    }
    tags
}

/// `@user` from a canonical video link, for items without `authorMeta`.
fn handle_from_url(url: &TikTokUrl) -> Option<String> {
    url.as_str().split('/').find_map(|segment| segment.strip_prefix('@')).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use protocol::TaskId;
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::super::RunMemo;
    use super::*;

    const TOKEN: &str = "apify_api_t0pS3cretT0ken";
    const VIDEO: &str = "https://www.tiktok.com/@cozykitchenwithmia/video/7311770584007226424";
    const ACTOR_RUNS: &str = "/v2/acts/clockworks~tiktok-scraper/runs";

    /// The run memo the worker keeps in Redis, in memory.
    #[derive(Default)]
    struct MemoryMemo(Mutex<HashMap<(TaskId, RunKind), String>>);

    #[async_trait]
    impl RunMemo for MemoryMemo {
        async fn get(&self, task: TaskId, kind: RunKind) -> Option<String> {
            self.0.lock().unwrap().get(&(task, kind)).cloned()
        }
        async fn set(&self, task: TaskId, kind: RunKind, run_id: &str) {
            self.0.lock().unwrap().insert((task, kind), run_id.to_owned());
        }
    }

    fn scraper(server: &MockServer) -> ApifyScraper {
        let mut config = ApifyConfig::new(SecretString::from(TOKEN));
        config.base_url = Url::parse(&server.uri()).unwrap();
        config.request_timeout = Duration::from_secs(5);
        config.max_wait = Duration::from_secs(30);
        let mut scraper = ApifyScraper::new(config).unwrap();
        scraper.min_poll_gap = Duration::from_millis(10);
        scraper
    }

    fn video_url() -> TikTokUrl {
        TikTokUrl::parse(VIDEO).unwrap()
    }

    fn run(id: &str, status: &str) -> Value {
        json!({"data": {"id": id, "actId": "GdWCkxBtKWOsKjdch", "status": status, "defaultDatasetId": "ds1", "defaultKeyValueStoreId": "kv1"}})
    }

    fn item(server: &MockServer) -> Value {
        json!({
            "id": "7311770584007226424",
            "text": "Creamy garlic pasta 🍝 Ingredients: 200g spaghetti #pasta #easyrecipe",
            "textLanguage": "en",
            "webVideoUrl": VIDEO,
            "authorMeta": {"name": "cozykitchenwithmia", "nickName": "Mia"},
            "videoMeta": {
                "duration": 58,
                "coverUrl": "https://p16.example/cover.jpeg",
                "subtitleLinks": [
                    {"language": "spa-ES", "downloadLink": format!("{}/subs/es.vtt", server.uri()), "source": "MT"},
                    {"language": "eng-US", "downloadLink": format!("{}/subs/en.vtt", server.uri()), "source": "ASR"},
                ],
            },
            "hashtags": [{"name": "pasta"}, {"name": "#easyrecipe"}],
            "someNewField": {"nested": [1, 2, 3]},
        })
    }

    async fn scrape(
        scraper: &ApifyScraper,
        memo: &MemoryMemo,
        task_id: TaskId,
    ) -> Result<VideoData, ProviderError> {
        let url = video_url();
        scraper.scrape(ScrapeRequest { task_id, url: &url, memo, video: false }).await
    }

    async fn mount_items(server: &MockServer, items: Value) {
        Mock::given(method("GET"))
            .and(path("/v2/datasets/ds1/items"))
            .and(query_param("clean", "1"))
            .and(query_param("format", "json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(items))
            .mount(server)
            .await;
    }

    async fn mount_start(server: &MockServer, run_id: &str, status: &str) {
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .respond_with(ResponseTemplate::new(201).set_body_json(run(run_id, status)))
            .mount(server)
            .await;
    }

    async fn mount_run(server: &MockServer, run_id: &str, status: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/v2/actor-runs/{run_id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(run(run_id, status)))
            .mount(server)
            .await;
    }

    fn apify_error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(json!({"error": {"type": kind, "message": message}}))
    }

    #[tokio::test]
    async fn a_run_is_started_polled_read_and_its_subtitle_downloaded() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_json(json!({
                "postURLs": [VIDEO],
                "resultsPerPage": 1,
                "shouldDownloadSubtitles": true,
                "shouldDownloadVideos": false,
                "shouldDownloadCovers": false,
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(run("run1", "READY")))
            .expect(1)
            .mount(&server)
            .await;
        // Mounted first, so it answers the first poll only; the second mock answers the rest.
        Mock::given(method("GET"))
            .and(path("/v2/actor-runs/run1"))
            .and(query_param("waitForFinish", "5"))
            .respond_with(ResponseTemplate::new(200).set_body_json(run("run1", "RUNNING")))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v2/actor-runs/run1"))
            .and(query_param("waitForFinish", "5"))
            .respond_with(ResponseTemplate::new(200).set_body_json(run("run1", "SUCCEEDED")))
            .expect(1)
            .mount(&server)
            .await;
        mount_items(&server, json!([item(&server)])).await;
        Mock::given(method("GET"))
            .and(path("/subs/en.vtt"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nmelt 2 tablespoons of butter\n\n00:00:02.000 --> 00:00:04.000\nadd the garlic &amp; cream.\n",
            ))
            .expect(1)
            .mount(&server)
            .await;

        let memo = MemoryMemo::default();
        let task_id = TaskId::new();
        let mut scraper = scraper(&server);
        scraper.config.poll_wait_secs = 5;
        let video = scrape(&scraper, &memo, task_id).await.unwrap();

        assert_eq!(
            video,
            VideoData {
                url: VIDEO.to_owned(),
                video_id: Some("7311770584007226424".to_owned()),
                caption: "Creamy garlic pasta 🍝 Ingredients: 200g spaghetti #pasta #easyrecipe".to_owned(),
                transcript: Some("melt 2 tablespoons of butter add the garlic & cream.".to_owned()),
                hashtags: vec!["pasta".to_owned(), "easyrecipe".to_owned()],
                author: Some("cozykitchenwithmia".to_owned()),
                cover_url: Some("https://p16.example/cover.jpeg".to_owned()),
                text_language: Some("en".to_owned()),
                duration_secs: Some(58),
                ..VideoData::default()
            }
        );
        assert_eq!(
            memo.get(task_id, RunKind::Text).await.as_deref(),
            Some("run1"),
            "the run id is remembered for retries"
        );
        let requests = server.received_requests().await.unwrap();
        let subtitle = requests.iter().find(|r| r.url.path() == "/subs/en.vtt").unwrap();
        assert!(
            subtitle.headers.get("authorization").is_none(),
            "the token is not sent with subtitle downloads"
        );
    }

    #[tokio::test]
    async fn a_remembered_run_is_reattached_instead_of_paying_for_a_new_one() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
        mount_run(&server, "old-run", "SUCCEEDED").await;
        mount_items(&server, json!([{"id": "7311770584007226424", "text": "pasta"}])).await;
        let memo = MemoryMemo::default();
        let task_id = TaskId::new();
        memo.set(task_id, RunKind::Text, "old-run").await;

        let video = scrape(&scraper(&server), &memo, task_id).await.unwrap();

        assert_eq!(video.caption, "pasta");
        assert_eq!(video.transcript, None, "an item without subtitle links has no transcript");
    }

    #[tokio::test]
    async fn a_remembered_run_that_failed_or_vanished_is_replaced_by_a_new_run() {
        for (old_status, why) in [
            (Some("FAILED"), "failed"),
            (Some("ABORTED"), "aborted"),
            (Some("TIMED-OUT"), "timed out"),
            (None, "404"),
        ] {
            let server = MockServer::start().await;
            match old_status {
                Some(status) => mount_run(&server, "old-run", status).await,
                None => {
                    Mock::given(method("GET"))
                        .and(path("/v2/actor-runs/old-run"))
                        .respond_with(apify_error(404, "record-not-found", "Actor run was not found"))
                        .mount(&server)
                        .await;
                }
            }
            Mock::given(method("POST"))
                .and(path(ACTOR_RUNS))
                .respond_with(ResponseTemplate::new(201).set_body_json(run("new-run", "SUCCEEDED")))
                .expect(1)
                .named(why)
                .mount(&server)
                .await;
            mount_items(&server, json!([{"text": "pasta"}])).await;
            let memo = MemoryMemo::default();
            let task_id = TaskId::new();
            memo.set(task_id, RunKind::Text, "old-run").await;

            let video = scrape(&scraper(&server), &memo, task_id).await;

            assert_eq!(video.map(|v| v.caption), Ok("pasta".to_owned()), "{why}");
            assert_eq!(
                memo.get(task_id, RunKind::Text).await.as_deref(),
                Some("new-run"),
                "{why}: the new run replaces the old one"
            );
        }
    }

    #[tokio::test]
    async fn a_429_is_transient_with_the_retry_after_hint() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .respond_with(
                apify_error(429, "rate-limit-exceeded", "You have exceeded the rate limit")
                    .insert_header("Retry-After", "7"),
            )
            .mount(&server)
            .await;

        let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

        let ProviderError::Transient { message, retry_after } = error else {
            panic!("expected transient, got {error:?}")
        };
        assert_eq!(retry_after, Some(Duration::from_secs(7)));
        assert!(message.contains("You have exceeded the rate limit"), "Apify's message is kept: {message}");
    }

    #[tokio::test]
    async fn http_failures_are_classified_by_status() {
        let cases: [(u16, Option<&str>, &str); 7] = [
            (401, Some("apify_unauthorized"), "bad token"),
            (403, Some("apify_unauthorized"), "token without permission"),
            (402, Some("apify_quota"), "out of credit"),
            (404, Some("apify_actor_not_found"), "actor name wrong"),
            (400, Some("apify_rejected"), "invalid input"),
            (500, None, "server error is transient"),
            (503, None, "unavailable is transient"),
        ];
        for (status, code, why) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path(ACTOR_RUNS))
                .respond_with(apify_error(status, "some-type", &format!("echo of {TOKEN}")))
                .mount(&server)
                .await;

            let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

            match (code, &error) {
                (Some(expected), ProviderError::Permanent { code, .. }) => {
                    assert_eq!(code, &expected, "{why}")
                }
                (None, ProviderError::Transient { retry_after, .. }) => {
                    assert_eq!(*retry_after, None, "{why}")
                }
                _ => panic!("{why}: HTTP {status} gave {error:?}"),
            }
            let text = error.to_string();
            assert!(
                text.contains("some-type: echo of [redacted]"),
                "{why}: Apify's message is included: {text}"
            );
            assert!(!text.contains(TOKEN), "{why}: the token never appears: {text}");
        }
    }

    #[tokio::test]
    async fn an_unauthorized_key_is_permanent() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .respond_with(apify_error(
                401,
                "token-not-valid",
                "User was not found or authentication token is not valid",
            ))
            .mount(&server)
            .await;

        let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

        assert!(
            matches!(&error, ProviderError::Permanent { code: "apify_unauthorized", message } if message.contains("authentication token is not valid")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn failed_and_aborted_runs_end_the_attempt() {
        let cases = [
            ("FAILED", None, "a crashed run is worth a new run"),
            ("TIMED-OUT", None, "an actor timeout is worth a new run"),
            ("ABORTED", Some("scrape_aborted"), "an aborted run was stopped on purpose"),
        ];
        for (status, code, why) in cases {
            let server = MockServer::start().await;
            mount_start(&server, "run1", "RUNNING").await;
            mount_run(&server, "run1", status).await;

            let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

            match (code, &error) {
                (Some(expected), ProviderError::Permanent { code, .. }) => {
                    assert_eq!(code, &expected, "{why}")
                }
                (None, ProviderError::Transient { message, .. }) => {
                    assert!(message.contains(status), "{why}: {message}")
                }
                _ => panic!("{why}: {status} gave {error:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_run_that_outlasts_max_wait_is_transient() {
        let server = MockServer::start().await;
        mount_start(&server, "run1", "RUNNING").await;
        mount_run(&server, "run1", "RUNNING").await;
        let mut scraper = scraper(&server);
        scraper.config.max_wait = Duration::from_millis(200);

        let error = scrape(&scraper, &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

        assert!(
            matches!(&error, ProviderError::Transient { message, .. } if message.contains("still RUNNING")),
            "{error:?}"
        );
        let polls =
            server.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "GET").count();
        assert!(polls >= 1, "the run was polled before giving up");
    }

    #[tokio::test]
    async fn an_empty_dataset_means_the_video_is_unavailable() {
        for (items, why) in
            [(json!([]), "empty dataset"), (json!([{"url": VIDEO, "error": "Post not found"}]), "error item")]
        {
            let server = MockServer::start().await;
            mount_start(&server, "run1", "SUCCEEDED").await;
            mount_items(&server, items).await;

            let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

            assert_eq!(error, ProviderError::permanent("video_unavailable", VIDEO_UNAVAILABLE), "{why}");
        }
    }

    #[tokio::test]
    async fn a_failed_subtitle_download_still_returns_the_video() {
        let server = MockServer::start().await;
        mount_start(&server, "run1", "SUCCEEDED").await;
        mount_items(&server, json!([item(&server)])).await;
        Mock::given(method("GET"))
            .and(path("/subs/en.vtt"))
            .respond_with(ResponseTemplate::new(500))
            .expect(1)
            .mount(&server)
            .await;

        let video = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap();

        assert_eq!(video.transcript, None);
        assert!(video.caption.starts_with("Creamy garlic pasta"), "{video:?}");
    }

    #[tokio::test]
    async fn an_unreadable_dataset_is_transient() {
        let server = MockServer::start().await;
        mount_start(&server, "run1", "SUCCEEDED").await;
        mount_items(&server, json!({"not": "an array"})).await;

        let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

        assert!(matches!(error, ProviderError::Transient { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn malformed_item_fields_are_skipped_not_fatal() {
        let server = MockServer::start().await;
        mount_start(&server, "run1", "SUCCEEDED").await;
        mount_items(
            &server,
            json!([{
                "id": 7311770584007226424_u64,
                "text": 12345,
                "textLanguage": ["en"],
                "authorMeta": "cozykitchenwithmia",
                "videoMeta": {"duration": "58.4", "coverUrl": 42, "subtitleLinks": [{"language": 1, "downloadLink": false}, "junk"]},
                "covers": ["javascript:alert(1)"],
                "hashtags": [{"name": 5}, "#dinner", null, {"title": "no name"}],
            }]),
        )
        .await;

        let video = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap();

        assert_eq!(video.caption, "12345", "a number caption is read as text");
        assert_eq!(video.text_language, None);
        assert_eq!(
            video.author.as_deref(),
            Some("cozykitchenwithmia"),
            "falls back to the handle in the link"
        );
        assert_eq!(video.duration_secs, Some(58));
        assert_eq!(video.cover_url, None, "non-URL and non-http covers are dropped");
        assert_eq!(video.hashtags, vec!["5".to_owned(), "dinner".to_owned()]);
        assert_eq!(video.transcript, None);
    }

    #[test]
    fn the_subtitle_in_the_caption_language_wins_and_originals_beat_translations() {
        let link = |language: &str, source: &str| json!({"language": language, "downloadLink": format!("https://subs.example/{language}-{source}.vtt"), "source": source});
        let cases = [
            (
                "de",
                vec![link("eng-US", "ASR"), link("deu-DE", "MT"), link("deu-DE", "ASR")],
                "deu-DE-ASR",
                "language first, then original",
            ),
            (
                "fr",
                vec![link("spa-ES", "ASR"), link("eng-US", "MT")],
                "eng-US-MT",
                "English when the language is missing",
            ),
            (
                "un",
                vec![link("ita-IT", "ASR"), link("eng-US", "ASR")],
                "eng-US-ASR",
                "undetermined language prefers English",
            ),
            (
                "pt",
                vec![link("ita-IT", "MT"), link("jpn-JP", "ASR")],
                "jpn-JP-ASR",
                "any original before a translation",
            ),
            ("en", vec![link("en", "ASR"), link("eng-US", "ASR")], "en-ASR", "ties keep the actor's order"),
        ];
        for (text_language, links, expected, why) in cases {
            let item = json!({"textLanguage": text_language, "videoMeta": {"subtitleLinks": links}});
            let chosen = best_subtitle(&item).unwrap_or_else(|| panic!("{why}: nothing chosen"));
            assert_eq!(chosen.url.as_str(), format!("https://subs.example/{expected}.vtt"), "{why}");
        }
        assert_eq!(best_subtitle(&json!({"videoMeta": {"subtitleLinks": []}})), None, "no tracks, no choice");
    }

    #[test]
    fn hashtags_fall_back_to_the_caption() {
        let url = video_url();
        let video = video_from_item(
            &json!({"text": "so good #Pasta, #dinner! #pasta # #"}),
            &url,
            Some("  ".to_owned()),
        );
        assert_eq!(video.hashtags, vec!["Pasta".to_owned(), "dinner".to_owned(), "pasta".to_owned()]);
        assert_eq!(video.transcript, None, "a blank transcript counts as none");
    }

    #[test]
    fn a_short_link_takes_the_video_id_from_the_item() {
        let url = TikTokUrl::parse("https://vm.tiktok.com/ZMabc123/").unwrap();
        let video = video_from_item(
            &json!({"id": "7311770584007226424", "covers": ["https://c.example/1.jpeg"]}),
            &url,
            None,
        );
        assert_eq!(video.url, "https://vm.tiktok.com/ZMabc123");
        assert_eq!(video.video_id.as_deref(), Some("7311770584007226424"));
        assert_eq!(
            video.cover_url.as_deref(),
            Some("https://c.example/1.jpeg"),
            "covers[0] is the fallback cover"
        );
        assert_eq!(video.author, None, "a short link carries no handle");
    }

    #[test]
    fn a_cover_that_is_not_https_to_a_public_host_is_skipped() {
        let url = video_url();
        let cases = [
            (
                json!({"videoMeta": {"coverUrl": "http://169.254.169.254/latest/meta-data/", "originalCoverUrl": "https://0x7f000001/c.jpg"}, "covers": ["https://p16.tiktokcdn.com/c.jpeg"]}),
                Some("https://p16.tiktokcdn.com/c.jpeg"),
                "metadata over http and a hex loopback are passed over",
            ),
            (
                json!({"videoMeta": {"coverUrl": "https://localhost/c.jpg"}, "covers": ["https://[::1]/c.jpg"]}),
                None,
                "no public cover at all",
            ),
        ];
        for (item, expected, why) in cases {
            assert_eq!(video_from_item(&item, &url, None).cover_url.as_deref(), expected, "{why}");
        }
    }

    #[test]
    fn the_config_debug_output_hides_the_token() {
        let config = ApifyConfig::new(SecretString::from(TOKEN));
        let debug = format!("{config:?}");
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("https://api.apify.com/") && debug.contains(DEFAULT_ACTOR), "{debug}");
        let scraper = ApifyScraper::new(config).unwrap();
        assert!(!format!("{scraper:?}").contains(TOKEN));
    }

    #[test]
    fn unusable_configs_are_refused() {
        let with = |change: fn(&mut ApifyConfig)| {
            let mut config = ApifyConfig::new(SecretString::from(TOKEN));
            change(&mut config);
            ApifyScraper::new(config)
        };
        type Change = fn(&mut ApifyConfig);
        let cases: [(Change, &str); 4] = [
            (|c| c.token = SecretString::from(" "), "blank token"),
            (|c| c.actor = String::new(), "empty actor"),
            (|c| c.base_url = Url::parse("ftp://api.apify.com").unwrap(), "non-http base"),
            (|c| c.base_url = Url::parse("mailto:ops@example.com").unwrap(), "base without a path"),
        ];
        for (change, why) in cases {
            assert!(with(change).is_err(), "{why} should be refused");
        }
        let scraper = with(|c| c.actor = "clockworks/tiktok-scraper".to_owned()).unwrap();
        assert_eq!(scraper.config.actor, DEFAULT_ACTOR, "the console's user/name form is converted");
    }

    #[tokio::test]
    async fn a_video_run_asks_for_the_video_uses_its_own_memo_slot_and_names_the_stored_file() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .and(wiremock::matchers::body_partial_json(json!({"shouldDownloadVideos": true})))
            .respond_with(ResponseTemplate::new(201).set_body_json(run("video-run", "SUCCEEDED")))
            .expect(1)
            .mount(&server)
            .await;
        let record = format!("{}/v2/key-value-stores/kv1/records/video-7311770584007226424", server.uri());
        let mut stored = item(&server);
        stored["mediaUrls"] = json!([record]);
        stored["videoMeta"]["downloadAddr"] = json!("https://v16-webapp.tiktok.com/video.mp4");
        mount_items(&server, json!([stored])).await;
        Mock::given(method("GET"))
            .and(path("/subs/en.vtt"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        let (memo, task_id, url) = (MemoryMemo::default(), TaskId::new(), video_url());
        memo.set(task_id, RunKind::Text, "text-run").await;

        let video = scraper(&server)
            .scrape(ScrapeRequest { task_id, url: &url, memo: &memo, video: true })
            .await
            .unwrap();

        assert_eq!(video.video_file, Some(VideoFile::Remote(Url::parse(&record).unwrap())), "mediaUrls wins");
        assert_eq!(memo.get(task_id, RunKind::Video).await.as_deref(), Some("video-run"));
        assert_eq!(
            memo.get(task_id, RunKind::Text).await.as_deref(),
            Some("text-run"),
            "the text run is kept"
        );
    }

    #[test]
    fn the_video_file_is_read_from_media_urls_then_download_addr() {
        let cases = [
            (
                json!({"mediaUrls": ["https://api.apify.com/v2/key-value-stores/s/records/v"], "videoMeta": {"downloadAddr": "https://v16.tiktokcdn.com/x.mp4"}}),
                Some("https://api.apify.com/v2/key-value-stores/s/records/v"),
                "both: the stored copy",
            ),
            (
                json!({"mediaUrls": [], "videoMeta": {"downloadAddr": "https://v16.tiktokcdn.com/x.mp4"}}),
                Some("https://v16.tiktokcdn.com/x.mp4"),
                "only TikTok's link",
            ),
            (json!({"mediaUrls": ["javascript:alert(1)"]}), None, "not a web URL"),
            (json!({"text": "no video"}), None, "neither"),
        ];
        for (item, expected, why) in cases {
            assert_eq!(video_file_of(&item).map(String::from).as_deref(), expected, "{why}");
        }
    }

    #[tokio::test]
    async fn the_token_is_sent_to_the_apify_host_only() {
        let apify = MockServer::start().await;
        let elsewhere = MockServer::start().await;
        for server in [&apify, &elsewhere] {
            Mock::given(method("GET"))
                .and(path("/video.mp4"))
                .respond_with(ResponseTemplate::new(200).set_body_bytes(b"mp4".to_vec()))
                .mount(server)
                .await;
        }
        // The other server is allow-listed (it is on loopback, like the mock Apify).
        let mut config = ApifyConfig::new(SecretString::from(TOKEN));
        config.base_url = Url::parse(&apify.uri()).unwrap();
        config.trusted_origins = vec![Url::parse(&elsewhere.uri()).unwrap()];
        let scraper = ApifyScraper::new(config).unwrap();
        let dir = std::env::temp_dir().join(format!("apify-download-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let limits = media::Limits {
            max_bytes: 1024,
            max_secs: 60,
            max_frames: 1,
            frame_long_side: 768,
            timeout: Duration::from_secs(5),
        };

        for server in [&apify, &elsewhere] {
            let url = Url::parse(&format!("{}/video.mp4", server.uri())).unwrap();
            assert_eq!(scraper.download(&url, &dir.join("v.mp4"), &limits).await, Ok(3));
        }

        let auth = |requests: Vec<wiremock::Request>| {
            requests[0].headers.get("authorization").map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(auth(apify.received_requests().await.unwrap()), Some(format!("Bearer {TOKEN}")));
        assert_eq!(auth(elsewhere.received_requests().await.unwrap()), None, "never to another host");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn endpoints_keep_a_base_path_and_encode_segments() {
        let mut config = ApifyConfig::new(SecretString::from(TOKEN));
        config.base_url = Url::parse("https://proxy.example/apify/").unwrap();
        let scraper = ApifyScraper::new(config).unwrap();
        assert_eq!(
            scraper.endpoint(&["v2", "actor-runs", "a/b?c"]).as_str(),
            "https://proxy.example/apify/v2/actor-runs/a%2Fb%3Fc"
        );
    }
}
