//! G1 Containment: when a done receiver resolves, the task's future and the
//! futures of all its descendants have been dropped, and all their `done`
//! callbacks have returned.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{on_each_executor, Log, ManualExecutor};
use tasktree::{ForgettableSignalSender, ParentSignals, ScopedSpawn, ScopedSpawner};

const TASKS: [&str; 5] = ["a", "a.b", "a.b.d", "a.b.e", "a.c"];

/// Spawns a -> {a.b -> {a.b.d, a.b.e}, a.c} from `spawner`. Every future holds
/// a guard; every `done` records "X done begins", yields the thread a while,
/// then records "X done". The children pend forever; `a` completes at once
/// if `a_completes`, else pends too.
fn spawn_tree(spawner: &impl ScopedSpawn, log: &Log, a_completes: bool) -> ParentSignals {
    let (l, a_guard) = (log.clone(), log.guard("a"));
    spawner
        .spawn_with_signal(
            move |a| {
                let (l2, b_guard) = (l.clone(), l.guard("a.b"));
                a.spawn(
                    move |b| {
                        for leaf in ["a.b.d", "a.b.e"] {
                            b.spawn_future(pending_with(l2.guard(leaf)), slow_done(&l2, leaf))
                                .expect("spawn leaf");
                        }
                        pending_with(b_guard)
                    },
                    slow_done(&l, "a.b"),
                )
                .expect("spawn a.b");
                a.spawn_future(pending_with(l.guard("a.c")), slow_done(&l, "a.c"))
                    .expect("spawn a.c");
                async move {
                    let _guard = a_guard;
                    if !a_completes {
                        std::future::pending::<()>().await
                    }
                }
            },
            slow_done(log, "a"),
        )
        .expect("spawn a")
}

/// A `done` callback that takes a while between its first and last event,
/// so that a done receiver resolving early would be seen in between.
fn slow_done(log: &Log, name: &str) -> impl FnOnce() + Send + 'static {
    let log = log.clone();
    let name = name.to_owned();
    move || {
        log.push(format!("{name} done begins"));
        for _ in 0..100 {
            std::thread::yield_now();
        }
        log.push(format!("{name} done"));
    }
}

async fn pending_with(guard: common::Guard) {
    let _guard = guard;
    std::future::pending::<()>().await
}

/// Asserts G1 for the tree of `spawn_tree` at the moment "a observed" was
/// logged: every future dropped and every `done` returned before it.
#[track_caller]
fn assert_contained(log: &Log, executor: &str) {
    let entries = log.entries();
    assert_eq!(
        entries.len(),
        TASKS.len() * 3 + 1,
        "{executor}: {entries:?}"
    );
    let observed = common::position(&entries, "a observed");
    assert_eq!(observed, entries.len() - 1, "{executor}: {entries:?}");
    for task in TASKS {
        common::assert_order(
            &entries,
            &[
                &format!("{task} future dropped"),
                &format!("{task} done begins"),
                &format!("{task} done"),
                "a observed",
            ],
        );
    }
}

/// G1 for a cancelled task: its done receiver resolves only after the whole
/// subtree has been dropped and every `done` has returned, on every executor.
#[test]
fn cancelled_task_done_receiver_contains_subtree() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let a = spawn_tree(&root, &log, false);
        common::yield_now().await;
        drop(a.cancel_sender);
        a.done_receiver.await;
        log.push("a observed");
        assert_contained(&log, executor);
    });
}

/// G1 for a task whose future completes while its children pend: the done
/// receiver waits for the cancelled children, on every executor.
#[test]
fn completed_task_done_receiver_contains_subtree() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let a = spawn_tree(&root, &log, true);
        a.done_receiver.await;
        log.push("a observed");
        assert_contained(&log, executor);
        assert!(
            !a.cancel_sender.is_cancelled(),
            "{executor}: a completed on its own"
        );
    });
}

/// G1 for a leaf spawned with `spawn_future_with_signal` that completes:
/// its future is dropped and its `done` has run when the receiver resolves.
#[test]
fn completed_leaf_done_receiver() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let guard = log.guard("leaf");
        let leaf = root
            .spawn_future_with_signal(
                async move {
                    let _guard = guard;
                    common::yield_now().await;
                },
                log.done("leaf"),
            )
            .expect("spawn leaf");
        leaf.done_receiver.await;
        log.push("leaf observed");
        log.assert_exact(&["leaf future dropped", "leaf done", "leaf observed"]);
        assert!(
            !leaf.cancel_sender.is_cancelled(),
            "{executor}: completed on its own"
        );
        drop(leaf.cancel_sender);
    });
}

/// G1 step by step on the manual executor: the done receiver is not done
/// when the cancel is sent, nor while the subtree is still running its
/// termination; it is done exactly when the last `done` has returned.
#[test]
fn done_receiver_is_not_done_early() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let a = spawn_tree(&root, &log, false);
    executor.run_until_stalled();
    assert!(log.entries().is_empty());

    drop(a.cancel_sender);
    assert!(
        !a.done_receiver.is_done(),
        "a cancel alone completes nothing"
    );
    let mut steps = 0;
    while executor.run_one() {
        steps += 1;
        let entries = log.entries();
        let all_done = TASKS
            .iter()
            .all(|task| entries.contains(&format!("{task} done")));
        assert_eq!(
            a.done_receiver.is_done(),
            all_done,
            "after step {steps}: {entries:?}"
        );
    }
    assert!(a.done_receiver.is_done());
    log.push("a observed");
    assert_contained(&log, "manual executor");
}

/// G1 across threads: a done receiver awaited on a plain OS thread, while
/// the tree runs on tokio's workers, sees every drop and `done` of the
/// subtree (counted with relaxed atomics, so only the library's
/// happens-before makes them visible).
#[test]
fn done_receiver_on_another_thread_sees_everything() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    for _ in 0..200 {
        let drops = Arc::new(AtomicUsize::new(0));
        let dones = Arc::new(AtomicUsize::new(0));
        let count = |counter: &Arc<AtomicUsize>| {
            let counter = counter.clone();
            move || {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        };
        let (d1, d2, n1, n2) = (drops.clone(), drops.clone(), dones.clone(), dones.clone());
        let parent = root
            .spawn_with_signal(
                move |spawner| {
                    for _ in 0..4 {
                        let guard = OnDrop(Some(count(&d1)));
                        spawner
                            .spawn_future(
                                async move {
                                    let _guard = guard;
                                    common::yield_now().await;
                                    std::future::pending::<()>().await
                                },
                                count(&n1),
                            )
                            .expect("spawn child");
                    }
                    let guard = OnDrop(Some(count(&d2)));
                    async move {
                        let _guard = guard;
                        common::yield_now().await;
                    }
                },
                count(&n2),
            )
            .expect("spawn parent");
        let observer = std::thread::spawn(move || {
            futures::executor::block_on(parent.done_receiver);
            (drops.load(Ordering::Relaxed), dones.load(Ordering::Relaxed))
        });
        let (dropped, done) = observer.join().expect("observer thread");
        assert_eq!((dropped, done), (5, 5));
        parent.cancel_sender.forget();
    }
}

/// Runs its closure when dropped.
struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// G1 and `live_children`: a child leaves its parent's count in the same
/// critical section in which its done receiver or handle completes, so once
/// either has resolved (here on another thread than the child's), the parent
/// no longer counts it.
#[test]
fn resolved_child_is_not_counted_live() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let mut still_live = 0;
    for round in 0..2000 {
        if round % 2 == 0 {
            let child = root
                .spawn_future_with_signal(async {}, || ())
                .expect("spawn");
            futures::executor::block_on(child.done_receiver);
            still_live += root.live_children();
            child.cancel_sender.forget();
        } else {
            let handle = root.spawn_task(async {}).expect("spawn");
            let _ = futures::executor::block_on(handle);
            still_live += root.live_children();
        }
    }
    assert_eq!(
        still_live, 0,
        "children counted live after their done receiver or handle resolved"
    );
}
