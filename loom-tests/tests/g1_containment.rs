//! G1 Containment: when a done receiver resolves, the task's future and its
//! descendants' futures have been dropped and their `done` callbacks have
//! returned, each happening-before the resolution. Checks I4 (src/tree.rs).
#![cfg(loom)]

use loom::sync::atomic::Ordering::Relaxed;
use loom_tests::{check, Flag, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner};

/// G1, I4: a grandchild B that completes on its own races the termination of
/// its parent A (whose future completes at once and whose close cancels B).
/// Either way A's done receiver resolves only after B's and A's futures were
/// dropped and both `done` callbacks returned; `Relaxed` witnesses check that
/// each of these happens-before the resolution.
#[test]
fn done_receiver_waits_for_grandchild_completing_or_cancelled() {
    let sides = Sides::new(&[
        "grandchild completed",
        "grandchild cancelled before running",
    ]);
    check(move || grandchild_completing_or_cancelled(sides));
    sides.assert_all_seen();
}

fn grandchild_completing_or_cancelled(sides: &Sides) {
    let executor = LoomSpawner::new();
    let log = Log::new();
    // Set `Relaxed` by B and A, read `Relaxed` once A's done receiver resolves.
    let witnesses = [Flag::new(), Flag::new(), Flag::new(), Flag::new()];
    let [b_dropped, b_done, a_dropped, a_done] = witnesses.clone();

    let root = ScopedSpawner::new(executor.clone());
    let a_guard = log.guard("A future dropped").witnessed_by(&a_dropped);
    let b_guard = log.guard("B future dropped").witnessed_by(&b_dropped);
    let (log_b, log_b_done, log_a_done) = (log.clone(), log.clone(), log.clone());
    let a = root
        .spawn_with_signal(
            move |spawner| async move {
                let _a_guard = a_guard;
                let b = async move {
                    let _b_guard = b_guard;
                    log_b.push("B ran");
                };
                let b_done_callback = move || {
                    log_b_done.push("B done");
                    b_done.set(Relaxed);
                };
                spawner
                    .spawn_future(b, b_done_callback)
                    .expect("A's scope is open while A's future runs");
            },
            move || {
                log_a_done.push("A done");
                a_done.set(Relaxed);
            },
        )
        .expect("the root is open");

    loom::future::block_on(a.done_receiver);
    // The witnesses first, before anything else that might synchronise.
    let seen: Vec<bool> = witnesses.iter().map(|w| w.get(Relaxed)).collect();
    let events = log.events();
    assert_eq!(
        seen, [true; 4],
        "B's and A's ends must happen-before the done receiver resolves: {events:?}"
    );
    for event in ["B future dropped", "B done", "A future dropped", "A done"] {
        log.assert_once(event);
    }
    log.assert_before("B future dropped", "B done");
    log.assert_before("A future dropped", "A done");
    sides.record(if log.contains("B ran") {
        "grandchild completed"
    } else {
        "grandchild cancelled before running"
    });

    drop(a.cancel_sender);
    executor.join_all();
    assert_eq!(
        log.events(),
        events,
        "nothing may happen after A's done signal"
    );
    assert_eq!(root.live_children(), 0);
}
