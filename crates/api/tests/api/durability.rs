//! A task's state across Redis losing its data and parallel submissions: what the client sees
//! stays true and moves forward (docs/protocol.md, "Sequence numbers and resume").

use protocol::wire::CLOSE_DONE;
use protocol::{RecipeId, Step, TaskUpdate};
use serde_json::{Value, json};
use tasks::Attempt as Claim;

use crate::helpers::{DartSocket, TestApp, TestUser, recipe, seq, spawn_app_with, video_url};
use crate::resilience::PrivateRedis;

/// The worker's success, retried across the moment Redis comes back, as the worker's next
/// attempt would: once Postgres has the outcome, a retry logs what Postgres holds.
async fn succeed_until_logged(claim: &Claim) {
    let recipe = recipe("Soup", claim.job().url.as_str());
    for _ in 0..50 {
        let done = TaskUpdate::completion(claim.task(), RecipeId::new(), "Soup".into());
        if claim.succeed(&recipe, done).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("Redis did not come back");
}

/// Postgres accepts the success while Redis is away: the event never reaches Redis.
async fn succeed_in_postgres_only(claim: &Claim) {
    let done = TaskUpdate::completion(claim.task(), RecipeId::new(), "Soup".into());
    let result = claim.succeed(&recipe("Soup", claim.job().url.as_str()), done).await;
    assert!(result.is_err(), "Redis is down: {result:?}");
}

/// A task at seq 3 (PENDING, Preparing, Scraping) with a socket that has seen all three.
async fn task_at_step_two(app: &TestApp, user: &TestUser) -> (String, Claim, DartSocket) {
    let task = app.start_task(user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut socket = DartSocket::connect(app, &task, &user.token, None).await;
    let worker = app.worker();
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;
    worker.step(&claim, Step::Scraping, None).await;
    for expected in 1..=3 {
        assert_eq!(seq(&socket.message().await), expected);
    }
    (task, claim, socket)
}

#[tokio::test]
async fn a_socket_open_across_a_redis_data_loss_gets_the_outcome_the_worker_logs() {
    let mut redis = PrivateRedis::without_persistence().await;
    let app = spawn_app_with(&[("REDIS_URL", &redis.url())]).await;
    let user = TestUser::new();
    let (task, claim, mut socket) = task_at_step_two(&app, &user).await;

    // Redis restarts empty: the job, the log and the lease are gone. Postgres still accepts
    // the worker's success (it holds the claim there), and the worker logs it.
    redis.restart().await;
    succeed_until_logged(&claim).await;

    let last = socket.message().await;
    assert_eq!((seq(&last), last["status"].as_str()), (4, Some("SUCCESS")));
    assert_eq!(socket.closed().await, Some(CLOSE_DONE));
    let polled: Value = app.get_task(&user, &task, "").await.json().await.unwrap();
    assert_eq!((seq(&polled), polled["status"].as_str()), (4, Some("SUCCESS")));
}

#[tokio::test]
async fn a_socket_open_across_a_redis_data_loss_gets_an_outcome_only_postgres_has() {
    let mut redis = PrivateRedis::without_persistence().await;
    let app = spawn_app_with(&[("REDIS_URL", &redis.url())]).await;
    let user = TestUser::new();
    let (_task, claim, mut socket) = task_at_step_two(&app, &user).await;

    // The worker finishes while Redis is away, so the event never reaches Redis; Redis comes
    // back empty. The socket's resync finds no log and must still learn the outcome.
    redis.kill().await;
    succeed_in_postgres_only(&claim).await;
    redis.spawn().await;

    let last = socket.message().await;
    assert_eq!((seq(&last), last["status"].as_str()), (4, Some("SUCCESS")));
    assert_eq!(socket.closed().await, Some(CLOSE_DONE));
}

#[tokio::test]
async fn while_redis_is_away_the_snapshot_s_seq_stands_for_the_state_logged_with_it() {
    let mut redis = PrivateRedis::without_persistence().await;
    let app = spawn_app_with(&[("REDIS_URL", &redis.url())]).await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    let worker = app.worker();
    let claim = worker.claim().await;
    worker.step(&claim, Step::Preparing, None).await;
    worker.step(&claim, Step::Scraping, None).await;
    let logged: Vec<Value> = [socket.message().await, socket.message().await, socket.message().await].into();

    redis.kill().await;
    let response = app.get_task(&user, &task, "").await;

    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let snapshot: Value = response.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", seq(&snapshot)));
    let same_seq = &logged[usize::try_from(seq(&snapshot)).unwrap() - 1];
    for field in ["seq", "status", "step", "current_status", "message"] {
        assert_eq!(
            snapshot[field], same_seq[field],
            "{field}: Postgres serves {snapshot}, the log had {same_seq}"
        );
    }
}

#[tokio::test]
async fn parallel_submissions_cannot_pass_the_in_flight_limit() {
    let app = spawn_app_with(&[
        ("RELAY__API__MAX_TASKS_IN_FLIGHT", "5"),
        ("RELAY__API__SUBMISSIONS_PER_MINUTE", "100"),
    ])
    .await;
    let user = TestUser::new();

    let bodies: Vec<Value> =
        (0..10).map(|n| json!({"url": video_url(&format!("9{n}")), "language": "de"})).collect();
    let submissions = bodies.iter().map(|body| app.submit(&user, body));
    let statuses: Vec<u16> =
        futures_util::future::join_all(submissions).await.iter().map(|r| r.status().as_u16()).collect();

    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5, "{statuses:?}");
}
