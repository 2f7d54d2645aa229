//! Test helpers shared by the crates' integration tests: real Redis and Postgres from
//! `REDIS_URL` and `DATABASE_URL` (`scripts/services` provides both), isolated per test by a
//! unique key prefix and a fresh database, never by flushing shared state.

use std::time::Duration;

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
