//! The scenarios of the G9 scaling checks, shared by `tests/scaling.rs`
//! (which asserts their shape) and `benches/scaling.rs` (which times them):
//! each does the work of `n` tasks on the current tokio runtime, so that a
//! run at `8 * n` shows whether the cost is linear.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio::sync::oneshot;

/// One run of a scenario with the given number of tasks.
pub type Run = Pin<Box<dyn Future<Output = ()>>>;
/// A scenario: the work of `n` tasks.
pub type Scenario = fn(usize) -> Run;

/// The smaller size; the larger is eight times it.
pub const N: usize = 10_000;
/// Far enough never to pass during a run.
const HOUR: Duration = Duration::from_secs(3600);

/// Every scenario, by name.
pub const ALL: [(&str, Scenario); 4] = [
    ("children_with_deadlines", deadlines),
    ("gracefully_cancelled_children", graceful_cancels),
    ("stop_watchers", stop_watchers),
    ("race", race),
];

/// The runtime a scenario runs on: current-thread, so that the time is the
/// work done, not a scheduling accident.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `n` children of one root, each with a deadline an hour away, all of which
/// then finish on their own and are awaited.
pub fn deadlines(n: usize) -> Run {
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
pub fn graceful_cancels(n: usize) -> Run {
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
pub fn stop_watchers(n: usize) -> Run {
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

/// A race of `n` contenders: every one yields a few times and fails, except
/// the last one given, which yields longer and wins, so every contender
/// finishes (and wakes the racer) before the race is decided.
pub fn race(n: usize) -> Run {
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
