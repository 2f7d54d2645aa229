//! Access tokens: Supabase JWTs, verified with the project's HS256 secret or its JWKS.
//!
//! [`token`] holds the checks a token must pass and why it is refused, [`jwks`] the cache of the
//! auth server's signing keys, `cache` the tokens already verified, and [`extract`] the
//! extractors that give handlers their user. [`admin`] is the operators' way in, separate from
//! users' sign-in.

pub mod admin;
mod cache;
pub mod extract;
pub mod jwks;
pub mod token;

pub use extract::{AuthUser, SocketUser};
pub use jwks::JwksOptions;
pub use token::{AuthError, Claims, Verifier};
