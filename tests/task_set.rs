//! Results as they come (issue 14): `TaskSet`, in completion order and in
//! spawn order, on every executor of the harness; and the discarding mode
//! (no handle kept), whose memory stays flat, in `tests/discarding.rs`.
#![allow(clippy::disallowed_types)]

mod common;

use futures::channel::oneshot;
use futures::StreamExt;

use common::{on_each_executor, until};
use tasktree::{SpawnError, TaskSet};

/// Results come in the order the tasks finish; `join_all` gives them in
/// spawn order.
#[test]
fn results_come_in_completion_order_and_join_all_in_spawn_order() {
    on_each_executor!(|root, executor| async move {
        let mut set = TaskSet::new(&root);
        let mut gates = Vec::new();
        for n in 0..3u32 {
            let (tx, rx) = oneshot::channel::<()>();
            gates.push(tx);
            set.spawn(async move {
                rx.await.unwrap();
                n
            })
            .unwrap();
        }
        assert_eq!(set.len(), 3);
        // Finish them in the order 2, 0, 1.
        let mut gates: Vec<Option<oneshot::Sender<()>>> = gates.into_iter().map(Some).collect();
        let mut seen = Vec::new();
        for n in [2, 0, 1] {
            gates[n].take().unwrap().send(()).unwrap();
            seen.push(set.join_next().await.unwrap().unwrap());
        }
        assert_eq!(seen, [2, 0, 1], "{executor}");
        assert!(set.join_next().await.is_none());
        assert!(set.is_empty());

        let mut set = TaskSet::new(&root);
        let mut gates = Vec::new();
        for n in 0..4u32 {
            let (tx, rx) = oneshot::channel::<()>();
            gates.push(tx);
            set.spawn_with(move |_child| async move {
                rx.await.unwrap();
                n * 10
            })
            .unwrap();
        }
        for tx in gates.into_iter().rev() {
            tx.send(()).unwrap();
        }
        let all: Vec<u32> = set
            .join_all()
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(all, [0, 10, 20, 30], "{executor}");
    });
}

/// The set as a `Stream`; `cancel_all`; dropping the set cancels what is
/// left in it; a set over a terminated spawner refuses to spawn.
#[test]
fn a_set_cancels_what_it_holds() {
    on_each_executor!(|root, executor| async move {
        let mut set = TaskSet::new(&root);
        set.spawn(async { 1 }).unwrap();
        set.spawn(std::future::pending::<i32>()).unwrap();
        assert_eq!(set.next().await.unwrap().unwrap(), 1, "{executor}");
        set.cancel_all();
        let err = set.next().await.unwrap().unwrap_err();
        assert!(err.is_cancelled(), "{executor}");
        assert!(set.next().await.is_none());

        let mut set = TaskSet::new(&root);
        for _ in 0..3 {
            set.spawn(std::future::pending::<()>()).unwrap();
        }
        until("the tasks run", || root.metrics().live == 3).await;
        drop(set);
        until("the tasks are cancelled", || root.metrics().live == 0).await;
        assert_eq!(root.metrics().cancelled_by.handle, 4, "{executor}");

        let mut set = TaskSet::new(&root);
        root.shutdown().await;
        assert_eq!(set.spawn(async {}).unwrap_err(), SpawnError::Terminated);
    });
}

/// The README's shape: a limit, `reserve`, and a set of the handles; at
/// most `limit` run at once, and every result comes in.
#[test]
fn a_set_of_tasks_spawned_under_a_limit() {
    on_each_executor!(|root, executor| async move {
        root.set_limit(Some(4));
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut set = TaskSet::new(&root);
        for n in 0..12u32 {
            let place = root.reserve().await.unwrap(); // at most 4 at once
            let (running, most) = (running.clone(), most.clone());
            set.insert(
                place
                    .spawn_task(async move {
                        use std::sync::atomic::Ordering::SeqCst;
                        most.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                        common::yield_now().await;
                        running.fetch_sub(1, SeqCst);
                        n
                    })
                    .unwrap(),
            );
        }
        let mut sum = 0;
        while let Some(n) = set.join_next().await {
            sum += n.unwrap();
        }
        assert_eq!(sum, 66, "{executor}");
        let most = most.load(std::sync::atomic::Ordering::SeqCst);
        assert!(most <= 4, "{executor}: {most} at once");
    });
}
