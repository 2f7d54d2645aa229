//! The guide's client through a real nginx holding the project's nginx-proxy location file, as
//! the seed deploys it: the socket upgrade, the long-poll, a socket that outlives the proxy's
//! read timeout, and a gateway killed and restarted behind the proxy.
//!
//! nginx (Debian's, installed by `scripts/services`) runs in the foreground from a temporary
//! prefix, with a server block the way nginx-proxy renders one for a `VIRTUAL_HOST`: an
//! upstream named after the host, the upgrade headers at http level, and
//! `deploy/nginx/vhost.d/MAIN_DOMAIN_location` included in `location /`. The access log uses
//! the format of `deploy/nginx/conf.d/recipe-relay-log.conf`, so every request nginx passed
//! on can be read back after it stops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use e2e::Stack;
use futures_util::StreamExt;
use protocol::TaskState;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::{KAISERSCHMARRN, PANCAKES, PASTA, TASK_TIME, assert_ordered_success, collect, lang, url};

/// The location file as shipped.
fn location_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/vhost.d/MAIN_DOMAIN_location")
}

fn log_conf_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/conf.d/recipe-relay-log.conf")
}

/// A foreground nginx on a free loopback port proxying to one gateway port.
struct Nginx {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Nginx {
    /// Starts nginx in front of `127.0.0.1:upstream`, including `location` in `location /`.
    /// Returns once its master process has opened the listening socket and started workers.
    async fn start(upstream: u16, location: &Path) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("relay-nginx-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let d = dir.display();
        // What nginx-proxy's template puts at http level for every host, minus proxy_buffering:
        // that one must come from the location file, which is what is under test.
        let conf = format!(
            r#"
pid {d}/nginx.pid;
error_log stderr notice;
events {{}}
http {{
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    map $http_upgrade $proxy_connection {{ default upgrade; '' close; }}
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $proxy_connection;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    include {log_conf};
    upstream recipes.example.com {{ server 127.0.0.1:{upstream}; }}
    server {{
        listen 127.0.0.1:{port};
        server_name recipes.example.com;
        access_log {d}/access.log relay_redacted;
        location / {{
            proxy_pass http://recipes.example.com;
            include {location};
        }}
    }}
}}
"#,
            log_conf = log_conf_file().display(),
            location = location.display(),
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let nginx = if Path::new("/usr/sbin/nginx").exists() { "/usr/sbin/nginx" } else { "nginx" };
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg("stderr")
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("start nginx (scripts/services installs it)")?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let ready = async {
            let mut seen = Vec::new();
            while let Some(line) = lines.next_line().await? {
                // The master logs this after it opened the listening sockets.
                if line.contains("start worker processes") {
                    return Ok(());
                }
                seen.push(line);
            }
            bail!("nginx exited before it was ready:\n{}", seen.join("\n"))
        };
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .context("nginx did not start in time")??;
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if std::env::var_os("E2E_LOGS").is_some() {
                    eprintln!("[nginx] {line}");
                }
            }
        });
        Ok(Self { port, dir, child })
    }

    /// Stops nginx gracefully (SIGQUIT: open requests end first, each is logged) and returns its
    /// access log, one request a line.
    async fn stop(mut self) -> anyhow::Result<Vec<String>> {
        let pid = self.child.id().context("nginx already exited")?;
        let status = std::process::Command::new("kill").args(["-QUIT", &pid.to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -QUIT {pid} failed");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        Ok(log.lines().map(str::to_owned).collect())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Access-log lines of socket handshakes that nginx upgraded (status 101).
fn upgrades(log: &[String]) -> Vec<&String> {
    log.iter().filter(|l| l.contains("\"GET /ws/") && l.contains(" 101 ")).collect()
}

#[tokio::test]
async fn the_socket_and_the_long_poll_work_through_nginx_which_hides_metrics_and_logs_no_token() {
    let stack = Stack::new().await;
    let api = stack.api(0, &[]).await.unwrap();
    let _worker = stack.worker(&[("RELAY__WORKER__OFFLINE_DELAY_MS", "200")]).await.unwrap();
    let nginx = Nginx::start(api.port.unwrap(), &location_file()).await.unwrap();
    let user = Uuid::new_v4();

    let socket = stack.client(nginx.port, user, false);
    let started = socket.submit(&url(PASTA), &lang("en")).await.unwrap();
    let updates = collect(socket.watch(started.task_id)).await;
    assert_ordered_success(&updates);
    let seqs: Vec<u64> = updates.iter().map(|u| u.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6], "the socket through nginx replays and streams every step");

    let polling = stack.client(nginx.port, user, true);
    let started = polling.submit(&url(KAISERSCHMARRN), &lang("de")).await.unwrap();
    assert_ordered_success(&collect(polling.watch(started.task_id)).await);

    let metrics = |port: u16| reqwest::get(format!("http://127.0.0.1:{port}/metrics"));
    let (public, direct) = (metrics(nginx.port).await.unwrap(), metrics(api.port.unwrap()).await.unwrap());
    assert_eq!(public.status(), 404, "the location file keeps /metrics private");
    assert_eq!(direct.status(), 200, "the api itself serves /metrics");

    let log = nginx.stop().await.unwrap();
    assert_eq!(upgrades(&log).len(), 1, "one socket, upgraded by nginx:\n{}", log.join("\n"));
    let polls = log.iter().filter(|l| l.contains("\"GET /task/") && l.contains(" 200 ")).count();
    assert!(polls >= 1, "the long-poll went through nginx:\n{}", log.join("\n"));
    assert!(log.iter().any(|l| l.contains("\"POST /scrape/async")), "{}", log.join("\n"));
    assert!(
        log.iter().all(|l| !l.contains("token=")),
        "the redacted format logs no token:\n{}",
        log.join("\n")
    );
}

#[tokio::test]
async fn server_pings_keep_a_quiet_socket_open_past_the_proxy_read_timeout() {
    // The shipped file sets 120 s, a literal; a copy with 2 s proves the mechanism in seconds:
    // the worker is silent for 4 s twice (scrape, extract), the api pings every second.
    let stack = Stack::new().await;
    let api = stack.api(0, &[("RELAY__API__WS_PING_SECS", "1")]).await.unwrap();
    let _worker = stack.worker(&[("RELAY__WORKER__OFFLINE_DELAY_MS", "4000")]).await.unwrap();
    let dir = std::env::temp_dir().join(format!("relay-location-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let location = dir.join("location");
    std::fs::write(&location, short_timeouts(&std::fs::read_to_string(location_file()).unwrap(), 2)).unwrap();
    let nginx = Nginx::start(api.port.unwrap(), &location).await.unwrap();

    let client = stack.client(nginx.port, Uuid::new_v4(), false);
    let started = client.submit(&url(PANCAKES), &lang("en")).await.unwrap();
    let updates = collect(client.watch(started.task_id)).await;

    let log = nginx.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_ordered_success(&updates);
    let seqs: Vec<u64> = updates.iter().map(|u| u.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "every step came over the socket");
    // A socket nginx had cut would have been reconnected: a second upgrade in the log.
    assert_eq!(upgrades(&log).len(), 1, "one socket for the whole task:\n{}", log.join("\n"));
}

/// The location file with its proxy timeouts set to `secs`; fails if it has none to replace.
fn short_timeouts(text: &str, secs: u32) -> String {
    let mut replaced = 0;
    let out: Vec<String> = text
        .lines()
        .map(|line| {
            let directive = line.split_whitespace().next().unwrap_or_default();
            if matches!(directive, "proxy_read_timeout" | "proxy_send_timeout") {
                replaced += 1;
                format!("{directive} {secs}s;")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_eq!(replaced, 2, "the location file sets proxy_read_timeout and proxy_send_timeout");
    out.join("\n")
}

#[tokio::test]
async fn a_client_behind_nginx_resumes_when_the_gateway_is_killed_and_restarted() {
    let stack = Stack::new().await;
    let mut api = stack.api(0, &[]).await.unwrap();
    let api_port = api.port.unwrap();
    let _worker = stack.worker(&[("RELAY__WORKER__OFFLINE_DELAY_MS", "1500")]).await.unwrap();
    let nginx = Nginx::start(api_port, &location_file()).await.unwrap();
    let client = stack.client(nginx.port, Uuid::new_v4(), false);

    let started = client.submit(&url(PASTA), &lang("en")).await.unwrap();
    let mut watch = client.watch(started.task_id);
    let mut updates = Vec::new();
    let mut restarted = false;
    tokio::time::timeout(TASK_TIME, async {
        while let Some(item) = watch.next().await {
            let update = item.expect("watch item");
            let progressing = update.status == TaskState::Progress;
            updates.push(update);
            if progressing && !restarted {
                restarted = true;
                // kill -9 behind nginx, then the same port again: nginx's upstream is static.
                api.kill().await;
                api = stack.api(api_port, &[]).await.expect("gateway restarts");
            }
        }
    })
    .await
    .expect("the watch ended in time");

    let log = nginx.stop().await.unwrap();
    assert!(restarted);
    assert_ordered_success(&updates);
    assert!(upgrades(&log).len() >= 2, "the client reconnected through nginx:\n{}", log.join("\n"));
}
