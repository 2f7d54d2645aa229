//! The five steps and what each outcome looks like to the app.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::{MessageType, TaskState};
use worker::providers::ProviderError;
use worker::providers::fixtures::FixtureScraper;
use worker::providers::rules::RuleExtractor;

use crate::fakes::{Act, EchoExtractor, ScriptedScraper, video};
use crate::{Env, config, recipe_count, spawn, until_terminal};

#[tokio::test]
async fn a_job_walks_the_five_steps_and_saves_one_recipe() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (stop, worker) =
        spawn(env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), config()));

    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    let log = env.log(job.task_id).await;
    let states: Vec<_> =
        log.iter().map(|u| (u.status, u.step, u.current_status.clone().unwrap_or_default())).collect();
    assert_eq!(
        states,
        vec![
            (TaskState::Pending, 0, "Queued".into()),
            (TaskState::Progress, 1, "Preparing...".into()),
            (TaskState::Progress, 2, "Starting Apify scraper...".into()),
            (TaskState::Progress, 3, "Processing with AI...".into()),
            (TaskState::Progress, 4, "Saving recipe...".into()),
            (TaskState::Success, 5, "Recipe ready".into()),
        ]
    );
    assert_eq!(log[3].details.as_deref(), Some("Using the echo extractor"));
    assert_eq!((done.kind, done.recipe_name.as_deref()), (MessageType::Completion, Some("Tomato soup")));
    let row = env.tasks.row(job.task_id).await.unwrap().unwrap();
    assert_eq!((row.state(), row.last_seq, row.attempts), (TaskState::Success, 6, 1));
    assert_eq!(row.recipe_id, done.recipe_id.map(|r| r.as_uuid()));
    assert_eq!(recipe_count(&env, job.task_id).await, 1);
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_offline_providers_extract_a_fixture_recipe() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (stop, worker) =
        spawn(env.worker(Arc::new(FixtureScraper::new()), Arc::new(RuleExtractor::new()), config()));
    let url = FixtureScraper::sample_urls()[0];

    let job = env.submit(url, "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success, "{done:?}");
    let owner = job.owner;
    let saved = env.tasks.recipe(done.recipe_id.unwrap(), owner).await.unwrap().unwrap();
    assert!(saved.recipe.ingredients.len() >= 3, "{:?}", saved.recipe.ingredients);
    assert!(!saved.recipe.steps.is_empty());
    assert_eq!(saved.recipe.source.url, job.url.as_str());
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_permanent_failure_ends_the_task_at_once_with_its_reason() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let gone = ProviderError::permanent("video_unavailable", "The video is private, deleted or unavailable");
    let scraper = Arc::new(ScriptedScraper::new(vec![Act::Return(Err(gone))]));
    let (stop, worker) = spawn(env.worker(scraper.clone(), Arc::new(EchoExtractor), config()));

    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    let failed = until_terminal(&mut feed, job.task_id).await;

    assert_eq!((failed.kind, failed.status, failed.step), (MessageType::Error, TaskState::Failure, 2));
    assert_eq!(failed.error.as_deref(), Some("video_unavailable"));
    assert_eq!(failed.message.as_deref(), Some("The video is private, deleted or unavailable"));
    assert_eq!(scraper.calls.load(Ordering::SeqCst), 1, "no retry for a permanent failure");
    assert_eq!(env.log(job.task_id).await.len(), 4);
    let row = env.tasks.row(job.task_id).await.unwrap().unwrap();
    assert_eq!(
        (row.state(), row.error.as_deref(), row.last_seq),
        (TaskState::Failure, Some("video_unavailable"), 4)
    );
    assert!(env.tasks.dead_letters().await.unwrap().is_empty());
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_the_retry_is_visible() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let busy = ProviderError::Transient { message: "Apify returned 429".into(), retry_after: None };
    let scraper = Arc::new(ScriptedScraper::new(vec![Act::Return(Err(busy)), Act::Return(Ok(video()))]));
    let (stop, worker) = spawn(env.worker(scraper.clone(), Arc::new(EchoExtractor), config()));

    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success);
    let log = env.log(job.task_id).await;
    let retry =
        log.iter().find(|u| u.current_status.as_deref() == Some("Waiting to retry...")).expect("retry event");
    assert_eq!(retry.status, TaskState::Progress, "the app keeps showing progress");
    assert!(retry.details.as_deref().unwrap().contains("Apify returned 429"), "{retry:?}");
    assert_eq!(scraper.calls.load(Ordering::SeqCst), 2);
    assert_eq!(env.tasks.row(job.task_id).await.unwrap().unwrap().attempts, 2);
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_job_that_always_fails_transiently_is_dead_lettered_after_the_last_attempt() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let down = ProviderError::transient("LLM returned 503");
    let scraper = Arc::new(ScriptedScraper::new(vec![Act::Return(Err(down))]));
    let (stop, worker) = spawn(env.worker(scraper.clone(), Arc::new(EchoExtractor), config()));

    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    let failed = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(failed.status, TaskState::Failure);
    assert_eq!(failed.error.as_deref(), Some("temporarily_unavailable"));
    assert!(failed.message.as_deref().unwrap().contains("LLM returned 503"), "{failed:?}");
    assert_eq!(scraper.calls.load(Ordering::SeqCst), config().max_attempts);
    assert_eq!(env.tasks.dead_letters().await.unwrap(), vec![job.task_id.to_string()]);
    env.log(job.task_id).await;
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_recent_recipe_of_the_same_video_is_reused_without_calling_the_providers() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let scraper = Arc::new(ScriptedScraper::ok());
    let (stop, worker) = spawn(env.worker(scraper.clone(), Arc::new(EchoExtractor), config()));
    let first = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    until_terminal(&mut feed, first.task_id).await;

    let second = env.submit("https://m.tiktok.com/@chef/video/1?lang=x", "de").await;
    let done = until_terminal(&mut feed, second.task_id).await;

    assert_eq!(done.status, TaskState::Success);
    assert_eq!(scraper.calls.load(Ordering::SeqCst), 1, "the cache spared the second call");
    assert_eq!(env.log(second.task_id).await.len(), 6, "the task still walks every step");
    let saved = env.tasks.recipe(done.recipe_id.unwrap(), second.owner).await.unwrap();
    assert!(saved.is_some(), "the second user owns a recipe of their own");
    stop.cancel();
    worker.await.unwrap().unwrap();
}
