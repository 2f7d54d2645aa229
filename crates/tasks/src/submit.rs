//! Submission and cancellation: the user's two writes.

use std::time::Duration;

use protocol::{Event, Language, Origin, TaskId, TaskState, TaskUpdate, TikTokUrl, UserId};
use store::{Admission, CancelOutcome, NewTask};

use crate::{TaskError, Tasks, row_event};

/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The per-user limits a submission is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Submissions per minute.
    pub per_minute: u32,
    /// Unfinished tasks at once.
    pub in_flight: u32,
}

/// A request to extract a recipe.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    /// Who asks.
    pub owner: UserId,
    /// The canonical link; the same video and language join a running task.
    pub url: &'a TikTokUrl,
    /// The recipe's language.
    pub language: &'a Language,
    /// The client's `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<&'a str>,
    /// The limits that apply.
    pub limits: Limits,
    /// The request's trace context and request id, stored in the job so the worker's spans
    /// and log lines continue them.
    pub origin: Origin,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new task, queued; `event` is its PENDING event.
    Created(TaskId, Event),
    /// The owner already runs this video in this language: that task and its latest event.
    Joined(TaskId, Event),
    /// A retry of an earlier request with the same `Idempotency-Key`: its task, as it is now.
    Replayed(TaskId, Event),
    /// The earlier request with this `Idempotency-Key` has not created its task yet.
    KeyInUse,
    /// Too many submissions this minute: retry after this long.
    RateLimited(Duration),
    /// The owner has this many unfinished tasks, the limit or more.
    InFlightLimit(u64),
}

/// What a cancellation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// The task is cancelled; the event the owner's watchers got.
    Cancelled(Event),
    /// The task had already finished in this state; nothing changed.
    AlreadyFinished(TaskState),
    /// No such task for this owner.
    NotFound,
}

impl Tasks {
    /// Submits a recipe extraction. In order: the `Idempotency-Key` (a retry is answered before
    /// any limit counts it), the rate limit, admission in Postgres (the in-flight limit, or the
    /// owner's unfinished task for the same video and language), then the job and its PENDING
    /// event in Redis. If Redis refuses the job, the task is failed in Postgres, so it does not
    /// hang, and the key is released.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn submit(&self, submission: &Submission<'_>) -> Result<Submitted, TaskError> {
        let owner = submission.owner;
        let task = TaskId::new();
        let Some(key) = submission.idempotency_key else { return self.admit(submission, task).await };
        if let Some(earlier) = self.bus.idempotency(owner, key, task, IDEMPOTENCY_TTL).await? {
            return Ok(match self.snapshot(earlier, owner).await? {
                Some(event) => Submitted::Replayed(earlier, event),
                None => Submitted::KeyInUse,
            });
        }
        let result = self.admit(submission, task).await;
        // The key must name the task this request ended up with, or nothing.
        let bound = match &result {
            Ok(Submitted::Created(id, _)) => Some(*id),
            Ok(Submitted::Joined(id, _)) => {
                self.rebind(owner, key, Some(*id)).await;
                Some(*id)
            }
            _ => None,
        };
        if bound.is_none() {
            self.rebind(owner, key, None).await;
        }
        result
    }

    /// Points `key` at `task`, or forgets it; a failure only costs the retry's de-duplication.
    async fn rebind(&self, owner: UserId, key: &str, task: Option<TaskId>) {
        if let Err(error) = self.bus.forget_idempotency(owner, key).await {
            tracing::warn!(error = %error, "could not release an Idempotency-Key");
            return;
        }
        if let Some(task) = task
            && let Err(error) = self.bus.idempotency(owner, key, task, IDEMPOTENCY_TTL).await
        {
            tracing::warn!(error = %error, "could not rebind an Idempotency-Key");
        }
    }

    async fn admit(&self, submission: &Submission<'_>, task: TaskId) -> Result<Submitted, TaskError> {
        let Submission { owner, url, language, limits, .. } = *submission;
        let minute = Duration::from_secs(60);
        if let Some(wait) = self.bus.rate_limit("submit", owner, limits.per_minute, minute).await? {
            return Ok(Submitted::RateLimited(wait));
        }
        let pending = TaskUpdate::pending(task);
        let new = NewTask { id: task, owner, url, language };
        // The job's first claim is recorded with the task, in the admission's commit: the
        // worker then starts it without a Postgres write of its own (`Tasks::start`).
        let first_claim = bus::FirstClaim { token: uuid::Uuid::new_v4(), ceiling: store::FIRST_CEILING };
        match self.store.admit_task(&new, limits.in_flight, &pending, first_claim.token).await? {
            Admission::Limited(unfinished) => Ok(Submitted::InFlightLimit(unfinished)),
            Admission::Running(id) => match self.snapshot(id, owner).await? {
                Some(event) => Ok(Submitted::Joined(id, event)),
                // It finished and its row went away in between: a fresh submission would do.
                None => Err(store::StoreError::Corrupt(format!("joined task {id} vanished")).into()),
            },
            Admission::Created(_) => {
                let job = bus::Job {
                    task_id: task,
                    owner,
                    url: url.clone(),
                    language: language.clone(),
                    enqueued_ms: None,
                    origin: submission.origin.clone(),
                };
                match self.bus.enqueue(&job, &pending, Some(first_claim)).await {
                    Ok(event) => Ok(Submitted::Created(task, event)),
                    Err(error) => {
                        if let Err(e) =
                            self.store.mark_enqueue_failed(&TaskUpdate::queue_unavailable(task)).await
                        {
                            tracing::error!(error = %e, %task, "could not fail a task that was never queued");
                        }
                        Err(error.into())
                    }
                }
            }
        }
    }

    /// Cancels a queued or running task of `owner`'s. Postgres decides: a task it has
    /// finished cannot be cancelled, and once it is cancelled there no worker can finish it.
    /// Redis then logs the cancel (numbering it), drops a queued job and tells the workers, and
    /// Postgres records that event so its snapshot is the cancel once Redis lets go.
    ///
    /// # Errors
    /// [`TaskError`] when Postgres fails (Redis failing only delays the workers' notice).
    pub async fn cancel(&self, task: TaskId, owner: UserId) -> Result<Cancelled, TaskError> {
        let mut update = TaskUpdate::cancelled(task, 0);
        let row = match self.store.cancel_task(task, owner, &update).await? {
            CancelOutcome::NotFound => return Ok(Cancelled::NotFound),
            CancelOutcome::Finished(row) => return Ok(Cancelled::AlreadyFinished(row.state())),
            CancelOutcome::Cancelled(row) => row,
        };
        update.step = u32::try_from(row.step).unwrap_or(0);
        match self.bus.cancel(task, &update).await {
            Ok(Some(event)) => {
                update.seq = event.seq;
                if let Err(error) = self.store.record_event(&update).await {
                    tracing::warn!(error = %error, %task, "could not record the cancel event");
                }
                Ok(Cancelled::Cancelled(event))
            }
            // Redis no longer knows the task, or it just finished there: Postgres has the outcome.
            Ok(None) => match self.snapshot(task, owner).await? {
                Some(event) => Ok(Cancelled::Cancelled(event)),
                None => Ok(Cancelled::NotFound),
            },
            Err(error) => {
                // Postgres keeps the cancel at the seq its ceiling reserved for it, above all
                // Redis may have handed out; the worker's next write finds the claim void and
                // logs this outcome in Redis (see `Attempt::settle_refused`).
                tracing::warn!(error = %error, %task, "cancelled in Postgres, but Redis was not told");
                update.seq = u64::try_from(row.seq_ceiling).unwrap_or_default();
                self.store.record_event(&update).await?;
                Ok(Cancelled::Cancelled(row_event(&self.store.task(task).await?.unwrap_or(row))?))
            }
        }
    }
}
