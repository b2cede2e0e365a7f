//! Names and task dumps (issue 13): `ScopedSpawner::named`, `ScopedSpawner::dump`.

use std::future::pending;
use std::time::Duration;

use tasktree::{CancelReason, ScopedSpawn, ScopedSpawner, TaskDump, TaskState};

/// The dump's text with what changes from run to run masked: ages (real
/// time), the line and column of each location, and the scope numbers of
/// task ids.
fn masked(dump: &TaskDump) -> String {
    dump.to_string()
        .lines()
        .map(|line| {
            let line = match line.find(", age ") {
                Some(start) => {
                    let rest = &line[start + ", age ".len()..];
                    let end = rest.find(',').unwrap_or(rest.len());
                    format!("{}, age A{}", &line[..start], &rest[end..])
                }
                None => line.to_owned(),
            };
            let line = match line.find("tests/dump.rs:") {
                Some(start) => format!("{}tests/dump.rs:L", &line[..start]),
                None => line,
            };
            // A task id's scope number (`#7.0`) depends on the scopes that
            // other tests made first.
            match line.find('#') {
                Some(start) => {
                    let dot = start + line[start..].find('.').expect("an id");
                    format!("{}#S{}", &line[..start], &line[dot..])
                }
                None => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks the shape every dump has, whatever the tree did meanwhile:
/// parents come first and are one level up, and no two siblings share a
/// slot.
fn check_shape(dump: &TaskDump) {
    let tasks = dump.tasks();
    let mut siblings = std::collections::HashSet::new();
    for (index, task) in tasks.iter().enumerate() {
        match task.parent() {
            None => assert_eq!(task.depth(), 0, "{dump}"),
            Some(parent) => {
                assert!(parent < index, "{dump}");
                assert_eq!(tasks[parent].depth() + 1, task.depth(), "{dump}");
            }
        }
        assert!(siblings.insert((task.parent(), task.key())), "{dump}");
    }
}

/// The golden test: names, states (running, asked to stop, cancelled,
/// ending with a child), nesting, unnamed tasks and a scope block, on a
/// current-thread runtime with paused time (a deterministic schedule).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_text_dump_draws_names_states_and_nesting() {
    let root = ScopedSpawner::tokio();
    let named_at = line!() + 1;
    root.named("server")
        .spawn(
            |server| async move {
                server
                    .named("conn 1")
                    .spawn_future(pending(), || ())
                    .unwrap();
                server.spawn_future(pending(), || ()).unwrap();
                pending::<()>().await
            },
            || (),
        )
        .unwrap();
    let cancelled = root.spawn_future_with_signal(pending(), || ()).unwrap();
    // A task whose future ends while its child, asked to stop, has an hour
    // of grace left: the task is ending, waiting for that child.
    root.named("draining")
        .spawn(
            |spawner| async move {
                spawner
                    .set_grace_period(Some(Duration::from_secs(3600)))
                    .unwrap();
                spawner
                    .named("slow")
                    .spawn_future(pending(), || ())
                    .unwrap();
            },
            || (),
        )
        .unwrap();
    let block = root.spawn_task_with(|spawner| async move {
        spawner
            .scope(|scope| async move {
                scope
                    .named("in a block")
                    .spawn_future(pending(), || ())
                    .unwrap();
                pending::<()>().await
            })
            .await
    });
    let block = block.unwrap();
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    // Cancelled, and not polled since: its future is dropped at its next poll.
    cancelled.cancel_sender.cancel();

    let dump = root.dump();
    check_shape(&dump);
    let expected = "\
9 tasks
├── #S.0 \"server\": running, age A, at tests/dump.rs:L
│   ├── #S.0 \"conn 1\": running, age A, at tests/dump.rs:L
│   └── #S.1: running
├── #S.1: cancelled (its handle cancelled it)
├── #S.2 \"draining\": ending, waiting for 1 child, age A, at tests/dump.rs:L
│   └── #S.0 \"slow\": asked to stop (its parent ended first), cancelled in 3600s, age A, at tests/dump.rs:L
└── #S.3: running
    └── #S.0: running
        └── #S.0 \"in a block\": running, age A, at tests/dump.rs:L";
    assert_eq!(masked(&dump), expected, "\n{dump}");
    let server = &dump.tasks()[0];
    assert_eq!(server.location().unwrap().line(), named_at);
    // Ids: a child's scope number is its parent task's scope's.
    let conn = &dump.tasks()[1];
    assert_eq!(conn.id().slot(), 0);
    assert_ne!(conn.id().scope(), server.id().scope());
    assert_eq!(dump.tasks()[2].id().scope(), conn.id().scope());
    assert_eq!(
        server.id().to_string(),
        format!("{}.0", server.id().scope())
    );
    assert_eq!(server.state(), TaskState::Running);
    assert_eq!(
        dump.tasks()[4].state(),
        TaskState::Ending { children: 1 },
        "{dump}"
    );

    let TaskState::StopRequested { cancel_in, cause } = dump.tasks()[5].state() else {
        panic!("{dump}")
    };
    assert_eq!(
        cancel_in,
        Some(Duration::from_secs(3600)),
        "paused time: the whole grace period is left"
    );
    assert_eq!(cause.reason(), CancelReason::ParentEnded);
    assert!(!cause.is_inherited());
    let TaskState::Cancelled { cause } = dump.tasks()[3].state() else {
        panic!("{dump}")
    };
    assert_eq!(cause.reason(), CancelReason::Handle);

    // The JSON form (feature `serde`) reads back to the same dump.
    let json = serde_json::to_string(&dump).unwrap();
    let read: TaskDump = serde_json::from_str(&json).unwrap();
    assert_eq!(read, dump);
    assert_eq!(read.to_string(), dump.to_string());
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let server = &value["tasks"][0];
    assert_eq!(server["name"], "server");
    assert_eq!(server["state"], "running");
    assert_eq!(server["location"]["line"], named_at);
    assert_eq!(server["location"]["file"], "tests/dump.rs");
    assert_eq!(value["tasks"][4]["state"]["ending"]["children"], 1);
    assert_eq!(value["tasks"][5]["parent"], 4);
    let cause = &value["tasks"][5]["state"]["stop_requested"]["cause"];
    assert_eq!(cause["reason"], "parent_ended", "{json}");
    assert_eq!(cause["inherited"], false);

    drop(block);
    drop(cancelled);
    root.shutdown().await;
    let after = root.dump();
    assert!(after.tasks().is_empty(), "{after}");
    assert_eq!(after.to_string(), "0 tasks\n");
}

/// A dump read while the tree is being cancelled, on a multi-thread
/// runtime: it finishes (no deadlock: each scope is locked alone), and
/// every listed task is under the parent it was spawned by (the names
/// say which), however far the cancel got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_during_a_cancel_lists_each_task_under_its_parent() {
    const PARENTS: usize = 40;
    const CHILDREN: usize = 25;
    for round in 0..5 {
        let root = ScopedSpawner::tokio();
        let (ready, mut all_ready) = tokio::sync::mpsc::channel(PARENTS);
        for p in 0..PARENTS {
            let ready = ready.clone();
            root.named(format!("p{p}"))
                .spawn(
                    move |spawner| async move {
                        for c in 0..CHILDREN {
                            spawner
                                .named(format!("p{p}/c{c}"))
                                .spawn_future(pending(), || ())
                                .unwrap();
                        }
                        ready.send(()).await.unwrap();
                        pending::<()>().await
                    },
                    || (),
                )
                .unwrap();
        }
        for _ in 0..PARENTS {
            all_ready.recv().await.unwrap();
        }
        let full = root.dump();
        assert_eq!(full.tasks().len(), PARENTS * (CHILDREN + 1));

        let dumper = {
            let root = root.clone();
            tokio::task::spawn_blocking(move || {
                let mut dumps = 0;
                loop {
                    let dump = root.dump();
                    check_shape(&dump);
                    for task in dump.tasks() {
                        let name = task.name().expect("every task is named");
                        match task.parent() {
                            None => assert!(!name.contains('/'), "{dump}"),
                            Some(parent) => {
                                let parent = dump.tasks()[parent].name().unwrap();
                                assert!(name.starts_with(&format!("{parent}/")), "{dump}");
                            }
                        }
                    }
                    dumps += 1;
                    if dump.tasks().is_empty() {
                        return dumps;
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(round)).await;
        root.shutdown().await;
        let dumps = dumper.await.unwrap();
        assert!(dumps >= 1);
    }
}

/// A chain of 2,000 nested tasks dumps without recursion and draws its
/// deep lines in bounded width.
#[tokio::test(flavor = "current_thread")]
async fn a_deep_chain_dumps_in_linear_space() {
    const DEPTH: usize = 2_000;
    fn nest<S: ScopedSpawn + 'static>(spawner: &S, left: usize) {
        if left == 0 {
            return;
        }
        spawner
            .spawn(
                move |child| async move {
                    nest(&child, left - 1);
                    pending::<()>().await
                },
                || (),
            )
            .unwrap();
    }
    let root = ScopedSpawner::tokio();
    nest(&root, DEPTH);
    let mut dumped = 0;
    while dumped < DEPTH {
        tokio::task::yield_now().await;
        dumped = root.dump().tasks().len();
    }
    let dump = root.dump();
    check_shape(&dump);
    assert_eq!(dump.tasks()[DEPTH - 1].depth(), DEPTH - 1);
    let text = dump.to_string();
    assert_eq!(text.lines().count(), DEPTH + 1);
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("…1967 levels… "), "{last}");
    assert!(last.chars().count() < 200, "{last}");
    root.shutdown().await;
}

/// A name lives as long as its task: once the task is done, the dump no
/// longer lists it, and its slot's next task carries no name of its own.
#[tokio::test(flavor = "current_thread")]
async fn a_name_ends_with_its_task() {
    let root = ScopedSpawner::tokio();
    let handle = root.named("short").spawn_task(async { 7 }).unwrap();
    assert_eq!(handle.await.unwrap(), 7);
    assert!(root.dump().tasks().is_empty());
    root.spawn_future(pending(), || ()).unwrap();
    let dump = root.dump();
    assert_eq!(dump.tasks().len(), 1);
    assert_eq!(dump.tasks()[0].key(), 0, "the slot is reused");
    assert_eq!(dump.tasks()[0].name(), None, "{dump}");
    root.shutdown().await;
}

/// A handle's error names its task and the tasks above it, root first:
/// named ones by name, unnamed ones by id alone.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_error_names_its_task_and_the_tasks_above_it() {
    let root = ScopedSpawner::tokio();
    let server = root
        .named("server")
        .spawn_task_with(|server| async move {
            server
                .spawn_task_with(|request| async move {
                    let query = request.named("query").spawn_task(pending::<()>()).unwrap();
                    query.set_timeout(Duration::from_secs(1)).unwrap();
                    query.await.unwrap_err()
                })
                .unwrap()
                .await
                .unwrap()
        })
        .unwrap();
    let err = server.await.unwrap();
    assert!(err.is_deadline_exceeded());
    let path: Vec<_> = err.task_path().collect();
    let [(server, Some("server")), (request, None), (query, Some("query"))] = path[..] else {
        panic!("{path:?}")
    };
    assert_eq!(err.task_id(), Some(query));
    assert_eq!(
        err.to_string(),
        format!("task {server} \"server\" › {request} › {query} \"query\" was cancelled by its deadline")
    );

    // Through a scope block: the block is on the path, by its id, as a
    // dump lists it.
    let job = root
        .named("job")
        .spawn_task_with(|job| async move {
            job.scope(|block| async move {
                let step = block.named("step").spawn_task(pending::<()>()).unwrap();
                step.cancel();
                step.await.unwrap_err()
            })
            .await
            .unwrap()
        })
        .unwrap();
    let err = job.await.unwrap();
    let path: Vec<_> = err.task_path().collect();
    let [(job, Some("job")), (block, None), (step, Some("step"))] = path[..] else {
        panic!("{path:?}")
    };
    assert_eq!(
        err.to_string(),
        format!("task {job} \"job\" › {block} › {step} \"step\" was cancelled (its handle cancelled it)")
    );

    // A chain deeper than 16: the path keeps the 16 nearest tasks.
    fn nest(
        spawner: ScopedSpawner,
        left: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = tasktree::TaskError> + Send>> {
        Box::pin(async move {
            if left == 0 {
                let leaf = spawner.named("leaf").spawn_task(pending::<()>()).unwrap();
                leaf.cancel();
                return leaf.await.unwrap_err();
            }
            let child = spawner.spawn_task_with(move |child| nest(child, left - 1));
            child.unwrap().await.unwrap()
        })
    }
    let err = nest(root.clone(), 20).await;
    assert_eq!(err.task_path().count(), 16);
    assert_eq!(err.task_name(), Some("leaf"));
    let text = err.to_string();
    assert!(text.starts_with("task … "), "{text}");
    assert!(
        text.ends_with(" \"leaf\" was cancelled (its handle cancelled it)"),
        "{text}"
    );
    root.shutdown().await;
}
