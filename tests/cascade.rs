//! G3 Cascade: after a cancel signal the task and all its descendants
//! terminate, with no further progress of their futures beyond the poll in
//! flight, and no wake-up is lost.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::{Arc, Mutex};

use common::{busy, on_each_executor, Counter, Log, ManualExecutor};
use tasktree::{ScopedSpawn, ScopedSpawner};

async fn pending_with(guard: common::Guard) {
    let _guard = guard;
    std::future::pending::<()>().await
}

/// G3: a cancel reaches every descendant: a -> {b -> {b1, b2}, c -> c1},
/// all pending and never woken by their own futures; cancelling `a` drops
/// every future and runs every `done` exactly once, on every executor.
#[test]
fn cancel_reaches_grandchildren() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let (l, a_guard) = (log.clone(), log.guard("a"));
        let a = root
            .spawn_with_signal(
                move |a| {
                    let (l2, b_guard) = (l.clone(), l.guard("b"));
                    a.spawn(
                        move |b| {
                            for name in ["b1", "b2"] {
                                b.spawn_future(pending_with(l2.guard(name)), l2.done(name))
                                    .expect("spawn");
                            }
                            pending_with(b_guard)
                        },
                        l.done("b"),
                    )
                    .expect("spawn b");
                    let (l3, c_guard) = (l.clone(), l.guard("c"));
                    a.spawn(
                        move |c| {
                            let done = l3.done("c1");
                            c.spawn(move |_| pending_with(l3.guard("c1")), done)
                                .expect("spawn c1");
                            pending_with(c_guard)
                        },
                        l.done("c"),
                    )
                    .expect("spawn c");
                    pending_with(a_guard)
                },
                log.done("a"),
            )
            .expect("spawn a");
        common::yield_now().await;
        assert!(log.entries().is_empty(), "{executor}: {log:?}");
        drop(a.cancel_sender);
        a.done_receiver.await;
        let names = ["a", "b", "b1", "b2", "c", "c1"];
        for name in names {
            log.assert_once(&[&format!("{name} future dropped"), &format!("{name} done")]);
        }
        assert_eq!(log.entries().len(), 2 * names.len(), "{executor}: {log:?}");
    });
}

/// G3, exactly, on the manual executor: a task and its child that make
/// progress on every poll (and wake themselves) make none after the cancel.
/// The parent's count is frozen from the cancel on; the child's from the
/// moment the parent's future is dropped (it is cancelled in the same poll,
/// phase 3).
#[test]
fn no_progress_after_cancel() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let (parent_polls, child_polls) = (Counter::new(), Counter::new());
    let child_polls_at_parent_drop = Arc::new(Mutex::new(None));
    let (p, c, at_drop) = (
        parent_polls.clone(),
        child_polls.clone(),
        child_polls_at_parent_drop.clone(),
    );
    let parent = root
        .spawn_with_signal(
            move |spawner| {
                let c2 = c.clone();
                spawner.spawn_future(busy(c2), || ()).expect("spawn child");
                let snapshot = Snapshot(Some(Box::new(move || {
                    *common::lock(&at_drop) = Some(c.get());
                })));
                async move {
                    let _snapshot = snapshot;
                    busy(p).await
                }
            },
            || (),
        )
        .expect("spawn parent");
    for _ in 0..10 {
        executor.run_round();
    }
    assert!(parent_polls.get() >= 10 && child_polls.get() >= 10);

    drop(parent.cancel_sender);
    let parent_at_cancel = parent_polls.get();
    executor.run_until_stalled();
    assert!(parent.done_receiver.is_done());
    assert_eq!(
        parent_polls.get(),
        parent_at_cancel,
        "parent polled after its cancel"
    );
    let child_at_parent_drop = common::lock(&child_polls_at_parent_drop).expect("parent dropped");
    assert_eq!(
        child_polls.get(),
        child_at_parent_drop,
        "child polled after its cancel"
    );
}

/// G3 with real threads: a busy task (it wakes itself on every poll) is
/// polled at most once more after its cancel (the poll in flight), and it
/// and its busy child terminate, on every executor.
#[test]
fn busy_tasks_stop_after_cancel() {
    on_each_executor!(|root, executor| async move {
        let (parent_polls, child_polls) = (Counter::new(), Counter::new());
        let (drops, dones) = (Counter::new(), Counter::new());
        let (p, c, d) = (parent_polls.clone(), child_polls.clone(), drops.clone());
        let parent = root
            .spawn_with_signal(
                {
                    let dones = dones.clone();
                    move |spawner| {
                        let guard = d.guard();
                        spawner
                            .spawn_future(
                                async move {
                                    let _guard = guard;
                                    busy(c).await
                                },
                                dones.done(),
                            )
                            .expect("spawn child");
                        let guard = d.guard();
                        async move {
                            let _guard = guard;
                            busy(p).await
                        }
                    }
                },
                dones.done(),
            )
            .expect("spawn parent");
        while parent_polls.get() < 3 || child_polls.get() < 3 {
            common::yield_now().await;
        }
        drop(parent.cancel_sender);
        let parent_at_cancel = parent_polls.get();
        parent.done_receiver.await;
        assert!(
            parent_polls.get() <= parent_at_cancel + 1,
            "{executor}: {} polls after the cancel",
            parent_polls.get() - parent_at_cancel
        );
        assert_eq!((drops.get(), dones.get()), (2, 2), "{executor}");
        let (p_end, c_end) = (parent_polls.get(), child_polls.get());
        for _ in 0..10 {
            common::yield_now().await;
        }
        assert_eq!(
            (parent_polls.get(), child_polls.get()),
            (p_end, c_end),
            "{executor}"
        );
    });
}

/// G3: a task cancelled before its first poll is never polled: its future
/// is dropped unpolled and its `done` runs.
#[test]
fn cancel_before_first_poll() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let polls = Counter::new();
    let dones = Counter::new();
    let signals = root
        .spawn_future_with_signal(busy(polls.clone()), dones.done())
        .expect("spawn");
    drop(signals.cancel_sender);
    executor.run_until_stalled();
    assert_eq!(polls.get(), 0);
    assert_eq!(dones.get(), 1);
    assert!(signals.done_receiver.is_done());
}

/// G3, no lost wake-up: cancels racing the first poll of a pending child
/// (whose own future never wakes it) always end it. The library stores the
/// task's waker and reads the cancel flag under one lock (I6); a lost
/// wake-up would hang here.
#[test]
fn cancel_racing_first_poll_is_never_lost() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let dones = Counter::new();
    let n = 2000;
    runtime.block_on(async {
        for i in 0..n {
            let signals = root
                .spawn_with_signal(|_| std::future::pending::<()>(), dones.done())
                .expect("spawn");
            // Vary where the cancel lands relative to the first poll.
            for _ in 0..i % 3 {
                tokio::task::yield_now().await;
            }
            drop(signals.cancel_sender);
            signals.done_receiver.await;
        }
    });
    assert_eq!(dones.get(), n);
}

/// G3 on the manual executor, whose `block_on` fails instead of hanging when
/// nothing can run: a cancel sent from inside another task reaches a parked
/// subtree and its done receiver wakes the waiting test.
#[test]
fn cancel_from_another_task_wakes_everyone() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let l = log.clone();
    let target = root
        .spawn_with_signal(
            move |spawner| {
                let (done, guard) = (l.done("grandchild"), l.guard("target"));
                spawner
                    .spawn(move |_| pending_with(l.guard("grandchild")), done)
                    .expect("spawn grandchild");
                pending_with(guard)
            },
            log.done("target"),
        )
        .expect("spawn target");
    let sender = target.cancel_sender;
    root.spawn_future(
        async move {
            common::yield_now().await;
            drop(sender);
        },
        log.done("canceller"),
    )
    .expect("spawn canceller");
    executor.block_on(target.done_receiver);
    log.assert_order(&[
        "target future dropped",
        "grandchild future dropped",
        "grandchild done",
        "target done",
    ]);
}

/// Runs its closure when dropped.
struct Snapshot(Option<Box<dyn FnOnce() + Send>>);

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}
