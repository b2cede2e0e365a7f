//! G9 by shape: the scenarios of `tests/scaling.rs` (children with
//! deadlines, gracefully cancelled children, stop watchers), each at `N` and
//! `8 * N` tasks, so that linear cost shows as about 8× the time (and the
//! same throughput per task), and quadratic cost as 64×.
//!
//! Run with short settings on the shared 2-core machines:
//!
//! ```text
//! cargo bench --bench scaling -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Each iteration is one whole scenario on a fresh current-thread runtime
//! (made and dropped outside the timed part), timed with `iter_custom`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio::sync::oneshot;

/// The smaller size; the larger is eight times it.
const N: usize = 10_000;
/// Far enough never to pass during a run.
const HOUR: Duration = Duration::from_secs(3600);

type Run = Pin<Box<dyn Future<Output = ()>>>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `n` children of one root, each with a deadline an hour away, all of which
/// then finish on their own and are awaited.
fn deadlines(n: usize) -> Run {
    Box::pin(async move {
        let root = ScopedSpawner::tokio();
        let mut releases = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let (release, wait) = oneshot::channel::<()>();
            let handle = root
                .spawn_task(async move {
                    let _ = wait.await;
                })
                .expect("spawn");
            handle.set_timeout(HOUR).expect("a timer");
            releases.push(release);
            handles.push(handle);
        }
        // Released by a task queued behind every child and timer, so that
        // each of them has parked (the timers on their children) first.
        tokio::spawn(async move {
            for release in releases {
                let _ = release.send(());
            }
        });
        for handle in handles {
            handle
                .await
                .expect("the child finishes before its deadline");
        }
        root.shutdown().await;
    })
}

/// `n` children of one root, each cancelled gracefully with an hour to
/// finish; each waits for its stop request and returns.
fn graceful_cancels(n: usize) -> Run {
    Box::pin(async move {
        let root = ScopedSpawner::tokio();
        let mut signals = Vec::with_capacity(n);
        for _ in 0..n {
            let child = root
                .spawn_with_signal(
                    |spawner| async move { spawner.stop_requested().await },
                    || (),
                )
                .expect("spawn");
            signals.push(child);
        }
        let mut done = Vec::with_capacity(n);
        for child in signals {
            child
                .cancel_sender
                .cancel_with_grace(HOUR)
                .expect("a timer");
            done.push(child.done_receiver);
        }
        for done in done {
            done.await;
        }
        root.shutdown().await;
    })
}

/// `n` tasks (not children) each waiting for the root's stop request, which
/// a shutdown then makes; every one of them is woken and finishes.
fn stop_watchers(n: usize) -> Run {
    Box::pin(async move {
        let root = ScopedSpawner::tokio();
        let waiting = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let stop = root.stop_requested();
            let waiting = waiting.clone();
            tasks.push(tokio::spawn(async move {
                waiting.fetch_add(1, Ordering::Relaxed);
                stop.await;
            }));
        }
        while waiting.load(Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
        root.shutdown().await;
        for task in tasks {
            task.await.expect("the watcher finishes");
        }
    })
}

/// One group per scenario, with `N` and `8 * N` tasks.
fn bench_scenario(c: &mut Criterion, name: &str, scenario: fn(usize) -> Run) {
    let mut group = c.benchmark_group(name);
    // One iteration is up to about 150 ms at 8 N: 10 samples of equal size.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for n in [N, 8 * N] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let rt = runtime();
                    let start = Instant::now();
                    rt.block_on(scenario(n));
                    total += start.elapsed();
                    drop(rt);
                }
                total
            });
        });
    }
    group.finish();
}

fn children_with_deadlines(c: &mut Criterion) {
    bench_scenario(c, "scaling/children_with_deadlines", deadlines);
}

fn gracefully_cancelled_children(c: &mut Criterion) {
    bench_scenario(c, "scaling/gracefully_cancelled_children", graceful_cancels);
}

fn stop_watchers_woken(c: &mut Criterion) {
    bench_scenario(c, "scaling/stop_watchers", stop_watchers);
}

criterion_group!(
    benches,
    children_with_deadlines,
    gracefully_cancelled_children,
    stop_watchers_woken
);
criterion_main!(benches);
