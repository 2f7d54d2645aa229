//! The queue's upkeep (leases, heartbeats, lost jobs) and the worker's per-task memory.

use std::time::Duration;

use bus::{Job, Maintenance};
use protocol::{TaskId, TaskUpdate};
use uuid::Uuid;

use crate::{TaskError, Tasks};

/// Which of a task's Apify runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The scrape of the post's text.
    Text,
    /// The run that downloads the video (the media pass).
    Video,
}

impl Tasks {
    /// Renews `worker`'s liveness and the leases of its `claims` (task, token); returns the
    /// tasks whose claim was lost, which the worker must abandon.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn heartbeat(
        &self,
        worker: &str,
        claims: &[(TaskId, Uuid)],
        lease: Duration,
    ) -> Result<Vec<TaskId>, TaskError> {
        Ok(self.bus.heartbeat(worker, claims, lease).await?)
    }

    /// Re-queues jobs of expired leases and of workers that stopped heart-beating, and due
    /// retries. Any worker may run it.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn maintain(&self, worker_timeout: Duration) -> Result<Maintenance, TaskError> {
        Ok(self.bus.maintain(worker_timeout).await?)
    }

    /// A worker leaving: every job it still holds goes back to the front of the queue.
    /// Returns how many.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn release(&self, worker: &str) -> Result<u64, TaskError> {
        Ok(self.bus.release(worker).await?)
    }

    /// Re-creates the jobs Redis lost (a restart without persistence, a flush): Postgres knows
    /// every unfinished task, and one untouched for `idle` without a job in Redis is queued
    /// again. Postgres re-queues it first and picks its seq, above every seq Redis may have
    /// handed out (of several workers doing this, one wins); Redis then logs the PENDING event
    /// with that seq. Returns how many jobs were restored.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn restore_lost(&self, idle: Duration) -> Result<u32, TaskError> {
        let mut restored = 0;
        for row in self.store.stale_unfinished(idle, 100).await? {
            let task = row.task_id();
            if self.bus.has_job(task).await? {
                self.store.touch(task).await?;
                continue;
            }
            let mut update = TaskUpdate::requeued(task);
            let Some(seq) = self.store.requeue_lost(task, idle, &update).await? else { continue };
            update.seq = seq;
            let corrupt = |e: String| store::StoreError::Corrupt(format!("task {task}: {e}"));
            let job = Job {
                task_id: task,
                owner: protocol::UserId::from_uuid(row.owner),
                url: protocol::TikTokUrl::parse(&row.url).map_err(|e| corrupt(e.to_string()))?,
                language: protocol::Language::parse(&row.language).map_err(|e| corrupt(e.to_string()))?,
                enqueued_ms: None,
                // Postgres does not keep the submitting request's trace: the restored job starts none.
                origin: protocol::Origin::default(),
            };
            if self.bus.restore(&job, &update).await?.is_some() {
                tracing::warn!(%task, seq, "restored a job Redis had lost");
                restored += 1;
            }
        }
        Ok(restored)
    }

    /// Remembers a task's Apify run, so a retry re-attaches to it instead of paying again.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn remember_run(&self, task: TaskId, kind: RunKind, run_id: &str) -> Result<(), TaskError> {
        match kind {
            RunKind::Text => self.bus.set_run(task, run_id).await?,
            RunKind::Video => self.bus.set_media_run(task, run_id).await?,
        }
        Ok(())
    }

    /// The Apify run remembered for a task.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn run(&self, task: TaskId, kind: RunKind) -> Result<Option<String>, TaskError> {
        Ok(match kind {
            RunKind::Text => self.bus.run(task).await?,
            RunKind::Video => self.bus.media_run(task).await?,
        })
    }

    /// Stores what the media pass read from a video (opaque bytes), for `ttl`.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn cache_media(&self, video_id: &str, value: &[u8], ttl: Duration) -> Result<(), TaskError> {
        Ok(self.bus.set_media_cache(video_id, value, ttl).await?)
    }

    /// What the media pass read from a video earlier, if it is still cached.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn cached_media(&self, video_id: &str) -> Result<Option<Vec<u8>>, TaskError> {
        Ok(self.bus.media_cache(video_id).await?)
    }

    /// Whether Redis still has the task's job (queued, delayed or running).
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn has_job(&self, task: TaskId) -> Result<bool, TaskError> {
        Ok(self.bus.has_job(task).await?)
    }
}
