//! Features `tower` and `axum` (issue 12): `RequestScopeLayer` under
//! `axum::serve` on a loopback port, driven by a real HTTP/1 client (hyper's,
//! or a raw socket where the client must go away mid-request).
//!
//! Every request is a task of the tree: the handler's children end with the
//! request (G1: cancelled and awaited before the response is sent), with
//! the client (G3), and with the root's graceful shutdown (G8). Waits are on
//! channels; the timeouts only turn a hang into a failure.
#![cfg(feature = "axum")]
#![allow(clippy::disallowed_types)]

#[path = "common/http.rs"]
mod http;

use std::convert::Infallible;
use std::future::{pending, Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use futures::FutureExt;
use http::http_get;
use tasktree::tower::{
    MissingRequestScope, RequestScope, RequestScopeLayer, RequestSpawner, ResponseFuture,
};
use tasktree::{ScopedSpawner, TokioSpawner};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// A scenario that takes longer than this has hung.
const HANG_GUARD: Duration = Duration::from_secs(30);

async fn within<F: Future>(scenario: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, scenario)
        .await
        .expect("the scenario hung")
}

/// `axum::serve` on `127.0.0.1:0`, shut down by `root`'s stop request.
struct Server {
    addr: SocketAddr,
    serve: JoinHandle<std::io::Result<()>>,
}

async fn serve(app: Router, root: &ScopedSpawner<TokioSpawner>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a bound address");
    let server = axum::serve(listener, app).with_graceful_shutdown(root.stop_requested());
    Server {
        addr,
        serve: tokio::spawn(server.into_future()),
    }
}

/// Events of the handlers, in the order they happened.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<&'static str>>>);

impl Log {
    fn push(&self, event: &'static str) {
        self.0.lock().unwrap().push(event);
    }

    fn entries(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().clone()
    }
}

/// Sends its event on the channel when dropped.
struct OnDrop(&'static str, mpsc::UnboundedSender<&'static str>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

/// Receives the next event, which must be `expected`.
async fn expect_event(events: &mut mpsc::UnboundedReceiver<&'static str>, expected: &str) {
    let event = events.recv().await.expect("a handler sends it");
    assert_eq!(event, expected);
}

/// (a) A handler's children are children of its request's task (one task
/// under the root, two children under the request); the one the handler
/// leaves running is cancelled, and has terminated, before the response is
/// sent: when the client has the response, the drop guard has run and the
/// root has no child left (G1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handlers_children_end_before_its_response() {
    within(async {
        let root = ScopedSpawner::tokio();
        let log = Log::default();
        let (l, r) = (log.clone(), root.clone());
        let handler = move |RequestSpawner(s): RequestSpawner| async move {
            let answer = s.spawn_task(async { 6 * 7 }).unwrap();
            let (tx, mut started) = mpsc::unbounded_channel();
            let guard = l.clone();
            s.spawn_task(async move {
                struct Logged(Log);
                impl Drop for Logged {
                    fn drop(&mut self) {
                        self.0.push("leftover child dropped");
                    }
                }
                let _logged = Logged(guard);
                tx.send(()).unwrap();
                pending::<()>().await
            })
            .unwrap()
            .detach();
            started.recv().await.unwrap();
            let answer = answer.await.unwrap();
            // The root's one child is this request; the request's one child
            // left is the leftover.
            let body = format!("{} {} {answer}", r.live_children(), s.live_children());
            l.push("handler returned");
            body
        };
        let app = Router::new()
            .route("/", get(handler))
            .layer(RequestScopeLayer::new(root.clone()));
        let server = serve(app, &root).await;

        let (status, body) = http_get(server.addr, "/").await.expect("GET /");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "1 1 42");
        assert_eq!(
            log.entries(),
            ["handler returned", "leftover child dropped"]
        );
        assert_eq!(root.live_children(), 0);

        root.shutdown_with_grace(Duration::from_secs(5))
            .unwrap()
            .await;
        server.serve.await.unwrap().expect("serve returns Ok");
    })
    .await;
}

/// (b) A client that goes away mid-request: hyper drops the response
/// future, which cancels the request's task: its handler's future is
/// dropped, then its child (G3, in the order of the termination phases).
/// The server serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_request() {
    within(async {
        let root = ScopedSpawner::tokio();
        let (tx, mut events) = mpsc::unbounded_channel();
        let handler = move |RequestSpawner(s): RequestSpawner| async move {
            let _handler = OnDrop("handler dropped", tx.clone());
            let child = OnDrop("child dropped", tx.clone());
            let running = tx.clone();
            s.spawn_task(async move {
                let _child = child;
                running.send("child running").unwrap();
                pending::<()>().await
            })
            .unwrap()
            .detach();
            pending::<&'static str>().await
        };
        let app = Router::new()
            .route("/stuck", get(handler))
            .route("/", get(|| async { "still serving" }))
            .layer(RequestScopeLayer::new(root.clone()));
        let server = serve(app, &root).await;

        let mut client = TcpStream::connect(server.addr).await.expect("connect");
        client
            .write_all(b"GET /stuck HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("send the request");
        expect_event(&mut events, "child running").await;
        assert_eq!(root.live_children(), 1);
        drop(client);
        expect_event(&mut events, "handler dropped").await;
        expect_event(&mut events, "child dropped").await;

        let (status, body) = http_get(server.addr, "/").await.expect("GET /");
        assert_eq!((status, body.as_str()), (StatusCode::OK, "still serving"));
        root.shutdown_with_grace(Duration::from_secs(5))
            .unwrap()
            .await;
        assert_eq!(root.live_children(), 0);
        server.serve.await.unwrap().expect("serve returns Ok");
        assert!(events.try_recv().is_err(), "no other event");
    })
    .await;
}

/// (c) One `shutdown_with_grace` on the root: axum stops accepting and
/// closes its connections, a request that reacts to the stop request drains
/// (its child flushes, 200), a stuck one is cancelled when the grace period
/// ends (its handler, then its child, dropped; answered 503), and the server
/// future returns with no task left in the tree (G8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_grace_drains_requests_and_stops_axum() {
    within(async {
        let root = ScopedSpawner::tokio();
        let (tx, mut events) = mpsc::unbounded_channel();
        let short_tx = tx.clone();
        let short = move |RequestSpawner(s): RequestSpawner| async move {
            let stop = s.stop_requested();
            let flush = s.spawn_task(async move {
                stop.await;
                "flushed"
            });
            short_tx.send("short running").unwrap();
            flush.unwrap().await.unwrap()
        };
        let stuck = move |RequestSpawner(s): RequestSpawner| async move {
            let _handler = OnDrop("stuck handler dropped", tx.clone());
            let child = OnDrop("stuck child dropped", tx.clone());
            s.spawn_task(async move {
                let _child = child;
                pending::<()>().await // ignores the stop request
            })
            .unwrap()
            .detach();
            tx.send("stuck running").unwrap();
            pending::<&'static str>().await
        };
        let app = Router::new()
            .route("/short", get(short))
            .route("/stuck", get(stuck))
            .layer(RequestScopeLayer::new(root.clone()));
        let server = serve(app, &root).await;

        let short = tokio::spawn(http_get(server.addr, "/short"));
        let stuck = tokio::spawn(http_get(server.addr, "/stuck"));
        let mut running = [events.recv().await, events.recv().await];
        running.sort();
        assert_eq!(running, [Some("short running"), Some("stuck running")]);

        let drained = root.shutdown_with_grace(Duration::from_secs(2)).unwrap();
        let (status, body) = short.await.unwrap().expect("the short request is answered");
        assert_eq!((status, body.as_str()), (StatusCode::OK, "flushed"));
        let (status, body) = stuck.await.unwrap().expect("the stuck request is answered");
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "")
        );
        expect_event(&mut events, "stuck handler dropped").await;
        expect_event(&mut events, "stuck child dropped").await;

        drained.await;
        assert_eq!(root.live_children(), 0);
        server.serve.await.unwrap().expect("serve returns Ok");
        // The listener is closed.
        assert!(TcpStream::connect(server.addr).await.is_err());
    })
    .await;
}

/// Once the root is closed, a request is answered 503 without calling the
/// inner service (and so without running its handler).
#[tokio::test]
async fn a_closed_root_answers_503_without_calling_the_handler() {
    let root = ScopedSpawner::tokio();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = Router::new()
        .route(
            "/",
            get(move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .layer(RequestScopeLayer::new(root.clone()));

    let response = app.clone().oneshot(Request::new(Body::empty())).await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    root.shutdown().await;
    let response = app.oneshot(Request::new(Body::empty())).await;
    assert_eq!(response.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// (d) Without the layer, the extractor rejects the request with 500 and a
/// message naming the layer; `Option<RequestSpawner>` is `None` there and
/// `Some` with the layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_layer_the_extractor_rejects() {
    within(async {
        let root = ScopedSpawner::tokio();
        let optional = |spawner: Option<RequestSpawner>| async move {
            if spawner.is_some() {
                "some"
            } else {
                "none"
            }
        };
        let bare = Router::new()
            .route("/reject", get(|_: RequestSpawner| async { "unreachable" }))
            .route("/optional", get(optional));
        let app = Router::new()
            .route("/optional", get(optional))
            .layer(RequestScopeLayer::new(root.clone()))
            .nest("/bare", bare);
        let server = serve(app, &root).await;

        let (status, body) = http_get(server.addr, "/bare/reject").await.expect("GET");
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.starts_with("no request scope: "), "{body}");
        assert!(body.contains("RequestScopeLayer"), "{body}");
        let (_, body) = http_get(server.addr, "/bare/optional").await.expect("GET");
        assert_eq!(body, "none");
        let (_, body) = http_get(server.addr, "/optional").await.expect("GET");
        assert_eq!(body, "some");

        root.shutdown_with_grace(Duration::from_secs(5))
            .unwrap()
            .await;
        server.serve.await.unwrap().expect("serve returns Ok");
    })
    .await;
}

/// A handler's panic is resumed by the response future, as if the handler
/// had run on the caller's task; the request's task has terminated by then.
#[tokio::test]
async fn a_handlers_panic_is_resumed() {
    let root = ScopedSpawner::tokio();
    let inner = tower::service_fn(|_: Request<Body>| async {
        if true {
            panic!("handler failed");
        }
        Ok::<_, Infallible>(axum::http::Response::new(Body::empty()))
    });
    let response = RequestScope::new(inner, root.clone()).oneshot(Request::new(Body::empty()));
    let panic = std::panic::AssertUnwindSafe(response)
        .catch_unwind()
        .await
        .expect_err("the panic is resumed");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"handler failed"));
    assert_eq!(root.live_children(), 0);
}

/// axum needs its services and their futures to be `Send`.
#[test]
fn send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<RequestSpawner>();
    send_sync::<RequestScopeLayer>();
    send_sync::<RequestScope<Router>>();
    send::<ResponseFuture<Body, Infallible>>();
    send_sync::<MissingRequestScope>();
}
