//! `relay admin`: the operators' commands, against the gateway's admin API (`/admin/api/...`,
//! on when the gateway runs with `RELAY__ADMIN__ENABLED=true`).
//!
//! ```text
//! relay admin list [--state FAILURE] [--error not_a_recipe] [--user <uuid>] [--limit 50] [--json]
//! relay admin show <task-id> [--json]
//! relay admin requeue <task-id> | --all
//! relay admin cancel <task-id>
//! ```
//!
//! The token is `--admin-token` or `RELAY_ADMIN_TOKEN`: the gateway's admin token or a Supabase
//! `service_role` key. It is sent as a bearer token and never printed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use protocol::{TaskId, UserId};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

/// The admin subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// List recent tasks of every user, newest first.
    List {
        /// Only tasks in this state: PENDING, PROGRESS, SUCCESS or FAILURE.
        #[arg(long)]
        state: Option<String>,
        /// Only failed tasks with this error code (not_a_recipe, temporarily_unavailable, ...).
        #[arg(long)]
        error: Option<String>,
        /// Only this user's tasks.
        #[arg(long)]
        user: Option<UserId>,
        /// At most this many (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one task: its row, its attempts and its event log.
    Show {
        /// The task id.
        task_id: TaskId,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queue a dead letter again (or every one with --all); it runs with a fresh attempt budget.
    Requeue {
        /// The dead-lettered task.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        task_id: Option<TaskId>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Cancel any user's task.
    Cancel {
        /// The task id.
        task_id: TaskId,
    },
}

/// The admin API of one gateway, with the operator's token.
struct AdminApi {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl AdminApi {
    /// Sends one request; the JSON body of a 2xx, else the problem's detail as the error.
    async fn call(&self, method: Method, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let url =
            self.base.join(&format!("admin/api/{path}")).context("the gateway URL cannot take a path")?;
        let response = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .query(query)
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let detail = body["detail"].as_str().or(body["title"].as_str()).unwrap_or("no detail");
        if status == StatusCode::NOT_FOUND && path == "overview" {
            bail!("the gateway has no admin API (is RELAY__ADMIN__ENABLED on?)");
        }
        bail!("the gateway refused ({status}): {detail}")
    }
}

/// Runs one admin command; its output goes to stdout.
///
/// # Errors
/// A missing token, a connection error or a refusal, as one line.
pub(crate) async fn run(
    base: &Url,
    token: Option<String>,
    timeout: Duration,
    command: AdminCommand,
) -> anyhow::Result<()> {
    let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
        bail!(
            "no admin token: pass --admin-token or set RELAY_ADMIN_TOKEN (the gateway's RELAY__ADMIN__TOKEN)"
        );
    };
    let http = reqwest::Client::builder().timeout(timeout).build()?;
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let api = AdminApi { http, base, token: token.trim().to_owned() };
    match command {
        AdminCommand::List { state, error, user, limit, json } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(state.map(|s| ("state", s)));
            query.extend(error.map(|e| ("error", e)));
            query.extend(user.map(|u| ("user", u.to_string())));
            let page = api.call(Method::GET, "tasks", &query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                print_list(&page);
            }
        }
        AdminCommand::Show { task_id, json } => {
            let detail = api.call(Method::GET, &format!("tasks/{task_id}"), &[]).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                print_detail(&detail);
            }
        }
        AdminCommand::Requeue { task_id: Some(task_id), .. } => {
            let event = api.call(Method::POST, &format!("dead-letters/{task_id}/requeue"), &[]).await?;
            println!("queued again: {task_id} (seq {})", event["seq"]);
        }
        AdminCommand::Requeue { task_id: None, .. } => {
            let outcome = api.call(Method::POST, "dead-letters/requeue", &[]).await?;
            for id in outcome["requeued"].as_array().into_iter().flatten() {
                println!("queued again: {}", id.as_str().unwrap_or_default());
            }
            for skipped in outcome["skipped"].as_array().into_iter().flatten() {
                println!("skipped: {} ({})", text(&skipped["task_id"]), text(&skipped["reason"]));
            }
        }
        AdminCommand::Cancel { task_id } => {
            api.call(Method::POST, &format!("tasks/{task_id}/cancel"), &[]).await?;
            println!("cancelled: {task_id}");
        }
    }
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

/// "42s ago", "5m ago", "3h ago", "2d ago".
fn ago(seconds: &Value) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default();
    let Some(then) = seconds.as_f64() else { return "-".into() };
    let secs = (now - then).max(0.0) as u64;
    match secs {
        0..120 => format!("{secs}s ago"),
        120..7200 => format!("{}m ago", secs / 60),
        7200..172_800 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

fn print_list(page: &Value) {
    let tasks = page["tasks"].as_array().cloned().unwrap_or_default();
    if tasks.is_empty() {
        println!("no task matches");
    }
    for task in &tasks {
        let what =
            task["recipe_name"].as_str().or(task["error"].as_str()).unwrap_or_else(|| text(&task["message"]));
        println!(
            "{}  {:<8}  {:<10}  user {}  attempts {}  {}",
            text(&task["task_id"]),
            text(&task["status"]),
            ago(&task["created_at"]),
            text(&task["owner"]),
            task["attempts"],
            what
        );
    }
    if let Some(cursor) = page["next_cursor"].as_str() {
        println!("(more: the next page starts after {cursor})");
    }
}

fn print_detail(detail: &Value) {
    let task = &detail["task"];
    println!("task      {}", text(&task["task_id"]));
    println!("status    {} (step {} of 5)", text(&task["status"]), task["step"]);
    println!("user      {}", text(&task["owner"]));
    println!("link      {} ({})", text(&task["url"]), text(&task["language"]));
    if let Some(error) = task["error"].as_str() {
        println!("error     {error}: {}", text(&task["message"]));
    }
    if let Some(name) = task["recipe_name"].as_str() {
        println!("recipe    {name} ({})", text(&task["recipe_id"]));
    }
    println!("created   {}", ago(&task["created_at"]));
    println!("attempts  {} claim(s); claim token {}", task["attempts"], text(&task["claim_token"]));
    match detail["job"].as_object() {
        Some(job) => println!(
            "job       attempt {} of this run, worker {}",
            job.get("attempts").unwrap_or(&Value::Null),
            job.get("worker").and_then(Value::as_str).unwrap_or("-")
        ),
        None => println!("job       none in Redis (finished, or not queued)"),
    }
    if detail["dead_letter"].as_bool() == Some(true) {
        println!("dead letter: `relay admin requeue {}` runs it again", text(&task["task_id"]));
    }
    println!("events ({}):", text(&detail["events_source"]));
    for event in detail["events"].as_array().into_iter().flatten() {
        let words: Vec<&str> =
            ["current_status", "details", "error"].iter().filter_map(|key| event[*key].as_str()).collect();
        println!("  #{:<3} {:<8} {}", event["seq"], text(&event["status"]), words.join(" · "));
    }
}
