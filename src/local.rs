//! Local (`!Send`) tasks in the tree ([`LocalScopedSpawner`]), over
//! `futures::task::LocalSpawn`: futures' `LocalPool`, or tokio's `LocalSet`
//! through [`TokioLocalSpawner`].
//!
//! The tasks are the tree's usual ones: the same wrapper (so the same six
//! phases and guarantees), the same scopes and the same [`TaskHandle`];
//! only the spawn hands the wrapper to a local executor, so the future
//! need not be `Send`. Outputs and `done` callbacks still cross to their
//! handles and scopes, so they are `Send`.

use std::fmt;
use std::future::Future;

use futures_task::{LocalFutureObj, LocalSpawn, Spawn};

use crate::loom::Arc;
use crate::remote_scope::RemoteSpawner;
use crate::signal::CancelSender;
use crate::spawner::spawn_child_in;
use crate::task::Absent;
use crate::tree::{Node, Shared};
use crate::{ScopedSpawner, SpawnError, TaskHandle};

/// The spawner of one scope of the task tree, for futures that are not
/// `Send` (they may hold `Rc` and `RefCell`): spawned on a local executor
/// (`futures::task::LocalSpawn`), as children of this scope.
///
/// It is [`ScopedSpawner`]'s counterpart: its tasks have the same
/// termination phases, the same guarantees (G1–G10) and the same
/// [`TaskHandle`]s. A local task may have `Send` children too, on another
/// executor: [`with_executor`](Self::with_executor) gives a `ScopedSpawner`
/// of the same scope, which also reads its dump, metrics and cause, and
/// shuts it down.
///
/// Dropping the last clone of a root made with [`new`](Self::new) cancels
/// its children (G8), as for a `ScopedSpawner` (the two kinds of clones of
/// one scope count together).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use futures::executor::LocalPool;
/// use tasktree::LocalScopedSpawner;
///
/// let mut pool = LocalPool::new();
/// let root = LocalScopedSpawner::new(pool.spawner());
/// let seen = Rc::new(RefCell::new(Vec::new())); // not `Send`
/// let log = seen.clone();
/// let handle = root
///     .spawn_task_with(move |spawner| async move {
///         log.borrow_mut().push("parent");
///         let log2 = log.clone();
///         let child = spawner
///             .spawn_task(async move { log2.borrow_mut().push("child"); 2 })
///             .unwrap();
///         child.await.unwrap() * 21
///     })
///     .unwrap();
/// assert_eq!(pool.run_until(handle).unwrap(), 42);
/// assert_eq!(*seen.borrow(), ["parent", "child"]);
/// ```
pub struct LocalScopedSpawner<L> {
    executor: L,
    raw: RemoteSpawner,
}

impl<L> LocalScopedSpawner<L>
where
    L: LocalSpawn + Clone + 'static,
{
    /// A root spawner over the local executor `executor`.
    ///
    /// # Examples
    ///
    /// See [`LocalScopedSpawner`].
    pub fn new(executor: L) -> Self {
        LocalScopedSpawner {
            executor,
            raw: RemoteSpawner::root(),
        }
    }

    /// The local executor this spawner spawns onto.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = futures::executor::LocalPool::new();
    /// let root = tasktree::LocalScopedSpawner::new(pool.spawner());
    /// let _spawner: &futures::executor::LocalSpawner = root.executor();
    /// ```
    pub fn executor(&self) -> &L {
        &self.executor
    }

    /// Spawns `fut` as a child of this spawner's scope, on its local
    /// executor, and returns its handle, as
    /// [`ScopedSpawner::spawn_task`] does.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] once the scope has closed;
    /// [`SpawnError::AtLimit`] at the scope's limit;
    /// [`SpawnError::Executor`] if the executor refused the task.
    ///
    /// # Examples
    ///
    /// See [`LocalScopedSpawner`].
    pub fn spawn_task<F>(&self, fut: F) -> Result<TaskHandle<F::Output>, SpawnError>
    where
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_handled(Absent, |_| fut)
    }

    /// Spawns the future `fun` makes, given the child's own local spawner
    /// (for its children), and returns its handle, as
    /// [`ScopedSpawn::spawn_task_with`](crate::ScopedSpawn::spawn_task_with)
    /// does.
    ///
    /// # Errors
    ///
    /// As [`spawn_task`](Self::spawn_task).
    ///
    /// # Examples
    ///
    /// See [`LocalScopedSpawner`].
    pub fn spawn_task_with<F, Fun>(&self, fun: Fun) -> Result<TaskHandle<F::Output>, SpawnError>
    where
        F: Future + 'static,
        F::Output: Send + 'static,
        Fun: FnOnce(LocalScopedSpawner<L>) -> F,
    {
        self.spawn_handled(None, |child: Option<Self>| {
            fun(child.expect("a spawner for a child with a scope"))
        })
    }

    /// Spawns `fut` as a child with a `done` callback (phase 5) and no
    /// handle, as [`ScopedSpawn::spawn_future`](crate::ScopedSpawn::spawn_future)
    /// does.
    ///
    /// # Errors
    ///
    /// As [`spawn_task`](Self::spawn_task); on
    /// [`SpawnError::Executor`], `done` has run.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut pool = futures::executor::LocalPool::new();
    /// let root = tasktree::LocalScopedSpawner::new(pool.spawner());
    /// let rc = std::rc::Rc::new(()); // held by the task: not `Send`
    /// root.spawn_future(async move { drop(rc) }, || println!("done")).unwrap();
    /// pool.run_until_stalled();
    /// ```
    pub fn spawn_future<F, D>(&self, fut: F, done: D) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + 'static,
        D: FnOnce() + Send + 'static,
    {
        let spawn = |task| self.spawn_local(task);
        spawn_child_in(
            &self.raw.node,
            |node| self.child(node),
            |_, _| fut,
            Absent,
            done,
            Absent,
            0,
            Absent,
            |task: crate::task::Task<_, _, _, _, Absent>| spawn(task),
        )
        .map(|_| ())
    }

    /// A [`ScopedSpawner`] of this same scope over `executor`, for `Send`
    /// children of a local task (on tokio's runtime, a thread pool, ...),
    /// and for what a `ScopedSpawner` reads of its scope: its
    /// [`dump`](ScopedSpawner::dump), [`metrics`](ScopedSpawner::metrics),
    /// [`cancel_cause`](ScopedSpawner::cancel_cause), its
    /// [`shutdown`](ScopedSpawner::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::rc::Rc;
    /// use tasktree::{LocalScopedSpawner, TokioLocalSpawner, TokioSpawner};
    ///
    /// let local = Rc::new(tokio::task::LocalSet::new());
    /// let root = LocalScopedSpawner::new(TokioLocalSpawner::new(local.clone()));
    /// let sum = local
    ///     .run_until(async {
    ///         let handle = root
    ///             .spawn_task_with(|spawner| async move {
    ///                 // A `Send` child of this local task, on the runtime.
    ///                 let runtime = spawner.with_executor(TokioSpawner::current());
    ///                 let sent = runtime.spawn_task(async { 40 }).unwrap();
    ///                 let local = spawner.spawn_task(async { 2 }).unwrap();
    ///                 sent.await.unwrap() + local.await.unwrap()
    ///             })
    ///             .unwrap();
    ///         handle.await.unwrap()
    ///     })
    ///     .await;
    /// assert_eq!(sum, 42);
    /// # }
    /// ```
    pub fn with_executor<S>(&self, executor: S) -> ScopedSpawner<S>
    where
        S: Spawn + Clone + Send + Sync + 'static,
    {
        ScopedSpawner::from_parts(executor, self.raw.clone())
    }

    /// The local spawner of a child's scope.
    fn child(&self, node: Arc<Node>) -> Self {
        LocalScopedSpawner {
            executor: self.executor.clone(),
            raw: RemoteSpawner::from_node(node),
        }
    }

    /// Hands a wrapper to the local executor.
    fn spawn_local<F: Future<Output = ()> + 'static>(&self, task: F) -> Result<(), SpawnError> {
        let task = LocalFutureObj::new(Box::new(task));
        self.executor
            .spawn_local_obj(task)
            .map_err(SpawnError::from)
    }

    /// A child whose outcome a [`TaskHandle`] takes through a done cell.
    fn spawn_handled<T, Fut, Make, Sc>(
        &self,
        scope: Sc,
        make: Make,
    ) -> Result<TaskHandle<T>, SpawnError>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + 'static,
        Make: FnOnce(Option<Self>) -> Fut,
        Sc: crate::task::Field<Arc<Node>>,
    {
        let shared = Arc::new(Shared::new());
        let spawn = |task| self.spawn_local(task);
        let (key, ()) = spawn_child_in(
            &self.raw.node,
            |node| self.child(node),
            |child, _| make(child),
            scope,
            || (),
            Some(shared.clone()),
            1,
            Absent,
            |task: crate::task::Task<_, _, _, _, Absent>| spawn(task),
        )?;
        let sender = CancelSender::new(self.raw.node.clone(), key);
        Ok(TaskHandle::new(sender, shared))
    }
}

impl<L: Clone> Clone for LocalScopedSpawner<L> {
    fn clone(&self) -> Self {
        LocalScopedSpawner {
            executor: self.executor.clone(),
            raw: self.raw.clone(),
        }
    }
}

impl<L> fmt::Debug for LocalScopedSpawner<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalScopedSpawner")
            .field("scope", &self.raw.node)
            .finish_non_exhaustive()
    }
}

/// A `futures::task::LocalSpawn` over tokio's `LocalSet` (feature
/// `tokio`), for [`LocalScopedSpawner`]: it spawns onto the set with
/// `LocalSet::spawn_local`, which queues the task whatever thread context
/// it is called from, so the set runs it when it next runs (inside
/// `LocalSet::run_until`, or awaited).
///
/// # Examples
///
/// See [`LocalScopedSpawner::with_executor`].
#[cfg(feature = "tokio")]
#[derive(Clone)]
pub struct TokioLocalSpawner {
    set: std::rc::Rc<tokio::task::LocalSet>,
}

#[cfg(feature = "tokio")]
impl TokioLocalSpawner {
    /// A spawner onto `set`.
    ///
    /// # Examples
    ///
    /// See [`LocalScopedSpawner::with_executor`].
    pub fn new(set: std::rc::Rc<tokio::task::LocalSet>) -> Self {
        TokioLocalSpawner { set }
    }
}

#[cfg(feature = "tokio")]
impl LocalSpawn for TokioLocalSpawner {
    fn spawn_local_obj(
        &self,
        future: LocalFutureObj<'static, ()>,
    ) -> Result<(), futures_task::SpawnError> {
        // Detached: the tree, not tokio's handle, follows the task.
        drop(self.set.spawn_local(future));
        Ok(())
    }
}

#[cfg(feature = "tokio")]
impl fmt::Debug for TokioLocalSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokioLocalSpawner").finish_non_exhaustive()
    }
}
