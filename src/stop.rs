//! Graceful stops, grace periods and `CancellationToken` interop, on
//! [`ScopedSpawner`]. The mechanism is in `tree/grace.rs` and `tree.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_task::Spawn;

use crate::loom::Arc;
use crate::tree::Node;
use crate::{ScopedSpawn, ScopedSpawner};

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// As [`ScopedSpawn::stop_requested`], callable without importing the
    /// trait.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let stop = root.stop_requested();
    /// root.shutdown().await;
    /// stop.await; // resolved by the shutdown
    /// # }
    /// ```
    pub fn stop_requested(&self) -> StopRequested {
        ScopedSpawn::stop_requested(self)
    }

    /// As [`ScopedSpawn::is_stop_requested`], callable without importing
    /// the trait.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// assert!(!root.is_stop_requested());
    /// root.shutdown().await;
    /// assert!(root.is_stop_requested());
    /// # }
    /// ```
    pub fn is_stop_requested(&self) -> bool {
        ScopedSpawn::is_stop_requested(self)
    }

    /// Why this spawner's task was asked to stop or cancelled; for a root,
    /// a scope block, or a scope stopped before its task was, why the scope
    /// was (a shutdown, a token, a fail-fast failure). `None` while nothing
    /// was asked. See [`CancelCause`](crate::CancelCause).
    ///
    /// Inside a task, it answers while the task runs on after a stop request
    /// (see [`stop_requested`](Self::stop_requested)), and in the
    /// destructors that run as a cancel drops its future: the task records
    /// its cause before the drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasktree::{CancelReason, ScopedSpawn};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let worker = root.spawn_task_with(|spawner| async move {
    ///     spawner.stop_requested().await;
    ///     // Finish up, knowing why.
    ///     spawner.cancel_cause().unwrap().reason()
    /// }).unwrap();
    /// tokio::task::yield_now().await;
    /// worker.cancel_with_grace(Duration::from_secs(5)).unwrap();
    /// assert_eq!(worker.await.unwrap(), CancelReason::Handle);
    ///
    /// assert_eq!(root.cancel_cause(), None);
    /// root.shutdown().await;
    /// assert_eq!(root.cancel_cause().unwrap().reason(), CancelReason::Shutdown);
    /// # }
    /// ```
    pub fn cancel_cause(&self) -> Option<crate::CancelCause> {
        self.as_raw_node().cause()
    }
}

#[cfg(feature = "tokio")]
impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Sets the grace period of every cancel of this scope's children that
    /// names none: the cancels of this scope's termination (its task's phase
    /// 3, [`shutdown`](Self::shutdown), a fail-fast failure), of
    /// [`TaskHandle::cancel`](crate::TaskHandle::cancel) and of cancel
    /// senders (dropped or used). A child is then asked to stop first, and
    /// cancelled only if it has not finished when `grace` has passed. `None`
    /// (the default) cancels at once, as the seed does.
    ///
    /// The stop request travels down the child's subtree level by level:
    /// each task is woken by it, sees it through
    /// [`stop_requested`](Self::stop_requested) (or, a raw task, through its
    /// cancel receiver), and passes it on to its own children when it is
    /// polled; the cancels, when the deadline passes, travel down
    /// in the usual order (a task's future is dropped before its children
    /// are cancelled), so every guarantee of the crate holds. A child's own
    /// scope uses the earlier of its parent's deadline and its own grace
    /// period.
    ///
    /// # Errors
    ///
    /// If `grace` is `Some`, a [`TimerError`](crate::TimerError) unless the
    /// spawner's executor is a [`TokioSpawner`](crate::TokioSpawner) or this
    /// is called inside a tokio runtime, and that runtime has a time driver
    /// (its timer measures the grace period). The grace period is then left
    /// as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// root.set_grace_period(Some(Duration::from_secs(1))).unwrap();
    /// let handle = root.spawn_task(async {
    ///     tokio::time::sleep(Duration::from_millis(10)).await;
    ///     "finished within the grace period"
    /// }).unwrap();
    /// drop(root.shutdown()); // asks it to stop; it has a second to finish
    /// assert_eq!(handle.await.unwrap(), "finished within the grace period");
    /// # }
    /// ```
    pub fn set_grace_period(
        &self,
        grace: Option<std::time::Duration>,
    ) -> Result<(), crate::TimerError> {
        let period = match grace {
            Some(grace) => Some((grace, self.timer()?)),
            None => None,
        };
        self.as_raw_node().set_grace_period(period);
        Ok(())
    }

    /// As [`shutdown`](Self::shutdown), gracefully: the children are asked
    /// to stop now and cancelled only if they have not finished when `grace`
    /// (or the scope's own grace period, if shorter) has passed. The future
    /// resolves when every child has terminated.
    ///
    /// The scope is closed and the stop requests sent when this is called.
    /// Called again with a shorter grace period (or after it, a plain
    /// [`shutdown`](Self::shutdown)), the earlier deadline wins; a longer
    /// one does not extend the first. `Duration::MAX` waits as long as the
    /// children take (the cancel would come some 30 years later).
    ///
    /// # Errors
    ///
    /// A [`TimerError`](crate::TimerError), as for
    /// [`set_grace_period`](Self::set_grace_period), if there is no timer to
    /// measure `grace`; nothing is done then (call [`shutdown`](Self::shutdown)
    /// to cancel at once).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future stops only the waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// // A task that ignores the stop request: dropped after the grace period.
    /// root.spawn_future(std::future::pending(), || println!("cancelled")).unwrap();
    /// root.shutdown_with_grace(Duration::from_secs(5)).unwrap().await;
    /// # }
    /// ```
    pub fn shutdown_with_grace(
        &self,
        grace: std::time::Duration,
    ) -> Result<crate::Shutdown, crate::TimerError> {
        let deadline = crate::tree::grace::Deadline::after(grace, self.timer()?);
        Node::close_gracefully(self.as_raw_node(), deadline).wake();
        Ok(crate::Shutdown::new(self.as_raw_node().clone()))
    }

    /// As [`ScopedSpawn::cancellation_token`], callable without importing
    /// the trait.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let token = root.cancellation_token();
    /// root.shutdown().await;
    /// assert!(token.is_cancelled());
    /// # }
    /// ```
    pub fn cancellation_token(&self) -> tokio_util::sync::CancellationToken {
        ScopedSpawn::cancellation_token(self)
    }

    /// Shuts this scope down when `token` is cancelled, as
    /// [`shutdown`](Self::shutdown) does (gracefully if the scope has a grace
    /// period): the children are cancelled, spawning fails, and the scope's
    /// own task or body sees [`stop_requested`](Self::stop_requested) and can
    /// return. The scope's task itself is not cancelled.
    ///
    /// A small watcher future, spawned on the spawner's executor, waits for
    /// the token; it ends when the scope stops for any reason, so nothing is
    /// left behind for a token that is never cancelled.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Executor`](crate::SpawnError::Executor) if the executor
    /// refused the watcher.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_util::sync::CancellationToken;
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let token = CancellationToken::new();
    /// let root = ScopedSpawner::tokio();
    /// root.cancel_on(token.clone()).unwrap();
    /// let worker = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// token.cancel();
    /// assert!(worker.await.unwrap_err().is_cancelled());
    /// assert!(root.is_terminated());
    /// # }
    /// ```
    pub fn cancel_on(
        &self,
        token: tokio_util::sync::CancellationToken,
    ) -> Result<(), crate::SpawnError> {
        let watcher = TokenWatcher {
            cancelled: Box::pin(token.cancelled_owned()),
            stop: self.stop_requested(),
        };
        self.spawn_plain(watcher).map_err(crate::SpawnError::from)
    }

    /// The runtime whose timer measures this scope's grace periods: the
    /// executor's, if it is tokio's, or the current one.
    fn timer(&self) -> Result<tokio::runtime::Handle, crate::TimerError> {
        match (self.executor() as &dyn std::any::Any).downcast_ref::<crate::TokioSpawner>() {
            Some(tokio) => crate::tree::grace::check_timer(tokio.handle().clone()),
            None => crate::tree::grace::current_timer(),
        }
    }
}

/// Resolves when a scope is asked to stop or begins its termination.
///
/// Returned by [`ScopedSpawn::stop_requested`]. It is `Unpin`, so one
/// future can be selected on by `&mut` in a loop, without pinning it.
///
/// # Cancel safety
///
/// Cancel safe.
///
/// # Examples
///
/// ```
/// use tasktree::ScopedSpawn;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// root.spawn(
///     |spawner| async move {
///         let mut stop: tasktree::StopRequested = spawner.stop_requested();
///         let mut ticks = 0;
///         loop {
///             tokio::select! {
///                 _ = &mut stop => break, // the same future, every turn
///                 _ = tokio::task::yield_now() => ticks += 1,
///             }
///         }
///         println!("stopped after {ticks} ticks");
///     },
///     || (),
/// )
/// .unwrap();
/// tokio::task::yield_now().await;
/// root.shutdown_with_grace(std::time::Duration::from_secs(1)).unwrap().await;
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct StopRequested {
    node: Arc<Node>,
    /// This future's own waiter entry in the scope, once it has been polled
    /// and is pending (tree.rs, `Children::stop_waiters`): so that many
    /// futures waiting on one scope never scan each other's wakers (G9).
    entry: Option<usize>,
}

impl StopRequested {
    /// Waits for `node` to be asked to stop.
    pub(crate) fn new(node: Arc<Node>) -> Self {
        StopRequested { node, entry: None }
    }
}

impl Future for StopRequested {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `StopRequested` is `Unpin`: users select on `&mut stop` in a loop.
        let this = self.get_mut();
        this.node.poll_stop(&mut this.entry, cx.waker())
    }
}

impl Drop for StopRequested {
    fn drop(&mut self) {
        // Gives the waiter entry back (its waker is dropped after the lock,
        // tree.rs I3). Nothing to do if it never waited or has resolved.
        if let Some(key) = self.entry.take() {
            self.node.forget_stop_waiter(key);
        }
    }
}

impl fmt::Debug for StopRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopRequested")
            .field("scope", &self.node)
            .finish()
    }
}

/// Waits for a token, or for its scope to stop on its own (then it has
/// nothing left to do).
#[cfg(feature = "tokio")]
struct TokenWatcher {
    cancelled: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    /// The scope's stop, with its own waiter entry (given back on drop).
    stop: StopRequested,
}

#[cfg(feature = "tokio")]
impl Future for TokenWatcher {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Pin::new(&mut self.stop).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if self.cancelled.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let cause = crate::cause::ScopeCause::of(crate::cause::Kind::Token);
        Node::close(&self.stop.node, cause).wake();
        Poll::Ready(())
    }
}
