//! G7 Concurrent spawners: clones of one spawner used at the same time from
//! several threads register every child exactly once, and G1-G6 hold for
//! each. Checks I1 (src/tree.rs): `closed`, the slot set and `live` change
//! under one lock, so a spawn is either counted and cancelled by the close, or
//! refused.
#![cfg(loom)]

use loom_tests::{check, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError};

const SIDES: &[&str] = &["both registered", "one registered", "both refused"];

fn side(results: &[Result<(), SpawnError>; 2]) -> &'static str {
    match results.iter().filter(|r| r.is_ok()).count() {
        2 => "both registered",
        1 => "one registered",
        _ => "both refused",
    }
}

/// G7, G8, I1: two threads spawn one child each through their own clones of
/// the root while the main thread shuts the root down. Each spawn either
/// fails with `Terminated` or registers its child exactly once; the shutdown
/// then cancels it, and resolves only after the child's future was dropped and
/// its `done` ran. Five threads: main, two spawning threads, two children.
#[test]
fn two_clones_spawn_while_root_shuts_down() {
    let sides = Sides::new(SIDES);
    check(move || spawns_race_shutdown(sides));
    sides.assert_all_seen();
}

fn spawns_race_shutdown(sides: &Sides) {
    let executor = LoomSpawner::new();
    let log = Log::new();
    let root = ScopedSpawner::new(executor.clone());

    let spawn_one = |dropped: &'static str, done: &'static str| {
        let clone = root.clone();
        let guard = log.guard(dropped);
        let log = log.clone();
        loom::thread::spawn(move || {
            let future = async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            };
            clone.spawn_future(future, move || log.push(done))
        })
    };
    let t1 = spawn_one("C1 future dropped", "C1 done");
    let t2 = spawn_one("C2 future dropped", "C2 done");

    loom::future::block_on(root.shutdown());
    let at_shutdown = log.events();
    let results = [
        t1.join().expect("spawning thread"),
        t2.join().expect("spawning thread"),
    ];
    executor.join_all();

    for (result, dropped, done) in [
        (results[0], "C1 future dropped", "C1 done"),
        (results[1], "C2 future dropped", "C2 done"),
    ] {
        // Dropped once either way: by its task, or by the refused spawn.
        log.assert_once(dropped);
        match result {
            Ok(()) => {
                // Registered once, and awaited by the shutdown.
                log.assert_once(done);
                log.assert_before(dropped, done);
                assert!(
                    at_shutdown.contains(&done),
                    "{done:?} must precede the shutdown's end: {at_shutdown:?}"
                );
            }
            Err(err) => {
                assert_eq!(err, SpawnError::Terminated);
                assert!(!log.contains(done), "a refused child's `done` never runs");
            }
        }
    }
    assert_eq!(root.live_children(), 0);
    assert_eq!(
        root.spawn_future(async {}, || ()),
        Err(SpawnError::Terminated)
    );
    sides.record(side(&results));
}

/// G7, G5, I1: the main thread and another thread spawn one child each
/// through clones of task A's spawner while A terminates on its own thread
/// (its future completes at once). Each spawn either fails with `Terminated`
/// or registers its child exactly once; A cancels and awaits every registered
/// child, whose `done` runs before A's, before A's done receiver resolves.
/// Five threads: main, the other spawning thread, A, two children.
///
/// The children's futures complete at once (unless cancelled before their
/// first poll): with never-ending children this model took 1.5 million
/// executions (five minutes) instead of about 65,000. Cancelling registered children that wait is
/// covered by `two_clones_spawn_while_root_shuts_down` and by g5.
#[test]
fn two_clones_spawn_while_their_task_terminates() {
    let sides = Sides::new(SIDES);
    check(move || spawns_race_task_termination(sides));
    sides.assert_all_seen();
}

fn spawns_race_task_termination(sides: &Sides) {
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

    // One child's spawn through its own clone of A's spawner, as a closure
    // to run on either thread.
    let spawn_child = |dropped: &'static str, done: &'static str| {
        let clone = a_spawner.clone();
        let guard = log.guard(dropped);
        let log = log.clone();
        move || {
            let future = async move {
                let _guard = guard;
            };
            clone.spawn_future(future, move || log.push(done))
        }
    };
    let t1 = loom::thread::spawn(spawn_child("C1 future dropped", "C1 done"));
    let r2 = spawn_child("C2 future dropped", "C2 done")();
    drop(a_spawner);

    loom::future::block_on(a.done_receiver);
    let at_a_done = log.events();
    let results = [t1.join().expect("spawning thread"), r2];
    drop(a.cancel_sender);
    executor.join_all();

    log.assert_once("A done");
    for (result, dropped, done) in [
        (results[0], "C1 future dropped", "C1 done"),
        (results[1], "C2 future dropped", "C2 done"),
    ] {
        log.assert_once(dropped);
        match result {
            Ok(()) => {
                log.assert_once(done);
                log.assert_before(dropped, done);
                log.assert_before(done, "A done");
                assert!(
                    at_a_done.contains(&done),
                    "{done:?} must precede A's done signal: {at_a_done:?}"
                );
            }
            Err(err) => {
                assert_eq!(err, SpawnError::Terminated);
                assert!(!log.contains(done), "a refused child's `done` never runs");
            }
        }
    }
    // After A's done signal only a refused child's future may still be
    // dropped, by its failed spawn.
    let events = log.events();
    for late in &events[at_a_done.len()..] {
        let refused = (*late == "C1 future dropped" && results[0].is_err())
            || (*late == "C2 future dropped" && results[1].is_err());
        assert!(
            refused,
            "nothing of A's subtree may run after A's done signal: {events:?}"
        );
    }
    assert_eq!(root.live_children(), 0);
    sides.record(side(&results));
}
