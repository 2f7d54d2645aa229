//! Tests of the client library (against wiremock and a small WebSocket server) and of `relay`.

mod backoff;
mod cli;
mod http;
mod messages;
mod sequence;
mod socket;

use std::time::Duration;

use client::{Client, ClientConfig, ClientError, Watch};
use futures_util::StreamExt as _;
use protocol::{Ingredient, Recipe, RecipeId, RecipeSource, Step, TaskId, TaskUpdate};
use url::Url;

/// The token every test client sends.
pub(crate) const TOKEN: &str = "test-token";

/// Every wait in these tests is bounded: a broken client fails the test instead of hanging it.
pub(crate) const LIMIT: Duration = Duration::from_secs(15);

/// A client for `base`, with short timeouts.
pub(crate) fn client(base: &str, force_polling: bool) -> Client {
    let mut config = ClientConfig::new(Url::parse(base).expect("base url"), TOKEN);
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(5);
    config.force_polling = force_polling;
    Client::new(config).expect("client")
}

/// The six updates of a successful task: PENDING (1), four steps (2..=5), SUCCESS (6).
pub(crate) fn script(task: TaskId, recipe: RecipeId) -> Vec<TaskUpdate> {
    let mut updates = vec![TaskUpdate::pending(task)];
    for step in [Step::Preparing, Step::Scraping, Step::Extracting, Step::Saving] {
        updates.push(TaskUpdate::progress(task, step, Some(format!("details of {}", step.text()))));
    }
    updates.push(TaskUpdate::completion(task, recipe, "Spaghetti Carbonara".into()));
    for (i, update) in updates.iter_mut().enumerate() {
        update.seq = i as u64 + 1;
        update.timestamp = exact_timestamp(update.seq);
    }
    updates
}

/// Update `seq` (1..=6) of [`script`].
pub(crate) fn nth(task: TaskId, recipe: RecipeId, seq: u64) -> TaskUpdate {
    script(task, recipe).remove(seq as usize - 1)
}

/// A failed update with `seq`.
pub(crate) fn failed(task: TaskId, seq: u64) -> TaskUpdate {
    let mut update = TaskUpdate::failure(task, 2, "not_a_recipe", "This video does not contain a recipe");
    update.seq = seq;
    update.timestamp = exact_timestamp(seq);
    update
}

/// A timestamp that survives a JSON round trip bit for bit (serde_json may round the last digit
/// of an arbitrary `f64`, which would make equality checks flaky).
pub(crate) fn exact_timestamp(seq: u64) -> f64 {
    1_700_000_000.0 + seq as f64 / 4.0
}

/// Reads the whole watch, or fails the test after [`LIMIT`].
pub(crate) async fn collect(watch: Watch) -> Vec<Result<TaskUpdate, ClientError>> {
    tokio::time::timeout(LIMIT, watch.collect::<Vec<_>>()).await.expect("the watch should end in time")
}

/// The seqs of the `Ok` items, panicking on an error item.
pub(crate) fn seqs(items: &[Result<TaskUpdate, ClientError>]) -> Vec<u64> {
    items
        .iter()
        .map(|item| match item {
            Ok(update) => update.seq,
            Err(e) => panic!("unexpected error item: {e}"),
        })
        .collect()
}

/// A small saved recipe.
pub(crate) fn carbonara() -> Recipe {
    Recipe {
        title: "Spaghetti Carbonara".into(),
        description: Some("Creamy, no cream.".into()),
        servings: Some(2),
        prep_minutes: Some(10),
        cook_minutes: Some(15),
        total_minutes: Some(25),
        ingredients: vec![Ingredient {
            raw: "200 g Spaghetti".into(),
            quantity: Some(200.0),
            unit: Some("g".into()),
            name: "Spaghetti".into(),
            ..Ingredient::default()
        }],
        steps: vec!["Cook the pasta.".into(), "Mix with the eggs off the heat.".into()],
        tags: vec!["pasta".into()],
        source: RecipeSource {
            url: "https://www.tiktok.com/@chef/video/123".into(),
            video_id: Some("123".into()),
            author: Some("chef".into()),
        },
        cover_url: None,
        language: "en".into(),
    }
}

/// A problem document as the api writes it.
pub(crate) fn problem(status: u16, kind: &str, detail: &str) -> serde_json::Value {
    serde_json::json!({"type": protocol::wire::problems::type_uri(kind), "title": kind, "status": status, "detail": detail})
}
