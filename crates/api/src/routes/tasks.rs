//! Task handlers: submission (with its `Idempotency-Key`), the snapshot and its long-poll,
//! cancellation.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use protocol::wire::{IDEMPOTENCY_KEY, JSON, problems};
use protocol::{Language, ScrapeRequest, TaskId, TaskUpdate, TikTokUrl, UserId};
use serde::Deserialize;
use store::{Admission, CancelOutcome, NewTask};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::metrics::Submission;
use crate::snapshot::{Current, current};
use crate::state::AppState;

/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);
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
        Err(ApiError::RateLimited { .. }) => state.metrics.submission(Submission::RateLimited),
        Err(ApiError::Invalid { .. } | ApiError::BadRequest(_)) => {
            state.metrics.submission(Submission::Rejected)
        }
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
    let task_id = TaskId::new();
    if let Some(key) = &key {
        let earlier = state
            .bus
            .idempotency(owner, key, task_id, IDEMPOTENCY_TTL)
            .await
            .map_err(ApiError::unavailable)?;
        if let Some(earlier) = earlier {
            state.metrics.submission(Submission::Replayed);
            return match current(state, earlier, owner).await {
                Ok(now) => Ok(accepted(state.api.main_domain.as_deref(), earlier, now.json)),
                // The first request with this key has reserved it but not created its task yet.
                Err(ApiError::NotFound(_)) => Err(ApiError::Conflict(
                    "a request with this Idempotency-Key is still being processed; retry in a moment".into(),
                )),
                Err(other) => Err(other),
            };
        }
    }
    let result = admit_and_enqueue(state, owner, task_id, &url, &language).await;
    if let Some(key) = &key {
        // The key must name the task this request ended up with, or nothing.
        let rebind = match &result {
            Ok((id, _)) if *id == task_id => None,
            Ok((id, _)) => Some(*id),
            Err(_) => None,
        };
        if (result.is_err() || rebind.is_some())
            && let Err(error) = state.bus.forget_idempotency(owner, key).await
        {
            tracing::warn!(error = %error, "could not release an Idempotency-Key");
        }
        if let Some(id) = rebind
            && let Err(error) = state.bus.idempotency(owner, key, id, IDEMPOTENCY_TTL).await
        {
            tracing::warn!(error = %error, "could not rebind an Idempotency-Key");
        }
    }
    let (id, json) = result?;
    Ok(accepted(state.api.main_domain.as_deref(), id, json))
}

async fn admit_and_enqueue(
    state: &AppState,
    owner: UserId,
    task_id: TaskId,
    url: &TikTokUrl,
    language: &Language,
) -> Result<(TaskId, String), ApiError> {
    let api = &state.api;
    if let Some(wait) = state
        .bus
        .rate_limit("submit", owner, api.submissions_per_minute, Duration::from_secs(60))
        .await
        .map_err(ApiError::unavailable)?
    {
        return Err(ApiError::RateLimited {
            retry_after: wait,
            detail: format!(
                "at most {} submissions per minute; retry after the Retry-After delay",
                api.submissions_per_minute
            ),
        });
    }
    let max = api.max_tasks_in_flight;
    let pending = TaskUpdate::pending(task_id);
    let admission = state
        .store
        .admit_task(&NewTask { id: task_id, owner, url, language }, max, &pending)
        .await
        .map_err(ApiError::unavailable)?;
    match admission {
        Admission::Limited(unfinished) => Err(ApiError::RateLimited {
            retry_after: IN_FLIGHT_RETRY,
            detail: format!(
                "you already have {unfinished} unfinished tasks (limit {max}); wait for one to finish or cancel one"
            ),
        }),
        Admission::Running(id) => {
            state.metrics.submission(Submission::Joined);
            let now = current(state, id, owner).await?;
            Ok((id, now.json))
        }
        Admission::Created(_) => {
            let job = bus::Job { task_id, owner, url: url.clone(), language: language.clone() };
            match state.bus.enqueue(&job, &pending).await {
                Ok(event) => {
                    state.metrics.submission(Submission::Created);
                    tracing::info!(%task_id, "task queued");
                    Ok((task_id, event))
                }
                Err(error) => {
                    let failure = TaskUpdate::queue_unavailable(task_id);
                    if let Err(e) = state.store.mark_enqueue_failed(&failure).await {
                        tracing::error!(error = %e, %task_id, "could not mark an unqueued task failed");
                    }
                    Err(ApiError::unavailable(anyhow::Error::new(error).context("enqueue failed")))
                }
            }
        }
    }
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

/// The seq named by `If-None-Match`, when it names exactly one of our tags.
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
    let mut now = match (since, wait) {
        (Some(since), Some(wait)) => long_poll(&state, task, owner, since, Duration::from_secs(wait)).await?,
        _ => current(&state, task, owner).await?,
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
    Ok(builder.body(std::mem::take(&mut now.json)))
}

/// Waits until the task has an event after `since`, it is finished, `wait` passed or the
/// gateway shuts down; then returns the current snapshot. Woken by the hub, never by polling.
async fn long_poll(
    state: &AppState,
    task: TaskId,
    owner: UserId,
    since: u64,
    wait: Duration,
) -> Result<Current, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    // Register before reading, so an event between the read and the wait still wakes us.
    let mut waiter = state.hub.waiter(task);
    loop {
        let now = current(state, task, owner).await?;
        if now.seq > since || now.state.is_terminal() {
            return Ok(now);
        }
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
    // Postgres decides: a task it has finished cannot be cancelled, and once cancelled there,
    // a worker can no longer finish it.
    let mut update = TaskUpdate::cancelled(task, 0);
    let row = match state.store.cancel_task(task, owner, &update).await.map_err(ApiError::unavailable)? {
        CancelOutcome::NotFound => return Err(ApiError::task_not_found()),
        CancelOutcome::Finished(row) => {
            return Err(ApiError::Conflict(format!("the task already finished with {}", row.status)));
        }
        CancelOutcome::Cancelled(row) => row,
    };
    state.metrics.cancel_request();
    update.step = u32::try_from(row.step).unwrap_or(0);
    let json = match state.bus.cancel(task, &update).await {
        Ok(Some(event)) => {
            // Postgres keeps the event itself, so its snapshot is this event once Redis lets go.
            update.seq = seq_of(&event).unwrap_or_default();
            if let Err(error) = state.store.record_event(&update).await {
                tracing::warn!(error = %error, %task, "could not record the cancel event");
            }
            event
        }
        // Redis no longer knows the task or it just finished there: Postgres has the outcome.
        Ok(None) => current(&state, task, owner).await?.json,
        Err(error) => {
            tracing::warn!(error = %error, %task, "cancelled in Postgres, but Redis was not told");
            row.snapshot_json()
        }
    };
    tracing::info!(%task, "task cancelled");
    Ok(json_response(HttpResponse::Ok(), json))
}

/// The seq of a logged event (they start with `{"seq":N,`).
pub fn seq_of(event: &str) -> Option<u64> {
    event.strip_prefix("{\"seq\":")?.split([',', '}']).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_is_read_from_a_logged_event() {
        assert_eq!(seq_of(r#"{"seq":12,"type":"progress"}"#), Some(12));
        assert_eq!(seq_of(r#"{"seq":3}"#), Some(3));
        assert_eq!(seq_of(r#"{"type":"progress"}"#), None);
    }

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
