//! The life of a task, in one place: the only code that moves a task in Postgres ([`store`])
//! and in Redis ([`bus`]).
//!
//! Postgres is the arbiter of what happened to a task (who may run it, whether it finished and
//! how); Redis carries the queue and the event log that sockets replay. Every change of a task
//! touches both, and the order and the numbering are the rules this crate keeps:
//!
//! 1. [`Tasks::submit`]: the `Idempotency-Key`, the rate limit, admission in Postgres (the
//!    in-flight limit and de-duplication, one statement), then the enqueue script logs PENDING as
//!    seq 1. If Redis refuses, the Postgres row is failed so nothing hangs.
//! 2. [`Tasks::claim`] takes the next job and its lease in Redis; [`Tasks::start`] records the
//!    claim in Postgres (its token fences every later write) with the attempt's first event, and
//!    reserves a block of seqs for the attempt.
//! 3. [`Attempt::progress`] logs steps in Redis only; the Lua script numbers them.
//! 4. [`Attempt::succeed`] / [`Attempt::fail`] write Postgres first (it refuses a void claim),
//!    then log the terminal event in Redis with the seq Postgres recorded. [`Attempt::retry`]
//!    parks the job; [`Attempt::hand_back`] and [`Attempt::abandon`] let it go.
//! 5. [`Tasks::cancel`] fails the task in Postgres, then Redis logs the cancel and tells the
//!    workers; Postgres then records the seq Redis gave it.
//! 6. [`Tasks::snapshot`] and [`Tasks::events_after`] read: Redis first, Postgres' snapshot when
//!    Redis lost the task.
//! 7. [`Tasks::restore_lost`] re-creates jobs Redis lost, numbered above every seq Redis may have
//!    handed out ([`store::SEQ_BLOCK`]), so a task's seq never goes backwards.
//!
//! A seq has one source: the Lua scripts number the events only Redis logs, Postgres' record is
//! the number for the events it keeps (the attempt's first, the terminal one, a restore) and the
//! scripts log them with exactly that number. Events are [`Event`]s, decoded once where they
//! leave Redis or Postgres.
//!
//! No other crate depends on `bus` or `store` (a test of this crate checks it), so no other code
//! can write a task's state except through these functions.

pub mod admin;
mod attempt;
mod sizes;
mod submit;
mod upkeep;

use std::time::Duration;

use bus::{Bus, BusConfig, BusError};
use protocol::{Event, Language, RecipeId, TaskId, TikTokUrl, UserId};
use store::{Store, StoreError};

pub use attempt::{Attempt, Start, Written};
pub use bus::{Claim, Feed, FeedItem, Job, Maintenance};
pub use sizes::QueueSizes;
pub use store::{Minute, RecipeRow, TaskFilter, TaskRow};
pub use submit::{Cancelled, Limits, Submission, Submitted};
pub use upkeep::RunKind;

/// Where the two stores are and how they are used.
#[derive(Debug, Clone)]
pub struct Config {
    /// `redis://` URL.
    pub redis_url: String,
    /// Prefix of every Redis key.
    pub key_prefix: String,
    /// Redis connections for blocking claims.
    pub redis_pool_size: usize,
    /// How long a finished task's log stays in Redis (Postgres keeps the outcome for good).
    pub finished_ttl: Duration,
    /// `postgres://` URL.
    pub database_url: String,
    /// Postgres pool size.
    pub database_max_connections: u32,
}

impl Config {
    /// The stores named by the settings.
    pub fn from_settings(settings: &settings::Settings) -> Self {
        Self {
            redis_url: settings.redis_url().to_owned(),
            key_prefix: settings.redis.key_prefix.clone(),
            redis_pool_size: settings.redis.pool_size,
            finished_ttl: Duration::from_secs(settings.worker.event_ttl_hours * 3600),
            database_url: settings.database_url().to_owned(),
            database_max_connections: settings.database.max_connections,
        }
    }
}

/// A failure of one of the stores.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Redis failed or held unreadable data.
    #[error(transparent)]
    Redis(#[from] BusError),
    /// Postgres failed or held unreadable data.
    #[error(transparent)]
    Postgres(#[from] StoreError),
}

/// The task lifecycle over both stores (cheap to clone: connection handles).
#[derive(Debug, Clone)]
pub struct Tasks {
    bus: Bus,
    store: Store,
}

impl Tasks {
    /// Connects to Postgres and runs its migrations; Redis connects on first use, so a process
    /// starts while Redis is down and recovers by itself when it returns.
    ///
    /// # Errors
    /// [`TaskError`] when Postgres is unreachable or a migration fails, or a URL is malformed.
    pub async fn connect(config: &Config) -> Result<Self, TaskError> {
        let store = Store::connect(&config.database_url, config.database_max_connections).await?;
        Ok(Self { bus: Self::bus(config)?, store })
    }

    /// Like [`Tasks::connect`], but Postgres too connects on first use and no migration runs
    /// (a process that must make its connections on a runtime of its own).
    ///
    /// # Errors
    /// [`TaskError`] when a URL is malformed.
    pub fn connect_lazy(config: &Config) -> Result<Self, TaskError> {
        let store = Store::connect_lazy(&config.database_url, config.database_max_connections)?;
        Ok(Self { bus: Self::bus(config)?, store })
    }

    /// The same stores with a Redis connection of its own, made on first use, on the runtime
    /// that first uses it (see [`Bus::with_own_connection`]); Postgres' pool stays shared.
    #[must_use]
    pub fn with_own_connection(&self) -> Self {
        Self { bus: self.bus.with_own_connection(), store: self.store.clone() }
    }

    fn bus(config: &Config) -> Result<Bus, TaskError> {
        Ok(Bus::new(BusConfig {
            url: config.redis_url.clone(),
            prefix: config.key_prefix.clone(),
            pool_size: config.redis_pool_size,
            finished_ttl: config.finished_ttl,
        })?)
    }

    /// The task's latest event, if `owner` owns it: from Redis, or from Postgres when Redis no
    /// longer holds the task (expired, lost) or cannot be reached. Postgres' snapshot is the
    /// event at its recorded seq exactly, so one seq (one ETag) always stands for one state.
    /// A foreign task is asked of Postgres all the same, so it takes as long as an unknown one.
    ///
    /// # Errors
    /// [`TaskError`] when Postgres is needed and fails.
    pub async fn snapshot(&self, task: TaskId, owner: UserId) -> Result<Option<Event>, TaskError> {
        match self.bus.snapshot(task).await {
            Ok(Some(snapshot)) if snapshot.owner == owner => return Ok(Some(snapshot.event)),
            Ok(Some(_) | None) => {}
            Err(error) => tracing::warn!(error = %error, "Redis snapshot failed; serving from Postgres"),
        }
        let Some(row) = self.store.task_for_owner(task, owner).await? else { return Ok(None) };
        Ok(Some(row_event(&row)?))
    }

    /// Every logged event of the task after seq `after`, in order (Redis' log; empty when Redis
    /// no longer holds the task).
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn events_after(&self, task: TaskId, after: u64) -> Result<Vec<Event>, TaskError> {
        Ok(self.bus.events_after(task, after).await?)
    }

    /// A subscription to every logged event (one per process: the gateway's hub).
    ///
    /// # Errors
    /// [`TaskError`] when the Redis URL is malformed.
    pub fn events(&self) -> Result<Feed, TaskError> {
        Ok(Feed::new(self.bus.url(), self.bus.events_channel())?)
    }

    /// A subscription to the ids of cancelled tasks (for workers).
    ///
    /// # Errors
    /// [`TaskError`] when the Redis URL is malformed.
    pub fn cancellations(&self) -> Result<Feed, TaskError> {
        Ok(Feed::new(self.bus.url(), self.bus.cancel_channel())?)
    }

    /// The task as Postgres holds it, whoever owns it (operators and tests).
    ///
    /// # Errors
    /// [`TaskError`] on Postgres failure.
    pub async fn row(&self, task: TaskId) -> Result<Option<TaskRow>, TaskError> {
        Ok(self.store.task(task).await?)
    }

    /// One of `owner`'s recipes.
    ///
    /// # Errors
    /// [`TaskError`] on Postgres failure.
    pub async fn recipe(&self, id: RecipeId, owner: UserId) -> Result<Option<RecipeRow>, TaskError> {
        Ok(self.store.recipe_for_owner(id, owner).await?)
    }

    /// Those of `ids` that are `owner`'s recipes.
    ///
    /// # Errors
    /// [`TaskError`] on Postgres failure.
    pub async fn recipes(&self, ids: &[RecipeId], owner: UserId) -> Result<Vec<RecipeRow>, TaskError> {
        Ok(self.store.recipes_for_owner(ids, owner).await?)
    }

    /// `owner`'s recipes, newest first, older than the cursor `before`, at most `limit`.
    ///
    /// # Errors
    /// [`TaskError`] on Postgres failure.
    pub async fn list_recipes(
        &self,
        owner: UserId,
        before: Option<RecipeId>,
        limit: u32,
    ) -> Result<Vec<RecipeRow>, TaskError> {
        Ok(self.store.list_recipes(owner, before, limit).await?)
    }

    /// A recipe saved from this video in this language within `freshness`, to reuse.
    ///
    /// # Errors
    /// [`TaskError`] on Postgres failure.
    pub async fn cached_recipe(
        &self,
        url: &TikTokUrl,
        language: &Language,
        freshness: Duration,
    ) -> Result<Option<protocol::Recipe>, TaskError> {
        Ok(self.store.cached_recipe(url, language, freshness).await?)
    }

    /// Checks that Redis answers.
    ///
    /// # Errors
    /// [`TaskError`] when it does not.
    pub async fn ping_redis(&self) -> Result<(), TaskError> {
        Ok(self.bus.ping().await?)
    }

    /// Checks that Postgres answers.
    ///
    /// # Errors
    /// [`TaskError`] when it does not.
    pub async fn ping_postgres(&self) -> Result<(), TaskError> {
        Ok(self.store.ping().await?)
    }

    /// Jobs waiting in the queue (not counting delayed retries and jobs in flight).
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn queue_depth(&self) -> Result<u64, TaskError> {
        Ok(self.bus.queue_depth().await?)
    }

    /// Dead-lettered task ids, oldest first.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn dead_letters(&self) -> Result<Vec<String>, TaskError> {
        Ok(self.bus.dead_letters().await?)
    }

    /// The Redis key prefix (tests and tools that inspect Redis).
    pub fn key_prefix(&self) -> &str {
        self.bus.prefix()
    }
}

/// Postgres' snapshot of a task as an event.
fn row_event(row: &TaskRow) -> Result<Event, TaskError> {
    Event::decode(row.snapshot_json()).map_err(|e| StoreError::Corrupt(e.to_string()).into())
}
