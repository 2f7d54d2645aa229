//! `GET /metrics` after a real run: every gateway series of docs/operations.md ("Gateway
//! metrics") is in the scrape, and each one moved.

use std::time::Duration;

use protocol::Step;
use protocol::wire::CLOSE_DONE;
use serde_json::{Value, json};

use crate::helpers::{DartSocket, PATIENCE, TestApp, TestUser, seq, spawn_app_with, video_url};

/// One scrape of `GET /metrics`.
struct Scrape(String);

impl Scrape {
    async fn of(app: &TestApp) -> Self {
        let response = app.http.get(app.url("/metrics")).send().await.expect("scrape");
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
        Self(response.text().await.expect("text"))
    }

    /// The value of a sample named exactly `series` (`name{labels}`).
    fn get(&self, series: &str) -> Option<f64> {
        self.0
            .lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map(|v| v.parse().expect("a number"))
    }

    /// Asserts the sample is present and above 0.
    fn moved(&self, series: &str) {
        let value = self.get(series).unwrap_or_else(|| panic!("{series} is missing from\n{}", self.0));
        assert!(value > 0.0, "{series} is {value} in\n{}", self.0);
    }
}

/// `GET /metrics` until `series` is at least 1 (a long-poll parks on another task).
async fn until_positive(app: &TestApp, series: &str) -> Scrape {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let scrape = Scrape::of(app).await;
            if scrape.get(series).is_some_and(|v| v >= 1.0) {
                return scrape;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{series} never reached 1"))
}

#[tokio::test]
async fn a_task_run_end_to_end_moves_every_gateway_series() {
    // Arrange: limits small enough to hit
    let app = spawn_app_with(&[
        ("RELAY__API__MAX_TASKS_IN_FLIGHT", "1"),
        ("RELAY__API__MAX_SOCKETS_PER_USER", "1"),
        ("RELAY__API__MAX_BODY_BYTES", "1024"),
    ])
    .await;
    let (user, other) = (TestUser::new(), TestUser::new());
    let worker = app.worker();

    // Act: a task through POST /scrape/async, a socket and a long-poll ...
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    assert_eq!(seq(&socket.message().await), 1);
    let poll = {
        let url = app.url(&format!("/task/{task}?since=1&wait=30"));
        let (http, token) = (app.http.clone(), user.token.clone());
        tokio::spawn(async move { http.get(url).bearer_auth(token).send().await.unwrap() })
    };
    let while_waiting = until_positive(&app, "relay_long_polls_waiting").await;
    // ... refusals by authentication and by limits ...
    let missing = app.http.get(app.url(&format!("/task/{task}"))).send().await.unwrap();
    let malformed =
        app.http.get(app.url(&format!("/task/{task}"))).bearer_auth("not-a-jwt").send().await.unwrap();
    let in_flight = app.submit(&user, &json!({"url": video_url("2"), "language": "de"})).await;
    let too_big = app.submit(&user, &json!({"url": video_url("2"), "language": "x".repeat(2048)})).await;
    let second_socket = tokio_tungstenite::connect_async(app.ws_url(&task, &user.token, None)).await;
    let unknown = app.http.get(app.url("/no/such/path")).send().await.unwrap();
    // ... the worker runs the job ...
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;
    let answered = tokio::time::timeout(PATIENCE, poll).await.unwrap().unwrap();
    for step in [Step::Scraping, Step::Extracting, Step::Saving] {
        worker.step(&claim, step, None).await;
    }
    worker.succeed(&claim, "Stew").await;
    for expected in 2..=6 {
        assert_eq!(seq(&socket.message().await), expected);
    }
    assert_eq!(socket.closed().await, Some(CLOSE_DONE));
    // ... and a second task (another user's: the first socket's slot is freed
    // only after its closing handshake) is cancelled while a socket watches it.
    let second = app.start_task(&other, "3").await["task_id"].as_str().unwrap().to_owned();
    let mut watching = DartSocket::connect(&app, &second, &other.token, None).await;
    watching.message().await;
    let cancel = app.http.delete(app.url(&format!("/task/{second}"))).bearer_auth(&other.token).send().await;
    assert_eq!(cancel.unwrap().status(), 200);
    assert_eq!(watching.message().await["error"], "cancelled", "the hub has seen the cancel");
    let after = Scrape::of(&app).await;

    // Assert: the answers were the refusals they should be ...
    assert_eq!(answered.status(), 200);
    assert_eq!(seq(&answered.json::<Value>().await.unwrap()), 2, "the long-poll woke on the event");
    assert_eq!((missing.status().as_u16(), malformed.status().as_u16()), (401, 401));
    assert_eq!(in_flight.status(), 429);
    assert_eq!(too_big.status(), 413);
    match second_socket {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("expected a 429 for the second socket, got {other:?}"),
    }
    assert_eq!(unknown.status(), 404);
    // ... the gauges counted what was open while the long-poll waited ...
    for series in ["relay_ws_open_sockets", "relay_long_polls_waiting", "relay_watched_tasks"] {
        while_waiting.moved(series);
    }
    // ... and every series moved, with route patterns, never raw paths.
    for series in [
        "relay_http_request_duration_seconds_count{method=\"POST\",route=\"/scrape/async\",status=\"202\"}",
        "relay_http_request_duration_seconds_count{method=\"GET\",route=\"/task/{task_id}\",status=\"200\"}",
        "relay_http_request_duration_seconds_count{method=\"GET\",route=\"/task/{task_id}\",status=\"401\"}",
        "relay_http_request_duration_seconds_count{method=\"GET\",route=\"/ws/{task_id}\",status=\"101\"}",
        "relay_http_request_duration_seconds_count{method=\"DELETE\",route=\"/task/{task_id}\",status=\"200\"}",
        "relay_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"404\"}",
        "relay_http_request_duration_seconds_count{method=\"GET\",route=\"/metrics\",status=\"200\"}",
        &format!("relay_ws_closes_total{{code=\"{CLOSE_DONE}\"}}"),
        "relay_ws_events_delivered_total",
        "relay_event_delivery_seconds_count{via=\"socket\"}",
        "relay_event_delivery_seconds_count{via=\"long_poll\"}",
        "relay_auth_failures_total{reason=\"missing\"}",
        "relay_auth_failures_total{reason=\"malformed\"}",
        "relay_limits_hit_total{limit=\"in_flight\"}",
        "relay_limits_hit_total{limit=\"body_size\"}",
        "relay_limits_hit_total{limit=\"sockets_per_user\"}",
        "relay_submissions_total{outcome=\"created\"}",
        "relay_submissions_total{outcome=\"rate_limited\"}",
        "relay_cancel_requests_total",
        "relay_tasks_finished_total{outcome=\"success\"}",
        "relay_tasks_finished_total{outcome=\"cancelled\"}",
        "process_resident_memory_bytes",
    ] {
        after.moved(series);
    }
    assert!(!after.0.contains(&format!("route=\"/task/{task}")), "a raw path became a label");
    let build = after.0.lines().find(|l| l.starts_with("relay_build_info{service=\"api\",version=\""));
    assert!(build.is_some_and(|l| l.ends_with(" 1")), "relay_build_info in\n{}", after.0);
    // A `metrics` counter holds whole numbers: the CPU seconds of a short test may still be 0.
    assert!(after.get("process_cpu_seconds_total").is_some(), "process metrics come from observe");
    // These two move only on a slow client or a Redis reconnect (resilience.rs provokes both).
    for series in ["relay_ws_slow_reader_closes_total", "relay_event_feed_resyncs_total"] {
        assert_eq!(after.get(series), Some(0.0), "{series} is exported from the start");
    }
    for gone in ["relay_queue_depth", "relay_http_responses_total"] {
        assert!(!after.0.contains(gone), "{gone} is no longer the gateway's");
    }
    for histogram in ["relay_http_request_duration_seconds", "relay_event_delivery_seconds"] {
        assert!(after.0.contains(&format!("# TYPE {histogram} histogram")), "{histogram}");
        assert!(after.0.contains(&format!("{histogram}_bucket{{")), "{histogram} has buckets");
    }
}
