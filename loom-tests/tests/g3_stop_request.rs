//! G3 Cascade, graceful half: the stop request of a graceful cancel reaches
//! the task and, through it, every descendant, and no wake-up is lost on the
//! way; the cancel proper that follows still ends the task. Checks I6
//! (src/tree.rs) for `State::Stopping` (it is read, and the task's waker
//! stored, under one lock), `request_stop`'s cascade together with I1 (a
//! child registered after its scope was asked to stop is born stopping, one
//! registered before is reached by the cascade: `stop` and the slot set
//! change under one lock), and G4 when the cancel proper races the stop
//! request. A lost wake-up leaves a thread parked at the end of an execution,
//! which loom reports as a deadlock.
//!
//! Loom cannot run the timer of a graceful cancel, so the models send its two
//! halves by hand: `CancelSender::loom_request_stop` (the stop request with
//! no deadline) and `CancelSender::loom_cancel_now` (the cancel at the end of
//! the grace period). Dropping a cancel sender after a stop request does not
//! cut the request short, so a model that keeps or drops its sender cannot
//! end a task by accident: what ends it is the stop request or the explicit
//! cancel.
#![cfg(loom)]

use loom::sync::Arc;
use loom_tests::{check, Log, LoomSpawner, Sides};
use tasktree::{ParentSignals, ScopedSpawn, ScopedSpawner};

/// Spawns A from `root` with `fun`, logging "A done" in its `done`; returns
/// A's signals and a clone of A's spawner.
fn spawn_a<Fut>(
    root: &ScopedSpawner<LoomSpawner>,
    log: &Log,
    fun: impl FnOnce(ScopedSpawner<LoomSpawner>) -> Fut,
) -> (ParentSignals, ScopedSpawner<LoomSpawner>)
where
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut a_spawner = None;
    let log_a = log.clone();
    let a = root
        .spawn_with_signal(
            |spawner| {
                a_spawner = Some(spawner.clone());
                fun(spawner)
            },
            move || log_a.push("A done"),
        )
        .expect("the root is open");
    let a_spawner = a_spawner.expect("`fun` is called during the spawn");
    (a, a_spawner)
}

/// G3, I6: the main thread sends child A a stop request while A runs its
/// first poll; A's future waits for its scope's `stop_requested()` and then
/// completes. The request reaches A before its first poll (its wrapper passes
/// it on to A's scope before polling the future) or after it (A's future has
/// parked on `stop_requested()`, or is between that poll and its wrapper
/// storing the waker). A always completes by itself: nothing cancels it (its
/// cancel sender is kept until the end), so a lost stop request is a
/// deadlock. Meanwhile the main thread waits on A's `stop_requested()` from
/// outside A: if it looks first, its waker sits in the scope's stop waiters
/// (not in A's slot) when A's wrapper passes the request on, and that
/// wake-up is not lost either. A's future is dropped once, its `done` runs once, after the drop,
/// and its done signal is sent once.
#[test]
fn stop_request_races_first_poll() {
    let sides = Sides::new(&["stop before A's first poll", "stop after A's first poll"]);
    let watcher = Sides::new(&[
        "main looked before A passed the stop on",
        "main looked after A passed the stop on",
    ]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());
        let guard = log.guard("A future dropped");
        let log_a = log.clone();
        let (a, a_spawner) = spawn_a(&root, &log, move |spawner| async move {
            let _guard = guard;
            if spawner.is_stop_requested() {
                log_a.push("A: stop before its first poll");
            }
            spawner.stop_requested().await;
            log_a.push("A saw stop");
        });

        a.cancel_sender.loom_request_stop();
        // Only A's thread passes the request on to A's scope (the flag only
        // goes from false to true): this look tells which side main was on.
        let looked_early = !a_spawner.is_stop_requested();
        loom::future::block_on(a_spawner.stop_requested());
        drop(a_spawner);
        executor.join_all();

        assert!(a.done_receiver.is_done(), "A's done signal was sent");
        log.assert_once("A saw stop");
        log.assert_once("A future dropped");
        log.assert_once("A done");
        log.assert_before("A saw stop", "A future dropped");
        log.assert_before("A future dropped", "A done");
        drop(a.cancel_sender);
        assert_eq!(root.live_children(), 0);
        sides.record(if log.contains("A: stop before its first poll") {
            "stop before A's first poll"
        } else {
            "stop after A's first poll"
        });
        watcher.record(if looked_early {
            "main looked before A passed the stop on"
        } else {
            "main looked after A passed the stop on"
        });
    });
    sides.assert_all_seen();
    watcher.assert_all_seen();
}

/// G3, I1, I6: the main thread sends child A a stop request and then spawns
/// grandchild B through A's spawner, while A's wrapper, on its own thread,
/// passes the request on to A's scope (`request_stop`). B (with a scope of
/// its own) waits for its `stop_requested()` and then completes; A ignores
/// the stop and pends until the main thread cancels it, after B's done
/// signal. B is either born stopping (A's scope was asked to stop before B
/// was registered) or reached by `request_stop`'s cascade (registered
/// before; parked or not yet when the cascade comes): in every case B sees
/// the stop and completes by itself, so a lost stop request is a deadlock.
/// Then A's cancel ends A, and the tree terminates bottom-up, each future
/// dropped once and each `done` run once.
#[test]
fn stop_request_races_grandchild_spawn() {
    let sides = Sides::new(&[
        "B born stopping",
        "B reached by the cascade",
        "B registered while A's scope was being asked to stop",
    ]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());
        let a_guard = log.guard("A future dropped");
        let log_a = log.clone();
        let (a, a_spawner) = spawn_a(&root, &log, move |spawner| async move {
            let _guard = a_guard;
            spawner.stop_requested().await;
            log_a.push("A saw stop");
            std::future::pending::<()>().await;
        });

        a.cancel_sender.loom_request_stop();
        // Only A's thread (its wrapper) asks A's scope to stop while A runs,
        // and the flag only goes from false to true: read before and after
        // the spawn, it tells which side of the race B's registration was on.
        let stopping_before = a_spawner.is_stop_requested();
        let b_guard = log.guard("B future dropped");
        let log_b = log.clone();
        let log_b_done = log.clone();
        let b = a_spawner
            .spawn_with_signal(
                move |spawner| async move {
                    let _guard = b_guard;
                    spawner.stop_requested().await;
                    log_b.push("B saw stop");
                },
                move || log_b_done.push("B done"),
            )
            .expect("A's scope is open: A runs until cancelled");
        let stopping_after = a_spawner.is_stop_requested();
        drop(a_spawner);

        // B ends by itself, on the stop request alone.
        loom::future::block_on(b.done_receiver);
        log.assert_once("B saw stop");
        assert!(!log.contains("A done"), "A pends until cancelled");
        drop(b.cancel_sender);

        a.cancel_sender.loom_cancel_now();
        executor.join_all();

        assert!(a.done_receiver.is_done(), "A's done signal was sent");
        for event in ["A future dropped", "A done", "B future dropped", "B done"] {
            log.assert_once(event);
        }
        log.assert_before("B saw stop", "B future dropped");
        log.assert_before("B future dropped", "B done");
        log.assert_before("A future dropped", "A done");
        log.assert_before("B done", "A done");
        // A may be cancelled before its future sees its own stop: A's thread
        // passes the stop on, B completes, and the main thread cancels A,
        // all before A's wrapper polls the future again.
        assert!(log.count("A saw stop") <= 1);
        assert_eq!(root.live_children(), 0);
        drop(a.cancel_sender);
        sides.record(match (stopping_before, stopping_after) {
            (true, _) => "B born stopping",
            (false, false) => "B reached by the cascade",
            (false, true) => "B registered while A's scope was being asked to stop",
        });
    });
    sides.assert_all_seen();
}

/// G3, G4, I6: the main thread sends child A a stop request while another
/// thread sends the cancel proper (the end of the grace period). A sees its
/// stop and ignores it: it pends until cancelled. Either A sees the stop
/// before the cancel arrives, or the cancel comes first (the stop request
/// after it is a no-op, or lands but is overtaken before A's wrapper sees
/// it). In every case the cancel ends A: its future is dropped once, its
/// `done` runs once, after the drop, and its done receiver resolves. Only
/// the cancel can wake A once it has parked after its stop, so a lost
/// cancel is a deadlock.
#[test]
fn stop_request_races_cancel() {
    let sides = Sides::new(&[
        "A saw the stop before the cancel",
        "A cancelled before it saw the stop",
    ]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());
        let guard = log.guard("A future dropped");
        let log_a = log.clone();
        let (a, a_spawner) = spawn_a(&root, &log, move |spawner| async move {
            let _guard = guard;
            spawner.stop_requested().await;
            log_a.push("A saw stop");
            std::future::pending::<()>().await;
        });
        drop(a_spawner);

        let ParentSignals {
            cancel_sender,
            done_receiver,
        } = a;
        let cancel_sender = Arc::new(cancel_sender);
        let canceller = {
            let cancel_sender = cancel_sender.clone();
            loom::thread::spawn(move || cancel_sender.loom_cancel_now())
        };
        cancel_sender.loom_request_stop();
        loom::future::block_on(done_receiver);
        canceller.join().expect("the canceller does not panic");
        executor.join_all();

        assert!(cancel_sender.is_cancelled());
        log.assert_once("A future dropped");
        log.assert_once("A done");
        log.assert_before("A future dropped", "A done");
        assert!(log.count("A saw stop") <= 1);
        if log.contains("A saw stop") {
            log.assert_before("A saw stop", "A future dropped");
        }
        drop(cancel_sender);
        assert_eq!(root.live_children(), 0);
        sides.record(if log.contains("A saw stop") {
            "A saw the stop before the cancel"
        } else {
            "A cancelled before it saw the stop"
        });
    });
    sides.assert_all_seen();
}
