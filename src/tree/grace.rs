//! Graceful cancellation and deadlines: the timed half of a cancel.
//!
//! A graceful cancel is two signals. The *stop request* comes first: the
//! child's cancel receiver fires and its scope's
//! [`stop_requested`](crate::ScopedSpawner::stop_requested) resolves, but its
//! future keeps running. The *cancel* proper (the one of the crate docs' Guarantees, which
//! starts phase 2) comes when the future has not finished by the deadline:
//! timer entry of the child's scope fires it: one entry per deadline in the
//! scope's queue, and one driver task per scope serving all of them (see
//! `Timers` and `Driver`). Stop requests travel down the tree level by level (each task is woken
//! by its own, and passes it on to its children, with the same deadline,
//! when it is next polled); cancels travel
//! down in the usual phase order. So the whole subtree is asked to stop first,
//! and then terminated top-down, and every guarantee about the cancel holds
//! as before.
//!
//! Timers are tokio's (feature `tokio`). Without that feature a [`Deadline`]
//! cannot be made (it is an empty enum), every cancel is immediate, and the
//! types here compile to nothing.
//!
//! The whole timer protocol is in this file: the scope's queue of entries
//! (`Timers`, in `GraceState`), its driver task (`Driver`), and the tree's
//! side (below the re-exports): entries are armed ([`arm_locked`]) and fired
//! (`fire_locked`, from `Node::poll_timers` and `Node::timers_dropped`)
//! under the scope's node lock, the one lock they take (tree.rs, I2); the
//! driver task is spawned or woken, and the cancelled tasks are woken, after
//! it is released (I3).

#[cfg(feature = "tokio")]
pub(crate) use imp::*;
#[cfg(not(feature = "tokio"))]
pub(crate) use none::*;

// ---------------------------------------------------------------------------
// The tree's side: a scope's timer entries fire under the scope's lock, and
// are armed there (I3: the timer task is spawned or woken after it).

#[cfg(feature = "tokio")]
use super::{cancel_locked, close_locked, Close, How};
use super::{Children, Node, Wakeups};
use crate::loom::Arc;

#[cfg(feature = "tokio")]
impl Node {
    /// The scope's timer task (`Driver`, below) is polled at `now`:
    /// fires every entry that is due, in one critical section, then returns
    /// the deadline of the next one (with `waker` stored, to be woken if an
    /// earlier one is armed), or `None` if none is left and the task ends.
    /// The cancelled tasks are woken after the lock is released (I3).
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_timers(
        this: &Arc<Self>,
        now: tokio::time::Instant,
        waker: &std::task::Waker,
    ) -> Option<tokio::time::Instant> {
        let mut wakeups = Wakeups::default();
        let mut guard = this.children.lock();
        let children = &mut *guard;
        while let Some(action) = children.grace.pop_due(Some(now)) {
            fire_locked(this, children, action, &mut wakeups);
        }
        let (next, replaced) = children.grace.driver_sleep(waker);
        drop(guard);
        drop(replaced);
        wakeups.wake();
        next
    }

    /// The scope's timer task was dropped unfinished (its runtime shut
    /// down): every entry fires now, rather than never.
    #[cfg(feature = "tokio")]
    pub(crate) fn timers_dropped(this: &Arc<Self>) {
        let mut wakeups = Wakeups::default();
        let mut guard = this.children.lock();
        let children = &mut *guard;
        let (was_driver, stale) = children.grace.driver_gone();
        if was_driver {
            while let Some(action) = children.grace.pop_due(None) {
                fire_locked(this, children, action, &mut wakeups);
            }
        }
        drop(guard);
        drop(stale);
        wakeups.wake();
    }
}

/// Arms a timer entry that runs `action` at `deadline`: the
/// scope's timer task is spawned, or woken to sleep less, after the lock
/// (I3).
pub(super) fn arm_locked(
    node: &Arc<Node>,
    children: &mut Children,
    deadline: Deadline,
    action: Action,
    wakeups: &mut Wakeups,
) {
    let waker = children
        .grace
        .arm(deadline, action, node, &mut wakeups.later);
    wakeups.extend(waker);
}

/// Runs a timer entry's action under the lock: the cancel proper of a
/// graceful cancel, a deadline's cancel, or the end of a graceful close.
#[cfg(feature = "tokio")]
pub(super) fn fire_locked(
    node: &Arc<Node>,
    children: &mut Children,
    action: Action,
    wakeups: &mut Wakeups,
) {
    match action {
        Action::CloseNow => close_locked(node, children, Close::Now, wakeups),
        // The end of a grace period: the slot is asked to stop, and its
        // cancel keeps the stop request's `By`.
        Action::CancelNow(key) => {
            let how = How::Now(crate::cause::By::Handle);
            cancel_locked(node, children, key, how, wakeups);
        }
        Action::Expire(key) => cancel_locked(node, children, key, How::Expire, wakeups),
    }
}

/// What a timer entry does when its deadline passes (with or without the
/// `tokio` feature: without it no entry is ever armed).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Action {
    /// Cancel every child of the node (the end of a graceful close).
    CloseNow,
    /// Cancel the child in slot `key` (the end of its grace period).
    CancelNow(usize),
    /// Cancel the child in slot `key` as having missed its deadline.
    Expire(usize),
}

#[cfg(feature = "tokio")]
mod imp {
    use std::cmp::Reverse;
    use std::collections::hash_map::Entry;
    use std::collections::{BinaryHeap, HashMap};
    use std::future::Future;
    use std::hash::{BuildHasherDefault, Hasher};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use tokio::runtime::Handle;
    use tokio::time::{Instant, Sleep};
    use tokio_util::sync::CancellationToken;

    use super::Action;
    use crate::loom::Arc;
    use crate::tree::Node;
    use crate::TimerError;

    /// When a graceful cancel turns into a cancel, and the runtime whose
    /// timer measures it.
    #[derive(Clone, Debug)]
    pub(crate) struct Deadline {
        pub(crate) at: Instant,
        timer: Handle,
    }

    impl Deadline {
        /// `grace` from now, timed by `timer`.
        pub(crate) fn after(grace: Duration, timer: Handle) -> Self {
            let at = {
                let _entered = timer.enter();
                Instant::now()
            }
            .checked_add(grace)
            .unwrap_or_else(far_future);
            Self { at, timer }
        }

        /// `grace` from now, timed by `timer`, which is the current runtime
        /// (as [`current_timer`] returns it): no need to enter it to read
        /// its clock.
        pub(crate) fn after_current(grace: Duration, timer: Handle) -> Self {
            let at = Instant::now().checked_add(grace).unwrap_or_else(far_future);
            Self { at, timer }
        }

        /// At `at`, timed by `timer`.
        pub(crate) fn at(at: Instant, timer: Handle) -> Self {
            Self { at, timer }
        }

        /// The earlier of two optional deadlines.
        pub(crate) fn earliest(a: Option<Self>, b: Option<Self>) -> Option<Self> {
            match (a, b) {
                (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
                (a, b) => a.or(b),
            }
        }

        /// Whether the deadline has passed (by its runtime's clock).
        pub(crate) fn has_passed(&self) -> bool {
            let _entered = self.timer.enter();
            self.at <= Instant::now()
        }

        /// The time left until the deadline (by its runtime's clock), zero
        /// once it has passed.
        pub(crate) fn remaining(&self) -> Duration {
            let _entered = self.timer.enter();
            self.at.saturating_duration_since(Instant::now())
        }
    }

    /// About 30 years from now, as tokio itself saturates far deadlines.
    fn far_future() -> Instant {
        Instant::now() + Duration::from_secs(86_400 * 365 * 30)
    }

    /// The runtime that times a grace period or deadline set from here.
    ///
    /// # Errors
    ///
    /// Outside a tokio runtime, or on one without a time driver.
    pub(crate) fn current_timer() -> Result<Handle, TimerError> {
        let handle = Handle::try_current().map_err(|_| TimerError::NoRuntime)?;
        check_timer(handle)
    }

    /// `handle`, if its runtime has a time driver.
    ///
    /// tokio has no query for this; making a `Sleep` (which registers
    /// nothing until polled) panics without one, so the check catches that
    /// panic. Its message still reaches the panic hook: the user's mistake
    /// shows in the log as well as in the error.
    ///
    /// # Errors
    ///
    /// [`TimerError::NoTimeDriver`].
    pub(crate) fn check_timer(handle: Handle) -> Result<Handle, TimerError> {
        // The last runtime this thread found a time driver on: the check
        // (about 290 instructions) is made once per runtime and thread, not
        // per deadline. Runtime ids are never reused within a process.
        std::thread_local! {
            static TIMED: std::cell::Cell<Option<tokio::runtime::Id>> =
                const { std::cell::Cell::new(None) };
        }
        let id = handle.id();
        if TIMED.with(|timed| timed.get() == Some(id)) {
            return Ok(handle);
        }
        let made = {
            let _entered = handle.enter();
            catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO)))
        };
        match made {
            Ok(()) => {
                TIMED.with(|timed| timed.set(Some(id)));
                Ok(handle)
            }
            Err(panic) => {
                crate::task::drop_panic(panic);
                Err(TimerError::NoTimeDriver)
            }
        }
    }

    /// A scope's grace state, kept under its node's lock. Boxed on first
    /// use: most scopes never need one, and a node stays small.
    #[derive(Default)]
    pub(crate) struct GraceState(Option<Box<Grace>>);

    #[derive(Default)]
    struct Grace {
        /// The scope's own grace period for cancels of its children.
        period: Option<(Duration, Handle)>,
        /// The deadline by which the children will have been cancelled: set
        /// when the scope's owner was asked to stop (inherited), or when the
        /// scope was closed gracefully.
        children: Option<Deadline>,
        /// Deadlines of graceful cancels of one child, by slot key: the
        /// earliest for each (a later graceful cancel cannot extend it).
        /// A map, so that setting, reading and forgetting one child's
        /// deadline costs O(1) however many children have one (G9).
        slots: HashMap<usize, Deadline, BuildHasherDefault<KeyHasher>>,
        /// The scope's token, if one was asked for; cancelled on stop.
        token: Option<CancellationToken>,
        /// The scope's timer entries and its driver.
        timers: Timers,
    }

    impl GraceState {
        fn get(&self) -> Option<&Grace> {
            self.0.as_deref()
        }

        fn get_mut(&mut self) -> &mut Grace {
            self.0.get_or_insert_with(Box::default)
        }

        pub(crate) fn set_period(&mut self, period: Option<(Duration, Handle)>) {
            if period.is_some() || self.0.is_some() {
                self.get_mut().period = period;
            }
        }

        /// The deadline for a cancel of one child that names none: the
        /// scope's grace period from now, if it has one.
        #[inline]
        pub(crate) fn for_cancel(&self) -> Option<Deadline> {
            self.get()?
                .period
                .as_ref()
                .map(|(grace, timer)| Deadline::after(*grace, timer.clone()))
        }

        /// The deadline for closing the scope: the earliest of `given`, the
        /// inherited one and the grace period from now.
        #[inline]
        pub(crate) fn for_close(&self, given: Option<Deadline>) -> Option<Deadline> {
            if self.0.is_none() {
                return given;
            }
            let inherited = self.get().and_then(|grace| grace.children.clone());
            Deadline::earliest(Deadline::earliest(given, inherited), self.for_cancel())
        }

        /// Records the deadline that the children's stop requests carry.
        pub(crate) fn set_children(&mut self, deadline: Option<Deadline>) {
            if deadline.is_some() {
                let grace = self.get_mut();
                grace.children = Deadline::earliest(grace.children.take(), deadline);
            }
        }

        /// Records a graceful cancel's deadline for child `key`, keeping the
        /// earlier one if it has one already.
        pub(crate) fn set_slot(&mut self, key: usize, deadline: Deadline) {
            match self.get_mut().slots.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(deadline);
                }
                Entry::Occupied(mut entry) => {
                    if deadline.at < entry.get().at {
                        entry.insert(deadline);
                    }
                }
            }
        }

        /// The deadline a stop request of child `key` carries.
        #[inline]
        pub(crate) fn for_child(&self, key: usize) -> Option<Deadline> {
            let grace = self.get()?;
            let own = grace.slots.get(&key).cloned();
            Deadline::earliest(own, grace.children.clone())
        }

        /// The scope's token, made on first use.
        pub(crate) fn token(&mut self) -> CancellationToken {
            self.get_mut()
                .token
                .get_or_insert_with(CancellationToken::new)
                .clone()
        }

        /// The token, if one was made, to cancel once the lock is released.
        #[inline]
        pub(crate) fn take_token(&mut self) -> Option<CancellationToken> {
            self.0.as_mut().and_then(|grace| grace.token.clone())
        }
    }

    /// A scope's pending timer entries and the state of its one driver task
    /// (the timer protocol, see [`Driver`]). Kept under the node's lock, in
    /// the boxed grace state.
    ///
    /// Each target (a slot, or the whole scope for a graceful close) has at
    /// most one entry, its earliest: the first entry to fire for a target
    /// cancels it, so a later one could only find nothing left to do. The
    /// record of a target's entry (`slots`, `close`) is the truth; the heap
    /// orders entries by deadline and may hold stale ones (of targets that
    /// finished or got an earlier entry), skipped when they reach its top
    /// and swept out when they outnumber the live ones. An entry is removed
    /// when it fires, when its slot sends its done signal (`forget_slot`,
    /// before the slot can be removed: no entry names a reused key, I5) or,
    /// for the close, when the scope drains. Arming costs O(log n) (O(1) for
    /// deadlines that come in order, as equal timeouts do), removing O(1)
    /// amortised (G9); neither allocates per entry.
    #[derive(Default)]
    struct Timers {
        /// Entries by deadline: `(at, seq, target)`, `seq` unique and in
        /// arming order, `target` a slot key or [`CLOSE`].
        queue: BinaryHeap<Reverse<(Instant, u64, usize)>>,
        /// Each slot's entry: its deadline, `seq` and whether it expires the
        /// task (a deadline) or cancels it (a grace period's end).
        slots: HashMap<usize, (Instant, u64, bool), BuildHasherDefault<KeyHasher>>,
        /// The close entry's deadline and `seq`.
        close: Option<(Instant, u64)>,
        seq: u64,
        /// A driver task exists (or is about to be spawned): set when the
        /// first entry is armed, cleared by the driver itself when it finds
        /// no entry left, or when it is dropped unfinished.
        driver: bool,
        /// The driver's waker, stored by its last poll.
        waker: Option<Waker>,
        /// The deadline the driver sleeps until; `None` while it will read
        /// the queue again before sleeping (not yet polled, or woken).
        until: Option<Instant>,
    }

    /// The target of a whole-scope (close) entry.
    const CLOSE: usize = usize::MAX;

    /// A hasher for slot keys (small integers, not chosen by users): one
    /// multiplication, where the default `SipHash` costs a hundred
    /// instructions per lookup.
    #[derive(Default)]
    struct KeyHasher(u64);

    impl Hasher for KeyHasher {
        fn finish(&self) -> u64 {
            self.0
        }

        fn write(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(K);
            }
        }

        fn write_usize(&mut self, key: usize) {
            self.0 = (key as u64).wrapping_mul(K);
        }
    }

    /// 2^64 / the golden ratio (Fibonacci hashing).
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    impl Timers {
        fn live(&self) -> usize {
            self.slots.len() + usize::from(self.close.is_some())
        }

        /// Whether heap entry `(at, seq, target)` is its target's entry.
        fn is_live(&self, &(_, seq, target): &(Instant, u64, usize)) -> bool {
            if target == CLOSE {
                self.close.is_some_and(|(_, s)| s == seq)
            } else {
                self.slots.get(&target).is_some_and(|&(_, s, _)| s == seq)
            }
        }

        /// A target's entry was dropped from its record. If none is left,
        /// the heap is cleared and the driver's waker returned, to wake
        /// after the lock: the driver then ends rather than sleep until a
        /// deadline that is gone. If stale entries outnumber live ones, they
        /// are swept out (O(n), after n removals: O(1) amortised).
        fn removed(&mut self) -> Option<Waker> {
            let live = self.live();
            if live == 0 {
                self.queue.clear();
                self.until = None;
                return self.waker.take();
            }
            if self.queue.len() > 2 * live + 32 {
                let mut queue = std::mem::take(&mut self.queue).into_vec();
                queue.retain(|Reverse(entry)| self.is_live(entry));
                self.queue = BinaryHeap::from(queue);
            }
            None
        }

        /// Drops stale entries from the top of the heap; the earliest live
        /// entry's deadline.
        fn earliest(&mut self) -> Option<Instant> {
            while let Some(Reverse(top)) = self.queue.peek() {
                if self.is_live(top) {
                    return Some(top.0);
                }
                self.queue.pop();
            }
            None
        }
    }

    impl GraceState {
        /// Arms a timer entry that runs `action` at `deadline`, unless its
        /// target has an earlier one. Spawns the scope's driver (through
        /// `later`, after the lock) if it has none; returns the driver's
        /// waker if it must wake earlier than it sleeps, to wake after the
        /// lock (I3).
        pub(crate) fn arm(
            &mut self,
            deadline: Deadline,
            action: Action,
            node: &Arc<Node>,
            later: &mut Later,
        ) -> Option<Waker> {
            let timers = &mut self.get_mut().timers;
            let at = deadline.at;
            let seq = timers.seq;
            let target = match action {
                Action::CloseNow => {
                    if timers.close.is_some_and(|(old, _)| old <= at) {
                        return None;
                    }
                    timers.close = Some((at, seq));
                    CLOSE
                }
                Action::CancelNow(key) | Action::Expire(key) => {
                    let expire = matches!(action, Action::Expire(_));
                    match timers.slots.entry(key) {
                        Entry::Occupied(mut entry) => {
                            if entry.get().0 <= at {
                                return None;
                            }
                            // The old heap entry is stale from now on.
                            entry.insert((at, seq, expire));
                        }
                        Entry::Vacant(entry) => {
                            entry.insert((at, seq, expire));
                        }
                    }
                    key
                }
            };
            timers.seq += 1;
            timers.queue.push(Reverse((at, seq, target)));
            if !timers.driver {
                timers.driver = true;
                timers.until = None;
                later.inner().drivers.push((deadline.timer, node.clone()));
                None
            } else if timers.until.is_some_and(|until| at < until) {
                timers.until = None;
                timers.waker.take()
            } else {
                None
            }
        }

        /// Forgets the deadlines and the timer entry of slot `key` (its task
        /// is done). Returns the driver's waker if no entry is left.
        #[inline]
        pub(crate) fn forget_slot(&mut self, key: usize) -> Option<Waker> {
            let grace = self.0.as_mut()?;
            if !grace.slots.is_empty() {
                grace.slots.remove(&key);
            }
            if grace.timers.slots.is_empty() {
                return None;
            }
            grace.timers.slots.remove(&key)?;
            grace.timers.removed()
        }

        /// Forgets the close entry (the scope drained). Returns the driver's
        /// waker if no entry is left.
        #[inline]
        pub(crate) fn forget_close(&mut self) -> Option<Waker> {
            let grace = self.0.as_mut()?;
            grace.timers.close.take()?;
            grace.timers.removed()
        }

        /// Takes the earliest entry due at `now` (any entry if `now` is
        /// `None`: the driver is gone), forgetting its target's record.
        pub(crate) fn pop_due(&mut self, now: Option<Instant>) -> Option<Action> {
            let timers = &mut self.0.as_mut()?.timers;
            let at = timers.earliest()?;
            if now.is_some_and(|now| at > now) {
                return None;
            }
            let Reverse((_, _, target)) = timers.queue.pop()?;
            if target == CLOSE {
                timers.close = None;
                return Some(Action::CloseNow);
            }
            let (_, _, expire) = timers.slots.remove(&target)?;
            Some(if expire {
                Action::Expire(target)
            } else {
                Action::CancelNow(target)
            })
        }

        /// The driver, after firing what was due, goes to sleep until the
        /// earliest entry (returned), with `waker` stored to be woken if an
        /// earlier one is armed; or ends (`None`) if there is none. The
        /// second value is a waker to drop after the lock (I3).
        pub(crate) fn driver_sleep(&mut self, waker: &Waker) -> (Option<Instant>, Option<Waker>) {
            let Some(grace) = self.0.as_mut() else {
                return (None, None);
            };
            let timers = &mut grace.timers;
            match timers.earliest() {
                None => {
                    timers.driver = false;
                    timers.until = None;
                    (None, timers.waker.take())
                }
                Some(at) => {
                    timers.until = Some(at);
                    let old = match &timers.waker {
                        Some(stored) if stored.will_wake(waker) => None,
                        _ => timers.waker.replace(waker.clone()),
                    };
                    (Some(at), old)
                }
            }
        }

        /// The driver was dropped unfinished: whether it was the scope's
        /// driver (then it no longer is, and every entry is to fire now).
        /// The second value is a waker to drop after the lock (I3).
        pub(crate) fn driver_gone(&mut self) -> (bool, Option<Waker>) {
            let Some(grace) = self.0.as_mut() else {
                return (false, None);
            };
            let timers = &mut grace.timers;
            let was = std::mem::take(&mut timers.driver);
            timers.until = None;
            (was, timers.waker.take())
        }
    }

    /// Drivers to spawn and tokens to cancel, collected under a node lock,
    /// to be dealt with after it is released (I3). Boxed on first use, so
    /// that the common wake-up carries one null pointer.
    #[derive(Default)]
    pub(crate) struct Later(Option<Box<LaterInner>>);

    #[derive(Default)]
    struct LaterInner {
        drivers: Vec<(Handle, Arc<Node>)>,
        tokens: Vec<CancellationToken>,
    }

    impl Later {
        fn inner(&mut self) -> &mut LaterInner {
            self.0.get_or_insert_with(Box::default)
        }

        pub(crate) fn cancel_token(&mut self, token: Option<CancellationToken>) {
            if let Some(token) = token {
                self.inner().tokens.push(token);
            }
        }

        #[inline]
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_none()
        }

        #[inline]
        pub(crate) fn append(&mut self, other: &mut Later) {
            if other.0.is_none() {
                return;
            }
            match (self.0.as_mut(), other.0.take()) {
                (_, None) => {}
                (None, Some(theirs)) => self.0 = Some(theirs),
                (Some(ours), Some(mut theirs)) => {
                    ours.drivers.append(&mut theirs.drivers);
                    ours.tokens.append(&mut theirs.tokens);
                }
            }
        }

        /// Spawns the drivers and cancels the tokens (no lock held).
        pub(crate) fn run(self) {
            let Some(inner) = self.0 else { return };
            for token in inner.tokens {
                token.cancel();
            }
            for (timer, node) in inner.drivers {
                // A runtime that has shut down drops the driver at once,
                // which fires its node's entries (`Drop for Driver`). The
                // join handle is dropped here, with no lock held.
                drop(timer.spawn(Driver {
                    node,
                    sleep: None,
                    finished: false,
                }));
            }
        }
    }

    /// A scope's one timer task: sleeps until the earliest entry of the
    /// node's [`Timers`], fires every entry that is due (`Node::poll_timers`,
    /// which holds the lock), and sleeps again, with its `Sleep` reset to
    /// the next one; it ends when no entry is left (it is woken for that).
    /// It holds the node, not the other way round: the node holds only its
    /// waker, taken when the queue empties, so no cycle outlives the entries.
    ///
    /// If its `Sleep` cannot be made, or it is dropped unfinished (its
    /// runtime shut down), every entry fires at once: a grace period may be
    /// cut short, but no task is left waiting for a cancel that never comes.
    struct Driver {
        node: Arc<Node>,
        sleep: Option<Pin<Box<Sleep>>>,
        /// It ended by finding the queue empty (`driver` already cleared).
        finished: bool,
    }

    impl Future for Driver {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let this = &mut *self;
            if this.finished {
                return Poll::Ready(());
            }
            loop {
                let Some(next) = Node::poll_timers(&this.node, Instant::now(), cx.waker()) else {
                    this.finished = true;
                    return Poll::Ready(());
                };
                let sleep = match this.sleep.as_mut() {
                    Some(sleep) => {
                        if sleep.deadline() != next {
                            sleep.as_mut().reset(next);
                        }
                        sleep
                    }
                    None => {
                        let made =
                            catch_unwind(AssertUnwindSafe(|| tokio::time::sleep_until(next)));
                        match made {
                            Ok(sleep) => this.sleep.insert(Box::pin(sleep)),
                            Err(panic) => {
                                // Unfinished: the drop fires every entry.
                                crate::task::drop_panic(panic);
                                return Poll::Ready(());
                            }
                        }
                    }
                };
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            if !self.finished {
                Node::timers_dropped(&self.node);
            }
        }
    }
}

#[cfg(not(feature = "tokio"))]
mod none {
    use super::Action;

    /// No deadline can be made without a timer: every cancel is immediate.
    #[derive(Clone, Debug)]
    pub(crate) enum Deadline {}

    impl Deadline {
        pub(crate) fn has_passed(&self) -> bool {
            match *self {}
        }

        pub(crate) fn remaining(&self) -> std::time::Duration {
            match *self {}
        }
    }

    #[derive(Default)]
    pub(crate) struct GraceState {}

    impl GraceState {
        pub(crate) fn for_cancel(&self) -> Option<Deadline> {
            None
        }

        pub(crate) fn for_close(&self, given: Option<Deadline>) -> Option<Deadline> {
            given
        }

        pub(crate) fn set_children(&mut self, _: Option<Deadline>) {}

        pub(crate) fn set_slot(&mut self, _: usize, deadline: Deadline) {
            match deadline {}
        }

        pub(crate) fn for_child(&self, _: usize) -> Option<Deadline> {
            None
        }

        pub(crate) fn forget_slot(&mut self, _: usize) -> Option<std::task::Waker> {
            None
        }

        pub(crate) fn forget_close(&mut self) -> Option<std::task::Waker> {
            None
        }

        pub(crate) fn arm(
            &mut self,
            deadline: Deadline,
            _: Action,
            _: &crate::loom::Arc<crate::tree::Node>,
            _: &mut Later,
        ) -> Option<std::task::Waker> {
            match deadline {}
        }
    }

    #[derive(Default)]
    pub(crate) struct Later;

    impl Later {
        pub(crate) fn is_empty(&self) -> bool {
            true
        }

        pub(crate) fn append(&mut self, _: &mut Later) {}

        pub(crate) fn run(self) {}
    }
}
