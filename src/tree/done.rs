//! The done signal (phase 6 of a task's termination; crate docs,
//! "Guarantees"): a child tells its parent scope, and its observer, that its
//! whole termination is over. All of it is here: the child's [`Link`] to its
//! slot and [`Link::done_with`], which unlinks the slot under the parent's
//! lock (I4); the typed handle's done cell ([`Shared`]), completed inside
//! that same critical section; the orphan continuations that finish a task
//! whose wrapper the executor dropped ([`Orphan`], [`run_orphans`]).
//!
//! The wrapper's side (when it sends the signal) is in task.rs (`finish`,
//! `terminate_detached`, `Observer::deliver`); the receivers' side (a
//! `DoneReceiver`'s poll) in tree.rs (`Node::poll_done_release`).
//!
//! # Lock order
//!
//! A node's lock, then, inside it, a done cell's ([`Shared`]): taken in that
//! order by `done_with` only. No code takes a node's lock while holding a
//! done cell's (I2).

use std::fmt;
use std::task::{Poll, Waker};

use super::{Extra, Node, Wakeups};
use crate::loom::{Arc, Mutex};
use crate::signal::Outcome;
use crate::task::drop_contained;

/// What is left of a task's termination when its wrapper was dropped early:
/// run `done`, send the done signal, and return the parent's own orphan
/// continuation if this completed it (run next by [`run_orphans`]).
pub(crate) struct Orphan(Box<dyn FnOnce() -> Option<Orphan> + Send>);

impl Orphan {
    pub(crate) fn new(finish: impl FnOnce() -> Option<Orphan> + Send + 'static) -> Self {
        Orphan(Box::new(finish))
    }
}

/// A child's reference to its slot: the parent scope and the slot key.
///
/// Owned by the child's wrapper future (or by a `DoneSender`); consumed by
/// [`finish_chain`], which sends the done signal (phase 6).
pub(crate) struct Link {
    pub(crate) node: Arc<Node>,
    pub(crate) key: usize,
}

impl Link {
    /// Sends this child's done signal to its parent scope (phase 6; I4), and
    /// runs `observe` (the child's observer's half of phase 6) inside the
    /// same critical section, so that a waiter of the parent that sees the
    /// child gone also sees its handle complete, and an observer that sees
    /// the handle complete also sees the parent's count lowered. `observe`
    /// must not wake or drop anything: what it returns is handed back to be
    /// dealt with after the lock is released (I3). Returns that, and the
    /// parent's orphan continuation if this was its last child.
    pub(crate) fn done_with<R>(self, observe: impl FnOnce() -> R) -> (Option<Orphan>, R) {
        let mut children = self.node.children.lock();
        let children_ref = &mut *children;
        let mut slot = children_ref.slots.get_mut(self.key);
        let stale_waker = slot.unlink(&self.node.unsettled);
        let (freed, removed) = slot.release();
        let extra = children_ref.extras.released(freed, self.key);
        let mut wakeups = Wakeups::default();
        // Wakers waiting on this slot; in a scope with a limit, which keeps
        // `foreign` set, one waiting `reserve` too (tree/limit.rs).
        if children_ref.foreign.is_set() {
            children_ref.foreign.take_done(self.key, &mut wakeups);
        }
        wakeups.extend(children_ref.grace.forget_slot(self.key));
        children_ref.live -= 1;
        let orphan = if children_ref.live == 0 {
            wakeups.extend(children_ref.grace.forget_close());
            wakeups.append(&mut children_ref.waiters);
            children_ref.orphan.take()
        } else {
            None
        };
        // Lock order: a node's lock before a done cell's (module docs).
        let observed = observe();
        drop(children);
        drop(stale_waker);
        drop(removed);
        if let Some(extra) = extra {
            drop_extra(extra);
        }
        wakeups.wake();
        (orphan, observed)
    }
}

/// Drops a child's entry for task dumps, after the lock (it may hold the
/// last reference to the child's scope). Out of line: most children have
/// none.
#[cold]
#[inline(never)]
fn drop_extra(extra: Extra) {
    drop(extra);
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link").field("key", &self.key).finish()
    }
}

/// Sends `link`'s done signal (for a child with no observer) and runs the
/// orphan continuations this completes.
pub(crate) fn finish_chain(link: Link) {
    run_orphans(link.done_with(|| ()).0);
}

/// Runs orphan continuations in a loop: each finishes one dropped task and
/// returns its parent's, if that was the parent's last child (G9: a chain of
/// dropped wrappers 100,000 deep unwinds here without recursion).
pub(crate) fn run_orphans(mut next: Option<Orphan>) {
    while let Some(Orphan(finish)) = next.take() {
        next = finish();
    }
}

/// What completing a done cell left to do once the locks are released: wake
/// the observer, drop an outcome that came second (user code: I3).
#[must_use = "the observer must be woken"]
pub(crate) struct Completed<T> {
    waker: Option<Waker>,
    unused: Option<Outcome<T>>,
}

impl<T> Completed<T> {
    pub(crate) fn finish(self) {
        drop_contained(self.unused);
        if let Some(waker) = self.waker {
            waker.wake();
        }
    }
}

/// Sends a child's done signal to its parent and to its observer together
/// (phase 6; see `Link::done_with`), then runs what that completes.
pub(crate) fn signal_done<T>(link: Link, shared: Option<&Shared<T>>, outcome: Option<Outcome<T>>) {
    run_orphans(signal_done_then(link, shared, outcome));
}

/// As [`signal_done`], returning the parent's orphan continuation (if this
/// completed it) instead of running it: for an orphan's own body.
pub(crate) fn signal_done_then<T>(
    link: Link,
    shared: Option<&Shared<T>>,
    outcome: Option<Outcome<T>>,
) -> Option<Orphan> {
    let Some(shared) = shared else {
        // No observer will read the outcome (an output, a panic payload):
        // it is user data, dropped here, before the done signal and under no
        // lock (I3, G10).
        drop_contained(outcome);
        return link.done_with(|| ()).0;
    };
    let (orphan, completed) = link.done_with(|| shared.complete_locked(outcome));
    completed.finish();
    orphan
}

/// The done cell shared by a child and its typed handle: the outcome, set in
/// phase 2, and the done flag, set in phase 6 (G1).
pub(crate) struct Shared<T> {
    state: Mutex<SharedState<T>>,
}

struct SharedState<T> {
    complete: bool,
    outcome: Option<Outcome<T>>,
    waker: Option<Waker>,
}

impl<T> Drop for Shared<T> {
    /// An outcome nobody took (a detached or dropped handle's output, a
    /// panic payload) is dropped with the cell, by whichever side lets go
    /// last, often the task itself: a panic of its destructor is contained
    /// there, not let into the executor (G10).
    fn drop(&mut self) {
        let outcome = self.state.get_mut().outcome.take();
        drop_contained(outcome);
    }
}

impl<T> Shared<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(SharedState {
                complete: false,
                outcome: None,
                waker: None,
            }),
        }
    }

    /// Records how the future ended (phase 2). The first outcome wins.
    pub(crate) fn set_outcome(&self, outcome: Outcome<T>) {
        let mut state = self.state.lock();
        if state.outcome.is_none() {
            state.outcome = Some(outcome);
            return;
        }
        drop(state);
        drop_contained(outcome);
    }

    /// Replaces the recorded outcome (a task whose scope failed takes on
    /// that failure; tree.rs, I7).
    pub(crate) fn replace_outcome(&self, outcome: Outcome<T>) {
        let previous = self.state.lock().outcome.replace(outcome);
        drop_contained(previous);
    }

    /// Marks the termination complete (phase 6), recording `outcome` first
    /// if none was recorded yet. Called inside the parent's node lock
    /// (`Link::done_with`): what must be woken or dropped is returned.
    pub(crate) fn complete_locked(&self, outcome: Option<Outcome<T>>) -> Completed<T> {
        let mut state = self.state.lock();
        state.complete = true;
        let unused = match (&state.outcome, outcome) {
            (None, Some(outcome)) => {
                state.outcome = Some(outcome);
                None
            }
            (None, None) => {
                state.outcome = Some(Outcome::Cancelled);
                None
            }
            (Some(_), outcome) => outcome,
        };
        Completed {
            waker: state.waker.take(),
            unused,
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.state.lock().complete
    }

    /// Ready with the outcome once the termination is complete (`None` if
    /// it was already taken); otherwise stores `waker`. One critical section.
    pub(crate) fn poll_take(&self, waker: &Waker) -> Poll<Option<Outcome<T>>> {
        let _replaced;
        let mut state = self.state.lock();
        if state.complete {
            return Poll::Ready(state.outcome.take());
        }
        match &state.waker {
            Some(stored) if stored.will_wake(waker) => {}
            _ => _replaced = state.waker.replace(waker.clone()),
        }
        Poll::Pending
    }
}
