//! Per-user counters of things held open on this process: sockets, and requests in flight.
//! A slot is taken before the work starts and given back when its guard drops, however the
//! work ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use protocol::UserId;

/// Per-user counts of one kind of slot (cheap to clone; clones share the counts).
#[derive(Debug, Clone, Default)]
pub struct UserSlots {
    counts: Arc<Mutex<HashMap<UserId, u32>>>,
}

/// One of a user's slots; freed on drop.
#[derive(Debug)]
pub struct UserSlot {
    slots: UserSlots,
    user: UserId,
}

impl UserSlots {
    /// Takes a slot if the user holds fewer than `max` here.
    pub fn try_acquire(&self, user: UserId, max: u32) -> Option<UserSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(user).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(UserSlot { slots: self.clone(), user })
    }

    /// Slots the user holds here.
    pub fn count(&self, user: UserId) -> u32 {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).get(&user).copied().unwrap_or(0)
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// The per-user cap on HTTP requests in flight (an app-data item; absent means no cap).
///
/// The slot is taken when the user is authenticated, before the body is read, so one token
/// cannot hold more than `max` slow uploads or long polls open at once.
#[derive(Debug, Clone, Default)]
pub struct RequestSlots {
    /// The counts.
    pub slots: UserSlots,
    /// `api.max_requests_per_user`.
    pub max: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_user_and_freed_on_drop() {
        let slots = UserSlots::default();
        let (alice, bob) = (UserId::from_uuid(uuid::Uuid::new_v4()), UserId::from_uuid(uuid::Uuid::new_v4()));
        let a1 = slots.try_acquire(alice, 2).unwrap();
        let _a2 = slots.try_acquire(alice, 2).unwrap();
        assert!(slots.try_acquire(alice, 2).is_none(), "third slot refused");
        assert!(slots.try_acquire(bob, 2).is_some(), "other users are not affected");
        drop(a1);
        assert_eq!(slots.count(alice), 1);
        assert!(slots.try_acquire(alice, 2).is_some());
    }
}
