//! Client sockets: open many `GET /ws/{task}?token=` sockets, then read them until told to stop.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{StreamExt, stream};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::tasks::{Peek, Task, now_micros, stamp_of};

/// An open client socket.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long opening one socket (handshake and first message) may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens `n` sockets, socket `i` watching `tasks[i % tasks.len()]`, at most `concurrency` in
/// the handshake at once. Each is open once its first message (the snapshot) arrived. Returns
/// the sockets, in order, and how long opening them all took.
///
/// # Errors
/// When any socket cannot be opened: a partial run would be misleading.
pub(crate) async fn open_all(
    port: u16,
    tasks: &[Task],
    n: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<Socket>, Duration)> {
    let started = Instant::now();
    let results: Vec<anyhow::Result<Socket>> = stream::iter(0..n)
        .map(|i| open(port, &tasks[i % tasks.len()]))
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let took = started.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();
    if let Some(Err(first)) = results.iter().find(|r| r.is_err()) {
        bail!("{failed} of {n} sockets could not be opened; the first error: {first:#}");
    }
    Ok((results.into_iter().filter_map(Result::ok).collect(), took))
}

async fn open(port: u16, task: &Task) -> anyhow::Result<Socket> {
    let url = format!("ws://127.0.0.1:{port}/ws/{}?token={}", task.id, task.token);
    let opening = async {
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.context("handshake")?;
        match socket.next().await {
            Some(Ok(Message::Text(_))) => Ok(socket),
            other => bail!("expected the snapshot first, got {other:?}"),
        }
    };
    tokio::time::timeout(OPEN_TIMEOUT, opening).await.context("opening a socket timed out")?
}

/// What one socket saw.
#[derive(Debug, Default)]
pub(crate) struct Watched {
    /// Publish-to-receive latency of every stamped event, microseconds.
    pub(crate) latencies: Vec<u64>,
    /// Text messages received (after the first).
    pub(crate) messages: u64,
    /// The close code the server sent, if it closed the socket.
    pub(crate) close: Option<u16>,
    /// A transport error, if one ended the socket.
    pub(crate) error: Option<String>,
}

/// Reads `socket` until the server closes it or `stop` fires. Pings are answered by the
/// WebSocket library as part of reading.
pub(crate) async fn watch(mut socket: Socket, stop: CancellationToken) -> Watched {
    let mut watched = Watched::default();
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => break,
            message = socket.next() => message,
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                let now = now_micros();
                watched.messages += 1;
                if let Ok(peek) = serde_json::from_str::<Peek>(&text)
                    && let Some(stamp) = stamp_of(peek.details.as_deref())
                {
                    watched.latencies.push(now.saturating_sub(stamp));
                }
            }
            Some(Ok(Message::Close(frame))) => {
                watched.close = Some(frame.map_or(1005, |f| u16::from(f.code)));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                watched.error = Some(error.to_string());
                break;
            }
            None => break,
        }
    }
    watched
}
