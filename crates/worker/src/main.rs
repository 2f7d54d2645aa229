//! `worker`: settings -> telemetry -> build -> run until SIGTERM/SIGINT, then drain and exit 0.

use std::process::ExitCode;

use settings::{Role, telemetry};
use tokio_util::sync::CancellationToken;
use worker::Worker;

/// mimalloc rather than glibc's malloc: see the workspace's Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let settings = match settings::load_or_exit(Role::Worker) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // Held to the end: dropping it flushes the spans still queued for the collector.
    let _telemetry = match telemetry::init(settings.log.format, &settings.log.filter) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    // One thread for everything unless TOKIO_WORKER_THREADS asks for a pool: a job waits on Redis
    // and Postgres (and the media tools' processes) nearly all its time, and with a thread per
    // core the wake-ups of one job hop between threads. Measured with the offline providers:
    // about half the context switches per job, and less CPU per job. A current-thread runtime
    // rather than a pool of one also runs the claim loop on the thread that drives the Redis
    // connections: 4-5 context switches per job became 3 (docs/performance.md).
    let mut builder = if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let worker = match Worker::build(&settings).await {
            Ok(worker) => worker,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "worker could not start");
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(signals(shutdown.clone()));
        match worker.run_until_stopped(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Fires `shutdown` on the first SIGTERM or SIGINT.
async fn signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        tracing::error!("could not install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    shutdown.cancel();
}
