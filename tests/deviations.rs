//! Every check must fail on a target that breaks it, and equivalent forms must pass: each
//! deviation of the reference target is paired with the verdict the harness must give.

use callconform::compare::Verdict;
use callconform::family::Family;
use callconform::harness::{self, InProcess};
use callconform::listener::ListenerConfig;
use callconform::reference::{self, Deviation};
use callconform::report::{CaseResult, Outcome};
use callconform::request::{HttpOptions, Target};
use callconform::runner::RunConfig;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// The verdict each deviation demands is declared with it, in src/reference/deviation.rs.
use callconform::reference::Verdict::{Fails, Notes, Pass, Uncovered, Warns};

/// The UM cases of the committed corpus (totals follow the corpus).
fn um_case_names() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/um");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let stem = n.strip_suffix(".toml")?;
                    (!stem.starts_with('_')).then(|| format!("um::{stem}"))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

const NOTIFY_TOKEN: &str = "deviation-test-notify-token";

async fn run_against(deviations: Vec<Deviation>, strict: bool) -> Vec<CaseResult> {
    run_against_with(deviations, strict, "quoted").await
}

/// How one in-process run is judged.
#[derive(Clone, Copy)]
struct Judging<'a> {
    strict: bool,
    exact_values: bool,
    soap_action: &'a str,
    /// Only this family's cases run (a deviation touches one family).
    family: Option<Family>,
    /// Only the case of this name runs (and its set-up).
    only: Option<&'a str>,
}

async fn run_against_with(
    deviations: Vec<Deviation>,
    strict: bool,
    soap_action: &str,
) -> Vec<CaseResult> {
    let judging = Judging {
        strict,
        exact_values: false,
        soap_action,
        family: None,
        only: None,
    };
    run_judged(deviations, judging).await
}

/// A UM-only run with this SOAPAction form.
async fn run_um(deviations: Vec<Deviation>, soap_action: &str) -> Vec<CaseResult> {
    let judging = Judging {
        strict: false,
        exact_values: false,
        soap_action,
        family: Some(Family::UM),
        only: None,
    };
    run_judged(deviations, judging).await
}

async fn run_judged(deviations: Vec<Deviation>, judging: Judging<'_>) -> Vec<CaseResult> {
    let Judging {
        strict,
        exact_values,
        soap_action,
        family,
        only,
    } = judging;
    let running = reference::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        reference::Config {
            deviations,
            notify_token: NOTIFY_TOKEN.into(),
            accept_token: None,
            late_delay: Duration::from_millis(2500),
            ..reference::Config::default()
        },
    )
    .await
    .expect("the reference target starts");
    let base = running.base_url();
    let (corpus, reasons) = harness::load_default_corpus().expect("the committed cases load");
    let mut config = RunConfig {
        strict,
        exact_values,
        notification_timeout: Duration::from_millis(1500),
        // A call that never connects fails at this deadline (the default waits a minute).
        progress_deadline: Duration::from_secs(3),
        // A quiet period that outlasts the late delay past the deadline, so a notification
        // that is late but not lost is received and judged by its arrival time.
        settle: Duration::from_millis(2000),
        expected_notify_token: Some(NOTIFY_TOKEN.into()),
        snapshots: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
        ..RunConfig::default()
    };
    config.targets.insert(
        Family::UM,
        Target {
            base_url: base.clone(),
            options: [("soap_action".to_owned(), soap_action.to_owned())].into(),
            ..Default::default()
        },
    );
    config.targets.insert(
        Family::GRAPH,
        Target {
            base_url: base.clone(),
            headers: vec![("Authorization".into(), "Bearer deviation-test".into())],
            triggers: Family::GRAPH.protocol().embedded_triggers(&base),
            ..Default::default()
        },
    );
    let run = harness::run_in_process(
        corpus,
        reasons,
        InProcess {
            config,
            listener: Some(ListenerConfig::default()),
            http: HttpOptions {
                timeout: Duration::from_secs(5),
                ..HttpOptions::default()
            },
            parallel: 4,
        },
        |c| family.is_none_or(|f| c.family == f) && only.is_none_or(|n| c.trial_name() == n),
    )
    .await
    .expect("the run completes");
    running.shutdown();
    run.results
}

fn failing_checks(r: &CaseResult) -> Vec<&'static str> {
    r.failed_checks().map(|(_, c)| c.name()).collect()
}

fn verdict_problems(d: Deviation, results: &[CaseResult]) -> Vec<String> {
    let mut problems = Vec::new();
    let name = d.name();
    let fam = d.family().to_string();
    let mine: Vec<&CaseResult> = results.iter().filter(|r| r.family == fam).collect();
    if mine.is_empty() {
        return vec![format!("{name}: no {fam} case ran")];
    }
    match d.verdict() {
        Pass | Warns(_) | Notes(_) | Uncovered => {
            if std::env::var_os("CALLCONFORM_DEVIATION_DUMP").is_some() {
                for r in mine.iter().filter(|r| r.outcome != Outcome::Passed) {
                    eprintln!("DUMP {name} {} {:?}", r.name, failing_checks(r));
                }
            }
            for r in &mine {
                if r.outcome != Outcome::Passed {
                    problems.push(format!(
                        "{name}: {} should pass but {:?}:\n{}",
                        r.name,
                        r.outcome,
                        callconform::report::failure_text(r)
                    ));
                }
            }
            if let Warns(check) = d.verdict()
                && !mine.iter().any(|r| r.warnings().any(|c| c.id == check))
            {
                problems.push(format!(
                    "{name}: expected a `{check}` warning, none reported"
                ));
            }
        }
        Fails(checks) => {
            if std::env::var_os("CALLCONFORM_DEVIATION_DUMP").is_some() {
                for r in mine.iter().filter(|r| r.outcome != Outcome::Passed) {
                    eprintln!("DUMP {name} {} {:?}", r.name, failing_checks(r));
                }
            }
            let failed: Vec<&&CaseResult> = mine
                .iter()
                .filter(|r| r.outcome != Outcome::Passed)
                .collect();
            if failed.is_empty() {
                problems.push(format!(
                    "{name}: every {fam} case passed; it must fail {checks:?}"
                ));
            }
            // The first check is the deviation's own; the others are what may follow from
            // it in some cases (a wrong call id, then a 404 on the next step).
            for check in checks.iter().take(1) {
                if !failed
                    .iter()
                    .any(|r| r.failed_checks().any(|(_, c)| c.id == *check))
                {
                    problems.push(format!(
                        "{name}: no case failed check `{check}`; failing: {:?}",
                        failed
                            .iter()
                            .map(|r| (r.name.as_str(), failing_checks(r)))
                            .collect::<Vec<_>>()
                    ));
                }
            }
            for r in &failed {
                if !r.failed_checks().any(|(_, c)| checks.contains(&c.id)) {
                    problems.push(format!(
                        "{name}: {} failed, but none of {checks:?}: {:?}\n{}",
                        r.name,
                        r.outcome,
                        callconform::report::failure_text(r)
                    ));
                }
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_deviation_gets_the_verdict_it_deserves() {
    // A few runs at a time: every run is a whole family against its own target, and on a
    // small machine a hundred at once starve each other into timeouts.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = Vec::new();
    for &d in Deviation::all() {
        let judging = Judging {
            strict: false,
            exact_values: false,
            soap_action: "quoted",
            family: Some(d.family()),
            only: None,
        };
        let slots = slots.clone();
        tasks.push((
            d,
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                run_judged(vec![d], judging).await
            }),
        ));
    }
    let mut problems = Vec::new();
    for (d, task) in tasks {
        let results = task.await.expect("the run task completes");
        problems.extend(verdict_problems(d, &results));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Under `--exact-values` the documented contract's notes fail: another documented end
/// reason and another message text fail the snapshot check again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_values_turn_notes_into_failures() {
    for d in Deviation::all()
        .iter()
        .copied()
        .filter(|d| matches!(d.verdict(), Notes(_)))
    {
        let judging = Judging {
            strict: false,
            exact_values: true,
            soap_action: "quoted",
            family: Some(d.family()),
            only: None,
        };
        let results = run_judged(vec![d], judging).await;
        assert!(
            results.iter().any(|r| r
                .failed_checks()
                .any(|(_, c)| c.id == callconform::results::CheckId::Snapshot)),
            "{d}: nothing failed `snapshot` under --exact-values"
        );
    }
}

/// Every check the harness has is shown to fail by some deviation of the catalogue.
#[test]
fn every_check_is_tripped_by_a_deviation() {
    use callconform::results::CheckId;
    let mut tripped: Vec<CheckId> = Vec::new();
    for d in Deviation::all() {
        match d.verdict() {
            // Only a deviation's own check counts: it is the one shown to fail for sure.
            Fails(checks) => tripped.extend(checks.first().copied()),
            Warns(c) => tripped.push(c),
            Pass | Notes(_) | Uncovered => {}
        }
    }
    let missing: Vec<&str> = CheckId::ALL
        .iter()
        .filter(|c| !tripped.contains(c))
        .map(|c| c.name())
        .collect();
    assert!(
        missing.is_empty(),
        "checks no deviation of the catalogue trips: {missing:?}"
    );
}

/// The edge the table alone cannot tell apart from a lost notification: `terminated` was
/// received (in the quiet period) and still fails the deadline, by its arrival time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_in_the_quiet_period_is_late() {
    let d = Deviation::parse("graph-terminated-past-deadline").expect("listed");
    let results = run_against(vec![d], false).await;
    let r = results
        .iter()
        .find(|r| r.name == "graph::delete-call")
        .expect("ran");
    let step = r
        .steps
        .iter()
        .find(|s| !s.setup && !s.notifications.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "no step received notifications:\n{}",
                callconform::report::failure_text(r)
            )
        });
    let terminated = step
        .notifications
        .iter()
        .find(|n| n.state.as_deref() == Some("terminated"))
        .unwrap_or_else(|| {
            panic!(
                "`terminated` was not received:\n{}",
                callconform::report::failure_text(r)
            )
        });
    assert!(terminated.after_ms > 1500.0, "{}", terminated.after_ms);
    let deadline = step
        .checks
        .iter()
        .find(|c| c.name() == "notification-deadline")
        .expect("the deadline was checked");
    assert_eq!(deadline.verdict, Verdict::Fail, "{}", deadline.detail);
    assert!(
        deadline.detail.contains("late: `terminated`") && !deadline.detail.contains("missing"),
        "{}",
        deadline.detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undocumented_field_fails_under_strict() {
    let d = Deviation::parse("graph-extra-resource-data").expect("listed");
    let results = run_against(vec![d], true).await;
    let r = results
        .iter()
        .find(|r| r.name == "graph::delete-call")
        .expect("ran");
    assert!(
        failing_checks(r).contains(&"undocumented-fields"),
        "{}",
        callconform::report::failure_text(r)
    );
}

/// The notes the embedded run still prints, each a value the documents' example holds
/// that no exchange of the case determines: the display names of people in a meeting, in
/// a set-up call the page did not create, and of an application the page names
/// "Display Name".
const KNOWN_NOTES: [(&str, &str); 3] = [
    (
        "graph::call-changeScreenSharingRole",
        "(the example shows \"Bob\")",
    ),
    (
        "graph::get-participant",
        "(the example shows \"Display Name\")",
    ),
    (
        "graph::join-scheduled-meeting-service-hosted-media",
        "(the example shows \"John\")",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformant_reference_passes_with_no_warnings_and_only_the_known_notes() {
    for strict in [false, true] {
        let results = run_against(vec![], strict).await;
        assert_eq!(results.len(), um_case_names().len() + graph_case_count());
        let mut notes = Vec::new();
        for r in &results {
            assert_eq!(
                r.outcome,
                Outcome::Passed,
                "strict {strict}: {}",
                callconform::report::failure_text(r)
            );
            let warnings: Vec<String> = r.warnings().map(|c| c.detail.clone()).collect();
            assert!(warnings.is_empty(), "{}: {warnings:?}", r.name);
            let ignored: Vec<&String> = r.steps.iter().flat_map(|s| &s.ignored).collect();
            assert!(ignored.is_empty(), "{}: {ignored:?}", r.name);
            notes.extend(r.notes().map(|(_, n)| (r.name.clone(), n.to_owned())));
            // Every case ran real checks, not just a status.
            let checks: usize = r.steps.iter().map(|s| s.checks.len()).sum();
            assert!(checks >= 3, "{}: only {checks} checks ran", r.name);
        }
        for (case, note) in &notes {
            assert!(
                KNOWN_NOTES
                    .iter()
                    .any(|(c, n)| c == case && note.contains(n)),
                "an unexpected note on {case}: {note}"
            );
        }
        assert_eq!(notes.len(), KNOWN_NOTES.len(), "{notes:?}");
    }
}

fn graph_case_count() -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/graph");
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.ends_with(".toml") && !n.starts_with('_')
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asmx_style_target_needs_the_soap_action_header() {
    let d = Deviation::parse("um-require-soap-action").expect("listed");
    let um_cases = |results: &[CaseResult]| -> Vec<(String, Outcome, Vec<&'static str>)> {
        results
            .iter()
            .filter(|r| r.family == "um")
            .map(|r| (r.name.clone(), r.outcome.clone(), failing_checks(r)))
            .collect()
    };
    for form in ["quoted", "unquoted"] {
        let results = run_um(vec![d], form).await;
        for (name, outcome, failing) in um_cases(&results) {
            assert_eq!(outcome, Outcome::Passed, "{form:?}: {name} {failing:?}");
        }
    }
    let results = run_um(vec![d], "none").await;
    let seen = um_cases(&results);
    assert_eq!(seen.len(), um_case_names().len(), "{seen:?}");
    for (name, outcome, failing) in seen {
        assert_eq!(outcome, Outcome::Failed, "{name}");
        assert!(failing.contains(&"status"), "{name}: {failing:?}");
    }
    // Every request named its operation: the set-up's PlayOnPhone and the documented step.
    let results = run_um(vec![d], "quoted").await;
    let r = results
        .iter()
        .find(|r| r.name == "um::get-call-info")
        .expect("ran");
    let actions: Vec<String> = r
        .steps
        .iter()
        .filter_map(|s| s.request.as_ref())
        .flat_map(|q| q.headers.iter())
        .filter(|(k, _)| k == "SOAPAction")
        .map(|(_, v)| v.clone())
        .collect();
    let ns = "http://schemas.microsoft.com/exchange/services/2006/messages";
    assert_eq!(
        actions,
        [
            format!("\"{ns}/PlayOnPhone\""),
            format!("\"{ns}/GetCallInfo\"")
        ]
    );
}

// ---------------------------------------------------------------------------------------
// The command line against a deviating target: what a user types, nothing else.

struct Cli {
    code: Option<i32>,
    out: String,
}

/// Runs `callconform run ARGS` in the source tree with a hard deadline.
fn callconform_run(args: &[&str]) -> Cli {
    let mut child = Command::new(env!("CARGO_BIN_EXE_callconform"))
        .arg("run")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CI", "true")
        .env_remove("CALLCONFORM_UM")
        .env_remove("CALLCONFORM_GRAPH")
        .env_remove("CALLCONFORM_GRAPH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut so = child.stdout.take().expect("piped");
    let mut se = child.stderr.take().expect("piped");
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("callconform run {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = format!(
        "{}\n{}",
        t1.join().expect("stdout"),
        t2.join().expect("stderr")
    );
    Cli { code, out }
}

/// A reference target with these deviations on its own runtime (the CLI runs in a child).
fn serve(deviations: &[&str]) -> (tokio::runtime::Runtime, reference::Running) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let deviations = deviations
        .iter()
        .map(|d| Deviation::parse(d).expect("listed"))
        .collect();
    let running = rt
        .block_on(reference::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            reference::Config {
                deviations,
                ..reference::Config::default()
            },
        ))
        .expect("the reference target starts");
    (rt, running)
}

/// libtest's line for a case says `verdict` (`ok`, `FAILED`); names are padded.
fn says(out: &str, case: &str, verdict: &str) -> bool {
    out.lines().any(|l| {
        l.strip_prefix("test ")
            .and_then(|l| l.strip_prefix(case))
            .is_some_and(|rest| rest.trim_start() == format!("... {verdict}"))
    })
}

/// Every UM case passed, the Graph cases were ignored (no Graph target).
fn assert_um_passed(c: &Cli, what: &str) {
    assert_eq!(c.code, Some(0), "{what}:\n{}", c.out);
    for case in um_case_names() {
        assert!(says(&c.out, &case, "ok"), "{what}: {case}\n{}", c.out);
    }
}

/// A profile file in the temp directory, removed on drop.
struct ScratchProfile(std::path::PathBuf);

impl ScratchProfile {
    fn new(tag: &str, text: &str) -> ScratchProfile {
        let mut rnd = [0u8; 6];
        getrandom::fill(&mut rnd).expect("random");
        let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let p = std::env::temp_dir().join(format!(
            "callconform-deviations-{tag}-{}-{hex}.toml",
            std::process::id()
        ));
        std::fs::write(&p, text).expect("write the profile");
        ScratchProfile(p)
    }
    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for ScratchProfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn the_endpoint_url_alone_reaches_a_2007_style_service() {
    let (_rt, running) = serve(&["um-exchange-2007-path-only"]);
    let base = running.base_url();
    let endpoint_url = format!("{base}/UnifiedMessaging/Service.asmx");
    assert_um_passed(
        &callconform_run(&["--um", &endpoint_url]),
        "--um ENDPOINT_URL",
    );
    assert_um_passed(
        &callconform_run(&[
            "--um",
            &base,
            "--um-endpoint",
            "/UnifiedMessaging/Service.asmx",
        ]),
        "--um BASE --um-endpoint",
    );
    let profile = ScratchProfile::new(
        "endpoint-url",
        &format!("[um]\nbase_url = \"{endpoint_url}\"\n"),
    );
    assert_um_passed(
        &callconform_run(&["--profile", &profile.arg()]),
        "profile base_url = ENDPOINT_URL",
    );

    // A base URL, or an endpoint URL with the wrong path, fails with the hint naming it.
    for (args, tried) in [
        (
            vec!["--um".to_owned(), base.clone()],
            format!("{base}/EWS/UM2007Legacy.asmx"),
        ),
        (
            vec!["--um".to_owned(), format!("{base}/UM/Wrong.asmx")],
            format!("{base}/UM/Wrong.asmx"),
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let c = callconform_run(&args);
        assert_eq!(c.code, Some(1), "{args:?}:\n{}", c.out);
        assert!(
            c.out
                .contains(&format!("hint: nothing answers at {tried}.")),
            "{args:?}:\n{}",
            c.out
        );
        assert!(
            c.out.contains("--um http://host/path/Service.asmx") && c.out.contains("--um-endpoint"),
            "{}",
            c.out
        );
    }
    // Two different endpoints are a usage error naming both.
    let c = callconform_run(&[
        "--um",
        &endpoint_url,
        "--um-endpoint",
        "/EWS/UM2007Legacy.asmx",
    ]);
    assert_eq!(c.code, Some(2), "{}", c.out);
    assert!(c.out.contains("keep one"), "{}", c.out);
    running.shutdown();
}

#[test]
fn a_profile_that_drops_soap_action_fails_against_an_asmx_style_target() {
    let (_rt, running) = serve(&["um-require-soap-action"]);
    let base = running.base_url();
    // The defaults send SOAPAction: no flag needed.
    assert_um_passed(&callconform_run(&["--um", &base]), "defaults");
    for (form, code) in [("quoted", 0), ("unquoted", 0), ("none", 1)] {
        let profile = ScratchProfile::new(
            form,
            &format!("[um]\nbase_url = \"{base}\"\nsoap_action = \"{form}\"\n"),
        );
        let c = callconform_run(&["--profile", &profile.arg()]);
        assert_eq!(c.code, Some(code), "soap_action = {form}:\n{}", c.out);
        if code == 1 {
            for case in um_case_names() {
                assert!(says(&c.out, &case, "FAILED"), "{case}\n{}", c.out);
            }
            assert!(
                c.out
                    .contains("Server did not recognize the value of HTTP Header SOAPAction"),
                "{}",
                c.out
            );
        }
    }
    let profile = ScratchProfile::new(
        "bad",
        &format!("[um]\nbase_url = \"{base}\"\nsoap_action = \"sometimes\"\n"),
    );
    let c = callconform_run(&["--profile", &profile.arg()]);
    assert_eq!(c.code, Some(2), "{}", c.out);
    assert!(
        c.out
            .contains("[um] soap_action = \"sometimes\": expected \"quoted\" (default)"),
        "{}",
        c.out
    );
    running.shutdown();
}

/// A roster (the answer to a GET of `/participants`) is judged member by member, one actual
/// member to one documented member: the example is marked truncated, so a documented
/// member with no counterpart is a note naming that member, more members than it shows
/// are not reported, and a member of another structure fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_is_judged_by_its_members() {
    let judging = Judging {
        strict: false,
        exact_values: false,
        soap_action: "quoted",
        family: Some(Family::GRAPH),
        only: Some("graph::get-participants"),
    };
    let snapshot_of = |results: &[CaseResult]| {
        let r = results
            .iter()
            .find(|r| r.name == "graph::get-participants")
            .expect("get-participants ran")
            .clone();
        let c = r
            .steps
            .iter()
            .filter(|s| !s.setup)
            .flat_map(|s| &s.checks)
            .find(|c| c.id == callconform::results::CheckId::Snapshot)
            .unwrap_or_else(|| {
                panic!(
                    "no snapshot check:\n{}",
                    callconform::report::failure_text(&r)
                )
            })
            .clone();
        (r, c)
    };
    let d = Deviation::parse("graph-roster-fewer-participants").expect("listed");
    let (r, c) = snapshot_of(&run_judged(vec![d], judging).await);
    assert_eq!(
        r.outcome,
        Outcome::Passed,
        "{}",
        callconform::report::failure_text(&r)
    );
    assert_eq!(c.verdict, Verdict::Note, "{c:?}");
    assert!(
        c.notes.iter().any(
            |n| n.contains("/value: no member stands for the documented member 1")
                && n.contains("1 member(s) where the example lists 2")
        ),
        "{:?}",
        c.notes
    );
    let d = Deviation::parse("graph-roster-extra-participant").expect("listed");
    let (r, c) = snapshot_of(&run_judged(vec![d], judging).await);
    assert_eq!(
        r.outcome,
        Outcome::Passed,
        "{}",
        callconform::report::failure_text(&r)
    );
    assert!(
        c.notes.iter().all(|n| !n.contains("member(s)")),
        "{:?}",
        c.notes
    );
    let d = Deviation::parse("graph-roster-malformed-member").expect("listed");
    let (r, c) = snapshot_of(&run_judged(vec![d], judging).await);
    assert_eq!(
        c.verdict,
        Verdict::Fail,
        "{}",
        callconform::report::failure_text(&r)
    );
    assert!(
        c.detail.contains("/value/0/isMuted: expected boolean"),
        "{}",
        c.detail
    );
}

/// The element pages type GetUMProperties' strings (`cases/um/_types.toml`): a mailbox's
/// own dial string, access number and folder pass with a note per element naming the type
/// and the page that gives it, and fail under `--exact-values`; an OofStatus that is no
/// boolean fails, naming the element.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_um_text_holds_another_value_of_its_type_with_a_note_and_nothing_else() {
    let mut judging = Judging {
        strict: false,
        exact_values: false,
        soap_action: "quoted",
        family: Some(Family::UM),
        only: Some("um::get-um-properties"),
    };
    let snapshot_of = |results: &[CaseResult]| {
        let r = results
            .iter()
            .find(|r| r.name == "um::get-um-properties")
            .expect("get-um-properties ran")
            .clone();
        let c = r
            .steps
            .iter()
            .flat_map(|s| &s.checks)
            .find(|c| c.id == callconform::results::CheckId::Snapshot)
            .unwrap_or_else(|| {
                panic!(
                    "no snapshot check:\n{}",
                    callconform::report::failure_text(&r)
                )
            })
            .clone();
        (r, c)
    };
    let own = Deviation::parse("um-mailbox-own-values").expect("listed");
    let (r, c) = snapshot_of(&run_judged(vec![own], judging).await);
    assert_eq!(
        r.outcome,
        Outcome::Passed,
        "{}",
        callconform::report::failure_text(&r)
    );
    assert_eq!(c.verdict, Verdict::Note, "{c:?}");
    let body = "/Envelope/Body/GetUMPropertiesResponse/GetUMPropertiesResponse";
    for (element, value, page) in [
        (
            "PlayOnPhoneDialString",
            "+14255550100",
            "playonphonedialstring-um-web-service.md:32",
        ),
        (
            "TelephoneAccessNumbers",
            "+14255550199",
            "telephoneaccessnumbers-um-web-service.md:32",
        ),
        (
            "TelephoneAccessFolderEmail",
            "AAAAAB7tQ4ZkjE1Lk2vO3mH0zJIBAEX2ikn/L8JJtI5WHI0FAW8AAAFXHhwAAA==",
            "telephoneaccessfolderemail-um-web-service.md:32",
        ),
    ] {
        let want = format!(
            "{body}/{element}: \"{value}\" is another `xs:string` value (typed at um/elements/{page})"
        );
        assert!(
            c.notes.iter().any(|n| n.starts_with(&want)),
            "{want}\n{:?}",
            c.notes
        );
    }
    assert_eq!(c.notes.len(), 3, "{:?}", c.notes);
    judging.exact_values = true;
    let (r, c) = snapshot_of(&run_judged(vec![own], judging).await);
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
    judging.exact_values = false;
    let not_boolean = Deviation::parse("um-non-boolean-oof-status").expect("listed");
    let (r, c) = snapshot_of(&run_judged(vec![not_boolean], judging).await);
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
    assert!(
        c.detail
            .contains(&format!("{body}/OofStatus: \"Off\" is not")),
        "{}",
        c.detail
    );
}
