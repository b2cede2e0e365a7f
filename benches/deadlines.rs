//! The cost of a deadline: spawn + join of `N` tasks through `spawn_task`,
//! with and without `handle.set_timeout(1 h)` on each, bare `tokio::spawn`
//! as the reference, on a tokio current-thread runtime. Two task bodies:
//! `now` (the future completes in its first poll) and `yield` (it yields
//! once first, so that its deadline's timer is really armed while it runs).
//! The figure that matters is the ratio "with deadline / without" within
//! one run (target ≤ 1.3×, BENCHMARKS.md).
//!
//! Run with short settings on the shared 2-core machines:
//!
//! ```text
//! cargo bench --bench deadlines -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Instruction counts of one variant (`tokio`, `handle` or `handle+deadline`,
//! body `now` or `yield`), the timed part inside [`measured_block_on`]:
//!
//! ```text
//! BIN=$(cargo bench --bench deadlines --no-run 2>&1 | grep -o 'target/release/deps/deadlines-[0-9a-f]*')
//! valgrind --tool=callgrind --toggle-collect='*measured_block_on*' \
//!     --callgrind-out-file=cg.deadline "$BIN" --count handle+deadline yield
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

/// Tasks per iteration.
const N: usize = 10_000;

/// The deadline set on each task: far enough never to pass.
const TIMEOUT: Duration = Duration::from_secs(3600);

/// What each task does.
#[derive(Clone, Copy)]
enum Body {
    /// Completes in its first poll.
    Now,
    /// Yields once, then completes.
    Yield,
}

/// What spawns the tasks.
#[derive(Clone, Copy)]
enum Variant {
    /// `tokio::spawn` and awaiting the `JoinHandle`s.
    Tokio,
    /// `spawn_task` and awaiting the `TaskHandle`s.
    Handle,
    /// The same with `set_timeout(TIMEOUT)` on every handle.
    HandleDeadline,
}

const VARIANTS: [(&str, Variant); 3] = [
    ("tokio", Variant::Tokio),
    ("handle", Variant::Handle),
    ("handle+deadline", Variant::HandleDeadline),
];

const BODIES: [(&str, Body); 2] = [("now", Body::Now), ("yield", Body::Yield)];

/// A future that is pending once (waking itself), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

async fn task(body: Body) {
    if let Body::Yield = body {
        YieldOnce(false).await;
    }
}

/// Spawns `n` tasks and joins them all.
async fn run(variant: Variant, body: Body, n: usize) {
    match variant {
        Variant::Tokio => {
            let handles: Vec<_> = (0..n).map(|_| tokio::spawn(task(body))).collect();
            for handle in handles {
                handle.await.unwrap();
            }
        }
        Variant::Handle | Variant::HandleDeadline => {
            let root = tasktree::ScopedSpawner::tokio();
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let handle = root.spawn_task(task(body)).unwrap();
                    if let Variant::HandleDeadline = variant {
                        handle.set_timeout(TIMEOUT).unwrap();
                    }
                    handle
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The timed part of a `--count` run, as one function for callgrind's
/// `--toggle-collect`.
#[inline(never)]
fn measured_block_on(rt: &tokio::runtime::Runtime, variant: Variant, body: Body) {
    rt.block_on(run(variant, body, N));
}

fn bench(c: &mut Criterion) {
    for (body_name, body) in BODIES {
        let mut group = c.benchmark_group(format!("deadline/{body_name}"));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(20);
        group.throughput(Throughput::Elements(N as u64));
        for (name, variant) in VARIANTS {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                let rt = runtime();
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        rt.block_on(run(variant, body, N));
                    }
                    start.elapsed()
                });
            });
        }
        group.finish();
    }
}

/// The value named `name` in `list`.
fn find<T: Copy>(list: &[(&str, T)], name: Option<&String>) -> Option<T> {
    list.iter()
        .find(|(n, _)| Some(*n) == name.map(String::as_str))
        .map(|(_, v)| *v)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--count") {
        let variant = find(&VARIANTS, args.get(at + 1)).expect("--count VARIANT BODY");
        let body = find(&BODIES, args.get(at + 2)).expect("--count VARIANT BODY");
        let rt = runtime();
        // One untimed warm-up run, so that the counted one does not include
        // the first growth of the runtime's and the tree's buffers.
        rt.block_on(run(variant, body, N));
        measured_block_on(&rt, variant, body);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
