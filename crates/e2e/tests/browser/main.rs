//! The web demo in a real browser: Debian's headless Chromium, driven by playwright-core
//! (`drive.mjs` beside this file), against the real `api` and `worker` binaries with the offline
//! providers and a simulated provider latency, so the progress bar visibly moves.
//!
//! - over the socket, on a phone-sized screen: every step reaches the bar, the recipe card, a
//!   second recipe on top of the list, and a video that is not a recipe (the failed card);
//! - with sockets turned off on the gateway (`RELAY__API__SOCKETS_ENABLED=false`), on a desktop
//!   screen: the same card is reached by long-polling.
//!
//! Screenshots of the progress, ready and failed states are written to `artifacts/browser/`
//! (git-ignored). The tests are `#[ignore]`d in the ordinary test run because they need
//! `/usr/bin/chromium` and `npm ci` in this folder; `scripts/test` installs both and runs them in
//! its browser phase:
//!
//! ```sh
//! npm ci --prefix crates/e2e/tests/browser
//! cargo nextest run -p e2e --test browser --run-ignored only
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use e2e::Stack;
use tokio::process::Command;

/// Simulated latency of each offline provider call (scrape, extract): long enough for the
/// progress screenshot to catch the bar part-way.
const OFFLINE_DELAY_MS: &str = "1000";
/// The whole browser session of one scenario, launch included.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(240);

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Starts a deployment with the demo and development tokens on, then runs `drive.mjs`.
async fn run(scenario: &str, api_settings: &[(&str, &str)]) {
    let root = workspace_root();
    let driver_dir = root.join("crates/e2e/tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install -y chromium (scripts/test does it as root)"
    );
    assert!(
        driver_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: npm ci --prefix crates/e2e/tests/browser (scripts/test does it)"
    );

    let stack = Stack::new().await;
    let mut settings = vec![("RELAY__API__DEMO_ENABLED", "true"), ("RELAY__API__DEV_MODE", "true")];
    settings.extend_from_slice(api_settings);
    let api = stack.api(0, &settings).await.expect("the api starts");
    let _worker = stack
        .worker(&[("RELAY__WORKER__OFFLINE_DELAY_MS", OFFLINE_DELAY_MS)])
        .await
        .expect("the worker starts");
    let port = api.port.expect("the api logged its port");

    let started = Instant::now();
    let driver = Command::new("node")
        .arg(driver_dir.join("drive.mjs"))
        .current_dir(&root)
        .env("DEMO_URL", format!("http://127.0.0.1:{port}/demo/"))
        .env("SCENARIO", scenario)
        .env("ARTIFACTS", root.join("artifacts/browser"))
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(DRIVER_TIMEOUT, driver)
        .await
        .unwrap_or_else(|_| panic!("the {scenario} browser session took longer than {DRIVER_TIMEOUT:?}"))
        .expect("node runs (Node 20 is needed)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the {scenario} browser session failed ({}); see the output above and artifacts/browser/{scenario}-failure.png",
        output.status
    );
    println!("{scenario}: {:.1} s in the browser", started.elapsed().as_secs_f64());
}

#[tokio::test]
#[ignore = "needs Chromium and playwright-core; scripts/test runs it in its browser phase"]
async fn a_phone_follows_tasks_over_the_socket_to_the_recipe_card() {
    run("socket", &[]).await;
}

#[tokio::test]
#[ignore = "needs Chromium and playwright-core; scripts/test runs it in its browser phase"]
async fn a_desktop_reaches_the_recipe_card_by_polling_when_sockets_are_off() {
    run("polling", &[("RELAY__API__SOCKETS_ENABLED", "false")]).await;
}
