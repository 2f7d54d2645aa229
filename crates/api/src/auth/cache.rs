//! Tokens already verified, kept for the rest of their lifetime so a client that sends the same
//! token on every request pays for its signature check and claims parsing once.
//!
//! Only accepted tokens are kept, keyed by the whole token (a lookup compares it in full, so two
//! tokens never share an entry), with the instant their `exp` plus the leeway passes: after that
//! the entry is dropped and the token checked again, which refuses it as expired. The checks
//! depend on the clock only through `exp` and `nbf`, and a token accepted once is past its `nbf`
//! for good. A JWKS key withdrawn meanwhile still covers the tokens it signed until they expire
//! (at most their lifetime, an hour for Supabase's). The map is bounded: when it is full, the
//! expired entries go, and if that frees nothing, all of them (they are cheap to rebuild).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::auth::token::Claims;

/// Most tokens kept (a few hundred bytes each).
const CAPACITY: usize = 4096;

/// The cache of verified tokens (shared by the workers of one process).
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<Arc<str>, Entry>>,
}

// By hand: the keys are bearer tokens, which must never reach a log line.
impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("TokenCache").field("tokens", &len).finish()
    }
}

#[derive(Debug)]
struct Entry {
    claims: Claims,
    /// Seconds since the Unix epoch after which the token must be checked again.
    valid_until: u64,
}

impl TokenCache {
    /// The claims of `token` if it was verified and is still within its lifetime at `now`.
    pub(crate) fn get(&self, token: &str, now: u64) -> Option<Claims> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(token) {
            Some(entry) if now <= entry.valid_until => Some(entry.claims.clone()),
            Some(_) => {
                entries.remove(token);
                None
            }
            None => None,
        }
    }

    /// Keeps a verified token until `valid_until`.
    pub(crate) fn insert(&self, token: &str, claims: Claims, valid_until: u64, now: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY && !entries.contains_key(token) {
            entries.retain(|_, e| now <= e.valid_until);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(token.into(), Entry { claims, valid_until });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: protocol::UserId::parse("7d1c2c4e-5d1f-4a8e-9f00-0123456789ab").unwrap(),
            exp: 100,
            role: Some("authenticated".into()),
            anonymous: false,
        }
    }

    #[test]
    fn its_debug_form_never_shows_a_token() {
        let cache = TokenCache::default();
        cache.insert("secret.token.value", claims(), 105, 50);
        let shown = format!("{cache:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("tokens: 1"), "{shown}");
    }

    #[test]
    fn a_token_is_served_until_its_lifetime_ends_then_dropped() {
        let cache = TokenCache::default();
        cache.insert("a.b.c", claims(), 105, 50);

        assert_eq!(cache.get("a.b.c", 105), Some(claims()), "still valid at the last second");
        assert_eq!(cache.get("a.b.x", 60), None, "another token never shares the entry");
        assert_eq!(cache.get("a.b.c", 106), None, "past exp + leeway");
        assert_eq!(cache.len(), 0, "the expired entry was removed");
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_and_stays_bounded() {
        let cache = TokenCache::default();
        for i in 0..CAPACITY {
            let valid_until = if i == 0 { 10 } else { 1_000 };
            cache.insert(&format!("t{i}"), claims(), valid_until, 0);
        }

        cache.insert("new", claims(), 1_000, 20);

        assert_eq!(cache.len(), CAPACITY, "the one expired entry made room");
        assert!(cache.get("t1", 20).is_some());
        for i in 0..10 {
            cache.insert(&format!("more{i}"), claims(), 1_000, 20);
        }
        assert!(cache.len() <= CAPACITY);
    }
}
