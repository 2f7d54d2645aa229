//! The problem types of RFC 9457 documents: a short page per type at `GET /problems/{slug}`, and
//! absolute `type` URIs (`https://{MAIN_DOMAIN}/problems/{slug}`) when `MAIN_DOMAIN` is set.
//!
//! The pages are served by the gateway itself rather than pointing into docs/protocol.md: the
//! URI in a problem document then resolves wherever the gateway runs (a staging domain, a
//! laptop), with no second site to deploy or keep in step, and the table below is the one place
//! the texts live.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use protocol::wire::problems;

use crate::error::ApiError;
use crate::state::AppState;

/// One problem type: its slug, status and what it means for a client.
#[derive(Debug, Clone, Copy)]
pub struct ProblemType {
    /// The last segment of the type URI.
    pub slug: &'static str,
    /// The HTTP status the type comes with.
    pub status: u16,
    /// The problem document's `title`.
    pub title: &'static str,
    /// What happened and what to do, for the page.
    pub meaning: &'static str,
}

/// Every problem type the gateway answers with.
pub const SLUGS: &[ProblemType] = &[
    ProblemType {
        slug: problems::BAD_REQUEST,
        status: 400,
        title: "Malformed request",
        meaning: "The body is not the JSON the endpoint expects, or a query parameter or header is malformed. \
                  The detail names the part; fix the request before retrying.",
    },
    ProblemType {
        slug: problems::UNAUTHORIZED,
        status: 401,
        title: "Not signed in",
        meaning: "No usable access token: missing, expired, wrongly signed, for another audience, or an API key. \
                  Refresh the Supabase session and retry with the new token.",
    },
    ProblemType {
        slug: problems::FORBIDDEN,
        status: 403,
        title: "Forbidden",
        meaning: "The token is valid but may not do this: the admin API takes the admin token or a Supabase \
                  service_role token, never a user's.",
    },
    ProblemType {
        slug: problems::NOT_FOUND,
        status: 404,
        title: "Not found",
        meaning: "No such task, recipe or endpoint belongs to you. Another user's task looks exactly the same.",
    },
    ProblemType {
        slug: problems::METHOD_NOT_ALLOWED,
        status: 405,
        title: "Method not allowed",
        meaning: "The path exists but does not answer this method; the Allow header lists the ones it does.",
    },
    ProblemType {
        slug: problems::REQUEST_TIMEOUT,
        status: 408,
        title: "Request body too slow",
        meaning: "The request body did not arrive within api.body_timeout_secs; the connection is closed. \
                  Send the whole body at once.",
    },
    ProblemType {
        slug: problems::CONFLICT,
        status: 409,
        title: "Conflict",
        meaning: "The request conflicts with the resource's state: cancelling a task that already finished, or an \
                  Idempotency-Key whose first request is still being processed (retry in a moment).",
    },
    ProblemType {
        slug: problems::PAYLOAD_TOO_LARGE,
        status: 413,
        title: "Request body too large",
        meaning: "The body is larger than api.max_body_bytes. A scrape request is a link and a language tag.",
    },
    ProblemType {
        slug: problems::UNSUPPORTED_MEDIA_TYPE,
        status: 415,
        title: "Unsupported media type",
        meaning: "Send the body as JSON with Content-Type: application/json.",
    },
    ProblemType {
        slug: problems::INVALID_URL,
        status: 422,
        title: "Invalid request field",
        meaning: "The url is not a TikTok video link (www, m, vm or vt.tiktok.com). Profiles, sounds and other \
                  sites are refused.",
    },
    ProblemType {
        slug: problems::INVALID_LANGUAGE,
        status: 422,
        title: "Invalid request field",
        meaning: "The language is not a BCP 47 tag with a known language, script and region, such as de, pt-BR, \
                  es-419, zh-Hant-TW, sr-Latn or fil (what Flutter's Locale.toLanguageTag() gives).",
    },
    ProblemType {
        slug: problems::RATE_LIMITED,
        status: 429,
        title: "Too many requests",
        meaning: "A per-user limit was reached (submissions per minute, tasks in flight, open sockets). Wait for \
                  the seconds in Retry-After, or for a task to finish.",
    },
    ProblemType {
        slug: problems::UNAVAILABLE,
        status: 503,
        title: "Service unavailable",
        meaning: "A backing service (Redis, Postgres, the token signing keys) is unavailable. Retry after the \
                  seconds in Retry-After.",
    },
    ProblemType {
        slug: problems::INTERNAL,
        status: 500,
        title: "Internal server error",
        meaning: "A bug or an unexpected failure on the server. It is logged; retrying later may help.",
    },
];

/// The problem type named `slug`.
pub fn find(slug: &str) -> Option<&'static ProblemType> {
    SLUGS.iter().find(|p| p.slug == slug)
}

/// `GET /problems/{slug}`: a short HTML page about one problem type.
///
/// # Errors
/// 404 for an unknown slug.
pub async fn page(slug: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let problem = find(&slug).ok_or(ApiError::NotFound("there is no such problem type"))?;
    // Every text is a constant of this file, so nothing needs escaping.
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1><p>HTTP status {status}, problem type <code>{slug}</code>.</p>\n<p>{meaning}</p>\n\
         <p>The problem document's <code>detail</code> says what went wrong in your request.</p></body></html>\n",
        title = problem.title,
        status = problem.status,
        slug = problem.slug,
        meaning = problem.meaning,
    );
    Ok(HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8")).body(body))
}

/// The base of absolute problem type URIs, `https://{MAIN_DOMAIN}`, when the domain is set.
pub fn type_base(main_domain: Option<&str>) -> String {
    main_domain.map(|d| format!("https://{d}")).unwrap_or_default()
}

/// Middleware: with `MAIN_DOMAIN` set, every problem document the gateway answers with carries
/// an absolute `type` URI. A `ResponseError` renders without the request, so the error is
/// rendered once more here, where the settings are at hand.
pub async fn absolute_types(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let base = req.app_data::<web::Data<AppState>>().and_then(|s| s.api.main_domain.clone());
    let Some(domain) = base else { return next.call(req).await.map(ServiceResponse::map_into_boxed_body) };
    let base = type_base(Some(&domain));
    match next.call(req).await {
        Ok(response) => {
            let rendered =
                response.response().error().and_then(|e| e.as_error::<ApiError>()).map(|e| e.render(&base));
            Ok(match rendered {
                Some(rendered) => response.into_response(rendered),
                None => response.map_into_boxed_body(),
            })
        }
        // An error a middleware returned (rather than a handler's, which arrives as a response):
        // the request is gone, so it stays an error, carrying the re-rendered response.
        Err(error) => match error.as_error::<ApiError>() {
            Some(api) => Err(InternalError::from_response(api.to_string(), api.render(&base)).into()),
            None => Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::AuthError;

    #[test]
    fn every_error_the_gateway_sends_has_a_page_with_its_status_and_title() {
        let errors = [
            ApiError::BadRequest("x".into()),
            ApiError::from(AuthError::Expired),
            ApiError::from(AuthError::KeysUnavailable),
            ApiError::task_not_found(),
            ApiError::RequestTimeout { secs: 10 },
            ApiError::MethodNotAllowed { allow: "GET" },
            ApiError::Conflict("x".into()),
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::UnsupportedMediaType,
            ApiError::Invalid { kind: problems::INVALID_URL, detail: "x".into() },
            ApiError::Invalid { kind: problems::INVALID_LANGUAGE, detail: "x".into() },
            ApiError::RateLimited { retry_after: Duration::from_secs(1), detail: "x".into() },
            ApiError::unavailable(anyhow::anyhow!("x")),
            ApiError::internal(anyhow::anyhow!("x")),
        ];
        for error in errors {
            let problem = error.problem_at("https://recipes.example.com");
            let slug = problem
                .kind
                .strip_prefix(&format!("https://recipes.example.com{}", problems::PREFIX))
                .expect("absolute type");
            let page = find(slug).unwrap_or_else(|| panic!("no page for {slug}"));
            assert_eq!((page.status, page.title), (problem.status, problem.title.as_str()), "{slug}");
        }
    }

    #[test]
    fn slugs_are_unique_and_url_safe() {
        for (i, problem) in SLUGS.iter().enumerate() {
            assert!(problem.slug.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", problem.slug);
            assert!(SLUGS[..i].iter().all(|p| p.slug != problem.slug), "{} twice", problem.slug);
        }
    }
}
