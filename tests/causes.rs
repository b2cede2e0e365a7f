//! Why a task was cancelled (issue 13): `CancelCause`, read from the task's
//! handle (`TaskError::cancel_cause`), from inside the task through its
//! spawner (`ScopedSpawner::cancel_cause`, in a destructor of its future),
//! and counted by `ScopeMetrics::cancelled_by`; each reason, and how causes
//! pass down the cascade, marked inherited.
#![allow(clippy::disallowed_types)]

mod common;

use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{lock, on_each_executor, quiet_intentional_panics, until};
use futures::task::Spawn;
use tasktree::{CancelCause, CancelReason, FailurePolicy, ScopedSpawn, ScopedSpawner, TaskHandle};

/// A task's name, and the cause it read.
type Seen = (&'static str, Option<CancelCause>);

/// What the tasks' destructors read from their spawners, by task name.
#[derive(Clone, Default)]
struct Causes(Arc<Mutex<Vec<Seen>>>);

impl Causes {
    /// The cause that task `name` read when its future was dropped.
    fn of(&self, name: &str) -> Option<CancelCause> {
        let seen = lock(&self.0);
        let mut found = seen.iter().filter(|(task, _)| *task == name);
        let (_, cause) = found
            .next()
            .unwrap_or_else(|| panic!("{name} never reported"));
        assert!(found.next().is_none(), "{name} reported twice");
        *cause
    }

    fn reported(&self, name: &str) -> bool {
        lock(&self.0).iter().any(|(task, _)| *task == name)
    }
}

/// Held by a task's future: when the future is dropped, records what the
/// task's spawner says of its cause.
struct Report<E: Spawn + Clone + Send + Sync + 'static> {
    name: &'static str,
    spawner: ScopedSpawner<E>,
    causes: Causes,
}

impl<E: Spawn + Clone + Send + Sync + 'static> Drop for Report<E> {
    fn drop(&mut self) {
        let cause = self.spawner.cancel_cause();
        lock(&self.causes.0).push((self.name, cause));
    }
}

/// Spawns a task named `name` under `spawner` that reports its cause when
/// its future is dropped, after spawning `children` (names) the same way
/// below itself; it never completes on its own.
fn watched<E>(
    spawner: &ScopedSpawner<E>,
    name: &'static str,
    children: &'static [&'static str],
    causes: &Causes,
) -> TaskHandle<()>
where
    E: Spawn + Clone + Send + Sync + 'static,
{
    let causes = causes.clone();
    spawner
        .named(name)
        .spawn_task_with(move |spawner| {
            // Both made at the spawn, not at the first poll, which a cancel
            // may forestall.
            if let Some((first, rest)) = children.split_first() {
                // A chain: the first child has the rest below it.
                let rest: &'static [&'static str] = rest;
                watched(&spawner, first, rest, &causes).detach();
            }
            let report = Report {
                name,
                spawner,
                causes,
            };
            async move {
                let _report = report;
                pending::<()>().await
            }
        })
        .unwrap()
}

fn cause(reason: CancelReason, inherited: bool) -> (CancelReason, bool) {
    (reason, inherited)
}

fn read(cause: Option<CancelCause>) -> (CancelReason, bool) {
    let cause = cause.expect("a cause");
    (cause.reason(), cause.is_inherited())
}

/// A handle's cancel: the task's cause is its handle's, and every task
/// below it inherits it, on every executor of the harness.
#[test]
fn a_cancel_passes_down_as_inherited() {
    on_each_executor!(|root, executor| async move {
        let causes = Causes::default();
        let top = watched(&root, "top", &["mid", "leaf"], &causes);
        until("the chain runs", || root.dump().tasks().len() == 3).await;
        top.cancel();
        let err = top.await.unwrap_err();
        assert_eq!(
            read(err.cancel_cause()),
            cause(CancelReason::Handle, false),
            "{executor}"
        );
        assert_eq!(
            read(causes.of("top")),
            cause(CancelReason::Handle, false),
            "{executor}: the task's own spawner"
        );
        until("the chain ends", || causes.reported("leaf")).await;
        assert_eq!(
            read(causes.of("mid")),
            cause(CancelReason::Handle, true),
            "{executor}"
        );
        assert_eq!(
            read(causes.of("leaf")),
            cause(CancelReason::Handle, true),
            "{executor}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "task {} \"top\" was cancelled (its handle cancelled it)",
                err.task_id().unwrap()
            )
        );
        root.shutdown().await;
    });
}

/// A shutdown: the root's children are cancelled for it, their children
/// inherit it, and the root's spawner says so too. A child that was not
/// cancelled has no cause.
#[test]
fn a_shutdown_is_the_cause_below_the_root() {
    on_each_executor!(|root, executor| async move {
        let causes = Causes::default();
        let top = watched(&root, "top", &["mid"], &causes);
        until("the chain runs", || root.dump().tasks().len() == 2).await;
        assert_eq!(root.cancel_cause(), None, "{executor}");
        root.shutdown().await;
        assert_eq!(
            read(top.await.unwrap_err().cancel_cause()),
            cause(CancelReason::Shutdown, false)
        );
        assert_eq!(
            read(causes.of("top")),
            cause(CancelReason::Shutdown, false),
            "{executor}"
        );
        assert_eq!(
            read(causes.of("mid")),
            cause(CancelReason::Shutdown, true),
            "{executor}"
        );
        assert_eq!(
            read(root.cancel_cause()),
            cause(CancelReason::Shutdown, false)
        );

        // A completed task's error-free end: nothing to report.
        let root2 = ScopedSpawner::new(root.executor().clone());
        let done = root2.spawn_task_with(|spawner| async move { spawner.cancel_cause() });
        assert_eq!(done.unwrap().await.unwrap(), None, "{executor}");
    });
}

/// Dropping the last clone of a root cancels its children for a shutdown.
#[test]
fn a_dropped_root_is_a_shutdown() {
    on_each_executor!(|root, executor| async move {
        let causes = Causes::default();
        let root2 = ScopedSpawner::new(root.executor().clone());
        let top = watched(&root2, "top", &[], &causes);
        until("the task runs", || root2.metrics().live == 1).await;
        drop(root2);
        let err = top.await.unwrap_err();
        assert_eq!(
            read(err.cancel_cause()),
            cause(CancelReason::Shutdown, false),
            "{executor}"
        );
        drop(root);
    });
}

/// A task whose future returns cancels the children it left: their cause
/// is their parent's end (not inherited), and theirs inherit it.
#[test]
fn a_parent_that_returns_ends_its_children() {
    on_each_executor!(|root, executor| async move {
        let causes = Causes::default();
        let parent = {
            let causes = causes.clone();
            root.spawn_task_with(move |spawner| async move {
                watched(&spawner, "left", &["below"], &causes).detach();
                until("the child's child runs", || {
                    spawner.dump().tasks().len() == 2
                })
                .await;
            })
            .unwrap()
        };
        parent.await.unwrap();
        until("the children end", || causes.reported("below")).await;
        assert_eq!(
            read(causes.of("left")),
            cause(CancelReason::ParentEnded, false),
            "{executor}"
        );
        assert_eq!(
            read(causes.of("below")),
            cause(CancelReason::ParentEnded, true),
            "{executor}"
        );
        assert_eq!(
            root.metrics().cancelled,
            0,
            "the parent completed: {executor}"
        );
        root.shutdown().await;
    });
}

/// Fail-fast: a sibling's failure names the failed task; the scope's own
/// task is cancelled for its child's failure; the siblings' children
/// inherit the sibling's failure.
#[test]
fn a_fail_fast_failure_names_the_failed_sibling() {
    quiet_intentional_panics();
    on_each_executor!(|root, executor| async move {
        let causes = Causes::default();
        let (tx, rx) = futures::channel::oneshot::channel();
        let owner = {
            let causes = causes.clone();
            root.named("owner")
                .spawn_task_with(move |spawner| async move {
                    let _report = Report {
                        name: "owner",
                        spawner: spawner.clone(),
                        causes: causes.clone(),
                    };
                    spawner.set_failure_policy(FailurePolicy::FailFast);
                    watched(&spawner, "sibling", &["nephew"], &causes).detach();
                    until("the sibling's child runs", || {
                        spawner.dump().tasks().len() == 2
                    })
                    .await;
                    let failing = spawner
                        .spawn_task(async { panic!("intentional failure") })
                        .unwrap();
                    let _ = tx.send(failing.id());
                    pending::<()>().await
                })
                .unwrap()
        };
        let failed = rx.await.unwrap();
        assert!(
            owner.await.unwrap_err().is_panic(),
            "{executor}: the failure, not a cancel"
        );
        assert_eq!(
            read(causes.of("sibling")),
            cause(CancelReason::SiblingFailed(failed), false),
            "{executor}"
        );
        assert_eq!(
            read(causes.of("nephew")),
            cause(CancelReason::SiblingFailed(failed), true),
            "{executor}"
        );
        assert_eq!(
            read(causes.of("owner")),
            cause(CancelReason::ChildFailed, false),
            "{executor}"
        );
        root.shutdown().await;
    });
}

/// `try_scope`: a `spawn_try` child's error cancels its siblings, whose
/// handles name it.
#[test]
fn a_try_scope_error_names_the_failed_child() {
    #[derive(Debug, PartialEq)]
    enum Error {
        Spawn,
        Backend,
    }
    impl From<tasktree::SpawnError> for Error {
        fn from(_: tasktree::SpawnError) -> Self {
            Error::Spawn
        }
    }
    on_each_executor!(|root, executor| async move {
        let causes = Causes::default();
        let (tx, rx) = futures::channel::oneshot::channel();
        let result: Result<(), Error> = root
            .try_scope(|scope| {
                let causes = causes.clone();
                async move {
                    watched(&scope, "waiting", &["below"], &causes).detach();
                    let failing = scope.spawn_try(async { Err::<(), _>(Error::Backend) })?;
                    // In the same poll as the spawn: the body is dropped
                    // between polls.
                    let _ = tx.send(failing.id());
                    pending().await
                }
            })
            .await;
        assert_eq!(result, Err(Error::Backend), "{executor}");
        let failed = rx.await.unwrap();
        assert_eq!(
            read(causes.of("waiting")),
            cause(CancelReason::SiblingFailed(failed), false),
            "{executor}"
        );
        assert_eq!(
            read(causes.of("below")),
            cause(CancelReason::SiblingFailed(failed), true),
            "{executor}"
        );
    });
}

/// A deadline: the task's error says its deadline passed (and is
/// `is_deadline_exceeded`); its children and theirs inherit it, also
/// through a scope block opened in the task.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_deadline_passes_down_through_tasks_and_scope_blocks() {
    let root = ScopedSpawner::tokio();
    let causes = Causes::default();
    let request = {
        let causes = causes.clone();
        root.named("request")
            .spawn_task_with(move |spawner| async move {
                watched(&spawner, "backend", &["connection"], &causes).detach();
                let _ = spawner
                    .scope(|block| async move {
                        watched(&block, "in block", &[], &causes).detach();
                        pending::<()>().await
                    })
                    .await;
            })
            .unwrap()
    };
    request.set_timeout(Duration::from_secs(1)).unwrap();
    let err = request.await.unwrap_err();
    assert!(err.is_deadline_exceeded());
    assert_eq!(
        read(err.cancel_cause()),
        cause(CancelReason::Deadline, false)
    );
    until("the tree ends", || causes.reported("connection")).await;
    assert_eq!(
        read(causes.of("backend")),
        cause(CancelReason::Deadline, true)
    );
    assert_eq!(
        read(causes.of("connection")),
        cause(CancelReason::Deadline, true)
    );
    assert_eq!(
        read(causes.of("in block")),
        cause(CancelReason::Deadline, true)
    );
    let by = root.metrics().cancelled_by;
    assert_eq!((by.deadline, by.total()), (1, 1));
}

/// A graceful cancel: the task is asked to stop, and its spawner already
/// says why; the cancel at the end of the grace period keeps that cause
/// (not a deadline's). Its child, asked in turn, inherits it.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_graceful_cancel_keeps_its_cause_after_the_grace_period() {
    let root = ScopedSpawner::tokio();
    let causes = Causes::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let stubborn = {
        let causes = causes.clone();
        root.spawn_task_with(move |spawner| async move {
            watched(&spawner, "child", &[], &causes).detach();
            spawner.stop_requested().await;
            let _ = tx.send(spawner.cancel_cause());
            pending::<()>().await // ignores the request
        })
        .unwrap()
    };
    tokio::task::yield_now().await;
    stubborn.cancel_with_grace(Duration::from_secs(5)).unwrap();
    assert_eq!(read(rx.await.unwrap()), cause(CancelReason::Handle, false));
    let dump = root.dump();
    assert!(
        dump.to_string()
            .contains("asked to stop (an ancestor's handle cancelled it)"),
        "{dump}"
    );
    let err = stubborn.await.unwrap_err();
    assert!(err.is_cancelled() && !err.is_deadline_exceeded());
    assert_eq!(read(err.cancel_cause()), cause(CancelReason::Handle, false));
    assert_eq!(read(causes.of("child")), cause(CancelReason::Handle, true));
}

/// A `CancellationToken` given to `cancel_on`.
#[tokio::test(flavor = "current_thread")]
async fn a_token_is_the_cause() {
    let root = ScopedSpawner::tokio();
    let causes = Causes::default();
    let token = tokio_util::sync::CancellationToken::new();
    root.cancel_on(token.clone()).unwrap();
    let worker = watched(&root, "worker", &["helper"], &causes);
    tokio::task::yield_now().await;
    token.cancel();
    let err = worker.await.unwrap_err();
    assert_eq!(read(err.cancel_cause()), cause(CancelReason::Token, false));
    until("the helper ends", || causes.reported("helper")).await;
    assert_eq!(read(causes.of("helper")), cause(CancelReason::Token, true));
    assert_eq!(read(root.cancel_cause()), cause(CancelReason::Token, false));
}

/// The executor dropping a task (its runtime shut down): the handle's
/// error says so, awaited from elsewhere.
#[test]
fn a_task_dropped_by_its_executor() {
    let runtime = common::tokio_current_thread();
    let root = common::tokio_root(&runtime);
    let task = root.spawn_task(pending::<()>()).unwrap();
    runtime.block_on(tokio::task::yield_now());
    drop(runtime);
    let err = futures::executor::block_on(task).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(
        read(err.cancel_cause()),
        cause(CancelReason::Executor, false)
    );
    assert_eq!(root.metrics().cancelled_by.executor, 1);
}

/// The metrics count each cancel by its reason, inherited ones by theirs.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn metrics_count_cancels_by_reason() {
    let root = ScopedSpawner::tokio();
    let by_handle = root.spawn_task(pending::<()>()).unwrap();
    by_handle.cancel();
    let _ = by_handle.await;
    let late = root.spawn_task(pending::<()>()).unwrap();
    late.set_timeout(Duration::from_secs(1)).unwrap();
    let _ = late.await;
    let left = root.spawn_task(pending::<()>()).unwrap();
    tokio::task::yield_now().await;
    root.shutdown().await;
    let _ = left.await;
    let metrics = root.metrics();
    let by = metrics.cancelled_by;
    assert_eq!((by.handle, by.deadline, by.shutdown), (1, 1, 1), "{by:?}");
    assert_eq!((by.total(), metrics.cancelled), (3, 3));
}

/// The serde form of a cause (feature `serde`).
#[test]
fn a_cause_round_trips_as_json() {
    let runtime = common::tokio_current_thread();
    let root = common::tokio_root(&runtime);
    runtime.block_on(async {
        let task = root.spawn_task(pending::<()>()).unwrap();
        task.cancel();
        let cause = task.await.unwrap_err().cancel_cause().unwrap();
        let json = serde_json::to_string(&cause).unwrap();
        assert_eq!(json, r#"{"reason":"handle","inherited":false}"#);
        assert_eq!(serde_json::from_str::<CancelCause>(&json).unwrap(), cause);
    });
}

/// The README's example ("Seeing the tree: names, dumps, causes"), with a
/// second backend added, which reports its own cause when dropped.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_readme_example() {
    let root = ScopedSpawner::tokio();
    let causes = Causes::default();
    let seen = causes.clone();
    // README
    let request = root
        .spawn_task_with(|request| async move {
            let backend = request.spawn_task(std::future::pending::<()>()).unwrap();
            watched(&request, "second backend", &[], &seen).detach(); // (added)
            backend.await.unwrap_err() // never returns: the request is cancelled first
        })
        .unwrap();
    request.set_timeout(Duration::from_secs(1)).unwrap();
    let err = request.await.unwrap_err();
    let cause = err.cancel_cause().unwrap();
    assert_eq!(
        (cause.reason(), cause.is_inherited()),
        (CancelReason::Deadline, false)
    );
    assert_eq!(root.metrics().cancelled_by.deadline, 1);
    // README
    let second = causes.of("second backend");
    assert_eq!(read(second), (CancelReason::Deadline, true));
}

/// A spawner's cause can be read from anywhere, at any time: here from
/// tasks on other worker threads, holding a clone of a parent's spawner
/// while the parent finishes, is dropped and its slot is reused.
#[test]
fn a_cause_is_read_safely_while_its_task_ends() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    runtime.block_on(async {
        for round in 0..200 {
            let (tx, rx) = std::sync::mpsc::channel();
            let parent = root
                .spawn_task_with(move |spawner| async move {
                    let clone = spawner.clone();
                    // Reads on another thread while this task ends.
                    tokio::spawn(async move {
                        for _ in 0..50 {
                            let _ = tx.send(clone.cancel_cause());
                            tokio::task::yield_now().await;
                        }
                    });
                    if round % 2 == 0 {
                        std::future::pending::<()>().await;
                    }
                })
                .unwrap();
            if round % 2 == 0 {
                parent.cancel();
            }
            let _ = parent.await;
            while let Ok(cause) = rx.recv_timeout(Duration::from_secs(5)) {
                // The cancelled task's own cause, or none yet; none for a
                // task that completed.
                if let Some(cause) = cause {
                    assert_eq!(round % 2, 0, "completed, yet {cause:?}");
                    assert_eq!(read(Some(cause)), (CancelReason::Handle, false));
                }
            }
        }
    });
}
