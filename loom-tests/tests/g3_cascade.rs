//! G3 Cascade: after a cancel signal, the task and all its descendants
//! terminate, and no wake-up is lost, here when the cancel races a
//! completion three levels down. Checks I6 (src/tree.rs: the slot's `State`
//! is read, and the task's waker stored, under one lock) at each level, and I4
//! (whoever brings `live` to zero takes the waiting parent's waker) on the
//! way back up. A lost wake-up leaves a thread parked at the end of an
//! execution, which loom reports as a deadlock.
//!
//! Two shapes: a chain of three tasks A -> B -> C cancelled through A's
//! cancel sender (five threads; the main thread then joins the task
//! threads, which keeps the model at tens of thousands of executions rather
//! than half a million with a `block_on` of A's done receiver as well), and
//! the root's shutdown over A -> B (the root's scope is the third level;
//! the main thread waits on the `Shutdown` future, so its resolution is
//! checked for happens-before, G1).
#![cfg(loom)]

use loom::sync::atomic::Ordering::Relaxed;
use loom_tests::{check, Flag, Log, LoomSpawner, Sides};
use tasktree::{ForgettableSignalSender, ParentSignals, ScopedSpawn, ScopedSpawner};

/// What a task does once polled.
#[derive(Clone, Copy)]
enum Body {
    /// Completes at its first poll.
    Completes,
    /// Pends for ever: only a cancel ends it.
    Pends,
}

/// The log events of one task.
#[derive(Clone, Copy)]
struct Names {
    ran: &'static str,
    dropped: &'static str,
    done: &'static str,
}

const A: Names = Names {
    ran: "A ran",
    dropped: "A future dropped",
    done: "A done",
};
const B: Names = Names {
    ran: "B ran",
    dropped: "B future dropped",
    done: "B done",
};
const C: Names = Names {
    ran: "C ran",
    dropped: "C future dropped",
    done: "C done",
};

/// A task's future: logs `ran` when polled, holds a guard that logs
/// `dropped`, and does what `body` says.
fn task(log: &Log, names: Names, body: Body) -> impl std::future::Future<Output = ()> {
    let guard = log.guard(names.dropped);
    let log = log.clone();
    async move {
        let _guard = guard;
        log.push(names.ran);
        if let Body::Pends = body {
            std::future::pending::<()>().await;
        }
    }
}

/// A task's `done`: logs `done`, and sets `witness` (`Relaxed`) if given.
fn done(log: &Log, names: Names, witness: Option<Flag>) -> impl FnOnce() + Send + 'static {
    let log = log.clone();
    move || {
        log.push(names.done);
        if let Some(witness) = witness {
            witness.set(Relaxed);
        }
    }
}

/// Spawns A from `root` and B from A's spawner, and, if `c` is given, C
/// from B's spawner, all in the `fun`s (so every task is registered, and
/// its thread started, before this returns). The bottom task's `done` sets
/// `bottom_done`. Returns A's cancel sender and done receiver.
fn spawn_chain(
    root: &ScopedSpawner<LoomSpawner>,
    log: &Log,
    bottom_done: &Flag,
    a: Body,
    b: Body,
    c: Option<Body>,
) -> ParentSignals {
    let (log_a, bottom_done) = (log.clone(), bottom_done.clone());
    root.spawn_with_signal(
        move |a_spawner| {
            let a_future = task(&log_a, A, a);
            let log_b = log_a.clone();
            let b_witness = c.is_none().then(|| bottom_done.clone());
            a_spawner
                .spawn(
                    move |b_spawner| {
                        if let Some(c) = c {
                            b_spawner
                                .spawn_future(
                                    task(&log_b, C, c),
                                    done(&log_b, C, Some(bottom_done)),
                                )
                                .expect("B's scope is open in its `fun`");
                        }
                        task(&log_b, B, b)
                    },
                    done(&log_a, B, b_witness),
                )
                .expect("A's scope is open in its `fun`");
            a_future
        },
        done(log, A, None),
    )
    .expect("the root is open")
}

/// Checks the end of a chain of `tasks` (top first): every future dropped
/// once, every `done` run once after its future's drop, bottom-up (G2, G4).
#[track_caller]
fn assert_terminated(log: &Log, tasks: &[Names]) {
    for task in tasks {
        log.assert_once(task.dropped);
        log.assert_once(task.done);
        log.assert_before(task.dropped, task.done);
    }
    for pair in tasks.windows(2) {
        log.assert_before(pair[1].done, pair[0].done);
    }
}

/// Cancels A through `cancel_sender` and joins every task thread (a thread
/// parked for ever is a loom deadlock: a lost wake-up), then checks the
/// chain's end and A's done signal.
fn cancel_and_join(
    root: &ScopedSpawner<LoomSpawner>,
    executor: &LoomSpawner,
    log: &Log,
    a: ParentSignals,
) {
    drop(a.cancel_sender);
    executor.join_all();
    assert!(a.done_receiver.is_done(), "A's done signal was sent");
    assert_terminated(log, &[A, B, C]);
    assert_eq!(root.live_children(), 0);
}

/// G3, I6, I4: the main thread cancels A while C, at the bottom of A -> B
/// -> C, completes on its own thread; B and A pend until cancelled. C
/// either completes (its done signal reaching B before or after B's phase 4
/// starts waiting) or is cancelled before its first poll by the cascade
/// (A's close cancels B, B's close cancels C). Either way the whole chain
/// terminates, bottom-up.
#[test]
fn cancel_of_top_races_leaf_completion() {
    let sides = Sides::new(&["C completed", "C cancelled before its poll"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());
        let a = spawn_chain(
            &root,
            &log,
            &Flag::new(),
            Body::Pends,
            Body::Pends,
            Some(Body::Completes),
        );
        cancel_and_join(&root, &executor, &log, a);
        sides.record(if log.contains("C ran") {
            "C completed"
        } else {
            "C cancelled before its poll"
        });
    });
    sides.assert_all_seen();
}

/// G3, I6, I4: the main thread cancels A while B, in the middle of A -> B
/// -> C, completes on its own thread; A and C pend. B's own completion
/// (phase 3) and the cascade from A both cancel C; B either completes or is
/// cancelled before its first poll. Either way C is cancelled, and the
/// chain terminates bottom-up.
#[test]
fn cancel_of_top_races_middle_completion() {
    let sides = Sides::new(&["B completed", "B cancelled before its poll"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());
        let a = spawn_chain(
            &root,
            &log,
            &Flag::new(),
            Body::Pends,
            Body::Completes,
            Some(Body::Pends),
        );
        cancel_and_join(&root, &executor, &log, a);
        sides.record(if log.contains("B ran") {
            "B completed"
        } else {
            "B cancelled before its poll"
        });
    });
    sides.assert_all_seen();
}

/// Shuts the root down over A -> B, waits for the `Shutdown` future, and
/// checks that B's `done` (the far end of the cascade) happens-before its
/// resolution (a `Relaxed` witness, G1), and the chain's end.
fn shut_down_and_check(
    root: &ScopedSpawner<LoomSpawner>,
    executor: &LoomSpawner,
    log: &Log,
    b_done: &Flag,
) {
    loom::future::block_on(root.shutdown());
    let witnessed = b_done.get(Relaxed);
    let events = log.events();
    assert!(
        witnessed,
        "B's `done` must happen-before the shutdown resolves: {events:?}"
    );
    assert_terminated(log, &[A, B]);
    executor.join_all();
    assert_eq!(log.events(), events, "nothing may run after the shutdown");
    assert_eq!(root.live_children(), 0);
}

/// G3, G8, I6, I4: the root's shutdown cancels A while B, A's child,
/// completes on its own thread; A pends. B completes or is cancelled
/// before its first poll; the shutdown resolves after both have
/// terminated, bottom-up.
#[test]
fn shutdown_races_grandchild_completion() {
    let sides = Sides::new(&["B completed", "B cancelled before its poll"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let b_done = Flag::new();
        let root = ScopedSpawner::new(executor.clone());
        let a = spawn_chain(&root, &log, &b_done, Body::Pends, Body::Completes, None);
        a.cancel_sender.forget();
        shut_down_and_check(&root, &executor, &log, &b_done);
        assert!(a.done_receiver.is_done());
        sides.record(if log.contains("B ran") {
            "B completed"
        } else {
            "B cancelled before its poll"
        });
    });
    sides.assert_all_seen();
}

/// G3, G8, I6, I4: the root's shutdown cancels A while A completes on its
/// own thread (its phase 3 cancels B, which pends). A completes or is
/// cancelled before its first poll; either way B is cancelled, and the
/// shutdown resolves after both have terminated, bottom-up.
#[test]
fn shutdown_races_child_completion() {
    let sides = Sides::new(&["A completed", "A cancelled before its poll"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let b_done = Flag::new();
        let root = ScopedSpawner::new(executor.clone());
        let a = spawn_chain(&root, &log, &b_done, Body::Completes, Body::Pends, None);
        a.cancel_sender.forget();
        shut_down_and_check(&root, &executor, &log, &b_done);
        assert!(a.done_receiver.is_done());
        sides.record(if log.contains("A ran") {
            "A completed"
        } else {
            "A cancelled before its poll"
        });
    });
    sides.assert_all_seen();
}
