//! The recipe-relay gateway: accepts scrape jobs, streams task progress over WebSockets and
//! long-polls, and serves the recipes.
//!
//! The gateway is stateless: any number of instances run behind a load balancer and any of them
//! can serve any task. Durable state lives in Postgres ([`store`]), the queue and per-task event
//! log in Redis ([`bus`]). Each process holds ONE Redis pub/sub subscription; [`hub::Hub`] fans
//! its events out in memory to the sockets and long-polls of that process.
//!
//! `docs/protocol.md` is the client-facing reference: endpoints, messages, resume semantics,
//! close codes, problem types and limits.

pub mod access_log;
pub mod auth;
pub mod demo;
pub mod error;
pub mod http_edge;
pub mod http_metrics;
pub mod hub;
pub mod metrics;
pub mod openapi;
pub mod polled;
pub mod problems;
pub mod routes;
pub mod slots;
pub mod snapshot;
pub mod startup;
pub mod state;
pub mod trace_context;
pub mod ws;
pub mod ws_in;
pub mod ws_out;
pub mod ws_upgrade;

pub use startup::Application;
