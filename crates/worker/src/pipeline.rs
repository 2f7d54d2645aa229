//! One job, start to finish: the five steps, their events, and what each failure means.

mod cascade;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use protocol::{Backoff, Step, TaskUpdate};
use tasks::{Attempt, Claim, Start, Tasks, Written};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::providers::{ProviderError, Providers, RunKind, RunMemo};
use crate::stats::{self, TaskEnd};
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
    pub(crate) tasks: Tasks,
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

/// The task's remembered Apify runs and the media cache.
struct TaskMemo<'a>(&'a Tasks);

fn run_kind(kind: RunKind) -> tasks::RunKind {
    match kind {
        RunKind::Text => tasks::RunKind::Text,
        RunKind::Video => tasks::RunKind::Video,
    }
}

#[async_trait::async_trait]
impl RunMemo for TaskMemo<'_> {
    async fn get(&self, task: protocol::TaskId, kind: RunKind) -> Option<String> {
        self.0.run(task, run_kind(kind)).await.ok().flatten()
    }

    async fn set(&self, task: protocol::TaskId, kind: RunKind, run_id: &str) {
        if let Err(e) = self.0.remember_run(task, run_kind(kind), run_id).await {
            tracing::warn!(%task, error = %e, "could not remember the Apify run; a retry may start a new one");
        }
    }
}

#[async_trait::async_trait]
impl MediaCache for TaskMemo<'_> {
    async fn get(&self, video_id: &str) -> Option<Vec<u8>> {
        self.0.cached_media(video_id).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the media cache");
            None
        })
    }

    async fn put(&self, video_id: &str, value: &[u8], ttl: Duration) {
        if let Err(e) = self.0.cache_media(video_id, value, ttl).await {
            tracing::warn!(error = %e, "could not store the media read; a retry reads the video again");
        }
    }
}

/// The retry delay after a job's `attempt`-th attempt failed ([`Backoff`] from its place in the
/// schedule), never shorter than the provider's own hint.
pub(crate) fn backoff(attempt: u32, base: Duration, max: Duration, hint: Option<Duration>) -> Duration {
    let jittered = Backoff::new(base, max).after(attempt.saturating_sub(1)).next_delay();
    jittered.max(hint.unwrap_or_default().min(max))
}

struct Run<'a> {
    ctx: &'a Context,
    attempt: &'a Attempt,
    stop: &'a StopSignal,
    step: u32,
    /// Times the steps for `relay_step_duration_seconds`.
    timer: stats::StepTimer,
    /// Steps 2 and 3 reuse a recipe extracted earlier: no provider runs them.
    reused: bool,
    /// The current step's span (a child of the attempt's): replaced, and so ended, when the
    /// next step begins, so its length is the step's.
    step_span: tracing::Span,
}

impl Run<'_> {
    fn task(&self) -> protocol::TaskId {
        self.attempt.task()
    }

    fn written(&self, written: Written) -> Result<(), Interrupt> {
        match written {
            Written::Logged(_) => Ok(()),
            Written::Cancelled => Err(Interrupt::Stopped(Stop::Cancelled)),
            Written::Lost => Err(Interrupt::Stopped(Stop::Lost)),
        }
    }

    async fn step(&mut self, step: Step, details: Option<String>) -> Result<(), Interrupt> {
        if let Some(reason) = self.stop.reason() {
            return Err(Interrupt::Stopped(reason));
        }
        self.begin_step(step);
        let written = self.attempt.progress(TaskUpdate::progress(self.task(), step, details)).await;
        self.written(written.map_err(anyhow::Error::from)?)
    }

    /// The `provider` label of a step's duration.
    fn provider_of(&self, step: Step) -> &'static str {
        match step {
            Step::Scraping | Step::Extracting if self.reused => "cache",
            Step::Scraping => self.ctx.providers.scraper.provider(),
            Step::Extracting => self.ctx.providers.extractor.provider(),
            Step::Preparing | Step::Saving => "store",
        }
    }

    /// Opens `step`'s span (ending the previous step's), logs the step in it and starts its
    /// timer. The step lines are `debug`: at `info` a job writes two lines (started, and how
    /// it ended), as each line costs the worker a JSON encoding of the job's spans and a wake-up
    /// of the log writer.
    fn begin_step(&mut self, step: Step) {
        self.step = step.number();
        self.step_span = tracing::info_span!("step", step = step.number(), name = step.text());
        self.step_span.in_scope(|| tracing::debug!(step = step.number(), "{}", step.text()));
        self.timer.enter(step, self.provider_of(step));
    }

    /// Runs a provider call in a span under the current step's, aborting it as soon as the job
    /// is told to stop.
    async fn call<T>(
        &self,
        step: Step,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, Interrupt> {
        let span = tracing::info_span!(parent: &self.step_span, "provider_call", step = step.number());
        async {
            tokio::select! {
                result = call => result.map_err(|error| Interrupt::Provider { step: step.number(), error }),
                () = self.stop.token.cancelled() => {
                    Err(Interrupt::Stopped(self.stop.reason().unwrap_or(Stop::Shutdown)))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Runs the steps, from the attempt's first event (Preparing) to the saved recipe.
    async fn steps(&mut self) -> Result<Outcome, Interrupt> {
        let ctx = self.ctx;
        let job = self.attempt.job();
        if let Some(reason) = self.stop.reason() {
            return Err(Interrupt::Stopped(reason));
        }
        tracing::info!("job started");
        self.begin_step(Step::Preparing);
        self.written(self.attempt.begin().await.map_err(anyhow::Error::from)?)?;
        let cached = if ctx.cache_freshness.is_zero() {
            None
        } else {
            ctx.tasks
                .cached_recipe(&job.url, &job.language, ctx.cache_freshness)
                .await
                .map_err(anyhow::Error::from)?
        };
        // What the recipe was read from, for the `recipe saved` line: (inputs, scraper runs,
        // transcribed, frames); none for a reused recipe.
        let (recipe, inputs, read) = match cached {
            Some(recipe) => {
                self.reused = true;
                let reused = "Reusing the recipe extracted earlier from this video".to_owned();
                self.step(Step::Scraping, Some(reused.clone())).await?;
                self.step(Step::Extracting, Some(reused)).await?;
                (recipe, None, None)
            }
            None => {
                // Boxed: the cascade's future (two scrapes, the media pass, two extractions) is
                // too large to sit on a 2 MiB worker-thread stack in debug builds.
                let found = Box::pin(self.find_recipe()).await?;
                let read = (
                    found.video.inputs_used().join(","),
                    found.scraper_runs,
                    found.transcribed,
                    found.video.frames.len(),
                );
                let details = found.details();
                (found.recipe, Some(details), Some(read))
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
        let mut completion =
            TaskUpdate::completion(job.task_id, protocol::RecipeId::new(), recipe.title.clone());
        completion.details = inputs;
        let saved = self.attempt.succeed(&recipe, completion).await.map_err(anyhow::Error::from)?;
        let Some(recipe_id) = saved else {
            // Postgres says the claim is void: cancelled, or re-claimed after our lease expired.
            return Ok(Outcome::Stopped(Stop::Lost));
        };
        match read {
            Some((inputs, scraper_runs, transcribed, frames)) => tracing::info!(
                %recipe_id,
                title = %recipe.title,
                inputs,
                scraper_runs,
                transcribed,
                frames,
                "recipe saved"
            ),
            None => tracing::info!(%recipe_id, title = %recipe.title, reused = true, "recipe saved"),
        }
        self.timer.complete();
        stats::task_ended(TaskEnd::Success, self.attempt.submitted_at());
        Ok(Outcome::Succeeded)
    }

    /// Ends the task in FAILURE (Postgres arbitrates, then the terminal event).
    async fn fail(&self, step: u32, code: &str, message: &str, dead: bool) -> anyhow::Result<()> {
        self.attempt.fail(TaskUpdate::failure(self.task(), step, code, message), dead).await?;
        stats::task_ended(TaskEnd::Failure, self.attempt.submitted_at());
        Ok(())
    }
}

/// The details of an attempt's first event (Preparing).
pub(crate) fn attempt_details(attempt: u32, max_attempts: u32) -> String {
    format!("Attempt {attempt} of {max_attempts}")
}

/// Runs one claimed job to its end (or until told to stop) and settles it, in the attempt's
/// span (`runtime::attempt_span`).
pub(crate) async fn run_job(ctx: &Context, claim: Claim, stop: &StopSignal) -> anyhow::Result<Outcome> {
    let details = attempt_details(claim.attempt, ctx.max_attempts);
    let attempt = match ctx.tasks.start(ctx.worker_id.clone(), claim, Some(details)).await? {
        Start::Running(attempt) => *attempt,
        Start::AlreadyFinished => return Ok(Outcome::AlreadyFinished),
        Start::Unknown => return Ok(Outcome::DeadLettered("unknown_task".into())),
    };
    let mut run = Run {
        ctx,
        attempt: &attempt,
        stop,
        step: 0,
        timer: stats::StepTimer::default(),
        reused: false,
        step_span: tracing::Span::none(),
    };
    if attempt.claim().attempt > ctx.max_attempts {
        // Reaped too often (the job keeps killing its worker, or workers keep dying).
        let message = format!("Gave up after {}", attempts(ctx.max_attempts));
        run.fail(0, "too_many_attempts", &message, true).await?;
        return Ok(Outcome::DeadLettered("too_many_attempts".into()));
    }
    match run.steps().await {
        Ok(outcome) => Ok(outcome),
        Err(Interrupt::Stopped(reason)) => {
            settle_stopped(&attempt, reason).await?;
            Ok(Outcome::Stopped(reason))
        }
        Err(Interrupt::Provider { step, error: ProviderError::Permanent { code, message } }) => {
            tracing::info!(code, %message, "task failed");
            run.fail(step, code, &message, false).await?;
            Ok(Outcome::Failed(code.to_owned()))
        }
        Err(Interrupt::Provider { step, error: ProviderError::Transient { message, retry_after } }) => {
            retry_or_give_up(&mut run, step, "provider", &message, retry_after).await
        }
        Err(Interrupt::Infra(error)) => {
            tracing::warn!(error = format!("{error:#}"), "infrastructure error; retrying the job");
            let step = run.step;
            retry_or_give_up(&mut run, step, "infrastructure", "A temporary error occurred", None).await
        }
    }
}

/// `kind` says what failed, for `relay_retries_total{code}`: `provider` or `infrastructure`.
async fn retry_or_give_up(
    run: &mut Run<'_>,
    step: u32,
    kind: &'static str,
    message: &str,
    retry_after: Option<Duration>,
) -> anyhow::Result<Outcome> {
    let ctx = run.ctx;
    let step = step.min(protocol::TOTAL_STEPS);
    let attempt = run.attempt.claim().attempt;
    if attempt >= ctx.max_attempts {
        tracing::warn!(%message, "last attempt failed; dead-lettering");
        let text = format!("Gave up after {}: {message}", attempts(ctx.max_attempts));
        run.fail(step, "temporarily_unavailable", &text, true).await?;
        return Ok(Outcome::DeadLettered("temporarily_unavailable".into()));
    }
    let delay = backoff(attempt, ctx.backoff_base, ctx.backoff_max, retry_after);
    let details = format!(
        "Attempt {attempt} of {} failed ({message}); retrying in {}s",
        ctx.max_attempts,
        delay.as_secs_f64().ceil()
    );
    tracing::info!(?delay, %message, "transient failure; retry scheduled");
    match run.attempt.retry(TaskUpdate::retrying(run.task(), step, details), delay).await? {
        Written::Logged(_) => {
            stats::retried(kind);
            Ok(Outcome::RetryScheduled(delay))
        }
        Written::Cancelled => {
            stats::task_ended(TaskEnd::Cancelled, run.attempt.submitted_at());
            Ok(Outcome::Stopped(Stop::Cancelled))
        }
        Written::Lost => Ok(Outcome::Stopped(Stop::Lost)),
    }
}

async fn settle_stopped(attempt: &Attempt, reason: Stop) -> anyhow::Result<()> {
    tracing::info!(?reason, "job stopped");
    match reason {
        Stop::Shutdown => {
            attempt.hand_back().await?;
        }
        Stop::Cancelled => {
            attempt.abandon().await?;
            stats::task_ended(TaskEnd::Cancelled, attempt.submitted_at());
        }
        Stop::Lost => attempt.abandon().await?,
    }
    Ok(())
}

/// "1 attempt", "3 attempts": the count in the text the app shows.
fn attempts(n: u32) -> String {
    if n == 1 { "1 attempt".to_owned() } else { format!("{n} attempts") }
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

    #[test]
    fn the_attempt_count_reads_as_english() {
        assert_eq!(attempts(1), "1 attempt");
        assert_eq!(attempts(3), "3 attempts");
    }
}
