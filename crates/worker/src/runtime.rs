//! The worker process: claims jobs up to its concurrency, heart-beats its leases, reaps other
//! workers' expired leases, restores jobs Redis lost, reports the fleet's queue sizes while it
//! holds the reporter lease, serves its metrics and health port, and drains on shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use protocol::{Backoff, TaskId};
use settings::{Settings, telemetry};
use tasks::{Claim, FeedItem, Tasks};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::health::{Clock, HealthState, Liveness};
use crate::pipeline::{self, Context, Outcome, Stop, StopSignal};
use crate::providers::Providers;
use crate::stats::{self, AttemptEnd, FleetReport};

/// How long a claim blocks on an empty queue before checking for shutdown again.
const CLAIM_BLOCK: Duration = Duration::from_secs(1);
/// How often the reaper and the delayed-retry promoter run.
const MAINTAIN_EVERY: Duration = Duration::from_secs(1);
/// The fleet reporter lease: renewed on every maintenance pass, so a reporter that dies or hangs
/// is replaced within this long.
const REPORTER_LEASE: Duration = Duration::from_secs(5);
/// `/healthz` fails after this many heartbeat intervals without a beat.
const SILENT_BEATS: u32 = 3;

/// The worker's tuning, from [`settings::WorkerSettings`].
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs at once.
    pub concurrency: usize,
    /// Lease length.
    pub lease: Duration,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Attempts before dead-lettering.
    pub max_attempts: u32,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Drain time on shutdown.
    pub shutdown_grace: Duration,
    /// Recipe cache freshness.
    pub cache_freshness: Duration,
}

impl WorkerConfig {
    /// The worker section of the settings.
    pub fn from_settings(settings: &settings::WorkerSettings) -> Self {
        Self {
            concurrency: settings.concurrency,
            lease: Duration::from_secs(settings.lease_secs),
            heartbeat: Duration::from_secs(settings.heartbeat_secs),
            max_attempts: settings.max_attempts,
            backoff_base: Duration::from_millis(settings.backoff_base_ms),
            backoff_max: Duration::from_millis(settings.backoff_max_ms),
            shutdown_grace: Duration::from_secs(settings.shutdown_grace_secs),
            cache_freshness: Duration::from_secs(settings.cache_freshness_hours * 3600),
        }
    }
}

type Running = Arc<Mutex<HashMap<TaskId, (Uuid, StopSignal)>>>;

/// A worker process, ready to run.
pub struct Worker {
    ctx: Context,
    config: WorkerConfig,
    running: Running,
    liveness: Liveness,
    fleet: FleetReport,
    registry: observe::Registry,
    /// The metrics and health port, once [`Worker::listen`] bound it.
    listener: Option<tokio::net::TcpListener>,
}

impl Worker {
    /// Connects to Redis and Postgres (running migrations), picks the providers and binds the
    /// metrics and health port (`worker.metrics_addr`).
    ///
    /// # Errors
    /// When Postgres cannot be reached or migrated, a provider is misconfigured, or the port
    /// cannot be bound.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let addr = settings.worker.metrics_addr()?;
        let tasks = Tasks::connect(&tasks::Config::from_settings(settings)).await?;
        let providers = crate::wiring::providers(settings)?;
        Self::new(tasks, providers, WorkerConfig::from_settings(&settings.worker)).listen(addr).await
    }

    /// A worker over existing connections (tests pick their own providers).
    pub fn new(tasks: Tasks, providers: Providers, config: WorkerConfig) -> Self {
        let worker_id = format!("{}-{}", std::process::id(), &Uuid::new_v4().simple().to_string()[..8]);
        let ctx = Context {
            worker_id: worker_id.into(),
            tasks,
            providers,
            max_attempts: config.max_attempts,
            backoff_base: config.backoff_base,
            backoff_max: config.backoff_max,
            cache_freshness: config.cache_freshness,
        };
        let registry = observe::Registry::install("worker");
        stats::describe();
        let clock: Clock = Arc::new(Instant::now);
        let liveness = Liveness::new(config.heartbeat * SILENT_BEATS, clock);
        Self {
            ctx,
            config,
            running: Running::default(),
            liveness,
            fleet: FleetReport::default(),
            registry,
            listener: None,
        }
    }

    /// Binds the metrics and health port (port 0 picks a free one, see [`Worker::health_port`]).
    ///
    /// # Errors
    /// When the address cannot be bound; the message names `RELAY__WORKER__METRICS_ADDR`.
    pub async fn listen(mut self, addr: SocketAddr) -> anyhow::Result<Self> {
        let variable = settings::variable_for("worker.metrics_addr");
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {variable}={addr}"))?;
        self.listener = Some(listener);
        Ok(self)
    }

    /// The port `/metrics`, `/healthz` and `/readyz` are served on, once bound.
    pub fn health_port(&self) -> Option<u16> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port())
    }

    /// Reads liveness time from `clock` instead of the system's (tests drive it).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.liveness = Liveness::new(self.config.heartbeat * SILENT_BEATS, clock);
        self
    }

    /// What `/healthz` reads: when the heartbeat loop last beat.
    pub fn liveness(&self) -> Liveness {
        self.liveness.clone()
    }

    /// This worker's id in Redis.
    pub fn id(&self) -> &str {
        &self.ctx.worker_id
    }

    /// Runs until `shutdown` fires, then stops claiming, lets in-flight jobs finish within the
    /// grace period, hands the rest back to the queue and returns.
    ///
    /// # Errors
    /// Only for failures that make the worker unusable; Redis outages are waited out.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let background = CancellationToken::new();
        let helpers = TaskTracker::new();
        let metrics_port = self.health_port();
        if let Some(listener) = self.listener {
            let state = HealthState {
                tasks: self.ctx.tasks.clone(),
                liveness: self.liveness.clone(),
                draining: shutdown.clone(),
                registry: self.registry.clone(),
                fleet: self.fleet.clone(),
            };
            helpers.spawn(crate::health::serve(listener, state, background.clone()));
        }
        helpers.spawn(heartbeat(
            self.ctx.clone(),
            self.config.clone(),
            self.running.clone(),
            self.liveness.clone(),
            background.clone(),
        ));
        helpers.spawn(maintain(self.ctx.clone(), self.config.lease, self.fleet.clone(), background.clone()));
        helpers.spawn(reconcile(self.ctx.clone(), self.config.lease, background.clone()));
        helpers.spawn(watch_cancels(self.ctx.tasks.clone(), self.running.clone(), background.clone()));
        tracing::info!(
            worker = %self.ctx.worker_id,
            concurrency = self.config.concurrency,
            metrics_port,
            "worker started"
        );

        let jobs = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let mut redis_backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        // A job's first claim logs its Preparing event itself: one round trip fewer per job.
        let first_details = pipeline::attempt_details(1, self.config.max_attempts);
        loop {
            let permit = tokio::select! {
                () = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => permit?,
            };
            let claim = tokio::select! {
                () = shutdown.cancelled() => break,
                claim = self.ctx.tasks.claim_starting(&self.ctx.worker_id, CLAIM_BLOCK, self.config.lease, &first_details) => claim,
            };
            let claim = match claim {
                Ok(Some(claim)) => claim,
                Ok(None) => continue,
                Err(e) => {
                    let delay = redis_backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "claim failed");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                    continue;
                }
            };
            redis_backoff.reset();
            stats::claimed(claim.job.enqueued_ms);
            let signal = StopSignal::default();
            lock(&self.running).insert(claim.job.task_id, (claim.token, signal.clone()));
            let (ctx, running) = (self.ctx.clone(), self.running.clone());
            jobs.spawn(async move {
                let task = claim.job.task_id;
                let _in_flight = stats::InFlight::start();
                run_one(&ctx, claim, &signal).await;
                lock(&running).remove(&task);
                drop(permit);
            });
        }

        tracing::info!(in_flight = jobs.len(), grace = ?self.config.shutdown_grace, "draining");
        jobs.close();
        if tokio::time::timeout(self.config.shutdown_grace, jobs.wait()).await.is_err() {
            let left: Vec<StopSignal> = lock(&self.running).values().map(|(_, s)| s.clone()).collect();
            tracing::warn!(jobs = left.len(), "grace period over; handing jobs back");
            for signal in left {
                signal.stop(Stop::Shutdown);
            }
            jobs.wait().await;
        }
        background.cancel();
        helpers.close();
        helpers.wait().await;
        self.fleet.not_holding();
        if let Err(e) = self.ctx.tasks.step_down_reporter(&self.ctx.worker_id).await {
            tracing::debug!(error = %e, "could not give up the fleet reporter lease; it lapses by itself");
        }
        // Anything still in our processing list (a claim interrupted by shutdown, a job whose
        // settling failed) goes back to the queue now rather than when the reaper notices.
        match self.ctx.tasks.release(&self.ctx.worker_id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "returned unstarted jobs to the queue"),
            Err(e) => tracing::warn!(error = %e, "could not release jobs; the reaper will return them"),
        }
        tracing::info!("worker stopped");
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent: recover it.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn run_one(ctx: &Context, claim: Claim, signal: &StopSignal) {
    let span = attempt_span(&claim);
    let started = Instant::now();
    async move {
        match pipeline::run_job(ctx, claim, signal).await {
            Ok(outcome) => {
                tracing::debug!(?outcome, "job settled");
                let end = match &outcome {
                    Outcome::Succeeded => AttemptEnd::Success,
                    Outcome::Failed(_) => AttemptEnd::Failure,
                    Outcome::DeadLettered(code) => {
                        stats::dead_lettered(code);
                        AttemptEnd::Failure
                    }
                    Outcome::RetryScheduled(_) => AttemptEnd::Retry,
                    Outcome::Stopped(Stop::Lost) => AttemptEnd::Lost,
                    Outcome::Stopped(Stop::Shutdown) => AttemptEnd::HandedBack,
                    Outcome::Stopped(Stop::Cancelled) => AttemptEnd::Cancelled,
                    Outcome::AlreadyFinished => AttemptEnd::AlreadyFinished,
                };
                stats::attempt_ended(end, started);
            }
            Err(e) => {
                // Redis or Postgres failed while settling: the lease will expire and the reaper
                // re-queues the job; Postgres arbitrates whatever happened meanwhile.
                tracing::error!(error = format!("{e:#}"), "could not settle job");
                stats::attempt_ended(AttemptEnd::Error, started);
            }
        }
    }
    .instrument(span)
    .await;
}

/// The span of one attempt at a job. A child of the submitting request's span when the job
/// carries its `traceparent`, so the task, from the app's tap to the saved recipe, is one trace;
/// its fields put the task, the request id and the trace id on every log line of the attempt.
fn attempt_span(claim: &Claim) -> tracing::Span {
    let origin = &claim.job.origin;
    let span = tracing::info_span!(
        "job",
        task_id = %claim.job.task_id,
        attempt = claim.attempt,
        request_id = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    if let Some(parent) = &origin.traceparent {
        telemetry::continue_trace(&span, parent);
    }
    if let Some(request_id) = &origin.request_id {
        span.record("request_id", tracing::field::display(request_id));
    }
    // A job without a trace (queued before traces were kept, or restored from Postgres) starts
    // its own when export is on.
    let trace_id = origin
        .traceparent
        .map(|t| t.trace_id)
        .or_else(|| telemetry::traceparent_of(&span).map(|t| t.trace_id));
    if let Some(trace_id) = trace_id {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}

async fn heartbeat(
    ctx: Context,
    config: WorkerConfig,
    running: Running,
    liveness: Liveness,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(config.heartbeat);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        // The loop runs: that is what liveness asks (a Redis outage is readiness' concern).
        liveness.beat();
        let claims: Vec<(TaskId, Uuid)> =
            lock(&running).iter().map(|(id, (token, _))| (*id, *token)).collect();
        match ctx.tasks.heartbeat(&ctx.worker_id, &claims, config.lease).await {
            Ok(lost) => {
                for id in lost {
                    tracing::warn!(task_id = %id, "lease lost; abandoning the job");
                    if let Some((_, signal)) = lock(&running).get(&id) {
                        signal.stop(Stop::Lost);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
        }
    }
}

async fn maintain(ctx: Context, lease: Duration, fleet: FleetReport, stop: CancellationToken) {
    let mut tick = tokio::time::interval(MAINTAIN_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match ctx.tasks.maintain(lease).await {
            Ok(pass) if pass != tasks::Maintenance::default() => tracing::info!(?pass, "re-queued jobs"),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "maintenance pass failed"),
        }
        report_fleet(&ctx, lease, &fleet).await;
    }
}

/// Renews (or takes) the fleet reporter lease and, while held, reads the queue sizes for
/// `/metrics`. Whatever fails, this worker stops exporting them: better no series for a few
/// seconds than two workers' copies summed.
async fn report_fleet(ctx: &Context, lease: Duration, fleet: &FleetReport) {
    // The lease runs from before the request, so ours ends before Redis lets another take it.
    let asked = Instant::now();
    match ctx.tasks.hold_reporter(&ctx.worker_id, REPORTER_LEASE).await {
        Ok(true) => match ctx.tasks.queue_sizes(lease).await {
            Ok(sizes) => fleet.holding(sizes, asked + REPORTER_LEASE),
            Err(e) => {
                tracing::debug!(error = %e, "could not read the queue sizes");
                fleet.not_holding();
            }
        },
        Ok(false) => fleet.not_holding(),
        Err(e) => {
            tracing::debug!(error = %e, "could not renew the fleet reporter lease");
            fleet.not_holding();
        }
    }
}

/// Postgres knows every unfinished task; a job Redis no longer has (restart without
/// persistence, flush) is re-created so no task hangs. Runs once per lease period: a task is only
/// a candidate after two lease periods without news, so this finds it within three.
async fn reconcile(ctx: Context, lease: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(lease);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = ctx.tasks.restore_lost(lease * 2).await {
            tracing::debug!(error = format!("{e:#}"), "reconcile pass failed");
        }
    }
}

async fn watch_cancels(tasks: Tasks, running: Running, stop: CancellationToken) {
    let Ok(mut feed) = tasks.cancellations() else { return };
    loop {
        let item = tokio::select! {
            () = stop.cancelled() => return,
            item = feed.next() => item,
        };
        if let FeedItem::Cancelled(id) = item
            && let Some((_, signal)) = lock(&running).get(&id)
        {
            tracing::info!(task_id = %id, "cancelled by its owner; aborting");
            signal.stop(Stop::Cancelled);
        }
    }
}
