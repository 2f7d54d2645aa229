//! Trace context that travels with a request: the W3C `traceparent`
//! (<https://www.w3.org/TR/trace-context/>) and the gateway's `X-Request-Id`.
//!
//! The gateway reads both from a request (or starts them), the job in Redis carries them to the
//! worker, and every log line and span of the request and its job names them. Only parsing and
//! formatting live here; no I/O.

use std::fmt;

/// The response (and optional request) header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// The longest `X-Request-Id` kept from a client; a longer one is replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The `trace-flags` bit that says the caller records this trace.
const SAMPLED: u8 = 0x01;
/// The `trace-flags` bit (Level 2) that says the trace id is random.
const RANDOM: u8 = 0x02;

/// Why a `traceparent` header is refused (a refused one starts a new trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TraceParentError {
    /// Not `version-traceid-parentid-flags` with the lengths the version requires.
    #[error("traceparent is not version-traceid-parentid-flags")]
    Format,
    /// A field holds something other than lowercase hex digits.
    #[error("traceparent holds a character that is not a lowercase hex digit")]
    Hex,
    /// Version `ff`, which the specification forbids.
    #[error("traceparent version ff is invalid")]
    Version,
    /// The trace id or the parent id is all zeros.
    #[error("traceparent has an all-zero trace id or parent id")]
    Zero,
}

/// A 16-byte trace id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// The id from its bytes; `None` for all zeros (invalid in W3C trace context).
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(Self(bytes))
    }

    /// A random id, for a trace that starts here.
    pub fn random() -> Self {
        loop {
            if let Some(id) = Self::from_bytes(rand::random()) {
                return id;
            }
        }
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

/// An 8-byte span id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl SpanId {
    /// The id from its bytes; `None` for all zeros (invalid in W3C trace context).
    pub fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        (bytes != [0; 8]).then_some(Self(bytes))
    }

    /// A random id, for a span made here.
    pub fn random() -> Self {
        loop {
            if let Some(id) = Self::from_bytes(rand::random()) {
                return id;
            }
        }
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

/// A W3C `traceparent`: which trace a piece of work belongs to and which span caused it.
///
/// Parsed from any version the specification allows (a future version's extra fields are
/// ignored, as it says), always written as version `00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace the work belongs to.
    pub trace_id: TraceId,
    /// The span that caused it (the caller's span).
    pub parent_id: SpanId,
    /// `trace-flags`; bit 0 says the caller samples (records) the trace.
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` header value (surrounding spaces and tabs allowed).
    ///
    /// # Errors
    /// [`TraceParentError`] when the value breaks the specification's rules.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let value = value.trim_matches([' ', '\t']).as_bytes();
        // version "-" trace-id "-" parent-id "-" trace-flags
        const LEN: usize = 2 + 1 + 32 + 1 + 16 + 1 + 2;
        if value.len() < LEN {
            return Err(TraceParentError::Format);
        }
        let [version] = hex::<1>(&value[..2])?;
        if version == 0xff {
            return Err(TraceParentError::Version);
        }
        // Version 00 is exactly this long; a later version may append "-" and more fields,
        // which a version-00 parser ignores.
        let extended = value.len() > LEN;
        if extended && (version == 0 || value[LEN] != b'-') {
            return Err(TraceParentError::Format);
        }
        if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return Err(TraceParentError::Format);
        }
        let trace_id = TraceId::from_bytes(hex(&value[3..35])?).ok_or(TraceParentError::Zero)?;
        let parent_id = SpanId::from_bytes(hex(&value[36..52])?).ok_or(TraceParentError::Zero)?;
        let [flags] = hex::<1>(&value[53..55])?;
        // Of a later version's flags, only the ones version 00 defines are kept (it is written
        // back as version 00): sampled, and Level 2's random trace id.
        let flags = if version == 0 { flags } else { flags & (SAMPLED | RANDOM) };
        Ok(Self { trace_id, parent_id, flags })
    }

    /// A new sampled trace started here, with `span` as its first span.
    pub fn start(span: SpanId) -> Self {
        Self { trace_id: TraceId::random(), parent_id: span, flags: SAMPLED }
    }

    /// The same trace with `span` as the parent: what this process hands on to the next one.
    #[must_use]
    pub fn child(self, span: SpanId) -> Self {
        Self { parent_id: span, ..self }
    }

    /// Whether the caller records this trace.
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", self.trace_id, self.parent_id, self.flags)
    }
}

impl std::str::FromStr for TraceParent {
    type Err = TraceParentError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// Why an `X-Request-Id` sent by a client is not kept (the gateway makes a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestIdError {
    /// Empty, or longer than [`MAX_REQUEST_ID_LEN`].
    #[error("a request id has 1 to {MAX_REQUEST_ID_LEN} characters")]
    Length,
    /// A character outside visible ASCII (`!` to `~`): spaces, controls, non-ASCII.
    #[error("a request id holds only visible ASCII characters")]
    Character,
}

/// The id of one request, returned in `X-Request-Id` and written in every log line about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A new id: a UUIDv7 in hex, so ids sort by the time they were made. Its random bits come
    /// from the thread's generator (`uuid`'s own asks the kernel: a syscall per request).
    pub fn new() -> Self {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &rand::random()).into_uuid();
        Self(id.simple().to_string())
    }

    /// Keeps a client's id when it is sane: 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters
    /// (it goes into log lines and a response header as it is).
    ///
    /// # Errors
    /// [`RequestIdError`] when it is not.
    pub fn parse(value: &str) -> Result<Self, RequestIdError> {
        if value.is_empty() || value.len() > MAX_REQUEST_ID_LEN {
            return Err(RequestIdError::Length);
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RequestIdError::Character);
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request a piece of work came from, as far as it is known: carried by a queued job so the
/// worker's spans continue the request's trace and its log lines name the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The request's trace, with the request's span as the parent.
    pub traceparent: Option<TraceParent>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<RequestId>,
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

/// Decodes lowercase hex (the specification allows no uppercase) into exactly `N` bytes.
fn hex<const N: usize>(text: &[u8]) -> Result<[u8; N], TraceParentError> {
    fn digit(c: u8) -> Result<u8, TraceParentError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(TraceParentError::Hex),
        }
    }
    if text.len() != 2 * N {
        return Err(TraceParentError::Format);
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specifications_example_is_read_and_written_back() {
        let parent = TraceParent::parse(EXAMPLE).unwrap();
        assert_eq!(parent.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.parent_id.to_string(), "00f067aa0ba902b7");
        assert!(parent.sampled());
        assert_eq!(parent.to_string(), EXAMPLE);
    }

    #[test]
    fn a_future_version_is_read_as_version_00_and_its_extra_fields_ignored() {
        let cases = [
            ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "same length"),
            ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-the-future-holds", "extra fields"),
        ];
        for (value, why) in cases {
            let parent = TraceParent::parse(value).unwrap_or_else(|e| panic!("{why}: {e}"));
            assert_eq!(parent.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736", "{why}");
            assert!(parent.to_string().starts_with("00-"), "{why}: written as version 00");
        }
        let unknown_flags = "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff";
        assert_eq!(TraceParent::parse(unknown_flags).unwrap().flags, 0x03, "only the flags version 00 knows");
    }

    #[test]
    fn surrounding_whitespace_is_allowed() {
        assert!(TraceParent::parse(&format!(" \t{EXAMPLE} ")).is_ok());
    }

    #[test]
    fn invalid_traceparents_are_refused() {
        use TraceParentError::{Format, Hex, Version, Zero};
        let cases = [
            ("", Format, "empty"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", Format, "no flags"),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                Format,
                "version 00 with extra text",
            ),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", Format, "version 00 with a field"),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                Format,
                "future version without a dash",
            ),
            ("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Format, "wrong separator"),
            ("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", Format, "short trace id"),
            ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Version, "version ff"),
            ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", Hex, "uppercase hex"),
            ("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Hex, "version not hex"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", Hex, "flags not hex"),
            ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", Zero, "zero trace id"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", Zero, "zero parent id"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01é", Format, "non-ASCII tail"),
        ];
        for (value, expected, why) in cases {
            assert_eq!(TraceParent::parse(value), Err(expected), "{why}: {value:?}");
        }
    }

    #[test]
    fn a_child_keeps_the_trace_and_flags_and_names_the_new_parent() {
        let parent = TraceParent::parse(EXAMPLE).unwrap();
        let span = SpanId::from_bytes([7; 8]).unwrap();
        let child = parent.child(span);
        assert_eq!((child.trace_id, child.flags, child.parent_id), (parent.trace_id, parent.flags, span));
    }

    #[test]
    fn sane_request_ids_are_kept_and_others_refused() {
        assert_eq!(RequestId::parse("req-42_ABC:x/y").unwrap().as_str(), "req-42_ABC:x/y");
        assert!(RequestId::parse(&"a".repeat(MAX_REQUEST_ID_LEN)).is_ok(), "at the limit");
        let cases = [
            ("", RequestIdError::Length, "empty"),
            (&*"a".repeat(MAX_REQUEST_ID_LEN + 1), RequestIdError::Length, "too long"),
            ("two words", RequestIdError::Character, "a space"),
            ("line\nbreak", RequestIdError::Character, "a control character"),
            ("café", RequestIdError::Character, "non-ASCII"),
        ];
        for (value, expected, why) in cases {
            assert_eq!(RequestId::parse(value), Err(expected), "{why}");
        }
    }

    #[test]
    fn new_request_ids_are_sane_and_distinct() {
        let (a, b) = (RequestId::new(), RequestId::new());
        assert_ne!(a, b);
        let id = uuid::Uuid::try_parse(a.as_str()).expect("a UUID in hex");
        assert_eq!(id.get_version_num(), 7);
        let (made, _) = id.get_timestamp().expect("v7 has a time").to_unix();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(made.abs_diff(now) <= 5, "{made} vs {now}");
        assert_eq!(RequestId::parse(a.as_str()), Ok(a));
    }

    proptest! {
        #[test]
        fn every_valid_traceparent_round_trips(
            trace in any::<[u8; 16]>(), span in any::<[u8; 8]>(), flags in any::<u8>()
        ) {
            prop_assume!(trace != [0; 16] && span != [0; 8]);
            let parent = TraceParent {
                trace_id: TraceId::from_bytes(trace).unwrap(),
                parent_id: SpanId::from_bytes(span).unwrap(),
                flags,
            };
            let text = parent.to_string();
            prop_assert_eq!(text.len(), 55);
            prop_assert_eq!(TraceParent::parse(&text), Ok(parent));
        }

        #[test]
        fn arbitrary_text_never_panics_and_what_parses_is_written_back_as_it_was_read(text in "\\PC{0,80}") {
            if let Ok(parent) = TraceParent::parse(&text) {
                prop_assert_eq!(TraceParent::parse(&parent.to_string()), Ok(parent));
            }
        }

        #[test]
        fn a_kept_request_id_is_the_text_sent(text in "[!-~]{1,128}") {
            let id = RequestId::parse(&text).unwrap();
            prop_assert_eq!(id.as_str(), text.as_str());
        }
    }
}
