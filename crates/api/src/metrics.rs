//! The gateway's Prometheus series, recorded with the `metrics` macros into the process's
//! [`observe::Registry`] (which adds `relay_build_info` and `process_*`) and rendered by
//! `GET /metrics`.
//!
//! Every series is described once, by [`install`], and the ones with a fixed set of labels start
//! at 0, so a rate over them exists before the first event. Counters are per process.
//! `relay_tasks_finished_total` counts the terminal events this gateway saw on the shared event
//! feed: every gateway sees every event, so aggregate it across instances with `max`, not `sum`.
//! Queue sizes are exported once for the fleet by the worker side, not here.

use std::sync::Once;
use std::time::{Duration, SystemTime};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use protocol::{Event, TaskState};

use crate::auth::AuthError;

const HTTP_REQUEST_DURATION: &str = "relay_http_request_duration_seconds";
const WS_OPEN_SOCKETS: &str = "relay_ws_open_sockets";
const WS_CLOSES: &str = "relay_ws_closes_total";
const WS_EVENTS_DELIVERED: &str = "relay_ws_events_delivered_total";
const WS_SLOW_READER_CLOSES: &str = "relay_ws_slow_reader_closes_total";
const EVENT_DELIVERY: &str = "relay_event_delivery_seconds";
const LONG_POLLS_WAITING: &str = "relay_long_polls_waiting";
const AUTH_FAILURES: &str = "relay_auth_failures_total";
const LIMITS_HIT: &str = "relay_limits_hit_total";
const SUBMISSIONS: &str = "relay_submissions_total";
const CANCEL_REQUESTS: &str = "relay_cancel_requests_total";
const FEED_RESYNCS: &str = "relay_event_feed_resyncs_total";
const WATCHED_TASKS: &str = "relay_watched_tasks";
const TASKS_FINISHED: &str = "relay_tasks_finished_total";

/// The process's registry, installed as the `metrics` recorder, with every gateway series
/// described. Later calls return the same registry (tests build several gateways in one process).
pub fn install() -> observe::Registry {
    let registry = observe::Registry::install("api");
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(describe);
    registry
}

fn describe() {
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "HTTP requests from arrival to response head, by method, route pattern (`unmatched` for unknown paths) and status code. A long-poll counts its wait; a socket, its upgrade."
    );
    describe_gauge!(WS_OPEN_SOCKETS, "Task sockets open on this gateway.");
    describe_counter!(
        WS_CLOSES,
        "Task sockets closed, by the close code the server sent (0: the peer left first)."
    );
    describe_counter!(WS_EVENTS_DELIVERED, "Messages written to task sockets.");
    describe_counter!(WS_SLOW_READER_CLOSES, "Sockets dropped because their queue overflowed (close 4008).");
    describe_histogram!(
        EVENT_DELIVERY,
        metrics::Unit::Seconds,
        "Publish-to-deliver latency of live task events: from the event's timestamp (set where it was made, just before it was published) to its frame handed to the socket (via=socket) or the long-poll answering with it (via=long_poll). Spans two clocks when the worker made the event."
    );
    describe_gauge!(LONG_POLLS_WAITING, "Long-polls of GET /task/{id} parked waiting for an event now.");
    describe_counter!(
        AUTH_FAILURES,
        "Requests refused by authentication (401; 503 for keys_unavailable), by reason."
    );
    describe_counter!(
        LIMITS_HIT,
        "Requests and sockets refused by a limit: rate_limit, in_flight, requests_per_user, sockets_per_user, body_size, body_timeout, ws_frame_size, ws_frame_rate."
    );
    describe_counter!(SUBMISSIONS, "POST /scrape/async answers by outcome.");
    describe_counter!(CANCEL_REQUESTS, "Accepted DELETE /task/{id} requests.");
    describe_counter!(FEED_RESYNCS, "Reconnects of this gateway's Redis pub/sub subscription.");
    describe_gauge!(WATCHED_TASKS, "Tasks with a socket or long-poll on this gateway.");
    describe_counter!(
        TASKS_FINISHED,
        "Terminal task events seen on the event feed (every gateway sees all: aggregate with max)."
    );
    // Fixed label sets start at 0.
    for outcome in Submission::ALL {
        counter!(SUBMISSIONS, "outcome" => outcome.label()).absolute(0);
    }
    for outcome in ["success", "failure", "cancelled"] {
        counter!(TASKS_FINISHED, "outcome" => outcome).absolute(0);
    }
    for reason in AuthError::REASONS {
        counter!(AUTH_FAILURES, "reason" => reason).absolute(0);
    }
    for limit in Limit::ALL {
        counter!(LIMITS_HIT, "limit" => limit.label()).absolute(0);
    }
    counter!(CANCEL_REQUESTS).absolute(0);
    counter!(FEED_RESYNCS).absolute(0);
    counter!(WS_EVENTS_DELIVERED).absolute(0);
    counter!(WS_SLOW_READER_CLOSES).absolute(0);
    gauge!(WS_OPEN_SOCKETS).set(0.0);
    gauge!(LONG_POLLS_WAITING).set(0.0);
    gauge!(WATCHED_TASKS).set(0.0);
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

impl Submission {
    const ALL: [Self; 5] = [Self::Created, Self::Joined, Self::Replayed, Self::Rejected, Self::RateLimited];

    fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Joined => "joined",
            Self::Replayed => "replayed",
            Self::Rejected => "rejected",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// A limit that refused a request or a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `api.submissions_per_minute` (429).
    RateLimit,
    /// `api.max_tasks_in_flight` (429).
    InFlight,
    /// `api.max_requests_per_user` at once on this gateway (429).
    RequestsPerUser,
    /// `api.max_sockets_per_user` on this gateway (429).
    SocketsPerUser,
    /// `api.max_body_bytes` (413).
    BodySize,
    /// `api.body_timeout_secs` (408).
    BodyTimeout,
    /// `api.ws_max_frame_bytes` (close 1009).
    WsFrameSize,
    /// `api.ws_max_frames_per_minute` (close 1008).
    WsFrameRate,
}

impl Limit {
    const ALL: [Self; 8] = [
        Self::RateLimit,
        Self::InFlight,
        Self::RequestsPerUser,
        Self::SocketsPerUser,
        Self::BodySize,
        Self::BodyTimeout,
        Self::WsFrameSize,
        Self::WsFrameRate,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::RateLimit => "rate_limit",
            Self::InFlight => "in_flight",
            Self::RequestsPerUser => "requests_per_user",
            Self::SocketsPerUser => "sockets_per_user",
            Self::BodySize => "body_size",
            Self::BodyTimeout => "body_timeout",
            Self::WsFrameSize => "ws_frame_size",
            Self::WsFrameRate => "ws_frame_rate",
        }
    }
}

/// Where a live event was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Written to a socket.
    Socket,
    /// The answer of a parked long-poll.
    LongPoll,
}

/// Counts a submission's outcome.
pub fn submission(outcome: Submission) {
    counter!(SUBMISSIONS, "outcome" => outcome.label()).increment(1);
}

/// Counts an accepted `DELETE /task/{id}`.
pub fn cancel_request() {
    counter!(CANCEL_REQUESTS).increment(1);
}

/// Counts a terminal event seen on the feed (non-terminal states are ignored).
pub fn task_finished(state: TaskState, error: Option<&str>) {
    let outcome = match (state, error) {
        (TaskState::Success, _) => "success",
        (TaskState::Failure, Some("cancelled")) => "cancelled",
        (TaskState::Failure, _) => "failure",
        _ => return,
    };
    counter!(TASKS_FINISHED, "outcome" => outcome).increment(1);
}

/// A socket opened.
pub fn socket_opened() {
    gauge!(WS_OPEN_SOCKETS).increment(1.0);
}

/// A socket closed, with the close code the server sent (0 when the peer went away first).
pub fn socket_closed(code: u16) {
    gauge!(WS_OPEN_SOCKETS).decrement(1.0);
    counter!(WS_CLOSES, "code" => code.to_string()).increment(1);
}

/// A message is being written to a socket.
pub fn delivered() {
    counter!(WS_EVENTS_DELIVERED).increment(1);
}

/// A socket's queue overflowed.
pub fn slow_reader() {
    counter!(WS_SLOW_READER_CLOSES).increment(1);
}

/// The event feed reconnected.
pub fn feed_resynced() {
    counter!(FEED_RESYNCS).increment(1);
}

/// Sets how many tasks have a socket or long-poll here (read at each scrape).
pub fn watched_tasks(count: usize) {
    gauge!(WATCHED_TASKS).set(count as f64);
}

/// A live event reached its client now: records its age. An event from a clock ahead of ours
/// counts as 0; one without a timestamp is not recorded.
pub fn event_delivered(via: Via, event: &Event) {
    let Some(made) = event.timestamp else { return };
    let age = SystemTime::now().duration_since(made).unwrap_or_default();
    let via = match via {
        Via::Socket => "socket",
        Via::LongPoll => "long_poll",
    };
    histogram!(EVENT_DELIVERY, "via" => via).record(age.as_secs_f64());
}

/// Counts a request refused by authentication.
pub fn auth_failure(error: &AuthError) {
    counter!(AUTH_FAILURES, "reason" => error.reason()).increment(1);
}

/// Counts a refusal by a limit.
pub fn limit_hit(limit: Limit) {
    counter!(LIMITS_HIT, "limit" => limit.label()).increment(1);
}

/// Records one HTTP request; `route` is the matched pattern (`None`: no route matched).
pub fn http_request(method: &'static str, route: Option<String>, status: u16, elapsed: Duration) {
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    histogram!(HTTP_REQUEST_DURATION, "method" => method, "route" => route, "status" => status.to_string())
        .record(elapsed.as_secs_f64());
}

/// A long-poll parked on the hub: counted in `relay_long_polls_waiting` until dropped (however
/// the request ends, the client leaving included).
#[derive(Debug)]
pub struct LongPollWaiting(());

impl LongPollWaiting {
    /// Counts one more waiting long-poll.
    pub fn start() -> Self {
        gauge!(LONG_POLLS_WAITING).increment(1.0);
        Self(())
    }
}

impl Drop for LongPollWaiting {
    fn drop(&mut self) {
        gauge!(LONG_POLLS_WAITING).decrement(1.0);
    }
}

/// Reading the scrape in tests.
#[cfg(test)]
pub(crate) mod scrape {
    /// The value of one sample (`name{labels}` exactly as rendered), 0 when absent. Installs
    /// the recorder first, so recording after it counts.
    pub(crate) fn value(series: &str) -> f64 {
        let text = super::install().render();
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0.0, |v| v.parse().expect("a number"))
    }
}

#[cfg(test)]
mod tests {
    use super::scrape::value;
    use super::*;

    #[test]
    fn recorded_series_render_as_prometheus_text() {
        let registry = install();
        let created = value("relay_submissions_total{outcome=\"created\"}");
        let sockets = value("relay_ws_open_sockets");
        let closes = value("relay_ws_closes_total{code=\"1000\"}");

        submission(Submission::Created);
        socket_opened();
        socket_opened();
        socket_closed(1000);
        limit_hit(Limit::InFlight);
        http_request("GET", Some("/task/{task_id}".into()), 200, Duration::from_millis(3));
        http_request("GET", None, 404, Duration::from_millis(1));

        assert_eq!(value("relay_submissions_total{outcome=\"created\"}"), created + 1.0);
        assert_eq!(value("relay_ws_open_sockets"), sockets + 1.0);
        assert_eq!(value("relay_ws_closes_total{code=\"1000\"}"), closes + 1.0);
        assert!(value("relay_limits_hit_total{limit=\"in_flight\"}") >= 1.0);
        let text = registry.render();
        for line in [
            "# TYPE relay_ws_open_sockets gauge",
            "# TYPE relay_http_request_duration_seconds histogram",
            "relay_submissions_total{outcome=\"rate_limited\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(
            text.contains(
                "relay_http_request_duration_seconds_bucket{method=\"GET\",route=\"/task/{task_id}\",status=\"200\",le=\"0.005\"}"
            ),
            "{text}"
        );
        assert!(text.contains("route=\"unmatched\",status=\"404\""), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("relay_") || name.starts_with("process_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn every_series_is_described() {
        install();
        // The exporter writes a HELP line only for series with a sample.
        http_request("GET", None, 404, Duration::ZERO);
        socket_closed(0);
        socket_opened();
        let event = Event::decode(r#"{"seq":1,"status":"PROGRESS","timestamp":1.5}"#).unwrap();
        event_delivered(Via::LongPoll, &event);
        let text = install().render();
        for name in [
            HTTP_REQUEST_DURATION,
            WS_OPEN_SOCKETS,
            WS_CLOSES,
            WS_EVENTS_DELIVERED,
            WS_SLOW_READER_CLOSES,
            EVENT_DELIVERY,
            LONG_POLLS_WAITING,
            AUTH_FAILURES,
            LIMITS_HIT,
            SUBMISSIONS,
            CANCEL_REQUESTS,
            FEED_RESYNCS,
            WATCHED_TASKS,
            TASKS_FINISHED,
            "relay_build_info",
            "process_cpu_seconds_total",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "no help for {name} in\n{text}");
        }
    }

    #[test]
    fn a_live_event_records_its_age_and_an_event_from_the_future_counts_as_zero() {
        install();
        let before = value("relay_event_delivery_seconds_count{via=\"socket\"}");
        let mut event = Event::decode(r#"{"seq":1,"status":"PROGRESS","timestamp":1.5}"#).unwrap();
        event_delivered(Via::Socket, &event);
        event.timestamp = Some(SystemTime::now() + Duration::from_secs(60));
        event_delivered(Via::Socket, &event);
        event.timestamp = None;
        event_delivered(Via::Socket, &event);

        assert_eq!(value("relay_event_delivery_seconds_count{via=\"socket\"}"), before + 2.0);
        assert!(
            value("relay_event_delivery_seconds_bucket{via=\"socket\",le=\"0.0005\"}") >= 1.0,
            "the future one"
        );
    }

    #[test]
    fn a_waiting_long_poll_is_counted_until_dropped() {
        install();
        let before = value("relay_long_polls_waiting");
        let waiting = LongPollWaiting::start();
        assert_eq!(value("relay_long_polls_waiting"), before + 1.0);
        drop(waiting);
        assert_eq!(value("relay_long_polls_waiting"), before);
    }
}
