//! The audio track as small mono speech audio for a transcription API.

use std::path::{Path, PathBuf};

use crate::run::run;
use crate::{Limits, MediaError, Probe, Tools};

/// Extracts the first audio stream as mono 16 kHz MP3 at 32 kbit/s into `dir/audio.mp3`.
///
/// Why these figures: speech models resample to 16 kHz mono anyway, and 32 kbit/s MP3 is
/// 240 KB a minute, so even a 600 s video (2.4 MB) is far below the 25 MB upload limit of
/// OpenAI-compatible transcription APIs. MP3 rather than Opus because every such server
/// (OpenAI, Groq, Azure, whisper.cpp) accepts it. Costs about 1 s per minute of video.
///
/// Returns `None` when `probe` found no audio stream.
///
/// # Errors
/// [`MediaError::ToolFailed`] / [`MediaError::Timeout`] from ffmpeg.
#[tracing::instrument(skip_all)]
pub async fn extract_audio(
    tools: &Tools,
    video: &Path,
    dir: &Path,
    probe: &Probe,
    limits: &Limits,
) -> Result<Option<PathBuf>, MediaError> {
    if !probe.has_audio {
        return Ok(None);
    }
    let out = dir.join("audio.mp3");
    let max_secs = limits.max_secs.to_string();
    let args = [
        "-nostdin".as_ref(),
        "-hide_banner".as_ref(),
        "-loglevel".as_ref(),
        "error".as_ref(),
        "-y".as_ref(),
        "-i".as_ref(),
        video.as_os_str(),
        "-map".as_ref(),
        "0:a:0".as_ref(),
        "-vn".as_ref(),
        "-sn".as_ref(),
        "-dn".as_ref(),
        "-ac".as_ref(),
        "1".as_ref(),
        "-ar".as_ref(),
        "16000".as_ref(),
        "-c:a".as_ref(),
        "libmp3lame".as_ref(),
        "-b:a".as_ref(),
        "32k".as_ref(),
        "-t".as_ref(),
        max_secs.as_ref(),
        out.as_os_str(),
    ];
    run("ffmpeg", tools.ffmpeg(), args, limits.timeout).await?;
    Ok(Some(out))
}
