//! Admissions in batches (see `batches`): the submissions that arrive while one batch is in
//! Postgres go in one `admit_tasks` call, one commit for all. A batch holds one submission per
//! owner (an owner's second waits for the next), so the in-flight limit and the joining of the
//! owner's running task work per batch as they do one at a time.

use protocol::{TaskId, TaskUpdate};
use uuid::Uuid;

use crate::batches::{Answer, Batch, Batches, column};
use crate::tasks::{Admission, seq_param, seq_value};
use crate::{FIRST_CEILING, NewTask, Store, StoreError, video_key};

/// One submission as `admit_tasks` takes it.
#[derive(Debug)]
pub(crate) struct Input {
    pub(crate) id: Uuid,
    pub(crate) owner: Uuid,
    pub(crate) url: String,
    pub(crate) video_key: String,
    pub(crate) video_id: Option<String>,
    pub(crate) language: String,
    pub(crate) max_in_flight: i32,
    pub(crate) message: Option<String>,
    pub(crate) claim_token: Uuid,
    /// PENDING as logged (seq 1): the row's snapshot while its first claim runs.
    pub(crate) snapshot: String,
}

impl Input {
    pub(crate) fn new(
        new: &NewTask<'_>,
        max_in_flight: u32,
        pending: &TaskUpdate,
        first_claim: Uuid,
    ) -> Self {
        Self {
            id: new.id.as_uuid(),
            owner: new.owner.as_uuid(),
            url: new.url.as_str().to_owned(),
            video_key: video_key(new.url),
            video_id: new.url.video_id().map(str::to_owned),
            language: new.language.as_str().to_owned(),
            max_in_flight: i32::try_from(max_in_flight).unwrap_or(i32::MAX),
            message: pending.message.clone(),
            claim_token: first_claim,
            snapshot: TaskUpdate { seq: 1, ..pending.clone() }.logged_json(),
        }
    }
}

/// A submission goes in a batch with the others of its moment.
impl Batch for Input {
    type Answer = Admission;

    fn key(&self) -> Uuid {
        self.owner
    }

    fn queue(store: &Store) -> &Batches<Self> {
        &store.admissions
    }

    async fn write(store: &Store, batch: &[&Self]) -> Result<Vec<Answer<Self>>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT request AS "request!", outcome AS "outcome!", task_id, unfinished AS "unfinished!"
               FROM admit_tasks($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
            &column(batch, |i| i.id),
            &column(batch, |i| i.owner),
            &column(batch, |i| i.url.clone()),
            &column(batch, |i| i.video_key.clone()),
            &column(batch, |i| i.video_id.clone()) as &[Option<String>],
            &column(batch, |i| i.language.clone()),
            &column(batch, |i| i.max_in_flight),
            &column(batch, |i| i.message.clone()) as &[Option<String>],
            &column(batch, |i| i.claim_token),
            seq_param(FIRST_CEILING),
            &column(batch, |i| i.snapshot.clone()),
        )
        .fetch_all(store.db())
        .await?;
        let mut answers = Vec::with_capacity(batch.len());
        for input in batch {
            let row = rows
                .iter()
                .find(|row| row.request == input.id)
                .ok_or_else(|| StoreError::Corrupt(format!("admit_tasks did not answer for {}", input.id)));
            answers.push(match row.and_then(|row| admission(&row.outcome, row.task_id, row.unfinished)) {
                Ok(Some(admission)) => Ok(admission),
                // The running task it was to join finished in between: it is asked again alone.
                Ok(None) => store.admit_one(input).await,
                Err(error) => Err(error),
            });
        }
        Ok(answers)
    }

    async fn write_one(store: &Store, input: &Self) -> Answer<Self> {
        store.admit_one(input).await
    }
}

/// An `admit_task(s)` outcome: `None` for a running task that finished in between.
pub(crate) fn admission(
    outcome: &str,
    task: Option<Uuid>,
    unfinished: i64,
) -> Result<Option<Admission>, StoreError> {
    match (outcome, task) {
        ("limit", _) => Ok(Some(Admission::Limited(seq_value(unfinished)))),
        ("created", Some(id)) => Ok(Some(Admission::Created(TaskId::from_uuid(id)))),
        ("running", Some(id)) => Ok(Some(Admission::Running(TaskId::from_uuid(id)))),
        ("running", None) => Ok(None),
        (other, _) => Err(StoreError::Corrupt(format!("admit_task answered {other:?}"))),
    }
}
