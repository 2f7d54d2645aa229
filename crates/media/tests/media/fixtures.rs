//! Real media made at test time with ffmpeg and espeak-ng: a background with text overlays
//! drawn over given time spans, and speech, a tone or no audio. Shared with the bench.

use std::path::Path;
use std::process::Command;

/// DejaVu Sans Bold: Debian's fonts-dejavu-core, which ffmpeg's dependencies pull in.
pub(crate) const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// A flat blue background, 30 fps: every change comes from the overlays.
pub(crate) const FLAT: &str = "color=c=0x336699:s=1280x720:r=30";
/// A zoom into the Mandelbrot set, 30 fps: every sampled frame differs from all others, like
/// a handheld camera, and never repeats (unlike ffmpeg's `gradients`).
pub(crate) const MOVING: &str = "mandelbrot=s=180x320:r=30";

/// Text drawn from `from` to `to` seconds (end exclusive, so spans that touch never show
/// two overlays in one frame).
pub(crate) struct Overlay {
    pub(crate) text: &'static str,
    pub(crate) from: f64,
    pub(crate) to: f64,
    /// Vertical position as a fraction of the height.
    pub(crate) y: f64,
    /// White text in a dark box (TikTok's "background" style) instead of white with a black
    /// outline.
    pub(crate) boxed: bool,
}

/// The audio track.
pub(crate) enum Sound<'a> {
    /// espeak-ng speaking the text, padded with silence to the video's length.
    Speech(&'a str),
    /// A 440 Hz tone.
    Tone,
    /// No audio stream.
    Silent,
}

/// The recipe the tests look for: ingredients for 4 s, a step in a box for 4 s, another step.
pub(crate) fn recipe_overlays() -> Vec<Overlay> {
    vec![
        Overlay { text: "200 g flour", from: 0.0, to: 4.0, y: 0.30, boxed: false },
        Overlay { text: "2 eggs", from: 0.0, to: 4.0, y: 0.42, boxed: false },
        Overlay { text: "Mix the flour and eggs", from: 4.0, to: 8.0, y: 0.50, boxed: true },
        Overlay { text: "Bake 20 minutes at 180 C", from: 8.0, to: 12.0, y: 0.65, boxed: false },
    ]
}

/// Panics with the reason when a tool the tests need is not installed: these tests must
/// fail, not skip, on a machine without them (scripts/services installs them).
pub(crate) fn require(tool: &str) {
    let found =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(
        found,
        "{tool} is not installed: run scripts/services (it apt-get installs ffmpeg, tesseract-ocr \
         with eng/deu/spa and espeak-ng) or install them yourself"
    );
}

/// Writes an H.264/AAC MP4 of `secs` seconds at `width`x`height` over the lavfi source
/// `background` (e.g. [`FLAT`] or [`MOVING`]), with the overlays and sound.
pub(crate) fn make_video(
    path: &Path,
    (width, height): (u32, u32),
    secs: u32,
    background: &str,
    overlays: &[Overlay],
    sound: Sound<'_>,
) {
    require("ffmpeg");
    let size = height.min(width) / 13;
    let mut chain = Vec::new();
    for o in overlays {
        let style =
            if o.boxed { "box=1:boxcolor=black@0.6:boxborderw=12" } else { "borderw=3:bordercolor=black" };
        chain.push(format!(
            "drawtext=fontfile={FONT}:text='{}':fontsize={size}:fontcolor=white:{style}:\
             x=(w-tw)/2:y=h*{}:enable='gte(t,{})*lt(t,{})'",
            o.text, o.y, o.from, o.to
        ));
    }
    // The background may come at any size (a small mandelbrot renders fast); scale it first
    // so the overlays are drawn at the video's size.
    chain.insert(0, format!("scale={width}:{height}"));
    let video_chain = chain.join(",");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"]);
    cmd.arg(background);
    let wav = path.with_extension("speech.wav");
    let audio = match sound {
        Sound::Speech(text) => {
            require("espeak-ng");
            let status = Command::new("espeak-ng")
                .args(["-v", "en", "-w"])
                .arg(&wav)
                .arg(text)
                .status()
                .expect("espeak-ng runs");
            assert!(status.success(), "espeak-ng failed");
            cmd.arg("-i").arg(&wav);
            Some("[1:a]apad[a]")
        }
        Sound::Tone => {
            cmd.args(["-f", "lavfi", "-i", &format!("sine=frequency=440:duration={secs}")]);
            Some("[1:a]anull[a]")
        }
        Sound::Silent => None,
    };
    let mut graph = format!("[0:v]{video_chain}[v]");
    if let Some(a) = audio {
        graph.push(';');
        graph.push_str(a);
    }
    cmd.args(["-filter_complex", &graph, "-map", "[v]"]);
    if audio.is_some() {
        cmd.args(["-map", "[a]", "-c:a", "aac", "-b:a", "64k"]);
    }
    // 1.5 Mbit/s like a TikTok 720p download; at x264's default quality a busy background
    // would make a file several times larger and slower to decode than real ones.
    cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]);
    cmd.args(["-b:v", "1500k", "-maxrate", "2M", "-bufsize", "4M"]);
    cmd.args(["-t", &secs.to_string()]).arg(path);
    let out = cmd.output().expect("ffmpeg runs");
    assert!(out.status.success(), "making {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&wav);
}
