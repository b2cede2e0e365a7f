//! Memory per pending leaf task, for every contender (issue 4).
//!
//! A counting `#[global_allocator]` splits the heap in two: allocations
//! aligned to 128 bytes are tokio's task cells (`runtime::task::core::Cell`
//! is `repr(align(128))` on x86_64), everything else is "outside the
//! executor's task allocation". For each contender, `N` pending leaves are
//! spawned from the driver of a fresh current-thread runtime and polled once;
//! the heap still allocated at that point, minus the heap before, divided by
//! `N`, is the figure per task. Subtracting the same figure for bare
//! `tokio::spawn` of the same future (which also pays for tokio's run queue)
//! leaves what the contender adds.
//!
//! Run with `cargo bench --bench memory`; it prints markdown tables.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::mem::{size_of, size_of_val};
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::{Context, Poll};

#[macro_use]
#[allow(unused_macros)]
mod common;

use common::{noop, Leaf, TokioSpawn, STARTED};

/// Pending leaves per measurement.
const N: usize = 100_000;

// ----------------------------------------------------------------------------
// The counting allocator

struct Counting;

/// Live bytes / live allocations / allocation calls, for task cells [0..3]
/// and for everything else [3..6].
static STATS: [AtomicIsize; 6] = [
    AtomicIsize::new(0),
    AtomicIsize::new(0),
    AtomicIsize::new(0),
    AtomicIsize::new(0),
    AtomicIsize::new(0),
    AtomicIsize::new(0),
];

fn base(layout: Layout) -> usize {
    if layout.align() >= 128 {
        0
    } else {
        3
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees are ours; the counters have no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let b = base(layout);
        STATS[b].fetch_add(layout.size() as isize, Ordering::Relaxed);
        STATS[b + 1].fetch_add(1, Ordering::Relaxed);
        STATS[b + 2].fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let b = base(layout);
        STATS[b].fetch_sub(layout.size() as isize, Ordering::Relaxed);
        STATS[b + 1].fetch_sub(1, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let b = base(layout);
        STATS[b].fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        STATS[b + 2].fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy)]
struct Snapshot([isize; 6]);

fn snapshot() -> Snapshot {
    Snapshot(std::array::from_fn(|i| STATS[i].load(Ordering::SeqCst)))
}

/// Per-task figures of one contender.
#[derive(Clone, Copy)]
struct PerTask {
    cell_bytes: f64,
    outside_bytes: f64,
    outside_live_allocs: f64,
    outside_alloc_calls: f64,
}

impl PerTask {
    fn between(before: Snapshot, after: Snapshot) -> Self {
        let d = |i: usize| (after.0[i] - before.0[i]) as f64 / N as f64;
        Self {
            cell_bytes: d(0),
            outside_bytes: d(3),
            outside_live_allocs: d(4),
            outside_alloc_calls: d(5),
        }
    }

    fn whole(self) -> f64 {
        self.cell_bytes + self.outside_bytes
    }
}

// ----------------------------------------------------------------------------
// The user's futures

/// A 200-byte pending leaf.
struct Padded {
    leaf: Leaf,
    pad: [u8; 198],
}

impl Future for Padded {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        std::hint::black_box(&mut self.pad);
        Pin::new(&mut self.leaf).poll(cx)
    }
}

trait MakeLeaf: Future<Output = ()> + Send + Sized + 'static {
    const LABEL: &'static str;
    fn make() -> Self;
}

impl MakeLeaf for Leaf {
    const LABEL: &'static str = "tiny (2 B)";
    fn make() -> Self {
        Leaf::pending()
    }
}

impl MakeLeaf for Padded {
    const LABEL: &'static str = "200 B";
    fn make() -> Self {
        Padded {
            leaf: Leaf::pending(),
            pad: [0; 198],
        }
    }
}

// ----------------------------------------------------------------------------
// The contenders: each spawns N pending leaves and returns what it keeps.

type Holder = Box<dyn std::any::Any>;

fn tokio_detached<F: MakeLeaf>() -> Holder {
    for _ in 0..N {
        drop(tokio::spawn(F::make()));
    }
    Box::new(())
}

fn tokio_handles<F: MakeLeaf>() -> Holder {
    let mut handles = Vec::with_capacity(N);
    for _ in 0..N {
        handles.push(tokio::spawn(F::make()));
    }
    Box::new(handles)
}

fn joinset<F: MakeLeaf>() -> Holder {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..N {
        set.spawn(F::make());
    }
    Box::new(set)
}

fn tracker<F: MakeLeaf>() -> Holder {
    let token = tokio_util::sync::CancellationToken::new();
    let tracker = tokio_util::task::TaskTracker::new();
    for _ in 0..N {
        tracker.spawn(token.clone().run_until_cancelled_owned(F::make()));
    }
    Box::new((token, tracker))
}

fn scoped_spawn_plain<F: MakeLeaf>() -> Holder {
    use scoped_spawn::ScopedSpawn;
    let root = scoped_spawn::ScopedSpawner::new(TokioSpawn);
    for _ in 0..N {
        root.spawn_future(F::make(), noop).unwrap();
    }
    Box::new(root)
}

fn scoped_spawn_signals<F: MakeLeaf>() -> Holder {
    use scoped_spawn::ScopedSpawn;
    let root = scoped_spawn::ScopedSpawner::new(TokioSpawn);
    let mut signals = Vec::with_capacity(N);
    for _ in 0..N {
        signals.push(root.spawn_future_with_signal(F::make(), noop).unwrap());
    }
    Box::new((root, signals))
}

fn tasktree_plain<F: MakeLeaf>() -> Holder {
    use tasktree::ScopedSpawn;
    let root = tasktree::ScopedSpawner::tokio();
    for _ in 0..N {
        root.spawn_future(F::make(), noop).unwrap();
    }
    Box::new(root)
}

fn tasktree_signals<F: MakeLeaf>() -> Holder {
    use tasktree::ScopedSpawn;
    let root = tasktree::ScopedSpawner::tokio();
    let mut signals = Vec::with_capacity(N);
    for _ in 0..N {
        signals.push(root.spawn_future_with_signal(F::make(), noop).unwrap());
    }
    Box::new((root, signals))
}

fn tasktree_handles<F: MakeLeaf>() -> Holder {
    let root = tasktree::ScopedSpawner::tokio();
    let mut handles = Vec::with_capacity(N);
    for _ in 0..N {
        handles.push(root.spawn_task(F::make()).unwrap());
    }
    Box::new((root, handles))
}

type Spawner = fn() -> Holder;

fn contenders<F: MakeLeaf>() -> Vec<(&'static str, Spawner)> {
    vec![
        (
            "tokio::spawn, handle dropped (baseline)",
            tokio_detached::<F>,
        ),
        ("tokio::spawn + Vec<JoinHandle>", tokio_handles::<F>),
        ("JoinSet", joinset::<F>),
        ("TaskTracker + CancellationToken", tracker::<F>),
        ("scoped_spawn spawn_future", scoped_spawn_plain::<F>),
        (
            "scoped_spawn spawn_future_with_signal (signals kept)",
            scoped_spawn_signals::<F>,
        ),
        ("tasktree spawn_future", tasktree_plain::<F>),
        (
            "tasktree spawn_future_with_signal (signals kept)",
            tasktree_signals::<F>,
        ),
        (
            "tasktree spawn_task (TaskHandles kept)",
            tasktree_handles::<F>,
        ),
    ]
}

/// Spawns N pending leaves with `spawn` on a fresh runtime, waits until each
/// was polled once, and returns the heap they hold per task.
fn measure(spawn: Spawner) -> PerTask {
    let rt = common::current_thread();
    let per_task = rt.block_on(async {
        common::arm(N, usize::MAX);
        // Warm the runtime's lazily allocated parts with one task.
        tokio::spawn(async {}).await.unwrap();
        let before = snapshot();
        let holder = spawn();
        STARTED.reached().await;
        let after = snapshot();
        drop(holder);
        PerTask::between(before, after)
    });
    drop(rt);
    per_task
}

fn table<F: MakeLeaf>() {
    println!(
        "\n### Pending leaf: {} future, N = {N}, per task\n",
        F::LABEL
    );
    println!("| contender | task cell B | outside B | outside live allocs | outside alloc calls | outside B vs tokio | live allocs vs tokio | whole process B |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut baseline = None;
    for (name, spawn) in contenders::<F>() {
        let m = measure(spawn);
        let b = *baseline.get_or_insert(m);
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} | {:.2} | {:+.1} | {:+.2} | {:.1} |",
            m.cell_bytes,
            m.outside_bytes,
            m.outside_live_allocs,
            m.outside_alloc_calls,
            m.outside_bytes - b.outside_bytes,
            m.outside_live_allocs - b.outside_live_allocs,
            m.whole(),
        );
    }
}

/// `size_of` of what tasktree hands to the executor for a future `F`.
fn tasktree_task_size<F, D>(_: &F, _: &D) -> usize
where
    F: Future<Output = ()>,
    D: FnOnce() + Send + 'static,
{
    size_of::<tasktree::remote_scope::ScopedTask<F, D>>()
}

fn sizes() {
    use scoped_spawn::remote_scope::RemoteScope as SsScope;
    use scoped_spawn::RawScopedSpawn as _;
    println!("\n### Bytes the wrapper adds to the future handed to the executor\n");
    println!("| contender | user future | wrapped future | added |");
    println!("|---|---|---|---|");
    let row = |name: &str, user: usize, wrapped: usize| {
        println!(
            "| {name} | {user} | {wrapped} | {:+} |",
            wrapped as isize - user as isize
        );
    };
    for user in [size_of::<Leaf>(), size_of::<Padded>()] {
        let (tt, tracker, ss) = if user == size_of::<Leaf>() {
            sizes_for(Leaf::pending)
        } else {
            sizes_for(<Padded as MakeLeaf>::make)
        };
        row("tokio::spawn / JoinSet", user, user);
        row(
            "TaskTracker + token (TrackedFuture<run_until_cancelled_owned>)",
            user,
            tracker,
        );
        row(
            "scoped_spawn (its `wrap` future, boxed again in a FutureObj)",
            user,
            ss,
        );
        row("tasktree `ScopedTask` (of `RemoteScope::wrap`)", user, tt);
    }

    fn sizes_for<F: Future<Output = ()> + Send + 'static>(
        make: fn() -> F,
    ) -> (usize, usize, usize) {
        let tt = tasktree_task_size(&make(), &noop);
        let token = tokio_util::sync::CancellationToken::new();
        let tracker = tokio_util::task::TaskTracker::new();
        let tracked = tracker.track_future(token.run_until_cancelled_owned(make()));
        let tracker_size = size_of_val(&tracked);
        let ss_root = scoped_spawn::ScopedSpawner::new(TokioSpawn);
        let signals = scoped_spawn::ScopedSpawn::as_raw(&ss_root).spawn_raw();
        let wrapped = SsScope::new().wrap(signals, make(), noop);
        let ss = size_of_val(&wrapped);
        (tt, tracker_size, ss)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    sizes();
    table::<Leaf>();
    table::<Padded>();
}
