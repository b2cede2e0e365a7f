//! G8 Root: dropping the last clone of a root `ScopedSpawner` cancels all of
//! its children, here while a child spawns a grandchild. Checks I1 (src/tree.rs:
//! a spawn registers under the lock that the close takes, so a grandchild
//! is either refused or cancelled and awaited), I6 (the cancel wakes a
//! parked task) and that the root's `handles` count closes the root exactly
//! when the last clone goes.
#![cfg(loom)]

use loom::sync::atomic::Ordering::Relaxed;
use loom_tests::{check, Flag, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError};

/// G8, G5, I1, I6: child A's future spawns a grandchild G through A's own
/// spawner and then pends, while the main thread drops the last clone of
/// the root (which cancels A). A either sees the cancel before its first
/// poll (no grandchild), or spawns G, which its termination then cancels
/// and awaits: G's future is dropped and its `done` has run before A's
/// `done`, and both happen-before A's done receiver resolves. A's spawner
/// refuses to spawn afterwards.
#[test]
fn dropping_root_while_child_spawns_grandchild() {
    let sides = Sides::new(&["grandchild spawned", "child cancelled before spawning"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());

        // Set `Relaxed` by G, read `Relaxed` once A's done receiver resolves.
        let (g_dropped, g_done) = (Flag::new(), Flag::new());
        let mut kept_spawner = None;
        let (log_a, log_a_done) = (log.clone(), log.clone());
        let a = root
            .spawn_with_signal(
                |spawner| {
                    kept_spawner = Some(spawner.clone());
                    let a_guard = log.guard("A future dropped");
                    let (g_dropped, g_done) = (g_dropped.clone(), g_done.clone());
                    async move {
                        let _a_guard = a_guard;
                        let g_guard = log_a.guard("G future dropped").witnessed_by(&g_dropped);
                        let log_g = log_a.clone();
                        let spawned = spawner.spawn_future(
                            async move {
                                let _g_guard = g_guard;
                                std::future::pending::<()>().await;
                            },
                            move || {
                                log_g.push("G done");
                                g_done.set(Relaxed);
                            },
                        );
                        // Checked on the main thread: a failed assertion
                        // here would be caught by the library.
                        log_a.push(if spawned.is_ok() {
                            "G spawned"
                        } else {
                            "G refused"
                        });
                        std::future::pending::<()>().await;
                    }
                },
                move || log_a_done.push("A done"),
            )
            .expect("the root is open");
        let a_spawner = kept_spawner.expect("`fun` is called during the spawn");

        // The last clone of the root: A is cancelled now (G8).
        drop(root);
        assert!(
            a.cancel_sender.is_cancelled(),
            "dropping the root cancels A"
        );
        loom::future::block_on(a.done_receiver);
        let witnessed = (g_dropped.get(Relaxed), g_done.get(Relaxed));
        let events = log.events();
        log.assert_once("A future dropped");
        log.assert_once("A done");
        log.assert_before("A future dropped", "A done");
        assert!(
            !log.contains("G refused"),
            "A's scope is open while A's future runs (I1): {events:?}"
        );
        if log.contains("G spawned") {
            sides.record("grandchild spawned");
            assert_eq!(
                witnessed,
                (true, true),
                "G's end must happen-before A's done receiver resolves: {events:?}"
            );
            log.assert_once("G future dropped");
            log.assert_once("G done");
            log.assert_before("G future dropped", "G done");
            log.assert_before("G done", "A done");
        } else {
            sides.record("child cancelled before spawning");
            assert!(
                !log.contains("G done"),
                "no grandchild, no `done`: {events:?}"
            );
        }

        assert_eq!(
            a_spawner.spawn_future(async {}, || ()),
            Err(SpawnError::Terminated),
            "A has terminated"
        );
        drop(a_spawner);
        drop(a.cancel_sender);
        executor.join_all();
        assert_eq!(
            log.events(),
            events,
            "nothing may run after A's done signal"
        );
    });
    sides.assert_all_seen();
}
