//! The Python stack the app migrates from (`run_peer.sh` in the peer's folder: its own Redis,
//! Celery, uvicorn) and its neutral load client `bench.py`, which drives both sides the same way.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use tokio::process::Command;

use crate::procs::Group;

/// Where the peer lives and how its scripts are run.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    dir: PathBuf,
    /// `PEER_RUN_DIR` of this comparison: pid files and logs, apart from other users of the peer.
    run_dir: PathBuf,
    venv: PathBuf,
    /// `PEER_HOST` / `PEER_PORT` (uvicorn) and `PEER_REDIS_PORT`, as `run_peer.sh` reads them.
    host: String,
    port: u16,
    redis_port: u16,
    /// The JWT secret the peer verifies with (`SUPABASE_JWT_SECRET` of `run_peer.sh`).
    pub(crate) secret: String,
}

/// A running peer: its address and its processes.
#[derive(Debug)]
pub(crate) struct Running {
    /// `http://host:port` of uvicorn.
    pub(crate) base: String,
    /// uvicorn's port.
    pub(crate) port: u16,
    /// `redis://` URL of the peer's own Redis.
    pub(crate) redis_url: String,
    /// uvicorn, celery (with its prefork children), redis.
    pub(crate) groups: Vec<Group>,
}

impl Peer {
    /// The peer in `dir`; fails in one line when it is not there.
    ///
    /// # Errors
    /// When `run_peer.sh` or `bench.py` is missing.
    pub(crate) fn locate(dir: &Path) -> anyhow::Result<Self> {
        if !dir.join("run_peer.sh").is_file() || !dir.join("bench.py").is_file() {
            bail!(
                "the Python peer is not at {} (no run_peer.sh and bench.py there); set --peer-dir or BENCH_PEER_DIR",
                dir.display()
            );
        }
        let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        let port = env("PEER_PORT", "18090").parse().context("PEER_PORT is not a port")?;
        let redis_port = env("PEER_REDIS_PORT", "6392").parse().context("PEER_REDIS_PORT is not a port")?;
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
        Ok(Self {
            dir: dir.canonicalize()?,
            run_dir: std::env::temp_dir().join(format!("loadgen-peer-{tag}")),
            venv: PathBuf::from(env("PEER_VENV", "/tmp/peer-venv")),
            host: env("PEER_HOST", "127.0.0.1"),
            port,
            redis_port,
            secret: format!("loadgen-peer-{}", uuid::Uuid::new_v4().simple()),
        })
    }

    /// Starts fresh peer processes with `PEER_STEP_SLEEP_MS*` as given (others cleared);
    /// builds the peer's venv on first use (PyPI).
    ///
    /// # Errors
    /// When its ports are taken or `run_peer.sh up` fails.
    pub(crate) async fn up(&self, step_sleeps: &[(&str, String)]) -> anyhow::Result<Running> {
        for port in [self.port, self.redis_port] {
            if std::net::TcpStream::connect((self.host.as_str(), port)).is_ok() {
                bail!(
                    "something already listens on {}:{port}; is another peer running? (PEER_PORT, PEER_REDIS_PORT)",
                    self.host
                );
            }
        }
        let mut command = self.run_peer("up");
        for (name, _) in std::env::vars() {
            if name.starts_with("PEER_STEP_SLEEP_MS") || name == "PEER_FAIL_STEP" {
                command.env_remove(name);
            }
        }
        command.envs(step_sleeps.iter().map(|(k, v)| (*k, v.as_str())));
        let output = command.output().await.context("run run_peer.sh up")?;
        if !output.status.success() {
            self.down().await;
            bail!(
                "run_peer.sh up failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let pid = |name: &str| -> anyhow::Result<u32> {
            let path = self.run_dir.join(format!("{name}.pid"));
            std::fs::read_to_string(&path)?
                .trim()
                .parse()
                .with_context(|| format!("bad pid in {}", path.display()))
        };
        Ok(Running {
            base: format!("http://{}:{}", self.host, self.port),
            port: self.port,
            redis_url: format!("redis://127.0.0.1:{}/0", self.redis_port),
            groups: vec![
                Group::new("uvicorn", pid("uvicorn")?),
                Group::new("celery", pid("celery")?),
                Group::new("redis", pid("redis")?),
            ],
        })
    }

    /// `run_peer.sh down`: stops exactly the processes this comparison started. Failures are
    /// reported, not returned.
    pub(crate) async fn down(&self) {
        match self.run_peer("down").output().await {
            Ok(output) if output.status.success() => {
                // Its pid files and logs; `up` makes the folder again.
                let _ = std::fs::remove_dir_all(&self.run_dir);
            }
            Ok(output) => {
                eprintln!("loadgen: run_peer.sh down: {}", String::from_utf8_lossy(&output.stderr).trim())
            }
            Err(e) => eprintln!("loadgen: run_peer.sh down: {e}"),
        }
    }

    fn run_peer(&self, verb: &str) -> Command {
        let mut command = Command::new(self.dir.join("run_peer.sh"));
        command
            .arg(verb)
            .env("PEER_RUN_DIR", &self.run_dir)
            .env("PEER_VENV", &self.venv)
            .env("SUPABASE_JWT_SECRET", &self.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `bench.py <args>` with the peer's venv; returns its last line parsed as JSON (it
    /// prints one with `--json`) and its whole output. Its summary lines are echoed to stderr.
    ///
    /// # Errors
    /// When it cannot run, prints no JSON, or reports an unclean run (exit code not 0) and
    /// `allow_unclean` is false.
    pub(crate) async fn bench(
        &self,
        args: &[String],
        allow_unclean: bool,
    ) -> anyhow::Result<(serde_json::Value, String)> {
        let output = Command::new(self.venv.join("bin/python"))
            .arg(self.dir.join("bench.py"))
            .args(args)
            .arg("--json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .context("run bench.py (is the peer's venv built? run_peer.sh up builds it)")?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let (summary, json_line) = stdout.trim_end().rsplit_once('\n').unwrap_or(("", stdout.trim_end()));
        for line in summary.lines() {
            eprintln!("  bench.py| {line}");
        }
        let parsed = serde_json::from_str::<serde_json::Value>(json_line);
        match parsed {
            Ok(value) if output.status.success() || allow_unclean => Ok((value, stdout)),
            _ => bail!(
                "bench.py {} exited with {}: {}\n{}",
                args.first().map_or("", String::as_str),
                output.status,
                summary.lines().last().unwrap_or_default(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }
    }
}

/// The default peer folder: `../shared/peer` beside the main checkout (the parent of the git
/// common dir, so a worktree finds the same peer as the main checkout), else beside the
/// current folder.
pub(crate) fn default_dir() -> PathBuf {
    let common = std::process::Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let repo =
        common.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    repo.join("../shared/peer")
}
