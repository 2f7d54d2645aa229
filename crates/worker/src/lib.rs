//! The recipe-relay worker: claims scrape jobs from Redis, runs the five-step pipeline
//! (prepare, scrape, extract, save, complete) and publishes every step to the task's event log.
//! Steps 2 and 3 are a cost-aware cascade: caption and subtitles first, the video itself
//! (frames, on-screen text, speech; [`video`]) only when they do not hold the recipe.
//!
//! Reliability comes from the `bus` crate (leases, heartbeats, reaping, delayed retries) and
//! from Postgres arbitrating the terminal state (`store`). This crate decides what each failure
//! means: permanent failures end the task at once, transient ones retry with capped exponential
//! backoff and full jitter, and the last failed attempt dead-letters the job.

pub mod health;
pub mod outbound;
mod pipeline;
pub mod providers;
mod runtime;
mod stats;
pub mod video;
mod wiring;

pub use runtime::{Worker, WorkerConfig};
