//! Scaling checks "by shape, not absolute time": a scenario of n and of 8n
//! units of work is timed, and the test asserts that 8× the work takes well
//! under 64× the time (what a quadratic algorithm would take), allowing a
//! wide margin (under 24×) so that a noisy shared machine cannot fail it.
//!
//! Release-only: in a debug build the timings measure the unoptimised code
//! and its debug assertions, not the algorithm, so the file compiles to
//! nothing there. CI runs it with
//!
//! ```text
//! cargo test --release --test scaling
//! ```
//!
//! Each check keeps its own helpers (prefixed with its subject, `race_` for
//! [`ScopedSpawner::race`]), so that checks of other scenarios can live in
//! this file beside them.
#![cfg(not(debug_assertions))]

use std::time::{Duration, Instant};

use tasktree::{ScopedSpawner, TokioSpawner};

/// Contenders in the small race; the large one has 8 times as many.
const RACE_N: usize = 5_000;
/// Timed runs per size; the fastest counts (the least disturbed by the
/// machine's other work).
const RACE_RUNS: usize = 3;
/// Allowed ratio of the large race's time to the small one's: linear is 8,
/// quadratic 64.
const RACE_MAX_RATIO: f64 = 24.0;

/// A tokio current-thread runtime: the racer and every contender share one
/// thread, so the time is the work done, not a scheduling accident.
fn race_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

/// One race of `n` contenders, timed. Every contender yields a few times and
/// fails, except the last one given, which yields longer and wins: every
/// contender finishes (and wakes the racer) before the race is decided.
fn race_time(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let root = ScopedSpawner::new(TokioSpawner::new(rt.handle().clone()));
    let contenders: Vec<_> = (0..n)
        .map(|i| async move {
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
    assert_eq!(won, Ok(n - 1), "the last contender wins");
    assert_eq!(root.live_children(), 0, "every contender terminated");
    elapsed
}

/// The fastest of [`RACE_RUNS`] races of `n` contenders.
fn race_best_time(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    (0..RACE_RUNS)
        .map(|_| race_time(rt, n))
        .min()
        .expect("at least one run")
}

/// `race` polls only the contenders that woke it: a race of 8n contenders
/// takes about 8 times as long as one of n, not 64 times (every wake-up
/// re-polling every handle).
#[test]
fn race_of_many_contenders_runs_in_linear_time() {
    let rt = race_runtime();
    // Warm up (the allocator, the runtime's queues).
    race_time(&rt, RACE_N);
    let small = race_best_time(&rt, RACE_N);
    let large = race_best_time(&rt, 8 * RACE_N);
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    println!(
        "race: {RACE_N} contenders {small:?}, {} contenders {large:?}, ratio {ratio:.1} \
         (linear 8, quadratic 64, allowed < {RACE_MAX_RATIO})",
        8 * RACE_N
    );
    assert!(
        ratio < RACE_MAX_RATIO,
        "8x the contenders took {ratio:.1}x the time ({small:?} -> {large:?}): not linear"
    );
}
