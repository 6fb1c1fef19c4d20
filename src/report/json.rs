//! Machine-readable results for dashboards and diffing runs. The shape is its own contract
//! (`schema_version`), not a dump of the internal structs, so refactoring the runner does
//! not silently change what consumers parse. Keys come out in declaration order.

use super::{CaseResult, CaseStatus, Outcome, RunSummary, Totals, prepare, redact};
use crate::results::Judgement;
use crate::results::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;

/// Bumped when a key is removed or changes meaning; adding keys does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    schema_version: u32,
    tool_version: &'static str,
    summary: Summary<'a>,
    cases: Vec<Case<'a>>,
}

#[derive(Serialize)]
struct Summary<'a> {
    /// What was tested, in words (the embedded reference target, or the base URLs).
    target: &'a str,
    targets: &'a BTreeMap<String, String>,
    started: Option<&'a str>,
    duration_ms: f64,
    totals: Totals,
    /// Whether the run is nonconformant once expectations are applied.
    failed: bool,
    expectations_file: Option<&'a str>,
    listener_notes: &'a [String],
    warnings: &'a [String],
}

#[derive(Serialize)]
struct Case<'a> {
    name: &'a str,
    family: &'a str,
    operation: &'a str,
    file: &'a str,
    tags: &'a [String],
    status: CaseStatus,
    outcome: &'static str,
    /// Why it was unreachable / could not run / was ignored.
    outcome_reason: Option<&'a str>,
    expectation: Judgement,
    duration_ms: f64,
    steps: Vec<Step<'a>>,
}

#[derive(Serialize)]
struct Step<'a> {
    name: &'a str,
    setup: bool,
    request: Option<Request<'a>>,
    status: Option<u16>,
    content_type: Option<&'a str>,
    response_preview: Option<&'a str>,
    elapsed_ms: f64,
    checks: Vec<CheckOut<'a>>,
    error: Option<&'a str>,
    written: &'a [String],
    notifications: &'a [crate::report::NotificationRecord],
    /// Expectations not checked, with the reason (another party's event, no trigger).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    ignored: &'a [String],
}

#[derive(Serialize)]
struct Request<'a> {
    method: &'a str,
    url: &'a str,
    headers: Vec<Header<'a>>,
    body: Option<&'a str>,
}

#[derive(Serialize)]
struct Header<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct CheckOut<'a> {
    name: &'a str,
    subject: &'a str,
    verdict: Verdict,
    detail: &'a str,
    /// One line per note (verdict `note`; or beside a failure).
    notes: &'a [String],
}

fn ms(d: std::time::Duration) -> f64 {
    // Three decimals: enough for sub-millisecond timings, stable in diffs.
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn outcome(o: &Outcome) -> (&'static str, Option<&str>) {
    match o {
        Outcome::Passed => ("passed", None),
        Outcome::Failed => ("failed", None),
        Outcome::Unreachable(m) => ("unreachable", Some(m)),
        Outcome::Error(m) => ("error", Some(m)),
        Outcome::Ignored(m) => ("ignored", Some(m)),
    }
}

/// Renders the JSON report (pretty-printed, trailing newline).
pub fn render(results: &[CaseResult], summary: &RunSummary) -> String {
    let (results, summary) = prepare(results, summary);
    let cases = results
        .iter()
        .map(|r| {
            let j = summary.judgement(r);
            let (kind, reason) = outcome(&r.outcome);
            Case {
                name: &r.name,
                family: &r.family,
                operation: &r.operation,
                file: &r.file,
                tags: &r.tags,
                status: CaseStatus::of(r, &j),
                outcome: kind,
                outcome_reason: reason,
                expectation: j,
                duration_ms: ms(r.duration),
                steps: r
                    .steps
                    .iter()
                    .map(|s| Step {
                        name: &s.name,
                        setup: s.setup,
                        request: s.request.as_ref().map(|q| Request {
                            method: &q.method,
                            url: &q.url,
                            headers: q
                                .headers
                                .iter()
                                .map(|(k, v)| Header { name: k, value: v })
                                .collect(),
                            body: q.body.as_deref(),
                        }),
                        status: s.status,
                        content_type: s.content_type.as_deref(),
                        response_preview: s.response_preview.as_deref(),
                        elapsed_ms: ms(s.elapsed),
                        checks: s
                            .checks
                            .iter()
                            .map(|c| CheckOut {
                                name: c.name(),
                                subject: &c.subject,
                                verdict: c.verdict,
                                detail: &c.detail,
                                notes: &c.notes,
                            })
                            .collect(),
                        error: s.error.as_deref(),
                        written: &s.written,
                        notifications: &s.notifications,
                        ignored: &s.ignored,
                    })
                    .collect(),
            }
        })
        .collect();
    let doc = Doc {
        schema: "callconform-report",
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION"),
        summary: Summary {
            target: &summary.target,
            targets: &summary.targets,
            started: summary.started.as_deref(),
            duration_ms: ms(summary.duration),
            totals: Totals::of(&results, &summary),
            failed: summary.fails_run(&results),
            expectations_file: summary.expectations_file.as_deref(),
            listener_notes: &summary.listener_notes,
            warnings: &summary.warnings,
        },
        cases,
    };
    // Serializing borrowed strings and numbers cannot fail; keep a valid document anyway.
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        serde_json::json!({"schema": "callconform-report", "error": e.to_string()}).to_string()
    });
    text.push('\n');
    redact(&text, &summary.secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use serde_json::Value;

    #[test]
    fn round_trips_with_the_documented_fields() {
        let (results, summary) = fixtures::results();
        let text = render(&results, &summary);
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["summary"]["totals"]["cases"], 8);
        assert_eq!(v["summary"]["totals"]["expected_failures"], 1);
        assert_eq!(v["summary"]["failed"], true);
        assert_eq!(v["summary"]["targets"]["graph"], "https://graph.test/v1.0");
        assert!(
            v["summary"]["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("target: graph = https://graph.test")),
            "{v}"
        );
        assert_eq!(v["summary"]["duration_ms"], 1500.0);
        let cases = v["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 8);

        let gci = &cases[1];
        assert_eq!(gci["name"], "um::get-call-info");
        assert_eq!(gci["status"], "fail");
        assert_eq!(gci["outcome"], "failed");
        assert_eq!(gci["expectation"]["verdict"], "fail");
        let step = &gci["steps"][0];
        assert_eq!(step["request"]["method"], "POST");
        assert_eq!(step["request"]["headers"][1]["name"], "Content-Type");
        assert_eq!(step["status"], 500);
        assert_eq!(step["content_type"], "text/xml");
        assert_eq!(step["elapsed_ms"], 12.0);
        assert_eq!(step["checks"][1]["name"], "snapshot");
        assert_eq!(step["checks"][1]["verdict"], "fail");

        let disc = &cases[3];
        assert_eq!(disc["status"], "expected-fail");
        assert_eq!(disc["expectation"]["reason"], "TICKET-13");
        assert_eq!(cases[6]["outcome"], "unreachable");
        assert_eq!(cases[5]["outcome_reason"], "no Graph target");
    }

    #[test]
    fn key_order_is_stable() {
        let (results, summary) = fixtures::results();
        let text = render(&results, &summary);
        let pos = |k: &str| text.find(&format!("\"{k}\":")).expect(k);
        assert!(pos("schema") < pos("schema_version"));
        assert!(pos("schema_version") < pos("summary"));
        assert!(pos("summary") < pos("cases"));
        assert_eq!(text, render(&results, &summary));
    }

    #[test]
    fn notes_are_per_check_and_counted() {
        let (results, summary) = fixtures::results_with_notes();
        let v: Value = serde_json::from_str(&render(&results, &summary)).expect("JSON");
        let totals = &v["summary"]["totals"];
        assert_eq!(totals["passed"], results.len());
        assert_eq!(totals["passed_with_notes"], 1);
        let del = &v["cases"][0];
        assert_eq!(del["status"], "pass-with-notes");
        let snap = &del["steps"][0]["checks"][1];
        assert_eq!(snap["name"], "snapshot");
        assert_eq!(snap["verdict"], "note");
        assert_eq!(snap["notes"][0], fixtures::NOTE_7000);
        assert_eq!(snap["notes"].as_array().map(Vec::len), Some(2));
        assert_eq!(del["steps"][0]["checks"][0]["notes"], serde_json::json!([]));
        // The silenced note is still in the data, the case is a plain pass.
        let gci = &v["cases"][1];
        assert_eq!(gci["status"], "pass");
        assert_eq!(gci["expectation"]["verdict"], "known-notes");
        assert_eq!(gci["steps"][0]["checks"][1]["verdict"], "note");
    }
}
