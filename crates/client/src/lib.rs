//! Rust client of the recipe-relay gateway, and the `relay` command line built on it.
//!
//! [`Client`] speaks the gateway's protocol (`docs/protocol.md`):
//!
//! - [`Client::submit`] starts a scrape job (`POST /scrape/async`) with a fresh
//!   `Idempotency-Key`, retrying network failures and 5xx answers with the *same* key, so a retry
//!   after a timeout joins the job the first attempt started instead of starting a second one.
//! - [`Client::watch`] follows a task until SUCCESS or FAILURE. It is the Rust counterpart of the
//!   Flutter app's `WebSocketTaskService` (docs/protocol.md), with its gaps closed: the socket is primary and
//!   resumes with `?since=` after every reconnect (exponential backoff with full jitter), the
//!   long-poll `GET /task/{id}?since=&wait=` covers the time the socket is down, and every `seq`
//!   is handed out exactly once, in order, whichever transport delivered it.
//! - [`Client::recipe`], [`Client::recipe_json_ld`] (each also for a [`View`]: scaled to other
//!   servings, converted to metric or US units), [`Client::shopping_list`] and
//!   [`Client::cancel`] cover the rest.
//!
//! Every request carries the user's Supabase access token (`Authorization: Bearer`, or
//! `?token=` on the socket, where browsers cannot set headers). Errors are [`ClientError`]s,
//! with the server's `application/problem+json` document when it sent one.

mod error;
mod message;
mod sequence;
mod watch;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use protocol::wire::{JSON, JSON_LD};
use protocol::{Language, Problem, Recipe, RecipeId, ScrapeRequest, TaskId, TaskUpdate, TikTokUrl};
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize as _;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

pub use error::{BoxError, ClientError};
pub use ingredients::{ShoppingItem, UnitSystem};
pub use message::decode_message;
pub use protocol::Backoff;
pub use sequence::SeqFilter;
pub use watch::{CLOSE_TOKEN_EXPIRED, Watch};

use message::{decode_update, excerpt};

/// The header that makes `POST /scrape/async` safe to retry.
pub use protocol::wire::IDEMPOTENCY_KEY;

/// How long the server may hold one long-poll before answering with the unchanged snapshot.
pub const POLL_WAIT: Duration = Duration::from_secs(25);

/// Attempts of one submit: the first and up to three retries.
const SUBMIT_ATTEMPTS: u32 = 4;

/// How to show a recipe: scaled to other servings and/or converted to a unit system. The
/// default is the recipe as saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    /// Scale every quantity to this many servings (1 to 100).
    pub servings: Option<u32>,
    /// Convert volumes, masses and oven temperatures.
    pub units: Option<UnitSystem>,
}

/// The answer of `POST /shopping-list`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShoppingList {
    /// Merged items, in the order their food first appears.
    pub items: Vec<ShoppingItem>,
    /// The recipes it was made from, in the order they were asked for.
    pub recipes: Vec<ListedRecipe>,
}

/// A recipe a shopping list was made from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ListedRecipe {
    /// Recipe id.
    pub id: RecipeId,
    /// Its title.
    pub title: String,
    /// The servings the list counts (absent when the recipe names none).
    #[serde(default)]
    pub servings: Option<u32>,
}

/// The query-parameter spelling of a unit system.
fn units_name(units: UnitSystem) -> &'static str {
    match units {
        UnitSystem::Metric => "metric",
        UnitSystem::Us => "us",
    }
}

/// Where the gateway is and how to talk to it.
#[derive(Clone)]
pub struct ClientConfig {
    /// The gateway's base URL (`http://127.0.0.1:8000`, `https://relay.example.com/api/`). The
    /// socket URL is derived from it (`ws://` or `wss://`, same host and path prefix).
    pub base_url: Url,
    /// The user's Supabase access token (a JWT).
    pub token: String,
    /// Limit for opening a connection (TCP + TLS), and for the whole socket handshake.
    pub connect_timeout: Duration,
    /// Limit for one request; a long-poll gets [`POLL_WAIT`] on top.
    pub request_timeout: Duration,
    /// Never open the socket; watch by long-polling only.
    pub force_polling: bool,
    /// A watch gives up with [`ClientError::Offline`] after this long without any contact with
    /// the server (no socket and every poll failing).
    pub offline_limit: Duration,
}

impl ClientConfig {
    /// A configuration with the defaults: 10 s to connect, 30 s per request, socket first, give
    /// up after 2 minutes without contact.
    pub fn new(base_url: Url, token: impl Into<String>) -> Self {
        Self {
            base_url,
            token: token.into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            force_polling: false,
            offline_limit: Duration::from_secs(120),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a credential: never in a log line.
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("force_polling", &self.force_polling)
            .field("offline_limit", &self.offline_limit)
            .finish()
    }
}

/// A handle to the gateway; cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
}

impl Client {
    /// Builds a client.
    ///
    /// # Errors
    /// [`ClientError::Config`] when the base URL is not http(s) or the token cannot be sent in a
    /// header.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        if !matches!(config.base_url.scheme(), "http" | "https") || config.base_url.cannot_be_a_base() {
            return Err(ClientError::Config(format!(
                "the base URL must start with http:// or https://, got {}",
                config.base_url
            )));
        }
        if HeaderValue::from_str(&format!("Bearer {}", config.token)).is_err() {
            return Err(ClientError::Config(
                "the access token contains characters a header cannot carry".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("recipe-relay-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { inner: Arc::new(Inner { http, config }) })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Starts a scrape job for `url`, written in `language`, with a fresh idempotency key.
    ///
    /// Returns the task's first snapshot (PENDING, or the current state when the server joined
    /// a task already running for the same link).
    ///
    /// # Errors
    /// [`ClientError`] from the last attempt; see [`Client::submit_with_key`].
    pub async fn submit(&self, url: &TikTokUrl, language: &Language) -> Result<TaskUpdate, ClientError> {
        self.submit_with_key(url, language, &Uuid::new_v4().to_string()).await
    }

    /// Starts a scrape job with a caller-chosen idempotency key (reuse it to retry safely later).
    ///
    /// Network failures, 5xx and 409 ("a request with this key is still being processed") are
    /// retried up to three times, after a jittered backoff, with the same key; anything else is
    /// returned at once.
    ///
    /// # Errors
    /// [`ClientError::Unauthorized`] for a bad token, [`ClientError::Http`] (422 with the reason
    /// for a link or language the server refuses, 429 when rate limited), or the last transient
    /// error when every attempt failed.
    #[tracing::instrument(skip_all, fields(url = %url))]
    pub async fn submit_with_key(
        &self,
        url: &TikTokUrl,
        language: &Language,
        idempotency_key: &str,
    ) -> Result<TaskUpdate, ClientError> {
        let body = ScrapeRequest { url: url.to_string(), language: language.to_string() };
        let endpoint = self.endpoint(&["scrape", "async"]);
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            let request = self
                .request(Method::POST, endpoint.clone())
                .header(IDEMPOTENCY_KEY, idempotency_key)
                .json(&body);
            let result = match self.send(request, "submitting the job").await {
                Ok(response) => read_json::<TaskUpdate>(response, "the submit response").await,
                Err(e) => Err(e),
            };
            match result {
                Err(e) if attempt < SUBMIT_ATTEMPTS && is_retryable_submit(&e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(attempt, ?delay, error = %e, "submit failed; retrying with the same key");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The task's current snapshot (`GET /task/{id}`).
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown or foreign task, others as usual.
    pub async fn task(&self, task_id: TaskId) -> Result<TaskUpdate, ClientError> {
        let request = self.request(Method::GET, self.endpoint(&["task", &task_id.to_string()]));
        let response = self.send(request, "reading the task").await?;
        read_update(response, "the task snapshot").await
    }

    /// One long-poll: the snapshot as soon as the task has an update after `since`, or after
    /// `wait` (the server caps it at 30 s) with the unchanged snapshot.
    ///
    /// # Errors
    /// As [`Client::task`]; a snapshot without `seq` is a [`ClientError::Protocol`].
    pub async fn poll(&self, task_id: TaskId, since: u64, wait: Duration) -> Result<TaskUpdate, ClientError> {
        let mut url = self.endpoint(&["task", &task_id.to_string()]);
        url.query_pairs_mut()
            .append_pair("since", &since.to_string())
            .append_pair("wait", &wait.as_secs().to_string());
        let request = self.request(Method::GET, url).timeout(wait + self.inner.config.request_timeout);
        let response = self.send(request, "polling the task").await?;
        read_update(response, "the task snapshot").await
    }

    /// Follows the task from its start until SUCCESS or FAILURE; see [`Watch`].
    pub fn watch(&self, task_id: TaskId) -> Watch {
        self.watch_from(task_id, 0)
    }

    /// Follows the task, skipping the updates up to and including `since` (e.g. the `seq` of the
    /// snapshot [`Client::submit`] returned).
    pub fn watch_from(&self, task_id: TaskId, since: u64) -> Watch {
        Watch::new(self.clone(), task_id, since)
    }

    /// The recipe (`GET /recipes/{id}`): the gateway sends the recipe's fields beside `id`,
    /// `task_id` and `created_at`; a body that nests it under `recipe` is read too.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown or foreign recipe, [`ClientError::Protocol`]
    /// when the body holds no recipe.
    pub async fn recipe(&self, recipe_id: RecipeId) -> Result<Recipe, ClientError> {
        self.recipe_view(recipe_id, View::default()).await
    }

    /// The recipe scaled and converted as `view` asks (`?servings=`, `?units=`); the gateway
    /// does the arithmetic, so every client shows the same amounts.
    ///
    /// # Errors
    /// As [`Client::recipe`]; [`ClientError::Http`] 400 for servings outside 1 to 100.
    pub async fn recipe_view(&self, recipe_id: RecipeId, view: View) -> Result<Recipe, ClientError> {
        recipe_from_document(&self.recipe_document_view(recipe_id, view).await?)
    }

    /// The recipe document exactly as the server sends it as `application/json`.
    ///
    /// # Errors
    /// As [`Client::recipe`].
    pub async fn recipe_document(&self, recipe_id: RecipeId) -> Result<Value, ClientError> {
        self.recipe_document_view(recipe_id, View::default()).await
    }

    /// [`Client::recipe_document`] for a [`View`].
    ///
    /// # Errors
    /// As [`Client::recipe_view`].
    pub async fn recipe_document_view(&self, recipe_id: RecipeId, view: View) -> Result<Value, ClientError> {
        let request = self.request(Method::GET, self.recipe_url(recipe_id, view)).header(ACCEPT, JSON);
        let response = self.send(request, "reading the recipe").await?;
        read_json(response, "the recipe").await
    }

    /// The recipe as a schema.org JSON-LD document (`Accept: application/ld+json`).
    ///
    /// When the server does not offer JSON-LD (406, or plain JSON back), the document is built
    /// here from the plain recipe with [`Recipe::to_json_ld`], so the result is the same.
    ///
    /// # Errors
    /// As [`Client::recipe`].
    pub async fn recipe_json_ld(&self, recipe_id: RecipeId) -> Result<Value, ClientError> {
        self.recipe_json_ld_view(recipe_id, View::default()).await
    }

    /// [`Client::recipe_json_ld`] for a [`View`].
    ///
    /// # Errors
    /// As [`Client::recipe_view`].
    pub async fn recipe_json_ld_view(&self, recipe_id: RecipeId, view: View) -> Result<Value, ClientError> {
        let request = self.request(Method::GET, self.recipe_url(recipe_id, view)).header(ACCEPT, JSON_LD);
        let document = match self.send(request, "reading the recipe").await {
            Ok(response) => read_json::<Value>(response, "the recipe").await?,
            Err(ClientError::Http { status: 406, .. }) => self.recipe_document_view(recipe_id, view).await?,
            Err(e) => return Err(e),
        };
        if document.get("@context").is_some() {
            return Ok(document);
        }
        Ok(recipe_from_document(&document)?.to_json_ld())
    }

    /// The merged ingredients of several of the user's recipes (`POST /shopping-list`): each
    /// recipe with the servings to shop for (its own when `None`), optionally converted.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] when any recipe is unknown or foreign; [`ClientError::Http`]
    /// 400 for an empty list, a recipe named twice or bad servings.
    pub async fn shopping_list(
        &self,
        recipes: &[(RecipeId, Option<u32>)],
        units: Option<UnitSystem>,
    ) -> Result<ShoppingList, ClientError> {
        let recipes: Vec<Value> = recipes
            .iter()
            .map(|(id, servings)| match servings {
                Some(n) => serde_json::json!({"id": id, "servings": n}),
                None => serde_json::json!({"id": id}),
            })
            .collect();
        let mut body = serde_json::json!({"recipes": recipes});
        if let Some(units) = units {
            body["units"] = serde_json::to_value(units).unwrap_or_default();
        }
        let request = self.request(Method::POST, self.endpoint(&["shopping-list"])).json(&body);
        let response = self.send(request, "making the shopping list").await?;
        read_json(response, "the shopping list").await
    }

    fn recipe_url(&self, recipe_id: RecipeId, view: View) -> Url {
        let mut url = self.endpoint(&["recipes", &recipe_id.to_string()]);
        if let Some(servings) = view.servings {
            url.query_pairs_mut().append_pair("servings", &servings.to_string());
        }
        if let Some(units) = view.units {
            url.query_pairs_mut().append_pair("units", units_name(units));
        }
        url
    }

    /// Cancels a task (`DELETE /task/{id}`). Returns the task's new snapshot when the server
    /// sends one.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown or foreign task, [`ClientError::Http`] 409 when
    /// it has already finished.
    pub async fn cancel(&self, task_id: TaskId) -> Result<Option<TaskUpdate>, ClientError> {
        let request = self.request(Method::DELETE, self.endpoint(&["task", &task_id.to_string()]));
        let response = self.send(request, "cancelling the task").await?;
        let body =
            response.bytes().await.map_err(|e| ClientError::transport("reading the cancel response", e))?;
        Ok(serde_json::from_slice::<TaskUpdate>(&body).ok())
    }

    /// The socket URL of a task: `ws(s)://<base>/ws/{id}?token=<jwt>&since=<seq>`.
    ///
    /// It carries the access token: do not log it.
    pub fn socket_url(&self, task_id: TaskId, since: u64) -> Url {
        let mut url = self.socket_endpoint(task_id);
        url.query_pairs_mut()
            .append_pair("token", &self.inner.config.token)
            .append_pair("since", &since.to_string());
        url
    }

    /// The socket URL without its query (safe to log).
    pub(crate) fn socket_endpoint(&self, task_id: TaskId) -> Url {
        let mut url = self.endpoint(&["ws", &task_id.to_string()]);
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        // http -> ws and https -> wss are both special schemes, so this cannot fail; if it ever
        // did, the handshake would fail loudly instead.
        let _ = url.set_scheme(scheme);
        url
    }

    /// `<base_url>/<segments...>`, whether or not the base URL ends with a slash.
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.config.base_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.http.request(method, url).bearer_auth(&self.inner.config.token)
    }

    /// Sends a request; a non-2xx answer becomes the matching [`ClientError`].
    async fn send(&self, request: RequestBuilder, what: &str) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(|e| {
            let base = self.inner.config.base_url.as_str();
            let context = if e.is_timeout() {
                format!("{what}: {base} did not answer in time")
            } else {
                format!("{what}: could not reach {base}")
            };
            ClientError::transport(context, e)
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(error_from_response(response).await)
    }
}

/// The error for an unsuccessful response, with its problem document when it has one.
async fn error_from_response(response: Response) -> ClientError {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let problem = serde_json::from_slice::<Problem>(&body).ok();
    ClientError::from_status(status.as_u16(), problem)
}

async fn read_body(response: Response, what: &str) -> Result<Bytes, ClientError> {
    response.bytes().await.map_err(|e| ClientError::transport(format!("reading {what}"), e))
}

async fn read_json<T: serde::de::DeserializeOwned>(response: Response, what: &str) -> Result<T, ClientError> {
    let body = read_body(response, what).await?;
    serde_json::from_slice(&body).map_err(|e| {
        ClientError::Protocol(format!("{what} is not what the protocol says ({e}): {}", excerpt(&body)))
    })
}

async fn read_update(response: Response, what: &str) -> Result<TaskUpdate, ClientError> {
    let body = read_body(response, what).await?;
    decode_update(&body, what)
}

/// Submits are retried on network failures, 5xx and 409 (the gateway's answer while an earlier
/// request with the same key is still being processed: exactly the retry-after-a-timeout case).
/// Other 4xx are not (429 included: the limit will not lift within the retries, and the caller
/// should see the server's explanation).
fn is_retryable_submit(error: &ClientError) -> bool {
    match error {
        ClientError::Transport { .. } => true,
        ClientError::Http { status, .. } => {
            *status == 409 || StatusCode::from_u16(*status).is_ok_and(|s| s.is_server_error())
        }
        _ => false,
    }
}

/// The recipe in a `GET /recipes/{id}` body: its `recipe` field, or else the body itself (extra
/// fields such as `id` and `created_at` are ignored).
///
/// # Errors
/// [`ClientError::Protocol`] when neither is a recipe.
pub fn recipe_from_document(document: &Value) -> Result<Recipe, ClientError> {
    let inner = document.get("recipe").filter(|r| r.is_object()).unwrap_or(document);
    Recipe::deserialize(inner)
        .map_err(|e| ClientError::Protocol(format!("the recipe document holds no recipe ({e})")))
}
