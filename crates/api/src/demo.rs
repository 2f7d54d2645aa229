//! The web demo and the development helpers. Neither exists unless the settings ask for it.
//!
//! - `GET /demo/…` (`api.demo_enabled`): the static client in `web/`, embedded in the binary
//!   with `include_bytes!`, so the gateway serves it from any working directory. Every answer
//!   carries a restrictive Content-Security-Policy: scripts, styles and images only from the
//!   gateway itself, and connections only to the gateway (`'self'` plus `ws:`/`wss:` of the same
//!   host, for the task socket).
//! - `POST /dev/token` (`api.dev_mode`, and only when `SUPABASE_JWT_SECRET` is set): mints a
//!   short-lived HS256 access token for a random or given user, signed with that secret, so the
//!   demo can be tried without a Supabase project. A gateway without an HS256 secret (JWKS only)
//!   refuses to mount it and says so in its log.
//!
//! - `GET /admin` and `/admin/api/...` (`admin.enabled`): the operators' console in `web/admin/`
//!   (embedded the same way, same policy) and its API ([`crate::routes::admin`]).
//!
//! All are off in `config/base.toml` and `config/production.toml`; `config/local.toml` turns
//! the first two on. When they are off, their paths are unknown paths: 404 problem documents.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::{EncodingKey, Header};
use protocol::UserId;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use settings::Settings;

use crate::auth::admin::AdminToken;
use crate::error::ApiError;
use crate::routes;

/// Where the demo lives.
pub const DEMO_PATH: &str = "/demo";
/// The development token endpoint.
pub const DEV_TOKEN_PATH: &str = "/dev/token";
/// Lifetime of a development token unless the request asks for another.
pub const DEV_TOKEN_TTL_DEFAULT: u64 = 3600;
/// The longest lifetime a development token may ask for (a day).
pub const DEV_TOKEN_TTL_MAX: u64 = 24 * 3600;
/// The `iss` claim of development tokens, so they are recognisable wherever they show up.
pub const DEV_TOKEN_ISSUER: &str = "recipe-relay/dev-token";

/// One embedded file of `web/`.
#[derive(Debug)]
pub struct Asset {
    /// File name under `/demo/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// The files of `web/` the demo serves (anything else under `/demo/` is a 404).
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../../web/index.html"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../web/style.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/api.js"),
    },
    Asset {
        name: "watch.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/watch.js"),
    },
    Asset { name: "icon.svg", content_type: "image/svg+xml", body: include_bytes!("../../../web/icon.svg") },
];

/// Where the admin console lives.
pub const ADMIN_PATH: &str = "/admin";

/// The files of `web/admin/` the console serves at `/admin/{name}` (the page itself at `/admin`).
pub const ADMIN_ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../../web/admin/index.html"),
    },
    Asset {
        name: "admin.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../web/admin/admin.css"),
    },
    Asset {
        name: "admin.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/admin/admin.js"),
    },
    Asset {
        name: "chart.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../web/admin/chart.js"),
    },
    Asset { name: "icon.svg", content_type: "image/svg+xml", body: include_bytes!("../../../web/icon.svg") },
];

/// Which of the optional routes this gateway mounts, decided once from the settings.
#[derive(Clone)]
pub struct Mounts {
    demo: bool,
    dev_tokens: Option<DevTokens>,
    admin: Option<AdminToken>,
}

impl std::fmt::Debug for Mounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounts")
            .field("demo", &self.demo)
            .field("dev_tokens", &self.dev_tokens.is_some())
            .field("admin", &self.admin.is_some())
            .finish()
    }
}

impl Mounts {
    /// Reads `api.demo_enabled`, `api.dev_mode` and the HS256 secret, and logs what is mounted.
    pub fn from_settings(settings: &Settings) -> Self {
        let demo = settings.api.demo_enabled;
        // jsonwebtoken refuses an empty secret, which counts as none here.
        let key = settings
            .auth
            .jwt_secret
            .as_ref()
            .and_then(|s| EncodingKey::from_secret(s.expose_secret().as_bytes()).ok());
        let dev_tokens = match (settings.api.dev_mode, key) {
            (false, _) => None,
            (true, None) => {
                tracing::warn!(
                    "api.dev_mode is on but SUPABASE_JWT_SECRET is not set: POST /dev/token is not mounted \
                     (development tokens are HS256 tokens signed with that secret)"
                );
                None
            }
            (true, Some(key)) => {
                tracing::warn!(
                    "api.dev_mode is on: POST /dev/token mints access tokens for any user. Never enable it in production"
                );
                Some(DevTokens { key, audience: settings.auth.audience.clone() })
            }
        };
        if demo {
            tracing::info!(path = DEMO_PATH, "serving the web demo");
        }
        let admin = settings.admin.enabled.then(|| {
            let token = settings.admin.token();
            tracing::info!(
                path = ADMIN_PATH,
                admin_token = token.is_some(),
                "serving the admin console (admin token or service_role JWT)"
            );
            AdminToken::new(token)
        });
        Self { demo, dev_tokens, admin }
    }

    /// Whether `/admin` and `/admin/api/...` are served.
    pub fn admin(&self) -> bool {
        self.admin.is_some()
    }

    /// Whether `/demo` is served.
    pub fn demo(&self) -> bool {
        self.demo
    }

    /// Whether `POST /dev/token` is served.
    pub fn dev_tokens(&self) -> bool {
        self.dev_tokens.is_some()
    }

    /// Registers the routes that are on.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        if self.demo {
            cfg.route(DEMO_PATH, web::get().to(redirect_to_index))
                .route("/demo/", web::get().to(index))
                .route("/demo/{name}", web::get().to(asset));
        }
        if let Some(tokens) = &self.dev_tokens {
            cfg.app_data(web::Data::new(tokens.clone())).route(DEV_TOKEN_PATH, web::post().to(mint));
        }
        if let Some(token) = &self.admin {
            // The API first: `/admin/{name}` would otherwise take `/admin/api/overview`'s place.
            cfg.app_data(web::Data::new(token.clone())).configure(routes::admin::configure);
            cfg.route(ADMIN_PATH, web::get().to(admin_index))
                .route("/admin/", web::get().to(admin_index))
                .route("/admin/{name}", web::get().to(admin_asset));
        }
    }
}

/// The signing key and audience of development tokens.
#[derive(Clone)]
pub struct DevTokens {
    key: EncodingKey,
    audience: String,
}

/// Body of `POST /dev/token` (optional; an empty body takes the defaults).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The user (`sub`); a random one when absent.
    pub user_id: Option<String>,
    /// Lifetime in seconds, 1 to [`DEV_TOKEN_TTL_MAX`]; [`DEV_TOKEN_TTL_DEFAULT`] when absent.
    pub ttl_secs: Option<u64>,
}

/// Answer of `POST /dev/token`.
#[derive(Debug, Serialize)]
pub struct MintResponse {
    /// The HS256 access token.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// When it expires, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The user it signs in (`sub`).
    pub user_id: String,
}

#[derive(Serialize)]
struct DevClaims<'a> {
    sub: String,
    aud: &'a str,
    role: &'a str,
    iss: &'a str,
    iat: u64,
    exp: u64,
}

/// `POST /dev/token`: a short-lived access token for a random or given user.
///
/// # Errors
/// 400 for a body that is not `{"user_id"?, "ttl_secs"?}` or out of range.
pub async fn mint(tokens: web::Data<DevTokens>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let request: MintRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MintRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body must be empty or {{\"user_id\": \"<uuid>\", \"ttl_secs\": <seconds>}}: {e}"
            ))
        })?
    };
    let user = match request.user_id.as_deref() {
        Some(raw) => UserId::parse(raw).map_err(|_| ApiError::BadRequest("user_id must be a UUID".into()))?,
        None => UserId::from_uuid(uuid::Uuid::new_v4()),
    };
    let ttl = request.ttl_secs.unwrap_or(DEV_TOKEN_TTL_DEFAULT);
    if !(1..=DEV_TOKEN_TTL_MAX).contains(&ttl) {
        return Err(ApiError::BadRequest(format!("ttl_secs must be between 1 and {DEV_TOKEN_TTL_MAX}")));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(ApiError::internal)?.as_secs();
    let claims = DevClaims {
        sub: user.to_string(),
        aud: &tokens.audience,
        role: "authenticated",
        iss: DEV_TOKEN_ISSUER,
        iat: now,
        exp: now + ttl,
    };
    let access_token =
        jsonwebtoken::encode(&Header::default(), &claims, &tokens.key).map_err(ApiError::internal)?;
    tracing::info!(user = %user, ttl, "minted a development token");
    let body = MintResponse {
        access_token,
        token_type: "bearer",
        expires_in: ttl,
        expires_at: now + ttl,
        user_id: user.to_string(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body))
}

/// `GET /demo`: the page's relative links need the trailing slash.
async fn redirect_to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/demo/")).finish()
}

/// `GET /demo/`: the page.
async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "index.html")
}

/// `GET /demo/{name}`: one of [`ASSETS`].
async fn asset(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&req, &name)
}

/// `GET /admin`: the console's page.
async fn admin_index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve_from(ADMIN_ASSETS, &req, "index.html")
}

/// `GET /admin/{name}`: one of [`ADMIN_ASSETS`].
async fn admin_asset(req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve_from(ADMIN_ASSETS, &req, &name)
}

fn serve(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    serve_from(ASSETS, req, name)
}

fn serve_from(assets: &[Asset], req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let asset = assets.iter().find(|a| a.name == name).ok_or(ApiError::NotFound("there is no such file"))?;
    let tag = etag(asset.body);
    let not_modified = if_none_match(req, &tag);
    let mut response = if not_modified { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, content_security_policy(req)));
    if not_modified {
        return Ok(response.finish());
    }
    Ok(response.insert_header((header::CONTENT_TYPE, asset.content_type)).body(asset.body))
}

/// A strong validator of an embedded file (stable for the life of the binary).
fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

fn if_none_match(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().trim_start_matches("W/") == tag)
}

/// The policy of every demo answer. The socket lives on the page's own host; `'self'` does not
/// cover `ws:` in every browser, so the host is named explicitly (when it is a plain host name).
pub fn content_security_policy(req: &HttpRequest) -> HeaderValue {
    let host = req.connection_info().host().to_owned();
    let sockets = if is_plain_host(&host) { format!(" ws://{host} wss://{host}") } else { String::new() };
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'{sockets}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
    })
}

/// A host (and port) that can go into a CSP source list verbatim: letters, digits, `.-:[]`.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_odd_characters_are_left_out_of_the_policy() {
        assert!(is_plain_host("127.0.0.1:8000"));
        assert!(is_plain_host("recipes.example.com"));
        assert!(is_plain_host("[::1]:8000"));
        assert!(!is_plain_host("evil.com; script-src *"));
        assert!(!is_plain_host("a b"));
        assert!(!is_plain_host(""));
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::HOST, "evil.com; script-src *"))
            .to_http_request();
        let policy = content_security_policy(&req);
        let policy = policy.to_str().unwrap();
        assert!(!policy.contains("evil"), "{policy}");
        assert!(policy.contains("connect-src 'self';"), "{policy}");
    }

    #[test]
    fn every_admin_asset_is_loaded_by_the_console() {
        let texts: Vec<&str> = ADMIN_ASSETS.iter().map(|a| std::str::from_utf8(a.body).unwrap()).collect();
        for asset in &ADMIN_ASSETS[1..] {
            let path = format!("/admin/{}", asset.name);
            assert!(
                texts.iter().any(|t| t.contains(&path)),
                "{} is embedded but nothing loads it",
                asset.name
            );
        }
    }

    #[test]
    fn every_asset_is_embedded_with_a_type() {
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
            assert!(asset.content_type.contains('/'), "{}", asset.name);
        }
        let page = std::str::from_utf8(ASSETS[0].body).unwrap();
        for asset in &ASSETS[1..] {
            // Every file the page needs is one the gateway serves, and the other way round.
            let referenced = page.contains(&format!("\"{}\"", asset.name))
                || page.contains(&format!("\"./{}\"", asset.name))
                || ASSETS.iter().any(|a| {
                    std::str::from_utf8(a.body).unwrap_or_default().contains(&format!("./{}", asset.name))
                });
            assert!(referenced, "{} is embedded but nothing loads it", asset.name);
        }
    }
}
