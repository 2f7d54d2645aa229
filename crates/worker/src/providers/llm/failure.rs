//! What a failed call means: the HTTP status and the API's error body mapped to permanent or
//! transient, with the provider's wait hint. The table is in the [module overview](super).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::providers::ProviderError;

/// Longest wait we accept from a Retry-After header; longer hints are capped so a bad header
/// cannot park a job for hours.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// How one call ended, when it did not yield content.
#[derive(Debug)]
pub(super) enum CallError {
    /// The request failed; the error says whether to retry.
    Failed(ProviderError),
    /// A 400 about the image: worth one more call without it.
    ImageRejected,
}

/// What a non-2xx answer means; `redact` cleans the API's own words before they are echoed.
pub(super) fn status_error(
    model: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    sent_image: bool,
    redact: impl Fn(&str) -> String,
) -> CallError {
    let api = ApiError::parse(body);
    let detail = api.message.as_deref().map(redact).unwrap_or_default();
    let code = status.as_u16();
    tracing::warn!(
        model = %model,
        status = code,
        error_code = api.code.as_deref().unwrap_or(""),
        "LLM request failed"
    );
    let error = match code {
        429 if api.is_quota() => {
            ProviderError::permanent("llm_quota", "The LLM account has run out of quota (insufficient_quota)")
        }
        429 => ProviderError::Transient {
            message: with_detail("The LLM provider is rate limiting requests (HTTP 429)", &detail),
            retry_after: retry_after(headers),
        },
        // The body is not echoed: OpenAI's 401 message quotes part of the key.
        401 | 403 => ProviderError::permanent(
            "llm_unauthorized",
            format!("The LLM provider rejected the API key (HTTP {code})"),
        ),
        // TikTok cover links expire and some models take no images; the text (with the
        // on-screen text read by OCR) alone may do.
        400 if sent_image && api.is_about_images() => return CallError::ImageRejected,
        408 | 409 | 425 => {
            ProviderError::transient(with_detail(&format!("The LLM request failed (HTTP {code})"), &detail))
        }
        400..=499 => ProviderError::permanent(
            "llm_bad_request",
            with_detail(&format!("The LLM provider rejected the request (HTTP {code})"), &detail),
        ),
        _ => ProviderError::Transient {
            message: with_detail(&format!("The LLM provider failed (HTTP {code})"), &detail),
            retry_after: retry_after(headers),
        },
    };
    CallError::Failed(error)
}

/// What an error body says, from OpenAI's `{"error": {...}}` or vLLM's flat `{"message": ...}`.
#[derive(Debug, Default)]
struct ApiError {
    message: Option<String>,
    kind: Option<String>,
    code: Option<String>,
}

impl ApiError {
    fn parse(body: &str) -> Self {
        let Ok(value) = serde_json::from_str::<Value>(body) else { return Self::default() };
        let error = match value.get("error") {
            Some(Value::String(message)) => {
                return Self { message: Some(message.clone()), ..Self::default() };
            }
            Some(error @ Value::Object(_)) => error,
            _ => &value,
        };
        let text = |key: &str| match error.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Self { message: text("message"), kind: text("type"), code: text("code") }
    }

    /// The account is out of credit, which waiting does not fix.
    fn is_quota(&self) -> bool {
        [&self.kind, &self.code].into_iter().flatten().any(|s| s == "insufficient_quota")
    }

    /// The request failed because of the image (expired link, unsupported by the model).
    fn is_about_images(&self) -> bool {
        let code = self.code.as_deref().unwrap_or_default();
        let message = self.message.as_deref().unwrap_or_default().to_lowercase();
        code.contains("image") || message.contains("image") || message.contains("downloading")
    }
}

/// `message`, plus the API's own words when there are any.
fn with_detail(message: &str, detail: &str) -> String {
    if detail.is_empty() { message.to_owned() } else { format!("{message}: {detail}") }
}

/// The provider's wait hint: OpenAI's `retry-after-ms` (milliseconds) first, then the standard
/// `retry-after` in seconds. HTTP-date values are ignored; the job backoff applies instead.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let seconds = number("retry-after-ms").map(|ms| ms / 1000.0).or_else(|| number(RETRY_AFTER.as_str()))?;
    Duration::try_from_secs_f64(seconds).ok().map(|d| d.min(MAX_RETRY_AFTER))
}
