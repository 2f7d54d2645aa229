//! The HTTP/1 upgrade hook: where a socket's connection leaves actix-http's dispatcher.
//!
//! Why: the dispatcher gives every connection an 8 KiB read buffer and an 8 KiB write buffer at
//! accept and keeps both for the connection's life, and nothing in actix-http 3 frees them. A
//! socket served as a response body keeps them while it idles (~8 KiB of them resident), more
//! than the rest of the socket together.
//!
//! actix-http hands every request that asks for a WebSocket upgrade (`Upgrade: websocket`, and
//! `CONNECT`) to [`service`] instead, with the connection and both buffers. It runs the request
//! through the same actix-web App as every other request (each middleware, the handler's checks),
//! with [`Upgradable`] in its extensions, and writes the answer. For a 101 carrying a
//! [`Takeover`] it keeps only the TCP stream, the bytes the client sent behind its request head
//! and the encoded 101 (which goes out with the socket's first frame, in one write), drops the
//! buffers, and runs the socket on the raw stream, inside this future: the
//! server still counts the connection and its graceful shutdown still waits for it. Any other
//! answer is written whole and the connection closed, as actix does after answering an upgrade
//! request.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::body::MessageBody;
use actix_http::h1::{Codec, Message, SendResponse};
use actix_http::{ConnectionType, Request, Response, StatusCode};
use actix_service::{Service, ServiceFactory, fn_factory, fn_service};
use actix_web::dev::{AppConfig, ServiceResponse};
use actix_web::{HttpMessage as _, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::future::LocalBoxFuture;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// How long a refusal of an upgrade request may take to reach the kernel, and the connection to
/// shut down after it (a 101 is the socket's to write, under its own limits).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// In the extensions of a request that came through the upgrade hook: only such a request's
/// connection can be taken over, so only then may a handler answer 101 with a [`Takeover`].
#[derive(Debug, Clone, Copy)]
pub struct Upgradable;

/// True when the request came through the upgrade hook.
pub fn is_upgradable(req: &HttpRequest) -> bool {
    req.extensions().contains::<Upgradable>()
}

/// In a 101's extensions: what runs on the connection, given the stream, the bytes the client
/// sent behind its request (the first frames, at times) and the 101 itself, encoded but not
/// yet written: the socket sends it before (or with) its first frame.
pub struct Takeover(Box<dyn FnOnce(TcpStream, Bytes, BytesMut) -> LocalBoxFuture<'static, ()>>);

impl Takeover {
    /// A takeover that runs `run` on the connection.
    pub fn new<F>(run: impl FnOnce(TcpStream, Bytes, BytesMut) -> F + 'static) -> Self
    where
        F: Future<Output = ()> + 'static,
    {
        Self(Box::new(move |stream, early, head| Box::pin(run(stream, early, head))))
    }
}

impl std::fmt::Debug for Takeover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Takeover")
    }
}

/// The upgrade service actix-http calls, around `app` (an instance of the App built for the
/// same worker, so the same middleware and routes).
pub fn service<S, B>(
    app: S,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, Codec>),
    Config = (),
    Response = (),
    Error = actix_http::Error,
    InitError = (),
>
where
    S: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    S::Service: 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    fn_factory(move || {
        let building = app.new_service(AppConfig::default());
        async move {
            let app = Rc::new(building.await?);
            Ok::<_, ()>(fn_service(move |(req, framed): (Request, Framed<TcpStream, Codec>)| {
                let app = app.clone();
                // Boxed: actix-http keeps this future in every connection's dispatcher state.
                Box::pin(async move {
                    // The answer is boxed too: the App's future is large, and a socket's
                    // connection future lives as long as the socket.
                    if let Some((takeover, stream, early, head)) = Box::pin(answer(app, req, framed)).await {
                        (takeover.0)(stream, early, head).await;
                    }
                    Ok::<_, actix_http::Error>(())
                }) as LocalBoxFuture<'static, _>
            }))
        }
    })
}

/// Runs the request through the App and writes its answer. Returns the connection to take
/// over after a 101 with a [`Takeover`], with the 101 encoded for it to send; otherwise writes
/// the answer and closes the connection.
async fn answer<S, B>(
    app: Rc<S>,
    req: Request,
    mut framed: Framed<TcpStream, Codec>,
) -> Option<(Takeover, TcpStream, Bytes, BytesMut)>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    req.extensions_mut().insert(Upgradable);
    let mut response: Response<_> = match app.call(req).await {
        Ok(response) => Response::from(response).map_into_boxed_body(),
        Err(error) => Response::from(error.error_response()),
    };
    let takeover = response.extensions_mut().remove::<Takeover>();
    let (mut response, body) = response.into_parts();
    match takeover {
        Some(takeover) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
            // Encoded as `SendResponse` would (the head, then the end of its empty body), but
            // not written: the socket's first frame takes it along, one write and one segment.
            let size = body.size();
            Pin::new(&mut framed).write(Message::Item((response, size))).ok()?;
            Pin::new(&mut framed).write(Message::Chunk(None)).ok()?;
            let parts = framed.into_parts();
            // Right-sized copies, so the 8 KiB buffers go.
            let early = Bytes::copy_from_slice(&parts.read_buf);
            Some((takeover, parts.io, early, BytesMut::from(&parts.write_buf[..])))
        }
        _ => {
            // A body that fails (the edge's answer to a smuggled request) means: close without
            // writing anything, as actix does.
            let Ok(body) = actix_web::body::to_bytes(body).await else { return None };
            response.head_mut().set_connection_type(ConnectionType::Close);
            let send = SendResponse::new(framed, response.set_body(body));
            if let Ok(Ok(framed)) = tokio::time::timeout(WRITE_TIMEOUT, send).await {
                let mut stream = framed.into_parts().io;
                let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.shutdown()).await;
            }
            None
        }
    }
}
