//! The Redis side of recipe-relay: a reliable job queue, the per-task event log and pub/sub.
//!
//! Keys, all under a configurable prefix `p` (tests use a unique prefix each):
//!
//! | key | type | what |
//! |---|---|---|
//! | `p:queue` | list | task ids ready to run (LPUSH in; LMOVE, or BLMOVE when empty, from the right) |
//! | `p:processing:<worker>` | list | task ids a worker has taken |
//! | `p:leases` | zset | task id -> lease expiry (ms); the heartbeat renews it |
//! | `p:workers` | zset | worker id -> last heartbeat (ms) |
//! | `p:delayed` | zset | task id -> when a retry is due (ms) |
//! | `p:dead` | list | dead-lettered task ids |
//! | `p:reporter` | string (PX) | the worker that exports the fleet's queue sizes |
//! | `p:job:<task>` | hash | owner, url, language, attempts, claim token, worker, Apify run, video-downloading Apify run (`media_run`), when it entered the queue (`enqueued`, ms), the submitting request's `traceparent` and `request_id` |
//! | `p:task:<task>` | hash | owner, seq, state, snap (latest event), base |
//! | `p:log:<task>` | list | every event of the task, in seq order |
//! | `p:media:<video>` | string (TTL) | the worker's media cache: transcript, on-screen text, frames of one video |
//! | `p:events` | channel | `<task> <seq> <event>` for the gateways |
//! | `p:cancel` | channel | task ids cancelled by their owner, for the workers |
//!
//! Every write that logs an event is one Lua script: the next seq, the log append, the snapshot
//! and the publish happen atomically, so readers never see a gap between the log and live events.
//! Every worker write checks the claim token, so a worker that lost its lease writes nothing.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_redis::{Hook, Manager, Pool, PoolConfig, Runtime};
use protocol::{Event, Language, Origin, TaskId, TaskUpdate, TikTokUrl, UserId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, AsyncConnectionConfig, Script};
use tokio::sync::OnceCell;

pub use admin::{JobView, QueueOverview, WorkerView};
pub use feed::{Feed, FeedItem};
pub use queue::{Claim, Maintenance, WriteOutcome};
pub use sizes::QueueSizes;

macro_rules! script {
    ($file:literal) => {
        LazyLock::new(|| Script::new(concat!(include_str!("lua/append.lua"), include_str!($file))))
    };
}

mod admin;
mod feed;
mod queue;
mod sizes;

static ENQUEUE: LazyLock<Script> = script!("lua/enqueue.lua");
static CANCEL: LazyLock<Script> = script!("lua/cancel.lua");
static RESTORE: LazyLock<Script> = script!("lua/restore.lua");
static EVENTS_AFTER: LazyLock<Script> = script!("lua/events_after.lua");

/// A Redis failure.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Redis could not be reached or refused a command.
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// No connection could be had from the pool.
    #[error("redis pool error: {0}")]
    Pool(#[from] deadpool_redis::PoolError),
    /// The pool could not be built from the settings.
    #[error("redis configuration error: {0}")]
    Config(String),
    /// Redis held data this version does not understand.
    #[error("corrupt redis data: {0}")]
    Corrupt(String),
}

/// A job as queued: what the worker needs to run the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The task this job runs; its Redis keys and Postgres row share the id.
    pub task_id: TaskId,
    /// Who submitted it.
    pub owner: UserId,
    /// The canonical link the scraper is given.
    pub url: TikTokUrl,
    /// The recipe's language.
    pub language: Language,
    /// When the job last entered the queue (ms since the epoch; a retry counts from when it
    /// became due), read by the claim for the queue-wait metric. `None` when queueing or for a
    /// job queued by an older release that did not record it; ignored when queueing.
    pub enqueued_ms: Option<u64>,
    /// The request that submitted it (trace context, request id), kept in the job's hash so
    /// every attempt continues that trace; empty for jobs queued before it was kept.
    pub origin: Origin,
}

/// The job hash's `traceparent` and `request_id` fields ('' when unknown: the scripts skip them).
fn origin_args(origin: &Origin) -> [String; 2] {
    [
        origin.traceparent.map(|t| t.to_string()).unwrap_or_default(),
        origin.request_id.as_ref().map(|r| r.to_string()).unwrap_or_default(),
    ]
}

/// Reads the job hash's `traceparent` and `request_id` back. Lenient: a missing or unreadable
/// value (a hash written before they were kept) is `None`, never a corrupt job, since only
/// traces and log lines depend on it.
pub(crate) fn origin_from(traceparent: &str, request_id: &str) -> Origin {
    Origin {
        traceparent: protocol::TraceParent::parse(traceparent).ok(),
        request_id: protocol::RequestId::parse(request_id).ok(),
    }
}

/// The claim Postgres recorded with a new task: the job's first claim takes this token instead of
/// one of its own and runs in the seq block up to `ceiling`, so Postgres need not record that
/// claim again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstClaim {
    /// The claim token Postgres holds for the task.
    pub token: uuid::Uuid,
    /// The seq ceiling Postgres reserved with it.
    pub ceiling: u64,
}

/// The latest state of a task as Redis holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Who submitted the task.
    pub owner: UserId,
    /// The latest event.
    pub event: Event,
}

/// Reads an event a script returned or the log held.
pub(crate) fn decode(json: String) -> Result<Event, BusError> {
    Event::decode(json).map_err(|e| BusError::Corrupt(e.to_string()))
}

/// How a [`Bus`] is set up.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// `redis://` URL.
    pub url: String,
    /// Prefix of every key.
    pub prefix: String,
    /// Connections in the pool used for blocking claims (`BLMOVE`).
    pub pool_size: usize,
    /// How long a finished task's log stays in Redis (Postgres keeps the outcome for good).
    pub finished_ttl: Duration,
}

/// Live tasks are kept this long at most, so an abandoned task cannot leak keys forever. Set
/// when a task's keys are made and renewed by a claim (take.lua), not by every event.
pub(crate) const LIVE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// The Redis bus (cheap to clone: connection handles).
///
/// Non-blocking commands share one multiplexed, self-reconnecting connection: concurrent jobs
/// and requests pipeline on it with no per-command pool checkout. A claim takes a waiting job in
/// one script call on it; only on an empty queue does it block in `BLMOVE`, on a pooled
/// connection, so it never stalls the shared one.
#[derive(Clone)]
pub struct Bus {
    pool: Pool,
    client: redis::Client,
    shared: Arc<OnceCell<ConnectionManager>>,
    config: BusConfig,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("Bus").field("prefix", &self.config.prefix).finish_non_exhaustive()
    }
}

impl Bus {
    /// Builds the connection pool. Connections are made on first use, so a process can start
    /// while Redis is down and recovers by itself when it returns.
    ///
    /// # Errors
    /// [`BusError::Config`] when the URL is malformed.
    pub fn new(config: BusConfig) -> Result<Self, BusError> {
        // These connections wait in BLMOVE for as long as the claim asks. redis 1.x gives every
        // async connection a 500 ms response timeout by default, which would end each longer
        // wait (the worker's is 1 s) in an error: here BLMOVE's own timeout bounds the wait.
        let blocking = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(None);
        let manager = Manager::new_with_config(config.url.as_str(), blocking)
            .map_err(|e| BusError::Config(e.to_string()))?;
        // Named, so `CLIENT LIST` tells an operator (and a test) which connections are claims
        // waiting in BLMOVE for this deployment's queue.
        let name: Arc<str> = format!("{}:claim", config.prefix).replace(char::is_whitespace, "_").into();
        let pool = Pool::builder(manager)
            .config(PoolConfig::new(config.pool_size.max(1)))
            .post_create(Hook::async_fn(move |conn, _| {
                let name = name.clone();
                Box::pin(async move {
                    // Only a label: a Redis that refuses it still serves the claims.
                    let named = redis::cmd("CLIENT").arg("SETNAME").arg(&*name).query_async::<()>(conn).await;
                    if let Err(error) = named {
                        tracing::debug!(error = %error, "could not name a claim connection");
                    }
                    Ok(())
                })
            }))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| BusError::Config(e.to_string()))?;
        let client = redis::Client::open(config.url.as_str())?;
        Ok(Self { pool, client, shared: Arc::default(), config })
    }

    /// A handle on the same Redis, pool and keys with a shared connection of its own, made on
    /// first use. A connection's driver runs on the runtime that made it, so a thread with a
    /// runtime of its own (an HTTP worker of the api) keeps its commands on its own thread
    /// instead of waking the thread that made the process's connection, twice per command.
    #[must_use]
    pub fn with_own_connection(&self) -> Self {
        Self { shared: Arc::default(), ..self.clone() }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// The Redis URL (for [`Feed::connect`]).
    pub fn url(&self) -> &str {
        &self.config.url
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.config.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// The pub/sub channel carrying every logged event.
    pub fn events_channel(&self) -> String {
        self.key(&["events"])
    }

    /// The pub/sub channel carrying cancelled task ids.
    pub fn cancel_channel(&self) -> String {
        self.key(&["cancel"])
    }

    /// The shared connection, made on first use (and again after a failed first attempt).
    pub(crate) async fn conn(&self) -> Result<ConnectionManager, BusError> {
        let manager = self
            .shared
            .get_or_try_init(|| {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(5)))
                    .set_response_timeout(Some(Duration::from_secs(10)))
                    .set_max_delay(Duration::from_secs(2));
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await?;
        Ok(manager.clone())
    }

    /// A connection of its own, for blocking commands.
    pub(crate) async fn blocking_conn(&self) -> Result<deadpool_redis::Connection, BusError> {
        Ok(self.pool.get().await?)
    }

    pub(crate) fn ttl_for(&self, update: &TaskUpdate) -> u64 {
        if update.is_terminal() { self.config.finished_ttl.as_secs().max(1) } else { LIVE_TTL.as_secs() }
    }

    /// Checks that Redis answers.
    ///
    /// # Errors
    /// [`BusError`] when it does not.
    pub async fn ping(&self) -> Result<(), BusError> {
        let mut conn = self.conn().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    /// Queues a new job and logs its first event (PENDING), atomically. `claim` is the claim
    /// Postgres recorded with the task, which the job's first claim takes. Returns the logged
    /// event.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure; nothing is queued then.
    pub async fn enqueue(
        &self,
        job: &Job,
        first: &TaskUpdate,
        claim: Option<FirstClaim>,
    ) -> Result<Event, BusError> {
        let id = job.task_id.to_string();
        let body = first.draft_json();
        let [traceparent, request_id] = origin_args(&job.origin);
        let (token, ceiling) =
            claim.map(|c| (c.token.to_string(), c.ceiling.to_string())).unwrap_or_default();
        let mut conn = self.conn().await?;
        let event: String = ENQUEUE
            .key(self.key(&["task", &id]))
            .key(self.key(&["log", &id]))
            .key(self.key(&["job", &id]))
            .key(self.key(&["queue"]))
            .arg(body)
            .arg(&id)
            .arg(job.owner.to_string())
            .arg(job.url.as_str())
            .arg(job.language.as_str())
            .arg(self.events_channel())
            .arg(self.ttl_for(first))
            .arg(self.prefix())
            .arg(&traceparent)
            .arg(&request_id)
            .arg(token)
            .arg(ceiling)
            .invoke_async(&mut conn)
            .await?;
        decode(event)
    }

    /// Re-creates a job Redis lost, its PENDING `update` logged with `update.seq` (the seq
    /// Postgres chose when it re-queued the task, above every earlier one). Returns the logged
    /// event, or `None` when Redis still has the job or the task already finished.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn restore(&self, job: &Job, update: &TaskUpdate) -> Result<Option<Event>, BusError> {
        let id = job.task_id.to_string();
        let [traceparent, request_id] = origin_args(&job.origin);
        let mut conn = self.conn().await?;
        let event: Option<String> = RESTORE
            .key(self.key(&["task", &id]))
            .key(self.key(&["log", &id]))
            .key(self.key(&["job", &id]))
            .key(self.key(&["queue"]))
            .arg(update.draft_json())
            .arg(&id)
            .arg(job.owner.to_string())
            .arg(job.url.as_str())
            .arg(job.language.as_str())
            .arg(self.events_channel())
            .arg(self.ttl_for(update))
            .arg(update.seq.max(1))
            .arg(&traceparent)
            .arg(&request_id)
            .invoke_async(&mut conn)
            .await?;
        event.map(decode).transpose()
    }

    /// The task's latest event and owner, if Redis still holds the task.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure or unreadable data.
    pub async fn snapshot(&self, task: TaskId) -> Result<Option<Snapshot>, BusError> {
        let mut conn = self.conn().await?;
        let (owner, json): (Option<String>, Option<String>) =
            conn.hmget(self.key(&["task", &task.to_string()]), &["owner", "snap"]).await?;
        let (Some(owner), Some(json)) = (owner, json) else {
            return Ok(None);
        };
        let owner = UserId::parse(&owner).map_err(|e| BusError::Corrupt(e.to_string()))?;
        Ok(Some(Snapshot { owner, event: decode(json)? }))
    }

    /// Every logged event of the task after `after` (a seq), in order.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn events_after(&self, task: TaskId, after: u64) -> Result<Vec<Event>, BusError> {
        let id = task.to_string();
        let mut conn = self.conn().await?;
        let events: Vec<String> = EVENTS_AFTER
            .key(self.key(&["task", &id]))
            .key(self.key(&["log", &id]))
            .arg(after)
            .invoke_async(&mut conn)
            .await?;
        events.into_iter().map(decode).collect()
    }

    /// Cancels the task: logs `update` (a FAILURE) unless the task already finished, drops a
    /// queued or delayed job and tells the workers. Returns the logged event, if any.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn cancel(&self, task: TaskId, update: &TaskUpdate) -> Result<Option<Event>, BusError> {
        let id = task.to_string();
        let mut conn = self.conn().await?;
        let event: Option<String> = CANCEL
            .key(self.key(&["task", &id]))
            .key(self.key(&["log", &id]))
            .key(self.key(&["job", &id]))
            .key(self.key(&["queue"]))
            .key(self.key(&["delayed"]))
            .arg(update.draft_json())
            .arg(&id)
            .arg(self.events_channel())
            .arg(self.cancel_channel())
            .arg(self.ttl_for(update))
            .invoke_async(&mut conn)
            .await?;
        event.map(decode).transpose()
    }

    /// Records an `Idempotency-Key` for `task`, or returns the task it was first used for.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn idempotency(
        &self,
        owner: UserId,
        key: &str,
        task: TaskId,
        ttl: Duration,
    ) -> Result<Option<TaskId>, BusError> {
        let redis_key = self.key(&["idem", &owner.to_string(), key]);
        let mut conn = self.conn().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(&redis_key)
            .arg(task.to_string())
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .arg("GET")
            .query_async(&mut conn)
            .await?;
        set.map(|existing| TaskId::parse(&existing).map_err(|e| BusError::Corrupt(e.to_string()))).transpose()
    }

    /// Forgets an `Idempotency-Key` (the submission it guarded failed before a task existed).
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn forget_idempotency(&self, owner: UserId, key: &str) -> Result<(), BusError> {
        let mut conn = self.conn().await?;
        conn.del::<_, ()>(self.key(&["idem", &owner.to_string(), key])).await?;
        Ok(())
    }

    /// Counts a hit of `owner` on the fixed-window limit `name`. Returns how long to wait when the
    /// limit is exceeded, `None` when the hit is allowed.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn rate_limit(
        &self,
        name: &str,
        owner: UserId,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, BusError> {
        let window_ms = window.as_millis().max(1) as u64;
        let now = now_ms();
        let slot = now / window_ms;
        let key = self.key(&["rate", name, &owner.to_string(), &slot.to_string()]);
        let mut conn = self.conn().await?;
        let (count,): (u32,) = redis::pipe()
            .incr(&key, 1)
            .expire(&key, window.as_secs() as i64 + 1)
            .ignore()
            .query_async(&mut conn)
            .await?;
        if count > limit { Ok(Some(Duration::from_millis((slot + 1) * window_ms - now))) } else { Ok(None) }
    }

    /// Jobs waiting in the queue (not counting delayed retries and jobs in flight).
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn queue_depth(&self) -> Result<u64, BusError> {
        let mut conn = self.conn().await?;
        Ok(conn.llen(self.key(&["queue"])).await?)
    }

    /// Dead-lettered task ids, oldest first.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn dead_letters(&self) -> Result<Vec<String>, BusError> {
        let mut conn = self.conn().await?;
        Ok(conn.lrange(self.key(&["dead"]), 0, -1).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus() -> Bus {
        Bus::new(BusConfig {
            url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            prefix: format!("test-{}", uuid::Uuid::new_v4().simple()),
            pool_size: 1,
            finished_ttl: Duration::from_secs(60),
        })
        .expect("bus")
    }

    async fn client_id(bus: &Bus) -> i64 {
        let mut conn = bus.conn().await.expect("connection");
        redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await.expect("CLIENT ID")
    }

    #[tokio::test]
    async fn a_handle_with_its_own_connection_uses_another_connection_for_the_same_keys() {
        let bus = bus();
        let own = bus.with_own_connection();

        let (shared, clone, separate) =
            (client_id(&bus).await, client_id(&bus.clone()).await, client_id(&own).await);

        assert_eq!(shared, clone, "a clone shares the connection");
        assert_ne!(shared, separate, "the handle made a connection of its own");
        assert_eq!(own.prefix(), bus.prefix());
        assert_eq!(own.events_channel(), bus.events_channel());
    }
}
