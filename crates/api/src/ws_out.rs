//! The socket's outbound side: the frames the server sends, and the response body that hands
//! them to the connection.
//!
//! Why not `actix_ws::Session`: it is a `tokio::sync::mpsc` channel of 32 messages, whose first
//! block of slots (~1.7 KiB) every idle socket carries for its whole life. Here the socket and
//! its body share one small [`Outbox`]: encoded frames wait in a buffer that is allocated when
//! there is something to send and handed over (freed from the outbox) when the connection takes
//! it, so an idle socket holds a few dozen bytes. The bound is the channel's: at most
//! [`MAX_QUEUED`] frames wait before [`Writer::send`] waits for room.
//!
//! The socket task runs on the HTTP worker's thread (`spawn_local`), like the connection that
//! polls the body, so the state is an `Rc<RefCell<_>>`.

use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_web::body::{BodySize, MessageBody};
use bytes::{BufMut, Bytes, BytesMut};

/// Frames waiting for the connection before a send waits (actix-ws's channel held as many).
const MAX_QUEUED: usize = 32;

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The connection dropped the response: nothing more can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

#[derive(Debug, Default)]
struct Outbox {
    /// Encoded frames not yet taken by the body; no allocation while empty.
    frames: BytesMut,
    queued: usize,
    /// The connection, waiting for frames.
    body: Option<Waker>,
    /// The socket, waiting for room.
    writer: Option<Waker>,
    /// The writer is dropped: the body ends once `frames` is drained.
    finished: bool,
    /// The connection dropped the body.
    gone: bool,
}

/// The socket's handle for sending frames. Dropping it ends the response (once the frames
/// already queued are taken), which lets the connection close.
#[derive(Debug)]
pub struct Writer {
    outbox: Rc<RefCell<Outbox>>,
}

/// The response body: the frames the [`Writer`] queued.
#[derive(Debug)]
pub struct Body {
    outbox: Rc<RefCell<Outbox>>,
}

/// A writer and the body it feeds.
pub fn channel() -> (Writer, Body) {
    let outbox = Rc::new(RefCell::new(Outbox::default()));
    (Writer { outbox: outbox.clone() }, Body { outbox })
}

impl Writer {
    /// Sends a text frame.
    ///
    /// # Errors
    /// [`Gone`] when the connection is.
    pub async fn text(&mut self, text: &str) -> Result<(), Gone> {
        self.send(OP_TEXT, &[text.as_bytes()]).await
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// [`Gone`] when the connection is.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Gone> {
        self.send(OP_PING, &[payload]).await
    }

    /// Answers a ping.
    ///
    /// # Errors
    /// [`Gone`] when the connection is.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Gone> {
        self.send(OP_PONG, &[payload]).await
    }

    /// Sends the close frame (RFC 6455 section 5.5.1: the code, then the reason in UTF-8).
    ///
    /// # Errors
    /// [`Gone`] when the connection is.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Gone> {
        // A control frame's payload is at most 125 bytes; our reasons are far shorter, but never
        // cut a character in two.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        self.send(OP_CLOSE, &[&code.to_be_bytes(), &reason.as_bytes()[..end]]).await
    }

    /// Queues one unfragmented frame, waiting while [`MAX_QUEUED`] frames wait.
    async fn send(&mut self, opcode: u8, parts: &[&[u8]]) -> Result<(), Gone> {
        poll_fn(|cx| {
            let mut outbox = self.outbox.borrow_mut();
            if outbox.gone {
                return Poll::Ready(Err(Gone));
            }
            if outbox.queued >= MAX_QUEUED {
                outbox.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            encode(&mut outbox.frames, opcode, parts);
            outbox.queued += 1;
            if let Some(body) = outbox.body.take() {
                body.wake();
            }
            Poll::Ready(Ok(()))
        })
        .await
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut outbox = self.outbox.borrow_mut();
        outbox.finished = true;
        if let Some(body) = outbox.body.take() {
            body.wake();
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        let mut outbox = self.outbox.borrow_mut();
        outbox.gone = true;
        // Queued frames are no use to anyone now.
        outbox.frames = BytesMut::new();
        if let Some(writer) = outbox.writer.take() {
            writer.wake();
        }
    }
}

impl MessageBody for Body {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let mut outbox = self.outbox.borrow_mut();
        if !outbox.frames.is_empty() {
            outbox.queued = 0;
            if let Some(writer) = outbox.writer.take() {
                writer.wake();
            }
            // `take`, not `split`: the outbox keeps no capacity while the socket idles.
            return Poll::Ready(Some(Ok(std::mem::take(&mut outbox.frames).freeze())));
        }
        if outbox.finished {
            return Poll::Ready(None);
        }
        outbox.body = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Appends a server frame: FIN set, no mask (RFC 6455 section 5.2).
fn encode(out: &mut BytesMut, opcode: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|part| part.len()).sum();
    out.reserve(len + 10);
    out.put_u8(0x80 | opcode);
    match len {
        0..=125 => out.put_u8(len as u8),
        126..=0xFFFF => {
            out.put_u8(126);
            out.put_u16(len as u16);
        }
        _ => {
            out.put_u8(127);
            out.put_u64(len as u64);
        }
    }
    for part in parts {
        out.put_slice(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(&mut out, opcode, &[payload]);
        out.to_vec()
    }

    #[test]
    fn frames_carry_the_length_in_the_shortest_form() {
        assert_eq!(frame(OP_TEXT, b"hi"), [0x81, 2, b'h', b'i']);
        assert_eq!(frame(OP_PING, b""), [0x89, 0]);
        let medium = frame(OP_TEXT, &[b'a'; 300]);
        assert_eq!(medium[..4], [0x81, 126, 0x01, 0x2C]);
        assert_eq!(medium.len(), 4 + 300);
        let long = frame(OP_TEXT, &[b'a'; 70_000]);
        assert_eq!(long[..10], [0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]);
    }

    #[tokio::test]
    async fn a_send_waits_for_room_and_fails_once_the_body_is_gone() {
        let (mut writer, body) = channel();
        for _ in 0..MAX_QUEUED {
            writer.ping(b"").await.expect("room");
        }
        let full = tokio::time::timeout(std::time::Duration::from_millis(20), writer.ping(b"")).await;
        assert!(full.is_err(), "the 33rd frame waits");
        drop(body);
        assert_eq!(writer.ping(b"").await, Err(Gone));
    }

    #[tokio::test]
    async fn the_body_yields_queued_frames_then_ends_after_the_writer() {
        let (mut writer, body) = channel();
        writer.close(1000, "done").await.expect("sent");
        drop(writer);
        let bytes = actix_web::body::to_bytes(body).await.expect("infallible");
        assert_eq!(bytes.as_ref(), [0x88, 6, 0x03, 0xE8, b'd', b'o', b'n', b'e']);
    }
}
