//! `try_scope` error ordering (issue 3): the first failure (a `spawn_try`
//! child's `Err`, a child's panic, the body's own `Err` or panic) cancels
//! everything else and is what the scope ends with, once the subtree has
//! terminated (G1); a failure that follows it, even one produced by a poll
//! already in flight, stays in its own handle (`Ok(Err(e))` or a panic);
//! the first failing child's handle says `is_failed`.
#![allow(clippy::disallowed_types)]

mod common;

use common::{message, on_both_runtimes, pend};

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{lock, quiet_intentional_panics, Log, ManualExecutor};
use futures::channel::oneshot;
use futures::FutureExt;
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError, TaskHandle, TryScope};

#[derive(Debug, PartialEq)]
enum Error {
    Spawn,
    Body,
    First,
    Second,
}

impl From<SpawnError> for Error {
    fn from(_: SpawnError) -> Self {
        Error::Spawn
    }
}

type Handle = TaskHandle<Result<(), Error>>;

/// Blocks the calling thread (inside a poll) until `cond` holds; fails
/// after ten seconds instead of hanging.
fn block_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::yield_now();
    }
}

/// The failure that comes first in [`first_failure_wins`].
#[derive(Clone, Copy, Debug, PartialEq)]
enum First {
    ChildErr,
    ChildPanic,
    BodyErr,
    BodyPanic,
}

/// The failure that follows it, from a poll already in flight.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Second {
    Err,
    Panic,
}

/// One exact run on the manual executor, with two threads: the "second"
/// child's poll is in flight on another thread (blocked until the scope is
/// closed), while the "first" failure (a child's, run on this thread, or the
/// body's) is reported; then the second child fails too. The scope ends
/// with the first failure; the second stays in its own handle; a pending
/// sibling is cancelled and terminated before the scope resolves.
fn first_failure_wins(first: First, second: Second) {
    quiet_intentional_panics();
    let case = format!("{first:?} then {second:?}");
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let handles: Arc<Mutex<(Option<Handle>, Option<Handle>)>> = Arc::default();
    let (l, slot) = (log.clone(), handles.clone());
    let block = root.try_scope(move |s: TryScope<Error, ManualExecutor>| async move {
        let _guard = l.guard("body");
        let watcher = s.clone();
        let second_handle = s.spawn_try(async move {
            started_tx.send(()).unwrap();
            // The poll stays in flight until the first failure closed the scope.
            block_until("the first failure", || watcher.is_stop_requested());
            match second {
                Second::Err => Err(Error::Second),
                Second::Panic => panic!("intentional second panic"),
            }
        })?;
        let first_handle = match first {
            First::ChildErr => Some(s.spawn_try(async { Err::<(), _>(Error::First) })?),
            First::ChildPanic => Some(s.spawn_try(async {
                panic!("intentional first panic");
            })?),
            First::BodyErr | First::BodyPanic => None,
        };
        s.spawn_future(pend(&l, "sibling", None), l.done("sibling"))?;
        *lock(&slot) = (first_handle, Some(second_handle));
        let _ = go_rx.await;
        match first {
            First::BodyErr => Err::<(), _>(Error::Body),
            First::BodyPanic => panic!("intentional body panic"),
            First::ChildErr | First::ChildPanic => std::future::pending().await,
        }
    });
    let mut block = pin!(block);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(block.as_mut().poll(&mut cx).is_pending(), "{case}");

    // The second child's poll starts on another thread and stays in flight.
    let ex = executor.clone();
    let second_thread = std::thread::spawn(move || assert!(ex.run_one()));
    started_rx.recv().expect("the second child runs");
    // The first failure, on this thread.
    match first {
        First::ChildErr | First::ChildPanic => assert!(executor.run_one(), "{case}"),
        First::BodyErr | First::BodyPanic => {
            go_tx.send(()).unwrap();
            let polled = catch_unwind(AssertUnwindSafe(|| block.as_mut().poll(&mut cx)));
            assert!(
                matches!(polled, Ok(Poll::Pending)),
                "{case}: the block drains"
            );
        }
    }
    second_thread.join().expect("the second child's thread");

    let ended = catch_unwind(AssertUnwindSafe(|| executor.block_on(block)));
    log.push("scope ended");
    match (first, ended) {
        (First::ChildErr, Ok(result)) => assert_eq!(result, Err(Error::First), "{case}"),
        (First::BodyErr, Ok(result)) => assert_eq!(result, Err(Error::Body), "{case}"),
        (First::ChildPanic, Err(payload)) => {
            assert_eq!(
                message(payload.as_ref()),
                "intentional first panic",
                "{case}"
            )
        }
        (First::BodyPanic, Err(payload)) => {
            assert_eq!(
                message(payload.as_ref()),
                "intentional body panic",
                "{case}"
            )
        }
        (_, Ok(result)) => panic!("{case}: expected a panic, got {result:?}"),
        (_, Err(payload)) => panic!("{case}: unexpected panic {:?}", message(payload.as_ref())),
    }
    log.assert_order(&["body future dropped", "scope ended"]);
    log.assert_order(&["sibling future dropped", "sibling done", "scope ended"]);

    let (first_handle, second_handle) = std::mem::take(&mut *lock(&handles));
    if let Some(mut handle) = first_handle {
        let err = (&mut handle).now_or_never().expect("finished").unwrap_err();
        assert!(
            err.is_failed(),
            "{case}: the first failing child's handle: {err:?}"
        );
    }
    let mut second_handle = second_handle.expect("spawned");
    let outcome = (&mut second_handle).now_or_never().expect("finished");
    match second {
        Second::Err => assert!(
            matches!(outcome, Ok(Err(Error::Second))),
            "{case}: the later error stays in its handle: {outcome:?}"
        ),
        Second::Panic => {
            let err = outcome.expect_err("the later panic stays in its handle");
            assert!(err.is_panic(), "{case}: {err:?}");
            assert_eq!(
                message(err.into_panic().as_ref()),
                "intentional second panic"
            );
        }
    }
    assert_eq!(root.live_children(), 0, "{case}");
}

/// The first error wins, even when another error follows it from a poll
/// that was already in flight; the later error stays in its own handle as
/// `Ok(Err(e))`; the first child's handle says `is_failed`.
#[test]
fn first_child_error_wins_over_a_later_error() {
    first_failure_wins(First::ChildErr, Second::Err);
}

/// An error before a panic: the error is returned, the later panic stays in
/// its own handle.
#[test]
fn first_child_error_wins_over_a_later_panic() {
    first_failure_wins(First::ChildErr, Second::Panic);
}

/// A panic before an error: the panic is resumed, the later error stays in
/// its own handle.
#[test]
fn first_child_panic_wins_over_a_later_error() {
    first_failure_wins(First::ChildPanic, Second::Err);
}

/// A panic before a panic: the first is resumed, the second stays in its
/// handle.
#[test]
fn first_child_panic_wins_over_a_later_panic() {
    first_failure_wins(First::ChildPanic, Second::Panic);
}

/// The body's own `Err` fails fast too, and wins over a child's later error.
#[test]
fn body_error_wins_over_a_later_child_error() {
    first_failure_wins(First::BodyErr, Second::Err);
}

/// The body's own `Err` wins over a child's later panic.
#[test]
fn body_error_wins_over_a_later_child_panic() {
    first_failure_wins(First::BodyErr, Second::Panic);
}

/// The body's panic wins over a child's later error.
#[test]
fn body_panic_wins_over_a_later_child_error() {
    first_failure_wins(First::BodyPanic, Second::Err);
}

/// The body's panic wins over a child's later panic.
#[test]
fn body_panic_wins_over_a_later_child_panic() {
    first_failure_wins(First::BodyPanic, Second::Panic);
}

/// The same race on a real multi-thread runtime (2 workers) with the
/// top-level `try_scope`: the second child's poll is in flight on one worker
/// while the first child fails on the other; the first error wins and the
/// second stays in its handle, in every round.
#[test]
fn first_error_wins_on_tokio_multi_thread() {
    let runtime = common::tokio_multi_thread();
    for round in 0..20 {
        runtime.block_on(async {
            let handles: Arc<Mutex<(Option<Handle>, Option<Handle>)>> = Arc::default();
            let slot = handles.clone();
            let result: Result<(), Error> = tasktree::try_scope(|s: TryScope<Error>| async move {
                let started = Arc::new(AtomicBool::new(false));
                let (watcher, started2) = (s.clone(), started.clone());
                let second = s.spawn_try(async move {
                    started2.store(true, Ordering::SeqCst);
                    // `block_in_place` hands this worker's queue to another
                    // thread while the poll blocks: otherwise the first child,
                    // queued behind this worker, can wait for ever (tokio
                    // does not promise progress to a blocked worker's queue).
                    tokio::task::block_in_place(|| {
                        block_until("the first failure", || watcher.is_stop_requested());
                    });
                    Err(Error::Second)
                })?;
                // The first child yields (to its own worker) until the
                // second's poll is in flight, then fails.
                let first = s.spawn_try(async move {
                    while !started.load(Ordering::SeqCst) {
                        common::yield_now().await;
                    }
                    Err::<(), _>(Error::First)
                })?;
                *lock(&slot) = (Some(first), Some(second));
                std::future::pending().await
            })
            .await;
            assert_eq!(result, Err(Error::First), "round {round}");
            let (first, second) = std::mem::take(&mut *lock(&handles));
            assert!(
                first.unwrap().await.unwrap_err().is_failed(),
                "round {round}"
            );
            assert!(
                matches!(second.unwrap().await, Ok(Err(Error::Second))),
                "round {round}"
            );
        });
    }
}

/// The body's `Err` fails fast: its children are cancelled, not awaited,
/// and the error is returned after they terminated (G1).
#[test]
fn body_error_cancels_the_children() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let result: Result<(), Error> = tasktree::try_scope(|s| async move {
            let (tx, rx) = oneshot::channel();
            s.spawn_future(pend(&l, "child", Some(tx)), l.done("child"))?;
            let lg = l.clone();
            s.spawn(
                move |t| {
                    t.spawn_future(pend(&lg, "grandchild", None), lg.done("grandchild"))
                        .unwrap();
                    pend(&lg, "task", None)
                },
                l.done("task"),
            )?;
            rx.await.unwrap();
            Err(Error::Body)
        })
        .await;
        assert_eq!(result, Err(Error::Body), "{executor}");
        log.assert_order(&["child future dropped", "child done"]);
        log.assert_order(&[
            "task future dropped",
            "grandchild future dropped",
            "grandchild done",
            "task done",
        ]);
        assert_eq!(log.entries().len(), 6, "{executor}: {log:?}");
    });
}

/// Without a failure, `try_scope` awaits its children (not cancelled) and
/// returns the body's `Ok`.
#[test]
fn ok_body_awaits_the_children() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let l = log.clone();
        let result: Result<u32, Error> = tasktree::try_scope(|s| async move {
            for name in ["a", "b"] {
                let l = l.clone();
                s.spawn_try(async move {
                    common::yield_now().await;
                    l.push(format!("{name} completed"));
                    Ok(())
                })?
                .detach();
            }
            Ok(7)
        })
        .await;
        assert_eq!(result, Ok(7), "{executor}");
        log.assert_once(&["a completed", "b completed"]);
    });
}

/// Only `spawn_try` children fail the scope: a `spawn_task` child that
/// returns `Err` is an ordinary value in its handle.
#[test]
fn errors_of_spawn_task_children_do_not_fail_the_scope() {
    on_both_runtimes(|executor| async move {
        let result: Result<&str, Error> = tasktree::try_scope(|s| async move {
            let plain = s.spawn_task(async { Err::<(), _>(Error::Second) })?;
            assert_eq!(plain.await.expect("completed"), Err(Error::Second));
            Ok("the body's value")
        })
        .await;
        assert_eq!(result, Ok("the body's value"), "{executor}");
    });
}

/// G5: once the scope has failed, its spawner refuses new children, through
/// any clone, even one that outlived the block.
#[test]
fn spawning_after_the_failure_is_refused() {
    on_both_runtimes(|executor| async move {
        let leaked: Arc<Mutex<Option<TryScope<Error>>>> = Arc::default();
        let slot = leaked.clone();
        let result: Result<(), Error> = tasktree::try_scope(|s| async move {
            *lock(&slot) = Some(s.clone());
            s.spawn_try(async { Err::<(), _>(Error::First) })?.detach();
            std::future::pending().await
        })
        .await;
        assert_eq!(result, Err(Error::First), "{executor}");
        let s = lock(&leaked).take().unwrap();
        assert!(s.is_terminated(), "{executor}");
        let err = s.spawn_try(async { Ok::<(), Error>(()) }).unwrap_err();
        assert!(err.is_terminated(), "{executor}: {err:?}");
    });
}

/// `spawner.try_scope` through a terminated spawner returns
/// `Err(E::from(SpawnError))` without running the body (G5).
#[test]
fn nested_try_scope_on_a_terminated_spawner() {
    on_both_runtimes(|executor| async move {
        let root = tasktree::ScopedSpawner::tokio();
        root.shutdown().await;
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let result: Result<(), Error> = root
            .try_scope(|_s| async move {
                r.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert_eq!(result, Err(Error::Spawn), "{executor}");
        assert!(
            !ran.load(Ordering::SeqCst),
            "{executor}: the body must not run"
        );
    });
}

/// A nested `try_scope` in a task: the first child error reaches the task's
/// code as the block's result, after the block's children terminated; the
/// task itself is not failed by it.
#[test]
fn nested_try_scope_returns_the_first_error_to_the_task() {
    on_both_runtimes(|executor| async move {
        let log = Log::new();
        let root = tasktree::ScopedSpawner::tokio();
        let (l, log2, r) = (log.clone(), log.clone(), root.clone());
        let handle = root
            .spawn_task(async move {
                let result: Result<(), Error> = r
                    .try_scope(|s| async move {
                        let (tx, rx) = oneshot::channel();
                        s.spawn_future(pend(&l, "sibling", Some(tx)), l.done("sibling"))?;
                        s.spawn_try(async move {
                            rx.await.unwrap();
                            Err::<(), _>(Error::First)
                        })?
                        .detach();
                        std::future::pending().await
                    })
                    .await;
                log2.push("block ended");
                result
            })
            .unwrap();
        assert_eq!(handle.await.expect("the task completed"), Err(Error::First));
        log.assert_exact(&["sibling future dropped", "sibling done", "block ended"]);
        let _ = executor;
    });
}
