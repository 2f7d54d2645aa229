//! The submitting request's trace context and request id travel in the job hash.

use std::time::Duration;

use protocol::{Origin, RequestId, TaskUpdate, TraceParent};

use crate::{job, redis_url, test_bus};

const LEASE: Duration = Duration::from_secs(30);
const NO_WAIT: Duration = Duration::from_millis(10);

fn origin() -> Origin {
    Origin {
        traceparent: Some(
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap(),
        ),
        request_id: Some(RequestId::parse("req-from-the-app").unwrap()),
    }
}

#[tokio::test]
async fn the_origin_of_a_job_comes_back_with_every_claim_including_a_retry() {
    let bus = test_bus();
    let job = bus::Job { origin: origin(), ..job() };
    bus.enqueue(&job, &TaskUpdate::pending(job.task_id), None).await.unwrap();

    let first = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claim");
    bus.retry_later("w1", &first, &TaskUpdate::retrying(job.task_id, 2, "x".into()), Duration::ZERO)
        .await
        .unwrap();
    bus.maintain(Duration::from_secs(60)).await.unwrap();
    let again = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("claimed again");

    assert_eq!(first.job.origin, origin());
    assert_eq!((again.attempt, again.job.origin), (2, origin()), "a retry keeps the origin");
}

#[tokio::test]
async fn a_restored_job_keeps_the_origin_it_is_given() {
    let bus = test_bus();
    let job = bus::Job { origin: origin(), ..job() };

    bus.restore(&job, &TaskUpdate { seq: 5, ..TaskUpdate::pending(job.task_id) })
        .await
        .unwrap()
        .expect("restored");
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claim");

    assert_eq!(claim.job.origin, origin());
}

#[tokio::test]
async fn a_job_hash_without_an_origin_or_with_an_unreadable_one_is_claimed_with_none() {
    let bus = test_bus();
    let plain = job();
    bus.enqueue(&plain, &TaskUpdate::pending(plain.task_id), None).await.unwrap();
    let garbled = job();
    bus.enqueue(&garbled, &TaskUpdate::pending(garbled.task_id), None).await.unwrap();
    // As a hash written by an older version, or damaged by hand, would hold them.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("HSET")
        .arg(format!("{}:job:{}", bus.prefix(), garbled.task_id))
        .arg("traceparent")
        .arg("00-not-a-trace")
        .arg("request_id")
        .arg("two words")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    let first = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claim");
    let second = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claim");

    assert_eq!((first.job.task_id, first.job.origin), (plain.task_id, Origin::default()));
    assert_eq!((second.job.task_id, second.job.origin), (garbled.task_id, Origin::default()));
}
