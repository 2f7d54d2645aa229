//! `compare`: recipe-relay side by side with the Python stack it replaces (docs/performance.md,
//! "Against the Python stack").
//!
//! Both sides are driven by the peer's own neutral client, `bench.py`, with the same flags (only
//! `--base` and `--secret` differ), in rounds that alternate which side goes first, each
//! measurement on fresh processes: per side and round one deployment for `e2e` + `poll` (+ the
//! MONITOR batch on recipe-relay), and one for `sockets` (memory per socket is only meaningful on
//! a process that has not held sockets before). recipe-relay runs the real release `api` and
//! `worker` against the throwaway Redis and a Postgres cluster of its own with `fsync` on
//! ([`crate::pgcluster`]); the peer runs `run_peer.sh up` (its own Redis on :6392).
//!
//! The figures are server CPU (utime + stime of every process of the side, /proc), not
//! wall-clock: the two cores are shared with the client and with other sessions. Each CPU window
//! has the side's idle CPU rate (measured just before it) taken off, so what remains is the cost
//! of the work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;
use uuid::Uuid;

use crate::costs::{self, Monitored, PgCost, RedisCost, RedisProbe};
use crate::peer::{self, Peer};
use crate::pgcluster::Cluster;
use crate::procs::{self, Group};
use crate::stack::{self, Stack};
use crate::{compare_table, http};

/// A recipe video the offline scraper knows; bench.py appends the task number, so the query
/// string makes every link distinct (the gateway drops it when it canonicalizes the link).
const FIXTURE_URL: &str = "https://www.tiktok.com/@cozykitchenwithmia/video/7311770584007226424?n=";
/// How long each side's idle CPU rate is measured before a window.
const IDLE: Duration = Duration::from_secs(2);
/// How long after bench.py returns a window stays open, for the work that follows the last
/// frame (Celery stores the result after publishing the completion).
const SETTLE: Duration = Duration::from_secs(1);
/// The peer's per-step sleep that keeps the sockets' task in flight (one hour, on step 1).
const FOREVER_MS: u64 = 3_600_000;

/// Options of `loadgen compare`.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub(crate) struct CompareArgs {
    /// Folder of the Python peer (run_peer.sh, bench.py) [env BENCH_PEER_DIR; default
    /// ../shared/peer beside the main checkout].
    #[arg(long)]
    pub(crate) peer_dir: Option<PathBuf>,
    /// Rounds; each runs both sides, alternating which goes first.
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// Tasks submitted at once by `bench.py e2e` (CPU per task, tasks/s).
    #[arg(long, default_value_t = 1000)]
    pub(crate) tasks: usize,
    /// Tasks of an unmeasured `bench.py e2e` batch run first on each side's fresh processes, as
    /// `throughput` warms up: the pools' connections and the servers' caches are made then, not
    /// counted per task (0: none).
    #[arg(long, default_value_t = 100)]
    pub(crate) warm_up: usize,
    /// Idle sockets held by `bench.py sockets` (memory per socket).
    #[arg(long, default_value_t = 5000)]
    pub(crate) sockets: usize,
    /// Seconds the sockets are held.
    #[arg(long, default_value_t = 10)]
    pub(crate) hold_secs: u64,
    /// Kept-alive connections of `bench.py poll` (`GET /task/{id}`).
    #[arg(long, default_value_t = 32)]
    pub(crate) poll_concurrency: usize,
    /// Seconds of `bench.py poll`.
    #[arg(long, default_value_t = 10)]
    pub(crate) poll_secs: u64,
    /// Tasks of recipe-relay's extra batch under MONITOR (client vs in-script commands; 0: skip).
    #[arg(long, default_value_t = 200)]
    pub(crate) monitor_tasks: usize,
    /// Simulated provider time per step on the peer (`PEER_STEP_SLEEP_MS`); recipe-relay's
    /// offline providers get 5/2 of it per call (5 steps there, 2 calls here). 0: no provider
    /// work, every CPU figure is the stacks' own overhead.
    #[arg(long, default_value_t = 0)]
    pub(crate) step_sleep_ms: u64,
    /// Jobs recipe-relay's one worker process runs at once (the peer: 2 Celery prefork children).
    #[arg(long, default_value_t = 8)]
    pub(crate) relay_concurrency: usize,
    /// Link prefix given to `bench.py --url` on both sides.
    #[arg(long, default_value = FIXTURE_URL)]
    pub(crate) url: String,
}

/// What one side measured in one round.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SideRound {
    /// Server CPU per task by group (µs), idle rate taken off.
    pub(crate) cpu_per_task_us: Vec<(String, f64)>,
    /// Of the worker's CPU per task, what the offline providers' calls used (µs, recipe-relay
    /// only): `relay_provider_call_cpu_seconds` over the window. The peer has no provider work
    /// but its sleeps.
    pub(crate) provider_cpu_per_task_us: Option<f64>,
    /// Tasks completed of those submitted.
    pub(crate) completed: usize,
    /// Tasks that failed or timed out (bench.py `--timeout`).
    pub(crate) failed: usize,
    /// bench.py's tasks/s (first submit to last completion).
    pub(crate) tasks_per_s: f64,
    /// CPU bench.py itself used per task (µs): the client shares the two cores with the side.
    pub(crate) client_cpu_per_task_us: f64,
    /// Server CPU per `GET /task/{id}` by group (µs).
    pub(crate) get_cpu_us: Vec<(String, f64)>,
    /// bench.py's requests/s (client-bound: the Python client shares the cores).
    pub(crate) get_rps: f64,
    /// Resident memory per held socket by group (KiB).
    pub(crate) rss_per_socket_kib: Vec<(String, f64)>,
    /// Sockets still open at the end of the hold.
    pub(crate) sockets_held: usize,
    /// Redis per task over the e2e window.
    pub(crate) redis: RedisCost,
    /// recipe-relay's MONITOR batch, one task at a time.
    pub(crate) counted: Option<Counted>,
    /// Postgres statements per task over the e2e window.
    pub(crate) postgres: Option<PgCost>,
}

/// Per-task Redis commands of a batch run under MONITOR.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Counted {
    /// Tasks of the batch that completed.
    pub(crate) tasks: usize,
    /// Commands clients sent, by name: each a round trip, but for those sent as one pipeline.
    pub(crate) client: BTreeMap<String, f64>,
    /// Commands run inside scripts, by name.
    pub(crate) in_scripts: BTreeMap<String, f64>,
}

/// Everything the rounds share.
struct Ctx<'a> {
    args: &'a CompareArgs,
    options: stack::Options,
    peer: Peer,
    redis_url: String,
    cluster: Cluster,
    /// A pool on the cluster's `postgres` database, for pg_stat_statements.
    pg_admin: sqlx::PgPool,
}

/// One side under test.
struct Target<'a> {
    base: String,
    port: u16,
    secret: &'a str,
    groups: Vec<Group>,
    redis_url: String,
    /// The run's database (recipe-relay only).
    database: Option<String>,
    /// The worker's metrics port (recipe-relay only).
    worker_metrics: Option<u16>,
}

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Relay,
    Peer,
}

/// Runs the comparison and prints its table; returns whether every run was clean.
///
/// # Errors
/// When the peer is missing or the services cannot be set up.
pub(crate) async fn run(
    options: &stack::Options,
    args: &CompareArgs,
    json: Option<&Path>,
) -> anyhow::Result<bool> {
    let dir = args
        .peer_dir
        .clone()
        .or_else(|| std::env::var_os("BENCH_PEER_DIR").map(PathBuf::from))
        .unwrap_or_else(peer::default_dir);
    let peer = Peer::locate(&dir)?;
    if args.rounds == 0 || args.tasks == 0 || args.sockets == 0 {
        bail!("--rounds, --tasks and --sockets must be at least 1");
    }
    let (redis_url, throwaway_pg) = stack::service_urls()?;
    // bench.py and both servers inherit it: a socket is a descriptor on the client, the server
    // and (on the peer) the server's Redis.
    stack::raise_fd_limit(2 * args.sockets as u64 + 2048)?;
    eprintln!("compare: starting a Postgres cluster with fsync on");
    let cluster = Cluster::start(&throwaway_pg).await?;
    let pg_admin =
        match sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&cluster.admin_url()).await {
            Ok(pool) => pool,
            Err(e) => {
                cluster.stop().await;
                return Err(e).context("connect to the comparison's Postgres");
            }
        };
    let ctx = Ctx { args, options: options.clone(), peer, redis_url, cluster, pg_admin };
    let load_before = load_average();
    let started = Instant::now();
    let outcome = tokio::select! {
        outcome = rounds(&ctx) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    ctx.peer.down().await;
    ctx.pg_admin.close().await;
    ctx.cluster.stop().await;
    let (relay, python) = outcome?;
    let header = compare_table::Header {
        rounds: args.rounds,
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load: (load_before, load_average()),
        minutes: started.elapsed().as_secs_f64() / 60.0,
        commit: compare_table::commit(),
    };
    compare_table::print(&header, args, &ctx.options.log_filter, &relay, &python);
    if let Some(path) = json {
        let run = compare_table::to_run(args, &relay, &python);
        crate::report::write_json(path, &[run])?;
    }
    Ok(true)
}

/// Every round, alternating the order: peer first in even rounds, recipe-relay first in odd ones.
async fn rounds(ctx: &Ctx<'_>) -> anyhow::Result<(Vec<SideRound>, Vec<SideRound>)> {
    let (mut relay, mut python) = (Vec::new(), Vec::new());
    for round in 0..ctx.args.rounds {
        let order = if round % 2 == 0 { [Side::Peer, Side::Relay] } else { [Side::Relay, Side::Peer] };
        for side in order {
            let tag = format!("cmp{round}-{}", &Uuid::new_v4().simple().to_string()[..8]);
            match side {
                Side::Relay => {
                    eprintln!("compare: round {}/{}: recipe-relay", round + 1, ctx.args.rounds);
                    relay.push(relay_round(ctx, &tag).await.context("recipe-relay")?);
                }
                Side::Peer => {
                    eprintln!("compare: round {}/{}: python peer", round + 1, ctx.args.rounds);
                    python.push(peer_round(ctx, &tag).await.context("python peer")?);
                }
            }
        }
    }
    Ok((relay, python))
}

/// The per-user limits raised for `sockets` and `poll`, which use one user.
fn relay_limits(args: &CompareArgs) -> Vec<(&'static str, String)> {
    vec![
        ("RELAY__API__MAX_SOCKETS_PER_USER", (args.sockets + 64).to_string()),
        ("RELAY__API__MAX_REQUESTS_PER_USER", (args.poll_concurrency + 64).to_string()),
    ]
}

async fn relay_round(ctx: &Ctx<'_>, tag: &str) -> anyhow::Result<SideRound> {
    let delay = ctx.args.step_sleep_ms * 5 / 2;
    let mut stack =
        Stack::with_urls(ctx.options.clone(), ctx.redis_url.clone(), ctx.cluster.admin_url()).await?;
    let outcome = async {
        let target = relay_target(ctx, &mut stack, delay).await?;
        busy(ctx, &target, tag).await
    }
    .await;
    stack.shutdown(outcome.is_err()).await;
    let mut side = outcome?;

    let mut stack =
        Stack::with_urls(ctx.options.clone(), ctx.redis_url.clone(), ctx.cluster.admin_url()).await?;
    let outcome = async {
        let target = relay_target(ctx, &mut stack, FOREVER_MS).await?;
        held_sockets(ctx, &target).await
    }
    .await;
    stack.shutdown(outcome.is_err()).await;
    (side.rss_per_socket_kib, side.sockets_held) = outcome?;
    Ok(side)
}

/// Starts the gateway and one worker (offline providers waiting `delay_ms` per call).
async fn relay_target<'s>(ctx: &Ctx<'_>, stack: &'s mut Stack, delay_ms: u64) -> anyhow::Result<Target<'s>> {
    let api = stack.api(&relay_limits(ctx.args)).await?;
    let worker = stack
        .worker_with(
            0,
            ctx.args.relay_concurrency,
            &[("RELAY__WORKER__OFFLINE_DELAY_MS", delay_ms.to_string())],
        )
        .await?;
    let redis_pid = RedisProbe::connect(stack.redis_url()).await?.pid().await?;
    let database = url::Url::parse(stack.database_url())?.path().trim_start_matches('/').to_owned();
    Ok(Target {
        base: format!("http://127.0.0.1:{}", api.port),
        port: api.port,
        secret: stack.secret(),
        groups: vec![
            Group::new("api", api.pid),
            Group::new("worker", worker.pid),
            Group::new("redis", redis_pid),
            Group::new("postgres", ctx.cluster.postmaster()),
        ],
        redis_url: stack.redis_url().to_owned(),
        database: Some(database),
        worker_metrics: Some(worker.metrics_port),
    })
}

async fn peer_round(ctx: &Ctx<'_>, tag: &str) -> anyhow::Result<SideRound> {
    let running = ctx.peer.up(&[("PEER_STEP_SLEEP_MS", ctx.args.step_sleep_ms.to_string())]).await?;
    let target = peer_target(ctx, &running);
    let outcome = busy(ctx, &target, tag).await;
    ctx.peer.down().await;
    let mut side = outcome?;

    let running = ctx.peer.up(&[("PEER_STEP_SLEEP_MS_1", FOREVER_MS.to_string())]).await?;
    let target = peer_target(ctx, &running);
    let outcome = held_sockets(ctx, &target).await;
    ctx.peer.down().await;
    (side.rss_per_socket_kib, side.sockets_held) = outcome?;
    Ok(side)
}

fn peer_target<'c>(ctx: &'c Ctx<'_>, running: &peer::Running) -> Target<'c> {
    Target {
        base: running.base.clone(),
        port: running.port,
        secret: &ctx.peer.secret,
        groups: running.groups.clone(),
        redis_url: running.redis_url.clone(),
        database: None,
        worker_metrics: None,
    }
}

/// A bench.py `command` with the flags every run gets, on either side.
fn common(command: &str, target: &Target<'_>, args: &CompareArgs) -> Vec<String> {
    [command, "--base", &target.base, "--secret", target.secret, "--url", &args.url, "--timeout", "120"]
        .map(str::to_owned)
        .to_vec()
}

/// `bench.py e2e` with `tasks` submitted at once, for users named after `users`.
fn e2e(target: &Target<'_>, args: &CompareArgs, tasks: usize, users: &str) -> Vec<String> {
    let mut e2e = common("e2e", target, args);
    e2e.extend(["--n", &tasks.to_string(), "--user-prefix", users].map(str::to_owned));
    e2e
}

/// The warm-up `e2e`, the measured `e2e`, then `poll`, then (recipe-relay) the MONITOR batch, on
/// one deployment.
async fn busy(ctx: &Ctx<'_>, target: &Target<'_>, tag: &str) -> anyhow::Result<SideRound> {
    let args = ctx.args;
    let mut side = SideRound::default();
    let mut redis = RedisProbe::connect(&target.redis_url).await?;
    let database = target.database.as_deref();

    if args.warm_up > 0 {
        ctx.peer.bench(&e2e(target, args, args.warm_up, &format!("{tag}-w")), true).await?;
        tokio::time::sleep(SETTLE).await;
    }
    let idle = idle_rates(&target.groups).await;
    let (cpu0, redis0) = (procs::cpu_seconds(&target.groups), redis.read().await?);
    let pg0 = match database {
        Some(db) => Some(costs::pg_counters(&ctx.pg_admin, db).await?),
        None => None,
    };
    let provider0 = match target.worker_metrics {
        Some(port) => Some(costs::provider_cpu_seconds(port).await?),
        None => None,
    };
    let started = Instant::now();
    // A task that does not finish counts as failed, not as a broken run (the peer's sockets can
    // miss a completion published between their subscription and their snapshot read).
    let client0 = procs::reaped_children_cpu_seconds();
    let (out, _) = ctx.peer.bench(&e2e(target, args, args.tasks, tag), true).await?;
    let client = procs::reaped_children_cpu_seconds() - client0;
    tokio::time::sleep(SETTLE).await;
    let (cpu1, redis1) = (procs::cpu_seconds(&target.groups), redis.read().await?);
    let window = started.elapsed().as_secs_f64();
    side.completed = out["completed"].as_u64().unwrap_or(0) as usize;
    side.failed = out["failed"].as_u64().unwrap_or(0) as usize;
    side.tasks_per_s = out["tasks_per_s"].as_f64().unwrap_or(0.0);
    side.client_cpu_per_task_us = client * 1e6 / side.completed.max(1) as f64;
    side.cpu_per_task_us = per_unit(&target.groups, &cpu0, &cpu1, &idle, window, side.completed);
    side.redis = RedisCost::between(&redis0, &redis1, side.completed);
    if let (Some(port), Some(provider0)) = (target.worker_metrics, provider0) {
        let used = costs::provider_cpu_seconds(port).await? - provider0;
        side.provider_cpu_per_task_us = Some(used * 1e6 / side.completed.max(1) as f64);
    }
    if let (Some(db), Some(pg0)) = (database, pg0) {
        let pg1 = costs::pg_counters(&ctx.pg_admin, db).await?;
        side.postgres = Some(PgCost::between(&pg0, &pg1, side.completed));
    }

    (side.get_cpu_us, side.get_rps) = poll(ctx, target).await?;

    if database.is_some() && args.monitor_tasks > 0 {
        side.counted = Some(counted(ctx, target, tag).await?);
    }
    Ok(side)
}

/// A batch of `--monitor-tasks` tasks submitted at once under MONITOR: the commands clients
/// sent and those scripts ran.
async fn counted(ctx: &Ctx<'_>, target: &Target<'_>, tag: &str) -> anyhow::Result<Counted> {
    let monitor = costs::Monitor::start(&target.redis_url).await?;
    let batch = e2e(target, ctx.args, ctx.args.monitor_tasks, &format!("{tag}-m"));
    let outcome = ctx.peer.bench(&batch, true).await;
    tokio::time::sleep(SETTLE).await;
    let Monitored { client, in_scripts } = monitor.finish().await?;
    let (out, _) = outcome?;
    let tasks = out["completed"].as_u64().unwrap_or(0) as usize;
    let per =
        |m: BTreeMap<String, u64>| m.into_iter().map(|(c, k)| (c, k as f64 / tasks.max(1) as f64)).collect();
    Ok(Counted { tasks, client: per(client), in_scripts: per(in_scripts) })
}

/// `GET /task/{id}` on a finished task of one user: CPU per request by group, and requests/s.
async fn poll(ctx: &Ctx<'_>, target: &Target<'_>) -> anyhow::Result<(Vec<(String, f64)>, f64)> {
    let args = ctx.args;
    let user = Uuid::new_v4();
    let token = mint(target.secret, user)?;
    let task = submit(target.port, &token, &format!("{}poll", args.url)).await?;
    wait_for_status(target.port, &token, &task, &["SUCCESS"]).await?;
    let idle = idle_rates(&target.groups).await;
    let cpu0 = procs::cpu_seconds(&target.groups);
    let started = Instant::now();
    let mut poll = common("poll", target, args);
    poll.extend(
        [
            "--task-id",
            &task,
            "--user",
            &user.to_string(),
            "--concurrency",
            &args.poll_concurrency.to_string(),
            "--seconds",
            &args.poll_secs.to_string(),
        ]
        .map(str::to_owned),
    );
    let (out, _) = ctx.peer.bench(&poll, false).await?;
    let cpu1 = procs::cpu_seconds(&target.groups);
    let window = started.elapsed().as_secs_f64();
    // bench.py also sends one GET to read the task and one per connection to open it.
    let requests = out["requests"].as_u64().unwrap_or(0) as usize + args.poll_concurrency + 1;
    let per_request = per_unit(&target.groups, &cpu0, &cpu1, &idle, window, requests);
    Ok((per_request, out["req_per_s"].as_f64().unwrap_or(0.0)))
}

/// `bench.py sockets` on a task kept in flight: resident memory per held socket by group.
async fn held_sockets(ctx: &Ctx<'_>, target: &Target<'_>) -> anyhow::Result<(Vec<(String, f64)>, usize)> {
    let args = ctx.args;
    let user = Uuid::new_v4();
    let token = mint(target.secret, user)?;
    let task = submit(target.port, &token, &format!("{}sockets", args.url)).await?;
    wait_for_status(target.port, &token, &task, &["PROGRESS"]).await?;
    let pids = procs::pids(&target.groups);
    let pid_list = pids.iter().map(|(_, pid)| pid.to_string()).collect::<Vec<_>>().join(",");
    let mut sockets = common("sockets", target, args);
    sockets.extend(
        [
            "--n",
            &args.sockets.to_string(),
            "--task-id",
            &task,
            "--user",
            &user.to_string(),
            "--hold",
            &args.hold_secs.to_string(),
            "--pid",
            &pid_list,
        ]
        .map(str::to_owned),
    );
    let (out, stdout) = ctx.peer.bench(&sockets, false).await?;
    let held = out["still_open"].as_u64().unwrap_or(0) as usize;
    let (before, after) = (rss_line(&stdout, "RSS before"), rss_line(&stdout, "RSS after hold"));
    let mut per_group: Vec<(String, f64)> = Vec::new();
    for group in &target.groups {
        let sum = |rss: &[(u32, u64)]| -> u64 {
            rss.iter().filter(|(pid, _)| pids.contains(&(group.name, *pid))).map(|(_, kib)| kib).sum()
        };
        let delta = sum(&after) as f64 - sum(&before) as f64;
        per_group.push((group.name.to_owned(), delta / held.max(1) as f64));
    }
    Ok((per_group, held))
}

/// The `pid<N>=<kB>` pairs of bench.py's `RSS <label>` line.
fn rss_line(stdout: &str, label: &str) -> Vec<(u32, u64)> {
    let Some(line) = stdout.lines().find(|l| l.trim_start().starts_with(label)) else { return Vec::new() };
    line.split_whitespace()
        .filter_map(|token| {
            let (pid, kib) = token.strip_prefix("pid")?.split_once('=')?;
            Some((pid.parse().ok()?, kib.parse().ok()?))
        })
        .collect()
}

/// CPU seconds per second each group uses while idle, measured over [`IDLE`].
async fn idle_rates(groups: &[Group]) -> Vec<f64> {
    let before = procs::cpu_seconds(groups);
    tokio::time::sleep(IDLE).await;
    let after = procs::cpu_seconds(groups);
    before.iter().zip(after).map(|(b, a)| (a - b).max(0.0) / IDLE.as_secs_f64()).collect()
}

/// CPU µs per unit of work by group: the window's CPU less the idle rate over the window.
fn per_unit(
    groups: &[Group],
    before: &[f64],
    after: &[f64],
    idle: &[f64],
    window: f64,
    units: usize,
) -> Vec<(String, f64)> {
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let busy = (after[i] - before[i] - idle[i] * window).max(0.0);
            (g.name.to_owned(), busy / units.max(1) as f64 * 1e6)
        })
        .collect()
}

/// An HS256 access token for `user`, as Supabase issues them, valid for six hours.
fn mint(secret: &str, user: Uuid) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let claims = serde_json::json!({
        "sub": user.to_string(), "aud": "authenticated", "role": "authenticated",
        "iat": now, "exp": now + 6 * 3600,
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())?,
    )?)
}

/// `POST /scrape/async`; the new task's id.
async fn submit(port: u16, token: &str, url: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({ "url": url, "language": "en" }).to_string();
    let response =
        http::Conn::connect(port).await?.send(&http::post_json("/scrape/async", token, &body)).await?;
    if response.status != 202 {
        bail!("POST /scrape/async answered {}: {}", response.status, String::from_utf8_lossy(&response.body));
    }
    let value: serde_json::Value = serde_json::from_slice(&response.body)?;
    value["task_id"].as_str().map(str::to_owned).context("no task_id in the 202")
}

/// Polls `GET /task/{id}` until its status is one of `wanted` (60 s at most).
async fn wait_for_status(port: u16, token: &str, task: &str, wanted: &[&str]) -> anyhow::Result<()> {
    let mut conn = http::Conn::connect(port).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut status = String::new();
    while Instant::now() < deadline {
        let response = conn.send(&http::get(&format!("/task/{task}"), token)).await?;
        let value: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        status = value["status"].as_str().unwrap_or_default().to_owned();
        if wanted.contains(&status.as_str()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("task {task} is still {status:?} after 60 s, not {wanted:?}")
}

/// The 1-minute load average (/proc/loadavg).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_lines_give_each_pid_s_kib() {
        let stdout = "sockets x\n  RSS before         pid10=2048 kB pid11=None kB  total=2048 kB (2.0 MiB)\n\
                      \x20 RSS after hold     pid10=4096 kB pid11=100 kB  total=4196 kB (4.1 MiB)\n";
        assert_eq!(rss_line(stdout, "RSS before"), vec![(10, 2048)], "a gone process has no figure");
        assert_eq!(rss_line(stdout, "RSS after hold"), vec![(10, 4096), (11, 100)]);
        assert!(rss_line(stdout, "RSS all open").is_empty());
    }

    #[test]
    fn cpu_per_unit_takes_the_idle_rate_off() {
        let groups = [Group::new("a", 1), Group::new("b", 2)];
        let per = per_unit(&groups, &[1.0, 1.0], &[3.0, 1.1], &[0.1, 0.1], 10.0, 1000);
        assert_eq!(per[0], ("a".to_owned(), 1000.0), "2 s busy - 1 s idle over 1000 units");
        assert_eq!(per[1], ("b".to_owned(), 0.0), "never below zero");
    }
}
