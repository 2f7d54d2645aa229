//! The gateway binary: telemetry, settings, build, run.

use std::process::ExitCode;

use api::Application;
use settings::Role;

/// mimalloc rather than glibc's malloc: see the workspace's Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // One thread for the main runtime (the hub, the Redis connections' drivers, the pools'
    // upkeep) unless TOKIO_WORKER_THREADS says otherwise; requests and sockets run on the HTTP
    // workers' own threads. With a thread per core here too, the wake-ups of one request hopped
    // between more threads: measured, 25 % fewer context switches and 6 % less api CPU per job,
    // the same event latency at 10,000 sockets (docs/performance.md).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    // The log format is a setting, so a settings error is printed as one plain line (exit 2).
    let settings = match settings::load_or_exit(Role::Api) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // Held to the end: dropping it flushes the spans still queued for the collector.
    let _telemetry = match settings::telemetry::init(settings.log.format, &settings.log.filter) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match Application::build(settings).await {
        Ok(app) => app.run_until_stopped().await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the cause chain; the chain never holds a URL's password.
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
