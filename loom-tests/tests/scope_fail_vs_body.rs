//! Scope blocks, fail-fast: a child's failure races the body's end. I7
//! (src/tree.rs): the first failure is kept, the scope closed and every child
//! cancelled in one critical section, and the block reads the failure only
//! once `live` is zero (G1 for scopes).
//!
//! What is correct, from the docs of `try_scope` / `scope` (src/scope.rs):
//! children are *awaited*, not cancelled, when the body returns, so a child
//! that fails after the body returned still fails the block; the first
//! failure cancels everything else (the body too, if it is still running),
//! and is what the block ends with (the `Err` for `try_scope`, the resumed
//! panic for `scope`), in every interleaving. The body's output is
//! discarded then. The block resolves only after every child's future was
//! dropped and every `done` ran (checked by `Relaxed` witnesses), and no
//! wake-up is lost (a parked thread at the end is a loom deadlock).
#![cfg(loom)]
// Harness-only, observation-only state (as in loom-tests/src/lib.rs).
#![allow(clippy::disallowed_types)]

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc as StdArc, Mutex as StdMutex};
use std::task::Poll;

use loom::sync::atomic::Ordering::Relaxed;
use loom_tests::{check, Flag, Log, LoomSpawner, Sides};
use tasktree::{ScopedSpawn, ScopedSpawner, SpawnError, TaskHandle, TryScope};

#[derive(Debug, PartialEq)]
enum Error {
    Spawn,
    Child,
}

impl From<SpawnError> for Error {
    fn from(_: SpawnError) -> Self {
        Error::Spawn
    }
}

/// Returns `Pending` once (waking itself), then `Ready`: gives the body a
/// second poll, at which a failure that came first cancels it.
fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

type Slot<T> = StdArc<StdMutex<Option<TaskHandle<T>>>>;

fn take<T>(slot: &Slot<T>) -> TaskHandle<T> {
    let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    taken.expect("the failing child was spawned")
}

/// G1, I7 (`try_scope`): the body spawns child C2, which pends until
/// cancelled, and child C1, which returns `Err`; then it yields once and
/// returns `Ok`. Whether C1's error comes before the body's second poll (the body is
/// cancelled) or after the body returned (the block is draining), the block
/// returns C1's error, only after C1's and C2's futures and the body were
/// dropped and C2's `done` ran; C1's handle says `is_failed`.
#[test]
fn try_scope_child_error_vs_body_return() {
    let sides = Sides::new(&["body returned first", "the failure cancelled the body"]);
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let witnesses = [Flag::new(), Flag::new(), Flag::new(), Flag::new()];
        let [body_dropped, c1_dropped, c2_dropped, c2_done] = witnesses.clone();
        let slot: Slot<Result<(), Error>> = StdArc::default();

        let root = ScopedSpawner::new(executor.clone());
        let (l, s1) = (log.clone(), slot.clone());
        let block = root.try_scope(move |s: TryScope<Error, LoomSpawner>| {
            let body_guard = l.guard("body dropped").witnessed_by(&body_dropped);
            async move {
                let _guard = body_guard;
                // C2 first: once C1 is spawned, it may fail the scope,
                // which then refuses new children (G5).
                let c2_guard = l.guard("C2 dropped").witnessed_by(&c2_dropped);
                let l2 = l.clone();
                s.spawn_future(
                    async move {
                        let _guard = c2_guard;
                        std::future::pending::<()>().await
                    },
                    move || {
                        l2.push("C2 done");
                        c2_done.set(Relaxed);
                    },
                )?;
                let c1_guard = l.guard("C1 dropped").witnessed_by(&c1_dropped);
                let c1 = s.spawn_try(async move {
                    let _guard = c1_guard;
                    Err::<(), _>(Error::Child)
                })?;
                // Kept, not dropped: dropping it would cancel C1.
                *s1.lock().unwrap_or_else(|e| e.into_inner()) = Some(c1);
                yield_once().await;
                l.push("body returned");
                Ok(7)
            }
        });
        let result = loom::future::block_on(block);
        // Witnesses first: read before anything that might synchronise.
        let seen: Vec<bool> = witnesses.iter().map(|w| w.get(Relaxed)).collect();
        let events = log.events();
        assert_eq!(
            result,
            Err(Error::Child),
            "the child's error wins: {events:?}"
        );
        assert_eq!(
                seen, [true; 4],
                "the body, C1 and C2 must be dropped and C2's done run before the block resolves: {events:?}"
            );
        for event in ["body dropped", "C1 dropped", "C2 dropped", "C2 done"] {
            log.assert_once(event);
        }
        log.assert_before("C2 dropped", "C2 done");
        sides.record(if log.contains("body returned") {
            "body returned first"
        } else {
            "the failure cancelled the body"
        });

        let c1 = loom::future::block_on(take(&slot));
        assert!(
            c1.unwrap_err().is_failed(),
            "C1's failure was taken by the scope"
        );
        executor.join_all();
        assert_eq!(
            log.events(),
            events,
            "nothing may happen after the block resolved"
        );
        assert_eq!(root.live_children(), 0);
    });
    sides.assert_all_seen();
}

/// G1, I7 (`scope`): the same race with a panicking child C1: the block
/// resumes C1's panic in every interleaving, after the body, C1 and C2 were
/// dropped and C2's `done` ran; C1's handle says `is_failed`.
#[test]
fn scope_child_panic_vs_body_return() {
    let sides = Sides::new(&["body returned first", "the failure cancelled the body"]);
    quiet_intentional_panics();
    check(move || {
        let executor = LoomSpawner::new();
        let log = Log::new();
        let witnesses = [Flag::new(), Flag::new(), Flag::new(), Flag::new()];
        let [body_dropped, c1_dropped, c2_dropped, c2_done] = witnesses.clone();
        let slot: Slot<()> = StdArc::default();

        let root = ScopedSpawner::new(executor.clone());
        let (l, s1) = (log.clone(), slot.clone());
        let block = root.scope(move |s| {
            let body_guard = l.guard("body dropped").witnessed_by(&body_dropped);
            async move {
                let _guard = body_guard;
                // C2 first, as in the `try_scope` model.
                let c2_guard = l.guard("C2 dropped").witnessed_by(&c2_dropped);
                let l2 = l.clone();
                s.spawn_future(
                    async move {
                        let _guard = c2_guard;
                        std::future::pending::<()>().await
                    },
                    move || {
                        l2.push("C2 done");
                        c2_done.set(Relaxed);
                    },
                )
                .expect("the block is open");
                let c1_guard = l.guard("C1 dropped").witnessed_by(&c1_dropped);
                let c1 = s
                    .spawn_task(async move {
                        let _guard = c1_guard;
                        panic!("intentional child panic");
                    })
                    .expect("the block is open");
                *s1.lock().unwrap_or_else(|e| e.into_inner()) = Some(c1);
                yield_once().await;
                l.push("body returned");
                7
            }
        });
        let caught = catch_unwind(AssertUnwindSafe(|| loom::future::block_on(block)));
        let seen: Vec<bool> = witnesses.iter().map(|w| w.get(Relaxed)).collect();
        let events = log.events();
        let payload = match caught {
            Err(payload) => payload,
            Ok(out) => panic!("the child's panic must be resumed, got {out:?}: {events:?}"),
        };
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"intentional child panic"),
            "{events:?}"
        );
        assert_eq!(
            seen, [true; 4],
            "the body, C1 and C2 must be dropped and C2's done run before the block resolves: {events:?}"
        );
        for event in ["body dropped", "C1 dropped", "C2 dropped", "C2 done"] {
            log.assert_once(event);
        }
        sides.record(if log.contains("body returned") {
            "body returned first"
        } else {
            "the failure cancelled the body"
        });

        let c1 = loom::future::block_on(take(&slot));
        assert!(
            c1.unwrap_err().is_failed(),
            "C1's failure was taken by the scope"
        );
        executor.join_all();
        assert_eq!(
            log.events(),
            events,
            "nothing may happen after the block resolved"
        );
        assert_eq!(root.live_children(), 0);
    });
    sides.assert_all_seen();
}

/// Keeps the intentional panics of the model quiet (they happen in every
/// execution); any other panic is reported as usual.
fn quiet_intentional_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if message.is_some_and(|m| m.starts_with("intentional")) {
                return;
            }
            default(info);
        }));
    });
}
