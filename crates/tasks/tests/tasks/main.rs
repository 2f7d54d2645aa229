//! The lifecycle service against real Redis and Postgres, and the rule that it is the only way
//! to a task's state.

mod layers;
mod lifecycle;
