//! The socket path, the polling path and a gateway without sockets give the same task.

use e2e::Stack;
use protocol::TaskState;
use uuid::Uuid;

use crate::{KAISERSCHMARRN, PANCAKES, PASTA, assert_ordered_success, collect, lang, url};

#[tokio::test]
async fn the_socket_delivers_every_step_and_polling_reaches_the_same_end() {
    let stack = Stack::new().await;
    let api = stack.api(0, &[]).await.unwrap();
    let _worker = stack.worker(&[("RELAY__WORKER__OFFLINE_DELAY_MS", "200")]).await.unwrap();
    let port = api.port.unwrap();
    let user = Uuid::new_v4();

    let socket = stack.client(port, user, false);
    let started = socket.submit(&url(PASTA), &lang("en")).await.unwrap();
    let updates = collect(socket.watch(started.task_id)).await;

    assert_ordered_success(&updates);
    let seqs: Vec<u64> = updates.iter().map(|u| u.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6], "the socket replays and streams every step");
    let steps: Vec<u32> = updates.iter().map(|u| u.step).collect();
    assert_eq!(steps, vec![0, 1, 2, 3, 4, 5]);
    let recipe = socket.recipe(updates.last().unwrap().recipe_id.unwrap()).await.unwrap();
    assert!(recipe.ingredients.len() >= 3, "{recipe:?}");

    let polling = stack.client(port, user, true);
    let started = polling.submit(&url(KAISERSCHMARRN), &lang("de")).await.unwrap();
    let updates = collect(polling.watch(started.task_id)).await;
    assert_ordered_success(&updates);
}

#[tokio::test]
async fn a_gateway_with_sockets_disabled_serves_the_task_by_polling() {
    let stack = Stack::new().await;
    let api = stack.api(0, &[("RELAY__API__SOCKETS_ENABLED", "false")]).await.unwrap();
    let _worker = stack.worker(&[]).await.unwrap();
    let client = stack.client(api.port.unwrap(), Uuid::new_v4(), false);

    let started = client.submit(&url(PANCAKES), &lang("en")).await.unwrap();
    let updates = collect(client.watch(started.task_id)).await;

    assert_ordered_success(&updates);
    assert_eq!(updates.last().unwrap().status, TaskState::Success);
}
