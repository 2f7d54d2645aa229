//! The actix extractors that turn a request into its signed-in user: [`AuthUser`] for HTTP
//! handlers, [`SocketUser`] for the socket (which also reads `?token=`). The only part of
//! authentication that speaks [`ApiError`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use protocol::UserId;

use crate::auth::token::{AuthError, Claims, Verifier};
use crate::error::ApiError;
use crate::metrics::{self, Limit};
use crate::slots::{RequestSlots, UserSlot};

/// The bearer token of a request, if any.
pub(crate) fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The `token` query parameter, if any (sockets only: browsers cannot set headers on them).
fn query_token(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty())
}

async fn authenticate(req: &HttpRequest, token: Option<String>) -> Result<Claims, ApiError> {
    let verifier = req
        .app_data::<web::Data<Verifier>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the Verifier is not registered")))?
        .clone();
    let result = match token {
        Some(token) => verifier.verify(&token).await,
        None => Err(AuthError::Missing),
    };
    result.map_err(|error| {
        metrics::auth_failure(&error);
        ApiError::from(error)
    })
}

/// The signed-in user of a request, from `Authorization: Bearer <token>`. It holds one of the
/// user's in-flight request slots ([`RequestSlots`]) until the handler is done with it.
#[derive(Debug, Clone)]
pub struct AuthUser(
    pub Claims,
    #[allow(dead_code, reason = "held for its Drop, which frees the slot")] Option<Arc<UserSlot>>,
);

impl AuthUser {
    /// The user, as the token's `sub` names them.
    pub fn id(&self) -> UserId {
        self.0.sub
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = bearer(&req).map(str::to_owned);
            let claims = authenticate(&req, token).await?;
            // Taken before the body is read: a slow upload holds its slot while it trickles in.
            let slot = match req.app_data::<web::Data<RequestSlots>>() {
                Some(limit) => {
                    Some(Arc::new(limit.slots.try_acquire(claims.sub, limit.max).ok_or_else(|| {
                        metrics::limit_hit(Limit::RequestsPerUser);
                        ApiError::RateLimited {
                            retry_after: Duration::from_secs(1),
                            detail: format!(
                                "at most {} requests per user at once; wait for one to finish",
                                limit.max
                            ),
                        }
                    })?))
                }
                None => None,
            };
            Ok(Self(claims, slot))
        })
    }
}

/// The signed-in user of a socket request: the bearer header, or else `?token=`.
#[derive(Debug, Clone)]
pub struct SocketUser(pub Claims);

impl SocketUser {
    /// The user, as the token's `sub` names them.
    pub fn id(&self) -> UserId {
        self.0.sub
    }
}

impl FromRequest for SocketUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = bearer(&req).map(str::to_owned).or_else(|| query_token(&req));
            authenticate(&req, token).await.map(Self)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_query_tokens_are_read() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer abc.def.ghi"))
            .uri("/ws/x?since=3&token=q.r.s")
            .to_http_request();
        assert_eq!(bearer(&req), Some("abc.def.ghi"));
        assert_eq!(query_token(&req).as_deref(), Some("q.r.s"));
        let basic = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic Zm9v"))
            .to_http_request();
        assert_eq!(bearer(&basic), None);
    }
}
