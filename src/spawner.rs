//! `ScopedSpawn` and its implementation over any `futures::task::Spawn`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_task::{FutureObj, Spawn};

use crate::dump::{Label, TaskId};
use crate::loom::Arc;
use crate::remote_scope::RemoteSpawner;
use crate::signal::{CancelSender, DoneReceiver, Outcome, ParentSignals};
#[cfg(feature = "tokio")]
use crate::task::Returned;
use crate::task::{keeps_memo, terminate_detached, Absent, Field, Observer, Task};
use crate::trace::TaskSpan;
use crate::tree::{Extra, Link, Node, Shared};
use crate::{SpawnError, StopRequested, TaskHandle};

/// Spawns children of the current task (or of a root).
///
/// Every spawned child joins the tree: it is cancelled when its parent
/// terminates, its parent waits for its termination, and its `done` callback
/// runs after its own children's (see the crate docs for the six phases).
/// Code that accepts a spawner should accept `impl ScopedSpawn`, so that it
/// works over any executor.
///
/// # Examples
///
/// ```
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// async fn fan_out(spawner: impl ScopedSpawn) {
///     for i in 0..3 {
///         spawner.spawn_future(async move { println!("worker {i}") }, || ()).unwrap();
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// fan_out(root.clone()).await;
/// root.shutdown().await;
/// # }
/// ```
pub trait ScopedSpawn: Clone + Send + Sync {
    /// Spawns the future that `fun` makes from the child's own spawner.
    ///
    /// The child's spawner spawns grandchildren; hand it to no other task
    /// (they would become the child's children). `done` runs in phase 5 of
    /// the child's termination, after all of the child's children are done.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if this spawner's task has terminated (then
    /// neither `fun` nor `done` is called); [`SpawnError::Executor`] if the
    /// executor refused the task (then `done` has already run, or runs once
    /// the children that `fun` spawned are done).
    fn spawn<Fut, Fun, Done>(&self, fun: Fun, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static;

    /// As [`spawn`](Self::spawn), and returns the parent's ends of the child's
    /// signals: dropping the cancel sender cancels the child.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    fn spawn_with_signal<Fut, Fun, Done>(
        &self,
        fun: Fun,
        done: Done,
    ) -> Result<ParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static;

    /// Spawns a child that does not spawn: it gets no spawner, and costs no
    /// scope of its own.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    fn spawn_future<Fut, Done>(&self, fut: Fut, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static;

    /// As [`spawn_future`](Self::spawn_future), and returns the parent's ends
    /// of the child's signals.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    fn spawn_future_with_signal<Fut, Done>(
        &self,
        fut: Fut,
        done: Done,
    ) -> Result<ParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static;

    /// Spawns a child that does not spawn, and returns a typed handle to
    /// its result: the `tokio::spawn` of the tree.
    ///
    /// Dropping the handle detaches the child, as with `tokio::spawn`
    /// ([`TaskHandle`] says how to cancel). A panic in `fut` is caught and
    /// reported through the handle (or, in a fail-fast scope, taken by the
    /// scope).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if this spawner's task has terminated;
    /// [`SpawnError::Executor`] if the executor refused the task.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// async fn greet(spawner: impl ScopedSpawn) -> &'static str {
    ///     spawner.spawn_task(async { "hello" }).unwrap().await.unwrap()
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(greet(ScopedSpawner::tokio()).await, "hello");
    /// # }
    /// ```
    fn spawn_task<Fut>(&self, fut: Fut) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static;

    /// Spawns the future that `fun` makes from the child's own spawner, and
    /// returns a typed handle to its result: [`spawn_task`](Self::spawn_task)
    /// for a child that spawns children of its own, and
    /// [`spawn`](Self::spawn) without a `done` callback.
    ///
    /// The handle resolves once the child's whole subtree has terminated:
    /// when the child's future completes, its children still running are
    /// cancelled (phase 3) and awaited first. Dropping the handle detaches
    /// the child, as [`TaskHandle`] says; a panic is reported as
    /// [`spawn_task`](Self::spawn_task) reports it.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn) (`fun` is not called if the spawner's task
    /// has terminated).
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// // A request handler that fans out and returns a response.
    /// let handler = root
    ///     .spawn_task_with(|spawner| async move {
    ///         let parts: Vec<_> = (1..=3)
    ///             .map(|i| spawner.spawn_task(async move { i * 10 }).unwrap())
    ///             .collect();
    ///         let mut sum = 0;
    ///         for part in parts {
    ///             sum += part.await.unwrap();
    ///         }
    ///         sum
    ///     })
    ///     .unwrap();
    /// assert_eq!(handler.await.unwrap(), 60);
    /// # }
    /// ```
    fn spawn_task_with<Fut, Fun>(&self, fun: Fun) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Fun: FnOnce(Self) -> Fut;

    /// Resolves when this spawner's scope is asked to stop: its task got a
    /// graceful cancel (the stop request of
    /// [`TaskHandle::cancel_with_grace`](crate::TaskHandle::cancel_with_grace),
    /// of a parent's grace period, of
    /// [`shutdown_with_grace`](ScopedSpawner::shutdown_with_grace) higher
    /// up), or the scope began its termination (its task's future ended or
    /// was cancelled, the root was shut down, a scope block's children were
    /// cancelled).
    ///
    /// This is how a task cooperates with a graceful cancel: `select!` on it,
    /// then flush, reply or close, and return before the grace period ends.
    /// Without a grace period a cancel drops the future at its next poll, so
    /// code after this future does not run in the cancelled task itself.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a new call sees the same state.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// // Code that takes `impl ScopedSpawn` reaches the stop request too.
    /// async fn serve(spawner: impl ScopedSpawn) {
    ///     tokio::select! {
    ///         _ = std::future::pending::<()>() => {}    // the work
    ///         _ = spawner.stop_requested() => println!("flushing"),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// root.spawn(serve, || println!("done")).unwrap();
    /// root.shutdown_with_grace(Duration::from_secs(5)).unwrap().await; // "flushing", "done"
    /// # }
    /// ```
    fn stop_requested(&self) -> StopRequested {
        StopRequested::new(self.as_raw().node.clone())
    }

    /// Whether [`stop_requested`](Self::stop_requested) has resolved.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawn;
    ///
    /// fn accepting(spawner: &impl ScopedSpawn) -> bool {
    ///     !spawner.is_stop_requested()
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// assert!(accepting(&root));
    /// root.shutdown().await;
    /// assert!(!accepting(&root));
    /// # }
    /// ```
    fn is_stop_requested(&self) -> bool {
        self.as_raw().node.is_stopping()
    }

    /// A [`CancellationToken`](tokio_util::sync::CancellationToken) that is
    /// cancelled when this scope is asked to stop or begins its termination
    /// (when [`stop_requested`](Self::stop_requested) resolves), for code that
    /// already takes a token.
    ///
    /// Every call returns a clone of the same token. Cancelling it from
    /// outside does nothing to the scope (use
    /// [`cancel_on`](ScopedSpawner::cancel_on) for that direction).
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawn;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let token = ScopedSpawn::cancellation_token(&root);
    /// root.shutdown().await;
    /// assert!(token.is_cancelled());
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    fn cancellation_token(&self) -> tokio_util::sync::CancellationToken {
        self.as_raw().node.token()
    }

    /// The low-level spawner of this spawner's scope.
    fn as_raw(&self) -> &RemoteSpawner;

    /// The low-level spawner of this spawner's scope, by value.
    fn into_raw(self) -> RemoteSpawner;
}

/// The spawner of one scope of the task tree, over the executor `S`.
///
/// [`ScopedSpawner::new`] (or [`ScopedSpawner::tokio`]) makes a *root*: a
/// scope with no task of its own. Dropping the last clone of a root cancels
/// its children; [`shutdown`](Self::shutdown) cancels them and waits (G8).
/// The spawners handed to spawned children belong to those children's
/// scopes, and stop spawning (with [`SpawnError::Terminated`]) once their task
/// has terminated (G5).
///
/// `Clone + Send + Sync`: clones may spawn from any thread at once (G7).
///
/// # Examples
///
/// ```
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio(); // instead of `tokio::spawn`
/// let signals = root
///     .spawn_with_signal(
///         |spawner| async move {
///             // A grandchild of the root: cancelled when this task ends.
///             spawner.spawn_future(std::future::pending(), || println!("grandchild done")).unwrap();
///         },
///         || println!("child done"),
///     )
///     .unwrap();
/// signals.done_receiver.await; // prints "grandchild done", then "child done"
/// # drop(signals.cancel_sender);
/// # }
/// ```
///
/// With the `tokio` feature, `S` defaults to [`TokioSpawner`](crate::TokioSpawner):
/// a field or a parameter holding a tokio spawner is spelled `ScopedSpawner`.
///
/// ```
/// struct Server {
///     connections: tasktree::ScopedSpawner, // ScopedSpawner<TokioSpawner>
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = Server { connections: tasktree::ScopedSpawner::tokio() };
/// server.connections.shutdown().await;
/// # }
/// ```
#[cfg(feature = "tokio")]
pub struct ScopedSpawner<S = crate::TokioSpawner> {
    executor: S,
    raw: RemoteSpawner,
}

/// The spawner of one scope of the task tree (see the `tokio` feature's
/// docs).
#[cfg(not(feature = "tokio"))]
pub struct ScopedSpawner<S> {
    executor: S,
    raw: RemoteSpawner,
}

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// A root spawner over `executor`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::executor::ThreadPool;
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// let pool = ThreadPool::new().unwrap();
    /// let root = ScopedSpawner::new(pool);
    /// let signals = root.spawn_future_with_signal(async {}, || ()).unwrap();
    /// futures::executor::block_on(signals.done_receiver);
    /// # drop(signals.cancel_sender);
    /// ```
    pub fn new(executor: S) -> Self {
        Self {
            executor,
            raw: RemoteSpawner::root(),
        }
    }

    /// Spawns a child and returns a typed handle to its result: the
    /// `tokio::spawn` of the tree. The same as
    /// [`ScopedSpawn::spawn_task`], callable without importing the trait.
    ///
    /// Dropping the handle detaches the child, as with `tokio::spawn`
    /// ([`TaskHandle`] says how to cancel). A panic in `fut` is caught and
    /// reported through the handle (or, in a fail-fast scope, taken by the
    /// scope).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if this spawner's task has terminated;
    /// [`SpawnError::Executor`] if the executor refused the task.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.spawn_task(async { 6 * 7 }).unwrap();
    /// assert_eq!(handle.await.unwrap(), 42);
    /// # }
    /// ```
    pub fn spawn_task<Fut>(&self, fut: Fut) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.spawn_returned::<_, _, _, _, Absent, _>(Absent, Absent, |_| fut)
    }

    /// `ScopedSpawn::spawn` and `spawn_with_signal`, with `views`
    /// references for the caller's signals and an optional label
    /// ([`Named`](crate::Named)); returns the child's slot key.
    pub(crate) fn spawn_scoped<Fut, Fun, Done, L>(
        &self,
        fun: Fun,
        done: Done,
        views: u32,
        label: L,
    ) -> Result<usize, SpawnError>
    where
        L: Admit,
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let make =
            |child: Option<Self>, _key| fun(child.expect("a spawner for a child with a scope"));
        self.spawn_child(make, None, done, Absent, views, label)
    }

    /// `ScopedSpawn::spawn_task_with`, with an optional label.
    pub(crate) fn spawn_task_scoped<Fut, Fun, L>(
        &self,
        fun: Fun,
        label: L,
    ) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        L: Admit,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Fun: FnOnce(Self) -> Fut,
    {
        self.spawn_returned::<_, _, _, _, Option<_>, _>(None, label, |child: Option<Self>| {
            fun(child.expect("a spawner for a child with a scope"))
        })
    }

    /// Spawns a child whose outcome a [`TaskHandle`] takes (`spawn_task`,
    /// `spawn_task_with`): `make` gets the child's spawner, if `scope` is
    /// present. On tokio the wrapper is spawned with `Handle::spawn` and
    /// returns the outcome as its output, which the handle takes from the
    /// `JoinHandle` (no done cell: [`Returned`](crate::task::Returned));
    /// on any other executor, through a done cell ([`spawn_handled`](Self::spawn_handled)).
    ///
    /// `K` is where the wrapper keeps the outcome while it waits for its
    /// children: `Option<Outcome<T>>` for a child with a scope, [`Absent`]
    /// for a leaf.
    pub(crate) fn spawn_returned<T, Fut, Make, Sc, K, L>(
        &self,
        scope: Sc,
        label: L,
        make: Make,
    ) -> Result<TaskHandle<T>, SpawnError>
    where
        L: Admit,
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        Make: FnOnce(Option<Self>) -> Fut,
        Sc: Field<Arc<Node>>,
        K: Field<Outcome<T>>,
    {
        #[cfg(feature = "tokio")]
        if let Some(tokio) =
            (&self.executor as &dyn std::any::Any).downcast_ref::<crate::TokioSpawner>()
        {
            let make = |child, _key| make(child);
            let (key, joined) = if keeps_memo::<Fut>() {
                let spawn = |task: Task<_, _, _, _, Option<Waker>>| Ok(tokio.spawn_joined(task));
                self.spawn_child_then(make, scope, || (), Returned::<K>::new(), 1, label, spawn)?
            } else {
                let spawn = |task: Task<_, _, _, _, Absent>| Ok(tokio.spawn_joined(task));
                self.spawn_child_then(make, scope, || (), Returned::<K>::new(), 1, label, spawn)?
            };
            let sender = CancelSender::new(self.raw.node.clone(), key);
            return Ok(TaskHandle::joined(sender, joined));
        }
        self.spawn_handled(scope, label, |child, _, _| make(child))
    }

    /// Spawns a child whose outcome a [`TaskHandle`] takes through a done
    /// cell (`TryScope::spawn_try`, and `spawn_task` off tokio): `make` gets
    /// the child's spawner (if `scope` is present), the handle's done cell
    /// and the child's slot key.
    pub(crate) fn spawn_handled<T, Fut, Make, Sc, L>(
        &self,
        scope: Sc,
        label: L,
        make: Make,
    ) -> Result<TaskHandle<T>, SpawnError>
    where
        L: Admit,
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        Make: FnOnce(Option<Self>, &Arc<Shared<T>>, usize) -> Fut,
        Sc: Field<Arc<Node>>,
    {
        let shared = Arc::new(Shared::new());
        let make = |child, key| make(child, &shared, key);
        let key = self.spawn_child(make, scope, || (), Some(shared.clone()), 1, label)?;
        let sender = CancelSender::new(self.raw.node.clone(), key);
        Ok(TaskHandle::new(sender, shared))
    }

    pub(crate) fn from_parts(executor: S, raw: RemoteSpawner) -> Self {
        Self { executor, raw }
    }

    /// The executor this spawner spawns onto.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let _handle = root.executor().handle();
    /// # }
    /// ```
    pub fn executor(&self) -> &S {
        &self.executor
    }

    /// Closes this spawner's scope, cancels its children, and resolves once
    /// every one of them has terminated (G8).
    ///
    /// On a root this is the orderly end of the tree. On a task's spawner it
    /// cancels and awaits that task's children; the task itself runs on, but
    /// can spawn no more. Spawning through any clone afterwards returns
    /// [`SpawnError::Terminated`].
    ///
    /// The scope is closed and the children cancelled when `shutdown` is
    /// called, not when the future is first polled. If the scope has a
    /// grace period ([`set_grace_period`](Self::set_grace_period)) the
    /// cancel is graceful.
    ///
    /// Shutting down again escalates, as a second Ctrl-C should: after a
    /// [`shutdown_with_grace`](Self::shutdown_with_grace), a `shutdown`
    /// cancels the children still running at once (on a scope without a
    /// grace period of its own; with one, by that period from now, if it
    /// ends first). `shutdown_with_grace(Duration::ZERO)` always cancels at
    /// once.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future stops only the waiting; the children
    /// are already cancelled and will terminate.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// root.spawn_future(std::future::pending(), || println!("cancelled")).unwrap();
    /// root.shutdown().await; // "cancelled" has been printed
    /// assert!(root.spawn_future(async {}, || ()).is_err());
    /// # }
    /// ```
    pub fn shutdown(&self) -> Shutdown {
        Node::shutdown(&self.raw.node).wake();
        Shutdown {
            node: self.raw.node.clone(),
        }
    }

    /// Whether this spawner's scope has terminated: it is closed (its task's
    /// future ended or was cancelled, or the root was shut down) *and* every
    /// child has sent its done signal. Spawning fails as soon as the scope is
    /// closed, while its children may still be draining; this turns true
    /// only once they are done.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// assert!(!root.is_terminated());
    /// root.shutdown().await;
    /// assert!(root.is_terminated());
    /// # }
    /// ```
    pub fn is_terminated(&self) -> bool {
        self.raw.node.is_terminated()
    }

    /// Sets what a child's failure (a panic) does to this spawner's scope:
    /// [`FailurePolicy::Supervised`] (the default for spawners) reports it
    /// only through the child's own handle; [`FailurePolicy::FailFast`]
    /// cancels the other children and the scope's own task, and that task
    /// then fails with the child's panic, which is reported upwards in turn.
    /// On a root, which has no task, a fail-fast failure shuts the root down
    /// (every other child is cancelled, spawning fails) and the panic stays
    /// with the failing child's own handle. The policy applies to the whole
    /// scope, through every clone.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{FailurePolicy, ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let signals = root
    ///     .spawn_with_signal(
    ///         |spawner| async move {
    ///             spawner.set_failure_policy(FailurePolicy::FailFast);
    ///             spawner.spawn_future(async { panic!("child failed") }, || ()).unwrap();
    ///             std::future::pending::<()>().await; // cancelled by the failure
    ///         },
    ///         || println!("parent done"),
    ///     )
    ///     .unwrap();
    /// signals.done_receiver.await;
    /// # drop(signals.cancel_sender);
    /// # }
    /// ```
    pub fn set_failure_policy(&self, policy: FailurePolicy) {
        self.raw
            .node
            .set_fail_fast(matches!(policy, FailurePolicy::FailFast));
    }

    /// The number of children spawned through this scope that have not yet
    /// sent their done signal. A child leaves the count in the same critical
    /// section in which its handle or done receiver completes, so a child
    /// whose handle has resolved is never counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// root.spawn_future(std::future::pending(), || ()).unwrap();
    /// assert_eq!(root.live_children(), 1);
    /// root.shutdown().await;
    /// assert_eq!(root.live_children(), 0);
    /// # }
    /// ```
    pub fn live_children(&self) -> usize {
        self.raw.node.live()
    }

    /// Registers a child, makes its future (`make` gets the child's spawner,
    /// if it has a scope, and its slot key), wraps it and hands it to the
    /// executor: the one path every spawn method takes. Returns the child's
    /// slot key in this spawner's scope, with `views` references to it
    /// taken for the caller's views of the slot (cancel sender, done
    /// receiver: tree.rs, I5).
    ///
    /// What the wrapper carries follows from the types: `scope` is
    /// [`Absent`] for a leaf, or `None` for a child with a scope of its own
    /// (made here); `observer` is [`Absent`] for a child whose outcome
    /// nobody takes, or the `Some` done cell of its handle.
    pub(crate) fn spawn_child<T, Fut, Make, Done, Sc, Ob, L>(
        &self,
        make: Make,
        scope: Sc,
        done: Done,
        observer: Ob,
        views: u32,
        label: L,
    ) -> Result<usize, SpawnError>
    where
        L: Admit,
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        Make: FnOnce(Option<Self>, usize) -> Fut,
        Done: FnOnce() + Send + 'static,
        Sc: Field<Arc<Node>>,
        Ob: Observer<T, Output = ()>,
    {
        // The wrapper keeps a copy of its waker or not by the size of the
        // future (`keeps_memo`): two types, one chosen at compile time.
        let spawned = if keeps_memo::<Fut>() {
            let spawn = |task: Task<_, _, _, _, Option<Waker>>| {
                self.spawn_plain(task).map_err(SpawnError::from)
            };
            self.spawn_child_then(make, scope, done, observer, views, label, spawn)
        } else {
            let spawn =
                |task: Task<_, _, _, _, Absent>| self.spawn_plain(task).map_err(SpawnError::from);
            self.spawn_child_then(make, scope, done, observer, views, label, spawn)
        };
        spawned.map(|(key, ())| key)
    }

    /// [`spawn_child`](Self::spawn_child), with the wrapper handed to
    /// `spawn` rather than to the executor's `Spawn`: returns what `spawn`
    /// returned too (tokio's `JoinHandle`, for [`Returned`](crate::task::Returned)).
    /// If `spawn` fails, it has dropped the wrapper, whose drop ends the
    /// child (G4).
    // The one path of every spawn: each argument is one part of the child.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn_child_then<T, Fut, Make, Done, Sc, Ob, R, M, L>(
        &self,
        make: Make,
        scope: Sc,
        done: Done,
        observer: Ob,
        views: u32,
        label: L,
        spawn: impl FnOnce(Task<Fut, Done, Sc, Ob, M>) -> Result<R, SpawnError>,
    ) -> Result<(usize, R), SpawnError>
    where
        L: Admit,
        M: Field<Waker>,
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        Make: FnOnce(Option<Self>, usize) -> Fut,
        Done: FnOnce() + Send + 'static,
        Sc: Field<Arc<Node>>,
        Ob: Observer<T>,
    {
        let child = |node| ScopedSpawner {
            executor: self.executor.clone(),
            raw: RemoteSpawner::from_node(node),
        };
        spawn_child_in(
            &self.raw.node,
            child,
            make,
            scope,
            done,
            observer,
            views,
            label,
            spawn,
        )
    }

    /// The parent's signals of the child in slot `key`, registered with two
    /// views.
    pub(crate) fn signals(&self, key: usize) -> ParentSignals {
        ParentSignals {
            cancel_sender: CancelSender::new(self.raw.node.clone(), key),
            done_receiver: DoneReceiver::new(self.raw.node.clone(), key),
        }
    }

    /// This spawner's scope.
    pub(crate) fn as_raw_node(&self) -> &Arc<Node> {
        &self.raw.node
    }

    /// Hands `task` to the executor as it is (not as a child of the tree).
    pub(crate) fn spawn_plain<F>(&self, task: F) -> Result<(), futures_task::SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        #[cfg(feature = "tokio")]
        if let Some(tokio) =
            (&self.executor as &dyn std::any::Any).downcast_ref::<crate::TokioSpawner>()
        {
            tokio.spawn_direct(task);
            return Ok(());
        }
        self.executor.spawn_obj(FutureObj::new(Box::new(task)))
    }
}

#[cfg(feature = "tokio")]
impl ScopedSpawner<crate::TokioSpawner> {
    /// A root spawner over the tokio runtime this is called from: the
    /// one-line replacement for `tokio::spawn`.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime, as `tokio::spawn` does.
    /// Use `ScopedSpawner::new(TokioSpawner::try_current()?)` to get an error
    /// instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// root.spawn_future(async { println!("hello") }, || ()).unwrap();
    /// root.shutdown().await;
    /// # }
    /// ```
    #[track_caller]
    pub fn tokio() -> Self {
        Self::new(crate::TokioSpawner::current())
    }
}

/// What a child's failure does to the rest of its scope.
///
/// Set on a spawner with [`ScopedSpawner::set_failure_policy`]; scope blocks
/// choose theirs by the function that opens them ([`scope`](crate::scope) and
/// [`try_scope`](crate::try_scope) are fail-fast,
/// [`supervised_scope`](crate::supervised_scope) is supervised).
///
/// # Examples
///
/// ```
/// use tasktree::FailurePolicy;
///
/// assert_ne!(FailurePolicy::FailFast, FailurePolicy::Supervised);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// The first child that fails (panics, or returns an error through
    /// [`TryScope::spawn_try`](crate::TryScope::spawn_try)) cancels its
    /// siblings and the scope's owner; the owner reports that failure.
    FailFast,
    /// A child's failure is reported only through its own handle and does
    /// not touch its siblings.
    Supervised,
}

/// Ends a child whose future `make` panicked before its task was built:
/// its scope (with any children `make` registered) is closed, and `done` and
/// the done signal follow once those children are done (G4, G5).
/// References to a new slot taken for views that were not made (the spawn
/// failed): released when dropped.
struct Views<'a> {
    node: &'a Arc<Node>,
    key: usize,
    count: u32,
}

impl Drop for Views<'_> {
    fn drop(&mut self) {
        for _ in 0..self.count {
            Node::release(self.node, self.key, false);
        }
    }
}

struct Unmade<T, D, Sc, Ob>
where
    T: Send + 'static,
    D: FnOnce() + Send + 'static,
    Sc: Field<Arc<Node>>,
    Ob: Observer<T>,
{
    link: Option<Link>,
    scope: Sc,
    done: Option<D>,
    observer: Option<Ob>,
    output: PhantomData<fn() -> T>,
}

impl<T, D, Sc, Ob> Drop for Unmade<T, D, Sc, Ob>
where
    T: Send + 'static,
    D: FnOnce() + Send + 'static,
    Sc: Field<Arc<Node>>,
    Ob: Observer<T>,
{
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let shared = self.observer.as_mut().and_then(Ob::take_shared);
            // The executor refused the task: no child to cancel.
            let cause = crate::cause::ScopeCause::of(crate::cause::Kind::Executor);
            terminate_detached(self.scope.take(), cause, link, self.done.take(), shared);
        }
    }
}

/// The one path of every spawn ([`ScopedSpawner::spawn_child_then`], and
/// the local spawner's, local.rs): registers a child of `parent`, makes its
/// future (`make` gets the child's spawner, made by `child_spawner` from
/// its scope, if it has one, and its slot key), wraps it and hands the
/// wrapper to `spawn`. The future need not be `Send`: `spawn` decides
/// where it runs.
// Each argument is one part of the child.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_child_in<C, T, Fut, Make, Done, Sc, Ob, R, M, L>(
    parent: &Arc<Node>,
    child_spawner: impl FnOnce(Arc<Node>) -> C,
    make: Make,
    scope: Sc,
    done: Done,
    observer: Ob,
    views: u32,
    mut label: L,
    spawn: impl FnOnce(Task<Fut, Done, Sc, Ob, M>) -> Result<R, SpawnError>,
) -> Result<(usize, R), SpawnError>
where
    L: Admit,
    M: Field<Waker>,
    T: Send + 'static,
    Fut: Future<Output = T> + 'static,
    Make: FnOnce(Option<C>, usize) -> Fut,
    Done: FnOnce() + Send + 'static,
    Sc: Field<Arc<Node>>,
    Ob: Observer<T>,
{
    debug_assert!(scope.get().is_none(), "the scope is made here");
    // A child with a scope or a name is recorded for task dumps
    // (`Node::register_with`); a plain leaf takes the plain path.
    let mut name = None;
    let (link, scope) = if L::RESERVED {
        // A place reserved beforehand (`ScopedSpawner::reserve`): the
        // slot is registered; the caller's views, and the child's scope,
        // are added to it.
        let Some(link) = label.take_link() else {
            unreachable!("a reserved place holds its link until used")
        };
        Node::retain_views(&link, views);
        let scope = Sc::PRESENT.then(Node::new_owned);
        if let Some(scope) = &scope {
            Node::link_scope(&link, scope);
            scope.set_owner(&link);
        }
        (link, scope)
    } else if Sc::PRESENT || (L::LABELLED && label.has_label()) {
        let scope = Sc::PRESENT.then(Node::new_owned);
        let label = label.take_label();
        if cfg!(feature = "tracing") {
            name.clone_from(&label);
        }
        let extra = Extra {
            label,
            scope: scope.clone(),
        };
        let link = Node::register_with(parent, views, extra)?;
        if let Some(scope) = &scope {
            scope.set_owner(&link);
        }
        (link, scope)
    } else {
        (Node::register(parent, views)?, None)
    };
    let key = link.key;
    let node = parent;
    let span = TaskSpan::child(
        &node.span.get(),
        TaskId::new(node.id, key),
        name.as_deref().map(Label::name),
    );
    if let Some(scope) = &scope {
        scope.span.set(span.clone());
    }
    // The caller's views are made only once the spawn succeeded; if
    // `make` panics or the executor refuses, their references are
    // released here (I5).
    let mut unclaimed = Views {
        node: parent,
        key,
        count: views,
    };
    let child = scope.as_ref().map(|node| child_spawner(node.clone()));
    // If `make` (user code) panics, the guard ends the registered child:
    // its scope is closed, and `done` and the done signal follow (G4).
    let mut guard = Unmade {
        link: Some(link),
        scope: Sc::new(scope),
        done: Some(done),
        observer: Some(observer),
        output: PhantomData,
    };
    let fut = make(child, key);
    let (Some(link), Some(done), Some(observer)) =
        (guard.link.take(), guard.done.take(), guard.observer.take())
    else {
        unreachable!("the guard is disarmed once")
    };
    let scope = Sc::new(guard.scope.take());
    let task = Task::new(link, scope, fut, done, observer, span);
    // If the executor refuses, it drops `task`, whose drop ends it (G4).
    let spawned = spawn(task)?;
    unclaimed.count = 0;
    Ok((key, spawned))
}

/// How a child comes into its scope (`spawn_child_then`): a plain slot
/// ([`Absent`]), one with a name for task dumps (`Option<Arc<Label>>`,
/// [`Named`](crate::Named)), or a place reserved beforehand under the
/// scope's limit ([`Reserved`], tree/limit.rs). Resolved at compile time:
/// a plain spawn's code is the same as without the others.
pub(crate) trait Admit: Send + 'static {
    /// The child's slot is registered already: [`take_link`](Self::take_link)
    /// gives it.
    const RESERVED: bool = false;
    /// The child may have a label.
    const LABELLED: bool = false;

    fn has_label(&self) -> bool {
        false
    }

    fn take_label(&mut self) -> Option<Arc<Label>> {
        None
    }

    fn take_link(&mut self) -> Option<Link> {
        None
    }
}

impl Admit for Absent {}

impl Admit for Option<Arc<Label>> {
    const LABELLED: bool = true;

    fn has_label(&self) -> bool {
        self.is_some()
    }

    fn take_label(&mut self) -> Option<Arc<Label>> {
        self.take()
    }
}

/// A place reserved under a scope's limit: its registered slot.
pub(crate) struct Reserved(pub(crate) Option<Link>);

impl Admit for Reserved {
    const RESERVED: bool = true;

    fn take_link(&mut self) -> Option<Link> {
        self.0.take()
    }
}

impl<S> ScopedSpawner<S> {
    /// This spawner's scope, with no bound on `S` (for `Drop` impls).
    pub(crate) fn raw_node(&self) -> &Arc<Node> {
        &self.raw.node
    }
}

impl<S> ScopedSpawn for ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    fn spawn<Fut, Fun, Done>(&self, fun: Fun, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        self.spawn_scoped(fun, done, 0, Absent).map(drop)
    }

    fn spawn_with_signal<Fut, Fun, Done>(
        &self,
        fun: Fun,
        done: Done,
    ) -> Result<ParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let key = self.spawn_scoped(fun, done, 2, Absent)?;
        Ok(self.signals(key))
    }

    fn spawn_future<Fut, Done>(&self, fut: Fut, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        self.spawn_child(|_, _| fut, Absent, done, Absent, 0, Absent)
            .map(drop)
    }

    fn spawn_future_with_signal<Fut, Done>(
        &self,
        fut: Fut,
        done: Done,
    ) -> Result<ParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        let key = self.spawn_child(|_, _| fut, Absent, done, Absent, 2, Absent)?;
        Ok(self.signals(key))
    }

    fn spawn_task<Fut>(&self, fut: Fut) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        ScopedSpawner::spawn_task(self, fut)
    }

    fn spawn_task_with<Fut, Fun>(&self, fun: Fun) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Fun: FnOnce(Self) -> Fut,
    {
        self.spawn_task_scoped(fun, Absent)
    }

    fn as_raw(&self) -> &RemoteSpawner {
        &self.raw
    }

    fn into_raw(self) -> RemoteSpawner {
        self.raw
    }
}

impl<S: Clone> Clone for ScopedSpawner<S> {
    fn clone(&self) -> Self {
        Self {
            executor: self.executor.clone(),
            raw: self.raw.clone(),
        }
    }
}

impl<S> fmt::Debug for ScopedSpawner<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedSpawner")
            .field("scope", &self.raw.node)
            .finish_non_exhaustive()
    }
}

/// Resolves once every child of a closed scope has terminated.
///
/// Returned by [`ScopedSpawner::shutdown`].
///
/// # Cancel safety
///
/// Cancel safe: the scope was closed and its children cancelled when
/// `shutdown` was called; dropping this future only stops the waiting.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let shutdown: tasktree::Shutdown = root.shutdown();
/// shutdown.await;
/// # }
/// ```
#[must_use = "futures do nothing unless polled; the children are cancelled either way"]
pub struct Shutdown {
    node: Arc<Node>,
}

impl Shutdown {
    pub(crate) fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

impl Future for Shutdown {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.node.poll_drained(cx.waker(), false)
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("scope", &self.node)
            .finish()
    }
}
