//! Worker integration tests: the real Worker against real Redis and Postgres, with the paid
//! providers replaced by scripted fakes, wiremock servers, or the offline providers.

mod clients;
mod fakes;
mod outbound;
mod pipeline;
mod reliability;
mod report;
mod startup;
mod video;
mod video_clients;

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, Feed, FeedItem, Job};
use protocol::{Language, TaskId, TaskUpdate, TikTokUrl, UserId};
use store::{CreateOutcome, NewTask, Store};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use worker::providers::{Extractor, Providers, Scraper};
use worker::{Worker, WorkerConfig};

pub(crate) const WAIT: Duration = Duration::from_secs(30);

pub(crate) fn config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        lease: Duration::from_secs(30),
        heartbeat: Duration::from_secs(5),
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(20),
        shutdown_grace: Duration::from_secs(10),
        cache_freshness: Duration::from_secs(3600),
    }
}

/// Real Redis (own prefix) and Postgres (own database) for one test.
pub(crate) struct Env {
    pub(crate) bus: Bus,
    pub(crate) store: Store,
    database_url: String,
}

impl Env {
    pub(crate) async fn new() -> Self {
        let database_url = testkit::fresh_database_url().await;
        let store = Store::connect(&database_url, 5).await.expect("connect and migrate the test database");
        Self { bus: testkit::bus(), store, database_url }
    }

    /// A worker with Redis and Postgres connections of its own, for a worker run on a runtime
    /// the test drops (kill -9): connections made there die with it, so they must not be the
    /// ones the test itself goes on using.
    pub(crate) fn doomed_worker(
        &self,
        scraper: Arc<dyn Scraper>,
        extractor: Arc<dyn Extractor>,
        config: WorkerConfig,
    ) -> Worker {
        let bus = testkit::bus_with_prefix(self.bus.prefix());
        let store = Store::connect_lazy(&self.database_url, 2).expect("a database URL");
        Worker::new(bus, store, Providers::new(scraper, extractor), config)
    }

    pub(crate) fn worker(
        &self,
        scraper: Arc<dyn Scraper>,
        extractor: Arc<dyn Extractor>,
        config: WorkerConfig,
    ) -> Worker {
        Worker::new(self.bus.clone(), self.store.clone(), Providers::new(scraper, extractor), config)
    }

    pub(crate) fn worker_with(&self, providers: Providers, config: WorkerConfig) -> Worker {
        Worker::new(self.bus.clone(), self.store.clone(), providers, config)
    }

    /// Submits a task the way the api does: Postgres row, then the queued job and PENDING event.
    pub(crate) async fn submit(&self, url: &str, language: &str) -> Job {
        let job = Job {
            task_id: TaskId::new(),
            owner: UserId::from_uuid(Uuid::new_v4()),
            url: TikTokUrl::parse(url).expect("url"),
            language: Language::parse(language).expect("language"),
        };
        self.submit_job(&job).await;
        job
    }

    pub(crate) async fn submit_job(&self, job: &Job) {
        let new = NewTask { id: job.task_id, owner: job.owner, url: &job.url, language: &job.language };
        let pending = TaskUpdate::pending(job.task_id);
        assert!(matches!(self.store.create_task(&new, &pending).await.unwrap(), CreateOutcome::Created(_)));
        self.bus.enqueue(job, &pending).await.unwrap();
    }

    pub(crate) async fn feed(&self) -> Feed {
        let mut feed = Feed::new(self.bus.url(), self.bus.events_channel()).unwrap();
        feed.ready().await.unwrap();
        feed
    }

    /// The task's whole log, parsed, checked to be gap-free from seq 1.
    pub(crate) async fn log(&self, task: TaskId) -> Vec<TaskUpdate> {
        let log: Vec<TaskUpdate> = self
            .bus
            .events_after(task, 0)
            .await
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(e).expect("logged events parse"))
            .collect();
        let seqs: Vec<u64> = log.iter().map(|u| u.seq).collect();
        assert_eq!(seqs, (1..=log.len() as u64).collect::<Vec<_>>(), "gap-free seqs");
        log
    }
}

/// Waits (event-driven) until the feed shows the task's terminal event.
pub(crate) async fn until_terminal(feed: &mut Feed, task: TaskId) -> TaskUpdate {
    tokio::time::timeout(WAIT, async {
        loop {
            if let FeedItem::Event { task_id, json, .. } = feed.next().await
                && task_id == task
            {
                let update: TaskUpdate = serde_json::from_str(&json).unwrap();
                if update.is_terminal() {
                    return update;
                }
            }
        }
    })
    .await
    .expect("the task reached a terminal state in time")
}

/// Waits until the feed shows an event of the task at `step`.
pub(crate) async fn until_step(feed: &mut Feed, task: TaskId, step: u32) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let FeedItem::Event { task_id, json, .. } = feed.next().await
                && task_id == task
                && serde_json::from_str::<TaskUpdate>(&json).unwrap().step >= step
            {
                return;
            }
        }
    })
    .await
    .expect("the task reached the step in time");
}

/// A worker running in the background until the returned token is cancelled.
pub(crate) fn spawn(worker: Worker) -> (CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let stop = CancellationToken::new();
    let handle = tokio::spawn(worker.run_until_stopped(stop.clone()));
    (stop, handle)
}

pub(crate) async fn recipe_count(store: &Store, task: TaskId) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM recipes WHERE task_id = $1")
        .bind(task.as_uuid())
        .fetch_one(store.pool())
        .await
        .unwrap();
    n
}
