//! An HTTP server whose connections and requests are tasks of one tree.
//!
//! ```text
//! root                      ScopedSpawner::tokio(), owned by `serve`
//! ├─ connection 1           root.spawn(..): hyper serves the connection in it
//! │  └─ request scope       conn_spawner.try_scope(..), opened by the handler
//! │     ├─ backend 0        s.spawn_task(..)
//! │     ├─ backend 1
//! │     └─ backend 2
//! └─ connection 2
//! ```
//!
//! axum's `Router` is served connection by connection with hyper's HTTP/1
//! (the "serve with hyper" pattern: `TokioIo`, `TowerToHyperService`), so
//! that each connection runs as a task of the tree. A small service wrapper
//! puts the connection's spawner into each request's extensions; a handler
//! opens its request's scope from it, so the scope is a child of the
//! connection's task:
//!
//! - `GET /` answers at once.
//! - `GET /slow?ms=300` fans out to three backends that each sleep `ms`
//!   milliseconds, in parallel, and answers once all three are done.
//!   `&tag=NAME` labels the request's lines in the log.
//! - A client that goes away mid-request: hyper notices, and the connection's
//!   future ends; the connection task's termination cancels the request scope
//!   and its backends, and `connection N: done` is printed only after every
//!   backend's drop guard has run.
//! - Ctrl-C (or SIGTERM): graceful shutdown. The server stops accepting, asks
//!   every connection to stop (hyper finishes the request in flight, then
//!   closes), gives them a grace period (5 s, `--grace SECS`), cancels what is
//!   still running when it runs out, and exits once the tree has drained.
//!
//! `examples/http_server.rs` is the short form, on `axum::serve` with
//! `tasktree::tower::RequestScopeLayer`: there every request is a task of the
//! tree, but the connections are axum's own tokio tasks. This example keeps
//! what that one cannot show: connections as tasks of the tree, so that the
//! grace period of a shutdown bounds the connections too (one stuck in a slow
//! write is cancelled with the rest), and a connection's `done` runs after
//! every request it served has terminated.
//!
//! Every step of the tree's life is printed: connections accepted and done,
//! request scopes opened, closed or dropped, backends started, finished or
//! cancelled (from a drop guard).
//!
//! ```sh
//! cargo run --example http_connections               # 127.0.0.1:3000 ($PORT, or `-- 8080`, `-- 0`)
//! curl -s 'localhost:3000/slow?ms=2000'              # then Ctrl-C the curl: the backends are cancelled
//! cargo run --example http_connections -- --grace 1  # Ctrl-C the server during a slow request
//! cargo run --example http_connections -- --smoke    # serves itself one request, shuts down, prints `ok`
//! ```
//!
//! `tests/http_connections.rs` includes this file as a module and drives
//! [`serve`] with a real client over loopback.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError, TaskError, TokioSpawner, TryScope};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt;

/// How many backends a `/slow` request fans out to.
pub const BACKENDS: usize = 3;
/// How long each backend of a `/slow` request sleeps without `?ms=`.
const DEFAULT_MS: u64 = 300;
const DEFAULT_PORT: u16 = 3000;
const DEFAULT_GRACE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    let config = Config::from_args().unwrap_or_else(|message| {
        eprintln!("{message}\n\n{USAGE}");
        std::process::exit(2)
    });
    if config.smoke {
        smoke().await;
        println!("ok");
        return;
    }
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .unwrap_or_else(|error| {
            eprintln!("cannot listen on 127.0.0.1:{}: {error}", config.port);
            std::process::exit(1)
        });
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    println!(
        "listening on http://{addr} (grace period {:?})",
        config.grace
    );
    println!("try: curl -s 'http://{addr}/slow?ms=300'   (Ctrl-C to shut down)");
    // Prints and counts, but keeps no log: the server may run for long.
    let events = Events::without_log();
    let summary = serve(listener, shutdown_signal(), config.grace, events).await;
    println!(
        "served {} connection(s); {} task(s) left",
        summary.connections, summary.live_children
    );
}

const USAGE: &str = "usage: http_connections [PORT] [--grace SECS] [--smoke]
  PORT          port on 127.0.0.1 (default: $PORT, else 3000; 0 picks a free one)
  --grace SECS  how long in-flight requests may run after Ctrl-C (default 5)
  --smoke       serve one request to itself, shut down, check that the tree drained, print `ok`";

struct Config {
    port: u16,
    grace: Duration,
    smoke: bool,
}

impl Config {
    fn from_args() -> Result<Self, String> {
        let mut config = Config {
            port: DEFAULT_PORT,
            grace: DEFAULT_GRACE,
            smoke: false,
        };
        if let Ok(port) = std::env::var("PORT") {
            config.port = port.parse().map_err(|_| format!("bad PORT: {port}"))?;
        }
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--smoke" => config.smoke = true,
                "--grace" => {
                    let secs = args.next().ok_or("--grace needs a number of seconds")?;
                    config.grace = secs
                        .parse::<f64>()
                        .ok()
                        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                        .ok_or(format!("bad --grace: {secs}"))?;
                }
                "-h" | "--help" => return Err("http_connections: tasktree behind axum".into()),
                port => config.port = port.parse().map_err(|_| format!("bad port: {port}"))?,
            }
        }
        Ok(config)
    }
}

/// Resolves on Ctrl-C, or on SIGTERM on unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    #[cfg(unix)]
    let terminate = terminate.recv();
    #[cfg(not(unix))]
    let terminate = std::future::pending::<Option<()>>();
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            result.expect("install the Ctrl-C handler");
            println!("\nCtrl-C: shutting down");
        }
        _ = terminate => println!("SIGTERM: shutting down"),
    }
}

/// `--smoke`: serves one `/slow` request to itself over loopback, shuts
/// down, and checks that every task of the tree has terminated. Panics if
/// anything is off, or if it takes more than 20 s.
async fn smoke() {
    let run = async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let events = Events::new();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = serve(
            listener,
            async move {
                let _ = stopped.await;
            },
            DEFAULT_GRACE,
            events.clone(),
        );
        let client = async move {
            let reply = http_get(addr, "/slow?ms=50&tag=smoke").await;
            let _ = stop.send(());
            reply
        };
        let (summary, reply) = tokio::join!(server, client);
        let (status, body) = reply.expect("the request succeeds");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            "backend 0: 50 ms\nbackend 1: 50 ms\nbackend 2: 50 ms\n"
        );
        assert_eq!(summary.live_children, 0, "no task is left in the tree");
        let all = events.counts();
        assert_eq!(all.connections_live(), 0);
        assert_eq!(all.backends_started, BACKENDS);
        assert_eq!(all.backends_finished, BACKENDS);
        assert_eq!(all.backends_cancelled, 0);
        assert_eq!(all.backends_live(), 0);
        assert_eq!(events.counts_for("smoke").scopes_closed, 1);
        let last = events.log().pop().map(|event| event.kind);
        assert_eq!(last, Some(Kind::Drained { live_children: 0 }));
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the smoke run finishes within 20 s");
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// What [`serve`] reports when it returns.
#[derive(Debug)]
pub struct Summary {
    /// Connections accepted.
    pub connections: u64,
    /// The root's `live_children()` once the shutdown has completed: 0.
    pub live_children: usize,
}

/// Serves HTTP/1 on `listener` until `shutdown` resolves, then shuts down
/// gracefully: stops accepting, asks every connection to stop, waits up to
/// `grace` for them, cancels the rest, and returns once the whole tree has
/// terminated.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    events: Events,
) -> Summary {
    let root = ScopedSpawner::tokio();
    let app = app(events.clone());
    let mut shutdown = pin!(shutdown);
    let mut connections = 0;
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, a connection reset before
                    // accept: wait a little, and go on.
                    events.note(format!("accept failed: {error}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        connections += 1;
        let conn = Conn {
            id: connections,
            stream,
            peer,
        };
        spawn_connection(&root, conn, app.clone(), &events);
    }
    drop(listener);
    events.record(Event::server(Kind::ShutdownRequested { grace }));
    root.shutdown_with_grace(grace).unwrap().await;
    let live_children = root.live_children();
    events.record(Event::server(Kind::Drained { live_children }));
    Summary {
        connections,
        live_children,
    }
}

/// The routes. Handlers find their connection's task in the request's
/// extensions ([`Connection`]).
fn app(events: Events) -> Router {
    Router::new()
        .route("/", get(hello))
        .route("/slow", get(slow))
        .with_state(events)
}

/// An accepted TCP connection.
struct Conn {
    id: u64,
    stream: TcpStream,
    peer: SocketAddr,
}

/// What a handler knows of the connection it serves: a clone of the
/// connection task's spawner, under which it opens its request scope.
#[derive(Clone)]
pub struct Connection {
    id: u64,
    spawner: ScopedSpawner<TokioSpawner>,
}

/// Spawns `conn` as a child of the root, and serves it there.
fn spawn_connection(root: &ScopedSpawner<TokioSpawner>, conn: Conn, app: Router, events: &Events) {
    let Conn { id, stream, peer } = conn;
    let (task_events, done_events) = (events.clone(), events.clone());
    let spawned = root.spawn(
        move |conn_spawner| {
            // Called at once, before the task runs: `accepted` comes first.
            task_events.record(Event::connection(id, Kind::Accepted { peer }));
            let stop = conn_spawner.clone();
            let connection = Connection {
                id,
                spawner: conn_spawner,
            };
            // The small wrapper that hands the connection to the handlers.
            let service = app.map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(connection.clone());
                request
            });
            async move {
                let http = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new()) // for hyper's 30 s header read timeout
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                let mut http = pin!(http);
                let result = tokio::select! {
                    result = http.as_mut() => result,
                    // Graceful shutdown: hyper finishes the request in flight,
                    // answers it with `connection: close`, and ends (an idle
                    // connection ends at once).
                    () = stop.stop_requested() => {
                        task_events.record(Event::connection(id, Kind::Stopping));
                        http.as_mut().graceful_shutdown();
                        http.await
                    }
                };
                let error = result.err().map(|error| error.to_string());
                task_events.record(Event::connection(id, Kind::Closed { error }));
                // The task's future ends here; its termination cancels and
                // awaits whatever the connection's requests left behind.
            }
        },
        move || done_events.record(Event::connection(id, Kind::ConnectionDone)),
    );
    if let Err(error) = spawned {
        // The root is open until the accept loop ends, so this does not
        // happen; the stream is dropped, which closes the connection.
        events.note(format!("connection {id}: not served: {error}"));
    }
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

async fn hello(Extension(conn): Extension<Connection>) -> String {
    format!("hello from connection {}\n", conn.id)
}

/// `GET /slow?ms=300&tag=NAME`: three backends in parallel, in a scope that
/// is a child of the connection's task.
async fn slow(
    State(events): State<Events>,
    Extension(conn): Extension<Connection>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<String, AppError> {
    let ms = match params.get("ms") {
        None => DEFAULT_MS,
        Some(ms) => ms.parse().map_err(|_| AppError::BadMs)?,
    };
    let at = At {
        conn: conn.id,
        req: events.next_request(),
        tag: params.get("tag").cloned().unwrap_or_default(),
    };
    // Logs `handler dropped before its scope closed` if this future is
    // dropped (the client went away, the grace period ran out) first.
    let scope = ScopeGuard::open(&events, &at, ms);
    let (body_events, body_at) = (events.clone(), at.clone());
    let replies = conn
        .spawner
        .try_scope(|s: TryScope<AppError>| async move {
            let mut handles = Vec::new();
            for n in 0..BACKENDS {
                let backend = backend(body_events.clone(), body_at.clone(), n, ms);
                handles.push(s.spawn_task(backend)?);
            }
            let mut replies = String::new();
            for handle in handles {
                replies.push_str(&handle.await?);
            }
            Ok(replies)
        })
        .await;
    // Every backend has terminated by now, whatever the result.
    scope.close();
    replies
}

/// A slow backend call; its drop guard logs `cancelled` if it is dropped
/// before it finishes.
async fn backend(events: Events, at: At, n: usize, ms: u64) -> String {
    let call = BackendGuard::start(events, at, n);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    call.finish();
    format!("backend {n}: {ms} ms\n")
}

/// Why a request failed.
#[derive(Debug)]
enum AppError {
    BadMs,
    /// The connection's task is ending (`SpawnError`), or a backend did not
    /// return (`TaskError`).
    Unavailable(String),
}

impl From<SpawnError> for AppError {
    fn from(error: SpawnError) -> Self {
        AppError::Unavailable(error.to_string())
    }
}

impl From<TaskError> for AppError {
    fn from(error: TaskError) -> Self {
        AppError::Unavailable(error.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::BadMs => (
                StatusCode::BAD_REQUEST,
                "ms: a number of milliseconds\n".into(),
            ),
            AppError::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        }
        .into_response()
    }
}

/// Logs a request scope's `opened`, then `closed` or, if dropped first,
/// `dropped`.
struct ScopeGuard {
    events: Events,
    at: At,
    closed: bool,
}

impl ScopeGuard {
    fn open(events: &Events, at: &At, ms: u64) -> Self {
        events.record(at.event(Kind::ScopeOpened { ms }));
        ScopeGuard {
            events: events.clone(),
            at: at.clone(),
            closed: false,
        }
    }

    fn close(mut self) {
        self.closed = true;
        self.events.record(self.at.event(Kind::ScopeClosed));
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if !self.closed {
            self.events.record(self.at.event(Kind::ScopeDropped));
        }
    }
}

/// Logs a backend's `started`, then `finished` or, if dropped first,
/// `cancelled`.
struct BackendGuard {
    events: Events,
    at: At,
    n: usize,
    finished: bool,
}

impl BackendGuard {
    fn start(events: Events, at: At, n: usize) -> Self {
        events.record(at.event(Kind::BackendStarted(n)));
        BackendGuard {
            events,
            at,
            n,
            finished: false,
        }
    }

    fn finish(mut self) {
        self.finished = true;
        self.events
            .record(self.at.event(Kind::BackendFinished(self.n)));
    }
}

impl Drop for BackendGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.events
                .record(self.at.event(Kind::BackendCancelled(self.n)));
        }
    }
}

// ---------------------------------------------------------------------------
// A client, for `--smoke` and the test
// ---------------------------------------------------------------------------

/// The error of [`http_get`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `GET path` over a new HTTP/1 connection to `addr`: the status and the
/// body. An error if the connection fails or closes before the response.
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

// ---------------------------------------------------------------------------
// The log
// ---------------------------------------------------------------------------

/// Where an event happened: connection `conn` (0: the server itself),
/// request `req` (0: the connection itself), labelled `tag`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At {
    pub conn: u64,
    pub req: u64,
    pub tag: String,
}

impl At {
    fn event(&self, kind: Kind) -> Event {
        Event {
            at: self.clone(),
            kind,
        }
    }
}

/// One line of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub at: At,
    pub kind: Kind,
}

impl Event {
    fn server(kind: Kind) -> Self {
        Self::connection(0, kind)
    }

    fn connection(conn: u64, kind: Kind) -> Self {
        At {
            conn,
            req: 0,
            tag: String::new(),
        }
        .event(kind)
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A connection was accepted; its task is spawned.
    Accepted {
        peer: SocketAddr,
    },
    /// The connection was asked to stop (graceful shutdown).
    Stopping,
    /// hyper is done with the connection (with an error if it ended early).
    Closed {
        error: Option<String>,
    },
    /// The connection's `done` callback: its task and every task below it
    /// have terminated.
    ConnectionDone,
    /// A `/slow` handler opened its scope.
    ScopeOpened {
        ms: u64,
    },
    /// The scope returned: every backend has terminated.
    ScopeClosed,
    /// The handler was dropped before its scope returned.
    ScopeDropped,
    BackendStarted(usize),
    BackendFinished(usize),
    /// A backend's future was dropped before it finished.
    BackendCancelled(usize),
    /// `serve` stopped accepting and began its graceful shutdown.
    ShutdownRequested {
        grace: Duration,
    },
    /// The shutdown is complete.
    Drained {
        live_children: usize,
    },
    Note(String),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let At { conn, req, tag } = &self.at;
        match (conn, req) {
            (0, _) => write!(f, "server: ")?,
            (conn, 0) => write!(f, "connection {conn}: ")?,
            (conn, req) if tag.is_empty() => write!(f, "connection {conn} request {req}: ")?,
            (conn, req) => write!(f, "connection {conn} request {req} ({tag}): ")?,
        }
        match &self.kind {
            Kind::Accepted { peer } => write!(f, "accepted from {peer}"),
            Kind::Stopping => write!(f, "stop requested: finishing the request in flight"),
            Kind::Closed { error: None } => write!(f, "closed"),
            Kind::Closed { error: Some(error) } => write!(f, "closed: {error}"),
            Kind::ConnectionDone => write!(f, "done (its task and every task below it ended)"),
            Kind::ScopeOpened { ms } => {
                write!(f, "scope opened: {BACKENDS} backends, {ms} ms each")
            }
            Kind::ScopeClosed => write!(f, "scope closed: every backend has terminated"),
            Kind::ScopeDropped => write!(f, "handler dropped before its scope closed"),
            Kind::BackendStarted(n) => write!(f, "  backend {n} started"),
            Kind::BackendFinished(n) => write!(f, "  backend {n} finished"),
            Kind::BackendCancelled(n) => write!(f, "  backend {n} cancelled"),
            Kind::ShutdownRequested { grace } => {
                write!(f, "shutting down: not accepting; grace period {grace:?}")
            }
            Kind::Drained { live_children } => {
                write!(f, "drained: {live_children} task(s) left")
            }
            Kind::Note(note) => write!(f, "{note}"),
        }
    }
}

/// The server's log: every event is printed to stdout with the time since
/// [`Events::new`], counted ([`counts`](Self::counts)), and kept in order
/// for [`log`](Self::log) and [`counts_for`](Self::counts_for) unless made
/// [`without_log`](Self::without_log). Clones share it.
#[derive(Clone)]
pub struct Events(Arc<Shared>);

struct Shared {
    start: Instant,
    state: Mutex<LogState>,
    changed: Notify,
}

struct LogState {
    /// `None` for [`Events::without_log`].
    log: Option<Vec<Event>>,
    totals: Counts,
    requests: u64,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A log that keeps every event.
    pub fn new() -> Self {
        Self::with_log(Some(Vec::new()))
    }

    /// A log that prints and counts the events, but does not keep them.
    pub fn without_log() -> Self {
        Self::with_log(None)
    }

    fn with_log(log: Option<Vec<Event>>) -> Self {
        Events(Arc::new(Shared {
            start: Instant::now(),
            state: Mutex::new(LogState {
                log,
                totals: Counts::default(),
                requests: 0,
            }),
            changed: Notify::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, event: Event) {
        let mut state = self.lock();
        // Printed under the lock, so stdout is in log order.
        let ms = self.0.start.elapsed().as_millis();
        println!("[{ms:>5} ms] {event}");
        state.totals.add(&event.kind);
        if let Some(log) = &mut state.log {
            log.push(event);
        }
        drop(state);
        self.0.changed.notify_waiters();
    }

    fn note(&self, note: String) {
        self.record(Event::server(Kind::Note(note)));
    }

    fn next_request(&self) -> u64 {
        let mut state = self.lock();
        state.requests += 1;
        state.requests
    }

    /// Every event so far, in order (none if made `without_log`).
    pub fn log(&self) -> Vec<Event> {
        self.lock().log.clone().unwrap_or_default()
    }

    /// The counts of every event so far.
    pub fn counts(&self) -> Counts {
        self.lock().totals
    }

    /// The counts of the requests tagged `tag` (no connection counts; all 0
    /// if made `without_log`).
    pub fn counts_for(&self, tag: &str) -> Counts {
        let mut counts = Counts::default();
        let state = self.lock();
        let events = state.log.iter().flatten();
        for event in events.filter(|event| event.at.tag == tag) {
            counts.add(&event.kind);
        }
        counts
    }

    /// Resolves once `condition` holds; checked after every event.
    pub async fn wait_until(&self, condition: impl Fn(&Events) -> bool) {
        loop {
            let mut changed = pin!(self.0.changed.notified());
            // Registered before the check, so no event is missed.
            changed.as_mut().enable();
            if condition(self) {
                return;
            }
            changed.await;
        }
    }
}

/// How many events of each kind the log holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub connections_accepted: usize,
    pub connections_done: usize,
    pub scopes_opened: usize,
    pub scopes_closed: usize,
    pub scopes_dropped: usize,
    pub backends_started: usize,
    pub backends_finished: usize,
    pub backends_cancelled: usize,
}

impl Counts {
    fn add(&mut self, kind: &Kind) {
        let count = match kind {
            Kind::Accepted { .. } => &mut self.connections_accepted,
            Kind::ConnectionDone => &mut self.connections_done,
            Kind::ScopeOpened { .. } => &mut self.scopes_opened,
            Kind::ScopeClosed => &mut self.scopes_closed,
            Kind::ScopeDropped => &mut self.scopes_dropped,
            Kind::BackendStarted(_) => &mut self.backends_started,
            Kind::BackendFinished(_) => &mut self.backends_finished,
            Kind::BackendCancelled(_) => &mut self.backends_cancelled,
            _ => return,
        };
        *count += 1;
    }

    /// Connections whose task has not yet terminated.
    pub fn connections_live(&self) -> usize {
        self.connections_accepted - self.connections_done
    }

    /// Backends started that have neither finished nor been cancelled.
    pub fn backends_live(&self) -> usize {
        self.backends_started - self.backends_finished - self.backends_cancelled
    }
}
