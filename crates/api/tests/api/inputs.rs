//! Every bad input gets its documented answer, and the gateway stays healthy afterwards.

use protocol::wire::{
    CLOSE_FLOOD, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED, IDEMPOTENCY_KEY, JSON, PROBLEM_JSON, problems,
};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

use crate::helpers::{
    DartSocket, JWT_SECRET, TestApp, TestUser, hs256, now, seq, spawn_app, spawn_app_with, user_claims,
    video_url,
};

fn b64(value: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Tokens that must all be refused with 401, and why.
fn bad_tokens(user: &TestUser) -> Vec<(&'static str, Option<String>)> {
    let mut expired = user_claims(user.id);
    expired["exp"] = json!(now() - 3600);
    let mut wrong_audience = user_claims(user.id);
    wrong_audience["aud"] = json!("service");
    let anon_key =
        json!({"iss": "supabase", "ref": "project", "role": "anon", "iat": now(), "exp": now() + 3600});
    let service_key = json!({"iss": "supabase", "ref": "project", "role": "service_role", "iat": now(), "exp": now() + 3600});
    let wrong_signature = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &user_claims(user.id),
        &jsonwebtoken::EncodingKey::from_secret(b"someone-elses-secret-of-enough-length!!").unwrap(),
    )
    .unwrap();
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &user_claims(user.id),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let alg_none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&user_claims(user.id)));
    let tampered = {
        let good = hs256(&user_claims(user.id));
        let parts: Vec<&str> = good.split('.').collect();
        let mut claims = user_claims(user.id);
        claims["sub"] = json!(uuid::Uuid::new_v4().to_string());
        format!("{}.{}.{}", parts[0], b64(&claims), parts[2])
    };
    vec![
        ("missing token", None),
        ("expired token", Some(hs256(&expired))),
        ("wrong signature", Some(wrong_signature)),
        ("tampered payload", Some(tampered)),
        ("alg none", Some(alg_none)),
        ("HS512 instead of the pinned HS256", Some(hs512)),
        ("wrong audience", Some(hs256(&wrong_audience))),
        ("anon API key (no sub)", Some(hs256(&anon_key))),
        ("service_role API key (no sub)", Some(hs256(&service_key))),
        ("not a JWT", Some("definitely-not-a-jwt".into())),
    ]
}

async fn assert_problem(response: reqwest::Response, status: u16, slug: &str, case: &str) -> Value {
    assert_eq!(response.status(), status, "{case}");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, PROBLEM_JSON, "{case}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], problems::type_uri(slug), "{case}: {body}");
    assert_eq!(body["status"], status, "{case}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.len() > 10),
        "{case}: a detail a person can act on: {body}"
    );
    body
}

/// The HTTP answer to a socket upgrade the server refuses.
async fn refused_upgrade(app: &TestApp, task: &str, token: Option<&str>) -> (u16, Value) {
    let url = match token {
        Some(token) => app.ws_url(task, token, None),
        None => format!("ws://127.0.0.1:{}/ws/{task}", app.port),
    };
    match tokio_tungstenite::connect_async(url).await {
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (response.status().as_u16(), serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        Ok(_) => panic!("the upgrade should have been refused"),
        Err(other) => panic!("unexpected socket error {other}"),
    }
}

async fn assert_healthy(app: &TestApp) {
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    let user = TestUser::new();
    let task = app.start_task(&user, "999").await["task_id"].as_str().unwrap().to_owned();
    let mut socket = DartSocket::connect(app, &task, &user.token, None).await;
    assert_eq!(seq(&socket.message().await), 1);
}

#[tokio::test]
async fn every_bad_token_gets_401_on_http_and_before_the_socket_upgrade() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    let body = json!({"url": video_url("2"), "language": "de"});

    for (case, token) in bad_tokens(&user) {
        let mut request = app.http.post(app.url("/scrape/async")).json(&body);
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let www = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
        assert_problem(response, 401, problems::UNAUTHORIZED, case).await;
        assert!(www.is_some_and(|v| v.starts_with("Bearer")), "{case}: WWW-Authenticate");

        let mut get = app.http.get(app.url(&format!("/task/{task}")));
        if let Some(token) = &token {
            get = get.bearer_auth(token);
        }
        assert_eq!(get.send().await.unwrap().status(), 401, "{case}: GET /task");

        let (status, problem) = refused_upgrade(&app, &task, token.as_deref()).await;
        assert_eq!(status, 401, "{case}: socket");
        assert_eq!(problem["type"], problems::type_uri(problems::UNAUTHORIZED), "{case}: socket body");
    }
    assert_healthy(&app).await;
}

#[tokio::test]
async fn bad_submissions_get_their_documented_problem() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let huge = json!({"url": video_url("1"), "language": "de", "padding": "x".repeat(64 * 1024)});
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "not a TikTok link",
            app.http
                .post(app.url("/scrape/async"))
                .json(&json!({"url": "https://www.youtube.com/watch?v=1", "language": "de"})),
            422,
            problems::INVALID_URL,
        ),
        (
            "a TikTok profile, not a video",
            app.http
                .post(app.url("/scrape/async"))
                .json(&json!({"url": "https://www.tiktok.com/@chef", "language": "de"})),
            422,
            problems::INVALID_URL,
        ),
        (
            "free text instead of a link",
            app.http.post(app.url("/scrape/async")).json(&json!({"url": "pasta please", "language": "de"})),
            422,
            problems::INVALID_URL,
        ),
        (
            "a language name instead of a code",
            app.http
                .post(app.url("/scrape/async"))
                .json(&json!({"url": video_url("1"), "language": "german"})),
            422,
            problems::INVALID_LANGUAGE,
        ),
        (
            "an unknown language code",
            app.http.post(app.url("/scrape/async")).json(&json!({"url": video_url("1"), "language": "xx"})),
            422,
            problems::INVALID_LANGUAGE,
        ),
        (
            "an unknown region",
            app.http
                .post(app.url("/scrape/async"))
                .json(&json!({"url": video_url("1"), "language": "pt-XX"})),
            422,
            problems::INVALID_LANGUAGE,
        ),
        (
            "punctuation in the tag",
            app.http
                .post(app.url("/scrape/async"))
                .json(&json!({"url": video_url("1"), "language": "deutsch!"})),
            422,
            problems::INVALID_LANGUAGE,
        ),
        (
            "an empty language",
            app.http.post(app.url("/scrape/async")).json(&json!({"url": video_url("1"), "language": ""})),
            422,
            problems::INVALID_LANGUAGE,
        ),
        (
            "a 300-character language",
            app.http
                .post(app.url("/scrape/async"))
                .json(&json!({"url": video_url("1"), "language": "a".repeat(300)})),
            422,
            problems::INVALID_LANGUAGE,
        ),
        (
            "an empty subtag",
            app.http
                .post(app.url("/scrape/async"))
                .json(&json!({"url": video_url("1"), "language": "en--US"})),
            422,
            problems::INVALID_LANGUAGE,
        ),
        (
            "broken JSON",
            app.http
                .post(app.url("/scrape/async"))
                .header("content-type", JSON)
                .body("{\"url\": \"https://www.tiktok.com/@a/video/1\","),
            400,
            problems::BAD_REQUEST,
        ),
        (
            "JSON without language",
            app.http.post(app.url("/scrape/async")).json(&json!({"url": video_url("1")})),
            400,
            problems::BAD_REQUEST,
        ),
        (
            "a JSON array",
            app.http.post(app.url("/scrape/async")).json(&json!([1, 2])),
            400,
            problems::BAD_REQUEST,
        ),
        (
            "a huge body",
            app.http.post(app.url("/scrape/async")).json(&huge),
            413,
            problems::PAYLOAD_TOO_LARGE,
        ),
        (
            "form data instead of JSON",
            app.http
                .post(app.url("/scrape/async"))
                .form(&[("url", video_url("1")), ("language", "de".into())]),
            415,
            problems::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "a malformed Idempotency-Key",
            app.http
                .post(app.url("/scrape/async"))
                .header(IDEMPOTENCY_KEY, "has spaces in it")
                .json(&json!({"url": video_url("1"), "language": "de"})),
            400,
            problems::BAD_REQUEST,
        ),
    ];
    for (case, request, status, kind) in cases {
        let response = request.bearer_auth(&user.token).send().await.unwrap();
        assert_problem(response, status, kind, case).await;
    }
    assert_healthy(&app).await;
}

#[tokio::test]
async fn the_tags_flutter_sends_are_accepted_and_stored_normalised() {
    let app = spawn_app().await;
    let cases = [
        ("es-419", "es-419", "Latin-American Spanish"),
        ("zh-hant-tw", "zh-Hant-TW", "Traditional Chinese (Taiwan)"),
        ("zh-Hans", "zh-Hans", "Simplified Chinese"),
        ("sr_latn", "sr-Latn", "Serbian in Latin script, with an underscore"),
        ("fil", "fil", "Filipino (ISO 639-3 only)"),
        ("yue", "yue", "Cantonese (ISO 639-3 only)"),
        ("PT-br", "pt-BR", "the old two-letter form"),
    ];
    for (n, (sent, stored, case)) in cases.into_iter().enumerate() {
        // A user each: more than api.max_tasks_in_flight submissions from one would get 429s.
        let user = TestUser::new();
        let response =
            app.submit(&user, &json!({"url": video_url(&format!("4{n}")), "language": sent})).await;
        assert_eq!(response.status(), 202, "{case}: {sent:?}");
        let body: Value = response.json().await.unwrap();
        let id = body["task_id"].as_str().unwrap().parse().unwrap();
        let row = app.tasks.row(id).await.unwrap().expect("the task row");
        assert_eq!(row.language, stored, "{case}");
    }
}

#[tokio::test]
async fn another_users_task_and_a_missing_task_get_the_same_404() {
    let app = spawn_app().await;
    let (owner, stranger) = (TestUser::new(), TestUser::new());
    let task = app.start_task(&owner, "1").await["task_id"].as_str().unwrap().to_owned();
    let missing = protocol::TaskId::new().to_string();

    let foreign =
        assert_problem(app.get_task(&stranger, &task, "").await, 404, problems::NOT_FOUND, "foreign").await;
    let unknown =
        assert_problem(app.get_task(&stranger, &missing, "").await, 404, problems::NOT_FOUND, "missing")
            .await;
    assert_eq!(foreign, unknown, "a foreign task is indistinguishable from a missing one");
    assert_problem(app.get_task(&stranger, "not-a-uuid", "").await, 404, problems::NOT_FOUND, "not a uuid")
        .await;
    let delete =
        app.http.delete(app.url(&format!("/task/{task}"))).bearer_auth(&stranger.token).send().await.unwrap();
    assert_problem(delete, 404, problems::NOT_FOUND, "foreign DELETE").await;
    assert_eq!(refused_upgrade(&app, &task, Some(&stranger.token)).await, (404, foreign.clone()));
    assert_eq!(refused_upgrade(&app, &missing, Some(&stranger.token)).await, (404, foreign));
    // The owner still sees it.
    assert_eq!(app.get_task(&owner, &task, "").await.status(), 200);
}

#[tokio::test]
async fn bad_socket_frames_close_with_their_documented_code() {
    let app = spawn_app_with(&[("RELAY__API__WS_MAX_FRAMES_PER_MINUTE", "10")]).await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();

    let mut oversized = DartSocket::connect(&app, &task, &user.token, None).await;
    oversized.message().await;
    oversized.send_text(&"x".repeat(8 * 1024)).await;
    assert_eq!(oversized.closed().await, Some(CLOSE_TOO_BIG), "a frame above ws_max_frame_bytes");

    let mut flood = DartSocket::connect(&app, &task, &user.token, None).await;
    flood.message().await;
    for _ in 0..11 {
        flood.send_text("ping").await;
    }
    assert_eq!(flood.closed().await, Some(CLOSE_FLOOD), "more frames than ws_max_frames_per_minute");

    let mut binary = DartSocket::connect(&app, &task, &user.token, None).await;
    binary.message().await;
    binary.send_binary(vec![0, 1, 2]).await;
    assert_eq!(binary.closed().await, Some(CLOSE_UNSUPPORTED), "binary frames are not part of the protocol");

    let mut quiet = DartSocket::connect(&app, &task, &user.token, None).await;
    quiet.message().await;
    for _ in 0..5 {
        quiet.send_text("ping").await;
    }
    quiet.send_text("{\"hello\": 1}").await;
    let worker = app.worker();
    let claim = worker.claim().await;
    worker.step(&claim, protocol::Step::Preparing, None).await;
    assert_eq!(seq(&quiet.message().await), 2, "pings and unknown text are accepted quietly");
    assert_healthy(&app).await;
    assert_eq!(app.metric(&format!("relay_ws_closes_total{{code=\"{CLOSE_TOO_BIG}\"}}")).await, 1.0);
    assert_eq!(app.metric(&format!("relay_ws_closes_total{{code=\"{CLOSE_FLOOD}\"}}")).await, 1.0);
}
