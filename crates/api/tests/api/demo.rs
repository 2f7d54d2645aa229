//! The web demo (`/demo`, `api.demo_enabled`) and the development token endpoint
//! (`POST /dev/token`, `api.dev_mode` with an HS256 secret): absent unless turned on.

use protocol::wire::{PROBLEM_JSON, problems};
use reqwest::header;
use serde_json::{Value, json};

use crate::helpers::{TestApp, captured_logs, hs256, spawn_app, spawn_app_with, user_claims, video_url};

const DEMO_ON: (&str, &str) = ("RELAY__API__DEMO_ENABLED", "true");
const DEV_ON: (&str, &str) = ("RELAY__API__DEV_MODE", "true");

/// The files the demo embeds, as they are on disk.
const ASSETS: &[(&str, &str)] = &[
    ("index.html", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("api.js", "text/javascript; charset=utf-8"),
    ("watch.js", "text/javascript; charset=utf-8"),
    ("icon.svg", "image/svg+xml"),
];

fn web_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../web/{name}", env!("CARGO_MANIFEST_DIR"))).expect("a file of web/")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn assert_problem_404(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 404, "{what}");
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON, "{what}");
    let body: Value = response.json().await.expect("problem JSON");
    assert_eq!(body["type"], problems::type_uri(problems::NOT_FOUND), "{what}");
}

async fn mint(app: &TestApp, body: Option<Value>) -> reqwest::Response {
    let request = app.http.post(app.url("/dev/token"));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.expect("POST /dev/token")
}

/// The claims of a JWT, unverified.
fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[tokio::test]
async fn the_demo_and_the_token_endpoint_are_absent_by_default() {
    let app = spawn_app().await;
    let http = no_redirects();

    for path in ["/demo", "/demo/", "/demo/index.html", "/demo/app.js"] {
        let response = http.get(app.url(path)).send().await.unwrap();
        assert_problem_404(response, path).await;
    }
    assert_problem_404(mint(&app, None).await, "POST /dev/token").await;
    assert_problem_404(mint(&app, Some(json!({}))).await, "POST /dev/token with a body").await;
}

#[tokio::test]
async fn the_demo_alone_does_not_mount_the_token_endpoint() {
    let app = spawn_app_with(&[DEMO_ON]).await;

    assert_eq!(app.http.get(app.url("/demo/")).send().await.unwrap().status(), 200);
    assert_problem_404(mint(&app, None).await, "POST /dev/token without dev_mode").await;
}

#[tokio::test]
async fn the_demo_serves_its_files_with_their_types_and_a_content_security_policy() {
    let app = spawn_app_with(&[DEMO_ON]).await;
    let http = no_redirects();

    // /demo redirects to /demo/, where the page's relative links resolve.
    let response = http.get(app.url("/demo")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()[header::LOCATION], "/demo/");

    let page = http.get(app.url("/demo/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    let host = format!("127.0.0.1:{}", app.port);
    for directive in [
        "default-src 'none'".to_owned(),
        "script-src 'self'".to_owned(),
        "style-src 'self'".to_owned(),
        format!("connect-src 'self' ws://{host} wss://{host}"),
        "frame-ancestors 'none'".to_owned(),
        "base-uri 'none'".to_owned(),
    ] {
        assert!(csp.contains(&directive), "{directive:?} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "no unsafe-inline or unsafe-eval: {csp}");
    assert_eq!(page.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.bytes().await.unwrap(), web_file("index.html"));

    for (name, content_type) in ASSETS {
        let response = http.get(app.url(&format!("/demo/{name}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], *content_type, "{name}");
        assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY), "{name}");
        assert_eq!(response.bytes().await.unwrap(), web_file(name), "{name} is the file in web/");
    }
}

#[tokio::test]
async fn demo_files_revalidate_with_their_etag_and_unknown_files_are_404() {
    let app = spawn_app_with(&[DEMO_ON]).await;

    let first = app.http.get(app.url("/demo/app.js")).send().await.unwrap();
    let tag = first.headers()[header::ETAG].clone();
    let again =
        app.http.get(app.url("/demo/app.js")).header(header::IF_NONE_MATCH, tag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());

    for path in ["/demo/secret.txt", "/demo/README.md", "/demo/%2e%2e%2fCargo.toml"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_problem_404(response, path).await;
    }
}

#[tokio::test]
async fn a_development_token_signs_a_new_user_in() {
    // Arrange
    let app = spawn_app_with(&[DEV_ON]).await;

    // Act
    let response = mint(&app, None).await;

    // Assert: a short-lived token for a random user, which the gateway accepts
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().expect("access_token").to_owned();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    let claims = claims_of(&token);
    assert_eq!(claims["sub"], body["user_id"]);
    assert_eq!(claims["aud"], "authenticated");
    assert_eq!(claims["iss"], "recipe-relay/dev-token");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3600);
    assert_eq!(claims["exp"], body["expires_at"]);

    let submitted = app
        .http
        .post(app.url("/scrape/async"))
        .bearer_auth(&token)
        .json(&json!({"url": video_url("7311770584007226424"), "language": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 202);
    let recipes = app.http.get(app.url("/recipes")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(recipes.status(), 200);

    let other: Value = mint(&app, Some(json!({}))).await.json().await.unwrap();
    assert_ne!(other["user_id"], body["user_id"], "every token without a user_id is a new user");
}

#[tokio::test]
async fn a_development_token_can_name_its_user_and_lifetime() {
    let app = spawn_app_with(&[DEV_ON]).await;
    let user = protocol::UserId::from_uuid(uuid::Uuid::new_v4());

    let body: Value =
        mint(&app, Some(json!({"user_id": user.to_string(), "ttl_secs": 120}))).await.json().await.unwrap();

    assert_eq!(body["user_id"], user.to_string());
    assert_eq!(body["expires_in"], 120);
    let token = body["access_token"].as_str().unwrap();
    // The task it submits belongs to that user: their ordinary token sees it.
    let submitted: Value = app
        .http
        .post(app.url("/scrape/async"))
        .bearer_auth(token)
        .json(&json!({"url": video_url("7326497432544955876"), "language": "de"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task = submitted["task_id"].as_str().unwrap();
    let seen = app
        .http
        .get(app.url(&format!("/task/{task}")))
        .bearer_auth(hs256(&user_claims(user)))
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200);
}

#[tokio::test]
async fn malformed_token_requests_are_400_problems() {
    let app = spawn_app_with(&[DEV_ON]).await;

    for body in [
        json!({"user_id": "not-a-uuid"}),
        json!({"ttl_secs": 0}),
        json!({"ttl_secs": 86_401}),
        json!({"ttl_secs": "soon"}),
        json!({"role": "service_role"}),
        json!([]),
    ] {
        let response = mint(&app, Some(body.clone())).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON, "{body}");
    }
    let response =
        app.http.post(app.url("/dev/token")).body("not json").send().await.expect("POST /dev/token");
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_token_endpoint_is_refused_without_an_hs256_secret() {
    // Arrange: development mode on a gateway that only verifies with a JWKS
    let app = spawn_app_with(&[
        DEV_ON,
        DEMO_ON,
        ("SUPABASE_JWT_SECRET", ""),
        ("SUPABASE_JWKS_URL", "http://127.0.0.1:9/auth/v1/.well-known/jwks.json"),
    ])
    .await;

    // Act
    let response = mint(&app, None).await;

    // Assert: not mounted, and the log says why; the demo itself is still there
    assert_problem_404(response, "POST /dev/token without SUPABASE_JWT_SECRET").await;
    assert!(
        captured_logs().contains("SUPABASE_JWT_SECRET is not set: POST /dev/token is not mounted"),
        "the gateway explains why the endpoint is missing"
    );
    assert_eq!(app.http.get(app.url("/demo/")).send().await.unwrap().status(), 200);
}
