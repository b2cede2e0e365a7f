//! Readiness (issue 14): `ScopedSpawner::start` spawns a child and waits
//! until it says it is ready, getting a value from it; a child that ends
//! before that gives its result back instead. On every executor of the
//! harness.
#![allow(clippy::disallowed_types)]

mod common;

use std::future::pending;

use common::{on_each_executor, quiet_intentional_panics, until, Log};
use tasktree::{Ready, SpawnError, StartError};

/// The value comes back once the child is ready; the child runs on, with
/// children of its own, and its handle is the caller's.
#[test]
fn start_returns_the_ready_value_and_the_running_task() {
    on_each_executor!(|root, executor| async move {
        let (go_tx, go_rx) = futures::channel::oneshot::channel::<u32>();
        let (port, server) = root
            .start(|spawner, ready: Ready<u16>| async move {
                let helper = spawner.spawn_task(async { 1 }).unwrap();
                ready.ready(8080);
                let extra = go_rx.await.unwrap();
                helper.await.unwrap() + extra
            })
            .await
            .unwrap();
        assert_eq!(port, 8080, "{executor}");
        assert!(!server.is_finished(), "{executor}: it waits for go");
        go_tx.send(41).unwrap();
        assert_eq!(server.await.unwrap(), 42, "{executor}");
    });
}

/// A child that returns, panics or is cancelled before it is ready: its
/// result comes back as `StartError::Ended`.
#[test]
fn a_child_that_ends_before_it_is_ready_gives_its_result_back() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let returned = root
            .start(|_spawner, _ready: Ready<()>| async { "no ready" })
            .await;
        match returned {
            Err(StartError::Ended(Ok(value))) => assert_eq!(value, "no ready"),
            other => panic!("{executor}: {other:?}"),
        }

        let panicked = root
            .start(|_spawner, _ready: Ready<()>| async { panic!("intentional: no ready") })
            .await;
        match panicked {
            Err(StartError::Ended(Err(err))) => assert!(err.is_panic(), "{executor}: {err}"),
            other => panic!("{executor}: {other:?}"),
        }

        // Cancelled while it waits: the root shuts down under it.
        let root2 = tasktree::ScopedSpawner::new(root.executor().clone());
        let waiting = root2.start(|_spawner, _ready: Ready<()>| pending::<()>());
        let (result, ()) = futures::join!(waiting, async {
            until("the child is live", || root2.metrics().live == 1).await;
            root2.shutdown().await;
        });
        match result {
            Err(StartError::Ended(Err(err))) => {
                assert!(err.is_cancelled(), "{executor}: {err}");
                assert_eq!(
                    err.cancel_cause().map(|cause| cause.reason()),
                    Some(tasktree::CancelReason::Shutdown)
                );
            }
            other => panic!("{executor}: {other:?}"),
        }
        let err = root2.start(|_, _: Ready<()>| async {}).await.unwrap_err();
        assert!(
            matches!(err, StartError::Spawn(SpawnError::Terminated)),
            "{executor}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "cannot spawn: the spawner's task has terminated or its root was shut down"
        );
    });
}

/// Dropping `start`'s future before the child is ready cancels the child.
#[test]
fn dropping_start_before_ready_cancels_the_child() {
    on_each_executor!(|root, executor| async move {
        let log = Log::new();
        let l = log.clone();
        {
            let start = root.start(move |_spawner, _ready: Ready<()>| {
                let guard = l.guard("child");
                async move {
                    let _guard = guard;
                    pending::<()>().await
                }
            });
            // Polled once (the child is spawned), then dropped.
            futures::pin_mut!(start);
            assert!(futures::poll!(start.as_mut()).is_pending(), "{executor}");
        }
        until("the child is cancelled", || {
            log.contains("child future dropped")
        })
        .await;
        until("the child is done", || root.metrics().live == 0).await;
        assert_eq!(root.metrics().cancelled_by.handle, 1, "{executor}");
    });
}
