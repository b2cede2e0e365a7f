//! Typed task handles: the `JoinHandle` of the task tree.

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::cause::{CancelCause, Kind};
use crate::loom::{Arc, Mutex};
use crate::signal::{CancelSender, Outcome};
#[cfg(feature = "tokio")]
use crate::task::Delivered;
use crate::tree::Shared;

/// Why a task gave no value: it was cancelled, it panicked, or its failure
/// was taken by its fail-fast scope.
///
/// The shape of tokio's `JoinError`.
///
/// # Examples
///
/// ```
/// use tasktree::ScopedSpawner;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let handle = root.spawn_task(async { panic!("boom") }).unwrap();
/// let err = handle.await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// # }
/// ```
pub struct TaskError {
    repr: Repr,
    /// Which task, and the tasks above it, nearest first: set by the
    /// handle that yields the error. Empty otherwise.
    path: Vec<(crate::TaskId, Option<String>)>,
    /// Why the task was cancelled, if it was and a handle yielded the error.
    cause: Option<CancelCause>,
}

/// The most tasks of a path a [`TaskError`] records: the task and 15 above
/// it. Deeper ancestors are left out (`…` in `Display`).
const MAX_PATH: usize = 16;

enum Repr {
    Cancelled,
    // Behind a mutex so that `TaskError` is `Sync` (as tokio's `JoinError`
    // is), for `?` into `anyhow::Error` or `Box<dyn Error + Send + Sync>`.
    Panic(Mutex<Box<dyn Any + Send + 'static>>),
    Failed,
    DeadlineExceeded,
}

impl TaskError {
    pub(crate) fn cancelled() -> Self {
        Self::of(Repr::Cancelled)
    }

    fn of(repr: Repr) -> Self {
        Self {
            repr,
            path: Vec::new(),
            cause: None,
        }
    }

    #[cfg(feature = "tokio")]
    fn panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        Self::of(Repr::Panic(Mutex::new(payload)))
    }

    /// The id of the task that failed, if a [`TaskHandle`] yielded this
    /// error.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.named("fetch").spawn_task(std::future::pending::<()>()).unwrap();
    /// let id = handle.id();
    /// handle.cancel();
    /// let err = handle.await.unwrap_err();
    /// assert_eq!(err.task_id(), Some(id));
    /// assert_eq!(err.task_name(), Some("fetch"));
    /// assert_eq!(
    ///     err.to_string(),
    ///     format!("task {id} \"fetch\" was cancelled (its handle cancelled it)")
    /// );
    /// # }
    /// ```
    pub fn task_id(&self) -> Option<crate::TaskId> {
        self.path.first().map(|(id, _)| *id)
    }

    /// The name of the task that failed, if it was spawned with one
    /// ([`ScopedSpawner::named`](crate::ScopedSpawner::named)) and a
    /// [`TaskHandle`] yielded this error.
    ///
    /// # Examples
    ///
    /// See [`task_id`](Self::task_id).
    pub fn task_name(&self) -> Option<&str> {
        self.path.first()?.1.as_deref()
    }

    /// The tasks from the highest known ancestor down to the task itself,
    /// each by id and name, if a [`TaskHandle`] yielded this error. The
    /// path goes up to the root, through scope blocks (each by its id, as a
    /// dump lists it), or stops at an ancestor whose own scope had already
    /// failed or finished, or after 16 tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let request = root.named("GET /search").spawn_task_with(|request| async move {
    ///     let ads = request.named("ads").spawn_task(std::future::pending::<()>()).unwrap();
    ///     ads.cancel();
    ///     ads.await.unwrap_err()
    /// });
    /// let err = request.unwrap().await.unwrap();
    /// let names: Vec<_> = err.task_path().map(|(_, name)| name).collect();
    /// assert_eq!(names, [Some("GET /search"), Some("ads")]);
    /// let (parent, ads) = (err.task_path().next().unwrap().0, err.task_id().unwrap());
    /// assert_eq!(
    ///     err.to_string(),
    ///     format!("task {parent} \"GET /search\" › {ads} \"ads\" was cancelled (its handle cancelled it)")
    /// );
    /// # }
    /// ```
    pub fn task_path(&self) -> impl Iterator<Item = (crate::TaskId, Option<&str>)> + '_ {
        (self.path.iter().rev()).map(|(id, name)| (*id, name.as_deref()))
    }

    /// Says which task this is about, the tasks above it, and why it was
    /// cancelled if it was.
    fn about(mut self, path: Vec<(crate::TaskId, Option<String>)>, cancel: &CancelSender) -> Self {
        self.path = path;
        if matches!(self.repr, Repr::Cancelled | Repr::DeadlineExceeded) {
            // Cancelled, and its slot says nothing of it: the executor
            // dropped the task (a runtime shutting down).
            let cause = cancel.cancel_cause();
            self.cause = Some(cause.unwrap_or(CancelCause::new(Kind::Executor)));
        }
        self
    }

    /// Why the task was cancelled, if it was
    /// ([`is_cancelled`](Self::is_cancelled) or
    /// [`is_deadline_exceeded`](Self::is_deadline_exceeded)) and a
    /// [`TaskHandle`] yielded this error. See [`CancelCause`] for the causes
    /// and how they pass down the tree.
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
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// let request = root.spawn_task_with(|request| async move {
    ///     let backend = request.spawn_task(std::future::pending::<()>()).unwrap();
    ///     // Awaited from a task of its own, which outlives the request.
    ///     tokio::spawn(async move { tx.send(backend.await.unwrap_err()) });
    ///     std::future::pending::<()>().await
    /// });
    /// request.unwrap().set_timeout(Duration::from_secs(1)).unwrap();
    ///
    /// // The request's deadline passed, and its backend call was cancelled
    /// // for it: the cause is inherited.
    /// let backend_err = rx.await.unwrap();
    /// let cause = backend_err.cancel_cause().unwrap();
    /// assert_eq!(cause.reason(), CancelReason::Deadline);
    /// assert!(cause.is_inherited());
    /// assert!(backend_err.is_cancelled()); // its own deadline did not pass
    /// assert!(backend_err.to_string().ends_with("was cancelled (an ancestor's deadline passed)"));
    /// # }
    /// ```
    pub fn cancel_cause(&self) -> Option<CancelCause> {
        self.cause
    }

    /// Whether the task was cancelled before its future completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// handle.cancel();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task was cancelled because its deadline passed
    /// ([`TaskHandle::set_deadline`], [`TaskHandle::set_timeout`]). Such an
    /// error is not [`is_cancelled`](Self::is_cancelled): the two are told
    /// apart.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// handle.set_timeout(Duration::from_secs(1)).unwrap();
    /// let err = handle.await.unwrap_err();
    /// assert!(err.is_deadline_exceeded() && !err.is_cancelled());
    /// # }
    /// ```
    pub fn is_deadline_exceeded(&self) -> bool {
        matches!(self.repr, Repr::DeadlineExceeded)
    }

    /// Whether the task's future panicked (while polled or dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let handle = root.spawn_task(async { panic!("boom") }).unwrap();
    /// assert!(handle.await.unwrap_err().is_panic());
    /// # }
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// Whether the task failed (panicked, or returned an error through
    /// [`TryScope::spawn_try`](crate::TryScope::spawn_try)) inside a fail-fast
    /// scope, which took the failure and reports it itself: the scope block
    /// resumes the panic or returns the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::FutureExt;
    /// use std::panic::AssertUnwindSafe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// // `scope` is fail-fast: it takes the child's panic and resumes it.
    /// let ended = AssertUnwindSafe(tasktree::scope(|s| async move {
    ///     tx.send(s.spawn_task(async { panic!("boom") }).unwrap()).unwrap();
    ///     std::future::pending::<()>().await; // cancelled by the failure
    /// }))
    /// .catch_unwind()
    /// .await;
    /// assert!(ended.is_err()); // the scope resumed the panic
    /// let err = rx.recv().unwrap().await.unwrap_err();
    /// assert!(err.is_failed() && !err.is_panic());
    /// # }
    /// ```
    pub fn is_failed(&self) -> bool {
        matches!(self.repr, Repr::Failed)
    }

    /// The panic payload, to pass to `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// Panics if the error is not a panic ([`is_panic`](Self::is_panic) is
    /// false); [`try_into_panic`](Self::try_into_panic) does not.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let handle = root.spawn_task(async { panic!("boom") }).unwrap();
    /// if let Err(err) = handle.await {
    ///     std::panic::resume_unwind(err.into_panic()); // re-raise in this task
    /// }
    /// # }
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(err) => {
                panic!("`TaskError::into_panic` called on an error that is not a panic: {err}")
            }
        }
    }

    /// The panic payload, or the error back if it is not a panic.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged if the task did not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// handle.cancel();
    /// let err = handle.await.unwrap_err();
    /// assert!(err.try_into_panic().unwrap_err().is_cancelled());
    /// # }
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload.into_inner()),
            repr => Err(TaskError {
                repr,
                path: self.path,
                cause: self.cause,
            }),
        }
    }
}

/// Converts a task's outcome into what its handle yields.
pub(crate) fn outcome_result<T>(outcome: Outcome<T>) -> Result<T, TaskError> {
    match outcome {
        Outcome::Completed(value) => Ok(value),
        Outcome::Cancelled => Err(TaskError::cancelled()),
        Outcome::Panicked(payload) => Err(TaskError::of(Repr::Panic(Mutex::new(payload)))),
        Outcome::Failed => Err(TaskError::of(Repr::Failed)),
        Outcome::DeadlineExceeded => Err(TaskError::of(Repr::DeadlineExceeded)),
    }
}

/// The message of a panic payload, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for TaskError {
    /// `task was cancelled`, or with the task and those above it when a
    /// handle yielded it, and why it was cancelled:
    /// `task 1.0 "GET /search" › 2.1 "ads" was cancelled (its handle cancelled it)`
    /// (see [`task_path`](TaskError::task_path)).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task")?;
        if self.path.len() == MAX_PATH {
            f.write_str(" …")?;
        }
        for (i, (id, name)) in self.path.iter().rev().enumerate() {
            f.write_str(if i == 0 { " " } else { " › " })?;
            write!(f, "{id}")?;
            if let Some(name) = name {
                write!(f, " {name:?}")?;
            }
        }
        match &self.repr {
            Repr::Cancelled => match &self.cause {
                Some(cause) => write!(f, " was cancelled ({cause})"),
                None => f.write_str(" was cancelled"),
            },
            Repr::Panic(payload) => match panic_message(payload.lock().as_ref()) {
                Some(message) => write!(f, " panicked with message {message:?}"),
                None => f.write_str(" panicked"),
            },
            Repr::Failed => {
                f.write_str(" failed; its enclosing fail-fast scope reports the failure")
            }
            Repr::DeadlineExceeded => f.write_str(" was cancelled by its deadline"),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("TaskError::Cancelled"),
            Repr::Panic(payload) => f
                .debug_tuple("TaskError::Panic")
                .field(&panic_message(payload.lock().as_ref()).unwrap_or("..."))
                .finish(),
            Repr::Failed => f.write_str("TaskError::Failed"),
            Repr::DeadlineExceeded => f.write_str("TaskError::DeadlineExceeded"),
        }
    }
}

impl Error for TaskError {}

/// An owned permission to cancel a child and to await its result.
///
/// Returned by [`ScopedSpawn::spawn_task`](crate::ScopedSpawn::spawn_task).
/// Awaiting it yields `Ok(value)` or a [`TaskError`], and resolves only once
/// the child's whole termination is complete: its future and its
/// descendants' futures are dropped and their `done` callbacks have run (G1).
///
/// **Dropping a handle detaches the child**, as dropping tokio's
/// `JoinHandle` does: the child runs on until it completes or its parent
/// terminates, and its result is dropped. A detached child is still
/// contained: it is a child of the scope it was spawned in, which cancels
/// and awaits it when it terminates (G1, G6). To cancel, call
/// [`cancel`](Self::cancel), or make the handle
/// [`cancel_on_drop`](Self::cancel_on_drop) (the shape of tokio-util's
/// `AbortOnDropHandle`).
///
/// # Cancel safety
///
/// Awaiting a handle is cancel safe: if the `.await` is dropped (in a
/// `select!`, say), the handle is unchanged and can be awaited again.
///
/// # Examples
///
/// ```
/// use tasktree::ScopedSpawner;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// // Before: let handle = tokio::spawn(async { 6 * 7 });
/// let handle = root.spawn_task(async { 6 * 7 }).unwrap();
/// assert_eq!(handle.await.unwrap(), 42);
/// # }
/// ```
pub struct TaskHandle<T> {
    // The view of the child's slot: cancel, deadlines, `is_finished`. Its
    // own drop cancels; the handle's drop releases it without (`Drop`
    // below).
    cancel: CancelSender,
    route: Route<T>,
}

/// Where a handle gets its child's outcome.
enum Route<T> {
    /// The done cell the child completes in phase 6 (on an executor other
    /// than tokio; and `spawn_try`, whose future records a failure there).
    Shared(Arc<Shared<T>>),
    /// tokio's `JoinHandle` of the child's wrapper, whose output is the
    /// outcome, returned after the done signal (task.rs, `Returned`).
    #[cfg(feature = "tokio")]
    Joined(tokio::task::JoinHandle<Delivered<T>>),
    /// tokio dropped the wrapper before it returned (a runtime shutting
    /// down) and reported the task cancelled (or, defensively, panicked):
    /// the handle waits for the done signal through its view of the slot
    /// (G1), then reports this error. Boxed (it comes only with a runtime's
    /// shutdown), so that a handle stays four words.
    #[cfg(feature = "tokio")]
    Lost(Box<TaskError>),
    /// The outcome was returned.
    Taken,
}

impl<T> TaskHandle<T> {
    pub(crate) fn new(cancel: CancelSender, shared: Arc<Shared<T>>) -> Self {
        Self {
            cancel,
            route: Route::Shared(shared),
        }
    }

    /// A handle that takes its child's outcome from tokio's `JoinHandle`.
    #[cfg(feature = "tokio")]
    pub(crate) fn joined(
        cancel: CancelSender,
        joined: tokio::task::JoinHandle<Delivered<T>>,
    ) -> Self {
        Self {
            cancel,
            route: Route::Joined(joined),
        }
    }

    /// Cancels the child. Awaiting the handle afterwards yields
    /// `Err(TaskError)` with [`is_cancelled`](TaskError::is_cancelled), unless
    /// the child had already completed. Cancelling twice does nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// handle.cancel();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Cancels the child gracefully: it is asked to stop now, and it is
    /// cancelled only if it has not finished when `grace` has passed. A
    /// child that completes within the grace period yields its value.
    ///
    /// A child made by `spawn_task` has no spawner and no cancel receiver,
    /// so it cannot see the request: it simply has `grace` to finish. The
    /// request reaches the scopes below it, which a child with a spawner
    /// ([`ScopedSpawn::spawn`](crate::ScopedSpawn::spawn)) sees through
    /// [`stop_requested`](crate::ScopedSpawner::stop_requested).
    ///
    /// A later [`cancel`](Self::cancel) or drop of the handle does not cut
    /// the grace period short; `cancel_with_grace(Duration::ZERO)` does.
    ///
    /// # Errors
    ///
    /// A [`TimerError`](crate::TimerError) if there is no tokio timer to
    /// measure `grace` (called outside a tokio runtime, or on one without a
    /// time driver). Nothing is done then: the child is not asked to stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.spawn_task(async {
    ///     tokio::time::sleep(Duration::from_millis(100)).await;
    ///     "flushed"
    /// }).unwrap();
    /// handle.cancel_with_grace(Duration::from_secs(1)).unwrap(); // enough to finish
    /// assert_eq!(handle.await.unwrap(), "flushed");
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn cancel_with_grace(&self, grace: std::time::Duration) -> Result<(), crate::TimerError> {
        self.cancel.cancel_with_grace(grace)
    }

    /// Cancels the child when `deadline` passes, unless it has finished;
    /// awaiting the handle then yields a [`TaskError`] that
    /// [`is_deadline_exceeded`](TaskError::is_deadline_exceeded). The
    /// cancel is the ordinary one: the child's future is dropped, then its
    /// children are cancelled and awaited. Setting a deadline again adds one:
    /// the earliest wins.
    ///
    /// # Errors
    ///
    /// A [`TimerError`](crate::TimerError) if there is no tokio timer to
    /// measure the deadline (called outside a tokio runtime, or on one
    /// without a time driver). No deadline is set then, and the child runs
    /// on unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let slow = root.spawn_task(tokio::time::sleep(Duration::from_secs(10))).unwrap();
    /// slow.set_deadline(Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert!(slow.await.unwrap_err().is_deadline_exceeded());
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn set_deadline(&self, deadline: tokio::time::Instant) -> Result<(), crate::TimerError> {
        self.cancel.set_deadline(deadline)
    }

    /// [`set_deadline`](Self::set_deadline) at `timeout` from now.
    ///
    /// # Errors
    ///
    /// As [`set_deadline`](Self::set_deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let fast = root.spawn_task(async { 7 }).unwrap();
    /// fast.set_timeout(Duration::from_secs(1)).unwrap();
    /// assert_eq!(fast.await.unwrap(), 7);
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn set_timeout(&self, timeout: std::time::Duration) -> Result<(), crate::TimerError> {
        self.cancel.set_timeout(timeout)
    }

    /// Whether the child's termination is complete (its done signal was
    /// sent, G1); awaiting the handle would then not wait for the child,
    /// only (on tokio, for a moment) for the executor to hand over the
    /// result its task has just returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// assert!(!handle.is_finished());
    /// handle.cancel();
    /// root.shutdown().await;
    /// assert!(handle.is_finished());
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.route {
            Route::Shared(shared) => shared.is_complete(),
            // Both the slot's state and the `JoinHandle`'s. The wrapper
            // returns its output after the done signal (G1), so the slot's
            // state alone says `true` a moment before the handle is ready,
            // on another worker; and a runtime that shuts down finishes the
            // `JoinHandle` before the done signal (`Lost`).
            #[cfg(feature = "tokio")]
            Route::Joined(joined) => joined.is_finished() && self.cancel.is_done(),
            #[cfg(feature = "tokio")]
            Route::Lost(_) => self.cancel.is_done(),
            Route::Taken => true,
        }
    }

    /// The child's id ([`TaskId`](crate::TaskId)), as task dumps show it.
    ///
    /// # Examples
    ///
    /// See [`TaskId`](crate::TaskId).
    pub fn id(&self) -> crate::TaskId {
        // A handle's sender is never forgotten: it has its slot until the
        // handle drops.
        self.cancel
            .task_id()
            .expect("a handle's cancel sender keeps its slot")
    }

    /// Lets the child run without this handle, as dropping the handle does
    /// (see [`TaskHandle`]); says so where it is written. The child still
    /// terminates with its parent (G6); its result is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// root.spawn_task(async { println!("runs to completion") }).unwrap().detach();
    /// # root.shutdown().await;
    /// # }
    /// ```
    pub fn detach(self) {
        drop(self);
    }

    /// Makes this handle cancel the child when it is dropped: the guard
    /// for a child that must not outlive the code holding its handle (a
    /// request's helper, say). It is awaited like the handle, and gives the
    /// handle's other methods through `Deref`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawner;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let guard = root.spawn_task(std::future::pending::<()>()).unwrap().cancel_on_drop();
    /// assert!(!guard.is_finished());
    /// drop(guard); // cancels the child
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn cancel_on_drop(self) -> CancelOnDrop<T> {
        CancelOnDrop { handle: Some(self) }
    }
}

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        // Detach: the view goes without a cancel.
        self.cancel.release();
    }
}

#[cfg(feature = "tokio")]
impl<T> TaskHandle<T> {
    /// tokio dropped the wrapper (a runtime shutting down): its drop ended
    /// the task, but the done signal may still wait for children on
    /// another executor; the handle waits for it (G1). A panic cannot come
    /// out of the wrapper, which contains them; reported as one all the
    /// same, rather than panicking.
    #[cold]
    fn lost(
        &mut self,
        error: tokio::task::JoinError,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, TaskError>> {
        let error = match error.try_into_panic() {
            Ok(payload) => TaskError::panic(payload),
            Err(_) => TaskError::cancelled(),
        };
        self.route = Route::Lost(Box::new(error));
        Pin::new(self).poll(cx)
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    /// # Panics
    ///
    /// Panics if polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.poll_result(cx) {
            Poll::Ready(Err(error)) => {
                // Which task: its id, and its name, which its scope keeps
                // while this handle names the slot.
                let path = this.cancel.ancestry(MAX_PATH);
                Poll::Ready(Err(error.about(path, &this.cancel)))
            }
            other => other,
        }
    }
}

impl<T> TaskHandle<T> {
    fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        let this = self;
        let outcome = match &mut this.route {
            Route::Shared(shared) => match shared.poll_take(cx.waker()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(outcome)) => outcome,
                Poll::Ready(None) => panic!("`TaskHandle` polled after it returned `Ready`"),
            },
            #[cfg(feature = "tokio")]
            Route::Joined(joined) => match Pin::new(joined).poll(cx) {
                Poll::Pending => return Poll::Pending,
                // The wrapper returned after its done signal (G1).
                Poll::Ready(Ok(delivered)) => {
                    // The common end, without going through an `Outcome`.
                    this.route = Route::Taken;
                    return Poll::Ready(match delivered.take() {
                        Some(Ok(value)) => Ok(value),
                        Some(Err(ended)) => outcome_result(ended.into_outcome()),
                        None => Err(TaskError::cancelled()),
                    });
                }
                Poll::Ready(Err(error)) => return this.lost(error, cx),
            },
            #[cfg(feature = "tokio")]
            Route::Lost(_) => {
                if this.cancel.poll_done(cx.waker()).is_pending() {
                    return Poll::Pending;
                }
                let Route::Lost(error) = std::mem::replace(&mut this.route, Route::Taken) else {
                    unreachable!("matched above")
                };
                return Poll::Ready(Err(*error));
            }
            Route::Taken => panic!("`TaskHandle` polled after it returned `Ready`"),
        };
        Poll::Ready(outcome_result(outcome))
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// A [`TaskHandle`] that cancels its child when dropped: made by
/// [`TaskHandle::cancel_on_drop`].
///
/// Awaiting it yields the handle's result; every method of the handle is
/// reachable through `Deref`.
///
/// # Cancel safety
///
/// As [`TaskHandle`]'s: dropping the `.await` leaves the guard unchanged.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let guard = root.spawn_task(async { 6 * 7 }).unwrap().cancel_on_drop();
/// assert_eq!(guard.await.unwrap(), 42);
/// # }
/// ```
pub struct CancelOnDrop<T> {
    // `None` only after `into_inner`.
    handle: Option<TaskHandle<T>>,
}

impl<T> CancelOnDrop<T> {
    /// The handle back, without the cancel on drop: dropping it then
    /// detaches the child.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let guard = root.spawn_task(async { 1 }).unwrap().cancel_on_drop();
    /// let handle: tasktree::TaskHandle<i32> = guard.into_inner();
    /// assert_eq!(handle.await.unwrap(), 1);
    /// # }
    /// ```
    pub fn into_inner(mut self) -> TaskHandle<T> {
        match self.handle.take() {
            Some(handle) => handle,
            None => unreachable!("only `into_inner` takes the handle"),
        }
    }

    fn handle(&self) -> &TaskHandle<T> {
        match &self.handle {
            Some(handle) => handle,
            None => unreachable!("only `into_inner` takes the handle"),
        }
    }
}

impl<T> std::ops::Deref for CancelOnDrop<T> {
    type Target = TaskHandle<T>;

    fn deref(&self) -> &TaskHandle<T> {
        self.handle()
    }
}

impl<T> Drop for CancelOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.cancel();
        }
    }
}

impl<T> Future for CancelOnDrop<T> {
    type Output = Result<T, TaskError>;

    /// # Panics
    ///
    /// Panics if polled again after it returned `Ready`.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.handle.as_mut() {
            Some(handle) => Pin::new(handle).poll(cx),
            None => unreachable!("only `into_inner` takes the handle"),
        }
    }
}

impl<T> fmt::Debug for CancelOnDrop<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelOnDrop")
            .field("finished", &self.handle().is_finished())
            .finish_non_exhaustive()
    }
}
