//! Stage 6: results as plain data, rendered by reporters (terminal text here; JUnit,
//! JSON, Markdown and GitHub Actions annotations in the submodules). Secrets are redacted
//! on the way out.

pub mod gha;
pub mod json;
pub mod junit;
pub mod markdown;

pub use crate::results::{
    CaseResult, Check, CheckId, Judgement, NotificationRecord, Outcome, RequestRecord, StepResult,
    Verdict,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The failure text shown by libtest, JUnit and the Markdown report.
pub fn failure_text(r: &CaseResult) -> String {
    let mut out = String::new();
    // A step error already says why the target was unreachable or the case could not run.
    let step_errors = r.steps.iter().any(|s| s.error.is_some());
    match &r.outcome {
        Outcome::Unreachable(m) if !step_errors => {
            out.push_str(&format!("{}: target unreachable: {m}\n", r.name))
        }
        Outcome::Error(m) if !step_errors => {
            out.push_str(&format!("{}: cannot run: {m}\n", r.name))
        }
        _ => {}
    }
    for step in &r.steps {
        if !step.failed() {
            continue;
        }
        let kind = if step.setup { "set-up step" } else { "step" };
        out.push_str(&format!(
            "{} — {kind} `{}` ({})\n",
            r.name, step.name, r.file
        ));
        if let Some(e) = &step.error {
            out.push_str(&format!("error: {e}\n"));
        }
        for c in step.checks.iter().filter(|c| c.verdict == Verdict::Fail) {
            out.push_str(&format!("check `{}` failed on {}:\n", c.name(), c.subject));
            for line in c.detail.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        if let Some(req) = &step.request {
            out.push_str(&format!("request:\n  {} {}\n", req.method, req.url));
            for (k, v) in &req.headers {
                out.push_str(&format!("  {k}: {v}\n"));
            }
            if let Some(b) = &req.body {
                for line in crate::text::preview(b.as_bytes(), 1500).lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        if let Some(st) = step.status {
            out.push_str(&format!(
                "response: {st} {} in {:.1} ms\n",
                step.content_type.as_deref().unwrap_or("(no content type)"),
                step.elapsed.as_secs_f64() * 1000.0
            ));
            if let Some(p) = &step.response_preview {
                for line in p.lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }
    out
}

pub use crate::text::{Redactor, redact};

/// What the reporters need besides the case results: the run as a whole.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// What the run tested, in words: the embedded reference target or the base URLs.
    pub target: String,
    /// Base URL per family (`"um"`, `"graph"`); a family without a target is absent.
    pub targets: BTreeMap<String, String>,
    /// When the run started, RFC 3339 UTC (see [`rfc3339_utc`]).
    pub started: Option<String>,
    pub duration: Duration,
    /// Webhook listener findings: refused POSTs, unrouted notifications, drops.
    pub listener_notes: Vec<String>,
    /// Other run-level warnings (profile warnings, stale expectation entries).
    pub warnings: Vec<String>,
    /// Expectation verdict per case name; a case absent here is judged by its outcome
    /// alone ([`Judgement::from_outcome`]).
    pub judgements: BTreeMap<String, Judgement>,
    /// The `--expect` file, for messages.
    pub expectations_file: Option<String>,
    /// Values no report may contain (tokens, passwords); see [`redact`].
    pub secrets: Vec<String>,
}

impl RunSummary {
    pub fn judgement(&self, r: &CaseResult) -> Judgement {
        self.judgements
            .get(&r.name)
            .cloned()
            .unwrap_or_else(|| Judgement::from_outcome(&r.outcome))
    }

    /// True when the run is nonconformant once expectations are applied.
    pub fn fails_run(&self, results: &[CaseResult]) -> bool {
        results.iter().any(|r| self.judgement(r).fails_run())
    }

    fn redacted(&self) -> RunSummary {
        let redactor = Redactor::new(&self.secrets);
        let red = |v: &[String]| -> Vec<String> { v.iter().map(|s| redactor.redact(s)).collect() };
        RunSummary {
            target: redactor.redact(&self.target),
            targets: self
                .targets
                .iter()
                .map(|(k, v)| (k.clone(), redactor.redact(v)))
                .collect(),
            listener_notes: red(&self.listener_notes),
            warnings: red(&self.warnings),
            judgements: self
                .judgements
                .iter()
                .map(|(k, j)| (k.clone(), redact_judgement(j, &redactor)))
                .collect(),
            ..self.clone()
        }
    }
}

fn redact_judgement(j: &Judgement, redactor: &Redactor) -> Judgement {
    match j {
        Judgement::Fail { note } => Judgement::Fail {
            note: note.as_deref().map(|n| redactor.redact(n)),
        },
        Judgement::ExpectedFail { reason } => Judgement::ExpectedFail {
            reason: redactor.redact(reason),
        },
        Judgement::UnexpectedPass { reason, note } => Judgement::UnexpectedPass {
            reason: redactor.redact(reason),
            note: redactor.redact(note),
        },
        Judgement::KnownNotes { reason, checks } => Judgement::KnownNotes {
            reason: redactor.redact(reason),
            checks: checks.clone(),
        },
        other => other.clone(),
    }
}

/// A case's place in a report: the outcome seen through its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    Pass,
    /// Passed, with notes no expectation silenced (another documented value, other text).
    PassWithNotes,
    Ignored,
    ExpectedFail,
    Unreachable,
    Fail,
    UnexpectedPass,
    /// The case could not be run as written.
    Error,
}

impl CaseStatus {
    pub fn of(r: &CaseResult, j: &Judgement) -> CaseStatus {
        match (j, &r.outcome) {
            (Judgement::ExpectedFail { .. }, _) => CaseStatus::ExpectedFail,
            (Judgement::UnexpectedPass { .. }, _) => CaseStatus::UnexpectedPass,
            (_, Outcome::Passed) if r.notes_shown(j).next().is_some() => CaseStatus::PassWithNotes,
            (_, Outcome::Passed) => CaseStatus::Pass,
            (_, Outcome::Failed) => CaseStatus::Fail,
            (_, Outcome::Unreachable(_)) => CaseStatus::Unreachable,
            (_, Outcome::Error(_)) => CaseStatus::Error,
            (_, Outcome::Ignored(_)) => CaseStatus::Ignored,
        }
    }

    /// Failing statuses get a details entry / annotation.
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            CaseStatus::Pass | CaseStatus::PassWithNotes | CaseStatus::Ignored
        )
    }
}

/// Counts per status, in the order reports print them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub cases: usize,
    /// Every passing case, with notes or without.
    pub passed: usize,
    /// Of `passed`, the cases that passed with notes.
    pub passed_with_notes: usize,
    pub failed: usize,
    pub expected_failures: usize,
    pub unexpected_passes: usize,
    pub ignored: usize,
    pub unreachable: usize,
    pub errors: usize,
}

impl Totals {
    pub fn of(results: &[CaseResult], summary: &RunSummary) -> Totals {
        let mut t = Totals::default();
        for r in results {
            t.cases += 1;
            match CaseStatus::of(r, &summary.judgement(r)) {
                CaseStatus::Pass => t.passed += 1,
                CaseStatus::PassWithNotes => {
                    t.passed += 1;
                    t.passed_with_notes += 1;
                }
                CaseStatus::Fail => t.failed += 1,
                CaseStatus::ExpectedFail => t.expected_failures += 1,
                CaseStatus::UnexpectedPass => t.unexpected_passes += 1,
                CaseStatus::Ignored => t.ignored += 1,
                CaseStatus::Unreachable => t.unreachable += 1,
                CaseStatus::Error => t.errors += 1,
            }
        }
        t
    }

    /// `3 cases: 1 passed (1 with notes), 1 failed, 1 expected failure` (zero counts left
    /// out).
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = [
            (self.passed, "passed", "passed"),
            (self.failed, "failed", "failed"),
            (
                self.expected_failures,
                "expected failure",
                "expected failures",
            ),
            (
                self.unexpected_passes,
                "unexpected pass",
                "unexpected passes",
            ),
            (self.ignored, "ignored", "ignored"),
            (self.unreachable, "unreachable", "unreachable"),
            (self.errors, "could not run", "could not run"),
        ]
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect();
        if self.passed_with_notes > 0
            && let Some(first) = parts.first_mut()
        {
            first.push_str(&format!(" ({} with notes)", self.passed_with_notes));
        }
        let noun = if self.cases == 1 { "case" } else { "cases" };
        format!("{} {noun}: {}", self.cases, parts.join(", "))
    }
}

/// Copies of the results with every secret replaced, field by field, before rendering:
/// escaping (XML `&amp;`, JSON `\"`) could otherwise split a secret so that the final
/// text-level [`redact`] misses it.
fn redacted_results(results: &[CaseResult], secrets: &[String]) -> Vec<CaseResult> {
    let redactor = Redactor::new(secrets);
    let red = |s: &str| redactor.redact(s);
    let red_outcome = |o: &Outcome| match o {
        Outcome::Unreachable(m) => Outcome::Unreachable(red(m)),
        Outcome::Error(m) => Outcome::Error(red(m)),
        Outcome::Ignored(m) => Outcome::Ignored(red(m)),
        other => other.clone(),
    };
    results
        .iter()
        .map(|r| CaseResult {
            outcome: red_outcome(&r.outcome),
            steps: r
                .steps
                .iter()
                .map(|s| StepResult {
                    request: s.request.as_ref().map(|q| RequestRecord {
                        method: q.method.clone(),
                        url: red(&q.url),
                        headers: q.headers.iter().map(|(k, v)| (k.clone(), red(v))).collect(),
                        body: q.body.as_deref().map(red),
                    }),
                    response_preview: s.response_preview.as_deref().map(red),
                    checks: s
                        .checks
                        .iter()
                        .map(|c| Check {
                            subject: red(&c.subject),
                            detail: red(&c.detail),
                            notes: c.notes.iter().map(|n| red(n)).collect(),
                            ..c.clone()
                        })
                        .collect(),
                    error: s.error.as_deref().map(red),
                    ignored: s.ignored.iter().map(|i| red(i)).collect(),
                    ..s.clone()
                })
                .collect(),
            ..r.clone()
        })
        .collect()
}

/// The inputs every reporter renders: redacted results and summary.
fn prepare(results: &[CaseResult], summary: &RunSummary) -> (Vec<CaseResult>, RunSummary) {
    (
        redacted_results(results, &summary.secrets),
        summary.redacted(),
    )
}

/// Names of the failing checks, each once, in the order they failed.
pub fn failing_check_names(r: &CaseResult) -> Vec<&'static str> {
    r.failing_check_ids()
        .into_iter()
        .map(CheckId::name)
        .collect()
}

/// One line saying what happened to a case: the JUnit message, the Markdown cell.
pub fn headline(r: &CaseResult, j: &Judgement) -> String {
    let base = match (j, &r.outcome) {
        (Judgement::UnexpectedPass { reason, .. }, _) => {
            return format!("unexpectedly passed (listed in expectations as failing: {reason})");
        }
        (Judgement::ExpectedFail { reason }, _) => format!("expected failure: {reason}"),
        (_, Outcome::Passed) => match r.notes_shown(j).count() {
            0 => "passed".to_owned(),
            1 => "passed with 1 note".to_owned(),
            n => format!("passed with {n} notes"),
        },
        (_, Outcome::Ignored(m)) => format!("ignored: {m}"),
        (_, Outcome::Unreachable(m)) => format!("target unreachable: {m}"),
        (_, Outcome::Error(m)) => format!("cannot run: {m}"),
        (_, Outcome::Failed) => {
            let names = failing_check_names(r);
            if names.is_empty() {
                match r
                    .steps
                    .iter()
                    .find_map(|s| s.error.as_ref().map(|e| (s, e)))
                {
                    Some((s, e)) => format!(
                        "step `{}` failed: {}",
                        s.name,
                        e.lines().next().unwrap_or("")
                    ),
                    None => "failed".to_owned(),
                }
            } else {
                format!("failed checks: {}", names.join(", "))
            }
        }
    };
    match j {
        Judgement::Fail { note: Some(n) } => format!("{base} ({n})"),
        _ => base.lines().next().unwrap_or("").to_owned(),
    }
}

/// Writes a report so a reader never sees half a file; the error names the path.
pub fn write_atomic_report(path: &Path, text: &str) -> Result<(), String> {
    crate::diag::write_atomic(path, text)
        .map_err(|e| format!("cannot write report {}: {e}", path.display()))
}

/// `2026-01-02T03:04:05Z` for a wall-clock time, without a date-time dependency.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian), via 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Shared fixtures for the reporter tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::results::Judgement;

    pub const SECRET: &str = "tok-SECRET-4f9a";

    pub fn step(name: &str, checks: Vec<Check>) -> StepResult {
        let mut s = StepResult::new(name, false);
        s.request = Some(RequestRecord {
            method: "POST".into(),
            url: format!("https://target.test/EWS/x.asmx?token={SECRET}"),
            headers: vec![
                ("Authorization".into(), format!("Bearer {SECRET}")),
                ("Content-Type".into(), "text/xml".into()),
            ],
            body: Some(format!("<a>{SECRET}</a>")),
        });
        s.status = Some(500);
        s.content_type = Some("text/xml".into());
        s.response_preview = Some(format!("<fault>echo {SECRET}</fault>"));
        s.elapsed = Duration::from_millis(12);
        s.checks = checks;
        s
    }

    pub fn case(name: &str, op: &str, outcome: Outcome, checks: Vec<Check>) -> CaseResult {
        let (family, short) = name.split_once("::").unwrap_or(("um", name));
        CaseResult {
            name: name.to_owned(),
            family: family.to_owned(),
            file: format!("cases/{family}/{short}.toml"),
            operation: op.to_owned(),
            tags: vec![],
            outcome,
            steps: vec![step("Step1", checks)],
            duration: Duration::from_millis(20),
        }
    }

    /// One of each status: pass, fail (2 checks), expected fail, unexpected pass,
    /// ignored, unreachable, error, plus a warning.
    pub fn results() -> (Vec<CaseResult>, RunSummary) {
        let results = vec![
            case(
                "um::play-on-phone",
                "PlayOnPhone",
                Outcome::Passed,
                vec![Check::pass(CheckId::Status, "Step1")],
            ),
            case(
                "um::get-call-info",
                "GetCallInfo",
                Outcome::Failed,
                vec![
                    Check::fail(CheckId::Status, "Step1", "Expected: 200\nActual:   500"),
                    Check::fail(CheckId::Snapshot, "Step1", "--- a\n+++ b\n-x\n+y"),
                ],
            ),
            case(
                "um::get-call-info-2",
                "GetCallInfo",
                Outcome::Passed,
                vec![Check::pass(CheckId::Status, "Step1")],
            ),
            case(
                "um::disconnect",
                "Disconnect",
                Outcome::Failed,
                vec![Check::fail(CheckId::Snapshot, "Step1", "diff")],
            ),
            case(
                "graph::answer",
                "answer",
                Outcome::Passed,
                vec![Check::warn(
                    CheckId::UndocumentedFields,
                    "Step1 › notification",
                    "undocumented fields: /value/0/x, /y",
                )],
            ),
            case(
                "graph::reject",
                "reject",
                Outcome::Ignored("no Graph target".into()),
                vec![],
            ),
            case(
                "graph::delete-call",
                "delete",
                Outcome::Unreachable(format!("connection refused (token {SECRET})")),
                vec![],
            ),
            case(
                "graph::broken",
                "delete",
                Outcome::Error("missing variable `x`".into()),
                vec![],
            ),
        ];
        let mut summary = RunSummary {
            target: "target: graph = https://graph.test/v1.0, um = https://um.test".into(),
            targets: [
                ("um".to_owned(), "https://um.test".to_owned()),
                ("graph".to_owned(), "https://graph.test/v1.0".to_owned()),
            ]
            .into(),
            started: Some("2026-01-02T03:04:05Z".into()),
            duration: Duration::from_millis(1500),
            listener_notes: vec![format!("refused a POST to /notify?t={SECRET} with 401")],
            warnings: vec!["expectations list `um::gone`, which is not a case".into()],
            expectations_file: Some("known.toml".into()),
            secrets: vec![SECRET.to_owned()],
            ..RunSummary::default()
        };
        summary.judgements.insert(
            "um::disconnect".into(),
            Judgement::ExpectedFail {
                reason: "TICKET-13".into(),
            },
        );
        summary.judgements.insert(
            "um::get-call-info-2".into(),
            Judgement::UnexpectedPass {
                reason: "TICKET-14".into(),
                note: "unexpectedly passed: remove it from known.toml".into(),
            },
        );
        (results, summary)
    }

    pub const NOTE_7000: &str = "/value/0/resourceData/resultInfo: resultInfo 200/7000 'The conversation has ended by bot.' (delete-call.md:174); the example shows 200/5001";

    /// Passing cases: one with two notes (one carrying a secret, to prove redaction), one
    /// whose note an expectation silences, one plain.
    pub fn results_with_notes() -> (Vec<CaseResult>, RunSummary) {
        let noted = |name: &str, op: &str, notes: Vec<String>| {
            case(
                name,
                op,
                Outcome::Passed,
                vec![
                    Check::pass(CheckId::Status, "Step1"),
                    Check::note(CheckId::Snapshot, "Step1 › terminated", notes),
                ],
            )
        };
        let results = vec![
            noted(
                "graph::delete-call",
                "delete",
                vec![
                    NOTE_7000.to_owned(),
                    format!("/value/0/resourceData/resultInfo/message: the text differs from the example: \"ended {SECRET}\""),
                ],
            ),
            noted(
                "um::get-call-info",
                "GetCallInfo",
                vec!["/Envelope/Body/GetCallInfoResponse/GetCallInfoResponse/CallState: \"Alerted\" is another documented value of `CallState`".to_owned()],
            ),
            case(
                "um::disconnect",
                "Disconnect",
                Outcome::Passed,
                vec![Check::pass(CheckId::Status, "Step1")],
            ),
        ];
        let mut summary = RunSummary {
            expectations_file: Some("known.toml".into()),
            secrets: vec![SECRET.to_owned()],
            ..RunSummary::default()
        };
        summary.judgements.insert(
            "um::get-call-info".into(),
            Judgement::KnownNotes {
                reason: "our server answers before the phone is picked up".into(),
                checks: vec![CheckId::Snapshot],
            },
        );
        (results, summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        let at = |s: u64| rfc3339_utc(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_767_323_045), "2026-01-02T03:04:05Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn totals_apply_expectations() {
        let (results, summary) = fixtures::results();
        let t = Totals::of(&results, &summary);
        assert_eq!(
            t,
            Totals {
                cases: 8,
                passed: 2,
                passed_with_notes: 0,
                failed: 1,
                expected_failures: 1,
                unexpected_passes: 1,
                ignored: 1,
                unreachable: 1,
                errors: 1,
            }
        );
        assert!(summary.fails_run(&results));
    }

    #[test]
    fn no_reporter_leaks_a_secret() {
        let (results, summary) = fixtures::results();
        let outputs = [
            ("junit", junit::render(&results, &summary)),
            ("json", json::render(&results, &summary)),
            ("markdown", markdown::render(&results, &summary)),
            ("gha", gha::annotations(&results, &summary)),
        ];
        for (name, text) in outputs {
            assert!(!text.contains(fixtures::SECRET), "{name} leaks:\n{text}");
            assert!(!text.contains("4f9a"), "{name} leaks part of it");
        }
    }

    #[test]
    fn every_non_empty_secret_is_redacted_longest_first() {
        let secrets = vec!["ab".to_owned(), "abcd-1234".to_owned(), String::new()];
        assert_eq!(
            redact("x ab abcd-1234 y", &secrets),
            "x [redacted] [redacted] y"
        );
        assert_eq!(redact("nothing", &[]), "nothing");
    }

    #[test]
    fn secrets_split_by_escaping_are_still_redacted() {
        let (mut results, mut summary) = fixtures::results();
        let odd = "a&b<\"c\"\\d";
        summary.secrets.push(odd.to_owned());
        results[1].steps[0].checks[0].detail = format!("saw {odd}");
        for text in [
            junit::render(&results, &summary),
            json::render(&results, &summary),
            markdown::render(&results, &summary),
        ] {
            assert!(!text.contains("a&amp;b&lt;"), "{text}");
            assert!(!text.contains("a&b<"), "{text}");
            assert!(!text.contains(r#"a&b<\"c"#), "{text}");
        }
    }

    /// A token the target echoes in every form it takes in transit, one form per case,
    /// each form in every text a result carries: no reporter may show any of them.
    #[test]
    fn no_reporter_leaks_any_form_of_a_secret() {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        const TOKEN: &str = "tok~SECRET~4f9a.live~Qz";
        let percent: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
        let forms = [
            ("percent-encoded", percent.clone()),
            (
                "percent-encoded, lower-case hex",
                percent.to_ascii_lowercase(),
            ),
            ("base64", STANDARD.encode(TOKEN)),
            ("base64 url-safe", URL_SAFE_NO_PAD.encode(TOKEN)),
            (
                "base64 at offset 1",
                STANDARD.encode(format!("Bearer {TOKEN}")),
            ),
            (
                "base64 at offset 2",
                STANDARD.encode(format!("user:{TOKEN}")),
            ),
            (
                "base64 at offset 0",
                URL_SAFE_NO_PAD.encode(format!("abc{TOKEN}")),
            ),
            ("upper-case", TOKEN.to_ascii_uppercase()),
            ("lower-case", TOKEN.to_ascii_lowercase()),
            ("prefix", TOKEN[..crate::text::PREFIX_MIN_CHARS].to_owned()),
        ];
        let results: Vec<CaseResult> = forms
            .iter()
            .enumerate()
            .map(|(i, (what, form))| {
                let mut r = fixtures::case(
                    &format!("graph::form-{i}"),
                    "answer",
                    Outcome::Error(format!("{what}: target said {form}")),
                    vec![Check {
                        notes: vec![format!("echoed {form}")],
                        ..Check::fail(
                            CheckId::Snapshot,
                            &format!("Step1 {form}"),
                            format!("Expected: x\nActual:   {form}"),
                        )
                    }],
                );
                let s = &mut r.steps[0];
                s.error = Some(format!("echo: {form}"));
                s.response_preview = Some(format!("{{\"echo\":\"{form}\"}}"));
                if let Some(q) = &mut s.request {
                    q.url = format!("https://target.test/cb?t={form}");
                    q.headers.push(("X-Echo".into(), form.clone()));
                    q.body = Some(format!("<t>{form}</t>"));
                }
                r
            })
            .collect();
        let mut summary = RunSummary {
            secrets: vec![TOKEN.to_owned()],
            ..RunSummary::default()
        };
        summary.warnings = forms.iter().map(|(_, f)| format!("warned {f}")).collect();
        summary.listener_notes = forms.iter().map(|(_, f)| format!("heard {f}")).collect();
        // What would show the secret: its forms (base64 ones by any six characters that
        // carry only the secret's bits), and its prefix in either case.
        let mut needles: Vec<String> =
            vec![TOKEN[..crate::text::PREFIX_MIN_CHARS].to_ascii_lowercase()];
        needles.push(percent[..12].to_ascii_lowercase());
        for offset in 0..3 {
            let mut data = vec![b'x'; offset];
            data.extend_from_slice(TOKEN.as_bytes());
            let from = (8 * offset).div_ceil(6);
            let to = 8 * (offset + TOKEN.len()) / 6;
            for encoded in [STANDARD.encode(&data), URL_SAFE_NO_PAD.encode(&data)] {
                let core = &encoded[from..to];
                needles.extend((0..=core.len() - 6).map(|i| core[i..i + 6].to_owned()));
            }
        }
        let outputs = [
            ("junit", junit::render(&results, &summary)),
            ("json", json::render(&results, &summary)),
            ("markdown", markdown::render(&results, &summary)),
            ("gha", gha::annotations(&results, &summary)),
        ];
        for (name, text) in outputs {
            for (what, _) in &forms {
                assert!(
                    text.contains(what),
                    "{name} shows no case for the {what} form"
                );
            }
            let lower = text.to_ascii_lowercase();
            for n in &needles {
                let hit = if n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+/-_".contains(c))
                    && n.len() == 6
                {
                    text.contains(n.as_str())
                } else {
                    lower.contains(n.as_str())
                };
                assert!(!hit, "{name} leaks `{n}`:\n{text}");
            }
            assert!(text.contains("[redacted]"), "{name}");
        }
    }

    #[test]
    fn notes_make_a_pass_with_notes_unless_silenced() {
        let (results, summary) = fixtures::results_with_notes();
        let statuses: Vec<CaseStatus> = results
            .iter()
            .map(|r| CaseStatus::of(r, &summary.judgement(r)))
            .collect();
        assert_eq!(
            statuses,
            [
                CaseStatus::PassWithNotes,
                CaseStatus::Pass,
                CaseStatus::Pass
            ]
        );
        let t = Totals::of(&results, &summary);
        assert_eq!((t.passed, t.passed_with_notes), (results.len(), 1));
        assert!(t.line().ends_with("passed (1 with notes)"), "{}", t.line());
        assert!(!summary.fails_run(&results));
        assert_eq!(
            headline(&results[0], &summary.judgement(&results[0])),
            "passed with 2 notes"
        );
    }

    #[test]
    fn no_reporter_leaks_a_secret_from_a_note() {
        let (results, summary) = fixtures::results_with_notes();
        for text in [
            junit::render(&results, &summary),
            json::render(&results, &summary),
            markdown::render(&results, &summary),
            gha::annotations(&results, &summary),
        ] {
            assert!(text.contains("[redacted]"), "{text}");
            assert!(!text.contains("4f9a"), "{text}");
        }
    }
}
