//! The Postgres side of recipe-relay: durable tasks and recipes.
//!
//! Postgres is the arbiter of a task's terminal state. A worker may only finish a task while
//! it holds the claim token written by [`Store::claim_task`], and the api may only cancel a task
//! that is not finished, so a cancelled task never turns into a success and a worker that lost
//! its lease cannot finish a task another worker now owns.
//!
//! Every query is checked against the schema at compile time (`sqlx::query!` and friends). The
//! builds read the committed query data in `crates/store/.sqlx/` (`SQLX_OFFLINE=true` in
//! `.cargo/config.toml`), so they need no database; `scripts/check-sqlx` checks that data is
//! current and `just sqlx-prepare` writes it anew. The texts a user reads come from `protocol`,
//! passed in as parameters: the SQL holds none.

use std::sync::Arc;

use connections::Connections;
use sqlx::postgres::{PgConnectOptions, PgConnection};

mod admin;
mod admissions;
mod batches;
mod connections;
mod recipes;
mod rows;
mod status;
mod tasks;

pub use admin::{Minute, Reopened, TaskFilter};
pub use rows::{NewTask, RecipeRow, TaskRow, video_key};
pub use status::TaskStatus;
pub use tasks::{Admission, CancelOutcome, CreateOutcome, FIRST_CEILING, SEQ_BLOCK};

/// A Postgres failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed at start.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row held a value this version does not understand.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The durable store (cheap to clone: a handle on its connections).
#[derive(Debug, Clone)]
pub struct Store {
    connections: Arc<Connections>,
    admissions: Arc<batches::Batches<admissions::Input>>,
}

impl Store {
    /// Connects and runs pending migrations.
    ///
    /// # Errors
    /// [`StoreError`] when the database is unreachable or a migration fails.
    pub async fn connect(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(database_url, max_connections)?;
        store.migrate().await?;
        Ok(store)
    }

    /// A pool that connects on first use: the process starts even while Postgres is down and
    /// recovers by itself when it returns.
    ///
    /// # Errors
    /// [`StoreError`] when the URL is malformed.
    pub fn connect_lazy(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = database_url.parse()?;
        Ok(Self {
            connections: Arc::new(Connections::new(options, max_connections)),
            admissions: Arc::default(),
        })
    }

    /// Runs pending migrations (safe to run from many processes at once: sqlx takes a lock).
    ///
    /// # Errors
    /// [`StoreError::Migrate`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut lease = self.connections.acquire().await?;
        MIGRATOR.run(&mut *lease).await?;
        lease.release();
        Ok(())
    }

    /// A connection of the store's own, for tests and tools that need raw SQL (closed when
    /// dropped).
    ///
    /// # Errors
    /// [`StoreError`] when none can be had.
    pub async fn connection(
        &self,
    ) -> Result<impl std::ops::DerefMut<Target = PgConnection> + '_, StoreError> {
        Ok(self.connections.acquire().await?)
    }

    /// What the statements run on: one of the store's connections each.
    fn db(&self) -> &Connections {
        &self.connections
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!("SELECT 1 AS one").fetch_one(self.db()).await?;
        Ok(())
    }
}
