//! The contenders of issue 4 and the scenarios they all run, shared by the
//! criterion benches (`tree.rs`), the memory measurement (`memory.rs`) and the
//! instruction-count driver (`instructions.rs`).
//!
//! Every contender does the same work in its own most natural idiom:
//! - every task is a real executor task (`tokio::spawn`, directly or through
//!   the contender's wrapper);
//! - every task's future owns a drop counter ([`Leaf`] for leaves, [`Guard`]
//!   in inner nodes), and each scenario checks afterwards that all of them
//!   were dropped (`DROPPED`);
//! - a "wait" really waits for the termination of every task: the structured
//!   contenders through their own API, bare tokio and `JoinSet` (which cannot
//!   wait for a tree) by awaiting their handles and then the drop counter.
//!
//! A contender is one type implementing [`Contender`]; the scenario lists use
//! the [`for_each_contender!`] macro, so a new variant (the typed `TaskHandle`
//! API, say) is one more `impl` and one more line in that macro.
//!
//! Adding a contender: implement [`Contender`] for a new type (`spawn_join`,
//! `tree_complete`, `tree_build`, `tree_cancel`), add it to
//! [`for_each_contender!`] and to `NAMES`; `tree.rs`, `instructions.rs` and
//! the count script of BENCHMARKS.md pick it up (add the name to its
//! `contenders=(…)`); for `memory.rs`, add a spawn function to its
//! `contenders()`. Keep the tasktree contenders.
//!
//! Inner tree nodes are boxed futures (`BoxFuture`) in every contender, since
//! their type is recursive; leaves are spawned unboxed.

#![allow(dead_code)] // each bench binary uses a different part of this module

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::sync::Notify;

pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The tree of the issue: fan-out 10, depth 5 (111,110 tasks, 100,000 leaves).
pub const FANOUT: usize = 10;
pub const DEPTH: usize = 5;
/// The chain of the issue: 10,000 tasks, each the only child of the previous.
pub const CHAIN: usize = 10_000;
/// Spawn + join: 100,000 trivial tasks.
pub const SPAWN_JOIN: usize = 100_000;

/// Tasks in a tree of `fanout` and `depth` levels below the driver.
pub fn tree_tasks(fanout: usize, depth: usize) -> usize {
    (1..=depth).map(|level| fanout.pow(level as u32)).sum()
}

/// Leaves of that tree.
pub fn tree_leaves(fanout: usize, depth: usize) -> usize {
    fanout.pow(depth as u32)
}

// ----------------------------------------------------------------------------
// Counters

/// A counter that wakes one waiter when it reaches its target.
pub struct Counter {
    count: AtomicUsize,
    target: AtomicUsize,
    reached: Notify,
}

impl Counter {
    const fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            target: AtomicUsize::new(usize::MAX),
            reached: Notify::const_new(),
        }
    }

    /// Resets the count and sets the target (outside the timed part).
    pub fn arm(&self, target: usize) {
        self.count.store(0, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
    }

    fn add(&self) {
        // AcqRel: the waiter that sees the target reached sees every drop
        // that counted before it.
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target.load(Ordering::Relaxed) {
            self.reached.notify_one();
        }
    }

    pub fn get(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Resolves once the count has reached the target. A stale permit from an
    /// earlier run only costs one more look at the count.
    pub async fn reached(&self) {
        while self.get() < self.target.load(Ordering::Relaxed) {
            self.reached.notified().await;
        }
    }
}

/// Futures of tasks dropped (leaves and inner nodes).
pub static DROPPED: Counter = Counter::new();
/// Pending leaves polled at least once (the tree is fully built).
pub static STARTED: Counter = Counter::new();

/// Arms both counters for a run that drops `dropped` futures and, if it
/// builds a pending tree, starts `started` leaves.
pub fn arm(started: usize, dropped: usize) {
    STARTED.arm(started);
    DROPPED.arm(dropped);
}

/// Asserts that exactly `n` task futures were dropped.
#[track_caller]
pub fn check_dropped(contender: &str, n: usize) {
    let got = DROPPED.get();
    assert_eq!(
        got, n,
        "{contender}: {got} task futures dropped, expected {n}"
    );
}

/// A zero-sized drop counter owned by every inner node's future.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        DROPPED.add();
    }
}

/// What a leaf does when polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafKind {
    /// Completes at once (spawn + join, tree spawn + complete).
    Done,
    /// Never completes; counts its first poll in `STARTED` (cancel scenarios).
    Pending,
}

/// The user's future of every leaf task: 2 bytes, counts its drop.
pub struct Leaf {
    pending: bool,
    started: bool,
}

impl Leaf {
    pub fn new(kind: LeafKind) -> Self {
        Self {
            pending: kind == LeafKind::Pending,
            started: false,
        }
    }

    pub fn done() -> Self {
        Self::new(LeafKind::Done)
    }

    pub fn pending() -> Self {
        Self::new(LeafKind::Pending)
    }
}

impl Future for Leaf {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if !self.pending {
            return Poll::Ready(());
        }
        if !self.started {
            self.started = true;
            STARTED.add();
        }
        Poll::Pending
    }
}

impl Drop for Leaf {
    fn drop(&mut self) {
        DROPPED.add();
    }
}

/// A `done` callback that does nothing; a zero-sized fn item.
pub fn noop() {}

// ----------------------------------------------------------------------------
// The contenders

/// One way of spawning, joining and cancelling tasks.
///
/// All methods run inside a tokio runtime. `tree_*` with `fanout == 1` is the
/// chain scenario.
pub trait Contender: 'static {
    /// The name in the benchmark ids and tables.
    const NAME: &'static str;
    /// What the driver keeps of a built pending tree, to cancel it.
    type Tree: Send + 'static;

    /// Spawns `n` trivial tasks and waits for all of them to complete.
    fn spawn_join(n: usize) -> impl Future<Output = ()> + Send;

    /// Builds a tree of `depth` levels below the driver, each inner task
    /// spawning `fanout` children, with trivial leaves, and waits until every
    /// task has completed.
    fn tree_complete(fanout: usize, depth: usize) -> impl Future<Output = ()> + Send;

    /// Builds the same tree with pending leaves; resolves once every leaf has
    /// been polled (so every task exists and is parked). Not timed.
    fn tree_build(fanout: usize, depth: usize) -> impl Future<Output = Self::Tree> + Send;

    /// Cancels a built tree and resolves once every task of it has terminated
    /// (every future dropped). Timed.
    fn tree_cancel(tree: Self::Tree) -> impl Future<Output = ()> + Send;
}

/// Calls `$f::<C>($args..)` for every contender, in table order (needs
/// `#[macro_use] mod common;`).
macro_rules! for_each_contender {
    ($f:ident ( $($arg:expr),* )) => {{
        $f::<$crate::common::Tokio>($($arg),*);
        $f::<$crate::common::JoinSetC>($($arg),*);
        $f::<$crate::common::Tracker>($($arg),*);
        $f::<$crate::common::ScopedSpawnC>($($arg),*);
        $f::<$crate::common::Tasktree>($($arg),*);
        $f::<$crate::common::TasktreeHandle>($($arg),*);
        $f::<$crate::common::TasktreeScope>($($arg),*);
    }};
}

/// The contender names, in table order (for argument parsing and tables).
pub const NAMES: [&str; 7] = [
    Tokio::NAME,
    JoinSetC::NAME,
    Tracker::NAME,
    ScopedSpawnC::NAME,
    Tasktree::NAME,
    TasktreeHandle::NAME,
    TasktreeScope::NAME,
];

// --- bare tokio::spawn + JoinHandle -----------------------------------------

/// Bare `tokio::spawn`: `JoinHandle`s awaited; cancellation by `abort`, each
/// inner node aborting its children when its future is dropped.
pub struct Tokio;

/// Aborts the handles it still holds when dropped.
pub struct AbortAll(pub Vec<tokio::task::JoinHandle<()>>);

impl AbortAll {
    /// Awaits the handles, last first, keeping each one until it resolved so
    /// that a cancel in between still aborts it.
    async fn join(&mut self) {
        while let Some(handle) = self.0.last_mut() {
            let _ = handle.await;
            self.0.pop();
        }
    }
}

impl Drop for AbortAll {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

fn tokio_spawn_children(fanout: usize, remaining: usize, leaf: LeafKind) -> AbortAll {
    let mut handles = Vec::with_capacity(fanout);
    for _ in 0..fanout {
        handles.push(if remaining == 1 {
            tokio::spawn(Leaf::new(leaf))
        } else {
            tokio::spawn(tokio_node(fanout, remaining - 1, leaf))
        });
    }
    AbortAll(handles)
}

fn tokio_node(fanout: usize, remaining: usize, leaf: LeafKind) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        tokio_spawn_children(fanout, remaining, leaf).join().await;
    })
}

impl Contender for Tokio {
    const NAME: &'static str = "tokio";
    type Tree = AbortAll;

    async fn spawn_join(n: usize) {
        let handles: Vec<_> = (0..n).map(|_| tokio::spawn(Leaf::done())).collect();
        for handle in handles {
            handle.await.unwrap();
        }
    }

    async fn tree_complete(fanout: usize, depth: usize) {
        tokio_spawn_children(fanout, depth, LeafKind::Done)
            .join()
            .await;
    }

    async fn tree_build(fanout: usize, depth: usize) -> AbortAll {
        let tree = tokio_spawn_children(fanout, depth, LeafKind::Pending);
        STARTED.reached().await;
        tree
    }

    async fn tree_cancel(mut tree: AbortAll) {
        for handle in &tree.0 {
            handle.abort();
        }
        tree.join().await;
        // Aborting a node only schedules the abort of its children.
        DROPPED.reached().await;
    }
}

// --- JoinSet ----------------------------------------------------------------

/// `tokio::task::JoinSet`: one set per inner node, drained with `join_next`;
/// dropping a node's set aborts its children.
pub struct JoinSetC;

fn joinset_spawn_children(
    fanout: usize,
    remaining: usize,
    leaf: LeafKind,
) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..fanout {
        if remaining == 1 {
            set.spawn(Leaf::new(leaf));
        } else {
            set.spawn(joinset_node(fanout, remaining - 1, leaf));
        }
    }
    set
}

fn joinset_node(fanout: usize, remaining: usize, leaf: LeafKind) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        let mut set = joinset_spawn_children(fanout, remaining, leaf);
        while set.join_next().await.is_some() {}
    })
}

impl Contender for JoinSetC {
    const NAME: &'static str = "JoinSet";
    type Tree = tokio::task::JoinSet<()>;

    async fn spawn_join(n: usize) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            set.spawn(Leaf::done());
        }
        while let Some(result) = set.join_next().await {
            result.unwrap();
        }
    }

    async fn tree_complete(fanout: usize, depth: usize) {
        let mut set = joinset_spawn_children(fanout, depth, LeafKind::Done);
        while let Some(result) = set.join_next().await {
            result.unwrap();
        }
    }

    async fn tree_build(fanout: usize, depth: usize) -> Self::Tree {
        let set = joinset_spawn_children(fanout, depth, LeafKind::Pending);
        STARTED.reached().await;
        set
    }

    async fn tree_cancel(mut tree: Self::Tree) {
        // Aborts and awaits the first level; each of their sets aborts the next.
        tree.shutdown().await;
        DROPPED.reached().await;
    }
}

// --- TaskTracker + CancellationToken ------------------------------------------

/// `tokio_util`'s `TaskTracker` (one per inner node, awaited with `wait`) and
/// `CancellationToken` (a child token per inner node, shared by its leaves,
/// which run under `run_until_cancelled_owned`).
pub struct Tracker;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn tracker_spawn_children(
    token: &CancellationToken,
    fanout: usize,
    remaining: usize,
    leaf: LeafKind,
) -> TaskTracker {
    let tracker = TaskTracker::new();
    for _ in 0..fanout {
        if remaining == 1 {
            tracker.spawn(token.clone().run_until_cancelled_owned(Leaf::new(leaf)));
        } else {
            tracker.spawn(tracker_node(
                token.child_token(),
                fanout,
                remaining - 1,
                leaf,
            ));
        }
    }
    tracker.close();
    tracker
}

fn tracker_node(
    token: CancellationToken,
    fanout: usize,
    remaining: usize,
    leaf: LeafKind,
) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        // An inner node has no work of its own: it waits for its children,
        // which end when they complete or when `token` is cancelled.
        tracker_spawn_children(&token, fanout, remaining, leaf)
            .wait()
            .await;
    })
}

impl Contender for Tracker {
    const NAME: &'static str = "TaskTracker+token";
    type Tree = (CancellationToken, TaskTracker);

    async fn spawn_join(n: usize) {
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        for _ in 0..n {
            tracker.spawn(token.clone().run_until_cancelled_owned(Leaf::done()));
        }
        tracker.close();
        tracker.wait().await;
    }

    async fn tree_complete(fanout: usize, depth: usize) {
        let token = CancellationToken::new();
        tracker_spawn_children(&token, fanout, depth, LeafKind::Done)
            .wait()
            .await;
    }

    async fn tree_build(fanout: usize, depth: usize) -> Self::Tree {
        let token = CancellationToken::new();
        let tracker = tracker_spawn_children(&token, fanout, depth, LeafKind::Pending);
        STARTED.reached().await;
        (token, tracker)
    }

    async fn tree_cancel((token, tracker): Self::Tree) {
        token.cancel();
        tracker.wait().await;
    }
}

// --- scoped_spawn 0.2.1 -------------------------------------------------------

/// The `futures::task::Spawn` adapter over tokio that scoped_spawn needs (its
/// README's `TokioDefaultSpawner`).
#[derive(Clone, Copy, Debug)]
pub struct TokioSpawn;

impl futures::task::Spawn for TokioSpawn {
    fn spawn_obj(
        &self,
        future: futures::task::FutureObj<'static, ()>,
    ) -> Result<(), futures::task::SpawnError> {
        drop(tokio::spawn(future));
        Ok(())
    }
}

/// scoped_spawn 0.2.1 over [`TokioSpawn`]: joins through `*_with_signal`
/// done receivers; a cancelled tree is built with `spawn` / `spawn_future`
/// (no signals) and cancelled by dropping the first level's cancel senders.
pub struct ScopedSpawnC;

type SsSpawner = scoped_spawn::ScopedSpawner<TokioSpawn>;
type SsSignals = scoped_spawn::ParentSignals<
    scoped_spawn::remote_scope::signals::RemoteCancelSenderWithSignal,
    scoped_spawn::remote_scope::signals::RemoteDoneReceiverWithSignal,
>;

fn ss_spawn_children(spawner: &SsSpawner, fanout: usize, remaining: usize) -> Vec<SsSignals> {
    use scoped_spawn::ScopedSpawn;
    (0..fanout)
        .map(|_| {
            if remaining == 1 {
                spawner.spawn_future_with_signal(Leaf::done(), noop)
            } else {
                spawner.spawn_with_signal(move |s| ss_node_complete(s, fanout, remaining - 1), noop)
            }
            .unwrap()
        })
        .collect()
}

async fn ss_join(signals: Vec<SsSignals>) {
    for signal in signals {
        signal.done_receiver.await;
        // The cancel sender is dropped after the child is done.
    }
}

fn ss_node_complete(spawner: SsSpawner, fanout: usize, remaining: usize) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        ss_join(ss_spawn_children(&spawner, fanout, remaining)).await;
    })
}

fn ss_node_pending(spawner: SsSpawner, fanout: usize, remaining: usize) -> BoxFuture {
    use scoped_spawn::ScopedSpawn;
    Box::pin(async move {
        let _guard = Guard;
        for _ in 0..fanout {
            if remaining == 1 {
                spawner.spawn_future(Leaf::pending(), noop)
            } else {
                spawner.spawn(move |s| ss_node_pending(s, fanout, remaining - 1), noop)
            }
            .unwrap();
        }
        std::future::pending::<()>().await;
    })
}

impl Contender for ScopedSpawnC {
    const NAME: &'static str = "scoped_spawn";
    type Tree = (SsSpawner, Vec<SsSignals>);

    async fn spawn_join(n: usize) {
        use scoped_spawn::ScopedSpawn;
        let root = SsSpawner::new(TokioSpawn);
        let signals: Vec<_> = (0..n)
            .map(|_| root.spawn_future_with_signal(Leaf::done(), noop).unwrap())
            .collect();
        ss_join(signals).await;
    }

    async fn tree_complete(fanout: usize, depth: usize) {
        let root = SsSpawner::new(TokioSpawn);
        ss_join(ss_spawn_children(&root, fanout, depth)).await;
    }

    async fn tree_build(fanout: usize, depth: usize) -> Self::Tree {
        use scoped_spawn::ScopedSpawn;
        let root = SsSpawner::new(TokioSpawn);
        let signals = (0..fanout)
            .map(|_| {
                if depth == 1 {
                    root.spawn_future_with_signal(Leaf::pending(), noop)
                } else {
                    root.spawn_with_signal(move |s| ss_node_pending(s, fanout, depth - 1), noop)
                }
                .unwrap()
            })
            .collect();
        STARTED.reached().await;
        (root, signals)
    }

    async fn tree_cancel((root, signals): Self::Tree) {
        let receivers: Vec<_> = signals
            .into_iter()
            .map(|s| {
                drop(s.cancel_sender);
                s.done_receiver
            })
            .collect();
        for receiver in receivers {
            receiver.await;
        }
        drop(root);
    }
}

// --- tasktree (seed API) -----------------------------------------------------

/// tasktree through the seed API: leaves with `spawn_future_with_signal`,
/// joined through their done receivers; inner nodes with `spawn_with_signal`.
/// A cancelled tree is built with `spawn` / `spawn_future` (no signals) and
/// cancelled by `shutdown()` on the root.
pub struct Tasktree;

type TtSpawner = tasktree::ScopedSpawner<tasktree::TokioSpawner>;

fn tt_spawn_children(
    spawner: &TtSpawner,
    fanout: usize,
    remaining: usize,
) -> Vec<tasktree::ParentSignals> {
    use tasktree::ScopedSpawn;
    (0..fanout)
        .map(|_| {
            if remaining == 1 {
                spawner.spawn_future_with_signal(Leaf::done(), noop)
            } else {
                spawner.spawn_with_signal(move |s| tt_node_complete(s, fanout, remaining - 1), noop)
            }
            .unwrap()
        })
        .collect()
}

async fn tt_join(signals: Vec<tasktree::ParentSignals>) {
    for signal in signals {
        signal.done_receiver.await;
        // The cancel sender is dropped after the child is done.
    }
}

fn tt_node_complete(spawner: TtSpawner, fanout: usize, remaining: usize) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        tt_join(tt_spawn_children(&spawner, fanout, remaining)).await;
    })
}

fn tt_spawn_pending(spawner: &TtSpawner, fanout: usize, remaining: usize) {
    use tasktree::ScopedSpawn;
    for _ in 0..fanout {
        if remaining == 1 {
            spawner.spawn_future(Leaf::pending(), noop)
        } else {
            spawner.spawn(move |s| tt_node_pending(s, fanout, remaining - 1), noop)
        }
        .unwrap();
    }
}

fn tt_node_pending(spawner: TtSpawner, fanout: usize, remaining: usize) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        tt_spawn_pending(&spawner, fanout, remaining);
        std::future::pending::<()>().await;
    })
}

impl Contender for Tasktree {
    const NAME: &'static str = "tasktree";
    type Tree = TtSpawner;

    async fn spawn_join(n: usize) {
        use tasktree::ScopedSpawn;
        let root = TtSpawner::tokio();
        let signals: Vec<_> = (0..n)
            .map(|_| root.spawn_future_with_signal(Leaf::done(), noop).unwrap())
            .collect();
        tt_join(signals).await;
    }

    async fn tree_complete(fanout: usize, depth: usize) {
        let root = TtSpawner::tokio();
        tt_join(tt_spawn_children(&root, fanout, depth)).await;
    }

    async fn tree_build(fanout: usize, depth: usize) -> Self::Tree {
        let root = TtSpawner::tokio();
        tt_spawn_pending(&root, fanout, depth);
        STARTED.reached().await;
        root
    }

    async fn tree_cancel(root: Self::Tree) {
        root.shutdown().await;
    }
}

// --- tasktree (typed TaskHandle API) -----------------------------------------

/// tasktree through `spawn_task` / `TaskHandle<T>`, used as `tokio::spawn` /
/// `JoinHandle` are: every leaf is spawned with `spawn_task` and its handle
/// awaited (joins) or held by its parent's future (cancel scenarios: dropping
/// a handle detaches its task, which the parent's termination cancels). Inner tasks,
/// which need their own spawner, use `spawn_with_signal` (joins) or `spawn`
/// (cancel scenarios), as in [`Tasktree`]; the cancel is `shutdown()`.
pub struct TasktreeHandle;

fn tth_spawn_leaves(
    spawner: &TtSpawner,
    n: usize,
    leaf: LeafKind,
) -> Vec<tasktree::TaskHandle<()>> {
    (0..n)
        .map(|_| spawner.spawn_task(Leaf::new(leaf)).unwrap())
        .collect()
}

async fn tth_join(handles: Vec<tasktree::TaskHandle<()>>) {
    for handle in handles {
        handle.await.unwrap();
    }
}

fn tth_node_complete(spawner: TtSpawner, fanout: usize, remaining: usize) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        if remaining == 1 {
            tth_join(tth_spawn_leaves(&spawner, fanout, LeafKind::Done)).await;
        } else {
            tt_join(tth_spawn_inner(&spawner, fanout, remaining)).await;
        }
    })
}

fn tth_spawn_inner(
    spawner: &TtSpawner,
    fanout: usize,
    remaining: usize,
) -> Vec<tasktree::ParentSignals> {
    use tasktree::ScopedSpawn;
    (0..fanout)
        .map(|_| {
            spawner
                .spawn_with_signal(move |s| tth_node_complete(s, fanout, remaining - 1), noop)
                .unwrap()
        })
        .collect()
}

fn tth_spawn_pending(
    spawner: &TtSpawner,
    fanout: usize,
    remaining: usize,
) -> Vec<tasktree::TaskHandle<()>> {
    use tasktree::ScopedSpawn;
    if remaining == 1 {
        return tth_spawn_leaves(spawner, fanout, LeafKind::Pending);
    }
    for _ in 0..fanout {
        spawner
            .spawn(move |s| tth_node_pending(s, fanout, remaining - 1), noop)
            .unwrap();
    }
    Vec::new()
}

fn tth_node_pending(spawner: TtSpawner, fanout: usize, remaining: usize) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        let _handles = tth_spawn_pending(&spawner, fanout, remaining);
        std::future::pending::<()>().await;
    })
}

impl Contender for TasktreeHandle {
    const NAME: &'static str = "tasktree-handle";
    type Tree = (TtSpawner, Vec<tasktree::TaskHandle<()>>);

    async fn spawn_join(n: usize) {
        let root = TtSpawner::tokio();
        tth_join(tth_spawn_leaves(&root, n, LeafKind::Done)).await;
    }

    async fn tree_complete(fanout: usize, depth: usize) {
        let root = TtSpawner::tokio();
        if depth == 1 {
            tth_join(tth_spawn_leaves(&root, fanout, LeafKind::Done)).await;
        } else {
            tt_join(tth_spawn_inner(&root, fanout, depth)).await;
        }
    }

    async fn tree_build(fanout: usize, depth: usize) -> Self::Tree {
        let root = TtSpawner::tokio();
        let handles = tth_spawn_pending(&root, fanout, depth);
        STARTED.reached().await;
        (root, handles)
    }

    async fn tree_cancel((root, handles): Self::Tree) {
        root.shutdown().await;
        drop(handles);
    }
}

// --- tasktree (scope blocks) -------------------------------------------------

/// tasktree through scope blocks (Trio's nurseries): every task with
/// children opens a `tasktree::scope` block, spawns them into it with
/// `spawn_future`, and the block's end waits for them (no handles, no
/// signals). The cancel scenarios are [`Tasktree`]'s, built and cancelled
/// the same way (a block is cancelled with its enclosing task).
pub struct TasktreeScope;

fn tts_node(fanout: usize, remaining: usize) -> BoxFuture {
    Box::pin(async move {
        let _guard = Guard;
        tts_block(fanout, remaining).await;
    })
}

async fn tts_block(fanout: usize, remaining: usize) {
    use tasktree::ScopedSpawn;
    tasktree::scope(|s| async move {
        for _ in 0..fanout {
            if remaining == 1 {
                s.spawn_future(Leaf::done(), noop)
            } else {
                s.spawn_future(tts_node(fanout, remaining - 1), noop)
            }
            .unwrap();
        }
    })
    .await;
}

impl Contender for TasktreeScope {
    const NAME: &'static str = "tasktree-scope";
    type Tree = TtSpawner;

    async fn spawn_join(n: usize) {
        use tasktree::ScopedSpawn;
        tasktree::scope(|s| async move {
            for _ in 0..n {
                s.spawn_future(Leaf::done(), noop).unwrap();
            }
        })
        .await;
    }

    async fn tree_complete(fanout: usize, depth: usize) {
        tts_block(fanout, depth).await;
    }

    async fn tree_build(fanout: usize, depth: usize) -> Self::Tree {
        Tasktree::tree_build(fanout, depth).await
    }

    async fn tree_cancel(root: Self::Tree) {
        Tasktree::tree_cancel(root).await;
    }
}

// ----------------------------------------------------------------------------
// Runtimes and checked runs

/// A current-thread runtime.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// A multi-thread runtime with 2 workers.
pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a multi-thread runtime")
}

/// The scenarios of issue 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Spawn + join `n` trivial tasks on a current-thread runtime.
    SpawnJoinCurrent,
    /// The same, driven from a task of a 2-worker multi-thread runtime.
    SpawnJoinMulti,
    /// Tree (fan-out 10, `n` levels) spawn + complete, current-thread.
    TreeComplete,
    /// Cancel that tree with pending leaves until fully terminated.
    TreeCancel,
    /// Cancel a chain `n` deep until fully terminated.
    ChainCancel,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::SpawnJoinCurrent,
        Scenario::SpawnJoinMulti,
        Scenario::TreeComplete,
        Scenario::TreeCancel,
        Scenario::ChainCancel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::SpawnJoinCurrent => "spawn_join_current_thread",
            Scenario::SpawnJoinMulti => "spawn_join_multi_thread",
            Scenario::TreeComplete => "tree_spawn_complete",
            Scenario::TreeCancel => "tree_cancel",
            Scenario::ChainCancel => "chain_cancel",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The size: tasks for spawn + join, levels for the tree, depth
    /// for the chain.
    pub fn default_size(self) -> usize {
        match self {
            Scenario::SpawnJoinCurrent | Scenario::SpawnJoinMulti => SPAWN_JOIN,
            Scenario::TreeComplete | Scenario::TreeCancel => DEPTH,
            Scenario::ChainCancel => CHAIN,
        }
    }

    /// Tasks spawned by one run of size `size`.
    pub fn tasks(self, size: usize) -> usize {
        match self {
            Scenario::SpawnJoinCurrent | Scenario::SpawnJoinMulti => size,
            Scenario::TreeComplete | Scenario::TreeCancel => tree_tasks(FANOUT, size),
            Scenario::ChainCancel => size,
        }
    }

    pub fn runtime(self) -> tokio::runtime::Runtime {
        match self {
            Scenario::SpawnJoinMulti => multi_thread(),
            _ => current_thread(),
        }
    }
}

/// The untimed preparation of one run: arms the counters and, for the cancel
/// scenarios, builds the pending tree.
pub fn prepare<C: Contender>(
    rt: &tokio::runtime::Runtime,
    scenario: Scenario,
    size: usize,
) -> Option<C::Tree> {
    let tasks = scenario.tasks(size);
    match scenario {
        Scenario::SpawnJoinCurrent | Scenario::SpawnJoinMulti | Scenario::TreeComplete => {
            arm(0, tasks);
            None
        }
        Scenario::TreeCancel => {
            arm(tree_leaves(FANOUT, size), tasks);
            Some(rt.block_on(C::tree_build(FANOUT, size)))
        }
        Scenario::ChainCancel => {
            arm(1, tasks);
            Some(rt.block_on(C::tree_build(1, size)))
        }
    }
}

/// The timed part of one run. `block_on` is the caller's, so that the
/// instruction counter can wrap it in a function of its own.
pub fn measured_future<C: Contender>(
    scenario: Scenario,
    size: usize,
    tree: Option<C::Tree>,
) -> BoxFuture {
    match scenario {
        Scenario::SpawnJoinCurrent => Box::pin(C::spawn_join(size)),
        // Driven from a worker, as a task that spawns would be.
        Scenario::SpawnJoinMulti => Box::pin(async move {
            tokio::spawn(C::spawn_join(size)).await.unwrap();
        }),
        Scenario::TreeComplete => Box::pin(C::tree_complete(FANOUT, size)),
        Scenario::TreeCancel | Scenario::ChainCancel => {
            Box::pin(C::tree_cancel(tree.expect("a prepared tree")))
        }
    }
}

/// Checks, after a run, that every task's future was dropped.
#[track_caller]
pub fn check<C: Contender>(scenario: Scenario, size: usize) {
    check_dropped(C::NAME, scenario.tasks(size));
}
