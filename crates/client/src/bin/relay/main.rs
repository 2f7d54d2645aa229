//! `relay`: the recipe-relay command line.
//!
//! ```text
//! relay token --sub <uuid> [--ttl 1h] [--email a@b.c]   mint a dev token (needs SUPABASE_JWT_SECRET)
//! relay submit <tiktok-url> [--lang de] [--json] [--poll]
//! relay watch <task-id> [--json] [--poll]
//! relay recipe <recipe-id> [--format text|json|jsonld] [--servings N] [--units metric|us]
//! relay list <recipe-id>[:servings]... [--units metric|us] [--json]  a merged shopping list
//! relay cancel <task-id>
//! relay admin list|show|requeue|cancel ...                  operators (see `admin`)
//! ```
//!
//! The gateway is `--url` or `RELAY_URL` (default `http://127.0.0.1:8000`), the access token
//! `--token` or `RELAY_TOKEN`.
//!
//! Output: results (the recipe, a recipe id, a token) go to stdout; progress and errors go to
//! stderr. Progress is a live bar when stderr is a terminal and one plain line per update
//! (`[3/5] Processing with AI... — Using ...`) otherwise. With `--json`, stdout carries exactly
//! one JSON document (the recipe as the server sent it for `submit`, the final update for
//! `watch`) and stderr carries every update as one JSON line (plus plain `warning:` and `error:`
//! lines), so scripts can follow both.
//!
//! Exit status: 0 when the task succeeded (or the command did its job), 1 when the task failed,
//! 2 for usage errors, connection errors and refusals (401, 404, ...), each with one line on
//! stderr. 130 after Ctrl-C (the task goes on on the server).

mod admin;
mod render;
mod token;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use client::{Client, ClientConfig, UnitSystem, View, Watch};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use protocol::{Language, RecipeId, TaskId, TaskState, TaskUpdate, TikTokUrl, UserId};
use url::Url;

const EXIT_TASK_FAILED: u8 = 1;
const EXIT_ERROR: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

/// Turns TikTok cooking videos into recipes, through a recipe-relay gateway.
#[derive(Debug, Parser)]
#[command(name = "relay", version)]
struct Cli {
    /// Base URL of the gateway.
    #[arg(long, env = "RELAY_URL", default_value = "http://127.0.0.1:8000", global = true)]
    url: Url,
    /// The user's access token (a Supabase JWT; `relay token` mints one for development).
    #[arg(long, env = "RELAY_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Limit for connecting to the gateway (90s, 1m, ...).
    #[arg(long, default_value = "10s", value_parser = token::parse_duration, global = true)]
    connect_timeout: Duration,
    /// Limit for one request (long-polls get 25 s on top).
    #[arg(long, default_value = "30s", value_parser = token::parse_duration, global = true)]
    timeout: Duration,
    /// Log what the client does (socket, reconnects, polling) on stderr; RUST_LOG refines it.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mint an HS256 development token signed with SUPABASE_JWT_SECRET; prints only the token.
    Token {
        /// The user id (UUID) the token is for.
        #[arg(long)]
        sub: UserId,
        /// How long the token is valid (90s, 30m, 1h, 7d).
        #[arg(long, default_value = "1h", value_parser = token::parse_duration)]
        ttl: Duration,
        /// An e-mail claim, as Supabase tokens carry.
        #[arg(long)]
        email: Option<String>,
    },
    /// Submit a TikTok link, follow its progress, then print the recipe.
    Submit {
        /// The TikTok video link, as shared from the app.
        link: TikTokUrl,
        /// The language to write the recipe in (de, en, pt-BR, ...).
        #[arg(long, env = "RELAY_LANG", default_value = "de")]
        lang: Language,
        /// Print the recipe as JSON on stdout and the updates as JSON lines on stderr.
        #[arg(long)]
        json: bool,
        /// Follow the task by long-polling only, without the socket.
        #[arg(long)]
        poll: bool,
    },
    /// Follow a task until it finishes; prints the recipe id.
    Watch {
        /// The task id.
        task_id: TaskId,
        /// Print the final update as JSON on stdout and the updates as JSON lines on stderr.
        #[arg(long)]
        json: bool,
        /// Follow the task by long-polling only, without the socket.
        #[arg(long)]
        poll: bool,
    },
    /// Print a saved recipe.
    Recipe {
        /// The recipe id.
        id: RecipeId,
        /// text: readable; json: as the server sends it; jsonld: schema.org Recipe.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Scale the amounts to this many servings (1 to 100).
        #[arg(long)]
        servings: Option<u32>,
        /// Convert amounts and oven temperatures to metric or US units.
        #[arg(long, value_enum)]
        units: Option<Units>,
    },
    /// Print one shopping list for several saved recipes, the same foods summed.
    List {
        /// Recipe ids, each optionally with the servings to shop for: `<id>` or `<id>:4`.
        #[arg(required = true, value_parser = parse_list_item)]
        recipes: Vec<(RecipeId, Option<u32>)>,
        /// Convert amounts to metric or US units.
        #[arg(long, value_enum)]
        units: Option<Units>,
        /// Print the list as the server sent it, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a task.
    Cancel {
        /// The task id.
        task_id: TaskId,
    },
    /// Operators: every user's tasks, dead letters, requeue and cancel (the admin API).
    Admin {
        /// The gateway's admin token (RELAY__ADMIN__TOKEN) or a Supabase service_role key.
        #[arg(long, env = "RELAY_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Units {
    Metric,
    Us,
}

impl From<Units> for UnitSystem {
    fn from(units: Units) -> Self {
        match units {
            Units::Metric => Self::Metric,
            Units::Us => Self::Us,
        }
    }
}

/// `<recipe-id>` or `<recipe-id>:<servings>`.
fn parse_list_item(text: &str) -> Result<(RecipeId, Option<u32>), String> {
    let (id, servings) = match text.split_once(':') {
        Some((id, servings)) => {
            let servings =
                servings.parse::<u32>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                    format!("servings must be a whole number from 1 to 100, got {servings:?}")
                })?;
            (id, Some(servings))
        }
        None => (text, None),
    };
    let id = RecipeId::parse(id).map_err(|e| format!("{id:?} is not a recipe id: {e}"))?;
    Ok((id, servings))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Jsonld,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("client=debug"));
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", one_line(&format!("{error:#}")));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Token { sub, ttl, email } = &cli.command {
        let secret = std::env::var(token::SECRET_VAR).ok();
        println!("{}", token::mint(secret.as_deref(), *sub, *ttl, email.as_deref())?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Admin { admin_token, command } = cli.command {
        admin::run(&cli.url, admin_token, cli.timeout, command).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let force_polling =
        matches!(cli.command, Command::Submit { poll: true, .. } | Command::Watch { poll: true, .. });
    let client = connect(&cli, force_polling)?;
    match cli.command {
        Command::Token { .. } | Command::Admin { .. } => Ok(ExitCode::SUCCESS),
        Command::Submit { link, lang, json, .. } => submit(&client, &link, &lang, json).await,
        Command::Watch { task_id, json, .. } => watch(&client, task_id, json).await,
        Command::Recipe { id, format, servings, units } => {
            recipe(&client, id, format, View { servings, units: units.map(Into::into) }).await
        }
        Command::List { recipes, units, json } => list(&client, &recipes, units, json).await,
        Command::Cancel { task_id } => cancel(&client, task_id).await,
    }
}

fn connect(cli: &Cli, force_polling: bool) -> anyhow::Result<Client> {
    let Some(token) = cli.token.clone().filter(|t| !t.is_empty()) else {
        bail!("no access token: pass --token or set RELAY_TOKEN (`relay token --sub <uuid>` mints one)");
    };
    let mut config = ClientConfig::new(cli.url.clone(), token);
    config.connect_timeout = cli.connect_timeout;
    config.request_timeout = cli.timeout;
    config.force_polling = force_polling;
    Ok(Client::new(config)?)
}

async fn submit(client: &Client, link: &TikTokUrl, lang: &Language, json: bool) -> anyhow::Result<ExitCode> {
    let first = client.submit(link, lang).await?;
    let task_id = first.task_id;
    let mut progress = Progress::new(json);
    progress.started(task_id, link);
    let last = if first.is_terminal() {
        // Joined a task that had already finished.
        first
    } else {
        progress.update(&first);
        match follow(client.watch_from(task_id, first.seq), &mut progress).await? {
            Some(last) => last,
            None => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
        }
    };
    progress.finish(&last);
    if last.status == TaskState::Failure {
        return Ok(task_failed(&last));
    }
    let recipe_id = last.recipe_id.context("the task succeeded but its last update names no recipe")?;
    if json {
        print_json(&client.recipe_document(recipe_id).await?)?;
    } else {
        let recipe = client.recipe(recipe_id).await?;
        print!("{}", render::recipe_text(&recipe));
        println!("Recipe id: {recipe_id}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn watch(client: &Client, task_id: TaskId, json: bool) -> anyhow::Result<ExitCode> {
    let mut progress = Progress::new(json);
    let Some(last) = follow(client.watch(task_id), &mut progress).await? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    progress.finish(&last);
    if json {
        print_json(&serde_json::to_value(&last)?)?;
    }
    if last.status == TaskState::Failure {
        return Ok(task_failed(&last));
    }
    if !json {
        match last.recipe_id {
            Some(recipe_id) => println!("{recipe_id}"),
            None => bail!("the task succeeded but its last update names no recipe"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn recipe(client: &Client, id: RecipeId, format: Format, view: View) -> anyhow::Result<ExitCode> {
    match format {
        Format::Text => print!("{}", render::recipe_text(&client.recipe_view(id, view).await?)),
        Format::Json => print_json(&client.recipe_document_view(id, view).await?)?,
        Format::Jsonld => print_json(&client.recipe_json_ld_view(id, view).await?)?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(
    client: &Client,
    recipes: &[(RecipeId, Option<u32>)],
    units: Option<Units>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let list = client.shopping_list(recipes, units.map(Into::into)).await?;
    if json {
        print_json(&serde_json::to_value(&list)?)?;
    } else {
        print!("{}", render::shopping_list_text(&list));
    }
    Ok(ExitCode::SUCCESS)
}

async fn cancel(client: &Client, task_id: TaskId) -> anyhow::Result<ExitCode> {
    match client.cancel(task_id).await? {
        Some(update) => println!("task {task_id}: {}", render::update_line(&update)),
        None => println!("task {task_id}: cancellation requested"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the watch to its terminal update. `None` after Ctrl-C.
async fn follow(mut watch: Watch, progress: &mut Progress) -> anyhow::Result<Option<TaskUpdate>> {
    let task_id = watch.task_id();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let item = tokio::select! {
            item = watch.next() => item,
            _ = &mut interrupted => {
                progress.clear();
                eprintln!("interrupted; the task goes on on the server: relay watch {task_id}");
                return Ok(None);
            }
        };
        match item {
            Some(Ok(update)) if update.is_terminal() => return Ok(Some(update)),
            Some(Ok(update)) => progress.update(&update),
            // A garbled message: worth a word, not worth stopping for.
            Some(Err(error)) if error.is_transient() => progress.warn(&error),
            Some(Err(error)) => {
                progress.clear();
                return Err(error.into());
            }
            None => {
                progress.clear();
                bail!("the watch of task {task_id} ended before the task finished");
            }
        }
    }
}

fn task_failed(last: &TaskUpdate) -> ExitCode {
    let message = render::update_text(last);
    match last.error.as_deref() {
        Some(error) => eprintln!("error: the task failed ({error}): {message}"),
        None => eprintln!("error: the task failed: {message}"),
    }
    ExitCode::from(EXIT_TASK_FAILED)
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

/// Error chains can quote bodies with line breaks; the last line of output stays one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where progress goes: a live bar, plain lines, or JSON lines, always on stderr.
enum Progress {
    Bar(ProgressBar),
    Lines,
    Json,
}

impl Progress {
    fn new(json: bool) -> Self {
        if json {
            return Self::Json;
        }
        if !std::io::stderr().is_terminal() {
            return Self::Lines;
        }
        let bar = ProgressBar::new(u64::from(protocol::TOTAL_STEPS));
        let style = ProgressStyle::with_template("{spinner} [{bar:25}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Self::Bar(bar)
    }

    fn update(&mut self, update: &TaskUpdate) {
        match self {
            Self::Bar(bar) => {
                bar.set_length(u64::from(update.total_steps.max(1)));
                bar.set_position(u64::from(update.step));
                let text = render::update_line(update);
                // The bar shows the step count itself: drop the "[3/5] " prefix.
                let text = text.split_once("] ").map_or(text.as_str(), |(_, rest)| rest).to_owned();
                bar.set_message(text);
            }
            Self::Lines => eprintln!("{}", render::update_line(update)),
            Self::Json => match serde_json::to_string(update) {
                Ok(line) => eprintln!("{line}"),
                Err(e) => eprintln!("warning: cannot write the update as JSON: {e}"),
            },
        }
    }

    /// Names the new task (every JSON update carries its id already).
    fn started(&self, task_id: TaskId, link: &TikTokUrl) {
        match self {
            Self::Bar(bar) => bar.println(format!("task {task_id}: {link}")),
            Self::Lines => eprintln!("task {task_id}: {link}"),
            Self::Json => {}
        }
    }

    /// A problem worth a word that does not stop the watch; plain text in every mode.
    fn warn(&self, error: &client::ClientError) {
        let text = one_line(&format!("warning: {error}"));
        match self {
            Self::Bar(bar) => bar.println(text),
            Self::Lines | Self::Json => eprintln!("{text}"),
        }
    }

    /// Shows the terminal update and takes the bar down.
    fn finish(&mut self, last: &TaskUpdate) {
        self.update(last);
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
            let mark = if last.status == TaskState::Success { "done" } else { "failed" };
            eprintln!("{mark}: {}", render::update_line(last));
        }
    }

    fn clear(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
