//! Structured concurrency for async Rust: a spawner that replaces
//! `tokio::spawn` and builds a tree of tasks, in which no task outlives its
//! parent.
//!
//! # Structured concurrency
//!
//! Every task runs inside a *scope* that its parent created, and cannot outlive
//! it. At any moment the live tasks form a tree: if a task is alive, so is every
//! task on its path to the root. A parent that terminates cancels its children,
//! and its own termination is complete only after theirs is.
//!
//! "Terminated" is meant strictly here. A child counts as terminated only once it
//! has completely exited: its future, and the futures of all its descendants,
//! have been dropped (with everything they own), and all their `done` callbacks
//! have returned. Only the small signal that tells its parent so is left, and the
//! library sends it.
//!
//! # Example
//!
//! [`ScopedSpawner::tokio`] makes a root over the current tokio runtime; spawn
//! through it instead of calling `tokio::spawn`. A child spawned with
//! [`spawn_with_signal`](ScopedSpawn::spawn_with_signal) gets its own spawner,
//! for its own children, and hands its parent the child's [`ParentSignals`]:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use tasktree::{ScopedSpawn, ScopedSpawner};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let root = ScopedSpawner::tokio(); // instead of `tokio::spawn`
//!
//! let (running, is_running) = tokio::sync::oneshot::channel();
//! let (grandchild_log, child_log) = (log.clone(), log.clone());
//! let signals = root
//!     .spawn_with_signal(
//!         |spawner| async move {
//!             // `spawner` is this child's own: the grandchild is the child's child.
//!             spawner
//!                 .spawn_future(std::future::pending(), move || {
//!                     grandchild_log.lock().unwrap().push("grandchild done")
//!                 })
//!                 .unwrap();
//!             running.send(()).unwrap();
//!             std::future::pending::<()>().await; // runs until cancelled
//!         },
//!         move || child_log.lock().unwrap().push("child done"),
//!     )
//!     .unwrap();
//!
//! is_running.await.unwrap();
//! drop(signals.cancel_sender); // cancels the child, and through it the grandchild
//! signals.done_receiver.await; // both futures are dropped, both `done`s have run
//! assert_eq!(*log.lock().unwrap(), ["grandchild done", "child done"]);
//!
//! root.shutdown().await; // cancels whatever is left and waits for it
//! # }
//! ```
//!
//! The repository has two longer programs that print each event and check its
//! order: `examples/quickstart.rs` (`cargo run --example quickstart`) and
//! `examples/nested.rs` (`cargo run --example nested`, a three-level tree whose
//! middle is cancelled).
//!
//! # API overview
//!
//! - [`ScopedSpawn`] is the trait to spawn through; [`ScopedSpawner`] implements
//!   it over any executor that implements `futures::task::Spawn`
//!   ([`ScopedSpawner::new`]), and over tokio with [`ScopedSpawner::tokio`]. Code
//!   that accepts a spawner should accept `impl ScopedSpawn`.
//! - [`spawn`](ScopedSpawn::spawn) and
//!   [`spawn_with_signal`](ScopedSpawn::spawn_with_signal) call your closure with
//!   the child's own spawner, for grandchildren. A leaf spawned with
//!   [`spawn_future`](ScopedSpawn::spawn_future) or
//!   [`spawn_future_with_signal`](ScopedSpawn::spawn_future_with_signal) gets no
//!   spawner and no scope of its own.
//! - Every spawn takes a `done` callback (`FnOnce() + Send + 'static`), which
//!   runs in phase 5 below. Spawned futures have `Output = ()`; send results out
//!   through a channel.
//! - The `*_with_signal` spawns return [`ParentSignals`]: dropping its
//!   [`CancelSender`] (or calling [`cancel`](CancelSender::cancel)) cancels the
//!   child; [`forget`](ForgettableSignalSender::forget) gives up that right. Its
//!   [`DoneReceiver`] is a future that resolves when the child's termination is
//!   complete.
//! - A spawn fails with a [`SpawnError`] instead of panicking:
//!   [`SpawnError::Terminated`] when the spawner's task has terminated (or its
//!   root was shut down), [`SpawnError::Executor`] when the executor refused the
//!   task.
//! - A root ends when the last clone of it is dropped, which cancels its
//!   children, or with [`ScopedSpawner::shutdown`], which cancels them and
//!   resolves once they are all done.
//!
//! Termination started from outside the task (by its cancel sender, or by its
//! parent's termination) is called *cancellation*. A cancelled task is not asked
//! to stop: its future is dropped before it is polled again, so it needs no
//! cooperation beyond reaching an `.await`.
//!
//! # Termination of a task
//!
//! A task's termination has six phases, and none starts before the previous one
//! has finished:
//!
//! 1. It begins when the task's future completes or a cancel signal arrives,
//!    whichever comes first.
//! 2. The task's future is dropped, with everything it owns.
//! 3. Cancel signals go to all of the task's children.
//! 4. The task waits, asynchronously, until every child has terminated.
//! 5. Its `done` callback runs, exactly once.
//! 6. It sends its done signal to its parent: the [`DoneReceiver`], if any,
//!    resolves, and the parent's phase 4 can end.
//!
//! Phase 3 applies when the task's future simply completes, too: its remaining
//! children are then cancelled, not awaited. To let children finish, keep their
//! [`DoneReceiver`]s and await them before the future returns.
//!
//! # Guarantees
//!
//! These hold however the task's completion, its cancellation and its parent's
//! termination race, on any number of threads:
//!
//! - **Containment.** When a done receiver resolves, the task's future and the
//!   futures of all its descendants have been dropped, and all their `done`
//!   callbacks have returned.
//! - **Upward order.** A task's `done` runs after the `done` of each of its
//!   children.
//! - **Cascade.** After a cancel, the task and all its descendants terminate;
//!   their futures make no progress beyond a poll already in flight, and no
//!   wake-up is lost.
//! - **Exactly once.** Each future is dropped once, each `done` runs once, each
//!   done signal is sent once, also when a future, its destructor or a `done`
//!   callback panics. Such panics are caught: the tree still terminates in order.
//! - **No orphans.** A spawn that races with the termination of the spawner's
//!   task either fails with [`SpawnError::Terminated`] or creates a child that
//!   the task cancels and waits for. A spawner used after its task terminated
//!   returns that error; it never panics.
//! - **Forget.** After [`forget`](ForgettableSignalSender::forget), a child can
//!   no longer be cancelled early, but still terminates with its parent.
//! - **Concurrent spawners.** Spawners are `Clone + Send + Sync`; clones used at
//!   once from many threads register every child exactly once.
//! - **Root.** Dropping the last clone of a root cancels its children;
//!   [`shutdown`](ScopedSpawner::shutdown) cancels them and waits for them.
//! - **Bounded cost.** Spawning and removing a child costs amortised O(1) and a
//!   fixed number of allocations; terminating a tree of n tasks costs O(n); a
//!   chain 100,000 tasks deep is cancelled without overflowing the stack.
//!
//! If the executor drops a task before it finished (a runtime shutting down),
//! its future is dropped and its children cancelled at once, and its `done` and
//! done signal follow when its last child is done.
//!
//! # Compared with `JoinSet` / `TaskTracker` + `CancellationToken`
//!
//! [`JoinSet`] owns a flat set of tasks: dropping it aborts them (without
//! waiting), and [`join_next`] returns their outputs. Tasks that those tasks
//! spawn are not its business, unless every level keeps a `JoinSet` of its own;
//! even then an aborted task's set aborts its tasks without waiting for them.
//!
//! [`TaskTracker`] waits for the tasks it tracked, and a [`CancellationToken`]
//! (with `child_token()` for each level) tells them to stop. Both are
//! cooperative: each task must watch its token and return, every level must
//! thread the token and the tracker through, and dropping either does nothing
//! (unless the token was turned into a `DropGuard`).
//!
//! Here the tree is the unit. Cancelling a task cancels its whole subtree, with
//! no cooperation from the futures; its done receiver resolves only after the
//! whole subtree has terminated; dropping a cancel sender or a root cancels; and
//! `done` callbacks run bottom-up. What it does not do (yet): hand back the
//! futures' outputs (they have `Output = ()`; use a channel), or tell the waiter
//! that a child panicked (its done receiver resolves as for any other child).
//!
//! # Low-level API
//!
//! The [`remote_scope`] module gives you everything needed to spawn a task of
//! the tree without doing the spawning:
//! [`RawScopedSpawn::spawn_raw`](remote_scope::RawScopedSpawn::spawn_raw)
//! registers a child in a scope, and
//! [`RemoteScope::wrap`](remote_scope::RemoteScope::wrap) turns its signals, its
//! future and its `done` callback into a future you hand to any executor (a
//! `LocalSet`, an embedded executor); that future need not be `Send`.
//!
//! [`JoinSet`]: https://docs.rs/tokio/1/tokio/task/struct.JoinSet.html
//! [`join_next`]: https://docs.rs/tokio/1/tokio/task/struct.JoinSet.html#method.join_next
//! [`TaskTracker`]: https://docs.rs/tokio-util/0.7/tokio_util/task/task_tracker/struct.TaskTracker.html
//! [`CancellationToken`]: https://docs.rs/tokio-util/0.7/tokio_util/sync/struct.CancellationToken.html
#![forbid(unsafe_code)]
#![deny(clippy::disallowed_types)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod error;
#[cfg(feature = "tokio")]
mod executor;
mod handle;
mod loom;
pub mod remote_scope;
mod scope;
mod signal;
mod spawner;
mod task;
mod tree;

pub use error::SpawnError;
#[cfg(feature = "tokio")]
pub use executor::TokioSpawner;
pub use handle::{TaskError, TaskHandle};
#[cfg(feature = "tokio")]
pub use scope::{scope, supervised_scope, try_scope};
pub use scope::{RaceError, TryScope};
pub use signal::{
    CancelReceiver, CancelSender, ChildSignals, DoneReceiver, DoneSender, ForgettableSignalSender,
    ParentSignals, SignalReceiver, SignalSender,
};
pub use spawner::{FailurePolicy, ScopedSpawn, ScopedSpawner, Shutdown};
