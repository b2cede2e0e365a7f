//! Issue 12: the server of `examples/http_server.rs` (`axum::serve` with
//! `RequestScopeLayer`) on an ephemeral loopback port, driven by a real
//! HTTP/1 client: a normal request, a client that disconnects next to one
//! that does not, and a graceful shutdown with a short and a long request in
//! flight.
//!
//! What is observed is the tree: `root.live_children()` counts the requests
//! whose task has not terminated (a request's backends are its children, so
//! it terminates after them, G1). The backends of the requests that must be
//! cancelled sleep for a minute, longer than the hang guard: a missing
//! cancel fails the test. No assertion is on a duration.
#![cfg(feature = "axum")]
#![allow(clippy::disallowed_types)]

// `main` and `--smoke` are the example's own.
#[allow(dead_code)]
#[path = "../examples/http_server.rs"]
mod server;

#[path = "common/http.rs"]
mod http;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use http::http_get;
use server::BACKENDS;
use tasktree::{ScopedSpawner, TokioSpawner};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A scenario that takes longer than this has hung.
const HANG_GUARD: Duration = Duration::from_secs(30);

struct Running {
    addr: SocketAddr,
    root: ScopedSpawner<TokioSpawner>,
    stop: oneshot::Sender<()>,
    serve: JoinHandle<std::io::Result<()>>,
}

async fn start(grace: Duration) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a bound address");
    let root = ScopedSpawner::tokio();
    let (stop, stopped) = oneshot::channel::<()>();
    let stop_signal = async move {
        let _ = stopped.await;
    };
    let serve = tokio::spawn(server::serve(listener, root.clone(), stop_signal, grace));
    Running {
        addr,
        root,
        stop,
        serve,
    }
}

impl Running {
    /// Stops the server as Ctrl-C does, and waits for `serve` to return.
    async fn shut_down(self) {
        self.stop.send(()).expect("serve is running");
        self.serve
            .await
            .expect("serve does not panic")
            .expect("serve returns Ok");
        assert_eq!(self.root.live_children(), 0, "no request is left");
    }

    /// Waits until `n` requests are in the tree (a wait, not an assertion).
    async fn until_requests(&self, n: usize) {
        while self.root.live_children() != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn within<F: std::future::Future>(scenario: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, scenario)
        .await
        .expect("the scenario hung")
}

fn slow_body(ms: u64) -> String {
    (0..BACKENDS)
        .map(|n| format!("backend {n}: {ms} ms\n"))
        .collect()
}

/// (1) `/slow` answers with every backend's reply, and by the time the
/// response arrives its request's task (with its backends) has terminated;
/// `/` answers at once; a bad `ms` is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_answers_after_its_backends_terminated() {
    within(async {
        let server = start(Duration::from_secs(10)).await;
        let (status, body) = http_get(server.addr, "/slow?ms=50").await.expect("GET");
        assert_eq!((status, body), (StatusCode::OK, slow_body(50)));
        assert_eq!(server.root.live_children(), 0);

        let (status, body) = http_get(server.addr, "/").await.expect("GET /");
        assert_eq!((status, body.as_str()), (StatusCode::OK, "hello\n"));
        let (status, _) = http_get(server.addr, "/slow?ms=soon").await.expect("GET");
        assert_eq!(status, StatusCode::BAD_REQUEST);
        server.shut_down().await;
    })
    .await;
}

/// (2) A client that goes away mid-request: its request's task, with its
/// minute-long backends, terminates (it was cancelled, G3), while a request
/// in flight on another connection completes normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_only_its_own_request() {
    within(async {
        let server = start(Duration::from_secs(10)).await;
        let stay = tokio::spawn(http_get(server.addr, "/slow?ms=300"));
        let mut gone = TcpStream::connect(server.addr).await.expect("connect");
        gone.write_all(b"GET /slow?ms=60000 HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("send the request");
        server.until_requests(2).await;
        drop(gone);

        let (status, body) = stay.await.unwrap().expect("the other request succeeds");
        assert_eq!((status, body), (StatusCode::OK, slow_body(300)));
        server.until_requests(0).await; // the gone request was cancelled
        server.shut_down().await;
    })
    .await;
}

/// (3) Graceful shutdown with a short and a long request in flight: the
/// short one finishes within the grace period (200), the long one is
/// cancelled when it runs out (503), and `serve` returns with no task left
/// in the tree (G8); the listener is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_short_requests_and_cancels_long_ones() {
    within(async {
        let server = start(Duration::from_secs(3)).await;
        let addr = server.addr;
        let short = tokio::spawn(http_get(addr, "/slow?ms=500"));
        let long = tokio::spawn(http_get(addr, "/slow?ms=60000"));
        server.until_requests(2).await;

        server.shut_down().await;
        let (status, body) = short.await.unwrap().expect("the short request is answered");
        assert_eq!((status, body), (StatusCode::OK, slow_body(500)));
        let (status, _) = long.await.unwrap().expect("the long request is answered");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(TcpStream::connect(addr).await.is_err(), "not accepting");
    })
    .await;
}

/// (4) `/debug/tasks` with three requests in flight: the text lists each
/// request by method and URI with its three named backends under it, and
/// the JSON form reads back to a dump with the same tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_tasks_lists_the_requests_in_flight() {
    within(async {
        let server = start(Duration::from_secs(1)).await;
        let requests: Vec<_> = [60_000, 60_001, 60_002]
            .map(|ms| {
                let addr = server.addr;
                tokio::spawn(async move { http_get(addr, &format!("/slow?ms={ms}")).await })
            })
            .into();
        // Three requests, each with its backends spawned.
        while server.root.dump().tasks().len() != 3 * (1 + BACKENDS) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        let (status, text) = http_get(server.addr, "/debug/tasks").await.expect("GET");
        assert_eq!(status, StatusCode::OK);
        assert!(text.starts_with("13 tasks\n"), "{text}");
        for ms in [60_000, 60_001, 60_002] {
            assert!(
                text.contains(&format!("\"GET /slow?ms={ms}\": running")),
                "{text}"
            );
        }
        assert_eq!(text.matches("\"backend 2\": running").count(), 3, "{text}");
        assert!(text.contains("\"GET /debug/tasks\": running"), "{text}");

        let (status, json) = http_get(server.addr, "/debug/tasks?format=json")
            .await
            .expect("GET");
        assert_eq!(status, StatusCode::OK);
        let dump: tasktree::TaskDump = serde_json::from_str(&json).expect("a dump");
        let names: Vec<_> = dump.tasks().iter().filter_map(|task| task.name()).collect();
        assert_eq!(names.len(), 13, "{dump}");
        for task in dump.tasks() {
            if let Some(parent) = task.parent() {
                let parent = dump.tasks()[parent].name().unwrap();
                assert!(parent.starts_with("GET /slow?ms=600"), "{dump}");
                assert!(task.name().unwrap().starts_with("backend "), "{dump}");
            }
        }
        let (status, _) = http_get(server.addr, "/debug/tasks?format=xml")
            .await
            .expect("GET");
        assert_eq!(status, StatusCode::BAD_REQUEST);

        server.shut_down().await; // a second of grace, then the requests are cancelled
        for request in requests {
            let (status, _) = request.await.unwrap().expect("answered");
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        }
    })
    .await;
}
