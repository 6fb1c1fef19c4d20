//! Stage 2 of a run: one libtest trial per selected case, in the shape of tryfn's
//! `Harness::test`. A trial runs its case on the shared runtime, judges it against the
//! expectations, records the result, and answers libtest. A trial that panics is recorded
//! as a failed case with the panic message, so it is in every report.

use crate::case::Case;
use crate::expectations::{Expectations, Judgement};
use crate::results::{CaseResult, Outcome, StepResult};
use crate::runner::Runner;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// What the trials share and hand back: the results, a progress count, the fail-fast flag.
#[derive(Default)]
pub struct Collected {
    pub results: Mutex<Vec<CaseResult>>,
    pub done: AtomicUsize,
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
    pub handle: tokio::runtime::Handle,
    pub expectations: Option<Arc<Expectations>>,
    pub collected: Arc<Collected>,
    pub fail_fast: bool,
    /// A JSON report lists every request; without one a passed case keeps no headers or
    /// bodies, so the records held until the reports are written stay small.
    pub keep_passed_requests: bool,
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
    Ran(CaseResult, Judgement),
    NotRun,
}

type Slot = oneshot::Receiver<(Delivery, OwnedSemaphorePermit)>;

/// The trials for the cases `selected` keeps, by index into the runner's corpus, and the
/// schedule that runs them. The cases libtest will run (its filters applied, in its order)
/// run as tasks on the runtime, at most `--test-threads` at once, back to back; each trial
/// waits for its case's result. A worker thread then goes from one case's response to the
/// next case's request without waiting for a libtest thread to wake, which is most of a
/// case's cost on a loopback target.
pub fn trials(ctx: &TrialContext, selected: &[usize], args: &Arguments) -> Vec<Trial> {
    let mut senders = Vec::with_capacity(selected.len());
    let trials: Vec<Trial> = selected
        .iter()
        .map(|&i| {
            let (tx, rx) = oneshot::channel();
            senders.push((i, tx));
            let ctx = ctx.clone();
            let name = ctx.runner.corpus.cases[i].trial_name();
            Trial::ignorable_test(name, move || run_trial(&ctx, i, rx))
        })
        .collect();
    if !args.list {
        let queue: Vec<_> = trials
            .iter()
            .zip(senders)
            .filter(|(t, _)| !args.is_filtered_out(t) && !args.is_ignored(t))
            .map(|(_, s)| s)
            .collect();
        let parallel = args
            .test_threads
            .or_else(|| std::thread::available_parallelism().ok().map(Into::into))
            .unwrap_or(1)
            .max(1);
        ctx.handle.spawn(drive(ctx.clone(), queue, parallel));
    }
    trials
}

/// Runs the queued cases in order, `parallel` at a time, and delivers each judged result.
async fn drive(
    ctx: TrialContext,
    queue: Vec<(usize, oneshot::Sender<(Delivery, OwnedSemaphorePermit)>)>,
    parallel: usize,
) {
    let running = Arc::new(Semaphore::new(parallel));
    let window = Arc::new(Semaphore::new(parallel + LOOKAHEAD));
    for (i, tx) in queue {
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
            let result = finish_case(&ctx, i, spawn_case(&ctx, i).await);
            drop(run);
            let judgement = judge(ctx.expectations.as_deref(), &result);
            if judgement.fails_run() && ctx.fail_fast {
                ctx.collected.stop.store(true, Ordering::Relaxed);
            }
            let _ = tx.send((Delivery::Ran(result, judgement), waiting));
        });
    }
}

/// The result of a case task: a panic becomes a failed case naming it.
fn finish_case(
    ctx: &TrialContext,
    i: usize,
    joined: Result<CaseResult, tokio::task::JoinError>,
) -> CaseResult {
    let case = &ctx.runner.corpus.cases[i];
    match joined {
        Ok(r) => r,
        Err(e) if e.is_panic() => panicked(case, e.into_panic()),
        Err(e) => panicked(case, Box::new(e.to_string())),
    }
}

fn run_trial(ctx: &TrialContext, i: usize, slot: Slot) -> Result<Completion, Failed> {
    let (mut result, judgement) = match slot.blocking_recv() {
        Ok((Delivery::Ran(result, judgement), _permit)) => (result, judgement),
        Ok((Delivery::NotRun, _)) => return Ok(not_run()),
        // Not scheduled (libtest ran a trial the schedule did not expect): run it here.
        Err(_) => {
            if ctx.collected.stop.load(Ordering::Relaxed) {
                return Ok(not_run());
            }
            let result = finish_case(ctx, i, ctx.handle.block_on(spawn_case(ctx, i)));
            let judgement = judge(ctx.expectations.as_deref(), &result);
            if judgement.fails_run() && ctx.fail_fast {
                ctx.collected.stop.store(true, Ordering::Relaxed);
            }
            (result, judgement)
        }
    };
    let verdict = answer(&result, &judgement);
    if judgement == Judgement::Pass && !ctx.keep_passed_requests {
        compact_passed(&mut result);
    }
    ctx.collected
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(result);
    ctx.collected.done.fetch_add(1, Ordering::Relaxed);
    verdict
}

fn not_run() -> Completion {
    Completion::ignored_with("not run: --fail-fast after a failure")
}

/// The case as a task on the runtime's workers, where the pooled connections' tasks run.
fn spawn_case(ctx: &TrialContext, i: usize) -> tokio::task::JoinHandle<CaseResult> {
    let runner = ctx.runner.clone();
    ctx.handle
        .spawn(async move { runner.run_case(&runner.corpus.cases[i]).await })
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
        (Judgement::ExpectedFail { .. } | Judgement::Pass, _) => Ok(Completion::Completed),
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
        };
        let r = panicked(&case, Box::new("index out of bounds"));
        assert_eq!(r.outcome, Outcome::Failed);
        assert!(
            crate::report::failure_text(&r)
                .contains("panicked while running this case: index out of bounds")
        );
        assert!(answer(&r, &Judgement::from_outcome(&r.outcome)).is_err());
    }
}
