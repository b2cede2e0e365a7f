//! Scope-local values (issue 14): `set_local` and `local`, inherited down
//! the tree unless a scope sets its own; on every executor of the harness.
#![allow(clippy::disallowed_types)]

mod common;

use futures::channel::oneshot;

use common::on_each_executor;
use tasktree::ScopedSpawn;

#[derive(Debug, PartialEq)]
struct Tenant(&'static str);

#[derive(Debug, PartialEq)]
struct Attempt(u32);

/// A value set on the root is read two levels down, through a scope block
/// too; a child's own value hides it for the child's subtree only; values
/// of different types are apart.
#[test]
fn a_value_is_inherited_unless_a_scope_sets_its_own() {
    on_each_executor!(|root, executor| async move {
        root.set_local(Tenant("acme"));
        assert_eq!(root.local::<Tenant>().as_deref(), Some(&Tenant("acme")));
        assert_eq!(root.local::<Attempt>(), None, "{executor}");

        let read = root
            .spawn_task_with(|child| async move {
                let below = child
                    .spawn_task_with(|grandchild| async move {
                        grandchild.local::<Tenant>().map(|t| t.0)
                    })
                    .unwrap()
                    .await
                    .unwrap();
                let in_block = child
                    .scope(|block| async move {
                        block
                            .spawn_task_with(
                                |inner| async move { inner.local::<Tenant>().map(|t| t.0) },
                            )
                            .unwrap()
                            .await
                            .unwrap()
                    })
                    .await
                    .unwrap();
                (below, in_block)
            })
            .unwrap()
            .await
            .unwrap();
        assert_eq!(read, (Some("acme"), Some("acme")), "{executor}");

        let (overridden, sibling) = futures::join!(
            root.spawn_task_with(|child| async move {
                child.set_local(Tenant("globex"));
                child.set_local(Attempt(2));
                child
                    .spawn_task_with(|grandchild| async move {
                        (
                            grandchild.local::<Tenant>().map(|t| t.0),
                            grandchild.local::<Attempt>().map(|a| a.0),
                        )
                    })
                    .unwrap()
                    .await
                    .unwrap()
            })
            .unwrap(),
            root.spawn_task_with(|sibling| async move { sibling.local::<Tenant>().map(|t| t.0) })
                .unwrap(),
        );
        assert_eq!(overridden.unwrap(), (Some("globex"), Some(2)), "{executor}");
        assert_eq!(sibling.unwrap(), Some("acme"), "{executor}");
        assert_eq!(
            root.local::<Attempt>(),
            None,
            "a child's value stays below it"
        );
    });
}

/// A value set while a task runs is read by it from then on (values are
/// read where they are set, not copied at spawn); setting again replaces.
#[test]
fn a_value_set_later_is_read_by_running_tasks() {
    on_each_executor!(|root, executor| async move {
        let (set_tx, set_rx) = oneshot::channel::<()>();
        let child = root
            .spawn_task_with(|child| async move {
                let before = child.local::<Tenant>().map(|t| t.0);
                set_rx.await.unwrap();
                (before, child.local::<Tenant>().map(|t| t.0))
            })
            .unwrap();
        common::yield_now().await;
        root.set_local(Tenant("first"));
        root.set_local(Tenant("second"));
        set_tx.send(()).unwrap();
        let (before, after) = child.await.unwrap();
        assert_eq!(after, Some("second"), "{executor}");
        assert!(
            before.is_none() || before == Some("second"),
            "{executor}: {before:?}"
        );
    });
}
