//! Test helpers shared by the crates' integration tests: real Redis and Postgres from
//! `REDIS_URL` and `DATABASE_URL` (`scripts/services` provides both), isolated per test by a
//! unique key prefix and a fresh database, never by flushing shared state.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use url::Url;
use uuid::Uuid;

/// `REDIS_URL`, or a local default.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `DATABASE_URL`, or a local default.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://relay:relay@127.0.0.1:5432/relay".into())
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("test-{}", Uuid::new_v4().simple())
}

/// The task stores of one test: Redis under `prefix`, Postgres at `database_url`.
pub fn tasks_config(prefix: &str, database_url: &str) -> tasks::Config {
    tasks::Config {
        redis_url: redis_url(),
        key_prefix: prefix.to_owned(),
        redis_pool_size: 8,
        finished_ttl: Duration::from_secs(3600),
        database_url: database_url.to_owned(),
        database_max_connections: 5,
    }
}

/// The task lifecycle over a fresh Redis prefix and a fresh, migrated database.
///
/// # Panics
/// When Postgres is unreachable or the migrations fail.
pub async fn tasks() -> tasks::Tasks {
    let config = tasks_config(&unique_prefix(), &fresh_database_url().await);
    tasks::Tasks::connect(&config).await.expect("connect and migrate the test database")
}

/// A test database this old is left over: the next [`fresh_database_url`] drops it. Tests cannot
/// drop their own (nextest runs each in a process that just exits), so without this a
/// developer's Postgres would keep one database per test ever run.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Creates an empty database for one test and returns its URL. Its name carries a UUIDv7, so
/// the time it was made can be read back; left-over test databases are dropped first.
///
/// # Panics
/// When Postgres is unreachable or refuses `CREATE DATABASE`.
pub async fn fresh_database_url() -> String {
    let admin = database_url();
    let name = format!("test_{}", Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to DATABASE_URL");
    drop_stale_databases(&mut conn).await;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let mut url = Url::parse(&admin).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Drops the test databases made more than [`STALE_AFTER`] ago (or before names carried a
/// time). One still in use (a test running that long) refuses the drop and is skipped.
async fn drop_stale_databases(conn: &mut sqlx::PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar(r"SELECT datname::text FROM pg_database WHERE datname LIKE 'test\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    for name in names.iter().filter(|name| made_at(name).is_none_or(|made| made + STALE_AFTER < now)) {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut *conn).await;
    }
}

/// When a test database named `test_<uuid v7>` was made; `None` for other names.
fn made_at(name: &str) -> Option<Duration> {
    let id = Uuid::try_parse(name.strip_prefix("test_")?).ok()?;
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    Some(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_database_name_tells_when_it_was_made() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let name = format!("test_{}", Uuid::now_v7().simple());
        let made = made_at(&name).expect("a v7 name has a time");
        assert!(
            made + Duration::from_millis(1) >= before && made < before + Duration::from_secs(60),
            "{made:?}"
        );
        assert_eq!(made_at(&format!("test_{}", Uuid::new_v4().simple())), None);
        assert_eq!(made_at("relay"), None);
    }
}
