//! The cost of a poll: `TASKS` long-lived tasks under one scope, each polled
//! `POLLS` times (it yields, `tokio::task::yield_now`, between polls), on a
//! 2-worker tokio runtime; the time per poll against bare `tokio::spawn` and
//! `JoinSet` (which adds no wrapper around the future) in the same run.
//!
//! What it shows is what a task of the tree pays on every poll that finds
//! nothing changed (no cancel, no stop request): the wrapper's check of its
//! cancel signal.
//!
//! ```text
//! cargo bench --bench busy -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Criterion reports the time of one whole run (`TASKS` × `POLLS` polls)
//! and, with its throughput, polls per second.
//!
//! Instruction counts of one contender (`tokio`, `JoinSet`, `tasktree`,
//! `tasktree-handle`) on a current-thread runtime, the run inside
//! [`measured_block_on`] (divide by `TASKS` × `POLLS` = 200,000 polls):
//!
//! ```text
//! BIN=$(cargo bench --bench busy --no-run 2>&1 | grep -o 'target/release/deps/busy-[0-9a-f]*')
//! valgrind --tool=callgrind --toggle-collect='*measured_block_on*' \
//!     --callgrind-out-file=cg.busy.tasktree "$BIN" --count tasktree
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use tasktree::{ScopedSpawn, ScopedSpawner, TokioSpawner};
use tokio::runtime::Runtime;

/// Long-lived tasks under one scope.
const TASKS: usize = 1_000;
/// Polls of each.
const POLLS: usize = 200;

/// One task: `POLLS` polls, then it counts itself done.
async fn busy(finished: Arc<AtomicUsize>) {
    for _ in 0..POLLS - 1 {
        tokio::task::yield_now().await;
    }
    finished.fetch_add(1, Ordering::Relaxed);
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// Bare `tokio::spawn`, the handles awaited.
async fn tokio_run(finished: Arc<AtomicUsize>) {
    let handles: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(busy(finished.clone())))
        .collect();
    for handle in handles {
        handle.await.expect("no panic");
    }
}

/// `JoinSet`, drained.
async fn joinset_run(finished: Arc<AtomicUsize>) {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        set.spawn(busy(finished.clone()));
    }
    while let Some(result) = set.join_next().await {
        result.expect("no panic");
    }
}

/// tasktree, seed API: `spawn_future_with_signal` under one root, the done
/// receivers awaited.
async fn tasktree_run(root: ScopedSpawner<TokioSpawner>, finished: Arc<AtomicUsize>) {
    let signals: Vec<_> = (0..TASKS)
        .map(|_| {
            root.spawn_future_with_signal(busy(finished.clone()), || ())
                .expect("spawn")
        })
        .collect();
    for signal in signals {
        signal.done_receiver.await;
    }
}

/// tasktree, typed handles: `spawn_task`, the handles awaited.
async fn tasktree_handle_run(root: ScopedSpawner<TokioSpawner>, finished: Arc<AtomicUsize>) {
    let handles: Vec<_> = (0..TASKS)
        .map(|_| root.spawn_task(busy(finished.clone())).expect("spawn"))
        .collect();
    for handle in handles {
        handle.await.expect("no panic");
    }
}

/// The contenders, by name.
const CONTENDERS: [&str; 4] = ["tokio", "JoinSet", "tasktree", "tasktree-handle"];

/// One run of contender `name` on `rt`.
fn one_run(
    rt: &Runtime,
    name: &str,
    finished: Arc<AtomicUsize>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let root = || ScopedSpawner::new(TokioSpawner::new(rt.handle().clone()));
    match name {
        "tokio" => Box::pin(tokio_run(finished)),
        "JoinSet" => Box::pin(joinset_run(finished)),
        "tasktree" => Box::pin(tasktree_run(root(), finished)),
        "tasktree-handle" => Box::pin(tasktree_handle_run(root(), finished)),
        _ => panic!("unknown contender {name}; one of {CONTENDERS:?}"),
    }
}

/// The run of a `--count` run, as one function for callgrind's
/// `--toggle-collect`.
#[inline(never)]
fn measured_block_on(
    rt: &Runtime,
    fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    rt.block_on(fut);
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("busy");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Elements((TASKS * POLLS) as u64));
    let mut run = |name: &str, one: &dyn Fn(Arc<AtomicUsize>) -> Duration| {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let finished = Arc::new(AtomicUsize::new(0));
                        let elapsed = one(finished.clone());
                        assert_eq!(finished.load(Ordering::Relaxed), TASKS, "{name}");
                        elapsed
                    })
                    .sum()
            });
        });
    };
    let timed = |fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
        let start = Instant::now();
        rt.block_on(fut);
        start.elapsed()
    };
    for name in CONTENDERS {
        run(name, &|f| timed(one_run(&rt, name, f)));
    }
    group.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--count") {
        let name = args.get(at + 1).expect("--count CONTENDER");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        // One untimed warm-up run, so that the counted one does not include
        // the first growth of the runtime's and the tree's buffers.
        rt.block_on(one_run(&rt, name, Arc::new(AtomicUsize::new(0))));
        let finished = Arc::new(AtomicUsize::new(0));
        measured_block_on(&rt, one_run(&rt, name, finished.clone()));
        assert_eq!(finished.load(Ordering::Relaxed), TASKS, "{name}");
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
