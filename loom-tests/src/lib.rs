//! Loom harness for tasktree's models (`tests/g*.rs`).
//!
//! Build and run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p loom-tests --release
//! ```
//!
//! Without `--cfg loom` this crate and its tests compile to nothing. Add
//! `-- --nocapture` to see each model's number of executions, time, and how
//! often each side of its race won; `LOOM_MAX_PREEMPTIONS=3` for a deeper run
//! (about five minutes on two cores); `LOOM_LOCATION=1` for source locations
//! in loom's failure messages. A lost wake-up fails as loom's
//! `deadlock; threads = [...]` panic, usually followed by a "panic in a
//! destructor during cleanup" abort (the model's values are dropped after
//! loom's execution is gone), which ends that test binary.
//!
//! # What is modelled and what is not
//!
//! Under `--cfg loom` the library's `Arc`, `Mutex` and atomics are loom's
//! (`src/loom.rs`), so loom explores every interleaving of the tree's state.
//! The harness itself deliberately stays *outside* loom's view where it only
//! observes: the [`Log`] and the [`LoomSpawner`]'s list of threads are a
//! `std::sync::Mutex` behind a `std::sync::Arc`. That adds no scheduling
//! points (the models stay small) and, more importantly, no synchronisation
//! that could hide a missing happens-before edge in the library. This is sound
//! because loom runs all of a model's threads on one OS thread, switching only
//! at loom operations, and no loom operation happens while these locks are
//! held. Where a model claims a happens-before edge (G1), it checks it with a
//! [`Flag`] stored and loaded `Relaxed`: loom lets a relaxed load return any
//! store not ruled out by happens-before, so a missing edge fails the model.
#![cfg(loom)]
// Harness-only, observation-only state; see the module docs.
#![allow(clippy::disallowed_types)]

use std::fmt;
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
use std::sync::atomic::Ordering as StdOrdering;
use std::sync::{Arc as StdArc, Mutex as StdMutex};
use std::time::Instant;

use futures::future::FutureObj;
use futures::task::{Spawn, SpawnError};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread::JoinHandle;

/// An executor for models: every spawned task runs on its own
/// `loom::thread`, driven by [`block_on`].
///
/// The join handles of all task threads are kept in a list shared by the
/// clones, so that the model can [`join_all`](Self::join_all) at the end. A
/// task whose waker is never woken then parks its thread for ever, and loom
/// reports the execution as a deadlock: that is how a lost wake-up shows.
///
/// loom 0.7 allows 5 threads counting the model's main thread, so a model has
/// a root and at most three tasks (or fewer tasks and some plain threads).
#[derive(Clone, Default)]
pub struct LoomSpawner {
    threads: StdArc<StdMutex<Vec<JoinHandle<()>>>>,
}

impl LoomSpawner {
    /// An executor with no tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Joins every task thread spawned so far, including those spawned by
    /// tasks while this runs; returns once no task thread is left.
    ///
    /// # Panics
    ///
    /// If a task thread panicked (the library catches user panics, so this
    /// is a library bug or a failed assertion inside a task).
    pub fn join_all(&self) {
        // A thread's handle is pushed before that thread's spawner returns,
        // hence before the spawning thread (main or a joined task) ends; so
        // when the list is empty after a join, every thread has been joined.
        loop {
            let next = self.lock().pop();
            let Some(handle) = next else { break };
            handle.join().expect("a task thread panicked");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Spawn for LoomSpawner {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        let handle = loom::thread::spawn(move || block_on(future));
        self.lock().push(handle);
        Ok(())
    }
}

impl fmt::Debug for LoomSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoomSpawner")
            .field("unjoined", &self.lock().len())
            .finish()
    }
}

/// An ordered record of what happened in one execution, for assertions
/// after the fact. Observation only: see the module docs.
#[derive(Clone, Default)]
pub struct Log {
    events: StdArc<StdMutex<Vec<&'static str>>>,
}

impl Log {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `event`.
    pub fn push(&self, event: &'static str) {
        self.lock().push(event);
    }

    /// A guard that appends `event` when dropped: move it into a future to
    /// record when that future is dropped (whether or not it was polled).
    pub fn guard(&self, event: &'static str) -> DropGuard {
        DropGuard {
            log: self.clone(),
            event,
            witness: None,
        }
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<&'static str> {
        self.lock().clone()
    }

    /// How many times `event` occurred.
    pub fn count(&self, event: &str) -> usize {
        self.lock().iter().filter(|e| **e == event).count()
    }

    /// Whether `event` occurred.
    pub fn contains(&self, event: &str) -> bool {
        self.count(event) > 0
    }

    /// Asserts that `event` occurred exactly once.
    #[track_caller]
    pub fn assert_once(&self, event: &str) {
        let events = self.events();
        let n = events.iter().filter(|e| **e == event).count();
        assert_eq!(n, 1, "{event:?} occurred {n} times in {events:?}");
    }

    /// Asserts that `first` and `then` both occurred, `first` before `then`
    /// (by their first occurrences).
    #[track_caller]
    pub fn assert_before(&self, first: &str, then: &str) {
        let events = self.events();
        let at = |event: &str| events.iter().position(|e| *e == event);
        match (at(first), at(then)) {
            (Some(a), Some(b)) => {
                assert!(a < b, "{first:?} should precede {then:?} in {events:?}")
            }
            _ => panic!("{first:?} and {then:?} should both occur in {events:?}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

/// Appends its event to a [`Log`] when dropped, then sets its witness
/// [`Flag`] (`Relaxed`), if it has one. Made by [`Log::guard`].
#[derive(Debug)]
pub struct DropGuard {
    log: Log,
    event: &'static str,
    witness: Option<Flag>,
}

impl DropGuard {
    /// Also sets `witness` (`Relaxed`) when dropped, so that a model can
    /// check that the drop happens-before some later point.
    pub fn witnessed_by(mut self, witness: &Flag) -> Self {
        self.witness = Some(witness.clone());
        self
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.log.push(self.event);
        if let Some(witness) = self.witness.take() {
            witness.set(Ordering::Relaxed);
        }
    }
}

/// A loom `AtomicBool` shared by cheap clones, for signalling between a
/// model's threads (with `SeqCst`) or witnessing a happens-before edge (with
/// `Relaxed`, see the module docs).
#[derive(Clone)]
pub struct Flag(StdArc<AtomicBool>);

impl Flag {
    /// A flag that is not set. Must be made inside the model's closure.
    pub fn new() -> Self {
        Self(StdArc::new(AtomicBool::new(false)))
    }

    /// Sets the flag with `ordering`.
    pub fn set(&self, ordering: Ordering) {
        self.0.store(true, ordering);
    }

    /// Whether the flag is set, loaded with `ordering`.
    pub fn get(&self, ordering: Ordering) -> bool {
        self.0.load(ordering)
    }
}

impl Default for Flag {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Flag")
    }
}

/// The outcomes of one race, counted over all executions of a model.
///
/// A model records which side of its race won in each execution; after the
/// model, [`assert_all_seen`](Self::assert_all_seen) fails unless every side
/// occurred, which shows that loom really explored the race (STYLE.md §2).
#[derive(Debug)]
pub struct Sides {
    names: &'static [&'static str],
    counts: Vec<StdAtomicUsize>,
}

impl Sides {
    /// Counters for the sides `names`, for the life of the test.
    pub fn new(names: &'static [&'static str]) -> &'static Self {
        Box::leak(Box::new(Self {
            names,
            counts: names.iter().map(|_| StdAtomicUsize::new(0)).collect(),
        }))
    }

    /// Counts one execution in which `side` won.
    ///
    /// # Panics
    ///
    /// If `side` is not one of the names given to [`new`](Self::new).
    #[track_caller]
    pub fn record(&self, side: &str) {
        let i = self
            .names
            .iter()
            .position(|n| *n == side)
            .unwrap_or_else(|| panic!("unknown side {side:?}; sides are {:?}", self.names));
        self.counts[i].fetch_add(1, StdOrdering::Relaxed);
    }

    /// Asserts that every side occurred in some execution, and prints the
    /// counts.
    #[track_caller]
    pub fn assert_all_seen(&self) {
        let counts: Vec<(&str, usize)> = self
            .names
            .iter()
            .zip(&self.counts)
            .map(|(n, c)| (*n, c.load(StdOrdering::Relaxed)))
            .collect();
        eprintln!("  sides: {counts:?}");
        for (name, count) in &counts {
            assert!(
                *count > 0,
                "side {name:?} never occurred: the race was not explored ({counts:?})"
            );
        }
    }
}

/// The preemption bound used when `LOOM_MAX_PREEMPTIONS` is not set: an
/// unbounded search of these models would not finish.
pub const DEFAULT_PREEMPTIONS: usize = 2;

/// Runs `model` under every interleaving loom explores, bounded only by the
/// number of preemptions (`LOOM_MAX_PREEMPTIONS`, or [`DEFAULT_PREEMPTIONS`]).
///
/// `LOOM_MAX_DURATION` and `LOOM_MAX_PERMUTATIONS` are ignored on purpose:
/// when either runs out loom just returns, and the model would pass on an
/// arbitrary prefix of its executions. Prints (to the test's captured output)
/// the test's name, the number of executions and the time taken.
pub fn check<F>(model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.max_duration = None;
    builder.max_permutations = None;
    let bound = *builder.preemption_bound.get_or_insert(DEFAULT_PREEMPTIONS);
    let executions = StdArc::new(StdAtomicUsize::new(0));
    let counter = executions.clone();
    let start = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, StdOrdering::Relaxed);
        model();
    });
    // libtest names each test's thread after the test.
    let thread = std::thread::current();
    eprintln!(
        "{}: {} executions in {:.2?} (preemption bound {bound})",
        thread.name().unwrap_or("model"),
        executions.load(StdOrdering::Relaxed),
        start.elapsed()
    );
}

/// Runs `future` to completion on the current loom thread, parking it on a
/// `loom::sync::Notify` while the future is pending.
///
/// Unlike `loom::future::block_on`, every poll gets the same waker, and
/// clones of it that [`Waker::will_wake`](std::task::Waker::will_wake)
/// recognises: as tokio's wakers are, so that a task's wrapper can skip its
/// parent's lock on a repeated poll (tasktree's I8) and the models explore
/// that path.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let notify = StdArc::new(Notifier(loom::sync::Notify::new()));
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        notify.0.wait();
    }
}

/// The waker of [`block_on`].
struct Notifier(loom::sync::Notify);

impl std::task::Wake for Notifier {
    fn wake(self: StdArc<Self>) {
        self.0.notify();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.0.notify();
    }
}
