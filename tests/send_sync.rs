//! Static `Send`/`Sync` assertions for the public types that are documented
//! as shareable across threads: spawners (G7), signals, the low-level
//! spawner, and `ScopedTask` when its future is `Send`. A failing assertion
//! is a compile error. One test also moves the signals across threads.
#![allow(clippy::disallowed_types)]

mod common;

use std::rc::Rc;

use futures::executor::ThreadPool;
use tasktree::remote_scope::{RawScopedSpawn, RemoteScope, RemoteSpawner, ScopedTask};
use tasktree::{
    CancelReceiver, CancelSender, ChildSignals, DoneReceiver, DoneSender, ParentSignals,
    ScopedSpawn, ScopedSpawner, Shutdown, SpawnError, StopRequested, TokioSpawner,
};

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>(_: &T) {}

/// Compiles only if `T` is not `Send` (two impls apply when it is, and the
/// call becomes ambiguous), as in tokio's tests/async_send_sync.rs.
trait AmbiguousIfSend<A> {
    fn some_item(&self) {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

/// G7: spawners are `Send + Sync` (over any `Send + Sync` executor), as are
/// the signals, the low-level spawner, the error and the `Shutdown` future.
#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<ScopedSpawner<TokioSpawner>>();
    assert_send_sync::<ScopedSpawner<ThreadPool>>();
    assert_send_sync::<ScopedSpawner<common::ManualExecutor>>();
    assert_send_sync::<TokioSpawner>();
    assert_send_sync::<RemoteSpawner>();
    assert_send_sync::<RemoteScope>();
    assert_send_sync::<ParentSignals>();
    assert_send_sync::<ChildSignals>();
    assert_send_sync::<CancelSender>();
    assert_send_sync::<CancelReceiver>();
    assert_send_sync::<DoneSender>();
    assert_send_sync::<DoneReceiver>();
    assert_send_sync::<Shutdown>();
    assert_send_sync::<SpawnError>();
    assert_send_sync::<StopRequested>();
}

/// `StopRequested` is `Unpin`: users select on `&mut stop` in a loop.
#[test]
fn stop_requested_is_unpin() {
    fn assert_unpin<T: Unpin>() {}
    assert_unpin::<StopRequested>();
}

/// A `ScopedTask` is `Send` when its future is, and not when it is not.
#[test]
fn scoped_task_is_send_iff_its_future_is() {
    let mut scope = RemoteScope::new();
    let spawner = scope.spawner();
    let send_task: ScopedTask<_, _> =
        RemoteScope::new().wrap(spawner.spawn_raw().expect("register"), async {}, || ());
    assert_send(&send_task);

    let local_task = RemoteScope::new().wrap(
        spawner.spawn_raw().expect("register"),
        not_send_future(),
        || (),
    );
    AmbiguousIfSend::some_item(&local_task);

    futures::executor::block_on(send_task);
    futures::executor::block_on(local_task);
    assert_eq!(spawner.spawn_raw().map(drop), Ok(()));
    drop(scope);
    assert_eq!(spawner.spawn_raw().map(drop), Err(SpawnError::Terminated));
}

/// A future that holds an `Rc` across an await (defined apart, so that its
/// auto traits are known where it is used).
fn not_send_future() -> impl std::future::Future<Output = ()> {
    let rc = Rc::new(());
    async move {
        common::yield_now().await;
        drop(rc);
    }
}

/// The signals work across threads: a child's cancel sender dropped on one
/// OS thread cancels it, and its done receiver awaited on another resolves
/// after its `done`; the spawner clone used on a third thread spawns.
#[test]
fn signals_cross_threads() {
    let runtime = common::tokio_multi_thread();
    let root = common::tokio_root(&runtime);
    let dones = common::Counter::new();
    let signals = root
        .spawn_future_with_signal(std::future::pending(), dones.done())
        .expect("spawn");
    let ParentSignals {
        cancel_sender,
        done_receiver,
    } = signals;
    let clone = root.clone();
    let d = dones.clone();
    let spawned = std::thread::spawn(move || {
        clone
            .spawn_future_with_signal(std::future::pending(), d.done())
            .expect("spawn from another thread")
    });
    let waiter = std::thread::spawn(move || futures::executor::block_on(done_receiver));
    std::thread::spawn(move || drop(cancel_sender))
        .join()
        .expect("canceller");
    waiter.join().expect("waiter");
    assert_eq!(dones.get(), 1);
    let other = spawned.join().expect("spawner thread");
    runtime.block_on(root.shutdown());
    assert_eq!(dones.get(), 2);
    assert!(other.done_receiver.is_done());
}
