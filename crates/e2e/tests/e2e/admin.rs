//! The admin console's API and `relay admin` against the real binaries: a task that
//! dead-letters is queued again and runs to SUCCESS, a running task is cancelled, and the
//! subcommands list, show, requeue and cancel.
//!
//! How the task dead-letters: the worker runs the real Apify client (an `APIFY_TOKEN` with
//! `worker.providers = auto`) against a wiremock server that answers 503, a transient failure,
//! with `RELAY__WORKER__MAX_ATTEMPTS=1`, so the first failed attempt is the last and the job goes
//! to the dead-letter list. The test then makes the failure go away (the mock is reset to serve
//! a finished run with the Kaiserschmarrn fixture's item, caption-only) and requeues the task;
//! the requeued job has a fresh attempt budget, so it runs again and saves the recipe. The LLM
//! stays offline (the rule-based extractor reads the caption).

use std::process::Output;

use e2e::{Stack, bin_dir};
use protocol::{TaskId, TaskState};
use serde_json::Value;
use uuid::Uuid;
use wiremock::MockServer;

use crate::apify::{apify_down, apify_works, worker_on};
use crate::{KAISERSCHMARRN, PASTA, collect, lang, url};

const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789";

fn admin_settings() -> [(&'static str, &'static str); 2] {
    [("RELAY__ADMIN__ENABLED", "true"), ("RELAY__ADMIN__TOKEN", ADMIN_TOKEN)]
}

/// Runs `relay admin <args>` against the gateway on `port`, with `token` as RELAY_ADMIN_TOKEN.
async fn relay_admin(port: u16, token: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(bin_dir().join("relay"))
        .arg("admin")
        .args(args)
        .env("RELAY_URL", format!("http://127.0.0.1:{port}"))
        .env("RELAY_ADMIN_TOKEN", token)
        .output()
        .await
        .expect("relay runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "relay failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn a_dead_letter_requeued_with_relay_admin_runs_again_to_success() {
    let apify = MockServer::start().await;
    apify_down(&apify).await;
    let stack = Stack::new().await;
    let api = stack.api(0, &admin_settings()).await.unwrap();
    let port = api.port.unwrap();
    let _worker = worker_on(&stack, &apify).await;
    let client = stack.client(port, Uuid::new_v4(), false);
    let task = client.submit(&url(KAISERSCHMARRN), &lang("de")).await.unwrap().task_id;

    let first = collect(client.watch(task)).await;
    let failed = first.last().unwrap();
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (TaskState::Failure, Some("temporarily_unavailable")),
        "{failed:?}"
    );
    let dead = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/admin/api/dead-letters"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(dead["dead_letters"][0]["task_id"], task.to_string(), "{dead}");
    assert_eq!(dead["dead_letters"][0]["task"]["error"], "temporarily_unavailable");
    let listed =
        stdout(&relay_admin(port, ADMIN_TOKEN, &["list", "--error", "temporarily_unavailable"]).await);
    assert!(listed.contains(&task.to_string()), "{listed}");

    // The failure goes away; the operator queues the task again.
    apify.reset().await;
    apify_works(&apify).await;
    let requeued = stdout(&relay_admin(port, ADMIN_TOKEN, &["requeue", &task.to_string()]).await);

    let seq: u64 = requeued
        .split("(seq ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("relay names the notice's seq: {requeued}"));
    let second = collect(client.watch_from(task, seq - 1)).await;
    assert_eq!(second.first().unwrap().details.as_deref(), Some("Queued again by an operator"));
    let done = second.last().unwrap();
    assert_eq!(done.status, TaskState::Success, "{second:?}");
    assert!(done.recipe_name.as_deref().is_some_and(|n| n.contains("Kaiserschmarrn")), "{done:?}");
    let seqs: Vec<u64> = first.iter().chain(&second).map(|u| u.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one log across both runs: {seqs:?}");
    let shown = stdout(&relay_admin(port, ADMIN_TOKEN, &["show", &task.to_string()]).await);
    assert!(shown.contains("status    SUCCESS"), "{shown}");
    assert!(shown.contains("Queued again by an operator"), "{shown}");
    assert!(shown.contains("attempts  2 claim(s)"), "{shown}");
    let successes = stdout(&relay_admin(port, ADMIN_TOKEN, &["list", "--state", "SUCCESS"]).await);
    assert!(successes.contains(&task.to_string()), "{successes}");
    let again = relay_admin(port, ADMIN_TOKEN, &["requeue", "--all"]).await;
    assert_eq!(stdout(&again).trim(), "", "no dead letters are left");
}

#[tokio::test]
async fn relay_admin_cancel_stops_a_running_task_and_bad_tokens_are_refused() {
    let stack = Stack::new().await;
    let api = stack.api(0, &admin_settings()).await.unwrap();
    let port = api.port.unwrap();
    let _worker = stack.worker(&[("RELAY__WORKER__OFFLINE_DELAY_MS", "1500")]).await.unwrap();
    let user = Uuid::new_v4();
    let client = stack.client(port, user, false);
    let task: TaskId = client.submit(&url(PASTA), &lang("en")).await.unwrap().task_id;
    let mut watch = client.watch(task);
    use futures_util::StreamExt as _;
    loop {
        let update = watch.next().await.expect("an update").expect("watch item");
        if update.status == TaskState::Progress {
            break;
        }
    }

    let cancelled = stdout(&relay_admin(port, ADMIN_TOKEN, &["cancel", &task.to_string()]).await);

    assert_eq!(cancelled.trim(), format!("cancelled: {task}"));
    let rest = collect(watch).await;
    let last = rest.last().expect("the watch ends");
    assert_eq!((last.status, last.error.as_deref()), (TaskState::Failure, Some("cancelled")), "{last:?}");
    let twice = relay_admin(port, ADMIN_TOKEN, &["cancel", &task.to_string()]).await;
    assert_eq!(twice.status.code(), Some(2), "already finished");
    assert!(String::from_utf8_lossy(&twice.stderr).contains("409"));
    for (token, status, why) in [
        ("not-the-admin-token-at-all", "401", "a wrong token"),
        (stack.token(user).as_str(), "403", "a user's token"),
    ] {
        let refused = relay_admin(port, token, &["list"]).await;
        assert_eq!(refused.status.code(), Some(2), "{why}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(status), "{why}: {stderr}");
        assert!(!stderr.contains(token), "{why}: the token is never printed");
    }
}
