//! The tokio adapter: a `futures::task::Spawn` over a `tokio::runtime::Handle`.

use std::future::Future;

use futures_task::{FutureObj, Spawn, SpawnError};
use tokio::runtime::{Handle, TryCurrentError};

/// Spawns onto a tokio runtime; implements [`futures::task::Spawn`].
///
/// [`ScopedSpawner::tokio`](crate::ScopedSpawner::tokio) builds a root over
/// the current runtime with it. A [`ScopedSpawner`](crate::ScopedSpawner) over
/// a `TokioSpawner` hands its tasks to `Handle::spawn` directly, without the
/// extra box that going through `Spawn::spawn_obj` would cost.
///
/// [`futures::task::Spawn`]: https://docs.rs/futures/0.3/futures/task/trait.Spawn.html
///
/// # Examples
///
/// ```
/// use tasktree::{ScopedSpawn, ScopedSpawner, TokioSpawner};
///
/// let runtime = tokio::runtime::Runtime::new().unwrap();
/// let root = ScopedSpawner::new(TokioSpawner::new(runtime.handle().clone()));
/// let signals = root.spawn_future_with_signal(async { println!("on tokio") }, || ()).unwrap();
/// runtime.block_on(signals.done_receiver);
/// # drop(signals.cancel_sender);
/// ```
#[derive(Debug, Clone)]
pub struct TokioSpawner {
    handle: Handle,
}

impl TokioSpawner {
    /// A spawner onto the runtime behind `handle`.
    ///
    /// # Examples
    ///
    /// ```
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let spawner = tasktree::TokioSpawner::new(runtime.handle().clone());
    /// # drop(spawner);
    /// ```
    pub fn new(handle: Handle) -> Self {
        Self { handle }
    }

    /// A spawner onto the runtime this is called from.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime, as `tokio::spawn` does;
    /// [`try_current`](Self::try_current) returns an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let spawner = tasktree::TokioSpawner::current();
    /// # drop(spawner);
    /// # }
    /// ```
    #[track_caller]
    pub fn current() -> Self {
        Self::new(Handle::current())
    }

    /// A spawner onto the runtime this is called from, if there is one.
    ///
    /// # Errors
    ///
    /// Returns tokio's `TryCurrentError` outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tasktree::TokioSpawner::try_current().is_err());
    /// ```
    pub fn try_current() -> Result<Self, TryCurrentError> {
        Handle::try_current().map(Self::new)
    }

    /// The runtime handle this spawner uses.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let spawner = tasktree::TokioSpawner::current();
    /// let _handle: &tokio::runtime::Handle = spawner.handle();
    /// # }
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns without boxing (see the type's docs).
    pub(crate) fn spawn_direct<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(future));
    }

    /// Spawns without boxing, and keeps the `JoinHandle`: a typed
    /// handle's task, whose output is its outcome (task.rs, `Returned`).
    pub(crate) fn spawn_joined<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }
}

impl Spawn for TokioSpawner {
    /// Spawns `future` on the runtime. A runtime that has shut down drops the
    /// future at once; tokio gives no error for that.
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        self.spawn_direct(future);
        Ok(())
    }
}
