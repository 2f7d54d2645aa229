//! Media analysis of one downloaded cooking video with ffmpeg, ffprobe and Tesseract: what the
//! worker's media pass reads when the caption and subtitles do not hold the recipe.
//!
//! # The pipeline ([`analyse`])
//!
//! | step | tool | what it gives | cost (60 s 720p, 2 cores) |
//! |---|---|---|---|
//! | [`download`] | reqwest | the video in the task's [`Workdir`], capped by size and time | network: ~10 MB at 1.5 Mbit/s |
//! | [`probe`] | ffprobe | duration, streams, display size; the gate for corrupt files | ~50 ms |
//! | [`extract_audio`] | ffmpeg | mono 16 kHz 32 kbit/s MP3 for transcription (240 KB/min) | ~0.5 s, beside the keyframes |
//! | [`keyframes`] | ffmpeg | ≤ `max_frames` JPEGs, one per shot/overlay, even coverage, dHash | ~3–4 s: one decode of the video |
//! | [`read_text`] | tesseract | the on-screen text, lines de-duplicated across frames | ~0.3–0.5 s per frame, two at once |
//!
//! The bench (`cargo bench -p media --bench analyse`: 60 s 1280x720 at 1.5 Mbit/s, ten
//! overlays over a moving picture, speech) measured a median of ffmpeg 4.4 s, OCR 2.6 s,
//! total 7.0 s for 8 frames, on a 2-core machine that other builds kept at a load of ~6, so
//! an idle machine does better. The worker records each pass's [`Timings`].
//!
//! # Resources and failure
//!
//! Every tool runs as a child process that is killed when its future is dropped or its
//! timeout ([`Limits::timeout`]) passes, so a cancelled task leaves no ffmpeg behind; its
//! files live in a [`Workdir`] that is removed on drop and swept at startup after a crash.
//! Nothing blocks the async runtime. [`MediaError::is_permanent`] separates the file's fault
//! (too large, too long, unreadable: fail the task) from the machine's or network's (retry).
//!
//! The tools are found once at startup ([`Tools::detect`]), which names what is missing in
//! one line; `scripts/services` and `deploy/Dockerfile` install them.

mod audio;
mod download;
mod error;
mod frames;
mod ocr;
mod probe;
mod run;
mod tools;
mod workdir;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use audio::extract_audio;
pub use download::{download, save};
pub use error::MediaError;
pub use frames::{Frame, keyframes};
pub use ocr::read_text;
pub use probe::{Probe, probe};
pub use tools::{MissingTools, Tools, ocr_languages};
pub use workdir::Workdir;

/// The caps of one media pass; the worker fills them from its settings
/// (`worker.media_max_bytes`, `worker.media_max_secs`, `worker.media_max_frames`), which own
/// the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest video download, in bytes.
    pub max_bytes: u64,
    /// Longest video, in seconds ([`MediaError::TooLong`] past it).
    pub max_secs: u32,
    /// Most frames [`keyframes`] keeps.
    pub max_frames: usize,
    /// Longest side of a kept frame, in pixels (768 matches the LLM's low-detail tile).
    pub frame_long_side: u32,
    /// Longest wait for one step: the download, and each ffprobe/ffmpeg/tesseract call. Size
    /// it for the longest allowed video: [`keyframes`] decodes the whole file, ~3 s per minute
    /// of 720p on a loaded core, so 600 s needs well over 30 s.
    pub timeout: Duration,
}

/// Where the time of one [`analyse`] went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Wall time of ffprobe, then audio extraction and keyframes (which run side by side).
    pub ffmpeg: Duration,
    /// Wall time of [`read_text`]: the binarising ffmpeg call and Tesseract on the frames.
    pub ocr: Duration,
}

/// Everything the media pass found in one video.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Duration and streams.
    pub probe: Probe,
    /// The speech audio for transcription, inside the work folder; `None` without audio.
    pub audio: Option<PathBuf>,
    /// The frames for a vision model, in time order: at most `limits.max_frames`, spread over
    /// the video, out of the ones read by OCR.
    pub frames: Vec<Frame>,
    /// How many distinct frames OCR read (up to [`OCR_FRAMES`], at least `frames.len()`).
    pub frames_read: usize,
    /// The de-duplicated on-screen text, one line per text line; empty when none was read.
    pub on_screen_text: String,
    /// Time spent per tool.
    pub timings: Timings,
}

/// The whole media pass over one downloaded video: probe, audio, keyframes, OCR.
///
/// `dir` is the task's [`Workdir`]; `language` is the task's BCP-47 language, which picks the
/// OCR languages.
///
/// # Errors
/// [`MediaError::Unreadable`] for a file that is not a video or has no video stream,
/// [`MediaError::TooLong`] past `limits.max_secs`, and the errors of each step.
#[tracing::instrument(skip_all, fields(language))]
pub async fn analyse(
    tools: &Tools,
    video: &Path,
    dir: &Path,
    limits: &Limits,
    language: &str,
) -> Result<Analysis, MediaError> {
    let start = Instant::now();
    let probe = probe(tools, video, limits).await?;
    if !probe.has_video {
        return Err(MediaError::Unreadable("the file has no video stream".to_owned()));
    }
    if probe.duration_secs > f64::from(limits.max_secs) {
        return Err(MediaError::TooLong { secs: probe.duration_secs, limit: limits.max_secs });
    }
    // OCR costs no API money, so it reads more shots than a vision model is sent: a recipe
    // shown one ingredient per overlay has more overlays than `max_frames`.
    let wide = Limits { max_frames: OCR_FRAMES.max(limits.max_frames), ..limits.clone() };
    // Two independent ffmpeg processes: on two cores they take the time of the longer one.
    let (audio, read) = tokio::try_join!(
        extract_audio(tools, video, dir, &probe, limits),
        keyframes(tools, video, dir, &probe, &wide),
    )?;
    let ffmpeg = start.elapsed();
    let ocr_start = Instant::now();
    let languages = ocr_languages(tools, language);
    let languages: Vec<&str> = languages.iter().map(String::as_str).collect();
    let on_screen_text = read_text(tools, &read, dir, &languages, limits).await?;
    let timings = Timings { ffmpeg, ocr: ocr_start.elapsed() };
    let frames_read = read.len();
    let frames = spread(read, limits.max_frames, probe.duration_secs);
    Ok(Analysis { probe, audio, frames, frames_read, on_screen_text, timings })
}

/// Most distinct frames [`analyse`] reads by OCR (~0.6 s each on one core, two at a time).
pub const OCR_FRAMES: usize = 24;

/// At most `max` of `frames` (in time order), one nearest to the middle of each of `max`
/// equal spans of the video, so the picks cover it evenly.
fn spread(frames: Vec<Frame>, max: usize, duration: f64) -> Vec<Frame> {
    if frames.len() <= max {
        return frames;
    }
    let span = duration.max(f64::EPSILON) / max as f64;
    let mut keep = vec![false; frames.len()];
    for k in 0..max {
        let middle = (k as f64 + 0.5) * span;
        let nearest = (0..frames.len()).filter(|&i| !keep[i]).min_by(|&a, &b| {
            (frames[a].at_secs - middle).abs().total_cmp(&(frames[b].at_secs - middle).abs())
        });
        if let Some(i) = nearest {
            keep[i] = true;
        }
    }
    frames.into_iter().zip(keep).filter(|(_, k)| *k).map(|(f, _)| f).collect()
}
