//! The discarding mode of `TaskSet`'s docs (issue 14): children whose
//! handles are not kept have their outputs dropped, and their slots freed,
//! as they finish, so a long-lived scope's memory stays flat. Measured with
//! a counting allocator (bytes live), alone in this test binary so that no
//! other test allocates meanwhile; the same loop keeping every handle grows
//! by the results, which shows that the measure can fail.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Spawns `total` children of a scope block, each returning a 1 KiB
/// vector, in rounds of 100 with a yield between rounds (so that finished
/// children end); returns the live bytes after the first 1,000 and at the
/// end, inside the block. `keep`: keep every handle (and so every result).
async fn grow(root: &tasktree::ScopedSpawner, total: usize, keep: bool) -> (isize, isize) {
    root.scope(|scope| async move {
        let mut kept = Vec::new();
        let mut early = 0;
        for i in 0..total {
            let handle = scope.spawn_task(async { vec![0u8; 1024] }).unwrap();
            if keep {
                kept.push(handle);
            } else {
                handle.detach();
            }
            if i % 100 == 99 {
                for _ in 0..4 {
                    tokio::task::yield_now().await;
                }
            }
            if i == 999 {
                early = live();
            }
        }
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let late = live();
        drop(kept);
        (early, late)
    })
    .await
    .unwrap()
}

#[test]
fn a_long_scope_of_detached_children_does_not_accumulate() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let root = tasktree::ScopedSpawner::new(tasktree::TokioSpawner::new(runtime.handle().clone()));
    runtime.block_on(async {
        let (early, late) = grow(&root, 20_000, false).await;
        let growth = late - early;
        println!("detached: {early} B after 1,000 children, {late} B after 20,000 (+{growth} B)");
        assert!(
            growth < 16 * 1024,
            "detached children accumulated {growth} B"
        );

        let (early, late) = grow(&root, 20_000, true).await;
        let growth = late - early;
        println!("kept: {early} B after 1,000 children, {late} B after 20,000 (+{growth} B)");
        assert!(
            growth > 19_000 * 1024,
            "the kept results are counted: +{growth} B"
        );
    });
}
