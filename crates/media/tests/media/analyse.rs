//! The happy path on real media: probe, audio, keyframes, OCR and the whole pass.

use media::{Limits, analyse, extract_audio, keyframes, ocr_languages, probe, read_text};

use crate::fixtures::{FLAT, FONT, Overlay, Sound, make_video};
use crate::helpers::{jpeg_size, limits, plain_video, recipe_video, tools, workdir};

#[tokio::test]
async fn probe_reports_duration_streams_and_display_size() {
    let (tools, dir) = (tools(), workdir("probe"));
    let video = recipe_video(dir.path());

    let probe = probe(&tools, &video, &limits()).await.expect("probe");

    assert!((probe.duration_secs - 12.0).abs() < 0.2, "duration {}", probe.duration_secs);
    assert!(probe.has_video && probe.has_audio, "{probe:?}");
    assert_eq!((probe.width, probe.height), (1280, 720));
}

#[tokio::test]
async fn audio_is_small_mono_16_khz_mp3_and_none_without_an_audio_stream() {
    let (tools, dir) = (tools(), workdir("audio"));
    let video = recipe_video(dir.path());
    let silent = plain_video(dir.path(), "silent.mp4", (640, 360), 3, Sound::Silent);
    let limits = limits();

    let p = probe(&tools, &video, &limits).await.expect("probe");
    let audio = extract_audio(&tools, &video, dir.path(), &p, &limits).await.expect("audio");
    let silent_probe = probe(&tools, &silent, &limits).await.expect("probe silent");
    let none = extract_audio(&tools, &silent, dir.path(), &silent_probe, &limits).await.expect("no audio");

    let audio = audio.expect("the recipe video has speech");
    let size = std::fs::metadata(&audio).expect("audio file").len();
    // 32 kbit/s for 12 s is 48 KB; 25 MB is the transcription APIs' limit.
    assert!(size > 10_000 && size < 80_000, "audio is {size} bytes");
    let out = std::process::Command::new(tools.ffprobe())
        .args(["-v", "error", "-show_entries", "stream=codec_name,channels,sample_rate", "-of", "csv=p=0"])
        .arg(&audio)
        .output()
        .expect("ffprobe");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "mp3,16000,1");
    assert!(!silent_probe.has_audio);
    assert_eq!(none, None);
}

#[tokio::test]
async fn keyframes_keep_one_small_jpeg_per_overlay() {
    let (tools, dir) = (tools(), workdir("keyframes"));
    let video = recipe_video(dir.path());
    let limits = limits();
    let p = probe(&tools, &video, &limits).await.expect("probe");

    let frames = keyframes(&tools, &video, dir.path(), &p, &limits).await.expect("keyframes");

    // Three overlay spans of 4 s each: 25 candidates at 2 per second, three shots.
    let times: Vec<f64> = frames.iter().map(|f| f.at_secs).collect();
    assert_eq!(frames.len(), 3, "kept at {times:?}");
    for (frame, (lo, hi)) in frames.iter().zip([(0.0, 4.0), (4.0, 8.0), (8.0, 12.1)]) {
        assert!(frame.at_secs >= lo && frame.at_secs < hi, "kept at {times:?}");
        let (w, h) = jpeg_size(&frame.jpeg);
        assert_eq!((w, h), (768, 432), "scaled to a 768 px long side");
        assert!(frame.jpeg.len() < 200_000, "JPEG of {} bytes", frame.jpeg.len());
    }
    let hashes: std::collections::HashSet<u64> = frames.iter().map(|f| f.hash).collect();
    assert_eq!(hashes.len(), 3, "one hash per distinct picture");
    assert!(!dir.path().join("frames").exists(), "the unused candidates are deleted");
}

#[tokio::test]
async fn keyframes_respect_max_frames_and_the_long_side_of_a_portrait_video() {
    let (tools, dir) = (tools(), workdir("keyframes-portrait"));
    let video = dir.path().join("portrait.mp4");
    // Every candidate is a new shot, so the cap and even coverage decide.
    crate::fixtures::make_video(&video, (720, 1280), 10, crate::fixtures::MOVING, &[], Sound::Tone);
    let limits = Limits { max_frames: 4, frame_long_side: 512, ..limits() };
    let p = probe(&tools, &video, &limits).await.expect("probe");

    let frames = keyframes(&tools, &video, dir.path(), &p, &limits).await.expect("keyframes");

    assert_eq!(frames.len(), 4);
    let times: Vec<f64> = frames.iter().map(|f| f.at_secs).collect();
    for (k, t) in times.iter().enumerate() {
        let quarter = 10.0 / 4.0;
        assert!(*t >= k as f64 * quarter && *t < (k + 1) as f64 * quarter, "not spread: {times:?}");
    }
    for frame in &frames {
        let (w, h) = jpeg_size(&frame.jpeg);
        assert_eq!(h, 512, "long side");
        assert!(w == 288 || w == 289, "width {w}");
    }
}

#[tokio::test]
async fn read_text_reads_each_drawn_line_once_in_order() {
    let (tools, dir) = (tools(), workdir("ocr"));
    let video = recipe_video(dir.path());
    let limits = limits();
    let p = probe(&tools, &video, &limits).await.expect("probe");
    let frames = keyframes(&tools, &video, dir.path(), &p, &limits).await.expect("keyframes");
    // Each frame three times over: the same overlay seen on several frames.
    let tripled: Vec<_> = frames.iter().flat_map(|f| [f.clone(), f.clone(), f.clone()]).collect();

    let text = read_text(&tools, &tripled, dir.path(), &["eng"], &limits).await.expect("ocr");

    let lines: Vec<&str> = text.lines().collect();
    let position = |needle: &str| {
        let hits: Vec<usize> =
            lines.iter().enumerate().filter(|(_, l)| l.contains(needle)).map(|(i, _)| i).collect();
        assert_eq!(hits.len(), 1, "{needle:?} once in {text:?}");
        hits[0]
    };
    let order = [
        position("200 g flour"),
        position("2 eggs"),
        position("Mix the flour and eggs"),
        position("Bake 20 minutes at 180"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "order {order:?} in {text:?}");
    assert_eq!(lines.len(), 4, "no junk lines in {text:?}");
    assert!(!dir.path().join("ocr").exists(), "OCR images are deleted");
}

#[test]
fn ocr_languages_follow_the_requested_language_with_english_as_fallback() {
    let tools = tools();
    for (tag, want) in [
        ("de", &["deu", "eng"][..]),
        ("de-AT", &["deu", "eng"]),
        ("es-419", &["spa", "eng"]),
        ("en-US", &["eng"]),
        // No French data installed: English only.
        ("fr", &["eng"]),
        ("", &["eng"]),
    ] {
        assert_eq!(ocr_languages(&tools, tag), want, "for {tag:?}");
    }
    assert_eq!(
        tools.missing_languages(&["eng", "deu", "spa"]),
        Vec::<&str>::new(),
        "install tesseract-ocr-*"
    );
    assert_eq!(tools.missing_languages(&["eng", "xyz"]), vec!["xyz"]);
}

#[tokio::test]
async fn analyse_finds_audio_frames_and_the_on_screen_recipe() {
    let (tools, dir) = (tools(), workdir("analyse"));
    let video = recipe_video(dir.path());

    let analysis = analyse(&tools, &video, dir.path(), &limits(), "en").await.expect("analyse");

    assert!(analysis.probe.has_audio);
    assert!(analysis.audio.as_ref().is_some_and(|a| a.starts_with(dir.path()) && a.exists()));
    assert!(!analysis.frames.is_empty() && analysis.frames.len() <= 8);
    for token in ["200 g flour", "2 eggs", "Mix the flour", "Bake 20 minutes"] {
        assert!(analysis.on_screen_text.contains(token), "{token:?} in {:?}", analysis.on_screen_text);
    }
    assert!(!analysis.timings.ffmpeg.is_zero() && !analysis.timings.ocr.is_zero());
}

#[tokio::test]
async fn ocr_reads_every_overlay_while_the_model_gets_at_most_max_frames() {
    let (tools, dir) = (tools(), workdir("analyse-many"));
    // One ingredient per overlay, as many videos show them while they go into the bowl.
    let lines = [
        "500 g flour",
        "2 eggs",
        "250 ml milk",
        "1 tsp salt",
        "3 tbsp sugar",
        "100 g butter",
        "1 lemon",
        "2 tsp yeast",
        "50 g raisins",
        "1 pinch nutmeg",
    ];
    let overlays: Vec<Overlay> = lines
        .iter()
        .enumerate()
        .map(|(i, text)| Overlay { text, from: i as f64, to: i as f64 + 1.0, y: 0.4, boxed: false })
        .collect();
    let video = dir.path().join("many.mp4");
    make_video(&video, (720, 1280), 10, FLAT, &overlays, Sound::Silent);
    let limits = Limits { max_frames: 4, ..limits() };

    let analysis = analyse(&tools, &video, dir.path(), &limits, "en").await.expect("analyse");

    for line in lines {
        assert!(analysis.on_screen_text.contains(line), "{line:?} in {:?}", analysis.on_screen_text);
    }
    assert!(analysis.frames.len() <= 4, "{} frames for the model", analysis.frames.len());
    assert!(analysis.frames_read >= lines.len(), "{} frames read", analysis.frames_read);
    let times: Vec<f64> = analysis.frames.iter().map(|f| f.at_secs).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]) && times[0] < 3.0 && times[3] > 7.0, "spread: {times:?}");
}

#[tokio::test]
async fn read_text_reads_dark_text_on_a_plain_colour_as_well_as_bright_text() {
    let (tools, dir) = (tools(), workdir("ocr-contrast"));
    let video = dir.path().join("contrast.mp4");
    // 0-3 s: black text straight on blue (drawtext's default colour); 3-6 s: dark red on cream;
    // 6-9 s: white with an outline on the same blue. The bright-text cut alone reads only the last.
    let draw = |text: &str, colour: &str, from: u32, to: u32, y: u32| {
        format!(
            "drawtext=fontfile={FONT}:text='{text}':fontsize=56:fontcolor={colour}:borderw={}:bordercolor=black:\
             x=60:y={y}:enable='gte(t,{from})*lt(t,{to})'",
            u32::from(colour == "white") * 3
        )
    };
    let filter = [
        "[0:v][1:v]overlay=enable='gte(t,3)*lt(t,6)'".to_owned(),
        draw("300 g sugar", "black", 0, 3, 300),
        draw("4 apples", "black", 0, 3, 400),
        draw("1 tsp cinnamon", "0x8b0000", 3, 6, 300),
        draw("Bake 40 minutes", "white", 6, 9, 300),
    ]
    .join(",");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x336699:s=1280x720:r=30:d=9"])
        .args(["-f", "lavfi", "-i", "color=c=0xfff3dc:s=1280x720:r=30:d=9", "-filter_complex", &filter])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-t", "9"])
        .arg(&video)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made the video");
    let limits = limits();
    let p = probe(&tools, &video, &limits).await.expect("probe");
    let frames = keyframes(&tools, &video, dir.path(), &p, &limits).await.expect("keyframes");

    let text = read_text(&tools, &frames, dir.path(), &["eng"], &limits).await.expect("ocr");

    for line in ["300 g sugar", "4 apples", "1 tsp cinnamon", "Bake 40 minutes"] {
        assert!(text.contains(line), "{line:?} in {text:?}");
    }
}
