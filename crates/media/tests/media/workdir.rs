//! Work folders: removed on drop, leftovers swept, live ones kept.

use media::{MissingTools, Tools, Workdir};

use crate::helpers::test_root;

#[test]
fn a_workdir_is_removed_with_its_files_on_drop() {
    let dir = Workdir::create(&test_root(), &format!("drop-{}", std::process::id())).expect("create");
    let path = dir.path().to_path_buf();
    std::fs::create_dir_all(path.join("frames")).expect("sub folder");
    std::fs::write(path.join("frames/a.jpg"), b"x").expect("file");

    drop(dir);

    assert!(!path.exists());
}

#[test]
fn sweep_removes_crash_leftovers_and_keeps_live_workdirs() {
    let root = test_root().join(format!("sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let live = Workdir::create(&root, "live-task").expect("live");
    // A folder of a crashed worker: no owner, and one whose owner process is gone.
    std::fs::create_dir_all(root.join("crashed-a/frames")).expect("leftover");
    std::fs::create_dir_all(root.join("crashed-b")).expect("leftover");
    std::fs::write(root.join("crashed-b/.owner"), "4000000000 12345").expect("owner");
    std::fs::write(root.join("stray.tmp"), b"x").expect("stray file");

    let removed = Workdir::sweep(&root).expect("sweep");

    assert_eq!(removed, 3);
    assert!(live.path().exists(), "a live task's folder is kept");
    assert!(!root.join("crashed-a").exists() && !root.join("crashed-b").exists());
    drop(live);
    assert_eq!(Workdir::sweep(&root).expect("sweep"), 0);
    std::fs::remove_dir(&root).expect("root is empty");
    assert_eq!(Workdir::sweep(&root).expect("a missing root"), 0);
}

#[test]
fn a_name_that_is_not_one_path_component_is_refused() {
    for name in ["", ".", "..", "a/b", "../escape", ".owner"] {
        let err = Workdir::create(&test_root(), name).expect_err(name);
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{name:?}");
    }
}

#[test]
fn a_second_create_of_the_same_task_starts_empty() {
    let name = format!("again-{}", std::process::id());
    let first = Workdir::create(&test_root(), &name).expect("first");
    std::fs::write(first.path().join("old.mp4"), b"x").expect("file");
    std::mem::forget(first); // as if the process had crashed

    let second = Workdir::create(&test_root(), &name).expect("second");

    assert!(!second.path().join("old.mp4").exists());
}

#[test]
fn missing_tools_are_named_in_one_line() {
    let nowhere = std::path::Path::new("/nonexistent/tool");
    let real = crate::helpers::tools();

    let err = Tools::at(nowhere, real.ffprobe(), nowhere).expect_err("missing");

    assert_eq!(err.to_string(), "ffmpeg and tesseract not found at the given paths");
    let all = MissingTools { missing: vec!["ffmpeg", "ffprobe", "tesseract"], looked: "on PATH" };
    assert_eq!(all.to_string(), "ffmpeg, ffprobe and tesseract not found on PATH");
}
