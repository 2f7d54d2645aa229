//! `X-Request-Id` on every response and the W3C trace context handed on to the job.

use protocol::TraceParent;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::helpers::{PATIENCE, TestUser, captured_logs, spawn_app, video_url};

const SENT_TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn request_id(headers: &HeaderMap, what: &str) -> String {
    let id = headers.get("x-request-id").unwrap_or_else(|| panic!("{what}: no X-Request-Id"));
    let id = id.to_str().expect("visible ASCII").to_owned();
    assert!(!id.is_empty(), "{what}: an empty X-Request-Id");
    id
}

#[tokio::test]
async fn every_kind_of_response_carries_its_own_request_id() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let body = json!({"url": video_url("1"), "language": "de"});
    let post = |body: serde_json::Value, token: Option<&str>| {
        let request = app.http.post(app.url("/scrape/async")).json(&body);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };

    let accepted = post(body.clone(), Some(&user.token)).await.unwrap();
    let invalid =
        post(json!({"url": "https://example.com/x", "language": "de"}), Some(&user.token)).await.unwrap();
    let unauthorized = post(body, None).await.unwrap();
    let missing = app.http.get(app.url("/no/such/route")).send().await.unwrap();
    let task =
        accepted.headers().get("location").unwrap().to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (_socket, upgrade) = tokio::time::timeout(
        PATIENCE,
        tokio_tungstenite::connect_async(app.ws_url(&task, &user.token, None)),
    )
    .await
    .expect("connect in time")
    .expect("the upgrade succeeds");

    let mut ids = Vec::new();
    for (response, status, what) in [
        (&accepted, 202, "202"),
        (&invalid, 422, "422 problem+json"),
        (&unauthorized, 401, "401 problem+json"),
        (&missing, 404, "404"),
    ] {
        assert_eq!(response.status(), status, "{what}");
        ids.push(request_id(response.headers(), what));
    }
    assert_eq!(invalid.headers()["content-type"], "application/problem+json");
    assert_eq!(upgrade.status(), 101);
    let socket_id = upgrade.headers().get("x-request-id").expect("the 101 carries an X-Request-Id");
    ids.push(socket_id.to_str().unwrap().to_owned());
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "one id per request: {ids:?}");
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_logged_and_an_insane_one_is_replaced() {
    let app = spawn_app().await;
    let get = |id: &'static [u8]| {
        app.http
            .get(app.url("/healthz"))
            .header("x-request-id", reqwest::header::HeaderValue::from_bytes(id).unwrap())
            .send()
    };

    let sane = get(b"app-report-7f3a:42").await.unwrap();
    let long: &'static [u8] = Box::leak(vec![b'a'; 129].into_boxed_slice());
    let cases: [(&[u8], &str); 4] = [
        (b"two words", "a space"),
        (long, "longer than 128"),
        (b"caf\xc3\xa9", "not ASCII"),
        (b"tab\there", "a control character"),
    ];

    assert_eq!(request_id(sane.headers(), "sane"), "app-report-7f3a:42");
    for (sent, why) in cases {
        let response = get(sent).await.unwrap();
        let id = request_id(response.headers(), why);
        assert_ne!(id.as_bytes(), sent, "{why}: replaced");
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{why}: a new id, got {id:?}");
    }
    let logs = captured_logs();
    assert!(
        logs.lines().any(|l| l.contains("access_log")
            && l.contains("GET /healthz")
            && l.contains("app-report-7f3a:42")),
        "the access log line names the request id"
    );
}

#[tokio::test]
async fn a_valid_traceparent_is_continued_into_the_job_with_the_request_id() {
    let app = spawn_app().await;
    let user = TestUser::new();

    let response = app
        .http
        .post(app.url("/scrape/async"))
        .bearer_auth(&user.token)
        .header("traceparent", SENT_TRACE)
        .header("x-request-id", "submit-from-the-app")
        .json(&json!({"url": video_url("2"), "language": "de"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let attempt = app.worker().claim().await;

    let sent = TraceParent::parse(SENT_TRACE).unwrap();
    let origin = &attempt.job().origin;
    let carried = origin.traceparent.expect("the job carries a traceparent");
    assert_eq!(carried.trace_id, sent.trace_id, "the same trace");
    assert_ne!(carried.parent_id, sent.parent_id, "the parent is the gateway's request span, not the app's");
    assert!(carried.sampled(), "the caller's sampling decision is kept");
    assert_eq!(origin.request_id.as_ref().map(|r| r.as_str()), Some("submit-from-the-app"));
    let logs = captured_logs();
    assert!(
        logs.lines().any(|l| l.contains("task queued") && l.contains(&sent.trace_id.to_string())),
        "the handler's log line names the trace"
    );
}

#[tokio::test]
async fn without_a_valid_traceparent_each_request_starts_its_own_trace() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let invalid = [
        None,
        Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        Some("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Some("garbage"),
    ];
    let mut traces = Vec::new();
    for (video, header) in invalid.iter().enumerate() {
        let mut request = app
            .http
            .post(app.url("/scrape/async"))
            .bearer_auth(&user.token)
            .json(&json!({"url": video_url(&format!("10{video}")), "language": "de"}));
        if let Some(value) = header {
            request = request.header("traceparent", *value);
        }
        assert_eq!(request.send().await.unwrap().status(), 202, "{header:?}");
        let attempt = app.worker().claim().await;
        let origin = attempt.job().origin.clone();
        assert!(origin.request_id.is_some(), "{header:?}: a request id is made");
        traces.push(origin.traceparent.expect("a trace is started").trace_id);
    }

    let sent = TraceParent::parse(SENT_TRACE).unwrap().trace_id;
    assert!(!traces.contains(&sent));
    let distinct: std::collections::HashSet<_> = traces.iter().collect();
    assert_eq!(distinct.len(), traces.len(), "a new trace each time: {traces:?}");
}
