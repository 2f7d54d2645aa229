//! The socket path against a small tokio-tungstenite server on 127.0.0.1:0.
//!
//! The server runs one script per accepted socket (numbered from 0) and reports each handshake's
//! request URI. While the client's socket is down it long-polls the same address; those plain
//! HTTP requests fail this server's handshake and are dropped, as during a real restart.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use client::ClientError;
use futures_util::{SinkExt as _, StreamExt as _};
use protocol::{RecipeId, TaskId, TaskState, TaskUpdate};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::{LIMIT, TOKEN, client, collect, failed, nth, seqs};

type Ws = WebSocketStream<TcpStream>;

struct SocketServer {
    base: String,
    handshakes: mpsc::UnboundedReceiver<String>,
}

impl SocketServer {
    /// The request URI of the next successful handshake.
    async fn next_handshake(&mut self) -> String {
        tokio::time::timeout(LIMIT, self.handshakes.recv())
            .await
            .expect("a handshake in time")
            .expect("server alive")
    }
}

async fn serve<F, Fut>(script: F) -> SocketServer
where
    F: Fn(usize, Ws) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, handshakes) = mpsc::unbounded_channel();
    let script = Arc::new(script);
    let accepted = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (tx, script, accepted) = (tx.clone(), Arc::clone(&script), Arc::clone(&accepted));
            tokio::spawn(async move {
                let mut uri = String::new();
                #[allow(clippy::result_large_err)] // the shape tungstenite's callback requires
                let callback = |request: &Request, response: Response| {
                    uri = request.uri().to_string();
                    Ok(response)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return; // a poll, not a socket
                };
                let _ = tx.send(uri);
                script(accepted.fetch_add(1, Ordering::SeqCst), ws).await;
            });
        }
    });
    SocketServer { base: format!("http://{addr}"), handshakes }
}

async fn send(ws: &mut Ws, update: &TaskUpdate) {
    let _ = ws.send(Message::Text(serde_json::to_string(update).expect("json").into())).await;
}

/// Closes with `code` and waits for the client's answer (or its disconnect).
async fn close(mut ws: Ws, code: CloseCode) {
    let _ = ws.close(Some(CloseFrame { code, reason: "".into() })).await;
    while let Some(Ok(_)) = ws.next().await {}
}

fn ws_uri(task: TaskId, since: u64) -> String {
    format!("/ws/{task}?token={TOKEN}&since={since}")
}

#[tokio::test]
async fn after_a_restart_close_the_socket_resumes_with_since_and_every_seq_arrives_once() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let mut server = serve(move |n, mut ws| async move {
        if n == 0 {
            for seq in 1..=3 {
                send(&mut ws, &nth(task, recipe, seq)).await;
            }
            close(ws, CloseCode::Restart).await;
        } else {
            // The current state first, then a stale and a repeated update among the new ones.
            for seq in [3, 2, 4, 4, 5, 6] {
                send(&mut ws, &nth(task, recipe, seq)).await;
            }
            close(ws, CloseCode::Normal).await;
        }
    })
    .await;

    let items = collect(client(&server.base, false).watch(task)).await;

    assert_eq!(seqs(&items), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(items[5].as_ref().unwrap().status, TaskState::Success);
    assert_eq!(server.next_handshake().await, ws_uri(task, 0));
    assert_eq!(server.next_handshake().await, ws_uri(task, 3), "resumes after the last seq it has");
    assert!(server.handshakes.try_recv().is_err(), "no reconnect after the terminal update");
}

#[tokio::test]
async fn a_socket_that_drops_without_a_close_frame_is_resumed_too() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let mut server = serve(move |n, mut ws| async move {
        if n == 0 {
            for seq in 1..=2 {
                send(&mut ws, &nth(task, recipe, seq)).await;
            }
            drop(ws); // the TCP connection just ends
        } else {
            for seq in 2..=6 {
                send(&mut ws, &nth(task, recipe, seq)).await;
            }
            close(ws, CloseCode::Normal).await;
        }
    })
    .await;

    let items = collect(client(&server.base, false).watch(task)).await;

    assert_eq!(seqs(&items), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(server.next_handshake().await, ws_uri(task, 0));
    assert_eq!(server.next_handshake().await, ws_uri(task, 2));
}

#[tokio::test]
async fn watch_from_asks_only_for_what_comes_after_since() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let mut server = serve(move |_, mut ws| async move {
        for seq in 4..=6 {
            send(&mut ws, &nth(task, recipe, seq)).await;
        }
        close(ws, CloseCode::Normal).await;
    })
    .await;

    let items = collect(client(&server.base, false).watch_from(task, 4)).await;

    assert_eq!(seqs(&items), vec![5, 6], "seq 4, the current state, is not repeated");
    assert_eq!(server.next_handshake().await, ws_uri(task, 4));
}

#[tokio::test]
async fn malformed_messages_are_error_items_and_the_watch_goes_on() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let other_task = TaskId::new();
    let server = serve(move |_, mut ws| async move {
        let _ = ws.send(Message::Text("pong".into())).await;
        let _ = ws.send(Message::Text("{not json".into())).await;
        send(&mut ws, &nth(task, recipe, 1)).await;
        send(&mut ws, &nth(other_task, recipe, 2)).await;
        let last = serde_json::to_vec(&failed(task, 2)).expect("json");
        let _ = ws.send(Message::Binary(last.into())).await;
        close(ws, CloseCode::Normal).await;
    })
    .await;

    let items = collect(client(&server.base, false).watch(task)).await;

    assert_eq!(items.len(), 4, "{items:?}");
    assert!(matches!(&items[0], Err(ClientError::Protocol(_))), "{:?}", items[0]);
    assert_eq!(items[1].as_ref().unwrap().seq, 1);
    assert!(
        matches!(&items[2], Err(ClientError::Protocol(text)) if text.contains(&other_task.to_string())),
        "{:?}",
        items[2]
    );
    let last = items[3].as_ref().unwrap();
    assert_eq!((last.seq, last.status), (2, TaskState::Failure));
}

#[tokio::test(start_paused = true)]
async fn the_heartbeat_pings_every_30_s_while_the_socket_is_open() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let (pings_tx, mut pings) = mpsc::unbounded_channel();
    let server = serve(move |_, mut ws| {
        let pings_tx = pings_tx.clone();
        async move {
            let opened = tokio::time::Instant::now();
            send(&mut ws, &nth(task, recipe, 1)).await;
            for _ in 0..2 {
                let Some(Ok(message)) = ws.next().await else { return };
                let _ = pings_tx.send((message, opened.elapsed()));
                let _ = ws.send(Message::Text("pong".into())).await;
            }
            send(&mut ws, &nth(task, recipe, 6)).await;
            close(ws, CloseCode::Normal).await;
        }
    })
    .await;

    // Virtual time: the limit only has to outlast two heartbeats.
    let watch = client(&server.base, false).watch(task);
    let items =
        tokio::time::timeout(Duration::from_secs(600), watch.collect::<Vec<_>>()).await.expect("ends");

    assert_eq!(seqs(&items), vec![1, 6], "pongs are not updates");
    for n in 1..=2u32 {
        let (message, at) = pings.recv().await.expect("a heartbeat");
        assert_eq!(message, Message::Text("ping".into()));
        let expected = Duration::from_secs(30) * n;
        assert!(at >= expected && at < expected + Duration::from_secs(1), "heartbeat {n} at {at:?}");
    }
}

#[tokio::test]
async fn an_expired_token_close_ends_the_watch_with_unauthorized() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let mut server = serve(move |_, mut ws| async move {
        send(&mut ws, &nth(task, recipe, 1)).await;
        close(ws, CloseCode::from(client::CLOSE_TOKEN_EXPIRED)).await;
    })
    .await;

    let items = collect(client(&server.base, false).watch(task)).await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().seq, 1);
    match &items[1] {
        Err(e @ ClientError::Unauthorized { .. }) => assert!(e.to_string().contains("expired"), "{e}"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    server.next_handshake().await;
    assert!(server.handshakes.try_recv().is_err(), "the same token is not tried again");
}
