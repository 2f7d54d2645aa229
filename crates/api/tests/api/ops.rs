//! Health, readiness, metrics, the OpenAPI document, and tokens kept out of the logs.

use protocol::wire::PROBLEM_JSON;
use serde_json::Value;

use crate::helpers::{DartSocket, TestUser, captured_logs, hs256, now, spawn_app, user_claims};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    let ready: Value = app.http.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_documented_series() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    socket.message().await;

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();

    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for series in [
        "relay_submissions_total{outcome=\"created\"} 1",
        "relay_ws_open_sockets 1",
        "relay_ws_events_delivered_total 1",
        "relay_tasks_finished_total{outcome=\"success\"} 0",
    ] {
        assert!(text.lines().any(|l| l == series), "{series} in\n{text}");
    }
    assert!(!text.contains("relay_queue_depth"), "the worker side exports the queue sizes");
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/scrape/async", "/task/{task_id}", "/ws/{task_id}", "/recipes", "/recipes/{recipe_id}"] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_are_problem_json_404s() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
}

#[tokio::test]
async fn a_token_never_reaches_the_log_output() {
    // Arrange: tokens that will travel in the query string and in headers
    let app = spawn_app().await;
    let user = TestUser::new();
    let mut expired = user_claims(user.id);
    expired["exp"] = serde_json::json!(now() - 3600);
    let expired = hs256(&expired);
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();

    // Act: a socket with ?token=, refused sockets, polls and errors
    let mut socket = DartSocket::connect(&app, &task, &user.token, Some(0)).await;
    socket.message().await;
    socket.send_text("ping").await;
    let _ = tokio_tungstenite::connect_async(app.ws_url(&task, &expired, None)).await;
    let _ = tokio_tungstenite::connect_async(app.ws_url(&task, "garbage-token-value", None)).await;
    let _ = app.http.get(app.url(&format!("/task/{task}?token={}", user.token))).send().await;
    let _ = app.http.get(app.url(&format!("/task/{task}"))).bearer_auth(&expired).send().await;
    drop(socket);
    app.http.get(app.url("/healthz")).send().await.unwrap();

    // Assert
    let logs = captured_logs();
    assert!(logs.contains("token=[redacted]"), "the socket requests were logged, redacted");
    for token in [&user.token, &expired, &"garbage-token-value".to_owned()] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(token.as_str()), "a token reached the logs");
        assert!(!logs.contains(signature), "a token's signature reached the logs");
    }
}
