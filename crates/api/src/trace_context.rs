//! Request ids and trace context at the edge: every request gets an `X-Request-Id` (the
//! client's when it sent a sane one, else a new UUIDv7) and a place in a W3C trace (continued
//! from its `traceparent`, else started here). Both are fields of the `request` span, so every
//! log line of the request carries them, and the id is returned on every response: 2xx,
//! problem+json, 404, the 101 of a socket upgrade, errors of the middleware below.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use protocol::trace::{REQUEST_ID_HEADER, TRACEPARENT_HEADER};
use protocol::{Origin, RequestId, SpanId, TraceParent};
use settings::telemetry;
use tracing::Instrument as _;

use crate::access_log::{self, redacted_target};

/// The request's trace context, in the request's extensions for handlers that hand work on.
#[derive(Debug, Clone)]
pub struct RequestTrace {
    /// The id returned in `X-Request-Id`.
    pub request_id: RequestId,
    /// This request's place in its trace: its trace id, with the request's span as the parent.
    pub traceparent: TraceParent,
}

impl RequestTrace {
    /// What a job queued by this request carries, so the worker continues the trace.
    pub fn origin(&self) -> Origin {
        Origin { traceparent: Some(self.traceparent), request_id: Some(self.request_id.clone()) }
    }
}

/// The request's trace context, when the middleware ran (always, in the gateway).
pub fn of(req: &actix_web::HttpRequest) -> Option<RequestTrace> {
    req.extensions().get::<RequestTrace>().cloned()
}

/// Middleware, outermost: the `request` span (method, `uri` with tokens redacted, request id,
/// trace id), the [`RequestTrace`] in the request's extensions, `X-Request-Id` on the response,
/// and the access log line in the span once the response head is ready.
///
/// # Errors
/// An error of the services inside, rendered with the header too.
pub async fn trace_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let request_id = header(REQUEST_ID_HEADER).and_then(|v| RequestId::parse(v).ok()).unwrap_or_default();
    let incoming = header(TRACEPARENT_HEADER).and_then(|v| TraceParent::parse(v).ok());
    let method = req.method().clone();
    let target = redacted_target(req.path(), req.query_string());
    // Ids made here, in the caller's trace when there is one. Without export that is the
    // request's place in the trace, known before the span is made, so the span is created with
    // every field (recording one later formats the span's fields a second time).
    let made_here = || match incoming {
        Some(parent) => parent.child(SpanId::random()),
        None => TraceParent::start(SpanId::random()),
    };
    let early = (!telemetry::exporting()).then(made_here);
    let span = tracing::info_span!(
        "request",
        method = %method,
        uri = %target,
        request_id = %request_id,
        trace_id = early.as_ref().map(|t| tracing::field::display(t.trace_id)),
    );
    if let Some(parent) = &incoming {
        telemetry::continue_trace(&span, parent);
    }
    // With export on, the span's own ids, so the worker's spans hang under it in the collector.
    let traceparent = early.unwrap_or_else(|| {
        let traceparent = telemetry::traceparent_of(&span).unwrap_or_else(made_here);
        span.record("trace_id", tracing::field::display(traceparent.trace_id));
        traceparent
    });
    req.extensions_mut().insert(RequestTrace { request_id: request_id.clone(), traceparent });

    // Visible ASCII by construction, so always a valid header value.
    let value = HeaderValue::from_str(request_id.as_str()).ok();
    let name = HeaderName::from_static(REQUEST_ID_HEADER);
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    span.in_scope(|| access_log::line(&method, &target, status.as_u16(), started));
    match result {
        Ok(mut response) => {
            if let Some(value) = value {
                response.headers_mut().insert(name, value);
            }
            Ok(response.map_into_boxed_body())
        }
        // An error the services inside did not turn into a response: actix renders it from
        // the error alone, so the header goes into that rendering.
        Err(error) => {
            let mut response = error.error_response();
            if let Some(value) = value {
                response.headers_mut().insert(name, value);
            }
            Err(InternalError::from_response(error, response).into())
        }
    }
}
