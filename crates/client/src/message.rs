//! Decoding what the socket and the long-poll deliver.

use protocol::TaskUpdate;
use serde::Deserialize;

use crate::ClientError;

/// Longest excerpt of a bad message quoted in an error.
const EXCERPT: usize = 80;

/// Decodes one socket text message.
///
/// Returns `Ok(None)` for keep-alive replies (`pong`, `ping`, or a JSON object whose `type` is
/// one of those), which carry no update.
///
/// # Errors
/// [`ClientError::Protocol`] when the text is not a [`TaskUpdate`] or has no `seq`.
pub fn decode_message(text: &str) -> Result<Option<TaskUpdate>, ClientError> {
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("pong") || trimmed.eq_ignore_ascii_case("ping") {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<&'a str>,
    }
    if let Ok(Kind { kind: Some("pong" | "ping") }) = serde_json::from_str::<Kind<'_>>(trimmed) {
        return Ok(None);
    }
    decode_update(trimmed.as_bytes(), "socket message").map(Some)
}

/// Decodes a task update (a socket message or a `GET /task/{id}` snapshot) and checks its `seq`.
pub(crate) fn decode_update(body: &[u8], what: &str) -> Result<TaskUpdate, ClientError> {
    let update: TaskUpdate = serde_json::from_slice(body).map_err(|e| {
        ClientError::Protocol(format!("{what} is not a task update ({e}): {}", excerpt(body)))
    })?;
    if update.seq == 0 {
        return Err(ClientError::Protocol(format!("{what} has no seq: {}", excerpt(body))));
    }
    Ok(update)
}

/// The start of a body, lossily as text, for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut short: String = text.chars().take(EXCERPT).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}
