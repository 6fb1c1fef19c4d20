//! Stage 2 of a run: one libtest trial per selected case, in the shape of tryfn's
//! `Harness::test`. A trial runs its case on the shared runtime, judges it against the
//! expectations, records the result, and answers libtest. A trial that panics is recorded
//! as a failed case with the panic message, so it is in every report.

use crate::case::Case;
use crate::expectations::{Expectations, Judgement};
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

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
    pub runner: Arc<Runner>,
    /// The run's runtime (current-thread): a trial drives it while it waits.
    pub runtime: Arc<tokio::runtime::Runtime>,
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

/// The judgement of one result, with or without an expectations file.
pub fn judge(expectations: Option<&Expectations>, r: &CaseResult) -> Judgement {
    match expectations {
        Some(e) => e.judge(r),
        None => Judgement::from_outcome(&r.outcome),
    }
}

/// How many finished results may wait for their libtest trial, beyond those running.
const LOOKAHEAD: usize = 16;

/// What the runtime hands a trial: its case's judged result, or word that `--fail-fast`
/// stopped the run first. The permit bounds how far the runtime runs ahead of libtest.
enum Delivery {
    Ran(Box<(CaseResult, Judgement)>),
    NotRun,
}

type Slot = oneshot::Receiver<(Delivery, OwnedSemaphorePermit)>;
type Deliver = oneshot::Sender<(Delivery, OwnedSemaphorePermit)>;

/// How many cases the reader thread reads and parses per hand-off to the schedule.
const READ_BATCH: usize = 32;

/// The trials for the cases `selected` keeps, by index into the runner's corpus, and the
/// schedule that runs them. The cases libtest will run (its filters applied, in its order)
/// run as tasks on the runtime, `parallel` at once, while a reader thread reads and parses
/// the next ones; libtest runs its trials one after another on the runtime's thread, each
/// driving the runtime until its case's result is in. A case then goes from its response to
/// its checks, and the next case from its file to its request, without a thread hand-off.
/// A trial holds only its index and the slot its result arrives in, so trials cost little
/// memory whatever the size of the corpus.
pub fn trials(
    ctx: &TrialContext,
    selected: &[usize],
    args: &Arguments,
    parallel: usize,
) -> Vec<Trial> {
    let scheduled = !args.list;
    let shared = Arc::new(ctx.clone());
    let mut queue = Vec::new();
    let trials: Vec<Trial> = selected
        .iter()
        .map(|&i| {
            let name = ctx.runner.corpus.index[i].trial_name();
            let runs = scheduled && {
                let probe = Trial::test(name.clone(), || Ok(()));
                !args.is_filtered_out(&probe) && !args.is_ignored(&probe)
            };
            let slot = runs.then(|| {
                let (tx, rx) = oneshot::channel();
                queue.push((i, tx));
                rx
            });
            let ctx = shared.clone();
            Trial::ignorable_test(name, move || run_trial(&ctx, i, slot))
        })
        .collect();
    if !queue.is_empty() {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let reader = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("callconform-reader".into())
            .spawn(move || read_ahead(&reader, queue, &tx));
        // Without a reader thread the trials read their cases themselves (the slots close).
        if spawned.is_ok() {
            ctx.runtime.spawn(drive(ctx.clone(), rx, parallel.max(1)));
        }
    }
    trials
}

/// How many cases run at once (`--test-threads`, else 8: cases wait on the network, not
/// the CPU), with libtest set to report them in order from the runtime's one thread.
pub fn take_parallelism(args: &mut Arguments) -> usize {
    let parallel = args.test_threads.unwrap_or(8).max(1);
    if !args.list {
        args.test_threads = Some(1);
    }
    parallel
}

/// A case read for the schedule: its index, the case or why it could not be read, and
/// where its result goes.
type ReadCase = (usize, Result<ReadAhead, crate::diag::CaseError>, Deliver);

/// A case and the expected forms it compares against, read off the runtime's thread.
struct ReadAhead {
    case: crate::case::Case,
    expected: crate::runner::Expected,
}

/// Reads and parses the queued cases in order, a batch at a time, for [`drive`]. The
/// channel's bound keeps at most a few batches parsed ahead.
fn read_ahead(
    ctx: &TrialContext,
    queue: Vec<(usize, Deliver)>,
    tx: &tokio::sync::mpsc::Sender<Vec<ReadCase>>,
) {
    let mut batch = Vec::with_capacity(READ_BATCH);
    for (i, deliver) in queue {
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
        batch.push((i, read, deliver));
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

/// Runs the read cases in order, `parallel` at a time, and delivers each judged result.
async fn drive(
    ctx: TrialContext,
    mut cases: tokio::sync::mpsc::Receiver<Vec<ReadCase>>,
    parallel: usize,
) {
    let running = Arc::new(Semaphore::new(parallel));
    let window = Arc::new(Semaphore::new(parallel + LOOKAHEAD));
    while let Some(batch) = cases.recv().await {
        for (i, case, tx) in batch {
            let (Ok(waiting), Ok(run)) = (
                window.clone().acquire_owned().await,
                running.clone().acquire_owned().await,
            ) else {
                return;
            };
            if ctx.collected.stop.load(Ordering::Relaxed) {
                let _ = tx.send((Delivery::NotRun, waiting));
                continue;
            }
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let result = match case {
                    Ok(ReadAhead { case, expected }) => {
                        CatchPanic(ctx.runner.run_prepared(&case, expected))
                            .await
                            .unwrap_or_else(|panic| panicked(&case, panic))
                    }
                    Err(e) => unreadable(&ctx.runner.corpus, i, e),
                };
                drop(run);
                let judgement = judge(ctx.expectations.as_deref(), &result);
                if judgement.fails_run() && ctx.fail_fast {
                    ctx.collected.stop.store(true, Ordering::Relaxed);
                }
                let _ = tx.send((Delivery::Ran(Box::new((result, judgement))), waiting));
            });
        }
    }
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

fn run_trial(ctx: &TrialContext, i: usize, slot: Option<Slot>) -> Result<Completion, Failed> {
    let delivered = slot.map(|s| ctx.runtime.block_on(s));
    let (mut result, judgement) = match delivered {
        Some(Ok((Delivery::Ran(ran), _permit))) => *ran,
        Some(Ok((Delivery::NotRun, _))) => return Ok(not_run()),
        // Not scheduled (parallel trials, or one the schedule did not expect): run it here.
        Some(Err(_)) | None => {
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

    /// Answers every request with `status` and counts what it was sent.
    struct Canned {
        status: u16,
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
            let resp = crate::response::Response::new(
                self.status,
                vec![],
                bytes::Bytes::new(),
                Duration::ZERO,
            );
            Box::pin(async move { Ok(resp) })
        }
    }

    /// Runs `n` one-step cases (each expecting 204) through libtest with `flags`; returns
    /// libtest's conclusion and the URLs the target was sent, in order.
    fn run_cases(
        n: usize,
        status: u16,
        fail_fast: bool,
        flags: &[&str],
    ) -> (libtest_mimic::Conclusion, Vec<String>) {
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
        let ctx = TrialContext {
            runner: Arc::new(Runner {
                corpus: Arc::new(corpus),
                config,
                transport: transport.clone(),
                listener: None,
                reasons: Default::default(),
            }),
            runtime: runtime.clone(),
            expectations: None,
            collected: Arc::new(Collected::default()),
            fail_fast,
            keep_passed_requests: false,
            keep_passed: true,
        };
        // The inner run's own output goes to a file, not into this test's output.
        let log = std::env::temp_dir().join(format!(
            "callconform-trials-{}-{n}-{status}-{}.log",
            std::process::id(),
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
        let conclusion = libtest_mimic::run(&args, trials(&ctx, &selected, &args, parallel));
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
        (conclusion, sent)
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
    fn fail_fast_stops_the_schedule_after_the_first_failure() {
        let (c, sent) = run_cases(6, 500, true, &["--test-threads", "1"]);
        assert_eq!((c.num_failed, c.num_ignored), (1, 5));
        assert_eq!(sent, ["http://t/c0"], "nothing is sent after the failure");
        let (c, sent) = run_cases(6, 500, false, &["--test-threads", "1"]);
        assert_eq!((c.num_failed, sent.len()), (6, 6));
    }
}
