//! Tasks to watch, and events published on them the way the worker publishes them.
//!
//! Tasks are submitted, claimed, advanced and finished through the lifecycle service, the calls
//! the gateway and the worker make (`Tasks::submit`, `claim` + `start`, `Attempt::progress`,
//! `Attempt::succeed`), one user per task so no per-user limit applies. Every event carries its
//! publish time in `details`, so receivers can measure publish-to-receive latency.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::tasks::{Attempt, Limits, Start, Submission, Submitted, Tasks, Written};
use anyhow::Context as _;
use futures_util::{StreamExt, TryStreamExt, stream};
use protocol::{Language, Recipe, RecipeId, Step, TaskId, TaskUpdate, TikTokUrl, UserId};
use tokio::task::JoinSet;

use crate::stack::Stack;

/// The worker id the load tool claims under.
const PUBLISHER: &str = "loadgen";
/// A recipe video the offline scraper knows.
pub(crate) const RECIPE_URLS: [&str; 3] = [
    "https://www.tiktok.com/@cozykitchenwithmia/video/7311770584007226424",
    "https://www.tiktok.com/@kochen.mit.lena/video/7326497432544955876",
    "https://www.tiktok.com/@brunchbydan/video/7339557630099983671",
];
/// What `details` starts with on a stamped event.
const STAMP: &str = "loadgen-stamp:";

/// A task of its own user, with that user's access token.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    /// The task the clients watch.
    pub(crate) id: TaskId,
    /// Its owner's access token.
    pub(crate) token: String,
}

/// Creates `n` PENDING tasks, each of a new user.
///
/// # Errors
/// On Redis or Postgres failure.
pub(crate) async fn create(stack: &Stack, n: usize) -> anyhow::Result<Vec<Task>> {
    let url = TikTokUrl::parse(RECIPE_URLS[0])?;
    let language = Language::parse("en")?;
    let limits = Limits { per_minute: u32::MAX, in_flight: u32::MAX };
    stream::iter(0..n)
        .map(|_| async {
            let user = uuid::Uuid::new_v4();
            let owner = UserId::from_uuid(user);
            let submission = Submission {
                owner,
                url: &url,
                language: &language,
                idempotency_key: None,
                limits,
                origin: Default::default(),
            };
            let Submitted::Created(id, _) = stack.tasks.submit(&submission).await? else {
                anyhow::bail!("a new user's submission did not create a task");
            };
            Ok(Task { id, token: stack.token(user)? })
        })
        .buffered(16)
        .try_collect()
        .await
}

/// Claims and starts every queued task (as a worker would), in the order of `tasks`.
///
/// # Errors
/// On Redis or Postgres failure, or when a task cannot be claimed.
pub(crate) async fn claim(stack: &Tasks, tasks: &[Task]) -> anyhow::Result<Vec<Attempt>> {
    let mut attempts: std::collections::HashMap<TaskId, Attempt> = stream::iter(0..tasks.len())
        .map(|_| async {
            let claim = stack.claim(PUBLISHER, Duration::from_secs(1), Duration::from_secs(3600)).await?;
            let claim = claim.context("the queue ran dry before every task was claimed")?;
            let Start::Running(attempt) = stack.start(PUBLISHER.into(), claim, None).await? else {
                anyhow::bail!("a claimed task could not start");
            };
            anyhow::Ok((attempt.task(), *attempt))
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    tasks.iter().map(|t| attempts.remove(&t.id).context("a task was not claimed")).collect()
}

/// Ends every claimed task with SUCCESS and a saved recipe (open sockets then close with 1000),
/// newest claim first so each removal from the processing list is found at its head.
pub(crate) async fn finish(attempts: &[Attempt]) {
    let recipe = Recipe {
        title: "loadgen".into(),
        description: None,
        servings: None,
        prep_minutes: None,
        cook_minutes: None,
        total_minutes: None,
        ingredients: Vec::new(),
        steps: Vec::new(),
        tags: Vec::new(),
        source: protocol::RecipeSource { url: RECIPE_URLS[0].into(), video_id: None, author: None },
        cover_url: None,
        language: "en".into(),
    };
    let failures = stream::iter(attempts.iter().rev())
        .map(|attempt| {
            let recipe = &recipe;
            async move {
                let update = TaskUpdate::completion(attempt.task(), RecipeId::new(), recipe.title.clone());
                attempt.succeed(recipe, update).await
            }
        })
        .buffer_unordered(16)
        .filter(|r| std::future::ready(!matches!(r, Ok(Some(_)))))
        .count()
        .await;
    if failures > 0 {
        eprintln!("loadgen: {failures} tasks could not be finished");
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default()
}

/// The publish time carried by an event's `details`, if it is a stamped event.
pub(crate) fn stamp_of(details: Option<&str>) -> Option<u64> {
    details?.strip_prefix(STAMP)?.parse().ok()
}

/// The fields of an event the receivers look at.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Peek {
    /// The event's seq.
    pub(crate) seq: u64,
    /// Its state word.
    pub(crate) status: protocol::TaskState,
    /// The stamp, on events the load tool published.
    #[serde(default)]
    pub(crate) details: Option<String>,
}

/// What the publisher did.
#[derive(Debug, Default)]
pub(crate) struct Published {
    /// Events logged and published.
    pub(crate) sent: u64,
    /// Publishes that failed.
    pub(crate) errors: u64,
    /// How many events each task (by index) got.
    pub(crate) per_task: Vec<u64>,
    /// Duration of each publish call (the Lua script's round trip), microseconds.
    pub(crate) call_micros: Vec<u64>,
}

/// Publishes `rate` events per second for `secs` seconds, round robin over `claims`, in an
/// open loop: each event starts on schedule whether or not earlier ones are done, so a slow
/// system shows up as latency instead of silently lowering the rate.
pub(crate) async fn publish_open_loop(claims: Arc<Vec<Attempt>>, rate: u32, secs: u64) -> Published {
    let total = u64::from(rate) * secs;
    let mut published = Published { per_task: vec![0; claims.len()], ..Published::default() };
    if claims.is_empty() || total == 0 {
        return published;
    }
    let mut calls = JoinSet::new();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut started = 0u64;
    while started < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * f64::from(rate)) as u64 + 1).min(total);
        while started < due {
            let index = (started % claims.len() as u64) as usize;
            published.per_task[index] += 1;
            let claims = claims.clone();
            calls.spawn(async move {
                let attempt = &claims[index];
                let stamp = now_micros();
                let details = Some(format!("{STAMP}{stamp}"));
                let update = TaskUpdate::progress(attempt.task(), Step::Extracting, details);
                let began = Instant::now();
                let outcome = attempt.progress(update).await;
                (outcome, began.elapsed())
            });
            started += 1;
        }
        // Collect what finished, so the set does not grow with the whole run.
        while let Some(done) = calls.try_join_next() {
            record(&mut published, done);
        }
    }
    let drain = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(done) = calls.join_next().await {
            record(&mut published, done);
        }
    });
    if drain.await.is_err() {
        published.errors += calls.len() as u64;
    }
    published
}

type CallResult = Result<(Result<Written, ::tasks::TaskError>, Duration), tokio::task::JoinError>;

fn record(published: &mut Published, done: CallResult) {
    match done {
        Ok((Ok(Written::Logged(_)), took)) => {
            published.sent += 1;
            published.call_micros.push(took.as_micros() as u64);
        }
        _ => published.errors += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_through_details() {
        let stamp = now_micros();
        assert_eq!(stamp_of(Some(&format!("{STAMP}{stamp}"))), Some(stamp));
        assert_eq!(stamp_of(Some("Fetching caption")), None);
        assert_eq!(stamp_of(None), None);
    }
}
