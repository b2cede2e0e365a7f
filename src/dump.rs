//! Seeing the tree: names given at spawn ([`ScopedSpawner::named`]) and a
//! live snapshot of a spawner's subtree ([`ScopedSpawner::dump`]).
//!
//! A name costs only the tasks that carry one: it lives beside its task's
//! slot, in its scope's table of extras (tree.rs, `Extras`), which a scope
//! of unnamed leaves never allocates. A dump reads one scope at a time,
//! each under that scope's lock once, and never holds two locks (I2).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

use futures_task::Spawn;

use crate::loom::Arc;
use crate::signal::ParentSignals;
use crate::task::Absent;
use crate::tree::{SlotSnapshot, Snapshot};
use crate::{CancelCause, ScopedSpawner, SpawnError, TaskHandle};

/// What a named spawn records beside its task's slot.
pub(crate) struct Label {
    name: String,
    location: &'static Location<'static>,
    spawned: Instant,
}

impl Label {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The label of a task spawned now.
    pub(crate) fn new(name: String, location: &'static Location<'static>) -> Arc<Self> {
        Arc::new(Label {
            name,
            location,
            spawned: Instant::now(),
        })
    }
}

/// A spawn with a name: the spawn methods of [`ScopedSpawn`](crate::ScopedSpawn),
/// whose task a [`TaskDump`] shows with its name, the place in the source
/// where [`ScopedSpawner::named`] was called, and its age.
///
/// Made by [`ScopedSpawner::named`]; each method spawns one task and
/// consumes the `Named`. The child's own spawner (of `spawn`,
/// `spawn_with_signal`, `spawn_task_with`) is a plain [`ScopedSpawner`]: a
/// name is not inherited.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let handle = root.named("answer").spawn_task(async { 42 }).unwrap();
/// assert_eq!(handle.await.unwrap(), 42);
/// # }
/// ```
#[must_use = "a `Named` spawns nothing until one of its spawn methods is called"]
pub struct Named<'a, S> {
    spawner: &'a ScopedSpawner<S>,
    name: String,
    location: &'static Location<'static>,
}

impl<S> fmt::Debug for Named<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Named")
            .field("name", &self.name)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl<S> ScopedSpawner<S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    /// Names the next task spawned through the returned [`Named`]; a
    /// [`TaskDump`] shows it with that name, the place of this call in the
    /// source, and its age.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.named("ticker")
    ///     .spawn_future(std::future::pending(), || ())
    ///     .unwrap();
    /// let dump = root.dump();
    /// assert_eq!(dump.tasks()[0].name(), Some("ticker"));
    /// assert!(dump.tasks()[0].location().unwrap().file().ends_with(".rs"));
    /// root.shutdown().await;
    /// # }
    /// ```
    #[track_caller]
    pub fn named(&self, name: impl Into<String>) -> Named<'_, S> {
        Named {
            spawner: self,
            name: name.into(),
            location: Location::caller(),
        }
    }

    /// The id of the task whose spawner this is; `None` for a root, a
    /// scope block's spawner or a `RemoteScope`'s.
    ///
    /// # Examples
    ///
    /// See [`TaskId`].
    pub fn task_id(&self) -> Option<TaskId> {
        self.as_raw_node().task_id()
    }

    /// A snapshot of the live tasks under this spawner: every task that
    /// has not yet sent its done signal, with its children, in spawn-slot
    /// order.
    ///
    /// It reads one scope at a time, each under its lock once, so a spawn
    /// or a termination waits for it at most that long, and a tree that
    /// changes meanwhile is read part before and part after the change:
    /// each task is listed under the parent it was read from, never
    /// elsewhere. `Display` draws it as an indented tree.
    ///
    /// # Examples
    ///
    /// ```
    /// use tasktree::TaskState;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.named("server")
    ///     .spawn(
    ///         |spawner| async move {
    ///             spawner.named("conn 1").spawn_future(std::future::pending(), || ()).unwrap();
    ///             std::future::pending::<()>().await
    ///         },
    ///         || (),
    ///     )
    ///     .unwrap();
    /// tokio::task::yield_now().await; // the server spawns its connection
    ///
    /// let dump = root.dump();
    /// let [server, conn] = dump.tasks() else { panic!("{dump}") };
    /// assert_eq!((server.name(), server.state()), (Some("server"), TaskState::Running));
    /// assert_eq!((conn.name(), conn.parent()), (Some("conn 1"), Some(0)));
    /// println!("{dump}");
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn dump(&self) -> TaskDump {
        let now = Instant::now();
        let mut tasks = Vec::new();
        let mut stack = Vec::new();
        push_children(&mut stack, self.as_raw_node().snapshot(), None, 0);
        // Depth first, with a stack rather than recursion: a chain of
        // nested tasks may be deeper than a thread's stack (G9).
        while let Some(pending) = stack.pop() {
            let Pending {
                slot,
                scope_id,
                parent,
                depth,
            } = pending;
            let index = tasks.len();
            let scope = slot.scope.as_ref().map(|scope| scope.snapshot());
            let state = match &scope {
                Some(scope) if scope.closed => TaskState::Ending {
                    children: scope.live,
                },
                _ => slot.state,
            };
            let label = slot.label.as_deref();
            tasks.push(DumpedTask {
                id: TaskId::new(scope_id, slot.key),
                parent,
                depth,
                name: label.map(|label| label.name.clone()),
                location: label.map(|label| SpawnLocation::from(label.location)),
                state,
                age: label.map(|label| now.saturating_duration_since(label.spawned)),
            });
            if let Some(scope) = scope {
                push_children(&mut stack, scope, Some(index), depth + 1);
            }
        }
        TaskDump { tasks }
    }
}

/// A child read from its parent's scope, waiting to be listed.
struct Pending {
    slot: SlotSnapshot,
    /// The parent scope's number: the first half of the task's id.
    scope_id: u64,
    parent: Option<usize>,
    depth: usize,
}

/// Pushes a scope's children so that the first is popped first.
fn push_children(stack: &mut Vec<Pending>, scope: Snapshot, parent: Option<usize>, depth: usize) {
    for slot in scope.tasks.into_iter().rev() {
        stack.push(Pending {
            slot,
            scope_id: scope.id,
            parent,
            depth,
        });
    }
}

impl<'a, S> Named<'a, S>
where
    S: Spawn + Clone + Send + Sync + 'static,
{
    fn split(self) -> (&'a ScopedSpawner<S>, Option<Arc<Label>>) {
        (self.spawner, Some(Label::new(self.name, self.location)))
    }

    /// [`ScopedSpawn::spawn`](crate::ScopedSpawn::spawn), named.
    ///
    /// # Errors
    ///
    /// As [`ScopedSpawn::spawn`](crate::ScopedSpawn::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.named("worker").spawn(|_spawner| async {}, || ()).unwrap();
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn spawn<Fut, Fun, Done>(self, fun: Fun, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(ScopedSpawner<S>) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let (spawner, label) = self.split();
        spawner.spawn_scoped(fun, done, 0, label).map(drop)
    }

    /// [`ScopedSpawn::spawn_with_signal`](crate::ScopedSpawn::spawn_with_signal),
    /// named.
    ///
    /// # Errors
    ///
    /// As [`ScopedSpawn::spawn`](crate::ScopedSpawn::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let signals = root.named("worker").spawn_with_signal(|_spawner| async {}, || ()).unwrap();
    /// signals.done_receiver.await;
    /// # }
    /// ```
    pub fn spawn_with_signal<Fut, Fun, Done>(
        self,
        fun: Fun,
        done: Done,
    ) -> Result<ParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(ScopedSpawner<S>) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let (spawner, label) = self.split();
        let key = spawner.spawn_scoped(fun, done, 2, label)?;
        Ok(spawner.signals(key))
    }

    /// [`ScopedSpawn::spawn_future`](crate::ScopedSpawn::spawn_future), named.
    ///
    /// # Errors
    ///
    /// As [`ScopedSpawn::spawn`](crate::ScopedSpawn::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.named("tick").spawn_future(async {}, || ()).unwrap();
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn spawn_future<Fut, Done>(self, fut: Fut, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        let (spawner, label) = self.split();
        spawner
            .spawn_child(|_, _| fut, Absent, done, Absent, 0, label)
            .map(drop)
    }

    /// [`ScopedSpawn::spawn_future_with_signal`](crate::ScopedSpawn::spawn_future_with_signal),
    /// named.
    ///
    /// # Errors
    ///
    /// As [`ScopedSpawn::spawn`](crate::ScopedSpawn::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let signals = root.named("tick").spawn_future_with_signal(async {}, || ()).unwrap();
    /// signals.done_receiver.await;
    /// # }
    /// ```
    pub fn spawn_future_with_signal<Fut, Done>(
        self,
        fut: Fut,
        done: Done,
    ) -> Result<ParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        let (spawner, label) = self.split();
        let key = spawner.spawn_child(|_, _| fut, Absent, done, Absent, 2, label)?;
        Ok(spawner.signals(key))
    }

    /// [`ScopedSpawn::spawn_task`](crate::ScopedSpawn::spawn_task), named.
    ///
    /// # Errors
    ///
    /// As [`ScopedSpawn::spawn_task`](crate::ScopedSpawn::spawn_task).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.named("sum").spawn_task(async { 1 + 2 }).unwrap();
    /// assert_eq!(handle.await.unwrap(), 3);
    /// # }
    /// ```
    pub fn spawn_task<Fut>(self, fut: Fut) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let (spawner, label) = self.split();
        spawner.spawn_returned::<_, _, _, _, Absent, _>(Absent, label, |_| fut)
    }

    /// [`ScopedSpawn::spawn_task_with`](crate::ScopedSpawn::spawn_task_with),
    /// named.
    ///
    /// # Errors
    ///
    /// As [`ScopedSpawn::spawn_task`](crate::ScopedSpawn::spawn_task).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.named("request").spawn_task_with(|_spawner| async { "ok" }).unwrap();
    /// assert_eq!(handle.await.unwrap(), "ok");
    /// # }
    /// ```
    pub fn spawn_task_with<Fut, Fun>(self, fun: Fun) -> Result<TaskHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Fun: FnOnce(ScopedSpawner<S>) -> Fut,
    {
        let (spawner, label) = self.split();
        spawner.spawn_task_scoped(fun, label)
    }
}

/// Where a task is in its life, as a [`TaskDump`] read it.
///
/// With the `serde` feature, it serialises in snake case: `"running"`,
/// `{"stop_requested":{"cancel_in":{"secs":59,"nanos":0},"cause":{"reason":"shutdown","inherited":false}}}`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum TaskState {
    /// Nothing has been asked of the task yet.
    Running,
    /// Asked to stop (a graceful cancel, or its scope's stop request): it
    /// runs on until it ends or is cancelled.
    StopRequested {
        /// How long after the dump the task is to be cancelled if it has
        /// not ended by then, if a grace period or deadline says so.
        cancel_in: Option<Duration>,
        /// Why it was asked.
        cause: CancelCause,
    },
    /// Cancelled: its future is dropped at its next poll.
    Cancelled {
        /// Why.
        cause: CancelCause,
    },
    /// Its future is over (done or cancelled) and it is terminating: it
    /// waits for `children` children, then runs its `done` callback.
    Ending {
        /// Its children still live.
        children: usize,
    },
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskState::Running => f.write_str("running"),
            TaskState::StopRequested {
                cancel_in: None,
                cause,
            } => write!(f, "asked to stop ({cause})"),
            TaskState::StopRequested {
                cancel_in: Some(left),
                cause,
            } => write!(f, "asked to stop ({cause}), cancelled in {}", Age(*left)),
            TaskState::Cancelled { cause } => write!(f, "cancelled ({cause})"),
            TaskState::Ending { children: 0 } => f.write_str("ending"),
            TaskState::Ending { children: 1 } => f.write_str("ending, waiting for 1 child"),
            TaskState::Ending { children } => {
                write!(f, "ending, waiting for {children} children")
            }
        }
    }
}

/// A snapshot of the live tasks under a spawner ([`ScopedSpawner::dump`]),
/// depth first: every task comes before its children, and its children
/// (in slot order) before its next sibling.
///
/// `Display` draws it as an indented tree, one task a line:
///
/// ```text
/// 3 tasks
/// ├── #1.0 "server": running, age 3ms, at src/main.rs:12:10
/// │   └── #2.0 "conn 1": asked to stop, age 2ms, at src/main.rs:20:22
/// └── #1.1: ending, waiting for 1 child
/// ```
///
/// `#1.0` is the task's [`TaskId`]; a named task has its name, its age and
/// where it was named.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// root.named("idle").spawn_future(std::future::pending(), || ()).unwrap();
/// let text = root.dump().to_string();
/// let id = root.dump().tasks()[0].id();
/// assert!(text.starts_with(&format!("1 task\n└── #{id} \"idle\": running, age ")), "{text}");
/// root.shutdown().await;
/// # }
/// ```
///
/// With the `serde` feature, it serialises as `{"tasks": [...]}`, each task
/// with the fields of [`DumpedTask`] (`key`, `parent`, `depth`, `name`,
/// `location`, `state`, `age`), and deserialises back to an equal dump.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskDump {
    tasks: Vec<DumpedTask>,
}

impl TaskDump {
    /// The tasks, depth first.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// assert!(root.dump().tasks().is_empty());
    /// # }
    /// ```
    pub fn tasks(&self) -> &[DumpedTask] {
        &self.tasks
    }
}

/// Lines deeper than this draw their last levels only, after an ellipsis:
/// a chain of 10,000 nested tasks prints in linear space.
const MAX_DRAWN_DEPTH: usize = 32;

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.tasks.len();
        writeln!(f, "{count} task{}", if count == 1 { "" } else { "s" })?;
        // Whether each task is the last of its siblings: none of the tasks
        // after it has the same parent.
        let mut seen = std::collections::HashSet::new();
        let mut lasts: Vec<bool> = (self.tasks.iter().rev())
            .map(|task| seen.insert(task.parent))
            .collect();
        lasts.reverse();
        // Whether each ancestor level has a sibling still to come.
        let mut open: Vec<bool> = Vec::new();
        for (task, &last) in self.tasks.iter().zip(&lasts) {
            open.truncate(task.depth);
            let skipped = task.depth.saturating_sub(MAX_DRAWN_DEPTH);
            if skipped > 0 {
                write!(f, "…{skipped} levels… ")?;
            }
            for &more in &open[skipped..] {
                f.write_str(if more { "│   " } else { "    " })?;
            }
            f.write_str(if last { "└── " } else { "├── " })?;
            writeln!(f, "{task}")?;
            open.push(!last);
        }
        Ok(())
    }
}

/// One task of a [`TaskDump`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DumpedTask {
    id: TaskId,
    parent: Option<usize>,
    depth: usize,
    name: Option<String>,
    location: Option<SpawnLocation>,
    state: TaskState,
    age: Option<Duration>,
}

impl DumpedTask {
    /// The task's id ([`TaskId`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// let handle = root.spawn_task(std::future::pending::<()>()).unwrap();
    /// assert_eq!(root.dump().tasks()[0].id(), handle.id());
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's slot in its parent's scope ([`TaskId::slot`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tasktree::ScopedSpawn;
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.spawn_future(std::future::pending(), || ()).unwrap();
    /// root.spawn_future(std::future::pending(), || ()).unwrap();
    /// let keys: Vec<_> = root.dump().tasks().iter().map(|task| task.key()).collect();
    /// assert_eq!(keys, [0, 1]);
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn key(&self) -> usize {
        self.id.slot()
    }

    /// The index in [`TaskDump::tasks`] of the task's parent, `None` for a
    /// child of the dumped spawner.
    ///
    /// # Examples
    ///
    /// See [`ScopedSpawner::dump`].
    pub fn parent(&self) -> Option<usize> {
        self.parent
    }

    /// How far below the dumped spawner the task is: 0 for its children.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tasktree::ScopedSpawn;
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.spawn_future(std::future::pending(), || ()).unwrap();
    /// assert_eq!(root.dump().tasks()[0].depth(), 0);
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The name given with [`ScopedSpawner::named`], if any.
    ///
    /// # Examples
    ///
    /// See [`ScopedSpawner::named`].
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where [`ScopedSpawner::named`] was called for this task, if it was.
    ///
    /// # Examples
    ///
    /// See [`ScopedSpawner::named`].
    pub fn location(&self) -> Option<&SpawnLocation> {
        self.location.as_ref()
    }

    /// Where the task is in its life.
    ///
    /// # Examples
    ///
    /// See [`ScopedSpawner::dump`].
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// How long before the dump the task was spawned, for a named task.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let root = tasktree::ScopedSpawner::tokio();
    /// root.named("idle").spawn_future(std::future::pending(), || ()).unwrap();
    /// assert!(root.dump().tasks()[0].age().is_some());
    /// root.shutdown().await;
    /// # }
    /// ```
    pub fn age(&self) -> Option<Duration> {
        self.age
    }
}

/// One line of the drawn tree: `#id "name": state, age A, at file:line:col`.
impl fmt::Display for DumpedTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.id)?;
        if let Some(name) = self.name() {
            write!(f, " {name:?}")?;
        }
        write!(f, ": {}", self.state)?;
        if let Some(age) = self.age {
            write!(f, ", age {}", Age(age))?;
        }
        if let Some(location) = self.location() {
            write!(f, ", at {location}")?;
        }
        Ok(())
    }
}

/// A task's id: its scope's number, unique in the process, and its slot in
/// that scope. `Display` writes `scope.slot` (`7.0`).
///
/// Two live tasks never have the same id. A slot is reused once its task
/// is done and nothing names it any more (no handle, no signal), so a
/// later sibling can have the id of an earlier one: an id names one task
/// at a time.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tasktree::ScopedSpawn;
/// let root = tasktree::ScopedSpawner::tokio();
/// let handle = root
///     .spawn_task_with(|spawner| async move { spawner.task_id() })
///     .unwrap();
/// let id = handle.id();
/// assert_eq!(handle.await.unwrap(), Some(id)); // the task's own spawner knows it
/// assert_eq!(id.slot(), 0);
/// assert_eq!(id.to_string(), format!("{}.0", id.scope()));
/// assert_eq!(root.task_id(), None); // a root is no task
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskId {
    scope: u64,
    slot: u32,
}

impl TaskId {
    pub(crate) fn new(scope: u64, slot: usize) -> Self {
        // Slot keys are below 2^32 (`Node::register`).
        #[allow(clippy::cast_possible_truncation)]
        let slot = slot as u32;
        TaskId { scope, slot }
    }

    /// The number of the task's parent scope, unique in the process.
    ///
    /// # Examples
    ///
    /// See [`TaskId`].
    pub fn scope(&self) -> u64 {
        self.scope
    }

    /// The task's slot in its parent's scope.
    ///
    /// # Examples
    ///
    /// See [`TaskId`].
    pub fn slot(&self) -> usize {
        self.slot as usize
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.scope, self.slot)
    }
}

/// Where in the source a task was named: [`ScopedSpawner::named`]'s caller.
/// `Display` writes `file:line:column`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let root = tasktree::ScopedSpawner::tokio();
/// let line = line!() + 1;
/// root.named("idle").spawn_future(std::future::pending(), || ()).unwrap();
/// let dump = root.dump();
/// let location = dump.tasks()[0].location().unwrap();
/// assert_eq!(location.line(), line);
/// assert_eq!(location.to_string(), format!("{}:{line}:{}", location.file(), location.column()));
/// root.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SpawnLocation {
    file: String,
    line: u32,
    column: u32,
}

impl SpawnLocation {
    /// The source file, as `std::panic::Location::file` gives it.
    ///
    /// # Examples
    ///
    /// See [`SpawnLocation`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line, from 1.
    ///
    /// # Examples
    ///
    /// See [`SpawnLocation`].
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column, from 1.
    ///
    /// # Examples
    ///
    /// See [`SpawnLocation`].
    pub fn column(&self) -> u32 {
        self.column
    }
}

impl From<&Location<'_>> for SpawnLocation {
    fn from(location: &Location<'_>) -> Self {
        SpawnLocation {
            file: location.file().to_owned(),
            line: location.line(),
            column: location.column(),
        }
    }
}

impl fmt::Display for SpawnLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A duration to a reader's precision: `850µs`, `12ms`, `3.4s`, `95s`.
struct Age(Duration);

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let age = self.0;
        if age < Duration::from_millis(1) {
            write!(f, "{}µs", age.as_micros())
        } else if age < Duration::from_secs(1) {
            write!(f, "{}ms", age.as_millis())
        } else if age < Duration::from_secs(10) {
            write!(f, "{:.1}s", age.as_secs_f64())
        } else {
            write!(f, "{}s", age.as_secs())
        }
    }
}
