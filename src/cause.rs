//! Why a task was cancelled ([`CancelCause`]): recorded where the cancel is
//! decided, read by the task's handle ([`TaskError::cancel_cause`]), by the
//! task's own spawner ([`ScopedSpawner::cancel_cause`]), by a task dump and
//! by the metrics, and passed down the cascade to the task's children.
//!
//! A slot records only which of four ways the cancel came ([`By`], two bits
//! of its state word, tree/slots.rs): from a handle, by the task's own
//! deadline, from its scope, or from a fail-fast failure of its own child.
//! "From its scope" is spelled out once per scope, in the scope's node
//! ([`ScopeCause`]), for every child it cancels or asks to stop: a scope is
//! stopped once, for one cause, and its children share it.
//!
//! [`TaskError::cancel_cause`]: crate::TaskError::cancel_cause
//! [`ScopedSpawner::cancel_cause`]: crate::ScopedSpawner::cancel_cause

use std::fmt;

use crate::TaskId;

/// Why a task was cancelled (or asked to stop): its [`reason`](Self::reason),
/// and whether the cancel was [`inherited`](Self::is_inherited) from an
/// ancestor.
///
/// Read it from the task's handle ([`TaskError::cancel_cause`]), from
/// inside the task through its spawner ([`ScopedSpawner::cancel_cause`]),
/// in a task dump ([`TaskState`]) and, counted by reason, in a scope's
/// [`ScopeMetrics::cancelled_by`].
///
/// Causes travel down the cascade: when a task is cancelled, its children
/// are cancelled for the same reason, marked inherited, and so on down the
/// tree. A child whose parent's future simply returned is cancelled with
/// [`CancelReason::ParentEnded`] (not inherited); its own children inherit
/// that.
///
/// The first request that reaches a task decides its cause: a task asked to
/// stop gracefully keeps that cause when the cancel follows at the end of
/// its grace period. Only its own deadline overrides it (the task's error is
/// then [`is_deadline_exceeded`](crate::TaskError::is_deadline_exceeded)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tasktree::{CancelReason, ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let request = root.spawn_task_with(|request| async move {
///     let backend = request.spawn_task(std::future::pending::<()>()).unwrap();
///     let err = backend.await.unwrap_err();
///     err.cancel_cause().unwrap()
/// }).unwrap();
/// request.set_timeout(Duration::from_secs(1)).unwrap();
/// // The request's deadline passes; its backend call is cancelled with it...
/// let err = request.await.unwrap_err();
/// assert_eq!(err.cancel_cause().unwrap().reason(), CancelReason::Deadline);
/// # }
/// ```
///
/// The backend's own cause, seen from inside the request, would read
/// `Deadline`, inherited; the example in [`TaskError::cancel_cause`] shows
/// it.
///
/// [`TaskError::cancel_cause`]: crate::TaskError::cancel_cause
/// [`ScopedSpawner::cancel_cause`]: crate::ScopedSpawner::cancel_cause
/// [`TaskState`]: crate::TaskState
/// [`ScopeMetrics::cancelled_by`]: crate::ScopeMetrics::cancelled_by
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CancelCause {
    /// The failed sibling, for `Kind::SiblingFailed` (zeroes otherwise): a
    /// `TaskId`'s two halves, kept apart so that the cause is 16 bytes.
    scope: u64,
    slot: u32,
    kind: Kind,
    inherited: bool,
}

/// [`CancelReason`] without its data: one byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub(crate) enum Kind {
    Handle,
    Deadline,
    Shutdown,
    Token,
    ParentEnded,
    SiblingFailed,
    ChildFailed,
    Executor,
}

/// The number of [`Kind`]s (the metrics count each).
pub(crate) const KINDS: usize = 8;

/// What ended a task early ([`CancelCause::reason`]).
///
/// With the `serde` feature, it serialises in snake case: `"deadline"`,
/// `{"sibling_failed":{"scope":7,"slot":2}}`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum CancelReason {
    /// Its [`TaskHandle`](crate::TaskHandle) or
    /// [`CancelSender`](crate::CancelSender) cancelled it, or was dropped
    /// without being forgotten or detached.
    Handle,
    /// Its own deadline passed
    /// ([`TaskHandle::set_deadline`](crate::TaskHandle::set_deadline),
    /// [`set_timeout`](crate::TaskHandle::set_timeout)).
    Deadline,
    /// Its scope was shut down: [`ScopedSpawner::shutdown`](crate::ScopedSpawner::shutdown)
    /// (or `shutdown_with_grace`), or the last clone of a root spawner was
    /// dropped.
    Shutdown,
    /// The `CancellationToken` given to
    /// [`ScopedSpawner::cancel_on`](crate::ScopedSpawner::cancel_on) was
    /// cancelled.
    Token,
    /// The task it belongs to ended first: its parent's future returned or
    /// panicked (phase 3 cancels the children it left), or the scope block or
    /// `RemoteScope` that held it was dropped or failed.
    ParentEnded,
    /// A sibling failed in a fail-fast scope: the sibling's id.
    SiblingFailed(TaskId),
    /// A child of the task failed in the task's own fail-fast scope (the
    /// task's handle then reports that failure, not a cancel).
    ChildFailed,
    /// The executor dropped the task before it finished (a runtime shutting
    /// down drops its tasks).
    Executor,
}

impl CancelCause {
    pub(crate) const fn new(kind: Kind) -> Self {
        CancelCause {
            scope: 0,
            slot: 0,
            kind,
            inherited: false,
        }
    }

    /// A fail-fast sibling's failure: the failed task's id.
    pub(crate) fn sibling_failed(sibling: TaskId) -> Self {
        CancelCause {
            scope: sibling.scope(),
            // Slot keys are below 2^32 (`Node::register`).
            #[allow(clippy::cast_possible_truncation)]
            slot: sibling.slot() as u32,
            ..Self::new(Kind::SiblingFailed)
        }
    }

    pub(crate) fn kind(self) -> Kind {
        self.kind
    }

    /// What ended the task early.
    ///
    /// # Examples
    ///
    /// See [`CancelCause`].
    pub fn reason(&self) -> CancelReason {
        match self.kind {
            Kind::Handle => CancelReason::Handle,
            Kind::Deadline => CancelReason::Deadline,
            Kind::Shutdown => CancelReason::Shutdown,
            Kind::Token => CancelReason::Token,
            Kind::ParentEnded => CancelReason::ParentEnded,
            Kind::SiblingFailed => {
                CancelReason::SiblingFailed(TaskId::new(self.scope, self.slot as usize))
            }
            Kind::ChildFailed => CancelReason::ChildFailed,
            Kind::Executor => CancelReason::Executor,
        }
    }

    /// Whether the reason was an ancestor's: the task was cancelled because
    /// a task above it was (for that reason), not for a reason of its own.
    ///
    /// # Examples
    ///
    /// See [`TaskError::cancel_cause`](crate::TaskError::cancel_cause).
    pub fn is_inherited(&self) -> bool {
        self.inherited
    }
}

impl fmt::Debug for CancelCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelCause")
            .field("reason", &self.reason())
            .field("inherited", &self.inherited)
            .finish()
    }
}

impl fmt::Display for CancelCause {
    /// `its deadline passed`, or for an inherited cause `an ancestor's
    /// deadline passed`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// handle.cancel();
    /// let cause = handle.await.unwrap_err().cancel_cause().unwrap();
    /// assert_eq!(cause.to_string(), "its handle cancelled it");
    /// # }
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose = if self.inherited {
            "an ancestor's"
        } else {
            "its"
        };
        match self.reason() {
            CancelReason::Handle => write!(f, "{whose} handle cancelled it"),
            CancelReason::Deadline => write!(f, "{whose} deadline passed"),
            CancelReason::Shutdown => write!(f, "{whose} scope was shut down"),
            CancelReason::Token => write!(f, "{whose} scope's cancellation token fired"),
            CancelReason::ParentEnded if self.inherited => {
                f.write_str("an ancestor's parent ended first")
            }
            CancelReason::ParentEnded => f.write_str("its parent ended first"),
            CancelReason::SiblingFailed(id) if self.inherited => {
                write!(f, "task {id}, beside an ancestor, failed")
            }
            CancelReason::SiblingFailed(id) => write!(f, "its sibling {id} failed"),
            CancelReason::ChildFailed if self.inherited => {
                f.write_str("a child of an ancestor failed")
            }
            CancelReason::ChildFailed => f.write_str("a child of the task failed"),
            CancelReason::Executor if self.inherited => {
                f.write_str("the executor dropped an ancestor")
            }
            CancelReason::Executor => f.write_str("the executor dropped it"),
        }
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::{CancelCause, CancelReason, Kind};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// The serialised form: `{"reason": ..., "inherited": ...}`.
    #[derive(Serialize, Deserialize)]
    struct Form {
        reason: CancelReason,
        inherited: bool,
    }

    impl Serialize for CancelCause {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            Form {
                reason: self.reason(),
                inherited: self.inherited,
            }
            .serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for CancelCause {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let form = Form::deserialize(deserializer)?;
            let cause = match form.reason {
                CancelReason::Handle => CancelCause::new(Kind::Handle),
                CancelReason::Deadline => CancelCause::new(Kind::Deadline),
                CancelReason::Shutdown => CancelCause::new(Kind::Shutdown),
                CancelReason::Token => CancelCause::new(Kind::Token),
                CancelReason::ParentEnded => CancelCause::new(Kind::ParentEnded),
                CancelReason::SiblingFailed(id) => CancelCause::sibling_failed(id),
                CancelReason::ChildFailed => CancelCause::new(Kind::ChildFailed),
                CancelReason::Executor => CancelCause::new(Kind::Executor),
            };
            Ok(CancelCause {
                inherited: form.inherited,
                ..cause
            })
        }
    }
}

/// How a slot's cancel (or stop request) came, in two bits of its state
/// (tree/slots.rs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum By {
    /// Its handle or cancel sender.
    Handle,
    /// Its own deadline.
    Deadline,
    /// Its scope: the cause is the scope's ([`ScopeCause`]).
    Scope,
    /// A fail-fast failure in the task's own scope.
    ChildFailed,
}

impl By {
    pub(crate) const ALL: [By; 4] = [By::Handle, By::Deadline, By::Scope, By::ChildFailed];

    /// The cause a slot cancelled this way reads, given its scope's cause
    /// (`scope`; set whenever a slot is cancelled `By::Scope`).
    pub(crate) fn cause(self, scope: Option<&ScopeCause>) -> CancelCause {
        match self {
            By::Handle => CancelCause::new(Kind::Handle),
            By::Deadline => CancelCause::new(Kind::Deadline),
            By::ChildFailed => CancelCause::new(Kind::ChildFailed),
            By::Scope => match scope {
                Some(scope) => scope.for_children(),
                // Not reached: a scope's cause is set before it cancels or
                // stops any child `By::Scope`. A cause must still be given.
                None => CancelCause::new(Kind::ParentEnded),
            },
        }
    }
}

/// Why a scope was stopped or closed (the first time; it does not change
/// after): the cause its children read, and whether it came from the
/// scope's own task (then the children inherit it), or is the end of the
/// scope's task or block (then the scope itself was not stopped for any
/// reason: its spawner reads none). A [`CancelCause`]'s fields and the
/// flags, flat, in 16 bytes: a node holds one.
#[derive(Clone, Copy)]
pub(crate) struct ScopeCause {
    scope: u64,
    slot: u32,
    kind: Kind,
    inherited: bool,
    from_owner: bool,
    ended: bool,
}

impl ScopeCause {
    fn new(cause: CancelCause, from_owner: bool) -> Self {
        ScopeCause {
            scope: cause.scope,
            slot: cause.slot,
            kind: cause.kind,
            inherited: cause.inherited,
            from_owner,
            ended: false,
        }
    }

    /// The scope's task (or block, or `RemoteScope`) ended: its children are
    /// cancelled as their parent having ended; the scope itself reads no
    /// cause.
    pub(crate) fn ended() -> Self {
        ScopeCause {
            ended: true,
            ..Self::of(Kind::ParentEnded)
        }
    }

    /// The scope itself was closed for `cause` (a shutdown, a token, a
    /// failure, its task's end): its children's cause is their own.
    pub(crate) fn direct(cause: CancelCause) -> Self {
        Self::new(cause, false)
    }

    /// [`direct`](Self::direct), for a cause without data.
    pub(crate) fn of(kind: Kind) -> Self {
        Self::direct(CancelCause::new(kind))
    }

    /// The scope's task was cancelled or asked to stop with `cause`: its
    /// children inherit it.
    pub(crate) fn from_owner(cause: CancelCause) -> Self {
        Self::new(cause, true)
    }

    /// The scope's task was cancelled or asked to stop with `cause` (as read
    /// from its slot); `None`, which does not happen, as its parent ended.
    pub(crate) fn passed_down(cause: Option<CancelCause>) -> Self {
        Self::from_owner(cause.unwrap_or(CancelCause::new(Kind::ParentEnded)))
    }

    /// Why the scope was stopped, as its own spawner reads it: `None` for
    /// its task's end.
    pub(crate) fn for_scope(&self) -> Option<CancelCause> {
        (!self.ended).then(|| self.own())
    }

    /// The scope's own cause: its task's, or the scope's closing.
    pub(crate) fn own(&self) -> CancelCause {
        CancelCause {
            scope: self.scope,
            slot: self.slot,
            kind: self.kind,
            inherited: self.inherited,
        }
    }

    /// The cause its children are cancelled with.
    pub(crate) fn for_children(&self) -> CancelCause {
        CancelCause {
            inherited: self.inherited || self.from_owner,
            ..self.own()
        }
    }
}

/// Counts of cancelled tasks, by [`CancelReason`]
/// ([`ScopeMetrics::cancelled_by`](crate::ScopeMetrics::cancelled_by)).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
/// handle.cancel();
/// let _ = handle.await;
/// let by = root.metrics().cancelled_by;
/// assert_eq!((by.handle, by.deadline, by.shutdown), (1, 0, 0));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct CancelCounts {
    /// [`CancelReason::Handle`].
    pub handle: u64,
    /// [`CancelReason::Deadline`].
    pub deadline: u64,
    /// [`CancelReason::Shutdown`].
    pub shutdown: u64,
    /// [`CancelReason::Token`].
    pub token: u64,
    /// [`CancelReason::ParentEnded`].
    pub parent_ended: u64,
    /// [`CancelReason::SiblingFailed`].
    pub sibling_failed: u64,
    /// [`CancelReason::ChildFailed`].
    pub child_failed: u64,
    /// [`CancelReason::Executor`].
    pub executor: u64,
}

impl CancelCounts {
    pub(crate) fn from_array(counts: [u64; KINDS]) -> Self {
        let [handle, deadline, shutdown, token, parent_ended, sibling_failed, child_failed, executor] =
            counts;
        CancelCounts {
            handle,
            deadline,
            shutdown,
            token,
            parent_ended,
            sibling_failed,
            child_failed,
            executor,
        }
    }

    /// The total over every reason.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let by_handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// let by_shutdown = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// by_handle.cancel();
    /// let _ = by_handle.await;
    /// root.shutdown().await;
    /// let _ = by_shutdown.await;
    /// let by = root.metrics().cancelled_by;
    /// assert_eq!((by.handle, by.shutdown, by.total()), (1, 1, 2));
    /// # }
    /// ```
    pub fn total(&self) -> u64 {
        self.handle
            + self.deadline
            + self.shutdown
            + self.token
            + self.parent_ended
            + self.sibling_failed
            + self.child_failed
            + self.executor
    }
}
