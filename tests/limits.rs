//! A concurrency limit per scope (issue 14): `set_limit`, the "try" form
//! of every spawn (`SpawnError::AtLimit`), and `reserve`, which waits for
//! room; on every executor of the harness. The race of a waiting reserve
//! with a cancel of the scope is the loom model `loom-tests/tests/limit.rs`.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::channel::oneshot;
use futures::FutureExt;

use common::{on_each_executor, until};
use tasktree::{ScopedSpawn, SpawnError};

/// At the limit every spawn method fails at once; a child's end (after its
/// own children) makes room.
#[test]
fn a_spawn_at_the_limit_fails_at_once() {
    on_each_executor!(|root, executor| async move {
        root.set_limit(Some(2));
        assert_eq!(root.limit(), Some(2));
        let (tx, rx) = oneshot::channel::<()>();
        let first = root
            .spawn_task_with(|child| async move {
                // A grandchild does not count against the root's limit.
                child.spawn_task(async {}).unwrap().await.unwrap();
                rx.await.unwrap();
            })
            .unwrap();
        let second = root.spawn_task(std::future::pending::<()>()).unwrap();
        assert_eq!(
            root.spawn_task(async {}).unwrap_err(),
            SpawnError::AtLimit,
            "{executor}"
        );
        assert_eq!(
            root.spawn_future(async {}, || ()).unwrap_err(),
            SpawnError::AtLimit
        );
        assert_eq!(
            root.spawn(|_| async {}, || ()).unwrap_err().to_string(),
            "cannot spawn: the scope is at its limit of live children"
        );
        tx.send(()).unwrap();
        first.await.unwrap();
        root.spawn_task(async {}).unwrap().await.unwrap();
        second.cancel();
        let _ = second.await;
        assert_eq!(
            root.metrics().spawned,
            3,
            "{executor}: refused spawns do not count"
        );
        root.set_limit(None);
        assert_eq!(root.limit(), None);
    });
}

/// `reserve` in a loop runs at most `limit` children at once, and all of
/// them.
#[test]
fn reserve_waits_for_room() {
    on_each_executor!(|root, executor| async move {
        root.set_limit(Some(3));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for n in 0..20usize {
            let place = root.reserve().await.unwrap();
            let (running, most) = (running.clone(), most.clone());
            handles.push(
                place
                    .spawn_task(async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        for _ in 0..3 {
                            common::yield_now().await;
                        }
                        running.fetch_sub(1, Ordering::SeqCst);
                        n
                    })
                    .unwrap(),
            );
        }
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        assert_eq!(sum, 190, "{executor}");
        let most = most.load(Ordering::SeqCst);
        assert!((1..=3).contains(&most), "{executor}: {most} at once");
        assert_eq!(root.metrics().spawned, 20);
    });
}

/// A waiting reserve fails when the scope closes; an unused place frees its
/// room (and is no child); a dropped reserve passes its wake-up on; lifting
/// or raising the limit wakes the waiters.
#[test]
fn reserve_and_places_give_their_room_back() {
    on_each_executor!(|root, executor| async move {
        root.set_limit(Some(1));
        let place = root.reserve().await.unwrap();
        assert_eq!(
            root.spawn_task(async {}).unwrap_err(),
            SpawnError::AtLimit,
            "{executor}"
        );
        // Two waiters; the first is dropped after its wake-up, before
        // polling again: the second gets the room.
        let mut first = Box::pin(root.reserve());
        let mut second = Box::pin(root.reserve());
        assert!(first.as_mut().now_or_never().is_none());
        assert!(second.as_mut().now_or_never().is_none());
        drop(place);
        drop(first);
        let place = second.await.unwrap();
        assert_eq!(
            root.metrics().spawned,
            1,
            "{executor}: places unused are no children"
        );
        let handle = place.spawn_task(async { 7 }).unwrap();
        assert_eq!(handle.await.unwrap(), 7);

        // Raising the limit wakes as many waiters as it makes room for.
        let blocker = root.spawn_task(std::future::pending::<()>()).unwrap();
        let waiting = root.reserve();
        let (got, ()) = futures::join!(waiting, async {
            common::yield_now().await;
            root.set_limit(Some(2));
        });
        drop(got.unwrap());
        // Lifting it wakes them all.
        root.set_limit(Some(1));
        let waiting = root.reserve();
        let (got, ()) = futures::join!(waiting, async {
            common::yield_now().await;
            root.set_limit(None);
        });
        drop(got.unwrap());

        // A waiting reserve fails when the scope closes.
        root.set_limit(Some(1));
        let waiting = root.reserve();
        let (got, ()) = futures::join!(waiting, async {
            common::yield_now().await;
            root.shutdown().await;
        });
        assert_eq!(got.unwrap_err(), SpawnError::Terminated, "{executor}");
        assert_eq!(root.reserve().await.unwrap_err(), SpawnError::Terminated);
        let _ = blocker.await;
        until("the scope is empty", || root.metrics().live == 0).await;
    });
}
