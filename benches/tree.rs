//! Wall-time benchmarks of issue 4: one criterion group per scenario, every
//! contender of `common` in each.
//!
//! Run with short settings on the shared 2-core machines:
//!
//! ```text
//! cargo bench --bench tree -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Each iteration is one whole scenario (100,000 tasks, or the 111,110-task
//! tree, or the 10,000-deep chain), timed with `iter_custom`: building the
//! pending tree of the cancel scenarios and the drop-count checks happen
//! outside the timed part. Instruction counts, which are repeatable where
//! wall time is not, come from `benches/instructions.rs`.

use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode};

#[macro_use]
mod common;

use common::{check, measured_future, prepare, Contender, Scenario};

fn bench_one<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, scenario: Scenario) {
    let rt = scenario.runtime();
    let size = scenario.default_size();
    group.bench_function(C::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let tree = prepare::<C>(&rt, scenario, size);
                let fut = measured_future::<C>(scenario, size, tree);
                let start = Instant::now();
                rt.block_on(fut);
                total += start.elapsed();
                check::<C>(scenario, size);
            }
            total
        });
    });
}

fn bench_scenario(c: &mut Criterion, scenario: Scenario) {
    let mut group = c.benchmark_group(scenario.name());
    // One iteration is tens of milliseconds: 10 samples of equal size keep a
    // group under a minute with `--warm-up-time 1 --measurement-time 3`.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for_each_contender!(bench_one(&mut group, scenario));
    group.finish();
}

fn spawn_join_current_thread(c: &mut Criterion) {
    bench_scenario(c, Scenario::SpawnJoinCurrent);
}

fn spawn_join_multi_thread(c: &mut Criterion) {
    bench_scenario(c, Scenario::SpawnJoinMulti);
}

fn tree_spawn_complete(c: &mut Criterion) {
    bench_scenario(c, Scenario::TreeComplete);
}

fn tree_cancel(c: &mut Criterion) {
    bench_scenario(c, Scenario::TreeCancel);
}

fn chain_cancel(c: &mut Criterion) {
    bench_scenario(c, Scenario::ChainCancel);
}

criterion_group!(
    benches,
    spawn_join_current_thread,
    spawn_join_multi_thread,
    tree_spawn_complete,
    tree_cancel,
    chain_cancel
);
criterion_main!(benches);
