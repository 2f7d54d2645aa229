use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::*;

/// A client frame: header (masked unless `unmasked`) and `len` payload bytes.
fn frame(first: u8, len: usize) -> Vec<u8> {
    let mut out = vec![first];
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[1, 2, 3, 4]);
    out.extend(std::iter::repeat_n(b'x', len));
    out
}

const TEXT: u8 = 0x81;
const TEXT_FIRST: u8 = 0x01;
const CONT: u8 = 0x00;
const CONT_LAST: u8 = 0x80;
const PING: u8 = 0x89;

fn feed_all(max: usize, frames: &[Vec<u8>]) -> Result<(), Violation> {
    let mut inspector = FrameInspector::new(max);
    frames.iter().try_for_each(|f| inspector.feed(f))
}

#[test]
fn valid_streams_pass_whole_and_byte_by_byte() {
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("one text frame", vec![frame(TEXT, 4)]),
        ("an empty frame", vec![frame(TEXT, 0)]),
        ("a 16-bit length at the limit", vec![frame(TEXT, 4096)]),
        ("a fragmented message", vec![frame(TEXT_FIRST, 3), frame(CONT, 3), frame(CONT_LAST, 3)]),
        ("a ping between fragments", vec![frame(TEXT_FIRST, 3), frame(PING, 0), frame(CONT_LAST, 3)]),
        ("a close frame", vec![frame(0x88, 2)]),
    ];
    for (why, frames) in cases {
        assert_eq!(feed_all(4096, &frames), Ok(()), "{why}");
        let bytes: Vec<u8> = frames.concat();
        let mut inspector = FrameInspector::new(4096);
        for byte in &bytes {
            assert_eq!(inspector.feed(std::slice::from_ref(byte)), Ok(()), "{why}, byte by byte");
        }
        assert_eq!(inspector.state, State::Header, "{why}: ends on a frame boundary");
    }
}

#[test]
fn violations_are_named_as_soon_as_the_header_shows_them() {
    let mut unmasked = frame(TEXT, 4);
    unmasked[1] &= 0x7F;
    let cases: Vec<(&str, Vec<Vec<u8>>, Violation)> = vec![
        ("16-bit length above the limit", vec![frame(TEXT, 4097)], Violation::TooBig),
        ("short length above a small limit", vec![frame(TEXT, 100)], Violation::TooBig),
        (
            "rsv1",
            vec![frame(0xC1, 4)],
            Violation::Protocol("reserved bits set without a negotiated extension"),
        ),
        (
            "rsv3",
            vec![frame(0x91, 4)],
            Violation::Protocol("reserved bits set without a negotiated extension"),
        ),
        ("unmasked", vec![unmasked], Violation::Protocol("client frames must be masked")),
        (
            "text inside a fragmented message",
            vec![frame(TEXT_FIRST, 3), frame(TEXT, 3)],
            Violation::Protocol("new data frame inside a fragmented message"),
        ),
        (
            "continuation without a start",
            vec![frame(CONT_LAST, 3)],
            Violation::Protocol("continuation frame outside a fragmented message"),
        ),
        ("fragmented ping", vec![frame(0x09, 0)], Violation::Protocol("fragmented control frame")),
        ("reserved opcode", vec![frame(0x83, 0)], Violation::Protocol("reserved opcode")),
    ];
    for (why, frames, expected) in cases {
        let max = if why.contains("small limit") { 64 } else { 4096 };
        assert_eq!(feed_all(max, &frames), Err(expected), "{why}");
    }
}

#[test]
fn a_huge_declared_length_is_refused_before_any_payload_arrives() {
    let mut inspector = FrameInspector::new(4096);
    let mut header = vec![TEXT, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());

    let verdict = inspector.feed(&header);

    assert_eq!(verdict, Err(Violation::TooBig), "the 10-byte header alone is enough");
}

#[test]
fn a_long_control_frame_is_a_protocol_error() {
    let mut inspector = FrameInspector::new(4096);
    assert_eq!(
        inspector.feed(&[PING, 0x80 | 126, 0, 200]),
        Err(Violation::Protocol("control frame longer than 125 bytes"))
    );
}

/// A connected pair on loopback: (the server's side, the client's side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap());
    let (client, accepted) = tokio::join!(client, listener.accept());
    (accepted.unwrap().0, client.unwrap())
}

#[tokio::test]
async fn frames_are_read_whole_and_the_buffer_is_freed_between_them() {
    let (server, mut client) = pair().await;
    // The first ping came with the upgrade request, the rest arrives on the connection.
    let early = frame(PING, 2);
    let mut reader = Reader::new(4096, &early);
    let rest = [frame(PING, 0), frame(TEXT_FIRST, 3), frame(CONT_LAST, 3)].concat();
    client.write_all(&rest).await.unwrap();

    // "xx" unmasked with [1, 2, 3, 4]: what the pong must echo.
    let unmasked = Bytes::from(vec![b'x' ^ 1, b'x' ^ 2]);
    assert_eq!(reader.next(&server).await, Ok(Frame::Ping(unmasked)), "the early bytes first");
    assert_eq!(reader.next(&server).await, Ok(Frame::Ping(Bytes::new())));
    assert_eq!(reader.next(&server).await, Ok(Frame::Text), "the first fragment");
    assert_eq!(reader.next(&server).await, Ok(Frame::Continuation));

    assert_eq!(reader.buf.capacity(), 0, "no buffer while no partial frame is left");
}

#[tokio::test]
async fn a_partial_frame_waits_for_its_rest() {
    let (server, mut client) = pair().await;
    let mut reader = Reader::new(4096, &[]);
    let text = frame(TEXT, 300);
    client.write_all(&text[..100]).await.unwrap();

    let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), reader.next(&server)).await;
    assert!(waiting.is_err(), "no frame from a third of one");
    client.write_all(&text[100..]).await.unwrap();

    assert_eq!(reader.next(&server).await, Ok(Frame::Text));
}

#[tokio::test]
async fn a_violation_ends_the_stream_and_nothing_more_is_decoded() {
    let (server, mut client) = pair().await;
    let mut reader = Reader::new(4096, &[]);
    let mut header = vec![TEXT, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    client.write_all(&header).await.unwrap();

    assert_eq!(reader.next(&server).await, Err(ReadError::Violation(Violation::TooBig)));
    client.write_all(&frame(PING, 0)).await.unwrap();
    assert_eq!(reader.next(&server).await, Err(ReadError::Gone), "done after the violation");
    assert!(reader.is_done());
}

#[tokio::test]
async fn early_bytes_that_break_the_rules_are_reported_first() {
    let (server, _client) = pair().await;
    let mut unmasked = frame(TEXT, 4);
    unmasked[1] &= 0x7F;
    let mut reader = Reader::new(4096, &unmasked);

    let verdict = reader.next(&server).await;

    assert_eq!(verdict, Err(ReadError::Violation(Violation::Protocol("client frames must be masked"))));
}

#[tokio::test]
async fn text_that_is_not_utf8_is_a_protocol_error_and_a_closed_peer_is_gone() {
    let (server, mut client) = pair().await;
    let mut reader = Reader::new(4096, &[]);
    // Payload 0xFF ^ 1 = 0xFE: never valid UTF-8.
    client.write_all(&[TEXT, 0x81, 1, 2, 3, 4, 0xFF]).await.unwrap();
    assert_eq!(
        reader.next(&server).await,
        Err(ReadError::Violation(Violation::Protocol("text that is not UTF-8")))
    );

    let (server, client) = pair().await;
    let mut reader = Reader::new(4096, &[]);
    drop(client);
    assert_eq!(reader.next(&server).await, Err(ReadError::Gone));
}
