//! Wall-time benchmark of `ScopedSpawner::race` (the quadratic `race`
//! issue): races of n and of 8n contenders, so that the shape shows. With
//! every wake-up polling only the contenders that woke it, the 8n race takes
//! about 8 times as long as the n one; re-polling every handle on every
//! wake-up made it some 50 to 70 times.
//!
//! Run with short settings on the shared 2-core machines:
//!
//! ```text
//! cargo bench --bench race -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Each iteration is one whole race on a current-thread runtime, timed with
//! `iter_custom`: every contender yields a few times and fails, except the
//! last one given, which yields longer and wins, so every contender wakes
//! the racer before the race is decided. The drop-count check happens
//! outside the timed part. `tests/scaling.rs` asserts the same shape.

use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use tasktree::{ScopedSpawner, TokioSpawner};

#[allow(unused_macros)] // `for_each_contender!` is for the other benches
#[macro_use]
mod common;

use common::{check_dropped, current_thread, Guard, DROPPED};

/// Contenders in the small race; the large one has 8 times as many.
const N: usize = 5_000;

/// One race of `n` contenders; returns the time from the first spawn to the
/// race's result (every loser terminated).
fn race_once(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let root = ScopedSpawner::new(TokioSpawner::new(rt.handle().clone()));
    DROPPED.arm(n);
    let contenders: Vec<_> = (0..n)
        .map(|i| async move {
            let _guard = Guard;
            let winner = i == n - 1;
            for _ in 0..if winner { 8 } else { 3 } {
                tokio::task::yield_now().await;
            }
            if winner {
                Ok(i)
            } else {
                Err(i)
            }
        })
        .collect();
    let start = Instant::now();
    let won = rt.block_on(root.race(contenders));
    let elapsed = start.elapsed();
    assert_eq!(won, Ok(n - 1));
    check_dropped("tasktree race", n);
    elapsed
}

fn race(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("race");
    // One iteration is milliseconds to tens of them: 10 samples of equal
    // size keep the group well under a minute with the short settings.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for n in [N, 8 * N] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| (0..iters).map(|_| race_once(&rt, n)).sum());
        });
    }
    group.finish();
}

criterion_group!(benches, race);
criterion_main!(benches);
