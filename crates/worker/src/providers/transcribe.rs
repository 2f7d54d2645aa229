//! Speech to text with an OpenAI-compatible `POST {base_url}/audio/transcriptions`.
//!
//! The request is multipart: `file` (the audio the media pass extracted: mono 16 kHz, compressed,
//! well under the API's 25 MB limit), `model`, `response_format=json` and, when known, `language`
//! (ISO 639-1). The answer is `{"text": "..."}`. OpenAI (`whisper-1`, `gpt-4o-mini-transcribe`),
//! Groq (`whisper-large-v3`), Azure OpenAI and self-hosted servers (faster-whisper-server,
//! LocalAI) speak this shape.
//!
//! | What happened | Result |
//! |---|---|
//! | 429 | transient, `retry-after-ms` / `retry-after` as the hint |
//! | 408, 409, 5xx, timeouts, connection errors, an unreadable body | transient |
//! | 401, 403 | permanent `transcription_unauthorized` |
//! | 413 | permanent `transcription_too_large` |
//! | 400 and other 4xx | permanent `transcription_rejected` with the API's message |
//!
//! The key never appears in errors or logs.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::multipart::{Form, Part};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{ProviderError, Transcriber};

/// A `Retry-After` beyond this is treated as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Characters of an API error message put into our own error.
const MAX_ECHOED_CHARS: usize = 300;

/// Where and how to reach the speech-to-text API.
#[derive(Clone)]
pub struct TranscriptionConfig {
    /// API root with its version, e.g. `https://api.openai.com/v1`; the request goes to
    /// `{base_url}/audio/transcriptions`, keeping any query (Azure `api-version`).
    pub base_url: Url,
    /// Bearer token; empty means no `Authorization` header (local servers).
    pub api_key: SecretString,
    /// Model name, e.g. `whisper-1`.
    pub model: String,
    /// Whole-request timeout (the upload included).
    pub request_timeout: Duration,
}

impl fmt::Debug for TranscriptionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TranscriptionConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"[redacted]")
            .field("model", &self.model)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Why a [`WhisperTranscriber`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptionSetupError {
    /// The model name is empty.
    #[error("the transcription model name is empty")]
    MissingModel,
    /// The base URL cannot take a path.
    #[error("the transcription base URL {0} cannot take the /audio/transcriptions path")]
    BadBaseUrl(String),
    /// The HTTP client could not be built (TLS backend).
    #[error("could not build the transcription HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Transcribes audio through an OpenAI-compatible API.
#[derive(Debug, Clone)]
pub struct WhisperTranscriber {
    config: TranscriptionConfig,
    client: reqwest::Client,
    endpoint: Url,
}

impl WhisperTranscriber {
    /// Checks the config and builds the HTTP client.
    ///
    /// # Errors
    /// [`TranscriptionSetupError`] for an empty model, an unusable base URL or a client that
    /// cannot be built.
    pub fn new(config: TranscriptionConfig) -> Result<Self, TranscriptionSetupError> {
        if config.model.trim().is_empty() {
            return Err(TranscriptionSetupError::MissingModel);
        }
        if config.base_url.cannot_be_a_base() || !matches!(config.base_url.scheme(), "http" | "https") {
            return Err(TranscriptionSetupError::BadBaseUrl(config.base_url.to_string()));
        }
        let mut endpoint = config.base_url.clone();
        let path = format!("{}/audio/transcriptions", endpoint.path().trim_end_matches('/'));
        endpoint.set_path(&path);
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("recipe-relay-worker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { config, client, endpoint })
    }

    /// `text` without the key, cut to a readable length.
    fn redact(&self, text: &str) -> String {
        let key = self.config.api_key.expose_secret();
        let text = if key.is_empty() { text.to_owned() } else { text.replace(key, "[redacted]") };
        text.trim().chars().take(MAX_ECHOED_CHARS).collect()
    }

    fn status_error(&self, status: StatusCode, headers: &HeaderMap, body: &str) -> ProviderError {
        let detail = api_message(body).map(|m| self.redact(&m)).unwrap_or_default();
        let code = status.as_u16();
        tracing::warn!(model = %self.config.model, status = code, "transcription request failed");
        let with_detail =
            |message: String| if detail.is_empty() { message } else { format!("{message}: {detail}") };
        match code {
            429 => ProviderError::Transient {
                message: with_detail("The transcription API is rate limiting requests (HTTP 429)".into()),
                retry_after: retry_after(headers),
            },
            // Not echoed: an auth error body may quote part of the key.
            401 | 403 => ProviderError::permanent(
                "transcription_unauthorized",
                format!("The transcription API rejected the API key (HTTP {code})"),
            ),
            413 => ProviderError::permanent(
                "transcription_too_large",
                with_detail("The video's audio is too large for the transcription API (HTTP 413)".into()),
            ),
            408 | 409 | 425 => ProviderError::transient(with_detail(format!(
                "The transcription request failed (HTTP {code})"
            ))),
            400..=499 => ProviderError::permanent(
                "transcription_rejected",
                with_detail(format!("The transcription API rejected the audio (HTTP {code})")),
            ),
            _ => ProviderError::Transient {
                message: with_detail(format!("The transcription API failed (HTTP {code})")),
                retry_after: retry_after(headers),
            },
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> ProviderError {
        let message = if error.is_timeout() {
            format!(
                "The transcription request timed out after {}s",
                self.config.request_timeout.as_secs_f32()
            )
        } else if error.is_connect() {
            format!("Could not connect to {}", self.endpoint.host_str().unwrap_or("the transcription API"))
        } else {
            let cause = std::error::Error::source(error)
                .map_or_else(|| "request error".to_owned(), ToString::to_string);
            format!("The transcription request failed: {}", self.redact(&cause))
        };
        ProviderError::transient(message)
    }
}

#[async_trait]
impl Transcriber for WhisperTranscriber {
    #[tracing::instrument(skip_all, fields(model = %self.config.model, language = ?language))]
    async fn transcribe(&self, audio: &Path, language: Option<&str>) -> Result<String, ProviderError> {
        let bytes = tokio::fs::read(audio).await.map_err(|e| {
            ProviderError::transient(format!("Could not read the extracted audio for transcription: {e}"))
        })?;
        let size = bytes.len();
        let name = audio.file_name().and_then(|n| n.to_str()).unwrap_or("audio.ogg").to_owned();
        let file = Part::bytes(bytes).file_name(name.clone()).mime_str(mime_of(&name)).map_err(|e| {
            ProviderError::transient(format!("Could not build the transcription request: {e}"))
        })?;
        let mut form = Form::new()
            .part("file", file)
            .text("model", self.config.model.clone())
            .text("response_format", "json");
        if let Some(language) = language.filter(|l| l.len() == 2) {
            form = form.text("language", language.to_owned());
        }
        let mut request = self.client.post(self.endpoint.clone()).multipart(form);
        let key = self.config.api_key.expose_secret();
        if !key.is_empty() {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|e| self.transport_error(&e))?;
        if !status.is_success() {
            return Err(self.status_error(status, &headers, &body));
        }
        let answer: TranscriptionAnswer = serde_json::from_str(&body).map_err(|e| {
            ProviderError::transient(format!("The transcription API sent an unreadable answer ({e})"))
        })?;
        tracing::info!(audio_bytes = size, chars = answer.text.len(), "audio transcribed");
        Ok(answer.text.trim().to_owned())
    }
}

/// `{"text": "..."}`, the `json` response format.
#[derive(Debug, Deserialize)]
struct TranscriptionAnswer {
    text: String,
}

/// The MIME type of the audio the media pass writes, by extension.
fn mime_of(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "ogg" | "oga" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" | "mp4" => "audio/mp4",
        "webm" => "audio/webm",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// OpenAI's `{"error": {"message"}}`, a flat `{"message"}` or `{"error": "..."}`.
fn api_message(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = value.get("error").unwrap_or(&value);
    error.as_str().or_else(|| error.get("message")?.as_str()).map(str::to_owned)
}

/// `retry-after-ms` first, then `retry-after` in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let seconds = number("retry-after-ms").map(|ms| ms / 1000.0).or_else(|| number(RETRY_AFTER.as_str()))?;
    Duration::try_from_secs_f64(seconds).ok().map(|d| d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const KEY: &str = "sk-transcribe-secret";

    fn transcriber(server: &MockServer) -> WhisperTranscriber {
        WhisperTranscriber::new(TranscriptionConfig {
            base_url: format!("{}/v1", server.uri()).parse().unwrap(),
            api_key: SecretString::from(KEY),
            model: "whisper-1".into(),
            request_timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    fn audio() -> (tempfile_dir::Dir, std::path::PathBuf) {
        let dir = tempfile_dir::Dir::new();
        let file = dir.path().join("audio.ogg");
        std::fs::write(&file, b"OggS fake audio").unwrap();
        (dir, file)
    }

    /// A throwaway folder for one test, removed on drop.
    mod tempfile_dir {
        pub(super) struct Dir(std::path::PathBuf);
        impl Dir {
            pub(super) fn new() -> Self {
                let path = std::env::temp_dir().join(format!("transcribe-test-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
            pub(super) fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[tokio::test]
    async fn the_request_is_multipart_with_file_model_and_language() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/audio/transcriptions"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"text": " two eggs "})))
            .expect(1)
            .mount(&server)
            .await;
        let (_dir, file) = audio();

        let text = transcriber(&server).transcribe(&file, Some("en")).await.unwrap();

        assert_eq!(text, "two eggs");
        let request = &server.received_requests().await.unwrap()[0];
        let body = String::from_utf8_lossy(&request.body);
        let content_type = request.headers.get("content-type").unwrap().to_str().unwrap();
        assert!(content_type.starts_with("multipart/form-data"), "{content_type}");
        for needle in [
            "name=\"file\"; filename=\"audio.ogg\"",
            "Content-Type: audio/ogg",
            "OggS fake audio",
            "name=\"model\"\r\n\r\nwhisper-1",
            "name=\"language\"\r\n\r\nen",
            "name=\"response_format\"\r\n\r\njson",
        ] {
            assert!(body.contains(needle), "the form lacks {needle:?}: {body}");
        }
    }

    #[tokio::test]
    async fn failures_are_classified_by_status() {
        let cases: [(u16, Option<&str>, &str); 6] = [
            (400, Some("transcription_rejected"), "bad audio"),
            (413, Some("transcription_too_large"), "file over the limit"),
            (401, Some("transcription_unauthorized"), "bad key"),
            (429, None, "rate limit"),
            (500, None, "server error"),
            (503, None, "unavailable"),
        ];
        for (status, code, why) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(
                    ResponseTemplate::new(status)
                        .insert_header("retry-after", "3")
                        .set_body_json(serde_json::json!({"error": {"message": format!("echo {KEY}")}})),
                )
                .mount(&server)
                .await;
            let (_dir, file) = audio();

            let error = transcriber(&server).transcribe(&file, None).await.unwrap_err();

            match (code, &error) {
                (Some(expected), ProviderError::Permanent { code, .. }) => {
                    assert_eq!(code, &expected, "{why}")
                }
                (None, ProviderError::Transient { retry_after, .. }) => {
                    assert_eq!(*retry_after, Some(Duration::from_secs(3)), "{why}: the hint is kept")
                }
                _ => panic!("{why}: HTTP {status} gave {error:?}"),
            }
            assert!(!error.to_string().contains(KEY), "{why}: the key never appears: {error}");
        }
    }

    #[test]
    fn the_config_debug_output_hides_the_key() {
        let config = TranscriptionConfig {
            base_url: "https://api.openai.com/v1".parse().unwrap(),
            api_key: SecretString::from(KEY),
            model: "whisper-1".into(),
            request_timeout: Duration::from_secs(5),
        };
        assert!(!format!("{config:?}").contains(KEY));
        let transcriber = WhisperTranscriber::new(config).unwrap();
        assert_eq!(transcriber.endpoint.as_str(), "https://api.openai.com/v1/audio/transcriptions");
    }
}
