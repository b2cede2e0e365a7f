//! Graceful (two-phase) cancellation: a stop request first, the cancel only
//! when the grace period runs out. Timing is by tokio's paused clock
//! (`start_paused`): time advances only when every task is idle, so the
//! instants checked here are exact and independent of the machine's load.
#![allow(clippy::disallowed_types)]

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Log;
use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio::time::{sleep, Instant};

const GRACE: Duration = Duration::from_secs(5);

/// Milliseconds of (paused) time since `start`.
fn at(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

#[tokio::test(start_paused = true)]
async fn a_cooperating_task_finishes_within_the_grace_period() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let task_log = log.clone();
    let signals = root
        .spawn_with_signal(
            move |spawner| async move {
                let _guard = task_log.guard("task");
                tokio::select! {
                    _ = pending::<()>() => unreachable!("the work never ends"),
                    _ = spawner.stop_requested() => task_log.push(format!("stop requested @{}", at(start))),
                }
                // Flushing takes 100 ms, well within the grace period.
                sleep(Duration::from_millis(100)).await;
                task_log.push(format!("flushed @{}", at(start)));
            },
            log.done("task"),
        )
        .unwrap();
    sleep(Duration::from_millis(10)).await;
    signals.cancel_sender.cancel_with_grace(GRACE).unwrap();
    signals.done_receiver.await;
    log.assert_exact(&[
        "stop requested @10",
        "flushed @110",
        "task future dropped",
        "task done",
    ]);
    assert_eq!(at(start), 110, "no wait for the rest of the grace period");
    assert_eq!(root.live_children(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_task_that_ignores_the_stop_request_is_dropped_when_the_grace_period_ends() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let handle = root
        .spawn_task(common::pend(&log, "stubborn", None))
        .unwrap();
    handle.cancel_with_grace(GRACE).unwrap();
    // Just before the end of the grace period it still runs.
    sleep(GRACE - Duration::from_millis(1)).await;
    assert!(!log.contains("stubborn future dropped"));
    assert!(!handle.is_finished());
    let err = handle.await.unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(at(start), 5_000);
    log.assert_exact(&["stubborn future dropped"]);
}

#[tokio::test(start_paused = true)]
async fn a_leaf_that_completes_within_the_grace_period_yields_its_value() {
    let root = ScopedSpawner::tokio();
    let handle = root
        .spawn_task(async {
            sleep(Duration::from_secs(1)).await;
            42
        })
        .unwrap();
    handle.cancel_with_grace(GRACE).unwrap();
    // A later plain cancel does not cut the grace period short.
    handle.cancel();
    assert_eq!(handle.await.unwrap(), 42);
}

#[tokio::test(start_paused = true)]
async fn a_zero_grace_period_cancels_at_once() {
    let log = Log::new();
    let root = ScopedSpawner::tokio();
    let handle = root.spawn_task(common::pend(&log, "task", None)).unwrap();
    tokio::task::yield_now().await;
    let start = Instant::now();
    handle.cancel_with_grace(Duration::ZERO).unwrap();
    assert!(handle.await.unwrap_err().is_cancelled());
    assert_eq!(at(start), 0);
}

/// The stop request reaches the whole subtree at once; the cancels, when
/// the grace period ends, follow the termination phases top-down, and the
/// `done` callbacks run bottom-up.
#[tokio::test(start_paused = true)]
async fn the_stop_request_cascades_and_the_cancel_keeps_the_phase_order() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    root.spawn(
        move |parent| async move {
            let _guard = l1.guard("parent");
            parent
                .spawn(
                    move |child| async move {
                        let _guard = l2.guard("child");
                        child
                            .spawn(
                                move |grandchild| async move {
                                    let _guard = l3.guard("grandchild");
                                    grandchild.stop_requested().await;
                                    l3.push(format!("grandchild stop @{}", at(start)));
                                    pending::<()>().await;
                                },
                                l2.done("grandchild"),
                            )
                            .unwrap();
                        child.stop_requested().await;
                        l2.push(format!("child stop @{}", at(start)));
                        pending::<()>().await;
                    },
                    l1.done("child"),
                )
                .unwrap();
            parent.stop_requested().await;
            l1.push(format!("parent stop @{}", at(start)));
            pending::<()>().await;
        },
        log.done("parent"),
    )
    .unwrap();
    sleep(Duration::from_millis(1)).await;
    root.shutdown_with_grace(GRACE).unwrap().await;
    assert_eq!(at(start), 5_001);
    let entries = log.entries();
    for who in ["parent", "child", "grandchild"] {
        assert!(
            entries.contains(&format!("{who} stop @1")),
            "{who} saw the stop request at once: {entries:?}"
        );
    }
    log.assert_order(&[
        "parent future dropped",
        "child future dropped",
        "grandchild future dropped",
        "grandchild done",
        "child done",
        "parent done",
    ]);
    // Every stop request came before any future was dropped.
    let first_drop = log.pos("parent future dropped");
    for who in ["parent", "child", "grandchild"] {
        assert!(log.pos(&format!("{who} stop @1")) < first_drop);
    }
}

/// A task that finishes early in its grace period hands the rest of it
/// (the same deadline) to its children, which its termination cancels.
#[tokio::test(start_paused = true)]
async fn a_child_keeps_its_parents_deadline_when_the_parent_finishes_early() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let (l1, l2) = (log.clone(), log.clone());
    let signals = root
        .spawn_with_signal(
            move |parent| async move {
                let _guard = l1.guard("parent");
                parent
                    .spawn_future(
                        {
                            let guard = l2.guard("child");
                            async move {
                                let _guard = guard;
                                pending::<()>().await
                            }
                        },
                        l2.done("child"),
                    )
                    .unwrap();
                parent.stop_requested().await;
                sleep(Duration::from_millis(100)).await;
                l1.push(format!("parent returns @{}", at(start)));
            },
            {
                let log = log.clone();
                move || log.push(format!("parent done @{}", at(start)))
            },
        )
        .unwrap();
    signals
        .cancel_sender
        .cancel_with_grace(Duration::from_secs(1))
        .unwrap();
    signals.done_receiver.await;
    log.assert_exact(&[
        "parent returns @100",
        "parent future dropped",
        "child future dropped",
        "child done",
        "parent done @1000",
    ]);
}

#[tokio::test(start_paused = true)]
async fn a_spawners_grace_period_applies_to_handle_cancels_and_to_shutdown() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    root.set_grace_period(Some(Duration::from_secs(2))).unwrap();
    // A cancelled handle: the task is asked to stop and has 2 s.
    let l = log.clone();
    let cancelled = root
        .spawn_task(async move {
            sleep(Duration::from_secs(1)).await;
            l.push(format!("finished @{}", at(start)));
        })
        .unwrap();
    cancelled.cancel();
    drop(cancelled);
    // Shutdown: the stubborn task is dropped at 2 s.
    root.spawn_future(common::pend(&log, "stubborn", None), log.done("stubborn"))
        .unwrap();
    root.shutdown().await;
    assert_eq!(at(start), 2_000);
    log.assert_exact(&["finished @1000", "stubborn future dropped", "stubborn done"]);
    // `None` restores immediate cancels.
    let root = ScopedSpawner::tokio();
    root.set_grace_period(Some(GRACE)).unwrap();
    root.set_grace_period(None).unwrap();
    let handle = root.spawn_task(pending::<()>()).unwrap();
    let start = Instant::now();
    handle.cancel();
    assert!(handle.await.unwrap_err().is_cancelled());
    assert_eq!(at(start), 0);
}

/// The earlier of a parent's deadline and a child scope's own grace period
/// wins.
#[tokio::test(start_paused = true)]
async fn a_shorter_own_grace_period_wins_over_the_inherited_deadline() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let l = log.clone();
    root.spawn(
        move |task| async move {
            task.set_grace_period(Some(Duration::from_millis(300)))
                .unwrap();
            let guard = l.guard("grandchild");
            task.spawn_future(
                async move {
                    let _guard = guard;
                    pending::<()>().await
                },
                {
                    let l = l.clone();
                    move || l.push(format!("grandchild done @{}", at(start)))
                },
            )
            .unwrap();
            // Returns at once when asked to stop: phase 3 cancels the
            // grandchild with the task's own 300 ms, not the root's 5 s.
            task.stop_requested().await;
        },
        || (),
    )
    .unwrap();
    tokio::task::yield_now().await;
    root.shutdown_with_grace(GRACE).unwrap().await;
    log.assert_exact(&["grandchild future dropped", "grandchild done @300"]);
}

/// A scope block inside a task passes the stop request on to its body and
/// its children.
#[tokio::test(start_paused = true)]
async fn a_nested_scope_block_sees_the_stop_request() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let l = log.clone();
    let handle = root
        .spawn_task({
            let root = root.clone();
            async move {
                root.scope(|s| async move {
                    let inner = s.clone();
                    let child = s
                        .spawn_task(async move {
                            inner.stop_requested().await;
                            "child stopped"
                        })
                        .unwrap();
                    s.stop_requested().await;
                    l.push(format!("body stop @{}", at(start)));
                    child.await.unwrap()
                })
                .await
                .unwrap()
            }
        })
        .unwrap();
    tokio::task::yield_now().await;
    drop(root.shutdown_with_grace(GRACE).unwrap());
    // The block's spawner here is a child of the *root*, not of the task, so
    // it is the root's close that asks it to stop.
    assert_eq!(handle.await.unwrap(), "child stopped");
    log.assert_exact(&["body stop @0"]);
}

/// Many children in a graceful shutdown: each is dropped exactly once, each
/// `done` runs once, and nothing is left.
#[tokio::test(start_paused = true)]
async fn graceful_shutdown_of_a_wide_tree_keeps_exactly_once() {
    let log = Log::new();
    let root = ScopedSpawner::tokio();
    for i in 0..50 {
        let name = format!("t{i}");
        let l = log.clone();
        let done = log.done(&name);
        root.spawn(
            move |spawner| {
                let guard = l.guard(&name);
                async move {
                    let _guard = guard;
                    if i % 2 == 0 {
                        // Cooperates.
                        spawner.stop_requested().await;
                    } else {
                        pending::<()>().await;
                    }
                }
            },
            done,
        )
        .unwrap();
    }
    tokio::task::yield_now().await;
    root.shutdown_with_grace(GRACE).unwrap().await;
    for i in 0..50 {
        log.assert_once(&[&format!("t{i} future dropped"), &format!("t{i} done")]);
        log.assert_order(&[&format!("t{i} future dropped"), &format!("t{i} done")]);
    }
    assert_eq!(root.live_children(), 0);
    assert!(root.is_terminated());
}

/// On a runtime without a timer a grace period cannot be measured: the
/// graceful cancel is refused with an error when it is asked for (before,
/// it turned into an immediate cancel), and a plain cancel still works.
#[test]
fn without_a_time_driver_a_graceful_cancel_is_an_error() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let log = Log::new();
        let root = ScopedSpawner::tokio();
        let handle = root.spawn_task(common::pend(&log, "task", None)).unwrap();
        assert_eq!(
            handle.cancel_with_grace(GRACE),
            Err(tasktree::TimerError::NoTimeDriver)
        );
        tokio::task::yield_now().await;
        assert!(
            !handle.is_finished(),
            "a refused graceful cancel does nothing"
        );
        handle.cancel();
        assert!(handle.await.unwrap_err().is_cancelled());
        log.assert_exact(&["task future dropped"]);
    });
}

/// Raw children see the stop request through their cancel receiver.
#[tokio::test(start_paused = true)]
async fn the_cancel_receiver_fires_on_the_stop_request() {
    use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
    let root = ScopedSpawner::tokio();
    let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
    let receiver = child.cancel_receiver.clone();
    let observer = child.cancel_receiver.clone();
    let task = RemoteScope::new().wrap(
        child,
        async move {
            receiver.await;
            // Still running after the stop request: the cancel comes later.
            sleep(Duration::from_millis(10)).await;
        },
        || (),
    );
    tokio::spawn(task);
    let start = Instant::now();
    parent.cancel_sender.cancel_with_grace(GRACE).unwrap();
    // Asked to stop, not cancelled.
    assert!(observer.is_stop_requested());
    assert!(!observer.is_cancelled());
    assert!(!parent.cancel_sender.is_cancelled());
    parent.done_receiver.await;
    assert_eq!(at(start), 10);
    // It finished within its grace period: never cancelled.
    assert!(!observer.is_cancelled());
}

// Waiters: each `StopRequested` has its own entry in its scope, and foreign
// cancel-receiver wakers are kept by slot (G9, tests/scaling.rs). These check
// that no wake-up is lost and no stale waker is kept.

/// A waker that counts its wakes.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl futures::task::ArcWake for Counting {
    fn wake_by_ref(this: &Arc<Self>) {
        this.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counting {
    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls `fut` once with `waker`.
fn poll_with<F: std::future::Future + Unpin>(
    fut: &mut F,
    waker: &Arc<Counting>,
) -> std::task::Poll<F::Output> {
    let waker = futures::task::waker(waker.clone());
    std::pin::Pin::new(fut).poll(&mut std::task::Context::from_waker(&waker))
}

/// A `StopRequested` re-polled with another waker wakes only the last one;
/// several on one scope are all woken; one dropped before the stop is not,
/// and dropping one after it resolved, or after the stop, is harmless.
#[tokio::test]
async fn every_pending_stop_requested_future_wakes_its_last_waker() {
    let root = ScopedSpawner::tokio();
    let [first, moved, other, gone] = std::array::from_fn(|_| Arc::new(Counting::default()));
    let mut stop = root.stop_requested();
    assert!(poll_with(&mut stop, &first).is_pending());
    assert!(
        poll_with(&mut stop, &first).is_pending(),
        "same waker again"
    );
    assert!(
        poll_with(&mut stop, &moved).is_pending(),
        "polled elsewhere"
    );
    let mut stop_other = root.stop_requested();
    assert!(poll_with(&mut stop_other, &other).is_pending());
    let mut stop_gone = root.stop_requested();
    assert!(poll_with(&mut stop_gone, &gone).is_pending());
    drop(stop_gone);
    let never_polled = root.stop_requested();

    root.shutdown().await;
    assert_eq!(first.wakes(), 0, "replaced by the later poll's waker");
    assert_eq!(moved.wakes(), 1);
    assert_eq!(other.wakes(), 1);
    assert_eq!(gone.wakes(), 0, "dropped before the stop");
    assert!(poll_with(&mut stop, &moved).is_ready());
    assert!(poll_with(&mut stop_other, &other).is_ready());
    drop(stop);
    drop(stop_other);
    drop(never_polled);
    // A new one after the stop is ready at once.
    assert!(poll_with(&mut root.stop_requested(), &first).is_ready());
}

/// `&mut stop` in a `select!` loop (it is `Unpin`) keeps one entry: a
/// thousand rounds, then the stop wakes it.
#[tokio::test(start_paused = true)]
async fn a_stop_requested_future_selected_in_a_loop_resolves_on_the_stop() {
    let root = ScopedSpawner::tokio();
    let signals = root
        .spawn_with_signal(
            |spawner| async move {
                let mut stop = spawner.stop_requested();
                let mut rounds = 0;
                loop {
                    tokio::select! {
                        () = &mut stop => break,
                        () = sleep(Duration::from_millis(1)) => rounds += 1,
                    }
                }
                assert!(rounds >= 1000, "{rounds} rounds");
            },
            || (),
        )
        .unwrap();
    sleep(Duration::from_millis(1000) + Duration::from_micros(500)).await;
    signals.cancel_sender.cancel_with_grace(GRACE).unwrap();
    signals.done_receiver.await;
}

/// A cancel receiver polled from two tasks other than its own, and a
/// deadline's timer on the same slot: the cancel wakes both receivers.
#[tokio::test(start_paused = true)]
async fn cancel_receivers_polled_from_other_tasks_are_all_woken() {
    use tasktree::remote_scope::RawScopedSpawn;
    let root = ScopedSpawner::tokio();
    let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
    parent
        .cancel_sender
        .set_timeout(Duration::from_secs(3600))
        .unwrap();
    let (a, b) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
    let mut receiver_a = child.cancel_receiver.clone();
    let mut receiver_b = child.cancel_receiver.clone();
    assert!(poll_with(&mut receiver_a, &a).is_pending());
    assert!(poll_with(&mut receiver_a, &a).is_pending(), "kept once");
    assert!(poll_with(&mut receiver_b, &b).is_pending());
    // Let the deadline's timer park on the slot too.
    tokio::task::yield_now().await;
    parent.cancel_sender.cancel();
    assert_eq!((a.wakes(), b.wakes()), (1, 1));
    assert!(poll_with(&mut receiver_a, &a).is_ready());
    assert!(poll_with(&mut receiver_b, &b).is_ready());
    drop((receiver_a, receiver_b, child));
    parent.done_receiver.await;
    root.shutdown().await;
}

// Regressions found by the randomized trees (tests/property.rs).

#[derive(Debug, PartialEq)]
struct Boom(&'static str);

impl From<tasktree::SpawnError> for Boom {
    fn from(_: tasktree::SpawnError) -> Self {
        Boom("spawn")
    }
}

/// A `spawn_try` child whose error fails a scope with a grace period ends
/// at once (it was polled again after completing, before the fix).
#[tokio::test(start_paused = true)]
async fn a_failing_spawn_try_child_ends_at_once_in_a_scope_with_a_grace_period() {
    let start = Instant::now();
    let polled_again = Arc::new(AtomicBool::new(false));
    let flag = polled_again.clone();
    let out: Result<(), Boom> = tasktree::try_scope(|s: tasktree::TryScope<Boom>| async move {
        s.set_grace_period(Some(Duration::from_secs(10))).unwrap();
        let mut ready = false;
        let fails = std::future::poll_fn(move |_| {
            if ready {
                flag.store(true, Ordering::SeqCst);
            }
            ready = true;
            std::task::Poll::Ready(Err::<(), _>(Boom("boom")))
        });
        let handle = s.spawn_try(fails).unwrap();
        assert!(handle.await.unwrap_err().is_failed());
        Ok(())
    })
    .await;
    assert_eq!(out, Err(Boom("boom")));
    assert_eq!(at(start), 0);
    assert!(
        !polled_again.load(Ordering::SeqCst),
        "the child's future was polled after it completed"
    );
}

/// The same when the child had already been asked to stop: it does not wait
/// for the end of the grace period.
#[tokio::test(start_paused = true)]
async fn a_failing_spawn_try_child_under_a_stop_request_ends_at_once() {
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let signals = root
        .spawn_with_signal(
            move |spawner| async move {
                spawner.stop_requested().await;
                let out: Result<(), Boom> = spawner
                    .try_scope(|s: tasktree::TryScope<Boom>| async move {
                        s.spawn_try(async { Err::<(), _>(Boom("boom")) })?.detach();
                        Ok(())
                    })
                    .await;
                assert_eq!(out, Err(Boom("boom")));
            },
            || (),
        )
        .unwrap();
    signals.cancel_sender.cancel_with_grace(GRACE).unwrap();
    signals.done_receiver.await;
    assert_eq!(at(start), 0, "the grace period was not waited out");
}

/// A block whose body has returned, and which waits for its children, still
/// passes a stop request on to them.
#[tokio::test(start_paused = true)]
async fn a_stop_request_reaches_the_children_of_a_draining_block() {
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let signals = root
        .spawn_with_signal(
            move |spawner| async move {
                spawner
                    .scope(|s| async move {
                        s.spawn(|own| async move { own.stop_requested().await }, || ())
                            .unwrap();
                        tx.send(()).unwrap();
                        // The body returns: the block waits for its child.
                    })
                    .await
                    .unwrap();
            },
            || (),
        )
        .unwrap();
    rx.await.unwrap();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    signals.cancel_sender.cancel_with_grace(GRACE).unwrap();
    signals.done_receiver.await;
    assert_eq!(at(start), 0, "the grace period was not waited out");
}

// Escalating a shutdown (the "second Ctrl-C").

/// A task that ignores stop requests; its future's drop is logged.
fn stubborn(root: &ScopedSpawner<tasktree::TokioSpawner>, log: &Log) {
    root.spawn_future(common::pend(log, "task", None), log.done("task"))
        .unwrap();
}

/// A plain `shutdown()` during a long grace period cancels at once, and
/// resolves without waiting the grace period out.
#[tokio::test(start_paused = true)]
async fn a_plain_shutdown_during_a_grace_period_cancels_at_once() {
    let log = Log::new();
    let start = Instant::now();
    let root = ScopedSpawner::tokio();
    stubborn(&root, &log);
    drop(root.shutdown_with_grace(Duration::from_secs(60)).unwrap());
    tokio::task::yield_now().await;
    assert!(log.entries().is_empty(), "asked to stop, not cancelled");
    root.shutdown().await;
    assert_eq!(at(start), 0, "cancelled at once, not after 60 s");
    log.assert_exact(&["task future dropped", "task done"]);
}

/// Shuts a root with one stubborn task down gracefully with `first`, then
/// with `second`; returns the milliseconds until the second resolved.
async fn shut_down_twice(first: Duration, second: Duration) -> u128 {
    let (log, start) = (Log::new(), Instant::now());
    let root = ScopedSpawner::tokio();
    stubborn(&root, &log);
    drop(root.shutdown_with_grace(first).unwrap());
    root.shutdown_with_grace(second).unwrap().await;
    log.assert_exact(&["task future dropped", "task done"]);
    at(start)
}

/// A later, shorter graceful shutdown wins; a later, longer one does not
/// extend the first.
#[tokio::test(start_paused = true)]
async fn the_earlier_of_two_graceful_shutdowns_wins() {
    let (second, minute) = (Duration::from_secs(1), Duration::from_secs(60));
    assert_eq!(shut_down_twice(minute, second).await, 1_000);
    assert_eq!(shut_down_twice(second, minute).await, 1_000);
}

/// A root with a 10 s grace period of its own and a stubborn task, shut
/// down with `shutdown()` one second ago (paused clock).
async fn shut_down_a_second_ago() -> (ScopedSpawner<tasktree::TokioSpawner>, Log, Instant) {
    let (log, start) = (Log::new(), Instant::now());
    let root = ScopedSpawner::tokio();
    root.set_grace_period(Some(Duration::from_secs(10)))
        .unwrap();
    stubborn(&root, &log);
    drop(root.shutdown());
    sleep(Duration::from_secs(1)).await;
    (root, log, start)
}

/// On a scope with a grace period of its own, `shutdown()` means "cancel
/// with that grace period": a second one changes nothing, and
/// `shutdown_with_grace(Duration::ZERO)` cancels at once.
#[tokio::test(start_paused = true)]
async fn a_scope_with_a_grace_period_escalates_with_a_zero_grace() {
    let (root, log, start) = shut_down_a_second_ago().await;
    root.shutdown().await;
    assert_eq!(at(start), 10_000, "the first shutdown's deadline holds");
    log.assert_exact(&["task future dropped", "task done"]);

    let (root, log, start) = shut_down_a_second_ago().await;
    root.shutdown_with_grace(Duration::ZERO).unwrap().await;
    assert_eq!(at(start), 1_000, "cancelled at once");
    log.assert_exact(&["task future dropped", "task done"]);
}

/// `Duration::MAX` as the grace period: the cancel does not come (in
/// practice); the shutdown waits as long as the children take.
#[tokio::test(start_paused = true)]
async fn a_grace_period_of_duration_max_waits_for_the_children() {
    let root = ScopedSpawner::tokio();
    let thousand_days = Duration::from_secs(1_000 * 86_400);
    let handle = root
        .spawn_task(async move {
            sleep(thousand_days).await;
            "finished"
        })
        .unwrap();
    let start = Instant::now();
    root.shutdown_with_grace(Duration::MAX).unwrap().await;
    assert_eq!(start.elapsed(), thousand_days);
    assert_eq!(handle.await.unwrap(), "finished");
}
