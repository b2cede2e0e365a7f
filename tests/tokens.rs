//! `tokio_util::sync::CancellationToken` interop, both ways: a scope's
//! token is cancelled when the scope is asked to stop or begins its
//! termination; `cancel_on(token)` shuts a scope down when a token is
//! cancelled.
#![allow(clippy::disallowed_types)]

mod common;

use std::future::pending;
use std::time::Duration;

use common::Log;
use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio_util::sync::CancellationToken;

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn a_tasks_token_is_cancelled_when_its_future_ends() {
    let root = ScopedSpawner::tokio();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let signals = root
        .spawn_with_signal(
            move |task| async move {
                let token = task.cancellation_token();
                assert!(!token.is_cancelled());
                tx.send(token).unwrap();
            },
            || (),
        )
        .unwrap();
    let token = rx.await.unwrap();
    signals.done_receiver.await;
    assert!(
        token.is_cancelled(),
        "phase 3 began the scope's termination"
    );
}

#[tokio::test(start_paused = true)]
async fn a_tasks_token_is_cancelled_by_a_stop_request_before_the_cancel() {
    let log = Log::new();
    let root = ScopedSpawner::tokio();
    let l = log.clone();
    let handle = root
        .spawn_task({
            let root = root.clone();
            async move {
                // Code that takes a token: here a nested task's spawner.
                root.scope(|s| async move {
                    let token = s.cancellation_token();
                    token.cancelled().await;
                    l.push("token cancelled; flushing");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    l.push("flushed");
                })
                .await
                .unwrap();
            }
        })
        .unwrap();
    tokio::task::yield_now().await;
    root.shutdown_with_grace(Duration::from_secs(1))
        .unwrap()
        .await;
    handle.await.unwrap();
    log.assert_exact(&["token cancelled; flushing", "flushed"]);
}

#[tokio::test]
async fn a_roots_token_is_cancelled_by_shutdown_and_by_the_last_drop() {
    let root = ScopedSpawner::tokio();
    let token = root.cancellation_token();
    assert!(!token.is_cancelled());
    root.shutdown().await;
    assert!(token.is_cancelled());
    // A token asked for after the stop is cancelled already.
    assert!(root.cancellation_token().is_cancelled());

    let root = ScopedSpawner::tokio();
    let token = root.cancellation_token();
    drop(root);
    assert!(token.is_cancelled());
}

#[tokio::test]
async fn a_scope_block_token_is_cancelled_when_the_block_ends() {
    let token = tasktree::scope(|s| async move { s.cancellation_token() }).await;
    assert!(token.is_cancelled());
}

#[tokio::test]
async fn cancelling_the_given_token_shuts_the_root_down() {
    let log = Log::new();
    let token = CancellationToken::new();
    let root = ScopedSpawner::tokio();
    root.cancel_on(token.clone()).unwrap();
    let signals = root
        .spawn_future_with_signal(common::pend(&log, "worker", None), log.done("worker"))
        .unwrap();
    tokio::task::yield_now().await;
    assert!(!log.contains("worker future dropped"));
    token.cancel();
    signals.done_receiver.await;
    log.assert_exact(&["worker future dropped", "worker done"]);
    assert!(root.is_terminated());
    assert!(root.spawn_future(async {}, || ()).is_err());
}

#[tokio::test]
async fn cancelling_the_given_token_stops_a_task_scope_and_its_task_sees_it() {
    let log = Log::new();
    let token = CancellationToken::new();
    let root = ScopedSpawner::tokio();
    let l = log.clone();
    let given = token.clone();
    let signals = root
        .spawn_with_signal(
            move |task| async move {
                task.cancel_on(given).unwrap();
                task.spawn_future(common::pend(&l, "child", None), l.done("child"))
                    .unwrap();
                task.stop_requested().await;
                l.push("task saw the stop");
            },
            log.done("task"),
        )
        .unwrap();
    tokio::task::yield_now().await;
    token.cancel();
    signals.done_receiver.await;
    drop(signals.cancel_sender);
    log.assert_order(&["child future dropped", "child done", "task done"]);
    log.assert_order(&["task saw the stop", "task done"]);
}

#[tokio::test]
async fn cancelling_the_given_token_cancels_a_scope_blocks_children() {
    let log = Log::new();
    let token = CancellationToken::new();
    let given = token.clone();
    let l = log.clone();
    let scope = tokio::spawn(tasktree::scope(move |s| async move {
        s.cancel_on(given).unwrap();
        s.spawn_future(common::pend(&l, "child", None), l.done("child"))
            .unwrap();
        s.stop_requested().await;
        l.push("body saw the stop");
    }));
    tokio::task::yield_now().await;
    token.cancel();
    scope.await.unwrap();
    log.assert_once(&["child future dropped", "child done", "body saw the stop"]);
}

/// A token that is never cancelled leaves nothing behind: the watcher ends
/// with the scope.
#[tokio::test(flavor = "current_thread")]
async fn the_watcher_of_a_token_never_cancelled_ends_with_its_scope() {
    let token = CancellationToken::new();
    let root = ScopedSpawner::tokio();
    root.cancel_on(token.clone()).unwrap();
    root.spawn_future(pending(), || ()).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), 2, "the child and the watcher");
    root.shutdown().await;
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), 0);
    assert!(
        !token.is_cancelled(),
        "the scope does not cancel a given token"
    );
}

/// Cancelling a scope's own token from outside does nothing to the scope.
#[tokio::test]
async fn a_scopes_token_is_one_way() {
    let root = ScopedSpawner::tokio();
    root.cancellation_token().cancel();
    assert!(!root.is_stop_requested());
    assert!(root.spawn_future(async {}, || ()).is_ok());
}

/// Every call returns the same token: cancelling one clone from outside is
/// seen through every other (and does nothing to the scope). After the stop,
/// a token asked for first then is the scope's own one, cancelled.
#[tokio::test]
async fn every_call_returns_the_same_token() {
    let root = ScopedSpawner::tokio();
    let first = root.cancellation_token();
    let second = root.cancellation_token();
    first.cancel();
    assert!(second.is_cancelled());
    assert!(
        !root.is_stop_requested(),
        "the token does not stop the scope"
    );

    let root = ScopedSpawner::tokio();
    root.shutdown().await;
    let after = root.cancellation_token();
    assert!(after.is_cancelled());
    assert!(root.cancellation_token().is_cancelled());
}

/// Issue 12: code that accepts `impl ScopedSpawn`, as the docs advise,
/// reaches the stop API through the trait (it got `E0599` when the API was
/// on `ScopedSpawner` only), and a struct field holding a tokio spawner is
/// spelled `ScopedSpawner` (it was `E0107` without the type argument).
#[tokio::test(start_paused = true)]
async fn the_stop_api_is_on_the_trait() {
    async fn worker(spawner: impl ScopedSpawn, log: Log) {
        let token = spawner.cancellation_token();
        assert!(!spawner.is_stop_requested());
        spawner.stop_requested().await;
        assert!(spawner.is_stop_requested());
        assert!(token.is_cancelled());
        log.push("worker saw the stop");
    }

    struct Server {
        tasks: ScopedSpawner,
    }

    let log = Log::new();
    let server = Server {
        tasks: ScopedSpawner::tokio(),
    };
    let l = log.clone();
    server
        .tasks
        .spawn(move |spawner| worker(spawner, l), log.done("worker"))
        .unwrap();
    tokio::task::yield_now().await;
    server
        .tasks
        .shutdown_with_grace(Duration::from_secs(5))
        .unwrap()
        .await;
    log.assert_exact(&["worker saw the stop", "worker done"]);
}
