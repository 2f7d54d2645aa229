//! [`AppState`]: what every handler reads, built once by [`crate::Application`].

use std::sync::Arc;

use settings::ApiSettings;
use tasks::Tasks;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::slots::UserSlots;

/// Everything a handler needs (one per process, shared by the HTTP workers).
#[derive(Debug, Clone)]
pub struct AppState {
    /// Tasks and recipes, in Postgres and Redis.
    pub tasks: Tasks,
    /// This process's fan-out of task events.
    pub hub: Hub,
    /// The process's metrics, rendered by `GET /metrics`.
    pub metrics: observe::Registry,
    /// Limits and socket tuning.
    pub api: Arc<ApiSettings>,
    /// Per-user socket counts on this process.
    pub sockets: UserSlots,
    /// Cancelled when the process shuts down; sockets close with 1012.
    pub shutdown: CancellationToken,
    /// Socket tasks, awaited on shutdown.
    pub tracker: TaskTracker,
}

impl AppState {
    /// The same state with a Redis connection of its own (see [`Tasks::with_own_connection`]),
    /// for one HTTP worker thread.
    #[must_use]
    pub fn with_own_connection(&self) -> Self {
        Self { tasks: self.tasks.with_own_connection(), ..self.clone() }
    }
}
