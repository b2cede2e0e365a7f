//! Errors returned by spawning.

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
        }
    }
}

impl Error for SpawnError {}

impl From<futures_task::SpawnError> for SpawnError {
    fn from(_: futures_task::SpawnError) -> Self {
        SpawnError::Executor
    }
}
