//! One deployment per run: a fresh database, a fresh Redis key prefix, a random JWT secret, and
//! the real `api` and `worker` binaries as child processes (loopback only). Everything is torn
//! down at the end: processes stopped (SIGTERM, then SIGKILL after a bound), database dropped,
//! keys deleted.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::tasks::Tasks;
use anyhow::{Context as _, bail};
use sqlx::Connection as _;
use tokio::process::{Child, Command};
use uuid::Uuid;

/// How long a process may take to report that it is ready.
const READY: Duration = Duration::from_secs(60);
/// How long a process may take to stop after SIGTERM before it is killed.
const STOP: Duration = Duration::from_secs(15);

/// How the processes are started.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Folder of the `api` and `worker` binaries.
    pub(crate) bin_dir: PathBuf,
    /// `RELAY__LOG__FILTER` of the processes.
    pub(crate) log_filter: String,
    /// Keep the processes' log files.
    pub(crate) keep_logs: bool,
    /// More environment of the processes (`--child-env`); a scenario's own settings win.
    pub(crate) child_env: Vec<(String, String)>,
}

/// A running child process; killed if dropped without [`Stack::shutdown`].
#[derive(Debug)]
struct Proc {
    name: String,
    child: Child,
}

/// A started gateway.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Api {
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// Its process id.
    pub(crate) pid: u32,
}

/// A started worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Worker {
    /// Its process id.
    pub(crate) pid: u32,
    /// Its metrics port on 127.0.0.1.
    pub(crate) metrics_port: u16,
}

/// The deployment of one run.
#[derive(Debug)]
pub(crate) struct Stack {
    options: Options,
    redis_url: String,
    admin_url: String,
    database: String,
    database_url: String,
    /// The key prefix of this run.
    pub(crate) prefix: String,
    secret: String,
    log_dir: PathBuf,
    procs: Vec<Proc>,
    /// The task stores: Redis under this run's prefix, this run's database.
    pub(crate) tasks: Tasks,
    /// This run's database, for the tool's own reads.
    pub(crate) pg: sqlx::PgPool,
}

impl Stack {
    /// Creates the database (migrated) and the log folder.
    ///
    /// # Errors
    /// When `REDIS_URL`/`DATABASE_URL` are missing or unreachable.
    pub(crate) async fn new(options: Options) -> anyhow::Result<Self> {
        let (redis_url, admin_url) = service_urls()?;
        Self::with_urls(options, redis_url, admin_url).await
    }

    /// Like [`Stack::new`], on the given Redis and Postgres (`admin_url`: a database to run
    /// `CREATE DATABASE` from).
    ///
    /// # Errors
    /// When the servers are unreachable.
    pub(crate) async fn with_urls(
        options: Options,
        redis_url: String,
        admin_url: String,
    ) -> anyhow::Result<Self> {
        let id = Uuid::new_v4().simple().to_string();
        let database = format!("loadgen_{id}");
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.context("connect to DATABASE_URL")?;
        sqlx::query(&format!("CREATE DATABASE {database}")).execute(&mut admin).await?;
        admin.close().await?;
        let mut url = url::Url::parse(&admin_url).context("DATABASE_URL is not a URL")?;
        url.set_path(&database);
        let database_url = url.to_string();
        let prefix = format!("loadgen-{}", &id[..12]);
        let config = ::tasks::Config {
            redis_url: redis_url.clone(),
            key_prefix: prefix.clone(),
            redis_pool_size: 16,
            finished_ttl: Duration::from_secs(3600),
            database_url: database_url.clone(),
            database_max_connections: 16,
        };
        let tasks = Tasks::connect(&config).await.context("migrate the run's database")?;
        tasks.ping_redis().await.context("cannot reach Redis (REDIS_URL)")?;
        let pg = sqlx::PgPool::connect_lazy(&database_url)?;
        let log_dir = std::env::temp_dir().join(format!("loadgen-{}", &id[..12]));
        std::fs::create_dir_all(&log_dir)?;
        Ok(Self {
            options,
            redis_url,
            admin_url,
            database,
            database_url,
            prefix,
            secret: format!("loadgen-{}", Uuid::new_v4().simple()),
            log_dir,
            procs: Vec::new(),
            tasks,
            pg,
        })
    }

    /// The HS256 secret the run's gateway verifies tokens with (for clients that mint their own).
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// `REDIS_URL` of the run.
    pub(crate) fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// Postgres URL of the run's database.
    pub(crate) fn database_url(&self) -> &str {
        &self.database_url
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("APP_ENVIRONMENT", "production"),
            ("REDIS_URL", self.redis_url.as_str()),
            ("DATABASE_URL", self.database_url.as_str()),
            ("SUPABASE_JWT_SECRET", self.secret.as_str()),
            ("RELAY__REDIS__KEY_PREFIX", self.prefix.as_str()),
            ("RELAY__LOG__FORMAT", "json"),
            ("RELAY__LOG__FILTER", self.options.log_filter.as_str()),
            // Production binds 0.0.0.0; the load tool stays on loopback.
            ("RELAY__API__HOST", "127.0.0.1"),
            ("RELAY__API__PORT", "0"),
            // Several workers per run: each its own free metrics port.
            ("RELAY__WORKER__METRICS_ADDR", "127.0.0.1:0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain(self.options.child_env.iter().cloned())
        .collect()
    }

    async fn spawn(&mut self, name: &str, extra: &[(&str, String)], ready: &str) -> anyhow::Result<String> {
        let binary = self.options.bin_dir.join(name.split('-').next().unwrap_or(name));
        let log_path = self.log_dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        // The children inherit this process's (raised) file-descriptor limit.
        let child = Command::new(&binary)
            .env_clear()
            .envs(self.env())
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {} (build it: just bench)", binary.display()))?;
        self.procs.push(Proc { name: name.to_owned(), child });
        let proc = self.procs.last_mut().context("just pushed")?;
        wait_for_line(proc, &log_path, ready).await
    }

    /// Starts a gateway with extra environment; returns once it listens.
    ///
    /// # Errors
    /// When it exits or does not report listening in time.
    pub(crate) async fn api(&mut self, extra: &[(&str, String)]) -> anyhow::Result<Api> {
        let line = self.spawn("api", extra, "gateway listening").await?;
        let value: serde_json::Value = serde_json::from_str(&line).context("the api logs JSON")?;
        let port = value["port"].as_u64().and_then(|p| u16::try_from(p).ok()).context("no port logged")?;
        let pid = self.procs.last().and_then(|p| p.child.id()).context("api exited")?;
        Ok(Api { port, pid })
    }

    /// Starts worker number `n` with the offline providers, no recipe cache and no simulated
    /// delay; returns its pid once it runs.
    ///
    /// # Errors
    /// When it exits or does not report running in time.
    pub(crate) async fn worker(&mut self, n: usize, concurrency: usize) -> anyhow::Result<u32> {
        Ok(self.worker_with(n, concurrency, &[]).await?.pid)
    }

    /// Like [`Stack::worker`], with extra environment that overrides those settings (say
    /// `RELAY__WORKER__OFFLINE_DELAY_MS`); returns its metrics port too.
    ///
    /// # Errors
    /// When it exits or does not report running in time.
    pub(crate) async fn worker_with(
        &mut self,
        n: usize,
        concurrency: usize,
        overrides: &[(&str, String)],
    ) -> anyhow::Result<Worker> {
        let mut extra = vec![
            ("RELAY__WORKER__PROVIDERS", "offline".to_owned()),
            ("RELAY__WORKER__CACHE_FRESHNESS_HOURS", "0".to_owned()),
            ("RELAY__WORKER__OFFLINE_DELAY_MS", "0".to_owned()),
            ("RELAY__WORKER__CONCURRENCY", concurrency.to_string()),
            ("RELAY__WORKER__SHUTDOWN_GRACE_SECS", "5".to_owned()),
        ];
        // Later entries win: the command gets them in this order.
        extra.extend(overrides.iter().cloned());
        let line = self.spawn(&format!("worker-{n}"), &extra, "worker started").await?;
        let value: serde_json::Value = serde_json::from_str(&line).context("the worker logs JSON")?;
        let metrics_port = value["metrics_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .context("no metrics port logged")?;
        let pid = self.procs.last().and_then(|p| p.child.id()).context("worker exited")?;
        Ok(Worker { pid, metrics_port })
    }

    /// An HS256 access token for `user`, as Supabase issues them, valid for two hours.
    pub(crate) fn token(&self, user: Uuid) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = serde_json::json!({
            "sub": user.to_string(), "aud": "authenticated", "role": "authenticated",
            "iat": now, "exp": now + 7200,
        });
        Ok(jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes())?,
        )?)
    }

    /// Stops every process (SIGTERM, SIGKILL after a bound), drops the database and deletes the
    /// run's Redis keys. Failures are reported, not returned: teardown goes on.
    pub(crate) async fn shutdown(mut self, failed: bool) {
        for proc in self.procs.iter().rev() {
            if let Some(pid) = proc.child.id() {
                let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            }
        }
        for proc in &mut self.procs {
            match tokio::time::timeout(STOP, proc.child.wait()).await {
                Ok(Ok(status)) if !status.success() && !failed => {
                    eprintln!("loadgen: {} exited with {status}", proc.name);
                }
                Ok(_) => {}
                Err(_) => {
                    eprintln!("loadgen: {} did not stop within {STOP:?}; killing it", proc.name);
                    let _ = proc.child.kill().await;
                }
            }
        }
        self.pg.close().await;
        if let Err(e) = drop_database(&self.admin_url, &self.database).await {
            eprintln!("loadgen: could not drop database {}: {e:#}", self.database);
        }
        if let Err(e) = delete_keys(&self.redis_url, &self.prefix).await {
            eprintln!("loadgen: could not delete the keys {}:*: {e:#}", self.prefix);
        }
        if self.options.keep_logs || failed {
            eprintln!("loadgen: process logs kept in {}", self.log_dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
    }
}

/// `REDIS_URL` and `DATABASE_URL` from the environment (`scripts/services up` writes them).
///
/// # Errors
/// When either is missing.
pub(crate) fn service_urls() -> anyhow::Result<(String, String)> {
    let hint = "load the services first: . \"$(scripts/services up)\"";
    let redis_url = std::env::var("REDIS_URL").with_context(|| format!("REDIS_URL is not set; {hint}"))?;
    let admin_url =
        std::env::var("DATABASE_URL").with_context(|| format!("DATABASE_URL is not set; {hint}"))?;
    Ok((redis_url, admin_url))
}

/// Polls the process's log file until a line contains `needle`; fails when the process exits
/// first or the line does not come in time.
async fn wait_for_line(proc: &mut Proc, path: &Path, needle: &str) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return Ok(line.to_owned());
        }
        if let Some(status) = proc.child.try_wait()? {
            bail!("{} exited ({status}) before logging {needle:?}; its log:\n{}", proc.name, tail(&text));
        }
        if started.elapsed() > READY {
            bail!("{} did not log {needle:?} within {READY:?}; its log:\n{}", proc.name, tail(&text));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
    admin.close().await?;
    Ok(())
}

/// Deletes `prefix:*` with SCAN + UNLINK (bounded: a run creates at most a few keys per task).
async fn delete_keys(redis_url: &str, prefix: &str) -> anyhow::Result<()> {
    let mut conn = redis::Client::open(redis_url)?.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    for _ in 0..100_000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK").arg(&keys).query_async::<()>(&mut conn).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
    bail!("SCAN did not finish")
}

/// Raises this process's file-descriptor limit to at least `needed` (children inherit it).
/// Returns the soft limit in force.
///
/// # Errors
/// When the limit cannot be raised far enough.
pub(crate) fn raise_fd_limit(needed: u64) -> anyhow::Result<u64> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    if soft >= needed {
        return Ok(soft);
    }
    if hard < needed {
        // Raising the hard limit needs privileges (root here); fall back to the hard limit.
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, needed, needed);
    }
    let got = rlimit::increase_nofile_limit(needed)?;
    if got < needed {
        bail!("the file-descriptor limit is {got}, below the {needed} this run needs (ulimit -n)");
    }
    Ok(got)
}

/// Resident memory of a process, in KiB (`VmRSS` of /proc/<pid>/status).
///
/// # Errors
/// When the process is gone.
pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

/// CPU time a process used so far (user + system), from /proc/<pid>/stat.
///
/// # Errors
/// When the process is gone.
pub(crate) fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: the fields that matter come after its closing paren.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let ticks: u64 = fields
        .get(11..13)
        .context("short /proc/<pid>/stat")?
        .iter()
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Ok(Duration::from_secs_f64(ticks as f64 / crate::procs::clock_ticks() as f64))
}

/// Context switches of all of a process's threads so far (voluntary and not), from
/// /proc/<pid>/task/*/status: on two cores every wake-up between processes costs one.
pub(crate) fn context_switches(pid: u32) -> u64 {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    threads
        .filter_map(Result::ok)
        .filter_map(|thread| std::fs::read_to_string(thread.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| {
                    l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:")
                })
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(cpu_time(pid).is_ok());
        assert!(context_switches(pid) > 0);
    }
}
