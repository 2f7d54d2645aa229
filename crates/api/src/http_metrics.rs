//! The HTTP metrics middleware: every request's duration by method, route pattern and status
//! (`relay_http_request_duration_seconds`), and the refusals of the body limits that answer
//! before any handler runs (413 body size, 408 body deadline) in `relay_limits_hit_total`.
//!
//! The route is the matched resource pattern (`/task/{task_id}`), never the raw path, and
//! `unmatched` for unknown paths; methods outside the standard ones are `other`. Both keep the
//! series' cardinality bounded whatever clients send.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use crate::metrics::{self, Limit};

/// Middleware: times the request and records it once the response head is ready.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req.match_pattern();
    let result = next.call(req).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => metrics::limit_hit(Limit::BodySize),
        StatusCode::REQUEST_TIMEOUT => metrics::limit_hit(Limit::BodyTimeout),
        _ => {}
    }
    metrics::http_request(method, route, status.as_u16(), started.elapsed());
    result
}

/// The method as a label: one of the standard methods, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, HttpResponse, web};

    use super::*;
    use crate::metrics::scrape::value;

    #[actix_web::test]
    async fn requests_are_recorded_by_route_pattern_and_status_and_413_counts_as_a_limit() {
        metrics::install();
        let series = |route: &str, status: u16| {
            value(&format!(
                "relay_http_request_duration_seconds_count{{method=\"GET\",route=\"{route}\",status=\"{status}\"}}"
            ))
        };
        let (found, unmatched, too_large) =
            (series("/task/{task_id}", 200), series("unmatched", 404), series("/scrape/async", 413));
        let body_size = value("relay_limits_hit_total{limit=\"body_size\"}");
        let app = init_service(
            App::new()
                .route("/task/{task_id}", web::get().to(HttpResponse::Ok))
                .route("/scrape/async", web::get().to(HttpResponse::PayloadTooLarge))
                .wrap(from_fn(record)),
        )
        .await;

        for uri in ["/task/1", "/task/2", "/nowhere", "/scrape/async"] {
            call_service(&app, TestRequest::get().uri(uri).to_request()).await;
        }

        assert_eq!(series("/task/{task_id}", 200), found + 2.0, "one series for both ids");
        assert_eq!(series("unmatched", 404), unmatched + 1.0);
        assert_eq!(series("/scrape/async", 413), too_large + 1.0);
        assert_eq!(value("relay_limits_hit_total{limit=\"body_size\"}"), body_size + 1.0);
    }

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
