//! The driver for instruction counts (issue 4): runs one scenario of one
//! contender, with the timed part inside [`measured_block_on`], so that
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*measured_block_on*' \
//!     target/release/deps/instructions-<hash> --contender tasktree --scenario tree_cancel
//! ```
//!
//! counts exactly the instructions of that part (on a current-thread runtime
//! every task runs inside that call). Tasks on the workers of a multi-thread
//! runtime run outside it; count those runs whole, at two sizes, and take the
//! difference (see BENCHMARKS.md).
//!
//! Arguments: `--contender NAME` (tokio, JoinSet, TaskTracker+token,
//! scoped_spawn, tasktree, tasktree-handle), `--scenario NAME` (spawn_join_current_thread,
//! spawn_join_multi_thread, tree_spawn_complete, tree_cancel, chain_cancel),
//! `--size N` (tasks for spawn + join, levels for the tree, depth for the
//! chain; default: the small run, 10,000 tasks / 4 levels / 10,000 deep),
//! `--repeat K` (runs of the timed part, default 1).
//!
//! Without `--contender` (as under `cargo bench`), it runs every contender in
//! every scenario once at the small size, checks the drop counts and prints
//! the wall times: a smoke test of the benchmark code.

use std::time::Instant;

#[macro_use]
mod common;

use common::{check, measured_future, prepare, Contender, Scenario, NAMES};

/// The timed part of a run, as one function for callgrind's `--toggle-collect`.
#[inline(never)]
fn measured_block_on(rt: &tokio::runtime::Runtime, fut: common::BoxFuture) {
    rt.block_on(fut);
}

/// The small run: what callgrind can count in seconds.
fn small_size(scenario: Scenario) -> usize {
    match scenario {
        Scenario::SpawnJoinCurrent | Scenario::SpawnJoinMulti => 10_000,
        Scenario::TreeComplete | Scenario::TreeCancel => 4,
        Scenario::ChainCancel => 10_000,
    }
}

fn run<C: Contender>(name: &str, scenario: Scenario, size: usize, repeat: usize) {
    if name != C::NAME {
        return;
    }
    let rt = scenario.runtime();
    for _ in 0..repeat {
        let tree = prepare::<C>(&rt, scenario, size);
        let fut = measured_future::<C>(scenario, size, tree);
        let start = Instant::now();
        measured_block_on(&rt, fut);
        let elapsed = start.elapsed();
        check::<C>(scenario, size);
        let tasks = scenario.tasks(size);
        println!(
            "{:<26} {:<18} {:>7} tasks {:>10.3} ms {:>8.1} ns/task",
            scenario.name(),
            C::NAME,
            tasks,
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e9 / tasks as f64
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut contender, mut scenario, mut size, mut repeat) = (None, None, None, 1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--contender" => contender = Some(value()),
            "--scenario" => {
                let name = value();
                scenario = Some(
                    Scenario::from_name(&name).unwrap_or_else(|| panic!("unknown scenario {name}")),
                );
            }
            "--size" => size = Some(value().parse().expect("--size N")),
            "--repeat" => repeat = value().parse().expect("--repeat K"),
            // Passed by `cargo bench`.
            _ => {}
        }
    }
    match contender {
        Some(name) => {
            assert!(
                NAMES.contains(&name.as_str()),
                "unknown contender {name}; one of {NAMES:?}"
            );
            let scenario = scenario.expect("--scenario NAME");
            let size = size.unwrap_or_else(|| small_size(scenario));
            for_each_contender!(run(&name, scenario, size, repeat));
        }
        None => {
            for scenario in Scenario::ALL {
                let size = size.unwrap_or_else(|| small_size(scenario));
                for name in NAMES {
                    for_each_contender!(run(name, scenario, size, repeat));
                }
            }
        }
    }
}
