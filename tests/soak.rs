//! Soak (issue 5): a forest of 100,000+ live tasks, in deep, wide and bushy
//! trees, on tokio's multi-thread runtime (2 workers); for a fixed number
//! of rounds some of its subtrees are cancelled and spawned again. Checks
//! that no task leaks (G1, G3, G4: every future dropped and every `done` run
//! once, the root counts no child at the end) and that memory returns to its
//! starting level, counted by a counting `#[global_allocator]` in this test
//! binary.
//!
//! # The memory check
//!
//! Live allocations (count and bytes) are read when the runtime is quiet:
//! no task alive (`RuntimeMetrics::num_alive_tasks() == 0`) and the count
//! unchanged for 20 readings 1 ms apart. A first warm-up round (the whole
//! forest built and cancelled once) lets the runtime's and the root's
//! buffers reach their working size; the heap read after it is the
//! *baseline*. A second, identical warm-up round must leave the heap within
//! the slack of the baseline, and so must the soak rounds, read once every
//! subtree has been cancelled again. The slack is fixed: [`SLACK_ALLOCS`]
//! allocations and [`SLACK_BYTES`] bytes, for buffers that a runtime worker
//! may still keep or free at any time (on the machine this was written on,
//! the readings were equal to the allocation and to the byte). A leak of one
//! allocation per task, per subtree or per round is far beyond it.
//!
//! # Running it
//!
//! The short form runs by default (`cargo test --test soak`: 104,093 tasks,
//! 6 rounds, under 10 s in debug on 2 cores). The long form is ignored by
//! default; it keeps 473,150 tasks alive through 40 rounds (about 40 s in
//! release on 2 cores):
//!
//! ```text
//! cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! `--nocapture` prints the figures of either form: tasks alive at the
//! peak, tasks spawned and cancelled, and the heap readings.
#![allow(clippy::disallowed_types)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::future::BoxFuture;
use tasktree::{ParentSignals, ScopedSpawn, ScopedSpawner, TokioSpawner};

// ---------------------------------------------------------------------------
// The counting allocator
// ---------------------------------------------------------------------------

/// Forwards to `System`, counting live allocations and bytes.
struct Counting;

static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds `GlobalAlloc`'s contract; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_ALLOCS.fetch_sub(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Heap {
    allocs: isize,
    bytes: isize,
}

fn heap() -> Heap {
    Heap {
        allocs: LIVE_ALLOCS.load(Ordering::SeqCst),
        bytes: LIVE_BYTES.load(Ordering::SeqCst),
    }
}

/// The slack of the memory check, in allocations: a few buffers that a
/// runtime worker or the test harness may keep or free at any time.
const SLACK_ALLOCS: isize = 64;
/// The slack of the memory check, in bytes.
const SLACK_BYTES: isize = 64 * 1024;

/// Asserts that `now` is within the slack of `baseline`.
#[track_caller]
fn assert_near(baseline: Heap, now: Heap, when: &str) {
    assert!(
        (now.allocs - baseline.allocs).abs() <= SLACK_ALLOCS
            && (now.bytes - baseline.bytes).abs() <= SLACK_BYTES,
        "live allocations did not return to their starting level {when}: baseline \
         {baseline:?}, now {now:?}, slack {SLACK_ALLOCS} allocations and {SLACK_BYTES} bytes"
    );
}

/// Waits until no task is alive on `runtime` and the live allocation count
/// has not changed for 20 readings 1 ms apart (at most 20 s), and returns
/// the heap then.
fn quiet_heap(runtime: &tokio::runtime::Runtime) -> Heap {
    let start = Instant::now();
    let mut last = heap();
    let mut same = 0;
    while start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
        let now = heap();
        if runtime.metrics().num_alive_tasks() == 0 && now.allocs == last.allocs {
            same += 1;
            if same == 20 {
                return now;
            }
        } else {
            same = 0;
        }
        last = now;
    }
    panic!(
        "the runtime never went quiet: {} tasks alive, heap {:?}",
        runtime.metrics().num_alive_tasks(),
        heap()
    );
}

// ---------------------------------------------------------------------------
// Task counters
// ---------------------------------------------------------------------------

/// Futures alive, made, dropped; `done`s run; spawns that failed.
static LIVE_TASKS: AtomicIsize = AtomicIsize::new(0);
static MADE: AtomicUsize = AtomicUsize::new(0);
static DONES: AtomicUsize = AtomicUsize::new(0);
static SPAWN_ERRORS: AtomicUsize = AtomicUsize::new(0);

/// Counts a task's future alive from its making to its drop.
struct TaskGuard;

impl TaskGuard {
    fn new() -> Self {
        LIVE_TASKS.fetch_add(1, Ordering::SeqCst);
        MADE.fetch_add(1, Ordering::SeqCst);
        TaskGuard
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        LIVE_TASKS.fetch_sub(1, Ordering::SeqCst);
    }
}

fn done() {
    DONES.fetch_add(1, Ordering::SeqCst);
}

fn live_tasks() -> usize {
    LIVE_TASKS.load(Ordering::SeqCst) as usize
}

/// A task's future: holds its guard and pends until cancelled.
async fn pending_task(guard: TaskGuard) {
    let _guard = guard;
    std::future::pending::<()>().await
}

fn expect_spawned<T>(result: Result<T, tasktree::SpawnError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(_) => {
            SPAWN_ERRORS.fetch_add(1, Ordering::SeqCst);
            None
        }
    }
}

// ---------------------------------------------------------------------------
// The forest
// ---------------------------------------------------------------------------

type Root = ScopedSpawner<TokioSpawner>;

/// The shapes of the subtrees of the root.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// A hub with this many leaves.
    Wide(usize),
    /// Every inner task has `fanout` children, `levels` levels below the top.
    Bushy { fanout: usize, levels: u32 },
    /// A chain this many links below the top, each spawned by its parent's
    /// future (not in `fun`), so the chain is ready when its tail reports.
    Deep(usize),
}

impl Shape {
    /// The number of tasks of one subtree of this shape.
    fn tasks(self) -> usize {
        match self {
            Shape::Wide(leaves) => 1 + leaves,
            Shape::Bushy { fanout, levels } => (0..=levels).map(|l| fanout.pow(l)).sum(),
            Shape::Deep(links) => 1 + links,
        }
    }
}

/// What a soak run does.
#[derive(Clone, Debug)]
struct Plan {
    /// The root's subtrees.
    shapes: Vec<Shape>,
    /// Rounds of cancel-and-respawn after the forest is built.
    rounds: usize,
    /// The run fails if it has not ended by then.
    deadline: Duration,
}

impl Plan {
    fn tasks(&self) -> usize {
        self.shapes.iter().map(|s| s.tasks()).sum()
    }

    /// `n` subtrees of each of the three shapes: a hub with 2,000 leaves, a
    /// bushy tree of fan-out 4 six levels deep (5,461 tasks), a chain 2,000
    /// links deep.
    fn mixed(n: usize, rounds: usize, deadline: Duration) -> Self {
        let mut shapes = Vec::new();
        for _ in 0..n {
            shapes.push(Shape::Wide(2_000));
            shapes.push(Shape::Bushy {
                fanout: 4,
                levels: 6,
            });
            shapes.push(Shape::Deep(2_000));
        }
        Plan {
            shapes,
            rounds,
            deadline,
        }
    }
}

/// Spawns a subtree of `shape` from the root; returns its signals once all
/// of its tasks are registered and their futures made.
async fn spawn_subtree(root: &Root, shape: Shape) -> Option<ParentSignals> {
    match shape {
        Shape::Wide(leaves) => expect_spawned(root.spawn_with_signal(
            move |hub| {
                let guard = TaskGuard::new();
                for _ in 0..leaves {
                    expect_spawned(hub.spawn_future(pending_task(TaskGuard::new()), done));
                }
                pending_task(guard)
            },
            done,
        )),
        Shape::Bushy { fanout, levels } => expect_spawned(root.spawn_with_signal(
            move |top| {
                let guard = TaskGuard::new();
                bushy(&top, fanout, levels);
                pending_task(guard)
            },
            done,
        )),
        Shape::Deep(links) => {
            let (ready, is_ready) = oneshot::channel();
            let signals =
                expect_spawned(root.spawn_with_signal(move |top| chain(top, links, ready), done))?;
            if is_ready.await.is_err() {
                // The chain broke: a spawn failed (counted) or a link was
                // cancelled before its tail ran.
                SPAWN_ERRORS.fetch_add(1, Ordering::SeqCst);
            }
            Some(signals)
        }
    }
}

/// Spawns `fanout` children through `spawner`, each with `levels - 1`
/// levels below it; the last level are leaves without a scope.
fn bushy(spawner: &Root, fanout: usize, levels: u32) {
    for _ in 0..fanout {
        if levels == 1 {
            expect_spawned(spawner.spawn_future(pending_task(TaskGuard::new()), done));
        } else {
            expect_spawned(spawner.spawn(
                move |child| {
                    let guard = TaskGuard::new();
                    bushy(&child, fanout, levels - 1);
                    pending_task(guard)
                },
                done,
            ));
        }
    }
}

/// A link of a chain with `links` more below it: its future spawns the
/// next link, or reports on `ready` at the tail, then pends.
fn chain(spawner: Root, links: usize, ready: oneshot::Sender<()>) -> BoxFuture<'static, ()> {
    let guard = TaskGuard::new();
    Box::pin(async move {
        let _guard = guard;
        if links == 0 {
            let _ = ready.send(());
        } else {
            expect_spawned(spawner.spawn(move |next| chain(next, links - 1, ready), done));
        }
        std::future::pending::<()>().await
    })
}

/// The root's subtrees, by index in the plan.
struct Forest {
    root: Root,
    plan: Plan,
    subtrees: Vec<Option<ParentSignals>>,
    /// Tasks spawned and tasks cancelled (by cancelling their subtree).
    spawned: usize,
    cancelled: usize,
    peak: usize,
}

impl Forest {
    fn new(root: Root, plan: Plan) -> Self {
        let subtrees = plan.shapes.iter().map(|_| None).collect();
        Forest {
            root,
            plan,
            subtrees,
            spawned: 0,
            cancelled: 0,
            peak: 0,
        }
    }

    /// Spawns subtree `i`, and checks that exactly its tasks came alive.
    async fn spawn(&mut self, i: usize) {
        let shape = self.plan.shapes[i];
        let before = live_tasks();
        self.subtrees[i] = spawn_subtree(&self.root, shape).await;
        let after = live_tasks();
        assert_eq!(after - before, shape.tasks(), "subtree {i} ({shape:?})");
        self.spawned += shape.tasks();
        self.peak = self.peak.max(after);
    }

    /// Cancels subtree `i`, awaits its done signal, and checks that exactly
    /// its tasks are gone.
    async fn cancel(&mut self, i: usize) {
        let shape = self.plan.shapes[i];
        let signals = self.subtrees[i].take().expect("subtree alive");
        let before = live_tasks();
        drop(signals.cancel_sender);
        signals.done_receiver.await;
        assert_eq!(
            before - live_tasks(),
            shape.tasks(),
            "cancelling subtree {i} ({shape:?}) ended exactly its tasks (G1)"
        );
        self.cancelled += shape.tasks();
    }

    async fn spawn_all(&mut self) {
        for i in 0..self.subtrees.len() {
            self.spawn(i).await;
        }
        assert_eq!(live_tasks(), self.plan.tasks());
    }

    async fn cancel_all(&mut self) {
        for i in 0..self.subtrees.len() {
            if self.subtrees[i].is_some() {
                self.cancel(i).await;
            }
        }
        assert_eq!(live_tasks(), 0, "every future dropped (G4)");
    }

    /// Round `r`: cancels and respawns the subtrees whose index is `r`
    /// modulo 2 (even and odd by turns), all cancels first.
    async fn round(&mut self, r: usize) {
        let chosen: Vec<usize> = (0..self.subtrees.len())
            .filter(|i| i % 2 == r % 2)
            .collect();
        for &i in &chosen {
            self.cancel(i).await;
        }
        for &i in &chosen {
            self.spawn(i).await;
        }
        assert_eq!(live_tasks(), self.plan.tasks(), "round {r}");
        assert_eq!(self.root.live_children(), self.subtrees.len(), "round {r}");
    }
}

/// Fails the process if the run has not ended by `deadline` (a hang, G3).
struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    fn start(deadline: Duration) -> Self {
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                if start.elapsed() > deadline {
                    // Not `eprintln!`, which the test harness captures.
                    let _ = writeln!(
                        std::io::stderr(),
                        "soak: not finished after {deadline:?} (a lost wake-up?): {} tasks alive",
                        live_tasks()
                    );
                    std::process::exit(101);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Watchdog(finished)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// One soak run at a time: they share the counters and the allocator.
static SERIAL: Mutex<()> = Mutex::new(());

fn soak(plan: Plan) {
    let _serial = common::lock(&SERIAL);
    let watchdog = Watchdog::start(plan.deadline);
    let start = Instant::now();
    let (made_before, dones_before) = (MADE.load(Ordering::SeqCst), DONES.load(Ordering::SeqCst));
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let mut forest = Forest::new(root.clone(), plan.clone());

    // Two warm-up rounds: the baseline, and a first check against it.
    runtime.block_on(async {
        forest.spawn_all().await;
        forest.cancel_all().await;
    });
    let baseline = quiet_heap(&runtime);
    runtime.block_on(async {
        forest.spawn_all().await;
        forest.cancel_all().await;
    });
    let second = quiet_heap(&runtime);
    assert_near(baseline, second, "after the second warm-up round");
    let (warm_spawned, warm_cancelled) = (forest.spawned, forest.cancelled);
    let warm_up = start.elapsed();

    // The soak: the whole forest, then rounds of cancel and respawn.
    let mut at_peak = baseline;
    runtime.block_on(async {
        forest.spawn_all().await;
        at_peak = heap();
        for r in 0..plan.rounds {
            forest.round(r).await;
        }
        forest.cancel_all().await;
    });
    let after = quiet_heap(&runtime);

    runtime.block_on(root.shutdown());
    assert_eq!(root.live_children(), 0, "the root counts no child (G8)");
    assert_eq!(SPAWN_ERRORS.load(Ordering::SeqCst), 0, "no spawn failed");
    assert_eq!(live_tasks(), 0, "no future alive (G4)");
    let made = MADE.load(Ordering::SeqCst) - made_before;
    let dones = DONES.load(Ordering::SeqCst) - dones_before;
    assert_eq!(made, forest.spawned, "futures made");
    assert_eq!(dones, made, "one `done` per task (G4)");
    let (peak, cancelled) = (forest.peak, forest.cancelled);
    drop(forest);
    drop(root);
    drop(runtime);
    drop(watchdog);

    eprintln!(
        "soak: {} tasks per forest ({} subtrees), peak {} alive; {} rounds; {} tasks spawned \
         and {} cancelled after the warm-up ({} and {} in it); heap: baseline {:?}, after \
         the second warm-up {:?}, at peak {:?}, after the rounds {:?}; warm-up {:.2?}, total \
         {:.2?}",
        plan.tasks(),
        plan.shapes.len(),
        peak,
        plan.rounds,
        made - warm_spawned,
        cancelled - warm_cancelled,
        warm_spawned,
        warm_cancelled,
        baseline,
        second,
        at_peak,
        after,
        warm_up,
        start.elapsed(),
    );
    assert_near(baseline, after, "after the rounds");
}

/// G1, G3, G4, G8 under load: 104,093 live tasks (11 subtrees of each
/// shape of `Plan::mixed`), 6 rounds of cancelling and respawning half of
/// the subtrees; no task leaks and the heap returns to its baseline.
#[test]
#[cfg_attr(miri, ignore = "100,000 tasks on OS threads")]
fn soak_short() {
    soak(Plan::mixed(11, 6, Duration::from_secs(300)));
}

/// The long form (see the module docs): 473,150 live tasks (50 subtrees
/// of each shape), 40 rounds.
#[test]
#[ignore = "long: cargo test --release --test soak -- --ignored"]
fn soak_long() {
    soak(Plan::mixed(50, 40, Duration::from_secs(1_800)));
}
