//! Local (`!Send`) tasks (issue 14): `LocalScopedSpawner` over futures'
//! `LocalPool` and over tokio's `LocalSet` (`TokioLocalSpawner`). The tasks
//! hold `Rc` and `RefCell`; the tree's order holds for them as for any
//! task: a parent's handle resolves after its local and `Send` children
//! (G1), a cancel reaches local grandchildren (G3), a dropped root cancels
//! its children (G8).
#![allow(clippy::disallowed_types)]

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures::executor::LocalPool;
use tasktree::{LocalScopedSpawner, TaskHandle, TokioLocalSpawner, TokioSpawner};

/// A log kept in an `Rc<RefCell<..>>`: the tasks that write it are not
/// `Send`.
#[derive(Clone, Default)]
struct LocalLog(Rc<RefCell<Vec<&'static str>>>);

impl LocalLog {
    fn push(&self, event: &'static str) {
        self.0.borrow_mut().push(event);
    }

    fn events(&self) -> Vec<&'static str> {
        self.0.borrow().clone()
    }
}

/// Pushes `event` when dropped.
struct OnDrop(LocalLog, &'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.push(self.1);
    }
}

/// Spawns under `spawner` a pending local task that logs `event` when its
/// future is dropped (the guard is made at the spawn, so a cancel before
/// the first poll logs too).
fn pend_logged<L>(spawner: &LocalScopedSpawner<L>, log: &LocalLog, event: &'static str)
where
    L: futures::task::LocalSpawn + Clone + 'static,
{
    let dropped = OnDrop(log.clone(), event);
    spawner
        .spawn_future(
            async move {
                let _dropped = dropped;
                std::future::pending::<()>().await
            },
            || (),
        )
        .unwrap();
}

/// A parent with a local child and a local grandchild, each holding the
/// `Rc` log; the parent's future returns first, so its phase 3 cancels the
/// pending grandchild and its handle waits for it (G1).
fn family<L>(root: &LocalScopedSpawner<L>, log: &LocalLog) -> TaskHandle<u32>
where
    L: futures::task::LocalSpawn + Clone + 'static,
{
    let log = log.clone();
    root.spawn_task_with(move |parent| async move {
        let child_log = log.clone();
        let child = parent
            .spawn_task_with(move |child| async move {
                // Cancelled before its first poll, by the child's end.
                pend_logged(&child, &child_log, "grandchild dropped");
                child_log.push("child ran");
                20
            })
            .unwrap();
        let value = child.await.unwrap() + 22;
        log.push("parent returns");
        value
    })
    .unwrap()
}

#[test]
fn local_tasks_on_a_local_pool() {
    let mut pool = LocalPool::new();
    let root = LocalScopedSpawner::new(pool.spawner());
    let log = LocalLog::default();
    let handle = family(&root, &log);
    assert_eq!(pool.run_until(handle).unwrap(), 42);
    assert_eq!(
        log.events(),
        ["child ran", "grandchild dropped", "parent returns"],
        "the child's handle resolves after its own child's end (G1)"
    );

    // A cancel reaches a local grandchild (G3) before the handle resolves.
    let log = LocalLog::default();
    let l = log.clone();
    let handle = root
        .spawn_task_with(move |parent| async move {
            pend_logged(&parent, &l, "grandchild dropped");
            let _dropped = OnDrop(l, "parent dropped");
            std::future::pending::<()>().await
        })
        .unwrap();
    pool.run_until_stalled();
    handle.cancel();
    let err = pool.run_until(handle).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(log.events(), ["parent dropped", "grandchild dropped"]);

    // Dropping the last clone of the root cancels its children (G8).
    let log = LocalLog::default();
    pend_logged(&root, &log, "orphan dropped");
    pool.run_until_stalled();
    drop(root);
    pool.run_until_stalled();
    assert_eq!(log.events(), ["orphan dropped"]);
}

/// On tokio's `LocalSet`: local children and a `Send` child of a local task
/// (through `with_executor`), read in a dump through the same scope.
#[test]
fn local_tasks_on_a_tokio_local_set() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let set = Rc::new(tokio::task::LocalSet::new());
    let root = LocalScopedSpawner::new(TokioLocalSpawner::new(set.clone()));
    let log = LocalLog::default();
    runtime.block_on(set.run_until(async {
        let handle = family(&root, &log);
        assert_eq!(handle.await.unwrap(), 42);
        assert_eq!(
            log.events(),
            ["child ran", "grandchild dropped", "parent returns"]
        );

        let mixed = root
            .spawn_task_with(|spawner| async move {
                let on_runtime = spawner.with_executor(TokioSpawner::current());
                let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
                let sent = on_runtime
                    .named("sent")
                    .spawn_task(async move {
                        go_rx.await.unwrap();
                        7
                    })
                    .unwrap();
                let rc = Rc::new(1); // held across an await: a local task
                tokio::task::yield_now().await;
                // The `Send` child is in this local task's scope.
                let dump = on_runtime.dump().to_string();
                go_tx.send(()).unwrap();
                (sent.await.unwrap() + *rc, dump)
            })
            .unwrap();
        let (eight, dump) = mixed.await.unwrap();
        assert_eq!(eight, 8);
        assert!(dump.contains("\"sent\": running"), "{dump}");
    }));
    let handle_after = root.spawn_task(async {});
    assert!(handle_after.is_ok(), "the root is still open");
}

/// A `Future` that is not `Send`, spawned as is.
#[test]
fn a_future_that_is_not_send() {
    fn assert_not_send<F: Future>(fut: F) -> F {
        fut
    }
    let mut pool = LocalPool::new();
    let root = LocalScopedSpawner::new(pool.spawner());
    let shared = Rc::new(RefCell::new(0));
    let counter = shared.clone();
    let handle = root
        .spawn_task(assert_not_send(async move {
            *counter.borrow_mut() += 1;
            futures::future::ready(()).await;
            *counter.borrow_mut() += 1;
            "done"
        }))
        .unwrap();
    assert_eq!(pool.run_until(handle).unwrap(), "done");
    assert_eq!(*shared.borrow(), 2);
}
