//! On-screen text: Tesseract on every kept frame, lines merged and de-duplicated.
//!
//! Overlays in cooking videos come in every contrast: white or yellow text with a dark outline,
//! shadow or box over the picture, black text in a white box, dark text straight on a plain
//! colour. No single preparation reads them all, so a frame is read in two ways, the second only
//! when the first finds no text (fewer than [`ENOUGH_TEXT`] confident letters and digits), and
//! the better reading is kept ([`Reading::score`]):
//!
//! - **bright text cut out**: grey levels above [`WHITE`] become black ink, everything else
//!   white paper, which lifts outlined white text out of any busy background (and leaves black
//!   text in a white box as a white-on-black box, which Tesseract reads inverted). On our test
//!   overlays this reads "2 eggs" at 95 % confidence where the plain grey frame gave "2: eggs"
//!   at 0 %. The level was tuned on such frames: 200 let bright picture areas through, 225 lost
//!   black-in-white-box text.
//! - **the grey frame** as it is, binarised by Tesseract itself (Otsu): dark or coloured text
//!   on a plain or light background, which the cut above turns into blank paper. Not used when
//!   the cut read text: over a busy picture this reading turns texture into words.
//!
//! One ffmpeg call prepares both images of every frame (~50 ms). Upscaling was measured and
//! bought nothing at 768 px. Page segmentation mode 6 (one uniform block) reads stacked overlay
//! lines in order and invents less noise than sparse mode 11. Words under a confidence of
//! [`MIN_CONF`] are dropped, then lines that have neither a word of three letters nor a number
//! with a letter (OCR noise like "=|", "ae" or "27 50"). Still lost: light text without any
//! outline on a light scene, and low-contrast colour on colour.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::run::{ffmpeg, run};
use crate::{Frame, Limits, MediaError, Tools};

/// Tesseract's per-word confidence (0–100) below which a word is taken for noise: real
/// overlay words score 85–97, texture read as letters 30–60.
const MIN_CONF: f64 = 50.0;
/// Grey level (0–255) above which a pixel counts as overlay text.
const WHITE: u8 = 215;
/// Letters and digits of the bright-text reading from which the grey frame is not read too
/// ("2 eggs" has 5).
const ENOUGH_TEXT: usize = 4;
/// Frames read at once: tesseract is CPU-bound and the worker has other tasks.
const PARALLEL: usize = 2;

/// Reads the text on `frames` with Tesseract in `languages` (e.g. `["deu", "eng"]`, see
/// [`crate::ocr_languages`]), one text line per output line, in the frames' order and then top
/// to bottom. A line seen before (the same overlay on three frames, or read with a character
/// of difference) appears once; lines that differ in a number ("2 eggs", "3 eggs") are kept
/// apart. Costs ~0.3 s per 768 px frame on one core (twice that when the second reading is
/// needed); two frames run at once.
///
/// `dir` receives the prepared images; they are removed before returning.
///
/// # Errors
/// [`MediaError::ToolFailed`] / [`MediaError::Timeout`] from ffmpeg or tesseract (a missing
/// language's data is a `ToolFailed` naming it); [`MediaError::Io`].
#[tracing::instrument(skip_all, fields(frames = frames.len()))]
pub async fn read_text(
    tools: &Tools,
    frames: &[Frame],
    dir: &Path,
    languages: &[&str],
    limits: &Limits,
) -> Result<String, MediaError> {
    if frames.is_empty() {
        return Ok(String::new());
    }
    let work = dir.join("ocr");
    crate::workdir::make_subdir(&work)?;
    let result = read_all(tools, frames, &work, languages, limits).await;
    let _ = tokio::fs::remove_dir_all(&work).await;
    let pages = result?;
    let mut merged = Lines::default();
    for page in &pages {
        for line in page {
            merged.add(line);
        }
    }
    Ok(merged.into_text())
}

async fn read_all(
    tools: &Tools,
    frames: &[Frame],
    work: &Path,
    languages: &[&str],
    limits: &Limits,
) -> Result<Vec<Vec<String>>, MediaError> {
    for (i, frame) in frames.iter().enumerate() {
        tokio::fs::write(work.join(format!("in_{i:04}.jpg")), &frame.jpeg).await?;
    }
    let mut cmd = ffmpeg(tools.ffmpeg());
    cmd.args(["-f", "image2", "-start_number", "0", "-i"]).arg(work.join("in_%04d.jpg"));
    let prepare = format!("format=gray,split[grey][cut];[cut]lutyuv=y='if(gt(val,{WHITE}),0,255)'[bright]");
    cmd.args(["-filter_complex", &prepare]);
    cmd.args(["-map", "[bright]", "-start_number", "0"]).arg(work.join("bright_%04d.pgm"));
    cmd.args(["-map", "[grey]", "-start_number", "0"]).arg(work.join("grey_%04d.pgm"));
    run("ffmpeg", cmd, limits.timeout).await?;

    let images = |kind: &str| -> Vec<PathBuf> {
        (0..frames.len()).map(|i| work.join(format!("{kind}_{i:04}.pgm"))).collect()
    };
    let (bright, grey) = (images("bright"), images("grey"));
    let lang = if languages.is_empty() { "eng".to_owned() } else { languages.join("+") };
    // Lanes instead of spawned tasks: everything stays inside this future, so dropping it
    // drops (and kills) every running tesseract.
    let lane = |k: usize| {
        let (bright, grey, lang) = (&bright, &grey, &lang);
        async move {
            let mut pages = Vec::new();
            for i in (k..bright.len()).step_by(PARALLEL) {
                let cut = tesseract(tools, &bright[i], lang, limits).await?;
                // The grey frame only when the cut found (almost) no text: over a busy
                // picture Tesseract's own binarisation reads texture as words.
                let best = if cut.score() >= ENOUGH_TEXT {
                    cut
                } else {
                    let plain = tesseract(tools, &grey[i], lang, limits).await?;
                    if plain.score() > cut.score() { plain } else { cut }
                };
                pages.push((i, best.lines));
            }
            Ok::<_, MediaError>(pages)
        }
    };
    let (a, b) = tokio::join!(lane(0), lane(1));
    let mut pages: Vec<(usize, Vec<String>)> = a?.into_iter().chain(b?).collect();
    pages.sort_by_key(|(i, _)| *i);
    Ok(pages.into_iter().map(|(_, lines)| lines).collect())
}

async fn tesseract(tools: &Tools, image: &Path, lang: &str, limits: &Limits) -> Result<Reading, MediaError> {
    let mut cmd = Command::new(tools.tesseract());
    cmd.arg(image).args(["stdout", "-l", lang, "--psm", "6", "tsv"]);
    // Tesseract's OpenMP threads fight each other when two run on two cores; one each is
    // faster in total.
    cmd.env("OMP_THREAD_LIMIT", "1");
    let out = run("tesseract", cmd, limits.timeout).await?;
    Ok(parse_tsv(&String::from_utf8_lossy(&out.stdout)))
}

/// One frame as Tesseract read one preparation of it.
#[derive(Debug, Default, PartialEq)]
struct Reading {
    /// Confident words, as lines, junk lines dropped.
    lines: Vec<String>,
}

impl Reading {
    /// How much real text the reading holds: its letters and digits. The lines are already
    /// confident words only, so noise a preparation invents scores little, and a preparation
    /// that loses the text scores nothing.
    fn score(&self) -> usize {
        self.lines.iter().flat_map(|l| l.chars()).filter(|c| c.is_alphanumeric()).count()
    }
}

/// Lines from Tesseract's TSV (level, page, block, par, line, word, left, top, width, height,
/// conf, text), confident words only, junk lines dropped.
fn parse_tsv(tsv: &str) -> Reading {
    let mut lines: Vec<((u32, u32, u32), String)> = Vec::new();
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let [_, _, block, par, line, _, _, _, _, _, conf, text] = cols[..] else { continue };
        let text = text.trim();
        let conf: f64 = conf.trim().parse().unwrap_or(-1.0);
        if text.is_empty() || conf < MIN_CONF {
            continue;
        }
        let key = (block.parse().unwrap_or(0), par.parse().unwrap_or(0), line.parse().unwrap_or(0));
        match lines.last_mut() {
            Some((k, acc)) if *k == key => {
                acc.push(' ');
                acc.push_str(text);
            }
            _ => lines.push((key, text.to_owned())),
        }
    }
    Reading { lines: lines.into_iter().map(|(_, l)| l).filter(|l| !is_junk(l)).collect() }
}

/// Noise: no word of three letters or more, and no number standing with a letter ("200 g",
/// "2 l").
fn is_junk(line: &str) -> bool {
    let has_word = line.split_whitespace().any(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3);
    let has_digit = line.chars().any(|c| c.is_ascii_digit());
    let has_letter = line.chars().any(char::is_alphabetic);
    !(has_word || (has_digit && has_letter))
}

/// The merged lines, in first-seen order, with their comparison keys.
#[derive(Default)]
struct Lines {
    kept: Vec<(String, String)>,
}

impl Lines {
    fn add(&mut self, line: &str) {
        let key = normalise(line);
        if key.is_empty() {
            return;
        }
        for (text, seen) in &mut self.kept {
            if same_line(seen, &key) {
                // Keep the fuller reading ("200 g flo" on a fading frame, "200 g flour" later).
                if key.len() > seen.len() {
                    *text = line.trim().to_owned();
                    *seen = key;
                }
                return;
            }
        }
        self.kept.push((line.trim().to_owned(), key));
    }

    fn into_text(self) -> String {
        self.kept.into_iter().map(|(text, _)| text).collect::<Vec<_>>().join("\n")
    }
}

/// Lower case, letters and digits only, single spaces.
fn normalise(line: &str) -> String {
    let mapped: String = line
        .chars()
        .map(|c| if c.is_alphanumeric() { c.to_lowercase().next().unwrap_or(c) } else { ' ' })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The same text read twice: equal digits (a number is never fuzzy) and at most one edit per
/// eight characters, or one reading contained in the other.
fn same_line(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    if digits(a) != digits(b) {
        return false;
    }
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.chars().count() >= 5 && long.contains(short) {
        return true;
    }
    let longest = a.chars().count().max(b.chars().count());
    edit_distance(a, b) * 8 <= longest
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
