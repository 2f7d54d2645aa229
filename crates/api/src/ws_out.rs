//! The socket's outbound side: the frames the server sends, written straight to the connection.
//!
//! A frame is encoded and written at once (or held to share the next one's write); only what
//! the kernel does not take yet waits in [`Writer`]'s buffer, which is allocated while a frame
//! is being written and freed as soon as it is out, so an idle socket holds no outbound buffer
//! at all. A send waits until its frame has been handed to the kernel: a reader that stops
//! reading stalls the socket's loop (whose caller bounds the wait), and the hub's queue, not
//! this buffer, holds what piles up meanwhile.
//!
//! A send that is cancelled (the caller gave up on a slow reader, or shutdown came) leaves the
//! rest of its frame in the buffer, and the next send writes that rest first: the close frame
//! that follows is never spliced into the middle of another frame.

use std::io;

use bytes::{Buf, BufMut, BytesMut};
use tokio::net::TcpStream;

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The connection is gone (reset, closed, or it refused a write): nothing more can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// A frame the server sends (never fragmented, never masked).
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    /// A message.
    Text(&'a str),
    /// A ping with an empty payload.
    Ping,
    /// The answer to a client's ping, with its payload.
    Pong(&'a [u8]),
    /// The close frame: the code, then the reason (RFC 6455 section 5.5.1).
    Close(u16, &'a str),
}

/// The bytes of frames not yet taken by the kernel; empty and unallocated while idle.
#[derive(Debug, Default)]
pub struct Writer {
    pending: BytesMut,
}

impl Writer {
    /// A writer whose first write starts with `bytes` (the 101 that opens the socket).
    pub fn with_pending(bytes: BytesMut) -> Self {
        Self { pending: bytes }
    }

    /// Writes one frame (after the rest of a cancelled one, if any) and waits until the kernel
    /// has taken all of it.
    ///
    /// Cancel-safe: what is not written stays pending for the next send.
    ///
    /// # Errors
    /// [`Gone`] when the connection is.
    pub async fn send(&mut self, stream: &TcpStream, frame: Frame<'_>) -> Result<(), Gone> {
        self.hold(frame);
        self.flush(stream).await
    }

    /// Encodes a frame that goes out with the next send or flush, in the same write (and the
    /// same TCP segment, when it fits): a task's last message waits so for the close frame.
    pub fn hold(&mut self, frame: Frame<'_>) {
        match frame {
            Frame::Text(text) => encode(&mut self.pending, OP_TEXT, &[text.as_bytes()]),
            Frame::Ping => encode(&mut self.pending, OP_PING, &[]),
            Frame::Pong(payload) => encode(&mut self.pending, OP_PONG, &[payload]),
            Frame::Close(code, reason) => {
                // A control frame's payload is at most 125 bytes; our reasons are far shorter,
                // but never cut a character in two.
                let mut end = reason.len().min(123);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                encode(&mut self.pending, OP_CLOSE, &[&code.to_be_bytes(), &reason.as_bytes()[..end]]);
            }
        }
    }

    /// Writes what is pending and waits until the kernel has taken it.
    ///
    /// Cancel-safe, as [`Writer::send`].
    ///
    /// # Errors
    /// [`Gone`] when the connection is.
    pub async fn flush(&mut self, stream: &TcpStream) -> Result<(), Gone> {
        while !self.pending.is_empty() {
            match stream.try_write(&self.pending) {
                Ok(0) => return Err(Gone),
                Ok(written) => self.pending.advance(written),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    stream.writable().await.map_err(|_| Gone)?;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Gone),
            }
        }
        // `advance` keeps the allocation: give it back while the socket idles.
        self.pending = BytesMut::new();
        Ok(())
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
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(&mut out, opcode, &[payload]);
        out.to_vec()
    }

    /// A connected pair on loopback: (the server's side, the client's side).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (accepted.unwrap().0, client.unwrap())
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
    async fn a_sent_frame_leaves_no_buffer_behind() {
        let (server, mut client) = pair().await;
        let mut writer = Writer::default();

        writer.send(&server, Frame::Close(1000, "done")).await.expect("sent");

        assert_eq!(writer.pending.capacity(), 0, "nothing held while idle");
        let mut got = [0; 8];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x88, 6, 0x03, 0xE8, b'd', b'o', b'n', b'e']);
    }

    #[tokio::test]
    async fn a_held_frame_goes_out_with_the_next_send() {
        let (server, mut client) = pair().await;
        let mut writer = Writer::default();

        writer.hold(Frame::Text("hi"));
        let mut probe = [0; 1];
        let before = client.try_read(&mut probe);
        writer.send(&server, Frame::Close(1000, "")).await.expect("sent");

        assert!(
            matches!(before, Err(ref e) if e.kind() == io::ErrorKind::WouldBlock),
            "nothing written on hold"
        );
        let mut got = [0; 8];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x81, 2, b'h', b'i', 0x88, 2, 0x03, 0xE8], "the message, then the close frame");
        assert_eq!(writer.pending.capacity(), 0);
    }

    #[tokio::test]
    async fn the_frame_after_a_cancelled_send_follows_the_rest_of_it_whole() {
        // Arrange: a frame far larger than the socket buffers, so its send cannot finish while
        // the client does not read.
        let (server, mut client) = pair().await;
        let mut writer = Writer::default();
        let big = "x".repeat(16 << 20);
        let cancelled =
            tokio::time::timeout(Duration::from_millis(50), writer.send(&server, Frame::Text(&big))).await;
        assert!(cancelled.is_err(), "the send is stuck");
        assert!(!writer.pending.is_empty(), "the rest waits");

        // Act: the client reads, the close frame goes out.
        let reading = tokio::spawn(async move {
            let mut all = Vec::new();
            client.read_to_end(&mut all).await.unwrap();
            all
        });
        writer.send(&server, Frame::Close(1008, "x")).await.expect("sent");
        drop(server);

        // Assert: the whole text frame, then the close frame.
        let all = reading.await.unwrap();
        let mut expected = frame(OP_TEXT, big.as_bytes());
        expected.extend_from_slice(&[0x88, 3, 0x03, 0xF0, b'x']);
        assert_eq!(all.len(), expected.len());
        assert!(all == expected, "the frames arrive whole and in order");
    }

    #[tokio::test]
    async fn a_send_to_a_closed_connection_fails() {
        let (server, client) = pair().await;
        #[allow(deprecated)] // zero linger resets at once, which is the point
        client.set_linger(Some(Duration::ZERO)).unwrap();
        drop(client);
        // The reset arrives as readiness: wait for it rather than for a while.
        server.readable().await.unwrap();
        let mut writer = Writer::default();

        let result = writer.send(&server, Frame::Ping).await;

        assert_eq!(result, Err(Gone));
    }
}
