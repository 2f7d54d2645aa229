//! A task's latest event as polls and sockets read it, with the api's errors.

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

/// [`current`] for a poll: served from the hub's copy while the task is being polled (see
/// [`crate::polled`]), read from the store otherwise.
///
/// # Errors
/// As [`current`].
pub async fn polled(state: &AppState, task: TaskId, owner: UserId) -> Result<Event, ApiError> {
    let polled = state.hub.polled();
    if let Some(event) = polled.get(task, owner) {
        return Ok(event);
    }
    let ticket = polled.watch(task);
    match current(state, task, owner).await {
        Ok(read) => Ok(polled.fill(task, ticket, owner, read)),
        Err(error) => {
            polled.abandon(task, ticket);
            Err(error)
        }
    }
}
