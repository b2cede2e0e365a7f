//! A scope's concurrency limit (issue 14; Go's `errgroup.SetLimit`):
//! at most `max` live children. A spawn at the limit fails at once with
//! `SpawnError::AtLimit`; `ScopedSpawner::reserve` waits for room instead,
//! and registers the child's slot in the same critical section that sees
//! the room, so that no other spawn can take it in between.
//!
//! # The waiters
//!
//! Each waiting `reserve` future has an entry (its waker and a generation)
//! in [`Limit::waiters`], queued in arrival order. A child's done signal
//! (`Link::done_with`) wakes the first entry, and removes it; a close of the
//! scope wakes all of them (they then fail with `Terminated`). A future
//! woken that goes without polling again would leave the room it was woken
//! for unused while others wait: its drop passes the wake on to the next
//! entry ([`Node::forget_room_waiter`]). The generation tells a future
//! whether its entry is still its own or was taken by a wake (a slab key is
//! reused). Every operation is O(1) amortised (G9), and a scope without a
//! limit holds one null pointer.
//!
//! # Invariant
//!
//! - **L1** A reserved place is a registered slot (counted in `live`) from
//!   the moment `reserve` resolves: it is used by a spawn, or ended with a
//!   done signal when dropped unused, and so it never outlives its scope
//!   unseen (the loom model `loom-tests/tests/limit.rs` races a reserve with
//!   a cancel of the scope and a child's end).

use std::collections::VecDeque;
use std::task::{Poll, Waker};

use slab::Slab;

use super::{Children, Link, Node, Wakeups};
use crate::error::SpawnError;
use crate::loom::Arc;

/// The limit of a scope and its waiting `reserve` futures; in the box of
/// the scope's foreign wakers (tree.rs, `Foreign`), made on the first
/// `set_limit`.
pub(crate) struct Limit {
    /// The most live children.
    pub(super) max: usize,
    /// Waiting futures: waker and generation.
    waiters: Slab<(Waker, u64)>,
    /// Their entries, in arrival order (an entry removed by its future's
    /// drop stays here until skipped).
    queue: VecDeque<(usize, u64)>,
    /// The next generation.
    next: u64,
}

/// A waiting `reserve` future's entry: its slab key and generation.
pub(crate) type Entry = (usize, u64);

impl Limit {
    /// Wakes the first waiter still waiting, removing its entry.
    pub(super) fn wake_one(&mut self, wakeups: &mut Wakeups) {
        while let Some((key, generation)) = self.queue.pop_front() {
            if self.waiters.get(key).is_some_and(|(_, g)| *g == generation) {
                let (waker, _) = self.waiters.remove(key);
                wakeups.push(waker);
                return;
            }
        }
    }

    /// Wakes every waiter (the scope closed, or its limit was lifted).
    pub(super) fn wake_all(&mut self, wakeups: &mut Wakeups) {
        self.queue.clear();
        for (waker, _) in self.waiters.drain() {
            wakeups.push(waker);
        }
    }
}

/// Why a spawn into a gated scope (`Children::gated`) is refused: it is
/// closed, or at its limit; `None` if neither. Out of line: an open scope
/// without a limit never calls it.
#[cold]
#[inline(never)]
pub(super) fn refuse(children: &Children) -> Option<SpawnError> {
    if children.closed {
        return Some(SpawnError::Terminated);
    }
    let live = children.live;
    (children.foreign.limit())
        .is_some_and(|limit| live >= limit.max)
        .then_some(SpawnError::AtLimit)
}

impl Node {
    /// Sets the most live children of this scope (`None`: no limit).
    /// Waiters that the new limit makes room for are woken, after the lock
    /// (I3); a limit below the live count refuses spawns until enough
    /// children have ended, and ends none.
    pub(crate) fn set_limit(&self, max: Option<usize>) {
        let mut wakeups = Wakeups::default();
        let mut children = self.children.lock();
        let live = children.live;
        match (max, children.foreign.limit_mut()) {
            (Some(max), Some(limit)) => {
                let room = max.saturating_sub(live);
                limit.max = max;
                for _ in 0..room.min(limit.waiters.len()) {
                    limit.wake_one(&mut wakeups);
                }
            }
            (Some(max), None) => {
                // In `Foreign`'s box, which a scope with a limit keeps: its
                // done signals take the slow path (tree.rs, `Foreign`).
                let map = children.foreign.map.get_or_insert_with(Box::default);
                map.limit = Some(Limit {
                    max,
                    waiters: Slab::new(),
                    queue: VecDeque::new(),
                    next: 0,
                });
            }
            (None, Some(limit)) => limit.wake_all(&mut wakeups),
            (None, None) => {}
        }
        children.gated = children.closed || max.is_some();
        if max.is_none() {
            // Taken after the wake: the waiters find no limit and go on.
            let map = children.foreign.map.as_mut();
            let limit = map.and_then(|map| map.limit.take());
            drop(children);
            drop(limit);
        } else {
            drop(children);
        }
        wakeups.wake();
    }

    /// The limit of this scope, if it has one.
    pub(crate) fn limit(&self) -> Option<usize> {
        (self.children.lock().foreign.limit()).map(|limit| limit.max)
    }

    /// A `reserve` future's poll: registers a slot for a child (one
    /// reference, the link's) if the scope has room, in the same critical
    /// section; otherwise stores `waker` in the future's own entry, made on
    /// the first pending poll and kept in `entry` (L1). `Terminated` once
    /// the scope is closed.
    pub(crate) fn poll_reserve(
        this: &Arc<Self>,
        entry: &mut Option<Entry>,
        waker: &Waker,
    ) -> Poll<Result<Link, SpawnError>> {
        // Declared before the guard so that a replaced waker drops after the
        // unlock (I3).
        let _replaced;
        let mut children = this.children.lock();
        if children.closed {
            // Entries were all taken by the close (`close_locked`).
            *entry = None;
            return Poll::Ready(Err(SpawnError::Terminated));
        }
        let live = children.live;
        let full = (children.foreign.limit()).is_some_and(|l| live >= l.max);
        if !full {
            if let (Some((key, generation)), Some(limit)) =
                (entry.take(), children.foreign.limit_mut())
            {
                // Room before a wake took the entry: it is given back.
                if limit
                    .waiters
                    .get(key)
                    .is_some_and(|(_, g)| *g == generation)
                {
                    _replaced = Some(limit.waiters.remove(key));
                }
            }
            return Poll::Ready(
                Node::register_locked(this, &mut children, 0).map(|key| Link {
                    node: this.clone(),
                    key,
                }),
            );
        }
        let Some(limit) = children.foreign.limit_mut() else {
            unreachable!("a full scope has a limit")
        };
        match *entry {
            Some((key, generation))
                if limit
                    .waiters
                    .get(key)
                    .is_some_and(|(_, g)| *g == generation) =>
            {
                let (stored, _) = &mut limit.waiters[key];
                if !stored.will_wake(waker) {
                    _replaced = Some((std::mem::replace(stored, waker.clone()), generation));
                }
            }
            _ => {
                // First wait, or woken without room left (another spawn
                // took it): queued again, at the back.
                let generation = limit.next;
                limit.next += 1;
                let key = limit.waiters.insert((waker.clone(), generation));
                limit.queue.push_back((key, generation));
                *entry = Some((key, generation));
            }
        }
        Poll::Pending
    }

    /// A reserved place goes unused (tree/limit.rs, L1): it was counted as
    /// spawned when reserved, and was never a child. Its done signal
    /// follows (`finish_chain`).
    pub(crate) fn unreserve(link: &Link) {
        link.node.children.lock().spawned -= 1;
    }

    /// A `reserve` future goes without its place: its entry is removed if
    /// it is still waiting; if a wake took it (room was made for it), the
    /// wake passes to the next waiter. Wakers are dropped and woken after
    /// the lock (I3).
    pub(crate) fn forget_room_waiter(&self, (key, generation): Entry) {
        let mut wakeups = Wakeups::default();
        let mut children = self.children.lock();
        let mut removed = None;
        if let Some(limit) = children.foreign.limit_mut() {
            if limit
                .waiters
                .get(key)
                .is_some_and(|(_, g)| *g == generation)
            {
                removed = Some(limit.waiters.remove(key));
            } else {
                limit.wake_one(&mut wakeups);
            }
        }
        drop(children);
        drop(removed);
        wakeups.wake();
    }
}
