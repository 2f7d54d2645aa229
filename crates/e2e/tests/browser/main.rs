//! The web demo in a real browser: Debian's headless Chromium, driven by playwright-core
//! (`drive.mjs` beside this file), against the real `api` and `worker` binaries with the offline
//! providers and a simulated provider latency, so the progress bar visibly moves.
//!
//! - over the socket, on a phone-sized screen: every step reaches the bar, the recipe card, a
//!   second recipe on top of the list, and a video that is not a recipe (the failed card);
//! - with sockets turned off on the gateway (`RELAY__API__SOCKETS_ENABLED=false`), on a desktop
//!   screen: the same card is reached by long-polling.
//!
//! - the admin console (`admin.mjs`), on a phone and on a desktop screen: the queue, a dead
//!   letter with its reason, the tasks, a task's event log, and (desktop) its requeue button.
//!   The dead letter comes from the worker's real Apify client against a mock that answers 503
//!   with one attempt per job (`../e2e/apify.rs`); the mock then works for the finished tasks.
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
use futures_util::StreamExt as _;
use tokio::process::Command;
use wiremock::MockServer;

#[path = "../e2e/apify.rs"]
mod apify;

/// Simulated latency of each offline provider call (scrape, extract): long enough for the
/// progress screenshot to catch the bar part-way.
const OFFLINE_DELAY_MS: &str = "1000";
/// The whole browser session of one scenario, launch included.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(240);

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Runs the browser script `script` (beside this file) for `scenario` with `envs`, in Chromium,
/// and prints what it said. Panics when Chromium or playwright-core is missing, or after
/// [`DRIVER_TIMEOUT`].
async fn drive(script: &str, scenario: &str, envs: &[(&str, &str)]) -> std::process::Output {
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
    let driver = Command::new("node")
        .arg(driver_dir.join(script))
        .current_dir(&root)
        .envs(envs.iter().copied())
        .env("SCENARIO", scenario)
        .env("ARTIFACTS", root.join("artifacts/browser"))
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(DRIVER_TIMEOUT, driver)
        .await
        .unwrap_or_else(|_| panic!("the {script} {scenario} session took longer than {DRIVER_TIMEOUT:?}"))
        .expect("node runs (Node 20 is needed)");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Starts a deployment with the demo and development tokens on, then runs `drive.mjs`.
async fn run(scenario: &str, api_settings: &[(&str, &str)]) {
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
    let demo = format!("http://127.0.0.1:{port}/demo/");
    let output = drive("drive.mjs", scenario, &[("DEMO_URL", demo.as_str())]).await;
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

/// The admin token of the console's browser test.
const ADMIN_TOKEN: &str = "browser-admin-token-0123456789";

/// Follows a task to its end and returns its last update.
async fn finish(client: &client::Client, task: protocol::TaskId) -> protocol::TaskUpdate {
    let mut watch = client.watch(task);
    let mut last = None;
    let wait = async {
        while let Some(update) = watch.next().await {
            last = Some(update.expect("watch item"));
        }
    };
    tokio::time::timeout(Duration::from_secs(90), wait).await.expect("the task ends in time");
    last.expect("at least one update")
}

/// Runs `admin.mjs` for one screen size against the console at `port`.
async fn drive_admin(port: u16, scenario: &str, dead_task: &str) {
    let console = format!("http://127.0.0.1:{port}/admin");
    let envs = [("ADMIN_URL", console.as_str()), ("ADMIN_TOKEN", ADMIN_TOKEN), ("DEAD_TASK", dead_task)];
    let output = drive("admin.mjs", scenario, &envs).await;
    assert!(
        output.status.success(),
        "the admin {scenario} session failed ({}); see artifacts/browser/admin-{scenario}-failure.png",
        output.status
    );
}

#[tokio::test]
#[ignore = "needs Chromium and playwright-core; scripts/test runs it in its browser phase"]
async fn the_admin_console_shows_the_queue_a_task_and_the_dead_letter_on_a_phone_and_a_desktop() {
    let apify = MockServer::start().await;
    apify::apify_down(&apify).await;
    let stack = Stack::new().await;
    let settings = [("RELAY__ADMIN__ENABLED", "true"), ("RELAY__ADMIN__TOKEN", ADMIN_TOKEN)];
    let api = stack.api(0, &settings).await.expect("the api starts");
    let port = api.port.expect("the api logged its port");
    let _worker = apify::worker_on(&stack, &apify).await;
    let video =
        |id: &str| protocol::TikTokUrl::parse(&format!("https://www.tiktok.com/@chef/video/{id}")).unwrap();
    let de = protocol::Language::parse("de").unwrap();
    let client = stack.client(port, uuid::Uuid::new_v4(), false);
    let dead = client.submit(&video("7400000000000000001"), &de).await.unwrap().task_id;
    assert_eq!(finish(&client, dead).await.error.as_deref(), Some("temporarily_unavailable"));
    apify.reset().await;
    apify::apify_works(&apify).await;
    for id in ["7400000000000000002", "7400000000000000003"] {
        let other = stack.client(port, uuid::Uuid::new_v4(), false);
        let task = other.submit(&video(id), &de).await.unwrap().task_id;
        assert_eq!(finish(&other, task).await.status, protocol::TaskState::Success);
    }

    drive_admin(port, "phone", &dead.to_string()).await;
    drive_admin(port, "desktop", &dead.to_string()).await;
}
