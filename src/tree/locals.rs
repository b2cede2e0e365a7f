//! Scope-local values (issue 14; Swift's `@TaskLocal`, Java's
//! `ScopedValue`): a value set on a scope is read by its tasks and by every
//! task below it, unless a scope in between sets its own of the same type.
//!
//! A scope holds its own values only (in the box of its rare parts, tree.rs
//! `Rare`); a read walks up from the reader's scope through each scope's
//! owner link (or a scope block's link to its slot), one lock at a time
//! (I2), to the first scope that has one. While a task runs, every scope
//! above it is live and linked (an owner's link is dropped only when its
//! own children are all done, `Node::retire`), so a running task's read
//! reaches the root; except past a fail-fast scope that has taken a
//! failure, which drops its link to its task as it cancels it
//! (`Node::report_failure`). A read costs one lock per level; a spawn
//! costs nothing (values are not copied into children).
// User values are held in std's `Arc` (the type `local` returns): they
// order nothing in the tree, which loom need not see.
#![allow(clippy::disallowed_types)]

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use super::Node;
use crate::loom::Arc as NodeArc;

/// A scope's own values, by type.
#[derive(Default)]
pub(crate) struct Locals(Option<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

/// A value of some type, as a scope holds it.
pub(crate) type Value = Arc<dyn Any + Send + Sync>;

impl Node {
    /// Sets this scope's value of type `id`; returns the one it replaces,
    /// for the caller to drop after the lock (user data: I3, G10).
    pub(crate) fn set_local(&self, id: TypeId, value: Value) -> Option<Value> {
        let mut children = self.children.lock();
        let rare = children.foreign.map.get_or_insert_with(Box::default);
        rare.locals
            .0
            .get_or_insert_with(HashMap::new)
            .insert(id, value)
    }

    /// The value of type `id` of the nearest scope at or above this one
    /// that has one.
    pub(crate) fn local(this: &NodeArc<Self>, id: TypeId) -> Option<Value> {
        let mut at = this.clone();
        loop {
            let children = at.children.lock();
            let found = (children.foreign.map.as_ref())
                .and_then(|rare| rare.locals.0.as_ref())
                .and_then(|locals| locals.get(&id).cloned());
            if found.is_some() {
                return found;
            }
            let up = (children.owner.clone()).or_else(|| children.up.clone());
            drop(children);
            at = up?.0;
        }
    }
}
