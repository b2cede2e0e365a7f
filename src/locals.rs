//! Scope-local values (issue 14): [`ScopedSpawner::set_local`] and
//! [`ScopedSpawner::local`]. The mechanism is in `tree/locals.rs`.
// User values are held in std's `Arc` (the type `local` returns): they
// order nothing in the tree, which loom need not see.
#![allow(clippy::disallowed_types)]

use std::any::{Any, TypeId};
use std::sync::Arc;

use futures_task::Spawn;

use crate::task::drop_contained;
use crate::tree::Node;
use crate::ScopedSpawner;

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Sets this scope's value of type `T`: read by
    /// [`local`](Self::local) from this spawner and from the spawner of
    /// every task below it, unless a scope in between sets its own (as
    /// Swift's `@TaskLocal` and Java's `ScopedValue` are inherited; tokio
    /// has none, tokio #6659). Replaces this scope's earlier value of the
    /// same type; tasks already running read the new one from then on.
    ///
    /// Values are not copied into children: a read walks up the tree, one
    /// scope's lock at a time, to the nearest scope with a value, and a
    /// spawn costs nothing for them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::ScopedSpawn;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct RequestId(u64);
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let request = root
    ///     .spawn_task_with(|request| async move {
    ///         request.set_local(RequestId(7));
    ///         let backend = request.spawn_task_with(|backend| async move {
    ///             // Set two levels up, read here.
    ///             backend.local::<RequestId>().map(|id| id.0)
    ///         });
    ///         backend.unwrap().await.unwrap()
    ///     })
    ///     .unwrap();
    /// assert_eq!(request.await.unwrap(), Some(7));
    /// assert_eq!(root.local::<RequestId>(), None); // set below the root
    /// # }
    /// ```
    pub fn set_local<T: Any + Send + Sync>(&self, value: T) {
        let replaced = self
            .as_raw_node()
            .set_local(TypeId::of::<T>(), Arc::new(value));
        // User data: dropped after the lock, its panic contained (G10).
        drop_contained(replaced);
    }

    /// The value of type `T` of this scope, or of the nearest scope above
    /// it that has one ([`set_local`](Self::set_local)); `None` if no scope
    /// up to the root has one.
    ///
    /// # Examples
    ///
    /// See [`set_local`](Self::set_local).
    pub fn local<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let value = Node::local(self.as_raw_node(), TypeId::of::<T>())?;
        match value.downcast::<T>() {
            Ok(value) => Some(value),
            Err(_) => unreachable!("values are stored under their own type's id"),
        }
    }
}
