//! A task's life through the service: what each call leaves in both stores.

use std::time::Duration;

use protocol::{Language, Recipe, RecipeId, Step, TaskState, TaskUpdate, TikTokUrl, UserId};
use tasks::{Cancelled, Limits, Start, Submission, Submitted, Tasks, Written};

const LEASE: Duration = Duration::from_secs(30);
const OPEN: Limits = Limits { per_minute: 100, in_flight: 100 };

fn url(n: u32) -> TikTokUrl {
    TikTokUrl::parse(&format!("https://www.tiktok.com/@chef/video/{n}")).unwrap()
}

async fn submit(tasks: &Tasks, owner: UserId, video: u32, key: Option<&str>) -> Submitted {
    let (url, language) = (url(video), Language::parse("en").unwrap());
    let submission = Submission {
        owner,
        url: &url,
        language: &language,
        idempotency_key: key,
        limits: OPEN,
        origin: Default::default(),
    };
    tasks.submit(&submission).await.unwrap()
}

async fn running(tasks: &Tasks) -> tasks::Attempt {
    let claim = tasks.claim("w1", Duration::from_millis(100), LEASE).await.unwrap().expect("a queued job");
    match tasks.start("w1".into(), claim, Some("Attempt 1 of 3".into())).await.unwrap() {
        Start::Running(attempt) => *attempt,
        other => panic!("{other:?}"),
    }
}

fn recipe() -> Recipe {
    Recipe {
        title: "Soup".into(),
        description: None,
        servings: None,
        prep_minutes: None,
        cook_minutes: None,
        total_minutes: None,
        ingredients: Vec::new(),
        steps: vec!["Boil".into()],
        tags: Vec::new(),
        source: protocol::RecipeSource { url: url(1).as_str().into(), video_id: None, author: None },
        cover_url: None,
        language: "en".into(),
    }
}

#[tokio::test]
async fn a_task_runs_from_submission_to_its_recipe_with_one_numbering_in_both_stores() {
    let tasks = testkit::tasks().await;
    let owner = UserId::from_uuid(uuid::Uuid::new_v4());
    let Submitted::Created(task, pending) = submit(&tasks, owner, 1, None).await else { panic!("created") };
    assert_eq!((pending.seq, pending.state), (1, TaskState::Pending));

    let attempt = running(&tasks).await;
    let row = tasks.row(task).await.unwrap().unwrap();
    assert_eq!(
        (row.state(), row.claim_token),
        (TaskState::Pending, Some(attempt.claim().token)),
        "the first claim was recorded with the task: starting it wrote nothing to Postgres"
    );
    let Written::Logged(first) = attempt.begin().await.unwrap() else { panic!("logged") };
    let Written::Logged(step) =
        attempt.progress(TaskUpdate::progress(task, Step::Scraping, None)).await.unwrap()
    else {
        panic!("logged")
    };
    let completion = TaskUpdate::completion(task, RecipeId::new(), "Soup".into());
    let saved = attempt.succeed(&recipe(), completion).await.unwrap().expect("Postgres took the outcome");

    assert_eq!((first.seq, step.seq), (2, 3));
    let log = tasks.events_after(task, 0).await.unwrap();
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4], "gap-free, in order");
    let done = tasks.snapshot(task, owner).await.unwrap().expect("the owner's task");
    assert_eq!((done.seq, done.state), (4, TaskState::Success));
    let row = tasks.row(task).await.unwrap().unwrap();
    assert_eq!((row.state(), row.last_seq, row.recipe_id), (TaskState::Success, 4, Some(saved.as_uuid())));
    assert_eq!(row.attempts, 1, "the outcome counted the attempt");
    assert_eq!(row.snapshot.as_deref(), Some(&*done.json), "Postgres keeps the very event Redis logged");
    assert_eq!(tasks.recipe(saved, owner).await.unwrap().unwrap().recipe.title, "Soup");
    assert!(
        tasks.snapshot(task, UserId::from_uuid(uuid::Uuid::new_v4())).await.unwrap().is_none(),
        "not yours"
    );
}

#[tokio::test]
async fn a_first_claim_that_logged_the_first_event_leaves_begin_nothing_to_send() {
    let tasks = testkit::tasks().await;
    let owner = UserId::from_uuid(uuid::Uuid::new_v4());
    let Submitted::Created(task, _) = submit(&tasks, owner, 1, None).await else { panic!("created") };

    let claim = tasks
        .claim_starting("w1", Duration::from_millis(100), LEASE, "Attempt 1 of 3")
        .await
        .unwrap()
        .expect("a queued job");
    let logged = claim.first_event.clone().expect("the first claim logged Preparing");
    let Start::Running(attempt) =
        tasks.start("w1".into(), claim, Some("Attempt 1 of 3".into())).await.unwrap()
    else {
        panic!("running")
    };
    let Written::Logged(first) = attempt.begin().await.unwrap() else { panic!("logged") };
    let Written::Logged(step) =
        attempt.progress(TaskUpdate::progress(task, Step::Scraping, None)).await.unwrap()
    else {
        panic!("logged")
    };

    assert_eq!(first, logged, "begin answers with the claim's event");
    let log = tasks.events_after(task, 0).await.unwrap();
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3], "one Preparing, no gap");
    let expected = TaskUpdate {
        seq: 2,
        timestamp: 0.0,
        ..TaskUpdate::progress(task, Step::Preparing, Some("Attempt 1 of 3".into()))
    };
    let mut preparing: TaskUpdate = serde_json::from_str(&log[1].json).unwrap();
    preparing.timestamp = 0.0;
    assert_eq!(preparing, expected, "the same event begin would have sent");
    assert_eq!(step.seq, 3);
}

#[tokio::test]
async fn a_cancel_ends_the_task_and_voids_the_running_attempt() {
    let tasks = testkit::tasks().await;
    let owner = UserId::from_uuid(uuid::Uuid::new_v4());
    let Submitted::Created(task, _) = submit(&tasks, owner, 1, None).await else { panic!("created") };
    let attempt = running(&tasks).await;
    attempt.begin().await.unwrap();

    let Cancelled::Cancelled(event) = tasks.cancel(task, owner).await.unwrap() else { panic!("cancelled") };

    assert_eq!((event.seq, event.state, event.error.as_deref()), (3, TaskState::Failure, Some("cancelled")));
    let step = attempt.progress(TaskUpdate::progress(task, Step::Scraping, None)).await.unwrap();
    assert_eq!(step, Written::Cancelled);
    let completion = TaskUpdate::completion(task, RecipeId::new(), "Soup".into());
    assert_eq!(attempt.succeed(&recipe(), completion).await.unwrap(), None, "Postgres refuses the outcome");
    let row = tasks.row(task).await.unwrap().unwrap();
    assert_eq!((row.error.as_deref(), row.last_seq), (Some("cancelled"), 3), "Postgres recorded Redis' seq");
    assert_eq!(tasks.cancel(task, owner).await.unwrap(), Cancelled::AlreadyFinished(TaskState::Failure));
    assert_eq!(
        tasks.cancel(task, UserId::from_uuid(uuid::Uuid::new_v4())).await.unwrap(),
        Cancelled::NotFound
    );
}

#[tokio::test]
async fn a_retried_submission_is_answered_with_its_task_and_a_repeated_video_joins_it() {
    let tasks = testkit::tasks().await;
    let owner = UserId::from_uuid(uuid::Uuid::new_v4());
    let Submitted::Created(task, _) = submit(&tasks, owner, 1, Some("k1")).await else { panic!("created") };

    let replay = submit(&tasks, owner, 1, Some("k1")).await;
    let joined = submit(&tasks, owner, 1, Some("k2")).await;
    let again = submit(&tasks, owner, 1, Some("k2")).await;

    assert!(matches!(replay, Submitted::Replayed(id, _) if id == task), "{replay:?}");
    assert!(matches!(joined, Submitted::Joined(id, _) if id == task), "{joined:?}");
    assert!(
        matches!(again, Submitted::Replayed(id, _) if id == task),
        "the key names the joined task: {again:?}"
    );
    assert_eq!(tasks.queue_depth().await.unwrap(), 1, "one job");
}

#[tokio::test]
async fn the_limits_refuse_before_anything_is_written() {
    let tasks = testkit::tasks().await;
    let owner = UserId::from_uuid(uuid::Uuid::new_v4());
    let (language, tight) = (Language::parse("en").unwrap(), Limits { per_minute: 2, in_flight: 1 });
    let mut outcomes = Vec::new();
    for video in 1..=3 {
        let url = url(video);
        let submission = Submission {
            owner,
            url: &url,
            language: &language,
            idempotency_key: Some("same"),
            limits: tight,
            origin: Default::default(),
        };
        outcomes.push(tasks.submit(&submission).await.unwrap());
    }

    assert!(matches!(outcomes[0], Submitted::Created(..)), "{outcomes:?}");
    assert!(matches!(outcomes[1], Submitted::Replayed(..)), "the key answers first: {outcomes:?}");
    assert!(matches!(outcomes[2], Submitted::Replayed(..)), "{outcomes:?}");
    let url = url(4);
    let fresh = Submission {
        owner,
        url: &url,
        language: &language,
        idempotency_key: None,
        limits: tight,
        origin: Default::default(),
    };
    assert_eq!(tasks.submit(&fresh).await.unwrap(), Submitted::InFlightLimit(1));
    let third = tasks.submit(&fresh).await.unwrap();
    assert!(matches!(third, Submitted::RateLimited(wait) if wait <= Duration::from_secs(60)), "{third:?}");
    assert_eq!(tasks.queue_depth().await.unwrap(), 1);
}

#[tokio::test]
async fn a_job_redis_lost_comes_back_numbered_above_every_seq_it_had() {
    let database_url = testkit::fresh_database_url().await;
    let tasks =
        Tasks::connect(&testkit::tasks_config(&testkit::unique_prefix(), &database_url)).await.unwrap();
    let owner = UserId::from_uuid(uuid::Uuid::new_v4());
    let Submitted::Created(task, _) = submit(&tasks, owner, 1, None).await else { panic!("created") };
    let attempt = running(&tasks).await;
    attempt.begin().await.unwrap();
    let Written::Logged(last) =
        attempt.progress(TaskUpdate::progress(task, Step::Scraping, None)).await.unwrap()
    else {
        panic!("logged")
    };
    lose_redis_data(&tasks, &database_url).await;

    assert_eq!(tasks.restore_lost(Duration::from_secs(60)).await.unwrap(), 1);
    assert_eq!(tasks.restore_lost(Duration::from_secs(60)).await.unwrap(), 0, "once");

    let restored = tasks.snapshot(task, owner).await.unwrap().unwrap();
    assert!(restored.seq > last.seq, "{} after {}", restored.seq, last.seq);
    assert_eq!(restored.state, TaskState::Pending);
    let stale = TaskUpdate::completion(task, RecipeId::new(), "Soup".into());
    assert_eq!(attempt.succeed(&recipe(), stale).await.unwrap(), None, "the old claim is void");
    let again = running(&tasks).await;
    let Written::Logged(first) = again.begin().await.unwrap() else { panic!("logged") };
    assert_eq!(first.seq, restored.seq + 1);
}

/// Redis forgets this test's keys (a restart without persistence), and the task looks idle.
async fn lose_redis_data(tasks: &Tasks, database_url: &str) {
    let client = redis::Client::open(testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:*", tasks.key_prefix())).query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    let pg = sqlx::PgPool::connect(database_url).await.unwrap();
    sqlx::query("UPDATE tasks SET updated_at = now() - interval '1 hour'").execute(&pg).await.unwrap();
}
