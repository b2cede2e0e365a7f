//! Deadlines: a task cancelled because its deadline passed reports a
//! distinct outcome (`TaskError::is_deadline_exceeded`), through the same
//! cancel path as any cancel (its future dropped, then its children
//! cancelled and awaited). Scope blocks take their deadline from
//! `tokio::time::timeout`. Timing is by tokio's paused clock.
#![allow(clippy::disallowed_types)]

mod common;

use std::future::pending;
use std::time::Duration;

use common::Log;
use tasktree::{ScopedSpawn, ScopedSpawner, TimerError, TokioSpawner};
use tokio::time::{sleep, Instant};

fn at(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

/// The tasks alive on this runtime (the library's timers are tasks too).
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn a_task_past_its_deadline_reports_deadline_exceeded() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let handle = root.spawn_task(common::pend(&log, "slow", None)).unwrap();
    handle.set_deadline(start + Duration::from_secs(2)).unwrap();
    let id = handle.id();
    let err = handle.await.unwrap_err();
    assert!(err.is_deadline_exceeded(), "{err:?}");
    assert!(!err.is_cancelled() && !err.is_panic() && !err.is_failed());
    assert_eq!(
        err.to_string(),
        format!("task {id} was cancelled by its deadline")
    );
    assert_eq!(at(start), 2_000);
    log.assert_exact(&["slow future dropped"]);
}

#[tokio::test(start_paused = true)]
async fn a_task_that_finishes_in_time_is_untouched_and_its_timer_ends() {
    let root = ScopedSpawner::tokio();
    let handle = root
        .spawn_task(async {
            sleep(Duration::from_millis(10)).await;
            "on time"
        })
        .unwrap();
    handle.set_timeout(Duration::from_secs(3600)).unwrap();
    assert_eq!(handle.await.unwrap(), "on time");
    // The timer saw the task finish and ended: nothing waits an hour.
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_earliest_deadline_wins() {
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let handle = root.spawn_task(pending::<()>()).unwrap();
    handle.set_timeout(Duration::from_secs(5)).unwrap();
    handle.set_timeout(Duration::from_secs(1)).unwrap();
    handle.set_timeout(Duration::from_secs(3)).unwrap();
    assert!(handle.await.unwrap_err().is_deadline_exceeded());
    assert_eq!(at(start), 1_000);
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), 0, "the later timers ended with the task");
}

#[tokio::test(start_paused = true)]
async fn a_cancel_before_the_deadline_is_a_plain_cancel() {
    let root = ScopedSpawner::tokio();
    let handle = root.spawn_task(pending::<()>()).unwrap();
    handle.set_timeout(Duration::from_secs(1)).unwrap();
    sleep(Duration::from_millis(500)).await;
    handle.cancel();
    let err = handle.await.unwrap_err();
    assert!(err.is_cancelled() && !err.is_deadline_exceeded(), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_already_passed_cancels_at_once() {
    let root = ScopedSpawner::tokio();
    let handle = root.spawn_task(pending::<()>()).unwrap();
    let start = Instant::now();
    handle
        .set_deadline(start - Duration::from_millis(1))
        .unwrap();
    assert!(handle.await.unwrap_err().is_deadline_exceeded());
    assert_eq!(at(start), 0);
}

/// The deadline takes the ordinary cancel path: the task's future is
/// dropped first, then its children are cancelled, then the `done`
/// callbacks run bottom-up (the six phases).
#[tokio::test(start_paused = true)]
async fn a_deadline_cancels_the_subtree_in_phase_order() {
    let log = Log::new();
    let root = ScopedSpawner::tokio();
    let l = log.clone();
    let signals = root
        .spawn_with_signal(
            move |task| {
                let guard = l.guard("task");
                async move {
                    let _guard = guard;
                    task.spawn_future(common::pend(&l, "child", None), l.done("child"))
                        .unwrap();
                    pending::<()>().await;
                }
            },
            log.done("task"),
        )
        .unwrap();
    signals
        .cancel_sender
        .set_timeout(Duration::from_secs(1))
        .unwrap();
    signals.done_receiver.await;
    log.assert_exact(&[
        "task future dropped",
        "child future dropped",
        "child done",
        "task done",
    ]);
}

/// A scope block's deadline is `tokio::time::timeout` around it: when the
/// block is a child of a task's scope, the task still waits for the block's
/// children, which the timeout cancelled.
#[tokio::test(start_paused = true)]
async fn a_scope_block_under_a_timeout_cancels_its_children() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let l = log.clone();
    let signals = root
        .spawn_with_signal(
            move |task| async move {
                let inner = l.clone();
                let result = tokio::time::timeout(
                    Duration::from_secs(1),
                    task.scope(|s| async move {
                        let l = inner;
                        for name in ["a", "b"] {
                            s.spawn_future(common::pend(&l, name, None), l.done(name))
                                .unwrap();
                        }
                    }),
                )
                .await;
                assert!(result.is_err(), "the block timed out");
                l.push(format!("timed out @{}", at(start)));
            },
            log.done("task"),
        )
        .unwrap();
    signals.done_receiver.await;
    drop(signals.cancel_sender);
    log.assert_order(&["timed out @1000", "task done"]);
    log.assert_once(&["a future dropped", "a done", "b future dropped", "b done"]);
    log.assert_order(&["a done", "task done"]);
    log.assert_order(&["b done", "task done"]);
}

/// Misuse is an error, not a panic: a deadline or grace period set outside a
/// tokio runtime (on a spawner whose executor is not tokio's) returns
/// `TimerError::NoRuntime`, and nothing is scheduled.
#[test]
fn timed_calls_outside_a_runtime_are_errors() {
    // Any executor but tokio's: a deterministic one leaves no thread behind.
    let executor = common::ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let handle = root.spawn_task(pending::<()>()).unwrap();
    let no_runtime = Err(TimerError::NoRuntime);
    assert_eq!(handle.set_timeout(Duration::from_secs(1)), no_runtime);
    assert_eq!(
        handle.set_deadline(tokio::time::Instant::now() + Duration::from_secs(1)),
        no_runtime
    );
    assert_eq!(handle.cancel_with_grace(Duration::from_secs(1)), no_runtime);
    assert_eq!(
        root.set_grace_period(Some(Duration::from_secs(1))),
        no_runtime
    );
    assert_eq!(root.set_grace_period(None), Ok(()));
    assert!(matches!(
        root.shutdown_with_grace(Duration::from_secs(1)),
        Err(TimerError::NoRuntime)
    ));
    // Nothing was scheduled or asked: the task still runs, and the scope is
    // open.
    assert!(!handle.is_finished());
    assert!(!root.is_stop_requested());
    assert!(root.spawn_task(async {}).is_ok());
    drop(handle);
    executor.run_until_stalled();
    executor.shutdown();
}

/// A deadline that cannot be timed (a runtime without a time driver) is
/// reported when it is set; the task is not cancelled, and finishes.
#[test]
fn a_deadline_on_a_runtime_without_a_timer_is_an_error_and_cancels_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let root = ScopedSpawner::new(TokioSpawner::new(runtime.handle().clone()));
    runtime.block_on(async {
        let handle = root
            .spawn_task(async {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                "finished"
            })
            .unwrap();
        assert_eq!(
            handle.set_timeout(Duration::from_secs(1)),
            Err(TimerError::NoTimeDriver)
        );
        assert_eq!(
            handle.cancel_with_grace(Duration::from_secs(1)),
            Err(TimerError::NoTimeDriver)
        );
        assert_eq!(
            root.set_grace_period(Some(Duration::from_secs(1))),
            Err(TimerError::NoTimeDriver)
        );
        // Before, the handle reported `DeadlineExceeded` here.
        assert_eq!(handle.await.unwrap(), "finished");
        assert!(root.shutdown_with_grace(Duration::from_secs(1)).is_err());
        assert!(!root.is_stop_requested(), "a failed call asks nothing");
        root.shutdown().await;
    });
}
