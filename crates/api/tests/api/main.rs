//! Integration tests of the gateway: the real [`api::Application`] on port 0 against real Redis
//! (`REDIS_URL`, a unique key prefix per test) and Postgres (`DATABASE_URL`'s server, a fresh
//! database per test). `scripts/services` provides both.

mod admin;
mod auth;
mod demo;
mod durability;
mod edge;
mod flow;
mod helpers;
mod inputs;
mod limits;
mod metrics;
mod openapi;
mod ops;
mod recipes;
mod resilience;
mod tasks;
mod trace;
