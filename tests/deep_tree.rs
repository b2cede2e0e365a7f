//! G9 Bounded cost: cancelling a chain of depth 100,000 does not overflow
//! the stack (on every executor, and when the executor drops the whole chain
//! at once); a wide tree of 10,000 leaves terminates completely. These run
//! in the default test profile and take a few seconds at most in debug.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::{Arc, Mutex};

use common::{on_each_executor, Counter, ManualExecutor};
use futures::channel::oneshot;
use futures::future::BoxFuture;
use tasktree::{ParentSignals, ScopedSpawn, ScopedSpawner};

const DEPTH: usize = 100_000;

/// The depths of the chain's tasks, in the order their `done`s ran.
type DoneOrder = Arc<Mutex<Vec<usize>>>;

/// The future of the chain's task at `depth`: it spawns the task at
/// `depth + 1` (whose `done` records its depth), or, at `DEPTH`, tells
/// `leaf_running`; then it pends.
fn chain<S: ScopedSpawn + 'static>(
    spawner: S,
    depth: usize,
    order: DoneOrder,
    leaf_running: oneshot::Sender<()>,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        if depth == DEPTH {
            let _ = leaf_running.send(());
        } else {
            let record = order.clone();
            spawner
                .spawn(
                    move |child| chain(child, depth + 1, order, leaf_running),
                    move || common::lock(&record).push(depth + 1),
                )
                .expect("spawn the next link");
        }
        std::future::pending::<()>().await
    })
}

/// Spawns the chain's top (depth 0) from `root`.
fn spawn_chain<S>(
    root: &ScopedSpawner<S>,
    order: &DoneOrder,
) -> (ParentSignals, oneshot::Receiver<()>)
where
    S: futures::task::Spawn + Clone + Send + Sync + 'static,
{
    let (tx, rx) = oneshot::channel();
    let (o, record) = (order.clone(), order.clone());
    let top = root
        .spawn_with_signal(
            move |spawner| chain(spawner, 0, o, tx),
            move || common::lock(&record).push(0),
        )
        .expect("spawn the top");
    (top, rx)
}

/// G2 and G4 on the whole chain: every `done` ran once, deepest first.
#[track_caller]
fn assert_done_bottom_up(order: &DoneOrder, executor: &str) {
    let order = common::lock(order);
    assert_eq!(order.len(), DEPTH + 1, "{executor}: every done ran once");
    assert!(
        order.iter().rev().copied().eq(0..=DEPTH),
        "{executor}: the dones ran deepest first"
    );
}

/// G9 and G3: cancelling the top of a chain 100,000 deep terminates it
/// without overflowing a stack, on every executor; the `done`s run bottom
/// up.
#[test]
fn cancel_chain_of_depth_100_000() {
    on_each_executor!(|root, executor| async move {
        let order = DoneOrder::default();
        let (top, leaf_running) = spawn_chain(&root, &order);
        leaf_running.await.expect("the chain is built");
        assert!(common::lock(&order).is_empty(), "{executor}");
        drop(top.cancel_sender);
        top.done_receiver.await;
        assert_done_bottom_up(&order, executor);
    });
}

/// G9 and G8: the root's `shutdown` ends a chain 100,000 deep on tokio's
/// multi-thread runtime (the cancel path is the same as above, so one
/// executor suffices).
#[test]
fn shutdown_chain_of_depth_100_000() {
    common::on_tokio_multi_thread(|root, executor| async move {
        let order = DoneOrder::default();
        let (top, leaf_running) = spawn_chain(&root, &order);
        leaf_running.await.expect("the chain is built");
        root.shutdown().await;
        assert_done_bottom_up(&order, executor);
        assert!(top.done_receiver.is_done(), "{executor}");
        drop(top.cancel_sender);
    });
}

/// G9 when the executor drops every task at once (a tokio runtime dropped
/// with the chain alive): no stack overflow, every `done` ran, deepest
/// first, and the top's done receiver is done.
#[test]
fn tokio_runtime_dropped_with_chain_alive() {
    for runtime in [common::tokio_current_thread(), common::tokio_multi_thread()] {
        let root = common::tokio_root(&runtime);
        let order = DoneOrder::default();
        let (top, leaf_running) = spawn_chain(&root, &order);
        runtime.block_on(leaf_running).expect("the chain is built");
        drop(runtime);
        assert_done_bottom_up(&order, "tokio runtime dropped");
        assert!(top.done_receiver.is_done());
        drop(top.cancel_sender);
    }
}

/// As `tokio_runtime_dropped_with_chain_alive`, with the manual executor
/// dropping the tasks in spawn order (top first: every task's `done` waits
/// for the one below).
#[test]
fn manual_executor_dropped_with_chain_alive() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let order = DoneOrder::default();
    let (top, leaf_running) = spawn_chain(&root, &order);
    executor.block_on(leaf_running).expect("the chain is built");
    executor.shutdown();
    assert_done_bottom_up(&order, "manual executor shut down");
    assert!(top.done_receiver.is_done());
    drop(top.cancel_sender);
}

/// G9 and G1: a parent with 10,000 pending leaves: all are registered
/// (`live_children`), and cancelling the parent drops each leaf and runs
/// each `done` before the parent's own `done`, on every executor.
#[test]
fn wide_tree_of_10_000_leaves() {
    const LEAVES: usize = 10_000;
    on_each_executor!(|root, executor| async move {
        let (drops, dones) = (Counter::new(), Counter::new());
        let leaves_done_at_parent_done = Arc::new(Mutex::new(None));
        let live = Arc::new(Mutex::new(0));
        let (d, n, l) = (drops.clone(), dones.clone(), live.clone());
        let seen = leaves_done_at_parent_done.clone();
        let parent_dones = dones.clone();
        let parent = root
            .spawn_with_signal(
                move |spawner| {
                    for _ in 0..LEAVES {
                        let guard = d.guard();
                        spawner
                            .spawn_future(
                                async move {
                                    let _guard = guard;
                                    std::future::pending::<()>().await
                                },
                                n.done(),
                            )
                            .expect("spawn a leaf");
                    }
                    *common::lock(&l) = spawner.live_children();
                    std::future::pending::<()>()
                },
                move || *common::lock(&seen) = Some(parent_dones.get()),
            )
            .expect("spawn the parent");
        assert_eq!(*common::lock(&live), LEAVES, "{executor}");
        common::yield_now().await;
        drop(parent.cancel_sender);
        parent.done_receiver.await;
        assert_eq!((drops.get(), dones.get()), (LEAVES, LEAVES), "{executor}");
        assert_eq!(
            *common::lock(&leaves_done_at_parent_done),
            Some(LEAVES),
            "{executor}"
        );
    });
}

/// G9 and G3: 100 children with 100 leaves each (10,000 leaves, two levels
/// of cascade) all end when the top is cancelled, on every executor.
#[test]
fn tree_of_100_by_100() {
    on_each_executor!(|root, executor| async move {
        let (drops, dones) = (Counter::new(), Counter::new());
        let (d, n) = (drops.clone(), dones.clone());
        let top = root
            .spawn_with_signal(
                move |spawner| {
                    for _ in 0..100 {
                        let (d, n2) = (d.clone(), n.clone());
                        spawner
                            .spawn(
                                move |child| {
                                    for _ in 0..100 {
                                        let guard = d.guard();
                                        child
                                            .spawn_future(
                                                async move {
                                                    let _guard = guard;
                                                    std::future::pending::<()>().await
                                                },
                                                n2.done(),
                                            )
                                            .expect("spawn a leaf");
                                    }
                                    std::future::pending::<()>()
                                },
                                n.done(),
                            )
                            .expect("spawn a child");
                    }
                    std::future::pending::<()>()
                },
                || (),
            )
            .expect("spawn the top");
        drop(top.cancel_sender);
        top.done_receiver.await;
        assert_eq!((drops.get(), dones.get()), (10_000, 10_100), "{executor}");
    });
}
