//! G3 Cascade, the lock-free poll: a task polled again with the waker it
//! stored in its slot reads its signal without its parent's lock while no
//! sibling is stopping or cancelled (I8, src/tree.rs). A cancel that races
//! such a poll is never lost: it counts the slot as unsettled before it takes
//! the stored waker, and wakes that waker after, so the task is either seen
//! cancelled by the poll or woken and polled again. A lost wake-up leaves a
//! thread parked at the end of an execution, which loom reports as a
//! deadlock.
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom_tests::{check, DropGuard, Log, LoomSpawner, Sides};
use tasktree::remote_scope::RawScopedSpawn;
use tasktree::{ScopedSpawn, ScopedSpawner};

/// A future that wakes itself on its first poll (so that its task is polled
/// again, with the same waker: the lock-free path) and then waits for ever:
/// only a cancel ends it. Larger than 8 bytes, so that its wrapper keeps a
/// copy of its waker (`keeps_memo`, src/task.rs).
struct RepolledThenWaits {
    polls: usize,
    log: Log,
    _dropped: DropGuard,
}

impl Future for RepolledThenWaits {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls += 1;
        if self.polls == 1 {
            self.log.push("A polled once");
            cx.waker().wake_by_ref();
        } else {
            self.log.push("A polled again");
        }
        Poll::Pending
    }
}

/// G3, I8: the main thread cancels child A while A is polled a first time
/// (and stores its waker) and then again (the lock-free path). A is
/// cancelled before its first poll, between its polls, or after its second
/// poll has parked; in every case its future is dropped once and its `done`
/// runs once. Only the cancel can wake A once it has parked for good.
#[test]
fn cancel_races_a_repeated_poll() {
    let sides = Sides::new(&[
        "cancelled before the first poll",
        "cancelled between the polls",
        "cancelled after the second poll",
        "a repeated poll skipped the lock",
    ]);
    check(move || cancel_races_repoll(sides, false));
    sides.assert_all_seen();
}

/// G3, I8: as above, and a sibling B is cancelled and ends first, on the
/// canceller's thread, while A is being polled: the count of unsettled
/// slots goes up and back down to zero around A's polls, and A's cancel is
/// still never lost.
#[test]
fn cancel_races_a_repeated_poll_after_a_sibling_cancel() {
    let sides = Sides::new(&[
        "cancelled before the first poll",
        "cancelled between the polls",
        "cancelled after the second poll",
        "a repeated poll skipped the lock",
    ]);
    check(move || cancel_races_repoll(sides, true));
    sides.assert_all_seen();
}

fn cancel_races_repoll(sides: &Sides, with_sibling: bool) {
    let fast_before = tasktree::loom_fast_repolls();
    let executor = LoomSpawner::new();
    let log = Log::new();
    let root = ScopedSpawner::new(executor.clone());

    // B, a sibling without a task of its own: its slot is cancelled, and
    // its done signal sent, by hand (two threads fewer than a spawned task).
    let sibling = with_sibling.then(|| {
        root.as_raw()
            .spawn_raw_with_signal()
            .expect("the root is open")
    });
    let log_done = log.clone();
    let a = root
        .spawn_future_with_signal(
            RepolledThenWaits {
                polls: 0,
                log: log.clone(),
                _dropped: log.guard("A future dropped"),
            },
            move || log_done.push("A done"),
        )
        .expect("the root is open");

    // The cancels come from their own thread, so that A's polls race them
    // from the start.
    let log_cancel = log.clone();
    let cancel_sender = a.cancel_sender;
    let canceller = loom::thread::spawn(move || {
        if let Some((b_parent, b_child)) = sibling {
            b_parent.cancel_sender.cancel();
            drop(b_child.done_sender);
            drop(b_child.cancel_receiver);
            drop(b_parent);
        }
        log_cancel.push("A cancelled");
        cancel_sender.cancel();
        cancel_sender
    });
    loom::future::block_on(a.done_receiver);
    drop(canceller.join().expect("the canceller does not panic"));
    executor.join_all();

    log.assert_once("A future dropped");
    log.assert_once("A done");
    log.assert_before("A future dropped", "A done");
    assert_eq!(root.live_children(), 0, "one done signal, sent once");
    // Where the cancel fell, as the log saw it ("A cancelled" is logged
    // just before the cancel is sent).
    let events = log.events();
    let at = |event: &str| events.iter().position(|e| *e == event);
    let cancelled = at("A cancelled").expect("the cancel was sent");
    sides.record(match (at("A polled once"), at("A polled again")) {
        (None, _) => "cancelled before the first poll",
        (Some(_), Some(second)) if second < cancelled => "cancelled after the second poll",
        _ => "cancelled between the polls",
    });
    if tasktree::loom_fast_repolls() > fast_before {
        sides.record("a repeated poll skipped the lock");
    }
}
