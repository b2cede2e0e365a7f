//! The signals between a parent and a child: views onto the child's slot in
//! the parent's scope (tree.rs), plus, for a typed handle, a cell that
//! carries the child's outcome.
//!
//! A parent holds the [`CancelSender`] and the [`DoneReceiver`]
//! ([`ParentSignals`]); a child holds the [`CancelReceiver`] and the
//! [`DoneSender`] ([`ChildSignals`]). None of them is a channel: both read
//! the slot's state (tree.rs, `State`). The cancel pair is its move to
//! `Cancelled` (or `Stopping`) and the child's stored waker, the done pair
//! its move to `Done`, which the child's done signal makes in phase 6 under
//! the parent's lock (the receiver's waker waits among the slot's foreign
//! wakers). Only a [`TaskHandle`](crate::TaskHandle), which
//! takes a value, has a cell of its own (`Shared`, tree/done.rs), and only off tokio
//! (and for `spawn_try`): on tokio the task's wrapper returns its outcome
//! after its done signal, and the handle takes it from tokio's
//! `JoinHandle` (task.rs, `Returned`).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::Arc;
use crate::tree::{signal_done, Link, Node};

/// The sending half of a signal.
///
/// Dropping a sender sends its signal: dropping a [`CancelSender`] cancels the
/// child, dropping a [`DoneSender`] tells the parent that the child is done.
///
/// # Examples
///
/// ```
/// use tasktree::{SignalSender, CancelSender};
///
/// fn assert_sender<S: SignalSender>() {}
/// assert_sender::<CancelSender>();
/// ```
pub trait SignalSender {}

/// A sender whose signal can be given up instead of sent.
///
/// # Examples
///
/// ```
/// use tasktree::{ForgettableSignalSender, ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let signals = root.spawn_future_with_signal(async {}, || ()).unwrap();
/// signals.cancel_sender.forget(); // the child now runs to completion
/// signals.done_receiver.await;
/// # }
/// ```
pub trait ForgettableSignalSender: SignalSender {
    /// Gives up the signal: dropping the sender afterwards sends nothing.
    fn forget(self);
}

/// The receiving half of a signal: a future that resolves when the signal
/// is sent.
///
/// # Examples
///
/// ```
/// use tasktree::{SignalReceiver, DoneReceiver, CancelReceiver};
///
/// fn assert_receiver<R: SignalReceiver>() {}
/// assert_receiver::<DoneReceiver>();
/// assert_receiver::<CancelReceiver>();
/// ```
pub trait SignalReceiver: Future<Output = ()> {}

/// The parent's ends of the signals of one child: cancel it, wait for it.
///
/// Returned by the `*_with_signal` spawns of [`ScopedSpawn`](crate::ScopedSpawn).
/// The type parameters exist so that code written against `scoped_spawn`'s
/// generic `ParentSignals<C, D>` still compiles; they default to this crate's
/// one concrete type per role.
///
/// # Examples
///
/// ```
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let signals = root
///     .spawn_future_with_signal(std::future::pending::<()>(), || println!("child done"))
///     .unwrap();
/// drop(signals.cancel_sender); // cancel the child
/// signals.done_receiver.await; // its future has been dropped, its `done` has run
/// # }
/// ```
#[derive(Debug)]
#[must_use = "dropping the cancel sender cancels the child at once"]
pub struct ParentSignals<C = CancelSender, D = DoneReceiver> {
    /// Cancels the child when dropped or [`cancel`](CancelSender::cancel)led;
    /// [`forget`](ForgettableSignalSender::forget) gives that right up (G6).
    pub cancel_sender: C,
    /// Resolves once the child's termination is complete (G1).
    pub done_receiver: D,
}

/// The child's ends of its signals: learn of cancellation, report done.
///
/// Returned by [`RawScopedSpawn`](crate::remote_scope::RawScopedSpawn) and
/// consumed by [`RemoteScope::wrap`](crate::remote_scope::RemoteScope::wrap).
///
/// # Examples
///
/// ```
/// use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
/// let task = RemoteScope::new().wrap(child, async { println!("hello") }, || ());
/// tokio::spawn(task); // any executor, `Send` or not
/// parent.done_receiver.await;
/// # drop(parent.cancel_sender);
/// # }
/// ```
#[derive(Debug)]
pub struct ChildSignals<C = CancelReceiver, D = DoneSender> {
    /// Resolves when the child is cancelled.
    pub cancel_receiver: C,
    /// Sends the done signal when dropped.
    pub done_sender: D,
}

/// A reference to one slot of a scope that keeps the slot alive (I5).
struct SlotRef {
    node: Arc<Node>,
    key: usize,
}

impl SlotRef {
    fn new(node: Arc<Node>, key: usize) -> Self {
        Self { node, key }
    }
}

/// Cancels one child: by [`cancel`](Self::cancel), or by being dropped.
///
/// [`forget`](ForgettableSignalSender::forget) gives up the right to cancel
/// early; the child still terminates with its parent (G6).
///
/// # Examples
///
/// ```
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let signals = root.spawn_future_with_signal(std::future::pending(), || ()).unwrap();
/// signals.cancel_sender.cancel();
/// signals.done_receiver.await;
/// # }
/// ```
#[must_use = "dropping a CancelSender cancels the child; call `forget` to let it run"]
pub struct CancelSender {
    slot: Option<SlotRef>,
}

impl CancelSender {
    pub(crate) fn new(node: Arc<Node>, key: usize) -> Self {
        Self {
            slot: Some(SlotRef::new(node, key)),
        }
    }

    /// Cancels the child now (gracefully if its scope has a grace period,
    /// [`ScopedSpawner::set_grace_period`](crate::ScopedSpawner::set_grace_period)).
    /// Dropping the sender does the same. The shape of
    /// [`TaskHandle::cancel`](crate::TaskHandle::cancel).
    ///
    /// Cancelling a child that has already finished, or cancelling twice,
    /// does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let signals = root.spawn_future_with_signal(std::future::pending(), || ()).unwrap();
    /// signals.cancel_sender.cancel();
    /// assert!(signals.cancel_sender.is_cancelled());
    /// signals.done_receiver.await;
    /// # }
    /// ```
    pub fn cancel(&self) {
        if let Some(slot) = &self.slot {
            Node::cancel(&slot.node, slot.key);
        }
    }

    /// Whether the child has been cancelled (the cancel proper, which drops
    /// its future), by this sender or by its parent's termination. A child
    /// that is only asked to stop by a graceful cancel is not cancelled yet,
    /// and one that completed was never cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let signals = root.spawn_future_with_signal(std::future::pending(), || ()).unwrap();
    /// assert!(!signals.cancel_sender.is_cancelled());
    /// root.shutdown().await;
    /// assert!(signals.cancel_sender.is_cancelled());
    /// # }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.slot
            .as_ref()
            .is_some_and(|slot| slot.node.is_cancelled(slot.key))
    }

    /// The id of the child (`None` once forgotten).
    pub(crate) fn task_id(&self) -> Option<crate::TaskId> {
        let slot = self.slot.as_ref()?;
        Some(crate::TaskId::new(slot.node.id, slot.key))
    }

    /// Why the child was cancelled, if it was: `None` for a released
    /// sender (forgotten).
    pub(crate) fn cancel_cause(&self) -> Option<crate::CancelCause> {
        let slot = self.slot.as_ref()?;
        slot.node.cause_of(slot.key, false)
    }

    /// The child and the tasks above it, nearest first, by id and name, for
    /// a handle's error (this sender's reference keeps the child's name in
    /// its scope): `Node::ancestry`, at most `max` tasks. Empty once
    /// forgotten (a handle's sender never is).
    pub(crate) fn ancestry(&self, max: usize) -> Vec<(crate::TaskId, Option<String>)> {
        match &self.slot {
            Some(slot) => Node::ancestry(&slot.node, slot.key, max),
            None => Vec::new(),
        }
    }

    /// The slot of a timed call (`None` once forgotten) and the runtime
    /// whose timer measures it.
    #[cfg(feature = "tokio")]
    fn timed(&self) -> Result<Option<(&SlotRef, tokio::runtime::Handle)>, crate::TimerError> {
        let timer = crate::tree::grace::current_timer()?;
        Ok(self.slot.as_ref().map(|slot| (slot, timer)))
    }
}

#[cfg(feature = "tokio")]
impl CancelSender {
    /// Cancels the child gracefully, as
    /// [`TaskHandle::cancel_with_grace`](crate::TaskHandle::cancel_with_grace)
    /// describes: asked to stop now, cancelled when `grace` has passed
    /// unless it has finished. A child spawned with a spawner sees the
    /// request through
    /// [`stop_requested`](crate::ScopedSpawner::stop_requested); a raw child
    /// through its [`CancelReceiver`].
    ///
    /// # Errors
    ///
    /// A [`TimerError`](crate::TimerError) if there is no tokio timer to
    /// measure `grace` (called outside a runtime, or on one without a time
    /// driver); the child is then not asked to stop.
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
    /// let signals = root
    ///     .spawn_with_signal(
    ///         |spawner| async move {
    ///             spawner.stop_requested().await; // the stop request
    ///             println!("flushing");           // runs: the grace period is 1 s
    ///         },
    ///         || (),
    ///     )
    ///     .unwrap();
    /// signals.cancel_sender.cancel_with_grace(Duration::from_secs(1)).unwrap();
    /// signals.done_receiver.await;
    /// # }
    /// ```
    pub fn cancel_with_grace(&self, grace: std::time::Duration) -> Result<(), crate::TimerError> {
        if let Some((slot, timer)) = self.timed()? {
            let deadline = crate::tree::grace::Deadline::after_current(grace, timer);
            Node::cancel_gracefully(&slot.node, slot.key, deadline);
        }
        Ok(())
    }

    /// Cancels the child when `deadline` passes, unless it has finished, as
    /// [`TaskHandle::set_deadline`](crate::TaskHandle::set_deadline)
    /// describes. The sender keeps its right to cancel earlier.
    ///
    /// # Errors
    ///
    /// A [`TimerError`](crate::TimerError) if there is no tokio timer to
    /// measure the deadline; no deadline is then set.
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
    /// let signals = root.spawn_future_with_signal(std::future::pending(), || ()).unwrap();
    /// let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    /// signals.cancel_sender.set_deadline(deadline).unwrap();
    /// signals.done_receiver.await; // a second later, by the paused clock
    /// # }
    /// ```
    pub fn set_deadline(&self, deadline: tokio::time::Instant) -> Result<(), crate::TimerError> {
        if let Some((slot, timer)) = self.timed()? {
            let deadline = crate::tree::grace::Deadline::at(deadline, timer);
            let passed = deadline.has_passed();
            Node::set_deadline(&slot.node, slot.key, deadline, passed);
        }
        Ok(())
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
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let signals = root.spawn_future_with_signal(std::future::pending(), || ()).unwrap();
    /// signals.cancel_sender.set_timeout(Duration::from_secs(1)).unwrap();
    /// signals.done_receiver.await;
    /// # }
    /// ```
    pub fn set_timeout(&self, timeout: std::time::Duration) -> Result<(), crate::TimerError> {
        if let Some((slot, timer)) = self.timed()? {
            let deadline = crate::tree::grace::Deadline::after_current(timeout, timer);
            Node::set_deadline(&slot.node, slot.key, deadline, timeout.is_zero());
        }
        Ok(())
    }
}

/// Hooks for the loom models (`loom-tests/`), which cannot run a timer:
/// the two halves of a graceful cancel, called by hand.
#[cfg(loom)]
impl CancelSender {
    /// The stop request of a graceful cancel, with no deadline.
    #[doc(hidden)]
    pub fn loom_request_stop(&self) {
        if let Some(slot) = &self.slot {
            Node::loom_stop(&slot.node, slot.key, false);
        }
    }

    /// The cancel at the end of a grace period (it cuts a stop request
    /// short, which `cancel` does not).
    #[doc(hidden)]
    pub fn loom_cancel_now(&self) {
        if let Some(slot) = &self.slot {
            Node::loom_stop(&slot.node, slot.key, true);
        }
    }
}

impl CancelSender {
    /// Whether the child has sent its done signal (a typed handle's
    /// `is_finished`, G1); `false` once the view was given up.
    pub(crate) fn is_done(&self) -> bool {
        self.slot
            .as_ref()
            .is_some_and(|slot| slot.node.is_done(slot.key))
    }

    /// Ready once the child has sent its done signal, keeping the view (a
    /// typed handle whose task tokio dropped waits for it: G1).
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_done(&self, waker: &std::task::Waker) -> Poll<()> {
        match &self.slot {
            Some(slot) => slot.node.poll_done(slot.key, waker),
            None => Poll::Ready(()),
        }
    }

    /// Gives this view up without a cancel, as `forget` does, in place: a
    /// typed handle's drop (detach).
    pub(crate) fn release(&mut self) {
        if let Some(slot) = self.slot.take() {
            Node::release(&slot.node, slot.key, false);
        }
    }
}

impl SignalSender for CancelSender {}

impl ForgettableSignalSender for CancelSender {
    fn forget(mut self) {
        self.release();
    }
}

impl Drop for CancelSender {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            Node::release(&slot.node, slot.key, true);
        }
    }
}

impl fmt::Debug for CancelSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelSender")
            .field("key", &self.slot.as_ref().map(|s| s.key))
            .finish()
    }
}

/// Resolves when its task should stop: when it is asked to stop (the first
/// signal of a graceful cancel), when it is cancelled (by its cancel sender,
/// or by its parent's termination), or once it has terminated (nothing is
/// left to cancel). [`is_cancelled`](Self::is_cancelled) and
/// [`is_stop_requested`](Self::is_stop_requested) tell the first two apart.
///
/// It is an ordinary future: besides being consumed by
/// [`RemoteScope::wrap`](crate::remote_scope::RemoteScope::wrap), a clone of it
/// can be awaited by the task itself, for instance in `tokio::select!`. With
/// the default termination a cancelled task's future is dropped at its next
/// poll, so code after a cancel receiver inside the task does not run; awaiting
/// it from elsewhere tells when the task was cancelled.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future loses nothing; a new clone sees the same
/// state.
///
/// # Examples
///
/// ```
/// use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
/// let cancelled = child.cancel_receiver.clone();
/// tokio::spawn(RemoteScope::new().wrap(child, std::future::pending(), || ()));
/// drop(parent.cancel_sender);
/// cancelled.await; // observed from outside the task
/// parent.done_receiver.await;
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct CancelReceiver {
    slot: SlotRef,
}

impl CancelReceiver {
    pub(crate) fn new(node: Arc<Node>, key: usize) -> Self {
        Self {
            slot: SlotRef::new(node, key),
        }
    }

    /// Whether the task has been cancelled (the cancel proper, which drops
    /// its future); not by a mere stop request, nor by completing.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{RawScopedSpawn, ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
    /// assert!(!child.cancel_receiver.is_cancelled());
    /// parent.cancel_sender.cancel();
    /// assert!(child.cancel_receiver.is_cancelled());
    /// # }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.slot.node.is_cancelled(self.slot.key)
    }

    /// Whether the task has been asked to stop by a graceful cancel, or
    /// cancelled: the task should wind down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasktree::{RawScopedSpawn, ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
    /// parent.cancel_sender.cancel_with_grace(Duration::from_secs(1)).unwrap();
    /// assert!(child.cancel_receiver.is_stop_requested());
    /// assert!(!child.cancel_receiver.is_cancelled()); // not before the second
    /// # }
    /// ```
    pub fn is_stop_requested(&self) -> bool {
        self.slot.node.is_stop_requested(self.slot.key)
    }
}

impl Clone for CancelReceiver {
    fn clone(&self) -> Self {
        self.slot.node.retain(self.slot.key);
        Self::new(self.slot.node.clone(), self.slot.key)
    }
}

impl Future for CancelReceiver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.slot
            .node
            .poll_cancel_receiver(self.slot.key, cx.waker())
    }
}

impl SignalReceiver for CancelReceiver {}

impl Drop for CancelReceiver {
    fn drop(&mut self) {
        Node::release(&self.slot.node, self.slot.key, false);
    }
}

impl fmt::Debug for CancelReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelReceiver")
            .field("key", &self.slot.key)
            .finish()
    }
}

/// Sends the child's done signal to its parent when dropped.
///
/// [`RemoteScope::wrap`](crate::remote_scope::RemoteScope::wrap) takes it and
/// drops it in phase 6 of termination. Dropping it unwrapped tells the parent
/// that a child which never ran is done.
///
/// # Examples
///
/// ```
/// use tasktree::remote_scope::RawScopedSpawn;
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
/// drop(child); // never ran: the done signal is sent at once
/// parent.done_receiver.await;
/// # drop(parent.cancel_sender);
/// # }
/// ```
pub struct DoneSender {
    link: Option<Link>,
}

impl DoneSender {
    pub(crate) fn new(link: Link) -> Self {
        Self { link: Some(link) }
    }

    /// Takes the link out, for the wrapper to own.
    pub(crate) fn into_link(mut self) -> Link {
        self.link
            .take()
            .expect("a DoneSender holds its link until dropped")
    }
}

impl SignalSender for DoneSender {}

impl Drop for DoneSender {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            signal_done::<()>(link, None, Some(Outcome::Cancelled));
        }
    }
}

impl fmt::Debug for DoneSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneSender")
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

/// Resolves once the child's termination is complete: its future and its
/// descendants' futures have been dropped and all their `done` callbacks have
/// returned (G1).
///
/// Dropping it does not affect the child.
///
/// # Cancel safety
///
/// Cancel safe: it can be polled again, or dropped, at any time.
///
/// # Examples
///
/// ```
/// use tasktree::{ScopedSpawn, ScopedSpawner};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ran = Arc::new(AtomicBool::new(false));
/// let root = ScopedSpawner::tokio();
/// let flag = ran.clone();
/// let signals = root
///     .spawn_future_with_signal(async {}, move || flag.store(true, Ordering::SeqCst))
///     .unwrap();
/// signals.done_receiver.await;
/// assert!(ran.load(Ordering::SeqCst));
/// # drop(signals.cancel_sender);
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct DoneReceiver {
    /// The view of the child's slot; `None` once the receiver has resolved
    /// (the view was given up then: `Node::poll_done_release`).
    slot: Option<SlotRef>,
}

impl DoneReceiver {
    /// A view of slot `key`; the caller has counted it in the slot's `refs`.
    pub(crate) fn new(node: Arc<Node>, key: usize) -> Self {
        Self {
            slot: Some(SlotRef::new(node, key)),
        }
    }

    /// Whether the child's termination is complete.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::{ScopedSpawn, ScopedSpawner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = ScopedSpawner::tokio();
    /// let signals = root.spawn_future_with_signal(std::future::pending(), || ()).unwrap();
    /// assert!(!signals.done_receiver.is_done());
    /// # drop(signals.cancel_sender);
    /// # }
    /// ```
    pub fn is_done(&self) -> bool {
        match &self.slot {
            Some(slot) => slot.node.is_done(slot.key),
            None => true,
        }
    }
}

impl Future for DoneReceiver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(slot) = &this.slot else {
            return Poll::Ready(());
        };
        let ready = slot.node.poll_done_release(slot.key, cx.waker());
        if ready.is_ready() {
            // The view was released with the poll; the node's `Arc` goes
            // after the lock.
            this.slot = None;
        }
        ready
    }
}

impl SignalReceiver for DoneReceiver {}

impl Drop for DoneReceiver {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            Node::release(&slot.node, slot.key, false);
        }
    }
}

impl fmt::Debug for DoneReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneReceiver")
            .field("done", &self.is_done())
            .finish()
    }
}

/// How a task's future ended.
pub(crate) enum Outcome<T> {
    /// It returned a value.
    Completed(T),
    /// It was dropped before completing.
    Cancelled,
    /// It was cancelled by its deadline (tree/grace.rs).
    DeadlineExceeded,
    /// Polling or dropping it panicked.
    Panicked(Box<dyn Any + Send + 'static>),
    /// It failed, and its fail-fast scope took the failure (tree.rs, I7).
    Failed,
}

impl<T> Outcome<T> {
    /// How the task ended, in a word: the `outcome` of its `future ended`
    /// tracing event (trace.rs).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Outcome::Completed(_) => "completed",
            Outcome::Cancelled => "cancelled",
            Outcome::DeadlineExceeded => "deadline exceeded",
            Outcome::Panicked(_) => "panicked",
            Outcome::Failed => "failed",
        }
    }
}
