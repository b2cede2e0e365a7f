//! Failure policies (issue 3): fail-fast (the first failing child cancels
//! its siblings and the body or owner task, which then fails with it) versus
//! supervised (a child's failure reaches only its own handle), for scope
//! blocks (`scope` / `supervised_scope`) and for plain spawners
//! (`set_failure_policy`).
#![allow(clippy::disallowed_types)]

mod common;

use common::{message, on_both_runtimes, pend};

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use common::{lock, on_each_executor, quiet_intentional_panics, Log};
use futures::channel::oneshot;
use futures::FutureExt;
use tasktree::FailurePolicy::{FailFast, Supervised};
use tasktree::{ScopedSpawn, TaskHandle};

/// A child that waits for `go`, then panics with `message`.
async fn fail_after(go: oneshot::Receiver<()>, message: &'static str) {
    go.await.expect("go");
    panic!("{message}");
}

type Slot<T> = Arc<Mutex<Option<TaskHandle<T>>>>;

/// Fail-fast (`scope`): a child's panic cancels its running sibling and the
/// body; the sibling's handle says cancelled, the failing child's handle
/// says failed, and the scope resumes the panic.
#[test]
fn fail_fast_scope_cancels_siblings_and_body() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let sibling: Slot<()> = Arc::default();
        let failing: Slot<()> = Arc::default();
        let (l, s1, s2) = (log.clone(), sibling.clone(), failing.clone());
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            let _guard = l.guard("body");
            let (tx, rx) = oneshot::channel();
            *lock(&s1) = Some(s.spawn_task(pend(&l, "sibling", Some(tx))).unwrap());
            let handle = s
                .spawn_task(fail_after(rx, "intentional fail-fast"))
                .unwrap();
            *lock(&s2) = Some(handle);
            std::future::pending::<()>().await
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("fail-fast resumes the panic");
        assert_eq!(
            message(payload.as_ref()),
            "intentional fail-fast",
            "{executor}"
        );
        log.assert_once(&["body future dropped", "sibling future dropped"]);
        let sibling = lock(&sibling).take().unwrap();
        assert!(sibling.await.unwrap_err().is_cancelled(), "{executor}");
        let failing = lock(&failing).take().unwrap();
        assert!(failing.await.unwrap_err().is_failed(), "{executor}");
    });
}

/// Supervised (`supervised_scope`): a child's panic reaches only its own
/// handle (payload intact); the sibling is not cancelled and completes, the
/// body runs on, and the scope's output is the body's output.
#[test]
fn supervised_scope_isolates_a_childs_panic() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let out = tasktree::supervised_scope(|s| async move {
            let (go_tx, go_rx) = oneshot::channel::<u32>();
            let sibling = s
                .spawn_task(async move { go_rx.await.expect("go") * 2 })
                .unwrap();
            let (tx, rx) = oneshot::channel();
            let failing = s
                .spawn_task(fail_after(rx, "intentional supervised"))
                .unwrap();
            tx.send(()).unwrap();
            let err = failing.await.unwrap_err();
            assert!(err.is_panic(), "{err:?}");
            assert_eq!(message(err.into_panic().as_ref()), "intentional supervised");
            l.push("body saw the panic");
            go_tx.send(21).expect("the sibling was not cancelled");
            sibling.await.expect("the sibling completes")
        })
        .await;
        assert_eq!(out, 42, "{executor}");
        log.assert_exact(&["body saw the panic"]);
    });
}

/// Supervised: many children fail and succeed side by side; each result
/// reaches its own handle, in full.
#[test]
fn supervised_children_do_not_touch_each_other() {
    on_both_runtimes(|executor| async move {
        let results = tasktree::supervised_scope(|s| async move {
            let handles: Vec<_> = (0..8u32)
                .map(|i| {
                    s.spawn_task(async move {
                        common::yield_now().await;
                        if i % 2 == 1 {
                            panic!("intentional odd {i}");
                        }
                        i
                    })
                    .unwrap()
                })
                .collect();
            let mut results = Vec::new();
            for handle in handles {
                results.push(match handle.await {
                    Ok(i) => format!("ok {i}"),
                    Err(err) => message(err.into_panic().as_ref()).to_string(),
                });
            }
            results
        })
        .await;
        let expected: Vec<String> = (0..8)
            .map(|i| {
                if i % 2 == 1 {
                    format!("intentional odd {i}")
                } else {
                    format!("ok {i}")
                }
            })
            .collect();
        assert_eq!(results, expected, "{executor}");
    });
}

/// Supervised: a panic of the body itself still cancels the children, and
/// is resumed once they have terminated (G1).
#[test]
fn supervised_scope_body_panic_cancels_children() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let caught = AssertUnwindSafe(tasktree::supervised_scope(|s| async move {
            let (tx, rx) = oneshot::channel();
            s.spawn_future(pend(&l, "child", Some(tx)), l.done("child"))
                .unwrap();
            rx.await.unwrap();
            panic!("intentional supervised body panic");
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("resumed");
        assert_eq!(
            message(payload.as_ref()),
            "intentional supervised body panic",
            "{executor}"
        );
        log.assert_exact(&["child future dropped", "child done"]);
    });
}

/// Fail-fast applies while the block drains too: the body has returned,
/// its children are being awaited, and one panics; the others are then
/// cancelled (not awaited) and the panic is resumed; the body's output is
/// discarded.
#[test]
fn fail_fast_after_the_body_returned() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let caught = AssertUnwindSafe(tasktree::scope(|s| async move {
            let (tx, rx) = oneshot::channel();
            s.spawn_future(pend(&l, "waiter", None), l.done("waiter"))
                .unwrap();
            s.spawn_task(fail_after(rx, "intentional while draining"))
                .unwrap()
                .detach();
            l.push("body returned");
            // The child fails only now, as the body returns (before, the
            // waiter's first poll let it fail earlier, on another worker).
            tx.send(()).unwrap();
            "the body's output"
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("resumed");
        assert_eq!(
            message(payload.as_ref()),
            "intentional while draining",
            "{executor}"
        );
        log.assert_order(&["body returned", "waiter future dropped", "waiter done"]);
    });
}

/// Supervised, after the body returned: a detached child's panic is dropped
/// with its handle's result and does not stop the scope from returning the
/// body's output once every child is done.
#[test]
fn supervised_after_the_body_returned() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let out = tasktree::supervised_scope(|s| async move {
            let (tx, rx) = oneshot::channel::<()>();
            let lw = l.clone();
            s.spawn_future(
                async move {
                    let _ = rx.await;
                    lw.push("waiter completed");
                },
                l.done("waiter"),
            )
            .unwrap();
            s.spawn_task(async move {
                let _tx = tx; // dropped by the panic: releases the waiter
                panic!("intentional supervised while draining");
            })
            .unwrap()
            .detach();
            "the body's output"
        })
        .await;
        assert_eq!(out, "the body's output", "{executor}");
        log.assert_exact(&["waiter completed", "waiter done"]);
    });
}

/// `set_failure_policy(FailFast)` on a task's spawner: a child's panic
/// cancels the task's other child and the task's own future; the task's
/// `done` follows every child's (G2); the task's siblings under the
/// (supervised) root are untouched.
#[test]
fn fail_fast_task_spawner_cancels_siblings_and_owner() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let (out_tx, out_rx) = oneshot::channel();
        let outside = root
            .spawn_task(pend(&log, "outside", Some(out_tx)))
            .unwrap();
        let task = root
            .spawn_with_signal(
                move |spawner| {
                    spawner.set_failure_policy(FailFast);
                    let (tx, rx) = oneshot::channel();
                    spawner
                        .spawn_future(pend(&l, "sibling", Some(tx)), l.done("sibling"))
                        .unwrap();
                    spawner
                        .spawn_future(
                            fail_after(rx, "intentional task fail-fast"),
                            l.done("failing"),
                        )
                        .unwrap();
                    pend(&l, "task", None)
                },
                log.done("task"),
            )
            .unwrap();
        out_rx.await.expect("the outside task runs");
        task.done_receiver.await;
        log.assert_order(&["sibling future dropped", "sibling done", "task done"]);
        log.assert_order(&["failing done", "task done"]);
        log.assert_order(&["task future dropped", "task done"]);
        assert!(
            !log.contains("outside future dropped"),
            "{executor}: {log:?}"
        );
        assert!(!outside.is_finished(), "{executor}");
        assert!(!root.is_terminated(), "{executor}");
        assert_eq!(root.spawn_task(async { 1 }).unwrap().await.unwrap(), 1);
        drop(task.cancel_sender);
        drop(outside);
        root.shutdown().await;
    });
}

/// Supervised is the default for spawners, and `set_failure_policy
/// (Supervised)` undoes `FailFast`: a child's panic reaches only its handle;
/// the task's other child and the task's own future run on.
#[test]
fn supervised_task_spawner_isolates_a_childs_panic() {
    quiet_intentional_panics();
    for explicit in [false, true] {
        on_each_executor!(|root, executor| async move {
            let log = Log::new();
            let l = log.clone();
            let failing: Slot<()> = Arc::default();
            let slot = failing.clone();
            let (running_tx, running_rx) = oneshot::channel();
            let task = root
                .spawn_with_signal(
                    move |spawner| {
                        if explicit {
                            spawner.set_failure_policy(FailFast);
                            spawner.clone().set_failure_policy(Supervised);
                        }
                        let (tx, rx) = oneshot::channel();
                        spawner
                            .spawn_future(pend(&l, "sibling", Some(tx)), l.done("sibling"))
                            .unwrap();
                        let handle = spawner
                            .spawn_task(fail_after(rx, "intentional supervised task"))
                            .unwrap();
                        *lock(&slot) = Some(handle);
                        pend(&l, "task", Some(running_tx))
                    },
                    log.done("task"),
                )
                .unwrap();
            running_rx.await.expect("the task runs");
            let handle = lock(&failing).take().expect("spawned");
            let err = handle.await.unwrap_err();
            assert!(err.is_panic(), "{executor}: {err:?}");
            assert_eq!(
                message(err.into_panic().as_ref()),
                "intentional supervised task"
            );
            for _ in 0..10 {
                common::yield_now().await;
            }
            assert!(log.entries().is_empty(), "{executor}: {log:?}");
            assert!(!task.done_receiver.is_done(), "{executor}");
            drop(task.cancel_sender);
            task.done_receiver.await;
            log.assert_order(&[
                "task future dropped",
                "sibling future dropped",
                "sibling done",
                "task done",
            ]);
        });
    }
}

/// The policy belongs to the scope, not to one clone: set through a clone,
/// it governs children spawned through the original.
#[test]
fn the_policy_applies_through_every_clone() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let task = root
            .spawn_with_signal(
                move |spawner| {
                    spawner.clone().set_failure_policy(FailFast);
                    let (tx, rx) = oneshot::channel();
                    spawner
                        .spawn_future(pend(&l, "sibling", Some(tx)), l.done("sibling"))
                        .unwrap();
                    spawner
                        .spawn_future(fail_after(rx, "intentional via clone"), || ())
                        .unwrap();
                    pend(&l, "task", None)
                },
                log.done("task"),
            )
            .unwrap();
        task.done_receiver.await;
        log.assert_order(&["sibling future dropped", "sibling done", "task done"]);
        log.assert_order(&["task future dropped", "task done"]);
        let _ = executor;
    });
}

/// Fail-fast on a root: the first child panic cancels the other children
/// and closes the root (later spawns fail, G5); the failing child's handle
/// keeps the panic (a root has no owner to take it).
#[test]
fn fail_fast_root_cancels_its_children_and_closes() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        root.set_failure_policy(FailFast);
        let (tx, rx) = oneshot::channel();
        let sibling = root.spawn_task(pend(&log, "sibling", Some(tx))).unwrap();
        let failing = root
            .spawn_task(fail_after(rx, "intentional root fail-fast"))
            .unwrap();
        assert!(sibling.await.unwrap_err().is_cancelled(), "{executor}");
        assert!(failing.await.unwrap_err().is_panic(), "{executor}");
        assert!(root.is_terminated(), "{executor}");
        assert!(root.spawn_task(async {}).unwrap_err().is_terminated());
        log.assert_exact(&["sibling future dropped"]);
    });
}

/// The panic of a fail-fast root's child must reach someone: a root has no
/// owner task and no scope block to resume it, so its handle keeps it
/// (the crate docs, G4: "a future's panic is reported to its handle, or
/// taken by its fail-fast scope").
#[test]
fn fail_fast_root_does_not_lose_the_panic() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        root.set_failure_policy(FailFast);
        let failing = root
            .spawn_task(async { panic!("intentional lost panic") })
            .unwrap();
        let err = failing.await.unwrap_err();
        assert!(err.is_panic(), "{executor}: the payload is lost: {err:?}");
    });
}

/// The nested forms keep their policies on every executor: in
/// `spawner.supervised_scope` a child's panic reaches only its handle and
/// the sibling completes; in `spawner.scope` (fail-fast) it cancels the
/// sibling and is resumed in the caller after the sibling terminated.
#[test]
fn nested_blocks_follow_their_policy_on_every_executor() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let out = root
            .supervised_scope(|s| async move {
                let (go_tx, go_rx) = oneshot::channel::<()>();
                let sibling = s
                    .spawn_task(async move {
                        go_rx.await.expect("go");
                        "sibling completed"
                    })
                    .unwrap();
                let failing = s
                    .spawn_task(async { panic!("intentional nested supervised") })
                    .unwrap();
                let err = failing.await.unwrap_err();
                assert_eq!(
                    message(err.into_panic().as_ref()),
                    "intentional nested supervised"
                );
                go_tx.send(()).expect("the sibling was not cancelled");
                sibling.await.unwrap()
            })
            .await
            .expect("the root is open");
        assert_eq!(out, "sibling completed", "{executor}");

        let log = Log::new();
        let l = log.clone();
        let caught = AssertUnwindSafe(root.scope(|s| async move {
            let (tx, rx) = oneshot::channel();
            s.spawn_future(pend(&l, "sibling", Some(tx)), l.done("sibling"))
                .unwrap();
            s.spawn_task(fail_after(rx, "intentional nested fail-fast"))
                .unwrap()
                .detach();
            std::future::pending::<()>().await
        }))
        .catch_unwind()
        .await;
        let payload = caught.expect_err("resumed in the caller");
        assert_eq!(
            message(payload.as_ref()),
            "intentional nested fail-fast",
            "{executor}"
        );
        log.assert_exact(&["sibling future dropped", "sibling done"]);
        assert!(
            !root.is_terminated(),
            "{executor}: the root is not failed by a block"
        );
    });
}
