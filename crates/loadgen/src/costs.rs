//! Exact per-task counts of what a batch of tasks made Redis and Postgres do: the counters'
//! deltas over the batch, divided by its tasks.
//!
//! - Redis `INFO stats commandstats` (one call, so one read of our own): calls per command,
//!   commands run inside scripts included (Redis counts those like any other), and
//!   `total_reads_processed`, the read events the server handled. A read carries one request or
//!   pipeline of one connection, or, on a multiplexed connection under load, the requests of
//!   several tasks at once; so reads equal round trips only when tasks run one at a time.
//! - A `MONITOR` over a batch of its own, one task at a time, tells the commands clients sent
//!   from those scripts ran (`[0 lua]`), and that batch's reads are its round trips. MONITOR
//!   costs Redis CPU, so that batch is never one whose CPU is measured.
//! - `pg_stat_statements` (`track = all`) of the run's database: calls per statement, top-level
//!   ones and those run inside functions and triggers apart, `BEGIN`/`COMMIT` included, counted as each
//!   statement ends, so the delta is complete as soon as the batch is.
//! - The worker's `relay_provider_call_cpu_seconds_sum` (its `/metrics`): the CPU its provider
//!   calls used, recorded as each call returns.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// Redis's counters at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct RedisCounters {
    /// `cmdstat_<name>:calls`.
    calls: BTreeMap<String, u64>,
    /// `total_reads_processed`.
    reads: u64,
}

/// One Redis server's counters, read over a connection of their own.
pub(crate) struct RedisProbe {
    conn: redis::aio::MultiplexedConnection,
}

impl RedisProbe {
    /// Connects to `url`.
    ///
    /// # Errors
    /// When Redis is unreachable.
    pub(crate) async fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(Self { conn: redis::Client::open(url)?.get_multiplexed_async_connection().await? })
    }

    /// Reads the counters (one `INFO stats commandstats`).
    ///
    /// # Errors
    /// When Redis does not answer.
    pub(crate) async fn read(&mut self) -> anyhow::Result<RedisCounters> {
        let info: String =
            redis::cmd("INFO").arg("stats").arg("commandstats").query_async(&mut self.conn).await?;
        Ok(parse_info(&info))
    }

    /// The server's process id (`INFO server`), for its CPU time.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub(crate) async fn pid(&mut self) -> anyhow::Result<u32> {
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut self.conn).await?;
        info.lines()
            .find_map(|l| l.strip_prefix("process_id:")?.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no process_id in INFO server"))
    }
}

fn parse_info(info: &str) -> RedisCounters {
    let mut counters = RedisCounters::default();
    for line in info.lines() {
        if let Some(value) = line.strip_prefix("total_reads_processed:") {
            counters.reads = value.trim().parse().unwrap_or_default();
        } else if let Some((name, rest)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':'))
            && let Some(calls) = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))
        {
            counters.calls.insert(name.to_owned(), calls.parse().unwrap_or_default());
        }
    }
    counters
}

/// Per-task Redis figures of one batch.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct RedisCost {
    /// Every command, inside scripts too (`info`, our own, left out).
    pub(crate) commands: f64,
    /// `EVALSHA` + `EVAL` + `FCALL` calls: scripts run.
    pub(crate) scripts: f64,
    /// Read events of the server, our own `INFO` left out: round trips when tasks run one at a
    /// time, fewer when a multiplexed connection batches concurrent tasks' requests.
    pub(crate) reads: f64,
    /// Calls per command.
    pub(crate) by_command: BTreeMap<String, f64>,
}

impl RedisCost {
    /// The per-task cost between two readings, over `tasks` tasks.
    pub(crate) fn between(before: &RedisCounters, after: &RedisCounters, tasks: usize) -> Self {
        let per = |n: u64| n as f64 / tasks.max(1) as f64;
        let mut cost = Self::default();
        for (name, calls) in &after.calls {
            let delta = calls.saturating_sub(before.calls.get(name).copied().unwrap_or(0));
            if delta == 0 || name == "info" {
                continue;
            }
            cost.commands += per(delta);
            if matches!(name.as_str(), "evalsha" | "eval" | "evalsha_ro" | "eval_ro" | "fcall" | "fcall_ro") {
                cost.scripts += per(delta);
            }
            cost.by_command.insert(name.clone(), per(delta));
        }
        // The reading `after` is one read of its own.
        cost.reads = per(after.reads.saturating_sub(before.reads).saturating_sub(1));
        cost
    }
}

/// Commands seen by a MONITOR, split into those clients sent and those scripts ran.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Monitored {
    /// Commands sent by clients, by name.
    pub(crate) client: BTreeMap<String, u64>,
    /// Commands run inside scripts, by name.
    pub(crate) in_scripts: BTreeMap<String, u64>,
}

impl Monitored {
    /// Counts one MONITOR line.
    fn add(&mut self, line: &str) {
        let Some((source, command, _)) = monitor_line(line) else { return };
        let command = command.to_ascii_lowercase();
        if command == "info" {
            return;
        }
        let counts = if source == "lua" { &mut self.in_scripts } else { &mut self.client };
        *counts.entry(command).or_default() += 1;
    }
}

/// The parts of a MONITOR line (`<time> [<db> <client address or lua>] "<command>" ...`): who
/// sent it (`lua` for a command inside a script), the command, and the rest of the line.
pub(crate) fn monitor_line(line: &str) -> Option<(&str, &str, &str)> {
    let (source, rest) = line.split_once('[').and_then(|(_, r)| r.split_once(']'))?;
    let source = source.split_whitespace().nth(1)?;
    let command = rest.trim_start().split('"').nth(1)?;
    Some((source, command, rest))
}

/// A MONITOR counting everything the server runs until [`Monitor::finish`].
pub(crate) struct Monitor {
    stop: CancellationToken,
    counter: tokio::task::JoinHandle<Monitored>,
}

impl Monitor {
    /// Attaches a MONITOR to `url`; in effect when this returns.
    ///
    /// # Errors
    /// When Redis is unreachable.
    pub(crate) async fn start(url: &str) -> anyhow::Result<Self> {
        // redis 1.x sends MONITOR here and waits for its OK.
        let monitor = redis::Client::open(url)?.get_async_monitor().await?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let counter = tokio::spawn(async move {
            let mut monitored = Monitored::default();
            let mut lines = monitor.into_on_message::<String>();
            loop {
                let line = tokio::select! {
                    () = stopped.cancelled() => break,
                    line = lines.next() => match line { Some(line) => line, None => break },
                };
                monitored.add(&line);
            }
            monitored
        });
        Ok(Self { stop, counter })
    }

    /// Stops counting (after a short drain) and returns the counts.
    ///
    /// # Errors
    /// When the counting task panicked.
    pub(crate) async fn finish(self) -> anyhow::Result<Monitored> {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        self.stop.cancel();
        Ok(self.counter.await?)
    }
}

/// Calls of every statement of one database so far, by `queryid` and whether it ran at top
/// level (not inside a function).
#[derive(Debug, Clone, Default)]
pub(crate) struct PgCounters {
    calls: BTreeMap<(i64, bool), (i64, String)>,
}

/// Reads `pg_stat_statements` for database `database` over `admin` (a connection to another
/// database of the cluster, so our own statements are not counted).
///
/// # Errors
/// When the view cannot be read.
pub(crate) async fn pg_counters(admin: &sqlx::PgPool, database: &str) -> anyhow::Result<PgCounters> {
    let rows: Vec<(Option<i64>, bool, i64, String)> = sqlx::query_as(
        "SELECT s.queryid, s.toplevel, s.calls, s.query FROM pg_stat_statements s \
         JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1",
    )
    .bind(database)
    .fetch_all(admin)
    .await?;
    let mut counters = PgCounters::default();
    for (id, toplevel, calls, query) in rows {
        let entry = counters.calls.entry((id.unwrap_or_default(), toplevel)).or_insert((0, query));
        entry.0 += calls;
    }
    Ok(counters)
}

/// Per-task Postgres statements of one batch.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PgCost {
    /// Statements the clients sent, per task (each a round trip).
    pub(crate) statements: f64,
    /// Statements run inside functions and triggers (foreign-key checks) those ran, per task.
    pub(crate) nested: f64,
    /// Per statement (its normalized text, shortened; `  nested: ` before nested ones): calls
    /// per task.
    pub(crate) by_statement: Vec<(String, f64)>,
}

impl PgCost {
    /// The per-task cost between two readings, over `tasks` tasks.
    pub(crate) fn between(before: &PgCounters, after: &PgCounters, tasks: usize) -> Self {
        let mut cost = Self::default();
        for (key, (calls, query)) in &after.calls {
            let delta = calls - before.calls.get(key).map_or(0, |(c, _)| *c);
            if delta > 0 {
                let per = delta as f64 / tasks.max(1) as f64;
                let toplevel = key.1;
                if toplevel {
                    cost.statements += per;
                    cost.by_statement.push((shorten(query), per));
                } else {
                    cost.nested += per;
                    cost.by_statement.push((format!("  nested: {}", shorten(query)), per));
                }
            }
        }
        cost.by_statement.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        cost
    }
}

/// A statement's text on one line, cut at 72 characters.
/// The worker's `relay_provider_call_cpu_seconds_sum`, all providers, from its metrics port.
///
/// # Errors
/// When the port does not answer 200.
pub(crate) async fn provider_cpu_seconds(metrics_port: u16) -> anyhow::Result<f64> {
    let mut conn = crate::http::Conn::connect(metrics_port).await?;
    let response = conn.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await?;
    anyhow::ensure!(response.status == 200, "the worker's /metrics answered {}", response.status);
    Ok(sample_sum(&String::from_utf8_lossy(&response.body), "relay_provider_call_cpu_seconds_sum"))
}

/// The sum of every sample of `name` (all label sets) in a Prometheus text scrape; 0 when there
/// is none (no call yet).
fn sample_sum(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series.split('{').next() == Some(name)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

fn shorten(query: &str) -> String {
    let one_line = query.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(72) {
        Some((at, _)) => format!("{}...", &one_line[..at]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_deltas_leave_out_our_own_reading() {
        let before = parse_info(
            "# Stats\r\ntotal_reads_processed:100\r\n# Commandstats\r\n\
             cmdstat_evalsha:calls=10,usec=5\r\ncmdstat_info:calls=3,usec=1\r\n",
        );
        let after = parse_info(
            "total_reads_processed:121\r\ncmdstat_evalsha:calls=30,usec=9\r\n\
             cmdstat_hset:calls=40,usec=2\r\ncmdstat_info:calls=4,usec=1\r\n",
        );
        let cost = RedisCost::between(&before, &after, 10);
        assert_eq!((cost.commands, cost.scripts, cost.reads), (6.0, 2.0, 2.0));
        assert_eq!(cost.by_command.get("info"), None, "INFO is the probe's own command");
    }

    #[test]
    fn monitor_lines_split_client_commands_from_script_commands() {
        let mut monitored = Monitored::default();
        for line in [
            r#"1700000000.1 [0 127.0.0.1:5555] "evalsha" "f00" "3" "relay:job:1""#,
            r#"1700000000.2 [0 lua] "HINCRBY" "relay:task:1" "seq" "1""#,
            r#"1700000000.3 [0 127.0.0.1:5556] "INFO" "stats""#,
            r#"1700000000.4 [0 unix:/tmp/redis.sock] "PING""#,
            "OK",
        ] {
            monitored.add(line);
        }
        let map = |pairs: &[(&str, u64)]| {
            pairs.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect::<BTreeMap<_, _>>()
        };
        assert_eq!(monitored.client, map(&[("evalsha", 1), ("ping", 1)]));
        assert_eq!(monitored.in_scripts, map(&[("hincrby", 1)]));
    }

    #[test]
    fn a_sum_adds_every_label_set_of_that_series_only() {
        let scrape = "# HELP relay_provider_call_cpu_seconds CPU\n\
            # TYPE relay_provider_call_cpu_seconds histogram\n\
            relay_provider_call_cpu_seconds_bucket{provider=\"rules\",le=\"0.005\"} 3\n\
            relay_provider_call_cpu_seconds_sum{provider=\"rules\"} 0.25\n\
            relay_provider_call_cpu_seconds_sum{provider=\"offline\"} 0.5\n\
            relay_provider_call_cpu_seconds_count{provider=\"rules\"} 3\n";
        assert_eq!(sample_sum(scrape, "relay_provider_call_cpu_seconds_sum"), 0.75);
        assert_eq!(sample_sum(scrape, "relay_provider_call_duration_seconds_sum"), 0.0);
    }

    #[test]
    fn statements_are_shortened_to_one_line() {
        assert_eq!(shorten("SELECT 1\n  FROM t"), "SELECT 1 FROM t");
        assert!(shorten(&"x ".repeat(100)).ends_with("..."));
    }
}
