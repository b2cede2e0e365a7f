//! Panics in user code are contained: a panic in a task's future, in its
//! future's `Drop`, or in its `done` callback leaves the tree terminating in
//! order (phases 1-6), every done signal is sent (G4), and the executor and
//! the task's siblings carry on.
#![allow(clippy::disallowed_types)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use common::{on_each_executor, Log, ManualExecutor};
use futures::channel::oneshot;
use tasktree::{ParentSignals, ScopedSpawn, ScopedSpawner};

/// Where the scenario's user code panics.
#[derive(Clone, Copy, Debug, Default)]
struct Panics {
    /// Mid's future panics when polled (once the leaf runs).
    mid_poll: bool,
    /// Mid's future panics when dropped.
    mid_drop: bool,
    /// The leaf's future panics when dropped.
    leaf_drop: bool,
    /// The leaf's `done` panics.
    leaf_done: bool,
    /// Mid's `done` panics.
    mid_done: bool,
}

/// Records `"{name} future dropped"` when dropped, then panics if asked to.
struct Guard {
    log: Log,
    name: &'static str,
    panic: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.log.push(format!("{} future dropped", self.name));
        if self.panic {
            panic!("intentional panic in the drop of {}", self.name);
        }
    }
}

fn guard(log: &Log, name: &'static str, panic: bool) -> Guard {
    Guard {
        log: log.clone(),
        name,
        panic,
    }
}

/// A `done` that records `"{name} done"`, then panics if asked to.
fn done(log: &Log, name: &'static str, panic: bool) -> impl FnOnce() + Send + 'static {
    let log = log.clone();
    move || {
        log.push(format!("{name} done"));
        if panic {
            panic!("intentional panic in the done of {name}");
        }
    }
}

struct Tree {
    top: ParentSignals,
    mid: ParentSignals,
    sib: ParentSignals,
    /// Resolves once the leaf runs (forwarded by mid).
    mid_ready: oneshot::Receiver<()>,
    /// Lets the sibling finish its work.
    sib_go: oneshot::Sender<()>,
}

/// Spawns top -> {mid -> leaf, sib}. Top, mid and leaf pend; mid panics
/// where `panics` says; sib waits for `sib_go`, logs, and completes.
fn spawn_tree<S>(root: &ScopedSpawner<S>, log: &Log, panics: Panics) -> Tree
where
    S: futures::task::Spawn + Clone + Send + Sync + 'static,
{
    let slot: Arc<Mutex<Option<(ParentSignals, ParentSignals)>>> = Arc::default();
    let (s, l) = (slot.clone(), log.clone());
    let (mid_ready_tx, mid_ready) = oneshot::channel();
    let (sib_go, sib_rx) = oneshot::channel::<()>();
    let top_guard = guard(log, "top", false);
    let top = root
        .spawn_with_signal(
            move |top| {
                let (l2, mid_guard) = (l.clone(), guard(&l, "mid", panics.mid_drop));
                let mid = top
                    .spawn_with_signal(
                        move |mid| {
                            let (leaf_tx, leaf_rx) = oneshot::channel();
                            let leaf_guard = guard(&l2, "leaf", panics.leaf_drop);
                            mid.spawn_future(
                                async move {
                                    let _guard = leaf_guard;
                                    let _ = leaf_tx.send(());
                                    std::future::pending::<()>().await
                                },
                                done(&l2, "leaf", panics.leaf_done),
                            )
                            .expect("spawn leaf");
                            async move {
                                let _guard = mid_guard;
                                let _ = leaf_rx.await;
                                let _ = mid_ready_tx.send(());
                                if panics.mid_poll {
                                    panic!("intentional panic in mid's future");
                                }
                                std::future::pending::<()>().await
                            }
                        },
                        done(&l, "mid", panics.mid_done),
                    )
                    .expect("spawn mid");
                let (l3, sib_guard) = (l.clone(), guard(&l, "sib", false));
                let sib = top
                    .spawn_future_with_signal(
                        async move {
                            let _guard = sib_guard;
                            let _ = sib_rx.await;
                            l3.push("sib got message");
                        },
                        done(&l, "sib", false),
                    )
                    .expect("spawn sib");
                *common::lock(&s) = Some((mid, sib));
                async move {
                    let _guard = top_guard;
                    std::future::pending::<()>().await
                }
            },
            done(log, "top", false),
        )
        .expect("spawn top");
    let (mid, sib) = common::lock(&slot).take().expect("mid and sib spawned");
    Tree {
        top,
        mid,
        sib,
        mid_ready,
        sib_go,
    }
}

/// The scenario of every test here, on every executor: mid (panicking as
/// `panics` says) terminates in order and signals done; its sibling still
/// runs and completes; the executor still runs a new task; top then
/// terminates normally.
fn scenario(panics: Panics) {
    common::quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let tree = spawn_tree(&root, &log, panics);
        tree.mid_ready.await.expect("mid runs");
        let mut mid_cancel = Some(tree.mid.cancel_sender);
        if !panics.mid_poll {
            drop(mid_cancel.take());
        }
        tree.mid.done_receiver.await;
        log.push("mid observed");
        assert!(!tree.top.done_receiver.is_done(), "{executor}: top runs on");

        tree.sib_go.send(()).expect("the sibling still runs");
        tree.sib.done_receiver.await;
        log.push("sib observed");

        let after = root
            .spawn_future_with_signal(
                {
                    let log = log.clone();
                    async move { log.push("after ran") }
                },
                log.done("after"),
            )
            .expect("the root still spawns");
        after.done_receiver.await;
        log.push("after observed");

        drop(tree.top.cancel_sender);
        tree.top.done_receiver.await;
        log.push("top observed");
        assert_eq!(
            log.entries(),
            [
                "mid future dropped",
                "leaf future dropped",
                "leaf done",
                "mid done",
                "mid observed",
                "sib got message",
                "sib future dropped",
                "sib done",
                "sib observed",
                "after ran",
                "after done",
                "after observed",
                "top future dropped",
                "top done",
                "top observed",
            ],
            "{executor}: {panics:?}"
        );
        drop((mid_cancel, tree.sib.cancel_sender, after.cancel_sender));
    });
}

/// A panic in a task's future: the task terminates (phases 2-6), its child
/// is cancelled and awaited first, on every executor.
#[test]
fn panic_in_future() {
    scenario(Panics {
        mid_poll: true,
        ..Panics::default()
    });
}

/// A panic in the `Drop` of a cancelled task's future: termination goes on
/// in order, on every executor.
#[test]
fn panic_in_future_drop() {
    scenario(Panics {
        mid_drop: true,
        ..Panics::default()
    });
}

/// A panic in the `Drop` of a leaf's future, dropped by the cascade.
#[test]
fn panic_in_child_future_drop() {
    scenario(Panics {
        leaf_drop: true,
        ..Panics::default()
    });
}

/// A panic in a child's `done`: its parent's `done` still runs after it
/// (G2), and the done signal is sent, on every executor.
#[test]
fn panic_in_child_done() {
    scenario(Panics {
        leaf_done: true,
        ..Panics::default()
    });
}

/// A panic in a cancelled task's own `done`: its done signal is still sent.
#[test]
fn panic_in_done() {
    scenario(Panics {
        mid_done: true,
        ..Panics::default()
    });
}

/// Every kind of panic at once (except a drop that panics while a poll
/// panic unwinds, which would abort the process).
#[test]
fn panics_everywhere() {
    scenario(Panics {
        mid_poll: true,
        mid_drop: false,
        leaf_drop: true,
        leaf_done: true,
        mid_done: true,
    });
}

/// A panic in `fun`, while the spawn is being made: the panic reaches the
/// caller of `spawn`, and the half-made child still terminates: the
/// grandchild `fun` had spawned is cancelled and done, then the child's
/// `done` runs once, and the scope's count returns to zero.
#[test]
fn panic_in_fun() {
    common::quiet_intentional_panics();
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    let l = log.clone();
    let result = catch_unwind(AssertUnwindSafe(|| {
        root.spawn(
            move |spawner| {
                let grandchild_guard = guard(&l, "grandchild", false);
                spawner
                    .spawn_future(
                        async move {
                            let _guard = grandchild_guard;
                            std::future::pending::<()>().await
                        },
                        l.done("grandchild"),
                    )
                    .expect("spawn grandchild");
                if true {
                    panic!("intentional panic in fun");
                }
                std::future::pending::<()>()
            },
            log.done("child"),
        )
    }));
    assert!(result.is_err(), "the panic reaches the caller");
    executor.run_until_stalled();
    log.assert_exact(&["grandchild future dropped", "grandchild done", "child done"]);
    assert_eq!(root.live_children(), 0);
    assert_eq!(
        root.spawn_future(async {}, || ()),
        Ok(()),
        "the root is fine"
    );
    executor.run_until_stalled();
    assert_eq!(root.live_children(), 0);
}
