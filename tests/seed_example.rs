//! The scoped_spawn 0.2 README example, changed only in its imports and in
//! tokio 1 syntax (`delay_for` became `sleep`), still runs (issue: "The seed's
//! README example ... runs"). Timing here only orders the demo; the test
//! asserts on the termination it observes, not on durations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

static STILL_ALIVE_PRINTED: AtomicBool = AtomicBool::new(false);

#[tokio::test(start_paused = true)]
async fn seed_readme_example_runs() {
    use tasktree::{ScopedSpawn, ScopedSpawner};

    let spawn = TokioDefaultSpawner::new();
    let spawn = ScopedSpawner::new(spawn);
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let signal = spawn
        .spawn_with_signal(
            |spawn| async move {
                let _guard = guard;
                // Here `spawn` is the child's spawner. Do not give it to anyone else!
                // And do not try to use the parent's spawner because it would break structured
                // concurrency.

                // We could spawn nested children here, but for the demo we don't.
                drop(spawn);

                eprintln!("I'm alive!");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                eprintln!("I'm still alive!"); // Nope.
                STILL_ALIVE_PRINTED.store(true, Ordering::SeqCst);
            },
            || (),
        )
        .unwrap();

    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    drop(signal.cancel_sender); // Cancel the task by dropping.
    signal.done_receiver.await; // Do this if you want to wait.
                                // When the await returns, the future of the spawned task is
                                // guaranteed dropped.
    eprintln!("Task terminated.");
    assert!(dropped.load(Ordering::SeqCst), "the future was dropped");
    assert!(
        !STILL_ALIVE_PRINTED.load(Ordering::SeqCst),
        "cancelled before it woke"
    );
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// Just some chores to turn the Tokio spawner into a `Spawn`.
#[derive(Clone)]
struct TokioDefaultSpawner {}

impl TokioDefaultSpawner {
    fn new() -> Self {
        Self {}
    }
}

impl futures::task::Spawn for TokioDefaultSpawner {
    fn spawn_obj(
        &self,
        future: futures::future::FutureObj<'static, ()>,
    ) -> Result<(), futures::task::SpawnError> {
        tokio::spawn(future);
        Ok(())
    }

    fn status(&self) -> Result<(), futures::task::SpawnError> {
        Ok(())
    }
}

/// Code written for the seed names `RawScopedSpawn` at the crate root, as
/// `scoped_spawn` exports it; it compiles with only the crate name changed.
#[test]
fn raw_scoped_spawn_is_at_the_crate_root() {
    use tasktree::remote_scope::RemoteScope;
    use tasktree::RawScopedSpawn;

    fn register(spawner: &impl RawScopedSpawn) -> tasktree::ChildSignals {
        spawner.spawn_raw().unwrap()
    }
    let mut scope = RemoteScope::new();
    let signals = register(&scope.spawner());
    futures::executor::block_on(RemoteScope::new().wrap(signals, async {}, || ()));
}
