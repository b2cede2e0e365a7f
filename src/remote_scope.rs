//! Low-level structured concurrency: everything needed to spawn a task of the
//! tree, without the spawning.
//!
//! Use this for executors that do not implement `futures::task::Spawn`
//! (a `tokio::task::LocalSet`, an embedded executor, a test harness):
//!
//! 1. [`RawScopedSpawn::spawn_raw`] (or `spawn_raw_with_signal`) registers a
//!    child in a scope and returns its [`ChildSignals`];
//! 2. [`RemoteScope::new`] makes the child's own scope, whose
//!    [`spawner`](RemoteScope::spawner) the child may use for grandchildren;
//! 3. [`RemoteScope::wrap`] combines signals, future and `done` callback into
//!    a [`ScopedTask`], which you hand to your executor.
//!
//! # Examples
//!
//! ```
//! use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
//! use tasktree::{ScopedSpawn, ScopedSpawner};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let root = ScopedSpawner::tokio();
//! let (parent, child) = root.as_raw().spawn_raw_with_signal().unwrap();
//! let mut scope = RemoteScope::new();
//! let grandchildren = scope.spawner();
//! let task = scope.wrap(
//!     child,
//!     async move {
//!         // `grandchildren` registers children of this task.
//!         let signals = grandchildren.spawn_raw().unwrap();
//!         drop(signals); // a grandchild that never runs
//!     },
//!     || println!("done"),
//! );
//! tokio::task::LocalSet::new().run_until(async move {
//!     tokio::task::spawn_local(task);
//!     parent.done_receiver.await;
//! }).await;
//! # drop(parent.cancel_sender);
//! # }
//! ```

use std::fmt;
use std::future::Future;

use crate::cause::ScopeCause;
use crate::loom::Arc;
use crate::signal::{
    CancelReceiver, CancelSender, ChildSignals, DoneReceiver, DoneSender, ParentSignals,
};
use crate::tree::Node;
use crate::SpawnError;

pub use crate::task::ScopedTask;

/// Registers children in a scope without spawning them.
///
/// Implemented by [`RemoteSpawner`]; a
/// [`ScopedSpawner`](crate::ScopedSpawner) gives access to its own through
/// [`as_raw`](crate::ScopedSpawn::as_raw).
///
/// # Examples
///
/// ```
/// use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
/// use tasktree::{ScopedSpawn, ScopedSpawner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = ScopedSpawner::tokio();
/// let signals = root.as_raw().spawn_raw().unwrap();
/// tokio::spawn(RemoteScope::new().wrap(signals, async {}, || ()));
/// root.shutdown().await;
/// # }
/// ```
pub trait RawScopedSpawn {
    /// Registers a child that only its parent's termination can cancel.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if the scope's task has terminated (G5).
    fn spawn_raw(&self) -> Result<ChildSignals, SpawnError>;

    /// Registers a child and returns both ends of its signals: the parent's,
    /// to cancel it and wait for it, and the child's, for
    /// [`RemoteScope::wrap`].
    ///
    /// # Errors
    ///
    /// [`SpawnError::Terminated`] if the scope's task has terminated (G5).
    fn spawn_raw_with_signal(&self) -> Result<(ParentSignals, ChildSignals), SpawnError>;
}

/// Registers children in one scope. Cheap to clone; `Send + Sync`.
///
/// Once the scope's task has terminated (or its root has shut down), every
/// registration returns [`SpawnError::Terminated`] (G5).
///
/// # Examples
///
/// ```
/// use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
///
/// let mut scope = RemoteScope::new();
/// let spawner = scope.spawner();
/// let signals = spawner.spawn_raw().unwrap();
/// # drop(signals);
/// ```
pub struct RemoteSpawner {
    pub(crate) node: Arc<Node>,
}

impl RemoteSpawner {
    /// A handle to `node`, counted if `node` is a root (G8).
    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        node.retain_handle();
        Self { node }
    }

    /// A new root scope, with this as its first handle.
    pub(crate) fn root() -> Self {
        Self {
            node: Node::new_root(),
        }
    }
}

impl Clone for RemoteSpawner {
    fn clone(&self) -> Self {
        Self::from_node(self.node.clone())
    }
}

impl Drop for RemoteSpawner {
    fn drop(&mut self) {
        Node::release_handle(&self.node);
    }
}

impl fmt::Debug for RemoteSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSpawner")
            .field("node", &self.node)
            .finish()
    }
}

impl RawScopedSpawn for RemoteSpawner {
    fn spawn_raw(&self) -> Result<ChildSignals, SpawnError> {
        let link = Node::register(&self.node, 1)?;
        let cancel_receiver = CancelReceiver::new(link.node.clone(), link.key);
        Ok(ChildSignals {
            cancel_receiver,
            done_sender: DoneSender::new(link),
        })
    }

    fn spawn_raw_with_signal(&self) -> Result<(ParentSignals, ChildSignals), SpawnError> {
        // Three views of the new slot: the cancel sender, the done receiver
        // and the cancel receiver (tree.rs, I5).
        let link = Node::register(&self.node, 3)?;
        let parent = ParentSignals {
            cancel_sender: CancelSender::new(link.node.clone(), link.key),
            done_receiver: DoneReceiver::new(link.node.clone(), link.key),
        };
        let child = ChildSignals {
            cancel_receiver: CancelReceiver::new(link.node.clone(), link.key),
            done_sender: DoneSender::new(link),
        };
        Ok((parent, child))
    }
}

/// The scope of a task that is about to be wrapped: where its children go.
///
/// Dropping a `RemoteScope` without [`wrap`](Self::wrap)ping it cancels the
/// children already registered through its spawner; nothing waits for them.
///
/// # Examples
///
/// ```
/// use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
///
/// let mut parent_scope = RemoteScope::new();
/// let signals = parent_scope.spawner().spawn_raw().unwrap();
/// let task = RemoteScope::new().wrap(signals, async {}, || ());
/// futures::executor::block_on(task);
/// ```
#[derive(Debug, Default)]
pub struct RemoteScope {
    node: Option<Arc<Node>>,
}

impl RemoteScope {
    /// A scope with no children yet. Allocates nothing until
    /// [`spawner`](Self::spawner) is first called.
    ///
    /// # Examples
    ///
    /// ```
    /// let scope = tasktree::remote_scope::RemoteScope::new();
    /// # drop(scope);
    /// ```
    pub fn new() -> Self {
        Self { node: None }
    }

    /// A spawner that registers children of this scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
    ///
    /// let mut scope = RemoteScope::new();
    /// let children = scope.spawner();
    /// assert!(children.spawn_raw().is_ok());
    /// ```
    pub fn spawner(&mut self) -> RemoteSpawner {
        let node = self.node.get_or_insert_with(Node::new_task);
        RemoteSpawner::from_node(node.clone())
    }

    /// Combines a child's signals, its future and its `done` callback into
    /// the task to hand to an executor.
    ///
    /// The task runs `fut` until it completes or `signals.cancel_receiver`
    /// fires, then terminates in the six phases: drop `fut`, cancel this
    /// scope's children, wait for them, run `done`, drop `signals.done_sender`.
    /// `fut` need not be `Send`; `done` must be, because if the executor drops
    /// the task early it runs on the thread of the last child to finish.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::remote_scope::{RawScopedSpawn, RemoteScope};
    ///
    /// let mut parent_scope = RemoteScope::new();
    /// let (parent, child) = parent_scope.spawner().spawn_raw_with_signal().unwrap();
    /// let task = RemoteScope::new().wrap(child, async { println!("ran") }, || println!("done"));
    /// futures::executor::block_on(task);
    /// assert!(parent.done_receiver.is_done());
    /// # drop(parent.cancel_sender);
    /// ```
    pub fn wrap<F, D>(mut self, signals: ChildSignals, fut: F, done: D) -> ScopedTask<F, D>
    where
        F: Future<Output = ()>,
        D: FnOnce() + Send + 'static,
    {
        let ChildSignals {
            cancel_receiver,
            done_sender,
        } = signals;
        // The task reads the cancel flag through its link; the receiver's
        // reference to the slot is not needed any more.
        drop(cancel_receiver);
        let link = done_sender.into_link();
        if let Some(node) = &self.node {
            // A task dump of the parent shows this scope's children under it.
            Node::link_scope(&link, node);
        }
        ScopedTask::new(link, self.node.take(), fut, done)
    }
}

impl Drop for RemoteScope {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            Node::close(&node, ScopeCause::ended()).wake();
        }
    }
}
