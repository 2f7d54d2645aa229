//! What the admin console reads and does in Redis: the queue's sizes, the workers and their
//! jobs, one job's claim, and queueing a dead letter again.

use std::sync::LazyLock;

use protocol::{Event, TaskId, TaskUpdate};
use redis::Script;

use crate::{Bus, BusError, Job, decode};

static REQUEUE: LazyLock<Script> = script!("lua/requeue.lua");

/// The queue at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOverview {
    /// Jobs waiting in `p:queue`.
    pub queued: u64,
    /// Retries waiting for their time in `p:delayed`.
    pub delayed: u64,
    /// Dead-lettered tasks in `p:dead`.
    pub dead: u64,
    /// Every worker in `p:workers`, most recent heartbeat first.
    pub workers: Vec<WorkerView>,
}

/// One worker as `p:workers` and its processing list know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerView {
    /// The worker's id.
    pub id: String,
    /// Its last heartbeat, milliseconds since the Unix epoch.
    pub heartbeat_ms: u64,
    /// The task ids in its processing list (`p:processing:<worker>`): its jobs in flight.
    pub in_flight: Vec<String>,
}

/// A job's claim as Redis holds it (`p:job:<task>`, `p:leases`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobView {
    /// Claims of this job so far (reset by a requeue).
    pub attempts: u64,
    /// The worker that claimed it last.
    pub worker: Option<String>,
    /// The token of the last claim.
    pub token: Option<String>,
    /// When its lease runs out, milliseconds since the Unix epoch (while it runs).
    pub lease_until_ms: Option<u64>,
    /// When its retry is due, milliseconds since the Unix epoch (while it waits).
    pub retry_at_ms: Option<u64>,
}

impl Bus {
    /// The queue's sizes and every worker with its jobs in flight (two round trips).
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn overview(&self) -> Result<QueueOverview, BusError> {
        let mut conn = self.conn().await?;
        let (queued, delayed, dead, workers): (u64, u64, u64, Vec<(String, f64)>) = redis::pipe()
            .llen(self.key(&["queue"]))
            .zcard(self.key(&["delayed"]))
            .llen(self.key(&["dead"]))
            .zrevrange_withscores(self.key(&["workers"]), 0, -1)
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        for (worker, _) in &workers {
            pipe.lrange(self.key(&["processing", worker]), 0, -1);
        }
        let lists: Vec<Vec<String>> =
            if workers.is_empty() { Vec::new() } else { pipe.query_async(&mut conn).await? };
        let workers = workers
            .into_iter()
            .zip(lists)
            .map(|((id, score), in_flight)| WorkerView { id, heartbeat_ms: score as u64, in_flight })
            .collect();
        Ok(QueueOverview { queued, delayed, dead, workers })
    }

    /// The task's job, if Redis still has it (queued, delayed or running).
    ///
    /// # Errors
    /// [`BusError`] on Redis failure or unreadable data.
    pub async fn job_view(&self, task: TaskId) -> Result<Option<JobView>, BusError> {
        let id = task.to_string();
        let mut conn = self.conn().await?;
        // The job hash's fields, then the lease and the retry time (zset scores).
        type Reply = ((Option<String>, Option<String>, Option<String>), Option<f64>, Option<f64>);
        let ((attempts, worker, token), lease, retry): Reply = redis::pipe()
            .hmget(self.key(&["job", &id]), &["attempts", "worker", "token"])
            .zscore(self.key(&["leases"]), &id)
            .zscore(self.key(&["delayed"]), &id)
            .query_async(&mut conn)
            .await?;
        let Some(attempts) = attempts else { return Ok(None) };
        let attempts =
            attempts.parse().map_err(|_| BusError::Corrupt(format!("job {id}: attempts {attempts:?}")))?;
        Ok(Some(JobView {
            attempts,
            worker,
            token,
            lease_until_ms: lease.map(|s| s as u64),
            retry_at_ms: retry.map(|s| s as u64),
        }))
    }

    /// Whether the task is in the dead-letter list.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn is_dead_letter(&self, task: TaskId) -> Result<bool, BusError> {
        let mut conn = self.conn().await?;
        let position: Option<u64> =
            redis::cmd("LPOS").arg(self.key(&["dead"])).arg(task.to_string()).query_async(&mut conn).await?;
        Ok(position.is_some())
    }

    /// Queues a dead letter again, as Postgres has just re-opened it: off the dead-letter list,
    /// a fresh job (a new attempt budget), and `pending` logged after the task's last event
    /// (or, when Redis has expired the task, at `pending.seq`, the ceiling Postgres gave).
    /// Returns the logged event.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure; the script ran entirely or not at all.
    pub async fn requeue(&self, job: &Job, pending: &TaskUpdate) -> Result<Event, BusError> {
        let id = job.task_id.to_string();
        let mut conn = self.conn().await?;
        let event: String = REQUEUE
            .key(self.key(&["task", &id]))
            .key(self.key(&["log", &id]))
            .key(self.key(&["job", &id]))
            .key(self.key(&["queue"]))
            .key(self.key(&["dead"]))
            .arg(pending.draft_json())
            .arg(&id)
            .arg(job.owner.to_string())
            .arg(job.url.as_str())
            .arg(job.language.as_str())
            .arg(self.events_channel())
            .arg(self.ttl_for(pending))
            .arg(pending.seq.max(1))
            .invoke_async(&mut conn)
            .await?;
        decode(event)
    }
}
