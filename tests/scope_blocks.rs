//! Scope blocks (issue 3): `scope` / `spawner.scope` complete only when the
//! body and every child have terminated; children are awaited, not
//! cancelled, when the body ends; the output is the body's output; a nested
//! block is a child slot of its enclosing scope, so the enclosing task waits
//! for its children even when the block future is dropped (G1, G2, G5).
#![allow(clippy::disallowed_types)]

mod common;

use common::{on_both_runtimes, pend};

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{lock, on_each_executor, Log};
use futures::channel::oneshot;
use futures::future::{select, Either};
use tasktree::{ScopedSpawn, ScopedSpawner, TokioSpawner};

/// A child that waits until the body is gone (its `release` sender, held by
/// the body, is dropped with it), then logs `"{name} completed"`.
fn after_body(
    log: &Log,
    name: &'static str,
    release: oneshot::Receiver<()>,
) -> impl Future<Output = ()> + Send + 'static {
    let (log, guard) = (log.clone(), log.guard(name));
    async move {
        let _guard = guard;
        let _ = release.await;
        log.push(format!("{name} completed"));
    }
}

/// Children are awaited, not cancelled, when the body returns: each child
/// completes after the body is gone, the scope resolves after every child
/// (and the grandchild of one, which its own parent's completion cancels,
/// phase 3) has terminated and run its `done`, bottom-up (G1, G2). The
/// output is the body's output.
#[test]
fn children_are_awaited_not_cancelled_when_the_body_ends() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let out = tasktree::scope(|s| async move {
            let (a_tx, a_rx) = oneshot::channel::<()>();
            let (b_tx, b_rx) = oneshot::channel::<()>();
            let (c_tx, c_rx) = oneshot::channel::<()>();
            s.spawn_future(after_body(&l, "a", a_rx), l.done("a"))
                .unwrap();
            s.spawn_task(after_body(&l, "b", b_rx)).unwrap().detach();
            let lc = l.clone();
            s.spawn(
                move |c| {
                    c.spawn_future(pend(&lc, "c1", None), lc.done("c1"))
                        .unwrap();
                    after_body(&lc, "c", c_rx)
                },
                l.done("c"),
            )
            .unwrap();
            let _release = (a_tx, b_tx, c_tx);
            l.push("body returns");
            String::from("the body's output")
        })
        .await;
        log.push("scope ended");
        assert_eq!(out, "the body's output", "{executor}");
        log.assert_order(&[
            "body returns",
            "a completed",
            "a future dropped",
            "a done",
            "scope ended",
        ]);
        log.assert_order(&[
            "body returns",
            "b completed",
            "b future dropped",
            "scope ended",
        ]);
        log.assert_order(&[
            "body returns",
            "c completed",
            "c future dropped",
            "c1 future dropped",
            "c1 done",
            "c done",
            "scope ended",
        ]);
        assert_eq!(log.entries().len(), 12, "{executor}: {log:?}");
    });
}

/// The output is the body's output, whatever its type, also with no
/// children at all.
#[test]
fn the_output_is_the_bodys_output() {
    on_both_runtimes(|executor| async move {
        assert_eq!(tasktree::scope(|_| async { 5 }).await, 5, "{executor}");
        let v = tasktree::scope(|s| async move {
            let a = s.spawn_task(async { vec![1, 2] }).unwrap();
            let b = s.spawn_task(async { vec![3] }).unwrap();
            let mut v = a.await.unwrap();
            v.extend(b.await.unwrap());
            v
        })
        .await;
        assert_eq!(v, [1, 2, 3], "{executor}");
        let s = tasktree::supervised_scope(|_| async { "supervised" }).await;
        assert_eq!(s, "supervised", "{executor}");
    });
}

/// A child that spawns a sibling through a clone of the block's spawner
/// after the body returned: the late sibling is awaited too (the scope
/// closes only once it has seen every child done); after the block, the
/// clone refuses to spawn (G5).
#[test]
fn a_child_spawned_while_draining_is_awaited() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let leaked: Arc<Mutex<Option<ScopedSpawner<TokioSpawner>>>> = Arc::default();
        let slot = leaked.clone();
        tasktree::scope(|s| async move {
            *lock(&slot) = Some(s.clone());
            let (tx, rx) = oneshot::channel::<()>();
            let (s2, l2) = (s.clone(), l.clone());
            s.spawn_future(
                async move {
                    let _ = rx.await; // the body is gone
                    let (late_tx, late_rx) = oneshot::channel::<()>();
                    s2.spawn_future(after_body(&l2, "late", late_rx), l2.done("late"))
                        .expect("the block is draining, not closed");
                    l2.push("early completed");
                    drop(late_tx);
                },
                l.done("early"),
            )
            .unwrap();
            let _release = tx;
        })
        .await;
        log.push("scope ended");
        log.assert_order(&["early completed", "early done", "scope ended"]);
        log.assert_order(&[
            "late completed",
            "late future dropped",
            "late done",
            "scope ended",
        ]);
        let s = lock(&leaked).take().unwrap();
        assert!(s.is_terminated(), "{executor}");
        let err = s.spawn_future(async {}, || ()).unwrap_err();
        assert!(err.is_terminated(), "{executor}: {err:?}");
    });
}

/// `spawner.scope` in a task: the block's children are awaited when its
/// body returns, and the task goes on with the body's output; the task's
/// `done` follows them all (G2).
#[test]
fn a_nested_scope_returns_the_bodys_output_to_its_task() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let task = root
            .spawn_with_signal(
                move |spawner| async move {
                    let lb = l.clone();
                    let out = spawner
                        .scope(|s| async move {
                            let l = lb;
                            let (tx, rx) = oneshot::channel::<()>();
                            s.spawn_future(after_body(&l, "child", rx), l.done("child"))
                                .unwrap();
                            let _release = tx;
                            21
                        })
                        .await
                        .expect("the task's scope is open");
                    l.push(format!("task got {}", out * 2));
                },
                log.done("task"),
            )
            .unwrap();
        task.done_receiver.await;
        log.assert_order(&["child completed", "child done", "task got 42", "task done"]);
        let _ = executor;
    });
}

/// G1: a nested block whose future is dropped (here when another branch of
/// a `select` wins) is still awaited by its enclosing task: the block's
/// children (one with a grandchild) are cancelled, and the task's `done`
/// runs only after all of theirs; the task's done receiver resolves after.
#[test]
fn a_dropped_nested_scope_is_awaited_by_its_enclosing_task() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let task = root
            .spawn_with_signal(
                move |spawner| async move {
                    let (running_tx, running_rx) = oneshot::channel();
                    let lb = l.clone();
                    let block = spawner.scope(|s| async move {
                        let lx = lb.clone();
                        s.spawn(
                            move |x| {
                                x.spawn_future(pend(&lx, "x1", Some(running_tx)), lx.done("x1"))
                                    .unwrap();
                                pend(&lx, "x", None)
                            },
                            lb.done("x"),
                        )
                        .unwrap();
                        s.spawn_future(pend(&lb, "y", None), lb.done("y")).unwrap();
                        pend(&lb, "body", None).await;
                    });
                    match select(Box::pin(block), running_rx).await {
                        Either::Right((running, block)) => {
                            running.expect("x1 runs");
                            drop(block);
                            l.push("block dropped");
                        }
                        Either::Left(_) => unreachable!("the block never ends"),
                    }
                },
                log.done("task"),
            )
            .unwrap();
        task.done_receiver.await;
        log.push("task observed done");
        log.assert_order(&["body future dropped", "block dropped", "task done"]);
        log.assert_order(&[
            "x future dropped",
            "x1 future dropped",
            "x1 done",
            "x done",
            "task done",
            "task observed done",
        ]);
        log.assert_order(&["y future dropped", "y done", "task done"]);
        let _ = executor;
    });
}

/// G1, G3: a task cancelled while it awaits a nested block: the task's
/// future, hence the block and its body, is dropped; the block's children
/// are cancelled, and the task's `done` follows theirs.
#[test]
fn cancelling_the_enclosing_task_cancels_the_blocks_children() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let (running_tx, running_rx) = oneshot::channel();
        let task = root
            .spawn_with_signal(
                move |spawner| async move {
                    let lb = l.clone();
                    let _ = spawner
                        .scope(|s| async move {
                            s.spawn_future(pend(&lb, "child", Some(running_tx)), lb.done("child"))
                                .unwrap();
                            pend(&lb, "body", None).await;
                        })
                        .await;
                    unreachable!("the body never returns");
                },
                log.done("task"),
            )
            .unwrap();
        running_rx.await.expect("the child runs");
        drop(task.cancel_sender);
        task.done_receiver.await;
        log.assert_order(&[
            "body future dropped",
            "child future dropped",
            "child done",
            "task done",
        ]);
        root.shutdown().await;
        assert_eq!(root.live_children(), 0, "{executor}");
    });
}

/// The enclosing scope is cancelled (the root shuts down) while a nested
/// block's body runs and its future is kept: the block's children are
/// cancelled; the body itself (the enclosing code's) runs on, sees that, and
/// its output is returned; the shutdown resolves after the block ended.
#[test]
fn a_cancel_of_the_enclosing_scope_cancels_the_blocks_children() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let (running_tx, running_rx) = oneshot::channel();
        let r = root.clone();
        let block = root.scope(|s| async move {
            let child = s.spawn_task(pend(&l, "child", Some(running_tx))).unwrap();
            let err = child.await.expect_err("cancelled by the shutdown");
            l.push("body saw the cancel");
            err.is_cancelled()
        });
        let l2 = log.clone();
        let (out, ()) = futures::join!(block, async move {
            running_rx.await.expect("the child runs");
            r.shutdown().await;
            l2.push("shutdown resolved");
        });
        assert!(
            out.expect("the root was open"),
            "{executor}: the body saw the cancel"
        );
        log.assert_exact(&[
            "child future dropped",
            "body saw the cancel",
            "shutdown resolved",
        ]);
    });
}

/// G5: `spawner.scope` through a terminated spawner returns
/// `SpawnError::Terminated` and does not run the body.
#[test]
fn a_nested_scope_on_a_terminated_spawner_does_not_run() {
    on_each_executor!(|root, executor| async move {
        root.shutdown().await;
        let ran = Arc::new(AtomicBool::new(false));
        let (r1, r2) = (ran.clone(), ran.clone());
        let err = root
            .scope(|_| async move { r1.store(true, Ordering::SeqCst) })
            .await
            .unwrap_err();
        assert!(err.is_terminated(), "{executor}: {err:?}");
        let err = root
            .supervised_scope(|_| async move { r2.store(true, Ordering::SeqCst) })
            .await
            .unwrap_err();
        assert!(err.is_terminated(), "{executor}: {err:?}");
        assert!(
            !ran.load(Ordering::SeqCst),
            "{executor}: the body must not run"
        );
    });
}

/// A handle the body drops detaches its child (as everywhere: dropping a
/// handle detaches), so the scope awaits it like any other child: the child
/// completes after the body returns, and the scope ends after it; a
/// `cancel_on_drop` guard the body drops cancels its child instead.
#[test]
fn a_handle_dropped_by_the_body_detaches_its_child() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        tasktree::scope(|s| async move {
            let (tx, rx) = oneshot::channel::<()>();
            let (guard_tx, guard_rx) = oneshot::channel::<()>();
            let _release = (tx, guard_tx);
            // Dropped before `_release` (reverse order): the guard's cancel
            // comes before the release; the plain handle only detaches.
            let _handle = s.spawn_task(after_body(&l, "child", rx)).unwrap();
            let _guard = s
                .spawn_task(after_body(&l, "guarded", guard_rx))
                .unwrap()
                .cancel_on_drop();
        })
        .await;
        log.push("scope ended");
        // The two children run in either order; the guarded one never
        // completes.
        log.assert_order(&["child completed", "child future dropped", "scope ended"]);
        log.assert_order(&["guarded future dropped", "scope ended"]);
        assert!(!log.contains("guarded completed"), "{executor}: cancelled");
        assert_eq!(log.entries().len(), 4, "{executor}: {log:?}");
    });
}

/// A block opened on a root whose body has returned waits for its children;
/// a shutdown of the root (which cancels the block's slot) cancels them
/// (before the fix, the block only passed a cancel on while its body ran,
/// and the shutdown waited for ever).
#[tokio::test]
async fn root_shutdown_cancels_the_children_of_a_draining_block() {
    let log = Log::new();
    let root = ScopedSpawner::tokio();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let block = tokio::spawn({
        let root = root.clone();
        let log = log.clone();
        async move {
            root.scope(|s| async move {
                s.spawn_future(common::pend(&log, "child", None), log.done("child"))
                    .unwrap();
                tx.send(()).unwrap();
            })
            .await
            .unwrap();
        }
    });
    rx.await.unwrap();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(std::time::Duration::from_secs(10), root.shutdown())
        .await
        .expect("the shutdown reaches the block's child");
    block.await.unwrap();
    log.assert_exact(&["child future dropped", "child done"]);
}
