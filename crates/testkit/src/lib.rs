//! Test helpers shared by the crates' integration tests: real Redis and Postgres from
//! `REDIS_URL` and `DATABASE_URL` (`scripts/services` provides both), isolated per test by a
//! unique key prefix and a fresh database, never by flushing shared state.

use std::time::Duration;

use bus::{Bus, BusConfig};
use sqlx::Connection;
use store::Store;
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

/// A bus under a fresh prefix.
///
/// # Panics
/// When `REDIS_URL` is malformed.
pub fn bus() -> Bus {
    bus_with_prefix(&unique_prefix())
}

/// A bus under `prefix` (two processes of one test share a prefix).
///
/// # Panics
/// When `REDIS_URL` is malformed.
pub fn bus_with_prefix(prefix: &str) -> Bus {
    Bus::new(BusConfig {
        url: redis_url(),
        prefix: prefix.to_owned(),
        pool_size: 8,
        finished_ttl: Duration::from_secs(3600),
    })
    .expect("REDIS_URL is a valid Redis URL")
}

/// Creates an empty database for one test and returns its URL.
///
/// # Panics
/// When Postgres is unreachable or refuses `CREATE DATABASE`.
pub async fn fresh_database_url() -> String {
    let admin = database_url();
    let name = format!("test_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let mut url = Url::parse(&admin).expect("DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// A migrated store over a fresh database.
///
/// # Panics
/// When Postgres is unreachable or the migrations fail.
pub async fn store() -> Store {
    Store::connect(&fresh_database_url().await, 5).await.expect("connect and migrate the test database")
}
