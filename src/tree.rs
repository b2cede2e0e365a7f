//! The task tree: one [`Node`] per scope, holding its children as slots.
//!
//! A *scope* is the set of children of one task (or of a root spawner). It
//! is an `Arc<Node>`; each child owns a [`Link`] (the scope's `Arc` plus its
//! slot key), and the signal types of the public API are thin views onto the
//! same slot. A leaf spawned with `spawn_future` has no node of its own: it is
//! only a slot in its parent. A slot is the child's one record: its waker,
//! its views and its [`State`] (running, asked to stop, cancelled, done),
//! 20 bytes in its scope's [`Slots`] (the submodule `slots`, tree/slots.rs:
//! paged struct-of-arrays storage; [`SlotMut`] is the view of one slot
//! that the transitions take).
//!
//! # Invariants
//!
//! Each names the guarantee it serves (G1–G10, stated once in the crate
//! docs, `src/lib.rs`, "Guarantees") and the loom model
//! (`loom-tests/tests/`) that checks it.
//!
//! - **I1** `closed`, the slot set and `live` change under the node's one
//!   lock; once `closed` is set no slot is ever added. A spawn that wins
//!   the lock before the close is counted in `live` and cancelled by the close;
//!   one that loses gets `SpawnError::Terminated`. Serves G5, G7, G8.
//!   Models: `g5_no_orphans.rs`, `g7_concurrent_spawners.rs`, `g8_root.rs`.
//! - **I2** At most one node lock is held at any time by library code: no
//!   function here takes a second node lock while holding one. This rules out
//!   lock-order deadlocks between parents and children and between siblings.
//!   The one nested lock is a handle's done cell (tree/done.rs, `Shared`: a
//!   typed handle off tokio, or of `spawn_try`; on tokio a handle takes
//!   its outcome from the `JoinHandle` and has none), taken
//!   inside its parent's node lock by `Link::done_with`; no code takes a node
//!   lock while holding a done cell's. Serves G3 (no deadlock stops a
//!   subtree's termination). Models: loom fails every model that deadlocks;
//!   `g3_cascade.rs` locks three levels of nodes, `scope_fail_vs_body.rs`
//!   takes the nested done cell.
//! - **I3** No waker is woken or dropped, no `done` callback runs, and no user
//!   future is polled or dropped while a node lock is held. Wakers are taken out
//!   under the lock and woken after it is released (see `Wakeups`; the slot
//!   transitions return the waker they take, `#[must_use]`). Serves G10.
//!   No loom model (a lock held across user code deadlocks in one thread,
//!   with no race to explore): checked by `tests/reentrancy.rs`.
//! - **I4** `live` counts the slots whose task has not yet sent its done
//!   signal (not [`State::Done`]). It reaches zero only through
//!   [`Link::done_with`], and whoever sees it reach zero takes the waiters and
//!   the orphan continuation. Serves G1, G2.
//!   Models: `g1_containment.rs`, `g2_upward_order.rs`, `g3_cascade.rs`.
//! - **I5** A slot is removed only when it is [`State::Done`] *and* no view
//!   (cancel sender, cancel receiver, done receiver) refers to it
//!   (`refs == 0`), so a key is never reused while anyone can still name it
//!   (no ABA: a stale view cannot cancel a later child). A timer entry
//!   (tree/grace.rs) names a slot without a view: it is removed when the slot's
//!   done signal unlinks it (`Link::done_with`), before the slot can go.
//!   Serves G3, G4. Models: `i5_no_key_reuse.rs`, `g4_exactly_once.rs`.
//! - **I6** A slot's [`State`] only moves forward (Running, Stopping,
//!   Cancelled, Done, skipping any), by the [`SlotMut`] transitions, under the
//!   node's lock; the task reads it there before every poll of its future and
//!   stores its waker under the same lock (or, with its waker unchanged,
//!   reads the count of I8 instead), so a cancel or a stop request either is
//!   seen by the next poll or wakes the waker stored before it.
//!   Serves G3, G4. Models: `g4_exactly_once.rs` (a cancel),
//!   `g3_stop_request.rs` (a stop request), `g3_cascade.rs`, `g8_root.rs`.
//! - **I7** Under fail-fast, the first reported failure is stored, the scope
//!   is closed and every live child is cancelled in the same critical section,
//!   and the waiters (the scope block, or the owner in phase 4) are woken after
//!   it; later failures stay with their own task handles. A scope block reads
//!   the failure only after `live` reached zero. Serves G1 for scopes.
//!   Model: `scope_fail_vs_body.rs`.
//! - **I8** `Node::unsettled` counts the linked slots that are `Stopping`
//!   or `Cancelled`; the [`SlotMut`] transitions change it, under the lock,
//!   before they take the slot's waker. A linked slot's state only moves
//!   forward (I6), so while the count is zero every linked slot is
//!   `Running` and still holds the waker its task stored: a task polled
//!   again with that same waker (its wrapper keeps a copy, task.rs) reads
//!   `Signal::Run` without the lock, and a cancel that races the poll
//!   raises the count and wakes that waker. Serves G3 (a cancel racing a
//!   repeated poll is never lost) and the cost of a poll. Model:
//!   `g3_repoll.rs`.
//!
//! # Lock order
//!
//! There is none to get wrong: by I2 a thread holds at most one node lock.
//! Phases that touch two nodes (a task closes its own scope, then signals its
//! parent) take the two locks one after the other.
//!
//! # Field ownership
//!
//! - `Children` is only touched under `Node::children`'s lock.
//! - `Children::slots` ([`Slots`]) holds one slot per child, by key: its
//!   waker and a 4-byte word of its [`State`] and reference count (a head
//!   of up to 1,024 slots that grows as a `Vec` does, then pages that never
//!   move). A slot is added by `Node::register` and removed by the
//!   release of its last reference (`slots::Entry::release`, I5).
//! - A slot's waker ([`SlotMut::waker`]) is written only by the task that
//!   owns the slot's `Link` (through `poll_signal`), and taken by the
//!   transition that asks it to stop, cancels it or unlinks it.
//! - A slot's state moves by the transitions of [`SlotMut`] only: `stop` and
//!   `cancel` by whoever cancels the child (a view, its scope's close or stop
//!   request, a timer entry), `unlink` by the owner of the slot's `Link`.
//! - A slot's reference count goes up by [`SlotMut::retain`] (a new view,
//!   `Node::retain`) and down by `slots::Entry::release` (a view dropped, or the
//!   `Link` in `Link::done_with`).
//! - `Children::orphan` is set only by the owner of the node's task, when the
//!   executor dropped that task before its termination finished; it is taken
//!   by whoever brings `live` to zero.
//! - `Children::foreign` holds, by slot key, the wakers of done receivers
//!   (`poll_done_release`), of typed handles whose task tokio dropped
//!   (`poll_done`), and of cancel receivers polled from another task than the
//!   slot's own (`poll_cancel_receiver`); a slot's wakers are taken
//!   by whoever cancels it, asks it to stop or sends its done signal, and all
//!   of them by a close or a stop request of the scope.
//! - `Children::stop_waiters` holds one entry per `StopRequested` future or
//!   token watcher waiting on the scope (stop.rs): made and updated by that
//!   future (`poll_stop`), removed by its drop (`forget_stop_waiter`), and
//!   all taken by `stop_locked` when the scope is asked to stop.
//! - `Node::handles` is used by root nodes only: the number of live
//!   `RemoteSpawner`s naming the root (G8).
//! - `Children::failure` is written by the first failing child of a
//!   fail-fast scope (`report_failure`) and taken by the node's owner after
//!   `live` reached zero: the scope block (scope.rs) or the owner task at the
//!   end of its phase 4 (task.rs), which then fails with it (I7).
//! - `Children::owner` is set when a task's scope is made and taken by the
//!   first `report_failure`, which cancels the owner, or by `retire` when the
//!   owner's termination no longer needs it. It holds no slot view:
//!   only a live child reports, and the owner's slot stays linked while any
//!   of its children is live (I4).
//!
//! # Lifecycle
//!
//! The six termination phases (crate docs, "Guarantees"), side by side: on the left
//! the wrapper future (`task::Phase`, task.rs) and the function doing each
//! step, on the right the task's slot in its parent ([`State`], moved by
//! the [`SlotMut`] transitions).
//!
//! ```text
//!  wrapper (task::Phase)                       slot (State)
//!
//!                                    Node::register ─▶ Running, or Stopping
//!                                                      if the scope was asked to stop
//!  Phase::Running: before each poll,   ◀─ Signal ─  Running | Stopping ─SlotMut::stop─▶ Stopping
//!    Node::peek_signal / poll_signal                  (cancel_locked with a grace
//!    read State::signal                               period; stop_children_locked,
//!    Signal::Stop: Node::request_stop                 from Running only)
//!      on its own scope; the future runs on         Running | Stopping ─SlotMut::cancel─▶
//!  1 ends: the future is Ready, or                    Cancelled { expired }
//!      Signal::Cancel                                 (cancel_locked, close_locked)
//!  2 Phase::Draining is set (drop_future)
//!  3 Node::close: its own scope's children
//!      ─▶ Cancelled, or Stopping then
//!      Cancelled at the deadline
//!  4 Node::poll_drained until `live == 0`
//!  5 run_callback (`done`)
//!  6 Link::done_with ─────────────────────────────▶ any but Done ─SlotMut::unlink─▶ Done { asked }
//!  Phase::Signalled (terminal)
//! ```
//!
//! A leaf (no scope) goes from 2 to 5 in the same poll. A done signal can
//! come in any state: a task that completes while asked to stop or
//! cancelled is `Done` all the same, and `asked` keeps what its views report
//! (`is_cancelled`, `is_stop_requested`).
//!
//! If the executor drops the wrapper before `Signalled`, the wrapper finishes
//! the phases it can at once (drop the future, cancel the children) and hands
//! the rest (`done`, the done signal) to its node as an *orphan continuation*,
//! which the last child to finish runs. Chains of such continuations are run
//! by the loop in [`run_orphans`], never by recursion (G9).

use std::any::Any;
use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::task::{Poll, Waker};

use slab::Slab;

use crate::cause::{By, CancelCause, Kind, ScopeCause};
use crate::dump::{Label, TaskId, TaskState};
use crate::error::SpawnError;
use crate::metrics::{Ends, ScopeMetrics};
use crate::trace::ScopeSpan;

use crate::loom::{Arc, AtomicBool, AtomicUsize, Mutex, Ordering};

mod slots;

use slots::{SlotMut, Slots};

pub(crate) mod grace;
pub(crate) mod limit;
pub(crate) mod locals;
use grace::{arm_locked, Action, Deadline, GraceState, Later};

mod done;
pub(crate) use done::{
    finish_chain, run_orphans, signal_done, signal_done_then, Link, Orphan, Shared,
};

/// How many polls took the lock-free path of [`Node::repoll_signal`]: the
/// loom models check that they explore it. A std atomic, outside loom's
/// view (it only observes).
#[cfg(loom)]
static LOOM_FAST_REPOLLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The number of polls, in this process, that read their signal without
/// their parent's lock (I8). For the loom models only.
#[cfg(loom)]
pub fn loom_fast_repolls() -> usize {
    LOOM_FAST_REPOLLS.load(std::sync::atomic::Ordering::Relaxed)
}

/// One scope: the children of one task or of a root spawner.
pub(crate) struct Node {
    children: Mutex<Children>,
    /// Whether this is a root scope (G8).
    root: bool,
    /// Live `RemoteSpawner` handles of a root node (see "Field ownership").
    handles: AtomicUsize,
    /// Set (under the lock, before any slot leaves `State::Running`) once
    /// any child of this node has been cancelled or asked to stop; lets a
    /// view skip the lock while none was (I6).
    any_cancelled: AtomicBool,
    /// The number of linked slots that are `Stopping` or `Cancelled` (I8):
    /// while it is zero, every linked slot is `Running`, and a task reads
    /// its signal without the lock.
    unsettled: Unsettled,
    /// How the children's futures ended (metrics.rs), counted by their
    /// wrappers at phase 2.
    pub(crate) ends: Ends,

    /// This scope's number, unique in the process: the first half of its
    /// children's `TaskId`s (dump.rs).
    pub(crate) id: u64,
    /// The span its children's spans are under (trace.rs; nothing without
    /// the `tracing` feature).
    pub(crate) span: ScopeSpan,
}

/// The next scope's number (`Node::id`). A std atomic, outside loom's view:
/// it orders nothing.
static NEXT_SCOPE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The count of linked slots asked to stop or cancelled (`Node::unsettled`,
/// I8). Written only under the node's lock, by the [`SlotMut`] transitions;
/// read without it.
#[derive(Default)]
struct Unsettled(AtomicUsize);

impl Unsettled {
    /// A slot left `State::Running` for `Stopping` or `Cancelled`. Under
    /// the lock, before the slot's waker is taken (I8).
    fn add(&self) {
        // One writer at a time (the lock): a load and a store, no RMW.
        // Release: a task that reads the new count sees the slot's state
        // through the lock it then takes.
        let n = self.0.load(Ordering::Relaxed);
        self.0.store(n + 1, Ordering::Release);
    }

    /// A `Stopping` or `Cancelled` slot sent its done signal. Under the lock.
    fn sub(&self) {
        let n = self.0.load(Ordering::Relaxed);
        self.0.store(n - 1, Ordering::Release);
    }

    /// Whether every linked slot is `Running`.
    fn is_zero(&self) -> bool {
        // Acquire: pairs with the Release stores above.
        self.0.load(Ordering::Acquire) == 0
    }
}

struct Children {
    /// Set once, when the owner terminates (phase 3) or the root shuts down.
    closed: bool,
    /// `closed`, or the scope has a limit: a spawn tests this one flag and
    /// looks further only when it is set (tree/limit.rs).
    gated: bool,
    /// The children's slots, by key ([`Slots`]: 20 bytes a slot).
    slots: Slots,
    /// The number of children ever registered (metrics.rs).
    spawned: u64,
    /// The id of the task whose scope this is (`Node::set_owner`); unlike
    /// `owner`, never taken.
    task: Option<TaskId>,
    /// Number of linked slots (I4).
    live: usize,
    /// Tasks waiting for `live == 0` or for a failure: the owner in phase 4,
    /// a scope block, `Shutdown` futures. Usually one, held inline.
    waiters: Wakeups,
    /// The owner's remaining termination, if its wrapper was dropped early.
    orphan: Option<Orphan>,
    /// Wakers of done receivers, and of cancel receivers polled from a task
    /// other than the one that owns the slot, by slot key. Boxed on first
    /// use.
    foreign: Foreign,
    /// Fail-fast: the first child failure cancels the scope (I7).
    fail_fast: bool,
    /// The first failure reported under fail-fast; taken by the node's owner
    /// (a scope block, or the task whose scope this is) once `live` is zero.
    failure: Option<Failure>,
    /// The scope has been asked to stop: its owner saw a stop request (a
    /// graceful cancel), or the scope closed. Only goes from false to true,
    /// with `cause`. (A flag of its own: a spawn reads it.)
    stop: bool,
    /// Why the scope was asked to stop or closed (cause.rs), which its
    /// children cancelled or asked to stop `By::Scope` read: set with
    /// `stop`, never changed or taken.
    cause: Option<ScopeCause>,
    /// Why the scope's own task (or block) was asked to stop or cancelled:
    /// set by its wrapper when it sees the request, before its future (or
    /// body) is dropped, from its own slot (task.rs, scope.rs); a cancel
    /// replaces a stop request's. What its spawner's `cancel_cause` reads.
    own: Option<CancelCause>,
    /// `StopRequested` futures (and token watchers) waiting for `stop`, one
    /// entry each (the future keeps its key). Boxed on first use.
    stop_waiters: StopWaiters,
    /// Grace periods, deadlines, the scope's timer entries and the state of
    /// its timer task, and its cancellation token (tree/grace.rs; empty without
    /// the `tokio` feature).
    grace: GraceState,
    /// What a task dump reads beyond the slots, by slot key: the names
    /// given at spawn and the children's own scopes (dump.rs).
    extras: Extras,
    /// The owner task's slot in its own parent, if this is a task's scope:
    /// a fail-fast failure cancels the owner too (I7). It holds no view of
    /// that slot: a failure is reported by a child that is still live, and
    /// the owner's slot stays linked until that child's done signal (I4, I5).
    owner: Option<(Arc<Node>, usize)>,
    /// A scope block's slot in its enclosing scope, for an error's path
    /// (`ancestry`) only: a block's failure is its body's to report, so
    /// nothing is cancelled through it (unlike `owner`). Taken by `retire`,
    /// as `owner` is (G9).
    up: Option<(Arc<Node>, usize)>,
}

/// A failure reported by a child to a fail-fast scope (I7).
pub(crate) enum Failure {
    /// The child's future panicked; the payload.
    Panic(Box<dyn Any + Send>),
    /// The child returned an error through `TryScope::spawn_try`; the boxed
    /// error.
    Error(Box<dyn Any + Send>),
}

impl Failure {
    /// The payload, whichever kind of failure it is.
    pub(crate) fn into_payload(self) -> Box<dyn Any + Send> {
        match self {
            Failure::Panic(payload) | Failure::Error(payload) => payload,
        }
    }
}

/// Where a child is in its life, as its slot records it: moved only by the
/// transitions of [`SlotMut`] (I6; the diagram under "Lifecycle" in the module
/// docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Nothing asked of the task yet.
    Running,
    /// Asked to stop (a graceful cancel's stop request, or its scope's): the
    /// task passes the request on to its own scope and runs on until the
    /// cancel, which a timer entry (tree/grace.rs) or the caller sends.
    /// `by`: how the request came (cause.rs); the cancel that ends the grace
    /// period keeps it.
    Stopping { by: By },
    /// Cancelled: the task's phase 1 ends at its next poll. `by`: how the
    /// cancel came (cause.rs); `By::Deadline` if by the task's deadline.
    Cancelled { by: By },
    /// The task has sent its done signal (phase 6): the slot is unlinked and
    /// no longer counted in `live` (I4). `asked` is what had been asked of
    /// the task by then, which its views go on reporting.
    Done { asked: Asked },
}

/// What had been asked of a task when it sent its done signal
/// ([`State::Done`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Asked {
    Nothing,
    Stop,
    Cancel(By),
}

impl State {
    /// Running or Stopping: still linked, not yet cancelled; a cancel, a
    /// stop request or a deadline applies.
    fn is_cancellable(self) -> bool {
        matches!(self, State::Running | State::Stopping { .. })
    }

    /// The done signal has not been sent yet (I4).
    fn is_linked(self) -> bool {
        !matches!(self, State::Done { .. })
    }

    /// Cancelled, before or after the done signal.
    fn is_cancelled(self) -> bool {
        matches!(
            self,
            State::Cancelled { .. }
                | State::Done {
                    asked: Asked::Cancel(_)
                }
        )
    }

    /// Asked to stop or cancelled, before or after the done signal.
    fn is_stop_requested(self) -> bool {
        !matches!(
            self,
            State::Running
                | State::Done {
                    asked: Asked::Nothing
                }
        )
    }

    /// How the cancel (or, `stop` too, the stop request) came, if there was
    /// one, before or after the done signal.
    fn by(self, stop: bool) -> Option<By> {
        match self {
            State::Cancelled { by }
            | State::Done {
                asked: Asked::Cancel(by),
            } => Some(by),
            State::Stopping { by } if stop => Some(by),
            _ => None,
        }
    }

    /// What the task finds before a poll (see [`Signal`]). `stop_seen`: it
    /// has already passed a stop request on.
    fn signal(self, stop_seen: bool) -> Signal {
        debug_assert!(self.is_linked(), "a task reads its slot while linked");
        match self {
            State::Cancelled { by } => Signal::Cancel { by },
            State::Stopping { .. } if !stop_seen => Signal::Stop,
            _ => Signal::Run,
        }
    }
}

/// The transitions of a slot's [`State`] (I6), on the view of one slot of
/// [`Slots`]. A new slot is Running, or Stopping if its scope was asked to
/// stop (`Node::register`).
impl SlotMut<'_> {
    /// Running or Stopping → Stopping: asks the task to stop (again, with a
    /// new deadline, if it was). Returns its waker, to be woken after the
    /// lock is released (I3, I6).
    #[must_use = "the task's waker must be woken after the lock is released (I3)"]
    #[inline]
    fn stop(&mut self, by: By, unsettled: &Unsettled) -> Option<Waker> {
        let by = match self.state() {
            State::Running => {
                unsettled.add();
                by
            }
            // Asked again: the first request's cause stays.
            State::Stopping { by } => by,
            state => unreachable!("stop in {state:?}"),
        };
        self.set_state(State::Stopping { by });
        self.take_waker()
    }

    /// Running or Stopping → Cancelled, `by` the given way; a task asked to
    /// stop keeps its stop request's, unless `by` is its own deadline.
    /// Returns its waker, to be woken after the lock is released (I3, I6).
    #[must_use = "the task's waker must be woken after the lock is released (I3)"]
    #[inline]
    fn cancel(&mut self, by: By, unsettled: &Unsettled) -> Option<Waker> {
        let by = match self.state() {
            State::Running => {
                unsettled.add();
                by
            }
            State::Stopping { by: stop } if by != By::Deadline => stop,
            State::Stopping { .. } => by,
            state => unreachable!("cancel in {state:?}"),
        };
        self.set_state(State::Cancelled { by });
        self.take_waker()
    }

    /// Running, Stopping or Cancelled → Done: the task's done signal (phase
    /// 6; I4), sent once (G4). Returns its stale waker, to be dropped after
    /// the lock is released (I3).
    #[must_use = "the stale waker must be dropped after the lock is released (I3)"]
    #[inline]
    fn unlink(&mut self, unsettled: &Unsettled) -> Option<Waker> {
        let state = self.state();
        debug_assert!(state.is_linked(), "a done signal is sent once (G4)");
        if state != State::Running {
            unsettled.sub();
        }
        let asked = match state {
            State::Running => Asked::Nothing,
            State::Stopping { .. } => Asked::Stop,
            State::Cancelled { by } => Asked::Cancel(by),
            State::Done { asked } => asked,
        };
        self.set_state(State::Done { asked });
        self.take_waker()
    }
}

/// What a task finds in its slot before a poll of its future. Small and
/// `Copy`: it is read before every poll.
#[derive(Clone, Copy)]
pub(crate) enum Signal {
    /// Run on.
    Run,
    /// Asked to stop, and not seen before: the task passes the request on
    /// to its own scope, with the deadline by which the cancel will follow
    /// ([`Node::stop_deadline`]), and runs on.
    Stop,
    /// Cancelled: phase 1 ends. `by`: how the cancel came (cause.rs).
    Cancel { by: By },
}

/// How a cancel of one child applies, and (`By`) how it came (cause.rs).
enum How {
    /// By the scope's grace period if it has one, else at once. A child that
    /// is already being cancelled gracefully keeps its own deadline.
    Default(By),
    /// Gracefully, with this deadline: from a handle.
    Grace(Deadline),
    /// At once. A child asked to stop keeps its stop request's `By`.
    Now(By),
    /// At once, as having missed its deadline.
    Expire,
    /// A stop request with no deadline and no timer: the cancel is left to
    /// the caller. Only the loom models use it (they cannot run a timer).
    #[cfg(loom)]
    StopOnly,
}

/// Wakers taken out under a lock, to be woken after it is released (I3).
///
/// Holds the first waker inline: most wake-ups (a cancel, the last child's
/// done signal) wake exactly one task, and should not allocate.
#[must_use = "wakers must be woken after the lock is released"]
#[derive(Default)]
pub(crate) struct Wakeups {
    first: Option<Waker>,
    rest: Vec<Waker>,
    /// Timer tasks to spawn and tokens to cancel (tree/grace.rs).
    later: Later,
}

impl Wakeups {
    fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    #[inline]
    fn extend(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            self.push(waker);
        }
    }

    /// Adds every waker of one slot's foreign list.
    fn push_all(&mut self, wakers: KeyWakers) {
        self.push(wakers.first);
        for waker in wakers.rest {
            self.push(waker);
        }
    }

    /// Adds `waker` unless one that wakes the same task is already in.
    fn push_unique(&mut self, waker: &Waker) {
        let known = self
            .first
            .iter()
            .chain(&self.rest)
            .any(|w| w.will_wake(waker));
        if !known {
            self.push(waker.clone());
        }
    }

    /// Moves every waker of `other` into `self`.
    fn append(&mut self, other: &mut Wakeups) {
        self.later.append(&mut other.later);
        self.extend(other.first.take());
        if self.rest.is_empty() {
            std::mem::swap(&mut self.rest, &mut other.rest);
        } else {
            self.rest.append(&mut other.rest);
        }
    }

    /// Wakes every waker, after the lock is released (I3).
    ///
    /// Waking can re-enter the tree: an executor that has shut down drops a
    /// task when its last waker goes, and the dropped task's termination wakes
    /// its own children, and so on down a chain. So only the outermost call on
    /// a thread wakes; nested calls queue their wakers for its loop (G9: no
    /// recursion as deep as the tree).
    #[inline]
    pub(crate) fn wake(self) {
        // `push` fills `first` before `rest`: with neither a waker nor
        // anything for later, there is nothing to do (the common case, kept
        // inline and cheap).
        if self.first.is_none() && self.later.is_empty() && self.rest.capacity() == 0 {
            // Nothing to wake and nothing allocated: skip the drop glue
            // (measured: about 25 instructions per call, several calls per
            // task). Forgetting owns nothing here, so it leaks nothing.
            std::mem::forget(self);
            return;
        }
        self.wake_slow();
    }

    #[inline(never)]
    fn wake_slow(mut self) {
        // Cancelling a token wakes its waiters; spawning a timer task may
        // drop it at once (its runtime shut down), which fires its entries
        // and wakes in turn: both after the lock (I3).
        let later = std::mem::take(&mut self.later);
        self.wake_wakers();
        if !later.is_empty() {
            later.run();
        }
    }

    fn wake_wakers(mut self) {
        if self.first.is_none() {
            return;
        }
        let nested = DEFERRED.with(|deferred| {
            let mut deferred = deferred.borrow_mut();
            match deferred.as_mut() {
                Some(queue) => {
                    queue.extend(self.first.take());
                    queue.append(&mut self.rest);
                    true
                }
                None => {
                    *deferred = Some(Vec::new());
                    false
                }
            }
        });
        if nested {
            return;
        }
        let _reset = ResetDeferred;
        if let Some(waker) = self.first {
            waker.wake();
        }
        let mut batch = self.rest;
        loop {
            for waker in batch {
                waker.wake();
            }
            batch = DEFERRED.with(|deferred| {
                deferred
                    .borrow_mut()
                    .as_mut()
                    .map(std::mem::take)
                    .unwrap_or_default()
            });
            if batch.is_empty() {
                break;
            }
        }
    }
}

crate::loom::thread_local! {
    // Not `const`: loom's `thread_local!` has no const form.
    #[allow(clippy::missing_const_for_thread_local)]
    /// `Some` while this thread runs the outermost `Wakeups::wake`: the
    /// wakers that nested calls queued for it.
    static DEFERRED: RefCell<Option<Vec<Waker>>> = RefCell::new(None);
}

/// Ends the outermost `Wakeups::wake`, also if a waker panics.
struct ResetDeferred;

impl Drop for ResetDeferred {
    fn drop(&mut self) {
        let rest = DEFERRED.with(|deferred| deferred.borrow_mut().take());
        drop(rest);
    }
}

impl Node {
    fn new(root: bool, span: ScopeSpan) -> Arc<Self> {
        Arc::new(Node {
            children: Mutex::new(Children {
                closed: false,
                gated: false,
                slots: Slots::new(),
                spawned: 0,
                task: None,
                live: 0,
                waiters: Wakeups::default(),
                orphan: None,
                foreign: Foreign::default(),
                fail_fast: false,
                failure: None,
                stop: false,
                cause: None,
                own: None,
                stop_waiters: StopWaiters::default(),
                grace: GraceState::default(),
                extras: Extras::default(),
                owner: None,
                up: None,
            }),
            root,
            handles: AtomicUsize::new(0),
            any_cancelled: AtomicBool::new(false),
            unsettled: Unsettled::default(),
            ends: Ends::default(),
            id: NEXT_SCOPE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            span,
        })
    }

    /// A root scope, with no task of its own and one handle.
    pub(crate) fn new_root() -> Arc<Self> {
        let node = Self::new(true, ScopeSpan::current());
        node.handles.store(1, Ordering::Relaxed);
        node
    }

    /// The scope of a block or of a `RemoteScope`: no owner task to cancel.
    pub(crate) fn new_task() -> Arc<Self> {
        Self::new(false, ScopeSpan::current())
    }

    /// The scope of the task behind `owner`, which a fail-fast failure
    /// cancels (see `Children::owner`).
    ///
    /// Made before the task's slot, so that `Node::register` records it
    /// for task dumps in the same critical section; [`set_owner`](Self::set_owner)
    /// then names the slot.
    pub(crate) fn new_owned() -> Arc<Self> {
        Self::new(false, ScopeSpan::unset())
    }

    /// Names the slot of the task whose scope this is (see `new_owned`).
    pub(crate) fn set_owner(&self, owner: &Link) {
        let mut children = self.children.lock();
        children.owner = Some((owner.node.clone(), owner.key));
        children.task = Some(TaskId::new(owner.node.id, owner.key));
    }

    /// Sets up the scope of a scope block: fail-fast or not, and the
    /// block's slot in its enclosing scope, if it has one, for error paths
    /// (`Children::up`); under one lock.
    pub(crate) fn set_block(&self, fail_fast: bool, block: Option<&Link>) {
        let mut children = self.children.lock();
        children.fail_fast = fail_fast;
        children.up = block.map(|block| (block.node.clone(), block.key));
    }

    /// The child in slot `key` and the tasks above it, nearest first: each
    /// task's id and name (`ScopedSpawner::named`; kept while a view of its
    /// slot is alive). The walk follows each scope's owner link (or a scope
    /// block's `up`), one lock at a time (I2), and ends at a root, an owner
    /// whose termination no longer needs the link (`retire`), or after `max`
    /// tasks.
    pub(crate) fn ancestry(
        this: &Arc<Self>,
        key: usize,
        max: usize,
    ) -> Vec<(TaskId, Option<String>)> {
        let mut path = Vec::new();
        let mut at = Some((this.clone(), key));
        while let Some((node, key)) = at.take() {
            if path.len() == max {
                break;
            }
            let children = node.children.lock();
            let name = (children.extras.peek(key))
                .and_then(|extra| extra.label.as_ref())
                .map(|label| label.name().to_owned());
            at = children.owner.clone().or_else(|| children.up.clone());
            drop(children);
            path.push((TaskId::new(node.id, key), name));
        }
        path
    }

    /// Why the task (or block) whose scope this is was asked to stop or
    /// cancelled, if it has seen either (`Children::own`).
    pub(crate) fn own_cause(&self) -> Option<CancelCause> {
        self.children.lock().own
    }

    /// The id of the task whose scope this is: `None` for a root, a scope
    /// block or a `RemoteScope`.
    pub(crate) fn task_id(&self) -> Option<TaskId> {
        self.children.lock().task
    }

    /// Records `scope` as the scope of the child behind `link`, for task
    /// dumps to walk down to (`Children::extras`): for a scope made after
    /// its slot (a `RemoteScope`'s). Kept until the child's done signal.
    pub(crate) fn link_scope(link: &Link, scope: &Arc<Node>) {
        let mut children = link.node.children.lock();
        children.extras.get(link.key).scope = Some(scope.clone());
    }

    /// What a task dump reads of this scope (dump.rs), under its lock
    /// once: whether it is closed, its live children, and each of them in
    /// key order with its state, label and scope. The scopes' `Arc`s are
    /// dropped by the caller, after the lock.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let children = self.children.lock();
        let mut tasks = Vec::with_capacity(children.live);
        children.slots.for_each_state(|key, state| {
            let state = match state {
                State::Running => TaskState::Running,
                State::Stopping { by } => TaskState::StopRequested {
                    cancel_in: children.grace.for_child(key).map(|at| at.remaining()),
                    cause: by.cause(children.cause.as_ref()),
                },
                State::Cancelled { by } => TaskState::Cancelled {
                    cause: by.cause(children.cause.as_ref()),
                },
                // Done: no longer in the tree, only named by views.
                State::Done { .. } => return,
            };
            let extra = children.extras.peek(key);
            tasks.push(SlotSnapshot {
                key,
                state,
                label: extra.and_then(|extra| extra.label.clone()),
                scope: extra.and_then(|extra| extra.scope.clone()),
            });
        });
        Snapshot {
            id: self.id,
            closed: children.closed,
            live: children.live,
            tasks,
        }
    }

    /// A new handle to a root node (G8). No-op for task nodes.
    pub(crate) fn retain_handle(&self) {
        if self.root {
            // Relaxed: the caller already holds a handle, so the count cannot
            // reach zero concurrently (the same argument as `Arc::clone`).
            self.handles.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops a handle to a root node; the last one closes it (G8).
    pub(crate) fn release_handle(this: &Arc<Self>) {
        // AcqRel: pairs with the other releases, so the thread that closes the
        // root sees everything the other handles did before letting go.
        if this.root && this.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            Node::close(this, ScopeCause::of(Kind::Shutdown)).wake();
        }
    }

    /// Adds a child slot and counts it as live; `views` extra references are
    /// taken for the signal views handed out with it (a cancel sender).
    ///
    /// # Errors
    /// `SpawnError::Terminated` if the scope is closed (I1, G5).
    pub(crate) fn register(this: &Arc<Self>, views: u32) -> Result<Link, SpawnError> {
        Self::register_then(this, views, |_, _| ())
    }

    /// As [`register`](Self::register), and keeps `extra` (a name, the
    /// child's scope) for task dumps until the child's done signal
    /// (`Children::extras`).
    ///
    /// # Errors
    /// As [`register`](Self::register).
    pub(crate) fn register_with(
        this: &Arc<Self>,
        views: u32,
        extra: Extra,
    ) -> Result<Link, SpawnError> {
        Self::register_then(this, views, |children, key| {
            *children.extras.get(key) = extra;
        })
    }

    /// `register`'s body, with `record` run on the new slot's key under the
    /// same lock: two copies, so that a plain spawn pays nothing for it.
    #[inline(always)]
    fn register_then(
        this: &Arc<Self>,
        views: u32,
        record: impl FnOnce(&mut Children, usize),
    ) -> Result<Link, SpawnError> {
        let mut children = this.children.lock();
        // Closed, or at the scope's limit (tree/limit.rs).
        if children.gated {
            if let Some(refused) = limit::refuse(&children) {
                return Err(refused);
            }
        }
        let key = Node::register_locked(this, &mut children, views)?;
        record(&mut children, key);
        drop(children);
        Ok(Link {
            node: this.clone(),
            key,
        })
    }

    /// Adds a child slot with `1 + views` references under the lock, unless
    /// the scope is out of keys; returns its key. The callers check first
    /// that the scope is open (and has room under its limit).
    #[inline(always)]
    fn register_locked(
        this: &Arc<Self>,
        children: &mut Children,
        views: u32,
    ) -> Result<usize, SpawnError> {
        debug_assert!(!children.closed, "registered into a closed scope");
        // Keys fit in 32 bits, so that a task stores its key in 4 bytes.
        if !children.slots.has_room() {
            return Err(SpawnError::TooManyChildren);
        }
        // A child of a scope that was asked to stop is asked at birth; the
        // `any_cancelled` flag is already set (`request_stop`).
        let state = if children.stop {
            this.unsettled.add();
            State::Stopping { by: By::Scope }
        } else {
            State::Running
        };
        let key = children.slots.insert(1 + views, state);
        children.live += 1;
        children.spawned += 1;
        Ok(key)
    }

    /// `views` more references to the slot of `link` (a reserved place
    /// being used: its spawn's views, tree/limit.rs).
    pub(crate) fn retain_views(link: &Link, views: u32) {
        if views > 0 {
            let mut children = link.node.children.lock();
            let mut slot = children.slots.get_mut(link.key);
            for _ in 0..views {
                slot.retain();
            }
        }
    }

    /// Whether slot `key` was cancelled, without registering a waker.
    pub(crate) fn is_cancelled(&self, key: usize) -> bool {
        self.read_state(key, State::is_cancelled)
    }

    /// Whether slot `key` was cancelled or asked to stop, without
    /// registering a waker.
    pub(crate) fn is_stop_requested(&self, key: usize) -> bool {
        self.read_state(key, State::is_stop_requested)
    }

    /// Reads the state of slot `key` under the lock; `false` without
    /// locking while no child of the scope was ever cancelled or asked to
    /// stop.
    fn read_state(&self, key: usize, read: impl FnOnce(State) -> bool) -> bool {
        // Acquire: pairs with the Release store in `mark_cancelling`; a cancel
        // that happened before this call has set the flag (I6).
        if !self.any_cancelled.load(Ordering::Acquire) {
            return false;
        }
        read(self.children.lock().slots.state(key))
    }

    /// The task's signal before its first poll, without registering a waker.
    /// `stop_seen`: the task has already passed on a stop request.
    pub(crate) fn peek_signal(&self, key: usize, stop_seen: bool) -> Signal {
        // No linked slot is stopping or cancelled, so this one (linked) is
        // running (I8).
        if self.unsettled.is_zero() {
            return Signal::Run;
        }
        self.children.lock().slots.state(key).signal(stop_seen)
    }

    /// The signal of a task polled again with the waker it stored in its
    /// slot at its last [`poll_signal`](Self::poll_signal) (the wrapper
    /// compares it with its copy, `task.rs`): `Run` without the lock while
    /// no linked slot is stopping or cancelled, since then the stored waker
    /// is still there for a cancel to wake (I8); otherwise `poll_signal`.
    #[inline]
    pub(crate) fn repoll_signal(&self, key: usize, waker: &Waker, stop_seen: bool) -> Signal {
        if self.unsettled.is_zero() {
            debug_assert!(!stop_seen, "a task that saw a stop request is stopping");
            #[cfg(loom)]
            LOOM_FAST_REPOLLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Signal::Run;
        }
        self.poll_signal(key, waker, stop_seen)
    }

    /// The task's signal; unless cancelled, stores `waker` as the task's
    /// waker under the same lock, so that a later cancel or stop request
    /// wakes it (I6).
    pub(crate) fn poll_signal(&self, key: usize, waker: &Waker, stop_seen: bool) -> Signal {
        // Declared before the guard so the replaced waker drops after the
        // unlock (I3).
        let _replaced;
        let mut children = self.children.lock();
        let mut slot = children.slots.get_mut(key);
        let signal = slot.state().signal(stop_seen);
        if !matches!(signal, Signal::Cancel { .. }) {
            let stored = slot.waker();
            match stored {
                Some(stored) if stored.will_wake(waker) => {}
                _ => _replaced = stored.replace(waker.clone()),
            }
        }
        signal
    }

    /// Sets `any_cancelled` before a slot leaves `State::Running` (I6).
    fn mark_cancelling(&self) {
        if !self.any_cancelled.load(Ordering::Relaxed) {
            self.any_cancelled.store(true, Ordering::Release);
        }
    }

    /// The cancel receiver's poll: ready once slot `key` is cancelled.
    pub(crate) fn poll_cancel_receiver(&self, key: usize, waker: &Waker) -> Poll<()> {
        let mut children = self.children.lock();
        let children = &mut *children;
        let mut slot = children.slots.get_mut(key);
        // Asked to stop, cancelled or done.
        if slot.state() != State::Running {
            return Poll::Ready(());
        }
        if slot.waker().as_ref().is_some_and(|w| w.will_wake(waker)) {
            // Polled from the owning task: the task's waker is woken on cancel.
            return Poll::Pending;
        }
        children.foreign.register(key, waker);
        Poll::Pending
    }

    /// The done receiver's poll: ready once the task of slot `key` has sent
    /// its done signal (`Link::done_with`, under this lock: G1), and then
    /// the receiver's view of the slot is released in the same critical
    /// section (I5: a receiver that resolved holds no view; its drop then
    /// takes no lock). Otherwise stores `waker` among the slot's foreign
    /// wakers, which that signal wakes (a cancel or stop request of the
    /// slot wakes them too, and the receiver registers again).
    pub(crate) fn poll_done_release(&self, key: usize, waker: &Waker) -> Poll<()> {
        let mut guard = self.children.lock();
        let children = &mut *guard;
        let slot = children.slots.get_mut(key);
        if slot.state().is_linked() {
            children.foreign.register(key, waker);
            return Poll::Pending;
        }
        let (freed, removed) = slot.release();
        let extra = children.extras.released(freed, key);
        drop(guard);
        drop(removed);
        drop(extra);
        Poll::Ready(())
    }

    /// [`poll_done_release`](Self::poll_done_release) that keeps the view:
    /// for a typed handle whose task's output will not come (tokio dropped
    /// the task), which waits for the done signal through its cancel
    /// sender's view and keeps that view until it is dropped.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_done(&self, key: usize, waker: &Waker) -> Poll<()> {
        let mut guard = self.children.lock();
        let children = &mut *guard;
        if children.slots.state(key).is_linked() {
            children.foreign.register(key, waker);
            return Poll::Pending;
        }
        Poll::Ready(())
    }

    /// Whether the task of slot `key` has sent its done signal.
    pub(crate) fn is_done(&self, key: usize) -> bool {
        !self.children.lock().slots.state(key).is_linked()
    }

    /// A new view of slot `key` (I5).
    pub(crate) fn retain(&self, key: usize) {
        self.children.lock().slots.get_mut(key).retain();
    }

    /// Cancels the task of slot `key`, if it has not yet finished (I6):
    /// gracefully if the scope has a grace period.
    pub(crate) fn cancel(this: &Arc<Self>, key: usize) {
        Self::cancel_how(this, key, How::Default(By::Handle));
    }

    /// Cancels the task of slot `key` gracefully: a stop request now, the
    /// cancel at `deadline` (tree/grace.rs).
    pub(crate) fn cancel_gracefully(this: &Arc<Self>, key: usize, deadline: Deadline) {
        Self::cancel_how(this, key, How::Grace(deadline));
    }

    /// Loom models only: a stop request for slot `key` without a timer
    /// (`now == false`), or the cancel at once (`now == true`).
    #[cfg(loom)]
    pub(crate) fn loom_stop(this: &Arc<Self>, key: usize, now: bool) {
        Self::cancel_how(
            this,
            key,
            if now {
                How::Now(By::Handle)
            } else {
                How::StopOnly
            },
        );
    }

    fn cancel_how(this: &Arc<Self>, key: usize, how: How) {
        let mut wakeups = Wakeups::default();
        let mut guard = this.children.lock();
        cancel_locked(this, &mut guard, key, how, &mut wakeups);
        drop(guard);
        wakeups.wake();
    }

    /// Cancels the task of slot `key` at `deadline`, as having missed it
    /// (at once if it has `passed`, which the caller read before the lock).
    /// A no-op for a task that has finished.
    pub(crate) fn set_deadline(this: &Arc<Self>, key: usize, deadline: Deadline, passed: bool) {
        let mut wakeups = Wakeups::default();
        let mut guard = this.children.lock();
        if guard.slots.state(key).is_cancellable() {
            if passed {
                cancel_locked(this, &mut guard, key, How::Expire, &mut wakeups);
            } else {
                arm_locked(
                    this,
                    &mut guard,
                    deadline,
                    Action::Expire(key),
                    &mut wakeups,
                );
            }
        }
        drop(guard);
        wakeups.wake();
    }

    /// Drops a view of slot `key`, cancelling the task first if `cancel`,
    /// in one critical section.
    pub(crate) fn release(this: &Arc<Self>, key: usize, cancel: bool) {
        let mut wakeups = Wakeups::default();
        let mut guard = this.children.lock();
        let children = &mut *guard;
        let mut slot = children.slots.get_mut(key);
        let state = slot.state();
        if cancel && state.is_cancellable() {
            // `cancel_locked`, with the state already read.
            let how = How::Default(By::Handle);
            cancel_live_locked(this, children, key, state, how, &mut wakeups);
            slot = children.slots.get_mut(key);
        }
        let (freed, removed) = slot.release();
        let extra = children.extras.released(freed, key);
        drop(guard);
        drop(removed);
        drop(extra);
        wakeups.wake();
    }

    /// Closes the scope and cancels every child (phase 3; I1, I6):
    /// gracefully if the scope has a grace period, or its owner was asked
    /// to stop with a deadline. Idempotent.
    pub(crate) fn close(this: &Arc<Self>, cause: ScopeCause) -> Wakeups {
        Self::close_how(this, Close::Default(None, cause))
    }

    /// `shutdown()`: closes the scope as [`close`](Self::close) does; on a
    /// scope closed already, escalates: the children are cancelled by the
    /// scope's own grace period from now if that comes before the deadline
    /// they have, and at once if the scope has none (the "second Ctrl-C").
    pub(crate) fn shutdown(this: &Arc<Self>) -> Wakeups {
        Self::close_how(this, Close::Shutdown)
    }

    /// Closes the scope, and cancels every child gracefully with `deadline`
    /// (or the scope's own, if earlier). On a scope closed already, an
    /// earlier deadline than the one its children have wins.
    pub(crate) fn close_gracefully(this: &Arc<Self>, deadline: Deadline) -> Wakeups {
        let cause = ScopeCause::of(Kind::Shutdown);
        Self::close_how(this, Close::Default(Some(deadline), cause))
    }

    fn close_how(this: &Arc<Self>, how: Close) -> Wakeups {
        let mut wakeups = Wakeups::default();
        let mut guard = this.children.lock();
        close_locked(this, &mut guard, how, &mut wakeups);
        drop(guard);
        wakeups
    }

    /// The deadline that the stop request of slot `key` carries (rare: read
    /// once, when the task first sees `Signal::Stop`).
    pub(crate) fn stop_deadline(&self, key: usize) -> Option<Deadline> {
        self.children.lock().grace.for_child(key)
    }

    /// The scope's owner was asked to stop (it saw `Signal::Stop`): the
    /// scope's stop waiters and token fire, and every child is asked to stop
    /// in turn, with the same deadline. No child is cancelled: the cancel
    /// comes down the tree in phase order when the deadline passes.
    pub(crate) fn request_stop(
        this: &Arc<Self>,
        deadline: Option<Deadline>,
        cause: ScopeCause,
    ) -> Wakeups {
        let mut wakeups = Wakeups::default();
        let mut guard = this.children.lock();
        let children = &mut *guard;
        if !children.stop {
            this.mark_cancelling();
            stop_locked(children, cause, &mut wakeups);
            children.grace.set_children(deadline);
            stop_children_locked(this, children, &mut wakeups);
            children.foreign.take(None, &mut wakeups);
        }
        drop(guard);
        wakeups
    }

    /// Ready once the scope has been asked to stop or has closed; otherwise
    /// stores `waker` to be woken then, in the caller's own waiter entry:
    /// `entry` is its key, made on the first pending poll (a re-poll replaces
    /// the waker in place) and cleared when ready. An entry still held when
    /// the caller goes is given back with [`forget_stop_waiter`](Self::forget_stop_waiter).
    pub(crate) fn poll_stop(&self, entry: &mut Option<usize>, waker: &Waker) -> Poll<()> {
        // Declared before the guard so the replaced waker drops after the
        // unlock (I3).
        let _replaced;
        let mut children = self.children.lock();
        if children.stop {
            // `stop_locked` took every entry.
            *entry = None;
            return Poll::Ready(());
        }
        let waiters = children.stop_waiters.0.get_or_insert_with(Box::default);
        match entry.and_then(|key| waiters.get_mut(key)) {
            Some(stored) => {
                if !stored.will_wake(waker) {
                    _replaced = std::mem::replace(stored, waker.clone());
                }
            }
            None => *entry = Some(waiters.insert(waker.clone())),
        }
        Poll::Pending
    }

    /// Removes the stop waiter entry `key` of a `StopRequested` future (or a
    /// token watcher) that goes before the scope is asked to stop; its waker
    /// is dropped after the lock is released (I3).
    pub(crate) fn forget_stop_waiter(&self, key: usize) {
        let mut children = self.children.lock();
        // After the stop, the entries were all taken and no new one is made:
        // the key names nothing.
        let removed = if children.stop {
            None
        } else {
            children
                .stop_waiters
                .0
                .as_mut()
                .and_then(|waiters| waiters.try_remove(key))
        };
        drop(children);
        drop(removed);
    }

    /// Whether the scope has been asked to stop or has closed.
    pub(crate) fn is_stopping(&self) -> bool {
        self.children.lock().stop
    }

    /// Why the scope's task was asked to stop or cancelled, as it saw
    /// (`Children::own`), else why the scope was asked to stop or closed
    /// (cause.rs). `None` while neither happened.
    pub(crate) fn cause(&self) -> Option<CancelCause> {
        let children = self.children.lock();
        (children.own).or(children.cause.and_then(|cause| cause.for_scope()))
    }

    /// The task of slot `key` saw a stop request: passes it on to its own
    /// scope `scope`, with the deadline by which its cancel follows and its
    /// cause, which the scope's children inherit. Cold, out of line: a
    /// task's poll and a scope block's only call it.
    #[cold]
    #[inline(never)]
    pub(crate) fn pass_stop(&self, key: usize, scope: &Arc<Node>) {
        let deadline = self.stop_deadline(key);
        let cause = self.cause_of(key, true);
        scope.children.lock().own = cause;
        Node::request_stop(scope, deadline, ScopeCause::passed_down(cause)).wake();
    }

    /// The task of slot `key` was cancelled (phase 1): records why in its
    /// own scope `scope`, before its future is dropped, for its spawner to
    /// read (`Children::own`); `Kind::Executor` if its slot says nothing
    /// (the executor dropped it). The slot is linked: the caller holds its
    /// link. Cold, out of line.
    #[cold]
    #[inline(never)]
    pub(crate) fn note_cancel(&self, key: usize, scope: &Node) {
        let cause = self.cause_of(key, false);
        let cause = cause.unwrap_or(CancelCause::new(Kind::Executor));
        scope.children.lock().own = Some(cause);
    }

    /// Phase 3 of a cancelled task (or block): closes its scope, whose
    /// children inherit the task's cause (`note_cancel`). Cold, out of line.
    #[cold]
    #[inline(never)]
    pub(crate) fn close_cancelled(scope: &Arc<Node>) {
        let own = scope.children.lock().own;
        Node::close(scope, ScopeCause::passed_down(own)).wake();
    }

    /// Why the task of slot `key` was cancelled (or, with `stop`, asked to
    /// stop), before or after its done signal: `None` if it was not.
    pub(crate) fn cause_of(&self, key: usize, stop: bool) -> Option<CancelCause> {
        let children = self.children.lock();
        let by = children.slots.state(key).by(stop)?;
        Some(by.cause(children.cause.as_ref()))
    }

    /// Sets the grace period of cancels of this scope's children.
    #[cfg(feature = "tokio")]
    pub(crate) fn set_grace_period(
        &self,
        period: Option<(std::time::Duration, tokio::runtime::Handle)>,
    ) {
        self.children.lock().grace.set_period(period);
    }

    /// A token cancelled when the scope is asked to stop or closes.
    #[cfg(feature = "tokio")]
    /// The same token on every call: one made after the stop is cancelled
    /// here, after the lock (I3), as the stop would have.
    pub(crate) fn token(&self) -> tokio_util::sync::CancellationToken {
        let mut children = self.children.lock();
        let token = children.grace.token();
        let stopped = children.stop;
        drop(children);
        if stopped {
            token.cancel();
        }
        token
    }

    /// Whether the scope has been closed and every child has sent its done
    /// signal.
    pub(crate) fn is_terminated(&self) -> bool {
        let children = self.children.lock();
        children.closed && children.live == 0
    }

    /// Makes the scope fail-fast: the first failure reported by a child
    /// closes it and cancels every child (I7).
    pub(crate) fn set_fail_fast(&self, fail_fast: bool) {
        self.children.lock().fail_fast = fail_fast;
    }

    /// A child reports a failure. Under fail-fast, the first one is kept,
    /// the scope closed, every child and the owner task cancelled and the
    /// waiters woken (I7); otherwise (or if a failure is already kept) it is
    /// handed back.
    ///
    /// `reporter`: the failing child's slot, if its future is still alive
    /// (a `spawn_try` child that returned its error): it is cancelled at
    /// once, not gracefully, as nothing is left for it to do.
    ///
    /// `failed`: the key of the child that failed (`None`: the scope
    /// block's own body), whose siblings are cancelled for it (cause.rs).
    pub(crate) fn report_failure(
        this: &Arc<Self>,
        failure: Failure,
        failed: Option<usize>,
        reporter: Option<usize>,
    ) -> Result<(), Failure> {
        let mut wakeups = Wakeups::default();
        let mut children = this.children.lock();
        if !children.fail_fast || children.failure.is_some() {
            return Err(failure);
        }
        let cause = ScopeCause::direct(match failed {
            Some(key) => CancelCause::sibling_failed(TaskId::new(this.id, key)),
            None => CancelCause::new(Kind::ParentEnded),
        });
        let close = Close::Default(None, cause);
        if this.root {
            // A root has no owner to report to: it shuts down, and the
            // failure stays with the child's own handle.
            close_locked(this, &mut children, close, &mut wakeups);
            drop(children);
            wakeups.wake();
            return Err(failure);
        }
        children.failure = Some(failure);
        close_locked(this, &mut children, close, &mut wakeups);
        if let Some(key) = reporter {
            let how = How::Now(By::Scope);
            cancel_locked(this, &mut children, key, how, &mut wakeups);
        }
        wakeups.append(&mut children.waiters);
        // The reporter is a live child, so the owner has not signalled done
        // and its slot is still linked (see `Children::owner`).
        let owner = children.owner.take();
        drop(children);
        wakeups.wake();
        // The owner's slot lives in another node: locked after this one is
        // released (I2).
        if let Some((node, key)) = owner {
            Node::cancel_how(&node, key, How::Default(By::ChildFailed));
        }
        Ok(())
    }

    /// Whether a failure has been kept (I7).
    pub(crate) fn has_failed(&self) -> bool {
        self.children.lock().failure.is_some()
    }

    /// Ends the node's service to its owner, once the owner's wait is over:
    /// takes the kept failure, if any (I7), and forgets the owner. Dropping
    /// the owner reference here, while the owner's own link still holds its
    /// parent, keeps a chain of nodes from being freed recursively (G9).
    pub(crate) fn retire(&self) -> Option<Failure> {
        let mut children = self.children.lock();
        let owner = children.owner.take();
        let up = children.up.take();
        let failure = children.failure.take();
        drop(children);
        drop((owner, up));
        failure
    }

    /// Whether a failure has been kept; if not, stores `waker` to be woken
    /// by one (I7).
    pub(crate) fn poll_failed(&self, waker: &Waker) -> bool {
        let mut children = self.children.lock();
        if children.failure.is_some() {
            return true;
        }
        children.waiters.push_unique(waker);
        false
    }

    /// Ready once every child has sent its done signal (phase 4); otherwise
    /// stores `waker` so that the last child's signal wakes it (I4). With
    /// `close`, the scope is closed in the same critical section that sees it
    /// drained, so no child can join after (I1).
    pub(crate) fn poll_drained(&self, waker: &Waker, close: bool) -> Poll<()> {
        let mut children = self.children.lock();
        if children.live == 0 {
            if close {
                close_drained(children);
            }
            return Poll::Ready(());
        }
        children.waiters.push_unique(waker);
        Poll::Pending
    }

    /// Hands the owner's remaining termination to the last child. Returns it
    /// back if no child is live, for the caller to run at once.
    pub(crate) fn adopt(&self, orphan: Orphan) -> Option<Orphan> {
        let mut children = self.children.lock();
        if children.live == 0 {
            return Some(orphan);
        }
        debug_assert!(children.orphan.is_none(), "a node has one owner");
        children.orphan = Some(orphan);
        None
    }

    /// Number of children that have not yet sent their done signal.
    pub(crate) fn live(&self) -> usize {
        self.children.lock().live
    }

    /// The scope's counts (metrics.rs).
    pub(crate) fn metrics(&self) -> ScopeMetrics {
        let (spawned, live, cause) = {
            let children = self.children.lock();
            (children.spawned, children.live, children.cause)
        };
        self.ends.read(spawned, live, cause.as_ref())
    }
}

// Debug builds (every test) check I8's count when a scope goes: by then
// every child has sent its done signal (each holds the node while linked),
// so no slot is stopping or cancelled. A count left above zero would only
// disable the lock-free poll; one below zero already panicked.
#[cfg(debug_assertions)]
impl Drop for Node {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            debug_assert!(self.unsettled.is_zero(), "I8: unsettled slots at drop");
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let children = self.children.lock();
        f.debug_struct("Node")
            .field("root", &self.root)
            .field("closed", &children.closed)
            .field("live", &children.live)
            .finish_non_exhaustive()
    }
}

/// How a scope is closed.
enum Close {
    /// By the scope's grace rules (its grace period, the deadline its owner
    /// was asked to stop with), or by the given deadline if earlier; for the
    /// given cause, unless the scope already has one.
    Default(Option<Deadline>, ScopeCause),
    /// `shutdown()`: as `Default(None)` on an open scope; on a closed one,
    /// the children are cancelled by the scope's grace period from now if
    /// that is earlier than the deadline they have, or at once.
    Shutdown,
    /// Every child cancelled at once (a graceful close's deadline passed).
    Now,
}

/// Cancels the task of slot `key` under the lock, if it is Running or
/// Stopping (I6). A finished child's slot (a handle dropped after its
/// result, the common case) costs one look at its state, inline, and
/// leaves the scope's `any_cancelled` fast path untouched.
#[inline]
fn cancel_locked(
    node: &Arc<Node>,
    children: &mut Children,
    key: usize,
    how: How,
    wakeups: &mut Wakeups,
) {
    let state = children.slots.state(key);
    if state.is_cancellable() {
        cancel_live_locked(node, children, key, state, how, wakeups);
    }
}

/// [`cancel_locked`] of a slot in `state`, Running or Stopping. A graceful
/// cancel asks the task to stop now, and arms a timer entry (tree/grace.rs; it
/// names the slot until the slot's done signal, I5) that cancels it at the
/// deadline. Out of line, so that `cancel_locked` inlines.
#[inline(never)]
fn cancel_live_locked(
    node: &Arc<Node>,
    children: &mut Children,
    key: usize,
    state: State,
    how: How,
    wakeups: &mut Wakeups,
) {
    let by = match how {
        How::Default(by) | How::Now(by) => by,
        How::Grace(_) => By::Handle,
        How::Expire => By::Deadline,
        #[cfg(loom)]
        How::StopOnly => By::Handle,
    };
    // `Some(timer)`: a stop request now, and (if `timer` is `Some`) the
    // cancel at its deadline; `None`: the cancel now.
    let stop: Option<Option<Deadline>> = match how {
        How::Default(_) if matches!(state, State::Stopping { .. }) => return,
        How::Default(_) => children.grace.for_cancel().map(Some),
        How::Grace(deadline) => Some(Some(deadline)),
        How::Now(_) | How::Expire => None,
        #[cfg(loom)]
        How::StopOnly => Some(None),
    };
    let stop = stop.filter(|timer| !timer.as_ref().is_some_and(Deadline::has_passed));
    node.mark_cancelling();
    let mut slot = children.slots.get_mut(key);
    match stop {
        Some(timer) => {
            wakeups.extend(slot.stop(by, &node.unsettled));
            if let Some(deadline) = timer {
                children.grace.set_slot(key, deadline.clone());
                arm_locked(node, children, deadline, Action::CancelNow(key), wakeups);
            }
        }
        None => wakeups.extend(slot.cancel(by, &node.unsettled)),
    }
    children.foreign.take(Some(key), wakeups);
}

/// Closes the scope and cancels every live child, under its lock (I1, I6):
/// at once, or gracefully (a stop request now, and a timer that cancels
/// them all at the deadline).
fn close_locked(node: &Arc<Node>, children: &mut Children, how: Close, wakeups: &mut Wakeups) {
    let cause = match how {
        Close::Default(_, cause) => cause,
        Close::Shutdown => ScopeCause::of(Kind::Shutdown),
        // Closed before, by a close that gave the cause.
        Close::Now => ScopeCause::ended(),
    };
    let deadline = match how {
        // Closed before, and no deadline given: nothing new to do.
        Close::Default(None, _) if children.closed => return,
        Close::Default(given, _) => children.grace.for_close(given),
        // Closed before: the scope's own grace period from now, or at once.
        // An earlier deadline the children have stays (set_children and
        // the timer keep the earliest).
        Close::Shutdown if children.closed => children.grace.for_cancel(),
        Close::Shutdown => children.grace.for_close(None),
        Close::Now => None,
    };
    node.mark_cancelling();
    children.closed = true;
    children.gated = true;
    stop_locked(children, cause, wakeups);
    if let Some(limit) = children.foreign.limit_mut() {
        // Waiting `reserve` futures fail now (tree/limit.rs).
        limit.wake_all(wakeups);
    }
    match deadline.filter(|deadline| !deadline.has_passed()) {
        Some(deadline) => {
            stop_children_locked(node, children, wakeups);
            children.grace.set_children(Some(deadline.clone()));
            if children.live > 0 {
                arm_locked(node, children, deadline, Action::CloseNow, wakeups);
            }
        }
        None => {
            children.slots.for_each_mut(|mut slot| {
                if slot.state().is_cancellable() {
                    wakeups.extend(slot.cancel(By::Scope, &node.unsettled));
                }
            });
        }
    }
    children.foreign.take(None, wakeups);
}

/// Closes a drained scope (a scope block's end): no child to cancel, but
/// its stop waiters and token fire. Out of line: tasks never take this path.
#[cold]
#[inline(never)]
fn close_drained(mut children: crate::loom::MutexGuard<'_, Children>) {
    children.closed = true;
    children.gated = true;
    let mut wakeups = Wakeups::default();
    stop_locked(&mut children, ScopeCause::ended(), &mut wakeups);
    drop(children);
    wakeups.wake();
}

/// Asks every live child that is not yet cancelled or asked to stop, under
/// the scope's lock: their wakers are taken to be woken after it (I3, I6).
fn stop_children_locked(node: &Node, children: &mut Children, wakeups: &mut Wakeups) {
    children.slots.for_each_mut(|mut slot| {
        if slot.state() == State::Running {
            wakeups.extend(slot.stop(By::Scope, &node.unsettled));
        }
    });
}

/// Marks the scope as asked to stop, for `cause` unless it was before,
/// under its lock: its stop waiters and its token fire after the lock is
/// released.
fn stop_locked(children: &mut Children, cause: ScopeCause, wakeups: &mut Wakeups) {
    if !children.stop {
        children.stop = true;
        children.cause = Some(cause);
        if let Some(waiters) = children.stop_waiters.0.as_mut() {
            for waker in waiters.drain() {
                wakeups.push(waker);
            }
        }
        #[cfg(feature = "tokio")]
        if let Some(token) = children.grace.take_token() {
            wakeups.later.cancel_token(Some(token));
        }
    }
}

/// The wakers waiting on a slot from outside its task (`Children::foreign`):
/// done receivers, and cancel receivers polled by another task. Keyed by
/// slot, so that registering a waker and taking a slot's wakers cost O(1)
/// whatever the number of slots with wakers (G9); the duplicate check scans
/// only the wakers of one slot, which are few. A slot's entry is taken when
/// its task is cancelled, asked to stop or done, and nothing registers on a
/// slot that is done, so no entry outlives its slot (I5: a key is not reused
/// while it has one).
///
/// The first waker is held inline: a scope joined one child at a time (a
/// loop of `.await`s on done receivers) has at most one waiting receiver at
/// once, and registers it without allocating. The rest go to a map, boxed on
/// first use: most scopes never have one, and the box (one pointer) keeps a
/// node small, where a `HashMap` inline would grow it by 24 bytes.
///
/// The box also holds what few scopes have (`Rare`): a concurrency limit
/// and its waiting `reserve` futures (tree/limit.rs), which wait for any
/// slot's done signal (a scope with a limit keeps the box, so that every
/// done signal takes the slow path and wakes one), and scope-local values
/// (tree/locals.rs). A scope with none of these pays one test.
#[derive(Default)]
struct Foreign {
    /// One slot's one waker: the slot key (below 2^32, `Node::register`)
    /// and the waker.
    one: Option<(u32, Waker)>,
    map: Option<Box<Rare>>,
}

/// The boxed part of [`Foreign`]: the wakers beyond the first, and what few
/// scopes have.
#[derive(Default)]
struct Rare {
    wakers: HashMap<usize, KeyWakers>,
    limit: Option<limit::Limit>,
    locals: locals::Locals,
}

/// The foreign wakers of one slot in `Foreign::map`: the first inline, the
/// rest (rare) in a `Vec` that allocates only when used.
struct KeyWakers {
    first: Waker,
    rest: Vec<Waker>,
}

impl Foreign {
    /// Stores `waker` for slot `key`, unless one that wakes the same task is
    /// already stored for it.
    fn register(&mut self, key: usize, waker: &Waker) {
        let short = key as u32;
        match &self.one {
            None if (self.map.as_ref()).is_none_or(|map| !map.wakers.contains_key(&key)) => {
                self.one = Some((short, waker.clone()));
                return;
            }
            Some((k, w)) if *k == short && w.will_wake(waker) => return,
            _ => {}
        }
        let map = &mut self.map.get_or_insert_with(Box::default).wakers;
        // A slot has its wakers in one place: the inline entry moves to the
        // map when its slot gets a second waker.
        if let Some((k, first)) = self.one.take_if(|(k, _)| *k == short) {
            map.insert(
                k as usize,
                KeyWakers {
                    first,
                    rest: Vec::new(),
                },
            );
        }
        match map.entry(key) {
            Entry::Vacant(entry) => {
                entry.insert(KeyWakers {
                    first: waker.clone(),
                    rest: Vec::new(),
                });
            }
            Entry::Occupied(mut entry) => {
                let wakers = entry.get_mut();
                let known =
                    wakers.first.will_wake(waker) || wakers.rest.iter().any(|w| w.will_wake(waker));
                if !known {
                    wakers.rest.push(waker.clone());
                }
            }
        }
    }

    /// Whether any waker is registered, or the map is kept for a scope
    /// with a limit (tree/limit.rs): a done signal then takes the slow path.
    #[inline]
    pub(super) fn is_set(&self) -> bool {
        self.one.is_some() || self.map.is_some()
    }

    /// The scope's limit, if it has one (tree/limit.rs).
    fn limit(&self) -> Option<&limit::Limit> {
        self.map.as_ref()?.limit.as_ref()
    }

    fn limit_mut(&mut self) -> Option<&mut limit::Limit> {
        self.map.as_mut()?.limit.as_mut()
    }

    /// The slot `key` is done (`Link::done_with`; the caller checked
    /// [`is_set`](Self::is_set)): its wakers, and in a scope with a limit
    /// one waiting `reserve`, into `wakeups`.
    #[inline(never)]
    pub(super) fn take_done(&mut self, key: usize, wakeups: &mut Wakeups) {
        self.take_key(key, wakeups);
        if let Some(limit) = self.limit_mut() {
            limit.wake_one(wakeups);
        }
    }

    /// Moves the wakers of slot `key` (or of every slot if `key` is `None`,
    /// once, when the scope closes or is asked to stop) into `wakeups`.
    #[inline]
    fn take(&mut self, key: Option<usize>, wakeups: &mut Wakeups) {
        // Inline: every done signal asks, and usually there is nothing.
        if self.one.is_some() || self.map.is_some() {
            self.take_slow(key, wakeups);
        }
    }

    #[inline(never)]
    fn take_slow(&mut self, key: Option<usize>, wakeups: &mut Wakeups) {
        match key {
            Some(key) => self.take_key(key, wakeups),
            None => {
                if let Some((_, waker)) = self.one.take() {
                    wakeups.push(waker);
                }
                if let Some(map) = self.map.as_mut() {
                    for (_, wakers) in map.wakers.drain() {
                        wakeups.push_all(wakers);
                    }
                }
            }
        }
    }

    /// The wakers of slot `key`, into `wakeups`.
    #[inline]
    fn take_key(&mut self, key: usize, wakeups: &mut Wakeups) {
        if let Some((_, waker)) = self.one.take_if(|(k, _)| *k as usize == key) {
            // A slot's wakers are in one place: none in the map.
            wakeups.push(waker);
            return;
        }
        if let Some(map) = self.map.as_mut() {
            if let Some(wakers) = map.wakers.remove(&key) {
                wakeups.push_all(wakers);
            }
        }
    }
}

/// What a task dump reads of a scope's children beyond their slots
/// (`Children::extras`), by slot key: names given at spawn
/// (`ScopedSpawner::named`) and the children's own scopes. An entry is
/// made by `Node::register` (or `Node::link_scope`) and emptied when the
/// slot is removed (`Extras::released`), before its key can be reused (I5):
/// while a view names the task (its handle), its name is still there for
/// the handle's error. A `Vec` indexed by key, grown to the highest key that had an
/// entry: no hashing on the done signal's path, and nothing allocated for a
/// scope of unnamed leaves.
#[derive(Default)]
struct Extras(Vec<Extra>);

/// One child's entry in [`Extras`], or what a spawn gives `Node::register`.
#[derive(Default)]
pub(crate) struct Extra {
    pub(crate) label: Option<Arc<Label>>,
    /// A strong reference: the child's scope also holds its parent (its
    /// owner link), and the cycle ends at the child's done signal, which
    /// empties this entry.
    pub(crate) scope: Option<Arc<Node>>,
}

impl Extras {
    /// Slot `key`'s entry, made if missing.
    fn get(&mut self, key: usize) -> &mut Extra {
        if key >= self.0.len() {
            self.0.resize_with(key + 1, Extra::default);
        }
        &mut self.0[key]
    }

    fn peek(&self, key: usize) -> Option<&Extra> {
        self.0.get(key)
    }

    /// Empties slot `key`'s entry if the slot was just removed (its last
    /// reference released); what it held is dropped by the caller after
    /// the lock (it may hold the last reference to the child's scope).
    #[inline]
    fn released(&mut self, freed: bool, key: usize) -> Option<Extra> {
        // Inline: every release asks, and most scopes have no entry.
        if !freed || self.0.is_empty() {
            return None;
        }
        self.released_slow(key)
    }

    #[inline(never)]
    fn released_slow(&mut self, key: usize) -> Option<Extra> {
        self.0.get_mut(key).map(std::mem::take)
    }
}

/// A scope as a task dump reads it ([`Node::snapshot`]).
pub(crate) struct Snapshot {
    pub(crate) id: u64,
    pub(crate) closed: bool,
    pub(crate) live: usize,
    pub(crate) tasks: Vec<SlotSnapshot>,
}

/// One linked child in a [`Snapshot`].
pub(crate) struct SlotSnapshot {
    pub(crate) key: usize,
    pub(crate) state: TaskState,
    pub(crate) label: Option<Arc<Label>>,
    pub(crate) scope: Option<Arc<Node>>,
}

/// The wakers of a scope's `StopRequested` futures and token watchers
/// (`Children::stop_waiters`): one slab entry per future, whose key the
/// future keeps, so that registering, re-registering and forgetting a waiter
/// cost O(1) however many wait on the scope (G9). Entries are added only
/// while the scope has not been asked to stop; `stop_locked` takes them all.
/// Boxed on first use, as `Foreign` is: a node stays small.
#[derive(Default)]
struct StopWaiters(Option<Box<Slab<Waker>>>);
