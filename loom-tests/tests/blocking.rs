//! A blocking task's wait (src/blocking.rs): task A spawns a blocking
//! closure B (on a thread of its own, as tokio's blocking pool would run
//! it), and the main thread cancels A. B's cancel is cooperative: B reads
//! its token once, and returns either way. G1: B's return happens-before
//! A's done receiver resolves, whichever B saw; the child's done signal is
//! sent from B's thread after B returned, and A's phase 4 waits for it.
#![cfg(loom)]
// The join handles of B's thread are kept in std types: observation only,
// outside the model (as `LoomSpawner`'s).
#![allow(clippy::disallowed_types)]

use std::sync::{Arc, Mutex};

use loom::sync::atomic::Ordering::Relaxed;
use loom_tests::{check, Flag, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner};

#[test]
fn a_parent_waits_for_its_blocking_child() {
    let sides = Sides::new(&["B saw the cancel", "B returned first"]);
    check(move || {
        let executor = LoomSpawner::new();
        let root = ScopedSpawner::new(executor.clone());
        let returned = Flag::new();
        let saw_cancel = Flag::new();
        // B's thread, joined at the end.
        let blocking_threads = Arc::new(Mutex::new(Vec::new()));
        let (b_returned, b_saw, threads) = (
            returned.clone(),
            saw_cancel.clone(),
            blocking_threads.clone(),
        );
        let a = root
            .spawn_with_signal(
                move |a_spawner| {
                    let spawn = move |job: Box<dyn FnOnce() + Send>| {
                        threads.lock().unwrap().push(loom::thread::spawn(job));
                    };
                    a_spawner
                        .loom_spawn_blocking(
                            move |cancel| {
                                if cancel.is_cancelled() {
                                    b_saw.set(Relaxed);
                                }
                                b_returned.set(Relaxed);
                            },
                            spawn,
                        )
                        .expect("A's scope is open in its `fun`")
                        .detach();
                    std::future::pending::<()>()
                },
                || (),
            )
            .expect("the root is open");
        drop(a.cancel_sender);
        loom_tests::block_on(a.done_receiver);
        assert!(
            returned.get(Relaxed),
            "G1: B's return happens-before A's done signal"
        );
        sides.record(if saw_cancel.get(Relaxed) {
            "B saw the cancel"
        } else {
            "B returned first"
        });
        let threads = std::mem::take(&mut *blocking_threads.lock().unwrap());
        for thread in threads {
            thread.join().expect("B's thread");
        }
        executor.join_all();
        assert_eq!(root.live_children(), 0);
    });
    sides.assert_all_seen();
}
