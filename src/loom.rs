//! The one place that names `std::sync` or `loom::sync`.
//!
//! Every piece of state that the guarantees depend on is built from these
//! types, so that the `loom-tests` crate (built with `RUSTFLAGS="--cfg loom"`)
//! can explore every interleaving of it. `Mutex::lock` here never reports
//! poisoning: no library code panics while holding a lock (tree.rs, I3), and a
//! user panic never happens under one.

#[cfg(not(loom))]
#[allow(clippy::disallowed_types)]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    pub(crate) use std::sync::MutexGuard;
    pub(crate) use std::thread_local;

    /// `std::sync::Arc`, named through this shim (an alias, so that the
    /// `disallowed-types` lint flags only direct uses of the std type).
    pub(crate) type Arc<T> = std::sync::Arc<T>;

    /// A `std::sync::Mutex` whose `lock` ignores poisoning.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub(crate) fn into_inner(self) -> T {
            self.0
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Arc, MutexGuard};
    pub(crate) use loom::thread_local;

    /// loom's `Mutex`, with the same poison-free `lock` as the std build.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub(crate) fn into_inner(self) -> T {
            self.0
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}

pub(crate) use imp::{thread_local, Arc, AtomicBool, AtomicUsize, Mutex, MutexGuard, Ordering};
