//! G4 Exactly once: a task's future is dropped once, its `done` runs once and
//! its done signal is sent once, whatever the race between its completion,
//! its cancellation and its parent's termination. Checks I6 (src/tree.rs):
//! the slot's `State` is read, and the task's waker stored, under one lock,
//! so no cancel is lost (G3); and I5 for a slot cancelled from two sides.
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::sync::atomic::Ordering::SeqCst;
use loom_tests::{check, DropGuard, Flag, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner};

/// G4, G3, I6: the main thread hands child A its work and then drops A's
/// cancel sender, while A runs: A completes, or is cancelled before its first
/// poll, or is cancelled after a poll (while parked, or between its poll and
/// parking). In every case A's future is dropped once, its `done` runs once
/// and its done signal is sent once (the root's live count returns to zero).
/// Only the cancel can wake A once it has parked, so a lost wake-up is a
/// deadlock.
#[test]
fn cancel_sender_dropped_while_child_completes() {
    let sides = Sides::new(&[
        "completed",
        "cancelled before its first poll",
        "cancelled after a poll",
    ]);
    check(move || cancel_races_completion(sides));
    sides.assert_all_seen();
}

/// A's future: completes if its work has arrived when it is polled; otherwise
/// waits for work whose arrival wakes nobody, so only a cancel can end it.
struct CompletesIfWorkArrived {
    work: Flag,
    log: Log,
    _dropped: DropGuard,
}

impl Future for CompletesIfWorkArrived {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.log.push("A polled");
        if self.work.get(SeqCst) {
            self.log.push("A completed");
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn cancel_races_completion(sides: &Sides) {
    let executor = LoomSpawner::new();
    let log = Log::new();
    let work = Flag::new();
    let root = ScopedSpawner::new(executor.clone());

    let a_future = CompletesIfWorkArrived {
        work: work.clone(),
        log: log.clone(),
        _dropped: log.guard("A future dropped"),
    };
    let log_done = log.clone();
    let a = root
        .spawn_future_with_signal(a_future, move || log_done.push("A done"))
        .expect("the root is open");

    work.set(SeqCst);
    drop(a.cancel_sender);
    loom::future::block_on(a.done_receiver);
    executor.join_all();

    log.assert_once("A future dropped");
    log.assert_once("A done");
    log.assert_before("A future dropped", "A done");
    assert!(log.count("A completed") <= 1);
    assert_eq!(root.live_children(), 0, "one done signal, sent once");
    sides.record(if log.contains("A completed") {
        "completed"
    } else if log.contains("A polled") {
        "cancelled after a poll"
    } else {
        "cancelled before its first poll"
    });
}

/// G4, I5, I6: a grandchild B is cancelled from two sides at once: by its
/// cancel sender, dropped on the main thread, and by its parent A's
/// termination (phase 3), on A's thread. B's future is dropped once, its
/// `done` runs once, it signals A once, and A's `done` follows. (A may also
/// terminate before B is registered: then the spawn is refused, as in g5.)
#[test]
fn cancel_sender_dropped_while_parent_terminates() {
    let sides = Sides::new(&[
        "sender saw B already cancelled by A",
        "sender saw B not yet cancelled",
    ]);
    check(move || cancel_races_parent_termination(sides));
    sides.assert_all_seen();
}

fn cancel_races_parent_termination(sides: &Sides) {
    let executor = LoomSpawner::new();
    let log = Log::new();
    let root = ScopedSpawner::new(executor.clone());

    let mut a_spawner = None;
    let log_a = log.clone();
    let a = root
        .spawn_with_signal(
            |spawner| {
                a_spawner = Some(spawner);
                async {}
            },
            move || log_a.push("A done"),
        )
        .expect("the root is open");
    let a_spawner = a_spawner.expect("`fun` is called during the spawn");

    let b_guard = log.guard("B future dropped");
    let log_b = log.clone();
    let b = a_spawner.spawn_future_with_signal(
        async move {
            let _b_guard = b_guard;
            std::future::pending::<()>().await;
        },
        move || log_b.push("B done"),
    );
    drop(a_spawner);
    if let Ok(b) = b {
        sides.record(if b.cancel_sender.is_cancelled() {
            "sender saw B already cancelled by A"
        } else {
            "sender saw B not yet cancelled"
        });
        drop(b.cancel_sender);
        loom::future::block_on(b.done_receiver);
        log.assert_once("B future dropped");
        log.assert_once("B done");
    }
    loom::future::block_on(a.done_receiver);
    drop(a.cancel_sender);
    executor.join_all();

    log.assert_once("B future dropped");
    log.assert_once("A done");
    if log.contains("B done") {
        log.assert_once("B done");
        log.assert_before("B future dropped", "B done");
        log.assert_before("B done", "A done");
    }
    assert_eq!(root.live_children(), 0);
}
