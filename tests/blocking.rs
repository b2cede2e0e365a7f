//! Blocking tasks in the tree (issue 14): `ScopedSpawner::spawn_blocking`,
//! on tokio's multi-thread and current-thread runtimes. The cancel is
//! cooperative; the parent's termination waits for the closure (G1).
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{quiet_intentional_panics, until};
use tasktree::{CancelReason, FailurePolicy, ScopedSpawn, ScopedSpawner, TokioSpawner};

/// The two runtimes, with timers (grace periods).
fn runtimes() -> [(tokio::runtime::Runtime, &'static str); 2] {
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build();
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build();
    [
        (multi.unwrap(), "multi-thread"),
        (current.unwrap(), "current-thread"),
    ]
}

/// The closure's value comes through the handle.
#[test]
fn a_blocking_task_returns_its_value() {
    for (runtime, name) in runtimes() {
        let root = common::tokio_root(&runtime);
        runtime.block_on(async {
            let handle = root.spawn_blocking(|_cancel| 6 * 7).unwrap();
            assert_eq!(handle.await.unwrap(), 42, "{name}");
            assert_eq!(root.metrics().completed, 1);
        });
    }
}

/// A graceful cancel reaches the closure through its token: first the stop
/// request, then, once the grace period is over, the cancel. The closure's
/// parent ends only after the closure has returned (G1), and a dump lists
/// the closure, named `blocking`, cancelled and still running after its
/// grace period.
#[test]
fn a_cancel_is_cooperative_and_the_parent_waits_for_the_closure() {
    for (runtime, name) in runtimes() {
        let root = common::tokio_root(&runtime);
        runtime.block_on(async {
            let returned = Arc::new(AtomicBool::new(false));
            let (noticed_tx, noticed_rx) = tokio::sync::oneshot::channel();
            let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
            let seen = returned.clone();
            let parent = root
                .spawn_task_with(move |spawner: ScopedSpawner<TokioSpawner>| async move {
                    let work = spawner
                        .spawn_blocking(move |cancel| {
                            while !cancel.is_stop_requested() {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            let asked_first = !cancel.is_cancelled();
                            while !cancel.is_cancelled() {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            noticed_tx.send(asked_first).unwrap();
                            // Still running after the cancel, until told.
                            finish_rx.recv().unwrap();
                            seen.store(true, Ordering::SeqCst);
                            "stopped early"
                        })
                        .unwrap();
                    work.detach();
                    std::future::pending::<()>().await
                })
                .unwrap();
            until("the closure runs", || root.dump().tasks().len() == 2).await;
            parent.cancel_with_grace(Duration::from_millis(20)).unwrap();
            // The closure notices (the runtime runs the parent's end).
            let asked_first = noticed_rx.await.unwrap();
            assert!(asked_first, "{name}: a stop request before the cancel");
            let dump = root.dump();
            let text = dump.to_string();
            assert!(
                text.contains("\"blocking\": cancelled (an ancestor's handle cancelled it)"),
                "{name}: {text}"
            );
            assert!(!parent.is_finished(), "{name}: the closure still runs");
            finish_tx.send(()).unwrap();
            let err = parent.await.unwrap_err();
            assert!(err.is_cancelled());
            assert!(
                returned.load(Ordering::SeqCst),
                "{name}: G1, the closure returned first"
            );
        });
    }
}

/// A handle's cancel, read by the closure, and the value it returns
/// anyway; a panic comes out of the handle, or goes to a fail-fast parent.
#[test]
fn a_blocking_task_reports_what_its_closure_did() {
    quiet_intentional_panics();
    for (runtime, name) in runtimes() {
        let root = common::tokio_root(&runtime);
        runtime.block_on(async {
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let handle = root
                .spawn_blocking(move |cancel| {
                    started_tx.send(()).unwrap();
                    while !cancel.is_cancelled() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    "noticed"
                })
                .unwrap();
            started_rx.await.unwrap();
            handle.cancel();
            assert_eq!(handle.await.unwrap(), "noticed", "{name}");

            let panicked = root
                .spawn_blocking(|_| panic!("intentional: blocking"))
                .unwrap();
            assert!(panicked.await.unwrap_err().is_panic(), "{name}");

            let owner = root
                .spawn_task_with(|spawner: ScopedSpawner<TokioSpawner>| async move {
                    spawner.set_failure_policy(FailurePolicy::FailFast);
                    let failing = spawner
                        .spawn_blocking(|_| panic!("intentional: blocking, fail-fast"))
                        .unwrap();
                    let err = failing.await.unwrap_err();
                    assert!(err.is_failed());
                    std::future::pending::<()>().await
                })
                .unwrap();
            assert!(
                owner.await.unwrap_err().is_panic(),
                "{name}: the failure goes up"
            );
        });
    }
}

/// A closure the runtime never runs (it is shutting down) is dropped
/// unrun: the handle reports a cancel by the executor.
#[test]
fn a_closure_the_runtime_never_runs() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    runtime.shutdown_background();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let handle = root
        .spawn_blocking(move |_| flag.store(true, Ordering::SeqCst))
        .unwrap();
    let err = futures::executor::block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(err.cancel_cause().unwrap().reason(), CancelReason::Executor);
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(root.metrics().live, 0);
}
