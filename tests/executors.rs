//! One scenario on every executor the crate supports: a three-level tree
//! whose middle task is cancelled. And the low-level `remote_scope` API on
//! an executor that is not `futures::task::Spawn` (a tokio `LocalSet`),
//! with a future that is not `Send`.
#![allow(clippy::disallowed_types)]

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{on_each_executor, spawn_chain, Log, Top};
use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
use tasktree::ScopedSpawn;

/// G1, G2, G3 on every executor: cancelling the middle of top -> mid -> leaf
/// ends mid and leaf in order while top runs on; then cancelling top ends it.
#[test]
fn three_level_tree_cancel_the_middle() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let chain = spawn_chain(&root, &log, Top::Pends);
        chain.leaf_running.await.expect("the leaf runs");

        drop(chain.mid.cancel_sender);
        chain.mid.done_receiver.await;
        log.push("mid observed");
        log.assert_exact(&[
            "mid future dropped",
            "leaf future dropped",
            "leaf done",
            "mid done",
            "mid observed",
        ]);
        assert!(
            !chain.top.done_receiver.is_done(),
            "{executor}: top runs on"
        );
        assert!(!chain.top.cancel_sender.is_cancelled(), "{executor}");
        assert_eq!(root.live_children(), 1, "{executor}");

        drop(chain.top.cancel_sender);
        chain.top.done_receiver.await;
        log.push("top observed");
        log.assert_exact(&[
            "mid future dropped",
            "leaf future dropped",
            "leaf done",
            "mid done",
            "mid observed",
            "top future dropped",
            "top done",
            "top observed",
        ]);
    });
}

/// Phases 1-6 through `remote_scope` on a `LocalSet`: a task whose future is
/// not `Send` (it holds an `Rc` across an await) and its grandchild, both
/// wrapped by hand and spawned with `spawn_local`, terminate in order when
/// the task is cancelled.
#[test]
fn remote_scope_on_local_set_with_non_send_future() {
    let runtime = common::tokio_current_thread();
    let root = common::tokio_root(&runtime);
    let log = Log::new();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let (parent, child) = root
            .as_raw()
            .spawn_raw_with_signal()
            .expect("register task");
        let mut scope = RemoteScope::new();
        let (grandchild_parent, grandchild) = scope
            .spawner()
            .spawn_raw_with_signal()
            .expect("register grandchild");
        let guard = log.guard("grandchild");
        let grandchild_task = RemoteScope::new().wrap(
            grandchild,
            async move {
                let _guard = guard;
                std::future::pending::<()>().await
            },
            log.done("grandchild"),
        );

        let (running_tx, running_rx) = futures::channel::oneshot::channel();
        let guard = log.guard("task");
        let resumed = Rc::new(Cell::new(false));
        let flag = resumed.clone();
        let task = scope.wrap(
            child,
            async move {
                let _guard = guard;
                // `flag` is an `Rc`, held across this await: not `Send`.
                common::yield_now().await;
                flag.set(true);
                let _ = running_tx.send(());
                std::future::pending::<()>().await
            },
            log.done("task"),
        );
        tokio::task::spawn_local(grandchild_task);
        tokio::task::spawn_local(task);

        running_rx.await.expect("the task runs");
        assert!(resumed.get(), "the non-Send future ran past its await");
        drop(parent.cancel_sender);
        parent.done_receiver.await;
        log.push("task observed");
        log.assert_exact(&[
            "task future dropped",
            "grandchild future dropped",
            "grandchild done",
            "task done",
            "task observed",
        ]);
        assert!(grandchild_parent.done_receiver.is_done());
        assert!(grandchild_parent.cancel_sender.is_cancelled());
    });
    assert_eq!(root.live_children(), 0);
}

/// G8 through `remote_scope`: the root's `shutdown` cancels and awaits
/// hand-wrapped tasks on a `LocalSet`, including one registered with
/// `spawn_raw` (no signals for the test to hold).
#[test]
fn remote_scope_on_local_set_root_shutdown() {
    let runtime = common::tokio_current_thread();
    let root = common::tokio_root(&runtime);
    let log = Log::new();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        for name in ["first", "second"] {
            let signals = root.as_raw().spawn_raw().expect("register");
            let guard = log.guard(name);
            let not_send = Rc::new(name);
            tokio::task::spawn_local(RemoteScope::new().wrap(
                signals,
                async move {
                    let _guard = guard;
                    let _not_send = not_send;
                    std::future::pending::<()>().await
                },
                log.done(name),
            ));
        }
        assert_eq!(root.live_children(), 2);
        common::yield_now().await;
        assert!(log.entries().is_empty(), "{log:?}");
        root.shutdown().await;
        log.push("shutdown returned");
        log.assert_order(&["first future dropped", "first done", "shutdown returned"]);
        log.assert_order(&["second future dropped", "second done", "shutdown returned"]);
        assert_eq!(log.entries().len(), 5);
    });
    assert_eq!(root.live_children(), 0);
}
