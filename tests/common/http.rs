//! A real HTTP/1 client for the loopback tests (hyper's, one connection per
//! request): included with `#[path = "common/http.rs"] mod http;` by the
//! tests that need it, so the other tests do not build it.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `GET path` on a new connection to `addr`: the status and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(StatusCode, String), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let request = Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let exchange = async move {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        // `sender` is dropped here, which lets `connection` end.
        Ok::<_, BoxError>((status, String::from_utf8(body.to_vec())?))
    };
    // `connection` does the I/O, until the exchange is over or the server
    // closes the connection; the exchange's result says which.
    let (_, reply) = tokio::join!(connection, exchange);
    reply
}
