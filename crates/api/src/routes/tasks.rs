//! Task handlers: submission (with its `Idempotency-Key`), the snapshot and its long-poll,
//! cancellation.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use protocol::wire::{IDEMPOTENCY_KEY, JSON, problems};
use protocol::{Event, Language, ScrapeRequest, TaskId, TikTokUrl, UserId};
use serde::Deserialize;
use tasks::{Cancelled, Limits, Submitted};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::metrics::{self, Limit, LongPollWaiting, Submission, Via};
use crate::snapshot::polled;
use crate::state::AppState;
use crate::trace_context;

/// Longest accepted `Idempotency-Key`.
const IDEMPOTENCY_KEY_MAX: usize = 255;
/// What `Retry-After` says when the in-flight limit is reached (tasks take tens of seconds).
const IN_FLIGHT_RETRY: Duration = Duration::from_secs(10);

fn invalid(kind: &'static str, detail: String) -> ApiError {
    ApiError::Invalid { kind, detail }
}

fn json_response(mut builder: actix_web::HttpResponseBuilder, body: String) -> HttpResponse {
    builder.insert_header((header::CONTENT_TYPE, JSON)).insert_header((header::CACHE_CONTROL, "no-store"));
    builder.body(body)
}

fn accepted(main_domain: Option<&str>, task: TaskId, json: String) -> HttpResponse {
    let mut builder = HttpResponse::Accepted();
    // Absolute when the public domain is known: a client behind another base URL needs no join.
    let base = main_domain.map(|d| format!("https://{d}")).unwrap_or_default();
    builder.insert_header((header::LOCATION, format!("{base}/task/{task}")));
    json_response(builder, json)
}

/// The `Idempotency-Key` header, if present and well-formed.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else { return Ok(None) };
    let key =
        value.to_str().ok().map(str::trim).filter(|k| {
            (1..=IDEMPOTENCY_KEY_MAX).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
        });
    key.map(|k| Some(k.to_owned())).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters (a UUID is ideal)"
        ))
    })
}

/// `POST /scrape/async`: queue a recipe extraction.
///
/// Order: auth, body, `Idempotency-Key` (a retry is answered before any limit counts it),
/// rate limit, in-flight limit, create (or join the user's running task for the same video and
/// language), enqueue.
///
/// # Errors
/// 400/413/415 for the body, 401, 422 for the URL or language, 429 for limits, 503 when Redis
/// or Postgres is down.
pub async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: web::Json<ScrapeRequest>,
) -> Result<HttpResponse, ApiError> {
    let owner = user.id();
    let result = submit_checked(&state, owner, &req, body.into_inner()).await;
    match &result {
        Ok(_) => {}
        Err(ApiError::RateLimited { .. }) => metrics::submission(Submission::RateLimited),
        Err(ApiError::Invalid { .. } | ApiError::BadRequest(_)) => metrics::submission(Submission::Rejected),
        Err(_) => {}
    }
    result
}

async fn submit_checked(
    state: &AppState,
    owner: UserId,
    req: &HttpRequest,
    body: ScrapeRequest,
) -> Result<HttpResponse, ApiError> {
    let url = TikTokUrl::parse(&body.url).map_err(|e| invalid(problems::INVALID_URL, e.to_string()))?;
    let language =
        Language::parse(&body.language).map_err(|e| invalid(problems::INVALID_LANGUAGE, e.to_string()))?;
    let key = idempotency_key(req)?;
    let api = &state.api;
    let limits = Limits { per_minute: api.submissions_per_minute, in_flight: api.max_tasks_in_flight };
    // The job carries the request's trace, so the worker's spans and log lines continue it.
    let origin = trace_context::of(req).map(|t| t.origin()).unwrap_or_default();
    let submission = tasks::Submission {
        owner,
        url: &url,
        language: &language,
        idempotency_key: key.as_deref(),
        limits,
        origin,
    };
    let (task, event, counted) = match state.tasks.submit(&submission).await.map_err(ApiError::unavailable)? {
        Submitted::Created(task, event) => {
            tracing::info!(%task, "task queued");
            (task, event, Submission::Created)
        }
        Submitted::Joined(task, event) => (task, event, Submission::Joined),
        Submitted::Replayed(task, event) => (task, event, Submission::Replayed),
        Submitted::KeyInUse => {
            metrics::submission(Submission::Replayed);
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry in a moment".into(),
            ));
        }
        Submitted::RateLimited(wait) => {
            metrics::limit_hit(Limit::RateLimit);
            return Err(ApiError::RateLimited {
                retry_after: wait,
                detail: format!(
                    "at most {} submissions per minute; retry after the Retry-After delay",
                    api.submissions_per_minute
                ),
            });
        }
        Submitted::InFlightLimit(unfinished) => {
            metrics::limit_hit(Limit::InFlight);
            return Err(ApiError::RateLimited {
                retry_after: IN_FLIGHT_RETRY,
                detail: format!(
                    "you already have {unfinished} unfinished tasks (limit {}); wait for one to finish or cancel one",
                    api.max_tasks_in_flight
                ),
            });
        }
    };
    metrics::submission(counted);
    Ok(accepted(api.main_domain.as_deref(), task, event.json.to_string()))
}

/// Query of `GET /task/{id}`.
#[derive(Debug, Deserialize)]
pub struct TaskQuery {
    /// Long-poll: answer once there is an event after this seq.
    pub since: Option<u64>,
    /// Long-poll: wait at most this many seconds (capped by `api.long_poll_max_secs`).
    pub wait: Option<u64>,
}

fn etag(seq: u64) -> String {
    format!("\"{seq}\"")
}

/// Every entity tag `If-None-Match` lists (weak ones without their `W/`, so `W/"3"` matches our
/// `"3"`); `*` stays as it is.
fn if_none_match(req: &HttpRequest) -> Vec<String> {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/").to_owned())
        .collect()
}

fn parse_task(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|_| ApiError::task_not_found())
}

/// `GET /task/{id}`: the snapshot; `?since=&wait=` long-polls; `If-None-Match` gives 304.
///
/// # Errors
/// 401, 404 for a missing or foreign task, 503.
pub async fn get_task(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TaskQuery>,
) -> Result<HttpResponse, ApiError> {
    let task = parse_task(&path)?;
    let owner = user.id();
    let tags = if_none_match(&req);
    // Without `since`, an If-None-Match naming our tag long-polls from that seq.
    let since = query.since.or_else(|| tags.iter().find_map(|t| t.trim_matches('"').parse().ok()));
    let wait = query.wait.map(|w| w.min(state.api.long_poll_max_secs)).filter(|w| *w > 0);
    let now = match (since, wait) {
        (Some(since), Some(wait)) => long_poll(&state, task, owner, since, Duration::from_secs(wait)).await?,
        _ => polled(&state, task, owner).await?,
    };
    let tag = etag(now.seq);
    if tags.iter().any(|t| *t == tag || t == "*") {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .finish());
    }
    let mut builder = HttpResponse::Ok();
    builder.insert_header((header::ETAG, tag)).insert_header((header::CACHE_CONTROL, "no-cache"));
    builder.insert_header((header::CONTENT_TYPE, JSON));
    Ok(builder.body(now.json.to_string()))
}

/// Waits until the task has an event after `since`, it is finished, `wait` passed or the
/// gateway shuts down; then returns the current snapshot. Woken by the hub, never by polling.
async fn long_poll(
    state: &AppState,
    task: TaskId,
    owner: UserId,
    since: u64,
    wait: Duration,
) -> Result<Event, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    // Register before reading, so an event between the read and the wait still wakes us.
    let mut waiter = state.hub.waiter(task);
    // Set once the poll parks: counted as waiting until it answers (or the client leaves).
    let mut parked: Option<LongPollWaiting> = None;
    loop {
        let now = polled(state, task, owner).await?;
        if now.seq > since || now.is_terminal() {
            if parked.is_some() && now.seq > since {
                // It woke on this event: a live delivery, not a client catching up.
                metrics::event_delivered(Via::LongPoll, &now);
            }
            return Ok(now);
        }
        parked.get_or_insert_with(LongPollWaiting::start);
        tokio::select! {
            () = waiter.changed() => {}
            () = tokio::time::sleep_until(deadline) => return Ok(now),
            () = state.shutdown.cancelled() => return Ok(now),
        }
    }
}

/// `DELETE /task/{id}`: cancel a queued or running task.
///
/// # Errors
/// 401, 404, 409 when the task already finished, 503.
pub async fn cancel_task(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = parse_task(&path)?;
    let owner = user.id();
    let event = match state.tasks.cancel(task, owner).await.map_err(ApiError::unavailable)? {
        Cancelled::NotFound => return Err(ApiError::task_not_found()),
        Cancelled::AlreadyFinished(finished) => {
            return Err(ApiError::Conflict(format!("the task already finished with {}", finished.as_str())));
        }
        Cancelled::Cancelled(event) => event,
    };
    state.hub.polled().offer(task, &event);
    metrics::cancel_request();
    tracing::info!(%task, "task cancelled");
    Ok(json_response(HttpResponse::Ok(), event.json.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_checked() {
        let with = |key: &str| {
            idempotency_key(
                &actix_web::test::TestRequest::default()
                    .insert_header((IDEMPOTENCY_KEY, key))
                    .to_http_request(),
            )
        };
        assert_eq!(with("abc-123").unwrap().as_deref(), Some("abc-123"));
        assert!(with("has space").is_err());
        assert!(with(&"k".repeat(300)).is_err());
        assert_eq!(
            idempotency_key(&actix_web::test::TestRequest::default().to_http_request()).unwrap(),
            None
        );
    }
}
