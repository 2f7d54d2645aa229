//! The offline extractor on one core: every fixture the offline scraper knows, many times over,
//! as a job runs it (the rule-based extraction, then the canonical ingredient fields every saved
//! recipe gets).
//!
//! Run with `cargo bench -p worker --bench extract`; prints µs per extraction for each fixture
//! and their mean. `cargo bench -p worker --bench extract -- <video id>` times that fixture only;
//! `EXTRACT_ROUNDS=<n>` sets the rounds per fixture (2000), e.g. for a run under callgrind.

use std::hint::black_box;
use std::time::Instant;

use protocol::{Language, TaskId, TikTokUrl};
use worker::providers::fixtures::FixtureScraper;
use worker::providers::rules::RuleExtractor;
use worker::providers::{Extractor, NoMemo, ScrapeRequest, Scraper, VideoData};

/// The worker binary's allocator, so the figures are what a job costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Caption and subtitles of every fixture, as the first (text-only) scrape of a job reads them.
async fn videos() -> Vec<VideoData> {
    let scraper = FixtureScraper::new();
    let mut videos = Vec::new();
    for link in FixtureScraper::sample_urls() {
        let url = TikTokUrl::parse(link).expect("fixture links are TikTok links");
        let request = ScrapeRequest { task_id: TaskId::new(), url: &url, memo: &NoMemo, video: false };
        videos.push(scraper.scrape(request).await.expect("fixtures scrape offline"));
    }
    videos
}

async fn extract_once(video: &VideoData, language: &Language) -> bool {
    match RuleExtractor::new().extract(video, language).await {
        Ok(mut recipe) => {
            ingredients::canonicalize_recipe(&mut recipe);
            black_box(recipe);
            true
        }
        Err(_) => false,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let language = Language::parse("en").expect("a valid tag");
    // `EXTRACT_ROUNDS` shortens a run under callgrind.
    let rounds = std::env::var("EXTRACT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(2_000);
    let mut total = 0.0;
    let only = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let mut videos = videos().await;
    videos.retain(|video| only.is_none() || video.video_id == only);
    for video in &videos {
        let found = extract_once(video, &language).await;
        let started = Instant::now();
        for _ in 0..rounds {
            extract_once(black_box(video), &language).await;
        }
        let micros = 1e6 * started.elapsed().as_secs_f64() / f64::from(rounds);
        total += micros;
        let id = video.video_id.as_deref().unwrap_or("?");
        let outcome = if found { "recipe" } else { "no recipe in caption and subtitles" };
        println!("{id}: {micros:7.1} µs per extraction ({outcome}, {} caption bytes)", video.caption.len());
    }
    println!("mean: {:.1} µs per extraction over {} fixtures", total / videos.len() as f64, videos.len());
}
