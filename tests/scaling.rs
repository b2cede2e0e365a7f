//! G9 (bounded cost) with timers, graceful cancels, stop watchers and races:
//! the work grows linearly with the number of tasks. Checked by shape, not by
//! absolute time: each scenario runs at `N` and `8 * N` tasks (the minimum of
//! three runs each), and the larger must take under 24 times as long (linear
//! is about 8, quadratic 64), so that a noisy machine cannot fail it.
//!
//! Release-only (timings of a debug build mean little): `.ci/run` runs it
//! with `cargo test --release --test scaling -- --test-threads=1` (one test
//! at a time, so that the scenarios do not time each other). In a debug
//! build this file compiles to nothing.
#![cfg(not(debug_assertions))]

mod scenarios;

use std::time::{Duration, Instant};

use scenarios::{Scenario, N};

/// Linear is 8, quadratic 64: a wide margin either way.
const MAX_RATIO: f64 = 24.0;
/// Timed runs per size; the fastest counts.
const RUNS: usize = 3;

/// The fastest of `RUNS` runs of `scenario` with `n` tasks, each on a fresh
/// runtime (made and dropped outside the timed part).
fn fastest(n: usize, scenario: Scenario) -> Duration {
    (0..RUNS)
        .map(|_| {
            let rt = scenarios::runtime();
            let start = Instant::now();
            rt.block_on(scenario(n));
            let elapsed = start.elapsed();
            drop(rt);
            elapsed
        })
        .min()
        .expect("at least one run")
}

/// Asserts that `scenario` at `8 * N` takes under `MAX_RATIO` times as long
/// as at `N`.
fn assert_linear(what: &str, scenario: Scenario) {
    let small = fastest(N, scenario);
    let large = fastest(8 * N, scenario);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-9);
    println!(
        "{what}: {N} tasks {small:?}, {} tasks {large:?}, ratio {ratio:.1} (linear 8, quadratic 64)",
        8 * N
    );
    assert!(
        ratio < MAX_RATIO,
        "{what}: {N} tasks took {small:?}, {} tasks took {large:?}: ratio {ratio:.1} \
         (linear is about 8, quadratic 64; the limit is {MAX_RATIO})",
        8 * N
    );
}

/// G9: n children with deadlines terminate in O(n) (each armed timer used
/// to scan every other timer's waker, and each done signal all of them).
#[test]
fn children_with_deadlines_finish_in_linear_time() {
    assert_linear("children with deadlines", scenarios::deadlines);
}

/// G9: n gracefully cancelled children terminate in O(n) (each graceful
/// cancel's deadline used to be looked up and forgotten in a list of all).
#[test]
fn gracefully_cancelled_children_finish_in_linear_time() {
    assert_linear("gracefully cancelled children", scenarios::graceful_cancels);
}

/// G9: n `stop_requested()` futures on one scope are registered and woken in
/// O(n) (each used to scan every other's waker).
#[test]
fn stop_watchers_are_woken_in_linear_time() {
    assert_linear("stop watchers", scenarios::stop_watchers);
}

/// G9: `race` polls only the contenders that woke it, so a race of n
/// contenders costs O(n) (every wake-up used to re-poll every handle).
#[test]
fn race_of_many_contenders_runs_in_linear_time() {
    assert_linear("race", scenarios::race);
}
