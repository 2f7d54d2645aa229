//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: Redis and Postgres answer within two seconds, and the gateway is not shutting
/// down (so the load balancer stops routing to it first).
///
/// # Errors
/// 503 while shutting down or when a dependency does not answer.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::unavailable(anyhow::anyhow!("shutting down")));
    }
    let limit = Duration::from_secs(2);
    let (redis, postgres) = tokio::join!(
        tokio::time::timeout(limit, state.tasks.ping_redis()),
        tokio::time::timeout(limit, state.tasks.ping_postgres())
    );
    let redis_ok = matches!(redis, Ok(Ok(())));
    let postgres_ok = matches!(postgres, Ok(Ok(())));
    if redis_ok && postgres_ok {
        return Ok(
            HttpResponse::Ok().json(serde_json::json!({"status": "ready", "redis": "ok", "postgres": "ok"}))
        );
    }
    let down: Vec<&str> = [(!redis_ok).then_some("redis"), (!postgres_ok).then_some("postgres")]
        .into_iter()
        .flatten()
        .collect();
    Err(ApiError::unavailable(anyhow::anyhow!("not ready: {} unreachable", down.join(" and "))))
}

/// `GET /metrics`: Prometheus text of this process's series; reads no store.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    crate::metrics::watched_tasks(state.hub.watched_tasks());
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(observe::CONTENT_TYPE)))
        .body(state.metrics.render())
}

/// `GET /openapi.json`: the OpenAPI 3.1 description of this API.
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document(state.api.main_domain.as_deref()))
}
