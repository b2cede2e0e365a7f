//! `race` (issue 3): the first `Ok` wins; every other contender is
//! cancelled *and awaited* before the race returns (G1 for the losers);
//! errors are collected in the order the contenders were given; a
//! contender's panic cancels the rest and is resumed; spawning failures and
//! outside cancellation give `RaceError::Terminated`.
#![allow(clippy::disallowed_types)]

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use common::{quiet_intentional_panics, Counter, Log, ManualExecutor};
use futures::channel::oneshot;
use futures::FutureExt;
use tasktree::{RaceError, ScopedSpawner};

/// A contender: sleeps `ms` (tokio time), logs `"{name} finished"`, returns
/// `result`. Its guard logs `"{name} future dropped"`, polled or not.
fn contender<T: Send + 'static>(
    log: &Log,
    name: &'static str,
    ms: u64,
    result: T,
) -> impl Future<Output = T> + Send + 'static {
    let (log, guard) = (log.clone(), log.guard(name));
    async move {
        let _guard = guard;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        log.push(format!("{name} finished"));
        result
    }
}

/// The first `Ok` wins (by completion, not by position); the losers are
/// cancelled before they finish and their futures are dropped before the
/// race returns (G1).
#[tokio::test(start_paused = true)]
async fn first_ok_wins_and_the_losers_are_awaited() {
    let root = ScopedSpawner::tokio();
    let log = Log::new();
    let contenders = [("slow", 30), ("fast", 10), ("medium", 20)]
        .map(|(name, ms)| contender(&log, name, ms, Ok::<_, ()>(name)));
    assert_eq!(root.race(contenders).await, Ok("fast"));
    log.push("race returned");
    log.assert_order(&["fast finished", "fast future dropped", "race returned"]);
    log.assert_order(&["slow future dropped", "race returned"]);
    log.assert_order(&["medium future dropped", "race returned"]);
    assert!(
        !log.contains("slow finished") && !log.contains("medium finished"),
        "{log:?}"
    );
    assert_eq!(root.live_children(), 0);
}

/// The same on a multi-thread runtime, without time: one contender is
/// ready at once, the others never are; they are dropped before the race
/// returns, in every round.
#[test]
fn first_ok_wins_on_tokio_multi_thread() {
    common::on_tokio_multi_thread(|root, _| async move {
        for round in 0..50 {
            let log = Log::new();
            let contenders: Vec<_> = ["a", "b", "c", "d"]
                .into_iter()
                .map(|name| {
                    let guard = log.guard(name);
                    async move {
                        let _guard = guard;
                        if name != "c" {
                            std::future::pending::<()>().await;
                        }
                        Ok::<_, ()>(name)
                    }
                })
                .collect();
            assert_eq!(root.race(contenders).await, Ok("c"), "round {round}");
            log.assert_once(&[
                "a future dropped",
                "b future dropped",
                "c future dropped",
                "d future dropped",
            ]);
            // The handles are told before the root: its count may lag.
            for i in 0.. {
                if root.live_children() == 0 {
                    break;
                }
                assert!(i < 100_000, "round {round}: a contender never signalled");
                common::yield_now().await;
            }
        }
    });
}

/// Errors do not win: an early `Err` is passed over for a later `Ok`.
#[tokio::test(start_paused = true)]
async fn an_error_does_not_win() {
    let root = ScopedSpawner::tokio();
    let log = Log::new();
    let contenders = [
        contender(&log, "failing", 5, Err("no")).boxed(),
        contender(&log, "ok", 10, Ok(1)).boxed(),
        contender(&log, "late", 50, Ok(2)).boxed(),
    ];
    assert_eq!(root.race(contenders).await, Ok(1));
    log.assert_order(&["failing finished", "ok finished"]);
    assert!(!log.contains("late finished"), "{log:?}");
    assert_eq!(log.count("late future dropped"), 1);
}

/// All contenders fail: `AllFailed` holds every error in the order the
/// contenders were given, not the order they failed in.
#[tokio::test(start_paused = true)]
async fn all_failed_keeps_the_given_order() {
    let root = ScopedSpawner::tokio();
    let log = Log::new();
    let contenders = [("a", 30), ("b", 20), ("c", 10)]
        .map(|(name, ms)| contender(&log, name, ms, Err::<(), _>(name)));
    assert_eq!(
        root.race(contenders).await,
        Err(RaceError::AllFailed(vec!["a", "b", "c"]))
    );
    log.assert_order(&["c finished", "b finished", "a finished"]);
}

/// No contenders: `AllFailed` with no errors.
#[tokio::test]
async fn an_empty_race_fails_with_no_errors() {
    let root = ScopedSpawner::tokio();
    let none: Vec<std::future::Ready<Result<(), ()>>> = Vec::new();
    assert_eq!(root.race(none).await, Err(RaceError::AllFailed(vec![])));
}

/// A contender's panic cancels the others, which are dropped before the
/// panic is resumed in the racer, payload intact.
#[tokio::test(start_paused = true)]
async fn a_panic_cancels_the_rest_and_is_resumed() {
    quiet_intentional_panics();
    let root = ScopedSpawner::tokio();
    let log = Log::new();
    let contenders = [
        contender(&log, "slow", 50, Ok::<_, ()>(1)).boxed(),
        async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            panic!("intentional contender panic");
        }
        .boxed(),
        contender(&log, "slower", 60, Ok(2)).boxed(),
    ];
    let caught = AssertUnwindSafe(root.race(contenders)).catch_unwind().await;
    log.push("caught");
    let payload = caught.expect_err("the panic is resumed");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"intentional contender panic")
    );
    log.assert_exact(&["slow future dropped", "slower future dropped", "caught"]);
    // The executor runs on.
    assert_eq!(root.spawn_task(async { 3 }).unwrap().await.unwrap(), 3);
}

/// G5: a race through a shut-down spawner is `Terminated`, and no
/// contender is polled.
#[tokio::test]
async fn a_race_on_a_terminated_spawner() {
    let root = ScopedSpawner::tokio();
    root.shutdown().await;
    let polled = Counter::new();
    let contenders: Vec<_> = (0..3)
        .map(|i| {
            let polled = polled.clone();
            async move {
                polled.incr();
                Ok::<_, ()>(i)
            }
        })
        .collect();
    assert_eq!(root.race(contenders).await, Err(RaceError::Terminated));
    assert_eq!(polled.get(), 0);
}

/// An executor that refuses the second contender: the race is
/// `Terminated`; the first, already spawned, is cancelled and awaited before
/// the race returns; every contender's future is dropped once and none is
/// polled (exact, on the manual executor).
#[test]
fn a_spawn_failure_mid_race_settles_the_spawned() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    executor.refuse_after(1);
    let log = Log::new();
    let polled = Counter::new();
    let contenders: Vec<_> = ["first", "second", "third"]
        .into_iter()
        .map(|name| {
            let (polled, guard) = (polled.clone(), log.guard(name));
            async move {
                let _guard = guard;
                polled.incr();
                Ok::<_, ()>(name)
            }
        })
        .collect();
    let result = executor.block_on(root.race(contenders));
    assert_eq!(result, Err(RaceError::Terminated));
    log.assert_once(&[
        "first future dropped",
        "second future dropped",
        "third future dropped",
    ]);
    assert_eq!(polled.get(), 0);
    assert_eq!(root.live_children(), 0);
}

/// A race whose contenders are cancelled from outside (the root shuts down
/// under it) ends with `Terminated`, after every contender terminated.
#[test]
fn a_race_cancelled_from_outside_is_terminated() {
    for (runtime, name) in [
        (common::tokio_multi_thread(), "tokio multi-thread"),
        (common::tokio_current_thread(), "tokio current-thread"),
    ] {
        let root = common::tokio_root(&runtime);
        let log = Log::new();
        let (tx, rx) = oneshot::channel();
        let contenders = [
            {
                let guard = log.guard("a");
                async move {
                    let _guard = guard;
                    let _ = tx.send(());
                    std::future::pending::<Result<(), ()>>().await
                }
                .boxed()
            },
            {
                let guard = log.guard("b");
                async move {
                    let _guard = guard;
                    std::future::pending::<Result<(), ()>>().await
                }
                .boxed()
            },
        ];
        let r = root.clone();
        let racer = runtime.spawn(async move { r.race(contenders).await });
        runtime.block_on(async {
            rx.await.expect("a runs");
            root.shutdown().await;
            assert_eq!(racer.await.unwrap(), Err(RaceError::Terminated), "{name}");
            log.assert_once(&["a future dropped", "b future dropped"]);
        });
    }
}

/// Dropping the race future cancels every contender (G3); the root's
/// shutdown then awaits their termination.
#[test]
fn dropping_the_race_cancels_the_contenders() {
    common::on_tokio_multi_thread(|root, _| async move {
        let log = Log::new();
        let (tx, rx) = oneshot::channel();
        let mut tx = Some(tx);
        let contenders: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let (guard, tx) = (log.guard(name), tx.take());
                async move {
                    let _guard = guard;
                    if let Some(tx) = tx {
                        let _ = tx.send(());
                    }
                    std::future::pending::<Result<(), ()>>().await
                }
            })
            .collect();
        let race = root.race(contenders);
        tokio::select! {
            _ = race => unreachable!("no contender finishes"),
            running = rx => running.expect("a runs"),
        }
        // The race future is dropped: the contenders are cancelled.
        for i in 0.. {
            if root.live_children() == 0 {
                break;
            }
            assert!(i < 100_000, "the contenders never terminated");
            common::yield_now().await;
            if i % 10 == 9 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        log.assert_once(&["a future dropped", "b future dropped"]);
        root.shutdown().await;
    });
}

/// A race inside a scope block: the winner comes back, and the scope ends
/// with nothing left running.
#[tokio::test(start_paused = true)]
async fn a_race_inside_a_scope() {
    let log = Log::new();
    let l = log.clone();
    let winner = tasktree::scope(|s| async move {
        let contenders =
            [("x", 20), ("y", 10)].map(|(name, ms)| contender(&l, name, ms, Ok::<_, ()>(name)));
        s.race(contenders).await
    })
    .await;
    assert_eq!(winner, Ok("y"));
    log.assert_once(&["y finished", "x future dropped", "y future dropped"]);
    assert!(!log.contains("x finished"));
}

/// The scenario of [`contender_panic_in_fail_fast_scope_is_resumed`], in a
/// fail-fast scope opened through `root`: one contender panics once the
/// others run; the race resumes that panic (caught here) after the others
/// were dropped, and the scope's body goes on (a fail-fast scope would
/// have cancelled it, had it taken the panic): its output is the panic's
/// message and the value of a child spawned after the race.
async fn race_panic_in_fail_fast_scope<S>(root: ScopedSpawner<S>, executor: &str)
where
    S: futures::task::Spawn + Clone + Send + Sync + 'static,
{
    let log = Log::new();
    let l = log.clone();
    let scoped = AssertUnwindSafe(root.scope(|s| async move {
        let (tx, rx) = oneshot::channel();
        let contenders = [
            common::pend(&l, "a", Some(tx))
                .map(|()| Ok::<u32, ()>(1))
                .boxed(),
            async move {
                rx.await.expect("a runs");
                panic!("intentional contender panic");
            }
            .boxed(),
            common::pend(&l, "c", None).map(|()| Ok(3)).boxed(),
        ];
        let caught = AssertUnwindSafe(s.race(contenders)).catch_unwind().await;
        l.push("race returned");
        let payload = caught.expect_err("the race resumes the contender's panic");
        // The body was not cancelled: it goes on spawning in its scope.
        let after = s.spawn_task(async { 7 }).expect("the scope still runs");
        (
            common::message(payload.as_ref()).to_owned(),
            after.await.expect("not cancelled"),
        )
    }))
    .catch_unwind()
    .await;
    let outcome = match scoped {
        Ok(outcome) => outcome.expect("the root runs"),
        Err(payload) => panic!(
            "{executor}: the fail-fast scope took the contender's panic: {:?}",
            common::message(payload.as_ref())
        ),
    };
    assert_eq!(
        outcome,
        ("intentional contender panic".to_owned(), 7),
        "{executor}"
    );
    log.assert_order(&["a future dropped", "race returned"]);
    log.assert_order(&["c future dropped", "race returned"]);
    assert_eq!(root.live_children(), 0, "{executor}");
}

/// A race inside a fail-fast scope (`ScopedSpawner::scope`): a contender's
/// panic is resumed by the race, as documented, after the other contenders
/// were dropped; it is neither `RaceError::Terminated` nor taken by the
/// caller's scope, whose body is not cancelled. On tokio's multi-thread
/// runtime and on the deterministic manual executor.
#[test]
fn contender_panic_in_fail_fast_scope_is_resumed() {
    quiet_intentional_panics();
    common::on_tokio_multi_thread(race_panic_in_fail_fast_scope);
    common::on_manual(race_panic_in_fail_fast_scope);
}

/// The same in a `try_scope` (fail-fast too), on tokio: the race's panic
/// is caught by the body, which then returns `Ok`.
#[tokio::test]
async fn contender_panic_in_try_scope_is_resumed() {
    quiet_intentional_panics();
    let root = ScopedSpawner::tokio();
    let scoped = AssertUnwindSafe(root.try_scope(|s| async move {
        let contenders = [
            async { panic!("intentional contender panic") }.boxed(),
            std::future::pending::<Result<(), ()>>().boxed(),
        ];
        let caught = AssertUnwindSafe(s.race(contenders)).catch_unwind().await;
        let payload = caught.expect_err("the race resumes the contender's panic");
        Ok::<_, tasktree::SpawnError>(common::message(payload.as_ref()).to_owned())
    }))
    .catch_unwind()
    .await;
    let message = scoped
        .expect("the try_scope did not take the contender's panic")
        .expect("the root runs");
    assert_eq!(message, "intentional contender panic");
    assert_eq!(root.live_children(), 0);
}

/// Dropping a race inside a scope cancels its contenders, and the scope
/// (which opened the race's own scope) still awaits their termination
/// before it ends.
#[tokio::test]
async fn a_dropped_race_inside_a_scope_is_awaited_by_the_scope() {
    let root = ScopedSpawner::tokio();
    let log = Log::new();
    let l = log.clone();
    root.scope(|s| async move {
        let (tx, rx) = oneshot::channel();
        let contenders = [
            common::pend(&l, "a", Some(tx)).map(Ok::<(), ()>).boxed(),
            common::pend(&l, "b", None).map(Ok).boxed(),
        ];
        tokio::select! {
            _ = s.race(contenders) => unreachable!("no contender finishes"),
            running = rx => running.expect("a runs"),
        }
        l.push("race dropped");
    })
    .await
    .expect("the root runs");
    log.push("scope ended");
    log.assert_order(&["race dropped", "a future dropped", "scope ended"]);
    log.assert_order(&["race dropped", "b future dropped", "scope ended"]);
    assert_eq!(root.live_children(), 0);
}

/// A race on a spawner switched to fail-fast (here a root, which fail-fast
/// would shut down at the first failure): the contender's panic is resumed
/// by the race and the root runs on.
#[tokio::test]
async fn contender_panic_on_a_fail_fast_root_is_resumed() {
    quiet_intentional_panics();
    let root = ScopedSpawner::tokio();
    root.set_failure_policy(tasktree::FailurePolicy::FailFast);
    let contenders = [
        async { panic!("intentional contender panic") }.boxed(),
        std::future::pending::<Result<(), ()>>().boxed(),
    ];
    let caught = AssertUnwindSafe(root.race(contenders)).catch_unwind().await;
    let payload = caught.expect_err("the race resumes the contender's panic");
    assert_eq!(
        common::message(payload.as_ref()),
        "intentional contender panic"
    );
    assert_eq!(root.spawn_task(async { 3 }).unwrap().await.unwrap(), 3);
}
