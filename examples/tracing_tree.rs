//! Task spans in a `tracing-subscriber` log (feature `tracing`): a request
//! that fans out to two backends, one of which times out. Every line of a
//! task carries the spans of the tasks above it, because each task's span
//! is a child of its parent task's, whoever polls the spawn.
//!
//! ```sh
//! cargo run --example tracing_tree --features tracing
//! ```

use std::time::Duration;

use tasktree::ScopedSpawner;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();

    let root = ScopedSpawner::tokio();
    let request = root
        .named("GET /search")
        .spawn_task_with(|request| async move {
            let index = request
                .named("index")
                .spawn_task(async {
                    tracing::info!("querying");
                    "3 hits"
                })
                .unwrap();
            let ads = request
                .named("ads")
                .spawn_task(std::future::pending::<&str>())
                .unwrap();
            ads.set_timeout(Duration::from_millis(10)).unwrap();
            let hits = index.await.unwrap();
            let ads = ads.await.unwrap_or("no ads (timed out)");
            format!("{hits}, {ads}")
        })
        .unwrap();
    println!("{}", request.await.unwrap());
    root.shutdown().await;
}
