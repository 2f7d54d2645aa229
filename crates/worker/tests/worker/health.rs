//! The worker's metrics and health port: `/healthz` follows the heartbeat, `/readyz` the stores
//! and draining, `/metrics` what the jobs did and, on the fleet reporter, the queue sizes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::TaskState;
use reqwest::StatusCode;
use tasks::Tasks;
use worker::Worker;
use worker::health::Clock;
use worker::providers::Providers;

use crate::fakes::{Act, EchoExtractor, ScriptedScraper};
use crate::{Env, WAIT, config, spawn, until_step, until_terminal};

/// Binds the worker's port on loopback, port 0.
async fn listening(worker: Worker) -> (Worker, String) {
    let worker = worker.listen("127.0.0.1:0".parse().unwrap()).await.expect("bind the health port");
    let base = format!("http://127.0.0.1:{}", worker.health_port().expect("bound"));
    (worker, base)
}

async fn get(url: &str) -> (StatusCode, String) {
    let response = reqwest::get(url).await.expect("the worker answers");
    (response.status(), response.text().await.unwrap())
}

/// A clock the test moves by hand.
fn driven_clock() -> (Clock, Arc<Mutex<Instant>>) {
    let now = Arc::new(Mutex::new(Instant::now()));
    let reading = now.clone();
    (Arc::new(move || *reading.lock().unwrap()), now)
}

#[tokio::test]
async fn healthz_is_ok_while_the_heartbeat_beats_and_503_once_it_falls_silent() {
    let env = Env::new().await;
    // An hour between beats: after its first (immediate) beat the loop stays silent for the test.
    let hourly = worker::WorkerConfig { heartbeat: Duration::from_secs(3600), ..config() };
    let (clock, now) = driven_clock();
    let worker =
        env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), hourly).with_clock(clock);
    let liveness = worker.liveness();
    let mut beats = liveness.beats();
    let (worker, base) = listening(worker).await;
    let (stop, handle) = spawn(worker);
    tokio::time::timeout(WAIT, beats.wait_for(|n| *n >= 1)).await.expect("the first beat").unwrap();

    let (alive, _) = get(&format!("{base}/healthz")).await;
    *now.lock().unwrap() += Duration::from_secs(3 * 3600 + 1);
    let (silent, body) = get(&format!("{base}/healthz")).await;
    liveness.beat();
    let (again, _) = get(&format!("{base}/healthz")).await;

    assert_eq!(alive, StatusCode::OK);
    assert_eq!(silent, StatusCode::SERVICE_UNAVAILABLE, "three intervals without a beat: {body}");
    assert!(body.contains("heartbeat has been silent for 10801s"), "{body}");
    assert_eq!(again, StatusCode::OK, "a beat makes it healthy again");
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn readyz_needs_both_stores() {
    let env = Env::new().await;
    // The same Postgres, and a Redis on a port nothing listens on.
    let no_redis = tasks::Config { redis_url: "redis://127.0.0.1:1".into(), ..env.config.clone() };
    let cases = [
        (env.tasks.clone(), StatusCode::OK, "\"redis\":\"ok\""),
        (
            Tasks::connect_lazy(&no_redis).unwrap(),
            StatusCode::SERVICE_UNAVAILABLE,
            "\"redis\":\"unreachable\"",
        ),
    ];
    for (tasks, status, says) in cases {
        let providers = Providers::new(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor));
        let (worker, base) = listening(Worker::new(tasks, providers, config())).await;
        let (stop, _handle) = spawn(worker);

        let (got, body) = get(&format!("{base}/readyz")).await;

        assert_eq!(got, status, "{body}");
        assert!(body.contains(says) && body.contains("\"postgres\":\"ok\""), "{body}");
        // Not awaited: without Redis the worker's goodbye waits out its connection timeouts.
        stop.cancel();
    }
}

#[tokio::test]
async fn readyz_says_503_while_the_worker_drains() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (worker, base) = listening(env.worker(
        Arc::new(ScriptedScraper::new(vec![Act::Hang])),
        Arc::new(EchoExtractor),
        config(),
    ))
    .await;
    let (stop, _handle) = spawn(worker);
    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    until_step(&mut feed, job.task_id, 2).await;

    let (before, _) = get(&format!("{base}/readyz")).await;
    // The hanging job keeps the worker draining for its whole grace period (10 s).
    stop.cancel();
    let (draining, body) = get(&format!("{base}/readyz")).await;
    let (live, _) = get(&format!("{base}/healthz")).await;

    assert_eq!(before, StatusCode::OK);
    assert_eq!(draining, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("draining"), "{body}");
    assert_eq!(live, StatusCode::OK, "draining is not a reason to restart it");
}

#[tokio::test]
async fn metrics_show_what_a_job_did_and_the_fleet_gauges_on_the_reporter() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (worker, base) =
        listening(env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), config())).await;
    let (stop, handle) = spawn(worker);
    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    assert_eq!(until_terminal(&mut feed, job.task_id).await.status, TaskState::Success);

    // The attempt's metrics are recorded once it settled, after its terminal event; the fleet
    // gauges on each maintenance pass (once a second), so a pass that read the queue while the
    // job still waited shows a depth of 1 until the next: scrape until both show the end state.
    let text = tokio::time::timeout(WAIT, async {
        loop {
            let (status, text) = get(&format!("{base}/metrics")).await;
            assert_eq!(status, StatusCode::OK);
            if text.contains("relay_attempts_total{outcome=\"success\"} 1")
                && text.contains("\nrelay_queue_depth 0\n")
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the scrape shows the job and the fleet gauges");

    for expected in [
        "relay_queue_wait_seconds_count 1",
        "relay_task_duration_seconds_count{outcome=\"success\"} 1",
        "relay_step_duration_seconds_count{step=\"scraping\",provider=\"custom\"} 1",
        "relay_step_duration_seconds_count{step=\"saving\",provider=\"store\"} 1",
        "relay_provider_calls_total{provider=\"custom\",outcome=\"ok\"} 2",
        "relay_provider_call_cpu_seconds_count{provider=\"custom\"} 2",
        "relay_jobs_in_flight 0",
        "relay_fleet_reporter 1",
        "relay_queue_depth 0",
        "relay_workers_alive 1",
        "# HELP relay_queue_wait_seconds ",
        "relay_build_info{service=\"worker\"",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    let env = Env::new().await;
    let (worker, base) =
        listening(env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), config())).await;
    let (stop, handle) = spawn(worker);

    let (missing, _) = get(&format!("{base}/nope")).await;
    let posted = reqwest::Client::new().post(format!("{base}/metrics")).send().await.unwrap();

    assert_eq!(missing, StatusCode::NOT_FOUND);
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(posted.headers()["allow"], "GET, HEAD");
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_port_already_taken_is_an_error_naming_the_setting() {
    let env = Env::new().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let worker = env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), config());

    let Err(error) = worker.listen(addr).await else { panic!("the port is taken") };

    let message = format!("{error:#}");
    assert!(message.contains(&format!("RELAY__WORKER__METRICS_ADDR={addr}")), "{message}");
}

/// Scrapes `base` until `wanted` says yes about the text; the fleet lease is renewed once a second.
async fn scrape_until(base: &str, wanted: impl Fn(&str) -> bool) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            let (_, text) = get(&format!("{base}/metrics")).await;
            if wanted(&text) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the scrape changed in time")
}

#[tokio::test]
async fn one_worker_of_two_exports_the_fleet_gauges_and_the_other_takes_over_when_it_leaves() {
    let env = Env::new().await;
    let start = || async {
        let worker = env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), config());
        let (worker, base) = listening(worker).await;
        (spawn(worker), base)
    };
    // Both workers share this process's recorder (and so `relay_fleet_reporter`); the queue
    // gauges are each worker's own, written into its scrape while it holds the lease.
    let reporting = |text: &str| text.contains("relay_queue_depth 0");
    let ((stop_a, handle_a), base_a) = start().await;
    scrape_until(&base_a, reporting).await;
    let ((stop_b, handle_b), base_b) = start().await;
    let a = scrape_until(&base_a, |text| text.contains("relay_workers_alive 2")).await;
    let (_, b) = get(&format!("{base_b}/metrics")).await;

    assert!(a.contains("relay_queue_depth 0"), "{a}");
    assert!(!b.contains("relay_queue_depth"), "only the reporter exports the queue gauges:\n{b}");
    stop_a.cancel();
    handle_a.await.unwrap().unwrap();
    let b = scrape_until(&base_b, reporting).await;
    assert!(b.contains("relay_workers_alive 1"), "B reports once A gave the lease up:\n{b}");
    stop_b.cancel();
    handle_b.await.unwrap().unwrap();
}
