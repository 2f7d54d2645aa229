//! `GET /task/{id}` (snapshot, ETag, long-poll) and `DELETE /task/{id}`.

use std::time::{Duration, Instant};

use protocol::wire::CLOSE_DONE;
use protocol::{Step, TaskUpdate};
use serde_json::Value;
use tasks::Written;

use crate::helpers::{DartSocket, TestUser, parse_task_progress, seq, spawn_app};

#[tokio::test]
async fn the_snapshot_carries_an_etag_and_if_none_match_gives_304_until_it_changes() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();

    let first = app.get_task(&user, &task, "").await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = first.json().await.unwrap();
    assert_eq!(parse_task_progress(&body).unwrap().status, "pending");

    let unchanged = app
        .http
        .get(app.url(&format!("/task/{task}")))
        .bearer_auth(&user.token)
        .header("if-none-match", &etag);
    let unchanged = unchanged.send().await.unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), etag);

    let worker = app.worker();
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;
    app.snapshot_after(&user, &task, 1).await;
    let changed = app
        .http
        .get(app.url(&format!("/task/{task}")))
        .bearer_auth(&user.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(changed.json::<Value>().await.unwrap()["status"], "PROGRESS");
}

#[tokio::test]
async fn a_long_poll_with_nothing_new_answers_the_current_snapshot_after_wait() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let response = app.get_task(&user, &task, "?since=1&wait=1").await;

    assert_eq!(response.status(), 200);
    assert_eq!(seq(&response.json().await.unwrap()), 1);
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_long_poll_behind_the_log_answers_at_once() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let worker = app.worker();
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;

    let started = Instant::now();
    let response = app.get_task(&user, &task, "?since=1&wait=30").await;

    assert_eq!(seq(&response.json().await.unwrap()), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_long_poll_wakes_as_soon_as_the_worker_writes() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let worker = app.worker();
    let claim = worker.claim().await;

    let poll = {
        let request =
            app.http.get(app.url(&format!("/task/{task}?since=1&wait=25"))).bearer_auth(&user.token);
        tokio::spawn(async move {
            let started = Instant::now();
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            (started.elapsed(), body)
        })
    };
    worker.step(&claim, Step::Preparing, None).await;
    let (elapsed, body) = tokio::time::timeout(crate::helpers::PATIENCE, poll).await.unwrap().unwrap();

    assert_eq!(seq(&body), 2);
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn cancelling_a_running_task_fails_it_and_stops_the_worker_at_its_next_step() {
    // Arrange
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let worker = app.worker();
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    assert_eq!(seq(&socket.message().await), 2);

    // Act
    let response =
        app.http.delete(app.url(&format!("/task/{task}"))).bearer_auth(&user.token).send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let parsed = parse_task_progress(&body).unwrap();
    assert_eq!((parsed.status, parsed.error.as_deref()), ("failed", Some("cancelled")));
    let (message, progress) = socket.progress().await;
    assert_eq!((progress.status, seq(&message)), ("failed", 3));
    assert_eq!(socket.closed().await, Some(CLOSE_DONE));
    let next = claim.progress(TaskUpdate::progress(claim.task(), Step::Scraping, None)).await.unwrap();
    assert_eq!(next, Written::Cancelled, "the worker learns at its next step");
    let again =
        app.http.delete(app.url(&format!("/task/{task}"))).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(again.status(), 409, "a finished task cannot be cancelled");
    let snapshot: Value = app.get_task(&user, &task, "").await.json().await.unwrap();
    assert_eq!(snapshot, body);
}

#[tokio::test]
async fn cancelling_a_queued_task_drops_its_job() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();

    let response =
        app.http.delete(app.url(&format!("/task/{task}"))).bearer_auth(&user.token).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(app.tasks.queue_depth().await.unwrap(), 0);
    let claimed = app.tasks.claim("w", Duration::from_millis(100), Duration::from_secs(5)).await.unwrap();
    assert!(claimed.is_none(), "no worker ever runs it");
}

#[tokio::test]
async fn a_task_redis_forgot_is_served_from_postgres() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let (_, recipe_id) = app.worker().complete("Soup").await;
    let mut redis =
        redis::Client::open(testkit::redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let prefix = app.tasks.key_prefix().to_owned();
    redis::cmd("DEL")
        .arg(format!("{prefix}:task:{task}"))
        .arg(format!("{prefix}:log:{task}"))
        .query_async::<()>(&mut redis)
        .await
        .unwrap();

    let snapshot: Value = app.get_task(&user, &task, "").await.json().await.unwrap();

    let parsed = parse_task_progress(&snapshot).unwrap();
    assert_eq!(parsed.status, "completed");
    assert_eq!(parsed.recipe_id, Some(recipe_id.to_string()));
    assert_eq!(seq(&snapshot), 6);
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    assert_eq!(socket.message().await["status"], "SUCCESS");
    assert_eq!(socket.closed().await, Some(CLOSE_DONE));
}

#[tokio::test]
async fn a_polled_task_follows_the_workers_events_and_is_never_answered_to_another_user() {
    let app = spawn_app().await;
    let (owner, stranger) = (TestUser::new(), TestUser::new());
    let task = app.start_task(&owner, "1").await["task_id"].as_str().unwrap().to_owned();
    // The owner's first poll reads Redis; from then on the gateway keeps the task's latest event.
    assert_eq!(app.get_task(&owner, &task, "").await.status(), 200);

    let worker = app.worker();
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;
    let woken = app.snapshot_after(&owner, &task, 1).await;
    let polled: Value = app.get_task(&owner, &task, "").await.json().await.unwrap();

    assert_eq!(polled, woken, "the next poll answers the event the long-poll was woken by");
    assert_eq!(polled["status"], "PROGRESS");
    let foreign = app.get_task(&stranger, &task, "").await;
    assert_eq!(foreign.status(), 404, "the gateway's copy answers its owner only");
}
