//! In-memory fan-out of task events to this process's sockets and long-polls.
//!
//! The gateway holds ONE Redis pub/sub subscription ([`tasks::Feed`]); [`Hub::run`] consumes it and
//! routes each event by task id to the sockets watching that task. Every socket has a bounded
//! queue of raw JSON messages (`Arc<str>`, shared, never re-serialized per socket). A socket
//! whose queue is full is a slow reader: it is removed and its
//! [`Subscription::overflowed`] fires, so the socket closes with
//! [`protocol::wire::CLOSE_SLOW_READER`] and the client resumes with `?since=`.
//!
//! When the feed reports that it reconnected to Redis, pub/sub messages may have been lost, so
//! every subscriber gets [`Delivery::Resync`] and re-reads the event log after its last seq.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

#[cfg(test)]
use protocol::UserId;
use protocol::{Event, TaskId};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::metrics;
use crate::polled::Polled;

/// What a socket subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A logged event of the task; its JSON is forwarded as-is, shared by every subscriber.
    Event(Event),
    /// Events may have been missed (Redis reconnected): re-read the log after the last seq.
    Resync,
}

/// One socket's bounded queue, shared by the hub (writer) and the socket (reader).
///
/// Deliberately small: an idle socket holds one of these for its whole life, so it costs about a
/// hundred bytes (the deque allocates only while messages wait), where a `tokio::sync::mpsc`
/// channel with its first block of slots costs about 1.5 KiB.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
}

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<Delivery>,
    /// The reader waiting for an item.
    reader: Option<Waker>,
    /// A task waiting for the overflow (a socket stuck in a write).
    overflow_waiter: Option<Waker>,
    /// The queue was full when the hub offered a message: the subscriber was dropped.
    overflowed: bool,
    /// The reader is gone.
    closed: bool,
}

/// The result of offering a delivery to a queue.
enum Offer {
    Queued,
    Overflowed,
    Closed,
}

impl Queue {
    fn new() -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(QueueState::default()) })
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn offer(&self, delivery: &Delivery, capacity: usize) -> Offer {
        let mut state = self.lock();
        if state.closed {
            return Offer::Closed;
        }
        if state.items.len() >= capacity {
            state.overflowed = true;
            // Queued messages are still readable; then recv() ends.
            wake(state.reader.take());
            wake(state.overflow_waiter.take());
            return Offer::Overflowed;
        }
        state.items.push_back(delivery.clone());
        wake(state.reader.take());
        Offer::Queued
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

struct Subscriber {
    id: u64,
    queue: Arc<Queue>,
}

struct Entry {
    /// Usually one socket per task: a vector beats a map here.
    subscribers: Vec<Subscriber>,
    /// Bumped on every event or resync of the task; long-polls wait on it. Made on the first
    /// long-poll only: sockets do not need it.
    version: Option<watch::Sender<u64>>,
}

impl Entry {
    fn new() -> Self {
        Self { subscribers: Vec::new(), version: None }
    }

    fn is_idle(&self) -> bool {
        self.subscribers.is_empty() && self.version.as_ref().is_none_or(|v| v.receiver_count() == 0)
    }

    fn bump(&self) {
        if let Some(version) = &self.version {
            version.send_modify(|v| *v = v.wrapping_add(1));
        }
    }
}

struct Inner {
    tasks: Mutex<HashMap<TaskId, Entry>>,
    /// The latest events of polled tasks, kept current from the same feed.
    polled: Polled,
    next_id: AtomicU64,
    capacity: usize,
}

/// The fan-out (cheap to clone).
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("tasks", &self.lock().len()).finish()
    }
}

impl Hub {
    /// A hub whose subscribers queue at most `capacity` messages each.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                tasks: Mutex::new(HashMap::new()),
                polled: Polled::default(),
                next_id: AtomicU64::new(1),
                capacity: capacity.max(1),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TaskId, Entry>> {
        // Nothing under this lock can panic halfway through an update; a poisoned map is usable.
        self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The polled tasks' latest events, which this hub keeps current.
    pub fn polled(&self) -> &Polled {
        &self.inner.polled
    }

    /// Registers a socket for a task's events. Subscribe BEFORE reading the log, then drop
    /// deliveries whose seq you already sent: that way nothing falls in between.
    pub fn subscribe(&self, task_id: TaskId) -> Subscription {
        let queue = Queue::new();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut tasks = self.lock();
        let subscribers = &mut tasks.entry(task_id).or_insert_with(Entry::new).subscribers;
        subscribers.reserve_exact(1);
        subscribers.push(Subscriber { id, queue: queue.clone() });
        drop(tasks);
        Subscription { hub: self.clone(), task_id, id, queue }
    }

    /// Registers a long-poll: [`Waiter::changed`] returns after the task's next event. Register
    /// BEFORE reading the snapshot.
    pub fn waiter(&self, task_id: TaskId) -> Waiter {
        let mut tasks = self.lock();
        let entry = tasks.entry(task_id).or_insert_with(Entry::new);
        let mut rx = entry.version.get_or_insert_with(|| watch::Sender::new(0)).subscribe();
        drop(tasks);
        rx.mark_unchanged();
        Waiter { hub: self.clone(), task_id, rx: Some(rx) }
    }

    /// Routes one event to the task's subscribers and waiters.
    pub fn publish(&self, task_id: TaskId, event: Event) {
        if event.is_terminal() {
            metrics::task_finished(event.state, event.error.as_deref());
        }
        // Before the long-polls wake: one woken by this event finds it there.
        self.inner.polled.offer(task_id, &event);
        let mut tasks = self.lock();
        let Some(entry) = tasks.get_mut(&task_id) else { return };
        entry.bump();
        let delivery = Delivery::Event(event);
        self.offer(entry, &delivery);
        if entry.is_idle() {
            tasks.remove(&task_id);
        }
    }

    /// Tells every subscriber and waiter to re-read the log (after a Redis reconnect).
    pub fn resync_all(&self) {
        self.inner.polled.clear();
        let mut tasks = self.lock();
        for entry in tasks.values_mut() {
            entry.bump();
            self.offer(entry, &Delivery::Resync);
        }
        tasks.retain(|_, entry| !entry.is_idle());
    }

    fn offer(&self, entry: &mut Entry, delivery: &Delivery) {
        entry.subscribers.retain(|sub| match sub.queue.offer(delivery, self.inner.capacity) {
            Offer::Queued => true,
            Offer::Overflowed => {
                metrics::slow_reader();
                false
            }
            Offer::Closed => false,
        });
    }

    /// Tasks with at least one subscriber or waiter here.
    pub fn watched_tasks(&self) -> usize {
        self.lock().len()
    }

    /// Consumes the feed until `shutdown`: every event is routed, every reconnect resyncs.
    pub async fn run(self, mut feed: tasks::Feed, shutdown: CancellationToken) {
        loop {
            let item = tokio::select! {
                () = shutdown.cancelled() => break,
                item = feed.next() => item,
            };
            match item {
                tasks::FeedItem::Event(task_id, event) => self.publish(task_id, event),
                // Cancellations travel on another channel, for workers; nothing to route here.
                tasks::FeedItem::Cancelled(_) => {}
                tasks::FeedItem::Resynced => {
                    tracing::info!(tasks = self.watched_tasks(), "event feed reconnected; resyncing sockets");
                    metrics::feed_resynced();
                    self.resync_all();
                }
            }
        }
        tracing::debug!("hub stopped");
    }

    fn unsubscribe(&self, task_id: TaskId, id: u64) {
        let mut tasks = self.lock();
        if let Some(entry) = tasks.get_mut(&task_id) {
            entry.subscribers.retain(|sub| sub.id != id);
            if entry.is_idle() {
                tasks.remove(&task_id);
            }
        }
    }

    fn forget_waiter(&self, task_id: TaskId) {
        let mut tasks = self.lock();
        if tasks.get(&task_id).is_some_and(Entry::is_idle) {
            tasks.remove(&task_id);
        }
    }
}

/// A socket's registration; unregisters on drop.
pub struct Subscription {
    hub: Hub,
    task_id: TaskId,
    id: u64,
    queue: Arc<Queue>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("task_id", &self.task_id).field("id", &self.id).finish()
    }
}

impl Subscription {
    /// The next delivery. `None` only after the subscriber was dropped for overflowing (and
    /// everything queued before that was read).
    pub async fn recv(&mut self) -> Option<Delivery> {
        poll_fn(|cx| {
            let mut state = self.queue.lock();
            if let Some(delivery) = state.items.pop_front() {
                return Poll::Ready(Some(delivery));
            }
            if state.overflowed {
                return Poll::Ready(None);
            }
            if !state.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                state.reader = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// Resolves when the queue overflowed and the hub dropped this subscriber.
    pub async fn overflowed(&self) {
        self.overflow_signal().fired().await;
    }

    /// True once the queue overflowed.
    pub fn is_overflowed(&self) -> bool {
        self.queue.lock().overflowed
    }

    /// A handle that fires when the queue overflows (to stop a stuck write).
    pub fn overflow_signal(&self) -> OverflowSignal {
        OverflowSignal { queue: Some(self.queue.clone()) }
    }

    #[cfg(test)]
    fn try_recv(&mut self) -> Option<Delivery> {
        self.queue.lock().items.pop_front()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        {
            let mut state = self.queue.lock();
            state.closed = true;
            state.items.clear();
        }
        self.hub.unsubscribe(self.task_id, self.id);
    }
}

/// Fires when a socket's queue overflows. One task at a time may wait on it (the socket's own).
#[derive(Debug, Clone, Default)]
pub struct OverflowSignal {
    queue: Option<Arc<Queue>>,
}

impl OverflowSignal {
    /// A signal that never fires (before the socket subscribed).
    pub fn never() -> Self {
        Self::default()
    }

    /// Resolves once the queue overflowed.
    pub async fn fired(&self) {
        let Some(queue) = &self.queue else { return std::future::pending().await };
        poll_fn(|cx| {
            let mut state = queue.lock();
            if state.overflowed {
                return Poll::Ready(());
            }
            if !state.overflow_waiter.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                state.overflow_waiter = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
    }
}

/// A long-poll's registration; unregisters on drop.
#[derive(Debug)]
pub struct Waiter {
    hub: Hub,
    task_id: TaskId,
    rx: Option<watch::Receiver<u64>>,
}

impl Waiter {
    /// Returns after the task's next event or resync since the last call (or registration).
    pub async fn changed(&mut self) {
        match self.rx.as_mut() {
            Some(rx) => {
                if rx.changed().await.is_err() {
                    // The entry is gone only when nobody holds it: cannot happen while we do.
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // Drop the receiver first so the entry's receiver count no longer includes it.
        self.rx.take();
        self.hub.forget_waiter(self.task_id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::scrape::value;

    fn hub(capacity: usize) -> Hub {
        metrics::install();
        Hub::new(capacity)
    }

    fn event(seq: u64) -> Event {
        Event::decode(format!("{{\"seq\":{seq},\"status\":\"PROGRESS\"}}")).unwrap()
    }

    async fn next(sub: &mut Subscription) -> Delivery {
        tokio::time::timeout(Duration::from_secs(1), sub.recv()).await.expect("a delivery").expect("open")
    }

    #[tokio::test]
    async fn events_reach_only_the_subscribers_of_their_task() {
        let hub = hub(8);
        let (a, b) = (TaskId::new(), TaskId::new());
        let mut sub_a1 = hub.subscribe(a);
        let mut sub_a2 = hub.subscribe(a);
        let mut sub_b = hub.subscribe(b);
        hub.publish(a, event(1));
        hub.publish(b, event(7));
        for sub in [&mut sub_a1, &mut sub_a2] {
            assert_eq!(next(sub).await, Delivery::Event(event(1)));
        }
        assert_eq!(next(&mut sub_b).await, Delivery::Event(event(7)));
        assert!(sub_a1.try_recv().is_none(), "nothing else for a");
    }

    #[tokio::test]
    async fn the_message_is_shared_not_copied() {
        let hub = hub(8);
        let task = TaskId::new();
        let (mut s1, mut s2) = (hub.subscribe(task), hub.subscribe(task));
        let sent = event(1);
        hub.publish(task, sent.clone());
        let (Delivery::Event(e1), Delivery::Event(e2)) = (next(&mut s1).await, next(&mut s2).await) else {
            panic!("events expected")
        };
        assert!(Arc::ptr_eq(&e1.json, &e2.json) && Arc::ptr_eq(&e1.json, &sent.json));
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_slow_reader_and_keeps_the_others() {
        let hub = hub(2);
        let slow_readers = value("relay_ws_slow_reader_closes_total");
        let task = TaskId::new();
        let slow = hub.subscribe(task);
        let mut fast = hub.subscribe(task);
        for seq in 1..=3 {
            hub.publish(task, event(seq));
            assert_eq!(next(&mut fast).await, Delivery::Event(event(seq)));
        }
        assert!(slow.is_overflowed());
        tokio::time::timeout(Duration::from_secs(1), slow.overflowed()).await.unwrap();
        assert_eq!(value("relay_ws_slow_reader_closes_total"), slow_readers + 1.0);
        hub.publish(task, event(4));
        assert_eq!(next(&mut fast).await, Delivery::Event(event(4)));
    }

    #[tokio::test]
    async fn resync_reaches_every_subscriber_and_waiter() {
        let hub = hub(4);
        let (a, b) = (TaskId::new(), TaskId::new());
        let mut sub_a = hub.subscribe(a);
        let mut sub_b = hub.subscribe(b);
        let mut waiter = hub.waiter(a);
        hub.resync_all();
        assert_eq!(next(&mut sub_a).await, Delivery::Resync);
        assert_eq!(next(&mut sub_b).await, Delivery::Resync);
        tokio::time::timeout(Duration::from_secs(1), waiter.changed()).await.unwrap();
    }

    #[tokio::test]
    async fn a_waiter_wakes_on_the_next_event_only() {
        let hub = hub(4);
        let task = TaskId::new();
        hub.publish(task, event(1));
        let mut waiter = hub.waiter(task);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), waiter.changed()).await.is_err(),
            "an event before registering does not count"
        );
        hub.publish(task, event(2));
        tokio::time::timeout(Duration::from_secs(1), waiter.changed()).await.unwrap();
    }

    #[tokio::test]
    async fn a_polled_slot_has_the_event_by_the_time_a_long_poll_wakes_and_loses_it_on_resync() {
        let hub = hub(4);
        let (task, owner) = (TaskId::new(), UserId::from_uuid(uuid::Uuid::now_v7()));
        let ticket = hub.polled().watch(task);
        hub.polled().fill(task, ticket, owner, event(1));
        let mut waiter = hub.waiter(task);
        hub.publish(task, event(2));
        tokio::time::timeout(Duration::from_secs(1), waiter.changed()).await.unwrap();
        assert_eq!(hub.polled().get(task, owner).map(|e| e.seq), Some(2));
        hub.resync_all();
        assert!(hub.polled().get(task, owner).is_none(), "after a reconnect the store is read again");
    }

    #[tokio::test]
    async fn dropping_every_handle_forgets_the_task() {
        let hub = hub(4);
        let task = TaskId::new();
        let sub = hub.subscribe(task);
        let waiter = hub.waiter(task);
        assert_eq!(hub.watched_tasks(), 1);
        drop(sub);
        assert_eq!(hub.watched_tasks(), 1, "the waiter still watches");
        drop(waiter);
        assert_eq!(hub.watched_tasks(), 0);
        hub.publish(task, event(1));
        assert_eq!(hub.watched_tasks(), 0, "events for unwatched tasks leave nothing behind");
    }

    #[tokio::test]
    async fn terminal_events_are_counted_by_outcome() {
        let hub = hub(4);
        let finished = |outcome: &str| value(&format!("relay_tasks_finished_total{{outcome=\"{outcome}\"}}"));
        let before = [finished("success"), finished("cancelled"), finished("failure")];
        let task = TaskId::new();
        for json in [
            r#"{"status":"SUCCESS","seq":5}"#,
            r#"{"status":"FAILURE","error":"cancelled","seq":6}"#,
            r#"{"status":"FAILURE","error":"not_a_recipe","seq":7}"#,
            r#"{"status":"PROGRESS","error":"not_a_recipe","seq":8}"#,
        ] {
            hub.publish(task, Event::decode(json).unwrap());
        }
        let after = [finished("success"), finished("cancelled"), finished("failure")];
        assert_eq!(after.map(|n| n as u64), before.map(|n| n as u64 + 1), "success, cancelled, failure");
    }
}
