//! A task's latest state as the long-poll and the socket read it: Redis first, Postgres when
//! Redis no longer holds the task.

use protocol::{TaskId, TaskState, UserId};

use crate::error::ApiError;
use crate::state::AppState;

/// The latest state of a task: its seq, state and the logged event.
#[derive(Debug, Clone)]
pub struct Current {
    /// Seq of the latest event: the ETag, and where `?since=` resumes.
    pub seq: u64,
    /// The state after that event; a terminal one ends a long-poll at once.
    pub state: TaskState,
    /// That event as logged, served byte for byte.
    pub json: String,
}

/// The task's latest state, if `owner` owns it: from Redis, or from Postgres when Redis no
/// longer holds the task (expired, lost) or is unreachable. Postgres' snapshot is the latest
/// event it knows exactly, so one seq (one ETag) always stands for one state.
///
/// # Errors
/// 404 for a missing or foreign task, 503 when neither store answers.
pub async fn current(state: &AppState, task: TaskId, owner: UserId) -> Result<Current, ApiError> {
    match state.bus.snapshot(task).await {
        Ok(Some(snapshot)) if snapshot.owner == owner => {
            return Ok(Current { seq: snapshot.seq, state: snapshot.state, json: snapshot.json });
        }
        // Someone else's task: asked of Postgres all the same (it answers "not yours" too), so
        // a foreign id takes as long as an unknown one and timing tells them not apart.
        Ok(Some(_) | None) => {}
        Err(error) => tracing::warn!(error = %error, "Redis snapshot failed; serving from Postgres"),
    }
    let row = state
        .store
        .task_for_owner(task, owner)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(ApiError::task_not_found)?;
    let seq = u64::try_from(row.last_seq).unwrap_or(1);
    Ok(Current { seq, state: row.state(), json: row.snapshot_json() })
}
