//! The two external steps of the pipeline, behind traits: scraping a video and extracting a recipe.
//!
//! Each has a real client (Apify, an OpenAI-compatible LLM) and an offline provider (fixtures, a
//! rule-based extractor) so the demo and the tests run without keys or network.

pub mod apify;
pub mod fixtures;
pub mod llm;
pub mod rules;
pub mod vtt;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protocol::{Language, Recipe, TaskId, TikTokUrl};

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
    /// A permanent failure.
    pub fn permanent(code: &'static str, message: impl Into<String>) -> Self {
        Self::Permanent { code, message: message.into() }
    }

    /// A transient failure without a retry hint.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient { message: message.into(), retry_after: None }
    }
}

/// Remembers provider state across attempts of one task (the Apify run id), so a retried job
/// re-attaches to the run it already paid for.
#[async_trait]
pub trait RunMemo: Send + Sync {
    /// The run id recorded for this task, if any.
    async fn get(&self, task: TaskId) -> Option<String>;
    /// Records the run id for this task.
    async fn set(&self, task: TaskId, run_id: &str);
}

/// What a scraper is asked to fetch.
pub struct ScrapeRequest<'a> {
    /// The task, for logs and the run memo.
    pub task_id: TaskId,
    /// The link to scrape.
    pub url: &'a TikTokUrl,
    /// Where to remember a provider run across retries.
    pub memo: &'a dyn RunMemo,
}

/// Fetches caption, subtitles and cover of a TikTok video.
#[async_trait]
pub trait Scraper: Send + Sync {
    /// Scrapes one video.
    ///
    /// # Errors
    /// [`ProviderError::Permanent`] when the video is gone, private or the key is refused;
    /// [`ProviderError::Transient`] for timeouts, 429 and 5xx.
    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError>;
}

/// Turns a scraped video into a recipe in the requested language.
#[async_trait]
pub trait Extractor: Send + Sync {
    /// The `details` text of the "Processing with AI..." step.
    fn details(&self) -> String;

    /// Extracts the recipe. `source`, `cover_url` and `language` of the result are filled from
    /// `video` and `language`.
    ///
    /// # Errors
    /// `ProviderError::Permanent { code: "not_a_recipe", .. }` when the video holds no recipe;
    /// other permanent errors for refusals and truncation; transient ones for 429/5xx/timeouts.
    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError>;
}

/// The pair of providers a worker runs with.
#[derive(Clone)]
pub struct Providers {
    /// The scraper.
    pub scraper: Arc<dyn Scraper>,
    /// The extractor.
    pub extractor: Arc<dyn Extractor>,
}
