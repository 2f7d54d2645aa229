//! The store's Postgres connections: a small pool of its own in place of sqlx's.
//!
//! sqlx's pool pings a connection (a round trip to Postgres) every time one is returned, to
//! find one that a dropped query left mid-conversation; 0.8 has no setting to skip it. That was
//! half the round trips of a task's two statements, on both ends. Here a connection goes
//! back only after its statement ran to the end (Postgres answered: a result or a database
//! error); one whose statement was dropped or failed on the wire is closed instead. Nothing
//! needs checking on return, so nothing is.
//!
//! As with sqlx's pool before, a connection idle for [`PING_AFTER_IDLE`] is pinged before it is
//! handed out (Postgres may have restarted meanwhile), one idle for [`IDLE_TIMEOUT`] is closed,
//! and one older than [`MAX_LIFETIME`] is closed when it comes back (a backend's caches only
//! grow).

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgQueryResult, PgRow, PgStatement, PgTypeInfo, Postgres,
};
use sqlx::{Connection as _, Either, Execute, Executor};
use tokio::sync::{Semaphore, SemaphorePermit};

/// An idle connection is pinged before it is handed out only after this long unused.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// An idle connection is closed after this long unused (sqlx's default too).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// A connection this old is closed when it comes back (sqlx's default too).
const MAX_LIFETIME: Duration = Duration::from_secs(1800);

/// How long a statement waits for a connection when all are busy.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Up to `max` connections to one database, opened when first needed. An executor: run a
/// query on `&connections` as on a sqlx pool.
pub(crate) struct Connections {
    options: PgConnectOptions,
    permits: Semaphore,
    /// Most recently returned last: the next statement takes the warmest connection.
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    connection: PgConnection,
    opened: Instant,
    since: Instant,
}

/// A connection taken from [`Connections`]: dropped, it is closed; [`Lease::release`] gives it
/// back.
pub(crate) struct Lease<'a> {
    connection: Option<PgConnection>,
    opened: Instant,
    owner: &'a Connections,
    _permit: SemaphorePermit<'a>,
}

impl Connections {
    pub(crate) fn new(options: PgConnectOptions, max: u32) -> Self {
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        Self { options, permits: Semaphore::new(max), idle: Mutex::new(Vec::new()) }
    }

    /// A connection: the most recently returned idle one, else a new one. Waits up to
    /// [`ACQUIRE_TIMEOUT`] while all are busy (then `PoolTimedOut`, as sqlx's pool says).
    pub(crate) async fn acquire(&self) -> Result<Lease<'_>, sqlx::Error> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let (connection, opened) = loop {
            let Some(Idle { mut connection, opened, since }) = self.lock().pop() else {
                break (PgConnection::connect_with(&self.options).await?, Instant::now());
            };
            if since.elapsed() < PING_AFTER_IDLE {
                break (connection, opened);
            }
            if since.elapsed() < IDLE_TIMEOUT && connection.ping().await.is_ok() {
                break (connection, opened);
            }
            close(connection);
        };
        Ok(Lease { connection: Some(connection), opened, owner: self, _permit: permit })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes a connection politely (a Terminate message) without waiting for it; outside a
/// runtime it is just dropped (the socket closes).
fn close(connection: PgConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = connection.close().await;
        });
    }
}

/// Whether a statement's result leaves its connection ready for the next one: Postgres
/// answered it in full, with rows or with an error of its own.
fn reusable<T>(result: &Result<T, sqlx::Error>) -> bool {
    matches!(result, Ok(_) | Err(sqlx::Error::Database(_)))
}

impl Lease<'_> {
    /// Gives the connection back for the next statement (unless it is past [`MAX_LIFETIME`]:
    /// then it is closed), and closes those idle too long.
    pub(crate) fn release(mut self) {
        if self.opened.elapsed() >= MAX_LIFETIME {
            return;
        }
        let Some(connection) = self.connection.take() else { return };
        let mut idle = self.owner.lock();
        let expired = idle.iter().take_while(|old| old.since.elapsed() >= IDLE_TIMEOUT).count();
        let stale: Vec<Idle> = idle.drain(..expired).collect();
        idle.push(Idle { connection, opened: self.opened, since: Instant::now() });
        drop(idle);
        stale.into_iter().for_each(|old| close(old.connection));
    }

    /// Runs `statement` on this lease's connection, then releases the connection if the
    /// statement left it ready (else closes it).
    async fn run<T>(
        mut self,
        statement: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let result = statement(&mut *self).await;
        if reusable(&result) {
            self.release();
        }
        result
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.connection.as_ref().unwrap_or_else(|| unreachable!("a lease holds its connection until dropped"))
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.connection.as_mut().unwrap_or_else(|| unreachable!("a lease holds its connection until dropped"))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            close(connection);
        }
    }
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("available", &self.permits.available_permits())
            .field("idle", &self.lock().len())
            .finish_non_exhaustive()
    }
}

/// As sqlx's pool does: each call takes a connection for the one statement. A statement's rows
/// are read in full before the connection goes back (the store's results are small).
impl<'c> Executor<'c> for &'c Connections {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let rows = async move {
            let lease = self.acquire().await?;
            lease.run(async |connection| connection.fetch_many(query).try_collect::<Vec<_>>().await).await
        };
        let items = |rows: Result<Vec<_>, sqlx::Error>| match rows {
            Ok(rows) => stream::iter(rows.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(error) => stream::iter(vec![Err(error)]),
        };
        Box::pin(stream::once(rows).map(items).flatten())
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        Box::pin(async move {
            self.acquire().await?.run(async |connection| connection.fetch_optional(query).await).await
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(async move {
            self.acquire().await?.run(async |connection| connection.prepare_with(sql, parameters).await).await
        })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        Box::pin(
            async move { self.acquire().await?.run(async |connection| connection.describe(sql).await).await },
        )
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    fn connections(max: u32) -> Connections {
        let options = testkit::database_url().parse().expect("DATABASE_URL parses");
        Connections::new(options, max)
    }

    async fn backend(connections: &Connections) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(connections).await.expect("a backend answers")
    }

    #[tokio::test]
    async fn the_next_statement_runs_on_the_connection_the_last_one_gave_back() {
        let connections = connections(4);
        let first = backend(&connections).await;

        assert_eq!(backend(&connections).await, first);
        let all: Vec<i32> = sqlx::query_scalar("SELECT pg_backend_pid() FROM generate_series(1, 3)")
            .fetch_all(&connections)
            .await
            .unwrap();
        assert_eq!(all, [first; 3]);
        assert_eq!(backend(&connections).await, first, "fetch_all gives it back too");
    }

    #[tokio::test]
    async fn a_database_error_keeps_the_connection_and_it_answers_the_next_statement() {
        let connections = connections(4);
        let first = backend(&connections).await;

        let error = sqlx::query("SELECT 1 / 0").execute(&connections).await.unwrap_err();

        assert!(matches!(error, sqlx::Error::Database(_)), "{error}");
        assert_eq!(backend(&connections).await, first);
    }

    #[tokio::test]
    async fn a_statement_dropped_midway_closes_its_connection_and_the_next_gets_a_fresh_one() {
        let connections = connections(4);
        let first = backend(&connections).await;

        let dropped = tokio::time::timeout(
            Duration::from_millis(50),
            sqlx::query("SELECT pg_sleep(5)").execute(&connections),
        )
        .await;

        assert!(dropped.is_err(), "the statement was still running");
        let next = backend(&connections).await;
        assert_ne!(next, first, "the half-read connection is not handed out again");
    }

    #[tokio::test]
    async fn with_every_connection_busy_a_statement_waits_for_one_to_come_back() {
        let connections = connections(1);
        let lease = connections.acquire().await.unwrap();

        let mut waiting = Box::pin(connections.acquire());
        assert!((&mut waiting).now_or_never().is_none(), "the only connection is out");
        lease.release();

        let again = waiting.await.unwrap();
        assert_eq!(connections.lock().len(), 0, "it took the one given back");
        drop(again);
    }
}
