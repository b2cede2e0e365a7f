//! The wrapper future that the executor runs for each task: it polls the
//! user's future and walks the six termination phases (tree.rs, "Lifecycle").

use std::fmt;
use std::future::Future;
#[cfg(feature = "tokio")]
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;

use crate::cause::{By, CancelCause, Kind, ScopeCause};
use crate::loom::Arc;
use crate::signal::Outcome;
use crate::trace::{event, TaskSpan};
use crate::tree::{
    run_orphans, signal_done, signal_done_then, Failure, Link, Node, Orphan, Shared, Signal,
};

/// What a running task has done so far: whether its waker is stored in its
/// slot (it is not on the first poll, so a future that completes at once
/// costs one lock), and whether a stop request (tree/grace.rs) has been passed on
/// to its own scope. An enum rather than two `bool`s: one byte, with a niche
/// left for `Phase`'s tag, so that the wrapper stays small (tests/size.rs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Nothing,
    Registered,
    Stopped,
    Both,
}

impl Seen {
    fn registered(self) -> bool {
        matches!(self, Seen::Registered | Seen::Both)
    }

    fn stop_seen(self) -> bool {
        matches!(self, Seen::Stopped | Seen::Both)
    }

    fn with_registered(self) -> Self {
        if self.stop_seen() {
            Seen::Both
        } else {
            Seen::Registered
        }
    }

    fn with_stop_seen(self) -> Self {
        if self.registered() {
            Seen::Both
        } else {
            Seen::Stopped
        }
    }
}

pin_project! {
    /// Where a task is in its termination. `K` keeps the outcome from phase
    /// 2 to phase 6 for an observer that takes it only then
    /// ([`Returned`]): in the space the future had, so that it costs the
    /// wrapper nothing; [`Absent`] for the others.
    #[project = PhaseProj]
    enum Phase<F, K> {
        /// Phase 1: the user's future runs.
        Running { #[pin] fut: F, seen: Seen },
        /// Phases 3 and 4: the future is dropped, the children are cancelled,
        /// the task waits for them.
        Draining { kept: K },
        /// Phases 5 and 6 are done; the done signal has been sent.
        Signalled,
    }
}

/// A field that a kind of task may have, chosen by its type: `Option<T>`
/// where it may, [`Absent`] (no bytes) where it never does. A leaf has no
/// scope, a task without a typed handle no done cell (a done receiver is a
/// view of the slot), and their wrappers carry nothing for them (issue "One record per task": leaves
/// carry nothing a leaf does not use).
pub(crate) trait Field<T>: Send + 'static {
    /// Whether the field can hold a value.
    const PRESENT: bool;
    /// The field, holding `value` (always `None` where not `PRESENT`).
    fn new(value: Option<T>) -> Self;
    fn get(&self) -> Option<&T>;
    fn take(&mut self) -> Option<T>;
    /// Stores `value`; only called where `PRESENT`.
    fn set(&mut self, value: T);
}

impl<T: Send + 'static> Field<T> for Option<T> {
    const PRESENT: bool = true;

    fn new(value: Option<T>) -> Self {
        value
    }

    fn get(&self) -> Option<&T> {
        self.as_ref()
    }

    fn take(&mut self) -> Option<T> {
        Option::take(self)
    }

    fn set(&mut self, value: T) {
        *self = Some(value);
    }
}

/// A field a task never has.
pub(crate) struct Absent;

impl<T> Field<T> for Absent {
    const PRESENT: bool = false;

    fn new(value: Option<T>) -> Self {
        debug_assert!(value.is_none(), "a value for an absent field");
        Absent
    }

    fn get(&self) -> Option<&T> {
        None
    }

    fn take(&mut self) -> Option<T> {
        None
    }

    fn set(&mut self, _value: T) {
        debug_assert!(false, "a value for an absent field");
    }
}

/// Whether the wrapper of a task whose future is `F` keeps a copy of the
/// waker it stored in its slot (the `memo` field of [`Task`]), so that a
/// poll with an unchanged waker reads its signal without its parent's lock
/// (tree.rs, I8).
///
/// The copy is 16 bytes. A future of up to 8 bytes goes without: with the
/// wrapper's other 16 bytes it still fits the smallest task cell of tokio (a
/// future of up to 24 bytes), and the copy would double that cell to 256
/// bytes. Every larger future keeps one (BENCHMARKS.md, "The cost of a
/// poll", has both figures).
pub(crate) const fn keeps_memo<F>() -> bool {
    std::mem::size_of::<F>() > 8
}

/// Who takes a task's outcome, chosen by the wrapper's type: nobody
/// ([`Absent`]: a done receiver, or no signal at all), a typed handle's
/// done cell (`Option<Arc<Shared<T>>>`, on any executor), or the executor
/// itself ([`Returned`]: the wrapper returns the outcome as its output, and
/// tokio's `JoinHandle` carries it to the typed handle).
pub(crate) trait Observer<T: Send + 'static>: Send + 'static {
    /// What the wrapper future returns.
    type Output;
    /// Where the wrapper keeps the outcome from phase 2 to phase 6, in its
    /// `Phase::Draining` (a task with a scope only: a leaf goes from 2 to 6
    /// in one poll).
    type Kept: Field<Outcome<T>>;

    /// Records how the future ended (phase 2, or the wrapper's drop). The
    /// first outcome wins; a later one is dropped, its panics contained.
    fn keep(&self, kept: &mut Self::Kept, outcome: Outcome<T>);

    /// Replaces the recorded outcome (a task whose fail-fast scope failed
    /// takes on that failure; tree.rs, I7).
    fn replace(&self, kept: &mut Self::Kept, outcome: Outcome<T>);

    /// Phase 6: sends the done signal (`signal_done`), hands the observer
    /// `outcome` (or what was kept, for `None`) and returns the wrapper's
    /// output.
    fn deliver(&mut self, link: Option<Link>, outcome: Option<Outcome<T>>) -> Self::Output;

    /// The output of a wrapper polled after it returned `Ready`.
    fn spent() -> Self::Output;

    /// The done cell, if any, for a termination finished without the
    /// wrapper (`terminate_detached`).
    fn take_shared(&mut self) -> Option<Arc<Shared<T>>>;
}

impl<T: Send + 'static> Observer<T> for Absent {
    type Output = ();
    type Kept = Absent;

    fn keep(&self, _: &mut Absent, outcome: Outcome<T>) {
        drop_contained(outcome);
    }

    fn replace(&self, _: &mut Absent, outcome: Outcome<T>) {
        drop_contained(outcome);
    }

    fn deliver(&mut self, link: Option<Link>, outcome: Option<Outcome<T>>) {
        match link {
            Some(link) => signal_done::<T>(link, None, outcome),
            None => drop_contained(outcome),
        }
    }

    fn spent() {}

    fn take_shared(&mut self) -> Option<Arc<Shared<T>>> {
        None
    }
}

impl<T: Send + 'static> Observer<T> for Option<Arc<Shared<T>>> {
    type Output = ();
    type Kept = Absent;

    fn keep(&self, _: &mut Absent, outcome: Outcome<T>) {
        match self {
            Some(shared) => shared.set_outcome(outcome),
            None => drop_contained(outcome),
        }
    }

    fn replace(&self, _: &mut Absent, outcome: Outcome<T>) {
        match self {
            Some(shared) => shared.replace_outcome(outcome),
            None => drop_contained(outcome),
        }
    }

    fn deliver(&mut self, link: Option<Link>, outcome: Option<Outcome<T>>) {
        let shared = self.take();
        match link {
            Some(link) => signal_done(link, shared.as_deref(), outcome),
            None => drop_contained(outcome),
        }
    }

    fn spent() {}

    fn take_shared(&mut self) -> Option<Arc<Shared<T>>> {
        self.take()
    }
}

/// The observer of a task spawned with `tokio::spawn` whose typed handle
/// awaits its `JoinHandle`: the wrapper's output is the outcome, returned
/// after the done signal (phase 6), so tokio makes it visible to the handle
/// only once the termination is complete (G1). `K` is where a task with a
/// scope keeps its outcome while it waits for its children
/// (`Option<Outcome<T>>`); a leaf, which goes from phase 2 to phase 6 in
/// one poll, keeps nothing ([`Absent`]).
#[cfg(feature = "tokio")]
pub(crate) struct Returned<K>(PhantomData<fn() -> K>);

#[cfg(feature = "tokio")]
impl<K> Returned<K> {
    pub(crate) fn new() -> Self {
        Returned(PhantomData)
    }
}

#[cfg(feature = "tokio")]
impl<T: Send + 'static, K: Field<Outcome<T>>> Observer<T> for Returned<K> {
    type Output = Delivered<T>;
    type Kept = K;

    fn keep(&self, kept: &mut K, outcome: Outcome<T>) {
        if K::PRESENT && kept.get().is_none() {
            *kept = K::new(Some(outcome));
        } else {
            // Second, or a leaf dropped by the executor: not returned.
            drop_contained(outcome);
        }
    }

    fn replace(&self, kept: &mut K, outcome: Outcome<T>) {
        drop_contained(kept.take());
        self.keep(kept, outcome);
    }

    fn deliver(&mut self, link: Option<Link>, outcome: Option<Outcome<T>>) -> Delivered<T> {
        if let Some(link) = link {
            // No done cell: the outcome is kept, and returned after the
            // signal.
            signal_done::<T>(link, None, None);
        }
        Delivered::new(outcome.unwrap_or(Outcome::Cancelled))
    }

    fn spent() -> Delivered<T> {
        Delivered(None)
    }

    fn take_shared(&mut self) -> Option<Arc<Shared<T>>> {
        None
    }
}

/// The output of a [`Returned`] wrapper: the task's outcome, which its
/// typed handle takes out of tokio's `JoinHandle`. Dropped without being
/// taken (the handle was dropped: a detached task), the outcome goes with
/// its destructor's panics contained (G10).
///
/// Two words for a `()` output (an [`Outcome`] is three), so that tokio's
/// `Result<Delivered<()>, JoinError>` stays three words and the task cell of
/// a small future fits in tokio's smallest one, as `tokio::spawn`'s does.
#[cfg(feature = "tokio")]
pub(crate) struct Delivered<T>(Option<Result<T, Ended>>);

/// How a task ended without a value, in two words: a panic's payload is
/// boxed once more (a thin pointer).
#[cfg(feature = "tokio")]
pub(crate) enum Ended {
    Cancelled,
    DeadlineExceeded,
    Failed,
    Panicked(Box<Box<dyn std::any::Any + Send + 'static>>),
}

#[cfg(feature = "tokio")]
impl Ended {
    /// As the outcome it stands for (cold: the common end is a value).
    #[cold]
    pub(crate) fn into_outcome<T>(self) -> Outcome<T> {
        match self {
            Ended::Cancelled => Outcome::Cancelled,
            Ended::DeadlineExceeded => Outcome::DeadlineExceeded,
            Ended::Failed => Outcome::Failed,
            Ended::Panicked(payload) => Outcome::Panicked(*payload),
        }
    }
}

#[cfg(feature = "tokio")]
impl<T> Delivered<T> {
    fn new(outcome: Outcome<T>) -> Self {
        Delivered(Some(match outcome {
            Outcome::Completed(value) => Ok(value),
            Outcome::Cancelled => Err(Ended::Cancelled),
            Outcome::DeadlineExceeded => Err(Ended::DeadlineExceeded),
            Outcome::Failed => Err(Ended::Failed),
            Outcome::Panicked(payload) => Err(Ended::Panicked(Box::new(payload))),
        }))
    }

    /// The value, or how the task ended without one (`None` only for a
    /// wrapper polled after it was done, which tokio never does).
    #[inline]
    pub(crate) fn take(mut self) -> Option<Result<T, Ended>> {
        self.0.take()
    }
}

#[cfg(feature = "tokio")]
impl<T> Drop for Delivered<T> {
    fn drop(&mut self) {
        if let Some(unread) = self.0.take() {
            drop_contained(unread);
        }
    }
}

pin_project! {
    /// The wrapper future of every task, generic over what it carries
    /// beside the user's future: its own scope (`Sc`, `Option<_>` or
    /// [`Absent`]), the observer of its outcome (`Ob`, see [`Observer`]),
    /// whose output is the wrapper's, and a copy of its waker (`M`,
    /// `Option<Waker>` or [`Absent`], see [`keeps_memo`]).
    pub(crate) struct Task<F, D, Sc, Ob, M>
    where
        F: Future,
        F::Output: Send,
        F::Output: 'static,
        D: FnOnce(),
        D: Send,
        D: 'static,
        Sc: Field<Arc<Node>>,
        Ob: Observer<F::Output>,
        M: Field<Waker>,
    {
        #[pin]
        phase: Phase<F, Ob::Kept>,
        // The task's slot in its parent's scope: the scope, taken in phase 6,
        // and the slot key. Two fields rather than a `Link`, so that the key
        // and the small fields below share one word.
        parent: Option<Arc<Node>>,
        key: u32,
        // The task's own scope, if it can spawn children.
        scope: Sc,
        // The `done` callback; taken in phase 5.
        done: Option<D>,
        // Who takes the outcome: nobody, its handle's done cell (completed in
        // phase 6), or the executor (the wrapper's output).
        observer: Ob,
        // A copy of the waker stored in its slot, if it keeps one
        // (`keeps_memo`); dropped in phase 2. Beside the phase rather than
        // in it, so that it does not pad the user's future to its alignment.
        memo: M,
        // The task's tracing span, entered on every poll (trace.rs; zero
        // bytes without the `tracing` feature).
        span: TaskSpan,
    }

    impl<F, D, Sc, Ob, M> PinnedDrop for Task<F, D, Sc, Ob, M>
    where
        F: Future,
        F::Output: Send,
        F::Output: 'static,
        D: FnOnce(),
        D: Send,
        D: 'static,
        Sc: Field<Arc<Node>>,
        Ob: Observer<F::Output>,
        M: Field<Waker>,
    {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let span = std::mem::take(this.span);
            #[allow(clippy::let_unit_value)]
            let _entered = span.enter();
            if let PhaseProj::Running { .. } = this.phase.as_mut().project() {
                let (parent, scope) = (this.parent.as_ref(), this.scope.get());
                drop_running(this.phase.as_mut(), parent, scope, *this.key, &*this.observer);
            }
            if let PhaseProj::Draining { kept } = this.phase.as_mut().project() {
                // Kept for an output that will never be returned (tokio then
                // reports a cancel to the handle, which waits for the done
                // signal): dropped here, its panics contained (G10).
                drop_contained(kept.take());
            }
            if let Some(link) = take_link(this.parent, *this.key) {
                let shared = this.observer.take_shared();
                terminate_dropped(this.scope.take(), link, this.done.take(), shared);
            }
        }
    }
}

impl<F, D, Sc, Ob, M> Task<F, D, Sc, Ob, M>
where
    F: Future,
    F::Output: Send + 'static,
    D: FnOnce() + Send + 'static,
    Sc: Field<Arc<Node>>,
    Ob: Observer<F::Output>,
    M: Field<Waker>,
{
    pub(crate) fn new(
        link: Link,
        scope: Sc,
        fut: F,
        done: D,
        observer: Ob,
        span: TaskSpan,
    ) -> Self {
        let key = u32::try_from(link.key).expect("`Node::register` keeps keys below 2^32");
        Task {
            phase: Phase::Running {
                fut,
                seen: Seen::Nothing,
            },
            parent: Some(link.node),
            key,
            scope,
            done: Some(done),
            observer,
            memo: M::new(None),
            span,
        }
    }
}

pin_project! {
    /// A task of the tree, ready to be handed to an executor.
    ///
    /// Made by [`RemoteScope::wrap`](crate::remote_scope::RemoteScope::wrap).
    /// Polling it runs the task's future until that completes or the task is
    /// cancelled, then walks the termination phases: drop the future, cancel
    /// the children, wait for them, run `done`, signal the parent.
    ///
    /// If the executor drops it before it has finished (a runtime shutting
    /// down, say), the future is dropped and the children are cancelled at
    /// once, and `done` and the done signal follow as soon as the last child
    /// has signalled, on that child's thread. So every guarantee holds whatever
    /// the executor does.
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
    /// let task: tasktree::remote_scope::ScopedTask<_, _> =
    ///     RemoteScope::new().wrap(child, async { println!("running") }, || ());
    /// task.await; // run it inline, or hand it to any executor
    /// parent.done_receiver.await;
    /// # drop(parent.cancel_sender);
    /// # }
    /// ```
    #[must_use = "a task does nothing unless polled or spawned"]
    pub struct ScopedTask<F, D>
    where
        F: Future,
        F::Output: Send,
        F::Output: 'static,
        D: FnOnce(),
        D: Send,
        D: 'static,
    {
        #[pin]
        task: Task<F, D, Option<Arc<Node>>, Absent, Absent>,
    }
}

impl<F, D> ScopedTask<F, D>
where
    F: Future,
    F::Output: Send + 'static,
    D: FnOnce() + Send + 'static,
{
    pub(crate) fn new(link: Link, scope: Option<Arc<Node>>, fut: F, done: D) -> Self {
        let id = crate::TaskId::new(link.node.id, link.key);
        let span = TaskSpan::child(&link.node.span.get(), id, None);
        if let Some(scope) = &scope {
            scope.span.set(span.clone());
        }
        ScopedTask {
            task: Task::new(link, scope, fut, done, Absent, span),
        }
    }
}

impl<F, D> Future for ScopedTask<F, D>
where
    F: Future,
    F::Output: Send + 'static,
    D: FnOnce() + Send + 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().task.poll(cx)
    }
}

impl<F, D> fmt::Debug for ScopedTask<F, D>
where
    F: Future,
    F::Output: Send + 'static,
    D: FnOnce() + Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.task.fmt(f)
    }
}

impl<F, D, Sc, Ob, M> Future for Task<F, D, Sc, Ob, M>
where
    F: Future,
    F::Output: Send + 'static,
    D: FnOnce() + Send + 'static,
    Sc: Field<Arc<Node>>,
    Ob: Observer<F::Output>,
    M: Field<Waker>,
{
    type Output = Ob::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ob::Output> {
        let mut this = self.project();
        #[allow(clippy::let_unit_value)]
        let _entered = this.span.enter();
        loop {
            match this.phase.as_mut().project() {
                PhaseProj::Running { mut fut, seen } => {
                    let memo = &mut *this.memo;
                    let Some(parent) = this.parent.as_ref() else {
                        unreachable!("a running task holds its link")
                    };
                    let key = *this.key as usize;
                    // Phase 1: the future runs until it completes or a cancel
                    // arrives. The slot's state is read before each poll (I6).
                    let stop_seen = seen.stop_seen();
                    let signal = if seen.registered() {
                        match memo.get() {
                            // Polled with the waker in its slot: no lock while
                            // no sibling is stopping or cancelled (I8).
                            Some(stored) if stored.will_wake(cx.waker()) => {
                                parent.repoll_signal(key, cx.waker(), stop_seen)
                            }
                            _ => {
                                if M::PRESENT {
                                    memo.set(cx.waker().clone());
                                }
                                parent.poll_signal(key, cx.waker(), stop_seen)
                            }
                        }
                    } else {
                        parent.peek_signal(key, stop_seen)
                    };
                    // How the cancel came, if one ended phase 1 (cause.rs).
                    let mut by = None;
                    let outcome = match signal {
                        Signal::Cancel { by: how } => {
                            by = Some(how);
                            cancelled(parent, key, how, this.scope.get())
                        }
                        Signal::Stop => {
                            #[cfg(feature = "tracing")]
                            if let Some(cause) = parent.cause_of(key, true) {
                                event!(cause = %cause, "stop requested");
                            }
                            // A graceful cancel: the task's own scope, and so
                            // its children, are asked to stop too; the future
                            // runs on until the cancel (tree/grace.rs).
                            *seen = seen.with_stop_seen();
                            if let Some(scope) = this.scope.get() {
                                parent.pass_stop(key, scope);
                            }
                            continue;
                        }
                        Signal::Run => {
                            match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
                                Ok(Poll::Ready(value)) => Outcome::Completed(value),
                                Ok(Poll::Pending) => {
                                    if seen.registered() {
                                        return Poll::Pending;
                                    }
                                    // First park: store the waker, and look again
                                    // under the same lock for a cancel that came
                                    // during the poll (I6).
                                    *seen = seen.with_registered();
                                    if M::PRESENT {
                                        memo.set(cx.waker().clone());
                                    }
                                    match parent.poll_signal(key, cx.waker(), stop_seen) {
                                        Signal::Run => return Poll::Pending,
                                        // Passed on at the top of the loop, and
                                        // the future polled again.
                                        Signal::Stop => continue,
                                        Signal::Cancel { by: how } => {
                                            by = Some(how);
                                            cancelled(parent, key, how, this.scope.get())
                                        }
                                    }
                                }
                                Err(panic) => Outcome::Panicked(panic),
                            }
                        }
                    };
                    // Phase 2: drop the future, and the copy of the waker
                    // (which may keep the executor's task alive).
                    let mut outcome = drop_future(this.phase.as_mut(), outcome);
                    parent.ends.ended(&outcome, by);
                    event!(outcome = outcome.kind(), "future ended");
                    drop(this.memo.take());
                    if let Outcome::Panicked(panic) = outcome {
                        outcome = report_panic(Some(parent), key, panic);
                    }
                    let Some(scope) = this.scope.get() else {
                        // A leaf: no children, so phases 3 and 4 are empty.
                        this.phase.set(Phase::Signalled);
                        return Poll::Ready(finish(
                            this.done.take(),
                            take_link(this.parent, *this.key),
                            this.observer,
                            Some(outcome),
                        ));
                    };
                    keep(this.phase.as_mut(), &*this.observer, outcome);
                    // Phase 3: cancel the children; no new child can join.
                    // They inherit this task's cause, if it was cancelled.
                    match by {
                        None => Node::close(scope, ScopeCause::ended()).wake(),
                        Some(_) => Node::close_cancelled(scope),
                    }
                }
                PhaseProj::Draining { kept } => {
                    // Phase 4: wait for every child's done signal.
                    if let Some(scope) = this.scope.get() {
                        if scope.poll_drained(cx.waker(), false).is_pending() {
                            return Poll::Pending;
                        }
                        // A failure kept by this fail-fast scope is this
                        // task's failure, reported upwards in turn (I7).
                        if let Some(failure) = scope.retire() {
                            let key = *this.key as usize;
                            let outcome =
                                report_panic(this.parent.as_ref(), key, failure.into_payload());
                            this.observer.replace(kept, outcome);
                        }
                    }
                    let outcome = kept.take();
                    this.phase.set(Phase::Signalled);
                    drop(this.scope.take());
                    // Phase 5, then phase 6.
                    return Poll::Ready(finish(
                        this.done.take(),
                        take_link(this.parent, *this.key),
                        this.observer,
                        outcome,
                    ));
                }
                PhaseProj::Signalled => return Poll::Ready(Ob::spent()),
            }
        }
    }
}

impl<F, D, Sc, Ob, M> fmt::Debug for Task<F, D, Sc, Ob, M>
where
    F: Future,
    F::Output: Send + 'static,
    D: FnOnce() + Send + 'static,
    Sc: Field<Arc<Node>>,
    Ob: Observer<F::Output>,
    M: Field<Waker>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Running { .. } => "Running",
            Phase::Draining { .. } => "Draining",
            Phase::Signalled => "Signalled",
        };
        f.debug_struct("ScopedTask")
            .field("phase", &phase)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The outcome of a task cancelled `by` the given way before its future
/// completed (slot `key` of `parent`); a task with children records why in
/// its scope first, before its future is dropped. Cold: the common end is a
/// value.
#[cold]
fn cancelled<T>(parent: &Node, key: usize, by: By, scope: Option<&Arc<Node>>) -> Outcome<T> {
    if let Some(scope) = scope {
        parent.note_cancel(key, scope);
    }
    #[cfg(feature = "tracing")]
    if let Some(cause) = parent.cause_of(key, false) {
        event!(cause = %cause, "cancelled");
    }
    let _ = (parent, key);
    if by == By::Deadline {
        Outcome::DeadlineExceeded
    } else {
        Outcome::Cancelled
    }
}

/// Phase 2 of a running task whose wrapper the executor drops: its scope
/// records why (its cancel's, or the executor's), the future is dropped,
/// and its end counted as the executor's cancel. Cold, out of line: every
/// wrapper's drop has this branch, and almost none takes it.
#[cold]
#[inline(never)]
fn drop_running<F, Ob>(
    mut phase: Pin<&mut Phase<F, Ob::Kept>>,
    parent: Option<&Arc<Node>>,
    scope: Option<&Arc<Node>>,
    key: u32,
    observer: &Ob,
) where
    F: Future,
    F::Output: Send + 'static,
    Ob: Observer<F::Output>,
{
    if let (Some(parent), Some(scope)) = (parent, scope) {
        parent.note_cancel(key as usize, scope);
    }
    let outcome = drop_future(phase.as_mut(), Outcome::Cancelled);
    if let Some(parent) = parent {
        parent.ends.ended(&outcome, None);
    }
    keep(phase, observer, outcome);
}

/// Phase 2: drops the future in place, containing a panic of its destructor.
/// Returns `outcome`, or the destructor's panic if the future had not
/// already panicked.
fn drop_future<F: Future, K: Field<Outcome<F::Output>>>(
    mut phase: Pin<&mut Phase<F, K>>,
    outcome: Outcome<F::Output>,
) -> Outcome<F::Output> {
    // `Pin::set` leaves `Draining` in place even if the destructor unwinds.
    let draining = || phase.set(Phase::Draining { kept: K::new(None) });
    match catch_unwind(AssertUnwindSafe(draining)) {
        Ok(()) => outcome,
        Err(panic) => match outcome {
            Outcome::Panicked(first) => {
                drop_panic(panic);
                Outcome::Panicked(first)
            }
            _ => Outcome::Panicked(panic),
        },
    }
}

/// Hands the outcome of phase 2 to the observer, to keep until phase 6
/// (where `Phase::Draining` has room for it, if the observer needs that).
fn keep<F, Ob>(mut phase: Pin<&mut Phase<F, Ob::Kept>>, observer: &Ob, outcome: Outcome<F::Output>)
where
    F: Future,
    F::Output: Send + 'static,
    Ob: Observer<F::Output>,
{
    match phase.as_mut().project() {
        PhaseProj::Draining { kept } => observer.keep(kept, outcome),
        _ => unreachable!("phase 2 leaves the wrapper draining"),
    }
}

/// Takes the task's link out of its two fields (phase 6).
fn take_link(parent: &mut Option<Arc<Node>>, key: u32) -> Option<Link> {
    parent.take().map(|node| Link {
        node,
        key: key as usize,
    })
}

/// Reports a panic to the task's parent: a fail-fast parent takes it and
/// cancels its other children (I7); otherwise it stays with the task.
fn report_panic<T>(
    parent: Option<&Arc<Node>>,
    key: usize,
    panic: Box<dyn std::any::Any + Send>,
) -> Outcome<T> {
    let Some(parent) = parent else {
        return Outcome::Panicked(panic);
    };
    match Node::report_failure(parent, Failure::Panic(panic), Some(key), None) {
        Ok(()) => Outcome::Failed,
        Err(failure) => Outcome::Panicked(failure.into_payload()),
    }
}

/// Phases 5 and 6 of a task whose wrapper is alive: `done`, then the done
/// signal to the parent and to the observer together (`Link::done_with`).
/// Returns the wrapper's output.
fn finish<T, D, Ob>(
    done: Option<D>,
    link: Option<Link>,
    observer: &mut Ob,
    outcome: Option<Outcome<T>>,
) -> Ob::Output
where
    T: Send + 'static,
    D: FnOnce(),
    Ob: Observer<T>,
{
    run_callback(done);
    event!("done");
    observer.deliver(link, outcome)
}

/// Phase 5: the `done` callback, its panic contained (G4).
fn run_callback<D: FnOnce()>(done: Option<D>) {
    if let Some(done) = done {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(done)) {
            drop_panic(panic);
        }
    }
}

/// Drops a panic payload; a payload whose own destructor panics is leaked
/// rather than allowed to unwind through the tree.
pub(crate) fn drop_panic(panic: Box<dyn std::any::Any + Send>) {
    if let Err(inner) = catch_unwind(AssertUnwindSafe(move || drop(panic))) {
        std::mem::forget(inner);
    }
}

/// Drops user data (an output, an outcome, a failure) that nobody will
/// read, containing a panic of its destructor: as tokio does for the output
/// of a detached task, the panic goes nowhere (G10).
pub(crate) fn drop_contained<T>(value: T) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        drop_panic(panic);
    }
}

/// Finishes the termination of a task whose wrapper is gone (dropped by the
/// executor, or never built because spawning failed): closes its scope, and
/// runs `done` (phase 5) and the done signal (phase 6) now if no child is
/// live, or hands them to the last child otherwise.
pub(crate) fn terminate_detached<T, D>(
    scope: Option<Arc<Node>>,
    cause: ScopeCause,
    link: Link,
    done: Option<D>,
    shared: Option<Arc<Shared<T>>>,
) where
    T: Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let finish = move || {
        run_callback(done);
        signal_done_then(link, shared.as_deref(), None)
    };
    let Some(scope) = scope else {
        run_orphans(finish());
        return;
    };
    Node::close(&scope, cause).wake();
    // The wrapper is gone: nothing is left to cancel or to fail (I7).
    drop_contained(scope.retire());
    let orphan = Orphan::new(finish);
    run_orphans(scope.adopt(orphan));
}

/// [`terminate_detached`] for a task whose wrapper the executor dropped
/// before its done signal: its children inherit its cause (its cancel's if
/// it was cancelled first, else the executor's), which its scope recorded
/// before the future was dropped. Cold, out of line: every wrapper's drop
/// has this branch, and almost none takes it.
#[cold]
#[inline(never)]
fn terminate_dropped<T, D>(
    scope: Option<Arc<Node>>,
    link: Link,
    done: Option<D>,
    shared: Option<Arc<Shared<T>>>,
) where
    T: Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let own = scope.as_ref().and_then(|scope| scope.own_cause());
    let cause = own.unwrap_or(CancelCause::new(Kind::Executor));
    terminate_detached(scope, ScopeCause::from_owner(cause), link, done, shared);
}

/// [`terminate_detached`] for a scope block's slot: no `done`, no observer.
///
/// The block's children are cancelled as their parent ended, or with the
/// enclosing task's cause if that task was cancelled (its future, and the
/// block in it, dropped in its phase 2).
pub(crate) fn terminate_block(scope: Arc<Node>, link: Link) {
    let cause = match link.node.own_cause() {
        Some(cause) => ScopeCause::from_owner(cause),
        None => ScopeCause::ended(),
    };
    terminate_detached::<(), fn()>(Some(scope), cause, link, None, None);
}
