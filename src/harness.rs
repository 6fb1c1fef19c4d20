//! The libtest-mimic harness: one trial per case, one tokio runtime, one pooled client,
//! shared by `callconform run`, `cargo test` (the `conformance` test target) and nextest.

use crate::case::{CaseError, Corpus, Family};
use crate::expectations::Judgement;
use crate::listener::{Listener, ListenerConfig};
use crate::protocol::EndReasons;
use crate::reference;
use crate::report::{CaseResult, Outcome, RunSummary};
use crate::request::{HttpOptions, HttpTransport};
use crate::runner::{RunConfig, Runner, Target};
use crate::snapshot;
use clap::Args;
use libtest_mimic::{Completion, Trial};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

    /// Public base URL targets should POST notifications to (behind a tunnel or proxy)
    /// [default: the listener's own http(s) URL].
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,

    /// Serve the webhook listener over https with this PEM certificate chain (leaf first);
    /// needs --listen-tls-key.
    #[arg(long, value_name = "FILE", requires = "listen_tls_key")]
    pub listen_tls_cert: Option<PathBuf>,

    /// The PEM private key of --listen-tls-cert.
    #[arg(long, value_name = "FILE", requires = "listen_tls_cert")]
    pub listen_tls_key: Option<PathBuf>,

    /// Seconds a case waits for its notifications [default: 5].
    #[arg(long, value_name = "SECS")]
    pub notification_timeout: Option<f64>,

    /// Seconds one request may take, body included [default: 10].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

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

    /// Target profile (TOML): base URLs, auth from the environment, TLS, timeouts, vars.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,

    /// Known failures of this target (TOML); listed failures pass, listed passes fail.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,

    /// Write the current failures as a starting expectations file.
    #[arg(long, value_name = "FILE")]
    pub write_expectations: Option<PathBuf>,

    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write a JSON report (every case, step, request, status, timing, check).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,

    /// Write a Markdown conformance matrix.
    #[arg(long, value_name = "FILE")]
    pub report_md: Option<PathBuf>,

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
    let started_at = std::time::SystemTime::now();
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
    for t in [args.notification_timeout, args.timeout]
        .into_iter()
        .flatten()
    {
        if !(t > 0.0 && t.is_finite()) {
            return usage("timeouts must be positive numbers of seconds");
        }
    }
    let mut warnings: Vec<String> = Vec::new();
    let profile = match &args.profile {
        Some(path) => {
            let p = match crate::profile::load(path) {
                Ok(p) => p,
                Err(e) => return usage(e),
            };
            warnings.extend(p.warnings());
            match p.resolve(|k| std::env::var(k).ok()) {
                Ok(r) => Some(r),
                Err(e) => return usage(e),
            }
        }
        None => None,
    };
    let expectations = match &args.expect {
        Some(path) => match crate::expectations::load(path) {
            Ok(e) => Some(Arc::new(e)),
            Err(e) => return usage(e),
        },
        None => None,
    };
    for w in &warnings {
        eprintln!("warning: {w}");
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
    if let Some(exp) = &expectations
        && !exact_one
    {
        let names: Vec<String> = corpus.cases.iter().map(|c| c.trial_name()).collect();
        for stale in exp.names_not_in(&names) {
            let w = format!("{stale} is listed in the expectations but is no case");
            eprintln!("warning: {w}");
            warnings.push(w);
        }
    }
    let reasons = match EndReasons::load(&cases_dir.join("graph/_end-reasons.toml")) {
        Ok(r) => r,
        Err(e) => return case_errors(&[e]),
    };

    let mut vars = profile.as_ref().map(|p| p.vars.clone()).unwrap_or_default();
    vars.extend(cli_vars);
    let notification_timeout = args
        .notification_timeout
        .map(Duration::from_secs_f64)
        .or(profile.as_ref().and_then(|p| p.notification_timeout))
        .unwrap_or(Duration::from_secs(5));
    let mut config = RunConfig {
        vars,
        snapshots: snapshots_dir,
        update,
        as_printed: args.as_printed,
        strict: args.strict,
        notification_timeout,
        ..RunConfig::default()
    };
    let mut http = HttpOptions {
        max_body: args.max_body,
        ..HttpOptions::default()
    };
    if let Some(p) = &profile {
        http = p.http_options(http);
        config.secrets.extend(p.secrets.iter().cloned());
    }
    if let Some(t) = args.timeout {
        http.timeout = Duration::from_secs_f64(t);
    }

    // Flags override the profile's [listener] certificate and key.
    let listener_tls = match (&args.listen_tls_cert, &args.listen_tls_key) {
        (Some(c), Some(k)) => match crate::listener::ListenerTls::load(c, k) {
            Ok(t) => Some(t),
            Err(e) => return usage(format!("--listen-tls-cert / --listen-tls-key: {e}")),
        },
        _ => profile.as_ref().and_then(|p| p.listener_tls.clone()),
    };

    // Listing needs no target, runtime work or listener.
    let listing = args.libtest.list;
    let embedded = args.um.is_none() && args.graph.is_none() && profile.is_none();
    let mut reference_guard = None;
    let mut listener = None;
    if !listing {
        if embedded {
            let notify_token = random_hex(16);
            let graph_token = random_hex(16);
            let started = runtime.block_on(reference::start(
                SocketAddr::from(([127, 0, 0, 1], 0)),
                reference::Config {
                    notify_token: notify_token.clone(),
                    accept_token: Some(graph_token.clone()),
                    // An https listener's certificate is trusted, as a bot's would be.
                    callback_roots: listener_tls.iter().map(|t| t.cert_pem().to_vec()).collect(),
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
            let (mut um, mut graph) = match &profile {
                Some(p) => (p.um.clone(), p.graph.clone()),
                None => (None, None),
            };
            // Command-line URLs override the profile's, keeping its authentication.
            if let Some(u) = args.um.take() {
                um = Some(Target {
                    base_url: u,
                    headers: um.map(|t| t.headers).unwrap_or_default(),
                });
            }
            if let Some(g) = args.graph.take() {
                let mut headers = graph.map(|t| t.headers).unwrap_or_default();
                if let Ok(t) = std::env::var("CALLCONFORM_GRAPH_TOKEN")
                    && !t.is_empty()
                {
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
                    headers.push(("Authorization".into(), format!("Bearer {t}")));
                    config.secrets.push(t);
                }
                graph = Some(Target {
                    base_url: g,
                    headers,
                });
            }
            match um {
                Some(t) => {
                    config.targets.insert(Family::Um, t);
                }
                None => {
                    config.skipped.insert(
                        Family::Um,
                        "no UM target given (--um URL, CALLCONFORM_UM or a profile)".into(),
                    );
                }
            }
            match graph {
                Some(t) => {
                    if !t
                        .headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                    {
                        eprintln!(
                            "warning: Graph requests carry no Authorization header (set CALLCONFORM_GRAPH_TOKEN or a profile's graph auth)"
                        );
                    }
                    config.targets.insert(Family::Graph, t);
                }
                None => {
                    config.skipped.insert(
                        Family::Graph,
                        "no Graph target given (--graph URL, CALLCONFORM_GRAPH or a profile)"
                            .into(),
                    );
                }
            }
            let env_token = std::env::var("CALLCONFORM_NOTIFY_TOKEN")
                .ok()
                .filter(|t| !t.is_empty());
            if let Some(t) = env_token.or(profile.as_ref().and_then(|p| p.notify_token.clone())) {
                config.secrets.push(t.clone());
                config.expected_notify_token = Some(t);
            }
        }
        let needs_listener = config.targets.contains_key(&Family::Graph)
            && corpus.cases.iter().any(|c| c.family == Family::Graph);
        if needs_listener {
            let lc = ListenerConfig {
                bind: args
                    .listen
                    .or(profile.as_ref().and_then(|p| p.listen))
                    .unwrap_or(ListenerConfig::default().bind),
                public_base: args
                    .callback_url
                    .clone()
                    .or(profile.as_ref().and_then(|p| p.callback_url.clone())),
                tls: listener_tls.clone(),
                redact: config.secrets.clone(),
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

    let transport = match HttpTransport::new(http) {
        Ok(t) => Arc::new(t),
        Err(e) => return usage(e),
    };
    let targets_for_report: BTreeMap<String, String> = config
        .targets
        .iter()
        .map(|(f, t)| (f.to_string(), t.base_url.clone()))
        .collect();
    let runner = Arc::new(Runner {
        corpus: corpus.clone(),
        config,
        transport,
        listener: listener.clone(),
        reasons,
    });
    let results: Arc<Mutex<Vec<CaseResult>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
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
        let done = done.clone();
        let expectations = expectations.clone();
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
            let judgement = match &expectations {
                Some(e) => e.judge(&result),
                None => Judgement::from_outcome(&result.outcome),
            };
            let verdict = match (&judgement, &result.outcome) {
                (_, Outcome::Ignored(why)) => Ok(Completion::ignored_with(why)),
                (Judgement::ExpectedFail { .. } | Judgement::Pass, _) => Ok(Completion::Completed),
                (Judgement::UnexpectedPass { reason, note }, _) => {
                    Err(format!("{}: {note} (listed as failing: {reason})", result.name).into())
                }
                (Judgement::Fail { note }, _) => {
                    let mut text = result.failure_text();
                    if let Some(n) = note {
                        text.push_str(&format!("note: {n}\n"));
                    }
                    Err(text.into())
                }
                (Judgement::Ignored, _) => Ok(Completion::ignored_with("ignored")),
            };
            if verdict.is_err() && fail_fast {
                stop.store(true, Ordering::Relaxed);
            }
            results
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(result);
            done.fetch_add(1, Ordering::Relaxed);
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
    let total = trials.len();
    let progress = (!args.libtest.list && std::io::stderr().is_terminal())
        .then(|| progress_line(done.clone(), total));
    // The exit code comes from the results (expectations, unreachable targets), not libtest.
    let _conclusion = libtest_mimic::run(&args.libtest, trials);
    if let Some((flag, thread)) = progress {
        flag.store(true, Ordering::Relaxed);
        let _ = thread.join();
    }
    if listing {
        return ExitCode::SUCCESS;
    }

    let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let secrets = runner.config.secrets.clone();
    let listener_notes = listener
        .as_ref()
        .map(|l| listener_notes(l, &secrets))
        .unwrap_or_default();
    for n in &listener_notes {
        eprintln!("listener: {n}");
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
    let summary = RunSummary {
        targets: targets_for_report,
        started: Some(crate::report::rfc3339_utc(started_at)),
        duration: started_at.elapsed().unwrap_or_default(),
        listener_notes,
        warnings,
        judgements: results
            .iter()
            .map(|r| {
                let j = match &expectations {
                    Some(e) => e.judge(r),
                    None => Judgement::from_outcome(&r.outcome),
                };
                (r.name.clone(), j)
            })
            .collect(),
        expectations_file: args.expect.as_ref().map(|p| p.display().to_string()),
        secrets,
    };
    for r in &results {
        if let Judgement::ExpectedFail { reason } = summary.judgement(r) {
            eprintln!("expected failure: {} ({reason})", r.name);
        }
    }
    let mut write_failed = false;
    let mut write_report = |path: &Option<PathBuf>, text: String| {
        if let Some(p) = path
            && let Err(e) = crate::report::write_atomic_report(p, &text)
        {
            eprintln!("error: {e}");
            write_failed = true;
        }
    };
    write_report(
        &args.junit,
        crate::report::junit::render(&results, &summary),
    );
    write_report(
        &args.report_json,
        crate::report::json::render(&results, &summary),
    );
    write_report(
        &args.report_md,
        crate::report::markdown::render(&results, &summary),
    );
    write_report(
        &args.write_expectations,
        crate::expectations::write(&results),
    );
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        print!("{}", crate::report::gha::annotations(&results, &summary));
    }
    drop(reference_guard);
    let code = if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Unreachable(_)))
    {
        exit::UNREACHABLE
    } else if write_failed
        || results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Error(_)))
    {
        exit::USAGE
    } else if summary.fails_run(&results) {
        exit::NONCONFORMANT
    } else {
        exit::CONFORMANT
    };
    ExitCode::from(code)
}

/// On a terminal, runs longer than a few seconds get a progress line on stderr.
fn progress_line(
    done: Arc<AtomicUsize>,
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
                let n = done.load(Ordering::Relaxed);
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

/// One line per listener finding, for the terminal and the reports.
fn listener_notes(l: &Listener, secrets: &[String]) -> Vec<String> {
    let s = l.summary();
    let mut out = Vec::new();
    for r in &s.refused {
        if r.status == 0 {
            out.push(format!("refused a connection: {}", r.reason));
            continue;
        }
        out.push(format!(
            "refused a POST to {} with {}: {}",
            crate::report::redact(&r.path, secrets),
            r.status,
            r.reason
        ));
    }
    if s.refused_overflow > 0 {
        out.push(format!(
            "{} more refused POSTs not listed",
            s.refused_overflow
        ));
    }
    for (id, body) in &s.unrouted {
        out.push(format!(
            "a notification for {} that no case waited for: {}",
            id.as_deref()
                .map_or("no call id".into(), |i| format!("call `{i}`")),
            crate::report::redact(body, secrets)
        ));
    }
    if s.budget_overflow > 0 {
        out.push(format!(
            "{} notifications refused with 507: the listener's {} byte budget was spent",
            s.budget_overflow, s.byte_budget
        ));
    }
    let per_call = s.overflow.saturating_sub(s.budget_overflow);
    if per_call > 0 {
        out.push(format!(
            "{per_call} notifications refused with 507: past the per-call cap"
        ));
    }
    if s.unrouted_overflow > 0 {
        out.push(format!(
            "{} more notifications for no waiting case not listed",
            s.unrouted_overflow
        ));
    }
    out
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
        Some(mut lc) => {
            lc.redact.extend(config.secrets.iter().cloned());
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
