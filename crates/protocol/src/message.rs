//! The task protocol: the scrape request, the task snapshot and the socket messages.
//!
//! One type, [`TaskUpdate`], is both the socket message and the `GET /task/{id}` snapshot (the
//! snapshot is simply the latest update). `status` is always one of the four state words the Dart
//! client switches on; the human text goes in `current_status` and `message`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{RecipeId, TaskId};

/// Steps in a task, as the app's progress bar counts them.
pub const TOTAL_STEPS: u32 = 5;

/// Body of `POST /scrape/async`. Raw strings: the api parses them into
/// [`crate::TikTokUrl`] and [`crate::Language`] so it can answer 422 with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScrapeRequest {
    /// The TikTok link as pasted.
    pub url: String,
    /// The language the recipe should be written in (`de`, `pt-BR`).
    pub language: String,
}

/// The state words of a task; the only values `status` ever takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskState {
    /// Queued, not yet picked up by a worker.
    Pending,
    /// A worker is on it.
    Progress,
    /// Finished with a saved recipe.
    Success,
    /// Finished without a recipe; `error` says why.
    Failure,
}

impl TaskState {
    /// The wire word, e.g. `"PROGRESS"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Progress => "PROGRESS",
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
        }
    }

    /// Parses a wire word.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "PENDING" => Some(Self::Pending),
            "PROGRESS" => Some(Self::Progress),
            "SUCCESS" => Some(Self::Success),
            "FAILURE" => Some(Self::Failure),
            _ => None,
        }
    }

    /// SUCCESS and FAILURE end a task: no update follows them.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::Failure)
    }
}

/// The `type` of a socket message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MessageType {
    /// PENDING or PROGRESS.
    Progress,
    /// SUCCESS, with the recipe.
    Completion,
    /// FAILURE, with the error.
    Error,
}

/// The pipeline's steps and the text the app shows for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Picked up by a worker.
    Preparing,
    /// Fetching caption, subtitles and cover.
    Scraping,
    /// Extracting the recipe.
    Extracting,
    /// Writing the recipe to the database.
    Saving,
}

impl Step {
    /// Position on the progress bar, 1 to 4 (5 is completion).
    pub fn number(self) -> u32 {
        match self {
            Self::Preparing => 1,
            Self::Scraping => 2,
            Self::Extracting => 3,
            Self::Saving => 4,
        }
    }

    /// The text the app shows for this step (docs/protocol.md, "Messages").
    pub fn text(self) -> &'static str {
        match self {
            Self::Preparing => "Preparing...",
            Self::Scraping => "Starting Apify scraper...",
            Self::Extracting => "Processing with AI...",
            Self::Saving => "Saving recipe...",
        }
    }
}

/// A socket message, and the task snapshot served by `GET /task/{id}`.
///
/// Field types are exactly what the Dart client casts: integers for `step`/`total_steps`,
/// strings or absent for the texts and ids, seconds as a float for `timestamp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskUpdate {
    /// `progress`, `completion` or `error`.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The task this update belongs to.
    pub task_id: TaskId,
    /// Per-task sequence number: 1, 2, 3, ... without gaps. 0 only in a draft not yet logged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// Always a state word.
    pub status: TaskState,
    /// Step reached, 0 (queued) to 5 (done).
    pub step: u32,
    /// Always [`TOTAL_STEPS`].
    pub total_steps: u32,
    /// The human text of the current step ("Processing with AI...").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    /// A sentence for the user; for PROGRESS the same as `current_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// More detail on the current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The saved recipe (SUCCESS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_id: Option<RecipeId>,
    /// The saved recipe's title (SUCCESS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_name: Option<String>,
    /// Why the task failed (FAILURE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds since the Unix epoch, as a float.
    pub timestamp: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Seconds since the Unix epoch with sub-second precision.
pub fn now_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

impl TaskUpdate {
    fn draft(task_id: TaskId, kind: MessageType, status: TaskState, step: u32) -> Self {
        Self {
            kind,
            task_id,
            seq: 0,
            status,
            step,
            total_steps: TOTAL_STEPS,
            current_status: None,
            message: None,
            details: None,
            recipe_id: None,
            recipe_name: None,
            error: None,
            timestamp: now_seconds(),
        }
    }

    /// The first update of every task: queued.
    pub fn pending(task_id: TaskId) -> Self {
        Self {
            current_status: Some("Queued".into()),
            message: Some("Task is waiting to be processed".into()),
            ..Self::draft(task_id, MessageType::Progress, TaskState::Pending, 0)
        }
    }

    /// A pipeline step has started.
    pub fn progress(task_id: TaskId, step: Step, details: Option<String>) -> Self {
        Self {
            current_status: Some(step.text().into()),
            message: Some(step.text().into()),
            details,
            ..Self::draft(task_id, MessageType::Progress, TaskState::Progress, step.number())
        }
    }

    /// A transient failure: the task waits and tries again (still PROGRESS for the app).
    pub fn retrying(task_id: TaskId, step: u32, details: String) -> Self {
        Self {
            current_status: Some("Waiting to retry...".into()),
            message: Some("Waiting to retry...".into()),
            details: Some(details),
            ..Self::draft(task_id, MessageType::Progress, TaskState::Progress, step)
        }
    }

    /// The task finished with a saved recipe.
    pub fn completion(task_id: TaskId, recipe_id: RecipeId, recipe_name: String) -> Self {
        Self {
            current_status: Some("Recipe ready".into()),
            message: Some("Recipe successfully processed and saved".into()),
            recipe_id: Some(recipe_id),
            recipe_name: Some(recipe_name),
            ..Self::draft(task_id, MessageType::Completion, TaskState::Success, TOTAL_STEPS)
        }
    }

    /// The task failed at `step`; `error` is short and stable, `message` is for the user.
    pub fn failure(task_id: TaskId, step: u32, error: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            current_status: Some(message.clone()),
            message: Some(message),
            error: Some(error.into()),
            ..Self::draft(task_id, MessageType::Error, TaskState::Failure, step)
        }
    }

    /// The owner cancelled the task at `step`.
    pub fn cancelled(task_id: TaskId, step: u32) -> Self {
        Self::failure(task_id, step, "cancelled", "Task was cancelled")
    }

    /// The job could not be queued (Redis refused it): the task ends at once.
    pub fn queue_unavailable(task_id: TaskId) -> Self {
        Self::failure(task_id, 0, "queue_unavailable", "The job queue is unavailable; please try again")
    }

    /// Queued again after the queue lost the job (a service restart).
    pub fn requeued(task_id: TaskId) -> Self {
        Self { details: Some("Queued again after a service restart".into()), ..Self::pending(task_id) }
    }

    /// A PENDING notice for a task an operator queued again (a dead letter, through the admin
    /// console): it runs once more with a fresh attempt budget.
    pub fn requeued_by_operator(task_id: TaskId) -> Self {
        Self { details: Some("Queued again by an operator".into()), ..Self::pending(task_id) }
    }

    /// True for SUCCESS and FAILURE.
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// The update without its seq, as the stores' scripts take it (they put the seq in front):
    /// it starts with `{"type":`.
    pub fn draft_json(&self) -> String {
        serde_json::to_string(&Self { seq: 0, ..self.clone() }).unwrap_or_default()
    }

    /// The update as the event log holds it: `{"seq":N,` in front of the draft's fields, the
    /// same bytes the Redis scripts write, so a copy kept in Postgres is the same event.
    pub fn logged_json(&self) -> String {
        let draft = self.draft_json();
        format!("{{\"seq\":{},{}", self.seq, draft.strip_prefix('{').unwrap_or(&draft))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const TASK: &str = "0190f2a4-7c1e-7d2a-9b1e-3c4d5e6f7a8b";
    const RECIPE: &str = "0190f2a4-7c1e-7d2a-9b1e-000000000001";

    fn task() -> TaskId {
        TaskId::parse(TASK).unwrap()
    }

    /// The casts the app's `_parseTaskProgress` and `TaskProgress` make, applied to a message
    /// (docs/protocol.md, "Messages").
    /// Returns the `TaskStatus` the Dart client would build, or panics where Dart would throw.
    fn dart_parse(data: &Value) -> &'static str {
        let string_or_null = |key: &str| {
            let v = data.get(key).unwrap_or(&Value::Null);
            assert!(v.is_string() || v.is_null(), "{key} must be String? in Dart, got {v}");
        };
        let int_or_null = |key: &str| {
            let v = data.get(key).unwrap_or(&Value::Null);
            assert!(v.is_i64() || v.is_u64() || v.is_null(), "{key} must be int? in Dart, got {v}");
        };
        let status = data["status"].as_str().expect("status is String?");
        for key in ["task_id", "message", "details", "recipe_id", "recipe_name", "current_status"] {
            string_or_null(key);
        }
        int_or_null("step");
        int_or_null("total_steps");
        assert!(data["timestamp"].is_f64(), "timestamp is a float");
        match status {
            "PENDING" => "pending",
            "PROGRESS" => {
                assert!(data["current_status"].is_string(), "PROGRESS text comes from current_status");
                "progress"
            }
            "SUCCESS" => "completed",
            "FAILURE" => "failed",
            other => panic!("Dart would ignore unknown status {other}"),
        }
    }

    #[test]
    fn progress_message_puts_the_text_in_current_status_not_status() {
        let mut update = TaskUpdate::progress(
            task(),
            Step::Extracting,
            Some("Using OpenAI to analyze frames and text".into()),
        );
        update.seq = 4;
        update.timestamp = 1635724800.0;
        let value = serde_json::to_value(&update).unwrap();
        assert_eq!(
            value,
            json!({
                "type": "progress", "task_id": TASK, "seq": 4, "status": "PROGRESS",
                "step": 3, "total_steps": 5,
                "current_status": "Processing with AI...", "message": "Processing with AI...",
                "details": "Using OpenAI to analyze frames and text", "timestamp": 1635724800.0
            })
        );
        assert_eq!(dart_parse(&value), "progress");
        assert_eq!(serde_json::from_value::<TaskUpdate>(value).unwrap(), update);
    }

    #[test]
    fn completion_message_matches_the_guide() {
        let literal = json!({
            "type": "completion", "task_id": TASK, "seq": 6, "status": "SUCCESS", "step": 5, "total_steps": 5,
            "current_status": "Recipe ready", "message": "Recipe successfully processed and saved",
            "recipe_id": RECIPE, "recipe_name": "Creamy Pasta Carbonara", "timestamp": 1635724800.0
        });
        let parsed: TaskUpdate = serde_json::from_value(literal.clone()).unwrap();
        let mut built =
            TaskUpdate::completion(task(), RecipeId::parse(RECIPE).unwrap(), "Creamy Pasta Carbonara".into());
        built.seq = 6;
        built.timestamp = 1635724800.0;
        assert_eq!(parsed, built);
        assert_eq!(serde_json::to_value(&built).unwrap(), literal);
        assert_eq!(dart_parse(&literal), "completed");
    }

    #[test]
    fn error_message_matches_the_guide() {
        let literal = json!({
            "type": "error", "task_id": TASK, "seq": 3, "status": "FAILURE", "step": 2, "total_steps": 5,
            "current_status": "Unable to process video", "message": "Unable to process video",
            "error": "TikTok scraping failed", "timestamp": 1635724800.5
        });
        let parsed: TaskUpdate = serde_json::from_value(literal.clone()).unwrap();
        assert_eq!(parsed.status, TaskState::Failure);
        assert_eq!(parsed.error.as_deref(), Some("TikTok scraping failed"));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);
        assert_eq!(dart_parse(&literal), "failed");
    }

    #[test]
    fn pending_snapshot_is_what_the_start_response_carries() {
        let mut update = TaskUpdate::pending(task());
        update.seq = 1;
        let value = serde_json::to_value(&update).unwrap();
        assert_eq!(value["status"], "PENDING");
        assert_eq!(value["task_id"], TASK);
        assert_eq!(value["step"], 0);
        assert_eq!(value["message"], "Task is waiting to be processed");
        assert_eq!(dart_parse(&value), "pending");
    }

    #[test]
    fn every_constructor_passes_the_dart_casts() {
        let mut updates =
            vec![TaskUpdate::pending(task()), TaskUpdate::retrying(task(), 2, "Apify is busy".into())];
        for step in [Step::Preparing, Step::Scraping, Step::Extracting, Step::Saving] {
            updates.push(TaskUpdate::progress(task(), step, None));
        }
        updates.push(TaskUpdate::completion(task(), RecipeId::new(), "Soup".into()));
        updates.push(TaskUpdate::failure(task(), 3, "not_a_recipe", "This video does not contain a recipe"));
        for (i, update) in updates.iter().enumerate() {
            let mut update = update.clone();
            update.seq = i as u64 + 1;
            let value = serde_json::to_value(&update).unwrap();
            dart_parse(&value);
            assert_eq!(value["seq"], i as u64 + 1);
            assert_eq!(value["total_steps"], 5);
        }
    }

    #[test]
    fn a_draft_has_no_seq_on_the_wire() {
        let value = serde_json::to_value(TaskUpdate::pending(task())).unwrap();
        assert!(value.get("seq").is_none());
        let text = serde_json::to_string(&TaskUpdate::pending(task())).unwrap();
        assert!(text.starts_with("{\"type\":"), "the event log inserts seq at the front: {text}");
    }

    #[test]
    fn a_logged_event_has_its_seq_in_front_and_parses_back() {
        let mut update = TaskUpdate::pending(task());
        update.seq = 12;
        // serde_json reads floats back exactly only within its fast path; a clock reading can
        // come back one ulp off (without its `float_roundtrip` feature), so the test pins one.
        update.timestamp = 1_764_590_000.25;
        let text = update.logged_json();
        assert!(text.starts_with("{\"seq\":12,\"type\":\"progress\","), "{text}");
        assert_eq!(serde_json::from_str::<TaskUpdate>(&text).unwrap(), update);
    }

    #[test]
    fn status_is_never_free_text() {
        let bad = json!({"type": "progress", "task_id": TASK, "status": "Processing with AI...", "step": 3, "total_steps": 5, "timestamp": 1.0});
        assert!(serde_json::from_value::<TaskUpdate>(bad).is_err());
    }

    #[test]
    fn state_words_round_trip() {
        for state in [TaskState::Pending, TaskState::Progress, TaskState::Success, TaskState::Failure] {
            assert_eq!(TaskState::parse(state.as_str()), Some(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert!(TaskState::Success.is_terminal() && TaskState::Failure.is_terminal());
        assert!(!TaskState::Pending.is_terminal() && !TaskState::Progress.is_terminal());
    }

    #[test]
    fn scrape_request_reads_the_guide_body() {
        let req: ScrapeRequest =
            serde_json::from_str(r#"{"url":"https://www.tiktok.com/@a/video/1","language":"de"}"#).unwrap();
        assert_eq!(req.language, "de");
    }
}
