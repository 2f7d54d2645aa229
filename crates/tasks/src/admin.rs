//! What operators see and do through the admin console: the queue and its workers, any user's
//! tasks, dead letters queued again, and cancellation without the owner check.
//!
//! Reads come from where they live (sizes and workers from Redis, tasks from Postgres, a task's
//! log from Redis or, once Redis has expired it, Postgres' snapshot). The two writes keep the
//! lifecycle's rules: a cancel is [`Tasks::cancel`] on behalf of the owner, and a requeue lets
//! Postgres decide first (only a FAILURE row re-opens, so of two requeues one wins), then Redis
//! queues the job with a fresh attempt budget and logs the PENDING notice, whose seq Postgres
//! records, as a cancel's.

use protocol::{Event, Language, TaskId, TaskUpdate, TikTokUrl, UserId};
use store::{Minute, StoreError, TaskFilter};

use crate::{Cancelled, Job, TaskError, TaskRow, Tasks, row_event};

pub use bus::{JobView, QueueOverview, WorkerView};

/// The admin console's view of the lifecycle ([`Tasks::admin`]).
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a> {
    tasks: &'a Tasks,
}

/// Which store a task's events came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    /// Redis' log: every event of the task.
    Redis,
    /// Redis has expired the task: Postgres' snapshot, its latest event only.
    Postgres,
}

/// Everything known about one task.
#[derive(Debug, Clone)]
pub struct TaskDetail {
    /// The task's row.
    pub row: TaskRow,
    /// Its events, oldest first.
    pub events: Vec<Event>,
    /// Where `events` came from.
    pub source: EventSource,
    /// Its job in Redis (claims, worker, lease), while Redis has one.
    pub job: Option<JobView>,
    /// Whether it is in the dead-letter list.
    pub dead_letter: bool,
}

/// A dead-lettered task and why it died (its row's error code and message).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The task id as the list holds it.
    pub task_id: String,
    /// Its row, when Postgres has one (a job without a row is dead-lettered as `unknown_task`).
    pub row: Option<TaskRow>,
}

/// What a requeue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeued {
    /// PENDING again and queued; the notice its watchers got.
    Queued(Event),
    /// The task is not a dead letter (running, succeeded, or failed without dead-lettering).
    NotDeadLetter,
    /// Postgres did not re-open it: it is no longer FAILURE (another requeue won) or its owner
    /// runs the same video and language again.
    Refused,
    /// No such task.
    NotFound,
}

impl Tasks {
    /// The operators' view: any user's tasks, the queue, dead letters.
    pub fn admin(&self) -> Admin<'_> {
        Admin { tasks: self }
    }
}

impl Admin<'_> {
    /// Queue depth, delayed retries, dead letters and the workers with their jobs in flight.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn overview(&self) -> Result<QueueOverview, TaskError> {
        Ok(self.tasks.bus.overview().await?)
    }

    /// Tasks matching `filter`, newest first.
    ///
    /// # Errors
    /// [`TaskError`] on Postgres failure.
    pub async fn tasks(&self, filter: &TaskFilter<'_>) -> Result<Vec<TaskRow>, TaskError> {
        Ok(self.tasks.store.admin_tasks(filter).await?)
    }

    /// One task: its row, its events, its job and whether it is a dead letter.
    ///
    /// # Errors
    /// [`TaskError`] when Postgres fails, or Redis does.
    pub async fn task(&self, task: TaskId) -> Result<Option<TaskDetail>, TaskError> {
        let Some(row) = self.tasks.store.task(task).await? else { return Ok(None) };
        let events = self.tasks.bus.events_after(task, 0).await?;
        let (events, source) = if events.is_empty() {
            (vec![row_event(&row)?], EventSource::Postgres)
        } else {
            (events, EventSource::Redis)
        };
        let job = self.tasks.bus.job_view(task).await?;
        let dead_letter = self.tasks.bus.is_dead_letter(task).await?;
        Ok(Some(TaskDetail { row, events, source, job, dead_letter }))
    }

    /// Every dead letter, oldest first, with its row.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, TaskError> {
        let ids = self.tasks.bus.dead_letters().await?;
        let uuids: Vec<uuid::Uuid> =
            ids.iter().filter_map(|id| TaskId::parse(id).ok()).map(|id| id.as_uuid()).collect();
        let mut rows = self.tasks.store.tasks_by_ids(&uuids).await?;
        Ok(ids
            .into_iter()
            .map(|task_id| {
                let row = rows.iter().position(|r| r.id.to_string() == task_id).map(|i| rows.swap_remove(i));
                DeadLetter { task_id, row }
            })
            .collect())
    }

    /// Queues a dead letter again: PENDING, a fresh attempt budget, and a notice in its log
    /// ("Queued again by an operator"). Postgres re-opens it first; should Redis then fail, the
    /// row is put back as it was and the error returned, so the requeue can be tried again.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn requeue(&self, task: TaskId) -> Result<Requeued, TaskError> {
        if !self.tasks.bus.is_dead_letter(task).await? {
            return Ok(match self.tasks.store.task(task).await? {
                Some(_) => Requeued::NotDeadLetter,
                None => Requeued::NotFound,
            });
        }
        let Some(before) = self.tasks.store.task(task).await? else { return Ok(Requeued::NotFound) };
        let mut update = TaskUpdate::requeued_by_operator(task);
        let Some(reopened) = self.tasks.store.reopen_failed(task, &update).await? else {
            return Ok(Requeued::Refused);
        };
        let row = reopened.row;
        let corrupt = |e: String| StoreError::Corrupt(format!("task {task}: {e}"));
        let job = Job {
            task_id: task,
            owner: UserId::from_uuid(row.owner),
            url: TikTokUrl::parse(&row.url).map_err(|e| corrupt(e.to_string()))?,
            language: Language::parse(&row.language).map_err(|e| corrupt(e.to_string()))?,
            enqueued_ms: None,
            // Postgres does not keep the first submission's trace: the new run starts its own.
            origin: protocol::Origin::default(),
        };
        update.seq = reopened.ceiling;
        let event = match self.tasks.bus.requeue(&job, &update).await {
            Ok(event) => event,
            Err(error) => {
                // Redis still holds the task as a finished dead letter: the row goes back to
                // FAILURE, so a later requeue can take it (the reconciler could not: Redis
                // refuses to restore a task it holds as finished).
                if let Err(undo) = self.tasks.store.undo_reopen(&before).await {
                    tracing::warn!(error = %undo, %task, "requeue: Redis failed and the row could not be put back");
                }
                return Err(error.into());
            }
        };
        update.seq = event.seq;
        self.tasks.store.record_event(&update).await?;
        Ok(Requeued::Queued(event))
    }

    /// Queues every dead letter again; what became of each, in the list's order.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails (those requeued before stay requeued).
    pub async fn requeue_all(&self) -> Result<Vec<(String, Requeued)>, TaskError> {
        let mut done = Vec::new();
        for id in self.tasks.bus.dead_letters().await? {
            let outcome = match TaskId::parse(&id) {
                Ok(task) => self.requeue(task).await?,
                Err(_) => Requeued::NotFound,
            };
            done.push((id, outcome));
        }
        Ok(done)
    }

    /// Cancels any user's task: [`Tasks::cancel`] on behalf of its owner.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn cancel(&self, task: TaskId) -> Result<Cancelled, TaskError> {
        let Some(row) = self.tasks.store.task(task).await? else { return Ok(Cancelled::NotFound) };
        self.tasks.cancel(task, UserId::from_uuid(row.owner)).await
    }

    /// Tasks finished per minute over the last hour (succeeded, failed, cancelled), oldest first.
    ///
    /// # Errors
    /// [`TaskError`] on Postgres failure.
    pub async fn throughput(&self) -> Result<Vec<Minute>, TaskError> {
        let cancelled = TaskUpdate::cancelled(TaskId::new(), 0).error.unwrap_or_default();
        Ok(self.tasks.store.throughput(&cancelled).await?)
    }
}
