//! `spawn_app()` and the test doubles: users with tokens, a worker that writes events the way
//! the real one does, and a socket client that parses messages the way the guide's Dart client
//! does.

use std::io::Write;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use api::Application;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use protocol::{Ingredient, Recipe, RecipeId, RecipeSource, Step, TaskId, TaskUpdate, UserId};
use serde_json::{Value, json};
use settings::{Role, Settings};
use tasks::{Attempt, Start, Tasks, Written};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The HS256 secret every test gateway trusts.
pub(crate) const JWT_SECRET: &str = "test-only-jwt-secret-with-more-than-32-characters";
/// How long any single await in a test may take before the test fails instead of hanging.
pub(crate) const PATIENCE: Duration = Duration::from_secs(15);

/// Everything the gateway logged, from every test of this binary (one global subscriber).
static LOGS: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(|| Mutex::new(Vec::new()));
static INIT_LOGS: std::sync::Once = std::sync::Once::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        if let Some(path) = std::env::var_os("TEST_LOG_FILE") {
            std::fs::OpenOptions::new().create(true).append(true).open(path)?.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber at debug level (TEST_LOG=1 also echoes it to stderr,
/// TEST_LOG_FILE=path appends it to a file).
fn init_logs() {
    INIT_LOGS.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new(
            "debug,sqlx=warn,hyper=info,hyper_util=info,reqwest=info,tungstenite=info,tokio_tungstenite=info,h2=info,rustls=info,mio=info,wiremock=info",
        );
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| Capture).try_init();
    });
}

/// Everything logged so far, by every test.
pub(crate) fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}

/// A running gateway and handles on the Redis and Postgres it uses.
pub(crate) struct TestApp {
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) http: reqwest::Client,
    pub(crate) tasks: Tasks,
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A gateway on port 0 with a fresh database and key prefix.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra settings (`RELAY__API__...`, `SUPABASE_JWKS_URL`, ...).
pub(crate) async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    init_logs();
    let mut vars: Vec<(String, String)> = vec![
        ("REDIS_URL".into(), testkit::redis_url()),
        ("DATABASE_URL".into(), testkit::fresh_database_url().await),
        ("SUPABASE_JWT_SECRET".into(), JWT_SECRET.into()),
        ("RELAY_CONFIG_DIR".into(), "/nonexistent".into()),
        ("RELAY__API__HOST".into(), "127.0.0.1".into()),
        ("RELAY__API__PORT".into(), "0".into()),
        ("RELAY__REDIS__KEY_PREFIX".into(), testkit::unique_prefix()),
        ("RELAY__REDIS__POOL_SIZE".into(), "8".into()),
        ("RELAY__DATABASE__MAX_CONNECTIONS".into(), "4".into()),
    ];
    for (key, value) in overrides {
        vars.retain(|(k, _)| k != key);
        vars.push(((*key).into(), (*value).into()));
    }
    start(vars).await
}

async fn start(vars: Vec<(String, String)>) -> TestApp {
    let settings = Settings::load_from(Role::Api, vars.clone()).expect("test settings are valid");
    let stores = tasks::Config {
        redis_pool_size: 4,
        database_max_connections: 4,
        ..tasks::Config::from_settings(&settings)
    };
    let app = Application::build(settings).await.expect("the application builds");
    let port = app.port();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let tasks = Tasks::connect(&stores).await.expect("the task stores");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        http: reqwest::Client::builder().timeout(Duration::from_secs(45)).build().expect("client"),
        tasks,
        vars,
        shutdown,
        server: Some(server),
    }
}

impl TestApp {
    /// A second gateway on the same Redis prefix and database (a second instance behind the LB).
    pub(crate) async fn spawn_peer(&self) -> TestApp {
        start(self.vars.clone()).await
    }

    /// Stops the gateway and waits until it has.
    pub(crate) async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let result = tokio::time::timeout(PATIENCE, server).await.expect("the gateway stops in time");
            result.expect("server task").expect("server result");
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `POST /scrape/async` with a JSON body.
    pub(crate) async fn submit(&self, user: &TestUser, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/scrape/async"))
            .bearer_auth(&user.token)
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// Submits a video and returns the 202 body.
    pub(crate) async fn start_task(&self, user: &TestUser, video: &str) -> Value {
        let response = self.submit(user, &json!({"url": video_url(video), "language": "de"})).await;
        assert_eq!(response.status(), 202, "submission accepted");
        response.json().await.expect("JSON body")
    }

    /// `GET /task/{id}` (with an optional query string).
    pub(crate) async fn get_task(&self, user: &TestUser, task: &str, query: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/task/{task}{query}")))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("GET")
    }

    /// The task's snapshot once this gateway has seen an event after `since` (a long-poll):
    /// a plain GET answers what the gateway's event feed has brought so far, which may trail
    /// a write the test made to Redis itself by the feed's delivery.
    pub(crate) async fn snapshot_after(&self, user: &TestUser, task: &str, since: u64) -> Value {
        let response = self.get_task(user, task, &format!("?since={since}&wait=10")).await;
        assert_eq!(response.status(), 200);
        let snapshot: Value = response.json().await.expect("JSON body");
        assert!(snapshot["seq"].as_u64() > Some(since), "no event after {since} within 10 s: {snapshot}");
        snapshot
    }

    /// The socket URL the guide's client builds: `ws://host/ws/{task}?token=...`.
    pub(crate) fn ws_url(&self, task: &str, token: &str, since: Option<u64>) -> String {
        let since = since.map(|s| format!("&since={s}")).unwrap_or_default();
        format!("ws://127.0.0.1:{}/ws/{task}?token={token}{since}", self.port)
    }

    /// The value of one metric line (`name{labels}`), or 0 when absent.
    pub(crate) async fn metric(&self, series: &str) -> f64 {
        let text =
            self.http.get(self.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0.0, |v| v.parse().expect("a number"))
    }

    /// A worker on this gateway's Redis and Postgres.
    pub(crate) fn worker(&self) -> FakeWorker {
        FakeWorker { tasks: self.tasks.clone(), id: format!("worker-{}", Uuid::new_v4()) }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A TikTok link for a numeric video id.
pub(crate) fn video_url(video: &str) -> String {
    format!("https://www.tiktok.com/@chef/video/{video}")
}

/// A signed-in user.
pub(crate) struct TestUser {
    pub(crate) id: UserId,
    pub(crate) token: String,
}

impl TestUser {
    pub(crate) fn new() -> Self {
        let id = UserId::from_uuid(Uuid::new_v4());
        Self { id, token: hs256(&user_claims(id)) }
    }
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// The claims of a Supabase access token for `user`.
pub(crate) fn user_claims(user: UserId) -> Value {
    json!({
        "sub": user.to_string(), "aud": "authenticated", "role": "authenticated",
        "iss": "https://project.supabase.co/auth/v1", "iat": now(), "exp": now() + 3600,
        "email": "cook@example.com"
    })
}

/// Signs claims with the gateway's HS256 secret.
pub(crate) fn hs256(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()).expect("HMAC key"),
    )
    .expect("sign")
}

/// Signs claims with one of the committed ES256 test keys (`tests/keys/<kid>.private.pem`).
pub(crate) fn es256(kid: &str, claims: &Value) -> String {
    let pem = std::fs::read(format!("{}/tests/keys/{kid}.private.pem", env!("CARGO_MANIFEST_DIR")))
        .expect("test key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_pem(&pem).expect("EC key")).expect("sign")
}

/// The public JWK of a committed test key.
pub(crate) fn jwk(kid: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/tests/keys/{kid}.jwk.json", env!("CARGO_MANIFEST_DIR")))
        .expect("test JWK");
    serde_json::from_str(&text).expect("JWK JSON")
}

/// Writes events as the real worker does, through the lifecycle service.
pub(crate) struct FakeWorker {
    tasks: Tasks,
    id: String,
}

impl FakeWorker {
    /// Takes the next queued job, in Redis and Postgres (its first event is not logged yet:
    /// the test's own Preparing step is).
    pub(crate) async fn claim(&self) -> Attempt {
        let claim = tokio::time::timeout(
            PATIENCE,
            self.tasks.claim(&self.id, Duration::from_secs(5), Duration::from_secs(60)),
        )
        .await
        .expect("claim in time")
        .expect("claim")
        .expect("a queued job");
        match self.tasks.start(self.id.as_str().into(), claim, None).await.expect("claim in Postgres") {
            Start::Running(attempt) => *attempt,
            other => panic!("the task cannot run: {other:?}"),
        }
    }

    /// Logs a progress event; returns its seq.
    pub(crate) async fn step(&self, claim: &Attempt, step: Step, details: Option<&str>) -> u64 {
        let update = TaskUpdate::progress(claim.task(), step, details.map(str::to_owned));
        self.publish(claim, &update).await
    }

    /// Logs any non-terminal update; returns its seq.
    pub(crate) async fn publish(&self, claim: &Attempt, update: &TaskUpdate) -> u64 {
        match claim.progress(update.clone()).await.expect("publish") {
            Written::Logged(event) => event.seq,
            other => panic!("the worker's write was refused: {other:?}"),
        }
    }

    /// Saves a recipe and logs SUCCESS; returns the recipe id.
    pub(crate) async fn succeed(&self, claim: &Attempt, title: &str) -> RecipeId {
        self.succeed_with(claim, &recipe(title, claim.job().url.as_str())).await
    }

    /// Saves the given recipe and logs SUCCESS; returns the recipe id.
    pub(crate) async fn succeed_with(&self, claim: &Attempt, recipe: &Recipe) -> RecipeId {
        let completion = TaskUpdate::completion(claim.task(), RecipeId::new(), recipe.title.clone());
        claim.succeed(recipe, completion).await.expect("finish").expect("the claim still holds")
    }

    /// Runs a whole job: claim, the four steps, success.
    pub(crate) async fn complete(&self, title: &str) -> (TaskId, RecipeId) {
        let claim = self.claim().await;
        for step in [Step::Preparing, Step::Scraping, Step::Extracting, Step::Saving] {
            self.step(&claim, step, None).await;
        }
        (claim.task(), self.succeed(&claim, title).await)
    }

    /// Runs a whole job that ends with the given recipe.
    pub(crate) async fn complete_with(&self, recipe: &Recipe) -> RecipeId {
        let claim = self.claim().await;
        for step in [Step::Preparing, Step::Scraping, Step::Extracting, Step::Saving] {
            self.step(&claim, step, None).await;
        }
        self.succeed_with(&claim, recipe).await
    }
}

/// A small recipe.
pub(crate) fn recipe(title: &str, url: &str) -> Recipe {
    Recipe {
        title: title.into(),
        description: Some("Quick and creamy.".into()),
        servings: Some(2),
        prep_minutes: Some(10),
        cook_minutes: Some(15),
        total_minutes: Some(25),
        ingredients: vec![Ingredient {
            raw: "200 g Spaghetti".into(),
            quantity: Some(200.0),
            unit: Some("g".into()),
            name: "Spaghetti".into(),
            ..Ingredient::default()
        }],
        steps: vec!["Cook the pasta.".into(), "Mix with eggs.".into()],
        tags: vec!["pasta".into()],
        source: RecipeSource { url: url.into(), video_id: None, author: Some("chef".into()) },
        cover_url: None,
        language: "de".into(),
    }
}

/// What the guide's `_parseTaskProgress` builds from a message. Building it performs the casts
/// Dart performs and panics where Dart would throw a TypeError.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskProgress {
    pub(crate) status: &'static str,
    pub(crate) step: i64,
    pub(crate) total_steps: i64,
    pub(crate) message: String,
    pub(crate) details: Option<String>,
    pub(crate) recipe_id: Option<String>,
    pub(crate) recipe_name: Option<String>,
    pub(crate) error: Option<String>,
}

fn string_or_null(data: &Value, key: &str) -> Option<String> {
    match data.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => panic!("Dart casts {key} to String?, got {other}"),
    }
}

fn int_or(data: &Value, key: &str, default: i64) -> i64 {
    match data.get(key) {
        None | Some(Value::Null) => default,
        Some(v) => v.as_i64().unwrap_or_else(|| panic!("Dart needs an int for {key}, got {v}")),
    }
}

/// The guide's `_parseTaskProgress`, line by line. `None` where Dart prints "Unknown task status".
pub(crate) fn parse_task_progress(data: &Value) -> Option<TaskProgress> {
    let status = string_or_null(data, "status");
    let base = TaskProgress {
        status: "",
        step: 0,
        total_steps: 5,
        message: String::new(),
        details: None,
        recipe_id: None,
        recipe_name: None,
        error: None,
    };
    match status.as_deref() {
        Some("PENDING") => Some(TaskProgress {
            status: "pending",
            message: string_or_null(data, "message")
                .unwrap_or_else(|| "Task is waiting to be processed".into()),
            ..base
        }),
        Some("PROGRESS") => Some(TaskProgress {
            status: "progress",
            step: int_or(data, "step", 0),
            total_steps: int_or(data, "total_steps", 5),
            message: string_or_null(data, "current_status")
                .or_else(|| string_or_null(data, "status"))
                .unwrap_or_else(|| "Processing...".into()),
            details: string_or_null(data, "details"),
            ..base
        }),
        Some("SUCCESS") => Some(TaskProgress {
            status: "completed",
            step: 5,
            total_steps: 5,
            message: string_or_null(data, "message")
                .unwrap_or_else(|| "Recipe successfully processed".into()),
            recipe_id: string_or_null(data, "recipe_id"),
            recipe_name: string_or_null(data, "recipe_name"),
            ..base
        }),
        Some("FAILURE") => Some(TaskProgress {
            status: "failed",
            message: "Task failed".into(),
            error: data
                .get("error")
                .filter(|e| !e.is_null())
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)),
            ..base
        }),
        _ => None,
    }
}

/// A socket client that behaves like the guide's `WebSocketTaskService`.
pub(crate) struct DartSocket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the socket yielded next.
#[derive(Debug)]
pub(crate) enum Received {
    /// A text message, parsed as JSON.
    Json(Value),
    /// The server's close frame code (None: closed without a frame).
    Closed(Option<u16>),
    /// The connection broke without a close frame.
    Broken(String),
}

impl DartSocket {
    /// Opens `ws://.../ws/{task}?token=...` and expects the upgrade to succeed.
    pub(crate) async fn connect(app: &TestApp, task: &str, token: &str, since: Option<u64>) -> Self {
        let (stream, response) =
            tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(app.ws_url(task, token, since)))
                .await
                .expect("connect in time")
                .expect("the upgrade succeeds");
        assert_eq!(response.status(), 101);
        Self { stream }
    }

    /// The next message or close (pings and pongs are skipped, as the browser does).
    pub(crate) async fn receive(&mut self) -> Received {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("a frame in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Received::Json(serde_json::from_str(&text).expect("every message is JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    // Complete the closing handshake, as browsers and web_socket_channel do.
                    let _ = self.stream.close(None).await;
                    return Received::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Binary(_))) => panic!("the server never sends binary"),
                Some(Err(error)) => return Received::Broken(error.to_string()),
                None => return Received::Closed(None),
            }
        }
    }

    /// The next message, which must be JSON.
    pub(crate) async fn message(&mut self) -> Value {
        match self.receive().await {
            Received::Json(value) => value,
            Received::Closed(code) => panic!("expected a message, the socket closed with {code:?}"),
            Received::Broken(error) => panic!("expected a message, the socket broke: {error}"),
        }
    }

    /// The next message as the Dart client parses it.
    pub(crate) async fn progress(&mut self) -> (Value, TaskProgress) {
        let value = self.message().await;
        let progress = parse_task_progress(&value).unwrap_or_else(|| panic!("Dart ignores {value}"));
        (value, progress)
    }

    /// Waits for the server's close frame and returns its code.
    pub(crate) async fn closed(&mut self) -> Option<u16> {
        match self.receive().await {
            Received::Closed(code) => code,
            Received::Broken(error) => panic!("expected the close, the socket broke: {error}"),
            Received::Json(value) => panic!("expected the close, got {value}"),
        }
    }

    /// Sends a text frame (the guide's heartbeat sends `ping`).
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::Text(text.into())).await.expect("send");
    }

    /// Sends a binary frame.
    pub(crate) async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream.send(Message::Binary(bytes.into())).await.expect("send");
    }
}

/// The seq of a message.
pub(crate) fn seq(value: &Value) -> u64 {
    value["seq"].as_u64().unwrap_or_else(|| panic!("message without seq: {value}"))
}
