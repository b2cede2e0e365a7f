//! tracing spans for tasks (feature `tracing`): every task runs inside a
//! span named `task`, with its id and name as fields, whose parent is the
//! span of its parent task (for a child of a root or of a scope block, the
//! span that was current where the root was made or the block opened), not
//! the span of whoever polled the spawn call. State changes are events at
//! DEBUG inside it: `spawned`, `stop requested` and `cancelled` (each with
//! its `cause`, a `CancelCause` displayed), `future ended` (with
//! `outcome`), `done`. `tests/tracing.rs` checks each.
//!
//! Without the feature, [`TaskSpan`] is a zero-sized type whose methods do
//! nothing, and [`event!`] expands to nothing (`tests/size.rs` measures
//! the wrapper so).

#[cfg(feature = "tracing")]
mod imp {
    use crate::dump::TaskId;

    /// A task's span, held by its wrapper (entered on every poll) and by
    /// its scope's node (the parent of its children's spans).
    #[derive(Clone, Debug)]
    pub(crate) struct TaskSpan(tracing::Span);

    impl Default for TaskSpan {
        /// No span (`Span::none()`).
        fn default() -> Self {
            TaskSpan(tracing::Span::none())
        }
    }

    impl TaskSpan {
        /// The span current here: the parent of a root's or a scope
        /// block's children.
        pub(crate) fn current() -> Self {
            TaskSpan(tracing::Span::current())
        }

        /// The span of task `id`, named `name` if given, under `parent`.
        pub(crate) fn child(parent: &TaskSpan, id: TaskId, name: Option<&str>) -> Self {
            let span = tracing::debug_span!(parent: &parent.0, "task", id = %id, name);
            tracing::debug!(parent: &span, "spawned");
            TaskSpan(span)
        }

        /// Enters the span until the guard drops.
        pub(crate) fn enter(&self) -> tracing::span::Entered<'_> {
            self.0.enter()
        }
    }

    /// A scope's span ([`Node`](crate::tree::Node)): its owner task's, set
    /// once that task's id is known; the current one for a root or a block.
    #[derive(Debug, Default)]
    pub(crate) struct ScopeSpan(std::sync::OnceLock<TaskSpan>);

    impl ScopeSpan {
        pub(crate) fn current() -> Self {
            let cell = std::sync::OnceLock::new();
            let _ = cell.set(TaskSpan::current());
            ScopeSpan(cell)
        }

        /// A span to be set once its task's id is known.
        pub(crate) fn unset() -> Self {
            ScopeSpan(std::sync::OnceLock::new())
        }

        pub(crate) fn set(&self, span: TaskSpan) {
            let _ = self.0.set(span);
        }

        /// The parent of this scope's children's spans.
        pub(crate) fn get(&self) -> TaskSpan {
            self.0.get().cloned().unwrap_or_default()
        }
    }

    /// An event at DEBUG in the current span (a task's, while its wrapper
    /// polls or drops it).
    macro_rules! event {
        ($($arg:tt)*) => {
            tracing::debug!($($arg)*)
        };
    }
    pub(crate) use event;
}

#[cfg(not(feature = "tracing"))]
mod imp {
    use crate::dump::TaskId;

    /// Without the feature: nothing.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct TaskSpan;

    impl TaskSpan {
        #[inline(always)]
        pub(crate) fn child(_: &TaskSpan, _: TaskId, _: Option<&str>) -> Self {
            TaskSpan
        }

        #[inline(always)]
        pub(crate) fn enter(&self) {}
    }

    #[derive(Debug, Default)]
    pub(crate) struct ScopeSpan;

    impl ScopeSpan {
        #[inline(always)]
        pub(crate) fn current() -> Self {
            ScopeSpan
        }

        #[inline(always)]
        pub(crate) fn unset() -> Self {
            ScopeSpan
        }

        #[inline(always)]
        pub(crate) fn set(&self, _: TaskSpan) {}

        #[inline(always)]
        pub(crate) fn get(&self) -> TaskSpan {
            TaskSpan
        }
    }

    macro_rules! event {
        ($($arg:tt)*) => {};
    }
    pub(crate) use event;
}

pub(crate) use imp::{event, ScopeSpan, TaskSpan};
