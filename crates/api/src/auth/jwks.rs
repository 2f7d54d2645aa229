//! The JWKS cache.
//!
//! JWKS keys are cached by `kid`. A token naming an unknown `kid` triggers one refetch, at most
//! once per [`JwksOptions::min_refetch_interval`], so a flood of forged `kid`s cannot turn the
//! gateway into a load generator against the auth server.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

/// Tuning of the JWKS cache.
#[derive(Debug, Clone, Copy)]
pub struct JwksOptions {
    /// Least time between two fetches caused by unknown `kid`s (or after a failed fetch).
    pub min_refetch_interval: Duration,
    /// Keys older than this are refreshed before use, so a revoked key stops working.
    pub max_age: Duration,
    /// Timeout of one JWKS request.
    pub timeout: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            min_refetch_interval: Duration::from_secs(30),
            max_age: Duration::from_secs(600),
            timeout: Duration::from_secs(5),
        }
    }
}

/// A JWKS key with the one algorithm it may verify.
#[derive(Clone)]
pub(crate) struct PinnedKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, PinnedKey>,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct FetchGate {
    /// No fetch for an unknown `kid` (or after a failure) before this instant.
    not_before: Option<Instant>,
}

/// The keys of one JWKS endpoint, fetched on first use and refreshed as described above.
pub(crate) struct Jwks {
    url: Url,
    http: reqwest::Client,
    options: JwksOptions,
    cache: RwLock<KeyCache>,
    /// Single flight: one fetch at a time; the gate lives inside it.
    gate: tokio::sync::Mutex<FetchGate>,
}

/// Why no key verifies a token's `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The JWKS answered and does not hold the key.
    Unknown,
    /// The JWKS could not be fetched.
    Unavailable,
}

#[derive(Debug, Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

/// Why a fetch failed; logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("JWKS request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("JWKS answered {0}")]
    Status(reqwest::StatusCode),
}

impl Jwks {
    pub(crate) fn new(url: Url, options: JwksOptions) -> Self {
        Self {
            url,
            http: reqwest::Client::builder()
                .connect_timeout(options.timeout)
                .timeout(options.timeout)
                .build()
                .unwrap_or_default(),
            options,
            cache: RwLock::new(KeyCache::default()),
            gate: tokio::sync::Mutex::new(FetchGate::default()),
        }
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    fn cached(&self, kid: &str) -> (Option<PinnedKey>, bool) {
        let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = cache.fetched_at.is_some_and(|at| at.elapsed() < self.options.max_age);
        (cache.keys.get(kid).cloned(), fresh)
    }

    pub(crate) async fn key(&self, kid: &str) -> Result<PinnedKey, KeyError> {
        let (key, fresh) = self.cached(kid);
        if let (Some(key), true) = (&key, fresh) {
            return Ok(key.clone());
        }
        let mut gate = self.gate.lock().await;
        // Another request may have fetched while this one waited for the gate.
        let (key_now, fresh_now) = self.cached(kid);
        match key_now {
            Some(key) if fresh_now => return Ok(key),
            // Known but stale: refresh (at most once per max_age, or per interval after a failed
            // fetch) and fall back to the old key when the JWKS does not answer.
            Some(stale) => {
                if gate.not_before.is_some_and(|t| Instant::now() < t)
                    || self.refresh(&mut gate).await.is_err()
                {
                    return Ok(stale);
                }
            }
            None => {
                let loaded = self.cache.read().map(|c| c.fetched_at.is_some()).unwrap_or(false);
                let now = Instant::now();
                if gate.not_before.is_some_and(|t| now < t) {
                    return Err(if loaded { KeyError::Unknown } else { KeyError::Unavailable });
                }
                // The first load is free; every later unknown-kid fetch costs the interval.
                if loaded {
                    gate.not_before = Some(now + self.options.min_refetch_interval);
                }
                if self.refresh(&mut gate).await.is_err() {
                    return Err(KeyError::Unavailable);
                }
            }
        }
        self.cached(kid).0.ok_or(KeyError::Unknown)
    }

    async fn refresh(&self, gate: &mut FetchGate) -> Result<(), FetchError> {
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched the JWKS");
                let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                Ok(())
            }
            Err(error) => {
                tracing::warn!(error = %error, url = %self.url, "could not fetch the JWKS");
                gate.not_before = Some(Instant::now() + self.options.min_refetch_interval);
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, PinnedKey>, FetchError> {
        let response = self.http.get(self.url.clone()).timeout(self.options.timeout).send().await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let set: RawJwkSet = response.json().await?;
        Ok(set.keys.into_iter().filter_map(pin_key).collect())
    }
}

/// Parses one JWK and pins its algorithm; keys we cannot use are skipped, not fatal.
fn pin_key(value: serde_json::Value) -> Option<(String, PinnedKey)> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let kid = jwk.common.key_id.clone()?;
    let implied = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return None,
    };
    let declared = match jwk.common.key_algorithm {
        None => implied,
        Some(alg) => match alg.to_string().parse::<Algorithm>().ok()? {
            declared if declared == implied => declared,
            _ => return None,
        },
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((kid, PinnedKey { algorithm: declared, key }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwk_algorithms_are_pinned_by_key_type() {
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "e",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        assert_eq!(pin_key(ec.clone()).map(|(_, k)| k.algorithm), Some(Algorithm::ES256));
        let mut lying = ec;
        lying["alg"] = json!("RS256");
        assert!(pin_key(lying).is_none(), "an EC key claiming RS256 is skipped");
        let oct = json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"});
        assert!(pin_key(oct).is_none(), "symmetric keys from a JWKS are never trusted");
    }
}
