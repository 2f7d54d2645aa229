use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::failure::MAX_RETRY_AFTER;
use super::*;

const KEY: &str = "sk-test-0123456789abcdef";

fn config(server: &MockServer) -> LlmConfig {
    LlmConfig {
        base_url: Url::parse(&server.uri()).expect("mock server URL"),
        api_key: KEY.to_owned(),
        model: "test-model".to_owned(),
        request_timeout: Duration::from_secs(5),
        max_tokens: 1000,
        max_input_tokens: DEFAULT_MAX_INPUT_TOKENS,
    }
}

fn extractor(server: &MockServer) -> LlmExtractor {
    LlmExtractor::new(config(server)).expect("extractor builds")
}

fn video(cover: bool) -> VideoData {
    VideoData {
        url: "https://www.tiktok.com/@chef/video/7301".into(),
        video_id: Some("7301".into()),
        caption: "Best carbonara 🍝 #pasta".into(),
        transcript: Some("you need 200 g spaghetti and 2 eggs".into()),
        hashtags: vec!["pasta".into()],
        author: Some("chef".into()),
        cover_url: cover.then(|| "https://p16.tiktokcdn.com/cover.jpg".into()),
        text_language: Some("en".into()),
        duration_secs: Some(42),
        ..VideoData::default()
    }
}

fn german() -> Language {
    Language::parse("de").expect("valid tag")
}

fn recipe_json() -> Value {
    json!({
        "is_recipe": true,
        "title": "Spaghetti Carbonara",
        "description": "Cremige Pasta mit Ei.",
        "servings": 2,
        "prep_minutes": 10,
        "cook_minutes": 15,
        "total_minutes": null,
        "ingredients": [
            {"raw": "200 g Spaghetti", "quantity": 200, "unit": "g", "name": "Spaghetti", "note": null},
            {"raw": "2 Eier", "quantity": 2, "unit": null, "name": "Eier", "note": "Größe M"},
            {"raw": "", "quantity": -3, "unit": "", "name": "Pfeffer", "note": ""},
            {"raw": "???", "quantity": null, "unit": null, "name": "  ", "note": null}
        ],
        "steps": ["Nudeln kochen.", "  ", "Mit Eiern mischen."],
        "tags": ["Pasta", "#italienisch", "pasta"]
    })
}

fn completion(content: &str, finish_reason: &str, refusal: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal},
            "finish_reason": finish_reason
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
}

async fn answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/chat/completions")).respond_with(template).mount(&server).await;
    server
}

async fn answering_content(content: &str, finish_reason: &str, refusal: Option<&str>) -> MockServer {
    answering(ResponseTemplate::new(200).set_body_json(completion(content, finish_reason, refusal))).await
}

fn permanent_code(result: &Result<Recipe, ProviderError>) -> Option<&'static str> {
    match result {
        Err(ProviderError::Permanent { code, .. }) => Some(*code),
        _ => None,
    }
}

async fn sent_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.expect("request recording is on");
    requests.last().expect("one request was sent").body_json().expect("JSON body")
}

#[tokio::test]
async fn the_happy_path_sends_a_strict_schema_request_and_maps_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            &recipe_json().to_string(),
            "stop",
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;

    let recipe = extractor(&server).extract(&video(true), &german()).await.expect("a recipe");

    let body = sent_body(&server).await;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 1000, "compatible servers get max_tokens");
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "recipe");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(body["response_format"]["json_schema"]["schema"], recipe_schema());
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    assert!(system.contains("German") && system.contains("\"de\""), "language in the prompt: {system}");
    let user = &body["messages"][1]["content"];
    let text = user[0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Caption:\nBest carbonara") && text.contains("Transcript"),
        "labelled text: {text}"
    );
    assert_eq!(user[1]["type"], "image_url");
    assert_eq!(user[1]["image_url"]["url"], "https://p16.tiktokcdn.com/cover.jpg");

    assert_eq!(recipe.title, "Spaghetti Carbonara");
    assert_eq!(recipe.language, "de");
    assert_eq!(recipe.source.url, "https://www.tiktok.com/@chef/video/7301");
    assert_eq!(recipe.source.video_id.as_deref(), Some("7301"));
    assert_eq!(recipe.source.author.as_deref(), Some("chef"));
    assert_eq!(recipe.cover_url.as_deref(), Some("https://p16.tiktokcdn.com/cover.jpg"));
    assert_eq!(recipe.servings, Some(2));
    assert_eq!(recipe.total_minutes, Some(25), "total derived from prep and cook");
    let names: Vec<&str> = recipe.ingredients.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["Spaghetti", "Eier", "Pfeffer"], "nameless ingredient dropped");
    assert_eq!(recipe.ingredients[2].quantity, None, "negative quantity dropped");
    assert_eq!(recipe.ingredients[2].unit, None, "empty unit is none");
    assert_eq!(recipe.ingredients[2].raw, "Pfeffer", "raw rebuilt when empty");
    assert_eq!(recipe.ingredients[1].note.as_deref(), Some("Größe M"));
    assert_eq!(recipe.steps, vec!["Nudeln kochen.", "Mit Eiern mischen."], "blank step dropped");
    assert_eq!(recipe.tags, vec!["pasta", "italienisch"], "tags normalised and deduplicated");
}

#[tokio::test]
async fn without_a_cover_no_image_part_is_sent() {
    let server = answering_content(&recipe_json().to_string(), "stop", None).await;
    extractor(&server).extract(&video(false), &german()).await.expect("a recipe");
    let content = sent_body(&server).await["messages"][1]["content"].clone();
    assert_eq!(content.as_array().map(Vec::len), Some(1), "only the text part: {content}");
}

#[tokio::test]
async fn answers_that_end_the_task_map_to_permanent_codes() {
    let not_a_recipe = json!({
        "is_recipe": false, "title": "", "description": null, "servings": null,
        "prep_minutes": null, "cook_minutes": null, "total_minutes": null,
        "ingredients": [], "steps": [], "tags": []
    });
    let empty_recipe = json!({
        "is_recipe": true, "title": "Dance", "description": null, "servings": null,
        "prep_minutes": null, "cook_minutes": null, "total_minutes": null,
        "ingredients": [], "steps": [], "tags": []
    });
    let cases = [
        (String::new(), "stop", Some("I can't help with that."), "llm_refused", "refusal"),
        ("{\"is_recipe\": tr".to_owned(), "length", None, "llm_truncated", "output limit"),
        (String::new(), "content_filter", None, "llm_content_filter", "content filter"),
        (not_a_recipe.to_string(), "stop", None, "not_a_recipe", "is_recipe false"),
        (empty_recipe.to_string(), "stop", None, "not_a_recipe", "a recipe with nothing in it"),
    ];
    for (content, finish_reason, refusal, code, why) in cases {
        let server = answering_content(&content, finish_reason, refusal).await;
        let result = extractor(&server).extract(&video(true), &german()).await;
        assert_eq!(permanent_code(&result), Some(code), "{why}: {result:?}");
    }
}

#[tokio::test]
async fn refusal_and_not_a_recipe_messages_are_readable() {
    let server = answering_content("", "stop", Some("I can't help with that.")).await;
    let result = extractor(&server).extract(&video(true), &german()).await;
    assert_eq!(
        result,
        Err(ProviderError::permanent(
            "llm_refused",
            "The model refused to extract a recipe: I can't help with that."
        ))
    );
    let server = answering_content(&json!({"is_recipe": false}).to_string(), "stop", None).await;
    let result = extractor(&server).extract(&video(true), &german()).await;
    assert_eq!(result, Err(ProviderError::permanent("not_a_recipe", "This video does not contain a recipe")));
}

#[tokio::test]
async fn invalid_model_output_is_transient() {
    let no_title =
        json!({"is_recipe": true, "title": " ", "ingredients": [{"name": "Ei"}], "steps": ["Kochen"]});
    let cases = [
        ("this is not json".to_owned(), "prose instead of JSON"),
        ("{\"title\": \"x\"}".to_owned(), "missing is_recipe"),
        (no_title.to_string(), "recipe without a title"),
    ];
    for (content, why) in cases {
        let server = answering_content(&content, "stop", None).await;
        let result = extractor(&server).extract(&video(true), &german()).await;
        assert!(
            matches!(result, Err(ProviderError::Transient { retry_after: None, .. })),
            "{why}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_fenced_answer_from_a_server_without_strict_mode_is_accepted() {
    let content = format!("```json\n{}\n```", recipe_json());
    let server = answering_content(&content, "stop", None).await;
    let recipe = extractor(&server).extract(&video(true), &german()).await;
    assert_eq!(recipe.map(|r| r.title), Ok("Spaghetti Carbonara".to_owned()));
}

#[tokio::test]
async fn rate_limits_are_transient_with_the_providers_hint() {
    let cases = [
        (
            ResponseTemplate::new(429).insert_header("retry-after-ms", "1500"),
            Some(Duration::from_millis(1500)),
            "milliseconds header",
        ),
        (
            ResponseTemplate::new(429).insert_header("retry-after", "7"),
            Some(Duration::from_secs(7)),
            "seconds header",
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "250")
                .insert_header("retry-after", "1"),
            Some(Duration::from_millis(250)),
            "milliseconds win",
        ),
        (ResponseTemplate::new(429).insert_header("retry-after", "86400"), Some(MAX_RETRY_AFTER), "capped"),
        (ResponseTemplate::new(429), None, "no hint"),
        (
            ResponseTemplate::new(503).insert_header("retry-after", "2"),
            Some(Duration::from_secs(2)),
            "5xx with a hint",
        ),
    ];
    for (template, expected, why) in cases {
        let server = answering(template).await;
        let result = extractor(&server).extract(&video(true), &german()).await;
        match result {
            Err(ProviderError::Transient { retry_after, .. }) => {
                assert_eq!(retry_after, expected, "{why}")
            }
            other => panic!("{why}: expected a transient error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn http_errors_map_to_permanent_or_transient() {
    let quota = json!({"error": {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota"
    }});
    let bad_key = json!({"error": {
        "message": format!("Incorrect API key provided: {KEY}"),
        "type": "invalid_request_error",
        "code": "invalid_api_key"
    }});
    let bad_request = json!({"error": {
        "message": "Invalid schema for response_format 'recipe'",
        "type": "invalid_request_error",
        "code": null
    }});
    let cases = [
        (429, quota, Some("llm_quota"), "insufficient quota"),
        (401, bad_key.clone(), Some("llm_unauthorized"), "bad key"),
        (403, bad_key, Some("llm_unauthorized"), "forbidden"),
        (400, bad_request, Some("llm_bad_request"), "bad request"),
        (
            404,
            json!({"error": {"message": "The model `x` does not exist"}}),
            Some("llm_bad_request"),
            "unknown model",
        ),
        (500, json!({"error": {"message": "server error"}}), None, "server error"),
        (502, json!("bad gateway"), None, "gateway"),
        (408, json!({}), None, "request timeout"),
    ];
    for (status, body, code, why) in cases {
        let server = answering(ResponseTemplate::new(status).set_body_json(body)).await;
        let result = extractor(&server).extract(&video(false), &german()).await;
        match code {
            Some(code) => assert_eq!(permanent_code(&result), Some(code), "{why}: {result:?}"),
            None => assert!(matches!(result, Err(ProviderError::Transient { .. })), "{why}: {result:?}"),
        }
    }
}

#[tokio::test]
async fn the_api_key_never_appears_in_errors() {
    let echo =
        json!({"error": {"message": format!("Bad key {KEY} for model"), "type": "invalid_request_error"}});
    for status in [400, 401, 429, 500] {
        let server = answering(ResponseTemplate::new(status).set_body_json(echo.clone())).await;
        let result = extractor(&server).extract(&video(false), &german()).await;
        let text = format!("{result:?}");
        assert!(result.is_err() && !text.contains(KEY), "HTTP {status} leaked the key: {text}");
    }
    assert!(!format!("{:?}", LlmConfig::openai(KEY)).contains(KEY), "Debug of the config leaks the key");
}

#[tokio::test]
async fn the_bad_request_message_carries_the_apis_words() {
    let body = json!({"error": {
        "message": "Invalid schema for response_format 'recipe'",
        "type": "invalid_request_error"
    }});
    let server = answering(ResponseTemplate::new(400).set_body_json(body)).await;
    let result = extractor(&server).extract(&video(false), &german()).await;
    assert_eq!(
        result,
        Err(ProviderError::permanent(
            "llm_bad_request",
            "The LLM provider rejected the request (HTTP 400): Invalid schema for response_format 'recipe'"
        ))
    );
}

#[tokio::test]
async fn a_rejected_cover_image_is_dropped_and_the_text_retried() {
    let server = MockServer::start().await;
    let image_error = json!({"error": {
        "message": "Timeout while downloading https://p16.tiktokcdn.com/cover.jpg.",
        "type": "invalid_request_error",
        "code": "invalid_image_url"
    }});
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(image_error))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            &recipe_json().to_string(),
            "stop",
            None,
        )))
        .mount(&server)
        .await;
    let recipe = extractor(&server).extract(&video(true), &german()).await;
    assert_eq!(recipe.map(|r| r.title), Ok("Spaghetti Carbonara".to_owned()));
    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 2, "one retry");
    let retried: Value = requests[1].body_json().expect("JSON body");
    assert_eq!(
        retried["messages"][1]["content"].as_array().map(Vec::len),
        Some(1),
        "retry without the image"
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_as_transient() {
    let server = answering(
        ResponseTemplate::new(200)
            .set_body_json(completion(&recipe_json().to_string(), "stop", None))
            .set_delay(Duration::from_secs(2)),
    )
    .await;
    let mut config = config(&server);
    config.request_timeout = Duration::from_millis(200);
    let result = LlmExtractor::new(config).expect("extractor").extract(&video(false), &german()).await;
    assert!(
        matches!(&result, Err(ProviderError::Transient { message, .. }) if message.contains("timed out")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_transient() {
    // A port that was just free: nothing listens there. (A dropped MockServer goes back to
    // wiremock's pool and keeps answering.)
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let config = LlmConfig {
        base_url: Url::parse(&format!("http://127.0.0.1:{port}/v1")).expect("valid URL"),
        ..LlmConfig::openai(KEY)
    };
    let result = LlmExtractor::new(config).expect("extractor").extract(&video(false), &german()).await;
    assert!(matches!(result, Err(ProviderError::Transient { .. })), "{result:?}");
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent() {
    let server = answering_content(&recipe_json().to_string(), "stop", None).await;
    let mut config = config(&server);
    config.api_key = String::new();
    LlmExtractor::new(config).expect("extractor").extract(&video(false), &german()).await.expect("a recipe");
    let requests = server.received_requests().await.expect("recording");
    assert!(requests[0].headers.get("authorization").is_none(), "local servers need no key");
}

#[test]
fn openai_hosts_get_max_completion_tokens() {
    let cases = [
        ("https://api.openai.com/v1", "max_completion_tokens", "OpenAI"),
        ("https://my-res.openai.azure.com/openai/v1", "max_completion_tokens", "Azure OpenAI"),
        ("http://localhost:11434/v1", "max_tokens", "Ollama"),
        ("http://vllm.internal:8000/v1", "max_tokens", "vLLM"),
    ];
    for (url, field, why) in cases {
        let url = Url::parse(url).expect("valid test URL");
        assert_eq!(token_limit_field(&url), field, "{why}");
    }
}

#[test]
fn the_endpoint_keeps_the_base_path_and_query() {
    let cases = [
        ("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions", "OpenAI"),
        ("http://localhost:11434/v1/", "http://localhost:11434/v1/chat/completions", "trailing slash"),
        (
            "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21",
            "Azure query kept",
        ),
    ];
    for (base, expected, why) in cases {
        let mut config = LlmConfig::openai(KEY);
        config.base_url = Url::parse(base).expect("valid test URL");
        assert_eq!(LlmExtractor::new(config).expect("extractor").endpoint.as_str(), expected, "{why}");
    }
}

#[test]
fn unusable_configs_are_refused() {
    let mut no_model = LlmConfig::openai(KEY);
    no_model.model = " ".into();
    assert!(matches!(LlmExtractor::new(no_model), Err(LlmSetupError::MissingModel)), "empty model");
    let mut no_time = LlmConfig::openai(KEY);
    no_time.request_timeout = Duration::ZERO;
    assert!(matches!(LlmExtractor::new(no_time), Err(LlmSetupError::ZeroTimeout)), "zero timeout");
    let mut no_tokens = LlmConfig::openai(KEY);
    no_tokens.max_tokens = 0;
    assert!(matches!(LlmExtractor::new(no_tokens), Err(LlmSetupError::ZeroMaxTokens)), "zero tokens");
}

#[test]
fn details_name_the_model_and_defaults_are_sane() {
    let extractor = LlmExtractor::new(LlmConfig::openai(KEY)).expect("extractor");
    let video = video(true);
    assert_eq!(extractor.details(&video), "Reading caption and subtitles with gpt-4o-mini");
    assert_eq!(default_base_url().as_str(), DEFAULT_BASE_URL, "the default URL parses unchanged");
}

#[test]
fn the_usage_of_a_completion_is_read_when_the_server_reports_it() {
    let with = r#"{"choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":340,"total_tokens":1540}}"#;
    let without = r#"{"choices":[]}"#;

    assert_eq!(
        answer::usage(with),
        Some(answer::Usage { prompt_tokens: 1200, completion_tokens: 340 }),
        "OpenAI's usage object"
    );
    assert_eq!(answer::usage(without), None, "a local server without usage");
    assert_eq!(answer::usage("not json"), None);
}
