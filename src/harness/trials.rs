//! Stage 2 of a run: one libtest trial per selected case, in the shape of tryfn's
//! `Harness::test`. The schedule runs the cases on a few runtimes (one per core) and
//! judges each against the expectations; a trial takes its case's result, records it,
//! and answers libtest. A trial that panics is recorded
//! as a failed case with the panic message, so it is in every report.

use crate::case::Case;
use crate::expectations::{Expectations, Judgement};
use crate::request::Transport;
use crate::results::{CaseResult, Outcome, StepResult};
use crate::runner::Runner;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What the trials share and hand back: the results, a progress count, the fail-fast flag.
#[derive(Default)]
pub struct Collected {
    pub results: Mutex<Vec<CaseResult>>,
    pub done: AtomicUsize,
    /// Cases that passed with nothing to show and were not kept (see `keep_passed`).
    pub passed_quietly: AtomicUsize,
    pub stop: AtomicBool,
}

impl Collected {
    /// The results, sorted by case name (trials finish in any order).
    pub fn take(&self) -> Vec<CaseResult> {
        let mut r = std::mem::take(&mut *self.results.lock().unwrap_or_else(|p| p.into_inner()));
        r.sort_by(|a, b| a.name.cmp(&b.name));
        r
    }
}

/// Everything one trial needs, cloned cheaply into each closure.
#[derive(Clone)]
pub struct TrialContext {
    /// The run's runner; each runtime of the schedule runs its cases on a copy of it with a
    /// client of its own (see `transport`).
    pub runner: Arc<Runner>,
    /// A current-thread runtime for a trial the schedule did not run (one libtest runs
    /// that it was not told of): the trial runs its case on it, on libtest's thread.
    pub runtime: Arc<tokio::runtime::Runtime>,
    /// A new transport for one runtime of the schedule but the first (a pooled client's
    /// connections are driven by the runtime they were opened on); `None`, or a failure,
    /// shares the runner's.
    pub transport: Option<NewTransport>,
    pub expectations: Option<Arc<Expectations>>,
    pub collected: Arc<Collected>,
    pub fail_fast: bool,
    /// A JSON report lists every request; without one a passed case keeps no headers or
    /// bodies, so the records held until the reports are written stay small.
    pub keep_passed_requests: bool,
    /// Some report or an expectations file reads every case. Without one, a case that
    /// passed with nothing to print (no note, warning or written snapshot) is only counted,
    /// so what a run holds does not grow with the cases that pass quietly.
    pub keep_passed: bool,
}

/// Makes the transport of one runtime of the schedule.
pub type NewTransport = Arc<dyn Fn() -> Result<Arc<dyn Transport>, String> + Send + Sync>;

impl TrialContext {
    /// The runner runtime `w` of the schedule uses: the run's for the first (its client has
    /// opened nothing yet, so its connections are that runtime's), a copy with a transport
    /// of its own for the others.
    fn runner_for_worker(&self, w: usize) -> Arc<Runner> {
        match self.transport.as_ref().filter(|_| w > 0).map(|make| make()) {
            Some(Ok(transport)) => {
                let r = &self.runner;
                Arc::new(Runner {
                    corpus: r.corpus.clone(),
                    config: r.config.clone(),
                    transport,
                    listener: r.listener.clone(),
                    reasons: r.reasons.clone(),
                })
            }
            _ => self.runner.clone(),
        }
    }
}

/// The judgement of one result, with or without an expectations file.
pub fn judge(expectations: Option<&Expectations>, r: &CaseResult) -> Judgement {
    match expectations {
        Some(e) => e.judge(r),
        None => Judgement::from_outcome(&r.outcome),
    }
}

/// How many finished results may wait for their libtest trial, beyond those running.
const LOOKAHEAD: usize = 16;

/// What the schedule hands a trial: its case's judged result, or word that `--fail-fast`
/// stopped the run first. The permit bounds how far the schedule runs ahead of libtest.
enum Delivery {
    Ran(Box<(CaseResult, Judgement)>),
    NotRun,
}

/// A delivered result and its place in the window, freed when libtest has taken it.
type Delivered = (Delivery, OwnedSemaphorePermit);

/// Results that libtest's thread wakes up for at once: it sleeps until this many in a row
/// are in (or one is in and has waited [`BATCH_WAIT`]), not once per case, since waking
/// a thread on another core costs more than a fast case's checks.
const BATCH: usize = 8;
/// How long a delivered result may wait for the rest of its batch.
const BATCH_WAIT: Duration = Duration::from_millis(1);
/// How long libtest's thread sleeps at most before it looks again.
const IDLE_WAIT: Duration = Duration::from_millis(20);

/// Where the schedule leaves the results for libtest's thread, which takes them in its
/// order: a ring as long as the window, so what waits is bounded whatever the corpus.
struct Outbox {
    ring: Mutex<Ring>,
    ready: std::sync::Condvar,
    /// What libtest's thread took out of the ring at once (from the position given), so it
    /// locks the ring once per run of results in a row, not once per result: the lock the
    /// runtimes deliver under is taken less often.
    taken: Mutex<(usize, std::collections::VecDeque<Delivered>)>,
}

struct Ring {
    slots: Vec<Option<Delivered>>,
    /// The position libtest takes next.
    cursor: usize,
    /// The last position (the queue's length, less one).
    last: usize,
    /// While libtest's thread sleeps: since when, and the end of the batch it waits for.
    sleeping: Option<(std::time::Instant, usize)>,
    /// The runtimes still running; once none is, what was not delivered never will be.
    live: usize,
}

impl Outbox {
    fn new(window: usize, len: usize, live: usize) -> Outbox {
        Outbox {
            ring: Mutex::new(Ring {
                slots: (0..window.max(1)).map(|_| None).collect(),
                cursor: 0,
                last: len.saturating_sub(1),
                sleeping: None,
                live,
            }),
            ready: std::sync::Condvar::new(),
            taken: Mutex::new((0, std::collections::VecDeque::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leaves the result of position `pos` (which holds a place in the window, so it is
    /// fewer than the ring's length ahead of the cursor).
    fn deliver(&self, pos: usize, d: Delivered) {
        let mut r = self.lock();
        let w = r.slots.len();
        r.slots[pos % w] = Some(d);
        if let Some((since, upto)) = r.sleeping {
            let head = r.slots[r.cursor % w].is_some();
            if head
                && ((r.cursor..=upto).all(|p| r.slots[p % w].is_some())
                    || since.elapsed() >= BATCH_WAIT)
            {
                r.sleeping = None;
                self.ready.notify_one();
            }
        }
    }

    /// A runtime of the schedule has stopped; after the last, nothing more comes.
    fn retire(&self) {
        let mut r = self.lock();
        r.live = r.live.saturating_sub(1);
        if r.live == 0 {
            self.ready.notify_all();
        }
    }

    /// The result of position `pos`, the cursor (libtest takes the trials in the schedule's
    /// order); `None` if it will never come (every runtime has stopped without it).
    fn take(&self, pos: usize) -> Option<Delivered> {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        let (first, ahead) = &mut *taken;
        // Positions libtest passed over (it should not) give their places back.
        while *first < pos && !ahead.is_empty() {
            ahead.pop_front();
            *first += 1;
        }
        if *first == pos
            && let Some(d) = ahead.pop_front()
        {
            *first += 1;
            return Some(d);
        }
        let mut r = self.lock();
        let w = r.slots.len();
        while r.cursor < pos {
            let c = r.cursor;
            r.slots[c % w] = None;
            r.cursor += 1;
        }
        loop {
            if let Some(d) = r.slots[pos % w].take() {
                // The results already in after it come along.
                let mut next = pos + 1;
                while let Some(d) = r.slots[next % w].take() {
                    ahead.push_back(d);
                    next += 1;
                }
                r.cursor = next;
                *first = pos + 1;
                return Some(d);
            }
            if r.live == 0 {
                r.cursor = pos + 1;
                *first = pos + 1;
                return None;
            }
            let upto = (pos + BATCH.min(w) - 1).min(r.last);
            r.sleeping = Some((std::time::Instant::now(), upto));
            r = self
                .ready
                .wait_timeout(r, IDLE_WAIT)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
            r.sleeping = None;
        }
    }
}

/// How many cases the reader thread reads and parses per hand-off to the schedule.
const READ_BATCH: usize = 32;

/// How many runtimes run the cases: one per core, no more than cases run at once (so
/// `--test-threads 1` is one runtime running one case at a time).
pub fn workers(parallel: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    parallel.clamp(1, cores.max(1))
}

/// The running schedule: its runtimes' threads and the reader's. Dropping it closes the
/// schedule (nothing more starts) and waits for the threads.
pub struct Schedule {
    window: Option<Arc<Semaphore>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Schedule {
    fn drop(&mut self) {
        if let Some(w) = &self.window {
            w.close();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The trials for the cases `selected` keeps, by index into the runner's corpus, and the
/// schedule that runs them. The cases libtest will run (its filters applied, in its order)
/// are read and parsed, in that order, by a reader thread, and taken one by one, as they
/// come, by [`workers`] runtimes, each on a thread of its own with its own pooled client,
/// `parallel` cases running at once across them (each runtime its share). libtest runs
/// its trials one after another on its own thread, each taking its case's result from the
/// outbox, so it reports them in order. A case goes from its response to its checks on the
/// runtime it runs on, without a thread hand-off. A trial holds only its index and its
/// position, so trials cost little memory whatever the size of the corpus.
pub fn trials(
    ctx: &TrialContext,
    selected: &[usize],
    args: &Arguments,
    parallel: usize,
) -> (Vec<Trial>, Schedule) {
    let scheduled = !args.list;
    let parallel = parallel.max(1);
    let window = parallel + LOOKAHEAD;
    let mut queue = Vec::new();
    let positions: Vec<Option<usize>> = selected
        .iter()
        .map(|&i| {
            let runs = scheduled && {
                let probe = Trial::test(ctx.runner.corpus.index[i].trial_name(), || Ok(()));
                !args.is_filtered_out(&probe) && !args.is_ignored(&probe)
            };
            runs.then(|| {
                queue.push((i, queue.len()));
                queue.len() - 1
            })
        })
        .collect();
    let n = if queue.is_empty() {
        0
    } else {
        workers(parallel)
    };
    let runtimes: Vec<tokio::runtime::Runtime> = (0..n)
        .filter_map(|_| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
        })
        .collect();
    let outbox = Arc::new(Outbox::new(window, queue.len(), runtimes.len()));
    let shared = Arc::new((ctx.clone(), outbox.clone()));
    let trials: Vec<Trial> = selected
        .iter()
        .zip(positions)
        .map(|(&i, pos)| {
            let shared = shared.clone();
            Trial::ignorable_test(ctx.runner.corpus.index[i].trial_name(), move || {
                run_trial(&shared.0, i, pos.map(|p| (&*shared.1, p)))
            })
        })
        .collect();
    let mut schedule = Schedule {
        window: None,
        threads: Vec::new(),
    };
    if runtimes.is_empty() {
        return (trials, schedule);
    }
    let window = Arc::new(Semaphore::new(window));
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let feed = Arc::new(Feed {
        cases: tokio::sync::Mutex::new((rx, Vec::new().into_iter())),
        window: window.clone(),
    });
    let n = runtimes.len();
    for (w, rt) in runtimes.into_iter().enumerate() {
        // Each runtime its share of the cases at once: `parallel` in all.
        let share = parallel / n + usize::from(w < parallel % n);
        let ctx = ctx.clone();
        let feed = feed.clone();
        let out = outbox.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("callconform-run-{w}"))
            .spawn(move || {
                let _retire = Retire(out.clone());
                let runner = ctx.runner_for_worker(w);
                // A task, not the future `block_on` drives: a case that finishes wakes it
                // through the runtime's own queue, where waking `block_on`'s future would
                // write to the runtime's eventfd, a system call per case.
                let _ = rt.block_on(rt.spawn(work(ctx, runner, feed, out, share)));
            });
        match spawned {
            Ok(t) => schedule.threads.push(t),
            Err(_) => outbox.retire(),
        }
    }
    drop(feed);
    schedule.window = Some(window);
    // Without a reader thread the runtimes find nothing to run and stop; the trials then
    // run their cases themselves.
    let reader = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name("callconform-reader".into())
        .spawn(move || read_ahead(&reader, queue, &tx));
    if let Ok(t) = spawned {
        schedule.threads.push(t);
    }
    (trials, schedule)
}

/// Tells the outbox that a runtime stopped, however its thread ends.
struct Retire(Arc<Outbox>);

impl Drop for Retire {
    fn drop(&mut self) {
        self.0.retire();
    }
}

/// How many cases run at once (`--test-threads`, else 8: cases wait on the network, not
/// the CPU), with libtest set to report them in order from its one thread.
pub fn take_parallelism(args: &mut Arguments) -> usize {
    let parallel = args.test_threads.unwrap_or(8).max(1);
    if !args.list {
        args.test_threads = Some(1);
    }
    parallel
}

/// A case read for the schedule: its index, the case or why it could not be read, and
/// its position in the schedule (where its result goes in the outbox).
type ReadCase = (usize, Result<ReadAhead, crate::diag::CaseError>, usize);

/// A case and the expected forms it compares against, read off the runtimes' threads.
struct ReadAhead {
    case: crate::case::Case,
    expected: crate::runner::Expected,
}

/// Reads and parses the queued cases in order, a batch at a time, for the runtimes. The
/// channel's bound keeps at most a few batches parsed ahead.
fn read_ahead(
    ctx: &TrialContext,
    queue: Vec<(usize, usize)>,
    tx: &tokio::sync::mpsc::Sender<Vec<ReadCase>>,
) {
    let mut batch = Vec::with_capacity(READ_BATCH);
    for (i, pos) in queue {
        // After `--fail-fast` stopped the run, nothing more is read: the trials whose slots
        // close see the stop and report themselves not run.
        if ctx.collected.stop.load(Ordering::Relaxed) {
            return;
        }
        let read = ctx.runner.corpus.case(i).map(|c| {
            let case = c.into_owned();
            let expected = ctx.runner.read_expected(&case);
            ReadAhead { case, expected }
        });
        batch.push((i, read, pos));
        if batch.len() == READ_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(READ_BATCH));
            if tx.blocking_send(full).is_err() {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
}

/// The read cases, shared by the runtimes: each takes the next one, in order.
struct Feed {
    /// The reader's batches, and what is left of the one being taken from.
    cases: tokio::sync::Mutex<(
        tokio::sync::mpsc::Receiver<Vec<ReadCase>>,
        std::vec::IntoIter<ReadCase>,
    )>,
    /// Bounds the cases taken and not yet reported by libtest.
    window: Arc<Semaphore>,
}

impl Feed {
    /// The next case, with its place in the window; `None` when every case was taken.
    /// Cases are taken in order, each after its place, so the ones holding a place are
    /// always the next ones libtest reports: the one it waits for never waits for a place.
    async fn next(&self) -> Option<(ReadCase, OwnedSemaphorePermit)> {
        let place = self.window.clone().acquire_owned().await.ok()?;
        let mut cases = self.cases.lock().await;
        if let Some(c) = cases.1.next() {
            return Some((c, place));
        }
        let batch = cases.0.recv().await?;
        cases.1 = batch.into_iter();
        cases.1.next().map(|c| (c, place))
    }
}

/// One runtime's part of the schedule: takes the next case whenever fewer than `share` of
/// its own run, runs it, and delivers its judged result; returns when every case was taken
/// and its own have finished.
async fn work(
    ctx: TrialContext,
    runner: Arc<Runner>,
    feed: Arc<Feed>,
    out: Arc<Outbox>,
    share: usize,
) {
    let share = share.max(1);
    let running = Arc::new(Semaphore::new(share));
    loop {
        let Ok(run) = running.clone().acquire_owned().await else {
            break;
        };
        let Some(((i, case, pos), place)) = feed.next().await else {
            break;
        };
        if ctx.collected.stop.load(Ordering::Relaxed) {
            out.deliver(pos, (Delivery::NotRun, place));
            continue;
        }
        let ctx = ctx.clone();
        let runner = runner.clone();
        let out = out.clone();
        // The case's own future is boxed where it starts: the task stays small, so
        // spawning and finishing it copy little.
        tokio::spawn(async move {
            let result = match case {
                Ok(ReadAhead { case, expected }) => {
                    Box::pin(CatchPanic(runner.run_prepared(&case, expected)))
                        .await
                        .unwrap_or_else(|panic| panicked(&case, panic))
                }
                Err(e) => unreadable(&runner.corpus, i, e),
            };
            drop(run);
            let judgement = judge(ctx.expectations.as_deref(), &result);
            if judgement.fails_run() && ctx.fail_fast {
                ctx.collected.stop.store(true, Ordering::Relaxed);
            }
            out.deliver(pos, (Delivery::Ran(Box::new((result, judgement))), place));
        });
    }
    // Every case of this runtime has finished when all its places are free again.
    let _ = running.acquire_many(share as u32).await;
}

/// Reads case `i` of the corpus and runs it. A case file that cannot be read or parsed is
/// that case's error (exit 2), named with its file and line; a panic is a failed case.
pub async fn run_indexed(runner: &Runner, i: usize) -> CaseResult {
    match runner.corpus.case(i) {
        Ok(case) => CatchPanic(runner.run_case(&case))
            .await
            .unwrap_or_else(|panic| panicked(&case, panic)),
        Err(e) => unreadable(&runner.corpus, i, e),
    }
}

/// The result of a case whose file is broken: an error of the corpus, not of the target.
fn unreadable(corpus: &crate::corpus::Corpus, i: usize, e: crate::diag::CaseError) -> CaseResult {
    let (name, family) = corpus
        .index
        .get(i)
        .map(|r| (r.trial_name(), r.family.to_string()))
        .unwrap_or_default();
    let message = e.to_string();
    let mut step = StepResult::new("(case file)", false);
    step.error = Some(message.clone());
    step.corpus_error = true;
    CaseResult {
        name,
        family,
        file: crate::runner::rel(&corpus.root, &e.path),
        operation: String::new(),
        tags: Vec::new(),
        outcome: Outcome::Error(message),
        steps: vec![step],
        duration: Duration::ZERO,
    }
}

/// A future whose panic is returned, not propagated: the case's task is the only one it
/// runs in, so a panicking case costs no second task to catch it.
struct CatchPanic<F>(F);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: the inner future is never moved out of the pinned wrapper.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn run_trial(
    ctx: &TrialContext,
    i: usize,
    slot: Option<(&Outbox, usize)>,
) -> Result<Completion, Failed> {
    let delivered = slot.and_then(|(out, pos)| out.take(pos));
    let (mut result, judgement) = match delivered {
        Some((Delivery::Ran(ran), _place)) => *ran,
        Some((Delivery::NotRun, _)) => return Ok(not_run()),
        // Not scheduled (one the schedule did not expect, or it stopped without it after
        // `--fail-fast`, or could not start): run it here.
        None => {
            if ctx.collected.stop.load(Ordering::Relaxed) {
                return Ok(not_run());
            }
            let result = ctx.runtime.block_on(run_indexed(&ctx.runner, i));
            let judgement = judge(ctx.expectations.as_deref(), &result);
            if judgement.fails_run() && ctx.fail_fast {
                ctx.collected.stop.store(true, Ordering::Relaxed);
            }
            (result, judgement)
        }
    };
    let verdict = answer(&result, &judgement);
    ctx.collected.done.fetch_add(1, Ordering::Relaxed);
    if judgement == Judgement::Pass && !ctx.keep_passed && quiet(&result) {
        ctx.collected.passed_quietly.fetch_add(1, Ordering::Relaxed);
        return verdict;
    }
    if judgement == Judgement::Pass && !ctx.keep_passed_requests {
        compact_passed(&mut result);
    }
    ctx.collected
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(result);
    verdict
}

/// A passed case with nothing the terminal would print under it.
fn quiet(r: &CaseResult) -> bool {
    r.outcome == Outcome::Passed
        && r.notes().next().is_none()
        && r.warnings().next().is_none()
        && r.steps
            .iter()
            .all(|s| s.written.is_empty() && s.ignored.is_empty())
}

fn not_run() -> Completion {
    Completion::ignored_with("not run: --fail-fast after a failure")
}

/// A passed case as the reports need it: verdict, timings, statuses and checks; the
/// request line stays, its headers and body go (no report shows them for a pass).
fn compact_passed(result: &mut CaseResult) {
    for step in &mut result.steps {
        if let Some(req) = &mut step.request {
            req.headers = Vec::new();
            req.body = None;
        }
        step.response_preview = None;
        step.checks.shrink_to_fit();
    }
    result.steps.shrink_to_fit();
}

/// What libtest is told about one judged result.
fn answer(result: &CaseResult, judgement: &Judgement) -> Result<Completion, Failed> {
    match (judgement, &result.outcome) {
        (_, Outcome::Ignored(why)) => Ok(Completion::ignored_with(why)),
        (Judgement::ExpectedFail { .. } | Judgement::Pass | Judgement::KnownNotes { .. }, _) => {
            Ok(Completion::Completed)
        }
        (Judgement::UnexpectedPass { reason, note }, _) => {
            Err(format!("{}: {note} (listed as failing: {reason})", result.name).into())
        }
        (Judgement::Fail { note }, _) => {
            let mut text = crate::report::failure_text(result);
            if let Some(n) = note {
                text.push_str(&format!("note: {n}\n"));
            }
            Err(text.into())
        }
        (Judgement::Ignored, _) => Ok(Completion::ignored_with("ignored")),
    }
}

/// A result for a case whose run panicked: a failed case naming the panic.
fn panicked(case: &Case, panic: Box<dyn std::any::Any + Send>) -> CaseResult {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    let mut step = StepResult::new("(harness)", false);
    step.error = Some(format!(
        "the harness panicked while running this case: {msg}"
    ));
    CaseResult {
        name: case.trial_name(),
        family: case.family.to_string(),
        file: case.path.display().to_string(),
        operation: case.file.provenance.example.clone(),
        tags: case.file.tags.clone(),
        outcome: Outcome::Failed,
        steps: vec![step],
        duration: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_failed_case_with_its_message() {
        let case = Case {
            family: crate::family::Family::UM,
            name: "boom".into(),
            path: "cases/um/boom.toml".into(),
            file: crate::case::parse_case(
                std::path::Path::new("boom.toml"),
                "[provenance]\nexample = \"Boom\"\n\n[[step]]\nname = \"s\"\nmethod = \"POST\"\npath = \"/\"\n[step.expect]\nstatus = 200\nbody = \"any\"\n",
            )
            .expect("parses"),
            contract: None,
        };
        let r = panicked(&case, Box::new("index out of bounds"));
        assert_eq!(r.outcome, Outcome::Failed);
        assert!(
            crate::report::failure_text(&r)
                .contains("panicked while running this case: index out of bounds")
        );
        assert!(answer(&r, &Judgement::from_outcome(&r.outcome)).is_err());
    }

    /// Answers every request with `status` (500 for the paths in `failing`), the later cases
    /// sooner when `staggered`, and records what it was sent.
    struct Canned {
        status: u16,
        failing: Vec<String>,
        staggered: bool,
        sent: std::sync::Mutex<Vec<String>>,
    }

    impl crate::request::Transport for Canned {
        fn send<'a>(
            &'a self,
            req: &'a crate::request::PreparedRequest,
        ) -> crate::request::SendFuture<'a> {
            self.sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(req.url.clone());
            let path = req.url.trim_start_matches("http://t");
            let status = if self.failing.iter().any(|f| f == path) {
                500
            } else {
                self.status
            };
            let resp =
                crate::response::Response::new(status, vec![], bytes::Bytes::new(), Duration::ZERO);
            let k: u64 = path.trim_start_matches("/c").parse().unwrap_or(0);
            let delay = Duration::from_millis(if self.staggered {
                40 - 3 * k.min(13)
            } else {
                0
            });
            Box::pin(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Ok(resp)
            })
        }
    }

    /// A run of `n` one-step cases through libtest, as [`run_cases`] and [`run_with`] see it.
    struct Ran {
        conclusion: libtest_mimic::Conclusion,
        /// The URLs the target was sent, in order.
        sent: Vec<String>,
        /// What libtest wrote to its log file.
        log: String,
        /// How many transports the schedule's runtimes made.
        transports: usize,
    }

    /// Runs `n` one-step cases (each expecting 204) through libtest with `flags`; returns
    /// libtest's conclusion and the URLs the target was sent, in order.
    fn run_cases(
        n: usize,
        status: u16,
        fail_fast: bool,
        flags: &[&str],
    ) -> (libtest_mimic::Conclusion, Vec<String>) {
        let r = run_with(n, status, &[], false, fail_fast, flags);
        (r.conclusion, r.sent)
    }

    fn run_with(
        n: usize,
        status: u16,
        failing: &[&str],
        staggered: bool,
        fail_fast: bool,
        flags: &[&str],
    ) -> Ran {
        let cases = (0..n)
            .map(|k| Case {
                family: crate::family::Family::GRAPH,
                name: format!("c{k}"),
                path: format!("cases/graph/c{k}.toml").into(),
                file: crate::case::parse_case(
                    std::path::Path::new("c.toml"),
                    &format!("[provenance]\nexample = \"c\"\n\n[[step]]\nname = \"s\"\nmethod = \"DELETE\"\npath = \"/c{k}\"\n[step.expect]\nstatus = 204\nbody = \"any\"\n"),
                )
                .expect("parses"),
                contract: None,
            })
            .collect();
        let corpus = crate::corpus::Corpus::with_cases(cases);
        let transport = Arc::new(Canned {
            status,
            failing: failing.iter().map(|f| (*f).to_owned()).collect(),
            staggered,
            sent: Default::default(),
        });
        let mut config = crate::runner::RunConfig::default();
        config.targets.insert(
            crate::family::Family::GRAPH,
            crate::request::Target {
                base_url: "http://t".into(),
                ..Default::default()
            },
        );
        let runtime = Arc::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        );
        let made = Arc::new(AtomicUsize::new(0));
        let (shared, count) = (transport.clone(), made.clone());
        let ctx = TrialContext {
            runner: Arc::new(Runner {
                corpus: Arc::new(corpus),
                config,
                transport: transport.clone(),
                listener: None,
                reasons: Default::default(),
            }),
            runtime: runtime.clone(),
            transport: Some(Arc::new(move || {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(shared.clone() as Arc<dyn crate::request::Transport>)
            })),
            expectations: None,
            collected: Arc::new(Collected::default()),
            fail_fast,
            keep_passed_requests: false,
            keep_passed: true,
        };
        // The inner run's own output goes to a file, not into this test's output.
        let log = std::env::temp_dir().join(format!(
            "callconform-trials-{}-{n}-{status}-{}-{}.log",
            std::process::id(),
            failing.len(),
            flags.join("_")
        ));
        let mut argv = vec![
            "callconform".to_owned(),
            "-q".to_owned(),
            "--logfile".to_owned(),
        ];
        argv.push(log.display().to_string());
        argv.extend(flags.iter().map(|f| (*f).to_owned()));
        let mut args = Arguments::from_iter(argv);
        let parallel = take_parallelism(&mut args);
        let selected: Vec<usize> = (0..n).collect();
        let (trials, schedule) = trials(&ctx, &selected, &args, parallel);
        let conclusion = libtest_mimic::run(&args, trials);
        drop(schedule);
        let sent = transport
            .sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        assert_eq!(
            ctx.collected.take().len() as u64,
            conclusion.num_passed + conclusion.num_failed,
            "every run trial has a record"
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        Ran {
            conclusion,
            sent,
            log: text,
            transports: made.load(Ordering::Relaxed),
        }
    }

    #[test]
    fn the_outbox_hands_results_over_in_order_and_says_when_none_will_come() {
        let window = Arc::new(Semaphore::new(4));
        let out = Arc::new(Outbox::new(4, 6, 1));
        let place = || window.clone().try_acquire_owned().expect("a place");
        let (a, b) = (place(), place());
        out.deliver(1, (Delivery::NotRun, b));
        out.deliver(0, (Delivery::NotRun, a));
        assert!(matches!(out.take(0), Some((Delivery::NotRun, _))));
        assert!(matches!(out.take(1), Some((Delivery::NotRun, _))));
        assert_eq!(
            window.available_permits(),
            4,
            "taken results free their places"
        );
        // A result delivered from another thread while libtest's thread sleeps on it.
        let (out2, c) = (out.clone(), place());
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            out2.deliver(2, (Delivery::NotRun, c));
        });
        let started = std::time::Instant::now();
        assert!(out.take(2).is_some());
        assert!(started.elapsed() < Duration::from_secs(1));
        let _ = t.join();
        // The last runtime stops: what was not delivered never comes.
        out.retire();
        assert!(out.take(3).is_none());
        // A position passed over gives its place back.
        let d = place();
        out.deliver(4, (Delivery::NotRun, d));
        assert!(out.take(5).is_none());
        assert_eq!(window.available_permits(), 4);
    }

    #[test]
    fn the_schedule_runs_exactly_what_libtest_runs_in_its_order() {
        let (c, sent) = run_cases(5, 204, false, &["--test-threads", "1", "--skip", "c3"]);
        assert_eq!((c.num_passed, c.num_filtered_out), (4, 1));
        assert_eq!(
            sent,
            ["http://t/c0", "http://t/c1", "http://t/c2", "http://t/c4"]
        );
        let (c, sent) = run_cases(
            5,
            204,
            false,
            &["--test-threads", "1", "--exact", "graph::c2"],
        );
        assert_eq!((c.num_passed, sent.len()), (1, 1));
        // Three at once: the same set, whatever order they finish in.
        let (c, mut sent) = run_cases(5, 204, false, &["--test-threads", "3", "--skip", "c0"]);
        sent.sort();
        assert_eq!((c.num_passed, sent.len()), (4, 4));
    }

    #[test]
    fn one_runtime_per_core_each_with_its_own_transport_and_one_for_one_at_a_time() {
        // The first runtime uses the run's own transport; each other one makes its own.
        let r = run_with(4, 204, &[], false, false, &["--test-threads", "1"]);
        assert_eq!((r.conclusion.num_passed, r.transports), (4, 0));
        let r = run_with(40, 204, &[], false, false, &["--test-threads", "8"]);
        assert_eq!(r.conclusion.num_passed, 40);
        assert_eq!(r.transports, workers(8) - 1);
        assert_eq!(workers(1), 1);
        assert!(workers(64) >= 1 && workers(64) <= 64);
    }

    #[test]
    fn results_finishing_out_of_order_reach_their_own_trials() {
        // The later cases answer first; the failing ones must still be c1, c5 and c9.
        let r = run_with(
            12,
            204,
            &["/c1", "/c5", "/c9"],
            true,
            false,
            &["--test-threads", "6"],
        );
        assert_eq!((r.conclusion.num_passed, r.conclusion.num_failed), (9, 3));
        // libtest's list of failures: the names, indented, after the last `failures:`.
        let list = r.log.rsplit("failures:").next().unwrap_or_default();
        let failed: Vec<&str> = list
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("graph::"))
            .collect();
        assert_eq!(failed, ["graph::c1", "graph::c5", "graph::c9"], "{}", r.log);
    }

    #[test]
    fn fail_fast_stops_the_schedule_after_the_first_failure() {
        let (c, sent) = run_cases(6, 500, true, &["--test-threads", "1"]);
        assert_eq!((c.num_failed, c.num_ignored), (1, 5));
        assert_eq!(sent, ["http://t/c0"], "nothing is sent after the failure");
        let (c, sent) = run_cases(6, 500, false, &["--test-threads", "1"]);
        assert_eq!((c.num_failed, sent.len()), (6, 6));
        // Several at once: those already running finish, nothing new starts, none hangs.
        let r = run_with(60, 204, &["/c2"], true, true, &["--test-threads", "4"]);
        let c = r.conclusion;
        assert!(c.num_failed >= 1, "the failure is reported");
        assert_eq!(c.num_passed + c.num_failed + c.num_ignored, 60);
        assert!(r.sent.len() < 60, "the run stopped early: {}", r.sent.len());
    }
}
