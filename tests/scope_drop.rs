//! Dropping a scope future mid-flight (issue 3): the body is dropped at
//! once, every child is cancelled, and no child future is polled past the
//! poll in flight (G3, counted with poll counters); every child's future is
//! dropped exactly once, every `done` runs and every handle resolves (G4).
//! A top-level block cannot wait for this; a nested one leaves it to its
//! enclosing scope.
#![allow(clippy::disallowed_types)]

mod common;

use common::until;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use common::{lock, quiet_intentional_panics, Counter, Log, ManualExecutor};
use futures::FutureExt;
use tasktree::{ScopedSpawn, ScopedSpawner, TaskHandle, TokioSpawner};

/// A child that never completes and makes progress on every poll (it counts
/// them in `polls` and wakes itself); its guard logs `"{name} future
/// dropped"`, polled or not.
fn spin(
    log: &Log,
    name: &'static str,
    polls: &Counter,
) -> impl Future<Output = ()> + Send + 'static {
    let (guard, polls) = (log.guard(name), polls.clone());
    async move {
        let _guard = guard;
        common::busy(polls).await
    }
}

/// A child like [`spin`] that also counts, in `late`, the polls that begin
/// after `cancelled` holds: `cancelled` tells whether the scope the child
/// belongs to has been closed, which cancels the child (phase 3).
fn spin_watching(
    log: &Log,
    name: &'static str,
    counts: &Counts,
    cancelled: impl Fn() -> bool + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let (guard, counts) = (log.guard(name), counts.clone());
    async move {
        let _guard = guard;
        std::future::poll_fn(move |cx| {
            if cancelled() {
                counts.late.incr();
            }
            counts.polls.incr();
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        })
        .await
    }
}

/// Where the body is when the scope future is dropped.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Body {
    /// Still running (pending).
    Running,
    /// Returned: the block is waiting for its children.
    Returned,
}

/// The poll counts of one child: all of them, and those that began after
/// its scope was closed.
#[derive(Clone, Default)]
struct Counts {
    polls: Counter,
    late: Counter,
}

/// The scenario: a top-level scope with busy children `a`, `b` (with `done`),
/// `h` (a handle moved out of the body) and `c` (with a busy grandchild
/// `c1`), dropped while its body is at `body`. `in_flight` is how many more
/// polls a child may see once its cancel is sent: 0 where the test runs on
/// the only thread, 1 where a worker may be in the middle of one.
///
/// The direct children are cancelled by the drop itself; the grandchild by
/// `c`'s termination (phase 3), so it is held to the same bound counted from
/// the close of `c`'s scope.
async fn drop_mid_flight(body: Body, in_flight: usize, executor: &str) {
    let log = Log::new();
    let names = ["a", "b", "h", "c", "c1"];
    let counts: [Counts; 5] = Default::default();
    let handle: Arc<Mutex<Option<TaskHandle<()>>>> = Arc::default();
    let (l, k, slot) = (log.clone(), counts.clone(), handle.clone());
    let mut scope = Box::pin(tasktree::scope(|s| async move {
        let _guard = l.guard("body");
        let [a, b, h, cc, c1] = k;
        let closed = |s: &ScopedSpawner<TokioSpawner>| {
            let s = s.clone();
            move || s.is_stop_requested()
        };
        s.spawn_future(spin_watching(&l, "a", &a, closed(&s)), l.done("a"))
            .unwrap();
        s.spawn_future(spin_watching(&l, "b", &b, closed(&s)), l.done("b"))
            .unwrap();
        *lock(&slot) = Some(
            s.spawn_task(spin_watching(&l, "h", &h, closed(&s)))
                .unwrap(),
        );
        let (lc, sc) = (l.clone(), closed(&s));
        s.spawn(
            move |c| {
                c.spawn_future(spin_watching(&lc, "c1", &c1, closed(&c)), lc.done("c1"))
                    .unwrap();
                spin_watching(&lc, "c", &cc, sc)
            },
            l.done("c"),
        )
        .unwrap();
        if body == Body::Running {
            std::future::pending::<()>().await;
        }
    }));
    // Run until every child has made progress, polling the scope too.
    until("every child runs", || {
        assert!(
            (&mut scope).now_or_never().is_none(),
            "{executor}: the scope never ends"
        );
        counts.iter().all(|c| c.polls.get() > 2)
    })
    .await;

    drop(scope);
    let at_drop: Vec<usize> = counts.iter().map(|c| c.polls.get()).collect();
    log.assert_once(&["body future dropped"]);

    let handle = lock(&handle).take().expect("h was spawned");
    until("h terminates", || handle.is_finished()).await;
    let err = handle.await.expect_err("h was cancelled");
    assert!(err.is_cancelled(), "{executor}: {err:?}");
    until("every done ran", || {
        ["a done", "b done", "c done", "c1 done"]
            .iter()
            .all(|e| log.contains(e))
    })
    .await;
    // Give the executor every chance to poll a child it should not.
    for _ in 0..50 {
        common::yield_now().await;
    }

    for name in ["a", "b", "c", "c1"] {
        log.assert_order(&[&format!("{name} future dropped"), &format!("{name} done")]);
    }
    log.assert_once(&["h future dropped"]);
    log.assert_order(&["c future dropped", "c1 future dropped", "c1 done", "c done"]);
    assert_eq!(log.entries().len(), 10, "{executor}: {log:?}");

    for (i, name) in names.iter().enumerate() {
        let (polls, late) = (counts[i].polls.get(), counts[i].late.get());
        assert!(
            late <= in_flight,
            "{executor}: {name} was polled {late} times after its scope was closed"
        );
        if *name != "c1" {
            assert!(
                polls <= at_drop[i] + in_flight,
                "{executor}: {name} was polled after the scope was dropped: {} -> {polls}",
                at_drop[i]
            );
        }
    }
}

/// G3, G4, exact: on a current-thread runtime, where nothing is in flight
/// when the test drops the scope, no child is polled after the drop, with
/// the body still running.
#[test]
fn dropping_a_running_scope_stops_every_child_current_thread() {
    common::tokio_current_thread().block_on(drop_mid_flight(Body::Running, 0, "current-thread"));
}

/// The same with the body returned and the block draining its children.
#[test]
fn dropping_a_draining_scope_stops_every_child_current_thread() {
    common::tokio_current_thread().block_on(drop_mid_flight(Body::Returned, 0, "current-thread"));
}

/// G3, G4 on a multi-thread runtime: at most the poll in flight on a worker
/// at the moment of the drop, then nothing.
#[test]
fn dropping_a_running_scope_stops_every_child_multi_thread() {
    let runtime = common::tokio_multi_thread();
    for _ in 0..10 {
        runtime.block_on(drop_mid_flight(Body::Running, 1, "multi-thread"));
    }
}

/// The same with the body returned.
#[test]
fn dropping_a_draining_scope_stops_every_child_multi_thread() {
    let runtime = common::tokio_multi_thread();
    for _ in 0..10 {
        runtime.block_on(drop_mid_flight(Body::Returned, 1, "multi-thread"));
    }
}

/// A scope future dropped before its first poll: the body's closure has run
/// (it spawned a child synchronously), the body's future never ran; the
/// child is cancelled before its first poll and terminates (G3, G4).
#[test]
fn dropping_a_scope_before_its_first_poll() {
    common::tokio_current_thread().block_on(async {
        let log = Log::new();
        let polls = Counter::new();
        let l = log.clone();
        let scope = tasktree::scope(|s| {
            s.spawn_future(spin(&l, "child", &polls), l.done("child"))
                .unwrap();
            let guard = l.guard("body");
            async move {
                let _guard = guard;
                l.push("body ran");
            }
        });
        drop(scope);
        until("the child's done ran", || log.contains("child done")).await;
        log.assert_exact(&["body future dropped", "child future dropped", "child done"]);
        assert_eq!(polls.get(), 0);
    });
}

/// A scope dropped while it fails (a child panicked, the failure is kept,
/// the others are being cancelled): the drop does not panic, the kept panic
/// goes nowhere, and every child still terminates once (G4).
#[test]
fn dropping_a_failing_scope() {
    quiet_intentional_panics();
    common::tokio_current_thread().block_on(async {
        let log = Log::new();
        let polls = Counter::new();
        let l = log.clone();
        let p = polls.clone();
        let mut scope = Box::pin(tasktree::scope(|s| async move {
            s.spawn_future(spin(&l, "sibling", &p), l.done("sibling"))
                .unwrap();
            let lf = l.clone();
            s.spawn_future(
                async move {
                    common::yield_now().await;
                    panic!("intentional failure");
                },
                move || lf.push("failing done"),
            )
            .unwrap();
            std::future::pending::<()>().await
        }));
        assert!(futures::poll!(scope.as_mut()).is_pending());
        until("the child failed", || log.contains("failing done")).await;
        drop(scope);
        until("the sibling's done ran", || log.contains("sibling done")).await;
        log.assert_once(&["sibling future dropped", "sibling done", "failing done"]);
    });
}

/// A request-handler timeout: the scope loses a `select!` against a timer
/// (paused time); its children, which tick every millisecond, tick no more
/// once it is dropped, however far time then advances (G3).
#[tokio::test(start_paused = true)]
async fn a_scope_that_loses_a_select_stops_its_children() {
    let log = Log::new();
    let ticks = [Counter::new(), Counter::new()];
    let (l, t) = (log.clone(), ticks.clone());
    tokio::select! {
        _ = tasktree::scope(|s| async move {
            for (name, ticks) in ["x", "y"].into_iter().zip(t) {
                let guard = l.guard(name);
                s.spawn_future(
                    async move {
                        let _guard = guard;
                        loop {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            ticks.incr();
                        }
                    },
                    l.done(name),
                )
                .unwrap();
            }
        }) => unreachable!("the children never end"),
        _ = tokio::time::sleep(Duration::from_millis(10)) => {}
    }
    let at_drop = [ticks[0].get(), ticks[1].get()];
    assert!(at_drop.iter().all(|n| *n > 0), "{at_drop:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!([ticks[0].get(), ticks[1].get()], at_drop);
    log.assert_once(&["x future dropped", "x done", "y future dropped", "y done"]);
}

/// A dropped nested block, exact on the manual executor: no child is polled
/// after the drop; the block's slot keeps the enclosing scope (here the
/// root) waiting until every child has terminated (G1), and then the root
/// has no child left.
#[test]
fn dropping_a_nested_scope_on_the_manual_executor() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let polls = [Counter::new(), Counter::new()];
    let (l, p) = (log.clone(), polls.clone());
    let mut block = Box::pin(root.scope(|s| async move {
        for (name, polls) in ["x", "y"].into_iter().zip(&p) {
            s.spawn_future(spin(&l, name, polls), l.done(name)).unwrap();
        }
        std::future::pending::<()>().await
    }));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(matches!(Pin::new(&mut block).poll(&mut cx), Poll::Pending));
    for _ in 0..5 {
        executor.run_round();
    }
    assert!(polls.iter().all(|c| c.get() > 0));
    assert_eq!(root.live_children(), 1, "the block's slot");
    drop(block);
    let at_drop = [polls[0].get(), polls[1].get()];
    assert_eq!(
        root.live_children(),
        1,
        "the root still waits for the block"
    );
    executor.run_until_stalled();
    assert_eq!([polls[0].get(), polls[1].get()], at_drop);
    log.assert_once(&["x future dropped", "x done", "y future dropped", "y done"]);
    assert_eq!(root.live_children(), 0);
}
