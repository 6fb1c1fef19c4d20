//! The libtest-mimic harness: one trial per case, a few tokio runtimes (one per core), each
//! with its own pooled client, shared by `callconform run`, `cargo test` (the `conformance`
//! test target) and nextest.
//!
//! A run is four stages, each in its own module: [`plan`] resolves flags, environment and
//! profile; [`session`] starts the targets and the listener; [`trials`] runs the cases as
//! libtest trials; [`finish`] writes the reports and computes the exit code.

pub mod args;
pub mod finish;
pub mod in_process;
pub mod plan;
pub mod session;
pub mod trials;

pub use args::RunArgs;
pub use finish::exit;
pub use in_process::{InProcess, InProcessRun, load_default_corpus, run_in_process};

use crate::corpus::Corpus;
use crate::corpus::Scope;
use crate::diag::CaseError;
use crate::protocol::EndReasons;
use crate::request::{HttpTransport, Transport};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn usage(msg: impl std::fmt::Display) -> u8 {
    eprintln!("error: {msg}");
    exit::USAGE
}

fn case_errors(errs: &[CaseError]) -> u8 {
    for e in errs {
        eprintln!("error: {e}");
    }
    eprintln!("{} case file error(s); nothing was run", errs.len());
    exit::USAGE
}

/// Runs the conformance suite. Returns the process exit code.
pub fn run(args: RunArgs) -> ExitCode {
    ExitCode::from(run_code(args))
}

/// The runtime for what runs on libtest's thread: a trial the schedule did not run runs its
/// case on it. The schedule's own runtimes are on threads of their own (see [`trials`]),
/// and so are the embedded target's and the listener's (see [`session`]).
fn runtime() -> std::io::Result<Arc<tokio::runtime::Runtime>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(Arc::new)
}

/// The corpus a run needs, indexed: its cases are read as their trials run, so memory
/// does not grow with the corpus. Under nextest's `--exact NAME`, only that case is indexed.
fn load(plan: &plan::Plan, args: &RunArgs) -> Result<(Arc<Corpus>, EndReasons), Vec<CaseError>> {
    let exact_one = args.libtest.exact && args.libtest.skip.is_empty() && !args.libtest.list;
    let scope = match args.libtest.filter.as_deref() {
        Some(name) if exact_one => Scope::One(name),
        _ => Scope::All,
    };
    let corpus = Corpus::index_scope(&plan.cases_dir, scope)?;
    if corpus.index.is_empty() && scope == Scope::All {
        return Err(vec![CaseError {
            path: plan.cases_dir.clone(),
            message: "no case files here (a typo in --cases?)".into(),
        }]);
    }
    let reasons = corpus.reasons.clone();
    Ok((Arc::new(corpus), reasons))
}

/// The indices of the cases `--family` and `--tag` keep. Tags are in the case files, so
/// `--tag` reads them; a file that cannot be read stays selected, so its trial reports it.
fn select(plan: &plan::Plan, corpus: &Corpus) -> Vec<usize> {
    (0..corpus.index.len())
        .filter(|&i| {
            let r = &corpus.index[i];
            (plan.families.is_empty() || plan.families.contains(&r.family))
                && (plan.tags.is_empty()
                    || corpus
                        .case(i)
                        .map_or(true, |c| c.file.tags.iter().any(|t| plan.tags.contains(t))))
        })
        .collect()
}

/// What the user selected, for the message when it matches nothing.
fn selection(args: &RunArgs) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &args.libtest.filter {
        parts.push(if args.libtest.exact {
            format!("--exact `{f}`")
        } else {
            format!("filter `{f}`")
        });
    }
    parts.extend(args.libtest.skip.iter().map(|s| format!("--skip `{s}`")));
    parts.extend(args.families.iter().map(|f| format!("--family {f}")));
    parts.extend(args.tags.iter().map(|t| format!("--tag {t}")));
    if parts.is_empty() {
        "the selection".to_owned()
    } else {
        parts.join(" ")
    }
}

/// [`run`] with the exit code as a number (one of [`exit`]), for tests and embedders.
pub fn run_code(mut args: RunArgs) -> u8 {
    let started_at = std::time::SystemTime::now();
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot start the async runtime: {e}")),
    };
    let plan = match plan::resolve(&args, &|k| std::env::var(k).ok()) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let (corpus, reasons) = match load(&plan, &args) {
        Ok(c) => c,
        Err(errs) => return case_errors(&errs),
    };
    let listing = args.libtest.list;
    let stale = stale_notes(&plan, &corpus);
    let selected = select(&plan, &corpus);
    if selected.is_empty() {
        return usage(format!("{} matches no case", selection(&args)));
    }
    if !listing {
        eprintln!("{}", plan.targets.banner());
    }
    let session = match session::start(&plan, corpus, reasons, listing) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let http = session.http.clone();
    let transport: trials::NewTransport = Arc::new(move || {
        HttpTransport::new(http.clone()).map(|t| Arc::new(t) as Arc<dyn Transport>)
    });
    let ctx = trials::TrialContext {
        runner: session.runner.clone(),
        runtime: runtime.clone(),
        transport: Some(transport),
        expectations: plan.expectations.clone(),
        collected: Arc::new(trials::Collected::default()),
        fail_fast: args.fail_fast,
        keep_passed_requests: args.report_json.is_some(),
        keep_passed: args.report_json.is_some()
            || args.junit.is_some()
            || args.report_md.is_some()
            || args.write_expectations.is_some()
            || plan.expectations.is_some()
            || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
    };
    let parallel = trials::take_parallelism(&mut args.libtest);
    let (trials, schedule) = trials::trials(&ctx, &selected, &args.libtest, parallel);
    let progress = (!listing && std::io::stderr().is_terminal())
        .then(|| progress_line(ctx.collected.clone(), trials.len()));
    let conclusion = libtest_mimic::run(&args.libtest, trials);
    drop(schedule);
    if let Some((flag, thread)) = progress {
        flag.store(true, Ordering::Relaxed);
        let _ = thread.join();
    }
    if listing {
        return exit::CONFORMANT;
    }
    let ran = conclusion.num_passed + conclusion.num_failed + conclusion.num_ignored;
    if ran == 0 {
        return usage(format!(
            "{} matches no case ({} filtered out); nothing was checked",
            selection(&args),
            conclusion.num_filtered_out
        ));
    }
    let results = ctx.collected.take();
    let secrets = session.runner.config.secrets.clone();
    let notes = session
        .listener
        .as_ref()
        .map(|l| finish::listener_notes(l, &secrets))
        .unwrap_or_default();
    for n in &notes {
        eprintln!("listener: {n}");
    }
    let mut summary = finish::summary(
        &plan,
        &results,
        started_at,
        notes,
        secrets,
        args.expect.as_ref().map(|p| p.display().to_string()),
    );
    summary.warnings.extend(stale);
    let paths = finish::ReportPaths {
        junit: args.junit.clone(),
        json: args.report_json.clone(),
        markdown: args.report_md.clone(),
        expectations: args.write_expectations.clone(),
    };
    let reports_ok = finish::write_reports(&paths, &results, &summary);
    drop(session);
    // Cases were selected, but every one was ignored: nothing was checked, so not green.
    if conclusion.num_passed + conclusion.num_failed == 0 {
        eprintln!(
            "{}",
            finish::nothing_checked(conclusion.num_ignored, &results, &summary)
        );
        return exit::USAGE;
    }
    finish::exit_code(&results, &summary, conclusion.has_failed(), reports_ok)
}

/// What is stale before the run, printed now and kept for the reports' warnings:
/// temporary snapshots a killed `--bless` left (removed, unless CI writes nothing), and
/// expectations naming no case (only judged on a whole-corpus run).
fn stale_notes(plan: &plan::Plan, corpus: &Corpus) -> Vec<String> {
    let mut stale = Vec::new();
    if plan.update != crate::snapshot::Update::Never {
        for note in crate::snapshot::remove_stale_temps(&plan.snapshots_dir) {
            eprintln!("note: {note}");
            stale.push(note);
        }
    }
    if let Some(exp) = &plan.expectations
        && corpus.index.len() > 1
    {
        let names: Vec<String> = corpus.index.iter().map(|c| c.trial_name()).collect();
        for name in exp.names_not_in(&names) {
            let w = format!("{name} is listed in the expectations but is no case");
            eprintln!("warning: {w}");
            stale.push(w);
        }
    }
    stale
}

/// On a terminal, runs longer than a few seconds get a progress line on stderr.
fn progress_line(
    collected: Arc<trials::Collected>,
    total: usize,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    let thread = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let mut shown = false;
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if start.elapsed() >= Duration::from_secs(3) {
                let n = collected.done.load(Ordering::Relaxed);
                eprint!(
                    "\r[{n}/{total}] cases done, {:.0} s",
                    start.elapsed().as_secs_f64()
                );
                shown = true;
            }
        }
        if shown {
            eprintln!();
        }
    });
    (finished, thread)
}
