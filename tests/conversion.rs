//! The README's "Replacing `tokio::spawn`" server, run: an accept loop
//! whose connections are tasks of the tree, each with state built inside
//! its spawn closure (where its spawner exists), drained by one
//! `shutdown_with_grace` (issue 12). The code between the `README` markers is
//! the README's, with the test's channels added where it says so.
#![allow(clippy::disallowed_types)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tasktree::{ScopedSpawn, ScopedSpawner};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One connection: echoes lines until the client closes or the tree asks it
/// to stop; each line is answered by a child task of the connection.
struct Connection {
    lines: BufReader<TcpStream>,
    spawner: ScopedSpawner,
    log: Arc<Mutex<Vec<String>>>,
}

impl Connection {
    fn new(socket: TcpStream, spawner: ScopedSpawner, log: Arc<Mutex<Vec<String>>>) -> Self {
        Connection {
            lines: BufReader::new(socket),
            spawner,
            log,
        }
    }

    async fn run(mut self) -> std::io::Result<()> {
        let mut stop = self.spawner.stop_requested();
        let mut line = String::new();
        loop {
            line.clear();
            tokio::select! {
                read = self.lines.read_line(&mut line) => if read? == 0 { return Ok(()) },
                _ = &mut stop => {
                    self.lines.get_mut().write_all(b"bye\n").await?;
                    self.log.lock().unwrap().push("said bye".to_string());
                    return Ok(());
                }
            }
            // A child of the connection computes the answer.
            let text = line.trim().to_uppercase();
            let answer = self.spawner.spawn_task(async move { text }).unwrap();
            let answer = answer.await.unwrap();
            self.lines
                .get_mut()
                .write_all(format!("{answer}\n").as_bytes())
                .await?;
        }
    }
}

async fn serve(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
    log: Arc<Mutex<Vec<String>>>,
) -> ScopedSpawner {
    // README
    let root = ScopedSpawner::tokio();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let log = log.clone(); // the test's
                // The connection's spawner exists only inside the closure:
                // the connection's state is built there.
                let _ = root.spawn_task_with(move |conn| async move {
                    Connection::new(socket, conn, log).run().await
                });
            }
            _ = &mut shutdown => break,
        }
    }
    // Every connection is asked to stop and has 5 s; then it is cancelled.
    root.shutdown_with_grace(Duration::from_secs(5))
        .unwrap()
        .await;
    // README
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_converted_server_serves_and_drains() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        async move {
            let _ = stop_rx.await;
        },
        log.clone(),
    ));

    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    client.get_mut().write_all(b"hello\n").await.unwrap();
    let mut reply = String::new();
    client.read_line(&mut reply).await.unwrap();
    assert_eq!(reply, "HELLO\n");

    // The shutdown asks the open connection to stop: it says bye and ends,
    // and the server returns once the tree has drained.
    stop_tx.send(()).unwrap();
    reply.clear();
    client.read_line(&mut reply).await.unwrap();
    assert_eq!(reply, "bye\n");
    let root = tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("the server drains (hang guard)")
        .unwrap();
    assert!(root.is_terminated());
    assert_eq!(root.live_children(), 0);
    assert_eq!(*log.lock().unwrap(), ["said bye"]);
}
