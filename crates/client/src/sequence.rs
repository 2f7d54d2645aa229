//! Exactly-once, in-order delivery of task updates that may arrive twice or late.
//!
//! The socket (after every reconnect) and the long-poll can both deliver an update the caller
//! has already seen, and a slow poll can answer with an older snapshot than the socket just
//! sent. [`SeqFilter`] keeps the highest `seq` handed out and lets through only newer ones.

use protocol::TaskUpdate;

/// Lets through each `seq` at most once, in increasing order, and nothing after a terminal update.
#[derive(Debug, Clone, Default)]
pub struct SeqFilter {
    last: u64,
    done: bool,
}

impl SeqFilter {
    /// A filter that has already seen everything up to and including `since`.
    pub fn new(since: u64) -> Self {
        Self { last: since, done: false }
    }

    /// The highest `seq` let through (or the starting `since`): what to resume from.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// True once a SUCCESS or FAILURE update was let through.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// True when `update` is new and should be handed to the caller; records it.
    ///
    /// Duplicates and older `seq`s are refused. A gap (`seq` 5 after 2) is let through: the
    /// long-poll only ever sees the latest snapshot, so skipped steps are expected there.
    pub fn accept(&mut self, update: &TaskUpdate) -> bool {
        if self.done || update.seq <= self.last {
            return false;
        }
        self.last = update.seq;
        self.done = update.is_terminal();
        true
    }
}
