//! Admissions in batches: the submissions that arrive while one batch is in Postgres go
//! together in the next, one statement and one commit for all (`admit_tasks`). Nothing waits
//! to fill a batch: a submission that finds none running goes at once, alone; a burst of a
//! thousand takes about a dozen commits instead of a thousand.
//!
//! A batch holds one submission per owner (an owner's second waits for the next batch), so the
//! in-flight limit and the joining of the owner's running task work per batch as they do one at
//! a time. A batch that Postgres refuses is retried one submission at a time, so one bad
//! submission fails alone.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use protocol::TaskUpdate;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::tasks::{Admission, seq_param, seq_value};
use crate::{FIRST_CEILING, NewTask, Store, StoreError, video_key};

/// Submissions in one batch at most: its owners' locks are held until it commits.
const MAX_BATCH: usize = 64;

/// One submission as `admit_tasks` takes it.
#[derive(Debug, Clone)]
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

/// What a batch answered for one submission: `None` when the running task it was to join
/// finished in between (the caller asks again).
type Answer = Result<Option<Admission>, StoreError>;

struct Request {
    input: Input,
    reply: oneshot::Sender<Answer>,
}

/// The submissions waiting for a batch, and whether one is running.
#[derive(Default)]
pub(crate) struct Admissions {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Request>,
    running: bool,
}

impl std::fmt::Debug for Admissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admissions").finish_non_exhaustive()
    }
}

impl Admissions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Queue {
    /// The next batch: the oldest submissions, one per owner, of callers still waiting (one
    /// that gave up is not admitted: nobody would queue its job).
    fn next_batch(&mut self) -> Vec<Request> {
        self.waiting.retain(|request| !request.reply.is_closed());
        let mut batch: Vec<Request> = Vec::new();
        let mut index = 0;
        while index < self.waiting.len() && batch.len() < MAX_BATCH {
            let owner = self.waiting[index].input.owner;
            if batch.iter().any(|request| request.input.owner == owner) {
                index += 1;
            } else if let Some(request) = self.waiting.remove(index) {
                batch.push(request);
            }
        }
        batch
    }
}

/// Held by the batches' task: should it panic, the queue is marked idle and its waiting callers
/// get an error rather than wait for ever.
struct Running<'a>(&'a Admissions);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queue = self.0.lock();
            queue.running = false;
            queue.waiting.clear();
        }
    }
}

impl Store {
    /// Admits `input` in the next batch; `Ok(None)` as [`Answer`].
    pub(crate) async fn admit_in_batch(&self, input: Input) -> Answer {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.admissions.lock();
            queue.waiting.push_back(Request { input, reply });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            let store = self.clone();
            tokio::spawn(async move { store.run_batches().await });
        }
        answer.await.map_err(|_| StoreError::Corrupt("an admission batch ended without an answer".into()))?
    }

    /// Runs batches until no submission waits. A task of its own, so a caller that gives up
    /// does not take the others' batch with it.
    async fn run_batches(&self) {
        let _running = Running(&self.admissions);
        loop {
            let batch = {
                let mut queue = self.admissions.lock();
                let batch = queue.next_batch();
                if batch.is_empty() {
                    // Under the lock, so the next submission finds the queue idle and starts.
                    queue.running = false;
                    return;
                }
                batch
            };
            self.run_batch(batch).await;
        }
    }

    async fn run_batch(&self, batch: Vec<Request>) {
        let answers = match self.admit_batch(&batch).await {
            Ok(answers) => answers,
            Err(error) if batch.len() > 1 => {
                tracing::warn!(error = %error, submissions = batch.len(), "an admission batch failed; admitting its submissions one at a time");
                let one_by_one = batch.into_iter().map(|request| async move {
                    let answer = self.admit_one(&request.input).await.map(Some);
                    let _ = request.reply.send(answer);
                });
                futures_util::future::join_all(one_by_one).await;
                return;
            }
            Err(error) => {
                if let Some(request) = batch.into_iter().next() {
                    let _ = request.reply.send(Err(error));
                }
                return;
            }
        };
        for (request, answer) in batch.into_iter().zip(answers) {
            // The caller may have given up meanwhile; its task then waits for the reconciler.
            let _ = request.reply.send(answer);
        }
    }

    /// One `admit_tasks` call for `batch`; the answers in its order.
    async fn admit_batch(&self, batch: &[Request]) -> Result<Vec<Answer>, StoreError> {
        let inputs = batch.iter().map(|request| &request.input);
        let column = |f: fn(&Input) -> String| inputs.clone().map(f).collect::<Vec<_>>();
        let rows = sqlx::query!(
            r#"SELECT request AS "request!", outcome AS "outcome!", task_id, unfinished AS "unfinished!"
               FROM admit_tasks($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
            &inputs.clone().map(|i| i.id).collect::<Vec<_>>(),
            &inputs.clone().map(|i| i.owner).collect::<Vec<_>>(),
            &column(|i| i.url.clone()),
            &column(|i| i.video_key.clone()),
            &inputs.clone().map(|i| i.video_id.clone()).collect::<Vec<_>>() as &[Option<String>],
            &column(|i| i.language.clone()),
            &inputs.clone().map(|i| i.max_in_flight).collect::<Vec<_>>(),
            &inputs.clone().map(|i| i.message.clone()).collect::<Vec<_>>() as &[Option<String>],
            &inputs.clone().map(|i| i.claim_token).collect::<Vec<_>>(),
            seq_param(FIRST_CEILING),
            &column(|i| i.snapshot.clone()),
        )
        .fetch_all(self.db())
        .await?;
        Ok(batch
            .iter()
            .map(|request| {
                let row = rows.iter().find(|row| row.request == request.input.id).ok_or_else(|| {
                    StoreError::Corrupt(format!("admit_tasks did not answer for {}", request.input.id))
                })?;
                admission(&row.outcome, row.task_id, row.unfinished)
            })
            .collect())
    }
}

/// An `admit_task(s)` outcome: `None` for a running task that finished in between.
pub(crate) fn admission(outcome: &str, task: Option<Uuid>, unfinished: i64) -> Answer {
    use protocol::TaskId;
    match (outcome, task) {
        ("limit", _) => Ok(Some(Admission::Limited(seq_value(unfinished)))),
        ("created", Some(id)) => Ok(Some(Admission::Created(TaskId::from_uuid(id)))),
        ("running", Some(id)) => Ok(Some(Admission::Running(TaskId::from_uuid(id)))),
        ("running", None) => Ok(None),
        (other, _) => Err(StoreError::Corrupt(format!("admit_task answered {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(owner: u128) -> (Request, oneshot::Receiver<Answer>) {
        let (reply, answer) = oneshot::channel();
        let input = Input {
            id: Uuid::new_v4(),
            owner: Uuid::from_u128(owner),
            url: String::new(),
            video_key: String::new(),
            video_id: None,
            language: "en".into(),
            max_in_flight: 1,
            message: None,
            claim_token: Uuid::new_v4(),
            snapshot: String::new(),
        };
        (Request { input, reply }, answer)
    }

    fn owners(batch: &[Request]) -> Vec<u128> {
        batch.iter().map(|request| request.input.owner.as_u128()).collect()
    }

    #[test]
    fn a_batch_takes_the_oldest_submission_of_each_owner_and_leaves_the_rest_in_order() {
        let mut queue = Queue::default();
        let mut answers = Vec::new();
        for owner in [1, 2, 1, 3, 2, 1] {
            let (request, answer) = request(owner);
            queue.waiting.push_back(request);
            answers.push(answer);
        }

        assert_eq!(owners(&queue.next_batch()), [1, 2, 3]);
        assert_eq!(owners(&queue.next_batch()), [1, 2]);
        assert_eq!(owners(&queue.next_batch()), [1]);
        assert!(queue.next_batch().is_empty());
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_submissions_and_none_whose_caller_gave_up() {
        let mut queue = Queue::default();
        let mut answers = Vec::new();
        for owner in 0..(MAX_BATCH as u128 + 3) {
            let (request, answer) = request(owner);
            queue.waiting.push_back(request);
            answers.push(answer);
        }
        drop(answers.remove(0));

        let batch = queue.next_batch();

        assert_eq!(owners(&batch), (1..=MAX_BATCH as u128).collect::<Vec<_>>());
        assert_eq!(owners(&queue.next_batch()), [MAX_BATCH as u128 + 1, MAX_BATCH as u128 + 2]);
    }
}
