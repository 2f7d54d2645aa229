//! The Postgres side of recipe-relay: durable tasks and recipes.
//!
//! Postgres is the arbiter of a task's terminal state. A worker may only finish a task while
//! it holds the claim token written by [`Store::claim_task`], and the api may only cancel a task
//! that is not finished, so a cancelled task never turns into a success and a worker that lost
//! its lease cannot finish a task another worker now owns.

use std::time::Duration;

use protocol::{
    Language, MessageType, Recipe, RecipeId, TOTAL_STEPS, TaskId, TaskState, TaskUpdate, TikTokUrl, UserId,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A Postgres failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed at start.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row held a value this version does not understand.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// A task as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TaskRow {
    /// Task id.
    pub id: Uuid,
    /// The user who submitted it.
    pub owner: Uuid,
    /// Canonical link.
    pub url: String,
    /// Video id or canonical link: the de-duplication and cache key.
    pub video_key: String,
    /// Numeric video id, when the link has one.
    pub video_id: Option<String>,
    /// Requested language tag.
    pub language: String,
    /// State word.
    pub status: String,
    /// Step reached.
    pub step: i32,
    /// Last message for the user.
    pub message: Option<String>,
    /// Error code of a failed task.
    pub error: Option<String>,
    /// The saved recipe.
    pub recipe_id: Option<Uuid>,
    /// The saved recipe's title.
    pub recipe_name: Option<String>,
    /// Claims so far.
    pub attempts: i32,
    /// The current claim.
    pub claim_token: Option<Uuid>,
    /// Seq of the latest event Postgres knows exactly: PENDING, the claim's first event, the
    /// terminal one.
    pub last_seq: i64,
    /// Upper bound of the seqs Redis may have handed out: a job re-created after Redis lost
    /// its data continues above it, so no seq is ever reused.
    pub seq_ceiling: i64,
    /// The event at `last_seq` exactly as logged, when Postgres has it.
    pub snapshot: Option<String>,
    /// Submission time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl TaskRow {
    /// The task id.
    pub fn task_id(&self) -> TaskId {
        TaskId::from_uuid(self.id)
    }

    /// The state word, parsed.
    pub fn state(&self) -> TaskState {
        TaskState::parse(&self.status).unwrap_or(TaskState::Pending)
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
    /// Recipe id.
    pub id: RecipeId,
    /// The task that produced it.
    pub task_id: TaskId,
    /// The recipe.
    pub recipe: Recipe,
    /// When it was saved.
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct RawRecipeRow {
    id: Uuid,
    task_id: Uuid,
    data: Json<Recipe>,
    created_at: OffsetDateTime,
}

impl From<RawRecipeRow> for RecipeRow {
    fn from(row: RawRecipeRow) -> Self {
        Self {
            id: RecipeId::from_uuid(row.id),
            task_id: TaskId::from_uuid(row.task_id),
            recipe: row.data.0,
            created_at: row.created_at,
        }
    }
}

/// A submission to record.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// The new task's id.
    pub id: TaskId,
    /// Who submitted it.
    pub owner: UserId,
    /// The video.
    pub url: &'a TikTokUrl,
    /// The recipe's language.
    pub language: &'a Language,
}

/// The outcome of [`Store::create_task`].
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// A new task was recorded.
    Created(TaskRow),
    /// The same user already has this video and language in flight: that task.
    Running(TaskRow),
}

/// The outcome of [`Store::cancel_task`].
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// The task is now FAILURE with error `cancelled`.
    Cancelled(TaskRow),
    /// The task had already finished; nothing changed.
    Finished(TaskRow),
    /// No such task for this owner.
    NotFound,
}

/// What "the same video" means: the numeric id when known, else the canonical link.
pub fn video_key(url: &TikTokUrl) -> String {
    url.video_id().map_or_else(|| url.as_str().to_owned(), str::to_owned)
}

const UNFINISHED: &str = "status IN ('PENDING', 'PROGRESS')";

/// Seqs a claim reserves for its attempt's events (an attempt logs about eight).
pub const SEQ_BLOCK: u64 = 32;

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn seq_value(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or_default()
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

/// The durable store (cheap to clone: a pool handle).
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects and runs pending migrations.
    ///
    /// # Errors
    /// [`StoreError`] when the database is unreachable or a migration fails.
    pub async fn connect(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(database_url)
            .await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// A pool that connects on first use: the process starts even while Postgres is down and
    /// recovers by itself when it returns.
    ///
    /// # Errors
    /// [`StoreError`] when the URL is malformed.
    pub fn connect_lazy(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(database_url)?;
        Ok(Self { pool })
    }

    /// Runs pending migrations (safe to run from many processes at once: sqlx takes a lock).
    ///
    /// # Errors
    /// [`StoreError::Migrate`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Records a submission, or returns the same user's unfinished task for the same video and
    /// language.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn create_task(&self, new: &NewTask<'_>) -> Result<CreateOutcome, StoreError> {
        let key = video_key(new.url);
        // Two attempts: the running task we collided with may finish between insert and select.
        for _ in 0..2 {
            let inserted: Option<TaskRow> = sqlx::query_as(&format!(
                "INSERT INTO tasks (id, owner, url, video_key, video_id, language, message)
                 VALUES ($1, $2, $3, $4, $5, $6, 'Task is waiting to be processed')
                 ON CONFLICT (owner, video_key, language) WHERE {UNFINISHED} DO NOTHING
                 RETURNING *"
            ))
            .bind(new.id.as_uuid())
            .bind(new.owner.as_uuid())
            .bind(new.url.as_str())
            .bind(&key)
            .bind(new.url.video_id())
            .bind(new.language.as_str())
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = inserted {
                return Ok(CreateOutcome::Created(row));
            }
            let running: Option<TaskRow> = sqlx::query_as(&format!(
                "SELECT * FROM tasks WHERE owner = $1 AND video_key = $2 AND language = $3 AND {UNFINISHED}"
            ))
            .bind(new.owner.as_uuid())
            .bind(&key)
            .bind(new.language.as_str())
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = running {
                return Ok(CreateOutcome::Running(row));
            }
        }
        Err(StoreError::Corrupt("task creation kept colliding with a finishing task".into()))
    }

    /// Admits a submission atomically: refused when `owner` already has `max_in_flight`
    /// unfinished tasks, joined to the owner's unfinished task for the same video and language,
    /// else recorded (as PENDING with `pending`'s message). One round trip; parallel submissions
    /// of one owner are serialised, so the limit holds under any concurrency.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn admit_task(
        &self,
        new: &NewTask<'_>,
        max_in_flight: u32,
        pending: &TaskUpdate,
    ) -> Result<Admission, StoreError> {
        let key = video_key(new.url);
        // Two attempts: the running task we collided with may finish between insert and select.
        for _ in 0..2 {
            let (outcome, task, unfinished): (String, Option<Uuid>, i64) =
                sqlx::query_as("SELECT * FROM admit_task($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(new.id.as_uuid())
                    .bind(new.owner.as_uuid())
                    .bind(new.url.as_str())
                    .bind(&key)
                    .bind(new.url.video_id())
                    .bind(new.language.as_str())
                    .bind(i32::try_from(max_in_flight).unwrap_or(i32::MAX))
                    .bind(&pending.message)
                    .fetch_one(&self.pool)
                    .await?;
            match (outcome.as_str(), task) {
                ("limit", _) => return Ok(Admission::Limited(seq_value(unfinished))),
                ("created", Some(id)) => return Ok(Admission::Created(TaskId::from_uuid(id))),
                ("running", Some(id)) => return Ok(Admission::Running(TaskId::from_uuid(id))),
                ("running", None) => {}
                (other, _) => return Err(StoreError::Corrupt(format!("admit_task answered {other:?}"))),
            }
        }
        Err(StoreError::Corrupt("task creation kept colliding with a finishing task".into()))
    }

    /// A task by id, whoever owns it (workers and internal checks).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn task(&self, id: TaskId) -> Result<Option<TaskRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM tasks WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A task, only if `owner` submitted it.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn task_for_owner(&self, id: TaskId, owner: UserId) -> Result<Option<TaskRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM tasks WHERE id = $1 AND owner = $2")
            .bind(id.as_uuid())
            .bind(owner.as_uuid())
            .fetch_optional(&self.pool)
            .await?)
    }

    /// How many of `owner`'s tasks are unfinished.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn count_unfinished(&self, owner: UserId) -> Result<i64, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as(&format!("SELECT count(*) FROM tasks WHERE owner = $1 AND {UNFINISHED}"))
                .bind(owner.as_uuid())
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    /// Cancels an unfinished task of `owner`'s, with `message` for the user. The cancel event
    /// Redis logs next may take one seq above the ceiling; [`Store::record_event`] then keeps it.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn cancel_task(
        &self,
        id: TaskId,
        owner: UserId,
        message: &str,
    ) -> Result<CancelOutcome, StoreError> {
        let cancelled: Option<TaskRow> = sqlx::query_as(&format!(
            "UPDATE tasks SET status = 'FAILURE', error = 'cancelled', message = $3,
                    claim_token = NULL, seq_ceiling = seq_ceiling + 1, updated_at = now(),
                    finished_at = now()
             WHERE id = $1 AND owner = $2 AND {UNFINISHED} RETURNING *"
        ))
        .bind(id.as_uuid())
        .bind(owner.as_uuid())
        .bind(message)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = cancelled {
            return Ok(CancelOutcome::Cancelled(row));
        }
        Ok(match self.task_for_owner(id, owner).await? {
            Some(row) => CancelOutcome::Finished(row),
            None => CancelOutcome::NotFound,
        })
    }

    /// Marks a task whose job could not be queued as failed, so it does not hang.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn mark_enqueue_failed(&self, id: TaskId) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE tasks SET status = 'FAILURE', error = 'queue_unavailable',
                    message = 'The job queue is unavailable; please try again', updated_at = now(),
                    finished_at = now()
             WHERE id = $1 AND {UNFINISHED}"
        ))
        .bind(id.as_uuid())
        .execute(&self.pool)
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
        sqlx::query(
            "UPDATE tasks SET snapshot = CASE WHEN $2 >= last_seq THEN $3 ELSE snapshot END,
                    last_seq = GREATEST(last_seq, $2), seq_ceiling = GREATEST(seq_ceiling, $2)
             WHERE id = $1",
        )
        .bind(event.task_id.as_uuid())
        .bind(seq_param(event.seq))
        .bind(event.logged_json())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Widens the seq block of the claim `token` holds by `more` (an attempt that logs more
    /// events than [`SEQ_BLOCK`]). Returns the new ceiling, or `None` when the claim is void.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn reserve_seqs(&self, id: TaskId, token: Uuid, more: u64) -> Result<Option<u64>, StoreError> {
        let ceiling: Option<(i64,)> = sqlx::query_as(&format!(
            "UPDATE tasks SET seq_ceiling = seq_ceiling + $3
             WHERE id = $1 AND claim_token = $2 AND {UNFINISHED} RETURNING seq_ceiling"
        ))
        .bind(id.as_uuid())
        .bind(token)
        .bind(seq_param(more))
        .fetch_optional(&self.pool)
        .await?;
        Ok(ceiling.map(|(c,)| seq_value(c)))
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
        let seq: Option<(i64,)> = sqlx::query_as(&format!(
            "UPDATE tasks SET status = 'PENDING', step = 0, message = $3, claim_token = NULL,
                    seq_ceiling = seq_ceiling + 1, last_seq = seq_ceiling + 1,
                    snapshot = '{{\"seq\":' || (seq_ceiling + 1) || ',' || substr($4, 2),
                    updated_at = now()
             WHERE id = $1 AND {UNFINISHED} AND updated_at < now() - make_interval(secs => $2)
             RETURNING last_seq"
        ))
        .bind(id.as_uuid())
        .bind(idle.as_secs_f64())
        .bind(&pending.message)
        .bind(pending.draft_json())
        .fetch_optional(&self.pool)
        .await?;
        Ok(seq.map(|(s,)| seq_value(s)))
    }

    /// A worker claims the task: PROGRESS, one more attempt, and its token becomes the only one
    /// allowed to finish it. `first` is the attempt's first event, with the seq Redis will give
    /// it: it becomes the snapshot, and the ceiling moves [`SEQ_BLOCK`] above it for the
    /// attempt's events. Returns the row as it is now; a finished task is returned unchanged.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn claim_task(
        &self,
        id: TaskId,
        token: Uuid,
        first: &TaskUpdate,
    ) -> Result<Option<TaskRow>, StoreError> {
        let claimed: Option<TaskRow> = sqlx::query_as(&format!(
            "UPDATE tasks SET status = 'PROGRESS', step = GREATEST(step, $5), message = $6,
                    attempts = attempts + 1, claim_token = $2, last_seq = $3, snapshot = $4,
                    seq_ceiling = GREATEST(seq_ceiling, $3) + {SEQ_BLOCK}, updated_at = now()
             WHERE id = $1 AND {UNFINISHED} RETURNING *"
        ))
        .bind(id.as_uuid())
        .bind(token)
        .bind(seq_param(first.seq))
        .bind(first.logged_json())
        .bind(i32::try_from(first.step).unwrap_or(0))
        .bind(&first.message)
        .fetch_optional(&self.pool)
        .await?;
        match claimed {
            Some(row) => Ok(Some(row)),
            None => self.task(id).await,
        }
    }

    /// Saves the recipe and marks the task SUCCESS, in one transaction, if `token` still holds
    /// the claim. `completion` is the terminal event (its `recipe_id` names the new recipe, its
    /// seq the one it is to be logged with); it becomes the snapshot. Returns the recipe id, or
    /// `None` when the claim was lost (cancelled, or re-claimed by another worker).
    ///
    /// # Errors
    /// [`StoreError`] on database failure; [`StoreError::Corrupt`] without a recipe id.
    pub async fn finish_success(
        &self,
        id: TaskId,
        token: Uuid,
        recipe: &Recipe,
        completion: &TaskUpdate,
    ) -> Result<Option<RecipeId>, StoreError> {
        let recipe_id = completion
            .recipe_id
            .ok_or_else(|| StoreError::Corrupt("a completion without a recipe id".into()))?;
        // One statement, so one round trip and atomic: the recipe row exists exactly when the
        // task row turned SUCCESS under this claim.
        let saved: Option<(Uuid,)> = sqlx::query_as(
            "WITH done AS (
                 UPDATE tasks SET status = 'SUCCESS', step = $3, recipe_id = $4, recipe_name = $5,
                        message = $8, error = NULL, last_seq = $6, snapshot = $9,
                        seq_ceiling = GREATEST(seq_ceiling, $6), updated_at = now(), finished_at = now()
                 WHERE id = $1 AND claim_token = $2 AND status = 'PROGRESS'
                 RETURNING id, owner, video_key, language)
             INSERT INTO recipes (id, owner, task_id, video_key, language, title, data)
             SELECT $4, owner, id, video_key, language, $5, $7 FROM done
             RETURNING id",
        )
        .bind(id.as_uuid())
        .bind(token)
        .bind(TOTAL_STEPS as i32)
        .bind(recipe_id.as_uuid())
        .bind(&recipe.title)
        .bind(seq_param(completion.seq))
        .bind(Json(recipe))
        .bind(&completion.message)
        .bind(completion.logged_json())
        .fetch_optional(&self.pool)
        .await?;
        Ok(saved.map(|_| recipe_id))
    }

    /// Marks the task FAILURE if `token` still holds the claim (or, with `None`, if it is simply
    /// unfinished: dead-lettering by a reaper). Returns whether it changed anything.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn finish_failure(
        &self,
        id: TaskId,
        token: Option<Uuid>,
        update: &TaskUpdate,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(&format!(
            "UPDATE tasks SET status = 'FAILURE', step = $3, error = $4, message = $5, last_seq = $6,
                    snapshot = $7, seq_ceiling = GREATEST(seq_ceiling, $6), updated_at = now(),
                    finished_at = now()
             WHERE id = $1 AND ($2::uuid IS NULL OR claim_token = $2) AND {UNFINISHED}"
        ))
        .bind(id.as_uuid())
        .bind(token)
        .bind(i32::try_from(update.step).unwrap_or(0))
        .bind(&update.error)
        .bind(&update.message)
        .bind(seq_param(update.seq))
        .bind(update.logged_json())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Unfinished tasks not touched for `idle`: candidates for re-queueing when Redis lost them.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn stale_unfinished(&self, idle: Duration, limit: i64) -> Result<Vec<TaskRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT * FROM tasks WHERE {UNFINISHED} AND updated_at < now() - make_interval(secs => $1)
             ORDER BY updated_at LIMIT $2"
        ))
        .bind(idle.as_secs_f64())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks an unfinished task as touched (it was found alive or re-queued).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn touch(&self, id: TaskId) -> Result<(), StoreError> {
        sqlx::query("UPDATE tasks SET updated_at = now() WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A recipe, only if `owner` owns it.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn recipe_for_owner(
        &self,
        id: RecipeId,
        owner: UserId,
    ) -> Result<Option<RecipeRow>, StoreError> {
        let row: Option<RawRecipeRow> =
            sqlx::query_as("SELECT id, task_id, data, created_at FROM recipes WHERE id = $1 AND owner = $2")
                .bind(id.as_uuid())
                .bind(owner.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(RecipeRow::from))
    }

    /// Those of `ids` that `owner` owns, in no particular order; foreign and unknown ids are
    /// simply absent, so the caller cannot tell them apart.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn recipes_for_owner(
        &self,
        ids: &[RecipeId],
        owner: UserId,
    ) -> Result<Vec<RecipeRow>, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<RawRecipeRow> = sqlx::query_as(
            "SELECT id, task_id, data, created_at FROM recipes WHERE owner = $1 AND id = ANY($2)",
        )
        .bind(owner.as_uuid())
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(RecipeRow::from).collect())
    }

    /// `owner`'s recipes, newest first, starting after `before` (the last id of the previous page).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn list_recipes(
        &self,
        owner: UserId,
        before: Option<RecipeId>,
        limit: u32,
    ) -> Result<Vec<RecipeRow>, StoreError> {
        let rows: Vec<RawRecipeRow> = sqlx::query_as(
            "SELECT id, task_id, data, created_at FROM recipes
             WHERE owner = $1 AND ($2::uuid IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(owner.as_uuid())
        .bind(before.map(|b| b.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(RecipeRow::from).collect())
    }

    /// The newest recipe extracted for this video and language within `freshness`, from any
    /// user's task: the cache that spares a second Apify and LLM call. Only the extracted
    /// content is reused; the caller saves it as a new recipe of its own task.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn cached_recipe(
        &self,
        url: &TikTokUrl,
        language: &Language,
        freshness: Duration,
    ) -> Result<Option<Recipe>, StoreError> {
        let row: Option<(Json<Recipe>,)> = sqlx::query_as(
            "SELECT data FROM recipes WHERE video_key = $1 AND language = $2
               AND created_at > now() - make_interval(secs => $3)
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(video_key(url))
        .bind(language.as_str())
        .bind(freshness.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(data,)| data.0))
    }
}
