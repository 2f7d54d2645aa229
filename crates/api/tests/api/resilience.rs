//! Shutdown, a Redis restart under open sockets, and a reader too slow for its queue.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use protocol::wire::{CLOSE_DONE, CLOSE_RESTART, CLOSE_SLOW_READER};
use protocol::{Step, TaskUpdate};
use serde_json::Value;

use crate::helpers::{DartSocket, PATIENCE, Received, TestUser, seq, spawn_app, spawn_app_with};

#[tokio::test]
async fn shutdown_closes_every_socket_with_1012_and_answers_pending_long_polls() {
    let mut app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut first = DartSocket::connect(&app, &task, &user.token, None).await;
    let mut second = DartSocket::connect(&app, &task, &user.token, None).await;
    first.message().await;
    second.message().await;
    let poll = tokio::spawn(
        app.http.get(app.url(&format!("/task/{task}?since=1&wait=25"))).bearer_auth(&user.token).send(),
    );

    let ((), first, second) = tokio::join!(app.stop(), first.closed(), second.closed());

    assert_eq!((first, second), (Some(CLOSE_RESTART), Some(CLOSE_RESTART)));
    let answered = tokio::time::timeout(PATIENCE, poll).await.unwrap().unwrap();
    // Either the long-poll was answered with the snapshot, or it had not reached the server.
    if let Ok(response) = answered {
        assert_eq!(response.status(), 200);
    }
}

/// A Redis of this test's own, so it can be killed and restarted without touching anyone else.
pub(crate) struct PrivateRedis {
    port: u16,
    dir: PathBuf,
    /// With an append-only file (a restart keeps the data), or none (a restart loses it all).
    persistent: bool,
    child: Option<tokio::process::Child>,
}

impl PrivateRedis {
    async fn start() -> Self {
        Self::start_with(true).await
    }

    /// A Redis that keeps nothing across a restart, like one run without persistence.
    pub(crate) async fn without_persistence() -> Self {
        Self::start_with(false).await
    }

    async fn start_with(persistent: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("relay-api-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self { port, dir, persistent, child: None };
        redis.spawn().await;
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// SIGKILL, and wait until it is gone.
    pub(crate) async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    pub(crate) async fn spawn(&mut self) {
        let appendonly = if self.persistent { "yes" } else { "no" };
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", appendonly, "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (scripts/services installs it)");
        self.child = Some(child);
        // Waiting for another process to accept connections: there is no event to await.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let client = redis::Client::open(self.url()).unwrap();
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, then start again on the same port (with the same append-only file, if any).
    pub(crate) async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Retries a worker write, up to `tries` times, across the moment Redis comes back (its pool
/// drops dead connections on the next checkout); returns the logged event's seq.
pub(crate) async fn logged_once_redis_answers<F, Fut>(tries: u32, mut write: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tasks::Written, tasks::TaskError>>,
{
    for _ in 0..tries {
        match write().await {
            Ok(tasks::Written::Logged(event)) => return event.seq,
            Ok(other) => panic!("refused: {other:?}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    panic!("Redis did not come back");
}

async fn publish_retrying(claim: &tasks::Attempt, step: Step) -> u64 {
    let update = TaskUpdate::progress(claim.task(), step, None);
    logged_once_redis_answers(10, || claim.progress(update.clone())).await
}

#[tokio::test]
async fn a_redis_restart_under_an_open_socket_goes_unnoticed_by_the_client() {
    // Arrange
    let mut redis = PrivateRedis::start().await;
    let app = spawn_app_with(&[("REDIS_URL", &redis.url())]).await;
    let user = TestUser::new();
    let worker = app.worker();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    assert_eq!(seq(&socket.message().await), 1);
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;
    assert_eq!(seq(&socket.message().await), 2);

    // Act: Redis dies and comes back; the worker writes at once, likely before the gateway's
    // pub/sub has resubscribed, so those events only exist in the log.
    redis.restart().await;
    publish_retrying(&claim, Step::Scraping).await;
    publish_retrying(&claim, Step::Extracting).await;
    publish_retrying(&claim, Step::Saving).await;
    worker.succeed(&claim, "Soup").await;

    // Assert: every event, in order, on the same socket, then 1000
    for expected in 3..=6 {
        assert_eq!(seq(&socket.message().await), expected);
    }
    assert_eq!(socket.closed().await, Some(CLOSE_DONE));
    assert!(app.metric("relay_event_feed_resyncs_total").await >= 1.0, "the feed reconnected");
}

#[tokio::test]
async fn a_slow_reader_is_closed_with_4008_and_resumes_with_since() {
    // Arrange: a tiny per-socket queue and events big enough to fill the TCP buffers
    let app = spawn_app_with(&[("RELAY__API__WS_QUEUE_CAPACITY", "4")]).await;
    let user = TestUser::new();
    let worker = app.worker();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    assert_eq!(seq(&socket.message().await), 1);
    let claim = worker.claim().await;
    let details = "x".repeat(64 * 1024);

    // Act: the client stops reading while the worker writes
    let mut last = 1;
    for round in 0..1000 {
        let update = TaskUpdate::retrying(claim.job().task_id, 2, details.clone());
        last = worker.publish(&claim, &update).await;
        if round % 20 == 19 && app.metric("relay_ws_slow_reader_closes_total").await >= 1.0 {
            break;
        }
    }
    assert!(app.metric("relay_ws_slow_reader_closes_total").await >= 1.0, "the queue overflowed");

    // Assert: what was queued arrives in order, then 4008
    let mut seen = 1;
    let code = loop {
        match socket.receive().await {
            Received::Json(message) => {
                assert_eq!(seq(&message), seen + 1, "no gaps before the close");
                seen += 1;
            }
            Received::Closed(code) => break code,
            Received::Broken(error) => panic!("broken instead of closed: {error}"),
        }
    };
    assert_eq!(code, Some(CLOSE_SLOW_READER));
    assert!(seen < last, "the overflow happened before the end ({seen} of {last})");

    // The client resumes with since and gets exactly the rest.
    let mut resumed = DartSocket::connect(&app, &task, &user.token, Some(seen)).await;
    for expected in seen + 1..=last {
        let message: Value = resumed.message().await;
        assert_eq!(seq(&message), expected);
    }
    worker.succeed(&claim, "Soup").await;
    assert_eq!(resumed.message().await["status"], "SUCCESS");
    assert_eq!(resumed.closed().await, Some(CLOSE_DONE));
}
