//! [`Watch`]: one task followed to its end over the socket, long-polling while the socket is down.
//!
//! The Flutter app's `WebSocketTaskService` (its behaviour is in docs/protocol.md) is the model;
//! its gaps are closed here:
//!
//! - The app counts the socket as connected as soon as `connect()` returns; here only after
//!   the handshake succeeded.
//! - The app polls every 3 s even while the socket works; here `GET /task/{id}?since=&wait=25`
//!   long-polls only while the socket is down (never during the first handshake), and an
//!   in-flight poll is dropped the moment a handshake succeeds.
//! - The app reconnects after 2, 4, ... 10 s and then gives up; here the delay is drawn from
//!   `[0, min(20 s, 0.5 s * 2^n)]` (full jitter), without an attempt limit, reset once the new
//!   socket delivers an update.
//! - The app resumes from "now"; here every handshake sends `?since=<last seq>`.
//! - The app shows duplicates in arrival order; here every `seq` is handed out exactly once,
//!   in order, whichever transport brought it ([`SeqFilter`]).
//! - The app's heartbeat timers outlive their socket; here the text `ping` every 30 s lives
//!   and dies with the socket.
//! - The app retries 401/404 forever; here they end the watch with an error item. A 404
//!   handshake is confirmed by one poll first, since a gateway with sockets turned off answers
//!   404 there too; a snapshot means "poll-only gateway", and the socket is not tried again.
//! - The app swallows malformed messages; here each is an error item, and the watch goes on.
//! - Close code 4001 (token expired) ends the watch with [`ClientError::Unauthorized`]; every
//!   other close (1012 restart, 1011, 4008 slow reader, 1000 before the terminal update, ...)
//!   is followed by a reconnect with `since`.
//!
//! The socket replays every update after `since`, so on the socket path the caller sees every
//! step. The long-poll only ever returns the latest snapshot: when several updates happened
//! during one poll (seq 2 -> 5), the caller gets only the last one. That is the price of the
//! fallback; a socket that comes back later does not replay what the poll skipped (it resumes
//! after the newest seq handed out).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, Stream, StreamExt};
use protocol::wire::problems;
use protocol::{Problem, TaskId, TaskUpdate};
use tokio::net::TcpStream;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use crate::{Backoff, Client, ClientError, POLL_WAIT, SeqFilter, decode_message};

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Item = Result<TaskUpdate, ClientError>;

/// The keep-alive period: a text `ping` this often while the socket is open, as the Dart client.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// A socket that delivered no frame at all for this long is presumed dead (a half-open TCP
/// connection after a laptop slept or a NAT forgot us) and is replaced; resuming with `since`
/// makes that cheap even if it was merely quiet.
const SILENCE_LIMIT: Duration = Duration::from_secs(75);

/// Least time between two polls that brought nothing new, in case a server answers at once
/// instead of holding the request for `wait` seconds.
const MIN_POLL_SPACING: Duration = Duration::from_secs(1);

/// The close code the gateway uses when the access token expires while the socket is open:
/// reconnecting with the same token cannot help, so the watch ends with
/// [`ClientError::Unauthorized`].
pub use protocol::wire::CLOSE_TOKEN_EXPIRED;

/// How long to spend politely closing the socket after the last update.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The updates of one task, in `seq` order, each exactly once, ending after SUCCESS or FAILURE.
///
/// Made by [`Client::watch`]. Items are:
///
/// - `Ok(update)`: the next update. The stream ends right after a terminal one.
/// - `Err(e)` with `e.is_transient()` (a malformed message): reported, and the watch goes on.
/// - `Err(e)` otherwise (401, 404, another 4xx, [`ClientError::Offline`]): the last item.
///   A 404 from the socket handshake is checked with one poll first, because a gateway with
///   sockets turned off answers 404 there too; then the watch goes on by polling alone.
///
/// Network trouble is not an item: the watch reconnects and polls until it has been without
/// any contact for [`crate::ClientConfig::offline_limit`]. Dropping the `Watch` closes
/// everything at once. It must be polled inside a Tokio runtime.
///
/// While the socket is down, the caller may see fewer steps: a long-poll returns only the
/// latest snapshot, so seq 2 may be followed by seq 5. The socket path replays every update.
pub struct Watch {
    task_id: TaskId,
    inner: BoxStream<'static, Item>,
}

impl Watch {
    pub(crate) fn new(client: Client, task_id: TaskId, since: u64) -> Self {
        let driver = Driver::new(client, task_id, since);
        let inner = futures_util::stream::unfold(driver, |mut driver| async move {
            driver.next_item().await.map(|item| (item, driver))
        })
        .boxed();
        Self { task_id, inner }
    }

    /// The task being watched.
    pub fn task_id(&self) -> TaskId {
        self.task_id
    }
}

impl Stream for Watch {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch").field("task_id", &self.task_id).finish_non_exhaustive()
    }
}

/// An open socket and its heartbeat: they are created and dropped together.
struct Socket {
    ws: Box<WsStream>,
    heartbeat: Interval,
    silence: Pin<Box<Sleep>>,
}

enum SocketEvent {
    Message(Message),
    Closed(Option<CloseFrame>),
    Failed(String),
}

impl Socket {
    fn new(ws: Box<WsStream>) -> Self {
        let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { ws, heartbeat, silence: Box::pin(tokio::time::sleep(SILENCE_LIMIT)) }
    }

    /// The next frame from the server, sending heartbeats while waiting for it.
    async fn next_event(&mut self) -> SocketEvent {
        loop {
            tokio::select! {
                frame = self.ws.next() => {
                    self.silence.as_mut().reset(Instant::now() + SILENCE_LIMIT);
                    return match frame {
                        Some(Ok(Message::Close(frame))) => SocketEvent::Closed(frame),
                        Some(Ok(message)) => SocketEvent::Message(message),
                        Some(Err(e)) => SocketEvent::Failed(e.to_string()),
                        None => SocketEvent::Closed(None),
                    };
                }
                _ = self.heartbeat.tick() => {
                    if let Err(e) = self.ws.send(Message::Text("ping".into())).await {
                        return SocketEvent::Failed(format!("sending the heartbeat failed: {e}"));
                    }
                }
                () = &mut self.silence => {
                    return SocketEvent::Failed(format!("no frame for {} s", SILENCE_LIMIT.as_secs()));
                }
            }
        }
    }

    /// Best effort: tell the server we are done, without waiting long for it.
    async fn close(mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, WebSocketStream::close(&mut self.ws, None)).await;
    }
}

/// What woke the driver.
enum Event {
    Connected(Result<Box<WsStream>, ClientError>),
    Reconnect,
    Socket(SocketEvent),
    Polled(Result<TaskUpdate, ClientError>),
    PollPauseOver,
    Offline,
}

/// The state machine behind [`Watch`]: one socket (or an attempt to open one), one long-poll,
/// and their timers, all owned here so that dropping the stream stops everything.
struct Driver {
    client: Client,
    task_id: TaskId,
    filter: SeqFilter,
    finished: bool,
    started: bool,

    socket: Option<Socket>,
    connecting: Option<BoxFuture<'static, Result<Box<WsStream>, ClientError>>>,
    reconnect: Option<Pin<Box<Sleep>>>,
    socket_backoff: Backoff,

    /// Whether polls should run: the socket is down (never during the very first handshake).
    polling: bool,
    poll: Option<BoxFuture<'static, Result<TaskUpdate, ClientError>>>,
    poll_started: Instant,
    poll_pause: Option<Pin<Box<Sleep>>>,
    poll_backoff: Backoff,

    /// Last time the server answered anything (a handshake, a frame, a poll).
    last_contact: Instant,
    last_failure: Option<ClientError>,
}

impl Driver {
    fn new(client: Client, task_id: TaskId, since: u64) -> Self {
        let use_socket = !client.config().force_polling;
        let mut driver = Self {
            client,
            task_id,
            filter: SeqFilter::new(since),
            finished: false,
            started: false,
            socket: None,
            connecting: None,
            reconnect: None,
            socket_backoff: Backoff::SOCKET,
            polling: !use_socket,
            poll: None,
            poll_started: Instant::now(),
            poll_pause: None,
            poll_backoff: Backoff::SOCKET,
            last_contact: Instant::now(),
            last_failure: None,
        };
        if use_socket {
            driver.connect();
        }
        driver
    }

    async fn next_item(&mut self) -> Option<Item> {
        if !self.started {
            // The offline clock starts when the caller starts reading, not when the watch was made.
            self.started = true;
            self.last_contact = Instant::now();
        }
        while !self.finished {
            if self.polling && self.poll.is_none() && self.poll_pause.is_none() {
                self.start_poll();
            }
            let offline_at = self.last_contact + self.client.config().offline_limit;
            let event = tokio::select! {
                // Biased: what the server said is handled before timers that may have run out
                // meanwhile (a consumer that was slow to read must not be declared offline).
                biased;
                result = pending_or(&mut self.connecting) => {
                    self.connecting = None;
                    Event::Connected(result)
                }
                event = socket_event(&mut self.socket) => Event::Socket(event),
                result = pending_or(&mut self.poll) => {
                    self.poll = None;
                    Event::Polled(result)
                }
                () = pending_or(&mut self.reconnect) => {
                    self.reconnect = None;
                    Event::Reconnect
                }
                () = pending_or(&mut self.poll_pause) => {
                    self.poll_pause = None;
                    Event::PollPauseOver
                }
                () = tokio::time::sleep_until(offline_at), if self.socket.is_none() => Event::Offline,
            };
            if let Some(item) = self.handle(event).await {
                return Some(item);
            }
        }
        None
    }

    async fn handle(&mut self, event: Event) -> Option<Item> {
        match event {
            Event::Connected(Ok(ws)) => {
                tracing::debug!(task_id = %self.task_id, since = self.filter.last(), "socket connected");
                self.socket = Some(Socket::new(ws));
                self.contact();
                // The socket replays everything after `since`: a poll now could only duplicate it.
                self.polling = false;
                self.poll = None;
                self.poll_pause = None;
                None
            }
            Event::Connected(Err(error @ ClientError::NotFound { .. })) => {
                // The gateway answers 404 both for an unknown task and when it has sockets
                // turned off. One poll tells which: a 404 there ends the watch, a snapshot means
                // this gateway is poll-only, so the socket is not tried again.
                tracing::debug!(task_id = %self.task_id, %error, "no socket for this task; polling instead");
                self.last_failure = Some(error);
                self.polling = true;
                None
            }
            Event::Connected(Err(error)) if !error.is_transient() => self.fail(error).await,
            Event::Connected(Err(error)) => {
                tracing::debug!(task_id = %self.task_id, %error, "socket handshake failed");
                self.last_failure = Some(error);
                self.socket_down();
                None
            }
            Event::Reconnect => {
                self.connect();
                None
            }
            Event::Socket(SocketEvent::Message(message)) => {
                self.contact();
                let text = match message {
                    Message::Text(text) => text.as_str().to_owned(),
                    Message::Binary(bytes) => match String::from_utf8(bytes.into()) {
                        Ok(text) => text,
                        Err(_) => {
                            return Some(Err(ClientError::Protocol(
                                "a binary socket message that is not UTF-8 text".into(),
                            )));
                        }
                    },
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {
                        return None;
                    }
                };
                match decode_message(&text) {
                    Ok(Some(update)) => {
                        self.socket_backoff.reset();
                        self.deliver(update).await
                    }
                    Ok(None) => None,
                    Err(error) => Some(Err(error)),
                }
            }
            Event::Socket(SocketEvent::Closed(frame)) => {
                let code = frame.as_ref().map(|f| u16::from(f.code));
                let reason = frame.as_ref().map(|f| f.reason.to_string()).unwrap_or_default();
                tracing::debug!(task_id = %self.task_id, ?code, %reason, "socket closed by the server");
                if code == Some(CLOSE_TOKEN_EXPIRED) {
                    let detail =
                        if reason.is_empty() { "the access token expired".to_owned() } else { reason };
                    return self.fail(token_expired(detail)).await;
                }
                // 1012 (restart), 1011 (log unavailable), 4008 (slow reader), 4000 (idle), 1000
                // without a terminal update, or a code we do not know: resume with `since`. A
                // refusal that reconnecting cannot fix (401, 404) shows in the next handshake.
                self.socket_down();
                None
            }
            Event::Socket(SocketEvent::Failed(why)) => {
                tracing::debug!(task_id = %self.task_id, %why, "socket failed");
                let endpoint = self.client.socket_endpoint(self.task_id);
                self.last_failure =
                    Some(ClientError::transport(format!("the socket at {endpoint} broke"), why));
                self.socket_down();
                None
            }
            Event::Polled(Ok(update)) => {
                self.contact();
                self.poll_backoff.reset();
                let item = self.deliver(update).await;
                let elapsed = self.poll_started.elapsed();
                if item.is_none() && !self.finished && elapsed < MIN_POLL_SPACING {
                    self.poll_pause = Some(Box::pin(tokio::time::sleep(MIN_POLL_SPACING - elapsed)));
                }
                item
            }
            Event::Polled(Err(error)) if !error.is_transient() => self.fail(error).await,
            Event::Polled(Err(error)) => {
                self.poll_pause = Some(Box::pin(tokio::time::sleep(self.poll_backoff.next_delay())));
                if matches!(error, ClientError::Protocol(_)) {
                    return Some(Err(error));
                }
                tracing::debug!(task_id = %self.task_id, %error, "poll failed");
                self.last_failure = Some(error);
                None
            }
            Event::PollPauseOver => None,
            Event::Offline => {
                let after = self.client.config().offline_limit;
                let last = self.last_failure.take().map(Box::new);
                self.fail(ClientError::Offline { after, last }).await
            }
        }
    }

    /// Hands `update` out if it is new; ends the watch after a terminal one.
    async fn deliver(&mut self, update: TaskUpdate) -> Option<Item> {
        if update.task_id != self.task_id {
            return Some(Err(ClientError::Protocol(format!(
                "an update of task {} arrived while watching task {}",
                update.task_id, self.task_id
            ))));
        }
        if !self.filter.accept(&update) {
            tracing::trace!(task_id = %self.task_id, seq = update.seq, "dropped a duplicate or older update");
            return None;
        }
        if update.is_terminal() {
            self.finish().await;
        }
        Some(Ok(update))
    }

    fn contact(&mut self) {
        self.last_contact = Instant::now();
        self.last_failure = None;
    }

    /// Opens the socket, resuming after the last `seq` handed out.
    fn connect(&mut self) {
        let url = self.client.socket_url(self.task_id, self.filter.last());
        let endpoint = self.client.socket_endpoint(self.task_id);
        let limit = self.client.config().connect_timeout;
        self.connecting = Some(Box::pin(open_socket(url, endpoint, limit)));
    }

    /// The socket is gone: poll meanwhile, and try again after a backoff.
    fn socket_down(&mut self) {
        self.socket = None;
        self.polling = true;
        let delay = self.socket_backoff.next_delay();
        tracing::debug!(task_id = %self.task_id, ?delay, "reconnecting the socket after a pause; polling meanwhile");
        self.reconnect = Some(Box::pin(tokio::time::sleep(delay)));
    }

    fn start_poll(&mut self) {
        let client = self.client.clone();
        let (task_id, since) = (self.task_id, self.filter.last());
        self.poll_started = Instant::now();
        self.poll = Some(Box::pin(async move { client.poll(task_id, since, POLL_WAIT).await }));
    }

    /// Stops everything: no reconnect, no poll, no timer survives.
    async fn finish(&mut self) {
        self.finished = true;
        self.polling = false;
        self.connecting = None;
        self.reconnect = None;
        self.poll = None;
        self.poll_pause = None;
        if let Some(socket) = self.socket.take() {
            socket.close().await;
        }
    }

    async fn fail(&mut self, error: ClientError) -> Option<Item> {
        self.finish().await;
        Some(Err(error))
    }
}

/// The error for a socket the server closed with [`CLOSE_TOKEN_EXPIRED`].
fn token_expired(detail: String) -> ClientError {
    ClientError::Unauthorized {
        problem: Some(Problem {
            kind: problems::type_uri(problems::UNAUTHORIZED),
            title: "Not signed in".into(),
            status: 401,
            detail: Some(detail),
        }),
    }
}

/// Awaits the future if there is one; never completes otherwise.
async fn pending_or<F: Future + Unpin>(future: &mut Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

async fn socket_event(socket: &mut Option<Socket>) -> SocketEvent {
    match socket {
        Some(socket) => socket.next_event().await,
        None => std::future::pending().await,
    }
}

/// The handshake; a refusal becomes the HTTP error it is (401, 404, 503 ...).
async fn open_socket(url: Url, endpoint: Url, limit: Duration) -> Result<Box<WsStream>, ClientError> {
    let context = || format!("opening the socket at {endpoint}");
    match tokio::time::timeout(limit, tokio_tungstenite::connect_async(url.as_str())).await {
        Err(_) => Err(ClientError::transport(context(), "the handshake timed out")),
        Ok(Ok((ws, _response))) => Ok(Box::new(ws)),
        Ok(Err(tungstenite::Error::Http(response))) => {
            let problem = response.body().as_deref().and_then(|body| serde_json::from_slice(body).ok());
            Err(ClientError::from_status(response.status().as_u16(), problem))
        }
        Ok(Err(e)) => Err(ClientError::transport(context(), e)),
    }
}
