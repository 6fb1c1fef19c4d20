//! The libtest-mimic harness: one trial per case, one tokio runtime, one pooled client,
//! shared by `callconform run`, `cargo test` (the `conformance` test target) and nextest.

use crate::case::{CaseError, Corpus, Family};
use crate::listener::{Listener, ListenerConfig};
use crate::protocol::EndReasons;
use crate::reference;
use crate::report::{CaseResult, Outcome};
use crate::request::{HttpOptions, HttpTransport};
use crate::runner::{RunConfig, Runner, Target};
use crate::snapshot;
use clap::Args;
use libtest_mimic::{Completion, Trial};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Exit codes, distinct so CI can tell a broken target from a broken case file.
pub mod exit {
    pub const CONFORMANT: u8 = 0;
    pub const NONCONFORMANT: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNREACHABLE: u8 = 3;
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Base URL of the UM implementation under test (e.g. https://mail.contoso.com).
    #[arg(long, env = "CALLCONFORM_UM", value_name = "URL")]
    pub um: Option<String>,

    /// Base URL of the Graph implementation, with its version prefix (e.g. http://host/v1.0).
    #[arg(long, env = "CALLCONFORM_GRAPH", value_name = "URL")]
    pub graph: Option<String>,

    /// Set a case variable (repeatable): --var entry_id=AAAA...
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Directory of case files [default: ./cases, else the source tree's].
    #[arg(long, value_name = "DIR")]
    pub cases: Option<PathBuf>,

    /// Directory of snapshots [default: ./snapshots, else the source tree's].
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,

    /// Rewrite snapshots from the target's answers (refused when CI is set).
    #[arg(long)]
    pub bless: bool,

    /// Send and expect the documents exactly as printed, without the errata corrections.
    #[arg(long)]
    pub as_printed: bool,

    /// Fail on undocumented extra fields in notifications, not only report them.
    #[arg(long)]
    pub strict: bool,

    /// Address of the webhook listener [default: 127.0.0.1:0].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Public base URL targets should POST notifications to (behind a tunnel or proxy).
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,

    /// Seconds a case waits for its notifications.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub notification_timeout: f64,

    /// Seconds one request may take, body included.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,

    /// Largest response body read, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body: usize,

    /// Stop running cases after the first failure.
    #[arg(long)]
    pub fail_fast: bool,

    /// Only run cases of this family (repeatable): um, graph.
    #[arg(long = "family", value_name = "NAME")]
    pub families: Vec<String>,

    /// Only run cases with this tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    #[command(flatten)]
    pub libtest: libtest_mimic::Arguments,
}

/// The project directory a relative default is looked up in: the working directory when it
/// has one, else the source tree the binary was built from.
fn default_dir(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn parse_vars(vars: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for v in vars {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| format!("--var `{v}`: expected NAME=VALUE"))?;
        if !crate::case::valid_var_name(k) {
            return Err(format!("--var `{v}`: `{k}` is not a variable name"));
        }
        out.insert(k.to_owned(), val.to_owned());
    }
    Ok(out)
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(exit::USAGE)
}

fn case_errors(errs: &[CaseError]) -> ExitCode {
    for e in errs {
        eprintln!("error: {e}");
    }
    eprintln!("{} case file error(s); nothing was run", errs.len());
    ExitCode::from(exit::USAGE)
}

/// Runs the conformance suite. Returns the process exit code.
pub fn run(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot start the async runtime: {e}")),
    };
    run_on(&runtime, args)
}

pub fn run_on(runtime: &tokio::runtime::Runtime, mut args: RunArgs) -> ExitCode {
    let update = match snapshot::update_mode(args.bless) {
        Ok(u) => u,
        Err(e) => return usage(e),
    };
    let cli_vars = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    let cases_dir = args.cases.clone().unwrap_or_else(|| default_dir("cases"));
    let snapshots_dir = args
        .snapshots
        .clone()
        .unwrap_or_else(|| default_dir("snapshots"));
    for f in &args.families {
        if Family::parse(f).is_none() {
            return usage(format!("--family `{f}`: expected um or graph"));
        }
    }
    if !(args.notification_timeout > 0.0 && args.timeout > 0.0) {
        return usage("timeouts must be positive numbers of seconds");
    }

    // nextest runs one process per trial with `--exact NAME`: parse only that case.
    let exact_one = args.libtest.exact && args.libtest.skip.is_empty() && !args.libtest.list;
    let corpus = match args.libtest.filter.as_deref() {
        Some(name) if exact_one => match Corpus::load_one(&cases_dir, name) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Corpus::load(&cases_dir),
            Err(e) => Err(e),
        },
        _ => Corpus::load(&cases_dir),
    };
    let corpus = match corpus {
        Ok(c) => Arc::new(c),
        Err(errs) => return case_errors(&errs),
    };
    if corpus.cases.is_empty() {
        return usage(format!(
            "no case files under {} (a typo in --cases?)",
            cases_dir.display()
        ));
    }
    let reasons = match EndReasons::load(&cases_dir.join("graph/_end-reasons.toml")) {
        Ok(r) => r,
        Err(e) => return case_errors(&[e]),
    };

    let mut config = RunConfig {
        vars: cli_vars,
        snapshots: snapshots_dir,
        update,
        as_printed: args.as_printed,
        strict: args.strict,
        notification_timeout: Duration::from_secs_f64(args.notification_timeout),
        ..RunConfig::default()
    };

    // Listing needs no target, runtime work or listener.
    let listing = args.libtest.list;
    let embedded = args.um.is_none() && args.graph.is_none();
    let mut reference_guard = None;
    let mut listener = None;
    if !listing {
        let graph_token = std::env::var("CALLCONFORM_GRAPH_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        if embedded {
            let notify_token = random_hex(16);
            let graph_token = random_hex(16);
            let started = runtime.block_on(reference::start(
                SocketAddr::from(([127, 0, 0, 1], 0)),
                reference::Config {
                    notify_token: notify_token.clone(),
                    accept_token: Some(graph_token.clone()),
                    ..reference::Config::default()
                },
            ));
            let running = match started {
                Ok(r) => r,
                Err(e) => return usage(format!("cannot start the embedded reference target: {e}")),
            };
            let base = running.base_url();
            config.targets.insert(
                Family::Um,
                Target {
                    base_url: base.clone(),
                    headers: vec![],
                },
            );
            config.targets.insert(
                Family::Graph,
                Target {
                    base_url: base,
                    headers: vec![("Authorization".into(), format!("Bearer {graph_token}"))],
                },
            );
            config.expected_notify_token = Some(notify_token.clone());
            config.secrets.extend([notify_token, graph_token]);
            reference_guard = Some(running);
        } else {
            match args.um.take() {
                Some(u) => {
                    config.targets.insert(
                        Family::Um,
                        Target {
                            base_url: u,
                            headers: vec![],
                        },
                    );
                }
                None => {
                    config.skipped.insert(
                        Family::Um,
                        "no UM target given (--um URL or CALLCONFORM_UM)".into(),
                    );
                }
            }
            match args.graph.take() {
                Some(g) => {
                    let mut headers = vec![];
                    if let Some(t) = &graph_token {
                        headers.push(("Authorization".into(), format!("Bearer {t}")));
                        config.secrets.push(t.clone());
                    }
                    config.targets.insert(
                        Family::Graph,
                        Target {
                            base_url: g,
                            headers,
                        },
                    );
                }
                None => {
                    config.skipped.insert(
                        Family::Graph,
                        "no Graph target given (--graph URL or CALLCONFORM_GRAPH)".into(),
                    );
                }
            }
            if let Ok(t) = std::env::var("CALLCONFORM_NOTIFY_TOKEN")
                && !t.is_empty()
            {
                config.secrets.push(t.clone());
                config.expected_notify_token = Some(t);
            }
        }
        let needs_listener = config.targets.contains_key(&Family::Graph)
            && corpus.cases.iter().any(|c| c.family == Family::Graph);
        if needs_listener {
            let lc = ListenerConfig {
                bind: args.listen.unwrap_or(ListenerConfig::default().bind),
                public_base: args.callback_url.clone(),
                ..ListenerConfig::default()
            };
            if !lc.bind.ip().is_loopback() {
                eprintln!(
                    "note: the webhook listener binds {} (not loopback), as asked",
                    lc.bind
                );
            }
            match runtime.block_on(Listener::start(lc)) {
                Ok(l) => {
                    config.secrets.push(l.token().to_owned());
                    listener = Some(Arc::new(l));
                }
                Err(e) => return usage(format!("cannot start the webhook listener: {e}")),
            }
        }
    }

    let transport = match HttpTransport::new(HttpOptions {
        timeout: Duration::from_secs_f64(args.timeout),
        max_body: args.max_body,
        ..HttpOptions::default()
    }) {
        Ok(t) => Arc::new(t),
        Err(e) => return usage(e),
    };

    let runner = Arc::new(Runner {
        corpus: corpus.clone(),
        config,
        transport,
        listener: listener.clone(),
        reasons,
    });
    let results: Arc<Mutex<Vec<CaseResult>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let families: Vec<Family> = args
        .families
        .iter()
        .filter_map(|f| Family::parse(f))
        .collect();

    let mut trials = Vec::new();
    for (i, case) in corpus.cases.iter().enumerate() {
        if !families.is_empty() && !families.contains(&case.family) {
            continue;
        }
        if !args.tags.is_empty() && !case.file.tags.iter().any(|t| args.tags.contains(t)) {
            continue;
        }
        let runner = runner.clone();
        let results = results.clone();
        let stop = stop.clone();
        let handle = runtime.handle().clone();
        let fail_fast = args.fail_fast;
        trials.push(Trial::ignorable_test(case.trial_name(), move || {
            if stop.load(Ordering::Relaxed) {
                return Ok(Completion::ignored_with(
                    "not run: --fail-fast after a failure",
                ));
            }
            let case = &runner.corpus.cases[i];
            let result = handle.block_on(runner.run_case(case));
            let verdict = match &result.outcome {
                Outcome::Passed => Ok(Completion::Completed),
                Outcome::Ignored(why) => Ok(Completion::ignored_with(why)),
                _ => Err(result.failure_text().into()),
            };
            if verdict.is_err() && fail_fast {
                stop.store(true, Ordering::Relaxed);
            }
            results
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(result);
            verdict
        }));
    }
    if trials.is_empty() {
        return usage("the --family/--tag filters select no case");
    }
    if args.libtest.test_threads.is_none() && !args.libtest.list {
        // Cases wait on the network, not the CPU: overlap them.
        args.libtest.test_threads = Some(8);
    }
    let conclusion = libtest_mimic::run(&args.libtest, trials);
    if listing {
        return ExitCode::SUCCESS;
    }

    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(l) = &listener {
        report_listener(l, &runner.config.secrets);
    }
    for r in &results {
        for w in r.warnings() {
            eprintln!(
                "note: {}: {} on {}: {}",
                r.name, w.name, w.subject, w.detail
            );
        }
        for s in &r.steps {
            for w in &s.written {
                eprintln!("{}: snapshot {w}", r.name);
            }
        }
    }
    drop(reference_guard);
    let code = if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Unreachable(_)))
    {
        exit::UNREACHABLE
    } else if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Error(_)))
    {
        exit::USAGE
    } else if conclusion.has_failed() {
        exit::NONCONFORMANT
    } else {
        exit::CONFORMANT
    };
    ExitCode::from(code)
}

fn report_listener(l: &Listener, secrets: &[String]) {
    let s = l.summary();
    for r in &s.refused {
        eprintln!(
            "listener: refused a POST to {} with {}: {}",
            crate::report::redact(&r.path, secrets),
            r.status,
            r.reason
        );
    }
    if s.refused_overflow > 0 {
        eprintln!(
            "listener: {} more refused POSTs not listed",
            s.refused_overflow
        );
    }
    for (id, body) in &s.unrouted {
        eprintln!(
            "listener: notification for {} that no case waited for: {}",
            id.as_deref()
                .map_or("no call id".into(), |i| format!("call `{i}`")),
            crate::report::redact(body, secrets)
        );
    }
    if s.unrouted_overflow > 0 || s.overflow > 0 {
        eprintln!(
            "listener: {} notifications dropped past the caps",
            s.unrouted_overflow + s.overflow
        );
    }
}

/// What an in-process run needs besides the corpus: used by the deviation and hostile-target
/// tests and by the benchmark, which drive the same runner without libtest.
pub struct InProcess {
    pub config: RunConfig,
    pub listener: Option<ListenerConfig>,
    pub http: HttpOptions,
    /// How many cases run at once.
    pub parallel: usize,
}

/// The results of an in-process run, with what the listener saw.
pub struct InProcessRun {
    pub results: Vec<CaseResult>,
    pub listener: Option<crate::listener::ListenerSummary>,
}

/// Loads the committed corpus (for tests and benchmarks).
pub fn load_default_corpus() -> Result<(Arc<Corpus>, EndReasons), String> {
    let dir = default_dir("cases");
    let corpus = Corpus::load(&dir).map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let reasons =
        EndReasons::load(&dir.join("graph/_end-reasons.toml")).map_err(|e| e.to_string())?;
    Ok((Arc::new(corpus), reasons))
}

/// Runs every case of the corpus (or those `select` keeps) on the current runtime.
pub async fn run_in_process(
    corpus: Arc<Corpus>,
    reasons: EndReasons,
    opts: InProcess,
    select: impl Fn(&crate::case::Case) -> bool,
) -> Result<InProcessRun, String> {
    let mut config = opts.config;
    let listener = match opts.listener {
        Some(lc) => {
            let l = Listener::start(lc)
                .await
                .map_err(|e| format!("cannot start the webhook listener: {e}"))?;
            config.secrets.push(l.token().to_owned());
            Some(Arc::new(l))
        }
        None => None,
    };
    let transport = Arc::new(HttpTransport::new(opts.http)?);
    let runner = Arc::new(Runner {
        corpus: corpus.clone(),
        config,
        transport,
        listener: listener.clone(),
        reasons,
    });
    let picked: Vec<usize> = (0..corpus.cases.len())
        .filter(|&i| select(&corpus.cases[i]))
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.parallel.max(1)));
    let mut tasks = Vec::with_capacity(picked.len());
    for i in picked {
        let runner = runner.clone();
        let permits = permits.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.ok();
            runner.run_case(&runner.corpus.cases[i]).await
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.map_err(|e| format!("a case task failed: {e}"))?);
    }
    Ok(InProcessRun {
        results,
        listener: listener.map(|l| l.summary()),
    })
}
