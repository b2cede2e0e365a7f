//! Task spans (issue 13, feature `tracing`): each task runs in a span whose
//! parent is its parent task's span (for a root's children, the span
//! current where the root was made), not the span of whoever called the
//! spawn; state changes are DEBUG events inside it.
//!
//! `cargo test --features tracing --test tracing`
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tasktree::ScopedSpawner;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A span's label in the record: its name, and its `name` field if any
/// (`task[request]`).
#[derive(Clone, Default)]
struct Label(String);

/// Collects the fields of a span or event as `key=value` text, and the
/// `name` field and `message` on their own.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    message: Option<String>,
    all: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = Some(text),
            "name" => self.name = Some(text.trim_matches('"').to_owned()),
            other => {
                let _ = write!(self.all, " {other}={text}");
            }
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "name" => self.name = Some(value.to_owned()),
            _ => self.record_debug(field, &value),
        }
    }
}

/// What the subscriber saw: each span's parent, by label, and each event
/// as `span: message fields`.
#[derive(Clone, Default)]
struct Seen {
    parents: Arc<Mutex<HashMap<String, String>>>,
    events: Arc<Mutex<Vec<String>>>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let span = ctx.span(id).expect("a new span");
        let label = match fields.name {
            Some(name) => format!("{}[{name}]", span.name()),
            None => span.name().to_owned(),
        };
        let parent = span.parent().map_or("none".to_owned(), |parent| {
            parent
                .extensions()
                .get::<Label>()
                .expect("labelled")
                .0
                .clone()
        });
        span.extensions_mut().insert(Label(label.clone()));
        self.parents.lock().unwrap().insert(label, parent);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx.event_span(event).map_or("none".to_owned(), |span| {
            span.extensions()
                .get::<Label>()
                .expect("labelled")
                .0
                .clone()
        });
        let message = fields.message.unwrap_or_default();
        let line = format!("{span}: {message}{}", fields.all);
        self.events.lock().unwrap().push(line);
    }
}

#[test]
fn a_task_span_is_a_child_of_its_parent_task_span() {
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let root = tracing::info_span!("server").in_scope(ScopedSpawner::tokio);
        // Spawned from inside an unrelated span: the request's span is
        // still under the root's.
        let request = tracing::info_span!("caller").in_scope(|| {
            root.named("request")
                .spawn_task_with(|spawner| async move {
                    let backend = spawner.named("backend").spawn_task(async { 7 }).unwrap();
                    let slow = spawner
                        .named("slow")
                        .spawn_task(std::future::pending::<()>())
                        .unwrap();
                    slow.cancel();
                    let _ = slow.await;
                    // A graceful cancel: asked to stop, cancelled a second
                    // later (paused time).
                    let polite = spawner
                        .named("polite")
                        .spawn_task(std::future::pending::<()>())
                        .unwrap();
                    tokio::task::yield_now().await;
                    polite
                        .cancel_with_grace(std::time::Duration::from_secs(1))
                        .unwrap();
                    let _ = polite.await;
                    backend.await.unwrap()
                })
                .unwrap()
        });
        assert_eq!(request.await.unwrap(), 7);
        root.shutdown().await;
    });

    let parents = seen.parents.lock().unwrap().clone();
    assert_eq!(parents["task[request]"], "server", "{parents:?}");
    assert_eq!(parents["task[backend]"], "task[request]", "{parents:?}");
    assert_eq!(parents["task[slow]"], "task[request]", "{parents:?}");

    let events = seen.events.lock().unwrap().clone();
    let of = |span: &str| -> Vec<String> {
        (events.iter())
            .filter_map(|line| line.strip_prefix(&format!("{span}: ")))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        of("task[backend]"),
        ["spawned", "future ended outcome=\"completed\"", "done"],
        "{events:#?}"
    );
    assert_eq!(
        of("task[slow]"),
        [
            "spawned",
            "cancelled cause=its handle cancelled it",
            "future ended outcome=\"cancelled\"",
            "done"
        ],
        "{events:#?}"
    );
    assert_eq!(
        of("task[polite]"),
        [
            "spawned",
            "stop requested cause=its handle cancelled it",
            "cancelled cause=its handle cancelled it",
            "future ended outcome=\"cancelled\"",
            "done"
        ],
        "{events:#?}"
    );
    assert_eq!(
        of("task[request]"),
        ["spawned", "future ended outcome=\"completed\"", "done"],
        "{events:#?}"
    );
    // Each task's id is a field of its span.
    assert!(
        events.iter().all(|line| !line.starts_with("task: ")),
        "every task here is named: {events:#?}"
    );
}
