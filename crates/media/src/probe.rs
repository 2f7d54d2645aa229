//! ffprobe: duration, streams and display size.

use std::path::Path;

use serde::Deserialize;

use crate::run::run;
use crate::{Limits, MediaError, Tools};

/// What ffprobe says about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Container duration in seconds (the longest stream's when the container has none).
    pub duration_secs: f64,
    /// At least one real video stream (cover art in an audio file does not count).
    pub has_video: bool,
    /// At least one audio stream.
    pub has_audio: bool,
    /// Display width of the first video stream, after its rotation; 0 without video.
    pub width: u32,
    /// Display height of the first video stream, after its rotation; 0 without video.
    pub height: u32,
}

#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Format {
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Disposition,
    #[serde(default)]
    tags: Tags,
    #[serde(default)]
    side_data_list: Vec<SideData>,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize, Default)]
struct Tags {
    rotate: Option<String>,
}

#[derive(Deserialize)]
struct SideData {
    rotation: Option<f64>,
}

/// Probes `video` with `ffprobe -print_format json -show_format -show_streams` (tens of ms).
///
/// This is the gate for bad input: a file ffprobe cannot parse is permanently unreadable.
/// The caller decides what a missing stream means ([`crate::analyse`] requires video).
///
/// # Errors
/// [`MediaError::Unreadable`] when ffprobe rejects the file or prints no usable duration;
/// [`MediaError::Timeout`]; [`MediaError::ToolFailed`] when ffprobe cannot be started.
#[tracing::instrument(skip_all)]
pub async fn probe(tools: &Tools, video: &Path, limits: &Limits) -> Result<Probe, MediaError> {
    let mut cmd = tokio::process::Command::new(tools.ffprobe());
    cmd.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]).arg(video);
    let out = match run("ffprobe", cmd, limits.timeout).await {
        Ok(out) => out,
        // ffprobe exits 1 on files it cannot parse: that is the file's fault, not the
        // machine's. A signal or a failure to start stays a ToolFailed.
        Err(MediaError::ToolFailed { message, .. }) if message.starts_with("exit status") => {
            return Err(MediaError::Unreadable(format!("ffprobe: {message}")));
        }
        Err(e) => return Err(e),
    };
    parse(&out.stdout)
}

fn parse(json: &[u8]) -> Result<Probe, MediaError> {
    let report: Report = serde_json::from_slice(json)
        .map_err(|e| MediaError::Unreadable(format!("ffprobe printed no usable report: {e}")))?;
    let video = report
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0);
    let has_audio = report.streams.iter().any(|s| s.codec_type.as_deref() == Some("audio"));
    let secs = |s: &Option<String>| s.as_deref().and_then(|d| d.parse::<f64>().ok());
    let duration = report
        .format
        .as_ref()
        .and_then(|f| secs(&f.duration))
        .or_else(|| report.streams.iter().filter_map(|s| secs(&s.duration)).reduce(f64::max))
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| MediaError::Unreadable("ffprobe reports no duration".to_owned()))?;
    let (mut width, mut height) = video.map_or((0, 0), |v| (v.width.unwrap_or(0), v.height.unwrap_or(0)));
    if let Some(v) = video {
        // Phones store portrait video as landscape plus a rotation; ffmpeg applies it when
        // decoding, so the frames we extract have the rotated size.
        let rotation = v
            .side_data_list
            .iter()
            .find_map(|d| d.rotation)
            .or_else(|| v.tags.rotate.as_deref().and_then(|r| r.parse().ok()))
            .unwrap_or(0.0);
        if (rotation.abs() as i64 / 90) % 2 == 1 {
            std::mem::swap(&mut width, &mut height);
        }
    }
    Ok(Probe { duration_secs: duration, has_video: video.is_some(), has_audio, width, height })
}
