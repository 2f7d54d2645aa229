//! Wire types and domain newtypes shared by the recipe-relay api, worker and clients.
//!
//! This crate does no I/O. Everything that crosses a process boundary (HTTP bodies, socket
//! messages, Redis payloads) is defined here once, with serde, so that every binary speaks the
//! same protocol. The shapes follow what the app's Dart client *parses*, which is documented in
//! `docs/protocol.md`.

pub mod backoff;
pub mod event;
pub mod ids;
pub mod language;
pub mod message;
pub mod problem;
pub mod recipe;
pub mod tiktok;
pub mod trace;
pub mod wire;

pub use backoff::Backoff;
pub use event::{Event, EventError};
pub use ids::{IdError, RecipeId, TaskId, UserId};
pub use language::{Language, LanguageError};
pub use message::{MessageType, ScrapeRequest, Step, TOTAL_STEPS, TaskState, TaskUpdate};
pub use problem::Problem;
pub use recipe::{Ingredient, Measure, Recipe, RecipeSource};
pub use tiktok::{TikTokUrl, TikTokUrlError};
pub use trace::{Origin, RequestId, RequestIdError, SpanId, TraceId, TraceParent, TraceParentError};
