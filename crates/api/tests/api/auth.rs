//! ES256 tokens verified against a JWKS served by wiremock.

use protocol::wire::problems;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestUser, es256, hs256, jwk, spawn_app_with, user_claims, video_url};

const JWKS_PATH: &str = "/auth/v1/.well-known/jwks.json";

async fn submit_with(app: &crate::helpers::TestApp, token: &str, video: &str) -> u16 {
    app.http
        .post(app.url("/scrape/async"))
        .bearer_auth(token)
        .json(&json!({"url": video_url(video), "language": "de"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn es256_tokens_verify_against_the_jwks_and_an_unknown_kid_refetches_once() {
    // Arrange: the project publishes key a; later it rotates in key b
    let supabase = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [jwk("es256-a")]})))
        .up_to_n_times(1)
        .mount(&supabase)
        .await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"keys": [jwk("es256-a"), jwk("es256-b")]})),
        )
        .mount(&supabase)
        .await;
    let app = spawn_app_with(&[("SUPABASE_URL", &supabase.uri())]).await;
    let user = TestUser::new();
    let fetches = || async { supabase.received_requests().await.unwrap_or_default().len() };

    // Act + Assert
    assert_eq!(submit_with(&app, &es256("es256-a", &user_claims(user.id)), "1").await, 202, "key a");
    assert_eq!(fetches().await, 1, "the first token loads the JWKS");
    assert_eq!(submit_with(&app, &es256("es256-a", &user_claims(user.id)), "2").await, 202, "key a again");
    assert_eq!(fetches().await, 1, "known kids are served from the cache");
    assert_eq!(submit_with(&app, &es256("es256-b", &user_claims(user.id)), "3").await, 202, "rotated key b");
    assert_eq!(fetches().await, 2, "an unknown kid triggers one refetch");

    // A token naming a kid nobody published: refused, and no further fetch (rate limit).
    let forged = {
        let token = es256("es256-b", &user_claims(user.id));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        use base64::Engine as _;
        parts[0] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"alg": "ES256", "typ": "JWT", "kid": "es256-c"}).to_string());
        parts.join(".")
    };
    for video in ["4", "5", "6"] {
        assert_eq!(submit_with(&app, &forged, video).await, 401, "unknown kid");
    }
    assert_eq!(fetches().await, 2, "refetches are rate-limited");

    // The algorithm is pinned per key: an RS256 header naming the EC key is refused.
    let confused = {
        use base64::Engine as _;
        let token = es256("es256-a", &user_claims(user.id));
        let parts: Vec<&str> = token.split('.').collect();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"alg": "RS256", "typ": "JWT", "kid": "es256-a"}).to_string());
        format!("{header}.{}.{}", parts[1], parts[2])
    };
    assert_eq!(submit_with(&app, &confused, "7").await, 401, "RS256 header on an ES256 key");
    // HS256 tokens keep working next to the JWKS.
    assert_eq!(submit_with(&app, &hs256(&user_claims(user.id)), "8").await, 202, "HS256");
    // An ES256 token for the wrong audience is refused like an HS256 one.
    let mut wrong_audience = user_claims(user.id);
    wrong_audience["aud"] = json!("other");
    assert_eq!(submit_with(&app, &es256("es256-a", &wrong_audience), "9").await, 401, "ES256, wrong aud");
}

#[tokio::test]
async fn an_unreachable_jwks_answers_503_not_401() {
    let supabase = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(500))
        .mount(&supabase)
        .await;
    let app = spawn_app_with(&[("SUPABASE_URL", &supabase.uri())]).await;
    let user = TestUser::new();

    let response = app
        .http
        .post(app.url("/scrape/async"))
        .bearer_auth(es256("es256-a", &user_claims(user.id)))
        .json(&json!({"url": video_url("1"), "language": "de"}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 503, "the client's token is not to blame");
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], problems::type_uri(problems::UNAVAILABLE));
}

/// Signs claims with a committed RSA test key, as RS256 with its kid.
fn rs256(key: &str, kid: &str, claims: &Value) -> String {
    let pem = std::fs::read(format!("{}/tests/keys/{key}.private.pem", env!("CARGO_MANIFEST_DIR")))
        .expect("test key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("RSA key"))
        .expect("sign")
}

#[tokio::test]
async fn rs256_tokens_verify_against_an_rsa_key_of_the_jwks() {
    // Arrange: the project publishes an RSA key next to an EC one
    let supabase = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"keys": [jwk("rs256-a"), jwk("es256-a")]})),
        )
        .mount(&supabase)
        .await;
    let app = spawn_app_with(&[("SUPABASE_URL", &supabase.uri())]).await;
    let user = TestUser::new();
    let token = rs256("rs256-a", "rs256-a", &user_claims(user.id));
    let tampered = {
        let mut other = user_claims(user.id);
        other["sub"] = json!(TestUser::new().id.to_string());
        let forged = rs256("rs256-a", "rs256-a", &other);
        let (head, _) = token.rsplit_once('.').unwrap();
        let (_, signature) = forged.rsplit_once('.').unwrap();
        format!("{head}.{signature}")
    };

    // Act + Assert
    assert_eq!(submit_with(&app, &token, "1").await, 202, "RS256 with the RSA key");
    assert_eq!(submit_with(&app, &tampered, "2").await, 401, "another token's signature");
    let wrong_key = rs256("rs256-a", "es256-a", &user_claims(user.id));
    assert_eq!(submit_with(&app, &wrong_key, "3").await, 401, "RS256 naming the EC key");
}
