//! `GET /ws/{task_id}`: a task's events over a WebSocket.
//!
//! Authentication and the ownership check happen before the upgrade (401, 404, 429 as HTTP
//! problems): the server subscribes to the hub FIRST, then reads the snapshot (the ownership
//! check, and the first message), and after the upgrade drops live duplicates by seq, so there
//! is no gap between the snapshot or replay and the live events. Without `?since=`
//! the first message is the current snapshot; with it, every event after that seq is replayed.
//! After the terminal message the server closes with 1000. The close codes are [`protocol::wire`]'s
//! `CLOSE_*`, described in `docs/protocol.md`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use protocol::wire::{
    CLOSE_DONE, CLOSE_ERROR, CLOSE_FLOOD, CLOSE_IDLE, CLOSE_PROTOCOL, CLOSE_RESTART, CLOSE_SLOW_READER,
    CLOSE_TOKEN_EXPIRED, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED,
};
use protocol::{Backoff, Event, TaskId, UserId};
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::auth::SocketUser;
use crate::error::ApiError;
use crate::hub::{Delivery, OverflowSignal, Subscription};
use crate::metrics::{self, Limit, Via};
use crate::slots::UserSlot;
use crate::snapshot::current;
use crate::state::AppState;
use crate::ws_in::{Frame, ReadError, Reader, Violation};
use crate::ws_out::{self, Writer};
use crate::ws_upgrade::{self, Takeover};

/// How long a close frame may wait for the kernel to take it (a slow reader's buffers are full)
/// before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of a failed event-log read before the socket closes with 1011.
const LOG_READ_RETRIES: u32 = 3;
/// How long the server waits for the client's close frame after sending its own (or, after a
/// protocol violation, throws away what the client still sends, so that closing with unread
/// input does not reset the connection before the client has the close frame).
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);

/// Query of `GET /ws/{task_id}` (the token is read by [`SocketUser`]).
#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    /// Replay every event after this seq first.
    pub since: Option<u64>,
}

/// `GET /ws/{task_id}`: authenticate, check ownership and limits, answer 101; the socket runs
/// once the upgrade hook has written the 101 (see [`ws_upgrade`]).
///
/// # Errors
/// 400 (not an upgrade request), 401, 404 (unknown or foreign task, or sockets disabled), 429
/// (too many sockets), 503.
pub async fn socket(
    state: web::Data<AppState>,
    user: SocketUser,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<SocketQuery>,
) -> Result<HttpResponse, ApiError> {
    if !state.api.sockets_enabled {
        return Err(ApiError::NotFound("sockets are disabled here; poll GET /task/{id} instead"));
    }
    let task = TaskId::parse(&path).map_err(|_| ApiError::task_not_found())?;
    let owner = user.id();
    // Subscribe before reading, so no event falls between the snapshot and the live ones; the
    // read is the ownership check and the socket's first message at once.
    let subscription = state.hub.subscribe(task);
    let now = current(&state, task, owner).await?;
    let slot = state.sockets.try_acquire(owner, state.api.max_sockets_per_user).ok_or_else(|| {
        metrics::limit_hit(Limit::SocketsPerUser);
        ApiError::RateLimited {
            retry_after: Duration::from_secs(5),
            detail: format!(
                "at most {} sockets per user; close one (or poll GET /task/{{id}})",
                state.api.max_sockets_per_user
            ),
        }
    })?;
    let not_upgrade = |why: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("this endpoint needs a WebSocket upgrade request: {why}"))
    };
    // A request actix-http did not hand to the upgrade hook has no connection to take over.
    if !ws_upgrade::is_upgradable(&req) {
        return Err(not_upgrade(&"no `Upgrade: websocket` header"));
    }
    let mut handshake = actix_http::ws::handshake(req.head()).map_err(|e| not_upgrade(&e))?;
    let since = query.since;
    let token_expires = expiry_instant(user.0.exp);
    let tracker = state.tracker.clone();
    // A debug span: at the default `info` level it is disabled and costs an idle socket nothing
    // (an enabled span keeps its formatted fields for the socket's whole life). The few log
    // lines below carry the task id themselves.
    let span = tracing::debug_span!("socket", %task);
    // If the upgrade hook never runs the takeover (the request is dropped before), it is dropped
    // unrun, and the slot and the subscription with it. It writes the 101 itself.
    let takeover = Takeover::new(move |stream, early, head| {
        let connection = Connection {
            reader: Reader::new(state.api.ws_max_frame_bytes, &early),
            stream,
            writer: Writer::with_pending(head),
            state,
            task,
            owner,
            token_expires,
            last_seq: 0,
            overflow: OverflowSignal::never(),
            _slot: slot,
        };
        tracker.track_future(connection.run(subscription, now, since).instrument(span))
    });
    let mut response = HttpResponse::from(handshake.finish()).map_into_boxed_body();
    response.extensions_mut().insert(takeover);
    Ok(response)
}

/// The instant the token expires (seconds since the epoch -> monotonic clock).
fn expiry_instant(exp: u64) -> Instant {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    Instant::now() + Duration::from_secs(exp.saturating_sub(now))
}

/// Why the socket loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The peer is gone (closed, or the connection dropped): nothing more to send.
    Gone,
}

/// One socket's state. An idle socket costs this, the `serve` loop's future and the hub's queue,
/// so cold paths (the first read, replays, writes, the close) are boxed futures: they take
/// memory only while they run. Neither side of the connection holds a buffer while it idles.
struct Connection {
    stream: TcpStream,
    reader: Reader,
    writer: Writer,
    state: web::Data<AppState>,
    task: TaskId,
    owner: UserId,
    token_expires: Instant,
    /// The seq of the last event sent to the client.
    last_seq: u64,
    /// Fires when this socket's hub queue overflows.
    overflow: OverflowSignal,
    _slot: UserSlot,
}

/// Inbound frame counting for the flood limit: a fixed one-minute window.
struct FrameBudget {
    window_start: Instant,
    count: u32,
    limit: u32,
}

impl FrameBudget {
    fn allow(&mut self) -> bool {
        if self.window_start.elapsed() >= Duration::from_secs(60) {
            self.window_start = Instant::now();
            self.count = 0;
        }
        self.count += 1;
        self.count <= self.limit
    }
}

impl Connection {
    /// Serves the socket: `now` is the snapshot read after `subscription` was taken, so every
    /// later event reaches the subscription (twice at worst, which the seq check drops).
    async fn run(mut self, mut subscription: Subscription, now: Event, since: Option<u64>) {
        metrics::socket_opened();
        self.overflow = subscription.overflow_signal();
        let end = match Box::pin(self.start(now, since)).await {
            Ok(true) => End::Close(CLOSE_DONE, "task finished"),
            Ok(false) => self.serve(&mut subscription).await,
            Err(end) => end,
        };
        drop(subscription);
        // Counted before the close frame goes out, so whoever sees the frame sees the count.
        let code = match end {
            End::Close(code, _) => code,
            End::Gone => 0,
        };
        tracing::debug!(task = %self.task, code, last_seq = self.last_seq, "socket closed");
        metrics::socket_closed(code);
        if let End::Close(code, reason) = end {
            Box::pin(self.close(code, reason)).await;
        }
        // Dropping the stream closes the connection; the slot is freed with it.
    }

    /// Sends the current state `now` (or the replay after `since`). Returns whether the task is
    /// over.
    async fn start(&mut self, now: Event, since: Option<u64>) -> Result<bool, End> {
        let Some(since) = since else {
            // It goes out with the 101 (and a finished task's also with the close frame).
            self.send(&now).await?;
            return Ok(now.is_terminal());
        };
        // The replay reads the log first: the 101 does not wait for that.
        self.write_pending().await?;
        // A `since` from the future would silence every live event: clamp it.
        self.last_seq = since.min(now.seq);
        // Without newer events in the log (expired, or lost with Redis' data) the replay sends
        // the snapshot, which still moves the client on.
        let (over, seq) = (now.is_terminal(), now.seq);
        if self.replay(Some(now)).await? {
            return Ok(true);
        }
        Ok(over && self.last_seq >= seq)
    }

    /// Sends every logged event after `last_seq`, or else the snapshot if it is newer (`known`,
    /// when the caller has just read it). Returns whether the task is over.
    async fn replay(&mut self, known: Option<Event>) -> Result<bool, End> {
        // Right after Redis comes back, pooled connections may still be the dead ones: a couple
        // of quick retries let the pool replace them before the client is bothered.
        let mut attempt = 0;
        let mut log_backoff = Backoff::new(Duration::from_millis(200), Duration::from_millis(800));
        let events = loop {
            match self.state.tasks.events_after(self.task, self.last_seq).await {
                Ok(events) => break events,
                Err(error) if attempt < LOG_READ_RETRIES => {
                    attempt += 1;
                    tracing::debug!(task = %self.task, error = %error, attempt, "event log read failed; retrying");
                    tokio::time::sleep(log_backoff.next_delay()).await;
                }
                Err(error) => {
                    tracing::warn!(task = %self.task, error = %error, "cannot read the event log");
                    return Err(log_error());
                }
            }
        };
        let mut sent = false;
        for event in events {
            if event.seq <= self.last_seq {
                continue;
            }
            self.send(&event).await?;
            sent = true;
            if event.is_terminal() {
                return Ok(true);
            }
        }
        if sent {
            return Ok(false);
        }
        // Nothing newer in the Redis log. If Redis lost the task's data, the outcome may be in
        // Postgres only (the worker finished while Redis was away): the snapshot moves us on.
        let now = match known {
            Some(now) => Ok(now),
            None => current(&self.state, self.task, self.owner).await,
        };
        match now {
            Ok(now) if now.seq > self.last_seq => {
                self.send(&now).await?;
                Ok(now.is_terminal())
            }
            Ok(_) => Ok(false),
            Err(error) => {
                tracing::debug!(task = %self.task, error = ?error, "no snapshot after a resync");
                Ok(false)
            }
        }
    }

    async fn serve(&mut self, subscription: &mut Subscription) -> End {
        let api = self.state.api.clone();
        let shutdown = self.state.shutdown.clone();
        let overflow = self.overflow.clone();
        let client_timeout = Duration::from_secs(api.ws_client_timeout_secs.max(1));
        let ping_every = Duration::from_secs(api.ws_ping_secs.max(1));
        let mut last_heard = Instant::now();
        let mut budget =
            FrameBudget { window_start: Instant::now(), count: 0, limit: api.ws_max_frames_per_minute };
        // One timer for both the next ping and the token's expiry: one timer entry per socket.
        let mut next_ping = Instant::now() + ping_every;
        let timer = tokio::time::sleep_until(next_ping.min(self.token_expires).into());
        tokio::pin!(timer);
        loop {
            let step = tokio::select! {
                biased;
                () = shutdown.cancelled() => Err(End::Close(CLOSE_RESTART, "server restarting; reconnect with since")),
                () = overflow.fired() => Err(slow_reader()),
                // Waits for readiness only: no buffer is held while the client is quiet.
                frame = self.reader.next(&self.stream) => {
                    last_heard = Instant::now();
                    self.inbound(frame, &mut budget).await
                }
                // Boxed: the write's future is large and an idle socket should not carry it.
                delivery = subscription.recv() => match delivery {
                    Some(delivery) => Box::pin(self.deliver(delivery)).await,
                    None => Err(slow_reader()),
                },
                // Last, as the ping tick was: a frame already waiting counts before the idle check.
                () = &mut timer => {
                    let now = Instant::now();
                    if now >= self.token_expires {
                        Err(End::Close(CLOSE_TOKEN_EXPIRED, "access token expired"))
                    } else if last_heard.elapsed() > client_timeout {
                        Err(End::Close(CLOSE_IDLE, "no frame from the client in time"))
                    } else {
                        next_ping = now + ping_every;
                        timer.as_mut().reset(next_ping.min(self.token_expires).into());
                        Box::pin(self.write(ws_out::Frame::Ping)).await.map(|()| false)
                    }
                }
            };
            match step {
                Ok(true) => return End::Close(CLOSE_DONE, "task finished"),
                Ok(false) => {}
                Err(end) => return end,
            }
        }
    }

    /// Handles one inbound frame. Returns `Ok(false)` to go on.
    async fn inbound(
        &mut self,
        frame: Result<Frame, ReadError>,
        budget: &mut FrameBudget,
    ) -> Result<bool, End> {
        let frame = match frame {
            Ok(frame) => frame,
            Err(ReadError::Gone) => return Err(End::Gone),
            Err(ReadError::Violation(Violation::TooBig)) => {
                metrics::limit_hit(Limit::WsFrameSize);
                return Err(End::Close(CLOSE_TOO_BIG, "frame larger than the limit"));
            }
            Err(ReadError::Violation(Violation::Protocol(why))) => {
                tracing::debug!(why, "bad inbound frame");
                return Err(End::Close(CLOSE_PROTOCOL, why));
            }
        };
        if frame == Frame::Close {
            return Err(End::Gone);
        }
        if !budget.allow() {
            metrics::limit_hit(Limit::WsFrameRate);
            return Err(End::Close(CLOSE_FLOOD, "too many frames"));
        }
        match frame {
            // The app's client (docs/protocol.md, "The socket") sends the text `ping` every 30 s and parses every message as
            // JSON: it is accepted quietly, without an answer.
            Frame::Text | Frame::Pong | Frame::Continuation => Ok(false),
            Frame::Ping(payload) => Box::pin(self.write(ws_out::Frame::Pong(&payload))).await.map(|()| false),
            Frame::Binary => Err(End::Close(CLOSE_UNSUPPORTED, "binary frames are not accepted")),
            Frame::Close => Err(End::Gone),
        }
    }

    /// Forwards a hub delivery. Returns whether the task is over.
    async fn deliver(&mut self, delivery: Delivery) -> Result<bool, End> {
        match delivery {
            Delivery::Event(event) if event.seq <= self.last_seq => Ok(false),
            // A gap (a message lost in transit): the log has everything, in order.
            Delivery::Event(event) if event.seq > self.last_seq + 1 => Box::pin(self.replay(None)).await,
            Delivery::Event(event) => {
                self.send(&event).await?;
                // Live events only: a replay's age is the client's absence, not our latency.
                metrics::event_delivered(Via::Socket, &event);
                Ok(event.is_terminal())
            }
            Delivery::Resync => Box::pin(self.replay(None)).await,
        }
    }

    /// Writes one message. The task's last one is held for the close frame that always follows
    /// it (see [`Connection::run`]): both go out in one write.
    async fn send(&mut self, event: &Event) -> Result<(), End> {
        // Counted as it is handed over, so whoever has the message sees the count (a write that
        // fails then ends the socket, and the client resumes from its last seq).
        metrics::delivered();
        if event.is_terminal() {
            self.writer.hold(ws_out::Frame::Text(&event.json));
        } else {
            self.write(ws_out::Frame::Text(&event.json)).await?;
        }
        self.last_seq = event.seq;
        Ok(())
    }

    /// Writes one frame; gives up on a reader too slow to take it (the hub's queue overflows
    /// meanwhile, or the client timeout passes), or on shutdown. A frame given up on stays
    /// pending and goes out, whole, before the close frame.
    async fn write(&mut self, frame: ws_out::Frame<'_>) -> Result<(), End> {
        self.writer.hold(frame);
        self.write_pending().await
    }

    /// Writes what is pending, giving up as [`Connection::write`] does.
    async fn write_pending(&mut self) -> Result<(), End> {
        let stuck = Duration::from_secs(self.state.api.ws_client_timeout_secs.max(1));
        tokio::select! {
            sent = self.writer.flush(&self.stream) => sent.map_err(|_| End::Gone),
            () = self.overflow.fired() => Err(slow_reader()),
            () = tokio::time::sleep(stuck) => Err(slow_reader()),
            () = self.state.shutdown.cancelled() => {
                Err(End::Close(CLOSE_RESTART, "server restarting; reconnect with since"))
            }
        }
    }

    /// The closing handshake: send the close frame, then wait (briefly) for the client's.
    async fn close(&mut self, code: u16, reason: &str) {
        // A reader that stopped reading cannot take the close frame either: give up then.
        let frame = ws_out::Frame::Close(code, reason);
        let sent = tokio::time::timeout(CLOSE_TIMEOUT, self.writer.send(&self.stream, frame)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
        if self.reader.is_done() {
            // After a violation nothing more is decoded. The client gets the close frame and the
            // end of the stream at once; what it still sends is thrown away, since closing with
            // unread input resets the connection, and a reset discards a close frame not yet sent.
            let _ = self.stream.shutdown().await;
            let _ = tokio::time::timeout(CLOSE_HANDSHAKE, self.reader.discard(&self.stream)).await;
            return;
        }
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
            while let Ok(frame) = self.reader.next(&self.stream).await {
                if frame == Frame::Close {
                    break;
                }
            }
        })
        .await;
    }
}

fn slow_reader() -> End {
    End::Close(CLOSE_SLOW_READER, "reading too slowly; reconnect with since")
}

fn log_error() -> End {
    End::Close(CLOSE_ERROR, "the task's events are unavailable; reconnect with since or poll")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_budget_refuses_beyond_its_limit() {
        let mut budget = FrameBudget { window_start: Instant::now(), count: 0, limit: 3 };
        assert!((0..3).all(|_| budget.allow()));
        assert!(!budget.allow());
        budget.window_start -= Duration::from_secs(61);
        assert!(budget.allow(), "a new window starts afresh");
    }
}
