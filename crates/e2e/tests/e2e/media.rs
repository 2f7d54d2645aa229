//! The media pass on the real binaries, offline: a video whose caption says "recipe in the
//! video" and whose recipe is only on screen ends as a recipe read by OCR, and the worker's
//! step details say what it looked at.

use e2e::Stack;
use uuid::Uuid;

use crate::{assert_ordered_success, collect, lang, url};

/// The offline fixture whose ingredients and steps are drawn into the frames.
const OVERLAY: &str = "https://www.tiktok.com/@sofia.cooks.fast/video/7365108245337459974";

#[tokio::test]
async fn a_recipe_shown_only_on_screen_is_read_from_the_frames() {
    let stack = Stack::new().await;
    let media_dir = tempfile_dir();
    let api = stack.api(0, &[]).await.unwrap();
    let _worker = stack.worker(&[("RELAY__WORKER__MEDIA_DIR", media_dir.to_str().unwrap())]).await.unwrap();
    let client = stack.client(api.port.unwrap(), Uuid::new_v4(), false);

    let started = client.submit(&url(OVERLAY), &lang("en")).await.unwrap();
    let updates = collect(client.watch(started.task_id)).await;

    assert_ordered_success(&updates);
    let details: Vec<&str> = updates.iter().filter_map(|u| u.details.as_deref()).collect();
    assert!(
        details.iter().any(|d| d.contains("frames") || d.contains("on-screen")),
        "a step says the frames were read: {details:?}"
    );
    let recipe = client.recipe(updates.last().unwrap().recipe_id.unwrap()).await.unwrap();
    let find = |name: &str| recipe.ingredients.iter().find(|i| i.name.eq_ignore_ascii_case(name));
    let spaghetti = find("spaghetti").unwrap_or_else(|| panic!("spaghetti in {:?}", recipe.ingredients));
    assert_eq!((spaghetti.quantity, spaghetti.unit.as_deref()), (Some(200.0), Some("g")));
    let garlic = find("garlic").unwrap_or_else(|| panic!("garlic in {:?}", recipe.ingredients));
    assert_eq!((garlic.quantity, garlic.unit.as_deref()), (Some(3.0), Some("clove")));
    assert!(recipe.steps.len() >= 3, "the drawn steps: {:?}", recipe.steps);
    let left: Vec<_> =
        std::fs::read_dir(&media_dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "no per-task work folder is left: {left:?}");
    let _ = std::fs::remove_dir_all(&media_dir);
}

/// A fresh folder for the worker's media files.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relay-e2e-media-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
