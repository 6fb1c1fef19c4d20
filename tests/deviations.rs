//! Every check must fail on a target that breaks it, and equivalent forms must pass: each
//! deviation of the reference target is paired with the verdict the harness must give.

use callconform::case::Family;
use callconform::compare::Verdict;
use callconform::harness::{self, InProcess};
use callconform::listener::ListenerConfig;
use callconform::reference::{self, Deviation};
use callconform::report::{CaseResult, Outcome};
use callconform::request::HttpOptions;
use callconform::runner::{RunConfig, Target};
use std::net::SocketAddr;
use std::time::Duration;

/// What the harness must say about a target with this deviation.
enum Want {
    /// Every case of the family passes.
    Pass,
    /// Every case of the family passes, and this check is reported as a warning.
    PassWarning(&'static str),
    /// These cases fail, each with this check among the failing ones.
    Fail(&'static [&'static str], &'static str),
    /// No committed case exercises the behaviour yet (issue 12 adds them): the family's
    /// cases must still pass, so the deviation touches nothing else. tests/reference_target.rs
    /// shows it changes the target's behaviour; once a case covers it, that case fails here
    /// and the entry must become a `Fail`.
    Uncovered,
}

use Want::*;

const UM_BOTH: &[&str] = &["um::disconnect", "um::get-call-info"];
const UM_INFO: &[&str] = &["um::get-call-info"];
const GRAPH: &[&str] = &["graph::delete-call"];

const TABLE: &[(&str, Want)] = &[
    // UM, equivalent forms
    ("um-other-prefixes", Pass),
    ("um-compact-whitespace", Pass),
    ("um-attributes-reordered", Pass),
    ("um-no-xsi-xsd", Pass),
    ("um-other-xml-declaration", Pass),
    // UM, real deviations
    ("um-https-namespace", Fail(UM_BOTH, "snapshot")),
    ("um-missing-event-cause", Fail(UM_INFO, "snapshot")),
    ("um-wrong-call-state", Fail(UM_INFO, "snapshot")),
    ("um-children-swapped", Fail(UM_INFO, "snapshot")),
    ("um-extra-element", Fail(UM_INFO, "snapshot")),
    ("um-fault-instead", Fail(UM_BOTH, "status")),
    ("um-fault-with-200", Fail(UM_BOTH, "snapshot")),
    ("um-success-with-500", Fail(UM_BOTH, "status")),
    ("um-wrong-content-type", Fail(UM_BOTH, "content-type")),
    // Graph, real deviations
    ("graph-200-instead-of-204", Fail(GRAPH, "status")),
    ("graph-no-terminating", Fail(GRAPH, "notification-deadline")),
    (
        "graph-swapped-notifications",
        Fail(GRAPH, "notification-order"),
    ),
    ("graph-terminated-twice", Fail(GRAPH, "nothing-after-last")),
    (
        "graph-wrong-resource-url",
        Fail(GRAPH, "resource-url-names-call"),
    ),
    ("graph-wrong-message", Fail(GRAPH, "snapshot")),
    (
        "graph-undocumented-result-info",
        Fail(GRAPH, "result-info-documented"),
    ),
    ("graph-result-info-strings", Fail(GRAPH, "result-info-type")),
    (
        "graph-no-authorization",
        Fail(GRAPH, "notification-authorization"),
    ),
    (
        "graph-late-notifications",
        Fail(GRAPH, "notification-deadline"),
    ),
    // Graph, equivalent forms
    ("graph-established-first", Pass),
    ("graph-keys-reordered", Pass),
    (
        "graph-extra-resource-data",
        PassWarning("undocumented-fields"),
    ),
    // Graph operations beyond create/delete (no committed case yet)
    ("graph-operation-wrong-status", Uncovered),
    ("graph-operation-no-location", Uncovered),
    ("graph-operation-result-info-undocumented", Uncovered),
    ("graph-no-roster-update", Uncovered),
    ("graph-transfer-mixed-outcomes", Uncovered),
    ("graph-incoming-wrong-state", Uncovered),
    ("graph-undocumented-call-state", Uncovered),
    ("graph-other-callback", Uncovered),
    ("graph-other-call-resource-url", Uncovered),
];

const NOTIFY_TOKEN: &str = "deviation-test-notify-token";

async fn run_against(deviations: Vec<Deviation>, strict: bool) -> Vec<CaseResult> {
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
        notification_timeout: Duration::from_millis(1500),
        expected_notify_token: Some(NOTIFY_TOKEN.into()),
        snapshots: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
        ..RunConfig::default()
    };
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
            headers: vec![("Authorization".into(), "Bearer deviation-test".into())],
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
        |_| true,
    )
    .await
    .expect("the run completes");
    running.shutdown();
    run.results
}

fn family_of(deviation: &str) -> &'static str {
    if deviation.starts_with("um-") {
        "um"
    } else {
        "graph"
    }
}

fn failing_checks(r: &CaseResult) -> Vec<&'static str> {
    r.failed_checks().map(|(_, c)| c.name).collect()
}

fn verdict_problems(name: &str, want: &Want, results: &[CaseResult]) -> Vec<String> {
    let mut problems = Vec::new();
    let fam = family_of(name);
    match want {
        Pass | PassWarning(_) | Uncovered => {
            for r in results.iter().filter(|r| r.family == fam) {
                if r.outcome != Outcome::Passed {
                    problems.push(format!(
                        "{name}: {} should pass but {:?}:\n{}",
                        r.name,
                        r.outcome,
                        r.failure_text()
                    ));
                }
            }
            if let PassWarning(check) = want {
                let warned = results
                    .iter()
                    .filter(|r| r.family == fam)
                    .any(|r| r.warnings().any(|c| c.name == *check));
                if !warned {
                    problems.push(format!(
                        "{name}: expected a `{check}` warning, none reported"
                    ));
                }
            }
        }
        Fail(cases, check) => {
            for case in *cases {
                let Some(r) = results.iter().find(|r| r.name == *case) else {
                    problems.push(format!("{name}: {case} did not run"));
                    continue;
                };
                let failing = failing_checks(r);
                if r.outcome == Outcome::Passed || !failing.contains(check) {
                    problems.push(format!(
                        "{name}: {case} should fail check `{check}`; outcome {:?}, failing checks {failing:?}\n{}",
                        r.outcome,
                        r.failure_text()
                    ));
                }
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_deviation_gets_the_verdict_it_deserves() {
    let listed: Vec<&str> = Deviation::all().iter().map(|d| d.name()).collect();
    for (name, _) in TABLE {
        assert!(
            listed.contains(name),
            "deviation `{name}` is not implemented"
        );
    }
    for name in &listed {
        assert!(
            TABLE.iter().any(|(n, _)| n == name),
            "deviation `{name}` has no expected verdict in this table"
        );
    }
    let mut tasks = Vec::new();
    for (name, _) in TABLE {
        let d = Deviation::parse(name).expect("listed");
        tasks.push(tokio::spawn(run_against(vec![d], false)));
    }
    let mut problems = Vec::new();
    for ((name, want), task) in TABLE.iter().zip(tasks) {
        let results = task.await.expect("the run task completes");
        problems.extend(verdict_problems(name, want, &results));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
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
        r.failure_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformant_reference_passes_with_no_warnings() {
    let results = run_against(vec![], true).await;
    assert_eq!(results.len(), 3);
    for r in &results {
        assert_eq!(r.outcome, Outcome::Passed, "{}", r.failure_text());
        assert!(
            r.warnings().next().is_none(),
            "{}: unexpected warning",
            r.name
        );
        // Every case ran real checks, not just a status.
        let checks: usize = r.steps.iter().map(|s| s.checks.len()).sum();
        assert!(checks >= 3, "{}: only {checks} checks ran", r.name);
        assert!(
            r.steps
                .iter()
                .flat_map(|s| &s.checks)
                .all(|c| c.verdict == Verdict::Pass)
        );
    }
}
