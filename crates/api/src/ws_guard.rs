//! The socket's inbound edge: the raw client bytes are checked frame header by frame header
//! before actix-ws sees them, and the socket learns at once when its connection is gone.
//!
//! Why not leave it to actix-ws: its `MessageStream` appends every chunk the connection delivers
//! to one buffer and applies the frame-size limit only once a whole frame is buffered, so a
//! header declaring 2^40 bytes followed by a stream of payload grows the process without bound
//! and never closes. It also accepts RSV bits and a new data frame inside a fragmented message.
//! [`FrameInspector`] keeps at most one header (14 bytes) and rejects a frame as soon as its
//! header is complete; [`InboundGuard`] then stops reading, so the excess is never buffered.
//!
//! actix-http drops the request payload's sender without waking the reader when a client resets
//! its TCP connection, so the socket loop would only notice at its next ping. The response body
//! IS dropped with the connection: [`watch_body`] wraps it, and [`InboundGuard`] ends the inbound
//! stream when it goes, which frees the socket's per-user slot at once.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use actix_ws::ProtocolError;
use bytes::Bytes;
use futures_util::Stream;
use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFutureOwned};

/// Why the inbound frame stream was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A frame declared more payload than `api.ws_max_frame_bytes` (close 1009).
    #[error("frame larger than the limit")]
    TooBig,
    /// A frame that RFC 6455 says must fail the connection (close 1002).
    #[error("{0}")]
    Protocol(&'static str),
}

/// The violation behind an error of actix-ws's message stream, if [`InboundGuard`] caused it.
pub fn violation(error: &ProtocolError) -> Option<Violation> {
    // actix-ws wraps the payload error: Io(other(PayloadError::Io(Violation))).
    let ProtocolError::Io(outer) = error else { return None };
    let PayloadError::Io(inner) = outer.get_ref()?.downcast_ref::<PayloadError>()? else { return None };
    inner.get_ref()?.downcast_ref::<Violation>().copied()
}

/// Where the inspector is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a frame header; `have` bytes of it are in `header`.
    Header,
    /// Skipping this many payload bytes of an accepted frame.
    Payload(u64),
}

/// An incremental check of client-to-server frame headers (RFC 6455 section 5.2).
#[derive(Debug, Clone)]
pub struct FrameInspector {
    max_payload: u64,
    state: State,
    header: [u8; 14],
    have: usize,
    /// The current header's first two bytes have been checked.
    checked: bool,
    /// The current header's payload length is known and allowed.
    length_checked: bool,
    /// Inside a fragmented text or binary message (its first frame had FIN clear).
    fragmented: bool,
}

impl FrameInspector {
    /// An inspector that allows frames of at most `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        Self {
            max_payload: max_payload as u64,
            state: State::Header,
            header: [0; 14],
            have: 0,
            checked: false,
            length_checked: false,
            fragmented: false,
        }
    }

    /// Checks the next bytes of the stream.
    ///
    /// # Errors
    /// The first [`Violation`]; the inspector must not be fed after one.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Violation> {
        while !bytes.is_empty() {
            match self.state {
                State::Payload(remaining) => {
                    let skip = remaining.min(bytes.len() as u64);
                    bytes = &bytes[skip as usize..];
                    self.state = match remaining - skip {
                        0 => State::Header,
                        left => State::Payload(left),
                    };
                }
                State::Header => {
                    let take = (self.header_len() - self.have).min(bytes.len());
                    self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
                    self.have += take;
                    bytes = &bytes[take..];
                    if self.have >= 2 && !self.checked {
                        self.checked = true;
                        self.check_first_bytes()?;
                    }
                    // Refuse as soon as the length is in, before the mask arrives.
                    if self.have >= 2 && !self.length_checked && self.have >= self.length_end() {
                        self.length_checked = true;
                        if self.declared_length() > self.max_payload {
                            return Err(Violation::TooBig);
                        }
                    }
                    if self.have >= 2 && self.have == self.header_len() {
                        let length = self.declared_length();
                        self.have = 0;
                        self.checked = false;
                        self.length_checked = false;
                        self.state = if length == 0 { State::Header } else { State::Payload(length) };
                    }
                }
            }
        }
        Ok(())
    }

    /// Where the current header's length field ends (its second byte must be in).
    fn length_end(&self) -> usize {
        match self.header[1] & 0x7F {
            126 => 4,
            127 => 10,
            _ => 2,
        }
    }

    /// The length of the current header: 2 until its second byte is known.
    fn header_len(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        self.length_end() + mask
    }

    fn declared_length(&self) -> u64 {
        match self.header[1] & 0x7F {
            126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            127 => {
                let mut bytes = [0; 8];
                bytes.copy_from_slice(&self.header[2..10]);
                u64::from_be_bytes(bytes)
            }
            short => u64::from(short),
        }
    }

    /// The checks the first two bytes allow, run once per header as soon as they are in.
    fn check_first_bytes(&mut self) -> Result<(), Violation> {
        let (first, second) = (self.header[0], self.header[1]);
        let fin = first & 0x80 != 0;
        if first & 0x70 != 0 {
            return Err(Violation::Protocol("reserved bits set without a negotiated extension"));
        }
        if second & 0x80 == 0 {
            return Err(Violation::Protocol("client frames must be masked"));
        }
        match first & 0x0F {
            0x0 if !self.fragmented => {
                return Err(Violation::Protocol("continuation frame outside a fragmented message"));
            }
            0x0 => self.fragmented = !fin,
            0x1 | 0x2 if self.fragmented => {
                return Err(Violation::Protocol("new data frame inside a fragmented message"));
            }
            0x1 | 0x2 => self.fragmented = !fin,
            0x8..=0xA => {
                if !fin {
                    return Err(Violation::Protocol("fragmented control frame"));
                }
                if second & 0x7F > 125 {
                    return Err(Violation::Protocol("control frame longer than 125 bytes"));
                }
            }
            _ => return Err(Violation::Protocol("reserved opcode")),
        }
        Ok(())
    }
}

/// The request payload of a socket, checked by a [`FrameInspector`] and ended when the
/// connection is gone. After a violation it yields one error and then ends, without reading on.
pub struct InboundGuard {
    inner: Option<Payload>,
    inspector: FrameInspector,
    gone: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Stream for InboundGuard {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => match this.inspector.feed(&bytes) {
                Ok(()) => Poll::Ready(Some(Ok(bytes))),
                Err(violation) => {
                    // Dropping the payload makes actix-http discard the rest of the input.
                    this.inner = None;
                    let error = io::Error::new(io::ErrorKind::InvalidData, violation);
                    Poll::Ready(Some(Err(PayloadError::Io(error))))
                }
            },
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => match this.gone.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.inner = None;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Puts the socket's request payload behind an [`InboundGuard`]. Returns the payload to hand to
/// `actix_ws::handle` and the guard for [`watch_body`].
///
/// # Errors
/// Never in practice: taking a request's payload cannot fail.
pub async fn guard_payload(
    req: &HttpRequest,
    body: web::Payload,
    max_frame_bytes: usize,
) -> Result<(web::Payload, DropGuard), actix_web::Error> {
    let gone = CancellationToken::new();
    let guard = InboundGuard {
        inner: Some(body.into_inner()),
        inspector: FrameInspector::new(max_frame_bytes),
        gone: Box::pin(gone.clone().cancelled_owned()),
    };
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guard);
    let mut payload = Payload::Stream { payload: boxed };
    let body = web::Payload::from_request(req, &mut payload).await?;
    Ok((body, gone.drop_guard()))
}

/// The socket's response with a body that fires `gone` when the connection drops it.
pub fn watch_body(response: HttpResponse, gone: DropGuard) -> HttpResponse {
    response.map_body(|_, inner| WatchedBody { inner, _gone: gone }).map_into_boxed_body()
}

/// A response body that cancels its guard's token when dropped.
struct WatchedBody {
    inner: BoxBody,
    _gone: DropGuard,
}

impl MessageBody for WatchedBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests;
