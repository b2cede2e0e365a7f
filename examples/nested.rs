//! A three-level tree, and what cancelling its middle does.
//!
//! ```text
//! root ─┬─ middle ─┬─ leaf a
//!       │          └─ leaf b
//!       └─ sibling
//! ```
//!
//! Cancelling `middle` cancels its whole subtree and nothing else. The example
//! prints each event as it happens, then checks the documented order:
//!
//! 1. the middle's future is dropped (its phase 2) before the leaves are
//!    cancelled (its phase 3), so before their futures are dropped;
//! 2. each leaf's future is dropped before that leaf's `done` runs;
//! 3. both leaves' `done` callbacks run before the middle's (G2);
//! 4. the middle's done receiver resolves after all of that (G1);
//! 5. the sibling keeps running until `root.shutdown()` cancels it (G8).
//!
//! Run it with `cargo run --example nested`. It does not sleep: it cancels as
//! soon as the log shows that every task is running.

use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    let (log, mut events) = Log::new();
    let root = ScopedSpawner::tokio();

    // root -> middle: spawned with `spawn_with_signal`, so it gets its own
    // spawner (for the leaves) and we get its signals.
    let middle_log = log.clone();
    let middle_done = log.clone();
    let middle = root
        .spawn_with_signal(
            move |spawner| async move {
                let _guard = DropGuard(middle_log.clone(), "middle: future dropped");
                // middle -> leaves: `spawn_future` children get no spawner
                // and no scope of their own; they are only slots in the
                // middle's scope.
                for (name, dropped, done) in [
                    ("leaf a: running", "leaf a: future dropped", "leaf a: done"),
                    ("leaf b: running", "leaf b: future dropped", "leaf b: done"),
                ] {
                    let guard = DropGuard(middle_log.clone(), dropped);
                    let leaf_log = middle_log.clone();
                    let done_log = middle_log.clone();
                    spawner
                        .spawn_future(
                            async move {
                                let _guard = guard;
                                leaf_log.event(name);
                                std::future::pending::<()>().await;
                            },
                            move || done_log.event(done),
                        )
                        .expect("the middle is running, so its scope is open");
                }
                middle_log.event("middle: running, spawned two leaves");
                std::future::pending::<()>().await;
            },
            move || middle_done.event("middle: done"),
        )
        .expect("the root is open");

    // root -> sibling of the middle.
    let sibling_guard = DropGuard(log.clone(), "sibling: future dropped");
    let sibling_log = log.clone();
    let sibling_done = log.clone();
    root.spawn_future(
        async move {
            let _guard = sibling_guard;
            sibling_log.event("sibling: running");
            std::future::pending::<()>().await;
        },
        move || sibling_done.event("sibling: done"),
    )
    .expect("the root is open");

    for running in [
        "middle: running, spawned two leaves",
        "leaf a: running",
        "leaf b: running",
        "sibling: running",
    ] {
        events.wait_for(running).await;
    }

    log.event("main: cancelling the middle");
    middle.cancel_sender.cancel(); // the same as dropping it
    middle.done_receiver.await;
    log.event("main: the middle's subtree has terminated");

    let so_far = events.so_far();
    let at = |what: &str| position(&so_far, what);
    assert!(at("main: cancelling the middle") < at("middle: future dropped"));
    for leaf in ["leaf a", "leaf b"] {
        let dropped = at(&format!("{leaf}: future dropped"));
        let done = at(&format!("{leaf}: done"));
        assert!(
            at("middle: future dropped") < dropped,
            "phase 2 before phase 3"
        );
        assert!(dropped < done, "{leaf}: future dropped before its done");
        assert!(
            done < at("middle: done"),
            "children's done before the parent's (G2)"
        );
    }
    assert!(
        at("middle: done") < at("main: the middle's subtree has terminated"),
        "the done receiver resolves last (G1)"
    );
    assert!(
        !so_far.contains(&"sibling: future dropped") && !so_far.contains(&"sibling: done"),
        "the sibling is not part of the cancelled subtree: {so_far:?}"
    );

    root.shutdown().await;
    log.event("main: shutdown complete");

    let events = events.all();
    let at = |what: &str| position(&events, what);
    assert!(at("main: the middle's subtree has terminated") < at("sibling: future dropped"));
    assert!(at("sibling: future dropped") < at("sibling: done"));
    assert!(at("sibling: done") < at("main: shutdown complete"));
    assert_eq!(root.live_children(), 0);
    println!("ok: the order matches the documented termination phases");
}

/// Where `what` is in `events`; panics if it is missing.
fn position(events: &[&str], what: &str) -> usize {
    events
        .iter()
        .position(|e| *e == what)
        .unwrap_or_else(|| panic!("{what:?} missing from {events:?}"))
}

/// Prints each event as it happens and records it, in order, for the checks.
/// A channel keeps the order of events on different threads.
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
    fn so_far(&mut self) -> Vec<&'static str> {
        while let Ok(event) = self.rx.try_recv() {
            self.seen.push(event);
        }
        self.seen.clone()
    }

    /// Every event logged, in order.
    fn all(mut self) -> Vec<&'static str> {
        self.so_far()
    }
}

/// Logs an event when dropped: shows when a task's future is dropped.
struct DropGuard(Log, &'static str);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.event(self.1);
    }
}
