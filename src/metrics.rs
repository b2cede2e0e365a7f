//! Counts per scope ([`ScopedSpawner::metrics`]): how many children a scope
//! spawned, how many are live, and how their futures ended. Always on: a
//! spawn adds one to a count under the lock it already takes, and the end
//! of a task's future one relaxed atomic increment on its parent's node
//! (BENCHMARKS.md, "The cost of names, dumps, causes, metrics and limits
//! when unused", measures both). Cancels are counted by cause (cause.rs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use futures_task::Spawn;

use crate::cause::{By, CancelCounts, Kind, ScopeCause, KINDS};
use crate::signal::Outcome;
use crate::ScopedSpawner;

/// What a scope's children have done so far ([`ScopedSpawner::metrics`]).
///
/// The counts cover the scope's own children (a scope block opened by a
/// child is a child too), not their descendants: each task with children
/// has a spawner, and so metrics, of its own. They are read one after the
/// other, not as one snapshot: a task that ends meanwhile can be counted
/// in `completed` and still in `live`. A child of the low-level
/// [`remote_scope`](crate::remote_scope) API counts in `completed`,
/// `cancelled` or `panicked` only if its future is wrapped
/// ([`RemoteScope::wrap`](crate::remote_scope::RemoteScope::wrap)).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// root.spawn_task(async { 1 }).unwrap().await.unwrap();
/// let cancelled = root.spawn_task(std::future::pending::<()>()).unwrap();
/// cancelled.cancel();
/// let _ = cancelled.await;
///
/// let metrics = root.metrics();
/// assert_eq!((metrics.spawned, metrics.live), (2, 0));
/// assert_eq!((metrics.completed, metrics.cancelled, metrics.panicked), (1, 1, 0));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ScopeMetrics {
    /// Children spawned into the scope: tasks, and scope blocks opened
    /// through its spawner.
    pub spawned: u64,
    /// Children that have not yet sent their done signal.
    pub live: usize,
    /// Tasks whose future returned (a `spawn_try` error included).
    pub completed: u64,
    /// Tasks whose future was dropped by a cancel before it returned (a
    /// deadline's, a shutdown's, or the executor's): the total of
    /// `cancelled_by`.
    pub cancelled: u64,
    /// The cancelled tasks, by the reason of their cancel
    /// ([`CancelCause::reason`](crate::CancelCause::reason); inherited
    /// causes counted by their reason too).
    pub cancelled_by: CancelCounts,
    /// Tasks whose future panicked, when polled or when dropped.
    pub panicked: u64,
    /// `spawn_try` tasks that returned an error; each is also counted as
    /// completed, or as cancelled when its fail-fast scope took the error
    /// (and cancelled it with the rest).
    pub failed: u64,
}

/// The atomic counts of how a scope's tasks ended, in its node. Relaxed:
/// they order nothing, and are std atomics even under loom (outside its
/// view: they only observe).
///
/// Cancels are counted by how they came ([`By`], and the executor's): the
/// cancels `By::Scope` all have the scope's one cause, read with the counts.
/// Their counts are allocated at a scope's first cancel: a node that never
/// sees one (most) holds an empty cell of two words, not five counts.
#[derive(Default)]
pub(crate) struct Ends {
    completed: AtomicU64,
    /// By `By` (in `By::ALL` order), then the executor's.
    cancelled: OnceLock<Box<[AtomicU64; By::ALL.len() + 1]>>,
    panicked: AtomicU64,
    failed: AtomicU64,
}

impl Ends {
    /// A task's future ended with `outcome` (phase 2); `by`: how its cancel
    /// came, if it saw one (a cancelled outcome without one is the
    /// executor's).
    #[inline]
    pub(crate) fn ended<T>(&self, outcome: &Outcome<T>, by: Option<By>) {
        let count = match outcome {
            Outcome::Completed(_) => &self.completed,
            Outcome::Cancelled | Outcome::DeadlineExceeded => {
                let counts = self.cancelled.get_or_init(Box::default);
                &counts[by.map_or(By::ALL.len(), |by| by as usize)]
            }
            Outcome::Panicked(_) | Outcome::Failed => &self.panicked,
        };
        count.fetch_add(1, Ordering::Relaxed);
    }

    /// A `spawn_try` task returned an error.
    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts; `scope`: the scope's cause, which the cancels
    /// `By::Scope` had.
    pub(crate) fn read(
        &self,
        spawned: u64,
        live: usize,
        scope: Option<&ScopeCause>,
    ) -> ScopeMetrics {
        let mut by_kind = [0; KINDS];
        let counts = self.cancelled.get().map_or(&[][..], |counts| &counts[..]);
        for (i, count) in counts.iter().enumerate() {
            let kind = match By::ALL.get(i) {
                Some(by) => by.cause(scope).kind(),
                None => Kind::Executor,
            };
            by_kind[kind as usize] += count.load(Ordering::Relaxed);
        }
        let cancelled_by = CancelCounts::from_array(by_kind);
        ScopeMetrics {
            spawned,
            live,
            completed: self.completed.load(Ordering::Relaxed),
            cancelled: cancelled_by.total(),
            cancelled_by,
            panicked: self.panicked.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// The counts of this spawner's scope: its children spawned, live, and
    /// how their futures ended ([`ScopeMetrics`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.spawn_task(async {}).unwrap().await.unwrap();
    /// assert_eq!(root.metrics().completed, 1);
    /// # }
    /// ```
    pub fn metrics(&self) -> ScopeMetrics {
        self.as_raw_node().metrics()
    }
}
