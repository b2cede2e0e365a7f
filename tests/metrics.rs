//! Per-scope metrics (issue 13): `ScopedSpawner::metrics`, on every
//! executor of the test harness.
#![allow(clippy::disallowed_types)]

mod common;

use common::{on_each_executor, quiet_intentional_panics, until};
use tasktree::{ScopeMetrics, ScopedSpawn, SpawnError};

fn counts(m: ScopeMetrics) -> [u64; 6] {
    [
        m.spawned,
        m.live as u64,
        m.completed,
        m.cancelled,
        m.panicked,
        m.failed,
    ]
}

/// Completed, cancelled (by its handle, by the shutdown), panicked, and a
/// child with children of its own, whose spawner counts only those.
#[test]
fn a_scope_counts_how_its_children_ended() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        assert_eq!(counts(root.metrics()), [0; 6], "{executor}");
        for n in 0..3 {
            assert_eq!(root.spawn_task(async move { n }).unwrap().await.unwrap(), n);
        }
        let cancelled = root.spawn_task(std::future::pending::<()>()).unwrap();
        cancelled.cancel();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        let panicked = root.spawn_task(async { panic!("intentional") }).unwrap();
        assert!(panicked.await.unwrap_err().is_panic());

        // A child with two children: its own spawner counts those.
        let inner = root
            .spawn_task_with(|spawner| async move {
                spawner.spawn_task(async {}).unwrap().await.unwrap();
                let left = spawner.spawn_task(std::future::pending::<()>()).unwrap();
                left.detach();
                spawner.metrics()
            })
            .unwrap()
            .await
            .unwrap();
        // Read before the child's future returned: one done, one live.
        assert_eq!(counts(inner), [2, 1, 1, 0, 0, 0], "{executor}");

        // The root's: 3 completed + 1 cancelled + 1 panicked + the child.
        assert_eq!(counts(root.metrics()), [6, 0, 4, 1, 1, 0], "{executor}");

        let pending = root.spawn_task(std::future::pending::<()>()).unwrap();
        until("the pending task is live", || root.metrics().live == 1).await;
        assert_eq!(counts(root.metrics()), [7, 1, 4, 1, 1, 0], "{executor}");
        root.shutdown().await;
        assert!(pending.await.unwrap_err().is_cancelled());
        assert_eq!(counts(root.metrics()), [7, 0, 4, 2, 1, 0], "{executor}");
    });
}

#[derive(Debug, PartialEq)]
enum Error {
    Spawn,
    Backend,
}

impl From<SpawnError> for Error {
    fn from(_: SpawnError) -> Self {
        Error::Spawn
    }
}

/// A `spawn_try` error counts as failed; the fail-fast scope that took it
/// cancels it (and its sibling) with the rest.
#[test]
fn a_try_scope_counts_a_failed_child() {
    on_each_executor!(|root, executor| async move {
        let (result, metrics) = {
            let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
            let record = seen.clone();
            let result: Result<(), Error> = root
                .try_scope(|s| async move {
                    let reader = s.clone();
                    let _sibling = s.spawn_try(std::future::pending::<Result<(), Error>>())?;
                    s.spawn_try(async { Err::<(), _>(Error::Backend) })?
                        .detach();
                    // The scope cancels this body once it took the error;
                    // the metrics are read when the scope is over.
                    *record.lock().unwrap() = Some(reader);
                    std::future::pending::<Result<(), Error>>().await
                })
                .await;
            let reader = seen.lock().unwrap().take().unwrap();
            (result, reader.metrics())
        };
        assert_eq!(result, Err(Error::Backend), "{executor}");
        assert_eq!(counts(metrics), [2, 0, 0, 2, 0, 1], "{executor}");
        assert_eq!(root.metrics().spawned, 1, "the block is the root's child");
    });
}
