//! I5 (src/tree.rs): a slot is removed only when its task has sent its done
//! signal *and* no view (cancel sender, cancel receiver, timer) refers to it,
//! so a key is never reused while anyone can still name it. Serves G3/G4: a
//! stale view cannot cancel a later child that got the same key.
#![cfg(loom)]

use loom::sync::atomic::Ordering::Relaxed;
use loom_tests::{check, Flag, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner};

/// I5: child A has finished and sent its done signal, but its cancel sender
/// is still alive; it is dropped on another thread while the main thread
/// spawns child B into the same scope. Whichever comes first, B is not
/// cancelled by A's stale sender (B's key differs from A's while the sender
/// lives, and A's slot is gone once it is dropped), and B runs until it is
/// cancelled on purpose.
#[test]
fn stale_cancel_sender_drop_races_a_new_spawn() {
    let sides = Sides::new(&["stale drop first", "new spawn first"]);
    check(move || stale_drop_races_spawn(sides));
    sides.assert_all_seen();
}

fn stale_drop_races_spawn(sides: &Sides) {
    let executor = LoomSpawner::new();
    let log = Log::new();
    let root = ScopedSpawner::new(executor.clone());

    let a = root
        .spawn_future_with_signal(async {}, || ())
        .expect("the root is open");
    loom::future::block_on(a.done_receiver);
    // A has sent its done signal; its cancel sender still names its slot.
    let stale = a.cancel_sender;
    let dropped = Flag::new();
    let dropper = {
        let dropped = dropped.clone();
        loom::thread::spawn(move || {
            drop(stale);
            dropped.set(Relaxed);
        })
    };

    let b_guard = log.guard("B future dropped");
    let b = root
        .spawn_future_with_signal(
            async move {
                let _b_guard = b_guard;
                std::future::pending::<()>().await;
            },
            || (),
        )
        .expect("the root is open");
    sides.record(if dropped.get(Relaxed) {
        "stale drop first"
    } else {
        "new spawn first"
    });
    dropper.join().expect("the dropper does not panic");

    assert!(
        !b.cancel_sender.is_cancelled(),
        "a stale view cancelled a later child: {:?}",
        log.events()
    );
    assert_eq!(root.live_children(), 1, "B runs on");
    b.cancel_sender.cancel();
    loom::future::block_on(b.done_receiver);
    log.assert_once("B future dropped");
    executor.join_all();
    assert_eq!(root.live_children(), 0);
}
