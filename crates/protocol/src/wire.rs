//! The names and numbers of the wire that are not types: the socket's close codes, the headers
//! and media types the API defines, and its problem types. `docs/protocol.md` says when each is
//! used and what a client should do about it; the gateway and the clients both take them from
//! here, so a code or a slug cannot drift between them.

/// 1000: the terminal message was sent; the task is over.
pub const CLOSE_DONE: u16 = 1000;
/// 1002: the client sent a malformed frame.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// 1003: the client sent a binary frame (only the text `ping` is expected).
pub const CLOSE_UNSUPPORTED: u16 = 1003;
/// 1008: the client sent more than `api.ws_max_frames_per_minute` frames in a minute.
pub const CLOSE_FLOOD: u16 = 1008;
/// 1009: an inbound frame was larger than `api.ws_max_frame_bytes`.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// 1011: the event log could not be read; reconnect with `?since=` or poll.
pub const CLOSE_ERROR: u16 = 1011;
/// 1012: the gateway is shutting down; reconnect (another instance serves) with `?since=`.
pub const CLOSE_RESTART: u16 = 1012;
/// 4000: nothing heard from the client for `api.ws_client_timeout_secs`.
pub const CLOSE_IDLE: u16 = 4000;
/// 4001: the access token expired while the socket was open; reconnecting with the same token
/// cannot help, so refresh it first.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// 4008: the client read too slowly and its queue overflowed; reconnect with `?since=`.
pub const CLOSE_SLOW_READER: u16 = 4008;

/// The request header that makes `POST /scrape/async` safe to retry: a retry with the same key
/// is answered with the task the first request created.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Request bodies, task snapshots, recipes and shopping lists.
pub const JSON: &str = "application/json";
/// Error bodies ([`crate::Problem`], RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// A recipe as a schema.org `Recipe`, asked for with `Accept` on `GET /recipes/{id}`.
pub const JSON_LD: &str = "application/ld+json";

/// Problem types: the slug that ends a problem document's `type` (`/problems/{slug}`, or
/// `https://{MAIN_DOMAIN}/problems/{slug}`). Clients match on the slug, not the whole URI.
pub mod problems {
    /// What a relative problem type URI starts with; the slug follows.
    pub const PREFIX: &str = "/problems/";

    /// 400: the body, a query parameter or a header is malformed.
    pub const BAD_REQUEST: &str = "bad-request";
    /// 401: no usable access token.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// 403: a valid token that may not do this (a user's token on the admin API).
    pub const FORBIDDEN: &str = "forbidden";
    /// 404: no such task, recipe or endpoint for this user.
    pub const NOT_FOUND: &str = "not-found";
    /// 405: the path does not answer this method (`Allow` lists the ones it does).
    pub const METHOD_NOT_ALLOWED: &str = "method-not-allowed";
    /// 408: the request body did not arrive in time.
    pub const REQUEST_TIMEOUT: &str = "request-timeout";
    /// 409: cancelling a finished task, or an `Idempotency-Key` whose first request is in progress.
    pub const CONFLICT: &str = "conflict";
    /// 413: the body is larger than the limit.
    pub const PAYLOAD_TOO_LARGE: &str = "payload-too-large";
    /// 415: the body was not sent as JSON.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported-media-type";
    /// 422: the link is not a TikTok video link.
    pub const INVALID_URL: &str = "invalid-url";
    /// 422: the language is not an acceptable BCP 47 tag.
    pub const INVALID_LANGUAGE: &str = "invalid-language";
    /// 429: a per-user limit; `Retry-After` says when to retry.
    pub const RATE_LIMITED: &str = "rate-limited";
    /// 500: a bug; no detail is exposed.
    pub const INTERNAL: &str = "internal";
    /// 503: a backing service is unreachable or the gateway is shutting down.
    pub const UNAVAILABLE: &str = "unavailable";

    /// The relative type URI of `slug`: `/problems/{slug}`.
    pub fn type_uri(slug: &str) -> String {
        format!("{PREFIX}{slug}")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_type_uri_is_the_prefix_and_the_slug() {
            assert_eq!(type_uri(INVALID_URL), "/problems/invalid-url");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../../../docs/protocol.md");

    #[test]
    fn every_close_code_is_in_the_reference_table() {
        let codes = [
            CLOSE_DONE,
            CLOSE_PROTOCOL,
            CLOSE_UNSUPPORTED,
            CLOSE_FLOOD,
            CLOSE_TOO_BIG,
            CLOSE_ERROR,
            CLOSE_RESTART,
            CLOSE_IDLE,
            CLOSE_TOKEN_EXPIRED,
            CLOSE_SLOW_READER,
        ];
        for code in codes {
            assert!(REFERENCE.contains(&format!("\n| {code} | ")), "close code {code}");
        }
    }

    #[test]
    fn every_problem_type_is_in_the_reference_table() {
        let slugs = [
            problems::BAD_REQUEST,
            problems::UNAUTHORIZED,
            problems::FORBIDDEN,
            problems::NOT_FOUND,
            problems::METHOD_NOT_ALLOWED,
            problems::REQUEST_TIMEOUT,
            problems::CONFLICT,
            problems::PAYLOAD_TOO_LARGE,
            problems::UNSUPPORTED_MEDIA_TYPE,
            problems::INVALID_URL,
            problems::INVALID_LANGUAGE,
            problems::RATE_LIMITED,
            problems::INTERNAL,
            problems::UNAVAILABLE,
        ];
        for slug in slugs {
            let type_uri = problems::type_uri(slug);
            assert!(REFERENCE.contains(&format!(" | `{type_uri}` | ")), "{type_uri}");
        }
    }

    #[test]
    fn headers_and_media_types_are_the_ones_the_reference_names() {
        for name in [IDEMPOTENCY_KEY, JSON, PROBLEM_JSON, JSON_LD] {
            assert!(REFERENCE.contains(name), "{name}");
        }
    }
}
