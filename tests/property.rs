//! Randomized trees: every guarantee of the crate docs (G1-G7), checked
//! against an event log on random task trees, on tokio's multi-thread
//! runtime and on `futures`' `ThreadPool` (issue 5).
//!
//! # What a case is
//!
//! A seeded PRNG (xorshift64*, below; no extra dependency) generates a tree
//! of up to [`MAX_TASKS`] tasks, at most 8 levels deep, with up to 16
//! children per task. Each task is one of
//!
//! - `scoped`: spawned with `spawn_with_signal`; spawns children of its own
//!   (some in its `fun`, some *late*, from its future), maybe under
//!   `FailurePolicy::FailFast`;
//! - `block`: as `scoped`, but its children live in a nested
//!   `spawner.try_scope(..)` block and leaves among them are spawned with
//!   `spawn_try`, so that an `Err` fails the block;
//! - `leaf`: `spawn_future_with_signal`;
//! - `handle`: `spawn_task` (or `spawn_try` in a block), a
//!   `TaskHandle<Result<u32, Fail>>`.
//!
//! and runs a few *steps*, with a random yield after each, then ends:
//! completes, waits (pends until cancelled), panics, or returns an error
//! (handles and blocks). Its parent keeps its signals, forgets them
//! (`forget` / `detach`), cancels it at some step, awaits it, or cancels it
//! and then awaits it; a task may also cancel one of its siblings at one of
//! its own steps. The test harness awaits the top task's done receiver
//! (cancelling it first in about half the cases) and then checks the log:
//!
//! - every future that was made is dropped exactly once (G4), and every task
//!   whose spawn succeeded runs its `done` exactly once, after its future was
//!   dropped; a refused spawn (`Terminated`) runs no `done` and leaves no
//!   trace of the task's subtree (G5);
//! - a task's `done` is the last event of its whole subtree: after every
//!   child's `done` (G2) and after any event of any descendant (G1, G5);
//! - a done receiver or task handle resolves after every event of the
//!   child's subtree (G1), with an outcome its behaviour allows (a value, its
//!   error, its panic, `is_failed` only in a fail-fast scope, `is_cancelled`
//!   only if something could cancel it), and a `try_scope` block returns an
//!   error of its own body or of one of its `spawn_try` children;
//! - the top task's done signal is the last event of all, the live-future
//!   counter is back at zero then, and nothing happens after it (not even
//!   after `shutdown` and dropping the executor); the root counts no child.
//!
//! Termination (G3: no lost wake-up) is checked by a deadline: a case that
//! has not finished within [`CASE_DEADLINE`] fails as a hang.
//!
//! # Graceful cancellation and deadlines (tokio only)
//!
//! Grace periods and deadlines are timed by tokio's timer, so on tokio (and
//! only there: the `ThreadPool` trees stay as they are) a second pass,
//! drawn from its own stream of the case's seed so that the tree itself is
//! the same on both executors, decorates two trees in five
//! ([`TIMED_PERCENT`]):
//!
//! - some cancels, of parents, of siblings and the harness's, become
//!   `cancel_with_grace(g)`; the harness's may instead be
//!   `shutdown_with_grace(g)` on the root;
//! - some scoped and block tasks call `set_grace_period(Some(g))` at the
//!   start (a block on its `try_scope`'s spawner), and so may the root;
//! - some handles get `set_timeout(g)`;
//! - some tasks that would wait for ever *stop when asked* instead
//!   (`End::Stop`): a scoped task awaits its spawner's `stop_requested()`
//!   after its steps, a block's body its block's, and then the block task
//!   its own; then they complete. Leaves and handles have no spawner and
//!   never cooperate.
//!
//! with `g` from 0 to 3 ms of real time (0 is a cancel at once), mostly 0
//! or 1. Three in five of the decorated cases of at most
//! [`COOP_MAX_TASKS`] tasks (about one tokio case in six) are
//! *cooperative*: every task that would wait stops when asked (leaves and
//! handles complete instead), so do most scoped and block tasks that would
//! complete, few scopes have a grace period, the harness always cancels the
//! top gracefully with [`COOP_GRACE`], which no task waits out, and most
//! cooperating children are kept or awaited rather than cancelled.
//!
//! The checker then also requires, from the log:
//!
//! - a task sees a stop request (`stop_requested()` resolves) only if
//!   something can ask it to stop: a graceful cancel of it or of an
//!   ancestor (a grace period above 0 ms on the way, an explicit
//!   `cancel_with_grace`, `shutdown_with_grace`), or a fail-fast failure of
//!   its own scope;
//! - no task's future is polled again after it completed;
//! - a task's future completes (`Finished`) only if its ending allows it,
//!   and a cooperating one only after it saw the stop request; a handle
//!   reports a value or its error exactly when its future completed, and
//!   `Cancelled` or `is_deadline_exceeded()` only when it did not;
//!   `is_deadline_exceeded()` only for a handle with a timeout;
//! - in a cooperative case, every cooperating task whose whole path from
//!   the top is cooperating, is cancelled by nobody but the harness, and
//!   lies under no grace period and no fail-fast scope that can fail, sees
//!   the stop request and completes (it is never cancelled); and the tree
//!   ends before the harness's grace period does (no task waited for the
//!   cancel at its end).
//!
//! and every check above holds as before (a graceful cancel may end in a
//! completion or a cancel, and the done signals still come in order).
//!
//! # Reproducing and tuning
//!
//! `TASKTREE_PROPTEST_CASES` sets the number of cases per executor (default
//! [`DEFAULT_CASES`]); `TASKTREE_PROPTEST_SEED` the seed of case 0 (decimal
//! or `0x` hex; default [`DEFAULT_SEED`]); case `i` uses `seed + i *
//! 0x9E37_79B9_7F4A_7C15`. A failing case prints its own seed, so
//!
//! ```text
//! TASKTREE_PROPTEST_SEED=0x... TASKTREE_PROPTEST_CASES=1 cargo test --test property
//! ```
//!
//! runs it again; the tree is the same, the interleaving may differ. On a
//! failure the harness shrinks the tree (drops one subtree at a time, keeping
//! the smaller tree while it still fails in one of three runs) and prints
//! the smallest failing tree; with `TASKTREE_PROPTEST_LOG=1` it also prints
//! the event log of a failing run of that tree. `-- --nocapture` shows the
//! figures of a run.
#![allow(clippy::disallowed_types)]

mod common;

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{lock, quiet_intentional_panics, yield_now};
use futures::future::{BoxFuture, FutureExt};
use futures::task::Spawn;
use tasktree::{
    DoneReceiver, FailurePolicy, ForgettableSignalSender, ParentSignals, ScopedSpawn,
    ScopedSpawner, SpawnError, TaskError, TaskHandle, TryScope,
};

/// Cases per executor unless `TASKTREE_PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u64 = 256;
/// The seed of case 0 unless `TASKTREE_PROPTEST_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x7A5C_7E3E_2024_0005;
/// The most tasks in one tree.
const MAX_TASKS: usize = 2_000;
/// The most levels of tasks below the root.
const MAX_DEPTH: u32 = 8;
/// The most children of one task.
const MAX_FANOUT: u64 = 16;
/// A case still running after this has hung (a lost wake-up, G3).
const CASE_DEADLINE: Duration = Duration::from_secs(30);
/// The deadline of each run while shrinking.
const SHRINK_DEADLINE: Duration = Duration::from_secs(5);
/// The most runs spent shrinking one failure.
const SHRINK_RUNS: usize = 150;
/// The `by` of events that the test harness itself records.
const HARNESS: u32 = u32::MAX;
/// The largest grace period, or timeout, of a decorated tree, in ms.
const MAX_GRACE_MS: u64 = 3;
/// The grace period of the harness's cancel in a cooperative case: long
/// enough that every cooperating task sees the stop request first, short
/// enough that a bug which leaves one waiting shows within
/// [`SHRINK_DEADLINE`].
const COOP_GRACE: Duration = Duration::from_secs(2);
/// Percent of the tokio cases that are decorated (the others run as on
/// `ThreadPool`); timer waits make a decorated case slower.
const TIMED_PERCENT: u64 = 40;
/// Percent of the decorated cases of at most [`COOP_MAX_TASKS`] tasks that
/// are cooperative.
const COOP_PERCENT: u64 = 60;
/// The most tasks in a cooperative case: it runs to completion, which a
/// big tree makes slow.
const COOP_MAX_TASKS: usize = 400;

/// Random trees on a tokio multi-thread runtime (2 workers).
#[test]
#[cfg_attr(miri, ignore = "hundreds of thousands of tasks on OS threads")]
fn random_trees_on_tokio_multi_thread() {
    run_cases(Exec::TokioMultiThread);
}

/// Random trees on a `futures` `ThreadPool` (2 threads).
#[test]
#[cfg_attr(miri, ignore = "hundreds of thousands of tasks on OS threads")]
fn random_trees_on_thread_pool() {
    run_cases(Exec::ThreadPool);
}

// ---------------------------------------------------------------------------
// The PRNG
// ---------------------------------------------------------------------------

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// xorshift64*, seeded through splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(splitmix64(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`0` if `n == 0`).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// True with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn step(&mut self, steps: u8) -> u8 {
        self.below(u64::from(steps)) as u8
    }
}

// ---------------------------------------------------------------------------
// The trees
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Scoped,
    Block,
    Leaf,
    Handle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Complete,
    Wait,
    Panic,
    /// Handles return `Err(Fail(id))`; a block's body does.
    Error,
    /// Waits until asked to stop, then completes (scoped and block tasks,
    /// on tokio; see "Graceful cancellation and deadlines").
    Stop,
}

/// How the harness cancels the top task (when it does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TopCancel {
    /// Drops its cancel sender.
    Plain,
    /// `cancel_with_grace` with this many ms.
    Grace(u64),
    /// `shutdown_with_grace` on the root with this many ms.
    Shutdown(u64),
}

impl TopCancel {
    fn grace_ms(self) -> Option<u64> {
        match self {
            TopCancel::Plain => None,
            TopCancel::Grace(ms) | TopCancel::Shutdown(ms) => Some(ms),
        }
    }
}

/// What the parent does with a child's signals (or handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Holds them until its future (and its children's) are dropped.
    Keep,
    /// `forget` / `detach` right after the spawn.
    Forget,
    /// Cancels the child at this step of the parent.
    Cancel(u8),
    /// Awaits the child after its steps.
    Await,
    /// Cancels the child at this step, and awaits it after its steps.
    CancelAwait(u8),
}

impl Action {
    fn cancel_step(self) -> Option<u8> {
        match self {
            Action::Cancel(k) | Action::CancelAwait(k) => Some(k),
            _ => None,
        }
    }

    fn awaits(self) -> bool {
        matches!(self, Action::Await | Action::CancelAwait(_))
    }
}

#[derive(Clone, Debug)]
struct Spec {
    id: u32,
    parent: Option<u32>,
    depth: u32,
    kind: Kind,
    end: End,
    /// Number of steps of the future (of the body, for a block); at least 1.
    steps: u8,
    /// Bit `i`: yield after step `i`.
    yields: u8,
    /// Spawned by the parent's future at the parent's `late_at` step, not
    /// in the parent's `fun` (or at the start of its block body).
    late: bool,
    /// The step at which this task spawns its late children.
    late_at: u8,
    /// `set_failure_policy(FailFast)` on its spawner (scoped tasks).
    fail_fast: bool,
    /// Its future's drop guard panics when dropped (scoped and block
    /// tasks, whose future is only made once the spawn is registered).
    drop_panics: bool,
    action: Action,
    /// Cancels the sibling with this id at this step of its own.
    cancels: Option<(u32, u8)>,
    children: Vec<u32>,
    // The decorations of a tokio case (all `None` on `ThreadPool`), in ms:
    /// The parent's cancel (`action`) is `cancel_with_grace` with this.
    cancel_grace: Option<u64>,
    /// The cancel of the sibling in `cancels` is `cancel_with_grace` with
    /// this.
    sibling_grace: Option<u64>,
    /// `set_grace_period` on its spawner (a block: its `try_scope`'s) at
    /// the start.
    grace_period: Option<u64>,
    /// `set_timeout` on its handle right after the spawn.
    timeout: Option<u64>,
}

impl Spec {
    fn has_done(&self) -> bool {
        self.kind != Kind::Handle
    }
}

/// A tree of tasks, in an arena indexed by id; node 0 is the top task,
/// spawned by the harness from the root.
#[derive(Clone, Debug)]
struct Tree {
    seed: u64,
    nodes: Vec<Spec>,
    /// `set_failure_policy(FailFast)` on the root.
    root_fail_fast: bool,
    /// `set_grace_period` on the root (tokio).
    root_grace: Option<u64>,
    /// How the harness cancels the top task, if its action says it does.
    top_cancel: TopCancel,
    /// Decorated (tokio; see the module docs).
    timed: bool,
    /// A cooperative case (decorated too).
    coop: bool,
}

impl Tree {
    /// The tree of `seed`; on tokio (`timed`), [`TIMED_PERCENT`] of the
    /// trees get the decorations of "Graceful cancellation and deadlines".
    fn generate(seed: u64, timed: bool) -> Tree {
        let mut tree = Tree::generate_untimed(seed);
        let mut rng = Rng::new(seed ^ 0x6A09_E667_F3BC_C908);
        if timed && rng.chance(TIMED_PERCENT) {
            tree.decorate(&mut rng);
        }
        tree
    }

    fn generate_untimed(seed: u64) -> Tree {
        let mut rng = Rng::new(seed);
        let big = rng.chance(30);
        let max_depth = if big {
            MAX_DEPTH
        } else {
            1 + rng.below(u64::from(MAX_DEPTH)) as u32
        };
        let max_fanout = if big {
            MAX_FANOUT
        } else {
            1 + rng.below(MAX_FANOUT)
        };
        let cap = if big {
            MAX_TASKS
        } else {
            1 + rng.below(400) as usize
        };
        let mut nodes = vec![new_spec(&mut rng, 0, None, 1, true)];
        let mut frontier = vec![0u32];
        while !frontier.is_empty() && nodes.len() < cap {
            let i = frontier.swap_remove(rng.below(frontier.len() as u64) as usize);
            let parent = nodes[i as usize].clone();
            if !matches!(parent.kind, Kind::Scoped | Kind::Block) || parent.depth >= max_depth {
                continue;
            }
            let n = (rng.below(max_fanout + 1) as usize).min(cap - nodes.len());
            for _ in 0..n {
                let id = nodes.len() as u32;
                let child = new_spec(&mut rng, id, Some(&parent), parent.depth + 1, false);
                nodes.push(child);
                nodes[i as usize].children.push(id);
                frontier.push(id);
            }
        }
        // Sibling cancels.
        for i in 0..nodes.len() {
            let Some(parent) = nodes[i].parent else {
                continue;
            };
            if rng.chance(10) {
                let siblings = &nodes[parent as usize].children;
                let target = siblings[rng.below(siblings.len() as u64) as usize];
                if target != nodes[i].id {
                    let at = rng.step(nodes[i].steps);
                    nodes[i].cancels = Some((target, at));
                }
            }
        }
        // Actions that would wait for ever become cancels (see `finishes`).
        for i in 1..nodes.len() {
            let parent = &nodes[nodes[i].parent.expect("not the top") as usize];
            let (in_block, parent_steps, parent_late_at) =
                (parent.kind == Kind::Block, parent.steps, parent.late_at);
            let node = &mut nodes[i];
            if finishes(node) {
                continue;
            }
            let first = if node.late { parent_late_at } else { 0 };
            let at = first + rng.step(parent_steps - first);
            match node.action {
                Action::Await => node.action = Action::CancelAwait(at),
                Action::Keep | Action::Forget if in_block => node.action = Action::Cancel(at),
                _ => {}
            }
        }
        let harness_cancels = rng.chance(50) || !finishes(&nodes[0]);
        nodes[0].action = if harness_cancels {
            Action::CancelAwait(rng.below(64) as u8)
        } else {
            Action::Await
        };
        Tree {
            seed,
            nodes,
            root_fail_fast: rng.chance(20),
            root_grace: None,
            top_cancel: TopCancel::Plain,
            timed: false,
            coop: false,
        }
    }

    /// Adds graceful cancels, grace periods, timeouts and cooperating
    /// tasks (a tokio case), from a stream of its own so that the rest of
    /// the tree stays as `generate_untimed` made it. Every task still ends
    /// once the top is cancelled. Outside a cooperative case `End::Stop`
    /// replaces only `End::Wait`, which `finishes` treats alike, and a
    /// graceful cancel becomes a cancel at its deadline. In a cooperative
    /// case no task waits for ever (leaves and handles complete) and the
    /// harness's graceful cancel asks every task to stop, so a cooperating
    /// task ends even if nobody cancels or awaits it.
    fn decorate(&mut self, rng: &mut Rng) {
        // 0 to MAX_GRACE_MS ms, mostly short: each one that a task does
        // not cut short is waited out in real time.
        let grace = |rng: &mut Rng| match rng.below(10) {
            0..=2 => 0,
            3..=6 => 1,
            _ => 2 + rng.below(MAX_GRACE_MS - 1),
        };
        let coop = rng.chance(COOP_PERCENT) && self.size() <= COOP_MAX_TASKS;
        self.timed = true;
        self.coop = coop;
        for node in &mut self.nodes {
            let top = node.parent.is_none();
            let scoped = matches!(node.kind, Kind::Scoped | Kind::Block);
            match node.end {
                End::Wait if scoped && (coop || rng.chance(60)) => node.end = End::Stop,
                End::Wait if coop => node.end = End::Complete,
                // More cooperating paths from the top (see `must_stop`).
                End::Complete if scoped && coop && rng.chance(75) => node.end = End::Stop,
                _ => {}
            }
            // In a cooperative case the harness's graceful cancel reaches
            // every task, so a cooperating child need not be cancelled by
            // its parent to end.
            if coop && !top && node.end == End::Stop && rng.chance(75) {
                node.action = match node.action {
                    Action::Cancel(_) => Action::Keep,
                    Action::CancelAwait(_) => Action::Await,
                    other => other,
                };
            }
            if !top && node.action.cancel_step().is_some() && rng.chance(30) {
                node.cancel_grace = Some(grace(rng));
            }
            if node.cancels.is_some() && rng.chance(30) {
                node.sibling_grace = Some(grace(rng));
            }
            if scoped && rng.chance(if coop { 5 } else { 12 }) {
                node.grace_period = Some(grace(rng));
            }
            if node.kind == Kind::Handle && rng.chance(if node.action.awaits() { 35 } else { 15 }) {
                node.timeout = Some(grace(rng));
            }
        }
        if coop {
            // The harness always asks, and waits longer than anyone needs.
            if let Action::Await = self.nodes[0].action {
                self.nodes[0].action = Action::CancelAwait(rng.below(64) as u8);
            }
            let long = COOP_GRACE.as_millis() as u64;
            self.top_cancel = if rng.chance(50) {
                TopCancel::Grace(long)
            } else {
                TopCancel::Shutdown(long)
            };
        } else {
            self.root_grace = rng.chance(15).then(|| grace(rng));
            self.top_cancel = match rng.below(10) {
                0..=3 => TopCancel::Plain,
                4..=6 => TopCancel::Grace(grace(rng)),
                _ => TopCancel::Shutdown(grace(rng)),
            };
        }
    }

    fn spec(&self, id: u32) -> &Spec {
        &self.nodes[id as usize]
    }

    /// The nodes reachable from the top (all but pruned subtrees), parents
    /// before children.
    fn reachable(&self) -> Vec<u32> {
        let mut order = vec![0];
        let mut i = 0;
        while i < order.len() {
            order.extend(self.spec(order[i]).children.iter().copied());
            i += 1;
        }
        order
    }

    fn size(&self) -> usize {
        self.reachable().len()
    }

    fn depth(&self) -> u32 {
        self.reachable()
            .iter()
            .map(|&id| self.spec(id).depth)
            .max()
            .unwrap_or(0)
    }

    /// This tree without the subtree of `id`.
    fn without(&self, id: u32) -> Tree {
        let mut tree = self.clone();
        if let Some(parent) = tree.spec(id).parent {
            tree.nodes[parent as usize].children.retain(|&c| c != id);
        }
        tree
    }

    fn render(&self) -> String {
        let mut out = format!(
            "tree of seed {:#x}: {} tasks, {} levels{}",
            self.seed,
            self.size(),
            self.depth(),
            if self.root_fail_fast {
                ", root fail-fast"
            } else {
                ""
            }
        );
        if let Some(ms) = self.root_grace {
            let _ = write!(out, ", root grace-period={ms}ms");
        }
        if self.top_cancel != TopCancel::Plain {
            let _ = write!(out, ", harness cancel {:?}", self.top_cancel);
        }
        if self.coop {
            out.push_str(", cooperative");
        } else if self.timed {
            out.push_str(", timed");
        }
        out.push('\n');
        let mut stack = vec![0u32];
        while let Some(id) = stack.pop() {
            let s = self.spec(id);
            let indent = "  ".repeat(s.depth as usize);
            let _ = write!(
                out,
                "{indent}#{} {:?} end={:?} steps={} yields={:#06b} action={:?}",
                s.id, s.kind, s.end, s.steps, s.yields, s.action
            );
            if s.late {
                out.push_str(" late");
            }
            if !s.children.is_empty() {
                let _ = write!(out, " late_at={}", s.late_at);
            }
            if s.fail_fast {
                out.push_str(" fail-fast");
            }
            if s.drop_panics {
                out.push_str(" drop-panics");
            }
            if let Some((target, at)) = s.cancels {
                let _ = write!(out, " cancels=#{target}@{at}");
            }
            if let Some(ms) = s.sibling_grace {
                let _ = write!(out, " sibling-grace={ms}ms");
            }
            if let Some(ms) = s.cancel_grace {
                let _ = write!(out, " cancel-grace={ms}ms");
            }
            if let Some(ms) = s.grace_period {
                let _ = write!(out, " grace-period={ms}ms");
            }
            if let Some(ms) = s.timeout {
                let _ = write!(out, " timeout={ms}ms");
            }
            out.push('\n');
            stack.extend(s.children.iter().rev().copied());
        }
        out
    }
}

fn new_spec(rng: &mut Rng, id: u32, parent: Option<&Spec>, depth: u32, top: bool) -> Spec {
    let kind = match rng.below(100) {
        _ if top && rng.chance(25) => Kind::Block,
        _ if top => Kind::Scoped,
        0..=44 => Kind::Scoped,
        45..=59 => Kind::Block,
        60..=79 => Kind::Leaf,
        _ => Kind::Handle,
    };
    let mut end = match rng.below(100) {
        0..=44 => End::Complete,
        45..=69 => End::Wait,
        70..=79 => End::Panic,
        _ => End::Error,
    };
    if end == End::Error && !matches!(kind, Kind::Handle | Kind::Block) {
        end = End::Complete;
    }
    let steps = 1 + rng.below(4) as u8;
    let late = !top && rng.chance(25);
    let action = match rng.below(100) {
        0..=34 => Action::Keep,
        35..=49 => Action::Forget,
        50..=64 => Action::Cancel(0),
        65..=84 => Action::Await,
        _ => Action::CancelAwait(0),
    };
    let action = match (action, parent) {
        (Action::Cancel(_) | Action::CancelAwait(_), Some(p)) => {
            let first = if late { p.late_at } else { 0 };
            let at = first + rng.step(p.steps - first);
            if matches!(action, Action::Cancel(_)) {
                Action::Cancel(at)
            } else {
                Action::CancelAwait(at)
            }
        }
        _ => action,
    };
    Spec {
        id,
        parent: parent.map(|p| p.id),
        depth,
        kind,
        end,
        steps,
        yields: rng.next() as u8 & ((1u8 << steps) - 1),
        late,
        late_at: rng.step(steps),
        fail_fast: kind == Kind::Scoped && rng.chance(25),
        drop_panics: !top && matches!(kind, Kind::Scoped | Kind::Block) && rng.chance(3),
        action,
        cancels: None,
        children: Vec::new(),
        cancel_grace: None,
        sibling_grace: None,
        grace_period: None,
        timeout: None,
    }
}

/// Whether a task ends without being cancelled. The generator makes every
/// awaited child, and every child of a block (which awaits them all when its
/// body returns), either end so or be cancelled by its parent; so every tree
/// terminates once its top task is cancelled, or on its own.
fn finishes(spec: &Spec) -> bool {
    !matches!(spec.end, End::Wait | End::Stop)
}

// ---------------------------------------------------------------------------
// The event log
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// A done receiver resolved.
    Signal,
    Value(u32),
    Error(u32),
    Cancelled,
    /// `is_deadline_exceeded` (a handle's timeout).
    DeadlineExceeded,
    Panicked,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockResult {
    Ok,
    Err(u32),
    Panicked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    /// The task's future (its drop guard) was made.
    Created(u32),
    Step(u32),
    /// The task's future was dropped.
    Dropped(u32),
    /// The task's future completed (it returns right after).
    Finished(u32),
    /// The task's spawner's `stop_requested()` resolved.
    StopSeen(u32),
    /// The `stop_requested()` of a block task's `try_scope` resolved in
    /// its body.
    BodyStopSeen(u32),
    /// The task's `done` ran.
    Done(u32),
    /// The spawn of this task returned `Ok`.
    Spawned(u32),
    /// The spawn of this task returned `Terminated`.
    Refused(u32),
    /// Task `by` cancelled task `of` (through its cancel sender or handle,
    /// or for the harness through the root's `shutdown_with_grace`), with
    /// a grace period of `grace` ms if given.
    Cancelled {
        by: u32,
        of: u32,
        grace: Option<u64>,
    },
    /// Task `by` (or the harness) awaited task `of`.
    Joined {
        by: u32,
        of: u32,
        outcome: Outcome,
    },
    /// The `try_scope` block of task `id` returned.
    Block {
        id: u32,
        result: BlockResult,
    },
    /// Something the harness did not expect, seen inside a task (a failed
    /// assertion there would be caught by the library).
    Violation(String),
}

impl Ev {
    /// The task whose code recorded this event.
    fn owner(&self, tree: &Tree) -> Option<u32> {
        match *self {
            Ev::Created(id)
            | Ev::Step(id)
            | Ev::Dropped(id)
            | Ev::Done(id)
            | Ev::Finished(id)
            | Ev::StopSeen(id)
            | Ev::BodyStopSeen(id) => Some(id),
            Ev::Spawned(id) | Ev::Refused(id) => tree.spec(id).parent,
            Ev::Cancelled { by, .. } | Ev::Joined { by, .. } => (by != HARNESS).then_some(by),
            Ev::Block { id, .. } => Some(id),
            Ev::Violation(_) => None,
        }
    }
}

/// What the tasks of one run share: the tree, the log, and the number of
/// futures alive.
#[derive(Clone)]
struct Ctx {
    tree: Arc<Tree>,
    log: Arc<Mutex<Vec<Ev>>>,
    live: Arc<AtomicIsize>,
}

impl Ctx {
    fn new(tree: Arc<Tree>) -> Self {
        Ctx {
            tree,
            log: Arc::default(),
            live: Arc::default(),
        }
    }

    fn push(&self, ev: Ev) {
        lock(&self.log).push(ev);
    }

    fn spec(&self, id: u32) -> &Spec {
        self.tree.spec(id)
    }

    /// A drop guard for the future of task `id`; records `Created` now.
    fn guard(&self, id: u32) -> Guard {
        self.live.fetch_add(1, Ordering::SeqCst);
        self.push(Ev::Created(id));
        Guard {
            ctx: self.clone(),
            id,
        }
    }

    fn done(&self, id: u32) -> impl FnOnce() + Send + 'static {
        let ctx = self.clone();
        move || ctx.push(Ev::Done(id))
    }
}

/// Records `Dropped` when the task's future is dropped, and panics then if
/// the task's spec says so (unless already unwinding).
struct Guard {
    ctx: Ctx,
    id: u32,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.ctx.push(Ev::Dropped(self.id));
        self.ctx.live.fetch_sub(1, Ordering::SeqCst);
        if self.ctx.spec(self.id).drop_panics && !std::thread::panicking() {
            panic!("intentional panic in the drop of #{}", self.id);
        }
    }
}

// ---------------------------------------------------------------------------
// Running a tree
// ---------------------------------------------------------------------------

/// A `try_scope` error: the id of the task (or block body) that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fail(u32);

impl From<SpawnError> for Fail {
    fn from(_: SpawnError) -> Self {
        Fail(HARNESS)
    }
}

type Out = Result<u32, Fail>;

/// What a parent holds of a child, shared with the child's siblings (which
/// may cancel it).
enum Held {
    Cancel(tasktree::CancelSender),
    Handle(TaskHandle<Out>),
}

type Table = Arc<Mutex<HashMap<u32, Held>>>;

/// Cancels child `of` through `table`, if it is still there: gracefully
/// if `grace` (in ms) is given.
fn cancel_in(table: &Table, of: u32, by: u32, ctx: &Ctx, grace: Option<u64>) {
    let mut table = lock(table);
    let sender = match table.get(&of) {
        Some(Held::Cancel(_)) => match table.remove(&of) {
            Some(Held::Cancel(sender)) => Some(sender),
            _ => unreachable!(),
        },
        Some(Held::Handle(handle)) => {
            match grace {
                Some(ms) => handle.cancel_with_grace(Duration::from_millis(ms)).unwrap(),
                None => handle.cancel(),
            }
            None
        }
        None => return,
    };
    drop(table);
    ctx.push(Ev::Cancelled { by, of, grace });
    match (sender, grace) {
        (Some(sender), Some(ms)) => sender.cancel_with_grace(Duration::from_millis(ms)).unwrap(),
        (sender, _) => drop(sender),
    }
}

/// Spawns task `id` through `spawner` (through `block`'s `spawn_try` for a
/// handle in a block), records the result, and files its signals in
/// `table`. Returns the done receiver if the parent will await it.
fn spawn_node<S>(
    spawner: &ScopedSpawner<S>,
    block: Option<&TryScope<Fail, S>>,
    id: u32,
    table: &Table,
    ctx: &Ctx,
) -> Option<DoneReceiver>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    let spec = ctx.spec(id);
    let parent_table = spec.cancels.map(|_| table.clone());
    let signals = match spec.kind {
        Kind::Handle => {
            let fut = leaf_future(ctx.clone(), id, parent_table);
            let result = match block {
                Some(block) => block.spawn_try(fut),
                None => spawner.spawn_task(fut),
            };
            match result {
                Ok(handle) => {
                    ctx.push(Ev::Spawned(id));
                    if let Some(ms) = spec.timeout {
                        handle.set_timeout(Duration::from_millis(ms)).unwrap();
                    }
                    if spec.action == Action::Forget {
                        handle.detach();
                    } else {
                        lock(table).insert(id, Held::Handle(handle));
                    }
                }
                Err(err) => refused(ctx, id, err),
            }
            return None;
        }
        Kind::Leaf => {
            let fut = leaf_future(ctx.clone(), id, parent_table).map(drop);
            spawner.spawn_future_with_signal(fut, ctx.done(id))
        }
        Kind::Scoped | Kind::Block => {
            let c = ctx.clone();
            spawner.spawn_with_signal(
                move |child| {
                    let guard = c.guard(id);
                    task_future(child, guard, parent_table, c)
                },
                ctx.done(id),
            )
        }
    };
    match signals {
        Ok(ParentSignals {
            cancel_sender,
            done_receiver,
        }) => {
            ctx.push(Ev::Spawned(id));
            if spec.action == Action::Forget {
                cancel_sender.forget();
            } else {
                lock(table).insert(id, Held::Cancel(cancel_sender));
            }
            spec.action.awaits().then_some(done_receiver)
        }
        Err(err) => {
            refused(ctx, id, err);
            None
        }
    }
}

fn refused(ctx: &Ctx, id: u32, err: SpawnError) {
    if err.is_terminated() {
        ctx.push(Ev::Refused(id));
    } else {
        ctx.push(Ev::Violation(format!("spawn of #{id}: {err:?}")));
    }
}

/// `fut`, checked: polling it again after it returned `Ready` (which an
/// `async` block answers with a panic) is recorded as a violation. The
/// future itself stays in place until the library drops it.
fn fused<T: Send + 'static>(
    ctx: Ctx,
    id: u32,
    mut fut: BoxFuture<'static, T>,
) -> BoxFuture<'static, T> {
    let mut completed = false;
    Box::pin(futures::future::poll_fn(move |cx| {
        if completed {
            ctx.push(Ev::Violation(format!("#{id} polled after it completed")));
            return Poll::Pending;
        }
        let poll = fut.as_mut().poll(cx);
        completed = poll.is_ready();
        poll
    }))
}

/// The future of a leaf or handle task.
fn leaf_future(ctx: Ctx, id: u32, parent_table: Option<Table>) -> BoxFuture<'static, Out> {
    let guard = ctx.guard(id);
    let c = ctx.clone();
    fused(
        c,
        id,
        Box::pin(async move {
            let _guard = guard;
            let spec = ctx.spec(id).clone();
            let table = Table::default();
            let mut none = Vec::new();
            run_steps::<NoSpawn>(
                None,
                None,
                &ctx,
                &spec,
                &table,
                parent_table.as_ref(),
                &mut none,
            )
            .await;
            end(&spec).await;
            ctx.push(Ev::Finished(id));
            if spec.end == End::Error {
                Err(Fail(id))
            } else {
                Ok(id)
            }
        }),
    )
}

/// A placeholder executor type for tasks that spawn nothing.
#[derive(Clone)]
struct NoSpawn;

impl Spawn for NoSpawn {
    fn spawn_obj(
        &self,
        _future: futures::future::FutureObj<'static, ()>,
    ) -> Result<(), futures::task::SpawnError> {
        Err(futures::task::SpawnError::shutdown())
    }
}

/// The future of a scoped or block task; `spawner` is its own.
fn task_future<S>(
    spawner: ScopedSpawner<S>,
    guard: Guard,
    parent_table: Option<Table>,
    ctx: Ctx,
) -> BoxFuture<'static, ()>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    let spec = ctx.spec(guard.id).clone();
    let id = spec.id;
    let c = ctx.clone();
    if spec.kind == Kind::Block {
        return fused(
            c,
            id,
            Box::pin(async move {
                let _guard = guard;
                let c = ctx.clone();
                let block = spawner
                    .try_scope(move |s: TryScope<Fail, S>| block_body(s, parent_table, c, id));
                let result = AssertUnwindSafe(block).catch_unwind().await;
                let (result, panic) = match result {
                    Ok(Ok(())) => (BlockResult::Ok, None),
                    Ok(Err(Fail(e))) => (BlockResult::Err(e), None),
                    Err(panic) => (BlockResult::Panicked, Some(panic)),
                };
                ctx.push(Ev::Block { id, result });
                if let Some(panic) = panic {
                    resume_unwind(panic);
                }
                match spec.end {
                    End::Wait => std::future::pending::<()>().await,
                    End::Stop => {
                        spawner.stop_requested().await;
                        ctx.push(Ev::StopSeen(id));
                    }
                    End::Complete | End::Error | End::Panic => {}
                }
                ctx.push(Ev::Finished(id));
            }),
        );
    }
    if spec.fail_fast {
        spawner.set_failure_policy(FailurePolicy::FailFast);
    }
    if let Some(ms) = spec.grace_period {
        spawner
            .set_grace_period(Some(Duration::from_millis(ms)))
            .unwrap();
    }
    let table = Table::default();
    let mut receivers = Vec::new();
    for &c in &spec.children {
        if !ctx.spec(c).late {
            if let Some(r) = spawn_node(&spawner, None, c, &table, &ctx) {
                receivers.push((c, r));
            }
        }
    }
    fused(
        c,
        id,
        Box::pin(async move {
            let _guard = guard;
            run_steps(
                Some(&spawner),
                None,
                &ctx,
                &spec,
                &table,
                parent_table.as_ref(),
                &mut receivers,
            )
            .await;
            join_children(&ctx, id, &table, receivers).await;
            if spec.end == End::Stop {
                spawner.stop_requested().await;
                ctx.push(Ev::StopSeen(id));
            } else {
                end(&spec).await;
            }
            ctx.push(Ev::Finished(id));
        }),
    )
}

/// The body of a block task's `try_scope`.
fn block_body<S>(
    s: TryScope<Fail, S>,
    parent_table: Option<Table>,
    ctx: Ctx,
    id: u32,
) -> BoxFuture<'static, Result<(), Fail>>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    let spec = ctx.spec(id).clone();
    if let Some(ms) = spec.grace_period {
        s.set_grace_period(Some(Duration::from_millis(ms))).unwrap();
    }
    let table = Table::default();
    let mut receivers = Vec::new();
    for &c in &spec.children {
        if !ctx.spec(c).late {
            if let Some(r) = spawn_node(&*s, Some(&s), c, &table, &ctx) {
                receivers.push((c, r));
            }
        }
    }
    Box::pin(async move {
        run_steps(
            Some(&*s),
            Some(&s),
            &ctx,
            &spec,
            &table,
            parent_table.as_ref(),
            &mut receivers,
        )
        .await;
        join_children(&ctx, id, &table, receivers).await;
        match spec.end {
            End::Error => Err(Fail(id)),
            End::Panic => panic!("intentional panic in the block body of #{id}"),
            End::Complete | End::Wait => Ok(()),
            End::Stop => {
                s.stop_requested().await;
                ctx.push(Ev::BodyStopSeen(id));
                Ok(())
            }
        }
    })
}

/// The steps of task `spec`: late spawns, cancels of its children and of
/// a sibling, yields.
async fn run_steps<S>(
    spawner: Option<&ScopedSpawner<S>>,
    block: Option<&TryScope<Fail, S>>,
    ctx: &Ctx,
    spec: &Spec,
    table: &Table,
    parent_table: Option<&Table>,
    receivers: &mut Vec<(u32, DoneReceiver)>,
) where
    S: Spawn + Clone + Send + Sync + 'static,
{
    for step in 0..spec.steps {
        ctx.push(Ev::Step(spec.id));
        if step == spec.late_at {
            if let Some(spawner) = spawner {
                for &c in &spec.children {
                    if ctx.spec(c).late {
                        if let Some(r) = spawn_node(spawner, block, c, table, ctx) {
                            receivers.push((c, r));
                        }
                    }
                }
            }
        }
        for &c in &spec.children {
            let child = ctx.spec(c);
            if child.action.cancel_step() == Some(step) {
                cancel_in(table, c, spec.id, ctx, child.cancel_grace);
            }
        }
        if let (Some((target, at)), Some(parent_table)) = (spec.cancels, parent_table) {
            if at == step {
                cancel_in(parent_table, target, spec.id, ctx, spec.sibling_grace);
            }
        }
        if spec.yields & (1 << step) != 0 {
            yield_now().await;
        }
    }
}

/// Awaits the children that the parent awaits, in order, and records how
/// each ended.
async fn join_children(ctx: &Ctx, id: u32, table: &Table, mut receivers: Vec<(u32, DoneReceiver)>) {
    for &c in &ctx.spec(id).children {
        let child = ctx.spec(c);
        if !child.action.awaits() {
            continue;
        }
        let outcome = if child.kind == Kind::Handle {
            let handle = match lock(table).remove(&c) {
                Some(Held::Handle(handle)) => handle,
                Some(Held::Cancel(_)) => unreachable!("a handle child has a handle"),
                None => continue, // refused, or never spawned
            };
            handle_outcome(handle.await)
        } else {
            let Some(i) = receivers.iter().position(|(r, _)| *r == c) else {
                continue;
            };
            receivers.swap_remove(i).1.await;
            Outcome::Signal
        };
        ctx.push(Ev::Joined {
            by: id,
            of: c,
            outcome,
        });
    }
}

fn handle_outcome(result: Result<Out, TaskError>) -> Outcome {
    match result {
        Ok(Ok(v)) => Outcome::Value(v),
        Ok(Err(Fail(e))) => Outcome::Error(e),
        Err(e) if e.is_cancelled() => Outcome::Cancelled,
        Err(e) if e.is_deadline_exceeded() => Outcome::DeadlineExceeded,
        Err(e) if e.is_panic() => Outcome::Panicked,
        Err(e) if e.is_failed() => Outcome::Failed,
        Err(e) => panic!("unknown task error {e:?}"),
    }
}

/// How a task's future ends after its steps (a block's body ends on its
/// own, in `block_body`; a cooperating task in `task_future`).
async fn end(spec: &Spec) {
    match spec.end {
        End::Complete | End::Error => {}
        End::Wait => std::future::pending::<()>().await,
        End::Panic => panic!("intentional panic of #{}", spec.id),
        End::Stop => unreachable!("only scoped and block tasks stop when asked"),
    }
}

/// The harness: spawns the top task from `root`, maybe cancels it after a
/// few yields, and awaits its done receiver. Returns the time from its
/// cancel to the done signal, if it cancelled.
async fn harness<S>(root: ScopedSpawner<S>, ctx: Ctx) -> Option<Duration>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    if ctx.tree.root_fail_fast {
        root.set_failure_policy(FailurePolicy::FailFast);
    }
    if let Some(ms) = ctx.tree.root_grace {
        root.set_grace_period(Some(Duration::from_millis(ms)))
            .unwrap();
    }
    let table = Table::default();
    let Some(done) = spawn_node(&root, None, 0, &table, &ctx) else {
        ctx.push(Ev::Violation("the top task was not spawned".into()));
        return None;
    };
    let mut shutdown = None;
    let mut cancelled_at = None;
    if let Action::CancelAwait(yields) = ctx.spec(0).action {
        for _ in 0..yields {
            yield_now().await;
        }
        cancelled_at = Some(Instant::now());
        match ctx.tree.top_cancel {
            TopCancel::Plain => cancel_in(&table, 0, HARNESS, &ctx, None),
            TopCancel::Grace(ms) => cancel_in(&table, 0, HARNESS, &ctx, Some(ms)),
            TopCancel::Shutdown(ms) => {
                ctx.push(Ev::Cancelled {
                    by: HARNESS,
                    of: 0,
                    grace: Some(ms),
                });
                shutdown = Some(root.shutdown_with_grace(Duration::from_millis(ms)).unwrap());
            }
        }
    }
    done.await;
    let waited = cancelled_at.map(|at| at.elapsed());
    ctx.push(Ev::Joined {
        by: HARNESS,
        of: 0,
        outcome: Outcome::Signal,
    });
    if let Some(shutdown) = shutdown {
        // The top was the root's only child: resolves at once.
        shutdown.await;
    }
    drop(table);
    waited
}

#[derive(Clone, Copy, Debug)]
enum Exec {
    TokioMultiThread,
    ThreadPool,
}

impl fmt::Display for Exec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exec::TokioMultiThread => "tokio multi-thread",
            Exec::ThreadPool => "futures ThreadPool",
        })
    }
}

/// What one run leaves to check.
struct Run {
    /// The log when the top task's done receiver resolved.
    at_top_done: Vec<Ev>,
    /// Futures alive then.
    live_at_top_done: isize,
    /// The log once the root was shut down and the executor dropped.
    at_end: Vec<Ev>,
    /// The root's live children after its shutdown.
    root_live: usize,
    /// From the harness's cancel of the top to its done signal.
    waited: Option<Duration>,
}

fn run_on(tree: Arc<Tree>, exec: Exec) -> Run {
    let ctx = Ctx::new(tree);
    let snapshot = |ctx: &Ctx| (lock(&ctx.log).clone(), ctx.live.load(Ordering::SeqCst));
    match exec {
        Exec::TokioMultiThread => {
            // As `common::tokio_multi_thread`, with the timer that grace
            // periods and deadlines need (without it they fire at once).
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .expect("a tokio runtime");
            let root = common::tokio_root(&runtime);
            let waited = runtime.block_on(harness(root.clone(), ctx.clone()));
            let (at_top_done, live_at_top_done) = snapshot(&ctx);
            runtime.block_on(root.shutdown());
            let root_live = root.live_children();
            drop(root);
            drop(runtime);
            Run {
                at_top_done,
                live_at_top_done,
                at_end: lock(&ctx.log).clone(),
                root_live,
                waited,
            }
        }
        Exec::ThreadPool => {
            let pool = common::thread_pool();
            let root = ScopedSpawner::new(pool.clone());
            let waited = futures::executor::block_on(harness(root.clone(), ctx.clone()));
            let (at_top_done, live_at_top_done) = snapshot(&ctx);
            futures::executor::block_on(root.shutdown());
            let root_live = root.live_children();
            drop(root);
            drop(pool);
            Run {
                at_top_done,
                live_at_top_done,
                at_end: lock(&ctx.log).clone(),
                root_live,
                waited,
            }
        }
    }
}

/// Runs `tree` once on `exec` on a thread of its own, within `deadline`,
/// and checks the log.
fn run_case(tree: &Tree, exec: Exec, deadline: Duration) -> Result<Stats, String> {
    let tree = Arc::new(tree.clone());
    let (tx, rx) = mpsc::channel();
    let t = tree.clone();
    std::thread::Builder::new()
        .name(format!("case {:#x}", tree.seed))
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| run_on(t, exec)));
            let _ = tx.send(result);
        })
        .expect("a case thread");
    match rx.recv_timeout(deadline) {
        Ok(Ok(run)) => check(&tree, &run).map_err(|msg| {
            if std::env::var_os("TASKTREE_PROPTEST_LOG").is_some() {
                format!("{msg}\nthe log of this run:\n{}", render_log(&run))
            } else {
                msg
            }
        }),
        Ok(Err(panic)) => Err(format!(
            "the harness panicked: {}",
            panic_text(panic.as_ref())
        )),
        // The case thread is left behind, hung.
        Err(_) => Err(format!(
            "hang: the tree did not terminate within {deadline:?} (a lost wake-up?)"
        )),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(not a string)".into())
}

// ---------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    /// Tasks in the trees.
    tasks: usize,
    /// Spawns that returned `Ok`, and `Terminated`.
    spawned: usize,
    refused: usize,
    /// Steps run by task futures.
    steps: usize,
    /// Cancels sent by parents, siblings and the harness.
    cancels: usize,
    /// Awaited children, by outcome.
    joins: usize,
    signals: usize,
    values: usize,
    errors: usize,
    cancelled: usize,
    panics: usize,
    failed: usize,
    /// `try_scope` blocks, by result.
    block_ok: usize,
    block_errors: usize,
    block_panics: usize,
    events: usize,
    // Graceful cancellation and deadlines (tokio):
    /// Decorated cases, and cooperative ones among them.
    timed_cases: usize,
    coop_cases: usize,
    /// Cancels with a grace period (of 0 ms too), the harness's included.
    graceful_cancels: usize,
    /// Spawned tasks (and roots) with a grace period.
    grace_periods: usize,
    /// Spawned handles with a timeout, and awaited handles whose timeout
    /// fired (`is_deadline_exceeded`).
    timeouts: usize,
    deadline_exceeded: usize,
    /// Task futures that completed.
    finished: usize,
    /// Stop requests seen by cooperating tasks (`StopSeen`), and by block
    /// bodies.
    stops_seen: usize,
    body_stops_seen: usize,
    /// Cooperating tasks that had to see the stop request and complete.
    must_stop: usize,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.tasks += o.tasks;
        self.spawned += o.spawned;
        self.refused += o.refused;
        self.steps += o.steps;
        self.cancels += o.cancels;
        self.joins += o.joins;
        self.signals += o.signals;
        self.values += o.values;
        self.errors += o.errors;
        self.cancelled += o.cancelled;
        self.panics += o.panics;
        self.failed += o.failed;
        self.block_ok += o.block_ok;
        self.block_errors += o.block_errors;
        self.block_panics += o.block_panics;
        self.events += o.events;
        self.timed_cases += o.timed_cases;
        self.coop_cases += o.coop_cases;
        self.graceful_cancels += o.graceful_cancels;
        self.grace_periods += o.grace_periods;
        self.timeouts += o.timeouts;
        self.deadline_exceeded += o.deadline_exceeded;
        self.finished += o.finished;
        self.stops_seen += o.stops_seen;
        self.body_stops_seen += o.body_stops_seen;
        self.must_stop += o.must_stop;
    }
}

/// Whether task `id` can fail as seen by its parent's scope: end with a
/// panic (of its future, its destructor, its fail-fast scope or its block),
/// or, as a `spawn_try` child, with an error.
fn can_fail(tree: &Tree, id: u32) -> bool {
    let s = tree.spec(id);
    let in_block = s.parent.is_some_and(|p| tree.spec(p).kind == Kind::Block);
    if s.end == End::Panic
        || s.drop_panics
        || (in_block && s.kind == Kind::Handle && s.end == End::Error)
    {
        return true;
    }
    match s.kind {
        Kind::Scoped => s.fail_fast && s.children.iter().any(|&c| can_fail(tree, c)),
        Kind::Block => s.children.iter().any(|&c| can_panic(tree, c)),
        Kind::Leaf | Kind::Handle => false,
    }
}

/// As `can_fail`, counting panics only.
fn can_panic(tree: &Tree, id: u32) -> bool {
    let s = tree.spec(id);
    can_fail(tree, id) && !(s.kind == Kind::Handle && s.end != End::Panic)
}

/// Whether the scope of task `id` (a block's: its `try_scope`'s) is
/// fail-fast and can see a child fail, which closes it while the task's
/// future runs.
fn scope_can_fail(tree: &Tree, id: u32) -> bool {
    let s = tree.spec(id);
    (s.kind == Kind::Block || (s.kind == Kind::Scoped && s.fail_fast))
        && s.children.iter().any(|&c| can_fail(tree, c))
}

/// Whether a grace period of `ms` makes a cancel graceful: one of 0 ms has
/// passed when it is made, and cancels at once.
fn graceful(ms: Option<u64>) -> bool {
    ms.is_some_and(|ms| ms > 0)
}

/// Whether task `id` can be asked to stop (its slot can get a stop
/// request): a graceful cancel of it, by its parent's grace period, its
/// parent's or a sibling's `cancel_with_grace`, or the harness's; or a stop
/// request of its parent, which reaches every child.
fn can_be_asked(tree: &Tree, id: u32) -> bool {
    let s = tree.spec(id);
    let Some(p) = s.parent else {
        let harness = s.action.cancel_step().is_some() && graceful(tree.top_cancel.grace_ms());
        return harness || graceful(tree.root_grace);
    };
    let parent = tree.spec(p);
    graceful(parent.grace_period)
        || (s.action.cancel_step().is_some() && graceful(s.cancel_grace))
        || parent.children.iter().any(|&c| {
            let c = tree.spec(c);
            c.cancels.is_some_and(|(t, _)| t == id) && graceful(c.sibling_grace)
        })
        || can_be_asked(tree, p)
}

/// Whether the spawner of task `id` can see a stop request while its
/// future runs: it was asked to stop, or its own fail-fast scope closed.
fn stop_possible(tree: &Tree, id: u32) -> bool {
    let s = tree.spec(id);
    can_be_asked(tree, id) || (s.kind == Kind::Scoped && scope_can_fail(tree, id))
}

/// As `stop_possible`, for the spawner of block task `id`'s `try_scope`,
/// which also closes when a child fails.
fn body_stop_possible(tree: &Tree, id: u32) -> bool {
    can_be_asked(tree, id) || scope_can_fail(tree, id)
}

/// Whether cooperating task `id` must see the stop request and complete:
/// in a cooperative case (where the harness cancels the top with
/// [`COOP_GRACE`]), every task on its path from the top cooperates, is
/// cancelled by nobody but the harness, is the child of a scope with no
/// grace period (which would cut the harness's short when its owner
/// completes), and has no fail-fast scope that can fail.
fn must_stop(tree: &Tree, id: u32) -> bool {
    if !tree.coop || tree.root_grace.is_some() {
        return false;
    }
    let mut a = id;
    loop {
        let s = tree.spec(a);
        if s.end != End::Stop || scope_can_fail(tree, a) {
            return false;
        }
        let Some(p) = s.parent else {
            return s.action.cancel_step().is_some() && tree.top_cancel.grace_ms().is_some();
        };
        let parent = tree.spec(p);
        let targeted = parent
            .children
            .iter()
            .any(|&c| tree.spec(c).cancels.is_some_and(|(t, _)| t == a));
        if s.action.cancel_step().is_some() || targeted || parent.grace_period.is_some() {
            return false;
        }
        a = p;
    }
}

/// Whether the scope that task `id` is a child of is fail-fast.
fn fail_fast_scope(tree: &Tree, id: u32) -> bool {
    match tree.spec(id).parent {
        None => tree.root_fail_fast,
        Some(p) => {
            let p = tree.spec(p);
            p.kind == Kind::Block || p.fail_fast
        }
    }
}

fn check(tree: &Tree, run: &Run) -> Result<Stats, String> {
    let log = &run.at_top_done;
    let mut errors = Vec::new();
    let mut fail = |msg: String| {
        if errors.len() < 20 {
            errors.push(msg);
        }
    };
    let n = tree.nodes.len();
    let reachable = tree.reachable();
    let mut is_reachable = vec![false; n];
    for &id in &reachable {
        is_reachable[id as usize] = true;
    }
    let mut created = vec![Vec::new(); n];
    let mut dropped = vec![Vec::new(); n];
    let mut done = vec![Vec::new(); n];
    let mut steps = vec![Vec::new(); n];
    let mut finished = vec![Vec::new(); n];
    let mut stop_seen = vec![Vec::new(); n];
    let mut body_stop_seen = vec![Vec::new(); n];
    let mut spawned = vec![0usize; n];
    let mut refused = vec![0usize; n];
    let mut last = vec![None::<usize>; n];
    let mut stats = Stats {
        tasks: reachable.len(),
        events: log.len(),
        timed_cases: usize::from(tree.timed),
        coop_cases: usize::from(tree.coop),
        grace_periods: usize::from(tree.root_grace.is_some()),
        ..Stats::default()
    };
    for (pos, ev) in log.iter().enumerate() {
        if let Some(owner) = ev.owner(tree) {
            if !is_reachable[owner as usize] {
                fail(format!("event {ev:?} of the pruned task #{owner}"));
                continue;
            }
            last[owner as usize] = Some(pos);
        }
        match ev {
            Ev::Created(id) => created[*id as usize].push(pos),
            Ev::Step(id) => {
                steps[*id as usize].push(pos);
                stats.steps += 1;
            }
            Ev::Dropped(id) => dropped[*id as usize].push(pos),
            Ev::Done(id) => done[*id as usize].push(pos),
            Ev::Finished(id) => {
                finished[*id as usize].push(pos);
                stats.finished += 1;
            }
            Ev::StopSeen(id) => {
                stop_seen[*id as usize].push(pos);
                stats.stops_seen += 1;
                let s = tree.spec(*id);
                if s.end != End::Stop || !stop_possible(tree, *id) {
                    fail(format!("#{id} saw a stop request nothing could make"));
                }
            }
            Ev::BodyStopSeen(id) => {
                body_stop_seen[*id as usize].push(pos);
                stats.body_stops_seen += 1;
                let s = tree.spec(*id);
                if s.kind != Kind::Block || s.end != End::Stop || !body_stop_possible(tree, *id) {
                    fail(format!(
                        "the block body of #{id} saw a stop request nothing could make"
                    ));
                }
            }
            Ev::Spawned(id) => {
                spawned[*id as usize] += 1;
                stats.spawned += 1;
                let s = tree.spec(*id);
                stats.grace_periods += usize::from(s.grace_period.is_some());
                stats.timeouts += usize::from(s.timeout.is_some());
            }
            Ev::Refused(id) => {
                refused[*id as usize] += 1;
                stats.refused += 1;
            }
            Ev::Cancelled { grace, .. } => {
                stats.cancels += 1;
                stats.graceful_cancels += usize::from(grace.is_some());
            }
            Ev::Joined { by, of, outcome } => {
                stats.joins += 1;
                match outcome {
                    Outcome::Signal => stats.signals += 1,
                    Outcome::Value(_) => stats.values += 1,
                    Outcome::Error(_) => stats.errors += 1,
                    Outcome::Cancelled => stats.cancelled += 1,
                    Outcome::DeadlineExceeded => stats.deadline_exceeded += 1,
                    Outcome::Panicked => stats.panics += 1,
                    Outcome::Failed => stats.failed += 1,
                }
                if *by != HARNESS {
                    if let Err(msg) = check_outcome(tree, *of, *outcome) {
                        fail(format!("#{by} awaited #{of}: {msg}"));
                    }
                    // A handle's outcome says whether its future completed
                    // (a later `Finished` fails the G1 check below).
                    let completed = !finished[*of as usize].is_empty();
                    let expected = match outcome {
                        Outcome::Signal => completed,
                        Outcome::Value(_) | Outcome::Error(_) => true,
                        Outcome::Cancelled | Outcome::DeadlineExceeded | Outcome::Panicked => false,
                        Outcome::Failed => tree.spec(*of).end == End::Error,
                    };
                    if completed != expected {
                        fail(format!(
                            "#{by} awaited #{of}: outcome {outcome:?}, but its future {} \
                             complete",
                            if completed { "did" } else { "did not" }
                        ));
                    }
                }
            }
            Ev::Block { id, result } => {
                match result {
                    BlockResult::Ok => stats.block_ok += 1,
                    BlockResult::Err(_) => stats.block_errors += 1,
                    BlockResult::Panicked => stats.block_panics += 1,
                }
                if let Err(msg) = check_block(tree, *id, *result) {
                    fail(format!("block of #{id}: {msg}"));
                }
            }
            Ev::Violation(msg) => fail(format!("violation: {msg}")),
        }
    }

    // The last event of each subtree, children before parents.
    let mut subtree_last = last.clone();
    for &id in reachable.iter().rev() {
        if let Some(parent) = tree.spec(id).parent {
            let (p, c) = (parent as usize, id as usize);
            subtree_last[p] = subtree_last[p].max(subtree_last[c]);
        }
    }

    for &id in &reachable {
        let i = id as usize;
        let s = tree.spec(id);
        match (spawned[i], refused[i]) {
            (1, 0) => {
                if created[i].len() != 1 || dropped[i].len() != 1 {
                    fail(format!(
                        "#{id}: future made {} times and dropped {} times (G4)",
                        created[i].len(),
                        dropped[i].len()
                    ));
                    continue;
                }
                let (c, d) = (created[i][0], dropped[i][0]);
                if c > d {
                    fail(format!("#{id}: dropped before it was made"));
                }
                if let Some(&st) = steps[i].last() {
                    if st > d {
                        fail(format!("#{id}: a step after its future was dropped"));
                    }
                }
                if let Err(msg) =
                    check_stops(tree, id, d, &finished[i], &stop_seen[i], &body_stop_seen[i])
                {
                    fail(format!("#{id}: {msg}"));
                }
                if must_stop(tree, id) {
                    stats.must_stop += 1;
                }
                if s.has_done() {
                    if done[i].len() != 1 {
                        fail(format!("#{id}: `done` ran {} times (G4)", done[i].len()));
                        continue;
                    }
                    let dn = done[i][0];
                    if d > dn {
                        fail(format!("#{id}: `done` ran before its future was dropped"));
                    }
                    if subtree_last[i] != Some(dn) {
                        let at = subtree_last[i].unwrap_or(0);
                        fail(format!(
                            "#{id}: event {:?} of its subtree after its `done` (G1, G2, G5)",
                            log[at]
                        ));
                    }
                }
                if s.kind == Kind::Scoped {
                    // Its `fun` ran, and tried every early child.
                    for &c in &s.children {
                        let ci = c as usize;
                        if !tree.spec(c).late && spawned[ci] + refused[ci] == 0 {
                            fail(format!("#{id}: child #{c} was never spawned in `fun`"));
                        }
                    }
                }
            }
            (0, 1) => {
                if !done[i].is_empty() {
                    fail(format!("#{id}: refused, but its `done` ran (G5)"));
                }
                if created[i].len() != dropped[i].len() || created[i].len() > 1 {
                    fail(format!(
                        "#{id}: refused; future made {} times, dropped {} times",
                        created[i].len(),
                        dropped[i].len()
                    ));
                }
                if !steps[i].is_empty() || !finished[i].is_empty() || !stop_seen[i].is_empty() {
                    fail(format!("#{id}: refused, but its future ran"));
                }
            }
            (0, 0) => {
                if last[i].is_some() {
                    fail(format!("#{id}: never spawned, yet it has events"));
                }
            }
            (n, m) => fail(format!("#{id} spawned {n} times, refused {m} times")),
        }
    }

    // Every join after every event of the joined subtree (G1).
    for (pos, ev) in log.iter().enumerate() {
        if let Ev::Joined { of, .. } = ev {
            if let Some(at) = subtree_last[*of as usize] {
                if at > pos {
                    fail(format!("{ev:?} before {:?} of its subtree (G1)", log[at]));
                }
            }
        }
    }
    if !matches!(
        log.last(),
        Some(Ev::Joined {
            by: HARNESS,
            of: 0,
            ..
        })
    ) {
        fail(format!(
            "the top's done signal is not the last event: {:?}",
            log.last()
        ));
    }
    if run.live_at_top_done != 0 {
        fail(format!(
            "{} futures alive after the top's done signal (G1)",
            run.live_at_top_done
        ));
    }
    if run.at_end.len() != log.len() {
        fail(format!(
            "events after the top's done signal: {:?}",
            &run.at_end[log.len()..]
        ));
    }
    if run.root_live != 0 {
        fail(format!(
            "the root still counts {} children after its shutdown",
            run.root_live
        ));
    }
    // In a cooperative case every task ends on its own, stops when asked,
    // or is cancelled by a short grace period: none waits for the cancel
    // at the end of the harness's.
    if let (true, Some(waited)) = (tree.coop, run.waited) {
        if waited >= COOP_GRACE {
            fail(format!(
                "cooperative, yet the tree took {waited:?} to end after the harness's cancel \
                 with a grace period of {COOP_GRACE:?}: a task waited for the cancel (it never \
                 saw the stop request)"
            ));
        }
    }
    if errors.is_empty() {
        Ok(stats)
    } else {
        Err(errors.join("\n"))
    }
}

/// The log of a run, one event a line, for `TASKTREE_PROPTEST_LOG`.
fn render_log(run: &Run) -> String {
    let mut out = String::new();
    for (pos, ev) in run.at_end.iter().enumerate() {
        let _ = writeln!(out, "{pos:5} {ev:?}");
    }
    out
}

/// The completion and the stop requests seen by spawned task `id`, whose
/// future was dropped at `dropped`: each at most once and before the drop;
/// a completion only for an ending that has one, and a cooperating task's
/// only after the stop request; and in a cooperative case, the stop
/// request and the completion of every task that `must_stop`.
fn check_stops(
    tree: &Tree,
    id: u32,
    dropped: usize,
    finished: &[usize],
    stop_seen: &[usize],
    body_stop_seen: &[usize],
) -> Result<(), String> {
    let s = tree.spec(id);
    for (what, positions) in [
        ("completed", finished),
        ("saw the stop request", stop_seen),
        ("saw the stop request in its block", body_stop_seen),
    ] {
        if positions.len() > 1 {
            return Err(format!("{what} {} times", positions.len()));
        }
        if positions.first().is_some_and(|&p| p > dropped) {
            return Err(format!("{what} after its future was dropped"));
        }
    }
    if let Some(&f) = finished.first() {
        let can_complete = match s.kind {
            Kind::Scoped => matches!(s.end, End::Complete | End::Stop),
            // A block's body that would panic may be cancelled by a
            // failing child first; the block task then completes.
            Kind::Block => s.end != End::Wait,
            Kind::Leaf | Kind::Handle => matches!(s.end, End::Complete | End::Error),
        };
        if !can_complete {
            return Err(format!(
                "its future completed, but it ends with {:?}",
                s.end
            ));
        }
        if s.end == End::Stop && stop_seen.first().is_none_or(|&p| p > f) {
            return Err("a cooperating task completed before it was asked to stop".into());
        }
    }
    if must_stop(tree, id) {
        let body = s.kind != Kind::Block || !body_stop_seen.is_empty();
        if stop_seen.is_empty() || !body || finished.is_empty() {
            return Err(format!(
                "cooperating, and asked to stop only by the harness's cancel with a grace \
                 period of {COOP_GRACE:?}, but it was cancelled (stop seen: {}, in its block: \
                 {body}, completed: {})",
                !stop_seen.is_empty(),
                !finished.is_empty()
            ));
        }
    }
    Ok(())
}

/// Whether a handle's outcome is one that child `of` can have.
fn check_outcome(tree: &Tree, of: u32, outcome: Outcome) -> Result<(), String> {
    let s = tree.spec(of);
    if s.kind != Kind::Handle {
        return if outcome == Outcome::Signal {
            Ok(())
        } else {
            Err(format!("a done receiver with outcome {outcome:?}"))
        };
    }
    let parent = tree.spec(s.parent.expect("the top has no handle"));
    let in_block = parent.kind == Kind::Block;
    let fail_fast = fail_fast_scope(tree, of);
    let targeted = parent
        .children
        .iter()
        .any(|&c| tree.spec(c).cancels.is_some_and(|(t, _)| t == of));
    let sibling_fails = parent
        .children
        .iter()
        .any(|&c| c != of && can_fail(tree, c));
    let allowed = match outcome {
        Outcome::Signal => false,
        Outcome::DeadlineExceeded => s.timeout.is_some(),
        Outcome::Value(v) => v == of && s.end == End::Complete,
        Outcome::Error(e) => e == of && s.end == End::Error,
        Outcome::Panicked => s.end == End::Panic,
        Outcome::Failed => fail_fast && (s.end == End::Panic || (in_block && s.end == End::Error)),
        // In a block, the block's own cancellation (its owner ended) may be
        // seen by the body in the same poll.
        Outcome::Cancelled => {
            in_block
                || matches!(s.action, Action::CancelAwait(_))
                || targeted
                || (fail_fast && sibling_fails)
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(format!("outcome {outcome:?} impossible for {s:?}"))
    }
}

/// Whether a block's result is one that block task `id` can have.
fn check_block(tree: &Tree, id: u32, result: BlockResult) -> Result<(), String> {
    let s = tree.spec(id);
    let allowed = match result {
        BlockResult::Ok => matches!(s.end, End::Complete | End::Wait | End::Stop),
        BlockResult::Err(e) => {
            (e == id && s.end == End::Error)
                || (s.children.contains(&e) && {
                    let c = tree.spec(e);
                    c.kind == Kind::Handle && c.end == End::Error
                })
        }
        BlockResult::Panicked => {
            s.end == End::Panic || s.children.iter().any(|&c| can_panic(tree, c))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(format!("result {result:?} impossible"))
    }
}

// ---------------------------------------------------------------------------
// Cases, shrinking, figures
// ---------------------------------------------------------------------------

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => value.replace('_', "").parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={value:?} is not a number")))
}

fn run_cases(exec: Exec) {
    quiet_intentional_panics();
    let cases = env_u64("TASKTREE_PROPTEST_CASES").unwrap_or(DEFAULT_CASES);
    let base = env_u64("TASKTREE_PROPTEST_SEED").unwrap_or(DEFAULT_SEED);
    let start = Instant::now();
    let mut total = Stats::default();
    let (mut largest, mut deepest) = (0, 0);
    for i in 0..cases {
        let seed = base.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let tree = Tree::generate(seed, matches!(exec, Exec::TokioMultiThread));
        largest = largest.max(tree.size());
        deepest = deepest.max(tree.depth());
        match run_case(&tree, exec, CASE_DEADLINE) {
            Ok(stats) => total.add(&stats),
            Err(msg) => {
                let smallest = shrink(&tree, exec);
                let shown = if tree.size() <= 200 {
                    tree.render()
                } else {
                    format!("(tree of {} tasks not shown)\n", tree.size())
                };
                // With `TASKTREE_PROPTEST_LOG` set, a failing run of the
                // smallest tree, with its log.
                let again = match std::env::var_os("TASKTREE_PROPTEST_LOG") {
                    Some(_) => (0..3)
                        .find_map(|_| run_case(&smallest, exec, SHRINK_DEADLINE).err())
                        .map(|msg| format!("\na run of the smallest tree:\n{msg}\n"))
                        .unwrap_or_default(),
                    None => String::new(),
                };
                panic!(
                    "case {i} on {exec} failed; rerun with TASKTREE_PROPTEST_SEED={seed:#x} \
                     TASKTREE_PROPTEST_CASES=1\n{msg}\n\n{shown}\nsmallest failing tree \
                     found:\n{}{again}",
                    smallest.render()
                );
            }
        }
    }
    eprintln!(
        "property ({exec}): {cases} cases in {:.2?}, seed {base:#x}; largest tree {largest} \
         tasks, deepest {deepest} levels; {total:?}",
        start.elapsed()
    );
}

/// Drops subtrees, biggest first, while the tree still fails in one of
/// three runs; returns the smallest failing tree found.
fn shrink(tree: &Tree, exec: Exec) -> Tree {
    let mut best = tree.clone();
    let mut runs = 0;
    let fails = |candidate: &Tree, runs: &mut usize| {
        (0..3).any(|_| {
            *runs += 1;
            run_case(candidate, exec, SHRINK_DEADLINE).is_err()
        })
    };
    loop {
        let mut nodes: Vec<u32> = best.reachable().into_iter().skip(1).collect();
        let sizes: HashMap<u32, usize> = nodes
            .iter()
            .map(|&id| (id, subtree_size(&best, id)))
            .collect();
        nodes.sort_by_key(|id| std::cmp::Reverse(sizes[id]));
        let mut improved = false;
        for id in nodes {
            if runs >= SHRINK_RUNS {
                return best;
            }
            let candidate = best.without(id);
            if fails(&candidate, &mut runs) {
                best = candidate;
                improved = true;
                break;
            }
        }
        if !improved {
            return best;
        }
    }
}

fn subtree_size(tree: &Tree, id: u32) -> usize {
    1 + tree
        .spec(id)
        .children
        .iter()
        .map(|&c| subtree_size(tree, c))
        .sum::<usize>()
}
