//! A concurrency limit per scope (issue 14): [`ScopedSpawner::set_limit`],
//! [`ScopedSpawner::reserve`] and its [`Place`]. The mechanism is in
//! `tree/limit.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_task::Spawn;

use crate::spawner::Reserved;
use crate::task::Absent;
use crate::tree::limit::Entry;
use crate::tree::{finish_chain, Link, Node};
use crate::{ScopedSpawner, SpawnError, TaskHandle};

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Limits this spawner's scope to `max` live children (`None`: no
    /// limit, the default), as Go's `errgroup.SetLimit` and Kotlin's
    /// `limitedParallelism` do. A spawn at the limit fails at once with
    /// [`SpawnError::AtLimit`] (every spawn method is the "try" form);
    /// [`reserve`](Self::reserve) waits for room.
    ///
    /// A child counts until its done signal, so its own children are
    /// awaited before its place is free. Lowering the limit below the live
    /// count ends no child: spawns wait (or fail) until enough have ended.
    /// The limit applies to every clone of this spawner, not to the scopes
    /// of its children.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::SpawnError;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.set_limit(Some(1));
    /// let first = root.spawn_task(async { 1 }).unwrap();
    /// assert_eq!(root.spawn_task(async { 2 }).unwrap_err(), SpawnError::AtLimit);
    /// // `reserve` waits for `first` to end.
    /// let place = root.reserve().await.unwrap();
    /// let second = place.spawn_task(async { 2 }).unwrap();
    /// assert_eq!(first.await.unwrap() + second.await.unwrap(), 3);
    /// # }
    /// ```
    pub fn set_limit(&self, max: Option<usize>) {
        self.as_raw_node().set_limit(max);
    }

    /// The limit set by [`set_limit`](Self::set_limit), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// assert_eq!(root.limit(), None);
    /// root.set_limit(Some(8));
    /// assert_eq!(root.limit(), Some(8));
    /// # }
    /// ```
    pub fn limit(&self) -> Option<usize> {
        self.as_raw_node().limit()
    }

    /// Waits until this spawner's scope has room under its limit, and
    /// reserves a place there for one child: the [`Place`] spawns it. With
    /// no limit, resolves at once.
    ///
    /// A reserved place counts as a live child until it is used or dropped
    /// (a dump lists it as an unnamed running task), so no other spawn can
    /// take it meanwhile.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if the scope is (or becomes, while this
    /// waits) closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `Reserve` holds no place, and passes on a
    /// wake-up it was given to the next waiting `reserve`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.set_limit(Some(4));
    /// let mut handles = Vec::new();
    /// for n in 0..10 {
    ///     // At most 4 run at once; the loop waits for room.
    ///     let place = root.reserve().await.unwrap();
    ///     handles.push(place.spawn_task(async move { n * n }).unwrap());
    /// }
    /// let mut sum = 0;
    /// for handle in handles {
    ///     sum += handle.await.unwrap();
    /// }
    /// assert_eq!(sum, 285);
    /// # }
    /// ```
    pub fn reserve(&self) -> Reserve<'_, S> {
        Reserve {
            spawner: self,
            entry: None,
        }
    }
}

/// Waits for room under a scope's limit ([`ScopedSpawner::reserve`]).
///
/// # Cancel safety
///
/// Cancel safe: see [`ScopedSpawner::reserve`].
#[must_use = "futures do nothing unless polled"]
pub struct Reserve<'a, S> {
    spawner: &'a ScopedSpawner<S>,
    /// This future's waiter entry in the scope, while it waits.
    entry: Option<Entry>,
}

impl<'a, S> Future for Reserve<'a, S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    type Output = Result<Place<'a, S>, SpawnError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `Reserve` is `Unpin`.
        let this = self.get_mut();
        let node = this.spawner.as_raw_node();
        Node::poll_reserve(node, &mut this.entry, cx.waker()).map_ok(|link| Place {
            spawner: this.spawner,
            link: Some(link),
        })
    }
}

impl<S> Drop for Reserve<'_, S> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.spawner.raw_node().forget_room_waiter(entry);
        }
    }
}

impl<S> fmt::Debug for Reserve<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve")
            .field("waiting", &self.entry.is_some())
            .finish()
    }
}

/// A place reserved for one child under a scope's limit
/// ([`ScopedSpawner::reserve`]). Spawning through it cannot fail for the
/// limit; dropping it unused frees the place.
///
/// # Examples
///
/// See [`ScopedSpawner::reserve`].
pub struct Place<'a, S> {
    spawner: &'a ScopedSpawner<S>,
    /// The reserved slot (L1, tree/limit.rs); taken by a spawn.
    link: Option<Link>,
}

impl<S> Place<'_, S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Spawns `fut` in the reserved place, as
    /// [`ScopedSpawn::spawn_task`](crate::ScopedSpawn::spawn_task) does.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Executor`] if the executor refused the task (its place
    /// is then free again).
    ///
    /// # Examples
    ///
    /// See [`ScopedSpawner::reserve`].
    pub fn spawn_task<F>(mut self, fut: F) -> Result<TaskHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let link = Reserved(self.link.take());
        self.spawner
            .spawn_returned::<_, _, _, _, Absent, _>(Absent, link, |_| fut)
    }

    /// Spawns the future `fun` makes, given the child's own spawner, in the
    /// reserved place, as
    /// [`ScopedSpawn::spawn_task_with`](crate::ScopedSpawn::spawn_task_with)
    /// does.
    ///
    /// # Errors
    ///
    /// As [`spawn_task`](Self::spawn_task).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.set_limit(Some(1));
    /// let place = root.reserve().await.unwrap();
    /// let handle = place
    ///     .spawn_task_with(|child| async move {
    ///         // The limit is the root's: the child's own scope has none.
    ///         child.spawn_task(async { 2 }).unwrap().await.unwrap() * 21
    ///     })
    ///     .unwrap();
    /// assert_eq!(handle.await.unwrap(), 42);
    /// # }
    /// ```
    pub fn spawn_task_with<F, Fun>(mut self, fun: Fun) -> Result<TaskHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        Fun: FnOnce(ScopedSpawner<S>) -> F,
    {
        let link = Reserved(self.link.take());
        self.spawner.spawn_returned::<_, _, _, _, Option<_>, _>(
            None,
            link,
            |child: Option<ScopedSpawner<S>>| {
                fun(child.expect("a spawner for a child with a scope"))
            },
        )
    }
}

impl<S> Drop for Place<'_, S> {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            // Unused: the slot's done signal frees the place (and wakes a
            // waiting `reserve`); it was never a child.
            Node::unreserve(&link);
            finish_chain(link);
        }
    }
}

impl<S> fmt::Debug for Place<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Place").finish_non_exhaustive()
    }
}
