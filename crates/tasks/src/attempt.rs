//! A worker's attempt at a task: claim, start, progress, and how it ends.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bus::{Claim, Job, WriteOutcome};
use protocol::{Event, Recipe, RecipeId, Step, TaskId, TaskUpdate};

use crate::{TaskError, Tasks};

/// What [`Tasks::start`] found.
#[derive(Debug)]
pub enum Start {
    /// The attempt may run; [`Attempt::begin`] logs its first event.
    Running(Box<Attempt>),
    /// Postgres already holds the task's outcome (a re-run after a crash, or a job Redis lost
    /// the terminal event of): the outcome is logged again and the job let go.
    AlreadyFinished,
    /// Postgres has no such task (a job without a row): it is failed and dead-lettered.
    Unknown,
}

/// The result of an attempt's write to the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Logged and published.
    Logged(Event),
    /// The owner cancelled the task: stop and write nothing more.
    Cancelled,
    /// The claim is void (the lease went to another worker, or the job was re-queued): stop.
    Lost,
}

/// A claimed job that Postgres has recorded: the only handle that writes the task's progress
/// and outcome. Cheap to share: every method takes `&self`.
#[derive(Debug)]
pub struct Attempt {
    tasks: Tasks,
    worker: Arc<str>,
    claim: Claim,
    first: TaskUpdate,
    /// When the task was submitted (Postgres' `created_at`; for a claim recorded at admission,
    /// when the job was queued, a moment later), for the task-duration metric.
    submitted: SystemTime,
    /// Whether the outcome's statement counts this attempt: its claim was recorded at
    /// admission, so no [`store::Store::claim_task`] counted it.
    count_attempt: bool,
    position: Mutex<Position>,
}

#[derive(Debug, Clone, Copy)]
struct Position {
    /// The seq of the task's latest event, as logged.
    seq: u64,
    /// The highest seq Postgres has reserved for this attempt: Redis may not go past it, so a
    /// job restored after Redis lost its data starts above every seq this attempt used.
    ceiling: u64,
}

impl Tasks {
    /// Waits up to `block` for a job and takes a lease of `lease` on it, as `worker`.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure or an unreadable job.
    pub async fn claim(
        &self,
        worker: &str,
        block: Duration,
        lease: Duration,
    ) -> Result<Option<Claim>, TaskError> {
        Ok(self.bus.claim(worker, block, lease).await?)
    }

    /// Like [`Tasks::claim`], and a job's first claim (recorded at admission) logs the attempt's
    /// first event, Preparing with `details`, in the same round trip; [`Attempt::begin`] then
    /// has nothing left to send. `details` must be what [`Tasks::start`] is given for the claim.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure or an unreadable job.
    pub async fn claim_starting(
        &self,
        worker: &str,
        block: Duration,
        lease: Duration,
        details: &str,
    ) -> Result<Option<Claim>, TaskError> {
        // Any id: the claim script puts the claimed job's in its place.
        let first = TaskUpdate::progress(TaskId::new(), Step::Preparing, Some(details.to_owned()));
        Ok(self.bus.claim_starting(worker, block, lease, Some(&first)).await?)
    }

    /// Records the claim in Postgres: one more attempt, its token the only one allowed to
    /// finish the task, and the attempt's first event (Preparing, with `details`) numbered
    /// right after the task's latest seq, which Redis then logs with that very seq.
    ///
    /// A job's first claim was recorded with the task at admission (its token and seq block;
    /// [`Claim::recorded_ceiling`]): it starts without asking Postgres, and the row stays
    /// PENDING until the attempt's outcome (which counts the attempt) is written. What reads the
    /// row copes: the app reads Redis' snapshot (Postgres' PENDING at seq 1 is a true event of
    /// the task should Redis lose it), the in-flight limit and the reconciler treat PENDING and
    /// PROGRESS alike, the token fences the attempt as a recorded claim does, and the admin
    /// console shows the job's worker and lease from Redis beside the PENDING row.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails; the lease then expires and the job returns.
    pub async fn start(
        &self,
        worker: Arc<str>,
        claim: Claim,
        details: Option<String>,
    ) -> Result<Start, TaskError> {
        let task = claim.job.task_id;
        let mut first = TaskUpdate::progress(task, Step::Preparing, details);
        first.seq = claim.seq + 1;
        if let Some(ceiling) = claim.recorded_ceiling {
            let queued = claim.job.enqueued_ms.map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
            let seq = claim.seq;
            return Ok(Start::Running(Box::new(Attempt {
                tasks: self.clone(),
                worker,
                claim,
                first,
                submitted: queued.unwrap_or_else(SystemTime::now),
                count_attempt: true,
                position: Mutex::new(Position { seq, ceiling }),
            })));
        }
        let Some(row) = self.store.claim_task(task, claim.token, &first, claim.attempt).await? else {
            tracing::error!(%task, "job has no task row; failing it");
            let update = TaskUpdate::failure(task, 0, "unknown_task", "The task is unknown");
            self.bus.finish(&worker, &claim, &update, true).await?;
            return Ok(Start::Unknown);
        };
        let ceiling = u64::try_from(row.seq_ceiling).unwrap_or_default();
        let attempt = Attempt {
            tasks: self.clone(),
            worker,
            claim,
            first,
            submitted: row.created_at.into(),
            count_attempt: false,
            position: Mutex::new(Position { seq: 0, ceiling }),
        };
        if row.state().is_terminal() {
            attempt.relog_outcome(&row).await?;
            return Ok(Start::AlreadyFinished);
        }
        attempt.lock().seq = attempt.claim.seq;
        Ok(Start::Running(Box::new(attempt)))
    }
}

impl Attempt {
    /// What this attempt runs.
    pub fn job(&self) -> &Job {
        &self.claim.job
    }

    /// The task this attempt may write.
    pub fn task(&self) -> TaskId {
        self.claim.job.task_id
    }

    /// The claim: token, attempt number, the Apify run an earlier attempt started.
    pub fn claim(&self) -> &Claim {
        &self.claim
    }

    /// When the task was submitted, as Postgres recorded it.
    pub fn submitted_at(&self) -> SystemTime {
        self.submitted
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Position> {
        self.position.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs the attempt's first event, as Postgres recorded it with the claim, unless the claim
    /// logged it already ([`Tasks::claim_starting`]).
    ///
    /// # Errors
    /// [`TaskError`] when Redis fails.
    pub async fn begin(&self) -> Result<Written, TaskError> {
        if let Some(event) = &self.claim.first_event {
            return Ok(self.written(WriteOutcome::Logged(event.clone())));
        }
        self.progress(self.first.clone()).await
    }

    /// Logs a progress event (Redis numbers it), unless the claim is void or the task was
    /// cancelled.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn progress(&self, update: TaskUpdate) -> Result<Written, TaskError> {
        if !self.reserve_next().await? {
            return Ok(Written::Lost);
        }
        Ok(self.written(self.tasks.bus.publish(&self.claim, &update).await?))
    }

    fn written(&self, outcome: WriteOutcome) -> Written {
        match outcome {
            WriteOutcome::Logged(event) => {
                let mut position = self.lock();
                position.seq = position.seq.max(event.seq);
                Written::Logged(event)
            }
            WriteOutcome::Cancelled => Written::Cancelled,
            WriteOutcome::Lost | WriteOutcome::AlreadyFinished => Written::Lost,
        }
    }

    /// Makes sure the next event's seq is within the attempt's reserved block; `false` when
    /// Postgres says the claim is void.
    async fn reserve_next(&self) -> Result<bool, TaskError> {
        let Position { seq, ceiling } = *self.lock();
        if seq < ceiling {
            return Ok(true);
        }
        let reserved = self.tasks.store.reserve_seqs(self.task(), self.claim.token, store::SEQ_BLOCK).await?;
        let Some(ceiling) = reserved else { return Ok(false) };
        let mut position = self.lock();
        position.ceiling = position.ceiling.max(ceiling);
        Ok(true)
    }

    /// The next seq, for an event Postgres records before Redis logs it.
    fn next_recorded(&self) -> u64 {
        self.lock().seq + 1
    }

    /// Saves the recipe and ends the task in SUCCESS with `completion` (whose `recipe_id` names
    /// the new recipe): Postgres first, in one statement, then the event. Returns the recipe
    /// id, or `None` when Postgres refused (the claim is void: cancelled, or re-claimed).
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn succeed(
        &self,
        recipe: &Recipe,
        mut completion: TaskUpdate,
    ) -> Result<Option<RecipeId>, TaskError> {
        completion.seq = self.next_recorded();
        let saved = self
            .tasks
            .store
            .finish_success(self.task(), self.claim.token, recipe, &completion, self.count_attempt)
            .await?;
        match saved {
            Some(id) => self.log_terminal(completion, false).await.map(|()| Some(id)),
            None => self.settle_refused().await.map(|()| None),
        }
    }

    /// Ends the task in FAILURE with `failure` (to the dead-letter list when `dead`): Postgres
    /// first, then the event. Returns whether Postgres accepted it.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn fail(&self, mut failure: TaskUpdate, dead: bool) -> Result<bool, TaskError> {
        failure.seq = self.next_recorded();
        if self
            .tasks
            .store
            .finish_failure(self.task(), Some(self.claim.token), &failure, self.count_attempt)
            .await?
        {
            self.log_terminal(failure, dead).await?;
            return Ok(true);
        }
        self.settle_refused().await?;
        Ok(false)
    }

    /// Logs `notice` (a retry notice) and parks the job until `delay` has passed. When the
    /// claim turned out void or the task was cancelled, the job is let go instead.
    ///
    /// # Errors
    /// [`TaskError`] when Redis or Postgres fails.
    pub async fn retry(&self, notice: TaskUpdate, delay: Duration) -> Result<Written, TaskError> {
        if !self.reserve_next().await? {
            self.abandon().await?;
            return Ok(Written::Lost);
        }
        let outcome = self.tasks.bus.retry_later(&self.worker, &self.claim, &notice, delay).await?;
        let written = self.written(outcome);
        if !matches!(written, Written::Logged(_)) {
            self.abandon().await?;
        }
        Ok(written)
    }

    /// Returns the job to the front of the queue without counting the attempt (shutdown).
    /// Returns whether the claim was still held.
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn hand_back(&self) -> Result<bool, TaskError> {
        Ok(self.tasks.bus.hand_back(&self.worker, &self.claim).await?)
    }

    /// Lets go of a job this attempt may no longer run (cancelled, or the claim is void).
    ///
    /// # Errors
    /// [`TaskError`] on Redis failure.
    pub async fn abandon(&self) -> Result<(), TaskError> {
        Ok(self.tasks.bus.drop_task(&self.worker, &self.task().to_string()).await?)
    }

    /// Logs a terminal event Postgres accepted, with the seq Postgres recorded. Should Redis be
    /// past it (it never is unless its data was tampered with), Redis takes the next seq and
    /// Postgres learns that one, so its snapshot never falls behind what clients saw.
    async fn log_terminal(&self, mut update: TaskUpdate, dead: bool) -> Result<(), TaskError> {
        let outcome = self.tasks.bus.finish(&self.worker, &self.claim, &update, dead).await?;
        if let WriteOutcome::Logged(event) = outcome
            && event.seq != update.seq
        {
            tracing::warn!(recorded = update.seq, logged = event.seq, "terminal event renumbered by Redis");
            update.seq = event.seq;
            self.tasks.store.record_event(&update).await?;
        }
        Ok(())
    }

    /// Postgres refused this attempt's outcome. If the task has finished there (cancelled,
    /// say, while Redis was away and never heard of it), its outcome is logged in Redis so open
    /// sockets see the end; else another claim owns the job and this one just lets go.
    async fn settle_refused(&self) -> Result<(), TaskError> {
        match self.tasks.store.task(self.task()).await? {
            Some(row) if row.state().is_terminal() => self.relog_outcome(&row).await,
            _ => self.abandon().await,
        }
    }

    /// Logs the terminal event Postgres holds for the task (Redis ignores it if it has one).
    async fn relog_outcome(&self, row: &store::TaskRow) -> Result<(), TaskError> {
        let update = serde_json::from_str(&row.snapshot_json()).unwrap_or_else(|_| row.to_update());
        self.log_terminal(update, false).await
    }
}
