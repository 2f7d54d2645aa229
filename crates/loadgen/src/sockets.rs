//! `sockets`: N idle authenticated sockets; the gateway's resident memory per socket and its
//! CPU while they sit idle (server pings every `api.ws_ping_secs`, 20 s).

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::report::{Run, Target};
use crate::stack::{self, Stack};
use crate::{tasks, watch};

/// Options of `loadgen sockets`.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub(crate) struct SocketsArgs {
    /// Idle sockets to open (one task and one user each).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) sockets: usize,
    /// Seconds to measure idle CPU over (the server pings every socket every 20 s).
    #[arg(long, default_value_t = 20)]
    pub(crate) idle_secs: u64,
    /// Socket handshakes in flight at once while opening.
    #[arg(long, default_value_t = 256)]
    pub(crate) connect_concurrency: usize,
}

/// Sockets opened and closed before the baseline, so lazily made state (pools, caches,
/// thread-locals) is not counted per socket.
const WARM_UP: usize = 32;

/// Runs the scenario.
///
/// # Errors
/// When the stack cannot be started or sockets cannot be opened.
pub(crate) async fn run(stack: &mut Stack, args: &SocketsArgs) -> anyhow::Result<Run> {
    let mut run = Run::new("sockets", args);
    stack::raise_fd_limit(args.sockets as u64 + 1024)?;
    let api = stack.api(&[]).await?;
    eprintln!("sockets: creating {} tasks", args.sockets);
    let tasks = tasks::create(stack, args.sockets.max(WARM_UP)).await?;
    let (warm, _) = watch::open_all(api.port, &tasks, WARM_UP, WARM_UP).await?;
    drop(warm);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = stack::rss_kib(api.pid)?;

    eprintln!("sockets: opening {} sockets", args.sockets);
    let (sockets, took) = watch::open_all(api.port, &tasks, args.sockets, args.connect_concurrency).await?;
    let open = sockets.len();
    let stop = CancellationToken::new();
    let watchers: Vec<_> = sockets.into_iter().map(|s| tokio::spawn(watch::watch(s, stop.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = stack::rss_kib(api.pid)?;

    eprintln!("sockets: measuring idle CPU for {} s", args.idle_secs);
    let cpu_before = stack::cpu_time(api.pid)?;
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let idle_cpu = stack::cpu_time(api.pid)?.saturating_sub(cpu_before);
    let rss_idle = stack::rss_kib(api.pid)?;
    let dropped = watchers.iter().filter(|w| w.is_finished()).count();
    stop.cancel();
    for watcher in watchers {
        let _ = tokio::time::timeout(Duration::from_secs(10), watcher).await;
    }

    let per_socket = rss_after.saturating_sub(rss_before) as f64 / open.max(1) as f64;
    run.add("open", open as f64, "sockets");
    run.add("open_rate", open as f64 / took.as_secs_f64(), "sockets/s");
    run.add("api_rss_before", rss_before as f64 / 1024.0, "MiB");
    run.add("api_rss_open", rss_after as f64 / 1024.0, "MiB");
    run.add("api_rss_after_idle", rss_idle as f64 / 1024.0, "MiB");
    run.add_target("api_rss_per_socket", per_socket, "KiB", Target::AtMost(16.0));
    run.add("api_idle_cpu", idle_cpu.as_secs_f64() / args.idle_secs.max(1) as f64 * 100.0, "% core");
    run.add("dropped_while_idle", dropped as f64, "sockets");
    Ok(run)
}
