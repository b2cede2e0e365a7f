//! Cancellation causes (src/cause.rs): a task's children read the cause its
//! scope was closed for, and that cause agrees with how the task ended,
//! whatever the race between the task's own completion and its cancel. The
//! scope's cause is set in the same critical section that cancels the
//! children (`close_locked`), before any of them can read it.
//!
//! A -> B -> C: A completes at its first poll on its thread, while the
//! main thread cancels A through its cancel sender; B and C pend, and their
//! futures' destructors read their spawners' `cancel_cause`. If A's future
//! ran, A's phase 3 closed its scope as its parent having ended, and B
//! reads `ParentEnded` (not inherited; also when the cancel reached A's
//! slot after that), C the same, inherited; if the cancel came first, both
//! inherit A's: `Handle`.
#![cfg(loom)]

use loom_tests::{check, Log, LoomSpawner, Sides};
use tasktree::{CancelReason, ScopedSpawn, ScopedSpawner};

/// Reads a task's cause when its future is dropped, into the log.
struct ReadCause {
    task: &'static str,
    spawner: ScopedSpawner<LoomSpawner>,
    log: Log,
}

impl Drop for ReadCause {
    fn drop(&mut self) {
        let cause = (self.spawner.cancel_cause()).map(|c| (c.reason(), c.is_inherited()));
        let event = match (self.task, cause) {
            ("B", Some((CancelReason::ParentEnded, false))) => "B: parent ended",
            ("B", Some((CancelReason::Handle, true))) => "B: inherited handle",
            ("C", Some((CancelReason::ParentEnded, true))) => "C: inherited parent ended",
            ("C", Some((CancelReason::Handle, true))) => "C: inherited handle",
            _ => "another cause",
        };
        self.log.push(event);
    }
}

/// A task's future that reads its cause when dropped (the reader is made
/// before the first poll, which a cancel may forestall) and pends.
fn reads_cause(
    task: &'static str,
    spawner: ScopedSpawner<LoomSpawner>,
    log: Log,
) -> impl std::future::Future<Output = ()> {
    let read = ReadCause { task, spawner, log };
    async move {
        let _read = read;
        std::future::pending::<()>().await
    }
}

#[test]
fn a_childs_cause_agrees_with_how_its_parent_ended() {
    let sides = Sides::new(&["A completed", "A cancelled first"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());
        let log_a = log.clone();
        let a = root
            .spawn_with_signal(
                move |a_spawner| {
                    let log_b = log_a.clone();
                    a_spawner
                        .spawn(
                            move |b_spawner| {
                                let log_c = log_b.clone();
                                b_spawner
                                    .spawn(move |c| reads_cause("C", c, log_c), || ())
                                    .expect("B's scope is open in its `fun`");
                                reads_cause("B", b_spawner, log_b)
                            },
                            || (),
                        )
                        .expect("A's scope is open in its `fun`");
                    async move { log_a.push("A ran") }
                },
                || (),
            )
            .expect("the root is open");
        drop(a.cancel_sender);
        executor.join_all();
        assert!(a.done_receiver.is_done(), "A's done signal was sent");
        if log.contains("A ran") {
            log.assert_once("B: parent ended");
            log.assert_once("C: inherited parent ended");
            sides.record("A completed");
        } else {
            log.assert_once("B: inherited handle");
            log.assert_once("C: inherited handle");
            sides.record("A cancelled first");
        }
    });
    sides.assert_all_seen();
}
