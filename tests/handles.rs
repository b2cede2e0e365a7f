//! Typed task handles (issue 3): `spawn_task` returns a `TaskHandle<T>` that
//! yields the child's output or a `TaskError` (cancelled / panic), resolves
//! only after the child's whole termination (G1), lets the child run when
//! dropped or detached (G6), as tokio's `JoinHandle` does, and cancels it
//! when dropped only if made `cancel_on_drop`.
#![allow(clippy::disallowed_types)]

mod common;

use common::{until, PanicOnDrop};

use std::future::Future;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::{lock, on_each_executor, quiet_intentional_panics, Counter, Log, ManualExecutor};
use futures::channel::oneshot;
use futures::FutureExt;
use tasktree::{ScopedSpawn, ScopedSpawner, TaskError, TaskHandle};

/// A future that logs `"{name} running"` on its first poll, then pends
/// until dropped; its drop logs `"{name} future dropped"`, polled or not.
fn pend(log: Log, name: &'static str) -> impl Future<Output = ()> + Send + 'static {
    let guard = log.guard(name);
    async move {
        let _guard = guard;
        log.push(format!("{name} running"));
        std::future::pending::<()>().await
    }
}

fn panic_message(err: TaskError) -> String {
    let payload = err.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a string payload")
}

/// G1: awaiting a handle yields the child's output, and by then the child's
/// future has been dropped; on every executor, through the inherent method
/// and through the `ScopedSpawn` trait.
#[test]
fn handle_yields_the_output_after_the_future_is_dropped() {
    async fn via_trait(spawner: impl ScopedSpawn) -> u32 {
        spawner.spawn_task(async { 7 }).unwrap().await.unwrap()
    }
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let guard = log.guard("child");
        let handle = root
            .spawn_task(async move {
                let _guard = guard;
                String::from("forty-two")
            })
            .expect("spawn");
        assert_eq!(handle.await.expect("completed"), "forty-two", "{executor}");
        assert_eq!(log.entries(), ["child future dropped"], "{executor}: G1");
        assert_eq!(via_trait(root.clone()).await, 7, "{executor}");
        // The observer is told before the parent: the count may lag a moment.
        until("the root's count drops", || root.live_children() == 0).await;
    });
}

/// G1, G3: `cancel` ends a running child; its handle then yields an error
/// that `is_cancelled` (and nothing else), after the future was dropped
/// exactly once. Cancelling twice does nothing more.
#[test]
fn cancel_yields_cancelled_after_the_future_is_dropped() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let handle = root.spawn_task(pend(log.clone(), "child")).expect("spawn");
        until("the child runs", || log.contains("child running")).await;
        assert!(!handle.is_finished(), "{executor}");
        handle.cancel();
        handle.cancel();
        let err = handle.await.expect_err("cancelled");
        assert!(err.is_cancelled(), "{executor}: {err:?}");
        assert!(!err.is_panic() && !err.is_failed(), "{executor}: {err:?}");
        log.assert_exact(&["child running", "child future dropped"]);
    });
}

/// G3: a child cancelled before its first poll is never polled; its future
/// is dropped once and its handle says cancelled (exact, on the manual
/// executor).
#[test]
fn cancel_before_the_first_poll_never_polls() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let mut handle = root.spawn_task(pend(log.clone(), "child")).expect("spawn");
    handle.cancel();
    assert_eq!(executor.queued(), 1, "spawned, not yet polled");
    executor.run_until_stalled();
    log.assert_exact(&["child future dropped"]);
    let err = (&mut handle).now_or_never().expect("finished").unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
}

/// A cancel after the child completed changes nothing: the handle still
/// yields the value.
#[test]
fn cancel_after_completion_keeps_the_value() {
    on_each_executor!(|root, executor| async move {
        let handle = root.spawn_task(async { 5 }).expect("spawn");
        until("the child finishes", || handle.is_finished()).await;
        handle.cancel();
        assert_eq!(
            handle.await.expect("completed before the cancel"),
            5,
            "{executor}"
        );
    });
}

/// A guard made by `cancel_on_drop` cancels the child when dropped, whose
/// future is then dropped exactly once (G3, G4).
#[test]
fn dropping_a_cancel_on_drop_guard_cancels_the_child() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let guard = root
            .spawn_task(pend(log.clone(), "child"))
            .expect("spawn")
            .cancel_on_drop();
        until("the child runs", || log.contains("child running")).await;
        assert!(
            !guard.is_finished(),
            "{executor}: `Deref` reaches the handle"
        );
        drop(guard);
        until("the child terminates", || root.live_children() == 0).await;
        log.assert_exact(&["child running", "child future dropped"]);
    });
}

/// The same, exactly, on the manual executor: a guard dropped before the
/// child's first poll means it is never polled.
#[test]
fn dropping_a_cancel_on_drop_guard_before_the_first_poll_never_polls() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    drop(
        root.spawn_task(pend(log.clone(), "child"))
            .expect("spawn")
            .cancel_on_drop(),
    );
    executor.run_until_stalled();
    log.assert_exact(&["child future dropped"]);
    assert_eq!(root.live_children(), 0);
}

/// A guard is awaited like its handle, and `into_inner` gives the handle
/// back without the cancel: dropping that handle then detaches.
#[test]
fn a_cancel_on_drop_guard_yields_the_result_and_can_be_disarmed() {
    on_each_executor!(|root, executor| async move {
        let guard = root
            .spawn_task(async { 6 * 7 })
            .expect("spawn")
            .cancel_on_drop();
        assert_eq!(guard.await.expect("completes"), 42, "{executor}");

        let log = Log::new();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let (l, child_guard) = (log.clone(), log.guard("child"));
        let guard = root
            .spawn_task(async move {
                let _guard = child_guard;
                go_rx.await.expect("the test sends go");
                l.push("child completed");
            })
            .expect("spawn")
            .cancel_on_drop();
        drop(guard.into_inner());
        common::yield_now().await;
        go_tx.send(()).expect("the child still runs");
        until("the child terminates", || root.live_children() == 0).await;
        log.assert_exact(&["child completed", "child future dropped"]);
    });
}

/// Dropping a handle detaches the child, as tokio's `JoinHandle` does: it
/// runs to completion (G6), and `let _ = root.spawn_task(..)` is the
/// `tokio::spawn(..);` of the tree.
#[test]
fn dropping_the_handle_detaches_the_child() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let (l, guard) = (log.clone(), log.guard("child"));
        let _ = root.spawn_task(async move {
            let _guard = guard;
            go_rx.await.expect("the test sends go");
            l.push("child completed");
        });
        common::yield_now().await;
        go_tx
            .send(())
            .expect("a dropped handle's child is still running");
        until("the child terminates", || root.live_children() == 0).await;
        log.assert_exact(&["child completed", "child future dropped"]);
        let _ = executor;
    });
}

/// The same on the manual executor, dropped before the first poll: the
/// child is polled, and completes.
#[test]
fn dropping_the_handle_before_the_first_poll_still_runs_the_child() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let l = log.clone();
    drop(
        root.spawn_task(async move { l.push("child ran") })
            .expect("spawn"),
    );
    executor.run_until_stalled();
    log.assert_exact(&["child ran"]);
    assert_eq!(root.live_children(), 0);
}

/// G6: a detached child is not cancelled when its handle goes: it runs to
/// completion.
#[test]
fn detached_child_runs_to_completion() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let (l, guard) = (log.clone(), log.guard("child"));
        let handle = root
            .spawn_task(async move {
                let _guard = guard;
                go_rx.await.expect("the test sends go");
                l.push("child completed");
            })
            .expect("spawn");
        handle.detach();
        common::yield_now().await;
        go_tx.send(()).expect("a detached child is still running");
        until("the child terminates", || root.live_children() == 0).await;
        log.assert_exact(&["child completed", "child future dropped"]);
        let _ = executor;
    });
}

/// G6, G1: a detached child still terminates with its parent: when the
/// parent task's future completes, the detached child is cancelled, and the
/// parent's `done` follows the child's drop.
#[test]
fn detached_child_still_ends_with_its_parent() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let (l, parent_guard) = (log.clone(), log.guard("parent"));
        let parent = root
            .spawn_with_signal(
                move |spawner| async move {
                    let _guard = parent_guard;
                    let (running_tx, running_rx) = oneshot::channel::<()>();
                    let child_guard = l.guard("child");
                    spawner
                        .spawn_task(async move {
                            let _guard = child_guard;
                            let _ = running_tx.send(());
                            std::future::pending::<()>().await
                        })
                        .expect("spawn child")
                        .detach();
                    running_rx.await.expect("the child runs");
                },
                log.done("parent"),
            )
            .expect("spawn parent");
        parent.done_receiver.await;
        log.assert_exact(&[
            "parent future dropped",
            "child future dropped",
            "parent done",
        ]);
        let _ = executor;
    });
}

/// G6, G8: a detached child of the root ends with the root's shutdown.
#[test]
fn detached_child_ends_with_root_shutdown() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        root.spawn_task(pend(log.clone(), "child"))
            .expect("spawn")
            .detach();
        until("the child runs", || log.contains("child running")).await;
        assert_eq!(root.live_children(), 1, "{executor}");
        root.shutdown().await;
        log.assert_exact(&["child running", "child future dropped"]);
    });
}

/// `is_finished` is false until the termination is complete, then true; a
/// finished handle is ready at once.
#[test]
fn is_finished_follows_the_termination() {
    on_each_executor!(|root, executor| async move {
        let mut handle = root
            .spawn_task(std::future::pending::<()>())
            .expect("spawn");
        common::yield_now().await;
        assert!(!handle.is_finished(), "{executor}");
        assert!((&mut handle).now_or_never().is_none(), "{executor}");
        handle.cancel();
        until("the child finishes", || handle.is_finished()).await;
        let ready = (&mut handle).now_or_never().expect("ready at once");
        assert!(ready.unwrap_err().is_cancelled(), "{executor}");
    });
}

/// Cancel safety: an `.await` on a handle that is dropped midway (here a
/// poll that returned `Pending`) leaves the handle intact; awaiting it again
/// yields the value.
#[test]
fn awaiting_a_handle_is_cancel_safe() {
    on_each_executor!(|root, executor| async move {
        let (tx, rx) = oneshot::channel::<u32>();
        let mut handle = root
            .spawn_task(async move { rx.await.expect("sent") })
            .expect("spawn");
        for _ in 0..3 {
            assert!((&mut handle).now_or_never().is_none(), "{executor}");
            common::yield_now().await;
        }
        tx.send(3).expect("the child is running");
        assert_eq!(handle.await.expect("completed"), 3, "{executor}");
    });
}

/// Contained panics: a panic in a child's future reaches its handle with
/// its payload (a `&str`, a `String`, any type), the siblings of a
/// supervised scope (the root's default) run on, and the executor keeps
/// running tasks (G4 for the panicking child).
#[test]
fn panic_in_the_future_reaches_the_handle() {
    #[derive(Debug, PartialEq)]
    struct Payload(u32);
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let sibling = root
            .spawn_task(pend(log.clone(), "sibling"))
            .expect("spawn");
        let str_panic = root
            .spawn_task(async { panic!("intentional str panic") })
            .expect("spawn");
        let n = 3;
        let string_panic = root
            .spawn_task(async move {
                if n == 3 {
                    panic!("intentional String panic {n}");
                }
            })
            .expect("spawn");
        let any_panic = root
            .spawn_task(async { panic_any(Payload(42)) })
            .expect("spawn");

        let err = str_panic.await.unwrap_err();
        assert!(
            err.is_panic() && !err.is_cancelled() && !err.is_failed(),
            "{executor}"
        );
        assert_eq!(panic_message(err), "intentional str panic", "{executor}");
        let err = string_panic.await.unwrap_err();
        assert_eq!(
            panic_message(err),
            "intentional String panic 3",
            "{executor}"
        );
        let err = any_panic.await.unwrap_err();
        let payload = err
            .into_panic()
            .downcast::<Payload>()
            .expect("the payload type");
        assert_eq!(*payload, Payload(42), "{executor}");

        // The sibling runs on, untouched; the executor still runs new tasks.
        until("the sibling runs", || log.contains("sibling running")).await;
        assert!(!sibling.is_finished(), "{executor}");
        assert_eq!(root.spawn_task(async { 1 }).unwrap().await.unwrap(), 1);
        log.assert_exact(&["sibling running"]);
        sibling.cancel();
        assert!(sibling.await.unwrap_err().is_cancelled(), "{executor}");
    });
}

/// G4: a panic in the future's `Drop` is caught and reported through the
/// handle: after the future completed (its value is lost), after it was
/// cancelled, and after it had itself panicked (then the first panic wins).
#[test]
fn panic_in_the_futures_drop_reaches_the_handle() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let completed = root
            .spawn_task(PanicOnDrop {
                inner: Box::pin(async { 1 }),
                message: "intentional drop panic after completion",
            })
            .expect("spawn");
        let err = completed.await.unwrap_err();
        assert!(err.is_panic(), "{executor}: {err:?}");
        assert_eq!(
            panic_message(err),
            "intentional drop panic after completion"
        );

        let cancelled = root
            .spawn_task(PanicOnDrop {
                inner: Box::pin(std::future::pending::<()>()),
                message: "intentional drop panic after cancel",
            })
            .expect("spawn");
        common::yield_now().await;
        cancelled.cancel();
        let err = cancelled.await.unwrap_err();
        assert!(err.is_panic(), "{executor}: {err:?}");
        assert_eq!(panic_message(err), "intentional drop panic after cancel");

        let both = root
            .spawn_task(PanicOnDrop {
                inner: Box::pin(async { panic!("intentional poll panic") }),
                message: "intentional drop panic after a poll panic",
            })
            .expect("spawn");
        let err = both.await.unwrap_err();
        assert_eq!(panic_message(err), "intentional poll panic", "{executor}");
        until("the root's count drops", || root.live_children() == 0).await;
    });
}

/// `into_panic` on an error that is not a panic panics (documented);
/// `try_into_panic` hands the error back unchanged.
#[test]
fn into_panic_on_a_cancelled_error() {
    let runtime = common::tokio_current_thread();
    let root = common::tokio_root(&runtime);
    let err = runtime.block_on(async {
        let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
        handle.cancel();
        handle.await.unwrap_err()
    });
    let err = err.try_into_panic().expect_err("not a panic");
    assert!(err.is_cancelled());
    let caught = catch_unwind(AssertUnwindSafe(|| err.into_panic()));
    let message = caught
        .expect_err("into_panic panics")
        .downcast::<String>()
        .expect("a formatted message");
    assert!(message.contains("not a panic"), "{message}");
}

/// `TaskError` says what happened in `Display` and `Debug`, with the panic
/// message when there is one, and which task: its id, and its name if it
/// has one.
#[test]
fn task_error_display_and_debug() {
    quiet_intentional_panics();
    let runtime = common::tokio_current_thread();
    let root = common::tokio_root(&runtime);
    runtime.block_on(async {
        let cancelled = root.spawn_task(std::future::pending::<()>()).unwrap();
        let id = cancelled.id();
        cancelled.cancel();
        let err = cancelled.await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("task {id} was cancelled (its handle cancelled it)")
        );
        assert_eq!(format!("{err:?}"), "TaskError::Cancelled");
        assert_eq!((err.task_id(), err.task_name()), (Some(id), None));

        let panicked = root
            .named("boom")
            .spawn_task(async { panic!("intentional boom") })
            .unwrap();
        let id = panicked.id();
        let err = panicked.await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("task {id} \"boom\" panicked with message \"intentional boom\"")
        );
        assert_eq!(err.task_name(), Some("boom"));
        assert!(format!("{err:?}").contains("intentional boom"), "{err:?}");
        let _: &dyn std::error::Error = &err;
    });
}

/// G5: `spawn_task` through a shut-down root, or through the spawner of a
/// task that has terminated, fails with `SpawnError::Terminated`; the future
/// is dropped without being polled.
#[test]
fn spawn_task_on_a_terminated_scope_fails() {
    on_each_executor!(|root, executor| async move {
        let polled = Counter::new();
        let dropped = Counter::new();

        let leaked = Arc::new(Mutex::new(None));
        let slot = leaked.clone();
        let parent = root
            .spawn_with_signal(
                move |spawner| async move {
                    *lock(&slot) = Some(spawner);
                },
                || (),
            )
            .expect("spawn");
        parent.done_receiver.await;
        let spawner = lock(&leaked).take().expect("the parent ran");
        let (p, guard) = (polled.clone(), dropped.guard());
        let err = spawner
            .spawn_task(async move {
                let _guard = guard;
                p.incr();
            })
            .expect_err("the parent has terminated");
        assert!(err.is_terminated(), "{executor}: {err:?}");

        root.shutdown().await;
        let (p, guard) = (polled.clone(), dropped.guard());
        let err = root
            .spawn_task(async move {
                let _guard = guard;
                p.incr();
            })
            .expect_err("the root is shut down");
        assert!(err.is_terminated(), "{executor}: {err:?}");
        assert_eq!((polled.get(), dropped.get()), (0, 2), "{executor}");
    });
}

/// An executor that refuses the task: `spawn_task` fails with
/// `SpawnError::Executor`, the future is dropped once and never polled, and
/// no child is left registered (G4, G5).
#[test]
fn executor_refusal_is_reported() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    executor.refuse_after(0);
    let log = Log::new();
    let err = root
        .spawn_task(pend(log.clone(), "child"))
        .expect_err("refused");
    assert!(err.is_executor(), "{err:?}");
    log.assert_exact(&["child future dropped"]);
    assert_eq!(root.live_children(), 0);
}

/// An executor that drops a running task (a runtime shutting down): the
/// future is dropped once and the handle resolves as cancelled (G4).
#[test]
fn executor_dropping_the_task_resolves_the_handle_as_cancelled() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let mut handle = root.spawn_task(pend(log.clone(), "child")).expect("spawn");
    executor.run_until_stalled();
    assert!(!handle.is_finished());
    executor.shutdown();
    log.assert_exact(&["child running", "child future dropped"]);
    assert!(handle.is_finished());
    let err = (&mut handle).now_or_never().expect("finished").unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(root.live_children(), 0);
}

/// Polling a handle again after it returned `Ready` panics (documented).
#[test]
fn polling_a_handle_after_ready_panics() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let mut handle = root.spawn_task(async { 1 }).expect("spawn");
    executor.run_until_stalled();
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(matches!(handle.poll_unpin(&mut cx), Poll::Ready(Ok(1))));
    let again = catch_unwind(AssertUnwindSafe(|| handle.poll_unpin(&mut cx)));
    assert!(again.is_err(), "a second poll after Ready panics");
}

/// A handle can move to, and be awaited from, another task; handles are
/// `Send + Sync` (and `Unpin`) when the output is `Send`; `TaskError` is
/// `Send + Sync`, as tokio's `JoinError`, so `?` turns it into a
/// `Box<dyn Error + Send + Sync>`.
#[test]
fn handles_are_send_sync_and_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    fn boxed(err: TaskError) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Err(err)?
    }
    send_sync_unpin::<TaskHandle<String>>();
    send_sync_unpin::<TaskHandle<std::cell::Cell<u8>>>();
    send_sync_unpin::<TaskError>();

    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let handle = root.spawn_task(async { 9 }).unwrap();
    let waiter = runtime.spawn(handle);
    assert_eq!(runtime.block_on(waiter).unwrap().unwrap(), 9);
    let cancelled = root.spawn_task(std::future::pending::<()>()).unwrap();
    let id = cancelled.id();
    cancelled.cancel();
    let err = runtime.block_on(cancelled).unwrap_err();
    assert_eq!(
        boxed(err).unwrap_err().to_string(),
        format!("task {id} was cancelled (its handle cancelled it)")
    );
}

// ---------------------------------------------------------------------------
// `spawn_task_with`: a typed handle for a child with children of its own
// ---------------------------------------------------------------------------

/// The handle yields the child's value only after the child's subtree has
/// terminated: a grandchild still running when the child's future
/// completes is cancelled (phase 3) before the handle resolves (G1).
#[test]
fn spawn_task_with_resolves_after_the_subtree() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let handle = root
            .spawn_task_with(move |spawner| async move {
                let (running_tx, running_rx) = oneshot::channel::<()>();
                spawner
                    .spawn_future(
                        common::pend(&l, "grandchild", Some(running_tx)),
                        l.done("grandchild"),
                    )
                    .expect("spawn grandchild");
                let helper = spawner.spawn_task(async { 20 }).expect("spawn helper");
                running_rx.await.expect("the grandchild runs");
                l.push("child returns");
                helper.await.expect("the helper completes") + 22
            })
            .expect("spawn");
        let value = handle.await.expect("the child completes");
        log.push("handle resolved");
        assert_eq!(value, 42, "{executor}");
        log.assert_order(&[
            "child returns",
            "grandchild future dropped",
            "grandchild done",
            "handle resolved",
        ]);
    });
}

/// Cancelling the handle cancels the child and its subtree; the handle
/// reports the cancel once all of it has terminated. A panic of such a
/// child is reported through its handle, as for `spawn_task`.
#[test]
fn spawn_task_with_cancels_and_reports_panics() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let (running_tx, running_rx) = oneshot::channel::<()>();
        let handle = root
            .spawn_task_with(move |spawner| {
                spawner
                    .spawn_future(
                        common::pend(&l, "grandchild", Some(running_tx)),
                        l.done("grandchild"),
                    )
                    .expect("spawn grandchild");
                pend(l, "child")
            })
            .expect("spawn");
        running_rx.await.expect("the grandchild runs");
        handle.cancel();
        let err = handle.await.expect_err("cancelled");
        log.push("handle resolved");
        assert!(err.is_cancelled(), "{executor}: {err:?}");
        log.assert_order(&[
            "child future dropped",
            "grandchild future dropped",
            "grandchild done",
            "handle resolved",
        ]);

        let broken = root
            .spawn_task_with(|_spawner| async { panic_any("boom") })
            .expect("spawn");
        let err = broken.await.expect_err("panicked");
        assert!(err.is_panic(), "{executor}: {err:?}");
    });
}

/// Dropping the handle detaches the child, which goes on running with its
/// children; a spawner whose task has terminated does not call `fun`.
#[test]
fn spawn_task_with_detaches_on_drop_and_refuses_after_termination() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        drop(
            root.spawn_task_with(move |spawner| async move {
                let inner = l.clone();
                let grandchild = spawner
                    .spawn_task(async move {
                        go_rx.await.expect("the test sends go");
                        inner.push("grandchild completed");
                    })
                    .expect("spawn grandchild");
                grandchild.await.expect("the grandchild completes");
                l.push("child completed");
            })
            .expect("spawn"),
        );
        common::yield_now().await;
        go_tx.send(()).expect("the detached subtree still runs");
        until("the child terminates", || root.live_children() == 0).await;
        log.assert_exact(&["grandchild completed", "child completed"]);

        root.shutdown().await;
        let called = Arc::new(Mutex::new(false));
        let c = called.clone();
        let err = root
            .spawn_task_with(move |_spawner| {
                *lock(&c) = true;
                async {}
            })
            .expect_err("the root is shut down");
        assert!(err.is_terminated(), "{executor}: {err:?}");
        assert!(!*lock(&called), "{executor}: `fun` must not run");
    });
}

// ---------------------------------------------------------------------------
// A runtime shutting down under a typed handle
// ---------------------------------------------------------------------------

/// On tokio a typed handle takes its child's outcome from tokio's own
/// `JoinHandle`. When the runtime shuts down, tokio drops the child's
/// wrapper and reports the task cancelled at once; the child's termination
/// then still waits for a grandchild running on another runtime. The
/// handle must wait for the child's done signal all the same (G1), and
/// report the cancel.
#[test]
fn runtime_shutdown_handle_waits_for_the_done_signal() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
    use tasktree::ForgettableSignalSender;

    /// Blocks its drop until the gate opens: the grandchild's termination
    /// is slow.
    struct SlowDrop(Mutex<mpsc::Receiver<()>>);
    impl Drop for SlowDrop {
        fn drop(&mut self) {
            let _ = lock(&self.0).recv();
        }
    }

    let build = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("a runtime")
    };
    let (first, other) = (build(), build());
    let root = ScopedSpawner::new(tasktree::TokioSpawner::new(first.handle().clone()));
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (running_tx, running_rx) = mpsc::channel::<()>();
    let grandchild_done = Arc::new(AtomicBool::new(false));
    let done_flag = grandchild_done.clone();
    let other_handle = other.handle().clone();
    let mut handle = root
        .spawn_task_with(move |spawner| async move {
            // A grandchild of the tree that runs on the other runtime.
            let (parent, child) = spawner.as_raw().spawn_raw_with_signal().expect("spawn");
            parent.cancel_sender.forget();
            drop(parent.done_receiver);
            let slow = SlowDrop(Mutex::new(gate_rx));
            let grandchild = async move {
                let _slow = slow;
                std::future::pending::<()>().await
            };
            let done = move || done_flag.store(true, Ordering::SeqCst);
            other_handle.spawn(RemoteScope::new().wrap(child, grandchild, done));
            running_tx.send(()).expect("the test waits");
            std::future::pending::<u32>().await
        })
        .expect("spawn");
    running_rx.recv().expect("the child runs");

    // tokio drops the child's wrapper: its future is dropped and its
    // grandchild cancelled, whose drop now blocks on the gate.
    drop(first);
    assert!(!handle.is_finished(), "the grandchild is still terminating");
    assert!(
        (&mut handle).now_or_never().is_none(),
        "G1: not before the done signal"
    );
    assert!(!grandchild_done.load(Ordering::SeqCst));

    gate_tx.send(()).expect("the grandchild's drop waits");
    let err = futures::executor::block_on(&mut handle).expect_err("cancelled");
    assert!(err.is_cancelled(), "{err:?}");
    assert!(
        grandchild_done.load(Ordering::SeqCst),
        "G1: the grandchild is done"
    );
    assert!(handle.is_finished());
    assert_eq!(root.live_children(), 0);
}
