//! Issue 6: the HTTP server of `examples/http_connections.rs`, on an ephemeral
//! loopback port, driven by a real HTTP/1 client. Each connection is a task
//! of the tree, each `/slow` request a scope under it with three backends.
//!
//! The assertions are on counts and on the order of the server's log, never
//! on durations; the timeouts only turn a hang into a failure.
#![allow(clippy::disallowed_types)]

// `main`, its arguments and `--smoke` are the example's own.
#[allow(dead_code)]
#[path = "../examples/http_connections.rs"]
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use server::{http_get, Event, Events, Kind, Summary, BACKENDS};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A scenario that takes longer than this has hung.
const HANG_GUARD: Duration = Duration::from_secs(20);
/// A grace period that the scenarios without a shutdown race never reach.
const LONG_GRACE: Duration = Duration::from_secs(10);

/// A server running [`server::serve`] on `127.0.0.1:0`.
struct Running {
    addr: SocketAddr,
    events: Events,
    stop: oneshot::Sender<()>,
    serve: JoinHandle<Summary>,
}

async fn start(grace: Duration) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let events = Events::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let serve = tokio::spawn(server::serve(listener, shutdown, grace, events.clone()));
    Running {
        addr,
        events,
        stop,
        serve,
    }
}

impl Running {
    /// Triggers the graceful shutdown, and waits for `serve` to return.
    async fn shut_down(self) -> Summary {
        self.stop.send(()).expect("serve is running");
        self.serve.await.expect("serve does not panic")
    }
}

/// Runs a scenario, failing it if it hangs.
async fn within<F: Future>(scenario: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, scenario)
        .await
        .expect("the scenario hung")
}

/// The body of `/slow?ms={ms}`.
fn slow_body(ms: u64) -> String {
    (0..BACKENDS)
        .map(|n| format!("backend {n}: {ms} ms\n"))
        .collect()
}

/// The connection that served the request tagged `tag`.
fn conn_of(log: &[Event], tag: &str) -> u64 {
    log.iter()
        .find(|event| event.at.tag == tag)
        .map(|event| event.at.conn)
        .expect("the request reached the server")
}

/// The positions in `log` of the events that `pick` selects.
fn positions(log: &[Event], pick: impl Fn(&Event) -> bool) -> Vec<usize> {
    (0..log.len()).filter(|&i| pick(&log[i])).collect()
}

/// The position of the one event that `pick` selects.
fn position(log: &[Event], pick: impl Fn(&Event) -> bool) -> usize {
    match positions(log, pick)[..] {
        [at] => at,
        ref found => panic!("expected one such event, found {}: {log:#?}", found.len()),
    }
}

fn is_backend_end(event: &Event) -> bool {
    matches!(
        event.kind,
        Kind::BackendFinished(_) | Kind::BackendCancelled(_)
    )
}

/// (1) A `/slow` request answers 200 with every backend's reply, and by the
/// time the response arrives all its backends have finished: none cancelled,
/// none still running, each `finished` logged before the scope closed (G1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_answers_after_all_its_backends_finished() {
    within(async {
        let server = start(LONG_GRACE).await;
        let events = server.events.clone();

        let (status, body) = http_get(server.addr, "/slow?ms=50&tag=normal")
            .await
            .expect("the request succeeds");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, slow_body(50));
        // Read as soon as the response is in: nothing of the request is left.
        let normal = events.counts_for("normal");
        assert_eq!(normal.scopes_opened, 1);
        assert_eq!(normal.scopes_closed, 1);
        assert_eq!(normal.scopes_dropped, 0);
        assert_eq!(normal.backends_started, BACKENDS);
        assert_eq!(normal.backends_finished, BACKENDS);
        assert_eq!(normal.backends_cancelled, 0);
        assert_eq!(normal.backends_live(), 0);
        let log = events.log();
        let closed = position(&log, |e| {
            e.at.tag == "normal" && e.kind == Kind::ScopeClosed
        });
        let ends = positions(&log, |e| e.at.tag == "normal" && is_backend_end(e));
        assert_eq!(ends.len(), BACKENDS);
        assert!(ends.iter().all(|&end| end < closed), "{log:#?}");

        // The other routes: `/` answers at once, a bad `ms` opens no scope.
        let (status, body) = http_get(server.addr, "/").await.expect("GET /");
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("hello from connection "), "{body}");
        let (status, _) = http_get(server.addr, "/slow?ms=soon&tag=bad")
            .await
            .expect("GET /slow?ms=soon");
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(events.counts_for("bad").scopes_opened, 0);

        let summary = server.shut_down().await;
        assert_eq!(summary.connections, 3);
        assert_eq!(summary.live_children, 0);
        let all = events.counts();
        assert_eq!(all.connections_live(), 0);
        assert_eq!(all.backends_started, BACKENDS);
        assert_eq!(all.backends_live(), 0);
    })
    .await;
}

/// (2) A client that goes away mid-request: every backend of its request is
/// cancelled (its drop guard runs), and the connection's `done` comes after
/// all of them (G1, G3); a request in flight on another connection at the
/// same time completes normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_only_its_own_backends() {
    within(async {
        let server = start(LONG_GRACE).await;
        let events = server.events.clone();

        let stay = tokio::spawn(http_get(server.addr, "/slow?ms=300&tag=stay"));
        // A client on a raw socket: it sends its request, and goes away once
        // the backends run. They would sleep for a minute.
        let mut gone = TcpStream::connect(server.addr).await.expect("connect");
        gone.write_all(b"GET /slow?ms=60000&tag=gone HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .expect("send the request");
        events
            .wait_until(|events| {
                events.counts_for("gone").backends_started == BACKENDS
                    && events.counts_for("stay").backends_started == BACKENDS
            })
            .await;
        drop(gone);

        let gone_conn = conn_of(&events.log(), "gone");
        events
            .wait_until(|events| {
                let log = events.log();
                log.iter()
                    .any(|e| e.at.conn == gone_conn && e.kind == Kind::ConnectionDone)
            })
            .await;
        let gone_counts = events.counts_for("gone");
        assert_eq!(gone_counts.backends_cancelled, BACKENDS);
        assert_eq!(gone_counts.backends_finished, 0);
        assert_eq!(gone_counts.scopes_dropped, 1);
        assert_eq!(gone_counts.scopes_closed, 0);
        let log = events.log();
        let done = position(&log, |e| {
            e.at.conn == gone_conn && e.kind == Kind::ConnectionDone
        });
        let cancels = positions(&log, |e| {
            e.at.tag == "gone" && matches!(e.kind, Kind::BackendCancelled(_))
        });
        assert_eq!(cancels.len(), BACKENDS);
        assert!(cancels.iter().all(|&cancel| cancel < done), "{log:#?}");

        let (status, body) = stay
            .await
            .expect("the client task does not panic")
            .expect("the other request succeeds");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, slow_body(300));
        let stay_counts = events.counts_for("stay");
        assert_eq!(stay_counts.backends_finished, BACKENDS);
        assert_eq!(stay_counts.backends_cancelled, 0);
        assert_eq!(stay_counts.scopes_closed, 1);

        let summary = server.shut_down().await;
        assert_eq!(summary.connections, 2);
        assert_eq!(summary.live_children, 0);
        let all = events.counts();
        assert_eq!(all.connections_live(), 0);
        assert_eq!(all.backends_started, 2 * BACKENDS);
        assert_eq!(all.backends_live(), 0);
    })
    .await;
}

/// (3) Graceful shutdown with a short and a long request in flight: the
/// short one finishes within the grace period and answers 200; the long one
/// is cancelled when the period runs out (its backends' drop guards run,
/// after the period, and its client sees the connection close); `serve`
/// returns with no task left in the tree (G8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_short_requests_and_cancels_long_ones() {
    within(async {
        let server = start(Duration::from_secs(2)).await;
        let events = server.events.clone();

        let short = tokio::spawn(http_get(server.addr, "/slow?ms=100&tag=short"));
        let long = tokio::spawn(http_get(server.addr, "/slow?ms=60000&tag=long"));
        events
            .wait_until(|events| {
                events.counts_for("short").backends_started == BACKENDS
                    && events.counts_for("long").backends_started == BACKENDS
            })
            .await;

        let summary = server.shut_down().await;
        assert_eq!(summary.connections, 2);
        assert_eq!(summary.live_children, 0, "no task is left in the tree");

        let (status, body) = short
            .await
            .expect("the client task does not panic")
            .expect("the short request finishes within the grace period");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, slow_body(100));
        let error = long
            .await
            .expect("the client task does not panic")
            .expect_err("the long request is cut off");
        println!("the long request's client saw: {error}");

        let all = events.counts();
        assert_eq!(all.connections_live(), 0);
        assert_eq!(all.backends_started, 2 * BACKENDS);
        assert_eq!(
            all.backends_started,
            all.backends_finished + all.backends_cancelled
        );
        let short_counts = events.counts_for("short");
        assert_eq!(short_counts.backends_finished, BACKENDS);
        assert_eq!(short_counts.backends_cancelled, 0);
        assert_eq!(short_counts.scopes_closed, 1);
        let long_counts = events.counts_for("long");
        assert_eq!(long_counts.backends_finished, 0);
        assert_eq!(long_counts.backends_cancelled, BACKENDS);
        assert_eq!(long_counts.scopes_dropped, 1);

        // In order: the stop request, then (once the grace period is over)
        // the long backends' cancellation, then that connection's `done`;
        // the drained tree last.
        let log = events.log();
        let requested = position(&log, |e| matches!(e.kind, Kind::ShutdownRequested { .. }));
        let long_conn = conn_of(&log, "long");
        let long_done = position(&log, |e| {
            e.at.conn == long_conn && e.kind == Kind::ConnectionDone
        });
        let cancels = positions(&log, |e| {
            e.at.tag == "long" && matches!(e.kind, Kind::BackendCancelled(_))
        });
        assert!(
            cancels
                .iter()
                .all(|&cancel| requested < cancel && cancel < long_done),
            "{log:#?}"
        );
        assert_eq!(
            log.last().map(|e| &e.kind),
            Some(&Kind::Drained { live_children: 0 })
        );
        // Both connections were asked to stop; the short one then closed
        // cleanly, the long one was dropped without closing.
        let short_conn = conn_of(&log, "short");
        for conn in [short_conn, long_conn] {
            position(&log, |e| e.at.conn == conn && e.kind == Kind::Stopping);
        }
        position(&log, |e| {
            e.at.conn == short_conn && e.kind == Kind::Closed { error: None }
        });
        assert!(positions(&log, |e| e.at.conn == long_conn
            && matches!(e.kind, Kind::Closed { .. }))
        .is_empty());
    })
    .await;
}
