//! [`Application`]: builds the gateway from [`Settings`], binds its listener and runs it until a
//! signal (or its [`CancellationToken`]) stops it.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{Extensions, HttpService};
use actix_server::Server;
use actix_service::{IntoServiceFactory as _, ServiceFactoryExt as _, map_config};
use actix_web::dev::AppConfig;
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use anyhow::Context as _;
use settings::Settings;
use tasks::Tasks;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{JwksOptions, Verifier};
use crate::demo::Mounts;
use crate::error::{json_error, path_error, query_error};
use crate::hub::Hub;
use crate::slots::{RequestSlots, UserSlots};
use crate::state::AppState;
use crate::{http_edge, http_metrics, metrics, openapi, problems, routes, trace_context, ws, ws_upgrade};

/// How long sockets and in-flight requests get to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The gateway, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    hub_task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to Postgres (running migrations) and Redis, subscribes to the event feed and
    /// binds the listener (`api.port = 0` picks a free port).
    ///
    /// # Errors
    /// When a dependency is unreachable or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let tasks = Tasks::connect(&tasks::Config::from_settings(&settings))
            .await
            .context("cannot connect to Postgres (DATABASE_URL)")?;
        tasks.ping_redis().await.context("cannot reach Redis (REDIS_URL)")?;
        let mut feed = tasks.events().context("invalid REDIS_URL")?;
        // Subscribe before serving: no event published after a socket subscribes can be missed.
        feed.ready().await.context("cannot subscribe to the Redis event channel")?;

        let registry = metrics::install();
        let api = Arc::new(settings.api.clone());
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let hub = Hub::new(api.ws_queue_capacity);
        let hub_task = tokio::spawn(hub.clone().run(feed, shutdown.clone()));
        let state = AppState {
            tasks,
            hub,
            metrics: registry,
            api: api.clone(),
            sockets: UserSlots::default(),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        };
        let verifier = Verifier::new(&settings.auth, JwksOptions::default());
        // The web demo and the development token endpoint, when the settings turn them on.
        let mounts = Mounts::from_settings(&settings);

        let listener = TcpListener::bind((api.host.as_str(), api.port))
            .with_context(|| format!("cannot bind {}:{}", api.host, api.port))?;
        let local = listener.local_addr().context("listener has no address")?;
        let port = local.port();
        let max_body = api.max_body_bytes;
        let body_timeout = Duration::from_secs(api.body_timeout_secs);
        let requests =
            web::Data::new(RequestSlots { slots: UserSlots::default(), max: api.max_requests_per_user });
        // actix counts connections per worker; the setting is for the process.
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let headroom = DESCRIPTOR_HEADROOM
            + settings.redis.pool_size as u64
            + u64::from(settings.database.max_connections);
        let max_connections = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((soft, _)) => connection_cap(api.max_connections, soft, headroom),
            Err(_) => api.max_connections,
        };
        let app = move |state: AppState| {
            App::new()
                .app_data(web::Data::new(state))
                .app_data(requests.clone())
                .app_data(web::Data::new(verifier.clone()))
                .app_data(web::JsonConfig::default().limit(max_body).error_handler(json_error(max_body)))
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .configure(routes::configure)
                .service(routes::resource("/ws/{task_id}", "GET").route(web::get().to(ws::socket)))
                .service(routes::resource("/problems/{slug}", "GET").route(web::get().to(problems::page)))
                .service(
                    routes::resource("/asyncapi.json", "GET").route(web::get().to(openapi::asyncapi_handler)),
                )
                .configure(|cfg| mounts.configure(cfg))
                .default_service(web::to(routes::not_found))
                // Inside the access log, so refused requests are logged and counted too.
                .wrap(from_fn(move |req, next| http_edge::edge(body_timeout, req, next)))
                // Absolute problem `type` URIs when MAIN_DOMAIN is set, for every error inside.
                .wrap(from_fn(problems::absolute_types))
                // Outside the edge checks, so their 408s and 413s are timed and counted too.
                .wrap(from_fn(http_metrics::record))
                // Outermost: the request id and trace reach every response and log line, and the
                // access log line is written in the request's span.
                .wrap(from_fn(trace_context::trace_context))
        };
        // What `actix_web::HttpServer` would build, plus the upgrade hook (see `ws_upgrade`),
        // which `HttpServer` cannot take.
        let builder = actix_server::Server::build();
        let draining = builder.graceful_shutdown_signal();
        let server = builder
            .workers(workers)
            .max_concurrent_connections(max_connections.div_ceil(workers))
            .disable_signals()
            .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
            .listen("api", listener, move || {
                let draining = draining.clone();
                // Called once per HTTP worker thread: its requests' Redis commands go through a
                // connection driven by the thread's own runtime.
                let state = state.with_own_connection();
                HttpService::build()
                    // HttpServer's settings, where they differ from HttpService's defaults.
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .h1_allow_half_closed(true)
                    .local_addr(local)
                    // Idle keep-alive connections close at once when the server stops.
                    .graceful_shutdown_signal(move || {
                        let draining = draining.clone();
                        async move { draining.notified().await }
                    })
                    .on_connect_ext(|io: &TcpStream, extensions: &mut Extensions| {
                        http_edge::on_connect(io, extensions);
                    })
                    // A second instance of the App for upgrade requests: the same routes and
                    // middleware, on the same worker thread.
                    .upgrade(ws_upgrade::service(app(state.clone()).into_factory()))
                    // `AppConfig::default()`: `HttpServer` passes the bound address as the host,
                    // which only requests without a `Host` header would ever see.
                    .finish(map_config(
                        app(state).into_factory().map_err(|error: actix_web::Error| error.error_response()),
                        |()| AppConfig::default(),
                    ))
                    .tcp()
            })
            .context("cannot listen")?
            .run();
        tracing::info!(port, "gateway listening");
        Ok(Self { port, server, shutdown, tracker, hub_task })
    }

    /// The bound port (the one the OS picked when `api.port` is 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The token that stops this application (what SIGTERM/ctrl-c cancel).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM, ctrl-c or [`Application::shutdown_token`]; then closes every
    /// socket with 1012, finishes in-flight requests and returns.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self { server, shutdown, tracker, hub_task, .. } = self;
        let handle = server.handle();
        let stopper = tokio::spawn({
            let shutdown = shutdown.clone();
            let tracker = tracker.clone();
            async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = signal() => {
                        tracing::info!("shutdown signal received");
                        shutdown.cancel();
                    }
                }
                // Sockets first, while the HTTP workers are alive to flush their close frames
                // (1012); only then stop accepting and finish in-flight requests.
                tracker.close();
                if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
                    tracing::warn!("some sockets did not close within the grace period");
                }
                handle.stop(true).await;
            }
        });
        let result = server.await.context("HTTP server failed");
        shutdown.cancel();
        let _ = stopper.await;
        let _ = hub_task.await;
        tracing::info!("gateway stopped");
        result
    }
}

/// Descriptors kept free besides the Redis and Postgres pools: the listener, the event feed,
/// JWKS fetches, log files.
const DESCRIPTOR_HEADROOM: u64 = 32;

/// `api.max_connections`, lowered to what the descriptor limit leaves room for: past that,
/// accepting fails with EMFILE and the gateway stops answering anyone (not just the client that
/// holds the connections).
fn connection_cap(configured: usize, descriptor_limit: u64, headroom: u64) -> usize {
    let room = usize::try_from(descriptor_limit.saturating_sub(headroom).max(1)).unwrap_or(usize::MAX);
    if configured > room {
        tracing::warn!(
            configured,
            descriptor_limit,
            accepted = room,
            "RELAY__API__MAX_CONNECTIONS is above what the descriptor limit (ulimit -n) leaves room for; using the lower value"
        );
        return room;
    }
    configured
}

/// Resolves on ctrl-c or SIGTERM.
async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::connection_cap;

    #[test]
    fn the_connection_cap_leaves_room_for_the_pools_under_the_descriptor_limit() {
        assert_eq!(connection_cap(25_000, 1024, 100), 924, "a plain shell's 1024");
        assert_eq!(connection_cap(25_000, 1_048_576, 100), 25_000, "Docker's limit: the setting holds");
        assert_eq!(connection_cap(500, 1024, 100), 500, "a lower setting is kept");
        assert_eq!(connection_cap(500, 50, 100), 1, "never zero");
    }
}
