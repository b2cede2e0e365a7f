//! G6 Forget: `forget()` on a cancel sender gives up the right to cancel
//! that child early; the child still terminates when its parent terminates.
#![allow(clippy::disallowed_types)]

mod common;

use common::{on_each_executor, Log, ManualExecutor};
use tasktree::{ForgettableSignalSender, ScopedSpawn, ScopedSpawner};

async fn pending_with(guard: common::Guard) {
    let _guard = guard;
    std::future::pending::<()>().await
}

/// G6: a forgotten child is not cancelled: it runs to completion (its work
/// is logged before its future is dropped), while a sibling whose sender is
/// dropped is cancelled.
#[test]
fn forgotten_child_runs_to_completion() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let (go_tx, go_rx) = futures::channel::oneshot::channel::<()>();
    let (l, guard) = (log.clone(), log.guard("forgotten"));
    let forgotten = root
        .spawn_future_with_signal(
            async move {
                let _guard = guard;
                let _ = go_rx.await;
                l.push("forgotten finished its work");
            },
            log.done("forgotten"),
        )
        .expect("spawn");
    let dropped = root
        .spawn_future_with_signal(pending_with(log.guard("dropped")), log.done("dropped"))
        .expect("spawn");
    executor.run_until_stalled();

    forgotten.cancel_sender.forget();
    drop(dropped.cancel_sender);
    executor.run_until_stalled();
    log.assert_exact(&["dropped future dropped", "dropped done"]);
    assert!(!forgotten.done_receiver.is_done(), "forget did not cancel");

    go_tx.send(()).expect("the forgotten child waits");
    executor.run_until_stalled();
    log.assert_exact(&[
        "dropped future dropped",
        "dropped done",
        "forgotten finished its work",
        "forgotten future dropped",
        "forgotten done",
    ]);
    assert!(forgotten.done_receiver.is_done());
}

/// G6 and G3: a child whose sender its parent forgot is still cancelled,
/// and awaited, when the parent terminates, on every executor.
#[test]
fn forgotten_child_is_cancelled_by_its_parent() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let (l, parent_guard) = (log.clone(), log.guard("parent"));
        let parent = root
            .spawn_with_signal(
                move |spawner| {
                    let (guard, done) = (l.guard("child"), l.done("child"));
                    let child = spawner
                        .spawn_with_signal(move |_| pending_with(guard), done)
                        .expect("spawn child");
                    child.cancel_sender.forget();
                    pending_with(parent_guard)
                },
                log.done("parent"),
            )
            .expect("spawn parent");
        common::yield_now().await;
        assert!(
            log.entries().is_empty(),
            "{executor}: forget cancelled nothing: {log:?}"
        );
        drop(parent.cancel_sender);
        parent.done_receiver.await;
        log.push("parent observed");
        log.assert_exact(&[
            "parent future dropped",
            "child future dropped",
            "child done",
            "parent done",
            "parent observed",
        ]);
    });
}

/// G6 and G8: children of the root whose senders were forgotten are
/// cancelled and awaited by the root's `shutdown`, on every executor.
#[test]
fn forgotten_children_are_cancelled_by_root_shutdown() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let mut receivers = Vec::new();
        for name in ["first", "second", "third"] {
            let signals = root
                .spawn_future_with_signal(pending_with(log.guard(name)), log.done(name))
                .expect("spawn");
            signals.cancel_sender.forget();
            receivers.push(signals.done_receiver);
        }
        common::yield_now().await;
        assert!(log.entries().is_empty(), "{executor}: {log:?}");
        assert_eq!(root.live_children(), 3, "{executor}");
        root.shutdown().await;
        log.push("shutdown returned");
        for name in ["first", "second", "third"] {
            log.assert_order(&[
                &format!("{name} future dropped"),
                &format!("{name} done"),
                "shutdown returned",
            ]);
        }
        assert!(receivers.iter().all(|r| r.is_done()), "{executor}");
    });
}

/// G6 and G8: dropping the last clone of the root ends a forgotten child
/// that never completes, and its done receiver resolves after its `done`.
#[test]
fn forgotten_child_ends_with_dropped_root() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let signals = root
            .spawn_future_with_signal(pending_with(log.guard("child")), log.done("child"))
            .expect("spawn");
        signals.cancel_sender.forget();
        common::yield_now().await;
        assert!(log.entries().is_empty(), "{executor}");
        drop(root);
        signals.done_receiver.await;
        log.assert_exact(&["child future dropped", "child done"]);
    });
}
