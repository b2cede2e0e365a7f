//! G9 (bounded cost): the wrapper that the library hands to the executor adds
//! at most 32 bytes to the user's future (issue 4's memory target), for a
//! tiny future and for a 200-byte one. A size, not a timing: deterministic.

use std::future::Future;
use std::mem::size_of;
use std::pin::Pin;
use std::task::{Context, Poll};

use tasktree::remote_scope::ScopedTask;

/// A future of exactly `N` bytes.
struct Sized<const N: usize>([u8; N]);

impl<const N: usize> Future for Sized<N> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

fn overhead<F: Future<Output = ()>, D: FnOnce() + Send + 'static>() -> usize {
    size_of::<ScopedTask<F, D>>() - size_of::<F>()
}

/// The overhead with a `done` callback of type `D` (which the wrapper stores
/// until phase 5, so its own size comes on top).
fn overhead_with<const N: usize, D: FnOnce() + Send + 'static>(_: &D) -> usize {
    overhead::<Sized<N>, D>()
}

/// G9: leaves with a zero-sized `done` (`|| ()`, and what `spawn_task` uses)
/// cost at most 32 bytes over the future, tiny or large.
#[test]
fn wrapper_adds_at_most_32_bytes() {
    let noop = || ();
    let tiny = overhead_with::<2, _>(&noop);
    let large = overhead_with::<200, _>(&noop);
    println!("overhead: 2-byte future +{tiny} B, 200-byte future +{large} B");
    assert!(tiny <= 32, "2-byte future: +{tiny} B");
    assert!(large <= 32, "200-byte future: +{large} B");
}

/// A `done` callback's captures are stored in the wrapper: a `fn()` pointer
/// adds its 8 bytes to the same overhead.
#[test]
fn a_done_callback_adds_its_own_size() {
    let noop = || ();
    let with_closure = overhead_with::<200, _>(&noop);
    let with_pointer = overhead::<Sized<200>, fn()>();
    assert!(
        with_pointer <= with_closure + 8,
        "fn() done: +{with_pointer} B, zero-sized done: +{with_closure} B"
    );
}
