//! The `relay` binary, run as a user would.

use std::process::Output;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use protocol::{RecipeId, TaskId, TaskUpdate};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{LIMIT, carbonara, failed, nth};

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters";

/// Runs `relay` with `args` and `env`, and none of the variables it reads from the caller's
/// environment; stdout and stderr are pipes, not terminals.
async fn relay(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_relay"));
    command.args(args).kill_on_drop(true);
    for var in ["RELAY_URL", "RELAY_TOKEN", "RELAY_LANG", "SUPABASE_JWT_SECRET", "RUST_LOG"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("relay should finish in time")
        .expect("relay runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[derive(Debug, serde::Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iat: u64,
    exp: u64,
    email: Option<String>,
}

#[tokio::test]
async fn token_refuses_without_the_secret_in_one_line() {
    let sub = Uuid::new_v4().to_string();

    let output = relay(&["token", "--sub", &sub], &[]).await;

    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "no token on stdout");
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: SUPABASE_JWT_SECRET is not set"), "{err}");
}

#[tokio::test]
async fn token_prints_a_token_the_api_would_accept() {
    let sub = Uuid::new_v4().to_string();

    let output = relay(
        &["token", "--sub", &sub, "--ttl", "30m", "--email", "cook@example.com"],
        &[("SUPABASE_JWT_SECRET", SECRET)],
    )
    .await;

    assert!(output.status.success(), "{}", stderr(&output));
    let token = stdout(&output);
    assert_eq!(token.lines().count(), 1, "only the token");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["authenticated"]);
    let claims =
        decode::<Claims>(token.trim(), &DecodingKey::from_secret(SECRET.as_bytes()).unwrap(), &validation)
            .expect("a valid HS256 token for the authenticated audience")
            .claims;
    assert_eq!(claims.sub, sub);
    assert_eq!(claims.role, "authenticated");
    assert_eq!(claims.exp - claims.iat, 1800);
    assert_eq!(claims.email.as_deref(), Some("cook@example.com"));
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let cases: [(&[&str], &str); 4] = [
        (&["token", "--sub", "not-a-uuid"], "user id must be a UUID"),
        (&["submit", "https://www.youtube.com/watch?v=1", "--token", "t"], "not a TikTok host"),
        (&["submit", "https://www.tiktok.com/@a/video/1", "--lang", "german", "--token", "t"], "BCP 47 tag"),
        (&["submit", "https://www.tiktok.com/@a/video/1"], "no access token"),
    ];
    for (args, expected) in cases {
        let output = relay(args, &[]).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
    }
}

#[tokio::test]
async fn an_unreachable_gateway_is_one_line_and_exit_2() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let id = RecipeId::new().to_string();

    let output = relay(&["recipe", &id, "--url", &url, "--token", "t"], &[]).await;

    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with("error: reading the recipe: could not reach"), "{err}");
}

/// A gateway that accepts the job and answers polls with `updates` in turn (by `since`).
async fn gateway(task: TaskId, updates: &[TaskUpdate]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/scrape/async"))
        .respond_with(ResponseTemplate::new(202).set_body_json(&updates[0]))
        .mount(&server)
        .await;
    for pair in updates.windows(2) {
        Mock::given(method("GET"))
            .and(path(format!("/task/{task}").as_str()))
            .and(query_param("since", pair[0].seq.to_string().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(&pair[1]))
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test]
async fn submit_follows_the_task_and_prints_the_recipe() {
    let (task, recipe_id) = (TaskId::new(), RecipeId::new());
    let server =
        gateway(task, &[nth(task, recipe_id, 1), nth(task, recipe_id, 4), nth(task, recipe_id, 6)]).await;
    Mock::given(method("GET"))
        .and(path(format!("/recipes/{recipe_id}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": recipe_id, "recipe": carbonara()})),
        )
        .mount(&server)
        .await;

    let output = relay(
        &["submit", "https://www.tiktok.com/@chef/video/123", "--lang", "en", "--poll"],
        &[("RELAY_URL", &server.uri()), ("RELAY_TOKEN", "t")],
    )
    .await;

    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{err}");
    for expected in [
        "Spaghetti Carbonara\n===",
        "Servings: 2",
        "200 g  Spaghetti",
        "  2. Mix with the eggs",
        "Source: https://www.tiktok.com/@chef/video/123",
    ] {
        assert!(out.contains(expected), "stdout lacks {expected:?}:\n{out}");
    }
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], format!("task {task}: https://www.tiktok.com/@chef/video/123"));
    assert_eq!(lines[1], "[0/5] Queued");
    assert_eq!(lines[2], "[3/5] Processing with AI... — details of Processing with AI...");
    assert_eq!(lines[3], "[5/5] Recipe ready");
}

#[tokio::test]
async fn submit_json_prints_the_recipe_document_and_updates_as_json_lines() {
    let (task, recipe_id) = (TaskId::new(), RecipeId::new());
    let server = gateway(task, &[nth(task, recipe_id, 1), nth(task, recipe_id, 6)]).await;
    let document = json!({"id": recipe_id, "task_id": task, "recipe": carbonara()});
    Mock::given(method("GET"))
        .and(path(format!("/recipes/{recipe_id}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(&document))
        .mount(&server)
        .await;

    let output = relay(
        &[
            "submit",
            "https://www.tiktok.com/@chef/video/123",
            "--json",
            "--poll",
            "--url",
            &server.uri(),
            "--token",
            "t",
        ],
        &[],
    )
    .await;

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).expect("stdout is one JSON document"),
        document
    );
    let updates: Vec<TaskUpdate> =
        stderr(&output).lines().map(|l| serde_json::from_str(l).expect("a JSON update per line")).collect();
    assert_eq!(updates.iter().map(|u| u.seq).collect::<Vec<_>>(), vec![1, 6]);
}

#[tokio::test]
async fn a_failed_task_exits_1_with_its_error_and_message() {
    let (task, recipe_id) = (TaskId::new(), RecipeId::new());
    let server = gateway(task, &[nth(task, recipe_id, 1), failed(task, 3)]).await;

    let output = relay(
        &[
            "submit",
            "https://www.tiktok.com/@chef/video/123",
            "--poll",
            "--url",
            &server.uri(),
            "--token",
            "t",
        ],
        &[],
    )
    .await;

    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let err = stderr(&output);
    assert_eq!(
        err.lines().last(),
        Some("error: the task failed (not_a_recipe): This video does not contain a recipe"),
        "{err}"
    );
}
