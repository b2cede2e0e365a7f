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

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio::sync::oneshot;

/// One run of a scenario with the given number of tasks.
type Run = Pin<Box<dyn Future<Output = ()>>>;
type Scenario = fn(usize) -> Run;

/// The smaller size; the larger is eight times it.
const N: usize = 10_000;
/// Linear is 8, quadratic 64: a wide margin either way.
const MAX_RATIO: f64 = 24.0;
/// Timed runs per size; the fastest counts.
const RUNS: usize = 3;
/// Far enough never to pass during a run.
const HOUR: Duration = Duration::from_secs(3600);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The fastest of `RUNS` runs of `scenario` with `n` tasks, each on a fresh
/// runtime (made and dropped outside the timed part).
fn fastest(n: usize, scenario: Scenario) -> Duration {
    (0..RUNS)
        .map(|_| {
            let rt = runtime();
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
                // Counted in the same poll that first polls `stop`.
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

/// G9: n children with deadlines terminate in O(n) (each armed timer used
/// to scan every other timer's waker, and each done signal all of them).
#[test]
fn children_with_deadlines_finish_in_linear_time() {
    assert_linear("children with deadlines", deadlines);
}

/// G9: n gracefully cancelled children terminate in O(n) (each graceful
/// cancel's deadline used to be looked up and forgotten in a list of all).
#[test]
fn gracefully_cancelled_children_finish_in_linear_time() {
    assert_linear("gracefully cancelled children", graceful_cancels);
}

/// G9: n `stop_requested()` futures on one scope are registered and woken in
/// O(n) (each used to scan every other's waker).
#[test]
fn stop_watchers_are_woken_in_linear_time() {
    assert_linear("stop watchers", stop_watchers);
}

/// A race of `n` contenders: every one yields a few times and fails, except
/// the last one given, which yields longer and wins, so every contender
/// finishes (and wakes the racer) before the race is decided.
fn race(n: usize) -> Run {
    Box::pin(async move {
        let root = ScopedSpawner::tokio();
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
        assert_eq!(root.race(contenders).await, Ok(n - 1), "the last one wins");
        assert_eq!(root.live_children(), 0, "every contender terminated");
    })
}

/// G9: `race` polls only the contenders that woke it, so a race of n
/// contenders costs O(n) (every wake-up used to re-poll every handle).
#[test]
fn race_of_many_contenders_runs_in_linear_time() {
    assert_linear("race", race);
}
