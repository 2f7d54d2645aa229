//! The `task_status` Postgres domain and its Rust twin.

use std::fmt;

use protocol::TaskState;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};

/// A task's `status` column: the Postgres domain `task_status`, text holding one of the
/// protocol's four state words. [`TaskState`] is the protocol's own type and stays free of sqlx;
/// this one is what the query macros decode, converted at the edge of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// [`TaskState::Pending`].
    Pending,
    /// [`TaskState::Progress`].
    Progress,
    /// [`TaskState::Success`].
    Success,
    /// [`TaskState::Failure`].
    Failure,
}

/// Postgres describes a domain column by its base type, so the column reads as text: the
/// type is text's, and the domain's CHECK is what keeps other words out.
impl sqlx::Type<Postgres> for TaskStatus {
    fn type_info() -> PgTypeInfo {
        <str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for TaskStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let word = <&str as sqlx::Decode<'r, Postgres>>::decode(value)?;
        TaskState::parse(word).map(Self::from).ok_or_else(|| format!("not a task status: {word:?}").into())
    }
}

impl From<TaskStatus> for TaskState {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Pending => Self::Pending,
            TaskStatus::Progress => Self::Progress,
            TaskStatus::Success => Self::Success,
            TaskStatus::Failure => Self::Failure,
        }
    }
}

impl From<TaskState> for TaskStatus {
    fn from(state: TaskState) -> Self {
        match state {
            TaskState::Pending => Self::Pending,
            TaskState::Progress => Self::Progress,
            TaskState::Success => Self::Success,
            TaskState::Failure => Self::Failure,
        }
    }
}

/// The state word, as the protocol spells it (`PROGRESS`).
impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TaskState::from(*self).as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_maps_to_the_status_of_the_same_word_and_back() {
        for state in [TaskState::Pending, TaskState::Progress, TaskState::Success, TaskState::Failure] {
            let status = TaskStatus::from(state);
            assert_eq!(status.to_string(), state.as_str());
            assert_eq!(TaskState::from(status), state);
        }
    }
}
