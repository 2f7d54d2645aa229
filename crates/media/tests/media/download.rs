//! Downloads against a local HTTP server: the caps, the status codes, the timeout.

use std::time::Duration;

use media::{Limits, MediaError, download};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{limits, workdir};

fn client() -> reqwest::Client {
    reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().expect("client")
}

async fn serving(status: u16, body: Vec<u8>) -> (MockServer, url::Url) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/video.mp4"))
        .respond_with(ResponseTemplate::new(status).set_body_bytes(body))
        .mount(&server)
        .await;
    let url = url::Url::parse(&format!("{}/video.mp4", server.uri())).expect("url");
    (server, url)
}

#[tokio::test]
async fn download_streams_the_body_into_the_file() {
    let dir = workdir("download-ok");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (_server, url) = serving(200, body.clone()).await;
    let dest = dir.path().join("video.mp4");

    let n = download(&client(), &url, &dest, &limits()).await.expect("download");

    assert_eq!(n, body.len() as u64);
    assert_eq!(std::fs::read(&dest).expect("file"), body);
}

#[tokio::test]
async fn a_content_length_over_the_cap_is_refused_before_the_body() {
    let dir = workdir("download-too-large");
    let (_server, url) = serving(200, vec![7u8; 50_000]).await;
    let dest = dir.path().join("video.mp4");
    let limits = Limits { max_bytes: 10_000, ..limits() };

    let err = download(&client(), &url, &dest, &limits).await.expect_err("too large");

    assert!(matches!(err, MediaError::TooLarge { limit: 10_000 }), "{err:?}");
    assert!(err.is_permanent());
    assert_eq!(err.code(), "video_too_large");
    assert!(!dest.exists(), "no partial file");
}

/// A server that sends a chunked body (no Content-Length) of `total` bytes.
async fn chunked_server(total: usize) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        let mut request = [0u8; 2048];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; 4096];
        let mut sent = 0;
        while sent < total {
            let frame =
                [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk.clone(), b"\r\n".to_vec()].concat();
            if socket.write_all(&frame).await.is_err() {
                return; // the client hung up at the cap
            }
            sent += chunk.len();
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    url::Url::parse(&format!("http://{addr}/video.mp4")).expect("url")
}

#[tokio::test]
async fn a_body_without_length_is_cut_off_at_the_cap() {
    let dir = workdir("download-chunked");
    let url = chunked_server(1024 * 1024).await;
    let dest = dir.path().join("video.mp4");
    let limits = Limits { max_bytes: 100_000, ..limits() };

    let err = download(&client(), &url, &dest, &limits).await.expect_err("too large");

    assert!(matches!(err, MediaError::TooLarge { limit: 100_000 }), "{err:?}");
    assert!(!dest.exists(), "the partial file is removed");
}

#[tokio::test]
async fn client_errors_are_permanent_and_server_errors_transient() {
    let dir = workdir("download-status");
    for (status, permanent, code) in [
        (404, true, "video_download_refused"),
        (403, true, "video_download_refused"),
        (429, false, "video_download_failed"),
        (503, false, "video_download_failed"),
    ] {
        let (_server, url) = serving(status, b"no".to_vec()).await;
        let dest = dir.path().join(format!("video-{status}.mp4"));

        let err = download(&client(), &url, &dest, &limits()).await.expect_err("refused");

        assert_eq!(err.is_permanent(), permanent, "HTTP {status}: {err:?}");
        assert_eq!(err.code(), code, "HTTP {status}");
        assert!(!dest.exists(), "HTTP {status} leaves no file");
    }
}

#[tokio::test]
async fn a_slow_server_times_out_as_a_transient_error() {
    let dir = workdir("download-timeout");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_bytes(vec![1u8; 10]).set_delay(Duration::from_secs(10)),
        )
        .mount(&server)
        .await;
    let url = url::Url::parse(&format!("{}/video.mp4", server.uri())).expect("url");
    let limits = Limits { timeout: Duration::from_millis(300), ..limits() };

    let err = download(&client(), &url, &dir.path().join("v.mp4"), &limits).await.expect_err("timeout");

    assert!(matches!(err, MediaError::Timeout { what: "download", .. }), "{err:?}");
    assert!(!err.is_permanent());
}
