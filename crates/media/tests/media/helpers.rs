//! Shared set-up: the tools, the limits, work folders, JPEG and process checks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use media::{Limits, Tools, Workdir};

use crate::fixtures::{self, Overlay, Sound};

/// The real tools, or a panic naming what to install.
pub(crate) fn tools() -> Tools {
    for tool in ["ffmpeg", "ffprobe", "tesseract"] {
        fixtures::require(tool);
    }
    Tools::detect().unwrap_or_else(|e| panic!("{e}"))
}

/// The production defaults (config/base.toml) with a test-sized timeout.
pub(crate) fn limits() -> Limits {
    Limits {
        max_bytes: 100 * 1024 * 1024,
        max_secs: 600,
        max_frames: 8,
        frame_long_side: 768,
        timeout: Duration::from_secs(60),
    }
}

/// The root the tests' work folders live in.
pub(crate) fn test_root() -> PathBuf {
    std::env::temp_dir().join("recipe-relay-media-tests")
}

/// A fresh work folder for one test, removed when the test ends.
pub(crate) fn workdir(test: &str) -> Workdir {
    Workdir::create(&test_root(), &format!("{test}-{}", std::process::id())).expect("work folder")
}

/// The 12 s 1280x720 recipe video with speech, in `dir`.
pub(crate) fn recipe_video(dir: &Path) -> PathBuf {
    let path = dir.join("recipe.mp4");
    fixtures::make_video(
        &path,
        (1280, 720),
        12,
        fixtures::FLAT,
        &fixtures::recipe_overlays(),
        Sound::Speech("Mix two hundred grams of flour with two eggs. Bake for twenty minutes."),
    );
    path
}

/// A plain video of `secs` seconds with one overlay and the given sound.
pub(crate) fn plain_video(dir: &Path, name: &str, size: (u32, u32), secs: u32, sound: Sound<'_>) -> PathBuf {
    let path = dir.join(name);
    let overlay = Overlay { text: "Salt", from: 0.0, to: f64::from(secs), y: 0.5, boxed: false };
    fixtures::make_video(&path, size, secs, "color=c=0x993333:r=30", &[overlay], sound);
    path
}

/// Width and height from a JPEG's start-of-frame header; panics when it is not a JPEG.
pub(crate) fn jpeg_size(jpeg: &[u8]) -> (u32, u32) {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "not a JPEG: starts with {:02X?}", &jpeg[..4.min(jpeg.len())]);
    assert!(jpeg.ends_with(&[0xFF, 0xD9]), "JPEG is truncated");
    let mut i = 2;
    while i + 9 < jpeg.len() {
        assert_eq!(jpeg[i], 0xFF, "bad JPEG marker at {i}");
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return (u32::from(w), u32::from(h));
        }
        i += 2 + len;
    }
    panic!("JPEG without a frame header");
}

/// Whether the process runs (a zombie waiting to be reaped has ended).
pub(crate) fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

/// Waits up to `within` for `check`, polling every 20 ms.
pub(crate) async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// A fake `ffmpeg` in `dir/bin` running `body` (a POSIX sh script body), and the tools
/// using it with the real ffprobe and tesseract.
pub(crate) fn tools_with_ffmpeg(dir: &Path, body: &str) -> Tools {
    use std::os::unix::fs::PermissionsExt;
    let real = tools();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin folder");
    let script = bin.join("ffmpeg");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).expect("fake ffmpeg");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Tools::at(&script, real.ffprobe(), real.tesseract()).expect("tools at the fake ffmpeg")
}

/// Tools whose ffmpeg is the real one slowed to the video's own pace (`-re`), writing its
/// PID to `dir/ffmpeg.pids` first: a 12 s video keeps ffmpeg busy for 12 s, long enough to
/// kill it or cancel the task mid-way.
pub(crate) fn tools_with_slow_ffmpeg(dir: &Path) -> (Tools, PathBuf) {
    let real = tools();
    let pids = dir.join("ffmpeg.pids");
    let body = format!("echo $$ >> '{}'\nexec '{}' -re \"$@\"", pids.display(), real.ffmpeg().display());
    (tools_with_ffmpeg(dir, &body), pids)
}

/// The first PID the slow ffmpeg wrote, once it has exec'd into ffmpeg.
pub(crate) async fn first_ffmpeg_pid(pids: &Path) -> u32 {
    let mut pid = None;
    let found = eventually(Duration::from_secs(20), || {
        pid = std::fs::read_to_string(pids)
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()));
        pid.is_some_and(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "ffmpeg")
        })
    })
    .await;
    assert!(found, "the slow ffmpeg never started");
    pid.expect("pid")
}

/// Every PID the slow ffmpeg wrote (one per ffmpeg started).
pub(crate) fn all_pids(pids: &Path) -> Vec<u32> {
    std::fs::read_to_string(pids).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}
