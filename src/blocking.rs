//! Blocking tasks in the tree ([`ScopedSpawner::spawn_blocking`], feature
//! `tokio`): a closure on tokio's blocking pool, registered as a child of
//! the spawner's scope.
//!
//! A running closure cannot be dropped midway, so its cancel is
//! cooperative: the closure gets a [`BlockingCancel`] to check. What the
//! tree keeps is the order: the child's done signal is sent from the
//! blocking thread once the closure has returned (or from wherever the
//! closure is dropped unrun, if the pool never ran it), so its parent's
//! termination waits for the closure (G1), as it waits for any child.
//!
//! No wrapper future: the closure's job owns the child's [`Link`] and the
//! handle's done cell, and a guard in it sends the done signal however the
//! job ends (returned, panicked, or dropped unrun).

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::dump::Label;
use crate::loom::Arc;
use crate::signal::{CancelSender, Outcome};
use crate::tree::{signal_done, Extra, Failure, Link, Node, Shared};
use crate::{ScopedSpawner, SpawnError, TaskHandle};

/// A blocking task's view of its own cancel
/// ([`ScopedSpawner::spawn_blocking`]): check it between steps of the work,
/// and return early once it says so.
///
/// # Examples
///
/// See [`ScopedSpawner::spawn_blocking`].
pub struct BlockingCancel {
    node: Arc<Node>,
    key: usize,
}

impl BlockingCancel {
    /// Whether the task has been cancelled (its handle, its parent's
    /// termination, a deadline, a shutdown: see
    /// [`CancelCause`](crate::CancelCause)). Cheap while no child of its
    /// scope was ever cancelled (no lock).
    ///
    /// # Examples
    ///
    /// See [`ScopedSpawner::spawn_blocking`].
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled(self.key)
    }

    /// Whether the task has been asked to stop (a graceful cancel: the
    /// cancel follows after the grace period) or cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.spawn_blocking(|cancel| cancel.is_stop_requested()).unwrap();
    /// assert_eq!(handle.await.unwrap(), false);
    /// # }
    /// ```
    pub fn is_stop_requested(&self) -> bool {
        self.node.is_stop_requested(self.key)
    }
}

impl Clone for BlockingCancel {
    fn clone(&self) -> Self {
        // Each clone is a view of the slot of its own (I5).
        self.node.retain(self.key);
        BlockingCancel {
            node: self.node.clone(),
            key: self.key,
        }
    }
}

impl fmt::Debug for BlockingCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingCancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The job handed to the blocking pool: the closure, and the guard that
/// sends the child's done signal when the job ends, however it ends.
struct Job<F, T: Send + 'static> {
    run: Option<F>,
    done: DoneGuard<T>,
}

/// Sends the child's done signal with the outcome it holds (`Cancelled` if
/// none: the job was dropped unrun).
struct DoneGuard<T: Send + 'static> {
    link: Option<Link>,
    shared: Arc<Shared<T>>,
    outcome: Option<Outcome<T>>,
}

impl<T: Send + 'static> Drop for DoneGuard<T> {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let mut outcome = self.outcome.take().unwrap_or(Outcome::Cancelled);
            // How the closure ended, counted on the parent's node.
            link.node.ends.ended(&outcome, None);
            if let Outcome::Panicked(panic) = outcome {
                // As a task's: a fail-fast parent takes it (I7).
                outcome = match Node::report_failure(
                    &link.node,
                    Failure::Panic(panic),
                    Some(link.key),
                    None,
                ) {
                    Ok(()) => Outcome::Failed,
                    Err(failure) => Outcome::Panicked(failure.into_payload()),
                };
            }
            signal_done(link, Some(&self.shared), Some(outcome));
        }
    }
}

impl<F, T> Job<F, T>
where
    F: FnOnce() -> T,
    T: Send + 'static,
{
    /// Runs the closure (phase 1), drops it (phase 2), and sends the done
    /// signal (phase 6; it has no children and no `done`).
    fn run(mut self) {
        if let Some(run) = self.run.take() {
            self.done.outcome = Some(match catch_unwind(AssertUnwindSafe(run)) {
                Ok(value) => Outcome::Completed(value),
                Err(panic) => Outcome::Panicked(panic),
            });
        }
        // The guard sends the done signal as `self` drops.
    }
}

impl<S> ScopedSpawner<S>
where
    S: futures_task::Spawn + Clone + Send + Sync + 'static,
{
    /// Registers a blocking child running `f`, named `blocking` at the
    /// caller's place for task dumps; returns the job to run on a blocking
    /// thread (it sends the child's done signal when it ends, or when it is
    /// dropped unrun) and the child's handle.
    #[track_caller]
    pub(crate) fn blocking_job<F, T>(
        &self,
        f: F,
    ) -> Result<(impl FnOnce() + Send + 'static, TaskHandle<T>), SpawnError>
    where
        F: FnOnce(BlockingCancel) -> T + Send + 'static,
        T: Send + 'static,
    {
        let node = self.as_raw_node();
        let extra = Extra {
            label: Some(Label::new(
                "blocking".to_owned(),
                std::panic::Location::caller(),
            )),
            scope: None,
        };
        // Two views: the handle's cancel sender, the closure's cancel view.
        let link = Node::register_with(node, 2, extra)?;
        let key = link.key;
        let cancel = BlockingCancel {
            node: node.clone(),
            key,
        };
        let shared = Arc::new(Shared::new());
        let job = Job {
            run: Some(move || f(cancel)),
            done: DoneGuard {
                link: Some(link),
                shared: shared.clone(),
                outcome: None,
            },
        };
        let sender = CancelSender::new(node.clone(), key);
        Ok((move || job.run(), TaskHandle::new(sender, shared)))
    }

    /// Loom models only: [`spawn_blocking`](ScopedSpawner::spawn_blocking)
    /// with the job handed to `spawn` (a loom thread) instead of tokio's
    /// blocking pool.
    #[cfg(loom)]
    #[track_caller]
    pub fn loom_spawn_blocking<F, T>(
        &self,
        f: F,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>),
    ) -> Result<TaskHandle<T>, SpawnError>
    where
        F: FnOnce(BlockingCancel) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, handle) = self.blocking_job(f)?;
        spawn(Box::new(job));
        Ok(handle)
    }
}

#[cfg(feature = "tokio")]
impl ScopedSpawner<crate::TokioSpawner> {
    /// Runs `f` on tokio's blocking pool (as `tokio::task::spawn_blocking`
    /// does) as a child of this spawner's scope, and returns its handle.
    ///
    /// A blocking closure cannot be dropped midway, so a cancel cannot stop
    /// it: `f` gets a [`BlockingCancel`] to check, and returns early when it
    /// says so. What a cancel does guarantee: the child's termination, and
    /// so its parent's, waits for `f` to return (G1): a request's handler
    /// does not finish while the blocking work it started still runs. A
    /// grace period cannot bound that wait; a task dump lists a cancelled
    /// closure that runs on (named `blocking`, with its age, until it
    /// returns).
    ///
    /// The handle yields what `f` returned, also after a cancel (return a
    /// value that says so, if that matters); a panic of `f` comes out as
    /// [`TaskError::is_panic`](crate::TaskError::is_panic). If the runtime
    /// shuts down before running `f`, `f` is dropped unrun and the handle
    /// reports a cancel.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] once this spawner's scope has closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let sum = root
    ///     .spawn_blocking(|cancel| {
    ///         let mut sum = 0u64;
    ///         for n in 0..1_000_000 {
    ///             if n % 10_000 == 0 && cancel.is_cancelled() {
    ///                 return None; // stopped early
    ///             }
    ///             sum += n;
    ///         }
    ///         Some(sum)
    ///     })
    ///     .unwrap();
    /// assert_eq!(sum.await.unwrap(), Some(499_999_500_000));
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, f: F) -> Result<TaskHandle<T>, SpawnError>
    where
        F: FnOnce(BlockingCancel) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, handle) = self.blocking_job(f)?;
        // The blocking pool drops the job unrun if the runtime is shutting
        // down: its guard then sends the done signal.
        drop(self.executor().handle().spawn_blocking(job));
        Ok(handle)
    }
}

impl Drop for BlockingCancel {
    fn drop(&mut self) {
        // Gives back this view of the slot (I5).
        Node::release(&self.node, self.key, false);
    }
}
