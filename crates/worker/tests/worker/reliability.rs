//! Crashes, shutdowns and cancellations: no job is lost, no event is duplicated or missing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::{TaskState, TaskUpdate};

use crate::fakes::{Act, EchoExtractor, ScriptedScraper};
use crate::{Env, config, recipe_count, spawn, until_step, until_terminal};

#[tokio::test]
async fn a_killed_worker_s_job_is_completed_by_another_worker_exactly_once() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let short_lease =
        worker::WorkerConfig { lease: Duration::from_secs(2), heartbeat: Duration::from_secs(1), ..config() };
    // Worker A runs on its own runtime so that killing the runtime kills every task of it,
    // like kill -9: no hand-back, no deregistration, the lease just stops being renewed.
    let doomed = env.doomed_worker(
        Arc::new(ScriptedScraper::new(vec![Act::Hang])),
        Arc::new(EchoExtractor),
        short_lease.clone(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.spawn(doomed.run_until_stopped(tokio_util::sync::CancellationToken::new()));
    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    until_step(&mut feed, job.task_id, 2).await;
    runtime.shutdown_background();

    let (stop, survivor) =
        spawn(env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), short_lease));
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success);
    let log = env.log(job.task_id).await;
    let steps: Vec<u32> = log.iter().map(|u| u.step).collect();
    assert_eq!(steps, vec![0, 1, 2, 1, 2, 3, 4, 5], "A's steps, then B's from the start");
    assert_eq!(recipe_count(&env, job.task_id).await, 1);
    assert_eq!(env.tasks.row(job.task_id).await.unwrap().unwrap().attempts, 2);
    stop.cancel();
    survivor.await.unwrap().unwrap();
}

#[tokio::test]
async fn graceful_shutdown_hands_unfinished_jobs_back_without_counting_an_attempt() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let scraper = Arc::new(ScriptedScraper::new(vec![Act::Hang]));
    let impatient = worker::WorkerConfig { shutdown_grace: Duration::from_millis(100), ..config() };
    let (stop, worker) = spawn(env.worker(scraper.clone(), Arc::new(EchoExtractor), impatient));
    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    until_step(&mut feed, job.task_id, 2).await;

    stop.cancel();
    worker.await.unwrap().unwrap();

    assert_eq!(env.tasks.queue_depth().await.unwrap(), 1, "the job is back in the queue");
    let claim =
        env.tasks.claim("next", Duration::from_millis(10), Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!((claim.job.task_id, claim.attempt), (job.task_id, 1), "the attempt was not counted");
    assert_eq!(scraper.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_cancel_aborts_the_running_provider_call_and_saves_nothing() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let scraper = Arc::new(ScriptedScraper::new(vec![Act::Hang]));
    let quick = worker::WorkerConfig { shutdown_grace: Duration::from_millis(100), ..config() };
    let (stop, worker) = spawn(env.worker(scraper.clone(), Arc::new(EchoExtractor), quick));
    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    until_step(&mut feed, job.task_id, 2).await;

    // What the api does on DELETE /task/{id}.
    let cancelled = env.tasks.cancel(job.task_id, job.owner).await.unwrap();
    assert!(matches!(cancelled, tasks::Cancelled::Cancelled(_)), "{cancelled:?}");
    let ended = until_terminal(&mut feed, job.task_id).await;
    assert_eq!(ended.error.as_deref(), Some("cancelled"));

    // The worker lets go of the job: its processing list empties, and it can take new work.
    let next = env.submit("https://www.tiktok.com/@chef/video/2", "de").await;
    let scraper_calls_before = scraper.calls.load(Ordering::SeqCst);
    until_step(&mut feed, next.task_id, 2).await;
    assert!(scraper.calls.load(Ordering::SeqCst) > scraper_calls_before);
    assert_eq!(env.log(job.task_id).await.last().unwrap().error.as_deref(), Some("cancelled"));
    assert_eq!(recipe_count(&env, job.task_id).await, 0);
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_job_redis_lost_is_restored_from_postgres_and_completes() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    // Simulate Redis losing everything of this deployment (restart without persistence).
    lose_redis_data(&env).await;

    let (stop, worker) =
        spawn(env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), config()));
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success);
    // Admission reserved seqs 2..=34 for the first claim, which may have run before the loss:
    // the restored PENDING is 35, the attempt's events 36..=40.
    assert_eq!(done.seq, 40, "seq continues above every seq the lost task may have handed out");
    stop.cancel();
    worker.await.unwrap().unwrap();
}

/// Redis loses everything of this deployment (a restart without persistence), and the tasks
/// look idle to the reconciler.
async fn lose_redis_data(env: &Env) {
    let mut conn =
        redis::Client::open(testkit::redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:*", env.tasks.key_prefix())).query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    sqlx::query("UPDATE tasks SET updated_at = now() - interval '1 hour'").execute(&env.pg).await.unwrap();
}

/// The seqs of the task's events on the feed, up to and including the first one `last` accepts.
async fn seqs_until(
    feed: &mut tasks::Feed,
    task: protocol::TaskId,
    last: impl Fn(&TaskUpdate) -> bool,
) -> Vec<u64> {
    let mut seqs = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let tasks::FeedItem::Event(task_id, event) = feed.next().await
                && task_id == task
            {
                let update: TaskUpdate = serde_json::from_str(&event.json).unwrap();
                seqs.push(update.seq);
                if last(&update) {
                    return;
                }
            }
        }
    })
    .await
    .expect("the task got there in time");
    seqs
}

#[tokio::test]
async fn after_crashes_and_a_redis_data_loss_the_seq_only_moves_forward() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let short_lease = worker::WorkerConfig {
        lease: Duration::from_secs(1),
        heartbeat: Duration::from_millis(300),
        ..config()
    };
    let job = env.submit("https://www.tiktok.com/@chef/video/1", "de").await;
    // Two workers die (kill -9: their runtimes dropped) in the middle of the job, each after
    // the scraping step, so the task's events run well past what Postgres saw at the claims.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let doomed = env.doomed_worker(
            Arc::new(ScriptedScraper::new(vec![Act::Hang])),
            Arc::new(EchoExtractor),
            short_lease.clone(),
        );
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.spawn(doomed.run_until_stopped(tokio_util::sync::CancellationToken::new()));
        seen.extend(seqs_until(&mut feed, job.task_id, |u| u.step == 2).await);
        runtime.shutdown_background();
    }
    // Redis loses everything (a restart without persistence); the reconciler finds the task.
    lose_redis_data(&env).await;

    let (stop, survivor) =
        spawn(env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), short_lease));
    let after = seqs_until(&mut feed, job.task_id, TaskUpdate::is_terminal).await;

    let before_loss = *seen.iter().max().unwrap();
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "before the loss: {seen:?}");
    assert!(after.windows(2).all(|w| w[0] < w[1]), "after the loss: {after:?}");
    assert!(after[0] > before_loss, "numbering continues above {before_loss}: {after:?}");
    let row = env.tasks.row(job.task_id).await.unwrap().unwrap();
    assert_eq!((row.state(), row.last_seq), (TaskState::Success, *after.last().unwrap() as i64));
    assert_eq!(recipe_count(&env, job.task_id).await, 1);
    stop.cancel();
    survivor.await.unwrap().unwrap();
}
