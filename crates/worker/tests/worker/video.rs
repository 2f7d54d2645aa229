//! The media pass on real videos made at test time with ffmpeg (text drawn over a colour, a
//! tone or espeak-ng speech): the offline path read by OCR, and how each bad video ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use protocol::{TaskState, TaskUpdate};
use settings::MediaMode;
use url::Url;
use worker::providers::fixture_media::{self, Audio, MediaScript, Scene};
use worker::providers::fixtures::FixtureScraper;
use worker::providers::rules::RuleExtractor;
use worker::providers::{Extractor, ProviderError, Providers, ScrapeRequest, Scraper, VideoData, VideoFile};
use worker::video::{VideoReader, VideoReaderConfig};

use crate::{Env, config, until_step, until_terminal};

/// A media folder of its own per test, removed at the end.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(what: &str) -> Self {
        let path = std::env::temp_dir().join(format!("worker-test-{what}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// The entries left in the folder.
    pub(crate) fn leftovers(&self) -> Vec<String> {
        match std::fs::read_dir(&self.0) {
            Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn limits() -> media::Limits {
    media::Limits {
        max_bytes: 20 * 1024 * 1024,
        max_secs: 60,
        max_frames: 8,
        frame_long_side: 768,
        timeout: Duration::from_secs(60),
    }
}

pub(crate) fn reader(
    mode: MediaMode,
    root: &Path,
    limits: media::Limits,
    transcriber: Option<Arc<dyn worker::providers::Transcriber>>,
) -> VideoReader {
    VideoReader::new(VideoReaderConfig {
        mode,
        root: root.to_owned(),
        limits,
        transcriber,
        cache_ttl: Duration::from_secs(600),
    })
    .expect("ffmpeg, ffprobe and tesseract are installed")
}

/// The recipe of the overlay video: what the tests draw and expect back.
pub(crate) fn overlay_script(duration_secs: u32, audio: Audio) -> MediaScript {
    let third = f64::from(duration_secs) / 3.0;
    MediaScript {
        duration_secs,
        size: "720x1280".into(),
        background: "0x1f3b5a".into(),
        scenes: vec![
            Scene { from: 0.0, to: third, lines: vec!["Lemon rice".into()] },
            Scene {
                from: third,
                to: 2.0 * third,
                lines: vec![
                    "Ingredients".into(),
                    "250 g rice".into(),
                    "2 tbsp butter".into(),
                    "1 lemon".into(),
                ],
            },
            Scene {
                from: 2.0 * third,
                to: f64::from(duration_secs),
                lines: vec![
                    "Steps".into(),
                    "1. Rinse the rice.".into(),
                    "2. Cook with butter.".into(),
                    "3. Add the lemon.".into(),
                ],
            },
        ],
        audio,
    }
}

pub(crate) async fn rendered(dir: &Path, name: &str, script: &MediaScript) -> PathBuf {
    let path = dir.join(name);
    fixture_media::render(script, &path).await.expect("ffmpeg renders the test video");
    path
}

/// A scraper whose caption has no recipe and whose video is a given file or URL.
pub(crate) struct VideoScraper {
    pub(crate) file: VideoFile,
    pub(crate) scrapes: AtomicU32,
    pub(crate) video_scrapes: AtomicU32,
}

impl VideoScraper {
    pub(crate) fn new(file: VideoFile) -> Self {
        Self { file, scrapes: AtomicU32::new(0), video_scrapes: AtomicU32::new(0) }
    }
}

#[async_trait]
impl Scraper for VideoScraper {
    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        self.scrapes.fetch_add(1, Ordering::SeqCst);
        if request.video {
            self.video_scrapes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(VideoData {
            url: request.url.as_str().to_owned(),
            video_id: Some(format!("test-{}", uuid::Uuid::new_v4().simple())),
            caption: "recipe in the video 👀".into(),
            text_language: Some("en".into()),
            video_file: request.video.then(|| self.file.clone()),
            ..VideoData::default()
        })
    }

    async fn download(&self, url: &Url, dest: &Path, limits: &media::Limits) -> Result<u64, ProviderError> {
        let client = reqwest::Client::new();
        media::download(&client, url, dest, limits).await.map_err(|e| {
            if e.is_permanent() {
                ProviderError::permanent(e.code(), e.to_string())
            } else {
                ProviderError::transient(e.to_string())
            }
        })
    }
}

fn summary(recipe: &protocol::Recipe) -> Vec<(String, Option<f64>, Option<String>)> {
    recipe.ingredients.iter().map(|i| (i.name.to_lowercase(), i.quantity, i.unit.clone())).collect()
}

fn providers(scraper: Arc<dyn Scraper>, extractor: Arc<dyn Extractor>, reader: VideoReader) -> Providers {
    Providers::new(scraper, extractor).with_video(reader)
}

#[tokio::test]
async fn offline_a_caption_without_a_recipe_and_a_video_with_it_on_screen_succeeds_by_ocr() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (videos, root) = (TempDir::new("fixture-videos"), TempDir::new("media"));
    let scraper = Arc::new(FixtureScraper::with_video_dir(&videos.0));
    let reader = reader(MediaMode::Auto, &root.0, limits(), None);
    let worker = worker::Worker::new(
        env.bus.clone(),
        env.store.clone(),
        providers(scraper, Arc::new(RuleExtractor::new()), reader),
        config(),
    );
    let (stop, handle) = crate::spawn(worker);

    let job = env.submit("https://www.tiktok.com/@sofia.cooks.fast/video/7365108245337459974", "en").await;
    let done = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(done.status, TaskState::Success, "{done:?}");
    let saved = env.store.recipe_for_owner(done.recipe_id.unwrap(), job.owner).await.unwrap().unwrap();
    let recipe = &saved.recipe;
    let ingredients = summary(recipe);
    for (name, quantity, unit) in [
        ("spaghetti", 200.0, Some("g")),
        ("garlic", 3.0, None),
        ("butter", 2.0, Some("tbsp")),
        ("parmesan", 50.0, Some("g")),
    ] {
        assert!(
            ingredients.iter().any(|(n, q, u)| n.contains(name)
                && *q == Some(quantity)
                && (unit.is_none() || u.as_deref() == unit)),
            "{name} {quantity} {unit:?} was read from the frames: {ingredients:?}"
        );
    }
    assert!(recipe.steps.len() >= 3, "{:?}", recipe.steps);
    assert!(recipe.steps.iter().any(|s| s.contains("Boil the spaghetti")), "{:?}", recipe.steps);
    assert_eq!(recipe.title, "Garlic butter pasta", "titled by the overlay");
    let log = env.log(job.task_id).await;
    let details: Vec<&str> = log.iter().filter_map(|u| u.details.as_deref()).collect();
    assert!(
        details.contains(&"Using the offline rule-based extractor on caption"),
        "cheap pass first: {details:?}"
    );
    assert!(
        details.iter().any(|d| d.starts_with("Not enough in the caption and subtitles; downloading")),
        "the second pass says why: {details:?}"
    );
    assert!(
        details.iter().any(|d| d.contains("on-screen text (OCR of") && d.contains("frames)")),
        "the media pass says OCR: {details:?}"
    );
    assert!(done.details.as_deref().unwrap_or_default().contains("on-screen text"), "{done:?}");
    assert!(log.windows(2).all(|w| w[0].step <= w[1].step), "the progress bar never goes back");
    assert_eq!(root.leftovers(), Vec::<String>::new(), "the task's media folder is gone");
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn offline_a_recipe_that_is_only_spoken_ends_saying_speech_needs_transcription() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (videos, root) = (TempDir::new("fixture-videos"), TempDir::new("media"));
    let scraper = Arc::new(FixtureScraper::with_video_dir(&videos.0));
    let reader = reader(MediaMode::Auto, &root.0, limits(), None);
    let worker = worker::Worker::new(
        env.bus.clone(),
        env.store.clone(),
        providers(scraper, Arc::new(RuleExtractor::new()), reader),
        config(),
    );
    let (stop, handle) = crate::spawn(worker);

    let job = env.submit("https://www.tiktok.com/@grillwithtom/video/7368893312409817349", "en").await;
    let failed = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (TaskState::Failure, Some("not_a_recipe")),
        "{failed:?}"
    );
    let message = failed.message.unwrap_or_default();
    assert!(message.contains("no transcription provider is configured"), "{message}");
    assert_eq!(root.leftovers(), Vec::<String>::new());
    stop.cancel();
    handle.await.unwrap().unwrap();
}

/// Runs one task through a worker reading `file` and returns its terminal update.
async fn end_of(
    env: &Env,
    file: VideoFile,
    limits: media::Limits,
    root: &Path,
) -> (TaskUpdate, Arc<VideoScraper>) {
    let mut feed = env.feed().await;
    let scraper = Arc::new(VideoScraper::new(file));
    let reader = reader(MediaMode::Auto, root, limits, None);
    let worker = worker::Worker::new(
        env.bus.clone(),
        env.store.clone(),
        providers(scraper.clone(), Arc::new(RuleExtractor::new()), reader),
        config(),
    );
    let (stop, handle) = crate::spawn(worker);
    let job = env.submit("https://www.tiktok.com/@chef/video/7300000000000000042", "en").await;
    let end = until_terminal(&mut feed, job.task_id).await;
    env.log(job.task_id).await;
    stop.cancel();
    handle.await.unwrap().unwrap();
    (end, scraper)
}

#[tokio::test]
async fn bad_videos_end_with_their_documented_code_and_leave_no_files() {
    let dir = TempDir::new("bad-videos");
    let tone = rendered(&dir.0, "long.mp4", &overlay_script(8, Audio::Tone)).await;
    let corrupt = dir.0.join("corrupt.mp4");
    std::fs::write(&corrupt, b"\x00\x00\x00\x18ftypmp42 this is not really a video").unwrap();
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/big.mp4"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_bytes(vec![0u8; 64 * 1024]))
        .mount(&server)
        .await;
    let big = Url::parse(&format!("{}/big.mp4", server.uri())).unwrap();
    let cases = [
        (
            VideoFile::Remote(big),
            media::Limits { max_bytes: 16 * 1024, ..limits() },
            "video_too_large",
            "over the size cap",
        ),
        (
            VideoFile::Local(tone),
            media::Limits { max_secs: 5, ..limits() },
            "video_too_long",
            "over the length cap",
        ),
        (VideoFile::Local(corrupt), limits(), "video_unreadable", "not a video"),
    ];
    for (file, limits, code, why) in cases {
        let env = Env::new().await;
        let root = TempDir::new("media");

        let (end, scraper) = end_of(&env, file, limits, &root.0).await;

        assert_eq!((end.status, end.error.as_deref()), (TaskState::Failure, Some(code)), "{why}: {end:?}");
        assert!(!end.message.as_deref().unwrap_or_default().is_empty(), "{why}: a message to show");
        assert_eq!(scraper.video_scrapes.load(Ordering::SeqCst), 1, "{why}: permanent, not retried");
        assert_eq!(root.leftovers(), Vec::<String>::new(), "{why}: the media folder is empty");
    }
}

#[tokio::test]
async fn a_video_without_an_audio_stream_is_read_by_ocr_alone() {
    let env = Env::new().await;
    let dir = TempDir::new("silent");
    let root = TempDir::new("media");
    let silent = rendered(&dir.0, "silent.mp4", &overlay_script(9, Audio::None)).await;

    let (end, _) = end_of(&env, VideoFile::Local(silent), limits(), &root.0).await;

    assert_eq!(end.status, TaskState::Success, "{end:?}");
    assert_eq!(root.leftovers(), Vec::<String>::new());
}

/// A stand-in for ffmpeg: `sleep` hangs (to cancel mid-analysis), `kill` dies by SIGKILL the
/// way the OOM killer ends it; ffprobe and tesseract are the real ones.
fn tools_with_fake_ffmpeg(dir: &Path, behaviour: &str) -> media::Tools {
    use std::os::unix::fs::PermissionsExt;
    let real = media::Tools::detect().unwrap();
    let script = dir.join(format!("ffmpeg-{behaviour}"));
    let body = match behaviour {
        "sleep" => "#!/bin/sh\nexec sleep 30\n".to_owned(),
        _ => "#!/bin/sh\nkill -9 $$\n".to_owned(),
    };
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    media::Tools::at(&script, real.ffprobe(), real.tesseract()).unwrap()
}

fn reader_with_tools(root: &Path, tools: media::Tools) -> VideoReader {
    VideoReader::with_tools(
        VideoReaderConfig {
            mode: MediaMode::Auto,
            root: root.to_owned(),
            limits: limits(),
            transcriber: None,
            cache_ttl: Duration::from_secs(600),
        },
        tools,
    )
}

#[tokio::test]
async fn ffmpeg_killed_mid_way_is_transient_and_retried_until_the_attempts_run_out() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let dir = TempDir::new("killed");
    let root = TempDir::new("media");
    let video = rendered(&dir.0, "v.mp4", &overlay_script(6, Audio::Tone)).await;
    let scraper = Arc::new(VideoScraper::new(VideoFile::Local(video)));
    let reader = reader_with_tools(&root.0, tools_with_fake_ffmpeg(&dir.0, "kill"));
    let worker = worker::Worker::new(
        env.bus.clone(),
        env.store.clone(),
        providers(scraper.clone(), Arc::new(RuleExtractor::new()), reader),
        config(),
    );
    let (stop, handle) = crate::spawn(worker);

    let job = env.submit("https://www.tiktok.com/@chef/video/7300000000000000043", "en").await;
    let end = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(
        (end.status, end.error.as_deref()),
        (TaskState::Failure, Some("temporarily_unavailable")),
        "{end:?}"
    );
    assert!(end.message.as_deref().unwrap_or_default().contains("ffmpeg"), "{end:?}");
    assert_eq!(
        scraper.video_scrapes.load(Ordering::SeqCst),
        config().max_attempts,
        "one media pass per attempt"
    );
    assert_eq!(root.leftovers(), Vec::<String>::new());
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_cancel_mid_analysis_kills_ffmpeg_and_removes_the_media_folder() {
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let dir = TempDir::new("cancel");
    let root = TempDir::new("media");
    let video = rendered(&dir.0, "v.mp4", &overlay_script(6, Audio::Tone)).await;
    let scraper = Arc::new(VideoScraper::new(VideoFile::Local(video)));
    let reader = reader_with_tools(&root.0, tools_with_fake_ffmpeg(&dir.0, "sleep"));
    let worker = worker::Worker::new(
        env.bus.clone(),
        env.store.clone(),
        providers(scraper.clone(), Arc::new(RuleExtractor::new()), reader),
        config(),
    );
    let (stop, handle) = crate::spawn(worker);
    let job = env.submit("https://www.tiktok.com/@chef/video/7300000000000000044", "en").await;
    until_step(&mut feed, job.task_id, 3).await;
    // The media pass has its folder once the video scrape is in.
    tokio::time::timeout(crate::WAIT, async {
        while root.leftovers().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the media pass started");

    let update = TaskUpdate::cancelled(job.task_id, 3);
    env.store.cancel_task(job.task_id, job.owner, &update).await.unwrap();
    env.bus.cancel(job.task_id, &update).await.unwrap().expect("logged");
    let ended = until_terminal(&mut feed, job.task_id).await;

    assert_eq!(ended.error.as_deref(), Some("cancelled"));
    tokio::time::timeout(crate::WAIT, async {
        while !root.leftovers().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the media folder is removed once the job lets go");
    let sleeping = std::process::Command::new("pgrep")
        .args(["-f", &dir.0.join("ffmpeg-sleep").to_string_lossy()])
        .output();
    if let Ok(out) = sleeping {
        assert!(
            out.stdout.is_empty(),
            "the fake ffmpeg was killed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    stop.cancel();
    handle.await.unwrap().unwrap();
}
