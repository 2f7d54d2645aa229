//! Videos made on this machine from a short description, so the offline fixtures and the tests
//! exercise the media pass on real MP4 files without binaries in the repository.
//!
//! A [`MediaScript`] says what is on screen when (lines of text drawn with ffmpeg's `drawtext`
//! over a plain colour) and what is heard (a text spoken by `espeak-ng`, a tone, or nothing).
//! [`render`] turns it into an H.264/AAC MP4 with ffmpeg, both run as child processes that are
//! killed if the future is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

/// Fonts tried for `drawtext`, in order; Debian's `fonts-dejavu-core` has the first.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
];

/// What a generated video shows and says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaScript {
    /// Length in seconds.
    pub duration_secs: u32,
    /// Frame size, `WxH`; TikTok's portrait 720x1280 by default.
    #[serde(default = "default_size")]
    pub size: String,
    /// Background colour, as ffmpeg names it (`0x2d4a3e`, `navy`).
    #[serde(default = "default_background")]
    pub background: String,
    /// Text overlays, each shown from `from` to `to` seconds.
    #[serde(default)]
    pub scenes: Vec<Scene>,
    /// The sound track.
    #[serde(default)]
    pub audio: Audio,
}

/// Lines of text on screen for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// Start, seconds.
    pub from: f64,
    /// End, seconds.
    pub to: f64,
    /// The lines, top to bottom (keep them under ~26 characters so they fit the width).
    pub lines: Vec<String>,
}

/// What is heard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Audio {
    /// No audio stream at all.
    #[default]
    None,
    /// A sine tone (music without words).
    Tone,
    /// `text` spoken by espeak-ng in `voice` (`en`, `de`, `es`).
    Speech {
        /// What is said.
        text: String,
        /// The espeak-ng voice.
        #[serde(default = "default_voice")]
        voice: String,
    },
}

fn default_size() -> String {
    "720x1280".into()
}

fn default_background() -> String {
    "0x2d4a3e".into()
}

fn default_voice() -> String {
    "en".into()
}

/// Why a video could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// ffmpeg or espeak-ng could not be started (not installed).
    #[error("could not run {tool}: {source}")]
    Spawn {
        /// The program.
        tool: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("{tool} failed: {stderr}")]
    Failed {
        /// The program.
        tool: &'static str,
        /// The end of its standard error.
        stderr: String,
    },
    /// Writing the helper files failed, or the output path is unusable for a filter graph.
    #[error("could not prepare the video: {0}")]
    Io(String),
}

/// Renders `script` to the MP4 file `dest`; helper files go beside it and are removed.
///
/// # Errors
/// [`RenderError`] when ffmpeg (or espeak-ng, for speech) is missing or fails.
pub async fn render(script: &MediaScript, dest: &Path) -> Result<(), RenderError> {
    let dir = dest.parent().ok_or_else(|| RenderError::Io("the output has no folder".into()))?;
    let stem = dest.file_stem().and_then(|s| s.to_str()).unwrap_or("video");
    let helpers = Helpers((0..=script.scenes.len()).map(|i| dir.join(format!(".{stem}.part{i}"))).collect());
    let duration = script.duration_secs.max(1);
    let mut filters = Vec::new();
    let font = FONTS.iter().find(|f| Path::new(f).exists());
    for (scene, file) in script.scenes.iter().zip(&helpers.0) {
        tokio::fs::write(file, scene.lines.join("\n")).await.map_err(|e| RenderError::Io(e.to_string()))?;
        let font = match font {
            Some(path) => format!("fontfile='{path}'"),
            None => "font='DejaVu Sans'".to_owned(),
        };
        filters.push(format!(
            "drawtext={font}:textfile='{}':fontsize=44:fontcolor=white:line_spacing=22:x=48:y=(h-text_h)/2:\
             enable='between(t,{},{})'",
            filter_path(file)?,
            scene.from,
            scene.to
        ));
    }
    let video_filter = if filters.is_empty() { "null".to_owned() } else { filters.join(",") };
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c={}:s={}:d={duration}:r=25", script.background, script.size));
    let speech = helpers.0.last().map(|p| p.with_extension("wav"));
    match &script.audio {
        Audio::None => {}
        Audio::Tone => {
            ffmpeg.args(["-f", "lavfi", "-i"]).arg(format!("sine=frequency=330:duration={duration}"));
        }
        Audio::Speech { text, voice } => {
            let wav = speech.clone().ok_or_else(|| RenderError::Io("no helper path".into()))?;
            run(
                "espeak-ng",
                Command::new("espeak-ng").args(["-v", voice, "-s", "150", "-w"]).arg(&wav).arg(text),
            )
            .await?;
            ffmpeg.arg("-i").arg(&wav);
        }
    }
    ffmpeg.args(["-vf", &video_filter, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]);
    if matches!(script.audio, Audio::None) {
        ffmpeg.arg("-an");
    } else {
        ffmpeg.args(["-af", "apad", "-c:a", "aac", "-ac", "1", "-b:a", "64k"]);
    }
    ffmpeg.args(["-t", &duration.to_string(), "-movflags", "+faststart"]).arg(dest);
    let result = run("ffmpeg", &mut ffmpeg).await;
    if let Some(wav) = speech {
        let _ = tokio::fs::remove_file(wav).await;
    }
    result
}

/// The helper text files of one render, removed when it ends (also when it is dropped).
struct Helpers(Vec<PathBuf>);

impl Drop for Helpers {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// `path` quoted for a filter-graph option value; paths with quotes or colons are refused
/// rather than escaped, since the fixture and test folders never have them.
fn filter_path(path: &Path) -> Result<String, RenderError> {
    let text = path.to_str().ok_or_else(|| RenderError::Io("a non-UTF-8 path".into()))?;
    if text.contains(['\'', ':', '\\']) {
        return Err(RenderError::Io(format!("the path {text:?} cannot go into a filter graph")));
    }
    Ok(text.to_owned())
}

async fn run(tool: &'static str, command: &mut Command) -> Result<(), RenderError> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| RenderError::Spawn { tool, source })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: String = stderr.trim().chars().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
    Err(RenderError::Failed { tool, stderr: tail })
}
