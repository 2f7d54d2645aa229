//! `throughput`: jobs submitted through `POST /scrape/async` (one user per job, so no per-user
//! limit applies), run by K real worker processes with the offline providers, each job counted
//! when its terminal event is published. Reports jobs/s end to end, Redis commands per job (INFO
//! commandstats deltas), Redis round trips per job (a MONITOR on a small extra batch) and where
//! the CPU went.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt;
use protocol::TaskId;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::http;
use crate::report::{Run, Summary, Target};
use crate::stack::{self, Stack};
use crate::tasks::RECIPE_URLS;

/// Options of `loadgen throughput`.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub(crate) struct ThroughputArgs {
    /// Jobs in the measured batch.
    #[arg(long, default_value_t = 5000)]
    pub(crate) jobs: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 2)]
    pub(crate) workers: usize,
    /// Jobs each worker runs at once (`RELAY__WORKER__CONCURRENCY`).
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Concurrent submitting connections.
    #[arg(long, default_value_t = 32)]
    pub(crate) submitters: usize,
    /// Jobs run before measuring (connections, caches).
    #[arg(long, default_value_t = 200)]
    pub(crate) warm_up: usize,
    /// Jobs of the extra batch whose Redis round trips are counted with MONITOR (0: skip).
    #[arg(long, default_value_t = 200)]
    pub(crate) calibrate: usize,
}

/// Runs the scenario.
///
/// # Errors
/// When the stack cannot be started or jobs do not finish in time.
pub(crate) async fn run(stack: &mut Stack, args: &ThroughputArgs) -> anyhow::Result<Run> {
    let mut run = Run::new("throughput", args);
    let api = stack.api(&[]).await?;
    let mut workers = Vec::new();
    for n in 0..args.workers {
        workers.push(stack.worker(n, args.concurrency).await?);
    }
    let (ends, stop_feed) = terminal_events(stack).await?;
    let mut batch = Batch { port: api.port, ends, next_user: 0 };

    eprintln!("throughput: warming up with {} jobs", args.warm_up);
    batch.run(stack, args.warm_up, args.submitters).await?;

    let mut redis = redis::Client::open(stack.redis_url())?.get_multiplexed_async_connection().await?;
    let postgres = postgres_backends(stack).await?;
    let mut pids: Vec<(&str, u32)> = vec![("api", api.pid), ("loadgen", std::process::id())];
    pids.extend(workers.iter().map(|&pid| ("workers", pid)));
    pids.extend(postgres.iter().map(|&pid| ("postgres", pid)));
    // Redis reports its own CPU time (INFO cpu); its process is used for context switches only.
    let redis_pid = redis_pid(&mut redis).await.unwrap_or(0);
    pids.push(("redis", redis_pid));
    let stats_before = commandstats(&mut redis).await?;
    let redis_cpu_before = redis_cpu(&mut redis).await?;
    let cpu_before = cpu_times(&pids);
    let switches_before: Vec<u64> = pids.iter().map(|(_, pid)| stack::context_switches(*pid)).collect();

    eprintln!("throughput: {} jobs, {} workers x {} concurrent", args.jobs, args.workers, args.concurrency);
    let measured = batch.run(stack, args.jobs, args.submitters).await?;

    let cpu_after = cpu_times(&pids);
    let switches_after: Vec<u64> = pids.iter().map(|(_, pid)| stack::context_switches(*pid)).collect();
    let redis_cpu = redis_cpu(&mut redis).await? - redis_cpu_before;
    let stats_after = commandstats(&mut redis).await?;
    let done = measured.done.len() as f64;
    run.add("jobs", done, "jobs");
    run.add("failed", measured.failed as f64, "jobs");
    run.add("submit_errors", measured.submit_errors as f64, "");
    run.add("submit_rate", measured.submitted.len() as f64 / measured.submit_time.as_secs_f64(), "jobs/s");
    run.add_target("jobs_per_s", done / measured.elapsed.as_secs_f64(), "jobs/s", Target::AtLeast(1000.0));
    let mut latencies: Vec<u64> = measured.done.iter().map(|d| d.as_micros() as u64).collect();
    latencies.sort_unstable();
    run.add_latency("submit_to_end", Summary::of_micros_as_ms(&latencies), None);

    let mut per_command = BTreeMap::new();
    let mut total = 0.0;
    for (command, calls) in &stats_after {
        let delta = calls.saturating_sub(stats_before.get(command).copied().unwrap_or(0));
        if delta > 0 {
            let per_job = delta as f64 / done.max(1.0);
            total += per_job;
            per_command.insert(command.clone(), (per_job * 100.0).round() / 100.0);
        }
    }
    run.add("redis_commands_per_job", total, "cmds");
    eprintln!("throughput: Redis commands per job (incl. inside scripts): {per_command:?}");
    run.detail("redis_commands_per_job", &per_command);

    let elapsed = measured.elapsed.as_secs_f64();
    let mut cpu_by: BTreeMap<&str, f64> = BTreeMap::new();
    let mut switches_by: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, (name, _)) in pids.iter().enumerate() {
        if *name != "redis" {
            *cpu_by.entry(name).or_default() += cpu_after[i].saturating_sub(cpu_before[i]).as_secs_f64();
        }
        *switches_by.entry(name).or_default() += switches_after[i].saturating_sub(switches_before[i]);
    }
    cpu_by.insert("redis", redis_cpu);
    for (name, seconds) in &cpu_by {
        run.add(&format!("cpu_per_job.{name}"), seconds / done.max(1.0) * 1e6, "us");
    }
    run.add("cpu_busy", cpu_by.values().sum::<f64>() / elapsed * 100.0, "% core");
    for (name, switches) in &switches_by {
        run.add(&format!("context_switches_per_job.{name}"), *switches as f64 / done.max(1.0), "");
    }

    if args.calibrate > 0 {
        eprintln!("throughput: counting round trips with MONITOR over {} jobs", args.calibrate);
        let round_trips = count_round_trips(stack, &mut batch, args.calibrate, args.submitters).await?;
        let per_job: BTreeMap<String, f64> =
            round_trips.iter().map(|(c, n)| (c.clone(), *n as f64 / args.calibrate as f64)).collect();
        run.add("redis_client_commands_per_job", per_job.values().sum(), "cmds");
        for (command, n) in &per_job {
            run.add(&format!("redis_client_commands.{command}"), *n, "per job");
        }
    }
    stop_feed.cancel();
    Ok(run)
}

/// A stream of (task, time, succeeded) for every terminal event of the run, from this process's
/// own subscription to the events channel.
async fn terminal_events(
    stack: &Stack,
) -> anyhow::Result<(mpsc::UnboundedReceiver<(TaskId, Instant, bool)>, CancellationToken)> {
    let mut feed = stack.tasks.events()?;
    feed.ready().await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                () = stopped.cancelled() => return,
                item = feed.next() => item,
            };
            if let ::tasks::FeedItem::Event(task_id, event) = item
                && event.is_terminal()
                && tx.send((task_id, Instant::now(), event.state == protocol::TaskState::Success)).is_err()
            {
                return;
            }
        }
    });
    Ok((rx, stop))
}

/// Submits batches of jobs and waits for their ends.
struct Batch {
    port: u16,
    ends: mpsc::UnboundedReceiver<(TaskId, Instant, bool)>,
    next_user: usize,
}

/// One batch's outcome.
struct Outcome {
    submitted: Vec<(TaskId, Instant)>,
    submit_errors: usize,
    submit_time: Duration,
    /// Submit-to-end time of every job that ended.
    done: Vec<Duration>,
    failed: usize,
    /// First submission to last end.
    elapsed: Duration,
}

impl Batch {
    async fn run(&mut self, stack: &Stack, jobs: usize, submitters: usize) -> anyhow::Result<Outcome> {
        let first_user = self.next_user;
        self.next_user += jobs;
        let tokens: Arc<Vec<String>> =
            Arc::new((0..jobs).map(|_| stack.token(uuid::Uuid::new_v4())).collect::<anyhow::Result<_>>()?);
        let started = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..submitters.max(1) {
            let (tokens, next, port) = (tokens.clone(), next.clone(), self.port);
            handles.push(tokio::spawn(submit(port, tokens, next, first_user)));
        }
        let submitting = futures_util::future::join_all(handles);
        tokio::pin!(submitting);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60 + jobs as u64 / 100);
        let mut ends: HashMap<TaskId, (Instant, bool)> = HashMap::new();
        let mut submitted: Vec<(TaskId, Instant)> = Vec::new();
        let (mut submit_errors, mut submit_time) = (0, None);
        let mut pending: HashSet<TaskId> = HashSet::new();
        loop {
            if submit_time.is_some() && pending.is_empty() {
                break;
            }
            tokio::select! {
                end = self.ends.recv() => {
                    let (task, at, ok) = end.context("the event feed stopped")?;
                    ends.insert(task, (at, ok));
                    pending.remove(&task);
                }
                results = &mut submitting, if submit_time.is_none() => {
                    submit_time = Some(started.elapsed());
                    for result in results {
                        let (ok, failed) = result??;
                        submitted.extend(ok);
                        submit_errors += failed;
                    }
                    pending = submitted.iter().map(|(id, _)| *id).filter(|id| !ends.contains_key(id)).collect();
                }
                () = tokio::time::sleep_until(deadline) => {
                    anyhow::bail!("{} jobs did not finish in time", pending.len().max(1));
                }
            }
        }
        let submit_time = submit_time.unwrap_or_default();
        let mut done = Vec::with_capacity(submitted.len());
        let (mut failed, mut last) = (0, started);
        for (task, at) in &submitted {
            if let Some((end, ok)) = ends.get(task) {
                done.push(end.saturating_duration_since(*at));
                failed += usize::from(!ok);
                last = last.max(*end);
            }
        }
        Ok(Outcome { submitted, submit_errors, submit_time, done, failed, elapsed: last - started })
    }
}

/// One submitting connection: takes job numbers until there are none left.
async fn submit(
    port: u16,
    tokens: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    first_user: usize,
) -> anyhow::Result<(Vec<(TaskId, Instant)>, usize)> {
    #[derive(serde::Deserialize)]
    struct Accepted {
        task_id: TaskId,
    }
    let mut conn = http::Conn::connect(port).await?;
    let (mut submitted, mut errors) = (Vec::new(), 0);
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(token) = tokens.get(n) else { break };
        let url = RECIPE_URLS[(first_user + n) % RECIPE_URLS.len()];
        let body = format!(r#"{{"url":"{url}","language":"en"}}"#);
        let at = Instant::now();
        match conn.send(&http::post_json("/scrape/async", token, &body)).await {
            Ok(response) if response.status == 202 => {
                let accepted: Accepted = serde_json::from_slice(&response.body)?;
                submitted.push((accepted.task_id, at));
            }
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                conn = http::Conn::connect(port).await?;
            }
        }
    }
    Ok((submitted, errors))
}

/// Runs one more batch with a MONITOR attached and counts the commands clients sent for this
/// run's keys (commands inside scripts excluded): the round trips, but for the rate-limit
/// INCR+EXPIRE, which go out as one pipeline.
async fn count_round_trips(
    stack: &Stack,
    batch: &mut Batch,
    jobs: usize,
    submitters: usize,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let client = redis::Client::open(stack.redis_url())?;
    // redis 1.x sends MONITOR here and waits for its OK: it is in effect once this returns.
    let monitor = client.get_async_monitor().await?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let prefix = format!("{}:", stack.prefix);
    let counter = tokio::spawn(async move {
        let mut monitored = Monitored::default();
        let mut lines = monitor.into_on_message::<String>();
        loop {
            let line = tokio::select! {
                () = stopped.cancelled() => break,
                line = lines.next() => match line { Some(line) => line, None => break },
            };
            monitored.add(&line, &prefix);
        }
        monitored.ours()
    });
    batch.run(stack, jobs, submitters).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    Ok(counter.await?)
}

/// Commands seen by a MONITOR, by client connection.
#[derive(Debug, Default)]
struct Monitored {
    by_client: HashMap<String, BTreeMap<String, u64>>,
    /// Connections that sent a command for a key under this run's prefix: this run's. Their
    /// key-less commands count too (a pool checkout's `UNWATCH` + `PING`, say).
    ours: HashSet<String>,
}

impl Monitored {
    /// Counts one MONITOR line; commands run inside scripts (`[0 lua]`) are not round trips.
    fn add(&mut self, line: &str, prefix: &str) {
        let Some((client, command, rest)) = crate::costs::monitor_line(line) else { return };
        if client == "lua" {
            return;
        }
        if rest.contains(prefix) {
            self.ours.insert(client.to_owned());
        }
        *self
            .by_client
            .entry(client.to_owned())
            .or_default()
            .entry(command.to_ascii_lowercase())
            .or_default() += 1;
    }

    /// The commands of this run's connections, by command.
    fn ours(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for (client, commands) in &self.by_client {
            if self.ours.contains(client) {
                for (command, n) in commands {
                    *counts.entry(command.clone()).or_default() += n;
                }
            }
        }
        counts
    }
}

/// `cmdstat_<name>:calls=N,...` of INFO commandstats.
async fn commandstats(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<BTreeMap<String, u64>> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .collect())
}

/// CPU seconds the Redis server used so far (user + system, INFO cpu).
async fn redis_cpu(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<f64> {
    let info: String = redis::cmd("INFO").arg("cpu").query_async(conn).await?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            matches!(name, "used_cpu_sys" | "used_cpu_user").then(|| value.trim().parse::<f64>().ok())?
        })
        .sum())
}

/// The Redis server's process id (INFO server), for its context switches.
async fn redis_pid(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<u32> {
    let info: String = redis::cmd("INFO").arg("server").query_async(conn).await?;
    info.lines().find_map(|l| l.strip_prefix("process_id:")?.trim().parse().ok()).context("no process_id")
}

/// Process ids of the Postgres backends serving this run's database.
async fn postgres_backends(stack: &Stack) -> anyhow::Result<Vec<u32>> {
    let name = url::Url::parse(stack.database_url())?.path().trim_start_matches('/').to_owned();
    let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .fetch_all(&stack.pg)
        .await?;
    Ok(pids.into_iter().filter_map(|p| u32::try_from(p).ok()).collect())
}

fn cpu_times(pids: &[(&str, u32)]) -> Vec<Duration> {
    pids.iter().map(|(_, pid)| stack::cpu_time(*pid).unwrap_or_default()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lines_count_only_client_commands_of_this_run() {
        let prefix = "loadgen-abc:";
        let mut monitored = Monitored::default();
        for line in [
            r#"1700000000.1 [0 127.0.0.1:5555] "evalsha" "f00" "3" "loadgen-abc:job:1""#,
            r#"1700000000.2 [0 lua] "HINCRBY" "loadgen-abc:task:1" "seq" "1""#,
            r#"1700000000.3 [0 127.0.0.1:5556] "GET" "someone-else:key""#,
            r#"1700000000.4 [0 127.0.0.1:5556] "PING""#,
            r#"1700000000.5 [0 127.0.0.1:5557] "UNWATCH""#,
            r#"1700000000.6 [0 127.0.0.1:5557] "PING" "1""#,
            r#"1700000000.7 [0 127.0.0.1:5557] "BLMOVE" "loadgen-abc:queue" "x""#,
            "OK",
        ] {
            monitored.add(line, prefix);
        }
        let ours = monitored.ours();
        let expected: BTreeMap<String, u64> = [("blmove", 1), ("evalsha", 1), ("ping", 1), ("unwatch", 1)]
            .map(|(c, n)| (c.to_owned(), n))
            .into();
        assert_eq!(ours, expected, "scripts' inner calls and other deployments' connections are left out");
    }
}
