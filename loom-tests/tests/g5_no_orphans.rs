//! G5 No orphans: a spawn that races the termination of the spawner's task
//! either fails with `SpawnError::Terminated` or produces a child that the
//! terminating task cancels and waits for; no child runs after its parent's
//! done signal. Checks I1 (src/tree.rs): `closed` and the slot set change
//! under one lock, and nothing is added after the close.
#![cfg(loom)]

use loom::sync::atomic::Ordering::Relaxed;
use loom_tests::{check, Flag, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError};

/// G5, I1: the main thread spawns a grandchild G through child A's spawner
/// while A terminates on its own thread (its future completes at once). G's
/// future never completes, so only A's termination can end it. Either the
/// spawn fails with `Terminated` (and G's `done` never runs), or G is
/// cancelled and awaited: its future is dropped and its `done` has run before
/// A's `done`, and both happen-before A's done receiver resolves. Afterwards
/// A's spawner refuses to spawn.
#[test]
fn spawn_through_child_spawner_races_child_termination() {
    let sides = Sides::new(&["grandchild registered", "spawn refused: Terminated"]);
    check(move || spawn_races_termination(sides));
    sides.assert_all_seen();
}

fn spawn_races_termination(sides: &Sides) {
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

    // Set `Relaxed` by G, read `Relaxed` once A's done receiver resolves.
    let (g_dropped, g_done) = (Flag::new(), Flag::new());
    let g_guard = log.guard("G future dropped").witnessed_by(&g_dropped);
    let (log_g, g_done_witness) = (log.clone(), g_done.clone());
    let spawned = a_spawner.spawn_future(
        async move {
            let _g_guard = g_guard;
            std::future::pending::<()>().await;
        },
        move || {
            log_g.push("G done");
            g_done_witness.set(Relaxed);
        },
    );

    loom::future::block_on(a.done_receiver);
    let witnessed = (g_dropped.get(Relaxed), g_done.get(Relaxed));
    let events = log.events();
    log.assert_once("A done");
    log.assert_once("G future dropped");
    match spawned {
        Ok(()) => {
            sides.record("grandchild registered");
            assert_eq!(
                witnessed,
                (true, true),
                "G's end must happen-before A's done receiver resolves: {events:?}"
            );
            log.assert_once("G done");
            log.assert_before("G future dropped", "G done");
            log.assert_before("G done", "A done");
        }
        Err(err) => {
            sides.record("spawn refused: Terminated");
            assert_eq!(err, SpawnError::Terminated);
            assert!(
                !log.contains("G done"),
                "a refused child's `done` never runs"
            );
        }
    }

    let late = a_spawner.spawn_future(async {}, || ());
    assert_eq!(late, Err(SpawnError::Terminated), "A has terminated");
    drop(a_spawner);
    drop(a.cancel_sender);
    executor.join_all();
    assert_eq!(
        log.events(),
        events,
        "nothing may run after A's done signal"
    );
    assert_eq!(root.live_children(), 0);
}
