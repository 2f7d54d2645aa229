use std::time::Duration;

use bus::{Feed, FeedItem};
use protocol::{Step, TaskState, TaskUpdate};

use crate::{job, queued, test_bus};

const LEASE: Duration = Duration::from_secs(30);
const NO_WAIT: Duration = Duration::from_millis(10);

#[tokio::test]
async fn enqueue_logs_pending_as_seq_one_and_snapshot() {
    let bus = test_bus();
    let job = job();

    let event = bus.enqueue(&job, &TaskUpdate::pending(job.task_id), None).await.unwrap();

    assert_eq!(event.seq, 1);
    let snapshot = bus.snapshot(job.task_id).await.unwrap().expect("snapshot");
    assert_eq!(
        (snapshot.owner, snapshot.event.seq, snapshot.event.state),
        (job.owner, 1, TaskState::Pending)
    );
    assert_eq!(snapshot.event, event);
    assert_eq!(bus.queue_depth().await.unwrap(), 1);
}

#[tokio::test]
async fn every_event_reaches_the_log_and_the_feed_in_order_without_gaps() {
    let bus = test_bus();
    let mut feed = Feed::new(bus.url(), bus.events_channel()).unwrap();
    feed.ready().await.unwrap();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().expect("claim");

    for step in [Step::Preparing, Step::Scraping, Step::Extracting, Step::Saving] {
        bus.publish(&claim, &TaskUpdate::progress(job.task_id, step, None)).await.unwrap();
    }
    let done = TaskUpdate::completion(job.task_id, protocol::RecipeId::new(), "Soup".into());
    bus.finish("w1", &claim, &done, false).await.unwrap();

    let log = bus.events_after(job.task_id, 0).await.unwrap();
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    let mut live = Vec::new();
    while live.len() < 6 {
        match tokio::time::timeout(Duration::from_secs(5), feed.next()).await.expect("feed item") {
            FeedItem::Event(task_id, event) => {
                assert_eq!(task_id, job.task_id);
                live.push((event.seq, event));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(live.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        live.into_iter().map(|(_, j)| j).collect::<Vec<_>>(),
        log,
        "pub/sub carries the logged events"
    );
    assert_eq!(bus.events_after(job.task_id, 4).await.unwrap(), log[4..].to_vec());
    assert_eq!(bus.snapshot(job.task_id).await.unwrap().unwrap().event.state, TaskState::Success);
}

#[tokio::test]
async fn cancel_drops_a_queued_job_and_refuses_a_second_time() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let update = TaskUpdate::failure(job.task_id, 0, "cancelled", "Task was cancelled");

    let event = bus.cancel(job.task_id, &update).await.unwrap().expect("logged");

    assert_eq!(event.seq, 2);
    assert_eq!(bus.queue_depth().await.unwrap(), 0);
    assert!(bus.claim("w1", NO_WAIT, LEASE).await.unwrap().is_none());
    assert!(bus.cancel(job.task_id, &update).await.unwrap().is_none(), "already finished");
}

#[tokio::test]
async fn cancel_stops_a_running_job_at_its_next_write() {
    let bus = test_bus();
    let mut cancels = Feed::new(bus.url(), bus.cancel_channel()).unwrap();
    cancels.ready().await.unwrap();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();

    bus.cancel(job.task_id, &TaskUpdate::failure(job.task_id, 1, "cancelled", "Task was cancelled"))
        .await
        .unwrap();

    let next = bus.publish(&claim, &TaskUpdate::progress(job.task_id, Step::Scraping, None)).await.unwrap();
    assert_eq!(next, bus::WriteOutcome::Cancelled);
    let finish = TaskUpdate::completion(job.task_id, protocol::RecipeId::new(), "x".into());
    assert_eq!(bus.finish("w1", &claim, &finish, false).await.unwrap(), bus::WriteOutcome::AlreadyFinished);
    assert!(bus.held("w1").await.unwrap().is_empty(), "the worker let go of the job");
    let notice = tokio::time::timeout(Duration::from_secs(5), cancels.next()).await.unwrap();
    assert_eq!(notice, FeedItem::Cancelled(job.task_id));
}

#[tokio::test]
async fn idempotency_keys_return_the_first_task() {
    let bus = test_bus();
    let (owner, first, second) = (job().owner, protocol::TaskId::new(), protocol::TaskId::new());
    let ttl = Duration::from_secs(60);

    assert_eq!(bus.idempotency(owner, "k1", first, ttl).await.unwrap(), None);
    assert_eq!(bus.idempotency(owner, "k1", second, ttl).await.unwrap(), Some(first));
    assert_eq!(bus.idempotency(job().owner, "k1", second, ttl).await.unwrap(), None, "keys are per user");
}

#[tokio::test]
async fn rate_limit_allows_the_limit_then_says_how_long_to_wait() {
    let bus = test_bus();
    let owner = job().owner;
    let window = Duration::from_secs(60);

    for n in 0..3 {
        assert_eq!(bus.rate_limit("submit", owner, 3, window).await.unwrap(), None, "hit {n}");
    }
    let wait = bus.rate_limit("submit", owner, 3, window).await.unwrap().expect("limited");
    assert!(wait <= window && wait > Duration::ZERO);
}

#[tokio::test]
async fn a_restored_task_takes_the_seq_postgres_chose_and_replays_from_there() {
    let bus = test_bus();
    let job = job();
    let mut pending = TaskUpdate::pending(job.task_id);
    pending.seq = 40;

    let event = bus.restore(&job, &pending).await.unwrap().expect("restored");

    assert_eq!(event.seq, 40);
    assert_eq!(bus.snapshot(job.task_id).await.unwrap().unwrap().event.seq, 40);
    assert_eq!(bus.events_after(job.task_id, 7).await.unwrap(), vec![event.clone()]);
    assert_eq!(bus.events_after(job.task_id, 0).await.unwrap(), vec![event], "older events are gone");
    assert!(bus.restore(&job, &pending).await.unwrap().is_none(), "job exists");
}

#[tokio::test]
async fn a_restore_over_leftovers_of_the_task_still_takes_the_chosen_seq() {
    let bus = test_bus();
    let job = queued(&bus).await;
    let claim = bus.claim("w1", NO_WAIT, LEASE).await.unwrap().unwrap();
    bus.publish(&claim, &TaskUpdate::progress(job.task_id, Step::Preparing, None)).await.unwrap();
    crate::delete_job(&bus, job.task_id).await;
    let mut pending = TaskUpdate::pending(job.task_id);
    pending.seq = 35;

    let event = bus.restore(&job, &pending).await.unwrap().expect("restored");

    assert_eq!(event.seq, 35);
    let next = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("queued again");
    assert_eq!(next.seq, 35);
    assert_eq!(bus.events_after(job.task_id, 2).await.unwrap(), vec![event], "the log starts at the restore");
}

#[tokio::test]
async fn a_finish_postgres_accepted_is_logged_after_the_lease_lapsed_or_redis_lost_the_task() {
    let bus = test_bus();
    let first = queued(&bus).await;
    let stale = bus.claim("w1", NO_WAIT, Duration::ZERO).await.unwrap().unwrap();
    bus.maintain(Duration::from_secs(60)).await.unwrap();
    let mut done = TaskUpdate::completion(first.task_id, protocol::RecipeId::new(), "Soup".into());
    done.seq = 2;

    let outcome = bus.finish("w1", &stale, &done, false).await.unwrap();

    assert!(matches!(outcome, bus::WriteOutcome::Logged(protocol::Event { seq: 2, .. })), "{outcome:?}");
    let again = bus.claim("w2", NO_WAIT, LEASE).await.unwrap().expect("the re-queued job is still there");
    assert_eq!(again.state, Some(TaskState::Success), "and finds the task finished");

    // Redis lost everything about a second task: the terminal event is logged with the seq
    // Postgres recorded, so a client that saw seq 6 sees 7.
    let lost = job();
    let claim = bus::Claim {
        job: lost.clone(),
        token: uuid::Uuid::new_v4(),
        attempt: 1,
        run_id: None,
        seq: 6,
        state: None,
        recorded_ceiling: None,
        first_event: None,
    };
    let mut failed = TaskUpdate::failure(lost.task_id, 3, "not_a_recipe", "No recipe");
    failed.seq = 7;
    let outcome = bus.finish("w1", &claim, &failed, false).await.unwrap();
    assert!(matches!(outcome, bus::WriteOutcome::Logged(protocol::Event { seq: 7, .. })), "{outcome:?}");
    let snapshot = bus.snapshot(lost.task_id).await.unwrap().expect("the task is known again");
    assert_eq!(
        (snapshot.owner, snapshot.event.seq, snapshot.event.state),
        (lost.owner, 7, TaskState::Failure)
    );
    assert_eq!(bus.events_after(lost.task_id, 6).await.unwrap().len(), 1);
}
