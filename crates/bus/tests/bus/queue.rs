use std::time::Duration;

use bus::WriteOutcome;
use protocol::{Event, Step, TaskState, TaskUpdate};

use crate::{queued, test_bus};

const LEASE: Duration = Duration::from_secs(30);
const NO_WAIT: Duration = Duration::from_millis(10);

#[tokio::test]
async fn a_claim_carries_the_job_and_counts_the_attempt() {
    let bus = test_bus();
    let job = queued(&bus).await;

    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claim");

    assert_eq!(bus::Job { enqueued_ms: None, ..claim.job.clone() }, job);
    assert!(claim.job.enqueued_ms.is_some(), "the enqueue time comes with the claim");
    assert_eq!((claim.attempt, claim.seq), (1, 1));
    assert_eq!(claim.recorded_ceiling, None, "no claim was recorded with the job: Postgres records this one");
    assert_eq!(bus.held("w1").await.unwrap(), vec![job.task_id.to_string()]);
    assert!(bus.claim("w2", NO_WAIT, LEASE).await.unwrap().is_none(), "one job, one claim");
}

#[tokio::test]
async fn an_expired_lease_is_reaped_and_the_old_claim_can_write_nothing() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let stale = bus.claim("w1", NO_WAIT, Duration::ZERO).await.unwrap().unwrap();

    let reaped = bus.maintain(Duration::from_secs(60)).await.unwrap();
    let fresh = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("re-claimed");

    assert_eq!(reaped.expired, 1);
    assert_eq!(fresh.attempt, 2);
    let update = TaskUpdate::progress(job.task_id, Step::Scraping, None);
    assert_eq!(bus.publish(&stale, &update).await.unwrap(), WriteOutcome::Lost);
    let retry = TaskUpdate::retrying(job.task_id, 2, "again".into());
    assert_eq!(bus.retry_later("w1", &stale, &retry, LEASE).await.unwrap(), WriteOutcome::Lost);
    assert!(matches!(
        bus.publish(&fresh, &update).await.unwrap(),
        WriteOutcome::Logged(Event { seq: 2, .. })
    ));
    assert!(bus.held("w1").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_heartbeat_keeps_a_lease_and_reports_lost_ones() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, Duration::ZERO).await.unwrap().unwrap();

    let lost = bus.heartbeat("w1", &[(job.task_id, claim.token)], LEASE).await.unwrap();
    assert!(lost.is_empty());
    assert_eq!(bus.maintain(Duration::from_secs(60)).await.unwrap().expired, 0, "renewed lease survives");

    let lost = bus.heartbeat("w1", &[(job.task_id, uuid::Uuid::new_v4())], LEASE).await.unwrap();
    assert_eq!(lost, vec![job.task_id]);
}

#[tokio::test]
async fn jobs_of_a_worker_that_stopped_heart_beating_go_back_to_the_queue() {
    let bus = test_bus();
    let job = queued(&bus).await;
    bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    bus.heartbeat("w1", &[], LEASE).await.unwrap();

    let pass = bus.maintain(Duration::ZERO).await.unwrap();

    assert_eq!(pass.orphaned, 1);
    assert!(bus.held("w1").await.unwrap().is_empty());
    let again = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("re-queued");
    assert_eq!(again.job.task_id, job.task_id);
}

#[tokio::test]
async fn a_retry_waits_in_the_delayed_set_until_due() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    let notice = TaskUpdate::retrying(job.task_id, 2, "Apify is busy".into());

    let logged = bus.retry_later("w1", &claim, &notice, Duration::from_secs(3600)).await.unwrap();
    assert!(matches!(logged, WriteOutcome::Logged(Event { seq: 2, .. })));
    assert_eq!(bus.maintain(Duration::from_secs(60)).await.unwrap().promoted, 0, "not due yet");
    assert!(bus.claim("w1", NO_WAIT, LEASE).await.unwrap().is_none());
}

#[tokio::test]
async fn a_due_retry_is_promoted_and_claimed_again() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    bus.retry_later("w1", &claim, &TaskUpdate::retrying(job.task_id, 2, "x".into()), Duration::ZERO)
        .await
        .unwrap();

    assert_eq!(bus.maintain(Duration::from_secs(60)).await.unwrap().promoted, 1);
    let again = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("claimed again");
    assert_eq!((again.attempt, again.seq), (2, 2));
}

/// Queues a new job with its first claim recorded, as admission does, its seq block ending at
/// `ceiling`.
async fn queued_with_first_claim(bus: &bus::Bus, ceiling: u64) -> (bus::Job, bus::FirstClaim) {
    let job = crate::job();
    let recorded = enqueue_with_first_claim(bus, &job, ceiling).await;
    (job, recorded)
}

async fn enqueue_with_first_claim(bus: &bus::Bus, job: &bus::Job, ceiling: u64) -> bus::FirstClaim {
    let recorded = bus::FirstClaim { token: uuid::Uuid::new_v4(), ceiling };
    bus.enqueue(job, &TaskUpdate::pending(job.task_id), Some(recorded)).await.unwrap();
    recorded
}

#[tokio::test]
async fn the_first_claim_takes_the_claim_recorded_with_the_job_and_no_later_one_does() {
    let bus = test_bus();
    let (job, recorded) = queued_with_first_claim(&bus, 34).await;

    let first = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claim");
    assert!(bus.hand_back("w1", &first).await.unwrap());
    let again = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("back in the queue");

    assert_eq!((first.token, first.recorded_ceiling), (recorded.token, Some(34)));
    assert_eq!(again.attempt, 1, "handed back: not counted");
    assert_ne!(again.token, recorded.token, "a recorded token serves one claim");
    assert_eq!(again.recorded_ceiling, None, "Postgres records this claim");
    let update = TaskUpdate::progress(job.task_id, Step::Scraping, None);
    assert_eq!(bus.publish(&first, &update).await.unwrap(), WriteOutcome::Lost, "the first claim is void");
}

#[tokio::test]
async fn a_first_claim_logs_and_publishes_the_attempts_first_event_and_no_later_claim_does() {
    let bus = test_bus();
    let (job, _) = queued_with_first_claim(&bus, 34).await;
    let mut feed = bus::Feed::new(bus.url(), bus.events_channel()).unwrap();
    feed.ready().await.unwrap();
    // Any id: the claim logs it with the claimed job's.
    let first = TaskUpdate::progress(protocol::TaskId::new(), Step::Preparing, Some("Attempt 1 of 3".into()));

    let claim = bus.claim_starting("w1", NO_WAIT, LEASE, Some(&first)).await.unwrap().expect("claim");

    let logged = claim.first_event.clone().expect("the first claim logs the first event");
    let stamped: TaskUpdate = serde_json::from_str(&logged.json).unwrap();
    assert!(stamped.timestamp >= first.timestamp, "stamped at the claim");
    // Compared as values: a float read back from JSON may print its last digit differently.
    let expected = TaskUpdate { task_id: job.task_id, seq: 2, timestamp: stamped.timestamp, ..first.clone() };
    assert_eq!(stamped, expected, "the draft, with the job's id and the next seq");
    assert_eq!((claim.seq, claim.state), (1, Some(TaskState::Pending)), "the task as the claim found it");
    assert_eq!(feed.next().await, bus::FeedItem::Event(job.task_id, logged.clone()), "published");
    let log = bus.events_after(job.task_id, 0).await.unwrap();
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(log[1], logged);
    let snapshot = bus.snapshot(job.task_id).await.unwrap().expect("snapshot");
    assert_eq!(snapshot.event, logged, "and it is the task's snapshot");

    assert!(bus.hand_back("w1", &claim).await.unwrap());
    let again =
        bus.claim_starting("w2", NO_WAIT, LEASE, Some(&first)).await.unwrap().expect("back in the queue");
    assert_eq!(again.first_event, None, "Postgres records a later claim, and its first event with it");
    assert_eq!(bus.events_after(job.task_id, 0).await.unwrap().len(), 2, "nothing more logged");
}

#[tokio::test]
async fn a_first_claim_waiting_for_the_queue_logs_the_first_event_too() {
    let bus = test_bus();
    let job = crate::job();
    let waiting = tokio::spawn({
        let bus = bus.clone();
        let first = TaskUpdate::progress(protocol::TaskId::new(), Step::Preparing, None);
        async move { bus.claim_starting("w1", Duration::from_secs(5), LEASE, Some(&first)).await }
    });
    until_blocked_in_blmove(&format!("{}:claim", bus.prefix())).await;
    enqueue_with_first_claim(&bus, &job, 34).await;

    let claim = waiting.await.unwrap().unwrap().expect("claimed once queued");

    let logged = claim.first_event.expect("logged by the claim");
    assert_eq!((logged.seq, logged.state), (2, TaskState::Progress));
    let log = bus.events_after(job.task_id, 0).await.unwrap();
    assert_eq!(log[1], logged);
    assert!(logged.timestamp >= log[0].timestamp, "stamped when the job came, not when the wait began");
}

#[tokio::test]
async fn a_first_claim_without_room_below_its_ceiling_leaves_the_first_event_to_the_worker() {
    let bus = test_bus();
    let (job, _) = queued_with_first_claim(&bus, 1).await;
    let first = TaskUpdate::progress(job.task_id, Step::Preparing, None);

    let claim = bus.claim_starting("w1", NO_WAIT, LEASE, Some(&first)).await.unwrap().expect("claim");

    assert_eq!((claim.recorded_ceiling, claim.first_event), (Some(1), None));
    assert_eq!(bus.events_after(job.task_id, 0).await.unwrap().len(), 1, "only PENDING");
}

#[tokio::test]
async fn handing_back_does_not_count_an_attempt() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();

    assert!(bus.hand_back("w1", &claim).await.unwrap());

    let again = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("back in the queue");
    assert_eq!((again.job.task_id, again.attempt), (job.task_id, 1));
    assert!(!bus.hand_back("w1", &claim).await.unwrap(), "the old claim is void");
}

#[tokio::test]
async fn dead_lettering_logs_the_failure_and_lists_the_task() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    let failure = TaskUpdate::failure(job.task_id, 2, "scrape_failed", "Could not reach the scraper");

    let outcome = bus.finish("w1", &claim, &failure, true).await.unwrap();

    let WriteOutcome::Logged(event) = outcome else { panic!("{outcome:?}") };
    assert_eq!(event.seq, 2);
    assert_eq!(bus.dead_letters().await.unwrap(), vec![job.task_id.to_string()]);
    assert!(!bus.has_job(job.task_id).await.unwrap());
}

#[tokio::test]
async fn the_apify_run_is_remembered_across_claims() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    bus.set_run(job.task_id, "run-42").await.unwrap();
    bus.hand_back("w1", &claim).await.unwrap();

    let again = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();

    assert_eq!(again.run_id.as_deref(), Some("run-42"));
    assert_eq!(bus.run(job.task_id).await.unwrap().as_deref(), Some("run-42"));
}

#[tokio::test]
async fn a_queued_id_whose_job_is_gone_is_let_go_and_the_next_one_claimed() {
    let bus = test_bus();
    let gone = queued(&bus).await;
    let next = queued(&bus).await;
    // The first job's hash vanished (expired, deleted by hand) while its id waited in the queue.
    let mut conn = redis::Client::open(bus.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}:job:{}", bus.prefix(), gone.task_id);
    redis::cmd("DEL").arg(key).query_async::<()>(&mut conn).await.unwrap();

    assert!(bus.claim("w1", NO_WAIT, LEASE).await.unwrap().is_none(), "nothing to run");
    assert!(bus.held("w1").await.unwrap().is_empty(), "the id was let go");
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("the next job");
    assert_eq!((claim.job.task_id, claim.attempt), (next.task_id, 1));
}

#[tokio::test]
async fn a_claim_on_an_empty_queue_waits_for_the_next_job() {
    let bus = test_bus();
    let waiting = tokio::spawn({
        let bus = bus.clone();
        async move { bus.claim("w1", Duration::from_secs(5), LEASE).await }
    });
    // The claim found the queue empty and now waits in BLMOVE on its named connection.
    until_blocked_in_blmove(&format!("{}:claim", bus.prefix())).await;
    let job = queued(&bus).await;

    let claim = waiting.await.unwrap().unwrap().expect("claimed once queued");

    assert!(claim.job.enqueued_ms.is_some(), "the blocking claim reads the enqueue time too");
    let expected = bus::Job { enqueued_ms: claim.job.enqueued_ms, ..job.clone() };
    assert_eq!((claim.job, claim.attempt, claim.seq), (expected, 1, 1));
    assert_eq!(bus.held("w1").await.unwrap(), vec![job.task_id.to_string()]);
}

#[tokio::test]
async fn an_idle_claim_blocks_its_whole_wait_and_returns_empty_instead_of_timing_out() {
    // The worker blocks 1 s per claim; redis 1.x cuts a response off after 500 ms by default.
    let bus = test_bus();

    let claim = bus.claim("w1", Duration::from_secs(1), LEASE).await;

    assert!(matches!(claim, Ok(None)), "an empty queue is no error: {claim:?}");
}

/// Returns once Redis lists a client named `name` blocked in BLMOVE.
async fn until_blocked_in_blmove(name: &str) {
    let client = redis::Client::open(crate::redis_url()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let wanted = format!(" name={name} ");
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let clients: String =
                redis::cmd("CLIENT").arg("LIST").query_async(&mut conn).await.expect("CLIENT LIST");
            if clients.lines().any(|line| line.contains(&wanted) && line.contains(" cmd=blmove ")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the claim blocks in BLMOVE while the queue is empty");
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[tokio::test]
async fn a_claim_reads_when_the_job_was_queued_and_a_retry_counts_from_when_it_is_due() {
    let bus = test_bus();
    let before = now_ms();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    let enqueued = claim.job.enqueued_ms.expect("recorded at enqueue");
    // Redis' clock and ours: the same machine in tests, a second of slack either way.
    assert!(enqueued + 1000 >= before && enqueued <= now_ms() + 1000, "{enqueued} vs {before}");

    let due_in = Duration::from_millis(1);
    let notice = TaskUpdate::retrying(job.task_id, 2, "x".into());
    let parked_at = now_ms();
    bus.retry_later("w1", &claim, &notice, due_in).await.unwrap();
    // The promotion pass runs after it is due (a busy machine may take long to get here).
    while bus.maintain(Duration::from_secs(60)).await.unwrap().promoted == 0 {}
    let again = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("claimed again");

    let due = again.job.enqueued_ms.expect("recorded at retry");
    assert!(due >= parked_at && due <= parked_at + 1000, "the due time {due}, parked at {parked_at}");
}

#[tokio::test]
async fn a_job_queued_without_an_enqueue_time_is_claimed_with_none() {
    let bus = test_bus();
    let job = queued(&bus).await;
    // What an older release wrote: the hash without the field.
    let client = redis::Client::open(crate::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("HDEL")
        .arg(format!("{}:job:{}", bus.prefix(), job.task_id))
        .arg("enqueued")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claimed");

    assert_eq!(claim.job, job);
}

#[tokio::test]
async fn queue_sizes_count_queued_delayed_dead_and_live_workers() {
    let bus = test_bus();
    for _ in 0..3 {
        queued(&bus).await;
    }
    let retried = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    let notice = TaskUpdate::retrying(retried.job.task_id, 2, "x".into());
    bus.retry_later("w1", &retried, &notice, Duration::from_secs(3600)).await.unwrap();
    let dead = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    let failure = TaskUpdate::failure(dead.job.task_id, 2, "x", "x");
    bus.finish("w1", &dead, &failure, true).await.unwrap();
    bus.heartbeat("w1", &[], LEASE).await.unwrap();
    // A worker whose last heartbeat is a minute old is not alive.
    let client = redis::Client::open(crate::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("ZADD")
        .arg(format!("{}:workers", bus.prefix()))
        .arg(now_ms() - 60_000)
        .arg("w2")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    let sizes = bus.queue_sizes(Duration::from_secs(30)).await.unwrap();

    assert_eq!(sizes, bus::QueueSizes { queued: 1, delayed: 1, dead: 1, workers_alive: 1 });
}

#[tokio::test]
async fn one_worker_at_a_time_holds_the_reporter_lease_and_can_hand_it_over() {
    let bus = test_bus();
    let lease = Duration::from_secs(30);

    assert!(bus.hold_reporter("w1", lease).await.unwrap(), "the first asker takes it");
    assert!(!bus.hold_reporter("w2", lease).await.unwrap(), "held by w1");
    assert!(bus.hold_reporter("w1", lease).await.unwrap(), "the holder renews it");
    bus.step_down_reporter("w2").await.unwrap();
    assert!(!bus.hold_reporter("w2", lease).await.unwrap(), "only the holder can step down");
    bus.step_down_reporter("w1").await.unwrap();
    assert!(bus.hold_reporter("w2", lease).await.unwrap(), "free again after stepping down");
}

#[tokio::test]
async fn reaping_a_job_whose_hash_is_gone_makes_no_half_hash() {
    let bus = test_bus();
    let job = queued(&bus).await;
    bus.claim("w1", NO_WAIT, Duration::ZERO).await.unwrap().unwrap();
    let client = redis::Client::open(crate::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}:job:{}", bus.prefix(), job.task_id);
    redis::cmd("DEL").arg(&key).query_async::<()>(&mut conn).await.unwrap();

    assert_eq!(bus.maintain(Duration::from_secs(60)).await.unwrap().expired, 1);

    let exists: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(!exists, "the re-queue did not write `enqueued` into a hash that was gone");
    assert!(bus.claim("w2", NO_WAIT, LEASE).await.unwrap().is_none(), "the id is let go");
}
