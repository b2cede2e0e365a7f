//! Results as they come ([`TaskSet`]): a set of typed children whose
//! results are read in completion order (a `Stream`, as tokio's
//! `JoinSet::join_next`) or all at once in spawn order
//! ([`TaskSet::join_all`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_task::Spawn;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::{CancelOnDrop, ScopedSpawn, ScopedSpawner, SpawnError, TaskError, TaskId};

/// A set of child tasks with results of type `T`, read as they finish.
///
/// The tasks are children of the spawner the set was made from, in its
/// scope (or of wherever the handles given to [`insert`](Self::insert) come
/// from): they are cancelled with it, and a scope block waits for them as
/// for any child. The set holds each task's handle until its result is
/// read; [`join_next`](Self::join_next) (or the `Stream` impl) yields the
/// results in the order the tasks finish, [`join_all`](Self::join_all) all
/// of them in the order they were spawned.
///
/// Dropping the set cancels the tasks still in it, as dropping a tokio
/// `JoinSet` aborts them (each is awaited by its scope, as every child is).
///
/// To drop results as they finish, without reading them (Swift's
/// `DiscardingTaskGroup`), keep no handle: spawn with
/// [`spawn_future`](ScopedSpawn::spawn_future), or
/// [`detach`](crate::TaskHandle::detach) the handle. A finished child's
/// output is dropped at once and its slot freed, so a long-lived scope
/// accumulates nothing (`tests/task_set.rs` measures it); a scope block
/// still waits for all of them.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use tasktree::{ScopedSpawner, TaskSet};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let mut set = TaskSet::new(&root);
/// for ms in [30, 10, 20] {
///     set.spawn(async move {
///         tokio::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     })
///     .unwrap();
/// }
/// let mut finished = Vec::new();
/// while let Some(result) = set.next().await {
///     finished.push(result.unwrap());
/// }
/// assert_eq!(finished, [10, 20, 30]);
/// # }
/// ```
pub struct TaskSet<T, S> {
    spawner: ScopedSpawner<S>,
    running: FuturesUnordered<Entry<T>>,
    /// The next task's place in spawn order.
    next: u64,
}

/// One task of a set: its handle, which cancels it if dropped, and its
/// place in spawn order.
struct Entry<T> {
    order: u64,
    handle: CancelOnDrop<T>,
}

impl<T> Future for Entry<T> {
    type Output = (u64, Result<T, TaskError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let order = self.order;
        Pin::new(&mut self.handle)
            .poll(cx)
            .map(|result| (order, result))
    }
}

impl<T, S> TaskSet<T, S>
where
    T: Send + 'static,
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// An empty set whose tasks are children of `spawner`.
    ///
    /// # Examples
    ///
    /// See [`TaskSet`].
    pub fn new(spawner: &ScopedSpawner<S>) -> Self {
        TaskSet {
            spawner: spawner.clone(),
            running: FuturesUnordered::new(),
            next: 0,
        }
    }

    /// Spawns `fut` as a child of the set's spawner, into the set; returns
    /// its id.
    ///
    /// # Errors
    ///
    /// As [`ScopedSpawn::spawn_task`]: [`SpawnError::Terminated`] once the
    /// spawner's task has terminated (or its root was shut down).
    ///
    /// # Examples
    ///
    /// See [`TaskSet`].
    pub fn spawn<F>(&mut self, fut: F) -> Result<TaskId, SpawnError>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let handle = self.spawner.spawn_task(fut)?;
        Ok(self.add(handle))
    }

    /// Spawns the future `fun` makes, given the child's own spawner (as
    /// [`ScopedSpawn::spawn_task_with`]), into the set; returns its id.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let mut set = tasktree::TaskSet::new(&root);
    /// set.spawn_with(|child| async move {
    ///     child.spawn_task(async { 20 }).unwrap().await.unwrap() + 22
    /// })
    /// .unwrap();
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 42);
    /// # }
    /// ```
    pub fn spawn_with<F, Fun>(&mut self, fun: Fun) -> Result<TaskId, SpawnError>
    where
        F: Future<Output = T> + Send + 'static,
        Fun: FnOnce(ScopedSpawner<S>) -> F,
    {
        let handle = self.spawner.spawn_task_with(fun)?;
        Ok(self.add(handle))
    }
}

impl<T, S> TaskSet<T, S> {
    /// Adds the task of `handle` to the set (spawned some other way: in a
    /// [`Place`](crate::Place) reserved under a limit, with a name, ...);
    /// returns its id. The set cancels it when dropped, as its own.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let mut set = tasktree::TaskSet::new(&root);
    /// set.insert(root.named("fetch").spawn_task(async { 7 }).unwrap());
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    /// # }
    /// ```
    pub fn insert(&mut self, handle: crate::TaskHandle<T>) -> TaskId {
        self.add(handle)
    }

    fn add(&mut self, handle: crate::TaskHandle<T>) -> TaskId {
        let id = handle.id();
        let order = self.next;
        self.next += 1;
        self.running.push(Entry {
            order,
            handle: handle.cancel_on_drop(),
        });
        id
    }
    /// The next result, in the order the tasks finish (each once its
    /// subtree has terminated, as a handle's); `None` once the set is empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a result is taken out of the set only when returned.
    ///
    /// # Examples
    ///
    /// See [`spawn_with`](Self::spawn_with).
    pub async fn join_next(&mut self) -> Option<Result<T, TaskError>> {
        self.running.next().await.map(|(_, result)| result)
    }

    /// Every result, in the order the tasks were spawned, once all have
    /// finished.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the set, which cancels the tasks not yet
    /// finished and drops the results already in.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let mut set = tasktree::TaskSet::new(&root);
    /// for ms in [30, 10, 20] {
    ///     set.spawn(async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         ms
    ///     })
    ///     .unwrap();
    /// }
    /// let all: Vec<u64> = set.join_all().await.into_iter().map(Result::unwrap).collect();
    /// assert_eq!(all, [30, 10, 20]);
    /// # }
    /// ```
    pub async fn join_all(mut self) -> Vec<Result<T, TaskError>> {
        let mut all = Vec::with_capacity(self.running.len());
        while let Some(entry) = self.running.next().await {
            all.push(entry);
        }
        all.sort_unstable_by_key(|(order, _)| *order);
        all.into_iter().map(|(_, result)| result).collect()
    }

    /// The number of tasks whose result has not been read.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let mut set = tasktree::TaskSet::new(&root);
    /// assert!(set.is_empty());
    /// set.spawn(async {}).unwrap();
    /// assert_eq!(set.len(), 1);
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether every result has been read.
    ///
    /// # Examples
    ///
    /// See [`len`](Self::len).
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Cancels every task in the set (as [`TaskHandle::cancel`](crate::TaskHandle::cancel));
    /// their results (errors that say so, or values of tasks that finished
    /// first) are still read from the set.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let mut set = tasktree::TaskSet::new(&root);
    /// set.spawn(std::future::pending::<()>()).unwrap();
    /// set.cancel_all();
    /// assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// # }
    /// ```
    pub fn cancel_all(&self) {
        for entry in self.running.iter() {
            entry.handle.cancel();
        }
    }
}

// Nothing in a set is pinned: its tasks' handles are in a
// `FuturesUnordered`, which is `Unpin`; the spawner is never polled.
impl<T, S> Unpin for TaskSet<T, S> {}

impl<T, S> Stream for TaskSet<T, S> {
    type Item = Result<T, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let running = &mut self.get_mut().running;
        (running.poll_next_unpin(cx)).map(|entry| entry.map(|(_, result)| result))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.running.len(), Some(self.running.len()))
    }
}

impl<T, S> fmt::Debug for TaskSet<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("len", &self.running.len())
            .finish_non_exhaustive()
    }
}
