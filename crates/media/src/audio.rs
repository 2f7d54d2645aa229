//! The audio track as small mono speech audio for a transcription API.

use std::path::{Path, PathBuf};

use crate::run::{ffmpeg, run};
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
    let mut cmd = ffmpeg(tools.ffmpeg());
    cmd.arg("-i").arg(video);
    cmd.args(["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", "16000"]);
    cmd.args(["-c:a", "libmp3lame", "-b:a", "32k", "-t", &max_secs]).arg(&out);
    run("ffmpeg", cmd, limits.timeout).await?;
    Ok(Some(out))
}
