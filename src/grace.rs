//! Graceful cancellation and deadlines: the timed half of a cancel.
//!
//! A graceful cancel is two signals. The *stop request* comes first: the
//! child's cancel receiver fires and its scope's
//! [`stop_requested`](crate::ScopedSpawner::stop_requested) resolves, but its
//! future keeps running. The *cancel* proper (the one of GUARANTEES.md, which
//! starts phase 2) comes when the future has not finished by the deadline:
//! a timer, armed here after the node lock is released (tree.rs, I3), fires
//! it. Stop requests travel down the tree level by level (each task is woken
//! by its own, and passes it on to its children, with the same deadline,
//! when it is next polled); cancels travel
//! down in the usual phase order. So the whole subtree is asked to stop first,
//! and then terminated top-down, and every guarantee about the cancel holds
//! as before.
//!
//! Timers are tokio's (feature `tokio`). Without that feature a [`Deadline`]
//! cannot be made (it is an empty enum), every cancel is immediate, and the
//! types here compile to nothing.

#[cfg(feature = "tokio")]
pub(crate) use imp::*;
#[cfg(not(feature = "tokio"))]
pub(crate) use none::*;

#[cfg(feature = "tokio")]
mod imp {
    use std::collections::hash_map::Entry;
    use std::collections::HashMap;
    use std::future::Future;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use tokio::runtime::Handle;
    use tokio::time::{Instant, Sleep};
    use tokio_util::sync::CancellationToken;

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
        let made = {
            let _entered = handle.enter();
            catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO)))
        };
        match made {
            Ok(()) => Ok(handle),
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
        slots: HashMap<usize, Deadline>,
        /// The scope's token, if one was asked for; cancelled on stop.
        token: Option<CancellationToken>,
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

        /// Forgets the deadline of slot `key` (its task is done).
        #[inline]
        pub(crate) fn forget_slot(&mut self, key: usize) {
            if let Some(grace) = self.0.as_mut() {
                if !grace.slots.is_empty() {
                    grace.slots.remove(&key);
                }
            }
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

    /// What a timer does when its deadline passes.
    #[derive(Clone, Copy, Debug)]
    pub(crate) enum Action {
        /// Cancel every child of the node (the end of a graceful close).
        CloseNow,
        /// Cancel the child in slot `key` (the end of its grace period). The
        /// timer holds a view of the slot (tree.rs, I5).
        CancelNow(usize),
        /// Cancel the child in slot `key` as having missed its deadline.
        Expire(usize),
    }

    /// Timers and tokens collected under a node lock, to be armed and
    /// cancelled after it is released (I3). Boxed on first use, so that
    /// the common wake-up carries one null pointer.
    #[derive(Default)]
    pub(crate) struct Later(Option<Box<LaterInner>>);

    #[derive(Default)]
    struct LaterInner {
        timers: Vec<(Deadline, Arc<Node>, Action)>,
        tokens: Vec<CancellationToken>,
    }

    impl Later {
        fn inner(&mut self) -> &mut LaterInner {
            self.0.get_or_insert_with(Box::default)
        }

        pub(crate) fn arm(&mut self, deadline: Deadline, node: Arc<Node>, action: Action) {
            self.inner().timers.push((deadline, node, action));
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
                    ours.timers.append(&mut theirs.timers);
                    ours.tokens.append(&mut theirs.tokens);
                }
            }
        }

        /// Arms the timers and cancels the tokens (no lock held).
        pub(crate) fn run(self) {
            let Some(inner) = self.0 else { return };
            for token in inner.tokens {
                token.cancel();
            }
            for (deadline, node, action) in inner.timers {
                arm(deadline, node, action);
            }
        }
    }

    /// Spawns the timer of `action` on its deadline's runtime. If the timer
    /// cannot be made (the runtime has no time driver, which `check_timer`
    /// ruled out when the deadline was set) or is dropped before
    /// it fires (the runtime shut down), the action runs at once: a grace
    /// period may be cut short, but no task is left waiting for a cancel
    /// that never comes.
    fn arm(deadline: Deadline, node: Arc<Node>, action: Action) {
        let mut timer = Timer {
            node: Some(node),
            action,
            sleep: None,
        };
        if deadline.has_passed() {
            timer.fire();
            return;
        }
        let made = {
            let _entered = deadline.timer.enter();
            catch_unwind(AssertUnwindSafe(|| tokio::time::sleep_until(deadline.at)))
        };
        match made {
            Ok(sleep) => {
                timer.sleep = Some(Box::pin(sleep));
                drop(deadline.timer.spawn(timer));
            }
            Err(panic) => {
                crate::task::drop_panic(panic);
                timer.fire();
            }
        }
    }

    /// The task that waits for a deadline. It ends early once there is
    /// nothing left to cancel.
    struct Timer {
        node: Option<Arc<Node>>,
        action: Action,
        sleep: Option<Pin<Box<Sleep>>>,
    }

    impl Timer {
        /// Runs the action (once).
        fn fire(&mut self) {
            if let Some(node) = self.node.take() {
                Node::timer_fired(&node, self.action);
            }
        }
    }

    impl Future for Timer {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let this = &mut *self;
            let Some(node) = this.node.as_ref() else {
                return Poll::Ready(());
            };
            if node.poll_timer_moot(this.action, cx.waker()) {
                // Nothing left to cancel: let go of the node (and the view).
                if let Some(node) = this.node.take() {
                    Node::timer_moot(&node, this.action);
                }
                return Poll::Ready(());
            }
            if let Some(sleep) = this.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            this.fire();
            Poll::Ready(())
        }
    }

    impl Drop for Timer {
        fn drop(&mut self) {
            // Dropped unfired (its runtime shut down): cancel now.
            self.fire();
        }
    }
}

#[cfg(not(feature = "tokio"))]
mod none {
    /// No deadline can be made without a timer: every cancel is immediate.
    #[derive(Clone, Debug)]
    pub(crate) enum Deadline {}

    impl Deadline {
        pub(crate) fn has_passed(&self) -> bool {
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

        pub(crate) fn forget_slot(&mut self, _: usize) {}
    }

    #[derive(Clone, Copy, Debug)]
    pub(crate) enum Action {
        CloseNow,
        CancelNow(usize),
        Expire(usize),
    }

    #[derive(Default)]
    pub(crate) struct Later;

    impl Later {
        pub(crate) fn arm(
            &mut self,
            deadline: Deadline,
            _: crate::loom::Arc<crate::tree::Node>,
            _: Action,
        ) {
            match deadline {}
        }

        pub(crate) fn is_empty(&self) -> bool {
            true
        }

        pub(crate) fn append(&mut self, _: &mut Later) {}

        pub(crate) fn run(self) {}
    }
}
