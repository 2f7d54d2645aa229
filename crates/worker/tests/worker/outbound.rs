//! The outbound URL policy through the real worker and Apify client: a mock Apify returns items
//! whose subtitle, video and cover links point at internal hosts (loopback in every spelling, a
//! redirect, cloud metadata); a second local server stands in for Redis and Postgres and must
//! see no request, and the saved recipe holds nothing it served.

use std::sync::Arc;

use protocol::TaskState;
use serde_json::{Value, json};
use settings::MediaMode;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use worker::providers::Providers;
use worker::providers::apify::{ApifyConfig, ApifyScraper};
use worker::providers::rules::RuleExtractor;

use crate::video::{TempDir, limits, reader};
use crate::{Env, config, spawn, until_terminal};

const VIDEO: &str = "https://www.tiktok.com/@chef/video/7300000000000000042";
const SECRET: &str = "INTERNAL redis_version:7.2.4";
/// A caption the rule-based extractor reads as a whole recipe.
const RECIPE: &str = "Lemon rice\n\nIngredients:\n- 250 g rice\n- 1 lemon\n- 1 tbsp butter\n\n\
                      Steps:\n1. Rinse the rice.\n2. Cook it with the butter.\n3. Add the lemon.";

/// What an internal service would answer, to every path; it records what reached it.
async fn internal(listener: Option<std::net::TcpListener>) -> MockServer {
    let builder = MockServer::builder();
    let server = match listener {
        Some(listener) => builder.listener(listener).start().await,
        None => builder.start().await,
    };
    let vtt = format!("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n{SECRET} 500 g flour\n");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(vtt))
        .mount(&server)
        .await;
    server
}

/// A mock Apify whose text run returns `text` and whose video run returns `video` as the item.
async fn apify(text: impl Fn(&str) -> Value, video: impl Fn(&str) -> Value) -> MockServer {
    let server = MockServer::start().await;
    let items = [("text", false, text(&server.uri())), ("video", true, video(&server.uri()))];
    for (kind, download, item) in items {
        let run = json!({"data": {"id": format!("run-{kind}"), "status": "SUCCEEDED", "defaultDatasetId": format!("ds-{kind}")}});
        Mock::given(method("POST"))
            .and(path("/v2/acts/clockworks~tiktok-scraper/runs"))
            .and(body_partial_json(json!({"shouldDownloadVideos": download})))
            .respond_with(ResponseTemplate::new(201).set_body_json(run))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v2/datasets/ds-{kind}/items")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([item])))
            .mount(&server)
            .await;
    }
    server
}

/// An item with `caption`, one subtitle link, the given covers and video links.
fn item(caption: &str, subtitle: Option<&str>, covers: [&str; 3], media: Option<&str>) -> Value {
    let links = subtitle
        .map_or(json!([]), |link| json!([{"language": "eng-US", "downloadLink": link, "source": "ASR"}]));
    json!({
        "id": "7300000000000000042", "text": caption, "textLanguage": "en", "webVideoUrl": VIDEO,
        "authorMeta": {"name": "chef"},
        "mediaUrls": media.map_or(json!([]), |link| json!([link])),
        "videoMeta": {"duration": 12, "coverUrl": covers[0], "originalCoverUrl": covers[1], "subtitleLinks": links},
        "covers": [covers[2]],
    })
}

fn scraper(apify: &MockServer) -> Arc<ApifyScraper> {
    let mut config = ApifyConfig::new("apify-test-token".to_owned().into());
    config.base_url = apify.uri().parse().unwrap();
    config.poll_wait_secs = 1;
    Arc::new(ApifyScraper::new(config).unwrap())
}

/// Mounts `GET {route}` on `server` as a redirect to `to`.
async fn redirect(server: &MockServer, route: &str, to: &str) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(302).insert_header("location", to))
        .mount(server)
        .await;
}

#[tokio::test]
async fn subtitle_and_cover_links_to_internal_hosts_are_never_fetched_nor_saved() {
    let v4 = internal(None).await;
    // IPv6 loopback when the machine has it; the link is refused either way.
    let v6 = internal(std::net::TcpListener::bind("[::1]:0").ok()).await;
    let (port, port6) = (v4.address().port(), v6.address().port());
    let secret_vtt = format!("http://127.0.0.1:{port}/subs.vtt");
    let cases = [
        (format!("http://127.0.0.1:{port}/subs.vtt"), "loopback over http"),
        (format!("https://127.0.0.1:{port}/subs.vtt"), "loopback over https"),
        (format!("http://localhost:{port}/subs.vtt"), "localhost"),
        (format!("https://0x7f000001:{port}/subs.vtt"), "hex loopback"),
        (format!("https://2130706433:{port}/subs.vtt"), "decimal loopback"),
        (format!("https://[::ffff:127.0.0.1]:{port}/subs.vtt"), "IPv4-mapped loopback"),
        (format!("http://[::1]:{port6}/subs.vtt"), "IPv6 loopback"),
        ("{apify}/subs/redirect.vtt".to_owned(), "a redirect from the trusted Apify origin"),
    ];

    for (subtitle, why) in cases {
        let covers = [
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            &format!("https://127.0.0.1:{port}/cover.jpg"),
            "https://[fd00::1]/cover.jpg",
        ];
        let apify = apify(
            |base| item(RECIPE, Some(&subtitle.replace("{apify}", base)), covers, None),
            |base| item(RECIPE, None, covers, Some(base)),
        )
        .await;
        redirect(&apify, "/subs/redirect.vtt", &secret_vtt).await;
        // A fresh Redis prefix and database per case: one worker, one task.
        let env = Env::new().await;
        let mut feed = env.feed().await;
        let (stop, worker) = spawn(env.worker(scraper(&apify), Arc::new(RuleExtractor::new()), config()));

        let job = env.submit(VIDEO, "en").await;
        let done = until_terminal(&mut feed, job.task_id).await;

        stop.cancel();
        worker.await.unwrap().unwrap();
        let hits = v4.received_requests().await.unwrap().len() + v6.received_requests().await.unwrap().len();
        assert_eq!(hits, 0, "{why}: nothing reached the internal servers");
        assert_eq!(done.status, TaskState::Success, "{why}: {done:?}");
        let saved = env.tasks.recipe(done.recipe_id.unwrap(), job.owner).await.unwrap().unwrap();
        let stored = serde_json::to_string(&saved.recipe).unwrap();
        assert!(!stored.contains("INTERNAL") && !stored.contains("flour"), "{why}: {stored}");
        assert_eq!(saved.recipe.cover_url, None, "{why}: no cover that is not https to a public host");
        assert_eq!(saved.recipe.ingredients.len(), 3, "{why}: the caption's recipe");
        let log = env.log(job.task_id).await;
        let details: Vec<&str> = log.iter().filter_map(|u| u.details.as_deref()).collect();
        assert!(
            details.contains(&"Using the offline rule-based extractor on caption"),
            "{why}: the app is told only the caption was read: {details:?}"
        );
    }
}

#[tokio::test]
async fn an_oversize_subtitle_from_apify_is_dropped_and_the_caption_still_makes_the_recipe() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let covers = ["https://p16-sign.tiktokcdn.com/cover.jpeg", "", ""];
    let apify =
        apify(|base| item(RECIPE, Some(&format!("{base}/subs/big.vtt")), covers, None), |_| json!({})).await;
    let mut big = String::from("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n");
    big.push_str(&"500 g flour ".repeat(300_000));
    Mock::given(method("GET"))
        .and(path("/subs/big.vtt"))
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .expect(1)
        .mount(&apify)
        .await;
    let (stop, worker) = spawn(env.worker(scraper(&apify), Arc::new(RuleExtractor::new()), config()));

    let job = env.submit(VIDEO, "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    stop.cancel();
    worker.await.unwrap().unwrap();
    assert_eq!(done.status, TaskState::Success, "{done:?}");
    let saved = env.tasks.recipe(done.recipe_id.unwrap(), job.owner).await.unwrap().unwrap();
    assert!(
        !serde_json::to_string(&saved.recipe).unwrap().contains("flour"),
        "the 3.6 MB track was not read"
    );
    assert_eq!(saved.recipe.cover_url.as_deref(), Some(covers[0]), "a public https cover is kept");
}

#[tokio::test]
async fn a_video_link_to_an_internal_host_is_refused_and_the_task_says_so_or_keeps_the_caption() {
    let secret = internal(None).await;
    let port = secret.address().port();
    let teaser = "recipe in the video 👀 #dinner";
    let cases = [
        (MediaMode::Auto, teaser, format!("http://127.0.0.1:{port}/video.mp4"), "auto, a loopback link"),
        (MediaMode::Auto, teaser, "{apify}/v2/key-value-stores/kv/records/video".into(), "auto, a redirect"),
        (MediaMode::Always, RECIPE, format!("https://localhost:{port}/video.mp4"), "always, caption enough"),
    ];
    let media = TempDir::new("outbound-media");

    for (mode, caption, link, why) in cases {
        let covers = ["https://p16-sign.tiktokcdn.com/cover.jpeg", "", ""];
        let apify = apify(
            |_| item(caption, None, covers, None),
            |base| item(caption, None, covers, Some(&link.replace("{apify}", base))),
        )
        .await;
        redirect(&apify, "/v2/key-value-stores/kv/records/video", &format!("http://127.0.0.1:{port}/v.mp4"))
            .await;
        let providers = Providers::new(scraper(&apify), Arc::new(RuleExtractor::new())).with_video(reader(
            mode,
            &media.0,
            limits(),
            None,
        ));
        let env = Env::new().await;
        let mut feed = env.feed().await;
        let (stop, worker) = spawn(env.worker_with(providers, config()));

        let job = env.submit(VIDEO, "en").await;
        let done = until_terminal(&mut feed, job.task_id).await;

        stop.cancel();
        worker.await.unwrap().unwrap();
        if mode == MediaMode::Always {
            assert_eq!(done.status, TaskState::Success, "{why}: {done:?}");
            assert_eq!(done.details.as_deref(), Some("Read from the caption"), "{why}");
        } else {
            assert_eq!(
                (done.status, done.error.as_deref()),
                (TaskState::Failure, Some("video_url_refused")),
                "{why}: {done:?}"
            );
            let message = done.message.as_deref().unwrap_or_default();
            assert!(
                message.contains("not downloaded") && message.contains("the link to 127.0.0.1 was refused"),
                "{why}: the app is told why: {message}"
            );
        }
    }
    assert_eq!(secret.received_requests().await.unwrap().len(), 0, "no video was fetched from inside");
    assert_eq!(media.leftovers(), Vec::<String>::new());
}
