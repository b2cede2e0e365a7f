//! Panic propagation (issue 3): a panic in a child of a fail-fast scope
//! cancels its siblings and the body, and is resumed in the caller, with its
//! payload intact, only after the whole subtree has terminated in order
//! (G1-G4 for scopes); it travels up through fail-fast task scopes and nested
//! blocks; a later panic stays in its own handle.
#![allow(clippy::disallowed_types)]

mod common;

use common::{message, on_both_runtimes, pend, PanicOnDrop};

use std::panic::{panic_any, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use common::{lock, Log};
use futures::channel::oneshot;
use futures::FutureExt;
use tasktree::FailurePolicy::FailFast;
use tasktree::{ScopedSpawn, TaskHandle};

/// Asserts that the log no longer changes while the executor runs on:
/// nothing of the subtree is left to happen after the scope resolved.
async fn assert_settled(log: &Log, executor: &str) {
    let entries = log.entries();
    for _ in 0..20 {
        common::yield_now().await;
    }
    assert_eq!(
        log.entries(),
        entries,
        "{executor}: nothing may happen after the scope ended"
    );
}

/// G1, G2, G3, G4 for `scope`: the first child panic cancels the body and
/// the siblings (one with a grandchild), and is resumed in the caller with
/// its payload only after every future of the subtree has been dropped and
/// every `done` has run, bottom-up. The failing child's handle says
/// `is_failed`. The executor runs on afterwards.
#[test]
fn child_panic_is_resumed_after_the_subtree_terminated() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let failing: Arc<Mutex<Option<TaskHandle<()>>>> = Arc::default();
        let (l, slot) = (log.clone(), failing.clone());
        let body_guard = log.guard("body");
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            let _guard = body_guard;
            let (a1_tx, a1_rx) = oneshot::channel();
            let (b_tx, b_rx) = oneshot::channel();
            let la = l.clone();
            s.spawn(
                move |a| {
                    a.spawn_future(pend(&la, "a1", Some(a1_tx)), la.done("a1"))
                        .expect("spawn a1");
                    pend(&la, "a", None)
                },
                l.done("a"),
            )
            .expect("spawn a");
            s.spawn_future(pend(&l, "b", Some(b_tx)), l.done("b"))
                .expect("spawn b");
            let c_guard = l.guard("c");
            let handle = s
                .spawn_task(async move {
                    let _guard = c_guard;
                    a1_rx.await.expect("a1 runs");
                    b_rx.await.expect("b runs");
                    panic!("intentional child panic");
                })
                .expect("spawn c");
            *lock(&slot) = Some(handle);
            l.push("body waiting");
            std::future::pending::<()>().await
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("the child's panic is resumed");
        assert_eq!(
            message(payload.as_ref()),
            "intentional child panic",
            "{executor}"
        );
        log.push("caught");

        log.assert_order(&["body waiting", "body future dropped", "caught"]);
        log.assert_order(&["c future dropped", "caught"]);
        log.assert_order(&["b future dropped", "b done", "caught"]);
        log.assert_order(&[
            "a future dropped",
            "a1 future dropped",
            "a1 done",
            "a done",
            "caught",
        ]);
        assert_eq!(log.entries().len(), 10, "{executor}: {log:?}");
        let handle = lock(&failing).take().expect("c was spawned");
        let err = handle.await.expect_err("c failed");
        assert!(err.is_failed(), "{executor}: {err:?}");
        assert_settled(&log, executor).await;

        // The executor is not taken down: a new scope runs.
        let out =
            tasktree::scope(|s| async move { s.spawn_task(async { 2 }).unwrap().await }).await;
        assert_eq!(out.unwrap(), 2, "{executor}");
    });
}

/// The payload survives whatever its type: a `panic_any` value comes out
/// of the scope as that value.
#[test]
fn panic_payload_of_any_type_survives() {
    #[derive(Debug, PartialEq)]
    struct Payload {
        code: u32,
        what: String,
    }
    on_both_runtimes(|executor| async move {
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            s.spawn_task(async {
                panic_any(Payload {
                    code: 7,
                    what: "intentional".into(),
                })
            })
            .unwrap()
            .detach();
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("resumed").downcast::<Payload>();
        let payload = payload.expect("the payload keeps its type");
        assert_eq!(
            *payload,
            Payload {
                code: 7,
                what: "intentional".into()
            },
            "{executor}"
        );
    });
}

/// G1 for `scope`: a panic of the body cancels the children, and is resumed
/// once they have all terminated.
#[test]
fn body_panic_cancels_the_children_and_is_resumed() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            let (tx, rx) = oneshot::channel();
            s.spawn_future(pend(&l, "x", Some(tx)), l.done("x"))
                .expect("spawn x");
            s.spawn_future(pend(&l, "y", None), l.done("y"))
                .expect("spawn y");
            rx.await.expect("x runs");
            panic!("intentional body panic");
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("the body's panic is resumed");
        assert_eq!(
            message(payload.as_ref()),
            "intentional body panic",
            "{executor}"
        );
        log.push("caught");
        log.assert_order(&["x future dropped", "x done", "caught"]);
        log.assert_order(&["y future dropped", "y done", "caught"]);
        assert_settled(&log, executor).await;
    });
}

/// G4: a panic in a child future's `Drop` (after it completed) is a failure
/// like any other: the scope cancels the body and resumes it.
#[test]
fn panic_in_a_childs_drop_fails_the_scope() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            let _guard = l.guard("body");
            s.spawn_task(PanicOnDrop {
                inner: Box::pin(async { 1 }),
                message: "intentional drop panic",
            })
            .unwrap()
            .detach();
            std::future::pending::<()>().await
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("resumed");
        assert_eq!(
            message(payload.as_ref()),
            "intentional drop panic",
            "{executor}"
        );
        log.assert_exact(&["body future dropped"]);
    });
}

/// Fail-fast keeps the first failure only: a sibling that panics later (in
/// its `Drop`, while being cancelled by the first failure) keeps its panic
/// in its own handle; the scope resumes the first one.
#[test]
fn a_later_panic_stays_in_its_own_handle() {
    on_both_runtimes(|executor| async move {
        type Handles = (Option<TaskHandle<()>>, Option<TaskHandle<()>>);
        let handles: Arc<Mutex<Handles>> = Arc::default();
        let slot = handles.clone();
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            let (tx, rx) = oneshot::channel::<()>();
            let second = s
                .spawn_task(PanicOnDrop {
                    inner: Box::pin(async move {
                        let _ = tx.send(());
                        std::future::pending::<()>().await
                    }),
                    message: "intentional second panic",
                })
                .unwrap();
            let first = s
                .spawn_task(async move {
                    rx.await.expect("the second child runs");
                    panic!("intentional first panic");
                })
                .unwrap();
            *lock(&slot) = (Some(first), Some(second));
            std::future::pending::<()>().await
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("resumed");
        assert_eq!(
            message(payload.as_ref()),
            "intentional first panic",
            "{executor}"
        );
        let (first, second) = std::mem::take(&mut *lock(&handles));
        let first = first.expect("spawned").await.unwrap_err();
        assert!(first.is_failed(), "{executor}: {first:?}");
        let second = second.expect("spawned").await.unwrap_err();
        assert!(second.is_panic(), "{executor}: {second:?}");
        assert_eq!(
            message(second.into_panic().as_ref()),
            "intentional second panic"
        );
    });
}

/// G2 and I7, upwards: a panic two levels down, under task scopes set to
/// fail-fast, fails each owner in turn: the grandchild's siblings, then the
/// tasks themselves, then the scope block's other children are cancelled,
/// and the scope resumes the grandchild's payload after every `done` ran,
/// bottom-up.
#[test]
fn a_panic_travels_up_through_fail_fast_tasks() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            let (z_tx, z_rx) = oneshot::channel();
            s.spawn_future(pend(&l, "z", Some(z_tx)), l.done("z"))
                .expect("spawn z");
            let lt = l.clone();
            s.spawn(
                move |t| {
                    t.set_failure_policy(FailFast);
                    t.spawn_future(pend(&lt, "tx", None), lt.done("tx"))
                        .expect("spawn tx");
                    let lu = lt.clone();
                    t.spawn(
                        move |u| {
                            u.set_failure_policy(FailFast);
                            let (v_tx, v_rx) = oneshot::channel();
                            u.spawn_future(pend(&lu, "ux", Some(v_tx)), lu.done("ux"))
                                .expect("spawn ux");
                            u.spawn_future(
                                async move {
                                    v_rx.await.expect("ux runs");
                                    z_rx.await.expect("z runs");
                                    panic!("intentional grandchild panic");
                                },
                                lu.done("v"),
                            )
                            .expect("spawn v");
                            pend(&lu, "u", None)
                        },
                        lt.done("u"),
                    )
                    .expect("spawn u");
                    pend(&lt, "t", None)
                },
                l.done("t"),
            )
            .expect("spawn t");
            std::future::pending::<()>().await
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("resumed");
        assert_eq!(
            message(payload.as_ref()),
            "intentional grandchild panic",
            "{executor}"
        );
        log.push("caught");
        log.assert_order(&["ux future dropped", "ux done", "u done", "t done", "caught"]);
        log.assert_order(&["v done", "u done"]);
        log.assert_order(&["u future dropped", "u done"]);
        log.assert_order(&["tx future dropped", "tx done", "t done"]);
        log.assert_order(&["t future dropped", "t done"]);
        log.assert_order(&["z future dropped", "z done", "caught"]);
        assert_settled(&log, executor).await;
    });
}

/// A nested block's panic is resumed in the enclosing task's future, and
/// from there reaches that task's handle, payload intact, once the block's
/// children have terminated (G1).
#[test]
fn a_nested_scope_panic_reaches_the_enclosing_tasks_handle() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let root = tasktree::ScopedSpawner::tokio();
        let (l, r) = (log.clone(), root.clone());
        let handle = root
            .spawn_task(async move {
                r.scope(|s| async move {
                    let (tx, rx) = oneshot::channel();
                    s.spawn_future(pend(&l, "sibling", Some(tx)), l.done("sibling"))
                        .expect("spawn sibling");
                    s.spawn_task(async move {
                        rx.await.expect("the sibling runs");
                        panic!("intentional nested panic")
                    })
                    .unwrap()
                    .detach();
                    std::future::pending::<()>().await
                })
                .await
                .expect("the root is open")
            })
            .unwrap();
        let err = handle.await.expect_err("the task panicked");
        assert!(err.is_panic(), "{executor}: {err:?}");
        assert_eq!(
            message(err.into_panic().as_ref()),
            "intentional nested panic"
        );
        log.assert_exact(&["sibling future dropped", "sibling done"]);
        root.shutdown().await;
        assert_eq!(root.live_children(), 0, "{executor}");
    });
}
