//! The fleet's queue sizes in one round trip, and the short lease (`p:reporter`, a string
//! holding a worker id) that picks the one worker exporting them, so they are not summed N times.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::{Bus, BusError, now_ms};

/// Takes or renews the reporter lease.
static REPORTER: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/reporter.lua")));

/// Gives the reporter lease up if `worker` holds it.
static STEP_DOWN: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/step_down.lua")));

/// How many jobs wait where, and how many workers are alive, read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSizes {
    /// Jobs ready to run (`p:queue`).
    pub queued: u64,
    /// Retries waiting until they are due (`p:delayed`).
    pub delayed: u64,
    /// Dead-lettered jobs (`p:dead`).
    pub dead: u64,
    /// Workers whose last heartbeat is at most `alive_within` old (`p:workers`).
    pub workers_alive: u64,
}

impl Bus {
    /// The four sizes in one pipelined round trip.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn queue_sizes(&self, alive_within: Duration) -> Result<QueueSizes, BusError> {
        let mut conn = self.conn().await?;
        let since = now_ms().saturating_sub(alive_within.as_millis() as u64);
        let (queued, delayed, dead, workers_alive): (u64, u64, u64, u64) = redis::pipe()
            .llen(self.key(&["queue"]))
            .zcard(self.key(&["delayed"]))
            .llen(self.key(&["dead"]))
            .zcount(self.key(&["workers"]), since, "+inf")
            .query_async(&mut conn)
            .await?;
        Ok(QueueSizes { queued, delayed, dead, workers_alive })
    }

    /// Takes the fleet reporter lease for `lease`, or renews it when `worker` holds it
    /// already. Returns whether `worker` holds it now.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure (the caller then stops reporting: the lease may lapse).
    pub async fn hold_reporter(&self, worker: &str, lease: Duration) -> Result<bool, BusError> {
        let mut conn = self.conn().await?;
        let held: i64 = REPORTER
            .key(self.key(&["reporter"]))
            .arg(worker)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }

    /// Gives the reporter lease up if `worker` holds it (a worker leaving), so another takes it
    /// at its next maintenance pass instead of when the lease lapses.
    ///
    /// # Errors
    /// [`BusError`] on Redis failure.
    pub async fn step_down_reporter(&self, worker: &str) -> Result<(), BusError> {
        let mut conn = self.conn().await?;
        STEP_DOWN.key(self.key(&["reporter"])).arg(worker).invoke_async::<i64>(&mut conn).await?;
        Ok(())
    }
}
