//! Errors returned by spawning and by setting timers.

use std::error::Error;
use std::fmt;

/// Why a spawn failed.
///
/// A spawn never panics on misuse: spawning through a spawner whose task has
/// terminated, or on an executor that refuses new tasks, returns this error.
///
/// # Examples
///
/// ```
/// use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// root.shutdown().await;
/// let err = root.spawn_future(async {}, || ()).unwrap_err();
/// assert!(err.is_terminated());
/// assert_eq!(err, SpawnError::Terminated);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The spawner's scope has terminated: its task finished or was
    /// cancelled, or its root was shut down or dropped. No task was created.
    Terminated,
    /// The executor refused the task. The child had been registered, so it
    /// still terminates in order: its `done` callback runs exactly once,
    /// before this error is returned, or, if `fun` had already spawned
    /// children of it, as soon as those are done (G2). (`futures`'
    /// `SpawnError` carries no more detail than "the executor is shut
    /// down".)
    Executor,
    /// The scope already holds 2^32 - 1 children that have not finished (or
    /// whose handles are still alive); no task was created.
    TooManyChildren,
    /// The scope has as many live children as its limit allows
    /// ([`ScopedSpawner::set_limit`](crate::ScopedSpawner::set_limit)); no
    /// task was created. [`ScopedSpawner::reserve`](crate::ScopedSpawner::reserve)
    /// waits for room instead.
    AtLimit,
}

impl SpawnError {
    /// Whether the spawner's scope had terminated.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tasktree::SpawnError::Terminated.is_terminated());
    /// ```
    pub fn is_terminated(&self) -> bool {
        matches!(self, SpawnError::Terminated)
    }

    /// Whether the executor refused the task.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = tasktree::SpawnError::from(futures::task::SpawnError::shutdown());
    /// assert!(err.is_executor());
    /// ```
    pub fn is_executor(&self) -> bool {
        matches!(self, SpawnError::Executor)
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Terminated => f.write_str(
                "cannot spawn: the spawner's task has terminated or its root was shut down",
            ),
            SpawnError::Executor => f.write_str("cannot spawn: the executor refused the task"),
            SpawnError::TooManyChildren => {
                f.write_str("cannot spawn: the scope has 2^32 - 1 children already")
            }
            SpawnError::AtLimit => {
                f.write_str("cannot spawn: the scope is at its limit of live children")
            }
        }
    }
}

impl Error for SpawnError {}

impl From<futures_task::SpawnError> for SpawnError {
    fn from(_: futures_task::SpawnError) -> Self {
        SpawnError::Executor
    }
}

/// Why a grace period or a deadline could not be set.
///
/// Grace periods and deadlines are timed by tokio's timer (feature `tokio`).
/// A timer that cannot be made is reported when the grace period or deadline
/// is set, and nothing is changed: the task is not cancelled early, and no
/// cancel is scheduled.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tasktree::{ScopedSpawner, TimerError, TokioSpawner};
///
/// // A runtime built without `enable_time`: no timer to measure a deadline.
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let root = ScopedSpawner::new(TokioSpawner::new(runtime.handle().clone()));
/// let handle = root.spawn_task(async { 7 }).unwrap();
/// let err = runtime.block_on(async { handle.set_timeout(Duration::from_secs(1)) });
/// assert_eq!(err, Err(TimerError::NoTimeDriver));
/// assert_eq!(runtime.block_on(handle).unwrap(), 7); // the task is unaffected
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// Called outside a tokio runtime (and, for a spawner's own methods, its
    /// executor is not a [`TokioSpawner`](crate::TokioSpawner)): no runtime
    /// to time it.
    NoRuntime,
    /// The runtime has no time driver: it was built without `enable_time`
    /// (or `enable_all`).
    NoTimeDriver,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerError::NoRuntime => f.write_str(
                "cannot time a grace period or deadline: called outside a tokio runtime",
            ),
            TimerError::NoTimeDriver => f.write_str(
                "cannot time a grace period or deadline: the tokio runtime has no time driver \
                 (build it with `enable_time`)",
            ),
        }
    }
}

impl Error for TimerError {}
