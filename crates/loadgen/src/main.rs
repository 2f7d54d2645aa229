//! `loadgen`: the load tool of recipe-relay (see docs/performance.md).
//!
//! Every scenario starts its own deployment: a fresh Postgres database and Redis key prefix on
//! `DATABASE_URL` / `REDIS_URL`, a random JWT secret, and the release `api` (and `worker`)
//! binaries as child processes on 127.0.0.1. It prints one line per figure, can write them all
//! as JSON (`--json`), and tears everything down at the end.
//!
//! ```text
//! loadgen latency [--sockets 1000] [--rate 1000] [--secs 10]
//! loadgen sockets [--sockets 10000] [--idle-secs 20]
//! loadgen throughput [--jobs 5000] [--workers 2] [--concurrency 16]
//! loadgen poll [--connections 64] [--long-polls 1000]
//! loadgen all            # the set `just bench` runs
//! loadgen compare [--rounds 3]   # side by side with the Python peer (bench.py)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod compare;
mod compare_table;
mod costs;
mod http;
mod latency;
mod peer;
mod pgcluster;
mod poll;
mod procs;
mod report;
mod sockets;
mod stack;
mod tasks;
mod throughput;
mod watch;

/// Load tool for recipe-relay: socket latency, idle socket cost, job throughput, polling.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Scenario,
    /// Write every figure as JSON to this file (to compare commits).
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Folder of the `api` and `worker` binaries (default: the folder of loadgen itself).
    #[arg(long, global = true)]
    bin_dir: Option<PathBuf>,
    /// Log filter of the spawned processes (`RELAY__LOG__FILTER`).
    #[arg(long, global = true, default_value = "info")]
    log_filter: String,
    /// Keep the spawned processes' log files.
    #[arg(long, global = true)]
    keep_logs: bool,
    /// `KEY=VALUE` added to the spawned processes' environment (a scenario's own settings win; e.g.
    /// `--child-env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318` to measure tracing).
    #[arg(long = "child-env", global = true, value_parser = key_value)]
    child_env: Vec<(String, String)>,
}

/// Parses `KEY=VALUE`.
fn key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))?;
    Ok((key.to_owned(), value.to_owned()))
}

#[derive(Debug, Clone, Subcommand)]
enum Scenario {
    /// Publish-to-receive latency of events over N open sockets.
    Latency(latency::LatencyArgs),
    /// Gateway memory per idle socket and idle CPU with N sockets.
    Sockets(sockets::SocketsArgs),
    /// Jobs/s end to end with K workers and the offline providers; Redis cost per job.
    Throughput(throughput::ThroughputArgs),
    /// Requests/s of `GET /task/{id}`, and long-poll latency.
    Poll(poll::PollArgs),
    /// Every scenario with its defaults, plus latency with 10,000 sockets.
    All,
    /// Side by side with the Python peer, both driven by its bench.py: CPU per task, tasks/s,
    /// memory per socket, CPU per GET, and recipe-relay's Redis and Postgres cost per task.
    Compare(compare::CompareArgs),
}

impl Scenario {
    fn name(&self) -> &'static str {
        match self {
            Self::Latency(_) => "latency",
            Self::Sockets(_) => "sockets",
            Self::Throughput(_) => "throughput",
            Self::Poll(_) => "poll",
            Self::All => "all",
            Self::Compare(_) => "compare",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the scenarios; returns whether all of them ran (targets missed still count as ran).
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let bin_dir = match cli.bin_dir.clone() {
        Some(dir) => dir,
        None => std::env::current_exe()?.parent().map(PathBuf::from).unwrap_or_default(),
    };
    let options = stack::Options {
        bin_dir,
        log_filter: cli.log_filter.clone(),
        keep_logs: cli.keep_logs,
        child_env: cli.child_env.clone(),
    };
    if let Scenario::Compare(args) = &cli.command {
        return compare::run(&options, args, cli.json.as_deref()).await;
    }
    let scenarios = match cli.command {
        Scenario::All => all(),
        one => vec![one],
    };
    let (mut runs, mut ok) = (Vec::new(), true);
    for scenario in scenarios {
        eprintln!("loadgen: {} starting", scenario.name());
        match run_one(&options, &scenario).await {
            Ok(run) => {
                run.print();
                runs.push(run);
            }
            Err(e) => {
                eprintln!("loadgen: {} failed: {e:#}", scenario.name());
                ok = false;
            }
        }
        if let Some(path) = &cli.json {
            report::write_json(path, &runs)?;
        }
    }
    Ok(ok)
}

/// The set `just bench` runs.
fn all() -> Vec<Scenario> {
    let latency = |sockets| latency::LatencyArgs {
        sockets,
        tasks: None,
        rate: 1000,
        secs: 10,
        connect_concurrency: 256,
    };
    vec![
        Scenario::Latency(latency(1000)),
        Scenario::Latency(latency(10_000)),
        Scenario::Sockets(sockets::SocketsArgs { sockets: 10_000, idle_secs: 20, connect_concurrency: 256 }),
        Scenario::Throughput(throughput::ThroughputArgs {
            jobs: 5000,
            workers: 2,
            concurrency: 16,
            submitters: 32,
            warm_up: 200,
            calibrate: 200,
        }),
        Scenario::Poll(poll::PollArgs { connections: 64, secs: 10, tasks: 64, long_polls: 1000, rate: 1000 }),
    ]
}

/// One scenario on a deployment of its own, torn down whatever happens (also on ctrl-c).
async fn run_one(options: &stack::Options, scenario: &Scenario) -> anyhow::Result<report::Run> {
    let mut stack = stack::Stack::new(options.clone()).await?;
    let result = tokio::select! {
        result = scenario_future(&mut stack, scenario) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    stack.shutdown(result.is_err()).await;
    result
}

async fn scenario_future(stack: &mut stack::Stack, scenario: &Scenario) -> anyhow::Result<report::Run> {
    match scenario {
        Scenario::Latency(args) => latency::run(stack, args).await,
        Scenario::Sockets(args) => sockets::run(stack, args).await,
        Scenario::Throughput(args) => throughput::run(stack, args).await,
        Scenario::Poll(args) => poll::run(stack, args).await,
        Scenario::All | Scenario::Compare(_) => {
            anyhow::bail!("`{}` is not a single scenario", scenario.name())
        }
    }
}
