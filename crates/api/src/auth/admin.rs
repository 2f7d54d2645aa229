//! The operators' way into the admin console, separate from users' sign-in.
//!
//! An admin request carries `Authorization: Bearer <token>` with either the admin token of the
//! settings (`RELAY__ADMIN__TOKEN`, compared in constant time) or a Supabase `service_role`
//! JWT, verified by the same [`Verifier`] as users' tokens (same keys, pinned algorithms, `exp`
//! and `nbf`) and then required to carry `role: "service_role"`. A user's token (any other role)
//! is valid but not enough: 403. No token, or one that is neither: 401.
//!
//! [`Admin`] names who is acting ("admin-token", or the JWT's `sub`, or "service_role" for the
//! project key, which has none); every admin handler logs it with what it did.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

use crate::auth::extract::bearer;
use crate::auth::token::{AuthError, Verifier};
use crate::error::ApiError;

/// The role of Supabase's secret API key, the one JWT the admin console accepts.
pub const SERVICE_ROLE: &str = "service_role";

/// Who an admin request's token names when it is the admin token of the settings.
pub const TOKEN_IDENTITY: &str = "admin-token";

/// The admin token of the settings, registered as app data when the console is on.
#[derive(Clone)]
pub struct AdminToken(Option<SecretString>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AdminToken").field(&self.0.as_ref().map(|_| "<set>")).finish()
    }
}

impl AdminToken {
    /// The token of `admin.token` (`None`: only `service_role` JWTs get in).
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(|t| SecretString::from(t.to_owned())))
    }

    /// Whether `candidate` is the admin token. The comparison takes the same time whatever
    /// prefix matches (only the length can be told apart, and the token has at least 16
    /// characters).
    fn matches(&self, candidate: &str) -> bool {
        self.0.as_ref().is_some_and(|t| bool::from(t.expose_secret().as_bytes().ct_eq(candidate.as_bytes())))
    }
}

/// An operator, authenticated for the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Who is acting, for the log line of every admin action.
    pub who: String,
}

const MISSING: &str =
    "the admin API needs `Authorization: Bearer <admin token>` (RELAY__ADMIN__TOKEN) or a service_role JWT";
const INVALID: &str = "the token is neither the admin token nor a valid service_role JWT";
const USER_TOKEN: &str =
    "a user's access token cannot use the admin API; send the admin token or a service_role JWT";

/// Decides who `token` is: the admin token, a `service_role` JWT, or a refusal.
///
/// # Errors
/// [`ApiError::AdminUnauthorized`] (401) for a token that is neither, [`ApiError::Forbidden`]
/// (403) for a valid JWT of another role, 503 when the signing keys cannot be fetched.
pub async fn authenticate(
    token: Option<&str>,
    admin_token: &AdminToken,
    verifier: &Verifier,
) -> Result<Admin, ApiError> {
    let token = token.ok_or(ApiError::AdminUnauthorized(MISSING))?;
    if admin_token.matches(token) {
        return Ok(Admin { who: TOKEN_IDENTITY.to_owned() });
    }
    match verifier.verify_signed(token).await {
        Ok(claims) if claims.role.as_deref() == Some(SERVICE_ROLE) => {
            Ok(Admin { who: claims.sub.unwrap_or_else(|| SERVICE_ROLE.to_owned()) })
        }
        Ok(_) => Err(ApiError::Forbidden(USER_TOKEN)),
        Err(AuthError::KeysUnavailable) => Err(ApiError::from(AuthError::KeysUnavailable)),
        Err(_) => Err(ApiError::AdminUnauthorized(INVALID)),
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let missing = || ApiError::internal(anyhow::anyhow!("the admin console is not configured"));
            let admin_token = req.app_data::<web::Data<AdminToken>>().ok_or_else(missing)?;
            let verifier = req.app_data::<web::Data<Verifier>>().ok_or_else(missing)?;
            let admin = authenticate(bearer(&req), admin_token, verifier).await;
            if let Err(error) = &admin {
                tracing::info!(path = req.path(), refused = %error, "admin request refused");
            }
            admin
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::json;
    use settings::AuthSettings;

    use super::*;
    use crate::auth::JwksOptions;

    const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters";
    const ADMIN: &str = "an-admin-token-that-is-long";

    fn verifier() -> Verifier {
        let settings = AuthSettings {
            jwt_secret: Some(SecretString::from(SECRET)),
            supabase_url: None,
            jwks_url: None,
            audience: "authenticated".into(),
            leeway_secs: 5,
            allow_anonymous_users: false,
        };
        Verifier::new(&settings, JwksOptions::default())
    }

    fn sign(claims: serde_json::Value, secret: &str) -> String {
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap())
            .unwrap()
    }

    fn exp() -> u64 {
        protocol::message::now_seconds() as u64 + 600
    }

    #[tokio::test]
    async fn the_admin_token_and_service_role_jwts_get_in_and_user_tokens_do_not() {
        let (token, verifier) = (AdminToken::new(Some(ADMIN)), verifier());
        let service_key = sign(json!({"iss": "supabase", "role": "service_role", "exp": exp()}), SECRET);
        let service_user = sign(json!({"sub": "ops-bot", "role": "service_role", "exp": exp()}), SECRET);
        let user = sign(
            json!({"sub": "7d1c2c4e-5d1f-4a8e-9f00-0123456789ab", "aud": "authenticated",
                   "role": "authenticated", "exp": exp()}),
            SECRET,
        );
        let anon = sign(json!({"iss": "supabase", "role": "anon", "exp": exp()}), SECRET);
        let forged =
            sign(json!({"role": "service_role", "exp": exp()}), "another-secret-of-sufficient-length!");
        let expired = sign(json!({"role": "service_role", "exp": exp() - 1200}), SECRET);

        let who = async |t: &str| authenticate(Some(t), &token, &verifier).await;
        assert_eq!(who(ADMIN).await.unwrap().who, "admin-token");
        assert_eq!(who(&service_key).await.unwrap().who, "service_role");
        assert_eq!(who(&service_user).await.unwrap().who, "ops-bot");
        for (bad, status, why) in [
            (user.as_str(), 403, "a signed-in user"),
            (anon.as_str(), 403, "the anon key"),
            (forged.as_str(), 401, "a service_role JWT signed with another secret"),
            (expired.as_str(), 401, "an expired service_role JWT"),
            ("an-admin-token-that-is-lonG", 401, "almost the admin token"),
            ("", 401, "empty"),
        ] {
            let error = who(bad).await.expect_err(why);
            assert_eq!(actix_web::ResponseError::status_code(&error).as_u16(), status, "{why}");
        }
        let error = authenticate(None, &token, &verifier).await.unwrap_err();
        assert_eq!(actix_web::ResponseError::status_code(&error).as_u16(), 401, "no token");
    }

    #[tokio::test]
    async fn without_an_admin_token_only_service_role_jwts_get_in() {
        let (token, verifier) = (AdminToken::new(None), verifier());
        assert!(authenticate(Some(ADMIN), &token, &verifier).await.is_err());
        assert!(!format!("{:?}", AdminToken::new(Some(ADMIN))).contains(ADMIN), "never in Debug");
    }
}
