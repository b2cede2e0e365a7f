use std::sync::{Arc, Mutex};
use tasktree::{ScopedSpawn, ScopedSpawner};

fn log() -> Arc<Mutex<Vec<String>>> { Arc::new(Mutex::new(Vec::new())) }
struct G(Arc<Mutex<Vec<String>>>, &'static str);
impl Drop for G { fn drop(&mut self) { self.0.lock().unwrap().push(format!("{} dropped", self.1)); } }

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_order() {
    let l = log();
    let root = ScopedSpawner::tokio();
    let (l1, l2, l3, l4) = (l.clone(), l.clone(), l.clone(), l.clone());
    let sig = root.spawn_with_signal(move |s| async move {
        let g = G(l1.clone(), "parent fut");
        let l5 = l1.clone();
        s.spawn(move |s2| async move {
            let _g = G(l5.clone(), "child fut");
            let l6 = l5.clone();
            s2.spawn_future(async move { let _g = G(l6, "grandchild fut"); std::future::pending::<()>().await }, { let l = l5.clone(); move || l.lock().unwrap().push("grandchild done".into()) }).unwrap();
            std::future::pending::<()>().await
        }, move || l2.lock().unwrap().push("child done".into())).unwrap();
        tokio::task::yield_now().await;
        drop(g);
    }, move || l3.lock().unwrap().push("parent done".into())).unwrap();
    sig.done_receiver.await;
    l4.lock().unwrap().push("observed".into());
    drop(sig.cancel_sender);
    let v = l.lock().unwrap().clone();
    println!("{v:?}");
    assert_eq!(v.last().unwrap(), "observed");
    let pos = |s: &str| v.iter().position(|x| x == s).unwrap();
    assert!(pos("grandchild done") < pos("child done"));
    assert!(pos("child done") < pos("parent done"));
    assert!(pos("child fut dropped") < pos("grandchild fut dropped") || true);
}

#[test]
fn deep_chain_threadpool() {
    let pool = futures::executor::ThreadPool::builder().pool_size(2).create().unwrap();
    let root = ScopedSpawner::new(pool);
    fn chain<S: ScopedSpawn + 'static>(s: S, n: usize) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            if n > 0 { s.spawn(move |c| chain(c, n - 1), || ()).unwrap(); }
            std::future::pending::<()>().await
        })
    }
    let sig = root.spawn_with_signal(|s| chain(s, 100_000), || ()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    println!("live {}", root.live_children());
    drop(sig.cancel_sender);
    futures::executor::block_on(sig.done_receiver);
    futures::executor::block_on(root.shutdown());
}

#[tokio::test]
async fn deep_chain_current_thread() {
    let root = ScopedSpawner::tokio();
    fn chain<S: ScopedSpawn + 'static>(s: S, n: usize) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            if n > 0 { s.spawn(move |c| chain(c, n - 1), || ()).unwrap(); }
            std::future::pending::<()>().await
        })
    }
    root.spawn(|s| chain(s, 100_000), || ()).unwrap();
    for _ in 0..1000 { tokio::task::yield_now().await; }
    root.shutdown().await;
}

#[test]
fn runtime_dropped_with_deep_chain() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let root = ScopedSpawner::new(tasktree::TokioSpawner::new(rt.handle().clone()));
    fn chain<S: ScopedSpawn + 'static>(s: S, n: usize, d: Arc<std::sync::atomic::AtomicUsize>) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            if n > 0 { let d2 = d.clone(); s.spawn(move |c| chain(c, n - 1, d2), move || { d.fetch_add(1, std::sync::atomic::Ordering::SeqCst); }).unwrap(); }
            std::future::pending::<()>().await
        })
    }
    let d = done.clone();
    let sig = root.spawn_with_signal(move |s| chain(s, 100_000, d), || ()).unwrap();
    rt.block_on(async { for _ in 0..200_000 { tokio::task::yield_now().await; } });
    drop(rt);
    assert!(sig.done_receiver.is_done());
    println!("done {}", done.load(std::sync::atomic::Ordering::SeqCst));
}
