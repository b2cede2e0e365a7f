//! A dump of a live tree: a server with two connections in flight, one of
//! them fanning out to two backends and one being shut down gracefully.
//!
//! ```sh
//! cargo run --example task_dump
//! ```

use std::future::pending;
use std::time::Duration;

use tasktree::ScopedSpawner;

#[tokio::main]
async fn main() {
    let root = ScopedSpawner::tokio();
    let (ready, mut all_ready) = tokio::sync::mpsc::channel(2);
    root.named("server")
        .spawn(
            move |server| async move {
                let fan_out = ready.clone();
                server
                    .named("conn 1: GET /search")
                    .spawn(
                        move |request| async move {
                            for backend in ["index", "ads"] {
                                request
                                    .named(format!("query {backend}"))
                                    .spawn_future(pending(), || ())
                                    .unwrap();
                            }
                            fan_out.send(()).await.unwrap();
                            pending::<()>().await
                        },
                        || (),
                    )
                    .unwrap();
                let signals = server
                    .named("conn 2: GET /stream")
                    .spawn_with_signal(
                        move |request| async move {
                            request
                                .named("heartbeat")
                                .spawn_future(pending(), || ())
                                .unwrap();
                            ready.send(()).await.unwrap();
                            pending::<()>().await
                        },
                        || (),
                    )
                    .unwrap();
                // The client of conn 2 went away: stop it, with a minute of grace.
                tokio::time::sleep(Duration::from_millis(20)).await;
                signals
                    .cancel_sender
                    .cancel_with_grace(Duration::from_secs(60))
                    .unwrap();
                pending::<()>().await
            },
            || (),
        )
        .unwrap();
    for _ in 0..2 {
        all_ready.recv().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    print!("{}", root.dump());
    root.shutdown().await;
    assert!(root.dump().tasks().is_empty());
}
