//! A task's state across Redis losing its data and parallel submissions: what the client sees
//! stays true and moves forward (docs/protocol.md, "Sequence numbers and resume").

use bus::Claim;
use protocol::wire::CLOSE_DONE;
use protocol::{RecipeId, Step, TaskUpdate};
use serde_json::{Value, json};

use crate::helpers::{DartSocket, TestApp, TestUser, recipe, seq, spawn_app_with, video_url};
use crate::resilience::{PrivateRedis, logged_once_redis_answers};

/// What the worker does once Postgres accepted its outcome: log the terminal event, retrying
/// across the moment Redis comes back.
async fn log_terminal(app: &TestApp, claim: &Claim, done: &TaskUpdate) -> u64 {
    logged_once_redis_answers(50, || app.bus.finish("fake-worker", claim, done, false)).await
}

/// Postgres accepts `claim`'s success with the completion numbered `seq`.
async fn succeed_in_postgres(app: &TestApp, claim: &Claim, seq: u64) -> TaskUpdate {
    let mut done = TaskUpdate::completion(claim.job.task_id, RecipeId::new(), "Soup".into());
    done.seq = seq;
    let recipe = recipe("Soup", claim.job.url.as_str());
    app.store
        .finish_success(claim.job.task_id, claim.token, &recipe, &done)
        .await
        .unwrap()
        .expect("accepted");
    done
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
    let done = succeed_in_postgres(&app, &claim, 4).await;
    assert_eq!(log_terminal(&app, &claim, &done).await, 4);

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
    succeed_in_postgres(&app, &claim, 4).await;
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
