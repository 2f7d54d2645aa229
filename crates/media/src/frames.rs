//! Keyframes: scene changes plus even coverage, small JPEGs, near-duplicates dropped.
//!
//! One ffmpeg pass samples candidates at up to 2 per second and writes, for each, the JPEG
//! and a 64x64 grey thumbnail (raw bytes, 4 KiB). The choice is then made here, on the
//! thumbnails: consecutive candidates that look alike form a *shot* (an overlay that stays
//! for 4 s is one shot of ~8 candidates), each shot offers its middle candidate, shots that
//! repeat an earlier one are dropped, and when more shots remain than `max_frames` the ones
//! that cover the video evenly win. Sampling, rather than ffmpeg's `select=gt(scene,…)`,
//! gives the same cuts (one every ≤ 0.5 s) and also the even grid from a single decode.

use std::path::Path;

use bytes::Bytes;

use crate::run::{ffmpeg, run};
use crate::{Limits, MediaError, Probe, Tools};

/// One kept frame. It serialises with the JPEG as base64 text, so a cache can keep it as JSON.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Frame {
    /// Its time in the video, in seconds.
    pub at_secs: f64,
    /// The JPEG, long side at most `Limits::frame_long_side`.
    #[serde(with = "base64_bytes")]
    pub jpeg: Bytes,
    /// 64-bit difference hash (dHash) of the frame's 9x8 grey reduction: equal or a few bits
    /// apart for the same picture re-encoded, for caches and cross-video dedupe. Too coarse
    /// to tell two text overlays apart, so the choice of frames uses finer thumbnails.
    pub hash: u64,
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map(Bytes::from).map_err(serde::de::Error::custom)
    }
}

/// The JPEG's size rather than its bytes: a debug-printed `Analysis` stays one line.
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("at_secs", &self.at_secs)
            .field("jpeg_bytes", &self.jpeg.len())
            .field("hash", &format_args!("{:016x}", self.hash))
            .finish()
    }
}

/// Side of the square grey thumbnail each candidate is compared by.
const THUMB: usize = 64;
const THUMB_BYTES: usize = THUMB * THUMB;
/// A pixel "changed" when its grey level moves by more than this (JPEG noise stays below).
const PIXEL_DELTA: u8 = 24;
/// Two thumbnails show the same picture when at most this many pixels changed (0.4 %): one
/// changed word of a 56 px overlay moves ~300 of them, re-encoding noise none.
const SAME_PIXELS: usize = 16;
/// Candidates per second, and at most this many in all (600 s at 0.4 per second).
const SAMPLE_RATE: f64 = 2.0;
const MAX_CANDIDATES: f64 = 240.0;

/// Picks at most `limits.max_frames` frames of `video`: one per shot (scene change or new
/// overlay), spread evenly over the video when there are more shots, each a JPEG (quality
/// ~4 of 31) with its long side at most `limits.frame_long_side`, in time order.
///
/// Costs one decode of the video (3–4 s per minute of 720p at 1.5 Mbit/s on a loaded core)
/// plus a JPEG per candidate; unused candidates are deleted before returning.
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
    if limits.max_frames == 0 || !probe.has_video {
        return Ok(Vec::new());
    }
    let frames_dir = dir.join("frames");
    crate::workdir::make_subdir(&frames_dir)?;
    let rate = SAMPLE_RATE.min(MAX_CANDIDATES / probe.duration_secs.max(1.0));
    let side = limits.frame_long_side.max(16);
    let thumbs_path = frames_dir.join("thumbs.gray");
    let graph = format!(
        "[0:v:0]fps={rate:.4},split=2[big][small];\
         [big]scale='if(gt(iw,ih),min({side},iw),-2)':'if(gt(iw,ih),-2,min({side},ih))'[jpg];\
         [small]scale={THUMB}:{THUMB}:flags=area,format=gray[thumb]"
    );
    let mut cmd = ffmpeg(tools.ffmpeg());
    // Non-reference frames are never needed at 2 samples per second; skipping their
    // decode saves a third of the time on typical phone video.
    cmd.args(["-an", "-sn", "-dn", "-skip_frame", "noref", "-i"]).arg(video);
    cmd.args(["-filter_complex", &graph]);
    cmd.args(["-map", "[jpg]", "-q:v", "4", "-fps_mode", "passthrough", "-f", "image2"]);
    cmd.arg(frames_dir.join("cand_%05d.jpg"));
    cmd.args(["-map", "[thumb]", "-fps_mode", "passthrough", "-f", "rawvideo"]).arg(&thumbs_path);
    run("ffmpeg", cmd, limits.timeout).await?;

    let thumbs = tokio::fs::read(&thumbs_path).await?;
    let thumbs: Vec<&[u8]> = thumbs.chunks_exact(THUMB_BYTES).collect();
    let picked = choose(&thumbs, rate, probe.duration_secs, limits.max_frames);
    let mut frames = Vec::with_capacity(picked.len());
    for &i in &picked {
        let path = frames_dir.join(format!("cand_{:05}.jpg", i + 1));
        let jpeg = tokio::fs::read(&path).await?;
        frames.push(Frame { at_secs: i as f64 / rate, jpeg: Bytes::from(jpeg), hash: dhash(thumbs[i]) });
    }
    // The candidates are many and only the picked ones live on (in memory).
    tokio::fs::remove_dir_all(&frames_dir).await?;
    tracing::debug!(candidates = thumbs.len(), kept = frames.len(), "keyframes chosen");
    Ok(frames)
}

/// How many pixels differ noticeably between two thumbnails.
fn changed(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x.abs_diff(**y) > PIXEL_DELTA).count()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    changed(a, b) <= SAME_PIXELS
}

/// A run of consecutive look-alike candidates.
#[derive(Debug, Clone, Copy)]
struct Shot {
    first: usize,
    last: usize,
}

impl Shot {
    /// The middle candidate: an overlay is fully faded in there.
    fn pick(self) -> usize {
        (self.first + self.last) / 2
    }
}

/// The indices of the candidates to keep, ascending.
fn choose(thumbs: &[&[u8]], rate: f64, duration: f64, max: usize) -> Vec<usize> {
    // 1. Shots: a new one starts at a cut (unlike the previous candidate) or after a slow
    //    drift (unlike the shot's first candidate), so a pan does not stay one shot.
    let mut shots: Vec<Shot> = Vec::new();
    for (i, thumb) in thumbs.iter().enumerate() {
        match shots.last_mut() {
            Some(s) if same(thumbs[i - 1], thumb) && same(thumbs[s.first], thumb) => s.last = i,
            _ => shots.push(Shot { first: i, last: i }),
        }
    }
    // 2. A shot that shows again what an earlier one showed (back to the same overlay) adds
    //    nothing.
    let mut distinct: Vec<Shot> = Vec::new();
    for shot in shots {
        if !distinct.iter().any(|d| same(thumbs[d.pick()], thumbs[shot.pick()])) {
            distinct.push(shot);
        }
    }
    if distinct.len() <= max {
        return distinct.into_iter().map(Shot::pick).collect();
    }
    // 3. Even coverage: split the video into `max` equal spans; each takes the shot covering
    //    most of it, then leftover places go to the longest shots not yet taken.
    let span = duration.max(f64::EPSILON) / max as f64;
    let time = |i: usize| i as f64 / rate;
    let mut taken = vec![false; distinct.len()];
    for k in 0..max {
        let (lo, hi) = (k as f64 * span, (k + 1) as f64 * span);
        let overlap = |s: &Shot| (time(s.last + 1).min(hi) - time(s.first).max(lo)).max(0.0);
        let best = distinct
            .iter()
            .enumerate()
            .filter(|(j, s)| !taken[*j] && overlap(s) > 0.0)
            .max_by(|(_, a), (_, b)| overlap(a).total_cmp(&overlap(b)));
        if let Some((j, _)) = best {
            taken[j] = true;
        }
    }
    let mut rest: Vec<usize> = (0..distinct.len()).filter(|j| !taken[*j]).collect();
    rest.sort_by_key(|j| std::cmp::Reverse(distinct[*j].last - distinct[*j].first));
    let missing = max - taken.iter().filter(|t| **t).count();
    for j in rest.into_iter().take(missing) {
        taken[j] = true;
    }
    let mut picked: Vec<usize> =
        distinct.iter().zip(&taken).filter(|(_, t)| **t).map(|(s, _)| s.pick()).collect();
    picked.sort_unstable();
    picked
}

/// dHash: the thumbnail reduced to 9x8 cells by area averaging, one bit per horizontal
/// neighbour pair (left brighter than right).
fn dhash(thumb: &[u8]) -> u64 {
    // (sum, count) per cell: 64 columns do not split evenly into 9.
    let mut cells = [[(0u32, 0u32); 9]; 8];
    for (y, row) in thumb.chunks_exact(THUMB).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            let cell = &mut cells[y * 8 / THUMB][x * 9 / THUMB];
            cell.0 += u32::from(v);
            cell.1 += 1;
        }
    }
    let mut hash = 0u64;
    for row in &cells {
        for pair in row.windows(2) {
            let ((sa, na), (sb, nb)) = (pair[0], pair[1]);
            hash = (hash << 1) | u64::from(sa * nb > sb * na);
        }
    }
    hash
}

#[cfg(test)]
mod tests;
