//! The whole job through the real Apify and LLM clients, against wiremock servers that speak
//! their API shapes.

use std::sync::Arc;
use std::time::Duration;

use protocol::TaskState;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use worker::providers::apify::{ApifyConfig, ApifyScraper};
use worker::providers::llm::{LlmConfig, LlmExtractor};

use crate::{Env, config, spawn, until_terminal};

async fn apify() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/acts/clockworks~tiktok-scraper/runs"))
        .and(header("authorization", "Bearer apify-test-token"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": {"id": "run-1", "status": "RUNNING", "defaultDatasetId": "ds-1"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/actor-runs/run-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"id": "run-1", "status": "SUCCEEDED", "defaultDatasetId": "ds-1"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/datasets/ds-1/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "text": "Shakshuka for two #breakfast",
            "textLanguage": "en",
            "webVideoUrl": "https://www.tiktok.com/@chef/video/42",
            "authorMeta": {"name": "chef", "nickName": "Chef"},
            "videoMeta": {"duration": 45, "coverUrl": "https://example.invalid/cover.jpg", "subtitleLinks": []},
            "hashtags": [{"name": "breakfast"}]
        }])))
        .mount(&server)
        .await;
    server
}

async fn llm(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer llm-test-key"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

pub(crate) fn completion(content: serde_json::Value) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content.to_string(), "refusal": null}}]
    })
}

fn recipe_json(is_recipe: bool) -> serde_json::Value {
    json!({
        "is_recipe": is_recipe, "title": "Shakshuka", "description": "Eggs poached in tomato sauce",
        "servings": 2, "prep_minutes": 5, "cook_minutes": 15, "total_minutes": 20,
        "ingredients": [
            {"raw": "4 eggs", "quantity": 4, "unit": null, "name": "eggs", "note": null},
            {"raw": "400 g tomatoes", "quantity": 400, "unit": "g", "name": "tomatoes", "note": "crushed"},
            {"raw": "1 cup (240 ml) milk, warmed", "quantity": 2, "unit": "cups", "name": "milk", "note": null}
        ],
        "steps": ["Simmer the tomatoes.", "Crack in the eggs and cover."],
        "tags": ["breakfast"]
    })
}

/// The real Apify and LLM clients, pointed at the mocks (the Apify token is `apify-test-token`).
pub(crate) fn providers(apify: &MockServer, llm: &MockServer) -> (Arc<ApifyScraper>, Arc<LlmExtractor>) {
    let mut apify_config = ApifyConfig::new("apify-test-token".to_owned().into());
    apify_config.base_url = apify.uri().parse().unwrap();
    apify_config.poll_wait_secs = 1;
    let scraper = ApifyScraper::new(apify_config).unwrap();
    let extractor = LlmExtractor::new(LlmConfig {
        base_url: format!("{}/v1", llm.uri()).parse().unwrap(),
        api_key: "llm-test-key".into(),
        model: "gpt-4o-mini".into(),
        request_timeout: Duration::from_secs(10),
        max_tokens: 2048,
        max_input_tokens: 8000,
    })
    .unwrap();
    (Arc::new(scraper), Arc::new(extractor))
}

#[tokio::test]
async fn a_job_goes_through_apify_and_the_llm_to_a_saved_recipe() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (apify, llm) = (apify().await, llm(200, completion(recipe_json(true))).await);
    let (scraper, extractor) = providers(&apify, &llm);
    let (stop, worker) = spawn(env.worker(scraper, extractor, config()));

    let job = env.submit("https://www.tiktok.com/@chef/video/42", "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success, "{done:?}");
    assert_eq!(done.recipe_name.as_deref(), Some("Shakshuka"));
    let log = env.log(job.task_id).await;
    assert_eq!(log[3].details.as_deref(), Some("Reading caption with gpt-4o-mini"));
    let saved = env.tasks.recipe(done.recipe_id.unwrap(), job.owner).await.unwrap().unwrap();
    assert_eq!(saved.recipe.ingredients.len(), 3);
    // The model's line is re-read by the same parser as the offline extractor's: its "2 cups"
    // loses to what the line says, and the second measure and preparation are filled in.
    let milk = &saved.recipe.ingredients[2];
    assert_eq!(
        (milk.quantity, milk.unit.as_deref(), milk.unit_text.as_deref()),
        (Some(1.0), Some("cup"), Some("cup"))
    );
    assert_eq!(milk.alt.as_ref().map(|a| (a.quantity, a.unit.as_deref())), Some((240.0, Some("ml"))));
    assert_eq!(milk.preparation.as_deref(), Some("warmed"));
    assert_eq!(milk.name, "milk", "the model's name is kept");
    assert_eq!(saved.recipe.language, "en");
    assert_eq!(saved.recipe.cover_url.as_deref(), Some("https://example.invalid/cover.jpg"));
    assert_eq!(
        env.tasks.run(job.task_id, tasks::RunKind::Text).await.unwrap(),
        None,
        "the job hash is gone once done"
    );
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_video_without_a_recipe_fails_with_a_message_the_app_can_show() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (apify, llm) = (apify().await, llm(200, completion(recipe_json(false))).await);
    let (scraper, extractor) = providers(&apify, &llm);
    let (stop, worker) = spawn(env.worker(scraper, extractor, config()));

    let job = env.submit("https://www.tiktok.com/@chef/video/42", "en").await;
    let failed = until_terminal(&mut feed, job.task_id).await;

    assert_eq!((failed.status, failed.step), (TaskState::Failure, 3));
    assert_eq!(failed.error.as_deref(), Some("not_a_recipe"));
    assert_eq!(failed.message.as_deref(), Some("This video does not contain a recipe"));
    env.log(job.task_id).await;
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_llm_refusal_and_a_truncated_answer_end_the_task_with_their_reason() {
    let cases = [
        (
            json!({"choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}]}),
            "llm_refused",
            "a refusal",
        ),
        (
            json!({"choices": [{"index": 0, "finish_reason": "length",
                 "message": {"role": "assistant", "content": "{\"is_recipe\": true, \"title\": \"Sha", "refusal": null}}]}),
            "llm_truncated",
            "output cut at the token limit",
        ),
    ];
    for (body, code, why) in cases {
        let env = Env::new().await;
        let mut feed = env.feed().await;
        let (apify, llm) = (apify().await, llm(200, body).await);
        let (scraper, extractor) = providers(&apify, &llm);
        let (stop, worker) = spawn(env.worker(scraper, extractor, config()));

        let job = env.submit("https://www.tiktok.com/@chef/video/42", "en").await;
        let failed = until_terminal(&mut feed, job.task_id).await;

        assert_eq!(failed.error.as_deref(), Some(code), "{why}: {failed:?}");
        env.log(job.task_id).await;
        stop.cancel();
        worker.await.unwrap().unwrap();
    }
}
