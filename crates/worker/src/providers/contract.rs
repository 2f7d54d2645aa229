//! What the pipeline and the providers agree on: the traits each external step is behind, the
//! video data they pass along and how a call fails. Kept apart from the provider wiring so the
//! media pass ([`crate::video`]) can use these types without depending on [`super::Providers`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use protocol::{Language, Recipe, TaskId, TikTokUrl};
use url::Url;

/// Everything the scraper learned about a video.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoData {
    /// Canonical link.
    pub url: String,
    /// Numeric video id, when known.
    pub video_id: Option<String>,
    /// The caption (description) text.
    pub caption: String,
    /// Plain-text transcript from the best subtitle track, when there is one.
    pub transcript: Option<String>,
    /// What was said, transcribed from the audio track (only when there is no subtitle track).
    pub speech_transcript: Option<String>,
    /// Text burned into the frames, read by OCR, lines merged and de-duplicated.
    pub on_screen_text: Option<String>,
    /// The keyframes kept for the model, in time order.
    pub frames: Vec<Frame>,
    /// How many distinct frames OCR read for `on_screen_text` (at least `frames.len()`).
    pub frames_read: usize,
    /// Where the scraper stored the video file, when it was asked to download it.
    pub video_file: Option<VideoFile>,
    /// Hashtags without `#`.
    pub hashtags: Vec<String>,
    /// The author's handle.
    pub author: Option<String>,
    /// Cover image URL.
    pub cover_url: Option<String>,
    /// The caption's language as TikTok detected it.
    pub text_language: Option<String>,
    /// Video length in seconds.
    pub duration_secs: Option<u32>,
}

/// One keyframe of the video: a small JPEG (long side at most 768 px), as the media pass kept it.
pub use media::Frame;

/// Where a scraped video file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoFile {
    /// To be downloaded with [`Scraper::download`] (an Apify key-value store record).
    Remote(Url),
    /// Already on this machine (the offline fixtures generate theirs); never deleted by a task.
    Local(PathBuf),
}

impl VideoData {
    /// The inputs the extractor reads, in words for the step-3 details and the completion event:
    /// `"caption and subtitles"`, `"caption, 8 frames, on-screen text and speech"`.
    pub fn inputs_phrase(&self, frames: usize) -> String {
        let mut parts = vec!["caption".to_owned()];
        if self.transcript.is_some() {
            parts.push("subtitles".into());
        }
        match frames {
            0 => {}
            1 => parts.push("1 frame".into()),
            n => parts.push(format!("{n} frames")),
        }
        if self.on_screen_text.is_some() {
            parts.push("on-screen text".into());
        }
        if self.speech_transcript.is_some() {
            parts.push("speech".into());
        }
        join_words(&parts)
    }

    /// The inputs used, as short stable words for logs and tests (`caption`, `subtitles`,
    /// `frames`, `on_screen_text`, `speech`).
    pub fn inputs_used(&self) -> Vec<&'static str> {
        let mut used = vec!["caption"];
        used.extend(self.transcript.is_some().then_some("subtitles"));
        used.extend((!self.frames.is_empty()).then_some("frames"));
        used.extend(self.on_screen_text.is_some().then_some("on_screen_text"));
        used.extend(self.speech_transcript.is_some().then_some("speech"));
        used
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_words(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// How a provider call failed: permanent failures end the task, transient ones are retried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Retrying will not help (bad key, video gone, not a recipe, refusal).
    #[error("{message}")]
    Permanent {
        /// Short, stable code shown to the app as `error` (e.g. `video_unavailable`).
        code: &'static str,
        /// A sentence the app can show.
        message: String,
    },
    /// Worth another attempt later (timeout, 429, 5xx).
    #[error("{message}")]
    Transient {
        /// What happened, for logs and the retry event.
        message: String,
        /// The provider's own hint (Retry-After), if it gave one.
        retry_after: Option<Duration>,
    },
}

impl ProviderError {
    /// A failure that ends the task at once; `code` is what the app sees as `error`.
    pub fn permanent(code: &'static str, message: impl Into<String>) -> Self {
        Self::Permanent { code, message: message.into() }
    }

    /// A transient failure without a retry hint.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient { message: message.into(), retry_after: None }
    }
}

/// Which of a task's (up to two) scraper runs: the cheap one, or the one that downloads the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    /// Caption, subtitles and cover.
    Text,
    /// The same plus the video file (`shouldDownloadVideos`), which costs more per video.
    Video,
}

/// Remembers provider state across attempts of one task (the Apify run ids), so a retried job
/// re-attaches to the runs it already paid for.
#[async_trait]
pub trait RunMemo: Send + Sync {
    /// The run id recorded for this task and kind, if any.
    async fn get(&self, task: TaskId, kind: RunKind) -> Option<String>;
    /// Records the run id for this task and kind.
    async fn set(&self, task: TaskId, kind: RunKind, run_id: &str);
}

/// A memo that remembers nothing: for scraping outside a job (the fixture scraper starts no
/// runs; a benchmark or report has no task to remember them for).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMemo;

#[async_trait]
impl RunMemo for NoMemo {
    async fn get(&self, _task: TaskId, _kind: RunKind) -> Option<String> {
        None
    }
    async fn set(&self, _task: TaskId, _kind: RunKind, _run_id: &str) {}
}

/// What a scraper is asked to fetch.
pub struct ScrapeRequest<'a> {
    /// The task, for logs and the run memo.
    pub task_id: TaskId,
    /// The TikTok link the task was created for.
    pub url: &'a TikTokUrl,
    /// Where to remember a provider run across retries.
    pub memo: &'a dyn RunMemo,
    /// Also fetch the video file ([`VideoData::video_file`]).
    pub video: bool,
}

/// Fetches caption, subtitles and cover of a TikTok video.
#[async_trait]
pub trait Scraper: Send + Sync {
    /// The provider's name in metrics (`apify`, `offline`): the `provider` label.
    fn provider(&self) -> &'static str {
        "custom"
    }

    /// Reads one video: caption, subtitles, cover and, when `request.video`, where its file is.
    ///
    /// # Errors
    /// [`ProviderError::Permanent`] when the video is gone, private or the key is refused;
    /// [`ProviderError::Transient`] for timeouts, 429 and 5xx.
    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError>;

    /// Downloads a [`VideoFile::Remote`] this scraper returned into `dest`, streamed and capped
    /// by `limits`, with the scraper's credentials where they belong. Returns the bytes written.
    ///
    /// # Errors
    /// `video_too_large` past the size cap (permanent); transient for network trouble. The
    /// default refuses: a scraper that never returns remote files has nothing to download.
    async fn download(&self, url: &Url, dest: &Path, limits: &media::Limits) -> Result<u64, ProviderError> {
        let _ = (dest, limits);
        Err(ProviderError::permanent(
            "video_unreadable",
            format!("This scraper cannot download {}", url.host_str().unwrap_or("the video")),
        ))
    }
}

/// Turns speech into text.
#[async_trait]
pub trait Transcriber: Send + Sync {
    /// The provider's name in metrics: the `provider` label.
    fn provider(&self) -> &'static str {
        "transcription"
    }

    /// Transcribes one audio file; `language` is an ISO 639-1 hint of the spoken language.
    ///
    /// # Errors
    /// Permanent for a rejected or oversized file or a refused key; transient for 429/5xx.
    async fn transcribe(&self, audio: &Path, language: Option<&str>) -> Result<String, ProviderError>;
}

/// Turns a scraped video into a recipe in the requested language.
#[async_trait]
pub trait Extractor: Send + Sync {
    /// The provider's name in metrics (`llm`, `rules`): the `provider` label.
    fn provider(&self) -> &'static str {
        "custom"
    }

    /// The `details` text of the "Processing with AI..." step: what is read from `video`.
    fn details(&self, video: &VideoData) -> String;

    /// Extracts the recipe. `source`, `cover_url` and `language` of the result are filled from
    /// `video` and `language`.
    ///
    /// # Errors
    /// `ProviderError::Permanent { code: "not_a_recipe", .. }` when the video holds no recipe;
    /// other permanent errors for refusals and truncation; transient ones for 429/5xx/timeouts.
    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError>;
}
