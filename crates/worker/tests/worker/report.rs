//! A measurement, not a check: what the cascade spends on the mix of offline fixtures, the LLM
//! input tokens per recipe text-only versus with frames, and the media pass's time on a 60 s
//! 720p video. Run it with
//! `cargo nextest run -p worker --run-ignored only cascade_cost_report --no-capture`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::{Language, TaskId, TikTokUrl};
use settings::MediaMode;
use url::Url;
use worker::providers::fixture_media::{Audio, MediaScript, Scene};
use worker::providers::fixtures::FixtureScraper;
use worker::providers::llm::{LlmConfig, LlmExtractor};
use worker::providers::rules::RuleExtractor;
use worker::providers::{NoMemo, ProviderError, Providers, ScrapeRequest, Scraper, Transcriber, VideoData};
use worker::video::MediaCache;

use crate::video::{TempDir, limits, reader, rendered};
use crate::{Env, config, spawn, until_terminal};

/// Counts scraper runs (each would be one paid Apify run) by kind.
struct Counting {
    inner: FixtureScraper,
    text_runs: AtomicU32,
    video_runs: AtomicU32,
}

#[async_trait]
impl Scraper for Counting {
    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        let counter = if request.video { &self.video_runs } else { &self.text_runs };
        counter.fetch_add(1, Ordering::SeqCst);
        self.inner.scrape(request).await
    }

    async fn download(&self, url: &Url, dest: &Path, limits: &media::Limits) -> Result<u64, ProviderError> {
        self.inner.download(url, dest, limits).await
    }
}

/// Stands in for a speech-to-text API, counting calls (each would be billed per minute): the
/// speech fixture's words for audio longer than 18 s (the 22 s speech fixture), nothing for
/// the 14 s overlay fixture's music.
struct Transcripts(AtomicU32, String);

#[async_trait]
impl Transcriber for Transcripts {
    async fn transcribe(&self, audio: &Path, _language: Option<&str>) -> Result<String, ProviderError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let tools = media::Tools::detect().unwrap();
        let probe = media::probe(&tools, audio, &limits()).await.unwrap();
        Ok(if probe.duration_secs > 18.0 { self.1.clone() } else { String::new() })
    }
}

struct NoCache;

#[async_trait]
impl MediaCache for NoCache {
    async fn get(&self, _video_id: &str) -> Option<Vec<u8>> {
        None
    }
    async fn put(&self, _video_id: &str, _value: &[u8], _ttl: Duration) {}
}

fn spoken_text() -> String {
    let script: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/7368893312409817349.media.json")).unwrap();
    script["audio"]["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
#[ignore = "a measurement for the closing note; prints its figures"]
async fn cascade_cost_report() {
    let (videos, root) = (TempDir::new("report-videos"), TempDir::new("report-media"));
    let transcripts = Arc::new(Transcripts(AtomicU32::new(0), spoken_text()));

    // 1. The cascade on the six fixtures, through the real worker (auto mode, offline rules).
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let scraper = Arc::new(Counting {
        inner: FixtureScraper::with_video_dir(&videos.0),
        text_runs: AtomicU32::new(0),
        video_runs: AtomicU32::new(0),
    });
    let providers = Providers::new(scraper.clone(), Arc::new(RuleExtractor::new())).with_video(reader(
        MediaMode::Auto,
        &root.0,
        limits(),
        Some(transcripts.clone()),
    ));
    let (stop, worker) = spawn(env.worker_with(providers, config()));
    let mut outcomes = Vec::new();
    for url in FixtureScraper::sample_urls() {
        let before = scraper.video_runs.load(Ordering::SeqCst);
        let job = env.submit(url, "en").await;
        let end = until_terminal(&mut feed, job.task_id).await;
        let runs = 1 + scraper.video_runs.load(Ordering::SeqCst) - before;
        let details = format!("{runs} run(s); {}", end.details.unwrap_or_default());
        outcomes.push((url, end.status, end.error.unwrap_or_default(), details));
    }
    stop.cancel();
    worker.await.unwrap().unwrap();
    println!("\n== cascade on {} fixtures (worker.media = auto) ==", outcomes.len());
    for (url, status, error, details) in &outcomes {
        println!("{status:?} {error:<14} {details:<60} {url}");
    }
    let (text, video) = (scraper.text_runs.load(Ordering::SeqCst), scraper.video_runs.load(Ordering::SeqCst));
    println!(
        "scraper (Apify) runs: {} = {text} caption runs + {video} video-downloading runs; `always` would pay {} video runs; transcriptions: {}",
        text + video,
        outcomes.len(),
        transcripts.0.load(Ordering::SeqCst)
    );

    // 2. LLM input tokens per recipe, text-only versus with the kept frames.
    let llm = LlmExtractor::new(LlmConfig::openai("sk-report")).unwrap();
    let english = Language::parse("en").unwrap();
    let reader = reader(MediaMode::Auto, &root.0, limits(), Some(transcripts.clone()));
    let fixtures = FixtureScraper::with_video_dir(&videos.0);
    println!("\n== estimated LLM input tokens per request (prompt + schema + user message) ==");
    for url in FixtureScraper::sample_urls() {
        let url = TikTokUrl::parse(url).unwrap();
        let request = |video| ScrapeRequest { task_id: TaskId::new(), url: &url, memo: &NoMemo, video };
        let cheap = fixtures.scrape(request(false)).await.unwrap();
        let text_only = llm.estimated_input_tokens(&cheap, &english, false);
        let with_cover = llm.estimated_input_tokens(&cheap, &english, true);
        let mut full = fixtures.scrape(request(true)).await.unwrap();
        let media = if full.video_file.is_some() {
            let read =
                reader.read(TaskId::new(), &full, &english, &fixtures, &NoCache).await.unwrap().unwrap();
            read.apply(&mut full);
            format!(
                "{} with {} frames (+OCR{})",
                llm.estimated_input_tokens(&full, &english, true),
                full.frames.len(),
                if full.speech_transcript.is_some() { ", speech" } else { "" }
            )
        } else {
            "no video".to_owned()
        };
        println!(
            "text-only {text_only:>5} | +cover {with_cover:>5} | media pass {media:<32} {}",
            url.as_str()
        );
    }

    // 3. The media pass on a 60 s portrait 720p video with an overlay every 10 s and speech.
    let scenes = (0..6)
        .map(|i| Scene {
            from: f64::from(i) * 10.0,
            to: f64::from(i + 1) * 10.0,
            lines: vec![
                ["Ingredients", "Dough", "Filling", "Sauce", "Baking", "Serving"][i as usize].into(),
                ["250 g flour", "2 eggs", "200 ml milk", "1 tbsp sugar", "30 g butter", "1 pinch salt"]
                    [i as usize]
                    .into(),
                ["Mix well.", "Knead it.", "Rest 1 hour.", "Roll it out.", "Bake 20 min.", "Enjoy!"]
                    [i as usize]
                    .into(),
            ],
        })
        .collect();
    let script = MediaScript {
        duration_secs: 60,
        size: "720x1280".into(),
        background: "0x3a3a3a".into(),
        scenes,
        audio: Audio::Speech { text: spoken_text(), voice: "en".into() },
    };
    let started = Instant::now();
    let file = rendered(&videos.0, "sixty.mp4", &script).await;
    let render = started.elapsed();
    let tools = media::Tools::detect().unwrap();
    let work = TempDir::new("report-analyse");
    let started = Instant::now();
    let analysis = media::analyse(&tools, &file, &work.0, &media::Limits { max_secs: 600, ..limits() }, "en")
        .await
        .unwrap();
    let total = started.elapsed();
    println!(
        "\n== media pass on a 60 s 720x1280 video (rendered in {:.1} s) ==\nffmpeg (probe, audio, keyframes) {:.2} s, OCR {:.2} s, total {:.2} s; {} frames, {} chars of on-screen text",
        render.as_secs_f64(),
        analysis.timings.ffmpeg.as_secs_f64(),
        analysis.timings.ocr.as_secs_f64(),
        total.as_secs_f64(),
        analysis.frames.len(),
        analysis.on_screen_text.len()
    );
}
