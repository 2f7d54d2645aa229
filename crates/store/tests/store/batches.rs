//! Admissions in batches: a burst goes in few commits, each submission with its own outcome.

use futures_util::future::join_all;
use protocol::{Language, TaskId, TaskUpdate, UserId};
use sqlx::Row as _;
use store::{Admission, NewTask, Store};
use uuid::Uuid;

use super::{admit, store, url, user};

/// The distinct transactions that inserted the tasks `ids` (each row's `xmin`).
async fn commits(store: &Store, ids: &[TaskId]) -> i64 {
    let ids: Vec<Uuid> = ids.iter().map(TaskId::as_uuid).collect();
    let mut connection = store.connection().await.unwrap();
    sqlx::query("SELECT count(DISTINCT xmin::text) FROM tasks WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_one(&mut *connection)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_burst_of_submissions_is_admitted_in_a_few_commits_each_with_its_own_outcome() {
    let store = store().await;
    let busy = user();
    for video in ["1", "2"] {
        assert!(matches!(admit(&store, busy, video, 2).await, Admission::Created(_)));
    }
    let store::Admission::Created(running) = admit(&store, user(), "7", 5).await else { panic!() };
    let joiner = UserId::from_uuid(store.task(running).await.unwrap().unwrap().owner);
    let owners: Vec<UserId> = (0..40).map(|_| user()).collect();

    // Forty new owners, one owner at its limit and one whose video is running, all at once.
    let burst = owners
        .iter()
        .map(|owner| admit(&store, *owner, "1", 2))
        .chain([admit(&store, busy, "3", 2), admit(&store, joiner, "7", 5)]);
    let outcomes = join_all(burst).await;

    let created: Vec<TaskId> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Admission::Created(id) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 40, "{outcomes:?}");
    assert_eq!(outcomes[40], Admission::Limited(2));
    assert_eq!(outcomes[41], Admission::Running(running));
    for (owner, id) in owners.iter().zip(&created) {
        assert_eq!(store.task(*id).await.unwrap().unwrap().owner, owner.as_uuid(), "each its owner's task");
    }
    let commits = commits(&store, &created).await;
    assert!(commits <= 2, "forty submissions took {commits} commits");
}

#[tokio::test]
async fn a_submission_postgres_refuses_fails_alone_and_the_rest_of_its_batch_is_admitted() {
    let store = store().await;
    let language = Language::parse("de").unwrap();
    let links: Vec<_> = (0..5).map(|n| url(&format!("1{n}"))).collect();
    let submissions: Vec<(NewTask<'_>, TaskUpdate)> = links
        .iter()
        .enumerate()
        .map(|(n, link)| {
            let new = NewTask { id: TaskId::new(), owner: user(), url: link, language: &language };
            let mut pending = TaskUpdate::pending(new.id);
            if n == 2 {
                // Postgres takes no NUL in text: this one's statement fails, whoever it is with.
                pending.message = Some("wait\0ing".into());
            }
            (new, pending)
        })
        .collect();

    let outcomes =
        join_all(submissions.iter().map(|(new, pending)| store.admit_task(new, 5, pending, Uuid::new_v4())))
            .await;

    assert!(outcomes[2].is_err(), "{outcomes:?}");
    for n in [0, 1, 3, 4] {
        assert_eq!(outcomes[n].as_ref().unwrap(), &Admission::Created(submissions[n].0.id), "{n}");
    }
}
