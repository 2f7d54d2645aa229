//! The access log: one line per request, with the `token` query parameter redacted, inside the
//! `request` span that [`crate::trace_context`] opens. Sockets carry the access token in
//! `?token=` (browsers cannot set headers on them), so the raw query string must never reach a
//! log line or a trace.

use std::time::Instant;

use actix_web::http::Method;

/// Query parameters whose values never appear in logs.
const SECRET_PARAMS: &[&str] = &["token", "access_token", "apikey"];

/// The request's path and query with secret parameter values replaced by `[redacted]`.
pub fn redacted_target(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let query: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let decoded: String = url::form_urlencoded::parse(name.as_bytes())
                .next()
                .map(|(k, _)| k.into_owned())
                .unwrap_or_default();
            if SECRET_PARAMS.iter().any(|p| decoded.eq_ignore_ascii_case(p)) {
                format!("{name}=[redacted]")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// The access log line of a request that ended with `status`: called by
/// [`crate::trace_context`] in the request's span (so with its request id and trace id), with the
/// `target` it redacted for that span.
pub fn line(method: &Method, target: &str, status: u16, started: Instant) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(status, latency_ms, "{method} {target}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_values_are_redacted_and_other_parameters_kept() {
        let cases = [
            ("/ws/abc", "", "/ws/abc"),
            ("/ws/abc", "token=eyJ.secret.sig", "/ws/abc?token=[redacted]"),
            ("/ws/abc", "since=3&token=eyJ.secret.sig", "/ws/abc?since=3&token=[redacted]"),
            ("/ws/abc", "TOKEN=x&since=1", "/ws/abc?TOKEN=[redacted]&since=1"),
            ("/ws/abc", "to%6Ben=x", "/ws/abc?to%6Ben=[redacted]"),
            ("/ws/abc", "token", "/ws/abc?token=[redacted]"),
            ("/task/1", "since=2&wait=10", "/task/1?since=2&wait=10"),
        ];
        for (path, query, expected) in cases {
            assert_eq!(redacted_target(path, query), expected, "{path}?{query}");
        }
    }
}
