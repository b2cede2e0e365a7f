//! Readiness ([`ScopedSpawner::start`], Trio's `nursery.start`): spawn a
//! child and wait until it says it is ready (a listener bound, a connection
//! made), getting a value from it; if it ends before that, its result comes
//! back to the caller instead.
//!
//! Built on a typed handle and a one-shot channel: the child's [`Ready`]
//! holds the sender, and dropping it unsent (the child's future ended, or
//! was dropped by a cancel) tells the caller to read the child's result.

use std::error::Error;
use std::fmt;
use std::future::Future;

use futures_channel::oneshot;
use futures_task::Spawn;

use crate::{ScopedSpawn, ScopedSpawner, SpawnError, TaskError, TaskHandle};

/// A started task's way of saying that it is ready
/// ([`ScopedSpawner::start`]). Keep it in the task until then: dropping it
/// unsent is how `start` learns that the task ended before it was ready.
///
/// # Examples
///
/// See [`ScopedSpawner::start`].
pub struct Ready<V> {
    tx: oneshot::Sender<V>,
}

impl<V> Ready<V> {
    /// Says the task is ready, and hands `value` to the caller of
    /// [`ScopedSpawner::start`]. If that caller has gone (its `start`
    /// future was dropped, which cancels the task), the value is dropped.
    ///
    /// # Examples
    ///
    /// See [`ScopedSpawner::start`].
    pub fn ready(self, value: V) {
        // An error means the caller went: its guard cancels this task.
        let _ = self.tx.send(value);
    }
}

impl<V> fmt::Debug for Ready<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("caller_waiting", &!self.tx.is_canceled())
            .finish()
    }
}

/// Why [`ScopedSpawner::start`] returned no ready task.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError<T> {
    /// The task could not be spawned.
    Spawn(SpawnError),
    /// The task ended before it was ready, with this result: its value if
    /// its future returned without calling [`Ready::ready`], or the error
    /// its handle reports (cancelled, panicked, ...).
    Ended(Result<T, TaskError>),
}

impl<T> fmt::Display for StartError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spawn(error) => error.fmt(f),
            StartError::Ended(Ok(_)) => f.write_str("the task returned before it was ready"),
            StartError::Ended(Err(error)) => write!(f, "{error} before it was ready"),
        }
    }
}

impl<T: fmt::Debug> Error for StartError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StartError::Spawn(error) => Some(error),
            StartError::Ended(Err(error)) => Some(error),
            StartError::Ended(Ok(_)) => None,
        }
    }
}

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Spawns a child task as [`spawn_task_with`](ScopedSpawn::spawn_task_with)
    /// does, handing it a [`Ready`] as well, and waits until the child
    /// calls [`Ready::ready`]: returns the value it gave and the child's
    /// handle. The child goes on running in this spawner's scope (as
    /// Trio's `nursery.start`).
    ///
    /// # Errors
    ///
    /// [`StartError::Spawn`] if the spawn failed;
    /// [`StartError::Ended`] with the child's result if it ended before it
    /// was ready (its future returned without calling `ready`, panicked, or
    /// was cancelled). The child has then terminated, with its subtree.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before the child is ready cancels the
    /// child (it was started for this caller, who can no longer use it).
    /// Once ready, the handle is the caller's, as any other.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{Ready, ScopedSpawner};
    /// use tokio::net::TcpListener;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let (addr, server) = root
    ///     .start(|_spawner, ready: Ready<std::net::SocketAddr>| async move {
    ///         let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///         ready.ready(listener.local_addr()?);
    ///         let (_socket, _) = listener.accept().await?; // serve...
    ///         Ok::<_, std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// // The listener is bound: connecting cannot race its bind.
    /// tokio::net::TcpStream::connect(addr).await.unwrap();
    /// server.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn start<V, Fut, Fun>(
        &self,
        fun: Fun,
    ) -> Result<(V, TaskHandle<Fut::Output>), StartError<Fut::Output>>
    where
        V: Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Fun: FnOnce(ScopedSpawner<S>, Ready<V>) -> Fut,
    {
        let (tx, rx) = oneshot::channel();
        let handle = (self.spawn_task_with(|spawner| fun(spawner, Ready { tx })))
            .map_err(StartError::Spawn)?;
        // Cancels the child if this future is dropped while it waits.
        let guard = handle.cancel_on_drop();
        match rx.await {
            Ok(value) => Ok((value, guard.into_inner())),
            // `Ready` dropped unsent: the child's future has ended (or the
            // child gave it away and that went); its result says how.
            Err(oneshot::Canceled) => Err(StartError::Ended(guard.await)),
        }
    }
}
