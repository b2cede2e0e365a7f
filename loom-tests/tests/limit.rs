//! A scope's concurrency limit (src/tree/limit.rs): a `reserve` waiting for
//! room races the end of the child that holds the room and a shutdown of the
//! scope. Checks L1 (a reserved place is a registered slot: used, or ended
//! when dropped) and the waiters' wake-ups: the reserve either gets the
//! place (and its child, spawned into a scope that may have closed since,
//! is cancelled and awaited as any child, G5) or fails with `Terminated`;
//! it never hangs (a lost wake-up parks the main thread, which loom reports
//! as a deadlock), and no slot is left behind (`live_children() == 0`).
#![cfg(loom)]

use std::future::Future;

use loom_tests::{block_on, check, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError};

#[test]
fn a_waiting_reserve_races_a_shutdown_and_the_end_of_a_child() {
    let sides = Sides::new(&["reserved at once", "reserved after waiting", "refused"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let root = ScopedSpawner::new(executor.clone());
        root.set_limit(Some(1));
        // A holds the one place until it completes, on its own thread.
        let a_log = log.clone();
        root.spawn_future(async move { a_log.push("A ran") }, || ())
            .expect("the root is open");
        // Another thread shuts the scope down (the close happens at the
        // call; the returned future is not awaited).
        let closer = root.clone();
        let shutdown = loom::thread::spawn(move || drop(closer.shutdown()));

        // Polled once by hand, to tell a reserve that waited from one that
        // did not; then to the end with a waker that parks this thread.
        let mut reserve = Box::pin(root.reserve());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let (result, waited) = match reserve.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => (result, false),
            std::task::Poll::Pending => (block_on(reserve), true),
        };
        match result {
            Ok(place) => {
                sides.record(if waited {
                    "reserved after waiting"
                } else {
                    "reserved at once"
                });
                let b_log = log.clone();
                let handle = place
                    .spawn_task(async move { b_log.push("B ran") })
                    .expect("a reserved place spawns");
                // B ran, or was cancelled by the shutdown before its poll.
                let _ = block_on(handle);
            }
            Err(error) => {
                sides.record("refused");
                assert_eq!(error, SpawnError::Terminated);
            }
        }
        shutdown.join().expect("the closer thread");
        executor.join_all();
        assert_eq!(root.live_children(), 0, "no slot is left behind (L1)");
        assert_eq!(
            root.spawn_task(async {}).unwrap_err(),
            SpawnError::Terminated
        );
    });
    sides.assert_all_seen();
}
