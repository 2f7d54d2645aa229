//! A task event as logged: the JSON a client receives, with its position and state read once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::TaskState;

/// One logged event of a task (a [`crate::TaskUpdate`] as the event log numbered it).
///
/// The JSON is kept as logged and shared (`Arc<str>`): it is sent as-is to every socket and
/// long-poll, and never re-parsed. `seq`, `state`, `error` and `timestamp` are read from it once,
/// where the event enters the process ([`Event::decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the task's log; a later event always has a higher one.
    pub seq: u64,
    /// The task's state after this event.
    pub state: TaskState,
    /// The error code of a FAILURE.
    pub error: Option<Box<str>>,
    /// When the update was made, just before it was logged and published (its `timestamp`, on
    /// the clock of the process that made it); the gateway measures delivery latency from it.
    pub timestamp: Option<SystemTime>,
    /// The event exactly as logged.
    pub json: Arc<str>,
}

/// The fields [`Event::decode`] reads; serde skips the rest without allocating.
#[derive(Deserialize)]
struct Head {
    seq: u64,
    status: TaskState,
    #[serde(default)]
    error: Option<Box<str>>,
    #[serde(default)]
    timestamp: Option<f64>,
}

/// Text that is not a logged event.
#[derive(Debug, thiserror::Error)]
#[error("not a logged task event: {0}")]
pub struct EventError(#[from] serde_json::Error);

impl Event {
    /// Reads a logged event.
    ///
    /// # Errors
    /// [`EventError`] when `json` is not a task event with a `seq` and a `status`.
    pub fn decode(json: impl Into<Arc<str>>) -> Result<Self, EventError> {
        let json = json.into();
        let head: Head = serde_json::from_str(&json)?;
        // Seconds since the epoch as a float: a microsecond's precision for today's dates.
        let timestamp =
            head.timestamp.and_then(|t| Duration::try_from_secs_f64(t).ok()).map(|d| UNIX_EPOCH + d);
        Ok(Self { seq: head.seq, state: head.status, error: head.error, timestamp, json })
    }

    /// SUCCESS or FAILURE: the task's last event.
    pub fn is_terminal(&self) -> bool {
        self.state.is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskId, TaskUpdate};

    #[test]
    fn a_logged_update_decodes_to_its_seq_state_and_error() {
        let mut update = TaskUpdate::failure(TaskId::new(), 2, "not_a_recipe", "No recipe in this video");
        update.seq = 7;
        let event = Event::decode(update.logged_json()).unwrap();
        assert_eq!(
            (event.seq, event.state, event.error.as_deref()),
            (7, TaskState::Failure, Some("not_a_recipe"))
        );
        assert_eq!(&*event.json, update.logged_json());
        assert!(event.is_terminal());
        let made = event.timestamp.expect("a timestamp").duration_since(UNIX_EPOCH).unwrap();
        assert!((made.as_secs_f64() - update.timestamp).abs() < 1e-6, "{made:?} vs {}", update.timestamp);
    }

    #[test]
    fn text_without_a_seq_or_a_state_is_refused() {
        for text in [r#"{"status":"PENDING"}"#, r#"{"seq":1}"#, r#"{"seq":1,"status":"DONE"}"#, "hello"] {
            assert!(Event::decode(text).is_err(), "{text}");
        }
    }
}
