//! What Apify's API answers: the run object and its status words, and a failed call before it
//! is classified into a [`ProviderError`](crate::providers::ProviderError).

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

/// Which API call failed, for messages and the 404 rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    StartRun,
    GetRun,
    Items,
}

impl Call {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Self::StartRun => "starting the Apify run",
            Self::GetRun => "checking the Apify run",
            Self::Items => "reading the Apify dataset",
        }
    }
}

/// A failed HTTP call, before `ApifyScraper::provider_error` classifies it.
#[derive(Debug, thiserror::Error)]
pub(super) enum CallError {
    /// A non-2xx answer.
    #[error("HTTP {status}: {detail}")]
    Status { status: StatusCode, retry_after: Option<Duration>, detail: String },
    /// No answer: connection, TLS or timeout.
    #[error("{0}")]
    Network(reqwest::Error),
    /// An answer we could not read.
    #[error("unexpected response: {0}")]
    Decode(String),
}

/// `{"data": {...}}`, the wrapper of Apify's run endpoints.
#[derive(Debug, Deserialize)]
pub(super) struct RunEnvelope {
    pub(super) data: Run,
}

/// The part of an Apify run object we use.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Run {
    pub(super) id: String,
    pub(super) status: RunStatus,
    #[serde(default)]
    pub(super) default_dataset_id: Option<String>,
}

/// An Apify run status. Unknown words are kept and treated as "still going".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub(super) enum RunStatus {
    Ready,
    Running,
    Succeeded,
    Failed,
    TimingOut,
    TimedOut,
    Aborting,
    Aborted,
    Other(String),
}

impl From<String> for RunStatus {
    fn from(word: String) -> Self {
        match word.as_str() {
            "READY" => Self::Ready,
            "RUNNING" => Self::Running,
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            "TIMING-OUT" => Self::TimingOut,
            "TIMED-OUT" => Self::TimedOut,
            "ABORTING" => Self::Aborting,
            "ABORTED" => Self::Aborted,
            _ => Self::Other(word),
        }
    }
}

impl RunStatus {
    pub(super) fn as_str(&self) -> &str {
        match self {
            Self::Ready => "READY",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimingOut => "TIMING-OUT",
            Self::TimedOut => "TIMED-OUT",
            Self::Aborting => "ABORTING",
            Self::Aborted => "ABORTED",
            Self::Other(word) => word,
        }
    }

    /// Ended without results.
    pub(super) fn is_failure(&self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::Aborted)
    }

    pub(super) fn is_terminal(&self) -> bool {
        self.is_failure() || *self == Self::Succeeded
    }
}
