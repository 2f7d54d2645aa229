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

#[test]
fn the_violation_is_found_behind_actix_ws_error_wrapping() {
    let payload = PayloadError::Io(io::Error::new(io::ErrorKind::InvalidData, Violation::TooBig));
    let wrapped = ProtocolError::Io(io::Error::other(payload));
    assert_eq!(violation(&wrapped), Some(Violation::TooBig));
    assert_eq!(violation(&ProtocolError::Io(io::Error::other("reset"))), None);
}
