//! The external steps of the pipeline, behind traits: scraping a video, transcribing its speech
//! and extracting a recipe.
//!
//! Each has a real client (Apify, an OpenAI-compatible LLM and speech-to-text API) and an offline
//! provider (fixtures, a rule-based extractor; no offline transcription) so the demo and the tests
//! run without keys or network.

pub mod apify;
pub(crate) mod contract;
pub mod fixture_media;
pub mod fixtures;
pub mod llm;
pub(crate) mod metered;
pub mod rules;
pub mod transcribe;
pub mod vtt;

use std::sync::Arc;

pub use contract::{
    Extractor, Frame, NoMemo, ProviderError, RunKind, RunMemo, ScrapeRequest, Scraper, Transcriber,
    VideoData, VideoFile,
};

/// The providers a worker runs with.
#[derive(Clone)]
pub struct Providers {
    /// Step 2: fetches caption, subtitles and, for the media pass, the video file.
    pub scraper: Arc<dyn Scraper>,
    /// Step 3: turns what was read into a recipe.
    pub extractor: Arc<dyn Extractor>,
    /// Reads the video itself; `None` keeps to caption and subtitles (`worker.media = "never"`,
    /// or ffmpeg/tesseract missing).
    pub video: Option<Arc<crate::video::VideoReader>>,
}

impl Providers {
    /// A scraper and an extractor, without reading videos. Their calls are counted and timed
    /// in the provider metrics.
    pub fn new(scraper: Arc<dyn Scraper>, extractor: Arc<dyn Extractor>) -> Self {
        Self {
            scraper: Arc::new(metered::Metered(scraper)),
            extractor: Arc::new(metered::Metered(extractor)),
            video: None,
        }
    }

    /// The same providers reading videos with `reader`.
    #[must_use]
    pub fn with_video(mut self, reader: crate::video::VideoReader) -> Self {
        self.video = Some(Arc::new(reader));
        self
    }
}
