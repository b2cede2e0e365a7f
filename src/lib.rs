//! Structured concurrency for async Rust: a spawner that replaces
//! `tokio::spawn` and builds a tree of tasks, in which no task outlives its
//! parent, and scope blocks that do not return before the tasks they started.
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
//! For a child's result, [`spawn_task`](ScopedSpawner::spawn_task) returns a
//! [`TaskHandle`]; for a block of code that waits for the tasks it starts, see
//! [Scope blocks](#scope-blocks) below.
//!
//! The repository has three longer programs that print each event and check
//! what these docs promise: `examples/quickstart.rs` (`cargo run --example
//! quickstart`), `examples/nested.rs` (`cargo run --example nested`, a
//! three-level tree whose middle is cancelled) and `examples/fan_out.rs`
//! (`cargo run --example fan_out`, six requests in a [`try_scope`](try_scope()):
//! one fails, and the others are cancelled).
//!
//! # API overview
//!
//! - [`ScopedSpawn`] is the trait to spawn through; [`ScopedSpawner`] implements
//!   it over any executor that implements `futures::task::Spawn`
//!   ([`ScopedSpawner::new`]), and over tokio with [`ScopedSpawner::tokio`]. Code
//!   that accepts a spawner should accept `impl ScopedSpawn`.
//! - [`spawn_task`](ScopedSpawn::spawn_task) spawns a leaf and returns a
//!   [`TaskHandle<T>`](TaskHandle), the `JoinHandle` of the tree (see
//!   [Task handles](#task-handles)).
//! - [`spawn`](ScopedSpawn::spawn) and
//!   [`spawn_with_signal`](ScopedSpawn::spawn_with_signal) call your closure with
//!   the child's own spawner, for grandchildren. A leaf spawned with
//!   [`spawn_future`](ScopedSpawn::spawn_future) or
//!   [`spawn_future_with_signal`](ScopedSpawn::spawn_future_with_signal) gets no
//!   spawner and no scope of its own. These four take a `done` callback
//!   (`FnOnce() + Send + 'static`), which runs in phase 5 below, and their
//!   futures have `Output = ()`.
//! - The `*_with_signal` spawns return [`ParentSignals`]: dropping its
//!   [`CancelSender`] (or calling [`cancel`](CancelSender::cancel)) cancels the
//!   child; [`forget`](ForgettableSignalSender::forget) gives up that right. Its
//!   [`DoneReceiver`] is a future that resolves when the child's termination is
//!   complete.
//! - [`scope`](scope()), [`try_scope`](try_scope()) and
//!   [`supervised_scope`](supervised_scope()) run a block of code with a spawner
//!   of its own scope, and return when the block and all its children are done
//!   (see [Scope blocks](#scope-blocks)); [`race`](ScopedSpawner::race) returns
//!   the first success of several children and cancels the rest.
//! - A spawn fails with a [`SpawnError`] instead of panicking:
//!   [`SpawnError::Terminated`] when the spawner's task has terminated (or its
//!   root was shut down), [`SpawnError::Executor`] when the executor refused the
//!   task.
//! - Typed children read as they finish: [`TaskSet`] (completion order, or
//!   spawn order with [`join_all`](TaskSet::join_all)). A child that says
//!   when it is ready: [`ScopedSpawner::start`]. At most `n` live children
//!   in a scope: [`ScopedSpawner::set_limit`], and
//!   [`reserve`](ScopedSpawner::reserve) to wait for room. A blocking
//!   closure as a child, cancelled cooperatively:
//!   [`spawn_blocking`](ScopedSpawner::spawn_blocking) (feature `tokio`).
//!   Values inherited down the tree: [`ScopedSpawner::set_local`],
//!   [`ScopedSpawner::local`]. Futures that are not `Send`, on a local
//!   executor: [`LocalScopedSpawner`].
//! - A root ends when the last clone of it is dropped, which cancels its
//!   children, or with [`ScopedSpawner::shutdown`], which cancels them and
//!   resolves once they are all done.
//! - To see the tree: [`named`](ScopedSpawner::named) spawns a task with a
//!   name, [`dump`](ScopedSpawner::dump) takes a [`TaskDump`] of the live
//!   tasks under a spawner (drawn as an indented tree; JSON with the `serde`
//!   feature), [`metrics`](ScopedSpawner::metrics) counts a scope's
//!   children ([`ScopeMetrics`]), every task has a [`TaskId`], every
//!   cancel a [`CancelCause`] (from the handle's error,
//!   [`TaskError::cancel_cause`], or the task's spawner,
//!   [`ScopedSpawner::cancel_cause`]), and the `tracing` feature runs each
//!   task in a span under its parent task's.
//!
//! Termination started from outside the task (by its cancel sender or handle, or
//! by its parent's termination) is called *cancellation*. A cancelled task is not
//! asked to stop: its future is dropped before it is polled again, so it needs no
//! cooperation beyond reaching an `.await`.
//!
//! # Task handles
//!
//! [`spawn_task`](ScopedSpawner::spawn_task) is the `tokio::spawn` of the tree.
//! Its [`TaskHandle<T>`](TaskHandle) is a future of `Result<T, TaskError>` that
//! resolves only once the child's termination is complete. A [`TaskError`] has
//! the shape of tokio's `JoinError`: [`is_cancelled`](TaskError::is_cancelled),
//! [`is_panic`](TaskError::is_panic) and [`into_panic`](TaskError::into_panic)
//! (the payload, to resume), and [`is_failed`](TaskError::is_failed) for a child
//! whose failure its fail-fast scope took over and reports itself.
//!
//! **Dropping a handle detaches the child**, as dropping tokio's `JoinHandle`
//! does: `let _ = root.spawn_task(fut);` is the tree's `tokio::spawn(fut);`.
//! The child is still contained: it ends with the scope it was spawned in.
//! To cancel, call [`cancel`](TaskHandle::cancel), or keep a
//! [`cancel_on_drop`](TaskHandle::cancel_on_drop) guard. (The seed's
//! [`CancelSender`] is different: dropping it cancels, as in scoped_spawn.)
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let root = tasktree::ScopedSpawner::tokio();
//!
//! // Before: let handle = tokio::spawn(async { 6 * 7 });
//! let handle = root.spawn_task(async { 6 * 7 }).unwrap();
//! assert_eq!(handle.await.unwrap(), 42);
//!
//! let stuck = root.spawn_task(std::future::pending::<()>()).unwrap();
//! stuck.cancel(); // dropping `stuck` would detach it instead
//! assert!(stuck.await.unwrap_err().is_cancelled());
//!
//! let broken = root.spawn_task(async { panic!("boom") }).unwrap();
//! assert!(broken.await.unwrap_err().is_panic()); // caught, and reported here
//! # }
//! ```
//!
//! # Scope blocks
//!
//! Code that is not itself a task (`main`, a request handler) opens a *scope
//! block*: [`scope`](scope()) runs its body with a spawner of a new scope, and
//! its future completes only when the body and every child spawned through that
//! spawner have terminated. Its output is the body's output.
//!
//! What a block waits for:
//!
//! - **When the body returns**, its children are *awaited, not cancelled*, as in
//!   Trio's nurseries and Kotlin's `coroutineScope`: the ones the body did not
//!   await, and detached ones, too. (A task's own future is different: when it
//!   completes, its children are cancelled, by phase 3 below.)
//! - **When a child fails** in a fail-fast block (it panics, or returns `Err`
//!   through [`TryScope::spawn_try`]), its siblings and the body are cancelled;
//!   the block waits until all of them have terminated, and only then resumes
//!   the panic in the caller ([`scope`](scope())) or returns the error
//!   ([`try_scope`](try_scope())). The first failure wins; later errors stay in
//!   their own handles. A panic of the body cancels the children and is resumed
//!   the same way.
//! - **When the block's future is dropped** (a `select!` took another branch, a
//!   request handler's client went away), the body is dropped at once and every
//!   child is cancelled, but a drop cannot wait: the children's futures are
//!   dropped at their next poll on the executor, and their `done` callbacks run
//!   there, after the drop has returned. No child makes progress beyond a poll
//!   already in flight. To have that termination awaited, open the block from a
//!   task's spawner: [`ScopedSpawner::scope`], [`ScopedSpawner::try_scope`] and
//!   [`ScopedSpawner::supervised_scope`] (on any executor) make the block a child
//!   of that spawner's scope, so the enclosing task, or the root's
//!   [`shutdown`](ScopedSpawner::shutdown), waits for the block's children even
//!   if the block's future was dropped.
//!
//! The body returns at once here, and the block still waits for its child:
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let written = Arc::new(AtomicBool::new(false));
//! let flag = written.clone();
//! let answer = tasktree::scope(|s| async move {
//!     let writer = s.spawn_task(async move {
//!         tokio::task::yield_now().await; // still running when the body returns
//!         flag.store(true, Ordering::SeqCst);
//!     });
//!     writer.expect("the scope is open").detach();
//!     42
//! })
//! .await;
//! assert_eq!(answer, 42);
//! assert!(written.load(Ordering::SeqCst)); // the child finished first
//! # }
//! ```
//!
//! With [`try_scope`](try_scope()), the first error cancels the rest, and is
//! returned once they have terminated:
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! /// Counts the futures dropped before they finished.
//! struct OnCancel(Arc<AtomicUsize>);
//!
//! impl Drop for OnCancel {
//!     fn drop(&mut self) {
//!         self.0.fetch_add(1, Ordering::SeqCst);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let cancelled = Arc::new(AtomicUsize::new(0));
//! let counter = cancelled.clone();
//! // Before: a `JoinSet`, a `join_next` loop, and `abort_all` on the first
//! // error, which does not wait for the aborted tasks.
//! let result: Result<Vec<u32>, String> = tasktree::try_scope(|s| async move {
//!     let mut handles = Vec::new();
//!     for id in 0..4 {
//!         let handle = if id == 2 {
//!             s.spawn_try(async move { Err(format!("request {id}: 503")) })
//!         } else {
//!             let on_cancel = OnCancel(counter.clone());
//!             s.spawn_try(async move {
//!                 std::future::pending::<()>().await; // a slow request
//!                 drop(on_cancel); // not reached: cancelled
//!                 Ok(id)
//!             })
//!         };
//!         handles.push(handle.expect("the scope is open"));
//!     }
//!     let mut pages = Vec::new();
//!     for handle in handles {
//!         pages.push(handle.await.map_err(|e| e.to_string())??);
//!     }
//!     Ok(pages)
//! })
//! .await;
//! assert_eq!(result, Err("request 2: 503".to_string()));
//! // The three slow requests were cancelled, and had terminated, before
//! // `try_scope` returned.
//! assert_eq!(cancelled.load(Ordering::SeqCst), 3);
//! # }
//! ```
//!
//! # Failure policies
//!
//! A scope's [`FailurePolicy`] says what a child's failure does to the rest of
//! the scope:
//!
//! - [`FailurePolicy::FailFast`]: the first child that fails cancels its
//!   siblings and the scope's owner, which reports the failure. [`scope`](scope())
//!   and [`try_scope`](try_scope()) fail fast, and resume the panic or return the
//!   error. On any spawner,
//!   [`set_failure_policy`](ScopedSpawner::set_failure_policy) with `FailFast`
//!   makes a child's panic cancel its siblings and the spawner's own task,
//!   which then fails with that panic and reports it upwards in turn.
//! - [`FailurePolicy::Supervised`]: a child's failure reaches only its own
//!   handle, and its siblings run on. [`supervised_scope`](supervised_scope())
//!   uses it, and so does every spawner until told otherwise.
//!
//! [`race`](ScopedSpawner::race) is a structured `select` (Java's "shutdown on
//! success"): it spawns each future as a child of a supervised scope of its
//! own (under the spawner's scope), returns the first `Ok`, and cancels the
//! others, whose termination it awaits before returning. If all fail,
//! [`RaceError::AllFailed`] holds their errors in the order given; a
//! contender's panic cancels the rest and is resumed, whatever the failure
//! policy of the caller's scope.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let root = tasktree::ScopedSpawner::tokio();
//! let mirrors = [1, 2, 3].map(|mirror| async move {
//!     match mirror {
//!         1 => Err("mirror 1 is down"),
//!         2 => Ok(mirror),
//!         _ => std::future::pending().await, // cancelled once mirror 2 has won
//!     }
//! });
//! assert_eq!(root.race(mirrors).await, Ok(2));
//! # }
//! ```
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
//! 6. It sends its done signal to its parent: the [`DoneReceiver`] or
//!    [`TaskHandle`], if any, resolves, and the parent's phase 4 can end.
//!
//! Phase 3 applies when the task's future simply completes, too: its remaining
//! children are then cancelled, not awaited. To let children finish, await their
//! handles or [`DoneReceiver`]s before the future returns, or spawn them in a
//! scope block, whose body's end waits for them.
//!
//! # Graceful cancellation, deadlines and tokens
//!
//! A cancel drops the future at its next poll, as the seed does. A *graceful*
//! cancel (feature `tokio`, which times it) comes in two steps instead:
//!
//! 1. **Stop request.** The task is asked to stop: its cancel receiver fires,
//!    and its spawner's [`stop_requested`](ScopedSpawner::stop_requested) and
//!    [`cancellation_token`](ScopedSpawner::cancellation_token) resolve. The
//!    request travels down the task's subtree level by level: each task is
//!    woken by it and passes it on to its children when it is next polled.
//!    The futures keep running: this is the moment to flush, reply and close.
//! 2. **Cancel.** A task that has not finished when the grace period ends is
//!    cancelled as usual, and the termination phases run from there, top-down,
//!    so every guarantee below holds. A task that finishes within its grace
//!    period hands the rest of it (the same deadline) to its remaining
//!    children.
//!
//! The grace period is set per spawner ([`set_grace_period`](ScopedSpawner::set_grace_period),
//! for every cancel of its children, including its own termination's) or per
//! call ([`shutdown_with_grace`](ScopedSpawner::shutdown_with_grace),
//! [`TaskHandle::cancel_with_grace`], [`CancelSender::cancel_with_grace`]).
//! Grace periods and deadlines are measured by tokio's timer: each of these
//! calls returns a [`TimerError`] (and changes nothing) when there is none,
//! outside a tokio runtime or on one built without `enable_time`.
//!
//! A **deadline** ([`TaskHandle::set_deadline`], [`TaskHandle::set_timeout`])
//! cancels a task when it passes, through the same cancel, and its handle then
//! reports [`TaskError::is_deadline_exceeded`] rather than a plain
//! cancellation. A scope block takes its deadline from `tokio::time::timeout`
//! around it (which cancels the block's children when it fires).
//!
//! **Tokens.** [`cancellation_token`](ScopedSpawner::cancellation_token) gives
//! code that takes a `tokio_util` `CancellationToken` one that is cancelled
//! when the scope is asked to stop or begins its termination;
//! [`cancel_on`](ScopedSpawner::cancel_on) shuts a scope down when a given
//! token is cancelled.
//!
//! **Shutdown on a signal.** Wait for Ctrl-C (or SIGTERM), then shut the root
//! down gracefully and wait for the tree to drain:
//!
//! ```no_run
//! use std::time::Duration;
//! use tasktree::{ScopedSpawn, ScopedSpawner};
//!
//! #[tokio::main]
//! async fn main() {
//!     let root = ScopedSpawner::tokio();
//!     root.spawn(
//!         |spawner| async move {
//!             // ... serve, until asked to stop:
//!             spawner.stop_requested().await;
//!             // ... flush, close
//!         },
//!         || (),
//!     )
//!     .unwrap();
//!
//!     let ctrl_c = tokio::signal::ctrl_c();
//!     #[cfg(unix)]
//!     let mut sigterm =
//!         tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
//!     #[cfg(unix)]
//!     let terminate = sigterm.recv();
//!     #[cfg(not(unix))]
//!     let terminate = std::future::pending::<Option<()>>();
//!     tokio::select! {
//!         _ = ctrl_c => {}
//!         _ = terminate => {}
//!     }
//!     // Every task is asked to stop; what is still running after 10 s is
//!     // cancelled. Resolves when the whole tree has terminated.
//!     root.shutdown_with_grace(Duration::from_secs(10)).unwrap().await;
//! }
//! ```
//!
//! `examples/http_connections.rs` does this for an HTTP server in which every
//! connection is a task and every request a scope.
//!
//! # Guarantees
//!
//! The contract of the library, stated here once. A task's termination
//! runs in six phases, none before the previous one has finished: (1) its
//! future completes or a cancel arrives, (2) its future is dropped, (3) its
//! children are cancelled, (4) it waits for every child's done signal, (5)
//! its `done` callback runs, (6) it sends its own done signal (what its done
//! receiver or handle waits for). These hold however the task's completion,
//! its cancellation and its parent's termination race, on any number of
//! threads. Each names where it is checked: its integration tests
//! (`tests/`), its loom models (`loom-tests/tests/`, every interleaving of a
//! small tree) and the invariants of the core that it rests on (I1–I7, at
//! the top of `src/tree.rs`, each naming its models in turn).
//!
//! - **G1 Containment.** When a done receiver or a task handle resolves, the
//!   task's future and the futures of all its descendants have been dropped,
//!   and all their `done` callbacks have returned. A scope block's future
//!   resolves only after the same holds for every child of the block.
//!   A blocking child ([`ScopedSpawner::spawn_blocking`]) counts too: its
//!   closure has returned. Tests: `containment.rs`, `order.rs`,
//!   `scope_blocks.rs`, `blocking.rs`, `local.rs`; loom: `g1_containment.rs`,
//!   `scope_fail_vs_body.rs`, `blocking.rs`; I4, I7.
//! - **G2 Upward order.** A task's `done` runs after the `done` of each of
//!   its children. Tests: `order.rs`; loom: `g2_upward_order.rs`; I4.
//! - **G3 Cascade.** After a cancel, the task and all its descendants
//!   terminate, and no wake-up is lost. The cancelled task's future makes no
//!   progress beyond a poll already in flight; the cancel then travels down
//!   phase by phase, so a grandchild runs on until its parent has dropped its
//!   own future and reached phase 3. A graceful cancel's stop request is not
//!   yet the cancel: the futures run on until it, and this guarantee applies
//!   from the cancel at the end of the grace period. Tests: `cascade.rs`,
//!   `grace.rs`; loom: `g3_cascade.rs`, `g3_stop_request.rs`, `g3_repoll.rs`;
//!   I2, I6, I8.
//! - **G4 Exactly once.** Each future is dropped once, each `done` runs once,
//!   each done signal is sent once, also when a future, its destructor or a
//!   `done` callback panics. Such panics are caught: the tree still
//!   terminates in order, and a future's panic is reported to its handle, or
//!   taken by its fail-fast scope. Tests: `exactly_once.rs`, `panics.rs`,
//!   `faults.rs`; loom: `g4_exactly_once.rs`, `i5_no_key_reuse.rs`; I5, I6.
//! - **G5 No orphans.** A spawn that races with the termination of the
//!   spawner's task either fails with [`SpawnError::Terminated`] or creates a
//!   child that the task cancels and waits for. A spawner used after its task
//!   terminated returns that error; it never panics. A place reserved under
//!   a limit ([`ScopedSpawner::reserve`]) is such a child from the moment it
//!   is reserved. Tests: `no_orphans.rs`, `errors.rs`, `limits.rs`; loom:
//!   `g5_no_orphans.rs`, `limit.rs`; I1.
//! - **G6 Forget.** After [`forget`](ForgettableSignalSender::forget), a
//!   child can no longer be cancelled early, but still terminates with its
//!   parent; a dropped or [detached](TaskHandle::detach) handle's child, the
//!   same. Tests: `forget.rs`, `handles.rs`.
//! - **G7 Concurrent spawners.** Spawners are `Clone + Send + Sync`; clones
//!   used at once from many threads register every child exactly once.
//!   Tests: `concurrent_spawners.rs`; loom: `g7_concurrent_spawners.rs`; I1.
//! - **G8 Root.** Dropping the last clone of a root cancels its children;
//!   [`shutdown`](ScopedSpawner::shutdown) cancels them and waits for them.
//!   Tests: `root.rs`; loom: `g8_root.rs`; I1.
//! - **G9 Bounded cost.** Spawning and removing a child costs amortised O(1)
//!   and a fixed number of allocations; terminating a tree of n tasks costs
//!   O(n), also with deadlines, graceful cancels, stop watchers and races;
//!   a chain 100,000 tasks deep is cancelled without overflowing the stack.
//!   Tests: `deep_tree.rs`, `scaling.rs` (release), `size.rs`. Measured costs
//!   against `tokio::spawn`, `JoinSet` and `TaskTracker` are in
//!   BENCHMARKS.md.
//! - **G10 Re-entrancy.** No user code runs while the library holds a lock:
//!   a future's destructor, a `done` callback, a panic payload's or an
//!   output's destructor, a waker. Each may call back into the library
//!   (spawn, cancel, read the scope, shut it down) without deadlock, and a
//!   panic in any of them loses no done signal. Tests: `reentrancy.rs` (also
//!   under Miri); I3.
//!
//! Library code does not panic on a user's mistake: misuse returns an error
//! that says what happened ([`SpawnError`], [`TimerError`]). If the executor
//! drops a task before it finished (a runtime shutting down), its future is
//! dropped and its children cancelled at once, and its `done` and done
//! signal follow when its last child is done. Tests: `errors.rs`,
//! `faults.rs`, `executors.rs`.
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
//! no cooperation from the futures; its handle or done receiver resolves only
//! after the whole subtree has terminated; dropping a cancel sender or a root
//! cancels; and `done` callbacks run bottom-up. Outputs and panics are
//! reported as a `JoinSet` reports them, through [`TaskHandle`] and
//! [`TaskError`]. Where a `JoinSet` needs a `join_next` loop, [`scope`](scope())
//! waits for every child (and its subtree); where it needs `abort_all` on the
//! first error, [`try_scope`](try_scope()) cancels the rest, waits for them, and
//! returns that error.
//!
//! # Low-level API
//!
//! The [`remote_scope`] module gives you everything needed to spawn a task of
//! the tree without doing the spawning:
//! [`RawScopedSpawn::spawn_raw`]
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
// Without the `tokio` feature no deadline can be made (tree/grace.rs): the timed
// paths of the tree compile but are unreachable.
#![cfg_attr(not(feature = "tokio"), allow(dead_code, unreachable_code))]
#![deny(clippy::disallowed_types)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

#[cfg(any(feature = "tokio", loom))]
mod blocking;
mod cause;
mod dump;
mod error;
#[cfg(feature = "tokio")]
mod executor;
mod handle;
mod limit;
mod local;
mod locals;
mod loom;
mod metrics;
pub mod remote_scope;
mod scope;
mod signal;
mod spawner;
mod start;
mod stop;
mod task;
mod task_set;
#[cfg(feature = "tower")]
pub mod tower;
mod trace;
mod tree;

#[cfg(any(feature = "tokio", loom))]
pub use blocking::BlockingCancel;
pub use cause::{CancelCause, CancelCounts, CancelReason};
pub use dump::{DumpedTask, Named, SpawnLocation, TaskDump, TaskId, TaskState};
pub use error::{SpawnError, TimerError};
#[cfg(feature = "tokio")]
pub use executor::TokioSpawner;
pub use handle::{CancelOnDrop, TaskError, TaskHandle};
pub use limit::{Place, Reserve};
pub use local::LocalScopedSpawner;
#[cfg(feature = "tokio")]
pub use local::TokioLocalSpawner;
pub use metrics::ScopeMetrics;
/// At the crate root too, as in `scoped_spawn`: code written for the seed
/// compiles with only the crate name changed.
pub use remote_scope::RawScopedSpawn;
#[cfg(feature = "tokio")]
pub use scope::{scope, supervised_scope, try_scope};
pub use scope::{RaceError, TryScope};
pub use signal::{
    CancelReceiver, CancelSender, ChildSignals, DoneReceiver, DoneSender, ForgettableSignalSender,
    ParentSignals, SignalReceiver, SignalSender,
};
pub use spawner::{FailurePolicy, ScopedSpawn, ScopedSpawner, Shutdown};
pub use start::{Ready, StartError};
pub use stop::StopRequested;
pub use task_set::TaskSet;
#[cfg(loom)]
#[doc(hidden)]
pub use tree::loom_fast_repolls;
