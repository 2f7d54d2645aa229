//! Worker integration tests: the real Worker against real Redis and Postgres, with the paid
//! providers replaced by scripted fakes, wiremock servers, or the offline providers.

mod clients;
mod fakes;
mod health;
mod outbound;
mod pipeline;
mod reliability;
mod report;
mod startup;
mod trace;
mod video;
mod video_clients;

use std::sync::Arc;
use std::time::Duration;

use protocol::{Language, Origin, TaskId, TaskUpdate, TikTokUrl, UserId};
use sqlx::PgPool;
use tasks::{Feed, FeedItem, Job, Limits, Submission, Submitted, Tasks};
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
    pub(crate) tasks: Tasks,
    /// For the tests' own reads and for aging rows.
    pub(crate) pg: PgPool,
    config: tasks::Config,
}

impl Env {
    pub(crate) async fn new() -> Self {
        let config = testkit::tasks_config(&testkit::unique_prefix(), &testkit::fresh_database_url().await);
        let tasks = Tasks::connect(&config).await.expect("connect and migrate the test database");
        let pg = PgPool::connect_lazy(&config.database_url).expect("a database URL");
        Self { tasks, pg, config }
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
        let stores = tasks::Config { database_max_connections: 2, ..self.config.clone() };
        let tasks = Tasks::connect_lazy(&stores).expect("a database URL");
        Worker::new(tasks, Providers::new(scraper, extractor), config)
    }

    pub(crate) fn worker(
        &self,
        scraper: Arc<dyn Scraper>,
        extractor: Arc<dyn Extractor>,
        config: WorkerConfig,
    ) -> Worker {
        Worker::new(self.tasks.clone(), Providers::new(scraper, extractor), config)
    }

    pub(crate) fn worker_with(&self, providers: Providers, config: WorkerConfig) -> Worker {
        Worker::new(self.tasks.clone(), providers, config)
    }

    /// Submits a task the way the api does, for a new user.
    pub(crate) async fn submit(&self, url: &str, language: &str) -> Job {
        self.submit_from(url, language, Origin::default()).await
    }

    /// Submits a task as [`Env::submit`] does, on behalf of a request with this origin.
    pub(crate) async fn submit_from(&self, url: &str, language: &str, origin: Origin) -> Job {
        let owner = UserId::from_uuid(Uuid::new_v4());
        let (url, language) =
            (TikTokUrl::parse(url).expect("url"), Language::parse(language).expect("language"));
        let limits = Limits { per_minute: u32::MAX, in_flight: u32::MAX };
        let submission = Submission {
            owner,
            url: &url,
            language: &language,
            idempotency_key: None,
            limits,
            origin: origin.clone(),
        };
        let Submitted::Created(task_id, _) = self.tasks.submit(&submission).await.unwrap() else {
            panic!("a new task")
        };
        Job { task_id, owner, url, language, enqueued_ms: None, origin }
    }

    pub(crate) async fn feed(&self) -> Feed {
        let mut feed = self.tasks.events().unwrap();
        feed.ready().await.unwrap();
        feed
    }

    /// The task's whole log, parsed, checked to be gap-free from seq 1.
    pub(crate) async fn log(&self, task: TaskId) -> Vec<TaskUpdate> {
        let log: Vec<TaskUpdate> = self
            .tasks
            .events_after(task, 0)
            .await
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(&e.json).expect("logged events parse"))
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
            if let FeedItem::Event(task_id, event) = feed.next().await
                && task_id == task
            {
                let update: TaskUpdate = serde_json::from_str(&event.json).unwrap();
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
            if let FeedItem::Event(task_id, event) = feed.next().await
                && task_id == task
                && serde_json::from_str::<TaskUpdate>(&event.json).unwrap().step >= step
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

pub(crate) async fn recipe_count(env: &Env, task: TaskId) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM recipes WHERE task_id = $1")
        .bind(task.as_uuid())
        .fetch_one(&env.pg)
        .await
        .unwrap();
    n
}
