use std::collections::HashMap;
use std::sync::Mutex;

use protocol::TaskId;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::items::VIDEO_UNAVAILABLE;
use super::*;
use crate::providers::RunMemo;

const TOKEN: &str = "apify_api_t0pS3cretT0ken";
const VIDEO: &str = "https://www.tiktok.com/@cozykitchenwithmia/video/7311770584007226424";
const ACTOR_RUNS: &str = "/v2/acts/clockworks~tiktok-scraper/runs";

/// The run memo the worker keeps in Redis, in memory.
#[derive(Default)]
struct MemoryMemo(Mutex<HashMap<(TaskId, RunKind), String>>);

#[async_trait]
impl RunMemo for MemoryMemo {
    async fn get(&self, task: TaskId, kind: RunKind) -> Option<String> {
        self.0.lock().unwrap().get(&(task, kind)).cloned()
    }
    async fn set(&self, task: TaskId, kind: RunKind, run_id: &str) {
        self.0.lock().unwrap().insert((task, kind), run_id.to_owned());
    }
}

fn scraper(server: &MockServer) -> ApifyScraper {
    let mut config = ApifyConfig::new(SecretString::from(TOKEN));
    config.base_url = Url::parse(&server.uri()).unwrap();
    config.request_timeout = Duration::from_secs(5);
    config.max_wait = Duration::from_secs(30);
    let mut scraper = ApifyScraper::new(config).unwrap();
    scraper.min_poll_gap = Duration::from_millis(10);
    scraper
}

fn video_url() -> TikTokUrl {
    TikTokUrl::parse(VIDEO).unwrap()
}

fn run(id: &str, status: &str) -> Value {
    json!({"data": {"id": id, "actId": "GdWCkxBtKWOsKjdch", "status": status, "defaultDatasetId": "ds1", "defaultKeyValueStoreId": "kv1"}})
}

fn item(server: &MockServer) -> Value {
    json!({
        "id": "7311770584007226424",
        "text": "Creamy garlic pasta 🍝 Ingredients: 200g spaghetti #pasta #easyrecipe",
        "textLanguage": "en",
        "webVideoUrl": VIDEO,
        "authorMeta": {"name": "cozykitchenwithmia", "nickName": "Mia"},
        "videoMeta": {
            "duration": 58,
            "coverUrl": "https://p16.example/cover.jpeg",
            "subtitleLinks": [
                {"language": "spa-ES", "downloadLink": format!("{}/subs/es.vtt", server.uri()), "source": "MT"},
                {"language": "eng-US", "downloadLink": format!("{}/subs/en.vtt", server.uri()), "source": "ASR"},
            ],
        },
        "hashtags": [{"name": "pasta"}, {"name": "#easyrecipe"}],
        "someNewField": {"nested": [1, 2, 3]},
    })
}

async fn scrape(
    scraper: &ApifyScraper,
    memo: &MemoryMemo,
    task_id: TaskId,
) -> Result<VideoData, ProviderError> {
    let url = video_url();
    scraper.scrape(ScrapeRequest { task_id, url: &url, memo, video: false }).await
}

async fn mount_items(server: &MockServer, items: Value) {
    Mock::given(method("GET"))
        .and(path("/v2/datasets/ds1/items"))
        .and(query_param("clean", "1"))
        .and(query_param("format", "json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items))
        .mount(server)
        .await;
}

async fn mount_start(server: &MockServer, run_id: &str, status: &str) {
    Mock::given(method("POST"))
        .and(path(ACTOR_RUNS))
        .respond_with(ResponseTemplate::new(201).set_body_json(run(run_id, status)))
        .mount(server)
        .await;
}

async fn mount_run(server: &MockServer, run_id: &str, status: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v2/actor-runs/{run_id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(run(run_id, status)))
        .mount(server)
        .await;
}

fn apify_error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {"type": kind, "message": message}}))
}

#[tokio::test]
async fn a_run_is_started_polled_read_and_its_subtitle_downloaded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ACTOR_RUNS))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "postURLs": [VIDEO],
            "resultsPerPage": 1,
            "shouldDownloadSubtitles": true,
            "shouldDownloadVideos": false,
            "shouldDownloadCovers": false,
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(run("run1", "READY")))
        .expect(1)
        .mount(&server)
        .await;
    // Mounted first, so it answers the first poll only; the second mock answers the rest.
    Mock::given(method("GET"))
        .and(path("/v2/actor-runs/run1"))
        .and(query_param("waitForFinish", "5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(run("run1", "RUNNING")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/actor-runs/run1"))
        .and(query_param("waitForFinish", "5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(run("run1", "SUCCEEDED")))
        .expect(1)
        .mount(&server)
        .await;
    mount_items(&server, json!([item(&server)])).await;
    Mock::given(method("GET"))
        .and(path("/subs/en.vtt"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nmelt 2 tablespoons of butter\n\n00:00:02.000 --> 00:00:04.000\nadd the garlic &amp; cream.\n",
        ))
        .expect(1)
        .mount(&server)
        .await;

    let memo = MemoryMemo::default();
    let task_id = TaskId::new();
    let mut scraper = scraper(&server);
    scraper.config.poll_wait_secs = 5;
    let video = scrape(&scraper, &memo, task_id).await.unwrap();

    assert_eq!(
        video,
        VideoData {
            url: VIDEO.to_owned(),
            video_id: Some("7311770584007226424".to_owned()),
            caption: "Creamy garlic pasta 🍝 Ingredients: 200g spaghetti #pasta #easyrecipe".to_owned(),
            transcript: Some("melt 2 tablespoons of butter add the garlic & cream.".to_owned()),
            hashtags: vec!["pasta".to_owned(), "easyrecipe".to_owned()],
            author: Some("cozykitchenwithmia".to_owned()),
            cover_url: Some("https://p16.example/cover.jpeg".to_owned()),
            text_language: Some("en".to_owned()),
            duration_secs: Some(58),
            ..VideoData::default()
        }
    );
    assert_eq!(
        memo.get(task_id, RunKind::Text).await.as_deref(),
        Some("run1"),
        "the run id is remembered for retries"
    );
    let requests = server.received_requests().await.unwrap();
    let subtitle = requests.iter().find(|r| r.url.path() == "/subs/en.vtt").unwrap();
    assert!(subtitle.headers.get("authorization").is_none(), "the token is not sent with subtitle downloads");
}

#[tokio::test]
async fn a_remembered_run_is_reattached_instead_of_paying_for_a_new_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ACTOR_RUNS))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    mount_run(&server, "old-run", "SUCCEEDED").await;
    mount_items(&server, json!([{"id": "7311770584007226424", "text": "pasta"}])).await;
    let memo = MemoryMemo::default();
    let task_id = TaskId::new();
    memo.set(task_id, RunKind::Text, "old-run").await;

    let video = scrape(&scraper(&server), &memo, task_id).await.unwrap();

    assert_eq!(video.caption, "pasta");
    assert_eq!(video.transcript, None, "an item without subtitle links has no transcript");
}

#[tokio::test]
async fn a_remembered_run_that_failed_or_vanished_is_replaced_by_a_new_run() {
    for (old_status, why) in [
        (Some("FAILED"), "failed"),
        (Some("ABORTED"), "aborted"),
        (Some("TIMED-OUT"), "timed out"),
        (None, "404"),
    ] {
        let server = MockServer::start().await;
        match old_status {
            Some(status) => mount_run(&server, "old-run", status).await,
            None => {
                Mock::given(method("GET"))
                    .and(path("/v2/actor-runs/old-run"))
                    .respond_with(apify_error(404, "record-not-found", "Actor run was not found"))
                    .mount(&server)
                    .await;
            }
        }
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .respond_with(ResponseTemplate::new(201).set_body_json(run("new-run", "SUCCEEDED")))
            .expect(1)
            .named(why)
            .mount(&server)
            .await;
        mount_items(&server, json!([{"text": "pasta"}])).await;
        let memo = MemoryMemo::default();
        let task_id = TaskId::new();
        memo.set(task_id, RunKind::Text, "old-run").await;

        let video = scrape(&scraper(&server), &memo, task_id).await;

        assert_eq!(video.map(|v| v.caption), Ok("pasta".to_owned()), "{why}");
        assert_eq!(
            memo.get(task_id, RunKind::Text).await.as_deref(),
            Some("new-run"),
            "{why}: the new run replaces the old one"
        );
    }
}

#[tokio::test]
async fn a_429_is_transient_with_the_retry_after_hint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ACTOR_RUNS))
        .respond_with(
            apify_error(429, "rate-limit-exceeded", "You have exceeded the rate limit")
                .insert_header("Retry-After", "7"),
        )
        .mount(&server)
        .await;

    let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

    let ProviderError::Transient { message, retry_after } = error else {
        panic!("expected transient, got {error:?}")
    };
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
    assert!(message.contains("You have exceeded the rate limit"), "Apify's message is kept: {message}");
}

#[tokio::test]
async fn http_failures_are_classified_by_status() {
    let cases: [(u16, Option<&str>, &str); 7] = [
        (401, Some("apify_unauthorized"), "bad token"),
        (403, Some("apify_unauthorized"), "token without permission"),
        (402, Some("apify_quota"), "out of credit"),
        (404, Some("apify_actor_not_found"), "actor name wrong"),
        (400, Some("apify_rejected"), "invalid input"),
        (500, None, "server error is transient"),
        (503, None, "unavailable is transient"),
    ];
    for (status, code, why) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ACTOR_RUNS))
            .respond_with(apify_error(status, "some-type", &format!("echo of {TOKEN}")))
            .mount(&server)
            .await;

        let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

        match (code, &error) {
            (Some(expected), ProviderError::Permanent { code, .. }) => {
                assert_eq!(code, &expected, "{why}")
            }
            (None, ProviderError::Transient { retry_after, .. }) => {
                assert_eq!(*retry_after, None, "{why}")
            }
            _ => panic!("{why}: HTTP {status} gave {error:?}"),
        }
        let text = error.to_string();
        assert!(text.contains("some-type: echo of [redacted]"), "{why}: Apify's message is included: {text}");
        assert!(!text.contains(TOKEN), "{why}: the token never appears: {text}");
    }
}

#[tokio::test]
async fn an_unauthorized_key_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ACTOR_RUNS))
        .respond_with(apify_error(
            401,
            "token-not-valid",
            "User was not found or authentication token is not valid",
        ))
        .mount(&server)
        .await;

    let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

    assert!(
        matches!(&error, ProviderError::Permanent { code: "apify_unauthorized", message } if message.contains("authentication token is not valid")),
        "{error:?}"
    );
}

#[tokio::test]
async fn failed_and_aborted_runs_end_the_attempt() {
    let cases = [
        ("FAILED", None, "a crashed run is worth a new run"),
        ("TIMED-OUT", None, "an actor timeout is worth a new run"),
        ("ABORTED", Some("scrape_aborted"), "an aborted run was stopped on purpose"),
    ];
    for (status, code, why) in cases {
        let server = MockServer::start().await;
        mount_start(&server, "run1", "RUNNING").await;
        mount_run(&server, "run1", status).await;

        let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

        match (code, &error) {
            (Some(expected), ProviderError::Permanent { code, .. }) => {
                assert_eq!(code, &expected, "{why}")
            }
            (None, ProviderError::Transient { message, .. }) => {
                assert!(message.contains(status), "{why}: {message}")
            }
            _ => panic!("{why}: {status} gave {error:?}"),
        }
    }
}

#[tokio::test]
async fn a_run_that_outlasts_max_wait_is_transient() {
    let server = MockServer::start().await;
    mount_start(&server, "run1", "RUNNING").await;
    mount_run(&server, "run1", "RUNNING").await;
    let mut scraper = scraper(&server);
    scraper.config.max_wait = Duration::from_millis(200);

    let error = scrape(&scraper, &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

    assert!(
        matches!(&error, ProviderError::Transient { message, .. } if message.contains("still RUNNING")),
        "{error:?}"
    );
    let polls =
        server.received_requests().await.unwrap().iter().filter(|r| r.method.as_str() == "GET").count();
    assert!(polls >= 1, "the run was polled before giving up");
}

#[tokio::test]
async fn an_empty_dataset_means_the_video_is_unavailable() {
    for (items, why) in
        [(json!([]), "empty dataset"), (json!([{"url": VIDEO, "error": "Post not found"}]), "error item")]
    {
        let server = MockServer::start().await;
        mount_start(&server, "run1", "SUCCEEDED").await;
        mount_items(&server, items).await;

        let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

        assert_eq!(error, ProviderError::permanent("video_unavailable", VIDEO_UNAVAILABLE), "{why}");
    }
}

#[tokio::test]
async fn a_failed_subtitle_download_still_returns_the_video() {
    let server = MockServer::start().await;
    mount_start(&server, "run1", "SUCCEEDED").await;
    mount_items(&server, json!([item(&server)])).await;
    Mock::given(method("GET"))
        .and(path("/subs/en.vtt"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;

    let video = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap();

    assert_eq!(video.transcript, None);
    assert!(video.caption.starts_with("Creamy garlic pasta"), "{video:?}");
}

#[tokio::test]
async fn an_unreadable_dataset_is_transient() {
    let server = MockServer::start().await;
    mount_start(&server, "run1", "SUCCEEDED").await;
    mount_items(&server, json!({"not": "an array"})).await;

    let error = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap_err();

    assert!(matches!(error, ProviderError::Transient { .. }), "{error:?}");
}

#[tokio::test]
async fn malformed_item_fields_are_skipped_not_fatal() {
    let server = MockServer::start().await;
    mount_start(&server, "run1", "SUCCEEDED").await;
    mount_items(
        &server,
        json!([{
            "id": 7311770584007226424_u64,
            "text": 12345,
            "textLanguage": ["en"],
            "authorMeta": "cozykitchenwithmia",
            "videoMeta": {"duration": "58.4", "coverUrl": 42, "subtitleLinks": [{"language": 1, "downloadLink": false}, "junk"]},
            "covers": ["javascript:alert(1)"],
            "hashtags": [{"name": 5}, "#dinner", null, {"title": "no name"}],
        }]),
    )
    .await;

    let video = scrape(&scraper(&server), &MemoryMemo::default(), TaskId::new()).await.unwrap();

    assert_eq!(video.caption, "12345", "a number caption is read as text");
    assert_eq!(video.text_language, None);
    assert_eq!(video.author.as_deref(), Some("cozykitchenwithmia"), "falls back to the handle in the link");
    assert_eq!(video.duration_secs, Some(58));
    assert_eq!(video.cover_url, None, "non-URL and non-http covers are dropped");
    assert_eq!(video.hashtags, vec!["5".to_owned(), "dinner".to_owned()]);
    assert_eq!(video.transcript, None);
}

#[test]
fn the_config_debug_output_hides_the_token() {
    let config = ApifyConfig::new(SecretString::from(TOKEN));
    let debug = format!("{config:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("https://api.apify.com/") && debug.contains(DEFAULT_ACTOR), "{debug}");
    let scraper = ApifyScraper::new(config).unwrap();
    assert!(!format!("{scraper:?}").contains(TOKEN));
}

#[test]
fn unusable_configs_are_refused() {
    let with = |change: fn(&mut ApifyConfig)| {
        let mut config = ApifyConfig::new(SecretString::from(TOKEN));
        change(&mut config);
        ApifyScraper::new(config)
    };
    type Change = fn(&mut ApifyConfig);
    let cases: [(Change, &str); 4] = [
        (|c| c.token = SecretString::from(" "), "blank token"),
        (|c| c.actor = String::new(), "empty actor"),
        (|c| c.base_url = Url::parse("ftp://api.apify.com").unwrap(), "non-http base"),
        (|c| c.base_url = Url::parse("mailto:ops@example.com").unwrap(), "base without a path"),
    ];
    for (change, why) in cases {
        assert!(with(change).is_err(), "{why} should be refused");
    }
    let scraper = with(|c| c.actor = "clockworks/tiktok-scraper".to_owned()).unwrap();
    assert_eq!(scraper.config.actor, DEFAULT_ACTOR, "the console's user/name form is converted");
}

#[tokio::test]
async fn a_video_run_asks_for_the_video_uses_its_own_memo_slot_and_names_the_stored_file() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ACTOR_RUNS))
        .and(wiremock::matchers::body_partial_json(json!({"shouldDownloadVideos": true})))
        .respond_with(ResponseTemplate::new(201).set_body_json(run("video-run", "SUCCEEDED")))
        .expect(1)
        .mount(&server)
        .await;
    let record = format!("{}/v2/key-value-stores/kv1/records/video-7311770584007226424", server.uri());
    let mut stored = item(&server);
    stored["mediaUrls"] = json!([record]);
    stored["videoMeta"]["downloadAddr"] = json!("https://v16-webapp.tiktok.com/video.mp4");
    mount_items(&server, json!([stored])).await;
    Mock::given(method("GET"))
        .and(path("/subs/en.vtt"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let (memo, task_id, url) = (MemoryMemo::default(), TaskId::new(), video_url());
    memo.set(task_id, RunKind::Text, "text-run").await;

    let video = scraper(&server)
        .scrape(ScrapeRequest { task_id, url: &url, memo: &memo, video: true })
        .await
        .unwrap();

    assert_eq!(video.video_file, Some(VideoFile::Remote(Url::parse(&record).unwrap())), "mediaUrls wins");
    assert_eq!(memo.get(task_id, RunKind::Video).await.as_deref(), Some("video-run"));
    assert_eq!(memo.get(task_id, RunKind::Text).await.as_deref(), Some("text-run"), "the text run is kept");
}

#[tokio::test]
async fn the_token_is_sent_to_the_apify_host_only() {
    let apify = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    for server in [&apify, &elsewhere] {
        Mock::given(method("GET"))
            .and(path("/video.mp4"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(b"mp4".to_vec()))
            .mount(server)
            .await;
    }
    // The other server is allow-listed (it is on loopback, like the mock Apify).
    let mut config = ApifyConfig::new(SecretString::from(TOKEN));
    config.base_url = Url::parse(&apify.uri()).unwrap();
    config.trusted_origins = vec![Url::parse(&elsewhere.uri()).unwrap()];
    let scraper = ApifyScraper::new(config).unwrap();
    let dir = std::env::temp_dir().join(format!("apify-download-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let limits = media::Limits {
        max_bytes: 1024,
        max_secs: 60,
        max_frames: 1,
        frame_long_side: 768,
        timeout: Duration::from_secs(5),
    };

    for server in [&apify, &elsewhere] {
        let url = Url::parse(&format!("{}/video.mp4", server.uri())).unwrap();
        assert_eq!(scraper.download(&url, &dir.join("v.mp4"), &limits).await, Ok(3));
    }

    let auth = |requests: Vec<wiremock::Request>| {
        requests[0].headers.get("authorization").map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(auth(apify.received_requests().await.unwrap()), Some(format!("Bearer {TOKEN}")));
    assert_eq!(auth(elsewhere.received_requests().await.unwrap()), None, "never to another host");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn endpoints_keep_a_base_path_and_encode_segments() {
    let mut config = ApifyConfig::new(SecretString::from(TOKEN));
    config.base_url = Url::parse("https://proxy.example/apify/").unwrap();
    let scraper = ApifyScraper::new(config).unwrap();
    assert_eq!(
        scraper.endpoint(&["v2", "actor-runs", "a/b?c"]).as_str(),
        "https://proxy.example/apify/v2/actor-runs/a%2Fb%3Fc"
    );
}
