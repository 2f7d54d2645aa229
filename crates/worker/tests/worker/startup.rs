//! The worker binary refuses bad settings with one line naming the variable and exit code 2.

use std::process::Command;

#[test]
fn bad_settings_stop_the_binary_with_one_line_and_exit_code_2() {
    let cases = [
        (vec![("DATABASE_URL", "postgres://x@127.0.0.1/db")], "REDIS_URL", "missing Redis URL"),
        (
            vec![("REDIS_URL", "redis://127.0.0.1:1"), ("DATABASE_URL", "mysql://x")],
            "DATABASE_URL",
            "wrong scheme",
        ),
        (
            vec![
                ("REDIS_URL", "redis://127.0.0.1:1"),
                ("DATABASE_URL", "postgres://x@h/db"),
                ("RELAY__WORKER__CONCURRENCY", "lots"),
            ],
            "RELAY__WORKER__CONCURRENCY",
            "not a number",
        ),
    ];
    for (vars, variable, why) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_worker"))
            .env_clear()
            .envs(vars)
            .output()
            .expect("run the worker binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{why}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{why}: one line, got {stderr}");
        assert!(stderr.starts_with(&format!("error: invalid setting {variable}:")), "{why}: {stderr}");
        assert!(!stderr.contains("panicked"), "{why}: {stderr}");
    }
}

#[tokio::test]
async fn without_ffmpeg_the_worker_says_so_in_one_line_and_reads_captions_only() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let database = testkit::fresh_database_url().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_worker"))
        .env_clear()
        .env("PATH", "/nonexistent")
        .env("REDIS_URL", testkit::redis_url())
        .env("DATABASE_URL", database)
        .env("RELAY__REDIS__KEY_PREFIX", testkit::unique_prefix())
        .env("RELAY__WORKER__PROVIDERS", "offline")
        .env("RELAY__LOG__FILTER", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the worker binary");
    let stderr = child.stderr.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let started = line.contains("worker started");
            seen.push(line);
            if started {
                break;
            }
        }
        seen
    });
    let lines = tokio::time::timeout(crate::WAIT, lines).await.expect("the worker started").unwrap();
    let _ = child.kill();
    let _ = child.wait();

    let media: Vec<&String> = lines.iter().filter(|l| l.contains("media analysis")).collect();
    assert_eq!(media.len(), 1, "one line about media: {lines:#?}");
    assert!(
        media[0].contains("media analysis disabled: ffmpeg, ffprobe and tesseract not found on PATH"),
        "{}",
        media[0]
    );
    assert!(media[0].contains("reading caption and subtitles only"), "{}", media[0]);
}
