//! Helpers shared by the integration tests.
//!
//! - [`Log`]: an event log. Drop guards record `"X future dropped"`, done
//!   callbacks record `"X done"`; assertions check positions and order.
//! - [`Counter`]: a shared count, for tests that only count.
//! - [`ManualExecutor`]: a deterministic single-threaded executor that
//!   implements `futures::task::Spawn`. Tasks run only when the test calls
//!   [`ManualExecutor::run_until_stalled`], so ordering tests are exact, and
//!   [`ManualExecutor::block_on`] fails (instead of hanging) when nothing can
//!   make progress any more: a lost wake-up shows up as a failure.
//! - [`on_each_executor!`]: runs one scenario on a tokio multi-thread runtime
//!   (2 workers), a tokio current-thread runtime, a `futures` `ThreadPool`
//!   (2 threads) and the manual executor.
//!
//! The tests are not modelled by loom, so they use `std::sync` directly.
#![allow(dead_code, clippy::disallowed_types)]

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures::executor::ThreadPool;
use futures::future::FutureObj;
use futures::task::{Spawn, SpawnError};
use tasktree::{ScopedSpawner, TokioSpawner};

/// Locks a std mutex, ignoring poisoning (a test that panicked while holding
/// it has already failed).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// Event log
// ---------------------------------------------------------------------------

/// A shared, ordered log of events, written from any thread.
///
/// Writes go through one mutex, so the order of the entries is consistent
/// with happens-before between the threads that wrote them.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `event`.
    pub fn push(&self, event: impl Into<String>) {
        lock(&self.0).push(event.into());
    }

    /// A guard to move into a future: its drop records `"{name} future dropped"`.
    pub fn guard(&self, name: &str) -> Guard {
        Guard {
            log: self.clone(),
            name: name.to_owned(),
        }
    }

    /// A `done` callback that records `"{name} done"`.
    pub fn done(&self, name: &str) -> impl FnOnce() + Send + 'static {
        let log = self.clone();
        let event = format!("{name} done");
        move || log.push(event)
    }

    /// A copy of the entries so far.
    pub fn entries(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// Forgets every entry (for loops that check one round at a time).
    pub fn clear(&self) {
        lock(&self.0).clear();
    }

    /// How many times `event` was recorded.
    pub fn count(&self, event: &str) -> usize {
        lock(&self.0).iter().filter(|e| *e == event).count()
    }

    /// Whether `event` was recorded.
    pub fn contains(&self, event: &str) -> bool {
        self.count(event) > 0
    }

    /// The position of `event`, which must have been recorded exactly once.
    #[track_caller]
    pub fn pos(&self, event: &str) -> usize {
        position(&self.entries(), event)
    }

    /// Asserts that every event of `events` was recorded exactly once, in
    /// this order (other events may come in between).
    #[track_caller]
    pub fn assert_order(&self, events: &[&str]) {
        assert_order(&self.entries(), events);
    }

    /// Asserts that the log is exactly `events`.
    #[track_caller]
    pub fn assert_exact(&self, events: &[&str]) {
        assert_eq!(self.entries(), events, "the whole event log");
    }

    /// Asserts that every event in `events` was recorded exactly once.
    #[track_caller]
    pub fn assert_once(&self, events: &[&str]) {
        let entries = self.entries();
        for event in events {
            let n = entries.iter().filter(|e| e == event).count();
            assert_eq!(n, 1, "{event:?} recorded {n} times in {entries:?}");
        }
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(lock(&self.0).iter()).finish()
    }
}

/// The position of `event` in `entries`; it must occur exactly once.
#[track_caller]
pub fn position(entries: &[String], event: &str) -> usize {
    let mut hits = entries.iter().enumerate().filter(|(_, e)| *e == event);
    let Some((pos, _)) = hits.next() else {
        panic!("{event:?} was not recorded: {entries:?}");
    };
    assert!(
        hits.next().is_none(),
        "{event:?} recorded more than once: {entries:?}"
    );
    pos
}

/// Asserts that each event of `events` occurs exactly once in `entries`, and
/// in this order.
#[track_caller]
pub fn assert_order(entries: &[String], events: &[&str]) {
    let positions: Vec<usize> = events.iter().map(|e| position(entries, e)).collect();
    for (i, pair) in positions.windows(2).enumerate() {
        assert!(
            pair[0] < pair[1],
            "expected {:?} before {:?} in {entries:?}",
            events[i],
            events[i + 1]
        );
    }
}

/// Records `"{name} future dropped"` when dropped; move it into a future.
pub struct Guard {
    log: Log,
    name: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.log.push(format!("{} future dropped", self.name));
    }
}

// ---------------------------------------------------------------------------
// Counters and small futures
// ---------------------------------------------------------------------------

/// A shared counter.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn incr(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// A `done` callback that increments this counter.
    pub fn done(&self) -> impl FnOnce() + Send + 'static {
        let this = self.clone();
        move || this.incr()
    }

    /// A guard that increments this counter when dropped.
    pub fn guard(&self) -> CountOnDrop {
        CountOnDrop(self.clone())
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// Increments its counter when dropped.
pub struct CountOnDrop(Counter);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.incr();
    }
}

/// Yields once to the executor (executor-agnostic `yield_now`).
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// A future that never completes and increments `polls` on every poll,
/// waking itself each time: a task that keeps making progress until it is
/// dropped.
pub async fn busy(polls: Counter) {
    std::future::poll_fn(move |cx| {
        polls.incr();
        cx.waker().wake_by_ref();
        Poll::<()>::Pending
    })
    .await
}

/// Installs (once per test binary) a panic hook that stays quiet for panics
/// whose message starts with `"intentional"`, and reports every other panic
/// as the default hook does.
pub fn quiet_intentional_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if message.is_some_and(|m| m.starts_with("intentional")) {
                return;
            }
            default(info);
        }));
    });
}

// ---------------------------------------------------------------------------
// The manual executor
// ---------------------------------------------------------------------------

/// Upper bound on the polls of one `run_until_stalled`: a task that wakes
/// itself forever is reported instead of hanging the test.
const MAX_POLLS: usize = 5_000_000;

/// A deterministic executor run by hand: spawned tasks wait in a FIFO queue
/// until the test calls [`run_until_stalled`](Self::run_until_stalled); a
/// woken task is queued again (once, however often it is woken).
///
/// `Clone + Send + Sync`, as `ScopedSpawner::new` requires; tasks may be
/// spawned and woken from any thread, and are polled on the thread that
/// runs the executor.
#[derive(Clone, Default)]
pub struct ManualExecutor {
    inner: Arc<ManualInner>,
}

#[derive(Default)]
struct ManualInner {
    queue: Mutex<VecDeque<Arc<ManualTask>>>,
    /// Every task ever spawned, so that `shutdown` can drop the ones left.
    tasks: Mutex<Vec<Arc<ManualTask>>>,
    /// `None`: accept every spawn; `Some(n)`: accept `n` more, then refuse.
    budget: Mutex<Option<usize>>,
    spawned: AtomicUsize,
}

struct ManualTask {
    future: Mutex<Option<FutureObj<'static, ()>>>,
    queued: AtomicBool,
    executor: Weak<ManualInner>,
}

impl Wake for ManualTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::SeqCst) {
            if let Some(executor) = self.executor.upgrade() {
                lock(&executor.queue).push_back(self.clone());
            }
        }
    }
}

impl ManualExecutor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Polls one queued task, if any. Returns whether there was one.
    pub fn run_one(&self) -> bool {
        let Some(task) = lock(&self.inner.queue).pop_front() else {
            return false;
        };
        task.queued.store(false, Ordering::SeqCst);
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let mut slot = lock(&task.future);
        let finished = match slot.as_mut() {
            Some(future) => Pin::new(future).poll(&mut cx).is_ready(),
            None => false,
        };
        let finished = if finished { slot.take() } else { None };
        drop(slot);
        drop(finished);
        true
    }

    /// Polls queued tasks until the queue is empty. Returns the number of
    /// polls.
    ///
    /// # Panics
    ///
    /// After `MAX_POLLS` polls (a task that never stops waking itself).
    #[track_caller]
    pub fn run_until_stalled(&self) -> usize {
        let mut polls = 0;
        while self.run_one() {
            polls += 1;
            assert!(polls < MAX_POLLS, "the manual executor never stalled");
        }
        polls
    }

    /// Polls each task that is queued now once (tasks woken meanwhile wait
    /// for the next round). Returns the number of polls.
    pub fn run_round(&self) -> usize {
        let n = lock(&self.inner.queue).len();
        for _ in 0..n {
            self.run_one();
        }
        n
    }

    /// Number of tasks waiting in the queue.
    pub fn queued(&self) -> usize {
        lock(&self.inner.queue).len()
    }

    /// Number of tasks accepted so far.
    pub fn spawned(&self) -> usize {
        self.inner.spawned.load(Ordering::SeqCst)
    }

    /// Accepts `n` more spawns, then refuses the rest with
    /// `SpawnError::shutdown()`.
    pub fn refuse_after(&self, n: usize) {
        *lock(&self.inner.budget) = Some(n);
    }

    /// Drops every task that has not finished, as a runtime does when it
    /// shuts down, and refuses later spawns. The futures are dropped on this
    /// thread, outside the executor's locks.
    pub fn shutdown(&self) {
        self.refuse_after(0);
        lock(&self.inner.queue).clear();
        let tasks = std::mem::take(&mut *lock(&self.inner.tasks));
        for task in tasks {
            let future = lock(&task.future).take();
            drop(future);
        }
        lock(&self.inner.queue).clear();
    }

    /// Runs `future` on this thread. Between two polls of it, each queued
    /// task is polled once (a round), so that tasks which wake themselves
    /// forever do not starve it.
    ///
    /// # Panics
    ///
    /// When `future` is pending, no task is queued and `future` was not
    /// woken: on this single-threaded executor nothing could ever wake it
    /// again (a lost wake-up, or a scenario waiting on something that never
    /// happens). Also after `MAX_POLLS` task polls.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let flag = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut polls = 0;
        loop {
            if flag.0.swap(false, Ordering::SeqCst) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            } else if self.queued() == 0 {
                panic!("stalled: the future is pending and no task can run (a lost wake-up?)");
            }
            polls += self.run_round();
            assert!(polls < MAX_POLLS, "the future never completed");
        }
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Spawn for ManualExecutor {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        {
            let mut budget = lock(&self.inner.budget);
            match budget.as_mut() {
                Some(0) => return Err(SpawnError::shutdown()),
                Some(n) => *n -= 1,
                None => {}
            }
        }
        let task = Arc::new(ManualTask {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(true),
            executor: Arc::downgrade(&self.inner),
        });
        lock(&self.inner.tasks).push(task.clone());
        lock(&self.inner.queue).push_back(task);
        self.inner.spawned.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn status(&self) -> Result<(), SpawnError> {
        match *lock(&self.inner.budget) {
            Some(0) => Err(SpawnError::shutdown()),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for ManualExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualExecutor")
            .field("queued", &self.queued())
            .field("spawned", &self.spawned())
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Running one scenario on each executor
// ---------------------------------------------------------------------------

/// A tokio multi-thread runtime with 2 workers.
pub fn tokio_multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime")
}

/// A tokio current-thread runtime.
pub fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

/// A `futures` thread pool with 2 threads.
pub fn thread_pool() -> ThreadPool {
    ThreadPool::builder()
        .pool_size(2)
        .create()
        .expect("a thread pool")
}

/// A root over `runtime`.
pub fn tokio_root(runtime: &tokio::runtime::Runtime) -> ScopedSpawner<TokioSpawner> {
    ScopedSpawner::new(TokioSpawner::new(runtime.handle().clone()))
}

/// Runs `scenario` with a root over a tokio multi-thread runtime (2
/// workers); the scenario itself runs in `block_on`, off the workers.
pub fn on_tokio_multi_thread<F, Fut>(scenario: F)
where
    F: FnOnce(ScopedSpawner<TokioSpawner>, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio_multi_thread();
    let root = tokio_root(&runtime);
    runtime.block_on(scenario(root, "tokio multi-thread"));
}

/// Runs `scenario` with a root over a tokio current-thread runtime.
pub fn on_tokio_current_thread<F, Fut>(scenario: F)
where
    F: FnOnce(ScopedSpawner<TokioSpawner>, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio_current_thread();
    let root = tokio_root(&runtime);
    runtime.block_on(scenario(root, "tokio current-thread"));
}

/// Runs `scenario` with a root over a `futures` `ThreadPool` (2 threads).
pub fn on_thread_pool<F, Fut>(scenario: F)
where
    F: FnOnce(ScopedSpawner<ThreadPool>, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    const WORKERS: usize = 2;
    let workers = Arc::new(AtomicUsize::new(WORKERS));
    let stopped = workers.clone();
    let pool = ThreadPool::builder()
        .pool_size(WORKERS)
        .before_stop(move |_| {
            stopped.fetch_sub(1, Ordering::SeqCst);
        })
        .create()
        .expect("a thread pool");
    let root = ScopedSpawner::new(pool);
    futures::executor::block_on(scenario(root, "futures ThreadPool"));
    join_workers(&workers);
}

/// Waits (a while, at most) for a thread pool's workers to stop once its
/// last handle is gone: `ThreadPool` does not join them, and Miri fails a
/// test whose main thread returns while another still runs. A task left
/// pending in the pool keeps it alive; then the wait gives up quietly (this
/// is the harness's tidiness, not a check).
fn join_workers(running: &AtomicUsize) {
    for _ in 0..2_000 {
        if running.load(Ordering::SeqCst) == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // The workers are past `before_stop`; let them return (under Miri the
    // sleep hands them the remaining steps).
    std::thread::sleep(std::time::Duration::from_millis(5));
}

/// Runs `scenario` with a root over a [`ManualExecutor`], then runs the
/// executor until it stalls and drops whatever tasks are left.
pub fn on_manual<F, Fut>(scenario: F)
where
    F: FnOnce(ScopedSpawner<ManualExecutor>, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    let executor = ManualExecutor::new();
    let root = ScopedSpawner::new(executor.clone());
    executor.block_on(scenario(root, "manual executor"));
    executor.run_until_stalled();
    executor.shutdown();
}

/// Runs a scenario, written as `|root| async move { .. }` (or
/// `|root, executor_name| ..`), once on each executor: tokio multi-thread,
/// tokio current-thread, `futures` `ThreadPool` and [`ManualExecutor`]. The
/// body is expanded once per executor, so `root` has a concrete
/// `ScopedSpawner<_>` type in each.
#[allow(unused_macros)]
macro_rules! on_each_executor {
    (|$root:ident| $body:expr) => {
        $crate::common::on_each_executor!(|$root, _executor| $body)
    };
    (|$root:ident, $executor:ident| $body:expr) => {{
        $crate::common::on_tokio_multi_thread(|$root, $executor| $body);
        $crate::common::on_tokio_current_thread(|$root, $executor| $body);
        $crate::common::on_thread_pool(|$root, $executor| $body);
        $crate::common::on_manual(|$root, $executor| $body);
    }};
}
#[allow(unused_imports)]
pub(crate) use on_each_executor;

// ---------------------------------------------------------------------------
// A three-level chain: top -> mid -> leaf
// ---------------------------------------------------------------------------

/// What the top task of [`spawn_chain`] does once the leaf runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Top {
    /// Stays pending until cancelled.
    Pends,
    /// Completes as soon as the leaf has been polled.
    Completes,
}

/// The signals of a chain spawned by [`spawn_chain`].
pub struct Chain {
    /// The top task's signals, held by the test.
    pub top: tasktree::ParentSignals,
    /// The mid task's signals, handed out of top's `fun`.
    pub mid: tasktree::ParentSignals,
    /// Resolves once the leaf has been polled and top has seen it (so all
    /// three futures have run).
    pub leaf_running: futures::channel::oneshot::Receiver<()>,
}

/// Spawns `top` from `root`, `mid` from top's spawner and `leaf` from mid's
/// spawner, all registered before this returns (the spawns happen in the
/// `fun`s). Each future holds a `log.guard(name)` and each task has
/// `log.done(name)`. Mid and leaf pend until cancelled; top as `top` says.
pub fn spawn_chain<S>(root: &ScopedSpawner<S>, log: &Log, top: Top) -> Chain
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    use tasktree::ScopedSpawn;

    // The leaf tells top that it runs; top tells the test, then completes
    // or pends.
    let (leaf_running, top_wait) = futures::channel::oneshot::channel();
    let mid_slot: Arc<Mutex<Option<tasktree::ParentSignals>>> = Arc::default();
    let (l1, l2) = (log.clone(), log.clone());
    let slot = mid_slot.clone();
    let top_guard = log.guard("top");
    let (test_tx, test_rx) = futures::channel::oneshot::channel();
    let top_signals = root
        .spawn_with_signal(
            move |top_spawner| {
                let mid_guard = l1.guard("mid");
                let mid = top_spawner
                    .spawn_with_signal(
                        move |mid_spawner| {
                            let leaf_guard = l2.guard("leaf");
                            mid_spawner
                                .spawn_future(
                                    async move {
                                        let _guard = leaf_guard;
                                        let _ = leaf_running.send(());
                                        std::future::pending::<()>().await
                                    },
                                    l2.done("leaf"),
                                )
                                .expect("spawn leaf");
                            async move {
                                let _guard = mid_guard;
                                std::future::pending::<()>().await
                            }
                        },
                        l1.done("mid"),
                    )
                    .expect("spawn mid");
                *lock(&slot) = Some(mid);
                async move {
                    let _guard = top_guard;
                    let _ = top_wait.await;
                    let _ = test_tx.send(());
                    if top == Top::Pends {
                        std::future::pending::<()>().await
                    }
                }
            },
            log.done("top"),
        )
        .expect("spawn top");
    let mid = lock(&mid_slot)
        .take()
        .expect("mid was spawned in top's fun");
    Chain {
        top: top_signals,
        mid,
        leaf_running: test_rx,
    }
}

// ---- helpers shared by the issue 3 tests (scope blocks, policies, panics) ----

/// Runs `scenario` on a tokio multi-thread runtime (2 workers), then on a
/// current-thread runtime; the top-level scope functions use the runtime
/// they are called in.
pub fn on_both_runtimes<F, Fut>(scenario: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    quiet_intentional_panics();
    tokio_multi_thread().block_on(scenario("tokio multi-thread"));
    tokio_current_thread().block_on(scenario("tokio current-thread"));
}

/// A future that sends on `running` at its first poll, then pends until
/// dropped; made eagerly, so its guard logs `"{name} future dropped"` even
/// if it is never polled.
pub fn pend(
    log: &Log,
    name: &'static str,
    running: Option<futures::channel::oneshot::Sender<()>>,
) -> impl Future<Output = ()> + Send + 'static {
    let guard = log.guard(name);
    async move {
        let _guard = guard;
        if let Some(running) = running {
            let _ = running.send(());
        }
        std::future::pending::<()>().await
    }
}

/// The message of a string panic payload.
pub fn message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<not a string>")
}

/// Polls `inner`; panics with `message` when dropped, after `inner`.
pub struct PanicOnDrop<F> {
    pub inner: Pin<Box<F>>,
    pub message: &'static str,
}

impl<F: Future> Future for PanicOnDrop<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<F> Drop for PanicOnDrop<F> {
    fn drop(&mut self) {
        panic!("{}", self.message);
    }
}

/// Yields to the executor until `cond` holds; fails (instead of hanging)
/// after some ten seconds of trying.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for i in 0..100_000 {
        if cond() {
            return;
        }
        yield_now().await;
        if i % 10 == 9 {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }
    panic!("never happened: {what}");
}
