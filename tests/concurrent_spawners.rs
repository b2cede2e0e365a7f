//! G7 Concurrent spawners: clones of one spawner used at the same time from
//! several OS threads register every child exactly once, and G1-G6 hold for
//! each child.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use common::{on_each_executor, Counter};
use tasktree::ScopedSpawn;

const THREADS: usize = 4;
const PER_THREAD: usize = 250;
const CHILDREN: usize = THREADS * PER_THREAD;

/// Per-child tallies, indexed by child id.
struct Tally {
    dropped: Vec<AtomicUsize>,
    done: Vec<AtomicUsize>,
}

impl Tally {
    fn new() -> Arc<Self> {
        let zeros = || (0..CHILDREN).map(|_| AtomicUsize::new(0)).collect();
        Arc::new(Self {
            dropped: zeros(),
            done: zeros(),
        })
    }

    /// A pending future for child `id` that counts its drop.
    fn future(
        self: &Arc<Self>,
        id: usize,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let guard = DropCount(self.clone(), id);
        async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }
    }

    fn done(self: &Arc<Self>, id: usize) -> impl FnOnce() + Send + 'static {
        let tally = self.clone();
        move || {
            tally.done[id].fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Asserts that every child was dropped once and done once.
    #[track_caller]
    fn assert_each_once(&self, executor: &str) {
        for id in 0..CHILDREN {
            let dropped = self.dropped[id].load(Ordering::SeqCst);
            let done = self.done[id].load(Ordering::SeqCst);
            assert_eq!((dropped, done), (1, 1), "{executor}: child {id}");
        }
    }

    fn done_count(&self) -> usize {
        self.done.iter().map(|d| d.load(Ordering::SeqCst)).sum()
    }
}

struct DropCount(Arc<Tally>, usize);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.dropped[self.1].fetch_add(1, Ordering::SeqCst);
    }
}

/// Spawns `PER_THREAD` children from each of `THREADS` OS threads, each
/// through its own clone of `spawner`, started together by a barrier. Child
/// ids are `thread * PER_THREAD + i`.
fn spawn_from_threads<S: ScopedSpawn + 'static>(spawner: &S, tally: &Arc<Tally>) {
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (spawner, barrier) = (spawner.clone(), &barrier);
            scope.spawn(move || {
                barrier.wait();
                for i in 0..PER_THREAD {
                    let id = thread * PER_THREAD + i;
                    spawner
                        .spawn_future(tally.future(id), tally.done(id))
                        .expect("spawn from a thread");
                }
            });
        }
    });
}

/// G7 and G8: threads spawning through clones of the root register every
/// child exactly once (`live_children` counts them all), and `shutdown`
/// cancels each exactly once, on every executor.
#[test]
fn threads_spawn_through_root_clones() {
    on_each_executor!(|root, executor| async move {
        let tally = Tally::new();
        spawn_from_threads(&root, &tally);
        assert_eq!(root.live_children(), CHILDREN, "{executor}");
        assert_eq!(tally.done_count(), 0, "{executor}");
        root.shutdown().await;
        tally.assert_each_once(executor);
        assert_eq!(root.live_children(), 0, "{executor}");
    });
}

/// G7 with G1 and G3: threads spawn through clones of a task's spawner;
/// cancelling the task ends every child exactly once before its done
/// receiver resolves, on every executor.
#[test]
fn threads_spawn_through_task_spawner_clones() {
    on_each_executor!(|root, executor| async move {
        let tally = Tally::new();
        let slot = Arc::new(Mutex::new(None));
        let s = slot.clone();
        let parent_done = Counter::new();
        let parent = root
            .spawn_with_signal(
                move |spawner| {
                    *common::lock(&s) = Some(spawner.clone());
                    std::future::pending::<()>()
                },
                parent_done.done(),
            )
            .expect("spawn parent");
        let spawner = common::lock(&slot).take().expect("the parent's spawner");
        spawn_from_threads(&spawner, &tally);
        assert_eq!(spawner.live_children(), CHILDREN, "{executor}");
        drop(parent.cancel_sender);
        parent.done_receiver.await;
        tally.assert_each_once(executor);
        assert_eq!(parent_done.get(), 1, "{executor}");
        assert!(spawner.is_terminated(), "{executor}");
    });
}

/// G7 with G4: threads spawn with signals and cancel half of their children
/// at once, while other threads keep spawning; every child ends exactly
/// once (the cancelled ones at once, the rest at `shutdown`).
#[test]
fn threads_spawn_and_cancel_concurrently() {
    on_each_executor!(|root, executor| async move {
        let tally = Tally::new();
        let barrier = Barrier::new(THREADS);
        let kept = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let (root, barrier, tally) = (root.clone(), &barrier, &tally);
                    scope.spawn(move || {
                        barrier.wait();
                        let mut kept = Vec::new();
                        for i in 0..PER_THREAD {
                            let id = thread * PER_THREAD + i;
                            let signals = root
                                .spawn_future_with_signal(tally.future(id), tally.done(id))
                                .expect("spawn from a thread");
                            if i % 2 == 0 {
                                drop(signals.cancel_sender);
                            } else {
                                kept.push(signals);
                            }
                        }
                        kept
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("spawning thread"))
                .collect::<Vec<_>>()
        });
        assert_eq!(kept.len(), CHILDREN / 2, "{executor}");
        root.shutdown().await;
        tally.assert_each_once(executor);
        assert!(kept.iter().all(|s| s.done_receiver.is_done()), "{executor}");
    });
}
