//! `SpawnError`: which failure happened, and what the library did about it.
//! `Terminated` when the spawner's scope has ended (no `fun`, no `done`);
//! `Executor` when the executor refused the task (the child's `done` ran
//! exactly once, and its future was dropped). Never a panic.
#![allow(clippy::disallowed_types)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Counter, Log, ManualExecutor};
use futures::future::FutureObj;
use futures::task::Spawn;
use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError};

/// An executor that refuses every task, as a shut-down executor does.
#[derive(Clone, Debug)]
struct RefusingExecutor;

impl Spawn for RefusingExecutor {
    fn spawn_obj(&self, _future: FutureObj<'static, ()>) -> Result<(), futures::task::SpawnError> {
        Err(futures::task::SpawnError::shutdown())
    }
}

/// G4 on refusal: each spawn method returns `SpawnError::Executor`; the
/// child's future was made and dropped once, its `done` ran exactly once
/// before the error was returned, and the scope counts no live child.
#[test]
fn executor_refusal_runs_done_once() {
    let root = ScopedSpawner::new(RefusingExecutor);
    let (made, drops, dones) = (Counter::new(), Counter::new(), Counter::new());

    let (m, d) = (made.clone(), drops.guard());
    let err = root
        .spawn(
            move |_| {
                m.incr();
                async move {
                    let _guard = d;
                }
            },
            dones.done(),
        )
        .unwrap_err();
    assert_eq!(err, SpawnError::Executor);
    assert_eq!((made.get(), drops.get(), dones.get()), (1, 1, 1), "spawn");

    let d = drops.guard();
    let err = root
        .spawn_with_signal(move |_| async move { drop(d) }, dones.done())
        .unwrap_err();
    assert!(err.is_executor() && !err.is_terminated());
    assert_eq!((drops.get(), dones.get()), (2, 2), "spawn_with_signal");

    let d = drops.guard();
    let err = root
        .spawn_future(async move { drop(d) }, dones.done())
        .unwrap_err();
    assert_eq!(err, SpawnError::Executor);
    assert_eq!((drops.get(), dones.get()), (3, 3), "spawn_future");

    let d = drops.guard();
    let err = root
        .spawn_future_with_signal(async move { drop(d) }, dones.done())
        .unwrap_err();
    assert_eq!(err, SpawnError::Executor);
    assert_eq!(
        (drops.get(), dones.get()),
        (4, 4),
        "spawn_future_with_signal"
    );

    assert_eq!(root.live_children(), 0);
    assert!(!root.is_terminated(), "a refusal does not close the scope");
    futures::executor::block_on(root.shutdown());
}

/// G2 on refusal: when the executor refuses a child after its `fun` spawned
/// a grandchild (accepted), the grandchild is cancelled, and the child's
/// `done` runs once, after the grandchild's.
#[test]
fn executor_refusal_after_fun_spawned_a_grandchild() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let log = Log::new();
    // Accept the grandchild, refuse the child itself.
    executor.refuse_after(1);
    let l = log.clone();
    let err = root
        .spawn(
            move |spawner| {
                let guard = l.guard("grandchild");
                spawner
                    .spawn_future(
                        async move {
                            let _guard = guard;
                            std::future::pending::<()>().await
                        },
                        l.done("grandchild"),
                    )
                    .expect("the grandchild is accepted");
                let guard = l.guard("child");
                async move {
                    let _guard = guard;
                }
            },
            log.done("child"),
        )
        .unwrap_err();
    assert_eq!(err, SpawnError::Executor);
    // The child's `done` waits for the grandchild (G2), so it has not run
    // yet when the error is returned.
    log.assert_exact(&["child future dropped"]);
    executor.run_until_stalled();
    log.assert_exact(&[
        "child future dropped",
        "grandchild future dropped",
        "grandchild done",
        "child done",
    ]);
    assert_eq!(root.live_children(), 0);
}

/// `Terminated` when the spawner's task has ended: no `fun`, no `done`.
/// (tests/no_orphans.rs covers every spawn method and the races.)
#[test]
fn terminated_after_task_ended() {
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    let slot = Arc::new(Mutex::new(None));
    let s = slot.clone();
    root.spawn(
        move |spawner| {
            *common::lock(&s) = Some(spawner);
            async {}
        },
        || (),
    )
    .expect("spawn");
    executor.run_until_stalled();
    let leftover = common::lock(&slot).take().expect("the task's spawner");
    let (calls, dones) = (Counter::new(), Counter::new());
    let c = calls.clone();
    let err = leftover
        .spawn(
            move |_| {
                c.incr();
                async {}
            },
            dones.done(),
        )
        .unwrap_err();
    assert!(err.is_terminated() && !err.is_executor());
    assert_eq!((calls.get(), dones.get()), (0, 0));
    assert_eq!(executor.spawned(), 1, "nothing reached the executor");
}

/// `Terminated` from the low-level API: a `RemoteScope` dropped unwrapped
/// cancels the children registered through its spawner, and its spawner
/// then refuses to register more.
#[test]
fn terminated_after_remote_scope_dropped() {
    let mut scope = RemoteScope::new();
    let spawner = scope.spawner();
    let (parent, child) = spawner.spawn_raw_with_signal().expect("register");
    assert!(!child.cancel_receiver.is_cancelled());
    drop(scope);
    assert!(child.cancel_receiver.is_cancelled());
    assert!(parent.cancel_sender.is_cancelled());
    assert_eq!(spawner.spawn_raw().map(drop), Err(SpawnError::Terminated));
    assert_eq!(
        spawner.spawn_raw_with_signal().map(drop),
        Err(SpawnError::Terminated)
    );
    drop(child);
    assert!(
        parent.done_receiver.is_done(),
        "dropping the child's signals sends done"
    );
}

/// The error type: `From<futures::task::SpawnError>` gives `Executor`,
/// equality distinguishes the variants, and `Display` says which failure
/// happened.
#[test]
fn spawn_error_type() {
    let from_futures = SpawnError::from(futures::task::SpawnError::shutdown());
    assert_eq!(from_futures, SpawnError::Executor);
    assert_ne!(SpawnError::Executor, SpawnError::Terminated);
    let terminated = SpawnError::Terminated.to_string();
    let executor = SpawnError::Executor.to_string();
    assert!(terminated.contains("terminated"), "{terminated}");
    assert!(executor.contains("executor"), "{executor}");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(SpawnError::Terminated);
    assert_eq!(boxed.to_string(), terminated);
}

/// The timer error type: `Display` says what is missing, and it converts
/// into a boxed error.
#[test]
fn timer_error_type() {
    use tasktree::TimerError;
    assert_ne!(TimerError::NoRuntime, TimerError::NoTimeDriver);
    let no_runtime = TimerError::NoRuntime.to_string();
    let no_driver = TimerError::NoTimeDriver.to_string();
    assert!(
        no_runtime.contains("outside a tokio runtime"),
        "{no_runtime}"
    );
    assert!(no_driver.contains("enable_time"), "{no_driver}");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(TimerError::NoTimeDriver);
    assert_eq!(boxed.to_string(), no_driver);
}

/// A cancel receiver resolves once its task has terminated normally (there
/// is nothing left to cancel), while `is_cancelled` stays false.
#[test]
fn the_cancel_receiver_resolves_once_the_task_has_completed() {
    let mut scope = RemoteScope::new();
    let (parent, child) = scope.spawner().spawn_raw_with_signal().expect("register");
    let receiver = child.cancel_receiver.clone();
    futures::executor::block_on(RemoteScope::new().wrap(child, async {}, || ()));
    assert!(parent.done_receiver.is_done());
    futures::executor::block_on(receiver.clone()); // resolves
    assert!(!receiver.is_cancelled());
    assert!(!receiver.is_stop_requested());
    assert!(!parent.cancel_sender.is_cancelled());
}

/// `CancelSender::cancel` takes `&self`, as `TaskHandle::cancel` does: the
/// sender stays usable (to ask `is_cancelled`), and cancelling twice or
/// dropping it afterwards does nothing more.
#[test]
fn cancel_sender_cancels_in_place() {
    let mut scope = RemoteScope::new();
    let (parent, child) = scope.spawner().spawn_raw_with_signal().expect("register");
    parent.cancel_sender.cancel();
    assert!(parent.cancel_sender.is_cancelled());
    assert!(child.cancel_receiver.is_cancelled());
    parent.cancel_sender.cancel();
    drop(parent.cancel_sender);
    drop(child);
    assert!(parent.done_receiver.is_done());
}
