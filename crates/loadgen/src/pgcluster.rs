//! A Postgres cluster of the comparison's own, set up as production runs it: `fsync`,
//! `synchronous_commit` and `full_page_writes` on, and `pg_stat_statements` loaded so every
//! statement the gateway and the worker run is counted.
//!
//! The throwaway Postgres of `scripts/services` cannot serve: it runs with `fsync=off` on its
//! command line (which no `ALTER SYSTEM` overrides) and without `pg_stat_statements` in
//! `shared_preload_libraries` (which needs a restart). So the comparison starts a second cluster
//! from the same installation (the throwaway's `BINDIR`), owned by the throwaway's owner (Postgres
//! refuses to run as root), in a temporary folder on a free loopback port, trust auth, no Unix
//! socket; `stop` shuts it down and deletes it.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use sqlx::Connection as _;
use tokio::process::Command;

/// The running cluster.
#[derive(Debug)]
pub(crate) struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    /// uid and gid to run Postgres as (when this process is root).
    owner: Option<(u32, u32)>,
    port: u16,
    postmaster: u32,
}

/// Settings appended to the new cluster's postgresql.conf.
const SETTINGS: &str = "
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
fsync = on
synchronous_commit = on
full_page_writes = on
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.track_utility = on
pg_stat_statements.max = 10000
";

impl Cluster {
    /// Starts a cluster from the installation that serves `throwaway_url`.
    ///
    /// # Errors
    /// When the throwaway is unreachable, or initdb / pg_ctl fail.
    pub(crate) async fn start(throwaway_url: &str) -> anyhow::Result<Self> {
        let mut conn = sqlx::PgConnection::connect(throwaway_url).await.context("connect to DATABASE_URL")?;
        let bin: String = sqlx::query_scalar("SELECT setting FROM pg_config WHERE name = 'BINDIR'")
            .fetch_one(&mut conn)
            .await
            .context("read the Postgres BINDIR (needs a superuser, as scripts/services makes)")?;
        let data: String =
            sqlx::query_scalar("SELECT current_setting('data_directory')").fetch_one(&mut conn).await?;
        conn.close().await?;
        let running_as_root = std::fs::metadata("/proc/self")?.uid() == 0;
        let owner = if running_as_root {
            let meta = std::fs::metadata(&data).with_context(|| format!("stat {data}"))?;
            Some((meta.uid(), meta.gid()))
        } else {
            None
        };
        let dir = std::env::temp_dir()
            .join(format!("loadgen-pg-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
        std::fs::create_dir_all(&dir)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        let port = free_port()?;
        let mut cluster = Self { dir, bin: PathBuf::from(bin), owner, port, postmaster: 0 };
        if let Err(e) = cluster.init_and_start().await {
            cluster.stop().await;
            return Err(e);
        }
        Ok(cluster)
    }

    async fn init_and_start(&mut self) -> anyhow::Result<()> {
        let data = self.dir.join("data");
        let log = self.dir.join("postgres.log");
        let data_arg = data.display().to_string();
        self.run(
            "initdb",
            &["-D", &data_arg, "-U", "relay", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
        )
        .await?;
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str(SETTINGS);
        text.push_str(&format!("port = {}\n", self.port));
        std::fs::write(&conf, text)?;
        let log_arg = log.display().to_string();
        if let Err(e) =
            self.run("pg_ctl", &["-D", &data_arg, "-l", &log_arg, "-w", "-t", "60", "-s", "start"]).await
        {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("{e:#}; its log:\n{tail}");
        }
        let pid = std::fs::read_to_string(data.join("postmaster.pid"))?;
        self.postmaster =
            pid.lines().next().and_then(|l| l.trim().parse().ok()).context("no pid in postmaster.pid")?;
        let mut conn =
            sqlx::PgConnection::connect(&self.admin_url()).await.context("connect to the new cluster")?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").execute(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }

    /// Runs one of the cluster's binaries as its owner, from `/` (which the owner can read).
    async fn run(&self, binary: &str, args: &[&str]) -> anyhow::Result<()> {
        let program = self.bin.join(binary);
        let mut command = match self.owner {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let output = command
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .with_context(|| format!("run {}", program.display()))?;
        if !output.status.success() {
            bail!(
                "{binary} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// URL of the `postgres` database, to create the runs' databases from.
    pub(crate) fn admin_url(&self) -> String {
        format!("postgres://relay@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster's pid: the root of every process of the cluster.
    pub(crate) fn postmaster(&self) -> u32 {
        self.postmaster
    }

    /// Stops the cluster (fast shutdown) and deletes its folder; failures are reported, not
    /// returned.
    pub(crate) async fn stop(self) {
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists()
            && let Err(e) = self
                .run("pg_ctl", &["-D", &data.display().to_string(), "-m", "fast", "-w", "-s", "stop"])
                .await
        {
            eprintln!("loadgen: could not stop the comparison's Postgres in {}: {e:#}", self.dir.display());
            return;
        }
        remove(&self.dir);
    }
}

fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        eprintln!("loadgen: could not delete {}: {e}", dir.display());
    }
}

/// A loopback port nothing listens on (asked of the kernel, then released).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
