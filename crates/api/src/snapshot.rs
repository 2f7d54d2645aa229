//! A task's latest event as the long-poll and the socket read it, with the api's errors.

use protocol::{Event, TaskId, UserId};

use crate::error::ApiError;
use crate::state::AppState;

/// The task's latest event, if `owner` owns it ([`tasks::Tasks::snapshot`]: Redis, or
/// Postgres when Redis no longer holds the task).
///
/// # Errors
/// 404 for a missing or foreign task, 503 when neither store answers.
pub async fn current(state: &AppState, task: TaskId, owner: UserId) -> Result<Event, ApiError> {
    state
        .tasks
        .snapshot(task, owner)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(ApiError::task_not_found)
}
