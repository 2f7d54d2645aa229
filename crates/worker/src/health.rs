//! The worker's own HTTP port (`worker.metrics_addr`): `/metrics` for Prometheus, `/healthz`
//! for the liveness probe and `/readyz` for the readiness probe.
//!
//! - `/healthz` answers 200 while the heartbeat loop has beaten within a few heartbeat
//!   intervals, 503 otherwise: a worker whose runtime or heartbeat hangs is restarted. A Redis
//!   outage does not make it fail (the loop keeps beating and retrying; a restart would not help).
//! - `/readyz` answers 200 when Redis and Postgres answer within 2 s and the worker is not
//!   draining, 503 otherwise.
//! - `/metrics` is the process's [`observe::Registry`] plus the fleet gauges while this worker is
//!   the fleet reporter ([`crate::stats::FleetReport`]).
//!
//! A small hyper 1 server on the worker's tokio runtime: answering at all shows the runtime runs.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tasks::Tasks;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::stats::FleetReport;

/// How long `/readyz` waits for each store.
const READY_WITHIN: Duration = Duration::from_secs(2);
/// A client has this long to send its request head (no slow-loris connections kept open).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Where liveness reads the time; tests drive it instead of waiting.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// When the heartbeat loop last beat, and how long a silence means the worker hangs.
#[derive(Clone)]
pub struct Liveness {
    clock: Clock,
    max_silence: Duration,
    last: Arc<Mutex<Instant>>,
    beats: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Liveness").field("max_silence", &self.max_silence).finish_non_exhaustive()
    }
}

impl Liveness {
    /// Alive while the last beat is at most `max_silence` old by `clock`; starting counts as a
    /// beat.
    pub fn new(max_silence: Duration, clock: Clock) -> Self {
        let last = Arc::new(Mutex::new(clock()));
        Self { clock, max_silence, last, beats: Arc::new(watch::Sender::new(0)) }
    }

    /// The heartbeat loop ran once.
    pub fn beat(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = (self.clock)();
        self.beats.send_modify(|beats| *beats += 1);
    }

    /// How long the heartbeat has been silent, when that is longer than allowed.
    pub fn silent_for(&self) -> Option<Duration> {
        let last = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let silence = (self.clock)().saturating_duration_since(last);
        (silence > self.max_silence).then_some(silence)
    }

    /// The number of beats so far, to wait for the next one (tests).
    pub fn beats(&self) -> watch::Receiver<u64> {
        self.beats.subscribe()
    }
}

/// What the endpoints read.
#[derive(Clone)]
pub(crate) struct HealthState {
    pub(crate) tasks: Tasks,
    pub(crate) liveness: Liveness,
    /// Fired when the worker starts draining: `/readyz` then says 503.
    pub(crate) draining: CancellationToken,
    pub(crate) registry: observe::Registry,
    pub(crate) fleet: FleetReport,
}

/// Serves the port until `stop` fires.
pub(crate) async fn serve(listener: TcpListener, state: HealthState, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: the next accept may work.
                    tracing::warn!(%error, "metrics port: accept failed");
                    continue;
                }
            },
        };
        let state = state.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(respond(&state, &request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = stop.cancelled() => {}
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "metrics port: connection ended with an error");
                    }
                }
            }
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    reply(status, "application/json", value.to_string())
}

async fn respond(state: &HealthState, request: &Request<Incoming>) -> Reply {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response =
            json(StatusCode::METHOD_NOT_ALLOWED, &serde_json::json!({"status": "method not allowed"}));
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match request.uri().path() {
        "/metrics" => {
            let mut text = state.registry.render();
            text.push_str(&state.fleet.render(Instant::now()));
            reply(StatusCode::OK, observe::CONTENT_TYPE, text)
        }
        "/healthz" => match state.liveness.silent_for() {
            None => json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
            Some(silence) => json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({
                    "status": "unhealthy",
                    "reason": format!("the heartbeat has been silent for {}s", silence.as_secs()),
                }),
            ),
        },
        "/readyz" => readyz(state).await,
        _ => json(StatusCode::NOT_FOUND, &serde_json::json!({"status": "not found"})),
    }
}

async fn readyz(state: &HealthState) -> Reply {
    if state.draining.is_cancelled() {
        return json(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({"status": "draining"}));
    }
    let (redis, postgres) = tokio::join!(
        tokio::time::timeout(READY_WITHIN, state.tasks.ping_redis()),
        tokio::time::timeout(READY_WITHIN, state.tasks.ping_postgres())
    );
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    let (redis, postgres) = (matches!(redis, Ok(Ok(()))), matches!(postgres, Ok(Ok(()))));
    let status = if redis && postgres { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ready" } else { "not ready" },
        "redis": word(redis),
        "postgres": word(postgres),
    });
    json(status, &body)
}
