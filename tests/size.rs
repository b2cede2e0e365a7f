//! G9 (bounded cost): what the wrapper that the library hands to the executor
//! adds to the user's future, for tiny and large futures: at most 16 bytes
//! for a plain leaf or one with the seed's signals, 24 for a leaf with a
//! typed handle and for `RemoteScope::wrap`'s task. Sizes, not timings: deterministic.

use std::future::Future;
use std::mem::size_of;
use std::pin::Pin;
use std::task::{Context, Poll};

use tasktree::remote_scope::ScopedTask;

/// A future of exactly `N` bytes.
struct Sized<const N: usize>([u8; N]);

impl<const N: usize> Future for Sized<N> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

fn overhead<F: Future<Output = ()>, D: FnOnce() + Send + 'static>() -> usize {
    size_of::<ScopedTask<F, D>>() - size_of::<F>()
}

/// The overhead with a `done` callback of type `D` (which the wrapper stores
/// until phase 5, so its own size comes on top).
fn overhead_with<const N: usize, D: FnOnce() + Send + 'static>(_: &D) -> usize {
    overhead::<Sized<N>, D>()
}

/// G9: `RemoteScope::wrap`'s task (with a scope, no done cell: its done
/// receiver is a view of the slot) with a zero-sized `done` costs at most 24
/// bytes over the future, tiny or large.
#[test]
fn wrapper_adds_at_most_24_bytes() {
    let noop = || ();
    let tiny = overhead_with::<2, _>(&noop);
    let large = overhead_with::<200, _>(&noop);
    println!("overhead: 2-byte future +{tiny} B, 200-byte future +{large} B");
    assert!(tiny <= 24, "2-byte future: +{tiny} B");
    assert!(large <= 24, "200-byte future: +{large} B");
}

/// A `done` callback's captures are stored in the wrapper: a `fn()` pointer
/// adds its 8 bytes to the same overhead.
#[test]
fn a_done_callback_adds_its_own_size() {
    let noop = || ();
    let with_closure = overhead_with::<200, _>(&noop);
    let with_pointer = overhead::<Sized<200>, fn()>();
    assert!(
        with_pointer <= with_closure + 8,
        "fn() done: +{with_pointer} B, zero-sized done: +{with_closure} B"
    );
}

// ---------------------------------------------------------------------------
// The wrappers of `ScopedSpawner`'s spawns, which are not public types:
// measured as the size of the box that `Spawn::spawn_obj` receives.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use futures::future::FutureObj;
use futures::task::{Spawn, SpawnError};
use tasktree::{ScopedSpawn, ScopedSpawner};

/// The system allocator, recording the size of this thread's latest
/// allocation.
struct Recording;

thread_local! {
    static LAST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; only records a size.
unsafe impl std::alloc::GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LAST_ALLOCATION.with(|last| last.set(layout.size()));
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// An executor that records the size of each task it is handed (the box
/// that `FutureObj::new` was just given, the latest allocation of the
/// spawning thread) and drops the task (the tree then ends it, G4).
#[derive(Clone, Default)]
struct SizeRecorder(Arc<Mutex<Vec<usize>>>);

impl Spawn for SizeRecorder {
    fn spawn_obj(&self, task: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        let size = LAST_ALLOCATION.with(Cell::get);
        self.0.lock().unwrap().push(size);
        drop(task);
        Ok(())
    }
}

impl SizeRecorder {
    fn last(&self) -> usize {
        *self.0.lock().unwrap().last().expect("a task was spawned")
    }
}

/// What the wrapper of `spawn` adds to a future of `N` bytes.
fn spawned_overhead<const N: usize>(
    spawn: impl FnOnce(&ScopedSpawner<SizeRecorder>, Sized<N>),
) -> usize {
    let recorder = SizeRecorder::default();
    let root = ScopedSpawner::new(recorder.clone());
    spawn(&root, Sized([0; N]));
    recorder.last() - N
}

/// G9: a leaf spawned with `spawn_future` (no scope, no observer) carries
/// only its slot in its parent: 16 bytes over a future of up to 8 bytes, so
/// that such a future stays in tokio's smallest task cell; a larger future
/// adds a copy of its waker besides (16 bytes), which lets a repeated poll
/// skip the parent's lock (`keeps_memo` in src/task.rs; tree.rs, I8).
#[test]
fn a_plain_leaf_adds_16_bytes_and_a_waker_copy_above_8() {
    let tiny = spawned_overhead::<1>(|root, fut| root.spawn_future(fut, || ()).unwrap());
    let small = spawned_overhead::<8>(|root, fut| root.spawn_future(fut, || ()).unwrap());
    let large = spawned_overhead::<200>(|root, fut| root.spawn_future(fut, || ()).unwrap());
    println!("spawn_future: 1-byte +{tiny} B, 8-byte +{small} B, 200-byte +{large} B");
    assert!(tiny <= 16, "1-byte future: +{tiny} B");
    assert!(small <= 16, "8-byte future: +{small} B");
    assert!(large <= 32, "200-byte future: +{large} B");
}

/// A leaf with a typed handle (`spawn_task`) adds its done cell's pointer,
/// and no scope; a leaf with the seed's signals (`spawn_future_with_signal`)
/// nothing more than a plain leaf: its done receiver is a view of its slot.
/// Both keep a copy of their waker (200-byte futures).
#[test]
fn a_leaf_with_a_handle_adds_at_most_40_bytes() {
    let task = spawned_overhead::<200>(|root, fut| drop(root.spawn_task(fut).unwrap()));
    let signal = spawned_overhead::<200>(|root, fut| {
        drop(root.spawn_future_with_signal(fut, || ()).unwrap())
    });
    let tiny = spawned_overhead::<8>(|root, fut| drop(root.spawn_task(fut).unwrap()));
    println!(
        "spawn_task +{task} B (8-byte future +{tiny} B), spawn_future_with_signal +{signal} B"
    );
    assert!(task <= 40, "spawn_task: +{task} B");
    assert!(tiny <= 24, "spawn_task, 8-byte future: +{tiny} B");
    assert!(signal <= 32, "spawn_future_with_signal: +{signal} B");
}

/// A typed handle is at most four words: its view of the child's slot
/// (two) and the route to the child's outcome (a done cell, or tokio's
/// `JoinHandle`, behind a tag), so that a `Vec` of kept handles stays small.
#[test]
fn a_task_handle_is_at_most_four_words() {
    let handle = size_of::<tasktree::TaskHandle<[u8; 64]>>();
    println!("TaskHandle: {handle} B");
    assert!(handle <= 4 * size_of::<usize>(), "TaskHandle: {handle} B");
}
