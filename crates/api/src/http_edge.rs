//! The HTTP edge: the checks every request passes before a handler sees it.
//!
//! - A request with both `Content-Length` and `Transfer-Encoding` is the classic smuggling
//!   vector (RFC 9112 section 6.1): it is answered 400 and the connection is closed, so
//!   whatever a proxy in front read as the next request is never answered. actix-http
//!   answers requests it has already parsed from the same read before it honours
//!   `Connection: close`, so the connection is also marked ([`Connection`]) and a request that
//!   follows on it gets a response whose body fails: actix then drops the connection without
//!   writing a byte of that response.
//! - A request body must arrive in full within `api.body_timeout_secs`; otherwise the answer
//!   is 408 and the connection is closed. actix's `client_request_timeout` covers only the
//!   head, so a declared body that never comes would hold the connection (and a descriptor)
//!   for as long as the client likes.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, HttpResponse, ResponseError};
use bytes::Bytes;
use futures_util::Stream;
use tokio::time::Sleep;

use crate::error::ApiError;

/// Per-connection state, inserted by [`on_connect`] (one per TCP connection).
#[derive(Debug, Default)]
pub struct Connection {
    /// A request on this connection was refused as a smuggling attempt.
    poisoned: Cell<bool>,
}

/// `HttpServer::on_connect` callback: gives every connection its [`Connection`].
pub fn on_connect(_: &dyn std::any::Any, extensions: &mut actix_web::dev::Extensions) {
    extensions.insert(Connection::default());
}

/// Middleware: refuse CL+TE, put the body on a deadline of `body_timeout`.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn edge(
    body_timeout: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let connection = req.conn_data::<Connection>();
    if connection.is_some_and(|c| c.poisoned.get()) {
        // Let the 400 before it reach the socket first (actix flushes while this is pending).
        tokio::task::yield_now().await;
        return Ok(req.into_response(abort()));
    }
    let headers = req.headers();
    if headers.contains_key(header::CONTENT_LENGTH) && headers.contains_key(header::TRANSFER_ENCODING) {
        if let Some(connection) = connection {
            connection.poisoned.set(true);
        }
        let error = ApiError::BadRequest(
            "a request may not carry both Content-Length and Transfer-Encoding (RFC 9112 6.1)".into(),
        );
        return Ok(req.into_response(closing(error.error_response())));
    }
    if !has_body(&req) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let expired = Rc::new(Cell::new(false));
    let payload = Deadline {
        inner: req.take_payload(),
        sleep: Box::pin(tokio::time::sleep(body_timeout)),
        expired: expired.clone(),
    };
    req.set_payload(Payload::Stream { payload: Box::pin(payload) });
    let response = next.call(req).await?;
    if !expired.get() {
        return Ok(response.map_into_boxed_body());
    }
    // The handler saw a failed read (and may have answered 400): the client gets the real reason.
    let error = ApiError::RequestTimeout { secs: body_timeout.as_secs() };
    let (request, _) = response.into_parts();
    Ok(ServiceResponse::new(request, closing(error.error_response())))
}

/// A request that declares a body (a WebSocket upgrade's payload is the socket, never timed).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::UPGRADE) {
        return false;
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|n| n > 0)
}

/// A response whose body fails at once, so actix drops the connection instead of writing it.
fn abort() -> HttpResponse {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, _>(std::io::Error::other("request smuggled behind a refused one"))
    });
    closing(HttpResponse::BadRequest().streaming(failing))
}

/// The response with `Connection: close`: the connection is not reused after it.
fn closing(mut response: HttpResponse) -> HttpResponse {
    response.head_mut().set_connection_type(ConnectionType::Close);
    response
}

/// A request payload that fails once its deadline has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // The deadline first: a client dripping one byte at a time is always "ready".
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.expired.set(true);
            let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body deadline passed");
            return Poll::Ready(Some(Err(PayloadError::Io(error))));
        }
        Pin::new(&mut this.inner).poll_next(cx)
    }
}
