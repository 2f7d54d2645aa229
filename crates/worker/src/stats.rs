//! The worker's metrics: every series described once here, the helpers that record them, and
//! the fleet-wide queue gauges only the reporter exports.
//!
//! Everything is recorded with the `metrics` macros into the process's [`observe::Registry`]
//! and served on `/metrics` by [`crate::health`]. The names are part of the operations docs
//! (docs/operations.md, "Worker metrics"), the Grafana dashboard and the alert rules: keep them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use protocol::Step;
use tasks::QueueSizes;

/// Describes every worker series (help text and unit), so each scrape carries them; once per
/// process, however many workers a test builds.
pub(crate) fn describe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(describe_all);
}

fn describe_all() {
    describe_histogram!(
        "relay_queue_wait_seconds",
        Unit::Seconds,
        "Time a job waited in the queue before a worker claimed it: from its enqueue, or for a \
         retry from when it became due, or for a reaped job from when it was re-queued."
    );
    describe_histogram!(
        "relay_step_duration_seconds",
        Unit::Seconds,
        "Duration of each completed pipeline step (preparing, scraping, extracting, saving), by \
         the provider that ran it."
    );
    describe_histogram!(
        "relay_task_duration_seconds",
        Unit::Seconds,
        "Time from a task's submission to the outcome its worker wrote: success, failure or \
         cancelled."
    );
    describe_histogram!(
        "relay_attempt_duration_seconds",
        Unit::Seconds,
        "Duration of one attempt, from claim to how it ended (success, failure, retry, lost, \
         handed_back, cancelled, already_finished)."
    );
    describe_counter!("relay_attempts_total", "Attempts that ended, by how they ended.");
    describe_counter!("relay_retries_total", "Retries scheduled after a transient failure, by its kind.");
    describe_counter!(
        "relay_dead_letters_total",
        "Jobs dead-lettered, by the error code of the task's failure."
    );
    describe_gauge!("relay_jobs_in_flight", "Jobs this worker is running now.");
    describe_counter!(
        "relay_lease_losses_total",
        "Attempts that found their claim gone (lease reaped, job re-claimed elsewhere) and stopped."
    );
    describe_counter!(
        "relay_provider_calls_total",
        "Calls to an external provider, by provider and outcome (ok, permanent, transient)."
    );
    describe_counter!(
        "relay_provider_errors_total",
        "Failed provider calls, by provider and error code (a permanent failure's code, or transient)."
    );
    describe_histogram!(
        "relay_provider_call_duration_seconds",
        Unit::Seconds,
        "Duration of each provider call, by provider, whatever its outcome."
    );
    describe_histogram!(
        "relay_provider_call_cpu_seconds",
        Unit::Seconds,
        "CPU time of the worker thread while it polls each provider call, by provider: not other \
         jobs' while the call waits, nor the HTTP client's connection tasks or child processes."
    );
    describe_counter!("relay_apify_runs_total", "Apify actor runs started (each is billed), by actor.");
    describe_counter!(
        "relay_transcription_audio_seconds_total",
        "Seconds of audio the transcription API transcribed, each file rounded up to a whole second (billed per audio minute)."
    );
    describe_counter!(
        "relay_llm_tokens_total",
        "LLM tokens billed, from the usage of each completion, by model and kind (input, output)."
    );
    describe_gauge!(
        "relay_fleet_reporter",
        "1 on the one worker that holds the fleet reporter lease and exports the relay_queue_* and \
         relay_workers_alive gauges, 0 on the others."
    );
    // Present from the start at 0, so a rate() over them works before the first event.
    counter!("relay_lease_losses_total").absolute(0);
    gauge!("relay_jobs_in_flight").set(0.0);
    gauge!("relay_fleet_reporter").set(0.0);
}

/// The protocol step as a label.
fn step_label(step: Step) -> &'static str {
    match step {
        Step::Preparing => "preparing",
        Step::Scraping => "scraping",
        Step::Extracting => "extracting",
        Step::Saving => "saving",
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// Records a claim's queue wait; jobs queued by an older release carry no enqueue time.
pub(crate) fn claimed(enqueued_ms: Option<u64>) {
    if let Some(enqueued) = enqueued_ms {
        // Redis' clock and ours may differ a little: a negative wait is none.
        let waited = now_ms().saturating_sub(enqueued);
        histogram!("relay_queue_wait_seconds").record(Duration::from_millis(waited).as_secs_f64());
    }
}

/// Counts one running job; the count drops when the guard does.
pub(crate) struct InFlight;

impl InFlight {
    pub(crate) fn start() -> Self {
        gauge!("relay_jobs_in_flight").increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!("relay_jobs_in_flight").decrement(1.0);
    }
}

/// How an attempt ended, as the `outcome` label of the attempt series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptEnd {
    Success,
    Failure,
    Retry,
    Lost,
    HandedBack,
    Cancelled,
    AlreadyFinished,
    /// Redis or Postgres failed while settling: the lease expires and the job returns.
    Error,
}

impl AttemptEnd {
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Retry => "retry",
            Self::Lost => "lost",
            Self::HandedBack => "handed_back",
            Self::Cancelled => "cancelled",
            Self::AlreadyFinished => "already_finished",
            Self::Error => "error",
        }
    }
}

/// Records an attempt's end, claimed at `started`.
pub(crate) fn attempt_ended(end: AttemptEnd, started: Instant) {
    let outcome = end.label();
    counter!("relay_attempts_total", "outcome" => outcome).increment(1);
    histogram!("relay_attempt_duration_seconds", "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    if end == AttemptEnd::Lost {
        counter!("relay_lease_losses_total").increment(1);
    }
}

/// Records a retry scheduled after a failure of kind `code`.
pub(crate) fn retried(code: &'static str) {
    counter!("relay_retries_total", "code" => code).increment(1);
}

/// Records a dead-lettered job and the error code of its failure.
pub(crate) fn dead_lettered(code: &str) {
    counter!("relay_dead_letters_total", "code" => code.to_owned()).increment(1);
}

/// How a task ended, as the `outcome` label of `relay_task_duration_seconds`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TaskEnd {
    Success,
    Failure,
    Cancelled,
}

/// Records a task's duration from its submission to its outcome.
pub(crate) fn task_ended(end: TaskEnd, submitted: SystemTime) {
    let outcome = match end {
        TaskEnd::Success => "success",
        TaskEnd::Failure => "failure",
        TaskEnd::Cancelled => "cancelled",
    };
    let took = SystemTime::now().duration_since(submitted).unwrap_or_default();
    histogram!("relay_task_duration_seconds", "outcome" => outcome).record(took.as_secs_f64());
}

/// Times the steps of one attempt: a step's duration is recorded when the next one starts (or
/// the last one completes); a step cut short by a failure is not a step duration.
#[derive(Debug, Default)]
pub(crate) struct StepTimer {
    current: Option<(Step, &'static str, Instant)>,
}

impl StepTimer {
    /// The previous step completed; `step`, run by `provider`, starts now. A step reported
    /// again (the media pass reports on step 3 twice) keeps running.
    pub(crate) fn enter(&mut self, step: Step, provider: &'static str) {
        if self.current.is_some_and(|(running, _, _)| running == step) {
            return;
        }
        self.complete();
        self.current = Some((step, provider, Instant::now()));
    }

    /// The running step completed.
    pub(crate) fn complete(&mut self) {
        if let Some((step, provider, started)) = self.current.take() {
            histogram!("relay_step_duration_seconds", "step" => step_label(step), "provider" => provider)
                .record(started.elapsed().as_secs_f64());
        }
    }
}

/// Records one provider call and, when it failed, its error code.
pub(crate) fn provider_call(
    provider: &'static str,
    took: Duration,
    cpu: Duration,
    error: Option<&crate::providers::ProviderError>,
) {
    use crate::providers::ProviderError;
    let (outcome, code) = match error {
        None => ("ok", None),
        Some(ProviderError::Permanent { code, .. }) => ("permanent", Some(*code)),
        Some(ProviderError::Transient { .. }) => ("transient", Some("transient")),
    };
    counter!("relay_provider_calls_total", "provider" => provider, "outcome" => outcome).increment(1);
    histogram!("relay_provider_call_duration_seconds", "provider" => provider).record(took.as_secs_f64());
    histogram!("relay_provider_call_cpu_seconds", "provider" => provider).record(cpu.as_secs_f64());
    if let Some(code) = code {
        counter!("relay_provider_errors_total", "provider" => provider, "code" => code).increment(1);
    }
}

/// Records an Apify actor run started.
pub(crate) fn apify_run_started(actor: &str) {
    counter!("relay_apify_runs_total", "actor" => actor.to_owned()).increment(1);
}

/// Records audio sent to and transcribed by the transcription API.
pub(crate) fn audio_transcribed(seconds: f64) {
    // `metrics` counters are integers: whole seconds, rounded up as the APIs bill them.
    counter!("relay_transcription_audio_seconds_total").increment(seconds.max(0.0).ceil() as u64);
}

/// Records the tokens of one completion.
pub(crate) fn llm_tokens(model: &str, input: u64, output: u64) {
    counter!("relay_llm_tokens_total", "model" => model.to_owned(), "kind" => "input").increment(input);
    counter!("relay_llm_tokens_total", "model" => model.to_owned(), "kind" => "output").increment(output);
}

/// The fleet-wide queue gauges, exported only while this worker holds the reporter lease.
///
/// `metrics-exporter-prometheus` cannot remove a series, so a worker that lost the lease would
/// keep exporting its last value (and Prometheus would sum stale copies). These four gauges are
/// therefore not recorded there: [`FleetReport::render`] writes them into the scrape text, and
/// only while the last successful renewal of the lease is younger than the lease itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct FleetReport {
    latest: Arc<Mutex<Option<(QueueSizes, Instant)>>>,
}

/// The fleet gauges' names and help texts, in the order [`FleetReport::render`] writes them.
const FLEET_GAUGES: [(&str, &str); 4] = [
    ("relay_queue_depth", "Jobs waiting in the queue, fleet-wide (exported by the fleet reporter only)."),
    (
        "relay_queue_delayed",
        "Retries waiting until they are due, fleet-wide (exported by the fleet reporter only).",
    ),
    (
        "relay_queue_dead_letters",
        "Jobs in the dead-letter list, fleet-wide (exported by the fleet reporter only).",
    ),
    (
        "relay_workers_alive",
        "Workers that heart-beat within one lease period (exported by the fleet reporter only).",
    ),
];

impl FleetReport {
    /// This worker holds the lease until `until` and read `sizes`.
    pub(crate) fn holding(&self, sizes: QueueSizes, until: Instant) {
        *self.lock() = Some((sizes, until));
        gauge!("relay_fleet_reporter").set(1.0);
    }

    /// This worker does not hold the lease (or could not renew it or read the sizes).
    pub(crate) fn not_holding(&self) {
        *self.lock() = None;
        gauge!("relay_fleet_reporter").set(0.0);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(QueueSizes, Instant)>> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fleet gauges in the Prometheus text format, or nothing when this worker is not the
    /// reporter or its lease may have passed to another worker.
    pub(crate) fn render(&self, now: Instant) -> String {
        let Some((sizes, until)) = *self.lock() else { return String::new() };
        if now >= until {
            return String::new();
        }
        let mut text = String::new();
        let values = [sizes.queued, sizes.delayed, sizes.dead, sizes.workers_alive];
        for ((name, help), value) in FLEET_GAUGES.into_iter().zip(values) {
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_gauges_render_only_while_the_lease_holds() {
        let report = FleetReport::default();
        let now = Instant::now();
        assert_eq!(report.render(now), "", "not the reporter");

        report.holding(
            QueueSizes { queued: 3, delayed: 2, dead: 1, workers_alive: 4 },
            now + Duration::from_secs(3),
        );

        let text = report.render(now);
        assert!(text.contains("# TYPE relay_queue_depth gauge\nrelay_queue_depth 3\n"), "{text}");
        assert!(text.contains("relay_queue_delayed 2\n"), "{text}");
        assert!(text.contains("relay_queue_dead_letters 1\n"), "{text}");
        assert!(text.contains("relay_workers_alive 4\n"), "{text}");
        assert_eq!(report.render(now + Duration::from_secs(3)), "", "a lapsed lease exports nothing");
        report.not_holding();
        assert_eq!(report.render(now), "", "a lost lease exports nothing");
    }
}
