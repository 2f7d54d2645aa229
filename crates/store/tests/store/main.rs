//! Integration tests of the store against a real Postgres, a fresh database per test.

use std::time::Duration;

use protocol::{Language, Recipe, RecipeSource, TaskId, TaskState, TaskUpdate, TikTokUrl, UserId};
use store::{CancelOutcome, CreateOutcome, NewTask, Store};
use uuid::Uuid;

mod batches;

fn user() -> UserId {
    UserId::from_uuid(Uuid::new_v4())
}

fn url(id: &str) -> TikTokUrl {
    TikTokUrl::parse(&format!("https://www.tiktok.com/@chef/video/{id}")).unwrap()
}

fn recipe(title: &str) -> Recipe {
    Recipe {
        title: title.into(),
        description: None,
        servings: Some(2),
        prep_minutes: None,
        cook_minutes: None,
        total_minutes: None,
        ingredients: vec![],
        steps: vec!["Cook.".into()],
        tags: vec![],
        source: RecipeSource {
            url: "https://www.tiktok.com/@chef/video/1".into(),
            video_id: None,
            author: None,
        },
        cover_url: None,
        language: "de".into(),
    }
}

/// The first event of an attempt, numbered 2 (after PENDING).
fn preparing(id: TaskId) -> TaskUpdate {
    let mut first = TaskUpdate::progress(id, protocol::Step::Preparing, None);
    first.seq = 2;
    first
}

/// A completion event with a new recipe id and the given seq.
fn completion(id: TaskId, seq: u64) -> TaskUpdate {
    let mut done = TaskUpdate::completion(id, protocol::RecipeId::new(), "Soup".into());
    done.seq = seq;
    done
}

async fn submit(store: &Store, owner: UserId, video: &str) -> CreateOutcome {
    let (url, language) = (url(video), Language::parse("de").unwrap());
    let id = TaskId::new();
    store
        .create_task(&NewTask { id, owner, url: &url, language: &language }, &TaskUpdate::pending(id))
        .await
        .unwrap()
}

async fn created(store: &Store, owner: UserId, video: &str) -> TaskId {
    match submit(store, owner, video).await {
        CreateOutcome::Created(row) => row.task_id(),
        other => panic!("expected a new task, got {other:?}"),
    }
}

#[tokio::test]
async fn a_second_submission_of_a_running_video_joins_the_first_task() {
    let store = store().await;
    let owner = user();
    let first = created(&store, owner, "1").await;

    let CreateOutcome::Running(row) = submit(&store, owner, "1").await else { panic!("expected Running") };

    assert_eq!(row.task_id(), first);
    assert!(
        matches!(submit(&store, user(), "1").await, CreateOutcome::Created(_)),
        "another user gets their own"
    );
    assert!(matches!(submit(&store, owner, "2").await, CreateOutcome::Created(_)), "another video is new");
    assert_eq!(store.count_unfinished(owner).await.unwrap(), 2);
}

#[tokio::test]
async fn only_the_current_claim_can_finish_a_task_and_it_saves_one_recipe() {
    let store = store().await;
    let owner = user();
    let id = created(&store, owner, "1").await;
    let (old, current) = (Uuid::new_v4(), Uuid::new_v4());
    store.claim_task(id, old, &preparing(id), 1).await.unwrap();
    let row = store.claim_task(id, current, &preparing(id), 2).await.unwrap().unwrap();
    assert_eq!((row.state(), row.attempts), (TaskState::Progress, 2));

    assert_eq!(
        store.finish_success(id, old, &recipe("Soup"), &completion(id, 6), false).await.unwrap(),
        None,
        "stale claim"
    );
    let recipe_id = store
        .finish_success(id, current, &recipe("Soup"), &completion(id, 6), false)
        .await
        .unwrap()
        .expect("saved");
    assert_eq!(
        store.finish_success(id, current, &recipe("Soup"), &completion(id, 6), false).await.unwrap(),
        None,
        "only once"
    );

    let row = store.task_for_owner(id, owner).await.unwrap().unwrap();
    assert_eq!(
        (row.state(), row.recipe_id, row.last_seq),
        (TaskState::Success, Some(recipe_id.as_uuid()), 6)
    );
    let saved = store.recipe_for_owner(recipe_id, owner).await.unwrap().expect("owner sees it");
    assert_eq!((saved.task_id, saved.recipe.title.as_str()), (id, "Soup"));
    assert!(store.recipe_for_owner(recipe_id, user()).await.unwrap().is_none(), "nobody else does");
}

#[tokio::test]
async fn a_cancelled_task_cannot_succeed_and_cannot_be_cancelled_twice() {
    let store = store().await;
    let owner = user();
    let id = created(&store, owner, "1").await;
    let token = Uuid::new_v4();
    store.claim_task(id, token, &preparing(id), 1).await.unwrap();

    let cancel = TaskUpdate::cancelled(id, 0);

    assert!(
        matches!(store.cancel_task(id, user(), &cancel).await.unwrap(), CancelOutcome::NotFound),
        "foreign task"
    );
    let CancelOutcome::Cancelled(row) = store.cancel_task(id, owner, &cancel).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        (row.state(), row.error.as_deref(), row.message.as_deref(), row.step),
        (TaskState::Failure, Some("cancelled"), Some("Task was cancelled"), 1),
        "the cancel's texts, the step the claim reached"
    );

    assert_eq!(
        store.finish_success(id, token, &recipe("Soup"), &completion(id, 5), false).await.unwrap(),
        None
    );
    assert!(matches!(store.cancel_task(id, owner, &cancel).await.unwrap(), CancelOutcome::Finished(_)));
    let failure = TaskUpdate::failure(id, 2, "x", "y");
    assert!(!store.finish_failure(id, Some(token), &failure, false).await.unwrap(), "already final");
}

#[tokio::test]
async fn the_durable_snapshot_speaks_the_protocol() {
    let store = store().await;
    let owner = user();
    let id = created(&store, owner, "1").await;
    let token = Uuid::new_v4();
    store.claim_task(id, token, &preparing(id), 1).await.unwrap();
    let mut failure = TaskUpdate::failure(id, 3, "not_a_recipe", "This video does not contain a recipe");
    failure.seq = 5;

    assert!(store.finish_failure(id, Some(token), &failure, false).await.unwrap());

    let update = store.task(id).await.unwrap().unwrap().to_update();
    assert_eq!((update.status, update.seq, update.step), (TaskState::Failure, 5, 3));
    assert_eq!(update.error.as_deref(), Some("not_a_recipe"));
    assert_eq!(update.message.as_deref(), Some("This video does not contain a recipe"));
    assert!(update.timestamp > 1.6e9);
}

#[tokio::test]
async fn recipes_list_newest_first_page_by_page() {
    let store = store().await;
    let owner = user();
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = created(&store, owner, &n.to_string()).await;
        let token = Uuid::new_v4();
        store.claim_task(id, token, &preparing(id), 1).await.unwrap();
        ids.push(
            store
                .finish_success(id, token, &recipe(&format!("R{n}")), &completion(id, 6), false)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    created(&store, user(), "9").await;

    let first = store.list_recipes(owner, None, 2).await.unwrap();
    let second = store.list_recipes(owner, first.last().map(|r| r.id), 2).await.unwrap();
    let third = store.list_recipes(owner, second.last().map(|r| r.id), 2).await.unwrap();

    let titles: Vec<_> = [first, second, third].concat().into_iter().map(|r| r.recipe.title).collect();
    assert_eq!(titles, ["R4", "R3", "R2", "R1", "R0"]);
}

#[tokio::test]
async fn the_cache_finds_a_fresh_recipe_of_the_same_video_and_language() {
    let store = store().await;
    let id = created(&store, user(), "77").await;
    let token = Uuid::new_v4();
    store.claim_task(id, token, &preparing(id), 1).await.unwrap();
    store.finish_success(id, token, &recipe("Cached"), &completion(id, 6), false).await.unwrap();
    let de = Language::parse("de").unwrap();
    let en = Language::parse("en").unwrap();
    let hour = Duration::from_secs(3600);

    let hit = store.cached_recipe(&url("77"), &de, hour).await.unwrap();
    assert_eq!(hit.map(|r| r.title).as_deref(), Some("Cached"));
    assert!(store.cached_recipe(&url("77"), &en, hour).await.unwrap().is_none(), "other language");
    assert!(store.cached_recipe(&url("78"), &de, hour).await.unwrap().is_none(), "other video");
    assert!(store.cached_recipe(&url("77"), &de, Duration::ZERO).await.unwrap().is_none(), "too old");
}

#[tokio::test]
async fn a_task_whose_job_could_not_be_queued_fails_with_the_protocol_s_texts() {
    let store = store().await;
    let owner = user();
    let id = created(&store, owner, "1").await;

    store.mark_enqueue_failed(&TaskUpdate::queue_unavailable(id)).await.unwrap();

    let row = store.task(id).await.unwrap().unwrap();
    let expected = TaskUpdate::queue_unavailable(id);
    assert_eq!((row.state(), row.error, row.message), (TaskState::Failure, expected.error, expected.message));
    assert_eq!(store.count_unfinished(owner).await.unwrap(), 0);
}

#[tokio::test]
async fn the_status_still_reads_and_writes_as_text_for_processes_of_the_previous_release() {
    // Old processes run beside the migrated schema during a rolling deploy (docs/operations.md).
    let store = store().await;
    let id = created(&store, user(), "1").await;
    let mut raw = store.connection().await.unwrap();

    sqlx::query("UPDATE tasks SET status = 'PROGRESS' WHERE id = $1")
        .bind(id.as_uuid())
        .execute(&mut *raw)
        .await
        .unwrap();
    let (status,): (String,) = sqlx::query_as("SELECT status FROM tasks WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_one(&mut *raw)
        .await
        .unwrap();

    assert_eq!(status, "PROGRESS");
    assert_eq!(store.task(id).await.unwrap().unwrap().state(), TaskState::Progress);
    let other_word = sqlx::query("UPDATE tasks SET status = 'DONE' WHERE id = $1")
        .bind(id.as_uuid())
        .execute(&mut *raw)
        .await;
    assert!(other_word.is_err(), "the domain holds the four state words only");
}

#[tokio::test]
async fn stale_unfinished_tasks_are_found_for_reconciliation() {
    let store = store().await;
    let id = created(&store, user(), "1").await;

    assert!(store.stale_unfinished(Duration::from_secs(3600), 10).await.unwrap().is_empty());
    let stale = store.stale_unfinished(Duration::ZERO, 10).await.unwrap();
    assert_eq!(stale.iter().map(|r| r.task_id()).collect::<Vec<_>>(), vec![id]);
}

async fn admit(store: &Store, owner: UserId, video: &str, max: u32) -> store::Admission {
    let (url, language) = (url(video), Language::parse("de").unwrap());
    let new = NewTask { id: TaskId::new(), owner, url: &url, language: &language };
    store.admit_task(&new, max, &TaskUpdate::pending(new.id), Uuid::new_v4()).await.unwrap()
}

#[tokio::test]
async fn admission_holds_the_in_flight_limit_under_parallel_submissions() {
    let store = store().await;
    let owner = user();

    // Ten different videos at once against a limit of five: counted-then-inserted would let
    // most of them through, since every count runs before any insert commits.
    let submissions = (0..10).map(|n| {
        let store = store.clone();
        tokio::spawn(async move { admit(&store, owner, &format!("10{n}"), 5).await })
    });
    let outcomes = futures_util::future::join_all(submissions).await;

    let created =
        outcomes.iter().filter(|o| matches!(o.as_ref().unwrap(), store::Admission::Created(_))).count();
    assert_eq!(created, 5, "{outcomes:?}");
    assert_eq!(store.count_unfinished(owner).await.unwrap(), 5);
    assert!(matches!(admit(&store, owner, "200", 5).await, store::Admission::Limited(5)));
    assert!(matches!(admit(&store, user(), "200", 5).await, store::Admission::Created(_)), "per owner");
}

#[tokio::test]
async fn admission_joins_the_owner_s_running_task_for_the_same_video() {
    let store = store().await;
    let owner = user();
    let store::Admission::Created(first) = admit(&store, owner, "1", 5).await else { panic!() };

    assert_eq!(admit(&store, owner, "1", 5).await, store::Admission::Running(first));
    let row = store.task(first).await.unwrap().unwrap();
    assert_eq!(
        (row.state(), row.last_seq, row.message.as_deref()),
        (TaskState::Pending, 1, Some("Task is waiting to be processed"))
    );
}

/// Admits a task to `owner` with `first_claim` as its first claim's token.
async fn admitted(store: &Store, owner: UserId, video: &str, first_claim: Uuid) -> TaskId {
    let (url, language) = (url(video), Language::parse("de").unwrap());
    let new = NewTask { id: TaskId::new(), owner, url: &url, language: &language };
    match store.admit_task(&new, 5, &TaskUpdate::pending(new.id), first_claim).await.unwrap() {
        store::Admission::Created(id) => id,
        other => panic!("expected a new task, got {other:?}"),
    }
}

#[tokio::test]
async fn admission_records_the_first_claim_which_finishes_the_task_from_pending_and_counts_its_attempt() {
    let store = store().await;
    let (owner, token) = (user(), Uuid::new_v4());
    let id = admitted(&store, owner, "1", token).await;

    let row = store.task(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state(), row.claim_token, row.seq_ceiling, row.attempts),
        (TaskState::Pending, Some(token), store::FIRST_CEILING as i64, 0)
    );
    assert_eq!(store.reserve_seqs(id, token, 10).await.unwrap(), Some(store::FIRST_CEILING + 10));
    let saved = store.finish_success(id, token, &recipe("Soup"), &completion(id, 6), true).await.unwrap();
    assert!(saved.is_some(), "the recorded claim may finish the task");
    let row = store.task(id).await.unwrap().unwrap();
    assert_eq!((row.state(), row.attempts, row.last_seq), (TaskState::Success, 1, 6));
}

#[tokio::test]
async fn a_later_claim_voids_the_first_claim_recorded_at_admission_and_counts_every_attempt() {
    let store = store().await;
    let (owner, first) = (user(), Uuid::new_v4());
    let id = admitted(&store, owner, "1", first).await;
    // The first attempt was retried without writing Postgres; the second claim is recorded.
    let second = Uuid::new_v4();
    let mut resumed = preparing(id);
    resumed.seq = 4;
    let row = store.claim_task(id, second, &resumed, 2).await.unwrap().unwrap();

    assert_eq!((row.state(), row.attempts), (TaskState::Progress, 2), "the unrecorded attempt counts too");
    assert_eq!(row.seq_ceiling, (store::FIRST_CEILING + store::SEQ_BLOCK) as i64, "a block above the first");
    let mut failure = TaskUpdate::failure(id, 2, "not_a_recipe", "No recipe");
    failure.seq = 5;
    assert!(!store.finish_failure(id, Some(first), &failure, true).await.unwrap(), "void");
    assert_eq!(
        store.finish_success(id, first, &recipe("Soup"), &completion(id, 6), true).await.unwrap(),
        None
    );
    assert!(store.finish_failure(id, Some(second), &failure, false).await.unwrap());
    assert_eq!(store.task(id).await.unwrap().unwrap().attempts, 2);
}

#[tokio::test]
async fn a_claim_keeps_its_first_event_and_reserves_seqs_above_it() {
    let store = store().await;
    let owner = user();
    let id = created(&store, owner, "1").await;
    let token = Uuid::new_v4();
    let first = preparing(id);

    let row = store.claim_task(id, token, &first, 1).await.unwrap().unwrap();

    assert_eq!((row.last_seq, row.seq_ceiling), (2, 2 + store::SEQ_BLOCK as i64));
    assert_eq!(row.snapshot_json(), first.logged_json(), "the snapshot is the event as logged");
    assert_eq!(store.reserve_seqs(id, token, 10).await.unwrap(), Some(2 + store::SEQ_BLOCK + 10));
    assert_eq!(store.reserve_seqs(id, Uuid::new_v4(), 10).await.unwrap(), None, "only the claim holder");
    let again = store.claim_task(id, Uuid::new_v4(), &first, 1).await.unwrap().unwrap();
    assert_eq!(
        again.seq_ceiling,
        2 + 2 * store::SEQ_BLOCK as i64 + 10,
        "each attempt gets a block of its own"
    );
}

#[tokio::test]
async fn a_task_redis_lost_is_requeued_above_every_seq_once_and_voids_the_claim() {
    let store = store().await;
    let owner = user();
    let id = created(&store, owner, "1").await;
    let token = Uuid::new_v4();
    let ceiling = store.claim_task(id, token, &preparing(id), 1).await.unwrap().unwrap().seq_ceiling;
    let pending = TaskUpdate::pending(id);

    assert_eq!(
        store.requeue_lost(id, Duration::from_secs(3600), &pending).await.unwrap(),
        None,
        "not idle yet"
    );
    let seq = store.requeue_lost(id, Duration::ZERO, &pending).await.unwrap().expect("requeued");

    assert_eq!(seq, ceiling as u64 + 1);
    let row = store.task(id).await.unwrap().unwrap();
    assert_eq!((row.state(), row.last_seq, row.claim_token), (TaskState::Pending, seq as i64, None));
    let snapshot: TaskUpdate = serde_json::from_str(&row.snapshot_json()).unwrap();
    assert_eq!((snapshot.seq, snapshot.status), (seq, TaskState::Pending));
    assert_eq!(
        store.finish_success(id, token, &recipe("Soup"), &completion(id, 3), false).await.unwrap(),
        None,
        "the lost claim can no longer finish"
    );
    assert_eq!(
        store.requeue_lost(id, Duration::from_secs(1), &pending).await.unwrap(),
        None,
        "a second reconciler right after finds it fresh"
    );
}

#[tokio::test]
async fn terminal_and_recorded_events_become_the_snapshot() {
    let store = store().await;
    let owner = user();
    let id = created(&store, owner, "1").await;
    let token = Uuid::new_v4();
    store.claim_task(id, token, &preparing(id), 1).await.unwrap();
    let done = completion(id, 6);
    store.finish_success(id, token, &recipe("Soup"), &done, false).await.unwrap().expect("saved");
    assert_eq!(store.task(id).await.unwrap().unwrap().snapshot_json(), done.logged_json());

    // Redis numbered the terminal event higher (a restore moved it on): Postgres follows.
    let mut renumbered = done.clone();
    renumbered.seq = 40;
    store.record_event(&renumbered).await.unwrap();
    let row = store.task(id).await.unwrap().unwrap();
    assert_eq!((row.last_seq, row.seq_ceiling), (40, 40));
    assert_eq!(row.snapshot_json(), renumbered.logged_json());
    store.record_event(&done).await.unwrap();
    assert_eq!(store.task(id).await.unwrap().unwrap().last_seq, 40, "never backwards");
}

/// A migrated store over a fresh database.
async fn store() -> Store {
    Store::connect(&testkit::fresh_database_url().await, 5)
        .await
        .expect("connect and migrate the test database")
}
