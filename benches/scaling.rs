//! G9 by shape: the scenarios of `tests/scaling.rs` (children with
//! deadlines, gracefully cancelled children, stop watchers, a race), each at
//! `N` and `8 * N` tasks, so that linear cost shows as about 8× the time
//! (and the same throughput per task), and quadratic cost as 64×. The
//! scenarios themselves are in `tests/scenarios/mod.rs`, shared with the
//! test that asserts their shape.
//!
//! Run with short settings on the shared 2-core machines:
//!
//! ```text
//! cargo bench --bench scaling -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Each iteration is one whole scenario on a fresh current-thread runtime
//! (made and dropped outside the timed part), timed with `iter_custom`.

use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

#[path = "../tests/scenarios/mod.rs"]
mod scenarios;

use scenarios::{Scenario, ALL, N};

/// One group per scenario, with `N` and `8 * N` tasks.
fn bench_scenario(c: &mut Criterion, name: &str, scenario: Scenario) {
    let mut group = c.benchmark_group(format!("scaling/{name}"));
    // One iteration is up to about 150 ms at 8 N: 10 samples of equal size.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    for n in [N, 8 * N] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let rt = scenarios::runtime();
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

fn scaling(c: &mut Criterion) {
    for (name, scenario) in ALL {
        bench_scenario(c, name, scenario);
    }
}

criterion_group!(benches, scaling);
criterion_main!(benches);
