//! Scope blocks: structured concurrency for code that is not itself a task
//! (a request handler, `main`), and the fail-fast and supervised policies.
//!
//! A scope block runs a body with a spawner of its own scope, and completes
//! only when the body and every child have terminated. Unlike a task's own
//! future (phase 3 of the crate docs' Guarantees cancels the children of a task whose
//! future completed), a scope block *waits* for its children when its body
//! ends, as Trio's nurseries and Kotlin's `coroutineScope` do.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_task::Spawn;
use futures_util::stream::{FuturesUnordered, StreamExt};
use pin_project_lite::pin_project;

use crate::cause::ScopeCause;
use crate::handle::TaskHandle;
use crate::loom::Arc;
use crate::remote_scope::RemoteSpawner;
use crate::signal::Outcome;
use crate::task::{drop_contained, drop_panic, terminate_block, Absent};
use crate::tree::{finish_chain, Extra, Failure, Link, Node, Shared, Signal};
use crate::{FailurePolicy, ScopedSpawn, ScopedSpawner, SpawnError};

/// Turns a body's output into a failure (`try_scope`'s `Err`), or keeps it.
type Classify<T> = fn(T) -> Result<T, Box<dyn Any + Send>>;

/// How a scope block ended, before the public functions turn it into their
/// output.
enum Ended<T> {
    /// The body returned this, and no failure was kept.
    Body(T),
    /// A failure: the first one kept by the fail-fast scope, or the body's
    /// own panic in a supervised one.
    Failed(Failure),
}

pin_project! {
    #[project = BodyProj]
    enum Body<F> {
        Running { #[pin] fut: F },
        Draining,
        Ended,
    }
}

pin_project! {
    /// The future of a scope block: polls the body, then waits for the
    /// children, then reports.
    struct Block<F>
    where
        F: Future,
    {
        #[pin]
        body: Body<F>,
        node: Arc<Node>,
        // The block's slot in an enclosing scope, if it was opened through a
        // spawner (then the enclosing task waits for it; G1).
        link: Option<Link>,
        // Whether a cancel of `link`'s slot has been passed on to the children.
        parent_cancelled: bool,
        // Whether a stop request of `link`'s slot has been passed on.
        parent_stopped: bool,
        output: Option<F::Output>,
        // Turns the body's output into a failure (`try_scope`'s `Err`).
        classify: Classify<F::Output>,
        // The body's own failure when the node did not keep it (a supervised
        // scope); a fail-fast scope keeps it in the node (I7).
        body_failure: Option<Failure>,
    }

    impl<F> PinnedDrop for Block<F>
    where
        F: Future,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut body = this.body;
            if let BodyProj::Running { .. } = body.as_mut().project() {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body.set(Body::Draining))) {
                    drop_panic(panic);
                }
            }
            if let BodyProj::Ended = body.as_mut().project() {
                return;
            }
            // Dropped before the end: the children are cancelled; an
            // enclosing scope (if any) waits for them, nothing else can.
            match this.link.take() {
                Some(link) => terminate_block(this.node.clone(), link),
                None => Node::close(this.node, ScopeCause::ended()).wake(),
            }
        }
    }
}

impl<F: Future> Block<F> {
    fn poll_block(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended<F::Output>> {
        let mut this = self.project();
        loop {
            match this.body.as_mut().project() {
                BodyProj::Running { fut } => {
                    if this.node.poll_failed(cx.waker()) {
                        // A child failed: the body is cancelled (I7).
                        drop_body(this.body.as_mut(), this.node, this.body_failure);
                        continue;
                    }
                    pass_on_signal(
                        this.link.as_ref(),
                        this.node,
                        this.parent_cancelled,
                        this.parent_stopped,
                        cx.waker(),
                    );
                    match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(output)) => match (this.classify)(output) {
                            Ok(output) => *this.output = Some(output),
                            Err(error) => fail(this.node, Failure::Error(error), this.body_failure),
                        },
                        Err(panic) => fail(this.node, Failure::Panic(panic), this.body_failure),
                    }
                    drop_body(this.body.as_mut(), this.node, this.body_failure);
                }
                BodyProj::Draining => {
                    // A stop request or a cancel of the block's slot still
                    // goes on to the children while the block waits for them.
                    pass_on_signal(
                        this.link.as_ref(),
                        this.node,
                        this.parent_cancelled,
                        this.parent_stopped,
                        cx.waker(),
                    );
                    // Children are awaited, not cancelled, after a body that
                    // returned normally; closed in the same critical section
                    // that sees the last one done, so none joins after (I1).
                    if this.node.poll_drained(cx.waker(), true).is_pending() {
                        return Poll::Pending;
                    }
                    this.body.set(Body::Ended);
                    if let Some(link) = this.link.take() {
                        finish_chain(link);
                    }
                    let ended = match (this.body_failure.take(), this.node.retire()) {
                        (Some(failure), kept) => {
                            // The body's own failure wins; a child's is
                            // user data nobody will read (G10).
                            drop_contained(kept);
                            Ended::Failed(failure)
                        }
                        (None, Some(failure)) => Ended::Failed(failure),
                        (None, None) => match this.output.take() {
                            Some(output) => Ended::Body(output),
                            None => unreachable!("a body without output left a failure"),
                        },
                    };
                    return Poll::Ready(ended);
                }
                BodyProj::Ended => panic!("scope block polled after completion"),
            }
        }
    }
}

/// Passes a stop request or a cancel of the block's slot in its enclosing
/// scope (if it has one) on to the block's own scope, once each; stores
/// `waker` in the slot so that a later one wakes the block (I6).
fn pass_on_signal(
    link: Option<&Link>,
    node: &Arc<Node>,
    parent_cancelled: &mut bool,
    parent_stopped: &mut bool,
    waker: &Waker,
) {
    let Some(link) = link else { return };
    if *parent_cancelled {
        return;
    }
    match link.node.poll_signal(link.key, waker, *parent_stopped) {
        Signal::Run => {}
        Signal::Stop => {
            // Asked to stop gracefully: the body sees it through its
            // spawner, and the request goes on to the children (tree/grace.rs).
            *parent_stopped = true;
            link.node.pass_stop(link.key, node);
        }
        Signal::Cancel { .. } => {
            // The enclosing scope was cancelled while the block runs: the
            // body is the enclosing task's own code, which its task's
            // termination drops; the block's children are cancelled now.
            *parent_cancelled = true;
            link.node.note_cancel(link.key, node);
            Node::close_cancelled(node);
        }
    }
}

/// Drops the body (phase 2 of the block), containing a panic of its
/// destructor as a failure.
fn drop_body<F: Future>(
    mut body: Pin<&mut Body<F>>,
    node: &Arc<Node>,
    body_failure: &mut Option<Failure>,
) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body.set(Body::Draining))) {
        fail(node, Failure::Panic(panic), body_failure);
    }
}

/// The body failed: a fail-fast scope keeps the failure (the first one
/// wins) and cancels every child (I7). A supervised scope keeps it for the
/// block to report, and cancels the children too, as no body is left to use
/// their results.
fn fail(node: &Arc<Node>, failure: Failure, body_failure: &mut Option<Failure>) {
    match Node::report_failure(node, failure, None, None) {
        Ok(()) => {}
        // Not fail-fast (a fail-fast node refuses only when it already kept
        // an earlier failure, which wins).
        Err(failure) if body_failure.is_none() && !node.has_failed() => {
            *body_failure = Some(failure);
            Node::close(node, ScopeCause::ended()).wake();
        }
        Err(failure) => drop_panic(failure.into_payload()),
    }
}

impl<F: Future> Future for Block<F> {
    type Output = Ended<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_block(cx)
    }
}

/// Opens a block: a new scope (in `parent`'s scope, if given) and the body's
/// future made from its spawner.
fn open<S, B, Fut, Sp>(
    executor: S,
    parent: Option<&Arc<Node>>,
    policy: FailurePolicy,
    wrap: impl FnOnce(ScopedSpawner<S>) -> Sp,
    body: B,
    classify: Classify<Fut::Output>,
) -> Result<Block<Fut>, SpawnError>
where
    S: Spawn + Clone + Send + Sync + 'static,
    B: FnOnce(Sp) -> Fut,
    Fut: Future,
{
    let node = Node::new_task();
    let link = match parent {
        // A task dump of the parent shows the block's children under it.
        Some(parent) => Some(Node::register_with(
            parent,
            0,
            Extra {
                label: None,
                scope: Some(node.clone()),
            },
        )?),
        None => None,
    };
    node.set_block(policy == FailurePolicy::FailFast, link.as_ref());
    let spawner = ScopedSpawner::from_parts(executor, RemoteSpawner::from_node(node.clone()));
    let node_for_block = node;
    // If `body` (user code) panics, the guard ends the block's slot.
    let mut guard = BlockGuard {
        parts: Some((node_for_block, link)),
    };
    let fut = body(wrap(spawner));
    let Some((node, link)) = guard.parts.take() else {
        unreachable!("the guard is disarmed once")
    };
    Ok(Block {
        body: Body::Running { fut },
        node,
        link,
        parent_cancelled: false,
        parent_stopped: false,
        output: None,
        classify,
        body_failure: None,
    })
}

/// Closes a block whose body could not be made (its maker panicked).
struct BlockGuard {
    parts: Option<(Arc<Node>, Option<Link>)>,
}

impl Drop for BlockGuard {
    fn drop(&mut self) {
        match self.parts.take() {
            Some((node, Some(link))) => terminate_block(node, link),
            Some((node, None)) => Node::close(&node, ScopeCause::ended()).wake(),
            None => {}
        }
    }
}

fn keep<T>(output: T) -> Result<T, Box<dyn Any + Send>> {
    Ok(output)
}

fn err_fails<T, E: Send + 'static>(
    output: Result<T, E>,
) -> Result<Result<T, E>, Box<dyn Any + Send>> {
    match output {
        Ok(value) => Ok(Ok(value)),
        Err(error) => Err(Box::new(error)),
    }
}

/// Ends a non-`try` block: its output, or its failure's panic resumed.
fn finish<T>(ended: Ended<T>) -> T {
    match ended {
        Ended::Body(output) => output,
        Ended::Failed(failure) => resume_unwind(failure.into_payload()),
    }
}

/// Ends a `try` block: its output, the first error, or a panic resumed.
fn finish_try<T, E: 'static>(ended: Ended<Result<T, E>>) -> Result<T, E> {
    match ended {
        Ended::Body(output) => output,
        Ended::Failed(Failure::Error(error)) => match error.downcast::<E>() {
            Ok(error) => Err(*error),
            // `TryScope<E>` only reports `E`s; anything else is a panic.
            Err(payload) => resume_unwind(payload),
        },
        Ended::Failed(Failure::Panic(panic)) => resume_unwind(panic),
    }
}

/// Runs `body` in a new fail-fast scope on the current tokio runtime, and
/// completes when the body and every child spawned through its spawner have
/// terminated. Its output is the body's output.
///
/// - When the body returns, the children are **awaited, not cancelled**.
/// - The first child that panics cancels its siblings and the body; once the
///   whole subtree has terminated, the panic is resumed in the caller.
/// - A panic of the body cancels the children, and is resumed the same way.
///
/// **Dropping the future** (a request handler whose client went away, a
/// `select!` that took another branch) drops the body at once and cancels
/// every child; a drop cannot wait, so the children's futures are dropped at
/// their next poll on the executor, their `done` callbacks run there, and no
/// child future is polled past the poll in flight (G3). To have their
/// termination awaited, open the scope through a task's spawner with
/// [`ScopedSpawner::scope`] instead: the task then waits for them (G1).
///
/// # Panics
///
/// Panics when called outside a tokio runtime; resumes the first panic of the
/// body or of a child.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future cancels the body and the children
/// (see above). Nothing is lost that the body had not yet produced.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Before: two `tokio::spawn`s whose tasks could outlive this function.
/// let (a, b) = tasktree::scope(|s| async move {
///     let a = s.spawn_task(async { 1 }).unwrap();
///     let b = s.spawn_task(async { 2 }).unwrap();
///     (a.await.unwrap(), b.await.unwrap())
/// })
/// .await;
/// assert_eq!(a + b, 3);
/// # }
/// ```
#[cfg(feature = "tokio")]
#[track_caller]
pub fn scope<B, Fut>(body: B) -> impl Future<Output = Fut::Output>
where
    B: FnOnce(ScopedSpawner<crate::TokioSpawner>) -> Fut,
    Fut: Future,
{
    let block = top_level(
        crate::TokioSpawner::current(),
        FailurePolicy::FailFast,
        |s| s,
        body,
        keep,
    );
    async move { finish(block.await) }
}

/// As [`scope`], for bodies and children that return `Result`: the first
/// error (of the body, or of a child spawned with [`TryScope::spawn_try`])
/// cancels everything else, and is returned once the subtree has
/// terminated. The first failure wins, even when others follow it.
///
/// # Panics
///
/// Panics when called outside a tokio runtime; resumes the first panic of the
/// body or of a child, if that came before any error.
///
/// # Cancel safety
///
/// As [`scope`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Before: a JoinSet, with a loop that aborts the rest on the first error.
/// let result: Result<u32, String> = tasktree::try_scope(|s| async move {
///     let a = s.spawn_try(async { Ok::<_, String>(1) }).unwrap();
///     let _b = s.spawn_try(async { Err::<u32, _>("backend down".to_string()) }).unwrap();
///     let _slow = s.spawn_try(std::future::pending::<Result<u32, String>>()).unwrap();
///     let a = a.await.unwrap()?;
///     std::future::pending::<()>().await; // cancelled by the failure
///     Ok(a)
/// })
/// .await;
/// assert_eq!(result, Err("backend down".to_string()));
/// # }
/// ```
#[cfg(feature = "tokio")]
#[track_caller]
pub fn try_scope<B, Fut, T, E>(body: B) -> impl Future<Output = Result<T, E>>
where
    B: FnOnce(TryScope<E, crate::TokioSpawner>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Send + 'static,
{
    let block = top_level(
        crate::TokioSpawner::current(),
        FailurePolicy::FailFast,
        TryScope::new,
        body,
        err_fails,
    );
    async move { finish_try(block.await) }
}

/// As [`scope`], but supervised: a child's panic is reported only through
/// its own [`TaskHandle`] and does not touch its siblings or the body. A
/// panic of the body itself still cancels the children and is resumed once
/// they have terminated.
///
/// # Panics
///
/// Panics when called outside a tokio runtime; resumes a panic of the body.
///
/// # Cancel safety
///
/// As [`scope`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let results = tasktree::supervised_scope(|s| async move {
///     let ok = s.spawn_task(async { 1 }).unwrap();
///     let bad = s.spawn_task(async { panic!("one request failed") }).unwrap();
///     (ok.await.is_ok(), bad.await.unwrap_err().is_panic())
/// })
/// .await;
/// assert_eq!(results, (true, true));
/// # }
/// ```
#[cfg(feature = "tokio")]
#[track_caller]
pub fn supervised_scope<B, Fut>(body: B) -> impl Future<Output = Fut::Output>
where
    B: FnOnce(ScopedSpawner<crate::TokioSpawner>) -> Fut,
    Fut: Future,
{
    let block = top_level(
        crate::TokioSpawner::current(),
        FailurePolicy::Supervised,
        |s| s,
        body,
        keep,
    );
    async move { finish(block.await) }
}

/// Opens a block with no enclosing scope.
#[cfg(feature = "tokio")]
fn top_level<S, B, Fut, Sp>(
    executor: S,
    policy: FailurePolicy,
    wrap: impl FnOnce(ScopedSpawner<S>) -> Sp,
    body: B,
    classify: Classify<Fut::Output>,
) -> Block<Fut>
where
    S: Spawn + Clone + Send + Sync + 'static,
    B: FnOnce(Sp) -> Fut,
    Fut: Future,
{
    match open(executor, None, policy, wrap, body, classify) {
        Ok(block) => block,
        Err(_) => unreachable!("a block without an enclosing scope cannot fail to open"),
    }
}

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Runs `body` in a new fail-fast scope that is a child of this
    /// spawner's scope: as [`scope`](crate::scope()), on this spawner's
    /// executor. If the future is dropped, the enclosing task (or root
    /// shutdown) still waits for the block's children (G1).
    ///
    /// If this spawner's scope is cancelled while the body runs, the block's
    /// children are cancelled (the body itself is the enclosing task's code,
    /// and ends with it).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if this spawner's scope has terminated; the
    /// body is then not run.
    ///
    /// # Panics
    ///
    /// Resumes the first panic of the body or of a child.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future cancels the body and the
    /// children, whose termination the enclosing scope awaits.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::executor::{block_on, ThreadPool};
    /// use tasktree::ScopedSpawner;
    ///
    /// let root = ScopedSpawner::new(ThreadPool::new().unwrap());
    /// let sum = block_on(root.scope(|s| async move {
    ///     let handles: Vec<_> = (1..=3).map(|i| s.spawn_task(async move { i }).unwrap()).collect();
    ///     let mut sum = 0;
    ///     for handle in handles {
    ///         sum += handle.await.unwrap();
    ///     }
    ///     sum
    /// }))
    /// .unwrap();
    /// assert_eq!(sum, 6);
    /// ```
    pub async fn scope<B, Fut>(&self, body: B) -> Result<Fut::Output, SpawnError>
    where
        B: FnOnce(ScopedSpawner<S>) -> Fut,
        Fut: Future,
    {
        let block = self.nested(FailurePolicy::FailFast, |s| s, body, keep)?;
        Ok(finish(block.await))
    }

    /// As [`try_scope`](crate::try_scope()), as a child of this spawner's
    /// scope (see [`scope`](Self::scope)).
    ///
    /// # Errors
    ///
    /// The first error of the body or of a child; `E::from(SpawnError)` if
    /// this spawner's scope has terminated.
    ///
    /// # Panics
    ///
    /// Resumes the first panic of the body or of a child, if it came before
    /// any error.
    ///
    /// # Cancel safety
    ///
    /// As [`scope`](Self::scope).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::executor::{block_on, ThreadPool};
    /// use tasktree::{ScopedSpawner, SpawnError};
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum Error { Spawn, Backend }
    /// impl From<SpawnError> for Error {
    ///     fn from(_: SpawnError) -> Self { Error::Spawn }
    /// }
    ///
    /// let root = ScopedSpawner::new(ThreadPool::new().unwrap());
    /// let result: Result<(), Error> = block_on(root.try_scope(|s| async move {
    ///     s.spawn_try(async { Err::<(), _>(Error::Backend) })?.detach();
    ///     Ok(())
    /// }));
    /// assert_eq!(result, Err(Error::Backend));
    /// ```
    pub async fn try_scope<B, Fut, T, E>(&self, body: B) -> Result<T, E>
    where
        B: FnOnce(TryScope<E, S>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<SpawnError> + Send + 'static,
    {
        let block = self.nested(FailurePolicy::FailFast, TryScope::new, body, err_fails)?;
        finish_try(block.await)
    }

    /// As [`supervised_scope`](crate::supervised_scope()), as a child of this
    /// spawner's scope (see [`scope`](Self::scope)).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if this spawner's scope has terminated.
    ///
    /// # Panics
    ///
    /// Resumes a panic of the body.
    ///
    /// # Cancel safety
    ///
    /// As [`scope`](Self::scope).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::executor::{block_on, ThreadPool};
    /// use tasktree::ScopedSpawner;
    ///
    /// let root = ScopedSpawner::new(ThreadPool::new().unwrap());
    /// let failed = block_on(root.supervised_scope(|s| async move {
    ///     let bad = s.spawn_task(async { panic!("isolated") }).unwrap();
    ///     bad.await.unwrap_err().is_panic()
    /// }))
    /// .unwrap();
    /// assert!(failed);
    /// ```
    pub async fn supervised_scope<B, Fut>(&self, body: B) -> Result<Fut::Output, SpawnError>
    where
        B: FnOnce(ScopedSpawner<S>) -> Fut,
        Fut: Future,
    {
        let block = self.nested(FailurePolicy::Supervised, |s| s, body, keep)?;
        Ok(finish(block.await))
    }

    fn nested<B, Fut, Sp>(
        &self,
        policy: FailurePolicy,
        wrap: impl FnOnce(ScopedSpawner<S>) -> Sp,
        body: B,
        classify: Classify<Fut::Output>,
    ) -> Result<Block<Fut>, SpawnError>
    where
        B: FnOnce(Sp) -> Fut,
        Fut: Future,
    {
        open(
            self.executor().clone(),
            Some(&self.as_raw().node),
            policy,
            wrap,
            body,
            classify,
        )
    }
}

/// The spawner of a [`try_scope`](crate::try_scope()) block: a
/// [`ScopedSpawner`] (it derefs to one) whose [`spawn_try`](Self::spawn_try)
/// makes a child's `Err` fail the whole scope.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let out: Result<i32, std::io::Error> = tasktree::try_scope(|s: tasktree::TryScope<std::io::Error>| async move {
///     let handle = s.spawn_try(async { Ok(7) }).unwrap();
///     Ok(handle.await.unwrap()?)
/// })
/// .await;
/// assert_eq!(out.unwrap(), 7);
/// # }
/// ```
#[cfg(feature = "tokio")]
pub struct TryScope<E, S = crate::TokioSpawner> {
    spawner: ScopedSpawner<S>,
    _error: PhantomData<fn() -> E>,
}

/// The spawner of a `try_scope` block (see the `tokio` feature's docs).
#[cfg(not(feature = "tokio"))]
pub struct TryScope<E, S> {
    spawner: ScopedSpawner<S>,
    _error: PhantomData<fn() -> E>,
}

impl<E, S> TryScope<E, S>
where
    S: Spawn + Clone + Send + Sync + 'static,
    E: Send + 'static,
{
    fn new(spawner: ScopedSpawner<S>) -> Self {
        Self {
            spawner,
            _error: PhantomData,
        }
    }

    /// Spawns a child whose `Err` fails the scope: the first error (of any
    /// child or of the body) cancels every other child and the body, and is
    /// what the scope block returns. That child's handle then yields
    /// `Err(TaskError)` with [`is_failed`](crate::TaskError::is_failed); a later
    /// error, which lost that race, stays in its own handle as `Ok(Err(e))`.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if the scope has ended or is failing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let out: Result<(), &str> = tasktree::try_scope(|s| async move {
    ///     let handle = s.spawn_try(async { Err::<(), _>("no") }).unwrap();
    ///     assert!(handle.await.unwrap_err().is_failed());
    ///     Ok(())
    /// })
    /// .await;
    /// assert_eq!(out, Err("no"));
    /// # }
    /// ```
    pub fn spawn_try<Fut, T>(&self, fut: Fut) -> Result<TaskHandle<Result<T, E>>, SpawnError>
    where
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
    {
        let node = self.spawner.as_raw().node.clone();
        self.spawner
            .spawn_handled(Absent, Absent, move |_, shared: &Arc<Shared<_>>, key| {
                ReportErr {
                    fut: Some(fut),
                    node,
                    key,
                    shared: shared.clone(),
                }
            })
    }
}

impl<E, S> Deref for TryScope<E, S> {
    type Target = ScopedSpawner<S>;

    fn deref(&self) -> &ScopedSpawner<S> {
        &self.spawner
    }
}

impl<E, S: Clone> Clone for TryScope<E, S> {
    fn clone(&self) -> Self {
        Self {
            spawner: self.spawner.clone(),
            _error: PhantomData,
        }
    }
}

impl<E, S> fmt::Debug for TryScope<E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryScope")
            .field("spawner", &self.spawner)
            .finish()
    }
}

pin_project! {
    /// A `spawn_try` child's future: reports its `Err` to the scope (I7).
    struct ReportErr<F, T, E> {
        // `None` once the error was taken by the scope: the future has
        // completed and must not be polled again.
        #[pin]
        fut: Option<F>,
        node: Arc<Node>,
        // This child's slot in `node`.
        key: usize,
        shared: Arc<Shared<Result<T, E>>>,
    }
}

impl<F, T, E> Future for ReportErr<F, T, E>
where
    F: Future<Output = Result<T, E>>,
    E: Send + 'static,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            // Taken: the cancel of this child is already on its way.
            return Poll::Pending;
        };
        match fut.poll(cx) {
            Poll::Ready(Err(error)) => {
                this.node.ends.failed();
                let failure = Failure::Error(Box::new(error));
                let key = Some(*this.key);
                match Node::report_failure(this.node, failure, key, key) {
                    // The scope took the error, cancelled every other child
                    // (gracefully, if it has a grace period) and this one at
                    // once: the task ends as cancelled at its next poll,
                    // which the cancel wakes, and its handle reports the
                    // failure.
                    Ok(()) => {
                        this.shared.set_outcome(Outcome::Failed);
                        this.fut.set(None);
                        Poll::Pending
                    }
                    Err(failure) => match failure.into_payload().downcast::<E>() {
                        Ok(error) => Poll::Ready(Err(*error)),
                        Err(_) => unreachable!("only this child's error was reported"),
                    },
                }
            }
            other => other,
        }
    }
}

/// Why a [`race`](ScopedSpawner::race) produced no value.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let err = root
///     .race(["a", "b"].map(|e| async move { Err::<(), _>(e) }))
///     .await
///     .unwrap_err();
/// assert!(matches!(err, tasktree::RaceError::AllFailed(ref errors) if errors.len() == 2));
/// # }
/// ```
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RaceError<E> {
    /// Every contender returned an error: the errors, in the order the
    /// contenders were given (empty if there were none).
    AllFailed(Vec<E>),
    /// A contender could not be spawned, or was cancelled from outside the
    /// race (the spawner's scope terminated).
    Terminated,
}

impl<E: fmt::Debug> fmt::Display for RaceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaceError::AllFailed(errors) => write!(f, "every contender failed: {errors:?}"),
            RaceError::Terminated => f.write_str("the race's scope terminated"),
        }
    }
}

impl<E: fmt::Debug> std::error::Error for RaceError<E> {}

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Spawns every future as a child, returns the first `Ok` value, and
    /// cancels the others: a structured `select` (Java's "shutdown on
    /// success"). The race resolves only after every other contender has
    /// terminated.
    ///
    /// The contenders run in a supervised scope of the race's own, a child
    /// of this spawner's scope, so the policy of the caller's scope does not
    /// apply to them: a contender that panics cancels the rest, and the
    /// panic is resumed once they have terminated, also inside a fail-fast
    /// scope (which sees it only if the caller does not catch it).
    ///
    /// Each wake-up polls only the contenders that woke the race, so a race
    /// of n contenders costs O(n) in total (G9).
    ///
    /// # Errors
    ///
    /// [`RaceError::AllFailed`] with every error if no contender succeeded;
    /// [`RaceError::Terminated`] if this spawner's scope has terminated.
    ///
    /// # Panics
    ///
    /// Resumes the panic of a contender.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels every contender; the enclosing scope
    /// awaits their termination.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let replicas = [30, 10, 20].map(|ms| async move {
    ///     tokio::time::sleep(Duration::from_millis(ms)).await;
    ///     Ok::<_, ()>(ms)
    /// });
    /// assert_eq!(root.race(replicas).await, Ok(10)); // the others were cancelled
    /// # }
    /// ```
    pub async fn race<I, Fut, T, E>(&self, contenders: I) -> Result<T, RaceError<E>>
    where
        I: IntoIterator<Item = Fut>,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        // A scope of its own: a fail-fast caller's scope would take a
        // contender's panic (and cancel the caller) before the race saw it.
        // Dropped, the block drops the body (whose handles cancel the
        // contenders) and the enclosing scope awaits their termination.
        let end = match self.supervised_scope(|s| run_race(s, contenders)).await {
            Ok(end) => end,
            Err(_) => RaceEnd::Terminated,
        };
        match end {
            RaceEnd::Won(value) => Ok(value),
            RaceEnd::AllFailed(errors) => Err(RaceError::AllFailed(errors)),
            RaceEnd::Panicked(panic) => resume_unwind(panic),
            RaceEnd::Terminated => Err(RaceError::Terminated),
        }
    }
}

/// How a race ended.
enum RaceEnd<T, E> {
    Won(T),
    AllFailed(Vec<E>),
    Panicked(Box<dyn Any + Send>),
    Terminated,
}

/// The body of a race's scope: spawns the contenders through `spawner`,
/// waits for the first `Ok` (or panic, or outside cancel), then settles.
async fn run_race<S, I, Fut, T, E>(spawner: ScopedSpawner<S>, contenders: I) -> RaceEnd<T, E>
where
    S: Spawn + Clone + Send + Sync + 'static,
    I: IntoIterator<Item = Fut>,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    // Only the contenders that woke the race are polled (FuturesUnordered);
    // each carries its index, so the errors keep the given order.
    let mut running = FuturesUnordered::new();
    let mut spawned_all = true;
    for (index, contender) in contenders.into_iter().enumerate() {
        match spawner.spawn_task(contender) {
            Ok(handle) => running.push(Contender { index, handle }),
            Err(_) => {
                spawned_all = false;
                break;
            }
        }
    }
    let mut end = (!spawned_all).then_some(RaceEnd::Terminated);
    let mut errors: Vec<Option<E>> = (0..running.len()).map(|_| None).collect();
    while end.is_none() {
        let Some((index, outcome)) = running.next().await else {
            break;
        };
        match outcome {
            Ok(Ok(value)) => end = Some(RaceEnd::Won(value)),
            Ok(Err(error)) => errors[index] = Some(error),
            Err(error) => match error.try_into_panic() {
                Ok(panic) => end = Some(RaceEnd::Panicked(panic)),
                Err(_) => end = Some(RaceEnd::Terminated),
            },
        }
    }
    settle(running).await;
    end.unwrap_or_else(|| RaceEnd::AllFailed(errors.into_iter().flatten().collect()))
}

/// A contender's handle with its position among the contenders given.
struct Contender<T> {
    index: usize,
    handle: TaskHandle<T>,
}

impl<T> Future for Contender<T> {
    type Output = (usize, Result<T, crate::TaskError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        Pin::new(&mut self.handle)
            .poll(cx)
            .map(|outcome| (index, outcome))
    }
}

/// Cancels every unfinished contender and waits for its termination.
async fn settle<T>(mut running: FuturesUnordered<Contender<T>>) {
    // In the order the contenders were given, as their termination follows
    // (the set's own order is unspecified).
    let mut unfinished: Vec<&Contender<T>> = running.iter().collect();
    unfinished.sort_unstable_by_key(|contender| contender.index);
    for contender in unfinished {
        contender.handle.cancel();
    }
    // Their outcomes lost the race; only their termination matters here.
    while running.next().await.is_some() {}
}
