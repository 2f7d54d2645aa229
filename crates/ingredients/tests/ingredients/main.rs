//! Integration tests of the `ingredients` crate: one binary, one module per concern.

mod eval;
mod lines;
mod llm;
mod properties;
mod shopping;
mod units;
