//! Jobs per second one worker process sustains with the offline providers, and the Redis
//! commands each job costs. Real Redis and Postgres from `REDIS_URL` / `DATABASE_URL`.
//!
//! `cargo bench -p worker --bench throughput -- [jobs] [concurrency]` (defaults 2000 and 32).
//! The recipe cache is off, so every job runs the fixture scraper and the rule-based extractor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::{Feed, FeedItem, Job};
use protocol::{Language, TaskId, TaskUpdate, TikTokUrl, UserId};
use store::NewTask;
use tokio_util::sync::CancellationToken;
use worker::providers::Providers;
use worker::providers::fixtures::FixtureScraper;
use worker::providers::rules::RuleExtractor;
use worker::{Worker, WorkerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let jobs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let bus = testkit::bus();
    let store = testkit::store().await;
    let urls = FixtureScraper::sample_urls();
    let recipes: Vec<&str> = urls.iter().copied().filter(|u| !u.contains("jess.daily")).collect();

    let submit_started = Instant::now();
    let mut pending = std::collections::HashSet::new();
    for n in 0..jobs {
        let job = Job {
            task_id: TaskId::new(),
            owner: UserId::from_uuid(uuid::Uuid::new_v4()),
            url: TikTokUrl::parse(recipes[n % recipes.len()])?,
            language: Language::parse("en")?,
        };
        store
            .create_task(&NewTask {
                id: job.task_id,
                owner: job.owner,
                url: &job.url,
                language: &job.language,
            })
            .await?;
        bus.enqueue(&job, &TaskUpdate::pending(job.task_id)).await?;
        pending.insert(job.task_id);
    }
    let submit_elapsed = submit_started.elapsed();

    let mut redis = redis::Client::open(testkit::redis_url())?.get_multiplexed_async_connection().await?;
    let before = commandstats(&mut redis).await?;
    let mut feed = Feed::new(bus.url(), bus.events_channel())?;
    feed.ready().await?;
    let config = WorkerConfig {
        concurrency,
        lease: Duration::from_secs(30),
        heartbeat: Duration::from_secs(10),
        max_attempts: 3,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(10),
        cache_freshness: Duration::ZERO,
    };
    let providers =
        Providers { scraper: Arc::new(FixtureScraper::new()), extractor: Arc::new(RuleExtractor::new()) };
    let worker = Worker::new(bus.clone(), store.clone(), providers, config);
    let stop = CancellationToken::new();
    let started = Instant::now();
    let handle = tokio::spawn(worker.run_until_stopped(stop.clone()));
    let mut failed = 0;
    while !pending.is_empty() {
        if let FeedItem::Event { task_id, json, .. } = feed.next().await {
            let update: TaskUpdate = serde_json::from_str(&json)?;
            if update.is_terminal()
                && pending.remove(&task_id)
                && update.status != protocol::TaskState::Success
            {
                failed += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    let after = commandstats(&mut redis).await?;
    stop.cancel();
    handle.await??;

    println!(
        "submit: {jobs} jobs in {:.2}s ({:.0} submissions/s, 1 Postgres insert + 1 Redis script each)",
        submit_elapsed.as_secs_f64(),
        jobs as f64 / submit_elapsed.as_secs_f64()
    );
    println!(
        "worker: {jobs} jobs in {:.2}s = {:.0} jobs/s (1 worker process, concurrency {concurrency}, {failed} failed)",
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64()
    );
    let mut total = 0.0;
    for (command, calls) in &after {
        let delta = calls - before.get(command).copied().unwrap_or(0);
        if delta > 0 {
            let per_job = delta as f64 / jobs as f64;
            total += per_job;
            println!("redis: {command:<12} {per_job:6.2} per job");
        }
    }
    println!(
        "redis: total        {total:6.2} commands per job (incl. scripts' inner calls and the worker's idle polling)"
    );
    Ok(())
}

/// `cmdstat_<name>:calls=N,...` from INFO commandstats.
async fn commandstats(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<BTreeMap<String, u64>> {
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(conn).await?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .collect())
}
