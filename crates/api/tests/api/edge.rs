//! The gateway's edge against a hostile client: raw frames and raw HTTP bytes on loopback
//! (a client library would refuse to send them), the token claims Supabase may carry, `PORT`.

use std::time::Duration;

use protocol::wire::{CLOSE_PROTOCOL, CLOSE_TOO_BIG, problems};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::helpers::{PATIENCE, TestApp, TestUser, hs256, spawn_app, spawn_app_with, user_claims};

/// A WebSocket spoken byte by byte.
struct RawSocket {
    reader: OwnedReadHalf,
    /// `None` once a test has taken it to write on its own.
    writer: Option<OwnedWriteHalf>,
    buf: Vec<u8>,
}

impl RawSocket {
    /// Upgrades `GET /ws/{task}` and returns the socket after the 101.
    async fn open(app: &TestApp, task: &str, token: &str) -> Self {
        Self::open_with(app, task, token, &[]).await
    }

    /// Upgrades `GET /ws/{task}`, sending `early` in the same write as the request.
    async fn open_with(app: &TestApp, task: &str, token: &str, early: &[u8]) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
        let (reader, mut writer) = stream.into_split();
        let request = format!(
            "GET /ws/{task}?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        writer.write_all(&[request.as_bytes(), early].concat()).await.expect("handshake");
        let mut socket = Self { reader, writer: Some(writer), buf: Vec::new() };
        let head = socket.read_until_blank_line().await;
        assert!(head.starts_with("HTTP/1.1 101"), "upgraded: {head}");
        socket
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.writer.as_mut().expect("the writer").write_all(bytes).await.expect("write");
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout(PATIENCE, self.reader.read(&mut chunk))
            .await
            .expect("the server answers in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    async fn read_until_blank_line(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8_lossy(&head).into_owned();
            }
            assert!(self.fill().await > 0, "the connection closed before the response head");
        }
    }

    /// The next server frame: (opcode, payload). Server frames are never masked.
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Some(frame) = self.parse() {
                return frame;
            }
            assert!(self.fill().await > 0, "the connection closed without a close frame");
        }
    }

    fn parse(&mut self) -> Option<(u8, Vec<u8>)> {
        let [first, second, ..] = self.buf[..] else { return None };
        let (len, start) = match second & 0x7F {
            126 if self.buf.len() >= 4 => (usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])), 4),
            127 if self.buf.len() >= 10 => {
                (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10)
            }
            126 | 127 => return None,
            short => (usize::from(short), 2),
        };
        if self.buf.len() < start + len {
            return None;
        }
        let frame: Vec<u8> = self.buf.drain(..start + len).collect();
        Some((first & 0x0F, frame[start..].to_vec()))
    }

    /// Reads frames until the close frame and returns its code.
    async fn close_code(&mut self) -> u16 {
        loop {
            match self.frame().await {
                (0x8, payload) => return u16::from_be_bytes([payload[0], payload[1]]),
                _ => continue,
            }
        }
    }

    /// Waits until the server ends the connection (EOF or reset).
    async fn assert_closed(mut self) {
        let mut sink = vec![0; 65536];
        let closed = tokio::time::timeout(PATIENCE, async {
            while matches!(self.reader.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        assert!(closed.is_ok(), "the server closes the connection");
    }
}

/// A masked client frame; the zero mask leaves the payload as written.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    out.extend_from_slice(payload);
    out
}

async fn app_with_task(overrides: &[(&str, &str)]) -> (TestApp, TestUser, String) {
    let app = spawn_app_with(overrides).await;
    let user = TestUser::new();
    let task = app.start_task(&user, "1").await["task_id"].as_str().unwrap().to_owned();
    (app, user, task)
}

#[tokio::test]
async fn a_frame_declaring_a_huge_length_is_closed_with_1009_before_its_payload_is_buffered() {
    let (app, user, task) = app_with_task(&[]).await;
    let mut socket = RawSocket::open(&app, &task, &user.token).await;
    socket.frame().await; // the snapshot

    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    socket.write(&header).await;
    // Payload keeps coming, as in the probe; the writes may fail once the server stops reading.
    let mut writer = socket.writer.take().unwrap();
    let flood = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });

    let code = socket.close_code().await;

    assert_eq!(code, CLOSE_TOO_BIG, "frame too big");
    socket.assert_closed().await;
    flood.abort();
}

#[tokio::test]
async fn frames_rfc_6455_forbids_fail_the_connection_with_1002() {
    let (app, user, task) = app_with_task(&[]).await;
    let cases: [(&str, Vec<u8>); 3] = [
        ("a text frame with RSV1 set", client_frame(0xC1, b"ping")),
        (
            "a new text frame inside a fragmented message",
            [client_frame(0x01, b"pi"), client_frame(0x81, b"ng")].concat(),
        ),
        ("a continuation without a first frame", client_frame(0x80, b"ng")),
    ];
    for (why, bytes) in cases {
        let mut socket = RawSocket::open(&app, &task, &user.token).await;
        socket.frame().await; // the snapshot

        socket.write(&bytes).await;

        assert_eq!(socket.close_code().await, CLOSE_PROTOCOL, "{why}");
        socket.assert_closed().await;
    }
}

#[tokio::test]
async fn valid_client_frames_still_pass_the_inspector() {
    let (app, user, task) = app_with_task(&[]).await;
    let mut socket = RawSocket::open(&app, &task, &user.token).await;
    socket.frame().await; // the snapshot

    let fragmented = [client_frame(0x01, b"pi"), client_frame(0x89, b""), client_frame(0x80, b"ng")].concat();
    socket.write(&fragmented).await;
    socket.write(&client_frame(0x89, b"hi")).await;

    // The pong to the ping after the fragmented message proves the server read it all.
    let mut pongs = 0;
    while pongs < 2 {
        match socket.frame().await {
            (0xA, _) => pongs += 1,
            (0x8, payload) => panic!("closed: {payload:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_frame_sent_with_the_upgrade_request_is_read_after_the_101() {
    let (app, user, task) = app_with_task(&[]).await;

    // The ping arrives in the same segment as the request head, before the 101 is written.
    let mut socket = RawSocket::open_with(&app, &task, &user.token, &client_frame(0x89, b"early")).await;

    assert_eq!(socket.frame().await.0, 0x1, "the snapshot first");
    assert_eq!(socket.frame().await, (0xA, b"early".to_vec()), "then the pong to the early ping");
}

#[tokio::test]
async fn the_101_and_the_snapshot_go_out_in_one_write() {
    let (app, user, task) = app_with_task(&[]).await;

    let mut socket = RawSocket::open(&app, &task, &user.token).await;

    // `open` read until the end of the head: one write arrives as one segment, so the snapshot
    // is already in the buffer, read with the 101.
    assert_eq!(socket.parse().map(|(opcode, _)| opcode), Some(0x1), "the snapshot came with the 101");
}

#[tokio::test]
async fn upgrade_requests_that_get_no_101_are_answered_and_the_connection_closed() {
    let (app, user, task) = app_with_task(&[]).await;
    let upgrade = "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let cases = [
        ("another path", "/healthz".to_owned(), "HTTP/1.1 200"),
        ("no token", format!("/ws/{task}"), "HTTP/1.1 401"),
        ("a foreign task", format!("/ws/{}?token={}", uuid::Uuid::new_v4(), user.token), "HTTP/1.1 404"),
    ];
    for (why, target, status) in cases {
        let answer = exchange(&app, format!("GET {target} HTTP/1.1\r\n{upgrade}").as_bytes()).await;

        assert!(answer.starts_with(status), "{why}: {answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{why}: {answer}");
        assert!(answer.contains("x-request-id"), "{why}: the middleware ran: {answer}");
    }
    // Without the upgrade headers the request never reaches the hook: a 400, on a live connection.
    let plain = app.http.get(app.url(&format!("/ws/{task}?token={}", user.token))).send().await.unwrap();
    assert_eq!(plain.status(), 400);
}

#[tokio::test]
async fn a_reset_connection_frees_its_socket_slot_at_once() {
    // No ping for an hour: only the reset itself can free the slot within the test.
    let (app, user, task) = app_with_task(&[
        ("RELAY__API__MAX_SOCKETS_PER_USER", "1"),
        ("RELAY__API__WS_PING_SECS", "3600"),
        ("RELAY__API__WS_CLIENT_TIMEOUT_SECS", "3600"),
    ])
    .await;
    let mut socket = RawSocket::open(&app, &task, &user.token).await;
    socket.frame().await; // the snapshot
    let stream = socket.reader.reunite(socket.writer.take().unwrap()).unwrap();

    // Deprecated because a non-zero linger blocks in drop; zero resets at once.
    #[allow(deprecated)]
    stream.set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream); // RST, not FIN

    // The server notices the reset asynchronously: retry until the slot is free again.
    let reconnected = tokio::time::timeout(PATIENCE, async {
        loop {
            match tokio_tungstenite::connect_async(app.ws_url(&task, &user.token, None)).await {
                Ok(_) => break,
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    assert_eq!(response.status(), 429, "only the slot limit refuses");
                    tokio::task::yield_now().await;
                }
                Err(other) => panic!("unexpected: {other}"),
            }
        }
    })
    .await;
    assert!(reconnected.is_ok(), "the slot is freed by the reset, not by the next ping");
}

/// Sends raw bytes on a fresh connection and reads until the server closes it.
async fn exchange(app: &TestApp, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0; 4096];
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(read.is_ok(), "the server closes the connection; got so far: {text}");
    text
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_and_the_connection_is_closed() {
    let app = spawn_app_with(&[("RELAY__API__BODY_TIMEOUT_SECS", "1")]).await;
    let user = TestUser::new();
    let head = format!(
        "POST /scrape/async HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{{\"url\"",
        user.token
    );

    let answer = exchange(&app, head.as_bytes()).await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(answer.contains(&problems::type_uri(problems::REQUEST_TIMEOUT)), "{answer}");
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_and_the_smuggled_request_never_answered() {
    let app = spawn_app().await;
    let smuggling = "POST /scrape/async HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\
                     Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    let answer = exchange(&app, smuggling.as_bytes()).await;

    // Since actix-http 3.12.1 (a security fix) its parser refuses the ambiguous framing itself,
    // with a bare 400 before the app runs; http_edge's own check is the second line behind it.
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "one answer, then close: {answer}");
}

/// Reads one response head (up to the blank line, or whatever came before the server closed).
async fn response_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut chunk = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(n) if n > 0 => head.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn one_user_cannot_hold_more_than_its_request_limit_open() {
    let app = spawn_app_with(&[
        ("RELAY__API__MAX_REQUESTS_PER_USER", "2"),
        ("RELAY__API__BODY_TIMEOUT_SECS", "60"),
    ])
    .await;
    let (user, other) = (TestUser::new(), TestUser::new());
    let slow = format!(
        "POST /scrape/async HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        user.token
    );
    // Three slow uploads and no other request of this user: the server takes their slots in
    // whatever order it reads them, so the two it reads first hold the limit and the last one
    // is refused at once (its body is never waited for). That refusal is the event proving two
    // uploads hold their slots; they keep them until their bodies arrive, which they never do.
    // (Probing with other requests before it would race them for the slots.) If a slow upload
    // did not hold its slot, none of the three would be answered before the body deadline.
    let mut uploads = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        stream.write_all(slow.as_bytes()).await.unwrap();
        uploads.push(stream);
    }
    let heads = uploads.iter_mut().map(|stream| Box::pin(response_head(stream)));
    let (first_answer, _, unanswered) =
        tokio::time::timeout(PATIENCE, futures_util::future::select_all(heads))
            .await
            .expect("one of three slow uploads is refused while the other two hold the limit");
    drop(unanswered);
    assert!(first_answer.starts_with("HTTP/1.1 429"), "the third upload is refused: {first_answer}");

    let recipes = |token: &str| app.http.get(app.url("/recipes")).bearer_auth(token).send();
    let response = recipes(&user.token).await.unwrap();

    assert_eq!(response.status(), 429, "two slow uploads still hold both slots");
    assert!(response.headers().contains_key("retry-after"));
    let refused: Value = response.json().await.unwrap();
    assert!(refused["detail"].as_str().unwrap().contains("requests per user"), "{refused}");
    assert_eq!(recipes(&other.token).await.unwrap().status(), 200, "other users are not affected");
    drop(uploads);
}

#[tokio::test]
async fn token_claims_supabase_does_not_issue_to_users_are_refused() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let with = |key: &str, value: Value| {
        let mut claims = user_claims(user.id);
        claims[key] = value;
        hs256(&claims)
    };
    let cases = [
        (with("nbf", json!(crate::helpers::now() + 600)), "not valid yet", "nbf ten minutes ahead"),
        (with("role", json!("anon")), "role", "role anon with a user id"),
        (with("role", json!("service_role")), "role", "role service_role with a user id"),
        (with("is_anonymous", json!(true)), "anonymous", "an anonymous sign-in, not allowed by default"),
    ];
    for (token, says, why) in cases {
        let response = app.http.get(app.url("/recipes")).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 401, "{why}");
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains(says), "{why}: {body}");
    }
    let within_leeway = with("nbf", json!(crate::helpers::now() + 5));
    let response = app.http.get(app.url("/recipes")).bearer_auth(within_leeway).send().await.unwrap();
    assert_eq!(response.status(), 200, "nbf within the leeway");
}

#[tokio::test]
async fn anonymous_sign_ins_submit_when_the_setting_allows_them() {
    let app = spawn_app_with(&[("RELAY__AUTH__ALLOW_ANONYMOUS_USERS", "true")]).await;
    let user = TestUser::new();
    let mut claims = user_claims(user.id);
    claims["is_anonymous"] = json!(true);
    let anonymous = TestUser { id: user.id, token: hs256(&claims) };

    app.start_task(&anonymous, "1").await;
}

#[tokio::test]
async fn the_gateway_listens_on_port_when_it_is_set() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let app = spawn_app_with(&[("PORT", &free.to_string())]).await;

    assert_eq!(app.port, free, "PORT wins over RELAY__API__PORT=0");
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
}
