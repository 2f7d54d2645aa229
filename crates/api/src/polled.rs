//! The latest event of the tasks being polled, kept current by the hub's feed, so a repeated
//! `GET /task/{id}` (the app's fallback while its socket is down polls every few seconds) is
//! answered from memory instead of a Redis round trip each time.
//!
//! Why it is never staler than a read of the store: a slot is registered BEFORE the store is
//! read (as a socket subscribes before it reads the log), the hub offers it every event of its
//! task from then on, and the slot keeps the higher seq of the two. When the feed reconnects
//! (events may have been lost meanwhile) every slot is dropped, so the next poll reads the store
//! again. A slot answers only the owner the store's read vouched for; anyone else reads the
//! store, which answers 404. A slot nobody polled for [`IDLE`] is dropped, so memory follows
//! the tasks actually being polled.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use protocol::{Event, TaskId, UserId};

/// How long a slot outlives its last poll. The app polls every few seconds; a minute keeps
/// a slot across a slow client's pauses without holding tasks nobody asks about.
const IDLE: Duration = Duration::from_secs(60);

/// The polled tasks' latest events (one per process, inside the [`crate::hub::Hub`]).
#[derive(Debug)]
pub struct Polled {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    slots: HashMap<TaskId, Slot>,
    next_ticket: u64,
    last_sweep: Instant,
}

/// Which registration a read belongs to: a read that began before its slot was dropped (and
/// maybe registered again) must not fill the new slot, whose events it may predate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

#[derive(Debug)]
struct Slot {
    ticket: Ticket,
    /// Set by the first successful read; until then the slot answers nobody.
    owner: Option<UserId>,
    /// The newest event seen, from the store or the feed.
    event: Option<Event>,
    polled: Instant,
}

impl Default for Polled {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner { slots: HashMap::new(), next_ticket: 0, last_sweep: Instant::now() }),
        }
    }
}

impl Polled {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing under this lock can panic halfway through an update; a poisoned map is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The task's latest event, when a slot holds it for this owner.
    pub fn get(&self, task: TaskId, owner: UserId) -> Option<Event> {
        let mut inner = self.lock();
        let slot = inner.slots.get_mut(&task)?;
        if slot.owner != Some(owner) {
            return None;
        }
        let event = slot.event.clone()?;
        slot.polled = Instant::now();
        Some(event)
    }

    /// Registers a slot for the task (if it has none) before the caller reads the store.
    pub fn watch(&self, task: TaskId) -> Ticket {
        let now = Instant::now();
        let mut inner = self.lock();
        if now.duration_since(inner.last_sweep) >= IDLE / 2 {
            inner.slots.retain(|_, slot| now.duration_since(slot.polled) < IDLE);
            inner.last_sweep = now;
        }
        let fresh = Ticket(inner.next_ticket);
        let ticket = inner
            .slots
            .entry(task)
            .or_insert(Slot { ticket: fresh, owner: None, event: None, polled: now })
            .ticket;
        if ticket == fresh {
            inner.next_ticket += 1;
        }
        ticket
    }

    /// What the store answered `owner` after [`Polled::watch`]: the slot learns its owner and
    /// keeps the newer event. Returns the newer of the read and what the feed brought meanwhile.
    /// When the slot was dropped meanwhile (a resync) nothing is kept.
    pub fn fill(&self, task: TaskId, ticket: Ticket, owner: UserId, read: Event) -> Event {
        let mut inner = self.lock();
        let Some(slot) = inner.slots.get_mut(&task).filter(|slot| slot.ticket == ticket) else { return read };
        match slot.owner {
            Some(known) if known != owner => return read,
            _ => slot.owner = Some(owner),
        }
        match &slot.event {
            Some(event) if event.seq > read.seq => event.clone(),
            _ => {
                slot.event = Some(read.clone());
                read
            }
        }
    }

    /// The read after [`Polled::watch`] failed (missing, foreign or unavailable): a slot that
    /// no read has vouched for is dropped.
    pub fn abandon(&self, task: TaskId, ticket: Ticket) {
        let mut inner = self.lock();
        if inner.slots.get(&task).is_some_and(|slot| slot.ticket == ticket && slot.owner.is_none()) {
            inner.slots.remove(&task);
        }
    }

    /// An event from the feed, or one this gateway has just logged (a cancel, so the client's
    /// next poll sees its own change before the feed brings it): a watched task's slot keeps it
    /// when it is newer.
    pub fn offer(&self, task: TaskId, event: &Event) {
        let mut inner = self.lock();
        let Some(slot) = inner.slots.get_mut(&task) else { return };
        if slot.event.as_ref().is_none_or(|known| known.seq < event.seq) {
            slot.event = Some(event.clone());
        }
    }

    /// Drops every slot (the feed reconnected: events may have been missed).
    pub fn clear(&self) {
        self.lock().slots.clear();
    }

    /// Slots held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// True when no task is being polled.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserId {
        UserId::from_uuid(uuid::Uuid::now_v7())
    }

    fn event(seq: u64) -> Event {
        Event::decode(format!("{{\"seq\":{seq},\"status\":\"PROGRESS\"}}")).unwrap()
    }

    #[test]
    fn a_slot_answers_its_owner_only_after_a_read() {
        let polled = Polled::default();
        let (task, owner, other) = (TaskId::new(), user(), user());
        assert!(polled.get(task, owner).is_none(), "nothing before a read");
        let ticket = polled.watch(task);
        polled.offer(task, &event(1));
        assert!(polled.get(task, owner).is_none(), "no owner until the store has vouched for one");
        polled.fill(task, ticket, owner, event(1));
        assert_eq!(polled.get(task, owner).map(|e| e.seq), Some(1));
        assert!(polled.get(task, other).is_none(), "another user reads the store, which says 404");
    }

    #[test]
    fn an_event_that_arrives_during_the_read_wins_over_the_older_read() {
        let polled = Polled::default();
        let (task, owner) = (TaskId::new(), user());
        let ticket = polled.watch(task);
        // The store was read at seq 2; seq 3 came through the feed before the read returned.
        polled.offer(task, &event(3));
        assert_eq!(polled.fill(task, ticket, owner, event(2)).seq, 3);
        assert_eq!(polled.get(task, owner).map(|e| e.seq), Some(3));
        polled.offer(task, &event(4));
        polled.offer(task, &event(2));
        assert_eq!(polled.get(task, owner).map(|e| e.seq), Some(4), "an older event never replaces a newer");
    }

    #[test]
    fn a_resync_or_a_failed_read_leaves_nothing_to_serve() {
        let polled = Polled::default();
        let (task, owner) = (TaskId::new(), user());
        let ticket = polled.watch(task);
        polled.abandon(task, ticket);
        assert!(polled.is_empty(), "a 404 or 503 keeps no slot");
        let ticket = polled.watch(task);
        polled.fill(task, ticket, owner, event(1));
        polled.clear();
        assert!(polled.get(task, owner).is_none());
        assert_eq!(
            polled.fill(task, ticket, owner, event(1)).seq,
            1,
            "a read after the resync is answered..."
        );
        assert!(polled.get(task, owner).is_none(), "...but not kept: the slot was not registered before it");
    }

    #[test]
    fn a_read_that_began_before_its_slot_was_dropped_does_not_fill_the_next_one() {
        let polled = Polled::default();
        let (task, owner) = (TaskId::new(), user());
        let early = polled.watch(task);
        // The feed reconnects while the read is in flight: the read may predate lost events.
        polled.clear();
        let late = polled.watch(task);
        assert_ne!(early, late);
        assert_eq!(polled.fill(task, early, owner, event(4)).seq, 4);
        assert!(polled.get(task, owner).is_none(), "the early read is not kept");
        assert_eq!(polled.fill(task, late, owner, event(5)).seq, 5);
        assert_eq!(polled.get(task, owner).map(|e| e.seq), Some(5));
        assert_eq!(polled.watch(task), late, "a registered slot keeps its ticket");
    }

    #[test]
    fn slots_nobody_polls_are_swept() {
        let polled = Polled::default();
        let (old, fresh, owner) = (TaskId::new(), TaskId::new(), user());
        let ticket = polled.watch(old);
        polled.fill(old, ticket, owner, event(1));
        {
            let mut inner = polled.lock();
            inner.slots.get_mut(&old).unwrap().polled -= IDLE;
            inner.last_sweep -= IDLE;
        }
        polled.watch(fresh);
        assert!(polled.get(old, owner).is_none(), "swept");
        assert_eq!(polled.len(), 1);
    }
}
