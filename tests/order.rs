//! The termination order of the crate docs' Guarantees, phases 1-6, checked on an event
//! log: a task's future is dropped, then its children's futures, then the
//! children's `done`s run, then its own `done`, then its parent observes the
//! done signal. Both when the future completes and when it is cancelled, and
//! when the executor drops the tasks.
#![allow(clippy::disallowed_types)]

mod common;

use common::{on_each_executor, spawn_chain, Log, ManualExecutor, Top};
use tasktree::{ScopedSpawn, ScopedSpawner};

/// The whole chain, in termination order, as the test sees it.
const CHAIN_ORDER: [&str; 7] = [
    "top future dropped",
    "mid future dropped",
    "leaf future dropped",
    "leaf done",
    "mid done",
    "top done",
    "top observed",
];

/// Phases 1-6 and G2 when the top task is cancelled: exactly the chain order,
/// on every executor.
#[test]
fn order_when_cancelled() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let chain = spawn_chain(&root, &log, Top::Pends);
        chain.leaf_running.await.expect("the leaf runs");
        assert!(
            log.entries().is_empty(),
            "{executor}: nothing ended yet: {log:?}"
        );
        drop(chain.top.cancel_sender);
        chain.top.done_receiver.await;
        log.push("top observed");
        assert_eq!(log.entries(), CHAIN_ORDER, "{executor}");
        drop(chain.mid);
    });
}

/// Phases 1-6 and G2 when the top task's future completes: its children are
/// cancelled (phase 3) and awaited; exactly the chain order, on every
/// executor.
#[test]
fn order_when_future_completes() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let chain = spawn_chain(&root, &log, Top::Completes);
        chain.leaf_running.await.expect("the leaf runs");
        chain.top.done_receiver.await;
        log.push("top observed");
        assert_eq!(log.entries(), CHAIN_ORDER, "{executor}");
        assert!(
            !chain.top.cancel_sender.is_cancelled(),
            "{executor}: top completed on its own"
        );
        drop(chain.mid);
    });
}

/// Phases 2-6 with siblings: for each child, the parent's future is dropped
/// before the child's, the grandchild's `done` comes before the child's, and
/// every child's `done` before the parent's (G2), on every executor.
#[test]
fn order_with_siblings() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let (l, top_guard) = (log.clone(), log.guard("top"));
        let top = root
            .spawn_with_signal(
                move |spawner| {
                    for child in ["a", "b", "c"] {
                        let (l2, guard) = (l.clone(), l.guard(child));
                        spawner
                            .spawn(
                                move |spawner| {
                                    let grandchild = format!("{child}.1");
                                    spawner
                                        .spawn_future(
                                            pending_with(l2.guard(&grandchild)),
                                            l2.done(&grandchild),
                                        )
                                        .expect("spawn grandchild");
                                    pending_with(guard)
                                },
                                l.done(child),
                            )
                            .expect("spawn child");
                    }
                    pending_with(top_guard)
                },
                log.done("top"),
            )
            .expect("spawn top");
        drop(top.cancel_sender);
        top.done_receiver.await;
        log.push("top observed");
        let entries = log.entries();
        assert_eq!(entries.len(), 3 + 3 * 4, "{executor}: {entries:?}");
        for child in ["a", "b", "c"] {
            common::assert_order(
                &entries,
                &[
                    "top future dropped",
                    &format!("{child} future dropped"),
                    &format!("{child}.1 future dropped"),
                    &format!("{child}.1 done"),
                    &format!("{child} done"),
                    "top done",
                    "top observed",
                ],
            );
        }
    });
}

/// Phase 2 before phase 3, observed from inside: when a task's future is
/// dropped, its children have not been cancelled yet. The future holds a
/// probe on its child's cancel sender that looks when it is dropped (and
/// then forgets the sender, so that the probe itself cancels nothing). Both
/// when the task is cancelled and when its future completes, on every
/// executor.
#[test]
fn future_dropped_before_children_cancelled() {
    for completes in [false, true] {
        on_each_executor!(|root, executor| async move {
            let log = Log::new();
            let l = log.clone();
            let parent = root
                .spawn_with_signal(
                    move |spawner| {
                        let child = spawner
                            .spawn_future_with_signal(std::future::pending(), l.done("child"))
                            .expect("spawn child");
                        let probe = Probe {
                            sender: Some(child.cancel_sender),
                            log: l,
                        };
                        async move {
                            let _probe = probe;
                            common::yield_now().await;
                            if !completes {
                                std::future::pending::<()>().await
                            }
                        }
                    },
                    log.done("parent"),
                )
                .expect("spawn parent");
            common::yield_now().await;
            if !completes {
                drop(parent.cancel_sender);
            }
            parent.done_receiver.await;
            assert_eq!(
                log.entries(),
                [
                    "child cancelled at parent's drop: false",
                    "child done",
                    "parent done"
                ],
                "{executor}, parent completes: {completes}"
            );
        });
    }
}

/// Looks at a child's cancel state when dropped, then forgets its sender.
struct Probe {
    sender: Option<tasktree::CancelSender>,
    log: Log,
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            let cancelled = sender.is_cancelled();
            self.log
                .push(format!("child cancelled at parent's drop: {cancelled}"));
            tasktree::ForgettableSignalSender::forget(sender);
        }
    }
}

/// Phases 2-5 one step at a time on the manual executor: a task whose future
/// completes drops it, cancels its child, and waits (its `done` has not run
/// and its done receiver is pending) until the child has finished.
#[test]
fn phases_step_by_step() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let (go_tx, go_rx) = futures::channel::oneshot::channel::<()>();
    let (l, top_guard) = (log.clone(), log.guard("top"));
    let top = root
        .spawn_with_signal(
            move |spawner| {
                spawner
                    .spawn_future(pending_with(l.guard("child")), l.done("child"))
                    .expect("spawn child");
                async move {
                    let _guard = top_guard;
                    let _ = go_rx.await;
                }
            },
            log.done("top"),
        )
        .expect("spawn top");
    executor.run_until_stalled();
    assert!(log.entries().is_empty(), "both pending: {log:?}");

    // Phase 1: top's future completes; phase 2: it is dropped; phase 3: the
    // child is cancelled (and queued); phase 4: top waits.
    go_tx.send(()).expect("top waits for go");
    assert_eq!(executor.queued(), 1);
    assert!(executor.run_one());
    log.assert_exact(&["top future dropped"]);
    assert_eq!(executor.queued(), 1, "the cancel woke the child");
    assert!(!top.done_receiver.is_done());

    // The child terminates; its done signal wakes top.
    assert!(executor.run_one());
    log.assert_exact(&["top future dropped", "child future dropped", "child done"]);
    assert!(!top.done_receiver.is_done(), "top's `done` has not run yet");

    // Phases 5 and 6.
    assert!(executor.run_one());
    log.assert_exact(&[
        "top future dropped",
        "child future dropped",
        "child done",
        "top done",
    ]);
    assert!(top.done_receiver.is_done());
    assert_eq!(executor.run_until_stalled(), 0);
    assert_eq!(root.live_children(), 0);
    drop(top.cancel_sender);
}

/// G2 and G4 when a tokio runtime is dropped with the chain alive: every
/// future is dropped once, the `done`s still run upwards, all after every
/// future was dropped, and the top's done receiver is done.
#[test]
fn order_when_tokio_runtime_is_dropped() {
    let runtime = common::tokio_current_thread();
    let root = common::tokio_root(&runtime);
    let log = Log::new();
    let chain = spawn_chain(&root, &log, Top::Pends);
    runtime.block_on(chain.leaf_running).expect("the leaf runs");
    drop(runtime);
    assert_dropped_tree_order(&log);
    assert!(chain.top.done_receiver.is_done());
    assert!(chain.mid.done_receiver.is_done());
    assert_eq!(root.live_children(), 0);
}

/// As `order_when_tokio_runtime_is_dropped`, with the manual executor
/// dropping its tasks (in spawn order: top, mid, leaf).
#[test]
fn order_when_manual_executor_drops_tasks() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let chain = spawn_chain(&root, &log, Top::Pends);
    executor.run_until_stalled();
    executor.shutdown();
    assert_dropped_tree_order(&log);
    assert!(chain.top.done_receiver.is_done());
    assert!(chain.mid.done_receiver.is_done());
    assert_eq!(root.live_children(), 0);
}

/// What still holds when the executor, not a cancel, ends the tasks: each
/// future dropped once and each `done` once, the `done`s upwards, after all
/// the futures were dropped.
#[track_caller]
fn assert_dropped_tree_order(log: &Log) {
    let entries = log.entries();
    assert_eq!(entries.len(), 6, "{entries:?}");
    common::assert_order(&entries, &["leaf done", "mid done", "top done"]);
    let top_done = common::position(&entries, "top done");
    for task in ["top", "mid", "leaf"] {
        assert!(common::position(&entries, &format!("{task} future dropped")) < top_done);
    }
    assert!(
        common::position(&entries, "leaf future dropped") < common::position(&entries, "leaf done")
    );
    assert!(
        common::position(&entries, "mid future dropped") < common::position(&entries, "mid done")
    );
}

/// A future that holds `guard` and never completes.
async fn pending_with(guard: common::Guard) {
    let _guard = guard;
    std::future::pending::<()>().await
}
