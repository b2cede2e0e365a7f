//! G5 No orphans: a spawn racing the termination of the spawner's task
//! either fails with `SpawnError::Terminated` or makes a child that the
//! terminating task cancels and waits for; no child runs after its parent's
//! done signal; a spawner whose task has terminated returns an error and
//! does not panic.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::{Arc, Barrier, Mutex};

use common::{on_each_executor, Counter};
use tasktree::remote_scope::RawScopedSpawn;
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError, TokioSpawner};

const ROUNDS: usize = 1000;

/// What the racing spawn did, and what its child and grandchild did by the
/// time the parent's done receiver resolved.
struct Outcome {
    result: Result<(), SpawnError>,
    made: usize,
    child_done: usize,
    grandchild_done: usize,
    child_dropped: usize,
    grandchild_dropped: usize,
}

/// One round: a parent `P` hands a clone of its spawner out; one thread
/// spawns a child (which spawns a grandchild in its `fun`) through it while
/// `end_parent` runs on another thread. Returns what was observed when P's
/// done receiver resolved.
fn race_round(
    root: &ScopedSpawner<TokioSpawner>,
    parent_completes: bool,
    end_parent: impl FnOnce(tasktree::CancelSender) + Send,
) -> Outcome {
    let slot: Arc<Mutex<Option<ScopedSpawner<TokioSpawner>>>> = Arc::default();
    let s = slot.clone();
    let parent = root
        .spawn_with_signal(
            move |spawner| {
                *common::lock(&s) = Some(spawner);
                async move {
                    if parent_completes {
                        tokio::task::yield_now().await;
                    } else {
                        std::future::pending::<()>().await
                    }
                }
            },
            || (),
        )
        .expect("spawn parent");
    let spawner = common::lock(&slot).take().expect("the parent's spawner");
    let (made, child_done, grandchild_done) = (Counter::new(), Counter::new(), Counter::new());
    let (child_dropped, grandchild_dropped) = (Counter::new(), Counter::new());
    let barrier = Barrier::new(2);
    let cancel_sender = parent.cancel_sender;
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            barrier.wait();
            end_parent(cancel_sender);
        });
        barrier.wait();
        let (m, gd, gdr) = (
            made.clone(),
            grandchild_done.clone(),
            grandchild_dropped.clone(),
        );
        let child_guard = child_dropped.guard();
        spawner.spawn(
            move |child_spawner| {
                m.incr();
                let guard = gdr.guard();
                // The child's own scope is open: this spawn succeeds.
                child_spawner
                    .spawn_future(
                        async move {
                            let _guard = guard;
                            std::future::pending::<()>().await
                        },
                        gd.done(),
                    )
                    .expect("the child's scope is open");
                async move {
                    let _guard = child_guard;
                    std::future::pending::<()>().await
                }
            },
            child_done.done(),
        )
    });
    futures::executor::block_on(parent.done_receiver);
    Outcome {
        result,
        made: made.get(),
        child_done: child_done.get(),
        grandchild_done: grandchild_done.get(),
        child_dropped: child_dropped.get(),
        grandchild_dropped: grandchild_dropped.get(),
    }
}

/// Asserts G5 for one round, and returns whether the spawn won.
#[track_caller]
fn check(outcome: Outcome, round: usize) -> bool {
    match outcome.result {
        Ok(()) => {
            // The child was registered before the close: the parent
            // cancelled it and waited for it and its grandchild.
            assert_eq!(
                (outcome.made, outcome.child_dropped, outcome.child_done),
                (1, 1, 1),
                "round {round}: a spawned child outlived its parent"
            );
            assert_eq!(
                (outcome.grandchild_dropped, outcome.grandchild_done),
                (1, 1),
                "round {round}"
            );
            true
        }
        Err(err) => {
            assert_eq!(err, SpawnError::Terminated, "round {round}");
            // Neither `fun` nor `done` was called; the child's future (moved
            // into `fun`) was dropped with it.
            assert_eq!(
                (outcome.made, outcome.child_done, outcome.child_dropped),
                (0, 0, 1),
                "round {round}"
            );
            assert_eq!(
                (outcome.grandchild_dropped, outcome.grandchild_done),
                (0, 0),
                "round {round}"
            );
            false
        }
    }
}

/// G5: a spawn through the parent's spawner races the parent's cancel, sent
/// from another OS thread; the tree runs on tokio's workers. Either the
/// spawn fails with `Terminated`, or the child and its grandchild were
/// cancelled and done before the parent's done receiver resolved.
#[test]
fn spawn_races_cancel() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let mut won = 0;
    for round in 0..ROUNDS {
        won += usize::from(check(race_round(&root, false, drop), round));
    }
    eprintln!("spawn_races_cancel: the spawn won {won} of {ROUNDS} rounds");
    runtime.block_on(root.shutdown());
}

/// G5: as `spawn_races_cancel`, with the parent's future completing on its
/// own (on a worker) instead of being cancelled.
#[test]
fn spawn_races_completion() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let mut won = 0;
    for round in 0..ROUNDS {
        let forget = |sender: tasktree::CancelSender| {
            tasktree::ForgettableSignalSender::forget(sender);
        };
        won += usize::from(check(race_round(&root, true, forget), round));
    }
    eprintln!("spawn_races_completion: the spawn won {won} of {ROUNDS} rounds");
    runtime.block_on(root.shutdown());
}

/// G5: a thread keeps spawning children through a clone of a task's
/// spawner until it gets `Terminated`, while the task is cancelled. When the
/// task's done receiver resolves, every child that was spawned has run its
/// `done`; no spawn succeeds after that.
#[test]
fn spawning_thread_never_outlives_its_parent() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    for round in 0..50 {
        let slot: Arc<Mutex<Option<ScopedSpawner<TokioSpawner>>>> = Arc::default();
        let s = slot.clone();
        let parent = root
            .spawn_with_signal(
                move |spawner| {
                    *common::lock(&s) = Some(spawner);
                    std::future::pending::<()>()
                },
                || (),
            )
            .expect("spawn parent");
        let spawner = common::lock(&slot).take().expect("the parent's spawner");
        let (spawned, dones) = (Counter::new(), Counter::new());
        let d = dones.clone();
        let spawned_by_thread = spawned.clone();
        let spawning = std::thread::spawn(move || loop {
            match spawner.spawn_future(std::future::pending(), d.done()) {
                Ok(()) => spawned_by_thread.incr(),
                Err(err) => return err,
            }
        });
        while spawned.get() < 10 {
            std::thread::yield_now();
        }
        drop(parent.cancel_sender);
        futures::executor::block_on(parent.done_receiver);
        let done_at_parent_done = dones.get();
        let err = spawning.join().expect("the spawning thread");
        assert_eq!(err, SpawnError::Terminated, "round {round}");
        assert_eq!(
            done_at_parent_done,
            spawned.get(),
            "round {round}: children outlived their parent"
        );
    }
    runtime.block_on(root.shutdown());
}

/// G5, misuse: a clone of a child's spawner kept after the child terminated
/// returns `SpawnError::Terminated` from every spawn method (no panic, and
/// neither `fun` nor `done` is called), on every executor.
#[test]
fn leftover_spawner_after_termination() {
    on_each_executor!(|root, executor| async move {
        let slot = Arc::new(Mutex::new(None));
        let s = slot.clone();
        let child = root
            .spawn_with_signal(
                move |spawner| {
                    *common::lock(&s) = Some(spawner.clone());
                    async {}
                },
                || (),
            )
            .expect("spawn child");
        child.done_receiver.await;
        let leftover = common::lock(&slot).take().expect("the child's spawner");
        assert!(leftover.is_terminated(), "{executor}");
        let (calls, dones) = (Counter::new(), Counter::new());
        let c = calls.clone();
        let results = [
            leftover.spawn(
                move |_| {
                    c.incr();
                    async {}
                },
                dones.done(),
            ),
            leftover
                .spawn_with_signal(|_| async {}, dones.done())
                .map(drop),
            leftover.spawn_future(async {}, dones.done()),
            leftover
                .spawn_future_with_signal(async {}, dones.done())
                .map(drop),
            leftover.as_raw().spawn_raw().map(drop),
            leftover.as_raw().spawn_raw_with_signal().map(drop),
        ];
        for result in results {
            assert_eq!(result, Err(SpawnError::Terminated), "{executor}");
        }
        assert_eq!((calls.get(), dones.get()), (0, 0), "{executor}");
        assert_eq!(leftover.live_children(), 0, "{executor}");
        drop(child.cancel_sender);
    });
}

/// G5, misuse: the spawner of a cancelled task, used from a task that is
/// still running elsewhere in the tree, fails with `Terminated`.
#[test]
fn leftover_spawner_of_cancelled_task_used_by_sibling() {
    on_each_executor!(|root, executor| async move {
        let slot = Arc::new(Mutex::new(None));
        let s = slot.clone();
        let victim = root
            .spawn_with_signal(
                move |spawner| {
                    *common::lock(&s) = Some(spawner);
                    std::future::pending::<()>()
                },
                || (),
            )
            .expect("spawn victim");
        let leftover = common::lock(&slot).take().expect("the victim's spawner");
        drop(victim.cancel_sender);
        victim.done_receiver.await;
        let (tx, rx) = futures::channel::oneshot::channel();
        let dones = Counter::new();
        let d = dones.clone();
        let sibling = root
            .spawn_future_with_signal(
                async move {
                    let _ = tx.send(leftover.spawn_future(async {}, d.done()));
                },
                || (),
            )
            .expect("spawn sibling");
        assert_eq!(
            rx.await.expect("the sibling ran"),
            Err(SpawnError::Terminated),
            "{executor}"
        );
        sibling.done_receiver.await;
        assert_eq!(dones.get(), 0, "{executor}");
        drop(sibling.cancel_sender);
    });
}
