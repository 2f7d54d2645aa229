//! The media cascade through the real Apify, LLM and transcription clients, against wiremock
//! servers: the mock Apify key-value store serves a video rendered at test time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use protocol::TaskState;
use secrecy::SecretString;
use serde_json::{Value, json};
use settings::MediaMode;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use worker::providers::fixture_media::{Audio, MediaScript};
use worker::providers::transcribe::{TranscriptionConfig, WhisperTranscriber};
use worker::providers::{Providers, Transcriber};

use crate::clients::completion;
use crate::video::{TempDir, limits, overlay_script, reader, rendered};
use crate::{Env, config, spawn, until_terminal};

/// The Apify token `clients::providers` configures.
const TOKEN: &str = "apify-test-token";
const SPOKEN: &str = "You will need 250 grams of rice and one lemon. Rinse the rice, then cook it.";
const RECORD: &str = "/v2/key-value-stores/kv-1/records/video-42";
const MAX_FRAMES: usize = 4;

/// A mock Apify with both kinds of run; the video run's item names the stored video file.
async fn apify(video: Vec<u8>, caption: &str, subtitles: bool) -> MockServer {
    let server = MockServer::start().await;
    for (kind, download) in [("text", false), ("video", true)] {
        Mock::given(method("POST"))
            .and(path("/v2/acts/clockworks~tiktok-scraper/runs"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_partial_json(json!({"shouldDownloadVideos": download})))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "data": {"id": format!("run-{kind}"), "status": "RUNNING", "defaultDatasetId": format!("ds-{kind}")}
            })))
            .named(format!("start the {kind} run"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v2/actor-runs/run-{kind}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": {"id": format!("run-{kind}"), "status": "SUCCEEDED", "defaultDatasetId": format!("ds-{kind}")}
            })))
            .mount(&server)
            .await;
        let links = if subtitles {
            json!([{"language": "eng-US", "downloadLink": format!("{}/subs/en.vtt", server.uri()), "source": "ASR"}])
        } else {
            json!([])
        };
        let media_urls = if download { json!([format!("{}{RECORD}", server.uri())]) } else { json!([]) };
        Mock::given(method("GET"))
            .and(path(format!("/v2/datasets/ds-{kind}/items")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
                "id": "7300000000000000042",
                "text": caption,
                "textLanguage": "en",
                "webVideoUrl": "https://www.tiktok.com/@chef/video/7300000000000000042",
                "authorMeta": {"name": "chef"},
                "mediaUrls": media_urls,
                "videoMeta": {"duration": 12, "coverUrl": "https://example.invalid/cover.jpg", "subtitleLinks": links},
            }])))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(RECORD))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).insert_header("content-type", "video/mp4").set_body_bytes(video),
        )
        .named("the stored video, with the token")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/subs/en.vtt"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nrinse the rice and cook it with the butter\n",
        ))
        .mount(&server)
        .await;
    server
}

/// What the mock LLM answers: `cheap` to a request without frames; to one with frames, the
/// full recipe (after failing `fail_media` times with a 500).
struct Llm {
    cheap: Value,
    fail_media: u32,
    media_calls: AtomicU32,
}

impl Respond for Llm {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap_or_default();
        let with_frames = images(&body).iter().any(|url| url.starts_with("data:image/jpeg;base64,"));
        if !with_frames {
            return ResponseTemplate::new(200).set_body_json(completion(self.cheap.clone()));
        }
        if self.media_calls.fetch_add(1, Ordering::SeqCst) < self.fail_media {
            return ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "overloaded"}}));
        }
        ResponseTemplate::new(200).set_body_json(completion(recipe(true)))
    }
}

/// A recipe answer; `steps` false makes it thin (ingredients only).
fn recipe(steps: bool) -> Value {
    json!({
        "is_recipe": true, "title": "Lemon rice", "description": null, "servings": 2,
        "prep_minutes": null, "cook_minutes": 15, "total_minutes": null,
        "ingredients": [
            {"raw": "250 g rice", "quantity": 250, "unit": "g", "name": "rice", "note": null},
            {"raw": "1 lemon", "quantity": 1, "unit": null, "name": "lemon", "note": null}
        ],
        "steps": if steps { json!(["Rinse the rice.", "Cook it with butter.", "Add the lemon."]) } else { json!([]) },
        "tags": ["rice"]
    })
}

fn not_a_recipe() -> Value {
    json!({"is_recipe": false, "title": "", "description": null, "servings": null, "prep_minutes": null,
           "cook_minutes": null, "total_minutes": null, "ingredients": [], "steps": [], "tags": []})
}

/// The image URLs of a chat request's user message.
fn images(body: &Value) -> Vec<String> {
    body["messages"][1]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|part| part["type"] == "image_url")
        .filter_map(|part| part["image_url"]["url"].as_str().map(str::to_owned))
        .collect()
}

fn user_text(body: &Value) -> String {
    body["messages"][1]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

/// Width and height from a JPEG's SOF marker.
fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) || !jpeg.ends_with(&[0xFF, 0xD9]) {
        return None;
    }
    let mut at = 2;
    while at + 9 < jpeg.len() {
        if jpeg[at] != 0xFF {
            return None;
        }
        let marker = jpeg[at + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if matches!(marker, 0xC0..=0xC3) {
            let height = u16::from_be_bytes([jpeg[at + 5], jpeg[at + 6]]);
            let width = u16::from_be_bytes([jpeg[at + 7], jpeg[at + 8]]);
            return Some((u32::from(width), u32::from(height)));
        }
        at += 2 + length;
    }
    None
}

struct Setup {
    apify: MockServer,
    llm: MockServer,
    env: Env,
    _dirs: (TempDir, TempDir),
    root: std::path::PathBuf,
}

impl Setup {
    async fn new(script: &MediaScript, caption: &str, subtitles: bool, llm: Llm) -> Self {
        let (videos, root) = (TempDir::new("client-videos"), TempDir::new("media"));
        let file = rendered(&videos.0, "video.mp4", script).await;
        let apify = apify(std::fs::read(&file).unwrap(), caption, subtitles).await;
        let llm_server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(llm)
            .mount(&llm_server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/audio/transcriptions"))
            .and(header("authorization", "Bearer llm-test-key"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"text": SPOKEN})))
            .named("transcription")
            .mount(&llm_server)
            .await;
        let root_path = root.0.clone();
        Self { apify, llm: llm_server, env: Env::new().await, _dirs: (videos, root), root: root_path }
    }

    fn providers(&self, mode: MediaMode) -> Providers {
        let (scraper, extractor) = crate::clients::providers(&self.apify, &self.llm);
        let base_url: url::Url = format!("{}/v1", self.llm.uri()).parse().unwrap();
        let transcriber: Arc<dyn Transcriber> = Arc::new(
            WhisperTranscriber::new(TranscriptionConfig {
                base_url,
                api_key: SecretString::from("llm-test-key"),
                model: "whisper-1".into(),
                request_timeout: Duration::from_secs(10),
            })
            .unwrap(),
        );
        let limits = media::Limits { max_frames: MAX_FRAMES, ..limits() };
        Providers::new(scraper, extractor).with_video(reader(mode, &self.root, limits, Some(transcriber)))
    }

    async fn count(server: &MockServer, verb: &str, route: &str) -> usize {
        let requests = server.received_requests().await.unwrap();
        requests.iter().filter(|r| r.method.as_str() == verb && r.url.path() == route).count()
    }

    async fn runs_started(&self) -> usize {
        Self::count(&self.apify, "POST", "/v2/acts/clockworks~tiktok-scraper/runs").await
    }

    async fn downloads(&self) -> usize {
        Self::count(&self.apify, "GET", RECORD).await
    }

    async fn transcriptions(&self) -> Vec<Request> {
        let requests = self.llm.received_requests().await.unwrap();
        requests.into_iter().filter(|r| r.url.path() == "/v1/audio/transcriptions").collect()
    }

    async fn chats(&self) -> Vec<Value> {
        let requests = self.llm.received_requests().await.unwrap();
        requests
            .iter()
            .filter(|r| r.url.path() == "/v1/chat/completions")
            .map(|r| r.body_json().unwrap())
            .collect()
    }

    fn leftovers(&self) -> usize {
        std::fs::read_dir(&self.root).map(|d| d.count()).unwrap_or(0)
    }
}

fn llm(cheap: Value, fail_media: u32) -> Llm {
    Llm { cheap, fail_media, media_calls: AtomicU32::new(0) }
}

fn speaking_overlay() -> MediaScript {
    overlay_script(9, Audio::Speech { text: SPOKEN.into(), voice: "en".into() })
}

#[tokio::test]
async fn a_teaser_caption_sends_frames_on_screen_text_and_the_transcribed_speech_to_the_model() {
    let setup =
        Setup::new(&speaking_overlay(), "recipe in the video 👀", false, llm(not_a_recipe(), 0)).await;
    let mut feed = setup.env.feed().await;
    let (stop, worker) = spawn(setup.env.worker_with(setup.providers(MediaMode::Auto), config()));

    let job = setup.env.submit("https://www.tiktok.com/@chef/video/7300000000000000042", "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success, "{done:?}");
    assert_eq!((setup.runs_started().await, setup.downloads().await), (2, 1), "one extra run, one download");
    let transcriptions = setup.transcriptions().await;
    assert_eq!(transcriptions.len(), 1);
    let form = String::from_utf8_lossy(&transcriptions[0].body);
    assert!(form.contains("name=\"file\"; filename=\""), "the audio file is sent");
    assert!(transcriptions[0].body.len() > 2000, "with real audio bytes: {}", transcriptions[0].body.len());
    assert!(form.contains("name=\"language\"\r\n\r\nen"), "and the language");
    let chats = setup.chats().await;
    assert_eq!(chats.len(), 2, "the cheap pass, then the media pass");
    assert!(images(&chats[0]).iter().all(|url| !url.starts_with("data:")), "no frames in the cheap pass");
    let frames = images(&chats[1]);
    assert!(!frames.is_empty() && frames.len() <= MAX_FRAMES, "{} frames", frames.len());
    for url in &frames {
        let jpeg = STANDARD.decode(url.trim_start_matches("data:image/jpeg;base64,")).unwrap();
        let (width, height) = jpeg_size(&jpeg).expect("a valid JPEG");
        assert!(width.max(height) <= 768, "{width}x{height}");
        assert!(jpeg.len() < 300_000, "{} bytes", jpeg.len());
    }
    let parts = chats[1]["messages"][1]["content"].as_array().unwrap();
    assert!(parts[1..].iter().all(|p| p["image_url"]["detail"] == "low"));
    let text = user_text(&chats[1]);
    assert!(text.contains("Speech transcript") && text.contains("250 grams of rice"), "{text}");
    // OCR may or may not keep the space in "250 g".
    assert!(text.contains("On-screen text") && text.replace("250 g", "250g").contains("250g rice"), "{text}");
    let log = setup.env.log(job.task_id).await;
    let details: Vec<&str> = log.iter().filter_map(|u| u.details.as_deref()).collect();
    assert!(details.contains(&"Reading caption with gpt-4o-mini"), "{details:?}");
    let analysing =
        format!("Analysing caption, {} frames, on-screen text and speech with gpt-4o-mini", frames.len());
    assert!(details.contains(&analysing.as_str()), "{details:?}");
    assert_eq!(setup.leftovers(), 0);
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_video_with_subtitles_is_not_transcribed() {
    let setup = Setup::new(&speaking_overlay(), "recipe in the video 👀", true, llm(not_a_recipe(), 0)).await;
    let mut feed = setup.env.feed().await;
    let (stop, worker) = spawn(setup.env.worker_with(setup.providers(MediaMode::Always), config()));

    let job = setup.env.submit("https://www.tiktok.com/@chef/video/7300000000000000042", "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success, "{done:?}");
    assert_eq!(setup.transcriptions().await.len(), 0, "the subtitles are the transcript");
    assert_eq!(
        (setup.runs_started().await, setup.downloads().await),
        (1, 1),
        "always: one run that downloads"
    );
    let chats = setup.chats().await;
    assert_eq!(chats.len(), 1);
    let text = user_text(&chats[0]);
    assert!(text.contains("automatic subtitles") && text.contains("rinse the rice"), "{text}");
    assert!(!text.contains("Speech transcript"), "{text}");
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_caption_with_a_full_recipe_never_downloads_the_video() {
    let caption = "Lemon rice\nIngredients: 250 g rice, 1 lemon\nSteps: rinse, cook, add lemon";
    let setup = Setup::new(&speaking_overlay(), caption, false, llm(recipe(true), 0)).await;
    let mut feed = setup.env.feed().await;
    let (stop, worker) = spawn(setup.env.worker_with(setup.providers(MediaMode::Auto), config()));

    let job = setup.env.submit("https://www.tiktok.com/@chef/video/7300000000000000042", "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success, "{done:?}");
    assert_eq!((setup.runs_started().await, setup.downloads().await), (1, 0), "one cheap run, no video");
    assert_eq!(setup.transcriptions().await.len(), 0);
    assert_eq!(setup.chats().await.len(), 1);
    assert_eq!(done.details.as_deref(), Some("Read from the caption"));
    stop.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_thin_caption_costs_exactly_one_extra_run_which_a_retry_re_attaches_to() {
    let setup =
        Setup::new(&speaking_overlay(), "Lemon rice: 250 g rice, 1 lemon", false, llm(recipe(false), 1))
            .await;
    let mut feed = setup.env.feed().await;
    let (stop, worker) = spawn(setup.env.worker_with(setup.providers(MediaMode::Auto), config()));

    let job = setup.env.submit("https://www.tiktok.com/@chef/video/7300000000000000042", "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success, "{done:?}");
    let log = setup.env.log(job.task_id).await;
    assert!(
        log.iter().any(|u| u.current_status.as_deref() == Some("Waiting to retry...")),
        "the 500 was retried"
    );
    assert_eq!(setup.runs_started().await, 2, "a text run and a video run, none started again on retry");
    assert!(
        Setup::count(&setup.apify, "GET", "/v2/actor-runs/run-video").await >= 1,
        "the retry re-attached"
    );
    assert_eq!(setup.downloads().await, 1, "the retry read the media cache");
    assert_eq!(setup.transcriptions().await.len(), 1, "transcribed once");
    let saved = setup.env.tasks.recipe(done.recipe_id.unwrap(), job.owner).await.unwrap().unwrap();
    assert_eq!(saved.recipe.steps.len(), 3, "the media pass's fuller recipe won");
    stop.cancel();
    worker.await.unwrap().unwrap();
}
