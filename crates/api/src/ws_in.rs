//! The socket's inbound side: client frames read straight from the connection, each header
//! checked as its bytes arrive.
//!
//! [`Reader`] waits for the connection to become readable without holding a buffer; it reads
//! into one only while there are bytes to decode, and frees it as soon as no partial frame is
//! left, so an idle socket holds no inbound buffer. Every byte read first goes through a
//! [`FrameInspector`], which keeps at most one header (14 bytes) and rejects a frame as soon as
//! its header shows it is too big or one RFC 6455 forbids (RSV bits, unmasked, broken
//! fragmentation): a header declaring 2^40 bytes is refused before any of its payload is
//! buffered, and nothing more is read after a violation. actix-http's `ws::Parser` then decodes
//! the frames the inspector let through.

use std::io;

use actix_http::ws::{OpCode, Parser, ProtocolError};
use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

/// How much one read takes from the connection at most (a full frame of the default limit).
const READ_CHUNK: usize = 4096;

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

/// What ended the inbound frame stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// The peer closed or reset the connection.
    Gone,
    /// The client broke the protocol; nothing more is read.
    Violation(Violation),
}

/// A client frame, as far as the socket cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (the app's `ping` heartbeat, or anything else: ignored).
    Text,
    /// A binary frame (refused with 1003).
    Binary,
    /// A part of a fragmented message after its first frame.
    Continuation,
    /// A ping, with the payload its pong must echo.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The close frame.
    Close,
}

/// Reads and checks client frames from the connection.
#[derive(Debug)]
pub struct Reader {
    /// Bytes read but not yet decoded; unallocated when there are none.
    buf: BytesMut,
    inspector: FrameInspector,
    max_frame: usize,
    /// What the bytes that came with the upgrade request showed, reported by the first `next`.
    early: Option<Violation>,
    /// The stream ended (the peer left, or a violation): nothing more is read.
    done: bool,
}

impl Reader {
    /// A reader for frames of at most `max_frame` bytes; `early` is what the client sent right
    /// behind its upgrade request (often nothing).
    pub fn new(max_frame: usize, early: &[u8]) -> Self {
        let mut inspector = FrameInspector::new(max_frame);
        let early_violation = inspector.feed(early).err();
        Self { buf: BytesMut::from(early), inspector, max_frame, early: early_violation, done: false }
    }

    /// True once the frame stream ended: the peer left, or broke the protocol.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next frame, waiting for the connection when no whole frame is buffered.
    ///
    /// Cancel-safe: it waits only for readiness; bytes read are kept for the next call.
    ///
    /// # Errors
    /// [`ReadError::Gone`] when the peer left, [`ReadError::Violation`] once for the frame that
    /// broke the rules; then `Gone` on every call.
    pub async fn next(&mut self, stream: &TcpStream) -> Result<Frame, ReadError> {
        if let Some(violation) = self.early.take() {
            return Err(self.fail(ReadError::Violation(violation)));
        }
        loop {
            if self.done {
                return Err(ReadError::Gone);
            }
            if let Some(frame) = self.decode()? {
                return Ok(frame);
            }
            if stream.readable().await.is_err() {
                return Err(self.fail(ReadError::Gone));
            }
            self.read(stream)?;
        }
    }

    /// Reads and throws away whatever the peer still sends, until it closes; for the linger
    /// after a violation, where the close frame must not be lost to a reset (closing a socket
    /// with unread input resets it).
    pub async fn discard(&mut self, stream: &TcpStream) {
        self.buf = BytesMut::new();
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match drain(stream) {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }

    fn fail(&mut self, error: ReadError) -> ReadError {
        self.done = true;
        self.buf = BytesMut::new();
        error
    }

    /// Reads what the connection has; every new byte passes the inspector first.
    fn read(&mut self, stream: &TcpStream) -> Result<(), ReadError> {
        let start = self.buf.len();
        self.buf.reserve(READ_CHUNK);
        match stream.try_read_buf(&mut self.buf) {
            Ok(0) => Err(self.fail(ReadError::Gone)),
            Ok(_) => match self.inspector.feed(&self.buf[start..]) {
                Ok(()) => Ok(()),
                Err(violation) => Err(self.fail(ReadError::Violation(violation))),
            },
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
                self.release_if_empty();
                Ok(())
            }
            Err(_) => Err(self.fail(ReadError::Gone)),
        }
    }

    /// The next whole frame in the buffer, if there is one.
    fn decode(&mut self) -> Result<Option<Frame>, ReadError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let parsed = Parser::parse(&mut self.buf, true, self.max_frame);
        self.release_if_empty();
        let (fin, opcode, payload) = match parsed {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(None),
            // The inspector refuses these first; the parser's own checks are the backstop.
            Err(ProtocolError::Overflow) => return Err(self.fail(ReadError::Violation(Violation::TooBig))),
            Err(_) => return Err(self.fail(ReadError::Violation(Violation::Protocol("malformed frame")))),
        };
        let payload = payload.map(BytesMut::freeze).unwrap_or_default();
        Ok(Some(match opcode {
            // Only a whole message can be checked; fragments are ignored like any other text.
            OpCode::Text if fin && std::str::from_utf8(&payload).is_err() => {
                return Err(self.fail(ReadError::Violation(Violation::Protocol("text that is not UTF-8"))));
            }
            OpCode::Text => Frame::Text,
            OpCode::Binary => Frame::Binary,
            OpCode::Continue => Frame::Continuation,
            OpCode::Ping => Frame::Ping(payload),
            OpCode::Pong => Frame::Pong,
            OpCode::Close => Frame::Close,
            OpCode::Bad => {
                return Err(self.fail(ReadError::Violation(Violation::Protocol("reserved opcode"))));
            }
        }))
    }

    /// Frees the buffer once no partial frame is left in it.
    fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }
}

/// One read into a throwaway buffer on the stack (not kept across an await).
fn drain(stream: &TcpStream) -> io::Result<usize> {
    let mut sink = [0; 1024];
    stream.try_read(&mut sink)
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

#[cfg(test)]
mod tests;
