//! Pages the project has not seen: older revisions and API versions of the operation pages
//! print their examples in other conventions (no annotations, `resource` for
//! `resourceUrl`, the `/app/calls` collection, operations with timestamps, the beta
//! `record` action). The fixture pages in `tests/fixtures/pages/older/` (written for these
//! tests, in the documentation's conventions) are extracted into a fresh project and the
//! cases run against the embedded reference target: all of them pass, with real checks.
//! Addressed through the current collection instead, the target answers in today's shapes
//! and the same cases fail where the older shapes differ.
//!
//! With `CALLCONFORM_DOCS` naming a folder of such pages (a checkout of the documentation
//! repositories, say `microsoft-graph-docs-contrib/api-reference/beta`), the same is done
//! on them; without it that trial is ignored with the reason.

use callconform::corpus::Corpus;
use callconform::extract::{ExtractOptions, ExtractReport, run};
use callconform::family::Family;
use callconform::harness::{self, InProcess};
use callconform::listener::ListenerConfig;
use callconform::reference;
use callconform::report::{CaseResult, Outcome};
use callconform::request::{HttpOptions, Target};
use callconform::runner::RunConfig;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh project root holding the hand-written files extract reads: the errata table
/// and the family files. Removed afterwards unless the test failed.
struct Project(PathBuf);

impl Drop for Project {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn project(tag: &str) -> Project {
    let dir = std::env::temp_dir().join(format!("callconform-unseen-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for f in ["errata.toml", "um/_family.toml", "graph/_family.toml"] {
        let to = dir.join("cases").join(f);
        std::fs::create_dir_all(to.parent().expect("has a parent")).expect("mkdir");
        std::fs::copy(root().join("cases").join(f), &to).expect("copy");
    }
    Project(dir)
}

fn extract(paths: &[PathBuf], out: &Path) -> ExtractReport {
    run(&ExtractOptions {
        paths: paths.to_vec(),
        out: out.to_owned(),
        check: false,
    })
    .unwrap_or_else(|e| panic!("extract: {e}"))
}

/// Runs every case of `out` against a fresh embedded reference target.
fn run_cases(out: &Path) -> Vec<CaseResult> {
    run_cases_against(out, Vec::new())
}

/// Runs every case of `out` against a fresh embedded reference target with `deviations`.
fn run_cases_against(out: &Path, deviations: Vec<reference::Deviation>) -> Vec<CaseResult> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let running = reference::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            reference::Config {
                deviations,
                ..reference::Config::default()
            },
        )
        .await
        .expect("the reference target starts");
        let base = running.base_url();
        let corpus = Corpus::load(&out.join("cases")).unwrap_or_else(|e| panic!("{e:?}"));
        let reasons = corpus.reasons.clone();
        let mut config = RunConfig {
            notification_timeout: Duration::from_millis(2000),
            progress_deadline: Duration::from_secs(3),
            settle: Duration::from_millis(300),
            snapshots: out.join("snapshots"),
            ..RunConfig::default()
        };
        config.targets.insert(
            Family::GRAPH,
            Target {
                base_url: base.clone(),
                headers: vec![("Authorization".into(), "Bearer unseen-pages".into())],
                triggers: Family::GRAPH.protocol().embedded_triggers(&base),
                ..Default::default()
            },
        );
        config.targets.insert(
            Family::UM,
            Target {
                base_url: base.clone(),
                ..Default::default()
            },
        );
        let run = harness::run_in_process(
            Arc::new(corpus),
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
            |_| true,
        )
        .await
        .expect("the run completes");
        running.shutdown();
        run.results
    })
}

fn checks(results: &[CaseResult]) -> usize {
    results
        .iter()
        .flat_map(|r| &r.steps)
        .map(|s| s.checks.len())
        .sum()
}

/// Every case passes, every example became a case, and the cases checked something.
fn assert_all_pass(report: &ExtractReport, results: &[CaseResult]) -> Result<(), Failed> {
    assert_all_pass_but(report, results, 0)
}

/// [`assert_all_pass`] for a run of which `left_out` cases are judged apart.
fn assert_all_pass_but(
    report: &ExtractReport,
    results: &[CaseResult],
    left_out: usize,
) -> Result<(), Failed> {
    if !report.diagnostics.is_empty() {
        return Err(format!("extract left something out:\n{report}").into());
    }
    if results.len() + left_out != report.stats.cases || results.is_empty() {
        return Err(format!(
            "{} cases ran; extract wrote {}",
            results.len() + left_out,
            report.stats.cases
        )
        .into());
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Passed)
        .map(callconform::report::failure_text)
        .collect();
    if !failed.is_empty() {
        return Err(failed.join("\n").into());
    }
    each_judged_more_than_status(results)
}

fn each_judged_more_than_status(results: &[CaseResult]) -> Result<(), Failed> {
    // Each case judged its status and more (bodies, notifications), not a status alone.
    for r in results {
        let n: usize = r.steps.iter().map(|s| s.checks.len()).sum();
        if n < 2 {
            return Err(format!("{} ran {n} check(s)", r.name).into());
        }
    }
    Ok(())
}

fn fixture_pages_pass() -> Result<(), Failed> {
    let out = project("fixtures");
    let pages = root().join("tests/fixtures/pages/older");
    let report = extract(std::slice::from_ref(&pages), &out.0);
    // Every request the pages print is a case (annotated, unannotated, and the one whose
    // body sits in an `ignored` block), each with its response.
    let responses: usize = std::fs::read_dir(&pages)
        .expect("fixtures")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("read"))
        .map(|t| t.lines().filter(|l| l.starts_with("HTTP/1.1 ")).count())
        .sum();
    assert!(responses > 0);
    assert_eq!(report.stats.examples, responses, "{report}");
    let results = run_cases(&out.0);
    assert!(checks(&results) > 0);
    let (roster, others): (Vec<CaseResult>, Vec<CaseResult>) = results
        .iter()
        .cloned()
        .partition(|r| r.name == "graph::fixture-legacy-roster");
    if others.len() + 1 != results.len() || roster.len() != 1 {
        return Err("no roster case ran".into());
    }
    // Every case but the roster passes; the roster is judged on its own below.
    assert_all_pass_but(&report, &others, 1)?;
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    for want in [
        "graph::fixture-legacy-answer",
        "graph::fixture-legacy-prompt",
        "graph::fixture-legacy-record",
        "graph::fixture-legacy-roster",
        "graph::fixture-legacy-tones",
        "graph::fixture-legacy-transfer",
        "graph::post-keep-alive",
    ] {
        if !names.contains(&want) {
            return Err(format!("no case {want}: {names:?}").into());
        }
    }
    roster_fails_on_the_member_the_call_lacks(&roster[0])
}

/// The fixture's roster lists three members of some other call; the call the set-up
/// creates has two (the bot and the callee). Members are matched one to one, so the
/// documented member no actual one stands for fails `snapshot`, named, and nothing else
/// fails: the two that are there have the shape of the members they stand for.
fn roster_fails_on_the_member_the_call_lacks(r: &CaseResult) -> Result<(), Failed> {
    let failing: Vec<_> = r
        .steps
        .iter()
        .flat_map(|s| &s.checks)
        .filter(|c| c.verdict == callconform::compare::Verdict::Fail)
        .collect();
    let [snapshot] = failing.as_slice() else {
        return Err(format!("the roster should fail one check: {failing:?}").into());
    };
    if snapshot.id != callconform::results::CheckId::Snapshot
        || !snapshot
            .detail
            .contains("no member stands for the documented member")
        || !snapshot
            .detail
            .contains("2 member(s) where the example lists 3")
    {
        return Err(format!(
            "the roster's missing member is not named: {}",
            snapshot.detail
        )
        .into());
    }
    Ok(())
}

/// The same cases sent to `/communications/calls`: the target answers in today's shapes
/// (no `resource`, no operation timestamps, subscribeToTone 200 with a body), and the
/// checks that judge the older shapes fail.
fn current_surface_fails_the_older_shapes() -> Result<(), Failed> {
    let out = project("current");
    let pages = root().join("tests/fixtures/pages/older");
    extract(&[pages], &out.0);
    let dir = out.0.join("cases/graph");
    for e in std::fs::read_dir(&dir).expect("cases").flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read");
        std::fs::write(
            &p,
            text.replace("path = \"/app/calls/", "path = \"/communications/calls/"),
        )
        .expect("write");
    }
    let results = run_cases(&out.0);
    let failing = |case: &str| -> Vec<String> {
        results
            .iter()
            .find(|r| r.name == case)
            .map(|r| {
                r.failed_checks()
                    .map(|(s, c)| format!("{} {}", c.name(), s.name))
                    .collect()
            })
            .unwrap_or_default()
    };
    let expect = [
        ("graph::fixture-legacy-answer", "snapshot"),
        ("graph::fixture-legacy-prompt", "snapshot"),
        ("graph::fixture-legacy-tones", "status"),
        // Today's transfer reports call states, not the operation the page shows.
        ("graph::fixture-legacy-transfer", "notification-deadline"),
    ];
    for (case, check) in expect {
        let got = failing(case);
        if !got.iter().any(|c| c.starts_with(check)) {
            return Err(format!("{case}: expected `{check}` to fail, failing: {got:?}").into());
        }
    }
    Ok(())
}

/// The legacy transfer's resultInfo has `code` and the era's `subCode`, no `subcode`:
/// result-info-type judges the code it has, so a code sent as a string still fails it,
/// and a transfer that reports its operation without the `subCode` fails the snapshot.
fn legacy_transfer_result_info_is_judged() -> Result<(), Failed> {
    use callconform::reference::Deviation;
    let out = project("legacy-result-info");
    let pages = root().join("tests/fixtures/pages/older");
    extract(&[pages], &out.0);
    let failing = |results: &[CaseResult]| -> Vec<&'static str> {
        results
            .iter()
            .find(|r| r.name == "graph::fixture-legacy-transfer")
            .map(|r| r.failed_checks().map(|(_, c)| c.name()).collect())
            .unwrap_or_default()
    };
    let strings = run_cases_against(&out.0, vec![Deviation::GraphResultInfoStrings]);
    let got = failing(&strings);
    if !got.contains(&"result-info-type") {
        return Err(
            format!("string codes: expected result-info-type to fail, failing: {got:?}").into(),
        );
    }
    // The transfer's documented operation carries `subCode`; dropping it from the page's
    // expectation (as a target without it would look) must be seen by the snapshot.
    let snaps = out.0.join("snapshots");
    for e in std::fs::read_dir(&snaps).expect("snapshots").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("graph__fixture-legacy-transfer__commsoperation") {
            let text = std::fs::read_to_string(e.path()).expect("read");
            let renamed = text.replace("\"subCode\"", "\"subcode\"");
            assert_ne!(text, renamed, "{name} shows no subCode");
            std::fs::write(e.path(), renamed).expect("write");
        }
    }
    let renamed = run_cases(&out.0);
    let got = failing(&renamed);
    if !got.contains(&"snapshot") {
        return Err(format!("subCode renamed: expected snapshot to fail, failing: {got:?}").into());
    }
    Ok(())
}

/// `CALLCONFORM_DOCS`: pages of another revision or API version, with the resource
/// pages beside them or in `CALLCONFORM_DOCS_RESOURCES`.
fn external_docs(docs: &Path) -> Result<(), Failed> {
    let out = project("external");
    let mut paths = vec![docs.to_path_buf()];
    if let Some(r) = std::env::var_os("CALLCONFORM_DOCS_RESOURCES") {
        paths.push(PathBuf::from(r));
    }
    let report = extract(&paths, &out.0);
    let results = run_cases(&out.0);
    assert_all_pass(&report, &results)
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test("fixture_pages_pass", fixture_pages_pass),
        Trial::test(
            "current_surface_fails_the_older_shapes",
            current_surface_fails_the_older_shapes,
        ),
        Trial::test(
            "legacy_transfer_result_info_is_judged",
            legacy_transfer_result_info_is_judged,
        ),
    ];
    let docs = std::env::var_os("CALLCONFORM_DOCS").map(PathBuf::from);
    trials.push(Trial::ignorable_test(
        "external_docs",
        move || match &docs {
            Some(d) if d.is_dir() => external_docs(d).map(|()| Completion::Completed),
            Some(d) => Err(format!("CALLCONFORM_DOCS={} is not a folder", d.display()).into()),
            None => Ok(Completion::ignored_with(
                "CALLCONFORM_DOCS names no documentation checkout",
            )),
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
