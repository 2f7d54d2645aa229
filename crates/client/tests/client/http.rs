//! The HTTP side against wiremock: submit, polling, handshake refusals, recipes, cancel.

use std::time::Duration;

use client::ClientError;
use protocol::wire::{IDEMPOTENCY_KEY, JSON, JSON_LD, PROBLEM_JSON, problems};
use protocol::{Language, RecipeId, TaskId, TaskUpdate, TikTokUrl};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{LIMIT, TOKEN, carbonara, client, collect, failed, nth, problem, seqs};

fn link() -> TikTokUrl {
    TikTokUrl::parse("https://www.tiktok.com/@chef/video/123").unwrap()
}

fn de() -> Language {
    Language::parse("de").unwrap()
}

fn pending(task: TaskId) -> TaskUpdate {
    let mut update = TaskUpdate::pending(task);
    update.seq = 1;
    update
}

fn key_of(request: &Request) -> String {
    request.headers.get(IDEMPOTENCY_KEY).expect("an Idempotency-Key header").to_str().unwrap().to_owned()
}

async fn requests_to(server: &MockServer, prefix: &str) -> Vec<Request> {
    let all = server.received_requests().await.expect("recording is on");
    all.into_iter().filter(|r| r.url.path().starts_with(prefix)).collect()
}

#[tokio::test]
async fn submit_retries_a_503_with_the_same_idempotency_key() {
    let server = MockServer::start().await;
    let task = TaskId::new();
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .respond_with(ResponseTemplate::new(503).set_body_json(problem(
            503,
            problems::UNAVAILABLE,
            "retry shortly",
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(202).set_body_json(pending(task)))
        .mount(&server)
        .await;

    let update = tokio::time::timeout(LIMIT, client(&server.uri(), false).submit(&link(), &de()))
        .await
        .unwrap()
        .expect("the retry succeeds");

    assert_eq!((update.task_id, update.seq), (task, 1));
    let requests = requests_to(&server, "/scrape").await;
    assert_eq!(requests.len(), 2, "one failure, one retry");
    let keys: Vec<String> = requests.iter().map(key_of).collect();
    assert_eq!(keys[0], keys[1], "the retry must carry the first attempt's key");
    Uuid::parse_str(&keys[0]).expect("the key is a UUID");
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(body, json!({"url": "https://www.tiktok.com/@chef/video/123", "language": "de"}));
}

#[tokio::test]
async fn a_submit_that_timed_out_is_retried_with_the_same_key() {
    let server = MockServer::start().await;
    let task = TaskId::new();
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(pending(task)).set_delay(Duration::from_secs(5)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .respond_with(ResponseTemplate::new(200).set_body_json(pending(task)))
        .mount(&server)
        .await;
    let mut config = client(&server.uri(), false).config().clone();
    config.request_timeout = Duration::from_millis(300);
    let client = client::Client::new(config).unwrap();

    let update = tokio::time::timeout(LIMIT, client.submit(&link(), &de())).await.unwrap().expect("joined");

    assert_eq!(update.task_id, task);
    let keys: Vec<String> = requests_to(&server, "/scrape").await.iter().map(key_of).collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the server can join the job the timed-out attempt started");
}

#[tokio::test]
async fn a_409_for_a_key_still_in_progress_is_retried_with_the_same_key() {
    let server = MockServer::start().await;
    let task = TaskId::new();
    let busy =
        problem(409, problems::CONFLICT, "a request with this Idempotency-Key is still being processed");
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .respond_with(ResponseTemplate::new(409).set_body_json(busy))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .respond_with(ResponseTemplate::new(202).set_body_json(pending(task)))
        .mount(&server)
        .await;

    let update = tokio::time::timeout(LIMIT, client(&server.uri(), false).submit(&link(), &de()))
        .await
        .unwrap()
        .expect("joined");

    assert_eq!(update.task_id, task);
    let keys: Vec<String> = requests_to(&server, "/scrape").await.iter().map(key_of).collect();
    assert_eq!((keys.len(), &keys[0]), (2, &keys[1]));
}

#[tokio::test]
async fn two_submits_use_two_keys() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .respond_with(ResponseTemplate::new(202).set_body_json(pending(TaskId::new())))
        .mount(&server)
        .await;
    let client = client(&server.uri(), false);

    client.submit(&link(), &de()).await.unwrap();
    client.submit(&link(), &de()).await.unwrap();

    let keys: Vec<String> = requests_to(&server, "/scrape").await.iter().map(key_of).collect();
    assert_ne!(keys[0], keys[1]);
}

#[tokio::test]
async fn submit_does_not_retry_refusals() {
    let cases = [
        (401, problems::UNAUTHORIZED, "the access token has expired; refresh the session and retry"),
        (422, problems::INVALID_URL, "not a TikTok video link"),
        (429, problems::RATE_LIMITED, "at most 10 jobs per minute"),
    ];
    for (status, kind, detail) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/scrape/async"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_raw(problem(status, kind, detail).to_string(), PROBLEM_JSON),
            )
            .mount(&server)
            .await;

        let err = client(&server.uri(), false).submit(&link(), &de()).await.unwrap_err();

        assert_eq!(err.status(), Some(status), "{kind}");
        assert_eq!(err.problem().and_then(|p| p.detail.as_deref()), Some(detail), "{kind}");
        assert!(err.to_string().contains(detail), "{kind}: {err}");
        if status == 401 {
            assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");
        }
        assert_eq!(requests_to(&server, "/scrape").await.len(), 1, "{kind}: no retry");
    }
}

#[tokio::test]
async fn polling_yields_each_new_snapshot_once_and_stops_after_the_terminal_one() {
    let server = MockServer::start().await;
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let task_path = format!("/task/{task}");
    let answer = |since: &str, update: TaskUpdate| {
        Mock::given(method("GET"))
            .and(path(task_path.as_str()))
            .and(query_param("since", since))
            .and(query_param("wait", "25"))
            .respond_with(ResponseTemplate::new(200).set_body_json(update))
    };
    answer("0", nth(task, recipe, 1)).mount(&server).await;
    // Several steps happened during one poll: only the latest snapshot is seen.
    answer("1", nth(task, recipe, 3)).mount(&server).await;
    // The wait ran out with nothing new: the same snapshot again, then the end.
    answer("3", nth(task, recipe, 3)).up_to_n_times(1).with_priority(1).mount(&server).await;
    answer("3", nth(task, recipe, 6)).mount(&server).await;

    let items = collect(client(&server.uri(), true).watch(task)).await;

    assert_eq!(seqs(&items), vec![1, 3, 6]);
    assert_eq!(requests_to(&server, "/task").await.len(), 4, "no poll after the terminal snapshot");
    assert!(requests_to(&server, "/ws").await.is_empty(), "force_polling never opens the socket");
}

#[tokio::test]
async fn polling_ends_with_an_error_item_on_401_and_404() {
    for status in [401, 404] {
        let server = MockServer::start().await;
        let task = TaskId::new();
        Mock::given(method("GET"))
            .and(path_regex("^/task/"))
            .respond_with(ResponseTemplate::new(status).set_body_json(problem(status, "refused", "no")))
            .mount(&server)
            .await;

        let items = collect(client(&server.uri(), true).watch(task)).await;

        assert_eq!(items.len(), 1, "{status}: one error item, then the end");
        match (status, &items[0]) {
            (401, Err(ClientError::Unauthorized { .. })) | (404, Err(ClientError::NotFound { .. })) => {}
            (_, other) => panic!("{status}: unexpected {other:?}"),
        }
        assert_eq!(requests_to(&server, "/task").await.len(), 1, "{status}: not polled again");
    }
}

/// Mounts `GET /ws/{task}` answering `status` with a problem document.
async fn refuse_socket(server: &MockServer, task: TaskId, status: u16, detail: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/ws/{task}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_json(problem(status, "refused", detail)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_401_handshake_ends_the_watch_without_polling() {
    let server = MockServer::start().await;
    let task = TaskId::new();
    refuse_socket(&server, task, 401, "the access token has expired").await;

    let items = collect(client(&server.uri(), false).watch(task)).await;

    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Err(ClientError::Unauthorized { .. })), "{:?}", items[0]);
    let handshakes = requests_to(&server, "/ws").await;
    assert_eq!(handshakes.len(), 1, "no reconnect");
    let query: Vec<(String, String)> = handshakes[0].url.query_pairs().into_owned().collect();
    assert_eq!(query, vec![("token".into(), TOKEN.into()), ("since".into(), "0".into())]);
    assert!(requests_to(&server, "/task").await.is_empty(), "a refused token is not a reason to poll");
}

#[tokio::test]
async fn a_404_handshake_confirmed_by_a_poll_ends_the_watch() {
    let server = MockServer::start().await;
    let task = TaskId::new();
    refuse_socket(&server, task, 404, "no task with this id belongs to you").await;
    Mock::given(method("GET"))
        .and(path(format!("/task/{task}").as_str()))
        .respond_with(ResponseTemplate::new(404).set_body_json(problem(
            404,
            problems::NOT_FOUND,
            "no task with this id",
        )))
        .mount(&server)
        .await;

    let items = collect(client(&server.uri(), false).watch(task)).await;

    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Err(ClientError::NotFound { .. })), "{:?}", items[0]);
    assert_eq!(requests_to(&server, "/ws").await.len(), 1, "no reconnect");
    assert_eq!(requests_to(&server, "/task").await.len(), 1, "one poll to confirm, no more");
}

#[tokio::test]
async fn a_gateway_without_sockets_is_followed_by_polling_alone() {
    let server = MockServer::start().await;
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    refuse_socket(&server, task, 404, "sockets are disabled here; poll GET /task/{id} instead").await;
    for (since, seq) in [("0", 2), ("2", 6)] {
        Mock::given(method("GET"))
            .and(path(format!("/task/{task}").as_str()))
            .and(query_param("since", since))
            .respond_with(ResponseTemplate::new(200).set_body_json(nth(task, recipe, seq)))
            .mount(&server)
            .await;
    }

    let items = collect(client(&server.uri(), false).watch(task)).await;

    assert_eq!(seqs(&items), vec![2, 6]);
    assert_eq!(requests_to(&server, "/ws").await.len(), 1, "the socket is not tried again");
}

#[tokio::test]
async fn a_failing_socket_falls_back_to_polling() {
    let server = MockServer::start().await;
    let task = TaskId::new();
    Mock::given(method("GET"))
        .and(path(format!("/ws/{task}").as_str()))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/task/{task}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(failed(task, 4)))
        .mount(&server)
        .await;

    let items = collect(client(&server.uri(), false).watch(task)).await;

    assert_eq!(seqs(&items), vec![4]);
    assert!(!requests_to(&server, "/ws").await.is_empty(), "the socket was tried first");
}

#[tokio::test]
async fn a_garbled_snapshot_is_an_error_item_and_polling_goes_on() {
    let server = MockServer::start().await;
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    Mock::given(method("GET"))
        .and(path(format!("/task/{task}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>proxy error</html>", "text/html"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/task/{task}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(nth(task, recipe, 6)))
        .mount(&server)
        .await;

    let items = collect(client(&server.uri(), true).watch(task)).await;

    assert_eq!(items.len(), 2);
    assert!(
        matches!(&items[0], Err(ClientError::Protocol(text)) if text.contains("proxy error")),
        "{:?}",
        items[0]
    );
    assert_eq!(items[1].as_ref().unwrap().seq, 6);
}

#[tokio::test]
async fn the_recipe_is_read_flattened_nested_or_bare() {
    let recipe = carbonara();
    let bare = serde_json::to_value(&recipe).unwrap();
    // The gateway's shape: the recipe's fields beside its ids and time.
    let mut flattened =
        json!({"id": RecipeId::new(), "task_id": TaskId::new(), "created_at": "2025-01-01T00:00:00Z"});
    flattened.as_object_mut().unwrap().extend(bare.as_object().unwrap().clone());
    let nested = json!({"id": RecipeId::new(), "recipe": recipe});
    for document in [flattened, nested, bare] {
        let server = MockServer::start().await;
        let id = RecipeId::new();
        Mock::given(method("GET"))
            .and(path(format!("/recipes/{id}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(&document))
            .mount(&server)
            .await;
        let client = client(&server.uri(), false);

        assert_eq!(client.recipe(id).await.unwrap(), recipe);
        assert_eq!(client.recipe_document(id).await.unwrap(), document);
    }
}

#[tokio::test]
async fn json_ld_comes_from_the_server_or_is_built_locally() {
    let server = MockServer::start().await;
    let (served, refused) = (RecipeId::new(), RecipeId::new());
    let ld = json!({"@context": "https://schema.org", "@type": "Recipe", "name": "From the server"});
    Mock::given(method("GET"))
        .and(path(format!("/recipes/{served}").as_str()))
        .and(header("accept", JSON_LD))
        .respond_with(ResponseTemplate::new(200).set_body_json(&ld))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/recipes/{refused}").as_str()))
        .and(header("accept", JSON_LD))
        .respond_with(ResponseTemplate::new(406).set_body_json(problem(406, "not-acceptable", "json only")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/recipes/{refused}").as_str()))
        .and(header("accept", JSON))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipe": carbonara()})))
        .mount(&server)
        .await;
    let client = client(&server.uri(), false);

    assert_eq!(client.recipe_json_ld(served).await.unwrap(), ld);
    assert_eq!(client.recipe_json_ld(refused).await.unwrap(), carbonara().to_json_ld());
}

#[tokio::test]
async fn cancel_returns_the_new_snapshot_or_the_refusal() {
    let server = MockServer::start().await;
    let (running, finished, bodiless) = (TaskId::new(), TaskId::new(), TaskId::new());
    let mut cancelled = TaskUpdate::failure(running, 2, "cancelled", "Task was cancelled");
    cancelled.timestamp = crate::exact_timestamp(3);
    Mock::given(method("DELETE"))
        .and(path(format!("/task/{running}").as_str()))
        .respond_with(ResponseTemplate::new(202).set_body_json(&cancelled))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/task/{finished}").as_str()))
        .respond_with(ResponseTemplate::new(409).set_body_json(problem(
            409,
            problems::CONFLICT,
            "the task has finished",
        )))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/task/{bodiless}").as_str()))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = client(&server.uri(), false);

    assert_eq!(client.cancel(running).await.unwrap(), Some(cancelled));
    assert_eq!(client.cancel(bodiless).await.unwrap(), None);
    let err = client.cancel(finished).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("the task has finished"), "{err}");
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_is_kept() {
    let server = MockServer::start().await;
    let task = TaskId::new();
    Mock::given(method("GET"))
        .and(path(format!("/relay/task/{task}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(failed(task, 2)))
        .mount(&server)
        .await;

    for base in [format!("{}/relay", server.uri()), format!("{}/relay/", server.uri())] {
        assert_eq!(client(&base, true).task(task).await.unwrap().seq, 2, "{base}");
        let socket = client(&base, false).socket_url(task, 7);
        assert_eq!(socket.scheme(), "ws");
        assert_eq!(socket.path(), format!("/relay/ws/{task}"));
        assert_eq!(socket.query(), Some(format!("token={TOKEN}&since=7").as_str()));
    }
}
