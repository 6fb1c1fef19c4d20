//! Batched notifications (issue 11): Graph may send a call's queued notifications in one
//! POST. That is an equivalent form: the committed corpus passes against a reference target
//! that batches, entry by entry. A batch that loses or reorders an entry is not: the
//! `graph-batch-*` deviations fail the check that names what went wrong.

use callconform::family::Family;
use callconform::harness::{self, InProcess};
use callconform::listener::ListenerConfig;
use callconform::reference::{self, Deviation};
use callconform::report::{CaseResult, Outcome};
use callconform::request::{HttpOptions, Target};
use callconform::results::StepResult;
use callconform::runner::RunConfig;
use std::net::SocketAddr;
use std::time::Duration;

const NOTIFY_TOKEN: &str = "batching-test-notify-token";

/// Runs the whole committed corpus against the reference target; also returns how many
/// cases the corpus holds, so totals come from it and not from this file.
async fn run(batch_notifications: bool, deviations: Vec<Deviation>) -> (usize, Vec<CaseResult>) {
    let running = reference::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        reference::Config {
            deviations,
            notify_token: NOTIFY_TOKEN.into(),
            accept_token: None,
            batch_notifications,
            ..reference::Config::default()
        },
    )
    .await
    .expect("the reference target starts");
    let base = running.base_url();
    let (corpus, reasons) = harness::load_default_corpus().expect("the committed cases load");
    let total = corpus.cases.len();
    let mut config = RunConfig {
        // Judged by the default rules: the reference shows some fields one example of a
        // resource leaves out and another shows (reported, not failed).
        strict: false,
        notification_timeout: Duration::from_millis(1500),
        expected_notify_token: Some(NOTIFY_TOKEN.into()),
        snapshots: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
        ..RunConfig::default()
    };
    config.targets.insert(
        Family::UM,
        Target {
            base_url: base.clone(),
            options: [("soap_action".to_owned(), "quoted".to_owned())].into(),
            ..Default::default()
        },
    );
    config.targets.insert(
        Family::GRAPH,
        Target {
            base_url: base.clone(),
            headers: vec![("Authorization".into(), "Bearer batching-test".into())],
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
        |_| true,
    )
    .await
    .expect("the run completes");
    running.shutdown();
    (total, run.results)
}

/// Steps that received two or more notifications of one POST (entries share its seq).
fn batched_steps(r: &CaseResult) -> Vec<&StepResult> {
    r.steps
        .iter()
        .filter(|s| s.notifications.windows(2).any(|w| w[0].seq == w[1].seq))
        .collect()
}

fn failing(r: &CaseResult) -> Vec<&'static str> {
    r.failed_checks().map(|(_, c)| c.name()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_when_notifications_come_batched() {
    let (total, results) = run(true, vec![]).await;
    assert_eq!(results.len(), total, "every case of the corpus ran");
    let mut batched = 0;
    for r in &results {
        assert_eq!(
            r.outcome,
            Outcome::Passed,
            "{}",
            callconform::report::failure_text(r)
        );
        let steps = batched_steps(r);
        batched += steps.len();
        for s in steps {
            // Each entry of the batch was matched and judged on its own.
            assert!(
                s.notifications.iter().any(|n| n.batch.is_some()),
                "{}",
                r.name
            );
            assert!(!s.checks.is_empty(), "{}: no check ran", r.name);
        }
    }
    // The target really batched: some step of a Graph case got entries of one POST.
    let graph = results.iter().filter(|r| r.family == "graph").count();
    assert!(graph > 0, "the corpus has Graph cases");
    assert!(batched > 0, "no step received a batched POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_batching_every_notification_has_its_own_post() {
    // The control for the test above: the shared-seq evidence is not an artefact.
    let (total, results) = run(false, vec![]).await;
    assert_eq!(results.len(), total);
    for r in &results {
        assert_eq!(r.outcome, Outcome::Passed, "{}", r.name);
        assert!(batched_steps(r).is_empty(), "{}: batched", r.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_loses_or_reorders_an_entry_fails() {
    for (deviation, check) in [
        ("graph-batch-drops-entry", "notification-deadline"),
        ("graph-batch-reorders", "notification-order"),
    ] {
        let d = Deviation::parse(deviation).expect("listed");
        let (_, results) = run(false, vec![d]).await;
        let graph: Vec<&CaseResult> = results.iter().filter(|r| r.family == "graph").collect();
        assert!(!graph.is_empty());
        let failed: Vec<&&CaseResult> = graph
            .iter()
            .filter(|r| r.outcome != Outcome::Passed)
            .collect();
        assert!(
            failed.iter().any(|r| failing(r).contains(&check)),
            "{deviation}: no Graph case failed `{check}`"
        );
        for r in failed {
            assert!(
                failing(r).contains(&check),
                "{deviation}: {} should fail `{check}`, failing {:?}\n{}",
                r.name,
                failing(r),
                callconform::report::failure_text(r)
            );
        }
    }
}
