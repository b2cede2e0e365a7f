//! Fault injection (issue 5): panics in `done` callbacks and in futures'
//! `Drop`, executors whose `spawn_obj` refuses (after N spawns, or every
//! k-th) or panics, and tokio runtimes shut down while a tree is alive. In
//! each case the library neither hangs nor loses a done signal nor panics
//! itself (G3, G4, G5): every future made is dropped once, every registered
//! task's `done` runs once and after its children's, and errors reach the
//! caller (`SpawnError::Executor`, a panicking task's handle, a scope block
//! that resumes the panic).
//!
//! Each test counts the faults it injected and prints the count (shown with
//! `-- --nocapture`). A panic whose message does not start with
//! `"intentional"` is counted by the panic hook and fails the test that saw
//! it: that is how a panic of the library itself, which an executor might
//! swallow, would show.
#![allow(clippy::disallowed_types)]

mod common;

use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::Duration;

use common::{lock, on_each_executor, Counter, Log, ManualExecutor};
use futures::channel::{mpsc as channel, oneshot};
use futures::future::{BoxFuture, FutureObj};
use futures::task::Spawn;
use futures::{FutureExt, StreamExt};
use tasktree::{FailurePolicy, ParentSignals, ScopedSpawn, ScopedSpawner, SpawnError};

// ---------------------------------------------------------------------------
// Panic bookkeeping
// ---------------------------------------------------------------------------

/// Panics whose message does not start with "intentional".
static UNEXPECTED_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Installs (once) a hook that stays quiet for intentional panics and counts
/// (and reports) every other one.
fn watch_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if message.is_some_and(|m| m.starts_with("intentional")) {
                return;
            }
            UNEXPECTED_PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

#[track_caller]
fn assert_no_unexpected_panic() {
    assert_eq!(
        UNEXPECTED_PANICS.load(Ordering::SeqCst),
        0,
        "a panic that was not injected (see the output above)"
    );
}

/// A test still running after this has hung: the process exits with a
/// message instead (a lost wake-up or done signal, G3).
const DEADLINE: Duration = Duration::from_secs(120);

/// Counts the faults a test injects, and prints them at its end; fails
/// the whole test binary if the test hangs.
struct Faults {
    test: &'static str,
    count: Counter,
    finished: Arc<AtomicBool>,
}

impl Faults {
    fn new(test: &'static str) -> Self {
        watch_panics();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        // Under Miri, time is virtual, and a hang shows as Miri's deadlock
        // error (every thread blocked).
        if cfg!(not(miri)) {
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                while !flag.load(Ordering::SeqCst) {
                    if start.elapsed() > DEADLINE {
                        // Not `eprintln!`, which the test harness captures.
                        let _ = writeln!(
                            std::io::stderr(),
                            "{test}: hung for {DEADLINE:?} (a lost wake-up or done signal?)"
                        );
                        std::process::exit(101);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        }
        Faults {
            test,
            count: Counter::new(),
            finished,
        }
    }

    fn add(&self, n: usize) {
        for _ in 0..n {
            self.count.incr();
        }
    }
}

impl Drop for Faults {
    fn drop(&mut self) {
        self.finished.store(true, Ordering::SeqCst);
        if !std::thread::panicking() {
            eprintln!("{}: {} faults injected", self.test, self.count.get());
            assert!(self.count.get() > 0, "{}: no fault was injected", self.test);
            assert_no_unexpected_panic();
        }
    }
}

/// Runs `future` to completion on a thread of its own; fails (instead of
/// hanging) if it takes longer than a minute: a lost wake-up or done signal.
#[track_caller]
fn block_on_within_a_minute<F>(future: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(futures::executor::block_on(future));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("hang: not done within a minute (a lost done signal?)")
}

// ---------------------------------------------------------------------------
// The tree
// ---------------------------------------------------------------------------

/// Where user code panics, and what else the tree holds.
#[derive(Clone, Copy, Debug, Default)]
struct Inject {
    /// Every `done` callback panics (after logging).
    done: bool,
    /// Every future's drop guard panics (after logging).
    drop: bool,
    /// Each mid also has a leaf that never stops waking itself, so that
    /// executor threads are busy when the tree is torn down.
    busy: bool,
}

const MIDS: usize = 3;
/// The tasks of the tree: top, 3 mids, 2 early and 1 late leaf per mid.
const TASKS: usize = 1 + MIDS * 4;

/// Logs `"{name} future dropped"` when dropped, then panics if asked to.
struct Guard {
    log: Log,
    name: String,
    panic: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.log.push(format!("{} future dropped", self.name));
        if self.panic && !std::thread::panicking() {
            panic!("intentional panic in the drop of {}", self.name);
        }
    }
}

fn guard(log: &Log, name: &str, inject: Inject) -> Guard {
    log.push(format!("{name} future made"));
    Guard {
        log: log.clone(),
        name: name.to_owned(),
        panic: inject.drop,
    }
}

/// A `done` that logs `"{name} done"`, then panics if asked to.
fn done(log: &Log, name: &str, inject: Inject) -> impl FnOnce() + Send + 'static {
    let (log, name) = (log.clone(), name.to_owned());
    move || {
        log.push(format!("{name} done"));
        if inject.done {
            panic!("intentional panic in the done of {name}");
        }
    }
}

/// Logs how the spawn of `name` went, as its caller saw it.
fn record<T>(log: &Log, name: &str, result: Result<T, SpawnError>) -> Option<T> {
    match result {
        Ok(value) => {
            log.push(format!("{name} spawned"));
            Some(value)
        }
        Err(err) => {
            log.push(format!("{name} refused: {err:?}"));
            None
        }
    }
}

async fn pending_with(guard: Guard) {
    let _guard = guard;
    std::future::pending::<()>().await
}

async fn busy_with(guard: Guard) {
    let _guard = guard;
    common::busy(Counter::new()).await
}

/// What the harness holds of a spawned tree.
struct Tree {
    /// The top's signals, if its spawn succeeded.
    top: Option<ParentSignals>,
    /// Closes once every mid has tried its late spawn or was dropped.
    ready: channel::UnboundedReceiver<()>,
    /// Resolves when the top's `done` has run (whether or not its spawn
    /// succeeded).
    top_done: oneshot::Receiver<()>,
}

/// Spawns `top -> m0..m2 -> {l0, l1 (in the mid's fun), late (from the
/// mid's future)}`, all pending; logs every spawn result, future made and
/// dropped, and `done`.
fn spawn_tree<S>(root: &ScopedSpawner<S>, log: &Log, inject: Inject) -> Tree
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    let (ready_tx, ready) = channel::unbounded();
    let (top_done_tx, top_done) = oneshot::channel();
    let l = log.clone();
    let top_log_done = done(log, "top", inject);
    let top = root.spawn_with_signal(
        move |top| {
            let top_guard = guard(&l, "top", inject);
            for m in 0..MIDS {
                let name = format!("m{m}");
                let (l2, ready_tx) = (l.clone(), ready_tx.clone());
                let n = name.clone();
                let result = top.spawn(
                    move |mid| {
                        let mid_guard = guard(&l2, &n, inject);
                        for leaf in ["l0", "l1"] {
                            let leaf = format!("{n}.{leaf}");
                            let fut = pending_with(guard(&l2, &leaf, inject));
                            record(&l2, &leaf, mid.spawn_future(fut, done(&l2, &leaf, inject)));
                        }
                        if inject.busy {
                            let leaf = format!("{n}.busy");
                            let fut = busy_with(guard(&l2, &leaf, inject));
                            record(&l2, &leaf, mid.spawn_future(fut, done(&l2, &leaf, inject)));
                        }
                        async move {
                            let _guard = mid_guard;
                            let late = format!("{n}.late");
                            let fut = pending_with(guard(&l2, &late, inject));
                            record(&l2, &late, mid.spawn_future(fut, done(&l2, &late, inject)));
                            let _ = ready_tx.unbounded_send(());
                            drop(ready_tx);
                            std::future::pending::<()>().await
                        }
                    },
                    done(&l, &name, inject),
                );
                record(&l, &name, result);
            }
            drop(ready_tx);
            pending_with(top_guard)
        },
        move || {
            let _ = top_done_tx.send(());
            top_log_done();
        },
    );
    Tree {
        top: record(log, "top", top),
        ready,
        top_done,
    }
}

/// The names of the tasks whose spawn was tried, and the tasks each one's
/// `done` must follow (its children).
fn tasks(inject: Inject) -> Vec<(String, Vec<String>)> {
    let mut tasks = Vec::new();
    let mut mids = Vec::new();
    for m in 0..MIDS {
        let mut leaves = vec![format!("m{m}.l0"), format!("m{m}.l1"), format!("m{m}.late")];
        if inject.busy {
            leaves.push(format!("m{m}.busy"));
        }
        for leaf in &leaves {
            tasks.push((leaf.clone(), Vec::new()));
        }
        tasks.push((format!("m{m}"), leaves));
        mids.push(format!("m{m}"));
    }
    tasks.push(("top".to_owned(), mids));
    tasks
}

/// Checks the log of a tree that has terminated: every task whose spawn
/// was tried (`spawned` or refused by the executor) made its future once,
/// dropped it once, and ran its `done` once, after its future's drop and
/// after its children's `done`s; a task never tried left no trace. Returns
/// the number of tasks tried and of executor refusals.
#[track_caller]
fn check_terminated(log: &Log, inject: Inject, context: &str) -> (usize, usize) {
    let entries = log.entries();
    let count = |event: String| entries.iter().filter(|e| **e == event).count();
    let (mut tried, mut refused) = (0, 0);
    for (name, children) in tasks(inject) {
        let spawned = count(format!("{name} spawned"));
        let by_executor = count(format!("{name} refused: Executor"));
        let terminated = count(format!("{name} refused: Terminated"));
        assert!(
            spawned + by_executor + terminated <= 1,
            "{context}: {name} spawned more than once: {entries:?}"
        );
        let made = count(format!("{name} future made"));
        let dropped = count(format!("{name} future dropped"));
        let dones = count(format!("{name} done"));
        if spawned + by_executor == 0 {
            assert_eq!(
                dones, 0,
                "{context}: {name} was not registered: {entries:?}"
            );
            assert_eq!(made, dropped, "{context}: {name}: {entries:?}");
            continue;
        }
        tried += 1;
        refused += by_executor;
        assert_eq!(
            (made, dropped, dones),
            (1, 1, 1),
            "{context}: {name} made, dropped, done (G4): {entries:?}"
        );
        let done_at = common::position(&entries, &format!("{name} done"));
        let dropped_at = common::position(&entries, &format!("{name} future dropped"));
        assert!(
            dropped_at < done_at,
            "{context}: {name}: dropped before done: {entries:?}"
        );
        for child in children {
            if let Some(at) = entries.iter().position(|e| *e == format!("{child} done")) {
                assert!(
                    at < done_at,
                    "{context}: {child} done before {name} done (G2): {entries:?}"
                );
            }
        }
    }
    (tried, refused)
}

/// The number of panics injected into the tree: each `done` and each
/// future's drop panics right after logging, if `inject` says so.
fn injected(log: &Log, inject: Inject) -> usize {
    log.entries()
        .iter()
        .filter(|e| {
            (inject.done && e.ends_with(" done")) || (inject.drop && e.ends_with(" future dropped"))
        })
        .count()
}

/// Waits until every mid has tried its late spawn (or was dropped).
async fn ready(tree: &mut Tree) {
    while tree.ready.next().await.is_some() {}
}

/// Cancels the top and waits for its `done`; then shuts the root down.
async fn cancel_and_wait<S>(root: &ScopedSpawner<S>, tree: Tree, log: &Log)
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    if let Some(top) = tree.top {
        drop(top.cancel_sender);
        top.done_receiver.await;
        log.push("top joined");
    }
    tree.top_done.await.expect("the top's done ran");
    root.shutdown().await;
    assert_eq!(root.live_children(), 0);
}

// ---------------------------------------------------------------------------
// Panics in user code
// ---------------------------------------------------------------------------

/// G4, G2 with every `done` callback panicking: each still runs once, in
/// order, and every done signal is sent (the top's done receiver and the
/// root's shutdown resolve), on every executor.
#[test]
fn panics_in_every_done_callback() {
    let faults = Faults::new("panics_in_every_done_callback");
    let faults = &faults;
    let inject = Inject {
        done: true,
        ..Inject::default()
    };
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let mut tree = spawn_tree(&root, &log, inject);
        ready(&mut tree).await;
        cancel_and_wait(&root, tree, &log).await;
        let (tried, refused) = check_terminated(&log, inject, executor);
        assert_eq!((tried, refused), (TASKS, 0), "{executor}");
        assert_eq!(log.entries().last().map(String::as_str), Some("top joined"));
        faults.add(injected(&log, inject));
    });
}

/// G4, G2 with every future's destructor panicking when it is cancelled:
/// each future is dropped once, each `done` runs once, in order.
#[test]
fn panics_in_every_future_drop() {
    let faults = Faults::new("panics_in_every_future_drop");
    let faults = &faults;
    let inject = Inject {
        drop: true,
        ..Inject::default()
    };
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let mut tree = spawn_tree(&root, &log, inject);
        ready(&mut tree).await;
        cancel_and_wait(&root, tree, &log).await;
        let (tried, _) = check_terminated(&log, inject, executor);
        assert_eq!(tried, TASKS, "{executor}");
        faults.add(injected(&log, inject));
    });
}

/// Both at once, under fail-fast scopes: each drop panic is a failure that
/// cancels its siblings and fails its parent; still every future is dropped
/// once and every `done` runs once, in order.
#[test]
fn panics_in_drops_and_dones_under_fail_fast() {
    let faults = Faults::new("panics_in_drops_and_dones_under_fail_fast");
    let faults = &faults;
    let inject = Inject {
        done: true,
        drop: true,
        ..Inject::default()
    };
    on_each_executor!(|root, executor| async move {
        root.set_failure_policy(FailurePolicy::FailFast);
        let log = Log::new();
        let mut tree = spawn_tree(&root, &log, inject);
        ready(&mut tree).await;
        cancel_and_wait(&root, tree, &log).await;
        let (tried, _) = check_terminated(&log, inject, executor);
        assert_eq!(tried, TASKS, "{executor}");
        faults.add(injected(&log, inject));
    });
}

/// A panic in a future's destructor reaches the caller: through the task's
/// handle (`is_panic`, with the payload), whether the future completed or
/// was cancelled; and through a fail-fast scope block, which cancels the
/// other children, waits for them, and resumes it.
#[test]
fn drop_panics_reach_the_caller() {
    let faults = Faults::new("drop_panics_reach_the_caller");
    let faults = &faults;
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let inject = Inject {
            drop: true,
            ..Inject::default()
        };
        let completes = guard(&log, "completes", inject);
        let handle = root
            .spawn_task(async move {
                let _guard = completes;
                7
            })
            .expect("spawn");
        let err = handle.await.expect_err("the drop panicked");
        assert!(err.is_panic(), "{executor}: {err:?}");
        let message = *err.into_panic().downcast::<String>().expect("a message");
        assert_eq!(message, "intentional panic in the drop of completes");

        let cancelled = guard(&log, "cancelled", inject);
        let handle = root.spawn_task(pending_with(cancelled)).expect("spawn");
        common::yield_now().await;
        handle.cancel();
        let err = handle.await.expect_err("the drop panicked");
        assert!(err.is_panic(), "{executor}: {err:?}");

        let (l, l2) = (log.clone(), log.clone());
        let result = AssertUnwindSafe(root.scope(|s| async move {
            for i in 0..3 {
                let name = format!("sibling{i}");
                s.spawn_future(
                    pending_with(guard(&l, &name, Inject::default())),
                    done(&l, &name, Inject::default()),
                )
                .expect("spawn");
            }
            let failing = guard(&l2, "failing", inject);
            s.spawn_future(
                async move { drop(failing) },
                done(&l2, "failing", Inject::default()),
            )
            .expect("spawn");
            std::future::pending::<()>().await
        }))
        .catch_unwind()
        .await;
        log.push("scope returned");
        let panic = result.expect_err("the scope resumes the panic");
        let message = *panic.downcast::<String>().expect("a message");
        assert_eq!(
            message, "intentional panic in the drop of failing",
            "{executor}"
        );
        for name in ["sibling0", "sibling1", "sibling2", "failing"] {
            log.assert_order(&[
                &format!("{name} future dropped"),
                &format!("{name} done"),
                "scope returned",
            ]);
        }
        root.shutdown().await;
        faults.add(3);
    });
}

// ---------------------------------------------------------------------------
// Executors that refuse or panic
// ---------------------------------------------------------------------------

/// Under Miri (.ci/miri), the loops over N try every fourth value only.
fn miri_step() -> usize {
    if cfg!(miri) {
        4
    } else {
        1
    }
}

/// G4, G5 when the executor refuses every spawn after the N-th, for every
/// N from 0 to past the whole tree (the manual executor, deterministic):
/// each refused spawn returns `SpawnError::Executor` to its caller, the
/// refused task's future is dropped and its `done` runs once, and the
/// tree still terminates in order.
#[test]
fn executor_refuses_after_n_spawns() {
    let faults = Faults::new("executor_refuses_after_n_spawns");
    let inject = Inject::default();
    for n in (0..=TASKS + 1).step_by(miri_step()) {
        let executor = ManualExecutor::new();
        executor.refuse_after(n);
        let root = ScopedSpawner::new(executor.clone());
        let log = Log::new();
        let mut tree = spawn_tree(&root, &log, inject);
        executor.block_on(ready(&mut tree));
        executor.block_on(cancel_and_wait(&root, tree, &log));
        let context = format!("refusing after {n} spawns");
        let (tried, refused) = check_terminated(&log, inject, &context);
        assert_eq!(executor.spawned(), n.min(tried), "{context}");
        assert_eq!(refused, tried - executor.spawned(), "{context}");
        if n < TASKS {
            assert!(refused > 0, "{context}");
        }
        faults.add(refused);
    }
}

/// Refuses every `every`-th spawn, passing the others to `inner`.
#[derive(Clone)]
struct Flaky<E> {
    inner: E,
    calls: Arc<AtomicUsize>,
    every: usize,
    refused: Counter,
}

impl<E> Flaky<E> {
    fn new(inner: E, every: usize) -> Self {
        Flaky {
            inner,
            calls: Arc::default(),
            every,
            refused: Counter::new(),
        }
    }
}

impl<E: Spawn> Spawn for Flaky<E> {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), futures::task::SpawnError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) % self.every == self.every - 1 {
            self.refused.incr();
            return Err(futures::task::SpawnError::shutdown());
        }
        self.inner.spawn_obj(future)
    }
}

/// As `executor_refuses_after_n_spawns`, on threads: a tokio multi-thread
/// runtime and a `ThreadPool` behind an executor that refuses every k-th
/// spawn, k = 2, 3, 5.
#[test]
fn flaky_executor_on_threads() {
    let faults = Faults::new("flaky_executor_on_threads");
    let inject = Inject::default();
    for every in [2, 3, 5] {
        let runtime = common::tokio_multi_thread();
        let flaky = Flaky::new(tasktree::TokioSpawner::new(runtime.handle().clone()), every);
        let root = ScopedSpawner::new(flaky.clone());
        let log = Log::new();
        runtime.block_on(async {
            let mut tree = spawn_tree(&root, &log, inject);
            ready(&mut tree).await;
            cancel_and_wait(&root, tree, &log).await;
        });
        let context = format!("tokio, refusing every {every}th spawn");
        let (_, refused) = check_terminated(&log, inject, &context);
        assert_eq!(refused, flaky.refused.get(), "{context}");
        faults.add(refused);

        let flaky = Flaky::new(common::thread_pool(), every);
        let root = ScopedSpawner::new(flaky.clone());
        let log = Log::new();
        futures::executor::block_on(async {
            let mut tree = spawn_tree(&root, &log, inject);
            ready(&mut tree).await;
            cancel_and_wait(&root, tree, &log).await;
        });
        let context = format!("ThreadPool, refusing every {every}th spawn");
        let (_, refused) = check_terminated(&log, inject, &context);
        assert_eq!(refused, flaky.refused.get(), "{context}");
        faults.add(refused);
    }
}

/// An executor whose `spawn_obj` panics on its `at`-th call (dropping the
/// task it was given), and spawns on a manual executor otherwise.
#[derive(Clone)]
struct Panicky {
    inner: ManualExecutor,
    calls: Arc<AtomicUsize>,
    at: usize,
}

impl Spawn for Panicky {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), futures::task::SpawnError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.at {
            drop(future);
            panic!("intentional panic in spawn_obj");
        }
        self.inner.spawn_obj(future)
    }
}

/// An executor that panics in `spawn_obj`: the panic is the executor's, and
/// reaches the caller of the spawn; the task it dropped still runs its
/// `done` once, after its children's, and the rest of the tree terminates.
#[test]
fn executor_panics_in_spawn_obj() {
    let faults = Faults::new("executor_panics_in_spawn_obj");
    let inject = Inject::default();
    for at in (0..TASKS).step_by(miri_step()) {
        let inner = ManualExecutor::new();
        let panicky = Panicky {
            inner: inner.clone(),
            calls: Arc::default(),
            at,
        };
        let calls = panicky.calls.clone();
        let root = ScopedSpawner::new(panicky);
        let log = Log::new();
        let context = format!("spawn_obj panicking on call {at}");
        // The panic surfaces where the spawn was called: in `spawn_tree`
        // (spawns in `fun`s) or in a mid's future (its late spawn).
        let outcome = catch_unwind(AssertUnwindSafe(|| spawn_tree(&root, &log, inject)));
        let mut tree = match outcome {
            Ok(tree) => Some(tree),
            Err(panic) => {
                let message = *panic.downcast::<&str>().expect("the executor's message");
                assert_eq!(message, "intentional panic in spawn_obj", "{context}");
                log.push("spawn_tree panicked");
                None
            }
        };
        if let Some(tree) = tree.as_mut() {
            inner.block_on(ready(tree));
        }
        inner.run_until_stalled();
        match tree {
            Some(tree) => inner.block_on(cancel_and_wait(&root, tree, &log)),
            None => inner.block_on(root.shutdown()),
        }
        inner.run_until_stalled();
        assert_eq!(root.live_children(), 0, "{context}");
        // Each task whose future was made ended once, in order; the task
        // whose spawn panicked is logged neither as spawned nor as refused.
        let entries = log.entries();
        for (name, _) in tasks(inject) {
            let n = |what: &str| log.count(&format!("{name} {what}"));
            assert_eq!(
                n("future made"),
                n("future dropped"),
                "{context}: {name}: {entries:?}"
            );
            assert!(n("done") <= 1, "{context}: {name}: {entries:?}");
            if n("future made") == 1 {
                assert_eq!(n("done"), 1, "{context}: {name}: {entries:?}");
            }
        }
        assert!(calls.load(Ordering::SeqCst) > at, "{context}: it panicked");
        faults.add(1);
    }
}

// ---------------------------------------------------------------------------
// Runtimes shut down under a live tree
// ---------------------------------------------------------------------------

/// How a tokio runtime is shut down.
#[derive(Clone, Copy, Debug)]
enum Shutdown {
    Drop,
    Timeout,
    Background,
}

/// G4, G2, G8 when a tokio runtime is shut down with a tree alive and its
/// workers busy: every future is dropped once, every `done` runs once and
/// after its children's, every done signal is sent (the top's done receiver
/// resolves, a handle reports `is_cancelled`), and the root counts no child.
/// A spawn onto the shut-down runtime returns `Ok` (tokio gives no error)
/// but its task ends at once: its future is dropped, its `done` runs, its
/// done receiver resolves.
#[test]
fn tokio_runtime_shut_down_with_tree_alive() {
    let faults = Faults::new("tokio_runtime_shut_down_with_tree_alive");
    let inject = Inject {
        busy: true,
        ..Inject::default()
    };
    for how in [Shutdown::Drop, Shutdown::Timeout, Shutdown::Background] {
        for multi_thread in [true, false] {
            let context = format!("{how:?}, multi-thread: {multi_thread}");
            let runtime = if multi_thread {
                common::tokio_multi_thread()
            } else {
                common::tokio_current_thread()
            };
            let root = common::tokio_root(&runtime);
            let log = Log::new();
            let mut tree = spawn_tree(&root, &log, inject);
            let handle_guard = guard(&log, "handle", Inject::default());
            let handle = root.spawn_task(pending_with(handle_guard)).expect("spawn");
            runtime.block_on(async {
                ready(&mut tree).await;
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
            });
            match how {
                Shutdown::Drop => drop(runtime),
                Shutdown::Timeout => runtime.shutdown_timeout(Duration::ZERO),
                Shutdown::Background => runtime.shutdown_background(),
            }
            let top = tree.top.take().expect("the top was spawned");
            let top_done = tree.top_done;
            let err = block_on_within_a_minute(async move {
                top.done_receiver.await;
                top_done.await.expect("the top's done ran");
                handle.await.expect_err("cancelled by the shutdown")
            });
            assert!(err.is_cancelled(), "{context}: {err:?}");
            drop(top.cancel_sender);
            let (tried, _) = check_terminated(&log, inject, &context);
            assert_eq!(tried, TASKS + MIDS, "{context}");
            log.assert_order(&["handle future dropped"]);
            assert_eq!(root.live_children(), 0, "{context}");

            let late = root.spawn_future_with_signal(
                pending_with(guard(&log, "after", Inject::default())),
                done(&log, "after", Inject::default()),
            );
            let late = late.expect("tokio does not refuse");
            block_on_within_a_minute(late.done_receiver);
            log.assert_order(&["after future made", "after future dropped", "after done"]);
            assert_eq!(root.live_children(), 0, "{context}");
            faults.add(1);
        }
    }
}

/// The runtime is dropped while tasks on both workers keep spawning
/// children (each child pends): every spawn returns `Ok` and every spawned
/// child, before or after the shutdown, has its future dropped once and its
/// `done` run once; the spawners end with their tasks.
#[test]
fn tokio_runtime_dropped_while_spawning() {
    let faults = Faults::new("tokio_runtime_dropped_while_spawning");
    const SPAWNERS: usize = 4;
    for _ in 0..5 {
        let runtime = common::tokio_multi_thread();
        let root = common::tokio_root(&runtime);
        let (made, dropped, dones, spawns, errors) = (
            Counter::new(),
            Counter::new(),
            Counter::new(),
            Counter::new(),
            Counter::new(),
        );
        let (started_tx, mut started) = channel::unbounded::<()>();
        let spawner_tasks: Arc<Mutex<Vec<ParentSignals>>> = Arc::default();
        for _ in 0..SPAWNERS {
            let (made, dropped, dones, spawns, errors) = (
                made.clone(),
                dropped.clone(),
                dones.clone(),
                spawns.clone(),
                errors.clone(),
            );
            let started_tx = started_tx.clone();
            let signals = root
                .spawn_with_signal(
                    move |spawner| -> BoxFuture<'static, ()> {
                        Box::pin(async move {
                            let _ = started_tx.unbounded_send(());
                            loop {
                                made.incr();
                                let guard = dropped.guard();
                                let result = spawner.spawn_future(
                                    async move {
                                        let _guard = guard;
                                        std::future::pending::<()>().await
                                    },
                                    dones.done(),
                                );
                                match result {
                                    Ok(()) => spawns.incr(),
                                    Err(_) => errors.incr(),
                                }
                                tokio::task::yield_now().await;
                            }
                        })
                    },
                    || (),
                )
                .expect("spawn");
            lock(&spawner_tasks).push(signals);
        }
        drop(started_tx);
        runtime.block_on(async {
            for _ in 0..SPAWNERS {
                started.next().await;
            }
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
        });
        drop(runtime);
        let signals = std::mem::take(&mut *lock(&spawner_tasks));
        for s in &signals {
            assert!(s.done_receiver.is_done(), "every spawner task ended");
        }
        assert_eq!(made.get(), dropped.get(), "every child future dropped once");
        assert_eq!(errors.get(), 0, "tokio refuses nothing");
        assert_eq!(dones.get(), spawns.get(), "one `done` per spawned child");
        assert_eq!(root.live_children(), 0);
        faults.add(1);
    }
}
