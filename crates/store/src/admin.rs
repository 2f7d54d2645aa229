//! The admin console's reads and its one write in Postgres: recent tasks with filters, tasks by
//! id, the last hour's throughput, and re-opening a dead-lettered task.

use protocol::{TaskId, TaskUpdate};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::tasks::{query_task_rows, seq_value};
use crate::{Store, StoreError, TaskRow, TaskStatus};

/// Which tasks an operator lists; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter<'a> {
    /// Only tasks in this state (`PENDING`, `PROGRESS`, `SUCCESS`, `FAILURE`).
    pub state: Option<&'a str>,
    /// Only failed tasks with this error code.
    pub error: Option<&'a str>,
    /// Only this user's tasks.
    pub owner: Option<Uuid>,
    /// Created at or after.
    pub since: Option<OffsetDateTime>,
    /// Created before.
    pub until: Option<OffsetDateTime>,
    /// The cursor: only tasks created before this one (the last of the previous page).
    pub before: Option<Uuid>,
    /// At most this many.
    pub limit: i64,
}

/// Tasks finished in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    /// The minute's start.
    pub minute: OffsetDateTime,
    /// Tasks that ended in SUCCESS.
    pub succeeded: i64,
    /// Tasks that ended in FAILURE, cancellations not counted.
    pub failed: i64,
    /// Tasks cancelled by their owner (or an operator).
    pub cancelled: i64,
}

/// A dead letter that Postgres re-opened: PENDING again, its claim void.
#[derive(Debug, Clone, PartialEq)]
pub struct Reopened {
    /// The row as it is now.
    pub row: TaskRow,
    /// The ceiling after the re-open: the seq the PENDING notice takes if Redis no longer has
    /// the task's log.
    pub ceiling: u64,
}

impl Store {
    /// Tasks matching `filter`, newest first (by creation, then id, so pages never overlap).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn admin_tasks(&self, filter: &TaskFilter<'_>) -> Result<Vec<TaskRow>, StoreError> {
        Ok(query_task_rows!(
            "SELECT",
            "FROM tasks
             WHERE ($1::text IS NULL OR status = $1)
               AND ($2::text IS NULL OR error = $2)
               AND ($3::uuid IS NULL OR owner = $3)
               AND ($4::timestamptz IS NULL OR created_at >= $4)
               AND ($5::timestamptz IS NULL OR created_at < $5)
               AND ($6::uuid IS NULL
                    OR (created_at, id) < (SELECT c.created_at, c.id FROM tasks c WHERE c.id = $6))
             ORDER BY created_at DESC, id DESC
             LIMIT $7",
            filter.state,
            filter.error,
            filter.owner,
            filter.since,
            filter.until,
            filter.before,
            filter.limit,
        )
        .fetch_all(self.db())
        .await?)
    }

    /// The tasks of `ids` that exist, in no particular order.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn tasks_by_ids(&self, ids: &[Uuid]) -> Result<Vec<TaskRow>, StoreError> {
        Ok(query_task_rows!("SELECT", "FROM tasks WHERE id = ANY($1)", ids).fetch_all(self.db()).await?)
    }

    /// Tasks finished in each of the last 60 minutes (the current one last), one query; minutes
    /// without any are there with zeros. `cancelled` is the error code of a cancellation.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn throughput(&self, cancelled: &str) -> Result<Vec<Minute>, StoreError> {
        Ok(sqlx::query_as!(
            Minute,
            r#"SELECT m.minute AS "minute!",
                      count(t.id) FILTER (WHERE t.status = 'SUCCESS') AS "succeeded!",
                      count(t.id) FILTER (WHERE t.status = 'FAILURE' AND t.error IS DISTINCT FROM $1)
                          AS "failed!",
                      count(t.id) FILTER (WHERE t.status = 'FAILURE' AND t.error = $1) AS "cancelled!"
               FROM generate_series(date_trunc('minute', now()) - interval '59 minutes',
                                    date_trunc('minute', now()), interval '1 minute') AS m (minute)
               LEFT JOIN tasks t
                 ON t.finished_at >= m.minute AND t.finished_at < m.minute + interval '1 minute'
               GROUP BY m.minute
               ORDER BY m.minute"#,
            cancelled,
        )
        .fetch_all(self.db())
        .await?)
    }

    /// Re-opens a failed task for another run: PENDING with `pending`'s message, step 0, no
    /// error, no claim, not finished, and the ceiling one higher for the PENDING notice Redis
    /// logs next ([`Store::record_event`] then keeps its seq). The attempts count stays: it is
    /// the task's history. `None` when the task is not FAILURE (a requeue that lost the race,
    /// or a task that is running) or its owner already runs the same video and language again.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn reopen_failed(
        &self,
        id: TaskId,
        pending: &TaskUpdate,
    ) -> Result<Option<Reopened>, StoreError> {
        let row = query_task_rows!(
            "UPDATE tasks SET status = 'PENDING', step = 0, message = $2, error = NULL, claim_token = NULL,
                    recipe_id = NULL, recipe_name = NULL, finished_at = NULL,
                    seq_ceiling = seq_ceiling + 1, updated_at = now()
             WHERE id = $1 AND status = 'FAILURE'
               AND NOT EXISTS (SELECT 1 FROM tasks o
                               WHERE o.owner = tasks.owner AND o.video_key = tasks.video_key
                                 AND o.language = tasks.language AND o.status IN ('PENDING', 'PROGRESS'))
             RETURNING",
            "",
            id.as_uuid(),
            pending.message.as_deref(),
        )
        .fetch_optional(self.db())
        .await;
        let row = match row {
            Ok(row) => row,
            // A submission of the same video slipped in between: the unique index refuses.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => None,
            Err(e) => return Err(e.into()),
        };
        Ok(row.map(|row| {
            let ceiling = seq_value(row.seq_ceiling);
            Reopened { row, ceiling }
        }))
    }

    /// Puts back a task [`Store::reopen_failed`] re-opened when Redis then did not take the job:
    /// FAILURE again with `before`'s step, message and error, so the dead letter can be
    /// requeued again (and the reconciler does not take it for a job Redis lost). Only while
    /// no worker claimed it. Returns whether it changed anything.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn undo_reopen(&self, before: &TaskRow) -> Result<bool, StoreError> {
        let result = sqlx::query!(
            "UPDATE tasks SET status = 'FAILURE', step = $2, message = $3, error = $4, finished_at = $5,
                    updated_at = now()
             WHERE id = $1 AND status = 'PENDING' AND claim_token IS NULL",
            before.id,
            before.step,
            before.message.as_deref(),
            before.error.as_deref(),
            before.updated_at,
        )
        .execute(self.db())
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
