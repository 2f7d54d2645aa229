//! [`ApiError`]: every error response of the gateway, written as RFC 9457 problem details.

use std::time::Duration;

use actix_web::error::{JsonPayloadError, PayloadError, QueryPayloadError};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use protocol::Problem;
use protocol::wire::{PROBLEM_JSON, problems};

use crate::auth::token::AuthError;

/// An error answered to a client. Each variant documents its status; 5xx bodies never carry the
/// internal cause (it is logged once, here, with its chain).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not the JSON we expect, or a query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401 (503 for [`AuthError::KeysUnavailable`]): no usable access token.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// 401: no admin token or `service_role` JWT on the admin API (what is wrong, for a person).
    #[error("{0}")]
    AdminUnauthorized(&'static str),
    /// 403: a valid token that may not use this endpoint (a user's token on the admin API).
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such resource for this user (another user's task looks exactly the same).
    #[error("{0}")]
    NotFound(&'static str),
    /// 408 (and the connection closed): the request body did not arrive within
    /// `api.body_timeout_secs`.
    #[error("the request body did not arrive within {secs} s")]
    RequestTimeout {
        /// The deadline in seconds.
        secs: u64,
    },
    /// 405 with `Allow`: the path exists but does not answer this method.
    #[error("this path answers only {allow}")]
    MethodNotAllowed {
        /// The methods it answers, as the `Allow` header lists them.
        allow: &'static str,
    },
    /// 409: the request conflicts with the resource's state (cancelling a finished task).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the configured limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not `application/json`.
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 422: the JSON is well-formed but a field is not acceptable.
    #[error("{detail}")]
    Invalid {
        /// Which problem type (`invalid-url`, `invalid-language`).
        kind: &'static str,
        /// What is wrong, for a person.
        detail: String,
    },
    /// 429 with `Retry-After`: a per-user limit was reached.
    #[error("{detail}")]
    RateLimited {
        /// Seconds until a retry can succeed (rounded up, at least 1).
        retry_after: Duration,
        /// Which limit, for a person.
        detail: String,
    },
    /// 503 with `Retry-After`: a dependency (Redis, Postgres, the JWKS) is unavailable.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 500: a bug or an unexpected failure.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 500 from any error.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// A 503 from any error.
    pub fn unavailable(error: impl Into<anyhow::Error>) -> Self {
        Self::Unavailable(error.into())
    }

    /// The 404 for a task the user cannot see.
    pub fn task_not_found() -> Self {
        Self::NotFound("no task with this id belongs to you")
    }

    /// The problem type slug, title, and the detail shown to the client.
    fn parts(&self) -> (&'static str, &'static str, Option<String>) {
        match self {
            Self::BadRequest(d) => (problems::BAD_REQUEST, "Malformed request", Some(d.clone())),
            Self::Unauthorized(AuthError::KeysUnavailable) => (
                problems::UNAVAILABLE,
                "Service unavailable",
                Some("token signing keys could not be fetched; retry shortly".into()),
            ),
            Self::Unauthorized(e) => (problems::UNAUTHORIZED, "Not signed in", Some(e.to_string())),
            Self::AdminUnauthorized(d) => (problems::UNAUTHORIZED, "Not signed in", Some((*d).into())),
            Self::Forbidden(d) => (problems::FORBIDDEN, "Forbidden", Some((*d).into())),
            Self::NotFound(d) => (problems::NOT_FOUND, "Not found", Some((*d).into())),
            Self::RequestTimeout { .. } => {
                (problems::REQUEST_TIMEOUT, "Request body too slow", Some(self.to_string()))
            }
            Self::MethodNotAllowed { .. } => {
                (problems::METHOD_NOT_ALLOWED, "Method not allowed", Some(self.to_string()))
            }
            Self::Conflict(d) => (problems::CONFLICT, "Conflict", Some(d.clone())),
            Self::PayloadTooLarge { .. } => {
                (problems::PAYLOAD_TOO_LARGE, "Request body too large", Some(self.to_string()))
            }
            Self::UnsupportedMediaType => {
                (problems::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type", Some(self.to_string()))
            }
            Self::Invalid { kind, detail } => (kind, "Invalid request field", Some(detail.clone())),
            Self::RateLimited { detail, .. } => {
                (problems::RATE_LIMITED, "Too many requests", Some(detail.clone()))
            }
            Self::Unavailable(_) => (
                problems::UNAVAILABLE,
                "Service unavailable",
                Some("a backing service is unavailable; retry shortly".into()),
            ),
            Self::Internal(_) => (problems::INTERNAL, "Internal server error", None),
        }
    }

    /// The problem document of this error, its `type` relative to the gateway.
    pub fn problem(&self) -> Problem {
        self.problem_at("")
    }

    /// The problem document with its `type` under `base` (`https://{MAIN_DOMAIN}`, or empty for a
    /// relative `/problems/<slug>`).
    pub fn problem_at(&self, base: &str) -> Problem {
        let (kind, title, detail) = self.parts();
        Problem {
            kind: format!("{base}{}{kind}", problems::PREFIX),
            title: title.into(),
            status: self.status_code().as_u16(),
            detail,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(AuthError::KeysUnavailable) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized(_) | Self::AdminUnauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            Self::Unavailable(e) => tracing::warn!(error = format!("{e:#}"), "dependency unavailable"),
            _ => {}
        }
        self.render("")
    }
}

impl ApiError {
    /// The response of this error with its problem `type` under `base`, without logging (the
    /// MAIN_DOMAIN middleware renders errors a second time).
    pub fn render(&self, base: &str) -> HttpResponse {
        let problem = self.problem_at(base);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            Self::Unauthorized(AuthError::KeysUnavailable) | Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            Self::Unauthorized(AuthError::Missing) | Self::AdminUnauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"recipe-relay\""));
            }
            Self::Unauthorized(_) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"recipe-relay\", error=\"invalid_token\"",
                ));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, *allow));
            }
            Self::RateLimited { retry_after, .. } => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                response.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
            }
            _ => {}
        }
        // Serializing four plain fields cannot fail.
        response.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

/// Maps the JSON extractor's errors to problem documents (400, 413, 415).
pub fn json_error(limit: usize) -> impl Fn(JsonPayloadError, &HttpRequest) -> actix_web::Error + Clone {
    move |error, _req| {
        let api = match &error {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                ApiError::PayloadTooLarge { limit }
            }
            JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::BadRequest(format!(
                "the body must be a JSON object {{\"url\": \"<TikTok link>\", \"language\": \"<BCP 47 tag>\"}}: {e}"
            )),
            JsonPayloadError::Deserialize(e) => {
                ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
            }
            _ => ApiError::BadRequest("the request body could not be read".into()),
        };
        api.into()
    }
}

/// Maps query-string errors to a 400 problem document.
pub fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("a query parameter is malformed: {error}")).into()
}

/// Maps path errors (e.g. a task id that is not a UUID) to the 404 an unknown id gets.
pub fn path_error(_error: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound("no resource with this id belongs to you").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn render(error: ApiError) -> (StatusCode, header::HeaderMap, serde_json::Value) {
        let response = error.error_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, headers, serde_json::from_slice(&body).unwrap())
    }

    #[actix_web::test]
    async fn every_error_is_problem_json_with_its_status() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400, problems::type_uri(problems::BAD_REQUEST)),
            (ApiError::from(AuthError::Expired), 401, problems::type_uri(problems::UNAUTHORIZED)),
            (ApiError::from(AuthError::KeysUnavailable), 503, problems::type_uri(problems::UNAVAILABLE)),
            (ApiError::task_not_found(), 404, problems::type_uri(problems::NOT_FOUND)),
            (ApiError::Conflict("done".into()), 409, problems::type_uri(problems::CONFLICT)),
            (ApiError::PayloadTooLarge { limit: 10 }, 413, problems::type_uri(problems::PAYLOAD_TOO_LARGE)),
            (
                ApiError::Invalid { kind: problems::INVALID_URL, detail: "bad".into() },
                422,
                problems::type_uri(problems::INVALID_URL),
            ),
            (
                ApiError::RateLimited { retry_after: Duration::from_millis(1500), detail: "slow".into() },
                429,
                problems::type_uri(problems::RATE_LIMITED),
            ),
        ];
        for (error, status, kind) in cases {
            let (got, headers, body) = render(error).await;
            assert_eq!(got.as_u16(), status, "{kind}");
            assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON, "{kind}");
            assert_eq!(body["type"], kind);
            assert_eq!(body["status"], status);
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{kind} has a detail");
        }
    }

    #[actix_web::test]
    async fn retry_after_is_rounded_up() {
        let (_, headers, _) =
            render(ApiError::RateLimited { retry_after: Duration::from_millis(1500), detail: "x".into() })
                .await;
        assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "2");
    }

    #[actix_web::test]
    async fn server_errors_never_leak_their_cause() {
        let (status, _, body) =
            render(ApiError::internal(anyhow::anyhow!("password=hunter2 at db.internal:5432"))).await;
        assert_eq!(status, 500);
        assert!(!body.to_string().contains("hunter2"), "{body}");
        let (status, _, body) = render(ApiError::unavailable(anyhow::anyhow!("redis://:pw@10.0.0.1"))).await;
        assert_eq!(status, 503);
        assert!(!body.to_string().contains("10.0.0.1"), "{body}");
    }

    #[actix_web::test]
    async fn unauthorized_answers_carry_www_authenticate() {
        let (_, headers, _) = render(ApiError::from(AuthError::Signature)).await;
        let value = headers.get(header::WWW_AUTHENTICATE).unwrap().to_str().unwrap();
        assert!(value.contains("invalid_token"), "{value}");
    }
}
