//! G2 Upward order: a task's `done` callback runs after the `done` callbacks
//! of all its children. Checks I4 (src/tree.rs): whoever brings `live` to
//! zero takes the parent's waker.
#![cfg(loom)]

use loom_tests::{check, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner};

/// G2, I4: two children B and C of a task A send their done signals
/// concurrently while A finishes its own future and waits for them; whichever
/// child signals last must wake A, and A's `done` runs after both children's
/// (and A's done receiver resolves after that).
#[test]
fn parent_done_after_both_children_whichever_signals_last() {
    let sides = Sides::new(&["B signalled last", "C signalled last"]);
    check(move || children_signal_concurrently(sides));
    sides.assert_all_seen();
}

fn children_signal_concurrently(sides: &Sides) {
    let executor = LoomSpawner::new();
    let log = Log::new();
    let root = ScopedSpawner::new(executor.clone());

    let (log_b, log_c, log_a) = (log.clone(), log.clone(), log.clone());
    let a = root
        .spawn_with_signal(
            move |spawner| async move {
                spawner
                    .spawn_future(async {}, move || log_b.push("B done"))
                    .expect("A's scope is open while A's future runs");
                spawner
                    .spawn_future(async {}, move || log_c.push("C done"))
                    .expect("A's scope is open while A's future runs");
            },
            move || log_a.push("A done"),
        )
        .expect("the root is open");

    loom::future::block_on(a.done_receiver);
    for event in ["B done", "C done", "A done"] {
        log.assert_once(event);
    }
    log.assert_before("B done", "A done");
    log.assert_before("C done", "A done");
    let events = log.events();
    let last_child = events.iter().rev().find(|e| **e != "A done");
    sides.record(if last_child == Some(&"B done") {
        "B signalled last"
    } else {
        "C signalled last"
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
