//! `latency`: N open sockets, each watching a task; events published the way the worker publishes
//! them, stamped at publish; publish-to-receive latency as the client sees it.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::report::{Run, Summary};
use crate::stack::{self, Stack};
use crate::{tasks, watch};

/// Options of `loadgen latency`.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub(crate) struct LatencyArgs {
    /// Open sockets.
    #[arg(long, default_value_t = 1000)]
    pub(crate) sockets: usize,
    /// Tasks the sockets watch (socket i watches task i % tasks); default: one task per socket.
    #[arg(long)]
    pub(crate) tasks: Option<usize>,
    /// Events published per second, round robin over the tasks (open loop).
    #[arg(long, default_value_t = 1000)]
    pub(crate) rate: u32,
    /// Seconds of publishing.
    #[arg(long, default_value_t = 10)]
    pub(crate) secs: u64,
    /// Socket handshakes in flight at once while opening.
    #[arg(long, default_value_t = 256)]
    pub(crate) connect_concurrency: usize,
}

/// The p99 target of the issue for this many sockets.
fn p99_target(sockets: usize) -> Option<f64> {
    match sockets {
        0..=1000 => Some(5.0),
        1001..=10_000 => Some(20.0),
        _ => None,
    }
}

/// Runs the scenario.
///
/// # Errors
/// When the stack cannot be started or sockets cannot be opened.
pub(crate) async fn run(stack: &mut Stack, args: &LatencyArgs) -> anyhow::Result<Run> {
    let mut run = Run::new(&format!("latency.{}", args.sockets), args);
    let n_tasks = args.tasks.unwrap_or(args.sockets).clamp(1, args.sockets.max(1));
    stack::raise_fd_limit(args.sockets as u64 + 1024)?;
    // Each task has its own user: with more sockets per task than `api.max_sockets_per_user`
    // (20), that limit is raised for this run.
    let per_user = args.sockets.div_ceil(n_tasks);
    let mut env = Vec::new();
    if per_user > 20 {
        env.push(("RELAY__API__MAX_SOCKETS_PER_USER", per_user.to_string()));
    }
    let api = stack.api(&env).await?;
    eprintln!("latency: creating and claiming {n_tasks} tasks");
    let tasks = tasks::create(stack, n_tasks).await?;
    let claims = Arc::new(tasks::claim(&stack.tasks, &tasks).await?);
    eprintln!("latency: opening {} sockets", args.sockets);
    let (sockets, took) = watch::open_all(api.port, &tasks, args.sockets, args.connect_concurrency).await?;
    run.add("sockets", sockets.len() as f64, "");
    run.add("open_rate", sockets.len() as f64 / took.as_secs_f64(), "sockets/s");
    let stop = CancellationToken::new();
    let watchers: Vec<_> = sockets.into_iter().map(|s| tokio::spawn(watch::watch(s, stop.clone()))).collect();

    eprintln!("latency: publishing {} events/s for {} s", args.rate, args.secs);
    let cpu_before = stack::cpu_time(api.pid)?;
    let started = Instant::now();
    let published = tasks::publish_open_loop(claims.clone(), args.rate, args.secs).await;
    let elapsed = started.elapsed();
    let api_cpu = stack::cpu_time(api.pid)?.saturating_sub(cpu_before);
    let rss = stack::rss_kib(api.pid)?;

    // Each socket's last message is its task's terminal event, which comes after every event
    // published before it: once every socket has closed, everything that will arrive has.
    tasks::finish(&claims).await;
    let all_closed = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut results = Vec::with_capacity(watchers.len());
        for watcher in watchers {
            results.push(watcher.await);
        }
        results
    });
    let Ok(results) = all_closed.await else {
        anyhow::bail!("sockets did not close within 30 s of their tasks finishing")
    };
    stop.cancel();

    let mut watchers_per_task = vec![0u64; n_tasks];
    for i in 0..args.sockets {
        watchers_per_task[i % n_tasks] += 1;
    }
    let expected: u64 = published.per_task.iter().zip(&watchers_per_task).map(|(e, w)| e * w).sum();
    let mut latencies = Vec::new();
    let (mut errors, mut not_done) = (0, 0);
    for watched in results.into_iter().flatten() {
        latencies.extend_from_slice(&watched.latencies);
        errors += u64::from(watched.error.is_some());
        not_done += u64::from(watched.close != Some(1000));
    }
    run.add("events_published", published.sent as f64, "events");
    run.add("publish_errors", published.errors as f64, "");
    run.add("deliveries_expected", expected as f64, "");
    run.add("deliveries_missing", expected.saturating_sub(latencies.len() as u64) as f64, "");
    run.add("socket_errors", errors as f64, "");
    run.add("sockets_not_closed_1000", not_done as f64, "");
    run.add_latency("e2e", Summary::of_micros_as_ms(&latencies), p99_target(args.sockets));
    run.add_latency("publish_call", Summary::of_micros_as_ms(&published.call_micros), None);
    run.add("api_cpu", api_cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0, "% core");
    run.add("api_rss", rss as f64 / 1024.0, "MiB");
    Ok(run)
}
