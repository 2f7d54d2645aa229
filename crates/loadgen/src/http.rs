//! A minimal HTTP/1.1 keep-alive client: one request at a time per connection, bodies framed by
//! `Content-Length` (all the gateway sends for these endpoints). Far cheaper per request than a
//! general client, so the load tool leaves the two cores to the system under test.

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One kept-alive connection to the gateway.
#[derive(Debug)]
pub(crate) struct Conn {
    io: BufReader<TcpStream>,
    line: String,
}

/// A response: its status and body.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Conn {
    /// Connects to 127.0.0.1:`port`.
    ///
    /// # Errors
    /// When the connection is refused.
    pub(crate) async fn connect(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Self { io: BufReader::with_capacity(16 * 1024, stream), line: String::new() })
    }

    /// Sends a request built by [`get`] or [`post_json`] and reads the response.
    ///
    /// # Errors
    /// On I/O errors, a closed connection or a response this client cannot frame.
    pub(crate) async fn send(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        self.io.get_mut().write_all(request).await?;
        self.read_line().await?;
        let status: u16 =
            self.line.split(' ').nth(1).and_then(|s| s.parse().ok()).context("malformed status line")?;
        let mut length = 0;
        loop {
            self.read_line().await?;
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else { bail!("malformed header") };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().context("bad Content-Length")?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported by this client");
            }
        }
        let mut body = vec![0; length];
        self.io.read_exact(&mut body).await?;
        Ok(Response { status, body })
    }

    async fn read_line(&mut self) -> anyhow::Result<()> {
        self.line.clear();
        if self.io.read_line(&mut self.line).await? == 0 {
            bail!("connection closed by the server");
        }
        Ok(())
    }
}

/// `GET path` with a bearer token.
pub(crate) fn get(path: &str, token: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n").into_bytes()
}

/// `POST path` with a bearer token and a JSON body.
pub(crate) fn post_json(path: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn responses_are_framed_by_content_length_on_a_kept_alive_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            for reply in [
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\netag: \"1\"\r\n\r\nhello",
                "HTTP/1.1 304 Not Modified\r\n\r\n",
            ] {
                let _ = socket.read(&mut buf).await.unwrap();
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        let mut conn = Conn::connect(port).await.unwrap();
        let first = conn.send(&get("/task/x", "t")).await.unwrap();
        assert_eq!((first.status, first.body.as_slice()), (200, b"hello".as_slice()));
        let second = conn.send(&get("/task/x", "t")).await.unwrap();
        assert_eq!((second.status, second.body.len()), (304, 0));
        server.await.unwrap();
    }

    #[test]
    fn requests_carry_the_token_and_the_body_length() {
        let post = String::from_utf8(post_json("/scrape/async", "abc", "{}")).unwrap();
        assert!(post.starts_with("POST /scrape/async HTTP/1.1\r\n"));
        assert!(
            post.contains("Authorization: Bearer abc\r\n") && post.ends_with("Content-Length: 2\r\n\r\n{}")
        );
    }
}
