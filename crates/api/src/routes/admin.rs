//! The admin API under `/admin/api/`: the queue and its workers, any user's tasks with filters,
//! one task's log and attempts, dead letters with their reason, requeue (one or all), cancel,
//! and the last hour's throughput. Mounted only when `admin.enabled` is on
//! ([`crate::demo::Mounts`]); every handler takes an [`Admin`] (the admin token or a
//! `service_role` JWT) and logs who did what.
//!
//! Times are Unix seconds. Documented in docs/operations.md ("Admin console"); not in
//! `/openapi.json`, which describes the users' API.

use actix_web::{HttpResponse, web};
use protocol::{Event, TaskId, TaskState, UserId};
use serde::{Deserialize, Serialize};
use tasks::admin::{EventSource, Requeued};
use tasks::{Cancelled, Minute, TaskFilter, TaskRow};
use time::OffsetDateTime;

use crate::auth::admin::Admin;
use crate::error::ApiError;
use crate::routes::resource;
use crate::state::AppState;

/// Tasks per page unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 50;
/// The most tasks one page holds.
const MAX_LIMIT: i64 = 200;

/// Registers the admin API's routes; [`crate::demo::Mounts`] calls it when the console is on.
/// (Full paths rather than a scope, so `scripts/check-deploy` sees them under `/admin`.)
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/admin/api/overview", "GET").route(web::get().to(overview)))
        .service(resource("/admin/api/tasks", "GET").route(web::get().to(list_tasks)))
        .service(resource("/admin/api/tasks/{task_id}", "GET").route(web::get().to(show_task)))
        .service(resource("/admin/api/tasks/{task_id}/cancel", "POST").route(web::post().to(cancel)))
        .service(resource("/admin/api/dead-letters", "GET").route(web::get().to(dead_letters)))
        .service(resource("/admin/api/dead-letters/requeue", "POST").route(web::post().to(requeue_all)))
        .service(resource("/admin/api/dead-letters/{task_id}/requeue", "POST").route(web::post().to(requeue)))
        .service(resource("/admin/api/throughput", "GET").route(web::get().to(throughput)));
}

fn unix(at: OffsetDateTime) -> f64 {
    at.unix_timestamp_nanos() as f64 / 1e9
}

fn parse_task(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|_| ApiError::NotFound("no task with this id"))
}

fn ok(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(body)
}

/// A worker in `GET /admin/api/overview`.
#[derive(Debug, Serialize)]
struct WorkerBody {
    id: String,
    last_heartbeat: f64,
    in_flight: Vec<String>,
}

/// `GET /admin/api/overview`.
#[derive(Debug, Serialize)]
struct OverviewBody {
    queued: u64,
    delayed: u64,
    dead: u64,
    workers: Vec<WorkerBody>,
    now: f64,
}

async fn overview(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, ApiError> {
    let queue = state.tasks.admin().overview().await.map_err(ApiError::unavailable)?;
    tracing::debug!(who = %admin.who, action = "overview", "admin read");
    Ok(ok(&OverviewBody {
        queued: queue.queued,
        delayed: queue.delayed,
        dead: queue.dead,
        workers: queue
            .workers
            .into_iter()
            .map(|w| WorkerBody {
                id: w.id,
                last_heartbeat: w.heartbeat_ms as f64 / 1e3,
                in_flight: w.in_flight,
            })
            .collect(),
        now: unix(OffsetDateTime::now_utc()),
    }))
}

/// A task in the admin API's lists.
#[derive(Debug, Serialize)]
struct TaskBody {
    task_id: String,
    owner: String,
    url: String,
    language: String,
    status: &'static str,
    step: i32,
    message: Option<String>,
    error: Option<String>,
    recipe_id: Option<String>,
    recipe_name: Option<String>,
    attempts: i32,
    claim_token: Option<String>,
    last_seq: i64,
    created_at: f64,
    updated_at: f64,
}

impl From<&TaskRow> for TaskBody {
    fn from(row: &TaskRow) -> Self {
        Self {
            task_id: row.id.to_string(),
            owner: row.owner.to_string(),
            url: row.url.clone(),
            language: row.language.clone(),
            status: row.state().as_str(),
            step: row.step,
            message: row.message.clone(),
            error: row.error.clone(),
            recipe_id: row.recipe_id.map(|id| id.to_string()),
            recipe_name: row.recipe_name.clone(),
            attempts: row.attempts,
            claim_token: row.claim_token.map(|t| t.to_string()),
            last_seq: row.last_seq,
            created_at: unix(row.created_at),
            updated_at: unix(row.updated_at),
        }
    }
}

/// The filters of `GET /admin/api/tasks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    error: Option<String>,
    user: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct ListBody {
    tasks: Vec<TaskBody>,
    next_cursor: Option<String>,
}

fn time_param(name: &str, secs: Option<i64>) -> Result<Option<OffsetDateTime>, ApiError> {
    secs.map(|s| {
        OffsetDateTime::from_unix_timestamp(s)
            .map_err(|_| ApiError::BadRequest(format!("{name} must be a time in Unix seconds")))
    })
    .transpose()
}

async fn list_tasks(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let status = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(word) => Some(TaskState::parse(&word.to_ascii_uppercase()).ok_or_else(|| {
            ApiError::BadRequest("state must be PENDING, PROGRESS, SUCCESS or FAILURE".into())
        })?),
        None => None,
    };
    let owner = match query.user.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(
            UserId::parse(raw).map_err(|_| ApiError::BadRequest("user must be a user id (UUID)".into()))?,
        ),
        None => None,
    };
    let before = match query.cursor.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => {
            Some(TaskId::parse(raw).map_err(|_| ApiError::BadRequest("cursor must be a task id".into()))?)
        }
        None => None,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let filter = TaskFilter {
        state: status.map(TaskState::as_str),
        error: query.error.as_deref().filter(|s| !s.is_empty()),
        owner: owner.map(|o| o.as_uuid()),
        since: time_param("since", query.since)?,
        until: time_param("until", query.until)?,
        before: before.map(|t| t.as_uuid()),
        limit,
    };
    let rows = state.tasks.admin().tasks(&filter).await.map_err(ApiError::unavailable)?;
    tracing::debug!(who = %admin.who, action = "list", found = rows.len(), "admin read");
    let next_cursor = if rows.len() as i64 == limit { rows.last().map(|r| r.id.to_string()) } else { None };
    Ok(ok(&ListBody { tasks: rows.iter().map(TaskBody::from).collect(), next_cursor }))
}

/// A job's claim in `GET /admin/api/tasks/{id}`.
#[derive(Debug, Serialize)]
struct JobBody {
    attempts: u64,
    worker: Option<String>,
    claim_token: Option<String>,
    lease_until: Option<f64>,
    retry_at: Option<f64>,
}

#[derive(Debug, Serialize)]
struct TaskDetailBody {
    task: TaskBody,
    events: Vec<serde_json::Value>,
    events_source: &'static str,
    job: Option<JobBody>,
    dead_letter: bool,
}

fn event_json(event: &Event) -> serde_json::Value {
    serde_json::from_str(&event.json).unwrap_or(serde_json::Value::Null)
}

async fn show_task(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = parse_task(&path)?;
    let detail = state
        .tasks
        .admin()
        .task(task)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or(ApiError::NotFound("no task with this id"))?;
    tracing::debug!(who = %admin.who, action = "show", %task, "admin read");
    Ok(ok(&TaskDetailBody {
        task: TaskBody::from(&detail.row),
        events: detail.events.iter().map(event_json).collect(),
        events_source: match detail.source {
            EventSource::Redis => "redis",
            EventSource::Postgres => "postgres",
        },
        job: detail.job.map(|j| JobBody {
            attempts: j.attempts,
            worker: j.worker,
            claim_token: j.token,
            lease_until: j.lease_until_ms.map(|ms| ms as f64 / 1e3),
            retry_at: j.retry_at_ms.map(|ms| ms as f64 / 1e3),
        }),
        dead_letter: detail.dead_letter,
    }))
}

/// A dead letter in `GET /admin/api/dead-letters`: the task and why it died.
#[derive(Debug, Serialize)]
struct DeadLetterBody {
    task_id: String,
    /// The task's row; `null` for a job that never had one (`unknown_task`).
    task: Option<TaskBody>,
}

#[derive(Debug, Serialize)]
struct DeadLettersBody {
    dead_letters: Vec<DeadLetterBody>,
}

async fn dead_letters(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, ApiError> {
    let dead = state.tasks.admin().dead_letters().await.map_err(ApiError::unavailable)?;
    tracing::debug!(who = %admin.who, action = "dead_letters", found = dead.len(), "admin read");
    Ok(ok(&DeadLettersBody {
        dead_letters: dead
            .iter()
            .map(|d| DeadLetterBody { task_id: d.task_id.clone(), task: d.row.as_ref().map(TaskBody::from) })
            .collect(),
    }))
}

fn requeue_refusal(outcome: &Requeued) -> Option<&'static str> {
    match outcome {
        Requeued::Queued(_) => None,
        Requeued::NotDeadLetter => Some("not_dead_letter"),
        Requeued::Refused => Some("refused"),
        Requeued::NotFound => Some("not_found"),
    }
}

async fn requeue(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = parse_task(&path)?;
    let outcome = state.tasks.admin().requeue(task).await.map_err(ApiError::unavailable)?;
    tracing::info!(who = %admin.who, action = "requeue", task_ids = %task, outcome = requeue_refusal(&outcome).unwrap_or("queued"), "admin action");
    match outcome {
        Requeued::Queued(event) => Ok(ok(&event_json(&event))),
        Requeued::NotDeadLetter => Err(ApiError::Conflict("the task is not a dead letter".into())),
        Requeued::Refused => Err(ApiError::Conflict(
            "the task was not re-opened: it is no longer failed, or its owner runs the same video and language again"
                .into(),
        )),
        Requeued::NotFound => Err(ApiError::NotFound("no task with this id")),
    }
}

#[derive(Debug, Serialize)]
struct Skipped {
    task_id: String,
    reason: &'static str,
}

#[derive(Debug, Serialize)]
struct RequeueAllBody {
    requeued: Vec<String>,
    skipped: Vec<Skipped>,
}

async fn requeue_all(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, ApiError> {
    let outcomes = state.tasks.admin().requeue_all().await.map_err(ApiError::unavailable)?;
    let mut body = RequeueAllBody { requeued: Vec::new(), skipped: Vec::new() };
    for (task_id, outcome) in outcomes {
        match requeue_refusal(&outcome) {
            None => body.requeued.push(task_id),
            Some(reason) => body.skipped.push(Skipped { task_id, reason }),
        }
    }
    tracing::info!(
        who = %admin.who,
        action = "requeue_all",
        task_ids = body.requeued.join(","),
        skipped = body.skipped.len(),
        "admin action"
    );
    Ok(ok(&body))
}

async fn cancel(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = parse_task(&path)?;
    let outcome = state.tasks.admin().cancel(task).await.map_err(ApiError::unavailable)?;
    match outcome {
        Cancelled::Cancelled(event) => {
            tracing::info!(who = %admin.who, action = "cancel", task_ids = %task, "admin action");
            Ok(ok(&event_json(&event)))
        }
        Cancelled::AlreadyFinished(finished) => {
            tracing::info!(who = %admin.who, action = "cancel", task_ids = %task, outcome = "already_finished", "admin action");
            Err(ApiError::Conflict(format!("the task already finished with {}", finished.as_str())))
        }
        Cancelled::NotFound => Err(ApiError::NotFound("no task with this id")),
    }
}

/// One minute of `GET /admin/api/throughput`.
#[derive(Debug, Serialize)]
struct MinuteBody {
    minute: i64,
    succeeded: i64,
    failed: i64,
    cancelled: i64,
    /// Failed among the finished tasks that were not cancelled, 0 to 1 (0 without any).
    error_rate: f64,
}

impl From<&Minute> for MinuteBody {
    fn from(m: &Minute) -> Self {
        let done = m.succeeded + m.failed;
        let error_rate = if done == 0 { 0.0 } else { m.failed as f64 / done as f64 };
        Self {
            minute: m.minute.unix_timestamp(),
            succeeded: m.succeeded,
            failed: m.failed,
            cancelled: m.cancelled,
            error_rate,
        }
    }
}

#[derive(Debug, Serialize)]
struct ThroughputBody {
    minutes: Vec<MinuteBody>,
}

async fn throughput(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, ApiError> {
    let minutes = state.tasks.admin().throughput().await.map_err(ApiError::unavailable)?;
    tracing::debug!(who = %admin.who, action = "throughput", "admin read");
    Ok(ok(&ThroughputBody { minutes: minutes.iter().map(MinuteBody::from).collect() }))
}
