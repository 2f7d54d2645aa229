//! Finding ffmpeg, ffprobe and tesseract, and which OCR languages are installed.

use std::fmt;
use std::path::{Path, PathBuf};

/// The external programs the media pass runs, by absolute path.
///
/// Built once at worker start ([`Tools::detect`]); cheap to share by reference.
#[derive(Debug, Clone)]
pub struct Tools {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    tesseract: PathBuf,
    /// Read once at construction: `tesseract --list-langs` costs ~20 ms and never changes
    /// while the process runs.
    languages: Vec<String>,
}

/// Which tools could not be found; its `Display` is the one line the worker logs at startup,
/// e.g. "ffmpeg and tesseract not found on PATH".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MissingTools {
    /// The missing tools' names ("ffmpeg", "ffprobe", "tesseract").
    pub missing: Vec<&'static str>,
    /// Where they were looked for ("on PATH", or "at the given paths").
    pub looked: &'static str,
}

impl fmt::Display for MissingTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = match self.missing.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        write!(f, "{names} not found {}", self.looked)
    }
}

impl Tools {
    /// Finds `ffmpeg`, `ffprobe` and `tesseract` on `PATH` and reads the installed Tesseract
    /// languages.
    ///
    /// Runs `tesseract --list-langs` synchronously (a few ms): call it at startup, not in a
    /// hot async path.
    ///
    /// # Errors
    /// [`MissingTools`] naming every tool that is not on `PATH`, in one line.
    pub fn detect() -> Result<Tools, MissingTools> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p));
        let (ffmpeg, ffprobe, tesseract) = (find("ffmpeg"), find("ffprobe"), find("tesseract"));
        Self::build(ffmpeg, ffprobe, tesseract, "on PATH")
    }

    /// Uses the given programs (tests point `ffmpeg` at a fake script; deployments may pin
    /// paths).
    ///
    /// # Errors
    /// [`MissingTools`] naming every path that is not an executable file.
    pub fn at(ffmpeg: &Path, ffprobe: &Path, tesseract: &Path) -> Result<Tools, MissingTools> {
        let ok = |p: &Path| is_executable(p).then(|| p.to_path_buf());
        Self::build(ok(ffmpeg), ok(ffprobe), ok(tesseract), "at the given paths")
    }

    fn build(
        ffmpeg: Option<PathBuf>,
        ffprobe: Option<PathBuf>,
        tesseract: Option<PathBuf>,
        looked: &'static str,
    ) -> Result<Tools, MissingTools> {
        match (ffmpeg, ffprobe, tesseract) {
            (Some(ffmpeg), Some(ffprobe), Some(tesseract)) => {
                let languages = list_languages(&tesseract);
                Ok(Tools { ffmpeg, ffprobe, tesseract, languages })
            }
            (ffmpeg, ffprobe, tesseract) => {
                let missing = [("ffmpeg", ffmpeg), ("ffprobe", ffprobe), ("tesseract", tesseract)]
                    .into_iter()
                    .filter_map(|(name, p)| p.is_none().then_some(name))
                    .collect();
                Err(MissingTools { missing, looked })
            }
        }
    }

    /// The ffmpeg binary.
    pub fn ffmpeg(&self) -> &Path {
        &self.ffmpeg
    }

    /// The ffprobe binary.
    pub fn ffprobe(&self) -> &Path {
        &self.ffprobe
    }

    /// The tesseract binary.
    pub fn tesseract(&self) -> &Path {
        &self.tesseract
    }

    /// The installed Tesseract language codes ("deu", "eng", "spa" ...; "osd" is left out),
    /// as `tesseract --list-langs` printed them when the `Tools` were built. Empty when that
    /// failed.
    pub fn tesseract_languages(&self) -> &[String] {
        &self.languages
    }

    /// The languages of `wanted` whose Tesseract data is not installed, for the worker's
    /// startup line ("tesseract has no data for deu, spa").
    pub fn missing_languages<'a>(&self, wanted: &[&'a str]) -> Vec<&'a str> {
        wanted.iter().copied().filter(|w| !self.languages.iter().any(|l| l == w)).collect()
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn list_languages(tesseract: &Path) -> Vec<String> {
    let Ok(out) =
        std::process::Command::new(tesseract).arg("--list-langs").stdin(std::process::Stdio::null()).output()
    else {
        return Vec::new();
    };
    // Tesseract 4 prints the list on stderr, 5 on stdout; the header line ends with a colon.
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains(' ') && !l.ends_with(':') && *l != "osd")
        .map(str::to_owned)
        .collect()
}

/// Maps a BCP-47 tag ("de", "es-419", "en-US", "zh-Hant") to the installed Tesseract languages
/// to read with, the requested one first, always followed by `eng`: overlays in non-English
/// videos often mix in English words, and English data reads digits and units well.
///
/// When the requested language's data is not installed only `eng` is returned; `eng` is
/// returned even when it is not installed, so that tesseract names what is missing.
pub fn ocr_languages(tools: &Tools, language: &str) -> Vec<String> {
    let installed = tools.tesseract_languages();
    let lower = language.trim().to_ascii_lowercase();
    let mut parts = lower.split(['-', '_']);
    let primary = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let code = match primary {
        "zh" if rest.iter().any(|p| matches!(*p, "hant" | "tw" | "hk" | "mo")) => "chi_tra",
        "zh" => "chi_sim",
        p => tesseract_code(p).unwrap_or(""),
    };
    let mut out = Vec::new();
    if !code.is_empty() && code != "eng" && installed.iter().any(|l| l == code) {
        out.push(code.to_owned());
    }
    out.push("eng".to_owned());
    out
}

/// ISO 639-1 to Tesseract's (mostly ISO 639-2/T) codes, for the languages cooking videos
/// commonly come in.
fn tesseract_code(primary: &str) -> Option<&'static str> {
    Some(match primary {
        "en" => "eng",
        "de" => "deu",
        "es" => "spa",
        "fr" => "fra",
        "it" => "ita",
        "pt" => "por",
        "nl" => "nld",
        "pl" => "pol",
        "tr" => "tur",
        "ru" => "rus",
        "uk" => "ukr",
        "cs" => "ces",
        "sv" => "swe",
        "da" => "dan",
        "no" | "nb" => "nor",
        "fi" => "fin",
        "el" => "ell",
        "ro" => "ron",
        "hu" => "hun",
        "ja" => "jpn",
        "ko" => "kor",
        "vi" => "vie",
        "th" => "tha",
        "id" => "ind",
        "ar" => "ara",
        "he" => "heb",
        "hi" => "hin",
        _ => return None,
    })
}
