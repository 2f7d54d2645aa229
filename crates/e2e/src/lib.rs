//! Harness for the end-to-end tests: starts the real `api` and `worker` binaries as child
//! processes against real Redis and Postgres, waits for them by reading their logs (no sleeps),
//! and kills them on drop so a failed test leaves nothing running.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use url::Url;

/// How long a process may take to say it is ready.
const READY: Duration = Duration::from_secs(60);

/// The folder holding the workspace's binaries (`target/debug`), built once if missing.
///
/// # Panics
/// When the binaries cannot be built.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The test executable lives in target/<profile>/deps.
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf();
        if ["api", "worker", "relay"].iter().any(|bin| !dir.join(bin).exists()) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "-p", "api", "-p", "worker", "-p", "client"])
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build -p api -p worker -p client failed");
        }
        dir
    })
}

/// One deployment: a database, a key prefix, a JWT secret, shared by its processes.
#[derive(Debug, Clone)]
pub struct Stack {
    /// `DATABASE_URL` of a fresh database.
    pub database_url: String,
    /// `REDIS_URL`.
    pub redis_url: String,
    /// Key prefix of this deployment.
    pub prefix: String,
    /// `SUPABASE_JWT_SECRET`.
    pub secret: String,
}

impl Stack {
    /// A fresh deployment on the test Redis and Postgres.
    pub async fn new() -> Self {
        Self {
            database_url: testkit::fresh_database_url().await,
            redis_url: testkit::redis_url(),
            prefix: testkit::unique_prefix(),
            secret: format!("e2e-secret-{}", uuid::Uuid::new_v4()),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("APP_ENVIRONMENT", "production"),
            ("REDIS_URL", &self.redis_url),
            ("DATABASE_URL", &self.database_url),
            ("SUPABASE_JWT_SECRET", &self.secret),
            ("RELAY__REDIS__KEY_PREFIX", &self.prefix),
            ("RELAY__LOG__FORMAT", "json"),
            ("RELAY__LOG__FILTER", "info"),
            ("RELAY__WORKER__PROVIDERS", "offline"),
            // Every worker's metrics and health port on a free loopback port (several run at once).
            ("RELAY__WORKER__METRICS_ADDR", "127.0.0.1:0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Starts a gateway; `port` 0 picks a free one. Returns once it listens.
    ///
    /// # Errors
    /// When it exits or does not report listening in time.
    pub async fn api(&self, port: u16, extra: &[(&str, &str)]) -> anyhow::Result<Proc> {
        let mut env = self.env();
        env.push(("RELAY__API__PORT".into(), port.to_string()));
        let mut proc = Proc::spawn("api", env, extra)?;
        let line = proc.wait_for_log("gateway listening").await?;
        let value: serde_json::Value = serde_json::from_str(&line).context("api logs JSON")?;
        proc.port = value["port"].as_u64().and_then(|p| u16::try_from(p).ok());
        Ok(proc)
    }

    /// Starts a worker. Returns once it runs, with its metrics and health port as `port`.
    ///
    /// # Errors
    /// When it exits or does not report running in time.
    pub async fn worker(&self, extra: &[(&str, &str)]) -> anyhow::Result<Proc> {
        let mut proc = Proc::spawn("worker", self.env(), extra)?;
        let line = proc.wait_for_log("worker started").await?;
        let value: serde_json::Value = serde_json::from_str(&line).context("worker logs JSON")?;
        proc.port = value["metrics_port"].as_u64().and_then(|p| u16::try_from(p).ok());
        Ok(proc)
    }

    /// An HS256 access token for `user`, as Supabase issues them.
    ///
    /// # Panics
    /// When the token cannot be encoded.
    pub fn token(&self, user: uuid::Uuid) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let claims = serde_json::json!({
            "sub": user.to_string(), "aud": "authenticated", "role": "authenticated",
            "iat": now, "exp": now + 3600,
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()).expect("a non-empty secret"),
        )
        .expect("encode token")
    }

    /// This deployment with its processes reaching Postgres through a [`Proxy`] that the test
    /// can cut or stall; the proxy is returned with it.
    ///
    /// # Panics
    /// When the database URL is malformed or no port can be bound.
    pub async fn with_postgres_proxy(&self) -> (Self, Proxy) {
        let db = Url::parse(&self.database_url).expect("DATABASE_URL is a URL");
        let target = format!("{}:{}", db.host_str().unwrap_or("127.0.0.1"), db.port().unwrap_or(5432));
        let proxy = Proxy::start(target).await.expect("proxy");
        let mut through_proxy = db;
        through_proxy.set_port(Some(proxy.port)).expect("a port");
        (Self { database_url: through_proxy.to_string(), ..self.clone() }, proxy)
    }

    /// A client of the gateway at `port` for a new user.
    ///
    /// # Panics
    /// When the client cannot be built.
    pub fn client(&self, port: u16, user: uuid::Uuid, force_polling: bool) -> client::Client {
        let url = Url::parse(&format!("http://127.0.0.1:{port}")).expect("url");
        let mut config = client::ClientConfig::new(url, self.token(user));
        config.force_polling = force_polling;
        config.connect_timeout = Duration::from_secs(3);
        client::Client::new(config).expect("client")
    }
}

/// A running binary; killed when dropped.
#[derive(Debug)]
pub struct Proc {
    name: &'static str,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// The api's port, or the worker's metrics and health port, once known.
    pub port: Option<u16>,
}

impl Proc {
    fn spawn(name: &'static str, env: Vec<(String, String)>, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut child = Command::new(bin_dir().join(name))
            .env_clear()
            .envs(env)
            .envs(extra.iter().map(|(k, v)| (*k, *v)))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        let stderr = child.stderr.take().context("stderr")?;
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if std::env::var_os("E2E_LOGS").is_some() {
                    eprintln!("[{name}] {line}");
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { name, child, lines, port: None })
    }

    /// Waits for a log line containing `needle` and returns it.
    ///
    /// # Errors
    /// When the process exits first or the line does not come in time.
    pub async fn wait_for_log(&mut self, needle: &str) -> anyhow::Result<String> {
        let name = self.name;
        let wait = async {
            let mut seen = Vec::new();
            while let Some(line) = self.lines.recv().await {
                if line.contains(needle) {
                    return Ok(line);
                }
                seen.push(line);
            }
            bail!("{name} exited before logging {needle:?}; its log:\n{}", seen.join("\n"))
        };
        tokio::time::timeout(READY, wait).await.with_context(|| format!("{name}: no {needle:?} in time"))?
    }

    /// The OS process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL, like a crash, and wait for the exit.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM and wait for the exit; returns the exit code.
    ///
    /// # Errors
    /// When the process cannot be signalled or waited for.
    pub async fn terminate(&mut self) -> anyhow::Result<Option<i32>> {
        let pid = self.pid().context("already exited")?;
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await??;
        Ok(status.code())
    }
}

/// A throwaway `redis-server` of the test's own, so it can be killed and restarted empty.
#[derive(Debug)]
pub struct RedisServer {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port.
    ///
    /// # Errors
    /// When `redis-server` is missing or does not start.
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut server = Self { port, child: None };
        server.restart().await?;
        Ok(server)
    }

    /// `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no persistence, all data gone).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the server again on the same port, empty.
    ///
    /// # Errors
    /// When it does not report readiness in time.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start redis-server (scripts/services installs it)")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("Ready to accept connections") {
                    return Ok(());
                }
            }
            bail!("redis-server exited before it was ready")
        };
        tokio::time::timeout(READY, ready).await.context("redis-server did not start in time")??;
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        Ok(())
    }
}

/// A TCP forwarder whose link can be cut and restored: a dependency "going away" without
/// touching the shared test servers.
#[derive(Debug)]
pub struct Proxy {
    /// The port to connect to instead of the target.
    pub port: u16,
    state: std::sync::Arc<std::sync::Mutex<tokio_util::sync::CancellationToken>>,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    flowing: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Copies `from` to `to` while `flowing` says so; a stall holds the bytes (the peer just waits).
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flowing: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else { return };
        let open = flowing.wait_for(|f| *f).await.is_ok();
        if n == 0 || !open || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    /// Forwards a new local port to `target` (`host:port`).
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(target: String) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let state = std::sync::Arc::new(std::sync::Mutex::new(tokio_util::sync::CancellationToken::new()));
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (task_state, task_open) = (state.clone(), open.clone());
        let (flowing, flow) = tokio::sync::watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !task_open.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: connection refused, in effect
                }
                let cut = task_state.lock().map(|t| t.clone()).unwrap_or_default();
                let (target, flow) = (target.clone(), flow.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else { return };
                    let ((in_read, in_write), (out_read, out_write)) =
                        (inbound.into_split(), outbound.into_split());
                    tokio::select! {
                        () = forward(in_read, out_write, flow.clone()) => {}
                        () = forward(out_read, in_write, flow) => {}
                        () = cut.cancelled() => {}
                    }
                });
            }
        });
        Ok(Self { port, state, open, flowing, task })
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut token) = self.state.lock() {
            token.cancel();
            *token = tokio_util::sync::CancellationToken::new();
        }
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stalls every connection: bytes are held, nothing is refused, until [`Proxy::resume`].
    pub fn stall(&self) {
        self.flowing.send_replace(false);
    }

    /// Lets held bytes through again.
    pub fn resume(&self) {
        self.flowing.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
