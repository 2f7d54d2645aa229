//! [`ClientError`]: everything that can go wrong talking to the gateway.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use protocol::Problem;

/// A boxed cause, kept for the error chain.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error from the gateway or from reaching it.
///
/// [`ClientError::is_transient`] tells errors worth retrying (the network, 5xx, a garbled
/// message) from those that retrying cannot fix (a refused token, an unknown task).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// 401, over HTTP or in the socket handshake: the access token is missing, expired or wrong.
    #[error("the server refused the access token{}", detail(problem.as_ref()))]
    Unauthorized {
        /// The problem document, when the server sent one.
        problem: Option<Problem>,
    },
    /// 404: no such task or recipe for this user (another user's looks the same).
    #[error("not found{}", detail(problem.as_ref()))]
    NotFound {
        /// The problem document, when the server sent one.
        problem: Option<Problem>,
    },
    /// Any other unsuccessful status.
    #[error("the server answered {status}{}", detail(problem.as_ref()))]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The problem document, when the server sent one.
        problem: Option<Problem>,
    },
    /// The server could not be reached, or the connection broke (includes timeouts).
    #[error("{context}")]
    Transport {
        /// What was being done, e.g. "could not reach http://127.0.0.1:8000/".
        context: String,
        /// The underlying I/O, TLS, HTTP or WebSocket error.
        #[source]
        source: BoxError,
    },
    /// A response or socket message that is not what the protocol says.
    #[error("unexpected data from the server: {0}")]
    Protocol(String),
    /// The client was configured with something unusable (e.g. a base URL that is not http(s)).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A watch lost every contact with the server (socket and polling) for too long.
    #[error("no contact with the server for {} s; giving up", .after.as_secs())]
    Offline {
        /// How long there was no contact.
        after: Duration,
        /// The last failure seen, if any.
        #[source]
        last: Option<Box<ClientError>>,
    },
}

fn detail(problem: Option<&Problem>) -> DetailSuffix<'_> {
    DetailSuffix(problem)
}

/// Renders ": <detail>" (or ": <title>") when a problem document is present.
struct DetailSuffix<'a>(Option<&'a Problem>);

impl fmt::Display for DetailSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(Problem { detail: Some(detail), .. }) => write!(f, ": {detail}"),
            Some(problem) if !problem.title.is_empty() => write!(f, ": {}", problem.title),
            _ => Ok(()),
        }
    }
}

impl ClientError {
    /// The error for an unsuccessful status, with the problem body if one could be read.
    pub fn from_status(status: u16, problem: Option<Problem>) -> Self {
        match status {
            401 => Self::Unauthorized { problem },
            404 => Self::NotFound { problem },
            _ => Self::Http { status, problem },
        }
    }

    /// A transport error with what was being attempted.
    pub fn transport(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Transport { context: context.into(), source: source.into() }
    }

    /// The HTTP status behind this error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::NotFound { .. } => Some(404),
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem document the server sent, if any.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Unauthorized { problem } | Self::NotFound { problem } | Self::Http { problem, .. } => {
                problem.as_ref()
            }
            _ => None,
        }
    }

    /// True when trying again later may succeed: the network, timeouts, 5xx, 408, 425, 429 and
    /// garbled data. False for 401, 404, other 4xx, bad configuration and [`Self::Offline`].
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Protocol(_) => true,
            Self::Http { status, .. } => *status >= 500 || matches!(status, 408 | 425 | 429),
            Self::Unauthorized { .. } | Self::NotFound { .. } | Self::Config(_) | Self::Offline { .. } => {
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::wire::problems;

    use super::*;

    fn problem(detail: Option<&str>) -> Problem {
        Problem {
            kind: problems::type_uri(problems::UNAUTHORIZED),
            title: "Not signed in".into(),
            status: 401,
            detail: detail.map(Into::into),
        }
    }

    #[test]
    fn messages_carry_the_problem_detail_or_title() {
        let err = ClientError::from_status(401, Some(problem(Some("the access token has expired"))));
        assert_eq!(err.to_string(), "the server refused the access token: the access token has expired");
        let err = ClientError::from_status(401, Some(problem(None)));
        assert_eq!(err.to_string(), "the server refused the access token: Not signed in");
        assert_eq!(ClientError::from_status(503, None).to_string(), "the server answered 503");
    }

    #[test]
    fn statuses_are_classified() {
        let cases =
            [(401, false), (404, false), (400, false), (409, false), (429, true), (500, true), (503, true)];
        for (status, transient) in cases {
            assert_eq!(ClientError::from_status(status, None).is_transient(), transient, "status {status}");
        }
    }
}
