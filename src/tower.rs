//! Request scopes for tower and axum servers: every HTTP request runs as a
//! task of the tree, with a spawner of its own (features `tower` and `axum`).
//!
//! [`RequestScopeLayer`] wraps a `tower::Service` over [`http`] requests (an
//! axum `Router`, a hyper service, tonic) so that each request is handled
//! inside a child task of a given spawner, usually the server's root:
//!
//! ```text
//! root                      ScopedSpawner::tokio()
//! ├─ request 1              spawned by RequestScopeLayer; runs the handler
//! │  ├─ backend 0           spawned by the handler through its RequestSpawner
//! │  └─ backend 1
//! └─ request 2
//! ```
//!
//! - **The handler's spawner.** The request's own spawner is in the
//!   request's extensions as a [`RequestSpawner`]; in axum, take it as an
//!   extractor (feature `axum`). What the handler spawns through it is a
//!   child of the request.
//! - **The handler returns: the request ends.** The response is sent once the
//!   request's task has terminated: children the handler did not await are
//!   *cancelled*, and awaited, before the response goes out. This is the rule
//!   of every task of the tree (phase 3 of the crate docs), and what a server
//!   wants: no work of a request outlives it, and a response never waits for
//!   work its handler did not wait for. To let children finish, await their
//!   handles, or open a [`scope`](crate::ScopedSpawner::scope) on the
//!   request's spawner, which waits for its children when its body returns.
//! - **The client goes away.** hyper drops the response future; the request
//!   is then cancelled (gracefully if the spawner has a grace period): the
//!   handler's future is dropped, and its children are cancelled and awaited
//!   by the tree, so the root's [`shutdown`](crate::ScopedSpawner::shutdown)
//!   still waits for them.
//! - **The root shuts down.** With
//!   [`shutdown_with_grace`](crate::ScopedSpawner::shutdown_with_grace), every
//!   request is asked to stop (the handler sees
//!   [`stop_requested`](crate::ScopedSpawner::stop_requested) on its
//!   spawner), and cancelled if it has not finished when the grace period
//!   ends; a cancelled request is answered `503 Service Unavailable`. Requests
//!   that arrive once the root is closed are answered `503` at once, without
//!   calling the inner service.
//!
//! # Graceful shutdown with `axum::serve`
//!
//! No helper is needed: the root's [`stop_requested`](crate::ScopedSpawner::stop_requested)
//! is the signal for axum's graceful shutdown, so one
//! [`shutdown_with_grace`](crate::ScopedSpawner::shutdown_with_grace) makes
//! axum stop accepting and close its connections once their requests are
//! answered, while the tree drains every request's subtree and cancels what
//! outlives the grace period:
//!
//! ```no_run
//! use std::future::IntoFuture;
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use tasktree::tower::{RequestScopeLayer, RequestSpawner};
//! use tasktree::ScopedSpawner;
//!
//! async fn handler(RequestSpawner(spawner): RequestSpawner) -> String {
//!     let lookup = spawner.spawn_task(async { "hello".to_string() }).unwrap();
//!     lookup.await.unwrap()
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let root = ScopedSpawner::tokio();
//!     let app = Router::new()
//!         .route("/", get(handler))
//!         .layer(RequestScopeLayer::new(root.clone()));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//!     let server = axum::serve(listener, app).with_graceful_shutdown(root.stop_requested());
//!     let shutdown = async {
//!         tokio::signal::ctrl_c().await.unwrap();
//!         root.shutdown_with_grace(Duration::from_secs(5)).unwrap().await;
//!     };
//!     let (served, ()) = tokio::join!(server.into_future(), shutdown);
//!     served.unwrap();
//! }
//! ```
//!
//! axum's connections are its own tokio tasks, not tasks of the tree: the
//! grace period bounds the requests, and a connection closes once its
//! request is answered or cancelled, but a client that stops reading its
//! response can keep a connection (and `axum::serve`'s graceful shutdown)
//! open. Bound the server's future with `tokio::time::timeout` if that
//! matters; `examples/http_connections.rs` in the repository serves each
//! connection as a task of the tree instead.
//!
//! # Why two features
//!
//! `tower` (the layer) needs only `tower-layer`, `tower-service` and `http`,
//! and serves any tower stack: hyper, tonic, axum. `axum` adds the extractor,
//! which needs `axum-core` (not axum itself). Both imply `tokio`: the
//! request's spawner defaults to the tokio one, so a handler names it
//! `RequestSpawner` without type arguments.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::{resume_unwind, Location};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_task::Spawn;
use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::dump::Label;
use crate::{ScopedSpawner, SpawnError, TaskHandle, TokioSpawner};

/// A [`tower_layer::Layer`] that runs every request as a child task of a
/// spawner, with the request's own spawner in its extensions (see the
/// [module docs](self) for what ends a request, and when).
///
/// # Examples
///
/// ```
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use tasktree::tower::{RequestScopeLayer, RequestSpawner};
/// use tower::ServiceExt; // oneshot
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let app = Router::new()
///     .route("/", get(|RequestSpawner(s): RequestSpawner| async move {
///         // A child of this request's task.
///         s.spawn_task(async { "from a child" }).unwrap().await.unwrap()
///     }))
///     .layer(RequestScopeLayer::new(root.clone()));
///
/// let response = app.oneshot(Request::new(Body::empty())).await.unwrap();
/// assert_eq!(response.status(), 200);
/// assert_eq!(root.live_children(), 0); // the request's task has terminated
/// # }
/// ```
pub struct RequestScopeLayer<S = TokioSpawner> {
    spawner: ScopedSpawner<S>,
    /// Set by `name_requests`: where it was called.
    names: Option<&'static Location<'static>>,
}

impl<S> RequestScopeLayer<S> {
    /// A layer that spawns each request as a child of `spawner` (usually the
    /// server's root).
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{tower::RequestScopeLayer, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let layer = RequestScopeLayer::new(root.clone());
    /// let app: axum::Router = axum::Router::new().layer(layer);
    /// # drop(app);
    /// # }
    /// ```
    pub fn new(spawner: ScopedSpawner<S>) -> Self {
        Self {
            spawner,
            names: None,
        }
    }

    /// Names each request's task by its method and URI (`GET /slow?ms=300`)
    /// for task dumps ([`ScopedSpawner::dump`]), with this call's place in
    /// the source as the tasks' location. Costs a string and a small
    /// allocation per request.
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::{body::Body, http::Request, routing::get, Router};
    /// use tasktree::tower::RequestScopeLayer;
    /// use tower::ServiceExt; // oneshot
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let dumper = root.clone();
    /// let app = Router::new()
    ///     .route("/tasks", get(move || async move { dumper.dump().to_string() }))
    ///     .layer(RequestScopeLayer::new(root).name_requests());
    ///
    /// let request = Request::get("/tasks?all").body(Body::empty()).unwrap();
    /// let response = app.oneshot(request).await.unwrap();
    /// let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    /// // The request's own task, running while it took the dump:
    /// let text = String::from_utf8(body.to_vec()).unwrap();
    /// assert!(text.starts_with("1 task\n└── #"), "{text}");
    /// assert!(text.contains(" \"GET /tasks?all\": running"), "{text}");
    /// # }
    /// ```
    #[track_caller]
    #[must_use]
    pub fn name_requests(self) -> Self {
        Self {
            names: Some(Location::caller()),
            ..self
        }
    }
}

impl<S: Clone> Clone for RequestScopeLayer<S> {
    fn clone(&self) -> Self {
        Self {
            spawner: self.spawner.clone(),
            names: self.names,
        }
    }
}

impl<S> fmt::Debug for RequestScopeLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestScopeLayer")
            .field("spawner", &self.spawner)
            .finish()
    }
}

impl<S: Clone, Svc> Layer<Svc> for RequestScopeLayer<S> {
    type Service = RequestScope<Svc, S>;

    fn layer(&self, inner: Svc) -> Self::Service {
        RequestScope {
            inner,
            spawner: self.spawner.clone(),
            names: self.names,
        }
    }
}

/// The service of a [`RequestScopeLayer`]: calls `Svc` for each request
/// inside a child task of its spawner.
///
/// Its responses are `Svc`'s, and its errors too: a request that cannot be
/// spawned (the spawner's scope is closed, or the executor refused the task)
/// or that the tree cancelled (the root's grace period ran out) is answered
/// with an empty `503 Service Unavailable`, made with `ResBody::default()`.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use axum::{body::Body, http::{Request, Response}};
/// use tasktree::tower::{RequestScope, RequestSpawner};
/// use tower::ServiceExt; // oneshot
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// // A bare service, as hyper takes it: the spawner is in the extensions.
/// let inner = tower::service_fn(|request: Request<Body>| async move {
///     let spawner = request.extensions().get::<RequestSpawner>().unwrap();
///     let answer = spawner.spawn_task(async { 42 }).unwrap().await.unwrap();
///     Ok::<_, Infallible>(Response::new(Body::from(answer.to_string())))
/// });
/// let service = RequestScope::new(inner, root.clone());
/// let response = service.oneshot(Request::new(Body::empty())).await.unwrap();
/// assert_eq!(response.status(), 200);
///
/// root.shutdown().await; // closed: requests are answered 503
/// let inner = tower::service_fn(|_: Request<Body>| async {
///     Ok::<_, Infallible>(Response::new(Body::empty()))
/// });
/// let refused = RequestScope::new(inner, root).oneshot(Request::new(Body::empty()));
/// assert_eq!(refused.await.unwrap().status(), 503);
/// # }
/// ```
pub struct RequestScope<Svc, S = TokioSpawner> {
    inner: Svc,
    spawner: ScopedSpawner<S>,
    /// As `RequestScopeLayer::names`.
    names: Option<&'static Location<'static>>,
}

impl<Svc, S> RequestScope<Svc, S> {
    /// Wraps `inner`: each request is spawned as a child of `spawner`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use axum::{body::Body, http::{Request, Response}};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let service = tasktree::tower::RequestScope::new(
    ///     tower::service_fn(|_: Request<Body>| async {
    ///         Ok::<_, Infallible>(Response::new(Body::empty()))
    ///     }),
    ///     root,
    /// );
    /// # drop(service);
    /// # }
    /// ```
    pub fn new(inner: Svc, spawner: ScopedSpawner<S>) -> Self {
        Self {
            inner,
            spawner,
            names: None,
        }
    }
}

impl<Svc: Clone, S: Clone> Clone for RequestScope<Svc, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            spawner: self.spawner.clone(),
            names: self.names,
        }
    }
}

impl<Svc: fmt::Debug, S> fmt::Debug for RequestScope<Svc, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestScope")
            .field("inner", &self.inner)
            .field("spawner", &self.spawner)
            .finish()
    }
}

impl<Svc, S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestScope<Svc, S>
where
    S: Spawn + Clone + Send + Sync + 'static,
    Svc: Service<Request<ReqBody>, Response = Response<ResBody>>,
    Svc::Future: Send + 'static,
    Svc::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = Svc::Error;
    type Future = ResponseFuture<ResBody, Svc::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Spawns the request as a child of the spawner; `Svc::call` runs during
    /// the spawn, with the request's [`RequestSpawner`] in its extensions,
    /// and the future it returns is the child's.
    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let inner = &mut self.inner;
        let label = self.names.map(|location| {
            Label::new(format!("{} {}", request.method(), request.uri()), location)
        });
        let spawned = self.spawner.spawn_task_scoped(
            move |spawner| {
                request.extensions_mut().insert(RequestSpawner(spawner));
                inner.call(request)
            },
            label,
        );
        ResponseFuture {
            state: match spawned {
                Ok(handle) => State::Running(handle),
                Err(error) => State::Refused(error),
            },
        }
    }
}

/// The response of a [`RequestScope`]: resolves once the request's task has
/// terminated, that is, once the handler has returned and every child it
/// left running has been cancelled and has terminated.
///
/// # Panics
///
/// Resumes the panic of the inner service's future (the handler), as if it
/// had run on the caller's task; put a panic-catching layer (tower-http's
/// `CatchPanicLayer`) outside this one to answer `500` instead.
///
/// # Cancel safety
///
/// Dropping it before it resolved (hyper does when the client goes away)
/// cancels the request's task: the handler's future is dropped, then its
/// children are cancelled, and the tree awaits them, so the spawner's
/// [`shutdown`](crate::ScopedSpawner::shutdown) still waits for them. If the
/// spawner has a grace period
/// ([`set_grace_period`](crate::ScopedSpawner::set_grace_period)), the
/// cancel is graceful: the request is asked to stop first, and cancelled
/// when the period ends.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use axum::{body::Body, http::{Request, Response}};
/// use tower::{Service, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let mut service = tasktree::tower::RequestScope::new(
///     tower::service_fn(|_: Request<Body>| async {
///         std::future::pending::<()>().await; // a slow handler
///         Ok::<_, Infallible>(Response::new(Body::empty()))
///     }),
///     root.clone(),
/// );
/// let response: tasktree::tower::ResponseFuture<Body, Infallible> =
///     service.ready().await.unwrap().call(Request::new(Body::empty()));
/// assert_eq!(root.live_children(), 1); // the request's task
/// drop(response); // the client went away: the request is cancelled
/// root.shutdown().await;
/// assert_eq!(root.live_children(), 0);
/// # }
/// ```
#[must_use = "futures do nothing unless polled; dropping it cancels the request"]
pub struct ResponseFuture<B, E> {
    state: State<B, E>,
}

enum State<B, E> {
    /// The request's task runs; its handle takes the response.
    Running(TaskHandle<Result<Response<B>, E>>),
    /// The request could not be spawned: answered 503.
    Refused(SpawnError),
    /// The response has been returned.
    Done,
}

impl<B: Default, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<B>, E>;

    /// # Panics
    ///
    /// Resumes the handler's panic; panics if polled after it returned
    /// `Ready`.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = match &mut self.state {
            State::Running(handle) => match Pin::new(handle).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => outcome,
            },
            State::Refused(_) => Ok(Ok(unavailable())),
            State::Done => panic!("`ResponseFuture` polled after it returned `Ready`"),
        };
        // Done before a panic is resumed: nothing is left to cancel.
        self.state = State::Done;
        match outcome {
            Ok(response) => Poll::Ready(response),
            Err(error) => match error.try_into_panic() {
                Ok(panic) => resume_unwind(panic),
                // Cancelled by the tree (a shutdown's grace period ran out)
                // or by a deadline.
                Err(_) => Poll::Ready(Ok(unavailable())),
            },
        }
    }
}

impl<B, E> Drop for ResponseFuture<B, E> {
    fn drop(&mut self) {
        // Explicitly: what dropping a handle does is not this type's
        // contract.
        if let State::Running(handle) = &self.state {
            handle.cancel();
        }
    }
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ResponseFuture");
        match &self.state {
            State::Running(handle) => debug.field("running", handle),
            State::Refused(error) => debug.field("refused", error),
            State::Done => debug.field("done", &true),
        };
        debug.finish()
    }
}

/// An empty `503 Service Unavailable`.
fn unavailable<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

/// The spawner of the request being handled: a [`ScopedSpawner`] (it derefs
/// to one) whose children are children of the request's task.
///
/// [`RequestScope`] puts it into each request's extensions; with feature
/// `axum`, a handler takes it as an extractor, and is rejected with
/// [`MissingRequestScope`] (`500`) if the router lacks the layer.
///
/// # Examples
///
/// ```
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use tasktree::tower::{RequestScopeLayer, RequestSpawner};
/// use tower::ServiceExt;
///
/// async fn handler(RequestSpawner(spawner): RequestSpawner) -> String {
///     // Left running when the handler returns: cancelled, and awaited,
///     // before the response is sent.
///     spawner.spawn_task(std::future::pending::<()>()).unwrap().detach();
///     "done".to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let app = Router::new()
///     .route("/", get(handler))
///     .layer(RequestScopeLayer::new(root.clone()));
/// let response = app.oneshot(Request::new(Body::empty())).await.unwrap();
/// assert_eq!(response.status(), 200);
/// assert_eq!(root.live_children(), 0);
/// # }
/// ```
pub struct RequestSpawner<S = TokioSpawner>(pub ScopedSpawner<S>);

impl<S> Deref for RequestSpawner<S> {
    type Target = ScopedSpawner<S>;

    fn deref(&self) -> &ScopedSpawner<S> {
        &self.0
    }
}

impl<S: Clone> Clone for RequestSpawner<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S> fmt::Debug for RequestSpawner<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestSpawner").field(&self.0).finish()
    }
}

#[cfg(feature = "axum")]
mod extract {
    use std::convert::Infallible;
    use std::fmt;
    use std::future::{ready, Future};

    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use axum_core::response::{IntoResponse, Response};
    use futures_task::Spawn;
    use http::request::Parts;
    use http::StatusCode;

    use super::RequestSpawner;

    /// The rejection of a [`RequestSpawner`] extractor whose request has no
    /// request scope: the router (or the route) lacks
    /// [`RequestScopeLayer`](super::RequestScopeLayer), or it was given a
    /// spawner over another executor than the one the extractor names.
    /// Answered `500 Internal Server Error` with that message.
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::{body::Body, http::Request, routing::get, Router};
    /// use tasktree::tower::RequestSpawner;
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let app: Router = Router::new().route("/", get(|_: RequestSpawner| async {})); // no layer
    /// let response = app.oneshot(Request::new(Body::empty())).await.unwrap();
    /// assert_eq!(response.status(), 500);
    /// # }
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct MissingRequestScope;

    impl fmt::Display for MissingRequestScope {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "no request scope: add `tasktree::tower::RequestScopeLayer` to the router, \
                 with a spawner over the executor the `RequestSpawner` names",
            )
        }
    }

    impl std::error::Error for MissingRequestScope {}

    impl IntoResponse for MissingRequestScope {
        fn into_response(self) -> Response {
            (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
        }
    }

    /// The request's spawner, from the extensions that
    /// [`RequestScope`](super::RequestScope) filled in.
    impl<S, St> FromRequestParts<St> for RequestSpawner<S>
    where
        S: Spawn + Clone + Send + Sync + 'static,
        St: Send + Sync,
    {
        type Rejection = MissingRequestScope;

        fn from_request_parts(
            parts: &mut Parts,
            _state: &St,
        ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
            let spawner = parts.extensions.get::<Self>().cloned();
            ready(spawner.ok_or(MissingRequestScope))
        }
    }

    /// `Option<RequestSpawner>`: `None` where the layer is missing.
    impl<S, St> OptionalFromRequestParts<St> for RequestSpawner<S>
    where
        S: Spawn + Clone + Send + Sync + 'static,
        St: Send + Sync,
    {
        type Rejection = Infallible;

        fn from_request_parts(
            parts: &mut Parts,
            _state: &St,
        ) -> impl Future<Output = Result<Option<Self>, Self::Rejection>> + Send {
            ready(Ok(parts.extensions.get::<Self>().cloned()))
        }
    }
}

#[cfg(feature = "axum")]
pub use extract::MissingRequestScope;
