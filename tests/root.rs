//! G8 Root: dropping the last clone of a root `ScopedSpawner` cancels all of
//! its children; `shutdown` cancels them and resolves when all are done;
//! spawning afterwards fails.
#![allow(clippy::disallowed_types)]

mod common;

use common::{on_each_executor, spawn_chain, Counter, Log, ManualExecutor, Top};
use tasktree::remote_scope::RawScopedSpawn;
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError};

async fn pending_with(guard: common::Guard) {
    let _guard = guard;
    std::future::pending::<()>().await
}

/// G8: dropping a clone of the root cancels nothing while another clone
/// lives; dropping the last one cancels every child at once (before the
/// executor runs anything) and they all terminate, on every executor.
#[test]
fn dropping_last_root_clone_cancels_children() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let names = ["a", "b", "c"];
        let children: Vec<_> = names
            .iter()
            .map(|name| {
                root.spawn_with_signal(|_| pending_with(log.guard(name)), log.done(name))
                    .expect("spawn")
            })
            .collect();
        let (done_tx, done_rx) = futures::channel::oneshot::channel();
        let l = log.clone();
        root.spawn_future(pending_with(log.guard("unsignalled")), move || {
            l.push("unsignalled done");
            let _ = done_tx.send(());
        })
        .expect("spawn");
        let clone = root.clone();
        drop(root);
        common::yield_now().await;
        assert!(
            children.iter().all(|c| !c.cancel_sender.is_cancelled()),
            "{executor}"
        );
        assert_eq!(clone.live_children(), 4, "{executor}");
        assert!(log.entries().is_empty(), "{executor}: {log:?}");

        drop(clone);
        assert!(
            children.iter().all(|c| c.cancel_sender.is_cancelled()),
            "{executor}"
        );
        for child in children {
            child.done_receiver.await;
        }
        done_rx.await.expect("the unsignalled child's done ran");
        for name in names.iter().chain(&["unsignalled"]) {
            log.assert_order(&[&format!("{name} future dropped"), &format!("{name} done")]);
        }
        assert_eq!(log.entries().len(), 8, "{executor}: {log:?}");
    });
}

/// G8 and G1: `shutdown().await` returns only after every child and
/// grandchild has been dropped and has run its `done`, on every executor.
#[test]
fn shutdown_waits_for_the_whole_tree() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let chain = spawn_chain(&root, &log, Top::Pends);
        let other = root
            .spawn_future_with_signal(pending_with(log.guard("other")), log.done("other"))
            .expect("spawn");
        chain.leaf_running.await.expect("the leaf runs");
        root.shutdown().await;
        log.push("shutdown returned");
        log.assert_order(&[
            "top future dropped",
            "mid future dropped",
            "leaf future dropped",
            "leaf done",
            "mid done",
            "top done",
            "shutdown returned",
        ]);
        log.assert_order(&["other future dropped", "other done", "shutdown returned"]);
        assert_eq!(log.entries().len(), 9, "{executor}: {log:?}");
        assert!(
            chain.top.done_receiver.is_done() && other.done_receiver.is_done(),
            "{executor}"
        );
        assert_eq!(root.live_children(), 0, "{executor}");
        drop((chain.mid, chain.top.cancel_sender, other.cancel_sender));
    });
}

/// G8 and G5: after `shutdown`, every spawn method returns
/// `SpawnError::Terminated` without calling `fun` or `done`, on every
/// executor. `is_terminated` says so.
#[test]
fn spawn_after_shutdown_errors() {
    on_each_executor!(|root, executor| async move {
        assert!(!root.is_terminated(), "{executor}");
        root.shutdown().await;
        assert!(root.is_terminated(), "{executor}");
        let (calls, dones) = (Counter::new(), Counter::new());
        let c = calls.clone();
        let results = [
            root.spawn(
                move |_| {
                    c.incr();
                    async {}
                },
                dones.done(),
            ),
            root.spawn_with_signal(|_| async {}, dones.done()).map(drop),
            root.spawn_future(async {}, dones.done()),
            root.spawn_future_with_signal(async {}, dones.done())
                .map(drop),
            root.clone().spawn_future(async {}, dones.done()),
            root.as_raw().spawn_raw().map(drop),
            root.as_raw().spawn_raw_with_signal().map(drop),
        ];
        for result in results {
            assert_eq!(result, Err(SpawnError::Terminated), "{executor}");
        }
        assert_eq!((calls.get(), dones.get()), (0, 0), "{executor}");
    });
}

/// G8: `shutdown` closes the scope and cancels the children when it is
/// called, not when its future is first polled; the future resolves once
/// they have terminated, and a second `shutdown` resolves too.
/// `is_terminated` turns true only then, not while the children drain.
#[test]
fn shutdown_cancels_when_called() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let child = root
        .spawn_future_with_signal(pending_with(log.guard("child")), log.done("child"))
        .expect("spawn");
    executor.run_until_stalled();

    let shutdown = root.shutdown();
    // Closed (spawning fails, below), not yet terminated: the child drains.
    assert!(!root.is_terminated());
    assert!(child.cancel_sender.is_cancelled());
    assert_eq!(
        root.spawn_future(async {}, || ()),
        Err(SpawnError::Terminated)
    );
    assert!(log.entries().is_empty(), "nothing ran yet");
    assert_eq!(root.live_children(), 1);

    executor.block_on(shutdown);
    log.assert_exact(&["child future dropped", "child done"]);
    assert_eq!(root.live_children(), 0);
    assert!(root.is_terminated());
    executor.block_on(root.shutdown());
}

/// G8: dropping the `Shutdown` future does not undo the shutdown: the
/// children still terminate.
#[test]
fn dropped_shutdown_future_still_cancels() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let child = root
            .spawn_future_with_signal(pending_with(log.guard("child")), log.done("child"))
            .expect("spawn");
        drop(root.shutdown());
        child.done_receiver.await;
        log.assert_exact(&["child future dropped", "child done"]);
        assert!(root.is_terminated(), "{executor}");
        drop(child.cancel_sender);
    });
}

/// G8: `shutdown` of a root with no children resolves at once, and
/// `shutdown` racing children that complete on their own still counts each
/// exactly once.
#[test]
fn shutdown_with_children_completing_on_their_own() {
    on_each_executor!(|root, executor| async move {
        let empty = ScopedSpawner::new(root.executor().clone());
        empty.shutdown().await;
        assert!(empty.is_terminated(), "{executor}");
        let dones = Counter::new();
        for i in 0..100 {
            root.spawn_future(
                async move {
                    for _ in 0..i % 3 {
                        common::yield_now().await;
                    }
                },
                dones.done(),
            )
            .expect("spawn");
        }
        root.shutdown().await;
        assert_eq!(dones.get(), 100, "{executor}");
        assert_eq!(root.live_children(), 0, "{executor}");
    });
}
