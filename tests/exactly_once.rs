//! G4 Exactly once: each task's future is dropped once, its `done` runs once
//! and its done signal is sent once, whatever the race between its own
//! completion, its cancellation and its parent's termination. The races run
//! many times on tokio's multi-thread runtime (2 workers), with the test's
//! side on the `block_on` thread.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Counter, Log};
use tasktree::{ParentSignals, ScopedSpawn};

const ROUNDS: usize = 2000;

/// G4: a leaf whose future completes after 0-2 yields races a cancel sent
/// after 0-1 yields. After each done receiver resolves, the future was
/// dropped exactly once and `done` ran exactly once.
#[test]
fn completion_races_cancellation() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let (drops, dones) = (Counter::new(), Counter::new());
    runtime.block_on(async {
        for i in 0..ROUNDS {
            let guard = drops.guard();
            let signals = root
                .spawn_future_with_signal(
                    async move {
                        let _guard = guard;
                        for _ in 0..i % 3 {
                            tokio::task::yield_now().await;
                        }
                    },
                    dones.done(),
                )
                .expect("spawn");
            for _ in 0..i % 2 {
                tokio::task::yield_now().await;
            }
            drop(signals.cancel_sender);
            signals.done_receiver.await;
            assert_eq!((drops.get(), dones.get()), (i + 1, i + 1), "round {i}");
        }
        root.shutdown().await;
    });
    assert_eq!((drops.get(), dones.get()), (ROUNDS, ROUNDS));
    assert_eq!(root.live_children(), 0, "each done signal was counted once");
}

/// G4 and G2: a task with a pending grandchild completes at once while its
/// cancel races in. Per round: each future dropped once, each `done` once,
/// the grandchild's `done` first.
#[test]
fn completion_with_children_races_cancellation() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let log = Log::new();
    runtime.block_on(async {
        for i in 0..ROUNDS {
            log.clear();
            let l = log.clone();
            let child_guard = log.guard("child");
            let signals = root
                .spawn_with_signal(
                    move |spawner| {
                        let guard = l.guard("grandchild");
                        spawner
                            .spawn_future(
                                async move {
                                    let _guard = guard;
                                    std::future::pending::<()>().await
                                },
                                l.done("grandchild"),
                            )
                            .expect("spawn grandchild");
                        async move {
                            let _guard = child_guard;
                            if i % 2 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                    },
                    log.done("child"),
                )
                .expect("spawn child");
            for _ in 0..i % 3 {
                tokio::task::yield_now().await;
            }
            drop(signals.cancel_sender);
            signals.done_receiver.await;
            log.push("observed");
            let entries = log.entries();
            assert_eq!(entries.len(), 5, "round {i}: {entries:?}");
            common::assert_order(
                &entries,
                &[
                    "child future dropped",
                    "grandchild future dropped",
                    "grandchild done",
                    "child done",
                    "observed",
                ],
            );
        }
    });
}

/// G4 three ways: a parent completes after 0-1 yields (cancelling its
/// child), the test cancels the child, and the child completes after 0-2
/// yields, all at once. Per round: the child's future dropped once, its
/// `done` once and before the parent's, both done receivers resolve.
#[test]
fn completion_races_cancellation_and_parent_termination() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let log = Log::new();
    runtime.block_on(async {
        for i in 0..ROUNDS {
            log.clear();
            let slot: Arc<Mutex<Option<ParentSignals>>> = Arc::default();
            let (l, s) = (log.clone(), slot.clone());
            let parent = root
                .spawn_with_signal(
                    move |spawner| {
                        let guard = l.guard("child");
                        let child = spawner
                            .spawn_future_with_signal(
                                async move {
                                    let _guard = guard;
                                    for _ in 0..i % 3 {
                                        tokio::task::yield_now().await;
                                    }
                                },
                                l.done("child"),
                            )
                            .expect("spawn child");
                        *common::lock(&s) = Some(child);
                        async move {
                            if i % 2 == 1 {
                                tokio::task::yield_now().await;
                            }
                        }
                    },
                    log.done("parent"),
                )
                .expect("spawn parent");
            let child = common::lock(&slot).take().expect("child spawned");
            if i % 5 == 0 {
                tokio::task::yield_now().await;
            }
            drop(child.cancel_sender);
            child.done_receiver.await;
            parent.done_receiver.await;
            log.push("observed");
            let entries = log.entries();
            assert_eq!(entries.len(), 4, "round {i}: {entries:?}");
            common::assert_order(
                &entries,
                &[
                    "child future dropped",
                    "child done",
                    "parent done",
                    "observed",
                ],
            );
        }
        root.shutdown().await;
    });
    assert_eq!(root.live_children(), 0);
}

/// G4 with a panic: a future that panics on its first poll races its cancel.
/// Each round its future is dropped once, `done` runs once, the done
/// receiver resolves, and the runtime keeps running tasks.
#[test]
fn panic_races_cancellation() {
    common::quiet_intentional_panics();
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let (drops, dones) = (Counter::new(), Counter::new());
    let rounds = 500;
    runtime.block_on(async {
        for i in 0..rounds {
            let guard = drops.guard();
            let signals = root
                .spawn_future_with_signal(
                    async move {
                        let _guard = guard;
                        if i % 2 == 0 {
                            tokio::task::yield_now().await;
                        }
                        panic!("intentional panic in a racing future");
                    },
                    dones.done(),
                )
                .expect("spawn");
            if i % 3 == 0 {
                tokio::task::yield_now().await;
            }
            drop(signals.cancel_sender);
            signals.done_receiver.await;
            assert_eq!((drops.get(), dones.get()), (i + 1, i + 1), "round {i}");
        }
        root.shutdown().await;
    });
    assert_eq!(root.live_children(), 0);
}

/// G4 for root termination: many children, some completing, some being
/// cancelled by their senders, all racing the root's `shutdown`. Every
/// future is dropped once and every `done` runs once; `shutdown` resolves
/// only after all of them.
#[test]
fn children_race_root_shutdown() {
    let runtime = common::tokio_multi_thread();
    for round in 0..50 {
        let root = common::tokio_root(&runtime);
        let (drops, dones) = (Counter::new(), Counter::new());
        let mut senders = Vec::new();
        for i in 0..40 {
            let guard = drops.guard();
            let signals = root
                .spawn_future_with_signal(
                    async move {
                        let _guard = guard;
                        for _ in 0..i % 4 {
                            tokio::task::yield_now().await;
                        }
                        if i % 4 == 3 {
                            std::future::pending::<()>().await
                        }
                    },
                    dones.done(),
                )
                .expect("spawn");
            if i % 2 == 0 {
                drop(signals.cancel_sender);
            } else {
                senders.push(signals);
            }
        }
        runtime.block_on(root.shutdown());
        assert_eq!((drops.get(), dones.get()), (40, 40), "round {round}");
        assert!(
            senders.iter().all(|s| s.done_receiver.is_done()),
            "round {round}"
        );
    }
}
