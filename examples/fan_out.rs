//! A fetch-like fan-out: six requests run as the children of a scope block.
//!
//! 1. `try_scope` (fail-fast): one request fails after 40 ms. Its error
//!    cancels the requests still running and the body that awaits them; the
//!    block returns that error once every child has terminated, so nothing
//!    is printed after it returns.
//! 2. `scope`: every request succeeds and the body collects the results; a
//!    detached seventh request, which the body never awaits, is awaited by the
//!    block all the same (children are awaited, not cancelled, when the body
//!    returns).
//! 3. `supervised_scope`: one request panics; only its own handle reports the
//!    panic, and its siblings finish undisturbed.
//!
//! Each request prints its events as they happen: `started`, then `finished`,
//! `failed`, or, from a drop guard, `cancelled` (dropped before it ended) or
//! `panicked` (dropped while unwinding). The example then checks the events.
//!
//! Run it with `cargo run --example fan_out`. The clock is tokio's paused
//! clock: the simulated delays take no real time, and they fire in a fixed
//! order, so the checks compare exact sets of requests.

use std::collections::BTreeSet;
use std::fmt;
use std::panic;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tasktree::{SpawnError, TaskError, TryScope};
use tokio::time::{sleep, Instant};

/// How long each request takes, in simulated milliseconds.
const DELAYS_MS: [u64; 6] = [10, 70, 30, 40, 90, 60];
/// The request that goes wrong (in parts 1 and 3).
const BAD: usize = 3;
/// The panic message of the bad request in part 3.
const MALFORMED: &str = "malformed response";

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    fail_fast().await;
    collect_all().await;
    supervised().await;
    println!("\nok: every check passed");
}

/// Part 1: `try_scope`. The first error cancels everything else, and is the
/// block's result.
async fn fail_fast() {
    println!("== 1. try_scope: one request fails, the others are cancelled ==");
    let log = Log::new();
    let body_log = log.clone();
    let result: Result<Vec<Page>, FetchError> =
        tasktree::try_scope(|s: TryScope<FetchError>| async move {
            let body = Guard::start(body_log.clone(), "body", "spawning 6 requests");
            let mut handles = Vec::new();
            for id in 0..DELAYS_MS.len() {
                let reply = if id == BAD { Reply::Error } else { Reply::Page };
                // `spawn_try`: an `Err` from this child fails the whole scope.
                handles.push(s.spawn_try(fetch(id, reply, body_log.clone()))?);
            }
            let mut pages = Vec::new();
            for handle in handles {
                // The outer `?` is the `TaskError`, the inner one the fetch's.
                pages.push(handle.await??);
            }
            body.end(Event::Finished, "all pages fetched".into());
            Ok(pages)
        })
        .await;
    log.close();
    println!("try_scope returned {result:?}");
    log.settle().await;

    let bad_delay = DELAYS_MS[BAD];
    let early: BTreeSet<String> = requests(|id| DELAYS_MS[id] < bad_delay);
    let late: BTreeSet<String> = requests(|id| DELAYS_MS[id] > bad_delay);
    assert_eq!(
        result.unwrap_err(),
        FetchError {
            id: BAD,
            reason: "503 Service Unavailable"
        },
        "the result is the failing request's error"
    );
    assert_eq!(
        log.who(Event::Started),
        requests(|_| true).union(&body()).cloned().collect()
    );
    assert_eq!(log.who(Event::Failed), requests(|id| id == BAD));
    assert_eq!(
        log.who(Event::Finished),
        early,
        "requests faster than the failure finished"
    );
    assert_eq!(
        log.who(Event::Cancelled),
        late.union(&body()).cloned().collect(),
        "every unfinished request, and the body, were cancelled"
    );
    assert!(log.who(Event::Panicked).is_empty());
    log.assert_quiet_after_return();
}

/// Part 2: `scope`. Every request succeeds; the body collects the results.
async fn collect_all() {
    println!("\n== 2. scope: every request succeeds ==");
    let log = Log::new();
    let body_log = log.clone();
    let pages = tasktree::scope(|s| async move {
        let handles: Vec<_> = (0..DELAYS_MS.len())
            .map(|id| {
                s.spawn_task(fetch(id, Reply::Page, body_log.clone()))
                    .expect("the scope is open")
            })
            .collect();
        // Not awaited by the body: the block still waits for it.
        s.spawn_task(fetch(DELAYS_MS.len(), Reply::Page, body_log.clone()))
            .expect("the scope is open")
            .detach();
        let mut pages = Vec::new();
        for handle in handles {
            let page = handle.await.expect("nothing cancels or panics here");
            pages.push(page.expect("every request succeeds"));
        }
        body_log.note("body", "returns; the scope waits for the detached request");
        pages
    })
    .await;
    log.close();
    println!("scope returned {} pages", pages.len());
    log.settle().await;

    let ids: Vec<usize> = pages.iter().map(|page| page.id).collect();
    assert_eq!(
        ids,
        (0..DELAYS_MS.len()).collect::<Vec<_>>(),
        "in spawn order"
    );
    let all: BTreeSet<String> = (0..=DELAYS_MS.len()).map(request).collect();
    assert_eq!(log.who(Event::Started), all);
    assert_eq!(log.who(Event::Finished), all, "the detached one included");
    assert!(log.who(Event::Cancelled).is_empty());
    log.assert_quiet_after_return();
}

/// Part 3: `supervised_scope`. A panic reaches only its own handle.
async fn supervised() {
    println!("\n== 3. supervised_scope: one request panics, only its handle reports it ==");
    quiet_panics_of(MALFORMED);
    let log = Log::new();
    let body_log = log.clone();
    let outcomes = tasktree::supervised_scope(|s| async move {
        let handles: Vec<_> = (0..DELAYS_MS.len())
            .map(|id| {
                let reply = if id == BAD { Reply::Panic } else { Reply::Page };
                s.spawn_task(fetch(id, reply, body_log.clone()))
                    .expect("the scope is open")
            })
            .collect();
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.push(handle.await);
        }
        outcomes
    })
    .await;
    log.close();
    for (id, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(Ok(page)) => println!("handle {id}: Ok({} bytes)", page.bytes),
            Ok(Err(error)) => println!("handle {id}: fetch error {error}"),
            Err(error) => println!("handle {id}: {error}"),
        }
    }
    log.settle().await;

    for (id, outcome) in outcomes.into_iter().enumerate() {
        if id == BAD {
            let error = outcome.expect_err("the panic is reported to its handle");
            assert!(error.is_panic(), "{error:?}");
            let payload = error.into_panic();
            assert_eq!(payload.downcast_ref::<&str>(), Some(&MALFORMED));
        } else {
            let page = outcome.expect("a sibling's panic does not touch it");
            assert_eq!(page.expect("it succeeds").id, id);
        }
    }
    assert_eq!(log.who(Event::Panicked), requests(|id| id == BAD));
    assert_eq!(log.who(Event::Finished), requests(|id| id != BAD));
    assert!(
        log.who(Event::Cancelled).is_empty(),
        "supervised: no sibling is cancelled"
    );
    log.assert_quiet_after_return();
}

/// What a simulated server answers.
#[derive(Clone, Copy)]
enum Reply {
    Page,
    Error,
    Panic,
}

#[derive(Debug)]
struct Page {
    id: usize,
    bytes: usize,
}

#[derive(Debug, PartialEq)]
struct FetchError {
    id: usize,
    reason: &'static str,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request {}: {}", self.id, self.reason)
    }
}

/// Lets the body use `?` on `spawn_try`.
impl From<SpawnError> for FetchError {
    fn from(_: SpawnError) -> Self {
        FetchError {
            id: usize::MAX,
            reason: "could not spawn",
        }
    }
}

/// Lets the body use `?` on an awaited handle.
impl From<TaskError> for FetchError {
    fn from(_: TaskError) -> Self {
        FetchError {
            id: usize::MAX,
            reason: "request ended without a reply",
        }
    }
}

/// A simulated request: waits `DELAYS_MS[id]` (or 100 ms past the end of
/// the table), then answers as `reply` says.
async fn fetch(id: usize, reply: Reply, log: Log) -> Result<Page, FetchError> {
    let name = request(id);
    let url = format!("GET https://example.com/items/{id}");
    let guard = Guard::start(log, &name, &url);
    let delay = DELAYS_MS.get(id).copied().unwrap_or(100);
    sleep(Duration::from_millis(delay)).await;
    match reply {
        Reply::Page => {
            let bytes = 1000 + 10 * id;
            guard.end(Event::Finished, format!("{bytes} bytes"));
            Ok(Page { id, bytes })
        }
        Reply::Error => {
            let reason = "503 Service Unavailable";
            guard.end(Event::Failed, reason.to_string());
            Err(FetchError { id, reason })
        }
        // The guard sees the unwind and logs `panicked`.
        Reply::Panic => panic::panic_any(MALFORMED),
    }
}

fn request(id: usize) -> String {
    format!("request {id}")
}

/// The names of the requests in the table whose id passes `pick`.
fn requests(pick: impl Fn(usize) -> bool) -> BTreeSet<String> {
    (0..DELAYS_MS.len())
        .filter(|&id| pick(id))
        .map(request)
        .collect()
}

fn body() -> BTreeSet<String> {
    BTreeSet::from(["body".to_string()])
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Event {
    Started,
    Finished,
    Failed,
    Cancelled,
    Panicked,
}

/// Logs `started` when made; logs `cancelled` (or `panicked`, when
/// unwinding) if dropped before [`end`](Self::end).
struct Guard {
    log: Log,
    name: String,
    ended: bool,
}

impl Guard {
    fn start(log: Log, name: &str, detail: &str) -> Self {
        log.event(name, Event::Started, detail);
        Guard {
            log,
            name: name.to_string(),
            ended: false,
        }
    }

    fn end(mut self, event: Event, detail: String) {
        self.ended = true;
        self.log.event(&self.name, event, &detail);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if std::thread::panicking() {
            self.log.event(&self.name, Event::Panicked, MALFORMED);
        } else {
            self.log
                .event(&self.name, Event::Cancelled, "dropped before it ended");
        }
    }
}

/// Prints each event with the simulated time, and records it for the checks.
#[derive(Clone)]
struct Log(Arc<Mutex<Record>>);

struct Record {
    start: Instant,
    events: Vec<(String, Event)>,
    /// Set once the scope block has returned.
    closed: bool,
    /// Lines printed after the scope block returned: there must be none.
    after_return: Vec<String>,
}

impl Log {
    fn new() -> Self {
        Log(Arc::new(Mutex::new(Record {
            start: Instant::now(),
            events: Vec::new(),
            closed: false,
            after_return: Vec::new(),
        })))
    }

    fn event(&self, name: &str, event: Event, detail: &str) {
        let what = format!("{event:?}").to_lowercase();
        self.print(format!("{name}: {what:<9} ({detail})"));
        let mut record = self.0.lock().unwrap();
        record.events.push((name.to_string(), event));
    }

    fn note(&self, name: &str, what: &str) {
        self.print(format!("{name}: {what}"));
    }

    fn print(&self, line: String) {
        let mut record = self.0.lock().unwrap();
        let ms = record.start.elapsed().as_millis();
        let line = format!("[{ms:>3} ms] {line}");
        println!("{line}");
        if record.closed {
            record.after_return.push(line);
        }
    }

    /// Marks the return of the scope block.
    fn close(&self) {
        self.0.lock().unwrap().closed = true;
    }

    /// Gives any straggler (there should be none) a chance to run and log.
    async fn settle(&self) {
        sleep(Duration::from_secs(1)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    fn who(&self, event: Event) -> BTreeSet<String> {
        let record = self.0.lock().unwrap();
        let names = record.events.iter().filter(|(_, e)| *e == event);
        names.map(|(name, _)| name.clone()).collect()
    }

    fn assert_quiet_after_return(&self) {
        let record = self.0.lock().unwrap();
        assert!(
            record.after_return.is_empty(),
            "printed after the scope returned: {:?}",
            record.after_return
        );
    }
}

/// Keeps the default panic message for every panic but the simulated one.
fn quiet_panics_of(message: &'static str) {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&message) {
            default(info);
        }
    }));
}
