//! Quickstart: the scoped_spawn 0.2 README example, on tokio 1 and this API.
//!
//! A child is spawned with `ScopedSpawn::spawn_with_signal`, cancelled by
//! dropping its cancel sender, and awaited through its done receiver. The
//! example prints each event as it happens and then checks the order the
//! crate documents: the child's future is dropped (phase 2) before its `done`
//! callback runs (phase 5), and both before the done receiver resolves (G1).
//! A second child, spawned like a `tokio::spawn`ed task, is cancelled and
//! awaited by `root.shutdown()` (G8).
//!
//! Run it with `cargo run --example quickstart`. It does not sleep: it cancels
//! as soon as the log shows that the child is running.

use std::time::Duration;

use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    let (log, mut events) = Log::new();
    let root = ScopedSpawner::tokio(); // instead of `tokio::spawn`

    let guard = DropGuard(log.clone(), "child: future dropped");
    let child_log = log.clone();
    let done_log = log.clone();
    let signals = root
        .spawn_with_signal(
            move |spawner| async move {
                let _guard = guard; // owned by the future, dropped with it

                // Here `spawner` is the child's own spawner: tasks spawned
                // through it are the child's children, cancelled and awaited
                // when the child terminates. Do not give it to anyone else, and
                // do not use the parent's spawner in here.
                // We could spawn nested children here (see examples/nested.rs),
                // but for the demo we don't.
                drop(spawner);

                child_log.event("child: I'm alive!");
                tokio::time::sleep(Duration::from_secs(3600)).await;
                child_log.event("child: I'm still alive!"); // Nope: cancelled first.
            },
            move || done_log.event("child: done callback"),
        )
        .expect("the root is open");
    log.event("main: spawned the child");

    // Like a `tokio::spawn`ed task: no signals kept; the root owns it.
    let worker_guard = DropGuard(log.clone(), "worker: future dropped");
    let worker_done = log.clone();
    root.spawn_future(
        async move {
            let _guard = worker_guard;
            std::future::pending::<()>().await;
        },
        move || worker_done.event("worker: done callback"),
    )
    .expect("the root is open");

    events.wait_for("child: I'm alive!").await;
    log.event("main: cancelling the child");
    drop(signals.cancel_sender); // Cancel the task by dropping (or `.cancel()`).
    signals.done_receiver.await; // Do this if you want to wait.
                                 // When the await returns, the future of the spawned
                                 // task has been dropped and its `done` has returned.
    log.event("main: Task terminated.");

    root.shutdown().await; // cancels the worker and waits for it (G8)
    log.event("main: shutdown complete");

    let events = events.all();
    let at = |what: &str| {
        events
            .iter()
            .position(|e| *e == what)
            .unwrap_or_else(|| panic!("{what:?} missing from {events:?}"))
    };
    assert!(at("child: I'm alive!") < at("main: cancelling the child"));
    assert!(at("main: cancelling the child") < at("child: future dropped"));
    assert!(at("child: future dropped") < at("child: done callback"));
    assert!(at("child: done callback") < at("main: Task terminated."));
    assert!(!events.contains(&"child: I'm still alive!"));
    assert!(at("main: Task terminated.") < at("worker: future dropped"));
    assert!(at("worker: future dropped") < at("worker: done callback"));
    assert!(at("worker: done callback") < at("main: shutdown complete"));
    assert_eq!(root.live_children(), 0);
    println!("ok: the order matches the documented termination phases");
}

/// Prints each event as it happens and records it, in order, for the checks
/// at the end. A channel keeps the order of events on different threads.
#[derive(Clone)]
struct Log(mpsc::UnboundedSender<&'static str>);

impl Log {
    fn new() -> (Self, Events) {
        let (tx, rx) = mpsc::unbounded_channel();
        let events = Events {
            rx,
            seen: Vec::new(),
        };
        (Self(tx), events)
    }

    fn event(&self, what: &'static str) {
        println!("{what}");
        // Fails only once main has finished its checks.
        let _ = self.0.send(what);
    }
}

/// The receiving end of a [`Log`].
struct Events {
    rx: mpsc::UnboundedReceiver<&'static str>,
    seen: Vec<&'static str>,
}

impl Events {
    /// Waits until `what` has been logged.
    async fn wait_for(&mut self, what: &str) {
        while !self.seen.contains(&what) {
            let event = self.rx.recv().await.expect("main holds a sender");
            self.seen.push(event);
        }
    }

    /// Every event logged so far, in order.
    fn all(mut self) -> Vec<&'static str> {
        while let Ok(event) = self.rx.try_recv() {
            self.seen.push(event);
        }
        self.seen
    }
}

/// Logs an event when dropped: shows when a task's future is dropped.
struct DropGuard(Log, &'static str);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.event(self.1);
    }
}
