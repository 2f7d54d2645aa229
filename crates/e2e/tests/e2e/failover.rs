//! Gateways and workers die mid-task; the task completes and the client misses nothing.

use e2e::Stack;
use futures_util::StreamExt;
use protocol::TaskState;
use uuid::Uuid;

use crate::{PASTA, TASK_TIME, assert_ordered_success, lang, url};

#[tokio::test]
async fn a_client_resumes_when_its_gateway_is_killed_and_restarted() {
    let stack = Stack::new().await;
    let submit_gateway = stack.api(0, &[]).await.unwrap();
    let mut watch_gateway = stack.api(0, &[]).await.unwrap();
    let slow = [("RELAY__WORKER__OFFLINE_DELAY_MS", "1500")];
    let _workers = (stack.worker(&slow).await.unwrap(), stack.worker(&slow).await.unwrap());
    let user = Uuid::new_v4();
    let watch_port = watch_gateway.port.unwrap();

    let started = stack
        .client(submit_gateway.port.unwrap(), user, false)
        .submit(&url(PASTA), &lang("en"))
        .await
        .unwrap();
    let mut watch = stack.client(watch_port, user, false).watch(started.task_id);
    let mut updates = Vec::new();
    let mut killed = false;
    let outcome = tokio::time::timeout(TASK_TIME, async {
        while let Some(item) = watch.next().await {
            let update = item.expect("watch item");
            let progressing = update.status == TaskState::Progress;
            updates.push(update);
            if progressing && !killed {
                killed = true;
                // Kill the gateway holding the socket mid-task, then bring it back on its port.
                watch_gateway.kill().await;
                watch_gateway = stack.api(watch_port, &[]).await.expect("gateway restarts");
            }
        }
    })
    .await;

    outcome.expect("the watch ended in time");
    assert!(killed);
    assert_ordered_success(&updates);
    assert!(updates.len() >= 3, "{updates:?}");
}

#[tokio::test]
async fn a_worker_killed_mid_job_is_replaced_and_one_recipe_is_saved() {
    let stack = Stack::new().await;
    let api = stack.api(0, &[]).await.unwrap();
    let settings = [
        ("RELAY__WORKER__OFFLINE_DELAY_MS", "2000"),
        ("RELAY__WORKER__LEASE_SECS", "2"),
        ("RELAY__WORKER__HEARTBEAT_SECS", "1"),
    ];
    let mut workers = vec![stack.worker(&settings).await.unwrap(), stack.worker(&settings).await.unwrap()];
    let user = Uuid::new_v4();
    let client = stack.client(api.port.unwrap(), user, false);
    let started = client.submit(&url(PASTA), &lang("en")).await.unwrap();
    let task = started.task_id;

    let mut watch = client.watch(task);
    let mut updates = Vec::new();
    while let Some(item) = tokio::time::timeout(TASK_TIME, watch.next()).await.expect("in time") {
        let update = item.expect("watch item");
        let scraping = update.step == 2 && update.status == TaskState::Progress;
        updates.push(update);
        if scraping && workers.len() == 2 {
            // kill -9 the worker holding the job (its id starts with its pid).
            let holder = job_holder(&stack, task).await;
            let index =
                workers.iter().position(|w| w.pid().is_some_and(|p| holder.starts_with(&format!("{p}-"))));
            let mut doomed = workers.remove(index.expect("the holder is one of ours"));
            doomed.kill().await;
        }
    }

    assert_ordered_success(&updates);
    assert_eq!(workers.len(), 1, "one worker was killed mid-job");
    let mut db = sqlx::PgPool::connect(&stack.database_url).await.unwrap().acquire().await.unwrap();
    let (recipes,): (i64,) = sqlx::query_as("SELECT count(*) FROM recipes WHERE task_id = $1")
        .bind(task.as_uuid())
        .fetch_one(&mut *db)
        .await
        .unwrap();
    assert_eq!(recipes, 1);
    let (attempts,): (i32,) = sqlx::query_as("SELECT attempts FROM tasks WHERE id = $1")
        .bind(task.as_uuid())
        .fetch_one(&mut *db)
        .await
        .unwrap();
    assert_eq!(attempts, 2);
}

async fn job_holder(stack: &Stack, task: protocol::TaskId) -> String {
    let mut redis = redis::Client::open(stack.redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("HGET")
        .arg(format!("{}:job:{task}", stack.prefix))
        .arg("worker")
        .query_async(&mut redis)
        .await
        .unwrap()
}
