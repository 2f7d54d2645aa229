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

use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgPool, PgPoolOptions};

mod admin;
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

/// An idle connection is pinged before it is handed out only after this long unused.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The pool's settings. sqlx pings a connection (a round trip to Postgres) when it returns to
/// the pool and, by default, again before every acquire: two round trips around every
/// statement. The ping on return stays; the one before an acquire is kept only for a
/// connection that sat idle (Postgres may have restarted meanwhile), not for one that was just
/// returned and checked.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// The durable store (cheap to clone: a pool handle).
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects and runs pending migrations.
    ///
    /// # Errors
    /// [`StoreError`] when the database is unreachable or a migration fails.
    pub async fn connect(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = pool_options(max_connections).connect(database_url).await?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// A pool that connects on first use: the process starts even while Postgres is down and
    /// recovers by itself when it returns.
    ///
    /// # Errors
    /// [`StoreError`] when the URL is malformed.
    pub fn connect_lazy(database_url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = pool_options(max_connections).connect_lazy(database_url)?;
        Ok(Self { pool })
    }

    /// Runs pending migrations (safe to run from many processes at once: sqlx takes a lock).
    ///
    /// # Errors
    /// [`StoreError::Migrate`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The underlying pool (tests and tools that need raw SQL).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!("SELECT 1 AS one").fetch_one(&self.pool).await?;
        Ok(())
    }
}
