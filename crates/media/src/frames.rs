//! Keyframes: scene changes plus even coverage, small JPEGs, near-duplicates dropped.

use std::path::Path;

use crate::{Limits, MediaError, Probe, Tools};

/// One kept frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Its time in the video, in seconds.
    pub at_secs: f64,
    /// The JPEG, long side at most `Limits::frame_long_side`.
    pub jpeg: bytes::Bytes,
    /// 64-bit difference hash (dHash) of the frame's 9x8 grey thumbnail: identical and
    /// re-encoded frames have equal or near-equal hashes, for caches and cross-run dedupe.
    pub hash: u64,
}

/// Picks at most `limits.max_frames` frames of `video`.
///
/// # Errors
/// [`MediaError::ToolFailed`] / [`MediaError::Timeout`] from ffmpeg; [`MediaError::Io`].
#[tracing::instrument(skip_all)]
pub async fn keyframes(
    tools: &Tools,
    video: &Path,
    dir: &Path,
    probe: &Probe,
    limits: &Limits,
) -> Result<Vec<Frame>, MediaError> {
    let _ = (tools, video, dir, probe, limits);
    Err(MediaError::ToolFailed { tool: "ffmpeg", message: "keyframes: not implemented yet".into() })
}
