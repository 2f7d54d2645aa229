//! One job, start to finish: the five steps, their events, and what each failure means.

mod cascade;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bus::{Bus, Claim, WriteOutcome};
use protocol::{Recipe, Step, TaskUpdate};
use store::Store;
use tokio_util::sync::CancellationToken;

use crate::providers::{ProviderError, Providers, RunKind, RunMemo};
use crate::video::MediaCache;

/// Why a running job was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The owner cancelled the task.
    Cancelled,
    /// The heartbeat found the lease lost: another worker may own the job.
    Lost,
    /// The worker is shutting down and the grace period is over: hand the job back.
    Shutdown,
}

/// The stop signal of one running job.
#[derive(Debug, Clone, Default)]
pub(crate) struct StopSignal {
    token: CancellationToken,
    reason: Arc<OnceLock<Stop>>,
}

impl StopSignal {
    pub(crate) fn stop(&self, reason: Stop) {
        // The first reason wins: a cancel that arrives during shutdown is still a cancel.
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    fn reason(&self) -> Option<Stop> {
        self.reason.get().copied()
    }
}

/// What the pipeline needs from the worker.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) worker_id: Arc<str>,
    pub(crate) bus: Bus,
    pub(crate) store: Store,
    pub(crate) providers: Providers,
    pub(crate) max_attempts: u32,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) cache_freshness: Duration,
}

/// How a job ended, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Succeeded,
    Failed(String),
    DeadLettered(String),
    RetryScheduled(Duration),
    Stopped(Stop),
    /// The task had already finished (a re-run after a crash); its terminal event was ensured.
    AlreadyFinished,
}

/// Why the step sequence stopped early.
enum Interrupt {
    Provider { step: u32, error: ProviderError },
    Stopped(Stop),
    Infra(anyhow::Error),
}

impl From<anyhow::Error> for Interrupt {
    fn from(e: anyhow::Error) -> Self {
        Self::Infra(e)
    }
}

/// The job hash's run slots and the media cache, in Redis.
struct BusMemo<'a>(&'a Bus);

#[async_trait::async_trait]
impl RunMemo for BusMemo<'_> {
    async fn get(&self, task: protocol::TaskId, kind: RunKind) -> Option<String> {
        let run = match kind {
            RunKind::Text => self.0.run(task).await,
            RunKind::Video => self.0.media_run(task).await,
        };
        run.ok().flatten()
    }

    async fn set(&self, task: protocol::TaskId, kind: RunKind, run_id: &str) {
        let saved = match kind {
            RunKind::Text => self.0.set_run(task, run_id).await,
            RunKind::Video => self.0.set_media_run(task, run_id).await,
        };
        if let Err(e) = saved {
            tracing::warn!(%task, error = %e, "could not remember the Apify run; a retry may start a new one");
        }
    }
}

#[async_trait::async_trait]
impl MediaCache for BusMemo<'_> {
    async fn get(&self, video_id: &str) -> Option<Vec<u8>> {
        self.0.media_cache(video_id).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the media cache");
            None
        })
    }

    async fn put(&self, video_id: &str, value: &[u8], ttl: Duration) {
        if let Err(e) = self.0.set_media_cache(video_id, value, ttl).await {
            tracing::warn!(error = %e, "could not store the media read; a retry reads the video again");
        }
    }
}

/// Capped exponential backoff with full jitter, never shorter than the provider's own hint.
pub(crate) fn backoff(attempt: u32, base: Duration, max: Duration, hint: Option<Duration>) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(max);
    let jittered = Duration::from_millis(rand::random_range(0..=ceiling.as_millis() as u64));
    jittered.max(hint.unwrap_or_default().min(max))
}

struct Run<'a> {
    ctx: &'a Context,
    claim: &'a Claim,
    stop: &'a StopSignal,
    /// The seq of the task's latest event, as the Redis scripts numbered it.
    seq: u64,
    /// The highest seq Postgres has reserved for this attempt: Redis may not go past it, so a
    /// job restored after Redis lost its data starts above every seq it handed out.
    ceiling: u64,
    step: u32,
}

impl Run<'_> {
    fn task(&self) -> protocol::TaskId {
        self.claim.job.task_id
    }

    /// Makes sure the next event's seq is within the attempt's reserved block.
    async fn reserve_next(&mut self) -> Result<(), Interrupt> {
        if self.seq < self.ceiling {
            return Ok(());
        }
        let reserved = self.ctx.store.reserve_seqs(self.task(), self.claim.token, store::SEQ_BLOCK).await;
        match reserved.map_err(anyhow::Error::from)? {
            Some(ceiling) => {
                self.ceiling = ceiling;
                Ok(())
            }
            None => Err(Interrupt::Stopped(Stop::Lost)),
        }
    }

    async fn publish(&mut self, update: TaskUpdate) -> Result<(), Interrupt> {
        if let Some(reason) = self.stop.reason() {
            return Err(Interrupt::Stopped(reason));
        }
        self.reserve_next().await?;
        match self.ctx.bus.publish(self.claim, &update).await.map_err(anyhow::Error::from)? {
            WriteOutcome::Logged { seq, .. } => {
                self.seq = seq;
                Ok(())
            }
            WriteOutcome::Cancelled => Err(Interrupt::Stopped(Stop::Cancelled)),
            WriteOutcome::Lost | WriteOutcome::AlreadyFinished => Err(Interrupt::Stopped(Stop::Lost)),
        }
    }

    async fn step(&mut self, step: Step, details: Option<String>) -> Result<(), Interrupt> {
        tracing::info!(step = step.number(), "{}", step.text());
        self.step = step.number();
        self.publish(TaskUpdate::progress(self.task(), step, details)).await
    }

    /// Runs a provider call, aborting it as soon as the job is told to stop.
    async fn call<T>(
        &self,
        step: Step,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, Interrupt> {
        tokio::select! {
            result = call => result.map_err(|error| Interrupt::Provider { step: step.number(), error }),
            () = self.stop.token.cancelled() => {
                Err(Interrupt::Stopped(self.stop.reason().unwrap_or(Stop::Shutdown)))
            }
        }
    }

    /// Runs the steps; `first` is the Preparing event Postgres recorded with the claim.
    async fn steps(&mut self, first: TaskUpdate) -> Result<Outcome, Interrupt> {
        let ctx = self.ctx;
        let job = &self.claim.job;
        tracing::info!(step = first.step, "{}", Step::Preparing.text());
        self.step = first.step;
        self.publish(first).await?;
        let cached = if ctx.cache_freshness.is_zero() {
            None
        } else {
            ctx.store
                .cached_recipe(&job.url, &job.language, ctx.cache_freshness)
                .await
                .map_err(anyhow::Error::from)?
        };
        let (recipe, inputs): (Recipe, Option<String>) = match cached {
            Some(recipe) => {
                let reused = "Reusing the recipe extracted earlier from this video".to_owned();
                self.step(Step::Scraping, Some(reused.clone())).await?;
                self.step(Step::Extracting, Some(reused)).await?;
                (recipe, None)
            }
            None => {
                // Boxed: the cascade's future (two scrapes, the media pass, two extractions) is
                // too large to sit on a 2 MiB worker-thread stack in debug builds.
                let found = Box::pin(self.find_recipe()).await?;
                tracing::info!(
                    inputs = found.video.inputs_used().join(","),
                    scraper_runs = found.scraper_runs,
                    transcribed = found.transcribed,
                    frames = found.video.frames.len(),
                    "recipe extracted"
                );
                let details = found.details();
                (found.recipe, Some(details))
            }
        };
        // Every saved recipe carries the same canonical ingredient fields, whichever extractor
        // made it, also when it is reused from a recipe saved before the parser had them.
        let mut recipe = recipe;
        ingredients::canonicalize_recipe(&mut recipe);
        // The app loads the cover: only https to a public host, also for a recipe saved before
        // the outbound URL rule (the scraper already drops other covers).
        recipe.cover_url = recipe.cover_url.as_deref().and_then(crate::outbound::public_cover);
        self.step(Step::Saving, None).await?;
        let mut update = TaskUpdate::completion(job.task_id, protocol::RecipeId::new(), recipe.title.clone());
        update.details = inputs;
        update.seq = self.seq + 1;
        let saved = ctx
            .store
            .finish_success(job.task_id, self.claim.token, &recipe, &update)
            .await
            .map_err(anyhow::Error::from)?;
        let Some(recipe_id) = saved else {
            // Postgres says the claim is void: cancelled, or re-claimed after our lease expired.
            return Err(Interrupt::Stopped(Stop::Lost));
        };
        log_terminal(ctx, self.claim, update, false).await?;
        tracing::info!(%recipe_id, title = %recipe.title, "recipe saved");
        Ok(Outcome::Succeeded)
    }

    /// Ends the task in FAILURE: Postgres first (it arbitrates), then the terminal event.
    async fn fail(&self, step: u32, code: &str, message: &str, dead: bool) -> anyhow::Result<()> {
        let mut update = TaskUpdate::failure(self.task(), step, code, message);
        update.seq = self.seq + 1;
        let changed = self.ctx.store.finish_failure(self.task(), Some(self.claim.token), &update).await?;
        if changed {
            log_terminal(self.ctx, self.claim, update, dead).await?;
        } else {
            self.ctx.bus.drop_task(&self.ctx.worker_id, &self.task().to_string()).await?;
        }
        Ok(())
    }
}

/// Runs one claimed job to its end (or until told to stop) and settles it in Redis and Postgres.
#[tracing::instrument(skip_all, fields(task_id = %claim.job.task_id, attempt = claim.attempt))]
pub(crate) async fn run_job(ctx: &Context, claim: &Claim, stop: &StopSignal) -> anyhow::Result<Outcome> {
    // The attempt's first event: Postgres keeps it with the claim, numbered as Redis will
    // number it (nobody else writes the task's log while this claim holds the job).
    let attempt = format!("Attempt {} of {}", claim.attempt, ctx.max_attempts);
    let mut first = TaskUpdate::progress(claim.job.task_id, Step::Preparing, Some(attempt));
    first.seq = claim.seq + 1;
    let row = ctx.store.claim_task(claim.job.task_id, claim.token, &first).await?;
    let ceiling = row.as_ref().map_or(0, |row| u64::try_from(row.seq_ceiling).unwrap_or_default());
    let mut run = Run { ctx, claim, stop, seq: claim.seq, ceiling, step: 0 };
    match row {
        None => {
            // Redis has a job Postgres never recorded: fail it so it does not hang.
            tracing::error!("job has no task row; failing it");
            let update = TaskUpdate::failure(claim.job.task_id, 0, "unknown_task", "The task is unknown");
            ctx.bus.finish(&ctx.worker_id, claim, &update, true).await?;
            return Ok(Outcome::DeadLettered("unknown_task".into()));
        }
        Some(row) if row.state().is_terminal() => {
            // A re-run of a job whose outcome Postgres already holds (e.g. Redis lost the
            // terminal event): make sure the log ends with it, and let go.
            let update = serde_json::from_str(&row.snapshot_json()).unwrap_or_else(|_| row.to_update());
            log_terminal(ctx, claim, update, false).await?;
            return Ok(Outcome::AlreadyFinished);
        }
        Some(_) => {}
    }
    if claim.attempt > ctx.max_attempts {
        // Reaped too often (the job keeps killing its worker, or workers keep dying).
        let message = format!("Gave up after {} attempts", ctx.max_attempts);
        run.fail(0, "too_many_attempts", &message, true).await?;
        return Ok(Outcome::DeadLettered("too_many_attempts".into()));
    }
    match run.steps(first).await {
        Ok(outcome) => Ok(outcome),
        Err(Interrupt::Stopped(reason)) => {
            settle_stopped(ctx, claim, reason).await?;
            Ok(Outcome::Stopped(reason))
        }
        Err(Interrupt::Provider { step, error: ProviderError::Permanent { code, message } }) => {
            tracing::info!(code, %message, "task failed");
            run.fail(step, code, &message, false).await?;
            Ok(Outcome::Failed(code.to_owned()))
        }
        Err(Interrupt::Provider { step, error: ProviderError::Transient { message, retry_after } }) => {
            retry_or_give_up(&mut run, step, &message, retry_after).await
        }
        Err(Interrupt::Infra(error)) => {
            tracing::warn!(error = format!("{error:#}"), "infrastructure error; retrying the job");
            let step = run.step;
            retry_or_give_up(&mut run, step, "A temporary error occurred", None).await
        }
    }
}

async fn retry_or_give_up(
    run: &mut Run<'_>,
    step: u32,
    message: &str,
    retry_after: Option<Duration>,
) -> anyhow::Result<Outcome> {
    let ctx = run.ctx;
    let step = step.min(protocol::TOTAL_STEPS);
    if run.claim.attempt >= ctx.max_attempts {
        tracing::warn!(%message, "last attempt failed; dead-lettering");
        let text = format!("Gave up after {} attempts: {message}", ctx.max_attempts);
        run.fail(step, "temporarily_unavailable", &text, true).await?;
        return Ok(Outcome::DeadLettered("temporarily_unavailable".into()));
    }
    let delay = backoff(run.claim.attempt, ctx.backoff_base, ctx.backoff_max, retry_after);
    let details = format!(
        "Attempt {} of {} failed ({message}); retrying in {}s",
        run.claim.attempt,
        ctx.max_attempts,
        delay.as_secs_f64().ceil()
    );
    tracing::info!(?delay, %message, "transient failure; retry scheduled");
    let update = TaskUpdate::retrying(run.task(), step, details);
    if let Err(interrupt) = run.reserve_next().await {
        let reason = match interrupt {
            Interrupt::Stopped(reason) => reason,
            _ => Stop::Lost,
        };
        settle_stopped(ctx, run.claim, reason).await?;
        return Ok(Outcome::Stopped(reason));
    }
    match ctx.bus.retry_later(&ctx.worker_id, run.claim, &update, delay).await? {
        WriteOutcome::Cancelled => settle_stopped(ctx, run.claim, Stop::Cancelled).await?,
        WriteOutcome::Lost | WriteOutcome::AlreadyFinished => {
            settle_stopped(ctx, run.claim, Stop::Lost).await?
        }
        WriteOutcome::Logged { .. } => {}
    }
    Ok(Outcome::RetryScheduled(delay))
}

/// Logs a terminal event Postgres has accepted. Redis numbers it; when that is not the seq
/// Postgres recorded (Redis lost data and a restore moved the numbering on), Postgres learns the
/// real one, so its snapshot never falls behind what clients saw.
async fn log_terminal(
    ctx: &Context,
    claim: &Claim,
    mut update: TaskUpdate,
    dead: bool,
) -> anyhow::Result<()> {
    if let WriteOutcome::Logged { seq, .. } = ctx.bus.finish(&ctx.worker_id, claim, &update, dead).await?
        && seq != update.seq
    {
        tracing::warn!(recorded = update.seq, logged = seq, "terminal event renumbered by Redis");
        update.seq = seq;
        ctx.store.record_event(&update).await?;
    }
    Ok(())
}

async fn settle_stopped(ctx: &Context, claim: &Claim, reason: Stop) -> anyhow::Result<()> {
    tracing::info!(?reason, "job stopped");
    let id = claim.job.task_id.to_string();
    match reason {
        Stop::Shutdown => {
            ctx.bus.hand_back(&ctx.worker_id, claim).await?;
        }
        Stop::Cancelled | Stop::Lost => ctx.bus.drop_task(&ctx.worker_id, &id).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_jittered_and_honours_hints() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for attempt in 1..10 {
            let ceiling = (base * 2u32.pow(attempt - 1)).min(max);
            for _ in 0..50 {
                assert!(backoff(attempt, base, max, None) <= ceiling, "attempt {attempt}");
            }
        }
        assert!(backoff(1, base, max, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
        assert_eq!(backoff(1, base, max, Some(Duration::from_secs(3600))), max, "hints are capped too");
        let spread: std::collections::HashSet<_> = (0..50).map(|_| backoff(6, base, max, None)).collect();
        assert!(spread.len() > 10, "full jitter spreads retries: {spread:?}");
    }
}
