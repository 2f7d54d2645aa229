//! Recipe extraction with an OpenAI-compatible Chat Completions API.
//!
//! Any server that speaks `POST {base_url}/chat/completions` with structured outputs works:
//! OpenAI, Azure OpenAI (v1 API), Ollama, vLLM, LiteLLM. The model gets the caption, hashtags,
//! subtitles and, after the media pass, the speech transcript, the on-screen text (OCR, a cheap
//! hint) and the kept keyframes as `detail: "low"` JPEG data URLs — or the cover image when there
//! are no frames — fitted into `max_input_tokens` (`input.rs`). It must answer with JSON matching
//! [`recipe_schema`] in strict mode; the answer is then checked and clamped (`answer.rs`) before it
//! becomes a [`Recipe`].
//!
//! Failure mapping, so the job-level retry only repeats what can succeed:
//!
//! | What happened | Result |
//! |---|---|
//! | `message.refusal` set | permanent `llm_refused` |
//! | `finish_reason: length` | permanent `llm_truncated` |
//! | `finish_reason: content_filter` | permanent `llm_content_filter` |
//! | `is_recipe: false`, or nothing in it | permanent `not_a_recipe` |
//! | content not JSON / not the schema / no title | transient |
//! | 429 `insufficient_quota` | permanent `llm_quota` |
//! | other 429 | transient, `retry-after-ms` / `retry-after` as the hint |
//! | 401, 403 | permanent `llm_unauthorized` |
//! | 400 and other 4xx | permanent `llm_bad_request` with the API's message |
//! | 408, 409, 5xx, timeouts, connection errors | transient |
//!
//! Invalid JSON is transient on purpose: with strict structured outputs it should not happen,
//! and when it does (a server without schema support, a sampling accident) the same request
//! usually succeeds next time. The job-level retry budget bounds how often we try.
//!
//! The API key never appears in errors or logs: 401 bodies are not echoed (OpenAI quotes part of
//! the key there) and every other echoed message has the key replaced.

mod answer;
mod failure;
mod input;
mod prompt;
mod schema;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use protocol::{Language, Recipe};
use serde_json::{Value, json};
use url::Url;

use self::answer::{read_completion, truncate_chars};
use self::failure::{CallError, status_error};
use self::input::UserInput;
use self::prompt::system_prompt;
pub use self::schema::recipe_schema;
use super::{Extractor, ProviderError, VideoData};

/// The OpenAI API root.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// A small vision model that follows JSON schemas well and costs little per video.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// Long enough for a slow model writing a long recipe, short enough to retry a hung request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Room for about a hundred ingredients and steps; recipes that need more are truncated and fail
/// permanently with `llm_truncated`.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Input budget: room for a long transcript and eight low-detail frames.
pub const DEFAULT_MAX_INPUT_TOKENS: u32 = 8000;

/// Characters of an API error message put into our own error.
const MAX_ECHOED_CHARS: usize = 300;

/// Where and how to reach the model.
///
/// `api_key` is a plain `String` for now; it should become `secrecy::SecretString` so that it
/// is zeroised and cannot be printed by accident. `Debug` is written by hand to redact it.
#[derive(Clone)]
pub struct LlmConfig {
    /// API root, e.g. [`DEFAULT_BASE_URL`] or `http://localhost:11434/v1` for Ollama; the
    /// request goes to `{base_url}/chat/completions`, keeping any query (Azure `api-version`).
    pub base_url: Url,
    /// Bearer token. Empty means no `Authorization` header, for local servers without auth.
    pub api_key: String,
    /// Model (or Azure deployment) name, e.g. [`DEFAULT_MODEL`].
    pub model: String,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Output token limit.
    pub max_tokens: u32,
    /// Input token budget of one request (prompt, schema, text and images, estimated).
    pub max_input_tokens: u32,
}

impl LlmConfig {
    /// OpenAI with [`DEFAULT_MODEL`] and the default limits.
    pub fn openai(api_key: impl Into<String>) -> Self {
        Self {
            base_url: default_base_url(),
            api_key: api_key.into(),
            model: DEFAULT_MODEL.to_owned(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_tokens: DEFAULT_MAX_TOKENS,
            max_input_tokens: DEFAULT_MAX_INPUT_TOKENS,
        }
    }
}

/// [`DEFAULT_BASE_URL`] parsed.
pub fn default_base_url() -> Url {
    Url::parse(DEFAULT_BASE_URL).expect("DEFAULT_BASE_URL is a valid URL")
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.api_key.is_empty() { "<none>" } else { "<redacted>" };
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &key)
            .field("model", &self.model)
            .field("request_timeout", &self.request_timeout)
            .field("max_tokens", &self.max_tokens)
            .field("max_input_tokens", &self.max_input_tokens)
            .finish()
    }
}

/// Why an [`LlmExtractor`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LlmSetupError {
    /// The model name is empty.
    #[error("the LLM model name is empty")]
    MissingModel,
    /// The base URL cannot have a path appended (e.g. `mailto:`).
    #[error("the LLM base URL {0} cannot take the /chat/completions path")]
    BadBaseUrl(String),
    /// A zero timeout would fail every request.
    #[error("the LLM request timeout must be more than zero")]
    ZeroTimeout,
    /// A zero token limit would truncate every answer.
    #[error("the LLM max_tokens must be more than zero")]
    ZeroMaxTokens,
    /// The HTTP client could not be built (TLS backend).
    #[error("could not build the LLM HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Extracts recipes with an OpenAI-compatible model.
#[derive(Debug, Clone)]
pub struct LlmExtractor {
    config: LlmConfig,
    client: reqwest::Client,
    endpoint: Url,
    token_field: &'static str,
}

impl LlmExtractor {
    /// Builds the extractor and its HTTP client.
    ///
    /// # Errors
    /// [`LlmSetupError`] for an empty model, an unusable base URL, zero limits, or when the
    /// HTTP client cannot be built.
    pub fn new(config: LlmConfig) -> Result<Self, LlmSetupError> {
        if config.model.trim().is_empty() {
            return Err(LlmSetupError::MissingModel);
        }
        if config.request_timeout.is_zero() {
            return Err(LlmSetupError::ZeroTimeout);
        }
        if config.max_tokens == 0 {
            return Err(LlmSetupError::ZeroMaxTokens);
        }
        if config.base_url.cannot_be_a_base() {
            return Err(LlmSetupError::BadBaseUrl(config.base_url.to_string()));
        }
        let mut endpoint = config.base_url.clone();
        let path = format!("{}/chat/completions", endpoint.path().trim_end_matches('/'));
        endpoint.set_path(&path);
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("recipe-relay-worker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let token_field = token_limit_field(&config.base_url);
        Ok(Self { config, client, endpoint, token_field })
    }

    /// Tokens left for the user message once the system prompt and the schema are counted.
    fn user_budget(&self, language: &Language) -> u32 {
        let fixed = input::estimate_tokens(&system_prompt(language))
            + input::estimate_tokens(&recipe_schema().to_string());
        self.config.max_input_tokens.saturating_sub(fixed)
    }

    /// What the user message carries for `video`; `images` false sends text only.
    pub(crate) fn user_input(&self, video: &VideoData, language: &Language, images: bool) -> UserInput {
        input::plan(video, self.user_budget(language), images)
    }

    /// Estimated input tokens of the request for `video` (prompt, schema, text and images).
    pub fn estimated_input_tokens(&self, video: &VideoData, language: &Language, images: bool) -> u32 {
        let input = self.user_input(video, language, images);
        input.tokens + self.config.max_input_tokens.saturating_sub(self.user_budget(language))
    }

    /// The request body for one video.
    fn request_body(&self, video: &VideoData, language: &Language, input: &UserInput) -> Value {
        let content = input.content(video);
        let mut body = json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": system_prompt(language)},
                {"role": "user", "content": content},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "recipe", "strict": true, "schema": recipe_schema()},
            },
        });
        body[self.token_field] = json!(self.config.max_tokens);
        body
    }

    /// `text` with the API key replaced and cut to a readable length.
    fn redact(&self, text: &str) -> String {
        let text = if self.config.api_key.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.config.api_key, "<redacted>")
        };
        truncate_chars(text.trim(), MAX_ECHOED_CHARS)
    }

    /// One Chat Completions call; returns the message content.
    async fn complete(
        &self,
        video: &VideoData,
        language: &Language,
        images: bool,
    ) -> Result<String, CallError> {
        let input = self.user_input(video, language, images);
        tracing::info!(
            model = %self.config.model,
            frames = input.frames.len(),
            cover = input.cover,
            estimated_input_tokens = input.tokens,
            "asking the LLM"
        );
        let mut request =
            self.client.post(self.endpoint.clone()).json(&self.request_body(video, language, &input));
        if !self.config.api_key.is_empty() {
            request = request.bearer_auth(&self.config.api_key);
        }
        let response = request.send().await.map_err(|e| CallError::Failed(self.transport_error(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|e| CallError::Failed(self.transport_error(&e)))?;
        tracing::debug!(
            model = %self.config.model,
            status = status.as_u16(),
            bytes = body.len(),
            "LLM answered"
        );
        if !status.is_success() {
            let redact = |text: &str| self.redact(text);
            return Err(status_error(
                &self.config.model,
                status,
                &headers,
                &body,
                input.has_images(),
                redact,
            ));
        }
        if let Some(usage) = answer::usage(&body) {
            crate::stats::llm_tokens(&self.config.model, usage.prompt_tokens, usage.completion_tokens);
        }
        read_completion(&body, |text| self.redact(text)).map_err(CallError::Failed)
    }

    /// A failure before any HTTP status arrived.
    fn transport_error(&self, error: &reqwest::Error) -> ProviderError {
        let message = if error.is_timeout() {
            format!("The LLM request timed out after {}s", self.config.request_timeout.as_secs_f32())
        } else if error.is_connect() {
            let host = self.endpoint.host_str().unwrap_or("the LLM provider");
            format!("Could not connect to {host}")
        } else {
            // The source chain says what broke without the URL or headers.
            let cause = std::error::Error::source(error)
                .map_or_else(|| "request error".to_owned(), ToString::to_string);
            format!("The LLM request failed: {}", self.redact(&cause))
        };
        ProviderError::transient(message)
    }
}

#[async_trait]
impl Extractor for LlmExtractor {
    fn provider(&self) -> &'static str {
        "llm"
    }

    fn details(&self, video: &VideoData) -> String {
        // The plan of the request about to be sent, so the frame count is what the model sees.
        let language = Language::parse("en").expect("\"en\" is a valid tag");
        let frames = self.user_input(video, &language, true).frames.len();
        let inputs = video.inputs_phrase(frames);
        if video.frames.is_empty() && video.on_screen_text.is_none() && video.speech_transcript.is_none() {
            format!("Reading {inputs} with {}", self.config.model)
        } else {
            format!("Analysing {inputs} with {}", self.config.model)
        }
    }

    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
        let content = match self.complete(video, language, true).await {
            Ok(content) => content,
            Err(CallError::ImageRejected) => {
                tracing::info!(
                    model = %self.config.model,
                    "LLM refused the images; retrying with text only"
                );
                match self.complete(video, language, false).await {
                    Ok(content) => content,
                    Err(CallError::Failed(error)) => return Err(error),
                    // Unreachable without an image, but a permanent answer is the safe reading.
                    Err(CallError::ImageRejected) => {
                        return Err(ProviderError::permanent(
                            "llm_bad_request",
                            "The LLM provider rejected the request",
                        ));
                    }
                }
            }
            Err(CallError::Failed(error)) => return Err(error),
        };
        answer::recipe_from(&content, video, language)
    }
}

/// `max_completion_tokens` for OpenAI and Azure OpenAI, where `max_tokens` is deprecated and
/// refused by reasoning models; `max_tokens` elsewhere, which every compatible server knows.
fn token_limit_field(base_url: &Url) -> &'static str {
    let host = base_url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host == "api.openai.com" || host.ends_with(".openai.azure.com") || host.ends_with(".openai.com") {
        "max_completion_tokens"
    } else {
        "max_tokens"
    }
}
