//! Integration tests of the bus against a real Redis (`REDIS_URL`), each under its own prefix.

mod events;
mod origin;
mod queue;
mod ttl;

use std::time::Duration;

use bus::{Bus, BusConfig, Job};
use protocol::{Language, Origin, TaskId, TaskUpdate, TikTokUrl, UserId};
use uuid::Uuid;

pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A bus under a fresh key prefix, so tests never see each other's keys.
pub(crate) fn test_bus() -> Bus {
    Bus::new(BusConfig {
        url: redis_url(),
        prefix: format!("test-{}", Uuid::new_v4().simple()),
        pool_size: 4,
        finished_ttl: Duration::from_secs(600),
    })
    .expect("bus")
}

pub(crate) fn job() -> Job {
    Job {
        task_id: TaskId::new(),
        owner: UserId::from_uuid(Uuid::new_v4()),
        url: TikTokUrl::parse("https://www.tiktok.com/@chef/video/123").expect("url"),
        language: Language::parse("de").expect("language"),
        enqueued_ms: None,
        origin: Origin::default(),
    }
}

/// Queues a fresh job and returns it.
pub(crate) async fn queued(bus: &Bus) -> Job {
    let job = job();
    bus.enqueue(&job, &TaskUpdate::pending(job.task_id), None).await.expect("enqueue");
    job
}

/// Deletes a task's job hash and drops it from the queue, as a partial loss of Redis data would.
pub(crate) async fn delete_job(bus: &Bus, task: TaskId) {
    let client = redis::Client::open(redis_url()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let prefix = bus.prefix();
    redis::pipe()
        .del(format!("{prefix}:job:{task}"))
        .lrem(format!("{prefix}:processing:w1"), 0, task.to_string())
        .zrem(format!("{prefix}:leases"), task.to_string())
        .query_async::<()>(&mut conn)
        .await
        .expect("delete");
}
