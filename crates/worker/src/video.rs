//! The media pass: reading the video itself. Download (or find) the file, probe it, extract
//! keyframes and the audio with ffmpeg, read the on-screen text with Tesseract, transcribe the
//! speech when there is no subtitle track, and cache the result per video.
//!
//! Everything runs in a per-task folder ([`media::Workdir`]) that is removed when the pass ends,
//! fails or is dropped (the pipeline drops the future on cancel, and the tool processes are
//! killed with it); folders left by a crash are swept at startup ([`VideoReader::sweep`]).
//!
//! The cache (`p:media:<video id>` in Redis, for `worker.media_cache_hours`) holds the
//! transcript, the on-screen text and the kept frames (hashes and the small JPEGs), so a retry or
//! a request in another language repeats none of the download, ffmpeg, OCR or transcription.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::{Language, TaskId};
use serde::{Deserialize, Serialize};
use settings::MediaMode;
use tokio::sync::Semaphore;

use crate::providers::contract::{Frame, ProviderError, Scraper, Transcriber, VideoData, VideoFile};

/// Where the media pass keeps what it read, per video.
#[async_trait]
pub trait MediaCache: Send + Sync {
    /// The cached read of `video_id`, if any.
    async fn get(&self, video_id: &str) -> Option<Vec<u8>>;
    /// Stores the read of `video_id` for `ttl`.
    async fn put(&self, video_id: &str, value: &[u8], ttl: Duration);
}

/// How the media pass is set up.
pub struct VideoReaderConfig {
    /// `auto` or `always` (`never` builds no reader).
    pub mode: MediaMode,
    /// The folder per-task work folders are made in.
    pub root: PathBuf,
    /// Size, length, frame and time caps.
    pub limits: media::Limits,
    /// Speech to text, when a provider is configured.
    pub transcriber: Option<Arc<dyn Transcriber>>,
    /// How long a read stays cached.
    pub cache_ttl: Duration,
}

/// Reads videos; one per worker process.
pub struct VideoReader {
    mode: MediaMode,
    tools: media::Tools,
    root: PathBuf,
    limits: media::Limits,
    transcriber: Option<Arc<dyn Transcriber>>,
    cache_ttl: Duration,
    /// ffmpeg and Tesseract are CPU-bound: one analysis per core at a time, however many jobs
    /// the worker runs; the others wait (downloads and transcription do not).
    analyses: Arc<Semaphore>,
}

/// What the media pass read from one video: the inputs it adds to [`VideoData`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaRead {
    /// OCR of the kept frames, merged and de-duplicated.
    pub on_screen_text: Option<String>,
    /// The transcribed speech (only without a subtitle track and with a transcriber).
    pub speech_transcript: Option<String>,
    /// The kept keyframes (for the model).
    pub frames: Vec<Frame>,
    /// How many distinct frames OCR read (more than `frames`: OCR costs no API money).
    #[serde(default)]
    pub frames_read: usize,
    /// Whether the video has an audio stream.
    pub has_audio: bool,
    /// Whether there was speech to read that nobody transcribed (no transcription provider).
    pub speech_unread: bool,
    /// Whether this came from the cache (not stored).
    #[serde(skip)]
    pub cached: bool,
    /// Whether this read called the transcription API (not stored).
    #[serde(skip)]
    pub transcribed: bool,
}

impl MediaRead {
    /// Adds the read to `video`.
    pub fn apply(&self, video: &mut VideoData) {
        video.on_screen_text = self.on_screen_text.clone();
        video.speech_transcript = self.speech_transcript.clone();
        video.frames = self.frames.clone();
        video.frames_read = self.frames_read.max(self.frames.len());
    }
}

impl VideoReader {
    /// Finds ffmpeg, ffprobe and tesseract on `PATH`.
    ///
    /// # Errors
    /// [`media::MissingTools`] naming the tools that are not installed.
    pub fn new(config: VideoReaderConfig) -> Result<Self, media::MissingTools> {
        Ok(Self::with_tools(config, media::Tools::detect()?))
    }

    /// A reader running the given programs (tests put a misbehaving ffmpeg in).
    pub fn with_tools(config: VideoReaderConfig, tools: media::Tools) -> Self {
        Self {
            mode: config.mode,
            tools,
            root: config.root,
            limits: config.limits,
            // Counted and timed in the provider metrics.
            transcriber: config
                .transcriber
                .map(|inner| Arc::new(crate::providers::metered::Metered(inner)) as Arc<dyn Transcriber>),
            cache_ttl: config.cache_ttl,
            analyses: Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from))),
        }
    }

    /// `auto` or `always`.
    pub fn mode(&self) -> MediaMode {
        self.mode
    }

    /// The OCR languages the issue asks for (English, German, Spanish) whose Tesseract data is
    /// not installed; they are read as English then.
    pub fn missing_ocr_languages(&self) -> Vec<&'static str> {
        self.tools.missing_languages(&["eng", "deu", "spa"])
    }

    /// Whether speech is transcribed (a transcription provider is configured).
    pub fn transcribes(&self) -> bool {
        self.transcriber.is_some()
    }

    /// Removes the work folders a crashed worker left behind; call once at startup.
    pub fn sweep(&self) {
        match media::Workdir::sweep(&self.root) {
            Ok(0) => {}
            Ok(removed) => {
                tracing::info!(root = %self.root.display(), removed, "removed media folders of a crashed worker")
            }
            Err(error) => {
                tracing::warn!(root = %self.root.display(), %error, "could not sweep the media folder")
            }
        }
    }

    /// Reads `video` (which a video-downloading scrape returned). `Ok(None)` when the scraper
    /// named no video file.
    ///
    /// # Errors
    /// `video_too_large`, `video_too_long`, `video_unreadable` (permanent) as [`media`] decides;
    /// transient for timeouts and network trouble; the transcriber's own errors.
    #[tracing::instrument(skip_all, fields(task_id = %task, video_id = video.video_id.as_deref().unwrap_or("?")))]
    pub async fn read(
        &self,
        task: TaskId,
        video: &VideoData,
        language: &Language,
        scraper: &dyn Scraper,
        cache: &dyn MediaCache,
    ) -> Result<Option<MediaRead>, ProviderError> {
        let key = video.video_id.as_deref().map(|id| format!("{id}:{}", self.transcribes()));
        if let Some(key) = &key
            && let Some(bytes) = cache.get(key).await
        {
            match serde_json::from_slice::<MediaRead>(&bytes) {
                Ok(mut read) => {
                    tracing::info!(frames = read.frames.len(), "media read from the cache");
                    read.cached = true;
                    return Ok(Some(read));
                }
                Err(error) => tracing::warn!(%error, "unreadable media cache entry; reading the video again"),
            }
        }
        let Some(file) = &video.video_file else { return Ok(None) };
        let started = Instant::now();
        let workdir = media::Workdir::create(&self.root, &task.to_string())
            .map_err(|e| ProviderError::transient(format!("Could not make the media folder: {e}")))?;
        let path = match file {
            VideoFile::Local(path) => {
                // The same cap as a download, so a local file is judged like a remote one.
                let size = tokio::fs::metadata(path).await.map(|m| m.len()).unwrap_or(0);
                if size > self.limits.max_bytes {
                    return Err(provider_error(media::MediaError::TooLarge { limit: self.limits.max_bytes }));
                }
                path.clone()
            }
            VideoFile::Remote(url) => {
                let dest = workdir.path().join("video.mp4");
                // Streamed, capped at `max_bytes` and `timeout` by `media::download`.
                let bytes = scraper.download(url, &dest, &self.limits).await?;
                tracing::info!(bytes, elapsed_ms = started.elapsed().as_millis() as u64, "video downloaded");
                dest
            }
        };
        let ocr_language = video.text_language.as_deref().unwrap_or(language.primary());
        let permit = self
            .analyses
            .acquire()
            .await
            .map_err(|_| ProviderError::transient("The media analysis is shutting down"))?;
        let analysis = media::analyse(&self.tools, &path, workdir.path(), &self.limits, ocr_language)
            .await
            .map_err(provider_error)?;
        drop(permit);
        tracing::info!(
            timings = ?analysis.timings,
            frames = analysis.frames.len(),
            frames_read = analysis.frames_read,
            "video analysed"
        );
        let mut read = MediaRead {
            on_screen_text: Some(analysis.on_screen_text.trim().to_owned()).filter(|t| !t.is_empty()),
            frames_read: analysis.frames_read,
            frames: analysis.frames,
            has_audio: analysis.audio.is_some(),
            ..MediaRead::default()
        };
        if video.transcript.is_none()
            && let Some(audio) = &analysis.audio
        {
            match &self.transcriber {
                Some(transcriber) => {
                    let speech =
                        transcriber.transcribe(audio, Some(speech_language(video, language))).await?;
                    crate::stats::audio_transcribed(analysis.probe.duration_secs);
                    read.speech_transcript = Some(speech).filter(|t| !t.trim().is_empty());
                    read.transcribed = true;
                }
                None => read.speech_unread = true,
            }
        }
        drop(workdir);
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            on_screen_chars = read.on_screen_text.as_deref().map_or(0, str::len),
            transcribed = read.transcribed,
            "media pass done"
        );
        if let Some(key) = &key {
            match serde_json::to_vec(&read) {
                Ok(bytes) => cache.put(key, &bytes, self.cache_ttl).await,
                Err(error) => tracing::warn!(%error, "could not encode the media read for the cache"),
            }
        }
        Ok(Some(read))
    }
}

/// The spoken language to tell the transcriber: TikTok's detected caption language, which is
/// the video's own, else the requested one (the recipe's language says nothing about the audio,
/// but it is the better guess than none).
fn speech_language<'a>(video: &'a VideoData, language: &'a Language) -> &'a str {
    video
        .text_language
        .as_deref()
        .map(|l| l.split(['-', '_']).next().unwrap_or(l))
        .filter(|l| l.len() == 2)
        .unwrap_or(language.primary())
}

/// A [`media::MediaError`] as the pipeline's failure: permanent ones end the task with their code.
pub(crate) fn provider_error(error: media::MediaError) -> ProviderError {
    if error.is_permanent() {
        ProviderError::permanent(error.code(), error.to_string())
    } else {
        ProviderError::transient(error.to_string())
    }
}
