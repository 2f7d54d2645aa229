//! Bench: the whole media pass over a 60 s 720p video with text overlays over a moving
//! picture and speech, three runs, median of each figure.
//!
//!   cargo bench -p media --bench analyse
//!
//! A plain `main` with `Instant` (no harness): each run is seconds long and we want the
//! split between ffmpeg and OCR, not nanosecond statistics.

#[path = "../tests/media/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::time::{Duration, Instant};

use fixtures::{Overlay, Sound};
use media::{Limits, Tools, Workdir, analyse};

const STEPS: [&str; 10] = [
    "500 g spaghetti",
    "150 g guanciale",
    "4 egg yolks",
    "50 g pecorino",
    "Boil the pasta in salted water",
    "Fry the guanciale until crisp",
    "Whisk yolks with the cheese",
    "Toss pasta with the guanciale",
    "Stir in the egg mixture",
    "Serve with black pepper",
];

fn main() {
    let tools = Tools::detect().unwrap_or_else(|e| panic!("{e}"));
    let root = std::env::temp_dir().join(format!("recipe-relay-media-bench-{}", std::process::id()));
    let fixture = Workdir::create(&root, "fixture").expect("fixture folder");
    let video = fixture.path().join("bench.mp4");
    let overlays: Vec<Overlay> = STEPS
        .iter()
        .enumerate()
        .map(|(i, text)| Overlay {
            text,
            from: i as f64 * 6.0,
            to: i as f64 * 6.0 + 6.0,
            y: 0.7,
            boxed: i % 2 == 1,
        })
        .collect();
    let made = Instant::now();
    fixtures::make_video(
        &video,
        (1280, 720),
        60,
        "mandelbrot=s=320x180:r=30",
        &overlays,
        Sound::Speech(&STEPS.join(". ")),
    );
    println!("fixture: 60 s 1280x720 H.264 + speech, made in {:.1} s", made.elapsed().as_secs_f64());

    let limits = Limits {
        max_bytes: 100 * 1024 * 1024,
        max_secs: 600,
        max_frames: 8,
        frame_long_side: 768,
        timeout: Duration::from_secs(120),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut runs = Vec::new();
    for run in 1..=3 {
        let dir = Workdir::create(&root, &format!("run-{run}")).expect("work folder");
        let start = Instant::now();
        let analysis = runtime.block_on(analyse(&tools, &video, dir.path(), &limits, "en")).expect("analyse");
        let total = start.elapsed();
        let read = STEPS.iter().filter(|s| analysis.on_screen_text.contains(*s)).count();
        println!(
            "run {run}: ffmpeg {:.2} s, ocr {:.2} s, total {:.2} s; {} frames, {} text lines, {read}/10 overlays read exactly",
            analysis.timings.ffmpeg.as_secs_f64(),
            analysis.timings.ocr.as_secs_f64(),
            total.as_secs_f64(),
            analysis.frames.len(),
            analysis.on_screen_text.lines().count(),
        );
        runs.push((analysis.timings.ffmpeg, analysis.timings.ocr, total));
        if run == 3 {
            println!("on-screen text of the last run:\n{}", analysis.on_screen_text);
        }
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    println!(
        "median of 3: ffmpeg {:.2} s, ocr {:.2} s, total {:.2} s",
        median(runs.iter().map(|r| r.0).collect()),
        median(runs.iter().map(|r| r.1).collect()),
        median(runs.iter().map(|r| r.2).collect()),
    );
    drop(fixture);
    let _ = std::fs::remove_dir_all(&root);
}
