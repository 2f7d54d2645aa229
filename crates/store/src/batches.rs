//! Writes in batches: the requests that arrive while one batch is in Postgres go together in
//! the next, one statement and one commit for all. Nothing waits to fill a batch: a request
//! that finds none running goes at once, alone; a burst of a thousand takes a few dozen commits
//! instead of a thousand. Admissions go this way (`admissions`).
//!
//! Requests with the same key (for admissions, the owner) never share a batch: the second waits for the
//! next, so a batch's rows cannot collide and each behaves as it would alone. A batch that fails
//! is retried one request at a time, so one bad request fails alone.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{Store, StoreError};

/// Requests in one batch at most: a batch holds its rows' locks until it commits.
const MAX_BATCH: usize = 64;

/// A write that can go in a batch.
pub(crate) trait Batch: Sized + Send + Sync + 'static {
    /// What the caller gets back.
    type Answer: Send + 'static;

    /// Requests with the same key go in different batches.
    fn key(&self) -> Uuid;

    /// The store's queue of these requests.
    fn queue(store: &Store) -> &Batches<Self>;

    /// Writes `batch` in one statement: one answer per request, in its order.
    fn write(
        store: &Store,
        batch: &[&Self],
    ) -> impl Future<Output = Result<Vec<Answer<Self>>, StoreError>> + Send;

    /// Writes one request alone (its batch failed).
    fn write_one(store: &Store, request: &Self) -> impl Future<Output = Answer<Self>> + Send;
}

/// One field of every request in `batch`: a column of the batch's statement.
pub(crate) fn column<B, T>(batch: &[&B], field: impl Fn(&B) -> T) -> Vec<T> {
    batch.iter().map(|request| field(request)).collect()
}

/// A request's outcome.
pub(crate) type Answer<B> = Result<<B as Batch>::Answer, StoreError>;

struct Request<B: Batch> {
    input: B,
    reply: oneshot::Sender<Answer<B>>,
}

/// The requests of one kind waiting for a batch, and whether one is running.
pub(crate) struct Batches<B: Batch> {
    queue: Mutex<Queue<B>>,
}

impl<B: Batch> Default for Batches<B> {
    fn default() -> Self {
        Self { queue: Mutex::new(Queue { waiting: VecDeque::new(), running: false }) }
    }
}

impl<B: Batch> std::fmt::Debug for Batches<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches").finish_non_exhaustive()
    }
}

impl<B: Batch> Batches<B> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<B>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Queue<B: Batch> {
    waiting: VecDeque<Request<B>>,
    running: bool,
}

impl<B: Batch> Queue<B> {
    /// The next batch: the oldest requests, one per key, of callers still waiting (one that
    /// gave up is not written: nobody would act on it).
    fn next_batch(&mut self) -> Vec<Request<B>> {
        self.waiting.retain(|request| !request.reply.is_closed());
        let mut batch: Vec<Request<B>> = Vec::new();
        let mut index = 0;
        while index < self.waiting.len() && batch.len() < MAX_BATCH {
            let key = self.waiting[index].input.key();
            if batch.iter().any(|request| request.input.key() == key) {
                index += 1;
            } else if let Some(request) = self.waiting.remove(index) {
                batch.push(request);
            }
        }
        batch
    }
}

/// Held by the batches' task: should it end before the queue ran dry (a panic, or its runtime
/// shutting down), the queue is marked idle, so the next request starts a task again, and its
/// waiting callers get an error rather than wait for ever.
struct Running<'a, B: Batch> {
    batches: &'a Batches<B>,
    finished: bool,
}

impl<B: Batch> Drop for Running<'_, B> {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.batches.lock();
            queue.running = false;
            queue.waiting.clear();
        }
    }
}

impl Store {
    /// Writes `input` in the next batch of its kind.
    pub(crate) async fn in_batch<B: Batch>(&self, input: B) -> Answer<B> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = B::queue(self).lock();
            queue.waiting.push_back(Request { input, reply });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            let store = self.clone();
            tokio::spawn(async move { store.run_batches::<B>().await });
        }
        answer.await.map_err(|_| StoreError::Corrupt("a batch ended without an answer".into()))?
    }

    /// Runs batches until no request waits. A task of its own, so a caller that gives up does
    /// not take the others' batch with it.
    async fn run_batches<B: Batch>(&self) {
        let mut running = Running { batches: B::queue(self), finished: false };
        loop {
            let batch = {
                let mut queue = running.batches.lock();
                let batch = queue.next_batch();
                if batch.is_empty() {
                    // Under the lock, so the next request finds the queue idle and starts one.
                    queue.running = false;
                    drop(queue);
                    running.finished = true;
                    return;
                }
                batch
            };
            self.run_batch(batch).await;
        }
    }

    async fn run_batch<B: Batch>(&self, batch: Vec<Request<B>>) {
        let inputs: Vec<&B> = batch.iter().map(|request| &request.input).collect();
        match B::write(self, &inputs).await {
            Ok(answers) => {
                for (request, answer) in batch.into_iter().zip(answers) {
                    // A caller that gave up meanwhile: the reconciler finds what it left.
                    let _ = request.reply.send(answer);
                }
            }
            Err(error) if batch.len() > 1 => {
                tracing::warn!(error = %error, requests = batch.len(), "a batch failed; writing its requests one at a time");
                let one_by_one = batch.into_iter().map(|request| async move {
                    let answer = B::write_one(self, &request.input).await;
                    let _ = request.reply.send(answer);
                });
                futures_util::future::join_all(one_by_one).await;
            }
            Err(error) => {
                if let Some(request) = batch.into_iter().next() {
                    let _ = request.reply.send(Err(error));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Keyed(u128);

    impl Batch for Keyed {
        type Answer = ();

        fn key(&self) -> Uuid {
            Uuid::from_u128(self.0)
        }

        fn queue(_: &Store) -> &Batches<Self> {
            unreachable!("the queue is driven by hand here")
        }

        async fn write(_: &Store, _: &[&Self]) -> Result<Vec<Answer<Self>>, StoreError> {
            unreachable!("nothing is written here")
        }

        async fn write_one(_: &Store, _: &Self) -> Answer<Self> {
            unreachable!("nothing is written here")
        }
    }

    fn queue(keys: impl IntoIterator<Item = u128>) -> (Queue<Keyed>, Vec<oneshot::Receiver<Answer<Keyed>>>) {
        let mut queue = Queue { waiting: VecDeque::new(), running: false };
        let mut answers = Vec::new();
        for key in keys {
            let (reply, answer) = oneshot::channel();
            queue.waiting.push_back(Request { input: Keyed(key), reply });
            answers.push(answer);
        }
        (queue, answers)
    }

    fn keys(batch: &[Request<Keyed>]) -> Vec<u128> {
        batch.iter().map(|request| request.input.0).collect()
    }

    #[test]
    fn a_batch_takes_the_oldest_request_of_each_key_and_leaves_the_rest_in_order() {
        let (mut queue, _answers) = queue([1, 2, 1, 3, 2, 1]);

        assert_eq!(keys(&queue.next_batch()), [1, 2, 3]);
        assert_eq!(keys(&queue.next_batch()), [1, 2]);
        assert_eq!(keys(&queue.next_batch()), [1]);
        assert!(queue.next_batch().is_empty());
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_requests_and_none_whose_caller_gave_up() {
        let max = MAX_BATCH as u128;
        let (mut queue, mut answers) = queue(0..max + 3);
        drop(answers.remove(0));

        assert_eq!(keys(&queue.next_batch()), (1..=max).collect::<Vec<_>>());
        assert_eq!(keys(&queue.next_batch()), [max + 1, max + 2]);
    }
}
