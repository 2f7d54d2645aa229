//! A task's life in Postgres: admission, claim, finish, cancel and reconciliation.

use std::time::Duration;

use protocol::{Recipe, RecipeId, TOTAL_STEPS, TaskId, TaskUpdate, UserId};
use sqlx::types::Json;
use uuid::Uuid;

use crate::admissions::{Input, admission};
use crate::{NewTask, Store, StoreError, TaskRow, TaskStatus, video_key};

/// `sqlx::query_as!` into [`TaskRow`]s: `$head` is the SQL before the column list, `$tail` the
/// SQL after it (`""` after a `RETURNING`), so the columns and the status type are written once.
/// Macro arguments, because the query macros take string literals only (or literals joined
/// with `+`).
macro_rules! query_task_rows {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            TaskRow,
            $head
                + " id, owner, url, video_key, video_id, language, status AS \"status: TaskStatus\", step,
                    message, error, recipe_id, recipe_name, attempts, claim_token, last_seq,
                    seq_ceiling, snapshot, created_at, updated_at "
                + $tail
            $(, $arg)*
        )
    };
}

pub(crate) use query_task_rows;

/// Seqs a claim reserves for its attempt's events (an attempt logs about eight).
pub const SEQ_BLOCK: u64 = 32;

/// The seq ceiling a task is admitted with: the block of its first claim, which admission
/// records ([`Store::admit_task`]); that attempt's first event is seq 2, after PENDING's 1.
pub const FIRST_CEILING: u64 = 2 + SEQ_BLOCK;

/// The outcome of [`Store::create_task`].
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// A new task was recorded.
    Created(TaskRow),
    /// The same user already has this video and language in flight: that task.
    Running(TaskRow),
}

/// The outcome of [`Store::admit_task`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A new task was recorded.
    Created(TaskId),
    /// The same user already has this video and language in flight: that task.
    Running(TaskId),
    /// The owner already has this many unfinished tasks, the limit or more.
    Limited(u64),
}

/// The outcome of [`Store::cancel_task`].
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// The task is now FAILURE with the cancel's error code.
    Cancelled(TaskRow),
    /// The task had already finished; nothing changed.
    Finished(TaskRow),
    /// No such task for this owner.
    NotFound,
}

pub(crate) fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub(crate) fn seq_value(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or_default()
}

fn step_param(step: u32) -> i32 {
    i32::try_from(step).unwrap_or(0)
}

impl Store {
    /// Records a submission as PENDING with `pending`'s message, or returns the same user's
    /// unfinished task for the same video and language.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn create_task(
        &self,
        new: &NewTask<'_>,
        pending: &TaskUpdate,
    ) -> Result<CreateOutcome, StoreError> {
        let key = video_key(new.url);
        // Two attempts: the running task we collided with may finish between insert and select.
        for _ in 0..2 {
            let inserted = query_task_rows!(
                "INSERT INTO tasks (id, owner, url, video_key, video_id, language, message)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (owner, video_key, language) WHERE status IN ('PENDING', 'PROGRESS')
                 DO NOTHING RETURNING",
                "",
                new.id.as_uuid(),
                new.owner.as_uuid(),
                new.url.as_str(),
                &key,
                new.url.video_id(),
                new.language.as_str(),
                pending.message.as_deref(),
            )
            .fetch_optional(self.db())
            .await?;
            if let Some(row) = inserted {
                return Ok(CreateOutcome::Created(row));
            }
            let running = query_task_rows!(
                "SELECT",
                "FROM tasks WHERE owner = $1 AND video_key = $2 AND language = $3
                   AND status IN ('PENDING', 'PROGRESS')",
                new.owner.as_uuid(),
                &key,
                new.language.as_str(),
            )
            .fetch_optional(self.db())
            .await?;
            if let Some(row) = running {
                return Ok(CreateOutcome::Running(row));
            }
        }
        Err(StoreError::Corrupt("task creation kept colliding with a finishing task".into()))
    }

    /// Admits a submission atomically: refused when `owner` already has `max_in_flight`
    /// unfinished tasks, joined to the owner's unfinished task for the same video and language,
    /// else recorded (as PENDING with `pending`'s message) together with its first claim: the
    /// token `first_claim` and the seq ceiling [`FIRST_CEILING`], so that claim needs no
    /// [`Store::claim_task`], and `pending` as logged (seq 1) as the snapshot, which stays
    /// Postgres' snapshot while that claim runs. It goes in one statement and one commit with
    /// the submissions that arrive meanwhile (see `admissions`); parallel submissions of one
    /// owner are serialised, so the limit holds under any concurrency.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn admit_task(
        &self,
        new: &NewTask<'_>,
        max_in_flight: u32,
        pending: &TaskUpdate,
        first_claim: Uuid,
    ) -> Result<Admission, StoreError> {
        self.in_batch(Input::new(new, max_in_flight, pending, first_claim)).await
    }

    /// Admits one submission with `admit_task`, outside any batch.
    pub(crate) async fn admit_one(&self, input: &Input) -> Result<Admission, StoreError> {
        // Two attempts: the running task we collided with may finish between insert and select.
        for _ in 0..2 {
            // A function's columns have no NOT NULL to infer from: `!` says which always hold one.
            let admitted = sqlx::query!(
                r#"SELECT outcome AS "outcome!", task_id, unfinished AS "unfinished!"
                   FROM admit_task($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
                input.id,
                input.owner,
                &input.url,
                &input.video_key,
                input.video_id.as_deref(),
                &input.language,
                input.max_in_flight,
                input.message.as_deref(),
                input.claim_token,
                seq_param(FIRST_CEILING),
                &input.snapshot,
            )
            .fetch_one(self.db())
            .await?;
            if let Some(admission) = admission(&admitted.outcome, admitted.task_id, admitted.unfinished)? {
                return Ok(admission);
            }
        }
        Err(StoreError::Corrupt("task creation kept colliding with a finishing task".into()))
    }

    /// A task by id, whoever owns it (workers and internal checks).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn task(&self, id: TaskId) -> Result<Option<TaskRow>, StoreError> {
        Ok(query_task_rows!("SELECT", "FROM tasks WHERE id = $1", id.as_uuid())
            .fetch_optional(self.db())
            .await?)
    }

    /// A task, only if `owner` submitted it.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn task_for_owner(&self, id: TaskId, owner: UserId) -> Result<Option<TaskRow>, StoreError> {
        Ok(query_task_rows!(
            "SELECT",
            "FROM tasks WHERE id = $1 AND owner = $2",
            id.as_uuid(),
            owner.as_uuid()
        )
        .fetch_optional(self.db())
        .await?)
    }

    /// How many of `owner`'s tasks are unfinished.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn count_unfinished(&self, owner: UserId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM tasks WHERE owner = $1 AND status IN ('PENDING', 'PROGRESS')"#,
            owner.as_uuid()
        )
        .fetch_one(self.db())
        .await?)
    }

    /// Cancels an unfinished task of `owner`'s with `cancel`'s error code and message (its step
    /// is ignored: the task keeps the step it reached). The cancel event Redis logs next may
    /// take one seq above the ceiling; [`Store::record_event`] then keeps it.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn cancel_task(
        &self,
        id: TaskId,
        owner: UserId,
        cancel: &TaskUpdate,
    ) -> Result<CancelOutcome, StoreError> {
        let cancelled = query_task_rows!(
            "UPDATE tasks SET status = 'FAILURE', error = $3, message = $4, claim_token = NULL,
                    seq_ceiling = seq_ceiling + 1, updated_at = now(), finished_at = now()
             WHERE id = $1 AND owner = $2 AND status IN ('PENDING', 'PROGRESS') RETURNING",
            "",
            id.as_uuid(),
            owner.as_uuid(),
            cancel.error.as_deref(),
            cancel.message.as_deref(),
        )
        .fetch_optional(self.db())
        .await?;
        if let Some(row) = cancelled {
            return Ok(CancelOutcome::Cancelled(row));
        }
        Ok(match self.task_for_owner(id, owner).await? {
            Some(row) => CancelOutcome::Finished(row),
            None => CancelOutcome::NotFound,
        })
    }

    /// Marks a task whose job could not be queued as failed with `failure`'s error code and
    /// message, so it does not hang.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn mark_enqueue_failed(&self, failure: &TaskUpdate) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE tasks SET status = 'FAILURE', error = $2, message = $3, updated_at = now(),
                    finished_at = now()
             WHERE id = $1 AND status IN ('PENDING', 'PROGRESS')",
            failure.task_id.as_uuid(),
            failure.error.as_deref(),
            failure.message.as_deref(),
        )
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// Records an event Redis logged with a seq Postgres did not know yet (a cancel, or a
    /// terminal event Redis had to number differently than expected): it becomes the snapshot
    /// if it is the newest, and the ceiling covers it.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn record_event(&self, event: &TaskUpdate) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE tasks SET snapshot = CASE WHEN $2 >= last_seq THEN $3 ELSE snapshot END,
                    last_seq = GREATEST(last_seq, $2), seq_ceiling = GREATEST(seq_ceiling, $2)
             WHERE id = $1",
            event.task_id.as_uuid(),
            seq_param(event.seq),
            event.logged_json(),
        )
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// Widens the seq block of the claim `token` holds by `more` (an attempt that logs more
    /// events than [`SEQ_BLOCK`]). Returns the new ceiling, or `None` when the claim is void.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn reserve_seqs(&self, id: TaskId, token: Uuid, more: u64) -> Result<Option<u64>, StoreError> {
        let ceiling = sqlx::query_scalar!(
            "UPDATE tasks SET seq_ceiling = seq_ceiling + $3
             WHERE id = $1 AND claim_token = $2 AND status IN ('PENDING', 'PROGRESS')
             RETURNING seq_ceiling",
            id.as_uuid(),
            token,
            seq_param(more),
        )
        .fetch_optional(self.db())
        .await?;
        Ok(ceiling.map(seq_value))
    }

    /// Re-queues in Postgres a task whose job Redis lost: the claim is void, the task is
    /// PENDING again with `pending` as its snapshot, numbered one above the ceiling (so above
    /// every seq a client may have seen). Only a task untouched for `idle` is taken, so of
    /// several reconcilers finding it only one does. Returns the seq the restored event takes.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn requeue_lost(
        &self,
        id: TaskId,
        idle: Duration,
        pending: &TaskUpdate,
    ) -> Result<Option<u64>, StoreError> {
        // The snapshot is `pending` as logged: `{"seq":N,` in front of its draft's fields.
        let seq = sqlx::query_scalar!(
            r#"UPDATE tasks SET status = 'PENDING', step = 0, message = $3, claim_token = NULL,
                    seq_ceiling = seq_ceiling + 1, last_seq = seq_ceiling + 1,
                    snapshot = '{"seq":' || (seq_ceiling + 1) || ',' || substr($4, 2),
                    updated_at = now()
             WHERE id = $1 AND status IN ('PENDING', 'PROGRESS')
               AND updated_at < now() - make_interval(secs => $2)
             RETURNING last_seq"#,
            id.as_uuid(),
            idle.as_secs_f64(),
            pending.message.as_deref(),
            pending.draft_json(),
        )
        .fetch_optional(self.db())
        .await?;
        Ok(seq.map(seq_value))
    }

    /// A worker claims the task: PROGRESS, one more attempt, and its token becomes the only one
    /// allowed to finish it. `first` is the attempt's first event, with the seq Redis will give
    /// it: it becomes the snapshot, and the ceiling moves [`SEQ_BLOCK`] above it for the
    /// attempt's events. `attempt` is the claim's number in Redis: attempts that never wrote
    /// Postgres (a first attempt that was retried) count too. Returns the row as it is now; a
    /// finished task is returned unchanged.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn claim_task(
        &self,
        id: TaskId,
        token: Uuid,
        first: &TaskUpdate,
        attempt: u32,
    ) -> Result<Option<TaskRow>, StoreError> {
        let claimed = query_task_rows!(
            "UPDATE tasks SET status = 'PROGRESS', step = GREATEST(step, $5), message = $6,
                    attempts = GREATEST(attempts + 1, $8), claim_token = $2, last_seq = $3, snapshot = $4,
                    seq_ceiling = GREATEST(seq_ceiling, $3) + $7, updated_at = now()
             WHERE id = $1 AND status IN ('PENDING', 'PROGRESS') RETURNING",
            "",
            id.as_uuid(),
            token,
            seq_param(first.seq),
            first.logged_json(),
            step_param(first.step),
            first.message.as_deref(),
            seq_param(SEQ_BLOCK),
            i32::try_from(attempt).unwrap_or(i32::MAX),
        )
        .fetch_optional(self.db())
        .await?;
        match claimed {
            Some(row) => Ok(Some(row)),
            None => self.task(id).await,
        }
    }

    /// Saves the recipe and marks the task SUCCESS, in one transaction, if `token` still holds
    /// the claim. `completion` is the terminal event (its `recipe_id` names the new recipe, its
    /// seq the one it is to be logged with); it becomes the snapshot. `count_attempt`: the claim
    /// was recorded at admission, not by [`Store::claim_task`], so this statement counts the
    /// attempt. Returns the recipe id, or `None` when the claim was lost (cancelled, or
    /// re-claimed by another worker).
    ///
    /// # Errors
    /// [`StoreError`] on database failure; [`StoreError::Corrupt`] without a recipe id.
    pub async fn finish_success(
        &self,
        id: TaskId,
        token: Uuid,
        recipe: &Recipe,
        completion: &TaskUpdate,
        count_attempt: bool,
    ) -> Result<Option<RecipeId>, StoreError> {
        let recipe_id = completion
            .recipe_id
            .ok_or_else(|| StoreError::Corrupt("a completion without a recipe id".into()))?;
        // One statement, so one round trip and atomic: the recipe row exists exactly when the
        // task row turned SUCCESS under this claim. A claim recorded at admission finds the row
        // still PENDING.
        let saved = sqlx::query_scalar!(
            "WITH done AS (
                 UPDATE tasks SET status = 'SUCCESS', step = $3, recipe_id = $4, recipe_name = $5,
                        message = $8, error = NULL, last_seq = $6, snapshot = $9,
                        attempts = attempts + $10,
                        seq_ceiling = GREATEST(seq_ceiling, $6), updated_at = now(), finished_at = now()
                 WHERE id = $1 AND claim_token = $2 AND status IN ('PENDING', 'PROGRESS')
                 RETURNING id, owner, video_key, language)
             INSERT INTO recipes (id, owner, task_id, video_key, language, title, data)
             SELECT $4, owner, id, video_key, language, $5, $7 FROM done
             RETURNING id",
            id.as_uuid(),
            token,
            step_param(TOTAL_STEPS),
            recipe_id.as_uuid(),
            &recipe.title,
            seq_param(completion.seq),
            Json(recipe) as _,
            completion.message.as_deref(),
            completion.logged_json(),
            i32::from(count_attempt),
        )
        .fetch_optional(self.db())
        .await?;
        Ok(saved.map(|_| recipe_id))
    }

    /// Marks the task FAILURE if `token` still holds the claim (or, with `None`, if it is simply
    /// unfinished: dead-lettering by a reaper). `count_attempt` as for [`Store::finish_success`].
    /// Returns whether it changed anything.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn finish_failure(
        &self,
        id: TaskId,
        token: Option<Uuid>,
        update: &TaskUpdate,
        count_attempt: bool,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query!(
            "UPDATE tasks SET status = 'FAILURE', step = $3, error = $4, message = $5, last_seq = $6,
                    snapshot = $7, seq_ceiling = GREATEST(seq_ceiling, $6), attempts = attempts + $8,
                    updated_at = now(), finished_at = now()
             WHERE id = $1 AND ($2::uuid IS NULL OR claim_token = $2) AND status IN ('PENDING', 'PROGRESS')",
            id.as_uuid(),
            token,
            step_param(update.step),
            update.error.as_deref(),
            update.message.as_deref(),
            seq_param(update.seq),
            update.logged_json(),
            i32::from(count_attempt),
        )
        .execute(self.db())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Unfinished tasks not touched for `idle`: candidates for re-queueing when Redis lost them.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn stale_unfinished(&self, idle: Duration, limit: i64) -> Result<Vec<TaskRow>, StoreError> {
        Ok(query_task_rows!(
            "SELECT",
            "FROM tasks WHERE status IN ('PENDING', 'PROGRESS')
               AND updated_at < now() - make_interval(secs => $1)
             ORDER BY updated_at LIMIT $2",
            idle.as_secs_f64(),
            limit,
        )
        .fetch_all(self.db())
        .await?)
    }

    /// Marks an unfinished task as touched (it was found alive or re-queued).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn touch(&self, id: TaskId) -> Result<(), StoreError> {
        sqlx::query!("UPDATE tasks SET updated_at = now() WHERE id = $1", id.as_uuid())
            .execute(self.db())
            .await?;
        Ok(())
    }
}
