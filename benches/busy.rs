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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
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
    run("tokio", &|f| timed(Box::pin(tokio_run(f))));
    run("JoinSet", &|f| timed(Box::pin(joinset_run(f))));
    run("tasktree", &|f| {
        let root = ScopedSpawner::new(TokioSpawner::new(rt.handle().clone()));
        timed(Box::pin(tasktree_run(root, f)))
    });
    run("tasktree-handle", &|f| {
        let root = ScopedSpawner::new(TokioSpawner::new(rt.handle().clone()));
        timed(Box::pin(tasktree_handle_run(root, f)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
