//! Apify, mocked, for the tests that need the worker's real Apify client: the admin console's
//! dead letter (here, and in the browser test, which includes this file).

use e2e::{Proc, Stack};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The Kaiserschmarrn fixture's Apify item, its subtitle links dropped (they point nowhere).
fn kaiserschmarrn_item() -> Value {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../worker/fixtures/7326497432544955876.json");
    let mut items: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("fixture")).expect("JSON");
    items[0]["videoMeta"]["subtitleLinks"] = json!([]);
    items
}

/// Apify down: every run start answers 503, a transient failure.
pub(crate) async fn apify_down(server: &MockServer) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .mount(server)
        .await;
}

/// Apify as it answers when it works: a run that has finished, and its dataset.
pub(crate) async fn apify_works(server: &MockServer) {
    let run = json!({"data": {"id": "run-1", "status": "SUCCEEDED", "defaultDatasetId": "ds-1"}});
    Mock::given(method("POST"))
        .and(path("/v2/acts/clockworks~tiktok-scraper/runs"))
        .respond_with(ResponseTemplate::new(201).set_body_json(&run))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/actor-runs/run-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&run))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/datasets/ds-1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(kaiserschmarrn_item()))
        .mount(server)
        .await;
}

/// A worker whose scraper is the real Apify client against `apify`, one attempt per job (the
/// first transient failure dead-letters it), caption only.
pub(crate) async fn worker_on(stack: &Stack, apify: &MockServer) -> Proc {
    let base = apify.uri();
    stack
        .worker(&[
            ("RELAY__WORKER__PROVIDERS", "auto"),
            ("APIFY_TOKEN", "e2e-apify-token"),
            ("APIFY_BASE_URL", &base),
            ("RELAY__APIFY__POLL_WAIT_SECS", "1"),
            ("RELAY__WORKER__MAX_ATTEMPTS", "1"),
            ("RELAY__WORKER__MEDIA", "never"),
        ])
        .await
        .expect("the worker starts")
}
