//! `axum::serve` with a request scope per request (features `axum` and
//! `serde`): every
//! request is a task of the tree, and what its handler spawns is cancelled
//! and awaited when the request ends, when its client goes away, or when a
//! shutdown's grace period runs out.
//!
//! - `GET /` answers at once; `GET /slow?ms=300` fans out to three backends
//!   that each sleep `ms` milliseconds, in parallel.
//! - `GET /debug/tasks` shows the live tasks of the tree, each request named
//!   by its method and URI: an indented tree, or JSON with `?format=json`.
//! - Ctrl-C: axum stops accepting, requests get `--grace SECS` (default 5) to
//!   finish, the rest are cancelled (answered 503), and the server exits once
//!   the tree has drained.
//!
//! ```sh
//! cargo run --example http_server -- --grace 1   # on 127.0.0.1:3000
//! curl -s 'localhost:3000/slow?ms=2000'          # Ctrl-C the curl: the backends are cancelled
//! curl -s 'localhost:3000/debug/tasks'           # what is running now
//! cargo run --example http_server -- --smoke     # serves itself one request, shuts down, prints `ok`
//! ```
//!
//! `examples/http_connections.rs` also makes each connection a task of the tree.
use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{extract::Query, routing::get, Router};
use tasktree::tower::{RequestScopeLayer, RequestSpawner};
use tasktree::{ScopedSpawner, TokioSpawner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How many backends a `/slow` request fans out to.
pub const BACKENDS: usize = 3;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|arg| arg == "--smoke");
    let grace = args.iter().skip_while(|arg| *arg != "--grace").nth(1);
    let grace = grace.map_or(5.0, |secs| secs.parse().expect("--grace SECS"));
    let port = if smoke { 0 } else { 3000 };
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let addr = listener.local_addr().expect("a bound address");
    let root = ScopedSpawner::tokio();
    let stop = async move {
        if smoke {
            let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let request = "GET /slow?ms=50 HTTP/1.1\r\nhost: smoke\r\nconnection: close\r\n\r\n";
            client.write_all(request.as_bytes()).await.expect("send");
            let mut reply = String::new();
            client.read_to_string(&mut reply).await.expect("receive");
            let body = "backend 0: 50 ms\nbackend 1: 50 ms\nbackend 2: 50 ms\n";
            assert!(
                reply.starts_with("HTTP/1.1 200") && reply.ends_with(body),
                "{reply}"
            );
        } else {
            println!("listening on http://{addr}; try: curl -s 'localhost:3000/slow?ms=300'");
            tokio::signal::ctrl_c().await.expect("a Ctrl-C handler");
        }
    };
    let grace = Duration::from_secs_f64(grace);
    serve(listener, root.clone(), stop, grace)
        .await
        .expect("serve");
    assert_eq!(root.live_children(), 0); // every request's task has terminated
    println!("{}", if smoke { "ok" } else { "drained" });
}

/// Serves until `stop`, then shuts `root` down with `grace`: axum stops
/// accepting (its signal is the root's stop request) and closes each
/// connection once its request is answered; the tree cancels the requests
/// still running when `grace` has passed. Returns once both are done.
pub async fn serve(
    listener: TcpListener,
    root: ScopedSpawner<TokioSpawner>,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let server = axum::serve(listener, app(root.clone()));
    let server = server.with_graceful_shutdown(root.stop_requested());
    let shutdown = async {
        stop.await;
        root.shutdown_with_grace(grace).expect("a timer").await;
    };
    tokio::join!(server.into_future(), shutdown).0
}

/// The routes; each request is a child task of `root`, named for task
/// dumps by its method and URI.
pub fn app(root: ScopedSpawner<TokioSpawner>) -> Router {
    let tree = root.clone();
    Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/slow", get(slow))
        .route(
            "/debug/tasks",
            get(move |Query(query)| async move { debug_tasks(&tree, &query) }),
        )
        .layer(RequestScopeLayer::new(root).name_requests())
}

/// The live tasks under `root` (this request's own among them): an
/// indented tree, or JSON with `?format=json`.
fn debug_tasks(root: &ScopedSpawner<TokioSpawner>, query: &HashMap<String, String>) -> Response {
    let dump = root.dump();
    match query.get("format").map(String::as_str) {
        None | Some("text") => dump.to_string().into_response(),
        Some("json") => {
            let json = serde_json::to_string(&dump).expect("a dump serialises");
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
        Some(_) => (StatusCode::BAD_REQUEST, "format: text or json\n").into_response(),
    }
}

/// Three backends in parallel, children of this request. Had the handler
/// returned early (`?`), those still running would be cancelled and awaited
/// before the response went out.
async fn slow(
    RequestSpawner(s): RequestSpawner,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, StatusCode> {
    let ms = query.get("ms").map_or(Ok(300), |ms| ms.parse());
    let ms = ms.map_err(|_| StatusCode::BAD_REQUEST)?;
    let unavailable = |_| StatusCode::SERVICE_UNAVAILABLE; // shutting down
    let spawn = |n| {
        let named = s.named(format!("backend {n}"));
        named.spawn_task(backend(n, ms)).map_err(unavailable)
    };
    let backends = (0..BACKENDS).map(spawn).collect::<Result<Vec<_>, _>>()?;
    let mut replies = String::new();
    for backend in backends {
        replies += &backend.await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    }
    Ok(replies)
}

async fn backend(n: usize, ms: u64) -> String {
    struct Cancelled(usize); // dropped before the sleep ended: cancelled
    impl Drop for Cancelled {
        fn drop(&mut self) {
            println!("backend {}: cancelled", self.0);
        }
    }
    let cancelled = Cancelled(n);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    std::mem::forget(cancelled); // finished (forgetting a usize leaks nothing)
    format!("backend {n}: {ms} ms\n")
}
