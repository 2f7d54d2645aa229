//! Token verification: the claims a user's token must carry and the checks of its signature.
//!
//! The algorithm is pinned per key, never taken from the token alone: HS256 tokens are checked
//! only against `SUPABASE_JWT_SECRET`, ES256/RS256 tokens only against the JWKS key named by
//! their `kid`, with the algorithm that key declares (or its curve/type implies). `alg: none`
//! and every other algorithm are refused. `exp` is required and `nbf`, when present, checked
//! (both with the configured leeway), `aud` must be the configured audience (`authenticated`),
//! `sub` must be a user id and `role` must be `authenticated`: the project's `anon` and
//! `service_role` API keys carry no `sub` and are refused, and so is any other role.
//!
//! Supabase's anonymous sign-ins are real users (their own `sub`, role `authenticated`) marked
//! `is_anonymous: true`. Anyone can mint as many as they like without an e-mail, so each one
//! would get fresh per-user limits on paid scrapes: they are refused unless
//! `auth.allow_anonymous_users` is on (for apps that sign users in anonymously on purpose).

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, errors::ErrorKind};
use protocol::UserId;
use secrecy::ExposeSecret;
use serde::Deserialize;
use settings::AuthSettings;

use crate::auth::cache::TokenCache;
use crate::auth::jwks::{Jwks, JwksOptions, KeyError};

/// Why a request's token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token at all.
    #[error("this endpoint needs the user's Supabase access token in an `Authorization: Bearer` header")]
    Missing,
    /// Not a JWT (wrong shape, bad base64, bad JSON).
    #[error("the access token is not a well-formed JWT")]
    Malformed,
    /// The token's `alg` is not one this server accepts for it (`none`, HS512, a mismatch with
    /// the key's pinned algorithm).
    #[error("the access token's algorithm is not accepted; sign in again to get a Supabase access token")]
    Algorithm,
    /// The token names a signing key this server does not know.
    #[error("the access token was signed by an unknown key; sign in again")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the access token's signature is invalid")]
    Signature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the access token has expired; refresh the session and retry")]
    Expired,
    /// `aud` is missing or not the configured audience.
    #[error("the access token is not meant for this service (its audience must be \"authenticated\")")]
    Audience,
    /// No `sub`, or a `sub` that is not a user id: an API key, not a signed-in user.
    #[error("this is a project API key, not a user's access token; sign the user in and send their token")]
    NotAUser,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the access token is not valid yet; check the device's clock")]
    NotYetValid,
    /// `role` is missing or not `authenticated` (`anon`, `service_role`, a custom role).
    #[error("the access token's role must be \"authenticated\"; send a signed-in user's token")]
    Role,
    /// An anonymous sign-in while `auth.allow_anonymous_users` is off.
    #[error("anonymous sign-ins cannot use this service; sign in with an account")]
    Anonymous,
    /// The JWKS could not be fetched, so the token cannot be checked right now.
    #[error("the signing keys are temporarily unavailable")]
    KeysUnavailable,
}

impl AuthError {
    /// Every [`AuthError::reason`], for the metrics to start at 0.
    pub const REASONS: [&'static str; 12] = [
        "missing",
        "malformed",
        "algorithm",
        "unknown_key",
        "bad_signature",
        "expired",
        "wrong_audience",
        "not_a_user",
        "not_yet_valid",
        "wrong_role",
        "anonymous",
        "keys_unavailable",
    ];

    /// A short, fixed label for the refusal: the `reason` of `relay_auth_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::UnknownKey => "unknown_key",
            Self::Signature => "bad_signature",
            Self::Expired => "expired",
            Self::Audience => "wrong_audience",
            Self::NotAUser => "not_a_user",
            Self::NotYetValid => "not_yet_valid",
            Self::Role => "wrong_role",
            Self::Anonymous => "anonymous",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }
}

impl From<KeyError> for AuthError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Unknown => Self::UnknownKey,
            KeyError::Unavailable => Self::KeysUnavailable,
        }
    }
}

/// The verified claims of a user's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user (`sub`).
    pub sub: UserId,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// The Supabase role (always `authenticated` once verified).
    pub role: Option<String>,
    /// An anonymous sign-in (`is_anonymous`), accepted only when the settings allow it.
    pub anonymous: bool,
}

/// The role and subject of a token whose signature and times were verified, whatever its role
/// ([`Verifier::verify_signed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedClaims {
    /// The Supabase role (`authenticated`, `anon`, `service_role`, ...).
    pub role: Option<String>,
    /// The subject, when the token has one (API keys have none).
    pub sub: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawClaims {
    sub: Option<String>,
    exp: u64,
    aud: Option<serde_json::Value>,
    role: Option<String>,
    #[serde(default)]
    is_anonymous: bool,
}

/// Verifies access tokens (cheap to clone).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

struct VerifierInner {
    hs256: Option<DecodingKey>,
    jwks: Option<Jwks>,
    audience: String,
    leeway: u64,
    allow_anonymous: bool,
    verified: TokenCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("hs256", &self.inner.hs256.is_some())
            .field("jwks", &self.inner.jwks.as_ref().map(|j| j.url().as_str()))
            .finish()
    }
}

impl Verifier {
    /// A verifier for the configured secret and/or JWKS endpoint.
    pub fn new(settings: &AuthSettings, options: JwksOptions) -> Self {
        // jsonwebtoken refuses only an empty secret, which verifies nothing: as if none was set.
        let hs256 = settings
            .jwt_secret
            .as_ref()
            .and_then(|s| DecodingKey::from_secret(s.expose_secret().as_bytes()).ok());
        let jwks = settings.jwks_endpoint().map(|url| Jwks::new(url, options));
        Self {
            inner: Arc::new(VerifierInner {
                hs256,
                jwks,
                audience: settings.audience.clone(),
                leeway: settings.leeway_secs,
                allow_anonymous: settings.allow_anonymous_users,
                verified: TokenCache::default(),
            }),
        }
    }

    /// Verifies a token and returns its user. A token accepted before is served from the
    /// cache of verified tokens until its `exp` (plus the leeway) passes: the checks depend on
    /// the clock only through `exp` and `nbf`, and a token past its `nbf` stays past it.
    ///
    /// # Errors
    /// [`AuthError`] saying why the token is refused.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(claims) = self.inner.verified.get(token, now) {
            return Ok(claims);
        }
        let claims = self.check(token).await?;
        self.inner.verified.insert(token, claims.clone(), claims.exp.saturating_add(self.inner.leeway), now);
        Ok(claims)
    }

    /// Verifies a token's signature and times like [`Self::verify`] (same keys, same pinned
    /// algorithms), but neither its audience nor its role: the admin console reads the role
    /// itself (Supabase's `service_role` key has no `aud` and no `sub`). Not cached: operators'
    /// requests are few.
    ///
    /// # Errors
    /// [`AuthError`] saying why the token is refused.
    pub async fn verify_signed(&self, token: &str) -> Result<SignedClaims, AuthError> {
        let claims = self.decode_verified(token, None).await?;
        Ok(SignedClaims { role: claims.role, sub: claims.sub })
    }

    /// The signature and claims checks of [`Self::verify`], without the cache.
    async fn check(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.decode_verified(token, Some(&self.inner.audience)).await?;
        // An API key (anon/service_role) has no sub; say so before complaining about its audience.
        let sub = claims.sub.as_deref().and_then(|s| UserId::parse(s).ok()).ok_or(AuthError::NotAUser)?;
        if claims.aud.is_none() {
            return Err(AuthError::Audience);
        }
        if claims.role.as_deref() != Some("authenticated") {
            return Err(AuthError::Role);
        }
        if claims.is_anonymous && !self.inner.allow_anonymous {
            return Err(AuthError::Anonymous);
        }
        Ok(Claims { sub, exp: claims.exp, role: claims.role, anonymous: claims.is_anonymous })
    }

    /// The token's claims once its signature, algorithm, `exp`, `nbf` and (when given) audience
    /// check out.
    async fn decode_verified(&self, token: &str, audience: Option<&str>) -> Result<RawClaims, AuthError> {
        let header = decode_header(token).map_err(|e| match e.kind() {
            // An `alg` this library does not know (`none` included) fails header parsing.
            ErrorKind::Json(_) if token_alg_is_unknown(token) => AuthError::Algorithm,
            _ => AuthError::Malformed,
        })?;
        let (key, algorithm) = match header.alg {
            Algorithm::HS256 => match &self.inner.hs256 {
                Some(key) => (key.clone(), Algorithm::HS256),
                None => return Err(AuthError::Algorithm),
            },
            Algorithm::ES256 | Algorithm::RS256 => {
                let (Some(jwks), Some(kid)) = (&self.inner.jwks, header.kid.as_deref()) else {
                    return Err(if self.inner.jwks.is_some() {
                        AuthError::UnknownKey
                    } else {
                        AuthError::Algorithm
                    });
                };
                let pinned = jwks.key(kid).await?;
                if pinned.algorithm != header.alg {
                    return Err(AuthError::Algorithm);
                }
                (pinned.key, pinned.algorithm)
            }
            _ => return Err(AuthError::Algorithm),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.inner.leeway;
        // Off by default in jsonwebtoken; the leeway applies to it as to `exp`.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = decode::<RawClaims>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidAudience => AuthError::Audience,
            ErrorKind::InvalidSignature => AuthError::Signature,
            ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
            _ => AuthError::Malformed,
        })?;
        Ok(data.claims)
    }
}

/// True when the header's `alg` is a string jsonwebtoken does not know (e.g. `none`).
fn token_alg_is_unknown(token: &str) -> bool {
    use base64::Engine as _;
    let Some(header) = token.split('.').next() else { return false };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('='))
    else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("alg").and_then(|a| a.as_str()).map(|a| a.parse::<Algorithm>().is_err()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::{EncodingKey, Header, encode};
    use url::Url;

    use super::*;
    use secrecy::SecretString;
    use serde_json::json;

    const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters";
    const USER: &str = "7d1c2c4e-5d1f-4a8e-9f00-0123456789ab";

    #[test]
    fn every_refusal_has_its_own_listed_reason() {
        use AuthError::*;
        let all = [
            Missing,
            Malformed,
            Algorithm,
            UnknownKey,
            Signature,
            Expired,
            Audience,
            NotAUser,
            NotYetValid,
            Role,
            Anonymous,
            KeysUnavailable,
        ];
        let reasons: Vec<&str> = all.iter().map(AuthError::reason).collect();
        assert_eq!(reasons, AuthError::REASONS, "REASONS lists every reason, in order, once");
    }

    fn settings() -> AuthSettings {
        AuthSettings {
            jwt_secret: Some(SecretString::from(SECRET)),
            supabase_url: None,
            jwks_url: None,
            audience: "authenticated".into(),
            leeway_secs: 5,
            allow_anonymous_users: false,
        }
    }

    fn now() -> u64 {
        protocol::message::now_seconds() as u64
    }

    fn sign(claims: serde_json::Value, alg: Algorithm, secret: &str) -> String {
        encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap()).unwrap()
    }

    fn user_claims() -> serde_json::Value {
        json!({"sub": USER, "aud": "authenticated", "role": "authenticated", "exp": now() + 3600})
    }

    fn b64(value: &serde_json::Value) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[tokio::test]
    async fn a_user_token_yields_its_subject() {
        let verifier = Verifier::new(&settings(), JwksOptions::default());
        let claims = verifier.verify(&sign(user_claims(), Algorithm::HS256, SECRET)).await.unwrap();
        assert_eq!(claims.sub.to_string(), USER);
        assert_eq!(claims.role.as_deref(), Some("authenticated"));
    }

    #[tokio::test]
    async fn bad_tokens_are_refused_with_their_reason() {
        let verifier = Verifier::new(&settings(), JwksOptions::default());
        let mut expired = user_claims();
        expired["exp"] = json!(now() - 120);
        let mut within_leeway = user_claims();
        within_leeway["exp"] = json!(now() - 1);
        let mut wrong_aud = user_claims();
        wrong_aud["aud"] = json!("anon");
        let mut no_aud = user_claims();
        no_aud.as_object_mut().unwrap().remove("aud");
        let mut not_uuid = user_claims();
        not_uuid["sub"] = json!("admin");
        let mut not_yet = user_claims();
        not_yet["nbf"] = json!(now() + 120);
        let mut anon_role = user_claims();
        anon_role["role"] = json!("anon");
        let mut no_role = user_claims();
        no_role.as_object_mut().unwrap().remove("role");
        let mut anonymous = user_claims();
        anonymous["is_anonymous"] = json!(true);
        let anon_key =
            json!({"iss": "supabase", "ref": "abc", "role": "anon", "iat": now(), "exp": now() + 3600});
        let alg_none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&user_claims()));
        let cases: Vec<(String, AuthError, &str)> = vec![
            ("not-a-jwt".into(), AuthError::Malformed, "garbage"),
            (sign(expired, Algorithm::HS256, SECRET), AuthError::Expired, "expired beyond the leeway"),
            (
                sign(user_claims(), Algorithm::HS256, "another-secret-of-sufficient-length!"),
                AuthError::Signature,
                "wrong secret",
            ),
            (sign(user_claims(), Algorithm::HS512, SECRET), AuthError::Algorithm, "HS512 is not pinned"),
            (alg_none, AuthError::Algorithm, "alg none"),
            (sign(wrong_aud, Algorithm::HS256, SECRET), AuthError::Audience, "wrong audience"),
            (sign(no_aud, Algorithm::HS256, SECRET), AuthError::Audience, "no audience"),
            (sign(anon_key, Algorithm::HS256, SECRET), AuthError::NotAUser, "the anon API key"),
            (sign(not_uuid, Algorithm::HS256, SECRET), AuthError::NotAUser, "sub is not a user id"),
            (sign(not_yet, Algorithm::HS256, SECRET), AuthError::NotYetValid, "nbf beyond the leeway"),
            (sign(anon_role, Algorithm::HS256, SECRET), AuthError::Role, "role anon with a user id"),
            (sign(no_role, Algorithm::HS256, SECRET), AuthError::Role, "no role"),
            (sign(anonymous, Algorithm::HS256, SECRET), AuthError::Anonymous, "anonymous sign-ins are off"),
        ];
        for (token, expected, why) in cases {
            assert_eq!(verifier.verify(&token).await, Err(expected), "{why}");
        }
        assert!(verifier.verify(&sign(within_leeway, Algorithm::HS256, SECRET)).await.is_ok(), "leeway");
        let mut nbf_within_leeway = user_claims();
        nbf_within_leeway["nbf"] = json!(now() + 2);
        assert!(
            verifier.verify(&sign(nbf_within_leeway, Algorithm::HS256, SECRET)).await.is_ok(),
            "nbf leeway"
        );
    }

    #[tokio::test]
    async fn anonymous_sign_ins_are_users_only_when_the_settings_allow_them() {
        let mut anonymous = user_claims();
        anonymous["is_anonymous"] = json!(true);
        let token = sign(anonymous, Algorithm::HS256, SECRET);
        let allowing = Verifier::new(
            &AuthSettings { allow_anonymous_users: true, ..settings() },
            JwksOptions::default(),
        );

        let claims = allowing.verify(&token).await.unwrap();

        assert!(claims.anonymous);
        assert_eq!(claims.sub.to_string(), USER);
        let mut anon_role = user_claims();
        anon_role["role"] = json!("anon");
        assert_eq!(
            allowing.verify(&sign(anon_role, Algorithm::HS256, SECRET)).await,
            Err(AuthError::Role),
            "role anon is the API key's role, never a user's, even when anonymous users are allowed"
        );
    }

    #[tokio::test]
    async fn a_token_verified_once_is_served_from_the_cache_without_a_jwks_fetch() {
        use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [jwk("es256-a")]})))
            .mount(&server)
            .await;
        let mut settings = settings();
        settings.jwks_url = Some(Url::parse(&format!("{}/jwks.json", server.uri())).unwrap());
        // max_age 0: every check of a signature would fetch the keys again.
        let options = JwksOptions {
            max_age: Duration::ZERO,
            min_refetch_interval: Duration::ZERO,
            timeout: Duration::from_secs(2),
        };
        let verifier = Verifier::new(&settings, options);
        let token = es256_token("es256-a", 0);

        for _ in 0..5 {
            assert_eq!(verifier.verify(&token).await.unwrap().sub.to_string(), USER);
        }

        let fetches = server.received_requests().await.unwrap().len();
        assert_eq!(fetches, 1, "only the first request checked the signature");
    }

    #[tokio::test]
    async fn asymmetric_tokens_need_a_configured_jwks() {
        let verifier = Verifier::new(&settings(), JwksOptions::default());
        let token = format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})),
            b64(&user_claims())
        );
        assert_eq!(verifier.verify(&token).await, Err(AuthError::Algorithm));
    }

    /// A token of its own for each `n` (another `jti`), so the cache of verified tokens does not
    /// answer in its place.
    fn es256_token(kid: &str, n: u32) -> String {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");
        let pem = std::fs::read(format!("{dir}/{kid}.private.pem")).unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        let mut claims = user_claims();
        claims["jti"] = json!(n);
        encode(&header, &claims, &EncodingKey::from_ec_pem(&pem).unwrap()).unwrap()
    }

    fn jwk(kid: &str) -> serde_json::Value {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{kid}.jwk.json")).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_stale_key_keeps_working_while_the_jwks_is_down_without_a_fetch_per_request() {
        use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [jwk("es256-a")]})))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
        let mut settings = settings();
        settings.jwks_url = Some(Url::parse(&format!("{}/jwks.json", server.uri())).unwrap());
        let options = JwksOptions {
            max_age: Duration::ZERO,
            min_refetch_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(2),
        };
        let verifier = Verifier::new(&settings, options);

        for n in 0..5 {
            assert!(verifier.verify(&es256_token("es256-a", n)).await.is_ok());
        }

        let fetches = server.received_requests().await.unwrap().len();
        assert_eq!(fetches, 2, "one load, one failed refresh, then the interval holds");
        assert_eq!(verifier.verify(&es256_token("es256-b", 0)).await, Err(AuthError::UnknownKey));
    }
}
