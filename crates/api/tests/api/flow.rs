//! The guide's client end to end, resume with `since`, and two gateways sharing a task.

use protocol::Step;
use protocol::wire::CLOSE_DONE;
use serde_json::{Value, json};

use crate::helpers::{DartSocket, TestUser, parse_task_progress, seq, spawn_app, video_url};

const STEPS: [Step; 4] = [Step::Preparing, Step::Scraping, Step::Extracting, Step::Saving];

#[tokio::test]
async fn the_guides_client_sees_pending_progress_and_success_with_the_types_it_casts() {
    // Arrange
    let app = spawn_app().await;
    let user = TestUser::new();
    let worker = app.worker();

    // Act: startTask
    let response =
        app.submit(&user, &json!({"url": video_url("7301234567890123456"), "language": "de"})).await;

    // Assert: 202, Location, and a body whose task_id is a String
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let started: Value = response.json().await.unwrap();
    let task_id = started["task_id"].as_str().expect("task_id is a String").to_owned();
    assert_eq!(location, format!("/task/{task_id}"));
    assert_eq!(started["status"], "PENDING");
    assert_eq!(parse_task_progress(&started).unwrap().status, "pending");

    // Act: _connectWebSocket with ?token=, heartbeat `ping`
    let mut socket = DartSocket::connect(&app, &task_id, &user.token, None).await;
    let (first, pending) = socket.progress().await;
    assert_eq!((pending.status, seq(&first)), ("pending", 1), "the first message is the current state");
    socket.send_text("ping").await;

    let claim = worker.claim().await;
    for step in STEPS {
        worker.step(&claim, step, Some("Using OpenAI to analyze frames and text")).await;
    }
    for (i, step) in STEPS.iter().enumerate() {
        let (message, progress) = socket.progress().await;
        assert_eq!(progress.status, "progress");
        assert_eq!(progress.step, i64::from(step.number()));
        assert_eq!(progress.total_steps, 5);
        assert_eq!(progress.message, step.text(), "the text comes from current_status, not status");
        assert_eq!(progress.details.as_deref(), Some("Using OpenAI to analyze frames and text"));
        assert_eq!(seq(&message), i as u64 + 2, "events arrive in order without gaps");
        assert_eq!(message["status"], "PROGRESS", "status is always the state word");
    }
    socket.send_text("ping").await;
    let recipe_id = worker.succeed(&claim, "Creamy Pasta Carbonara").await;
    let (done, completed) = socket.progress().await;

    // Assert
    assert_eq!(completed.status, "completed");
    assert_eq!(completed.recipe_id, Some(recipe_id.to_string()));
    assert_eq!(completed.recipe_name.as_deref(), Some("Creamy Pasta Carbonara"));
    assert_eq!(completed.message, "Recipe successfully processed and saved");
    assert_eq!(seq(&done), 6);
    assert_eq!(
        socket.closed().await,
        Some(CLOSE_DONE),
        "the server closes with 1000 after the terminal message"
    );
    // The HTTP fallback (_pollTaskStatus) sees the very same message.
    let snapshot: Value = app.get_task(&user, &task_id, "").await.json().await.unwrap();
    assert_eq!(snapshot, done);
}

#[tokio::test]
async fn a_socket_reopened_with_since_gets_exactly_the_missed_events() {
    // Arrange: the client saw seq 1 and 2, then lost its connection
    let app = spawn_app().await;
    let user = TestUser::new();
    let worker = app.worker();
    let task = app.start_task(&user, "11").await["task_id"].as_str().unwrap().to_owned();
    let claim = worker.claim().await;
    let mut socket = DartSocket::connect(&app, &task, &user.token, None).await;
    assert_eq!(seq(&socket.message().await), 1);
    worker.step(&claim, Step::Preparing, None).await;
    assert_eq!(seq(&socket.message().await), 2);
    drop(socket);
    worker.step(&claim, Step::Scraping, None).await;
    worker.step(&claim, Step::Extracting, None).await;

    // Act
    let mut resumed = DartSocket::connect(&app, &task, &user.token, Some(2)).await;

    // Assert: 3 and 4 replayed, then the live 5 with nothing in between, then SUCCESS and 1000
    assert_eq!(seq(&resumed.message().await), 3);
    assert_eq!(seq(&resumed.message().await), 4);
    worker.step(&claim, Step::Saving, None).await;
    let live = resumed.message().await;
    assert_eq!((seq(&live), live["step"].as_u64()), (5, Some(4)));
    worker.succeed(&claim, "Soup").await;
    assert_eq!(resumed.message().await["status"], "SUCCESS");
    assert_eq!(resumed.closed().await, Some(CLOSE_DONE));
}

#[tokio::test]
async fn since_on_a_finished_task_replays_the_rest_and_closes() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "12").await["task_id"].as_str().unwrap().to_owned();
    app.worker().complete("Soup").await;

    let mut caught_up = DartSocket::connect(&app, &task, &user.token, Some(6)).await;
    assert_eq!(caught_up.closed().await, Some(CLOSE_DONE), "nothing missed: straight to 1000");

    let mut behind = DartSocket::connect(&app, &task, &user.token, Some(4)).await;
    assert_eq!(seq(&behind.message().await), 5);
    assert_eq!(behind.message().await["status"], "SUCCESS");
    assert_eq!(behind.closed().await, Some(CLOSE_DONE));

    let mut fresh = DartSocket::connect(&app, &task, &user.token, None).await;
    let (message, progress) = fresh.progress().await;
    assert_eq!((progress.status, seq(&message)), ("completed", 6), "without since: the current state");
    assert_eq!(fresh.closed().await, Some(CLOSE_DONE));
}

#[tokio::test]
async fn two_gateways_share_one_task() {
    // Arrange: two instances behind a load balancer, one Redis, one Postgres
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let user = TestUser::new();
    let worker = a.worker();

    // Act: submitted through A, watched through both
    let task = a.start_task(&user, "21").await["task_id"].as_str().unwrap().to_owned();
    let mut on_a = DartSocket::connect(&a, &task, &user.token, None).await;
    let mut on_b = DartSocket::connect(&b, &task, &user.token, None).await;
    assert_eq!(seq(&on_a.message().await), 1);
    assert_eq!(seq(&on_b.message().await), 1);
    let (task_id, _) = worker.complete("Stew").await;
    assert_eq!(task_id.to_string(), task);

    // Assert: both see every event, in order, and both close with 1000
    for socket in [&mut on_a, &mut on_b] {
        for expected in 2..=6 {
            assert_eq!(seq(&socket.message().await), expected);
        }
        assert_eq!(socket.closed().await, Some(CLOSE_DONE));
    }
    let snapshot_b: Value = b.get_task(&user, &task, "").await.json().await.unwrap();
    assert_eq!(snapshot_b["status"], "SUCCESS");
    // Each hub counts the event it saw; both gateways record into this process's one registry.
    assert_eq!(a.metric("relay_tasks_finished_total{outcome=\"success\"}").await, 2.0);
}

#[tokio::test]
async fn a_long_poll_on_one_gateway_wakes_on_an_event_written_while_watching_another() {
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let user = TestUser::new();
    let worker = a.worker();
    let task = a.start_task(&user, "22").await["task_id"].as_str().unwrap().to_owned();
    let claim = worker.claim().await;

    let poll = {
        let url = b.url(&format!("/task/{task}?since=1&wait=20"));
        let (http, token) = (b.http.clone(), user.token.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let response = http.get(url).bearer_auth(token).send().await.unwrap();
            (started.elapsed(), response.status(), response.json::<Value>().await.unwrap())
        })
    };
    worker.step(&claim, Step::Preparing, None).await;
    let (elapsed, status, body) =
        tokio::time::timeout(crate::helpers::PATIENCE, poll).await.unwrap().unwrap();

    assert_eq!(status, 200);
    assert_eq!(seq(&body), 2);
    assert!(
        elapsed < std::time::Duration::from_secs(15),
        "answered on the event, not after wait: {elapsed:?}"
    );
}
