//! How long a task's keys live: a week from when they are made, renewed by a claim, not by each
//! event, and `finished_ttl` from the terminal event.

use std::time::Duration;

use protocol::{Step, TaskId, TaskUpdate};

use crate::{queued, redis_url, test_bus};

const LEASE: Duration = Duration::from_secs(30);
const NO_WAIT: Duration = Duration::from_millis(10);
const WEEK: i64 = 7 * 24 * 3600;

/// The TTLs of the task's hash and log, in seconds.
async fn ttls(bus: &bus::Bus, task: TaskId) -> [i64; 2] {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = bus.prefix();
    redis::pipe()
        .ttl(format!("{prefix}:task:{task}"))
        .ttl(format!("{prefix}:log:{task}"))
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// Sets both TTLs to `secs`, as if the task had been alive for most of a week.
async fn age(bus: &bus::Bus, task: TaskId, secs: i64) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = bus.prefix();
    redis::pipe()
        .expire(format!("{prefix}:task:{task}"), secs)
        .expire(format!("{prefix}:log:{task}"), secs)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_task_s_keys_live_a_week_renewed_by_each_claim_not_each_event_and_shorter_once_finished() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let queued_ttls = ttls(&bus, job.task_id).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    age(&bus, job.task_id, 5000).await;

    bus.publish(&claim, &TaskUpdate::progress(job.task_id, Step::Scraping, None)).await.unwrap();
    let after_event = ttls(&bus, job.task_id).await;
    assert!(bus.hand_back("w1", &claim).await.unwrap());
    let claim = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().unwrap();
    let after_claim = ttls(&bus, job.task_id).await;
    let done = TaskUpdate::completion(job.task_id, protocol::RecipeId::new(), "Soup".into());
    bus.finish("w2", &claim, &done, false).await.unwrap();
    let finished = ttls(&bus, job.task_id).await;

    for ttl in queued_ttls {
        assert!((WEEK - 60..=WEEK).contains(&ttl), "a week from the enqueue: {ttl}");
    }
    for ttl in after_event {
        assert!((0..=5000).contains(&ttl), "an event leaves the TTL alone: {ttl}");
    }
    for ttl in after_claim {
        assert!((WEEK - 60..=WEEK).contains(&ttl), "a claim renews what ran low: {ttl}");
    }
    for ttl in finished {
        assert!((0..=600).contains(&ttl), "finished_ttl from the end: {ttl}");
    }
}
