//! Per-user limits (429 + Retry-After), idempotency and de-duplication of submissions.

use protocol::wire::{IDEMPOTENCY_KEY, problems};
use serde_json::{Value, json};

use crate::helpers::{DartSocket, TestUser, spawn_app, spawn_app_with, video_url};

async fn assert_429(response: reqwest::Response, case: &str) -> Value {
    assert_eq!(response.status(), 429, "{case}");
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{case}: Retry-After {retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], problems::type_uri(problems::RATE_LIMITED), "{case}");
    body
}

#[tokio::test]
async fn submissions_beyond_the_per_minute_limit_get_429_with_retry_after() {
    let app = spawn_app_with(&[("RELAY__API__SUBMISSIONS_PER_MINUTE", "2")]).await;
    let (user, other) = (TestUser::new(), TestUser::new());
    let keyed = || {
        app.http
            .post(app.url("/scrape/async"))
            .bearer_auth(&user.token)
            .header(IDEMPOTENCY_KEY, "retry-me")
            .json(&json!({"url": video_url("1"), "language": "de"}))
            .send()
    };
    let first: Value = keyed().await.unwrap().json().await.unwrap();
    app.start_task(&user, "2").await;

    let third = app.submit(&user, &json!({"url": video_url("3"), "language": "de"})).await;
    let retry = keyed().await.unwrap();

    assert_429(third, "third submission in a minute").await;
    assert_eq!(retry.status(), 202, "a retried request is answered before the limit counts it");
    assert_eq!(retry.json::<Value>().await.unwrap()["task_id"], first["task_id"]);
    app.start_task(&other, "3").await;
}

#[tokio::test]
async fn tasks_in_flight_beyond_the_limit_get_429_until_one_finishes() {
    let app = spawn_app_with(&[("RELAY__API__MAX_TASKS_IN_FLIGHT", "1")]).await;
    let user = TestUser::new();
    let first = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();

    let second = app.submit(&user, &json!({"url": video_url("2"), "language": "de"})).await;
    let body = assert_429(second, "a second unfinished task").await;
    assert!(body["detail"].as_str().unwrap().contains("unfinished"), "{body}");

    let cancel =
        app.http.delete(app.url(&format!("/task/{first}"))).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(cancel.status(), 200);
    app.start_task(&user, "2").await;
}

#[tokio::test]
async fn sockets_beyond_the_per_user_limit_get_429() {
    let app = spawn_app_with(&[("RELAY__API__MAX_SOCKETS_PER_USER", "1")]).await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut open = DartSocket::connect(&app, &task, &user.token, None).await;
    open.message().await;

    let refused = tokio_tungstenite::connect_async(app.ws_url(&task, &user.token, None)).await;

    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("expected a 429, got {other:?}"),
    }
}

#[tokio::test]
async fn a_retried_request_with_the_same_idempotency_key_gets_the_same_task() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let send = |video: &'static str, key: &'static str| {
        app.http
            .post(app.url("/scrape/async"))
            .bearer_auth(&user.token)
            .header(IDEMPOTENCY_KEY, key)
            .json(&json!({"url": video_url(video), "language": "de"}))
            .send()
    };

    let first = send("1", "key-1").await.unwrap();
    let retry = send("1", "key-1").await.unwrap();

    assert_eq!(
        (first.status(), retry.status()),
        (reqwest::StatusCode::ACCEPTED, reqwest::StatusCode::ACCEPTED)
    );
    let (first, retry): (Value, Value) = (first.json().await.unwrap(), retry.json().await.unwrap());
    assert_eq!(first["task_id"], retry["task_id"]);
    assert_eq!(app.tasks.queue_depth().await.unwrap(), 1, "one job, not two");
    assert_eq!(app.metric("relay_submissions_total{outcome=\"replayed\"}").await, 1.0);
}

#[tokio::test]
async fn the_same_video_and_language_while_running_joins_the_running_task() {
    let app = spawn_app().await;
    let (user, other) = (TestUser::new(), TestUser::new());
    let first = app.start_task(&user, "1").await;

    let again = app.start_task(&user, "1").await;
    let other_language = app.submit(&user, &json!({"url": video_url("1"), "language": "en"})).await;
    let other_user = app.start_task(&other, "1").await;

    assert_eq!(again["task_id"], first["task_id"], "no second job for the same video");
    let other_language: Value = other_language.json().await.unwrap();
    assert_ne!(other_language["task_id"], first["task_id"], "another language is another task");
    assert_ne!(other_user["task_id"], first["task_id"], "another user's task is theirs");
    assert_eq!(app.tasks.queue_depth().await.unwrap(), 3);
    assert_eq!(app.metric("relay_submissions_total{outcome=\"joined\"}").await, 1.0);

    // Once finished, the same video may be submitted again.
    app.worker().complete("Soup").await;
    let after = app.start_task(&user, "1").await;
    assert_ne!(after["task_id"], first["task_id"]);
}

#[tokio::test]
async fn a_key_retried_after_joining_names_the_running_task() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let running = app.start_task(&user, "1").await;

    let keyed = || {
        app.http
            .post(app.url("/scrape/async"))
            .bearer_auth(&user.token)
            .header(IDEMPOTENCY_KEY, "join-key")
            .json(&json!({"url": video_url("1"), "language": "de"}))
            .send()
    };
    let joined: Value = keyed().await.unwrap().json().await.unwrap();
    let retried: Value = keyed().await.unwrap().json().await.unwrap();

    assert_eq!(joined["task_id"], running["task_id"]);
    assert_eq!(retried["task_id"], running["task_id"], "the key was rebound to the running task");
}
