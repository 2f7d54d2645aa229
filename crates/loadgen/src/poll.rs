//! `poll`: kept-alive `GET /task/{id}` as fast as C connections go (requests/s and latency), then
//! long-polls (`?since=&wait=30`) woken by events published the way the worker publishes them
//! (publish-to-response latency).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::http;
use crate::report::{Run, Summary, Target};
use crate::stack::{self, Stack};
use crate::tasks::{self, Peek, Task, now_micros, stamp_of};

/// Options of `loadgen poll`.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub(crate) struct PollArgs {
    /// Kept-alive connections sending `GET /task/{id}` back to back.
    #[arg(long, default_value_t = 64)]
    pub(crate) connections: usize,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 10)]
    pub(crate) secs: u64,
    /// Tasks the GETs spread over (one user each).
    #[arg(long, default_value_t = 64)]
    pub(crate) tasks: usize,
    /// Concurrent long-polls, one task each (0: skip the phase).
    #[arg(long, default_value_t = 1000)]
    pub(crate) long_polls: usize,
    /// Events published per second during the long-poll phase, round robin over their tasks.
    #[arg(long, default_value_t = 1000)]
    pub(crate) rate: u32,
}

/// Runs the scenario.
///
/// # Errors
/// When the stack cannot be started or connections cannot be opened.
pub(crate) async fn run(stack: &mut Stack, args: &PollArgs) -> anyhow::Result<Run> {
    let mut run = Run::new("poll", args);
    stack::raise_fd_limit((args.connections + args.long_polls) as u64 + 1024)?;
    let api = stack.api(&[]).await?;
    let tasks = tasks::create(stack, args.tasks.max(1)).await?;
    // Claimed, so the queue holds only the long-poll phase's tasks when that phase claims them.
    tasks::claim(&stack.tasks, &tasks).await?;

    eprintln!("poll: {} connections sending GET /task/{{id}} for {} s", args.connections, args.secs);
    let mut conns = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        conns.push(http::Conn::connect(api.port).await?);
    }
    let cpu_before = stack::cpu_time(api.pid)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.secs);
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| tokio::spawn(get_loop(api.port, conn, tasks[i % tasks.len()].clone(), deadline)))
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for handle in handles {
        let (samples, failed) = handle.await?;
        latencies.extend(samples);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let api_cpu = stack::cpu_time(api.pid)?.saturating_sub(cpu_before);
    run.add_target("get.rps", latencies.len() as f64 / elapsed, "req/s", Target::AtLeast(20_000.0));
    run.add_latency("get", Summary::of_micros_as_ms(&latencies), None);
    run.add("get.errors", errors as f64, "");
    run.add("get.api_cpu", api_cpu.as_secs_f64() / elapsed * 100.0, "% core");

    if args.long_polls > 0 {
        long_polls(stack, api.port, args, &mut run).await?;
    }
    Ok(run)
}

/// Sends GETs back to back until `deadline`; returns each one's latency (µs) and the failures.
async fn get_loop(port: u16, mut conn: http::Conn, task: Task, deadline: Instant) -> (Vec<u64>, u64) {
    let request = http::get(&format!("/task/{}", task.id), &task.token);
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while Instant::now() < deadline {
        let sent = Instant::now();
        match conn.send(&request).await {
            Ok(response) if response.status == 200 => latencies.push(sent.elapsed().as_micros() as u64),
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                match http::Conn::connect(port).await {
                    Ok(new) => conn = new,
                    Err(_) => break,
                }
            }
        }
    }
    (latencies, errors)
}

async fn long_polls(stack: &Stack, port: u16, args: &PollArgs, run: &mut Run) -> anyhow::Result<()> {
    eprintln!("poll: {} long-polls, {} events/s for {} s", args.long_polls, args.rate, args.secs);
    let tasks = tasks::create(stack, args.long_polls).await?;
    let claims = Arc::new(tasks::claim(&stack.tasks, &tasks).await?);
    let stop = CancellationToken::new();
    let mut handles = Vec::with_capacity(tasks.len());
    for task in tasks {
        let conn = http::Conn::connect(port).await?;
        handles.push(tokio::spawn(long_poll_loop(conn, task, stop.clone())));
    }
    // Let every long-poll reach the server before the first event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let published = tasks::publish_open_loop(claims.clone(), args.rate, args.secs).await;
    let elapsed = started.elapsed().as_secs_f64();
    // The terminal event answers every pending long-poll, and the loops end on it.
    tasks::finish(&claims).await;
    let (mut latencies, mut responses, mut errors) = (Vec::new(), 0, 0);
    for handle in handles {
        match tokio::time::timeout(Duration::from_secs(35), handle).await {
            Ok(Ok(polled)) => {
                latencies.extend(polled.latencies);
                responses += polled.responses;
                errors += polled.errors;
            }
            _ => errors += 1,
        }
    }
    stop.cancel();
    run.add("long.events_published", published.sent as f64, "events");
    run.add("long.responses_per_s", responses as f64 / elapsed, "resp/s");
    run.add_latency("long.e2e", Summary::of_micros_as_ms(&latencies), None);
    run.add("long.errors", errors as f64, "");
    Ok(())
}

/// What one long-polling client saw.
struct Polled {
    latencies: Vec<u64>,
    responses: u64,
    errors: u64,
}

/// Long-polls one task from seq 1 until its terminal event (or `stop`), measuring each answer's
/// latency from the publish stamp of the event it carries.
async fn long_poll_loop(mut conn: http::Conn, task: Task, stop: CancellationToken) -> Polled {
    let mut polled = Polled { latencies: Vec::new(), responses: 0, errors: 0 };
    let mut since = 1;
    while !stop.is_cancelled() {
        let request = http::get(&format!("/task/{}?since={since}&wait=30", task.id), &task.token);
        let response = tokio::select! {
            () = stop.cancelled() => break,
            response = conn.send(&request) => response,
        };
        let now = now_micros();
        let Ok(response) = response else {
            polled.errors += 1;
            break;
        };
        let Ok(peek) = serde_json::from_slice::<Peek>(&response.body) else {
            polled.errors += 1;
            break;
        };
        polled.responses += 1;
        if peek.seq > since
            && let Some(stamp) = stamp_of(peek.details.as_deref())
        {
            polled.latencies.push(now.saturating_sub(stamp));
        }
        since = since.max(peek.seq);
        if peek.status.is_terminal() {
            break;
        }
    }
    polled
}
