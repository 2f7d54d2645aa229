//! What the store hands out and takes in: rows and submissions.

use protocol::{
    Language, MessageType, Recipe, RecipeId, TOTAL_STEPS, TaskId, TaskState, TaskUpdate, TikTokUrl, UserId,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::TaskStatus;

/// A task as stored (the columns are explained in the migrations).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    /// The task id as the column holds it; [`TaskRow::task_id`] is the typed one.
    pub id: Uuid,
    /// The user who submitted it.
    pub owner: Uuid,
    /// The canonical link.
    pub url: String,
    /// The de-duplication and cache key: the video id when the link has one, else the link
    /// ([`crate::video_key`]).
    pub video_key: String,
    /// The numeric video id, when the link has one.
    pub video_id: Option<String>,
    /// The requested BCP 47 language tag.
    pub language: String,
    /// Where the task stands; [`TaskRow::state`] is the protocol's word for it.
    pub status: TaskStatus,
    /// The step reached, 0 (queued) to [`TOTAL_STEPS`].
    pub step: i32,
    /// The last sentence for the user.
    pub message: Option<String>,
    /// The error code of a failed task (`cancelled`, `not_a_recipe`, ...).
    pub error: Option<String>,
    /// The recipe saved by a successful task.
    pub recipe_id: Option<Uuid>,
    /// That recipe's title.
    pub recipe_name: Option<String>,
    /// How often a worker claimed the task.
    pub attempts: i32,
    /// The token of the one claim allowed to finish the task (fencing against lost leases).
    pub claim_token: Option<Uuid>,
    /// Seq of the latest event Postgres knows exactly: PENDING, the claim's first event, the
    /// terminal one.
    pub last_seq: i64,
    /// Upper bound of the seqs Redis may have handed out: a job re-created after Redis lost
    /// its data continues above it, so no seq is ever reused.
    pub seq_ceiling: i64,
    /// The event at `last_seq` exactly as logged, when Postgres has it.
    pub snapshot: Option<String>,
    /// When it was submitted.
    pub created_at: OffsetDateTime,
    /// The last change; reconciliation finds tasks by how long this lies back.
    pub updated_at: OffsetDateTime,
}

impl TaskRow {
    /// The typed task id.
    pub fn task_id(&self) -> TaskId {
        TaskId::from_uuid(self.id)
    }

    /// The protocol's state word for `status`.
    pub fn state(&self) -> TaskState {
        self.status.into()
    }

    /// The snapshot served when Redis no longer holds the task (expired, flushed or down): the
    /// event at `last_seq` as logged, so its ETag stands for the same state whichever store
    /// answers; rebuilt from the row for tasks recorded before Postgres kept it.
    pub fn snapshot_json(&self) -> String {
        match &self.snapshot {
            Some(json) => json.clone(),
            None => serde_json::to_string(&self.to_update()).unwrap_or_default(),
        }
    }

    /// The snapshot rebuilt from the row's fields.
    pub fn to_update(&self) -> TaskUpdate {
        let state = self.state();
        let kind = match state {
            TaskState::Success => MessageType::Completion,
            TaskState::Failure => MessageType::Error,
            TaskState::Pending | TaskState::Progress => MessageType::Progress,
        };
        TaskUpdate {
            kind,
            task_id: self.task_id(),
            seq: u64::try_from(self.last_seq).unwrap_or(1),
            status: state,
            step: u32::try_from(self.step).unwrap_or(0).min(TOTAL_STEPS),
            total_steps: TOTAL_STEPS,
            current_status: self.message.clone(),
            message: self.message.clone(),
            details: None,
            recipe_id: self.recipe_id.map(RecipeId::from_uuid),
            recipe_name: self.recipe_name.clone(),
            error: self.error.clone(),
            timestamp: self.updated_at.unix_timestamp_nanos() as f64 / 1e9,
        }
    }
}

/// A recipe as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeRow {
    /// The recipe's id; ids are UUIDv7, so their order is creation order.
    pub id: RecipeId,
    /// The task that produced it.
    pub task_id: TaskId,
    /// The recipe as the worker extracted it.
    pub recipe: Recipe,
    /// When it was saved.
    pub created_at: OffsetDateTime,
}

/// A submission to record.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// The id the new task gets (the api picks it, so the job can be queued under it).
    pub id: TaskId,
    /// Who submitted it.
    pub owner: UserId,
    /// The canonical link; its video id is the de-duplication key.
    pub url: &'a TikTokUrl,
    /// The language the recipe is to be written in.
    pub language: &'a Language,
}

/// What "the same video" means: the numeric id when known, else the canonical link.
pub fn video_key(url: &TikTokUrl) -> String {
    url.video_id().map_or_else(|| url.as_str().to_owned(), str::to_owned)
}
