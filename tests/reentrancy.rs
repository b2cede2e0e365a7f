//! G10 Re-entrancy: no user code runs while the library holds a lock. A
//! panic payload's destructor, an output's destructor, a future's destructor
//! and a `done` callback each call back into the scope (read it, spawn into
//! it, shut it down), on every executor; a lock held around any of them
//! would deadlock the thread, and the watchdog reports the hang.
//!
//! Also: a destructor that panics loses no done signal (G1, G4), and a
//! detached task's output whose destructor panics stays inside the library,
//! as tokio keeps it inside for a detached `JoinHandle`.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{on_each_executor, quiet_intentional_panics, Log, ManualExecutor};
use futures::channel::oneshot;
use futures::task::Spawn;
use tasktree::remote_scope::RemoteScope;
use tasktree::{RawScopedSpawn, ScopedSpawn, ScopedSpawner};

/// Runs `test` on a thread of its own; fails instead of hanging if it has
/// not returned within a minute (a deadlock: user code under a lock).
#[track_caller]
fn without_deadlock(test: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        test();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => thread.join().expect("the test thread"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The test panicked: report its panic.
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlock: user code ran under a library lock (G10)")
        }
    }
}

/// Hands a wrapped raw task to `root`'s executor.
fn spawn_on<S>(
    root: &ScopedSpawner<S>,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) where
    S: Spawn + Clone + Send + Sync + 'static,
{
    root.executor()
        .spawn_obj(futures::future::FutureObj::new(Box::new(task)))
        .unwrap();
}

/// User data whose destructor calls back into a scope: reads it, spawns
/// into it, and reports what it saw.
struct CallsBack<S: Spawn + Clone + Send + Sync + 'static> {
    scope: ScopedSpawner<S>,
    seen: Option<oneshot::Sender<bool>>,
}

impl<S: Spawn + Clone + Send + Sync + 'static> CallsBack<S> {
    fn new(scope: &ScopedSpawner<S>) -> (Self, oneshot::Receiver<bool>) {
        let (tx, rx) = oneshot::channel();
        let calls_back = CallsBack {
            scope: scope.clone(),
            seen: Some(tx),
        };
        (calls_back, rx)
    }

    /// Reads the scope (under a library lock this would deadlock), spawns
    /// into it, and reports whether the spawn succeeded.
    fn call_back(&mut self) {
        let _ = self.scope.live_children();
        let spawned = self.scope.spawn_future(async {}, || ()).is_ok();
        if let Some(seen) = self.seen.take() {
            let _ = seen.send(spawned);
        }
    }
}

impl<S: Spawn + Clone + Send + Sync + 'static> Drop for CallsBack<S> {
    fn drop(&mut self) {
        self.call_back();
    }
}

/// G10: a panic payload of a task with no observer (`spawn_future`), whose
/// destructor reads and spawns into the task's own parent scope.
#[test]
fn panic_payload_dropped_outside_locks_may_call_back() {
    quiet_intentional_panics();
    without_deadlock(|| {
        on_each_executor!(|root| async move {
            let (payload, seen) = CallsBack::new(&root);
            root.spawn_future(async move { std::panic::panic_any(payload) }, || ())
                .unwrap();
            let spawned = seen.await.expect("the payload was dropped");
            assert!(spawned, "the scope is open: the payload's spawn succeeds");
            root.shutdown().await;
        });
    });
}

/// G10: the same through the low-level API (`spawn_raw` + `wrap`).
#[test]
fn panic_payload_of_a_raw_task_dropped_outside_locks_may_call_back() {
    quiet_intentional_panics();
    without_deadlock(|| {
        on_each_executor!(|root| async move {
            let (payload, seen) = CallsBack::new(&root);
            let signals = root.as_raw().spawn_raw().unwrap();
            let task = RemoteScope::new().wrap(
                signals,
                async move { std::panic::panic_any(payload) },
                || (),
            );
            spawn_on(&root, task);
            let spawned = seen.await.expect("the payload was dropped");
            assert!(spawned);
            root.shutdown().await;
        });
    });
}

/// G10: the output of a detached task, dropped by the library, whose
/// destructor reads and spawns into the scope.
#[test]
fn detached_output_dropped_outside_locks_may_call_back() {
    without_deadlock(|| {
        on_each_executor!(|root| async move {
            let (output, seen) = CallsBack::new(&root);
            root.spawn_task(async move { output }).unwrap().detach();
            let spawned = seen.await.expect("the output was dropped");
            assert!(spawned);
            root.shutdown().await;
        });
    });
}

/// G10: a future's destructor (its task cancelled) and a `done` callback
/// read and spawn into the scope, and `done` shuts it down.
#[test]
fn future_destructor_and_done_may_call_back() {
    without_deadlock(|| {
        on_each_executor!(|root| async move {
            let (in_future, dropped) = CallsBack::new(&root);
            let (done_tx, done_seen) = oneshot::channel();
            let scope = root.clone();
            let signals = root
                .spawn_future_with_signal(
                    async move {
                        let _calls_back = in_future;
                        std::future::pending::<()>().await
                    },
                    move || {
                        let live = scope.live_children();
                        let spawned = scope.spawn_future(async {}, || ()).is_ok();
                        drop(scope.shutdown());
                        let _ = done_tx.send((live, spawned));
                    },
                )
                .unwrap();
            signals.cancel_sender.cancel();
            let spawned = dropped.await.expect("the future was dropped");
            assert!(spawned, "the scope is open while the future is dropped");
            let (live, spawned) = done_seen.await.expect("done ran");
            assert!(live >= 1, "the child is still live during its own `done`");
            assert!(spawned, "the scope is open during the child's `done`");
            signals.done_receiver.await;
            assert!(
                root.spawn_future(async {}, || ())
                    .unwrap_err()
                    .is_terminated(),
                "`done` shut the root down"
            );
            root.shutdown().await;
            assert!(root.is_terminated());
        });
    });
}

/// A panic payload whose destructor panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("intentional: a panic payload's destructor panics");
    }
}

/// Panics, when dropped, with a payload whose destructor panics too.
struct PanicsWithPanickyPayload;

impl Drop for PanicsWithPanickyPayload {
    fn drop(&mut self) {
        std::panic::panic_any(PanicsOnDrop);
    }
}

/// G1, G4: a child with no observer is cancelled by its parent's phase 3;
/// dropping its future panics with a payload whose destructor panics too.
/// The parent, already waiting in phase 4, still receives the child's done
/// signal, so the parent's done receiver resolves after both `done`s.
#[test]
fn payload_whose_destructor_panics_loses_no_done_signal() {
    quiet_intentional_panics();
    without_deadlock(|| {
        on_each_executor!(|root| async move {
            let log = Log::new();
            let child_done = log.done("child");
            let signals = root
                .spawn_with_signal(
                    move |spawner| async move {
                        let guard = PanicsWithPanickyPayload;
                        spawner
                            .spawn_future(
                                async move {
                                    let _guard = guard;
                                    std::future::pending::<()>().await
                                },
                                child_done,
                            )
                            .unwrap();
                        // Returns: phase 3 cancels the child.
                    },
                    log.done("parent"),
                )
                .unwrap();
            signals.done_receiver.await;
            log.assert_exact(&["child done", "parent done"]);
            drop(signals.cancel_sender);
        });
    });
}

/// As above, through `remote_scope`: the parent's wake-up is not lost.
#[test]
fn raw_payload_whose_destructor_panics_loses_no_done_signal() {
    quiet_intentional_panics();
    without_deadlock(|| {
        on_each_executor!(|root| async move {
            let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
            let mut scope = RemoteScope::new();
            let grandchild = scope.spawner().spawn_raw().unwrap();
            let guard = PanicsWithPanickyPayload;
            let task = RemoteScope::new().wrap(
                grandchild,
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                },
                || (),
            );
            spawn_on(&root, task);
            let task = scope.wrap(child, async {}, || ());
            spawn_on(&root, task);
            parent.done_receiver.await;
            drop(parent.cancel_sender);
        });
    });
}

/// An output whose destructor panics.
struct OutputPanicsOnDrop;

impl Drop for OutputPanicsOnDrop {
    fn drop(&mut self) {
        panic!("intentional: an output's destructor panics");
    }
}

/// The output of a detached task, dropped by the library, panics in its
/// destructor: the panic stays inside (as tokio keeps it inside for a
/// detached `JoinHandle`); the executor runs on.
#[test]
fn detached_output_whose_destructor_panics_stays_inside() {
    quiet_intentional_panics();
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    root.spawn_task(async { OutputPanicsOnDrop })
        .unwrap()
        .detach();
    executor.run_until_stalled(); // panicked here before the fix
    assert_eq!(root.live_children(), 0);
}

/// The output of a handle dropped after completion, unread: the same.
#[test]
fn unread_output_whose_destructor_panics_stays_inside() {
    quiet_intentional_panics();
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let handle = root.spawn_task(async { OutputPanicsOnDrop }).unwrap();
    executor.run_until_stalled();
    assert!(handle.is_finished());
    drop(handle); // the library drops the output here
    assert_eq!(root.live_children(), 0);
}
