//! The fleet-wide queue sizes the worker holding the reporter lease exports.

use std::time::Duration;

use crate::{TaskError, Tasks};

pub use bus::QueueSizes;

impl Tasks {
    /// Jobs queued, delayed and dead-lettered, and workers that heart-beat within
    /// `alive_within`, read in one Redis round trip.
    ///
    /// # Errors
    /// [`TaskError`] when Redis fails.
    pub async fn queue_sizes(&self, alive_within: Duration) -> Result<QueueSizes, TaskError> {
        Ok(self.bus.queue_sizes(alive_within).await?)
    }

    /// Takes or renews the fleet reporter lease for `worker`: only its holder exports the queue
    /// sizes. Returns whether `worker` holds it now.
    ///
    /// # Errors
    /// [`TaskError`] when Redis fails.
    pub async fn hold_reporter(&self, worker: &str, lease: Duration) -> Result<bool, TaskError> {
        Ok(self.bus.hold_reporter(worker, lease).await?)
    }

    /// Gives the reporter lease up if `worker` holds it.
    ///
    /// # Errors
    /// [`TaskError`] when Redis fails.
    pub async fn step_down_reporter(&self, worker: &str) -> Result<(), TaskError> {
        Ok(self.bus.step_down_reporter(worker).await?)
    }
}
