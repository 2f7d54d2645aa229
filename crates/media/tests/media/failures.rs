//! Bad input and bad luck: too long, corrupt, no video, ffmpeg killed, timeout, cancel.

use std::time::Duration;

use media::{Limits, MediaError, Workdir, analyse};

use crate::fixtures::Sound;
use crate::helpers::{
    all_pids, eventually, first_ffmpeg_pid, limits, plain_video, recipe_video, running, test_root, tools,
    tools_with_ffmpeg, tools_with_slow_ffmpeg, workdir,
};

#[tokio::test]
async fn a_video_longer_than_max_secs_is_too_long_and_permanent() {
    let (tools, dir) = (tools(), workdir("too-long"));
    let video = plain_video(dir.path(), "long.mp4", (320, 240), 6, Sound::Tone);
    let limits = Limits { max_secs: 5, ..limits() };

    let err = analyse(&tools, &video, dir.path(), &limits, "en").await.expect_err("too long");

    match &err {
        MediaError::TooLong { secs, limit: 5 } => assert!((secs - 6.0).abs() < 0.2, "{secs}"),
        other => panic!("expected TooLong, got {other:?}"),
    }
    assert!(err.is_permanent());
    assert_eq!(err.code(), "video_too_long");
}

#[tokio::test]
async fn random_bytes_are_unreadable_and_permanent() {
    let (tools, dir) = (tools(), workdir("corrupt"));
    let video = dir.path().join("corrupt.mp4");
    // A fixed pseudo-random sequence (xorshift), so a failure can be reproduced.
    let mut x: u32 = 0x9E37_79B9;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(&video, bytes).expect("write");

    let err = analyse(&tools, &video, dir.path(), &limits(), "en").await.expect_err("corrupt");

    assert!(matches!(err, MediaError::Unreadable(_)), "{err:?}");
    assert!(err.is_permanent());
    assert_eq!(err.code(), "video_unreadable");
}

#[tokio::test]
async fn an_audio_only_file_has_no_video_stream_and_is_unreadable() {
    let (tools, dir) = (tools(), workdir("no-video"));
    let audio = dir.path().join("speech.m4a");
    let status = std::process::Command::new(tools.ffmpeg())
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac"])
        .arg(&audio)
        .status()
        .expect("ffmpeg");
    assert!(status.success());

    let err = analyse(&tools, &audio, dir.path(), &limits(), "en").await.expect_err("no video");

    match &err {
        MediaError::Unreadable(why) => assert!(why.contains("no video stream"), "{why}"),
        other => panic!("expected Unreadable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_ffmpeg_that_kills_itself_is_a_clear_transient_tool_failure() {
    let dir = workdir("ffmpeg-suicide");
    let video = recipe_video(dir.path());
    let tools = tools_with_ffmpeg(dir.path(), "echo 'about to die' >&2\nkill -9 $$");

    let err = analyse(&tools, &video, dir.path(), &limits(), "en").await.expect_err("killed");

    match &err {
        MediaError::ToolFailed { tool: "ffmpeg", message } => {
            assert!(message.contains("killed by signal 9"), "{message}");
        }
        other => panic!("expected ToolFailed, got {other:?}"),
    }
    assert!(!err.is_permanent());
    assert_eq!(err.code(), "media_tool_failed");
}

#[tokio::test]
async fn an_ffmpeg_killed_mid_way_ends_the_pass_at_once() {
    let dir = workdir("ffmpeg-killed");
    let video = recipe_video(dir.path());
    let (tools, pids) = tools_with_slow_ffmpeg(dir.path());
    let (video_path, dir_path) = (video.clone(), dir.path().to_path_buf());
    let pass = tokio::spawn(async move { analyse(&tools, &video_path, &dir_path, &limits(), "en").await });

    let pid = first_ffmpeg_pid(&pids).await;
    let status = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill");
    assert!(status.success());
    let result = tokio::time::timeout(Duration::from_secs(10), pass).await.expect("no hang").expect("task");

    let err = result.expect_err("ffmpeg was killed");
    assert!(
        matches!(&err, MediaError::ToolFailed { message, .. } if message.contains("signal 9")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_hung_ffmpeg_times_out_and_is_killed() {
    let dir = workdir("ffmpeg-timeout");
    let video = recipe_video(dir.path());
    let (tools, pids) = tools_with_slow_ffmpeg(dir.path());
    let limits = Limits { timeout: Duration::from_secs(1), ..limits() };

    let err = analyse(&tools, &video, dir.path(), &limits, "en").await.expect_err("timeout");

    assert!(matches!(err, MediaError::Timeout { what: "ffmpeg", .. }), "{err:?}");
    // Audio and keyframes run side by side: the one that timed out is killed and reaped at
    // once, the other is killed when its dropped future lets go of it.
    let pids = all_pids(&pids);
    assert!(!pids.is_empty());
    let gone = eventually(Duration::from_secs(5), || !pids.iter().any(|p| running(*p))).await;
    assert!(gone, "ffmpeg {pids:?} still runs after the timeout");
}

#[tokio::test]
async fn cancelling_the_task_kills_ffmpeg_and_removes_the_work_folder() {
    let scratch = workdir("cancel-scratch");
    let video = recipe_video(scratch.path());
    let (tools, pids) = tools_with_slow_ffmpeg(scratch.path());
    let task_dir =
        Workdir::create(&test_root(), &format!("cancel-task-{}", std::process::id())).expect("workdir");
    let task_path = task_dir.path().to_path_buf();
    let pass = tokio::spawn(async move {
        // The task owns its work folder, as the worker's task does.
        let dir = task_dir;
        analyse(&tools, &video, dir.path(), &limits(), "en").await
    });
    let pid = first_ffmpeg_pid(&pids).await;
    assert!(task_path.exists());

    pass.abort();
    let joined = pass.await;

    assert!(joined.is_err_and(|e| e.is_cancelled()));
    let pids = all_pids(&pids);
    assert!(pids.contains(&pid));
    let gone = eventually(Duration::from_secs(5), || !pids.iter().any(|p| running(*p))).await;
    assert!(gone, "ffmpeg {pids:?} still runs after the cancel");
    assert!(!task_path.exists(), "the work folder is removed on cancel");
}
