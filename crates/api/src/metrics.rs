//! Prometheus metrics of the gateway: plain atomics rendered as text exposition format 0.0.4.
//!
//! Counters are per process. `relay_tasks_finished_total` counts the terminal events this
//! gateway saw on the shared event feed: every gateway sees every event, so aggregate it across
//! instances with `max`, not `sum`. Step durations are measured by the worker, not here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use protocol::TaskState;

/// The gateway's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    submitted: AtomicU64,
    joined: AtomicU64,
    replayed: AtomicU64,
    rejected: AtomicU64,
    rate_limited: AtomicU64,
    cancel_requests: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    open_sockets: AtomicI64,
    events_delivered: AtomicU64,
    slow_readers: AtomicU64,
    feed_resyncs: AtomicU64,
    socket_closes: Mutex<BTreeMap<u16, u64>>,
    responses: [AtomicU64; 5],
}

/// A copy of the counters (tests and rendering).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// New tasks accepted.
    pub submitted: u64,
    /// Submissions answered with the user's running task for the same video.
    pub joined: u64,
    /// Submissions answered from an `Idempotency-Key`.
    pub replayed: u64,
    /// Terminal SUCCESS events seen.
    pub succeeded: u64,
    /// Terminal FAILURE events seen (not cancellations).
    pub failed: u64,
    /// Cancellations seen.
    pub cancelled: u64,
    /// Sockets open now.
    pub open_sockets: i64,
    /// Messages written to sockets.
    pub events_delivered: u64,
    /// Sockets closed for not reading fast enough.
    pub slow_readers: u64,
}

/// How a submission was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// A new task.
    Created,
    /// The user's running task for the same video and language.
    Joined,
    /// The task of an earlier request with the same `Idempotency-Key`.
    Replayed,
    /// Refused (4xx other than 429).
    Rejected,
    /// Refused with 429.
    RateLimited,
}

fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a submission's outcome.
    pub fn submission(&self, outcome: Submission) {
        inc(match outcome {
            Submission::Created => &self.submitted,
            Submission::Joined => &self.joined,
            Submission::Replayed => &self.replayed,
            Submission::Rejected => &self.rejected,
            Submission::RateLimited => &self.rate_limited,
        });
    }

    /// Counts an accepted `DELETE /task/{id}`.
    pub fn cancel_request(&self) {
        inc(&self.cancel_requests);
    }

    /// Counts a terminal event seen on the feed (non-terminal states are ignored).
    pub fn task_finished(&self, state: TaskState, error: Option<&str>) {
        match (state, error) {
            (TaskState::Success, _) => inc(&self.succeeded),
            (TaskState::Failure, Some("cancelled")) => inc(&self.cancelled),
            (TaskState::Failure, _) => inc(&self.failed),
            _ => {}
        }
    }

    /// A socket opened.
    pub fn socket_opened(&self) {
        self.open_sockets.fetch_add(1, Ordering::Relaxed);
    }

    /// A socket closed, with the close code the server sent (0 when the peer went away first).
    pub fn socket_closed(&self, code: u16) {
        self.open_sockets.fetch_sub(1, Ordering::Relaxed);
        let mut closes = self.socket_closes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *closes.entry(code).or_default() += 1;
    }

    /// A message was written to a socket.
    pub fn delivered(&self) {
        inc(&self.events_delivered);
    }

    /// A socket's queue overflowed.
    pub fn slow_reader(&self) {
        inc(&self.slow_readers);
    }

    /// The event feed reconnected.
    pub fn feed_resynced(&self) {
        inc(&self.feed_resyncs);
    }

    /// Counts a response by status class.
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        inc(&self.responses[class]);
    }

    /// The current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            submitted: get(&self.submitted),
            joined: get(&self.joined),
            replayed: get(&self.replayed),
            succeeded: get(&self.succeeded),
            failed: get(&self.failed),
            cancelled: get(&self.cancelled),
            open_sockets: self.open_sockets.load(Ordering::Relaxed),
            events_delivered: get(&self.events_delivered),
            slow_readers: get(&self.slow_readers),
        }
    }

    /// The Prometheus text exposition. `queue_depth` is `None` when Redis did not answer.
    pub fn render(&self, queue_depth: Option<u64>, watched_tasks: usize) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "relay_submissions_total",
            "counter",
            "POST /scrape/async answers by outcome.",
            &[
                ("{outcome=\"created\"}", get(&self.submitted).to_string()),
                ("{outcome=\"joined\"}", get(&self.joined).to_string()),
                ("{outcome=\"replayed\"}", get(&self.replayed).to_string()),
                ("{outcome=\"rejected\"}", get(&self.rejected).to_string()),
                ("{outcome=\"rate_limited\"}", get(&self.rate_limited).to_string()),
            ],
        );
        family(
            "relay_tasks_finished_total",
            "counter",
            "Terminal task events seen on the event feed (every gateway sees all: aggregate with max).",
            &[
                ("{outcome=\"success\"}", get(&self.succeeded).to_string()),
                ("{outcome=\"failure\"}", get(&self.failed).to_string()),
                ("{outcome=\"cancelled\"}", get(&self.cancelled).to_string()),
            ],
        );
        family(
            "relay_cancel_requests_total",
            "counter",
            "Accepted DELETE /task/{id} requests.",
            &[("", get(&self.cancel_requests).to_string())],
        );
        family(
            "relay_ws_open_sockets",
            "gauge",
            "Task sockets open on this gateway.",
            &[("", self.open_sockets.load(Ordering::Relaxed).to_string())],
        );
        family(
            "relay_ws_events_delivered_total",
            "counter",
            "Messages written to task sockets.",
            &[("", get(&self.events_delivered).to_string())],
        );
        family(
            "relay_ws_slow_reader_closes_total",
            "counter",
            "Sockets dropped because their queue overflowed.",
            &[("", get(&self.slow_readers).to_string())],
        );
        let closes: Vec<(String, String)> = self
            .socket_closes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(code, n)| (format!("{{code=\"{code}\"}}"), n.to_string()))
            .collect();
        let closes: Vec<(&str, String)> = closes.iter().map(|(l, v)| (l.as_str(), v.clone())).collect();
        family(
            "relay_ws_closes_total",
            "counter",
            "Task sockets closed, by the close code the server sent (0: the peer left first).",
            &closes,
        );
        family(
            "relay_event_feed_resyncs_total",
            "counter",
            "Reconnects of this gateway's Redis pub/sub subscription.",
            &[("", get(&self.feed_resyncs).to_string())],
        );
        family(
            "relay_watched_tasks",
            "gauge",
            "Tasks with a socket or long-poll on this gateway.",
            &[("", watched_tasks.to_string())],
        );
        if let Some(depth) = queue_depth {
            family("relay_queue_depth", "gauge", "Jobs waiting in the queue.", &[("", depth.to_string())]);
        }
        let classes: Vec<(String, String)> = self
            .responses
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{{class=\"{}xx\"}}", i + 1), get(c).to_string()))
            .collect();
        let classes: Vec<(&str, String)> = classes.iter().map(|(l, v)| (l.as_str(), v.clone())).collect();
        family("relay_http_responses_total", "counter", "HTTP responses by status class.", &classes);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_prometheus_text() {
        let metrics = Metrics::default();
        metrics.submission(Submission::Created);
        metrics.task_finished(TaskState::Success, None);
        metrics.task_finished(TaskState::Failure, Some("cancelled"));
        metrics.task_finished(TaskState::Progress, None);
        metrics.socket_opened();
        metrics.socket_opened();
        metrics.socket_closed(1000);
        metrics.response(202);
        let text = metrics.render(Some(3), 1);
        for line in [
            "relay_submissions_total{outcome=\"created\"} 1",
            "relay_tasks_finished_total{outcome=\"success\"} 1",
            "relay_tasks_finished_total{outcome=\"cancelled\"} 1",
            "relay_tasks_finished_total{outcome=\"failure\"} 0",
            "relay_ws_open_sockets 1",
            "relay_ws_closes_total{code=\"1000\"} 1",
            "relay_queue_depth 3",
            "relay_http_responses_total{class=\"2xx\"} 1",
            "# TYPE relay_ws_open_sockets gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("relay_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn a_missing_queue_depth_is_left_out() {
        assert!(!Metrics::default().render(None, 0).contains("relay_queue_depth"));
    }
}
