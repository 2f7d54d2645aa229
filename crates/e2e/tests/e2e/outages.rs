//! Redis and Postgres go away mid-flight; nothing hangs and the services recover by themselves.

use e2e::{RedisServer, Stack};
use protocol::TaskState;
use protocol::wire::PROBLEM_JSON;
use uuid::Uuid;

use crate::{KAISERSCHMARRN, PASTA, collect, lang, url};

#[tokio::test]
async fn a_redis_restart_mid_task_ends_the_task_instead_of_hanging() {
    let mut redis = RedisServer::start().await.unwrap();
    let mut stack = Stack::new().await;
    stack.redis_url = redis.url();
    let api = stack.api(0, &[]).await.unwrap();
    let settings = [
        ("RELAY__WORKER__OFFLINE_DELAY_MS", "1500"),
        ("RELAY__WORKER__LEASE_SECS", "2"),
        ("RELAY__WORKER__HEARTBEAT_SECS", "1"),
    ];
    let _worker = stack.worker(&settings).await.unwrap();
    let client = stack.client(api.port.unwrap(), Uuid::new_v4(), false);
    let started = client.submit(&url(PASTA), &lang("en")).await.unwrap();
    let mut watch = client.watch(started.task_id);

    // Wait until the job runs, then restart Redis empty.
    use futures_util::StreamExt;
    loop {
        let update = watch.next().await.expect("an update").expect("watch item");
        if update.status == TaskState::Progress {
            break;
        }
    }
    redis.restart().await.unwrap();
    let rest = collect(watch).await;

    // Postgres still knows the task: the workers re-create the lost job and it completes.
    let last = rest.last().expect("the watch ended with a terminal update");
    assert!(last.is_terminal(), "{last:?}");
    assert_eq!(last.status, TaskState::Success, "{last:?}");
    let seqs: Vec<u64> = rest.iter().map(|u| u.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[tokio::test]
async fn submissions_get_503_while_postgres_is_unreachable_and_work_again_after() {
    let stack = Stack::new().await;
    let (proxied, proxy) = stack.with_postgres_proxy().await;
    let api = proxied.api(0, &[]).await.unwrap();
    let _worker = stack.worker(&[]).await.unwrap();
    let port = api.port.unwrap();
    let user = Uuid::new_v4();
    let http = reqwest::Client::new();
    let submit = |link: &'static str| {
        http.post(format!("http://127.0.0.1:{port}/scrape/async"))
            .bearer_auth(stack.token(user))
            .json(&serde_json::json!({"url": link, "language": "de"}))
            .send()
    };

    proxy.cut();
    let refused = submit(PASTA).await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["content-type"], PROBLEM_JSON);
    let ready = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness reports the outage");

    proxy.restore();
    let accepted = submit(KAISERSCHMARRN).await.unwrap();
    assert_eq!(accepted.status(), 202, "{:?}", accepted.text().await);
    let task: protocol::TaskUpdate = accepted.json().await.unwrap();
    let updates = collect(stack.client(port, user, false).watch(task.task_id)).await;
    assert_eq!(updates.last().unwrap().status, TaskState::Success);
}

#[tokio::test]
async fn a_foreign_task_and_an_unknown_one_get_the_same_answer_from_the_same_lookups() {
    // The owner's task lives in Redis; another user asks for it, and for an id nobody has.
    // Both must be answered from Postgres: with Postgres gone, both are 503. Had the foreign id
    // been answered from Redis alone (faster, so timing told the two apart), it would be 404.
    let stack = Stack::new().await;
    let (proxied, proxy) = stack.with_postgres_proxy().await;
    let api = proxied.api(0, &[]).await.unwrap();
    let port = api.port.unwrap();
    let task =
        stack.client(port, Uuid::new_v4(), false).submit(&url(PASTA), &lang("en")).await.unwrap().task_id;
    let stranger = stack.token(Uuid::new_v4());
    let http = reqwest::Client::new();
    let ask = |id: String| {
        http.get(format!("http://127.0.0.1:{port}/task/{id}")).bearer_auth(stranger.clone()).send()
    };

    let (foreign, unknown) =
        (ask(task.to_string()).await.unwrap(), ask(protocol::TaskId::new().to_string()).await.unwrap());
    assert_eq!((foreign.status().as_u16(), unknown.status().as_u16()), (404, 404));
    assert_eq!(foreign.bytes().await.unwrap(), unknown.bytes().await.unwrap(), "byte-identical 404s");

    proxy.cut();
    let (foreign, unknown) =
        (ask(task.to_string()).await.unwrap(), ask(protocol::TaskId::new().to_string()).await.unwrap());
    assert_eq!((foreign.status().as_u16(), unknown.status().as_u16()), (503, 503), "both wait for Postgres");
}
