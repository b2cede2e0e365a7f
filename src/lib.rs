//! Structured concurrency for async Rust (crate docs to come).
#![forbid(unsafe_code)]
#![deny(clippy::disallowed_types)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod error;
#[cfg(feature = "tokio")]
mod executor;
mod loom;
pub mod remote_scope;
mod signal;
mod spawner;
mod task;
mod tree;

pub use error::SpawnError;
#[cfg(feature = "tokio")]
pub use executor::TokioSpawner;
pub use signal::{
    CancelReceiver, CancelSender, ChildSignals, DoneReceiver, DoneSender, ForgettableSignalSender,
    ParentSignals, SignalReceiver, SignalSender,
};
pub use spawner::{ScopedSpawn, ScopedSpawner, Shutdown};
