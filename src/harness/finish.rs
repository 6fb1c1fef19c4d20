//! Stage 3 of a run: the reports, the terminal notes and the exit code. Reporters only read
//! the results; the exit code is the worse of libtest's conclusion and the results.

use super::plan::{Plan, Targets};
use super::trials::judge;
use crate::listener::Listener;
use crate::report::RunSummary;
use crate::results::{CaseResult, Judgement, Outcome};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Exit codes, distinct so CI can tell a broken target from a broken case file.
pub mod exit {
    pub const CONFORMANT: u8 = 0;
    pub const NONCONFORMANT: u8 = 1;
    /// Usage, profile or case-file errors, and a run in which no selected case ran
    /// (see [`super::nothing_checked`]).
    pub const USAGE: u8 = 2;
    pub const UNREACHABLE: u8 = 3;
}

/// Where the reports go (`--junit`, `--report-json`, `--report-md`, `--write-expectations`).
#[derive(Debug, Clone, Default)]
pub struct ReportPaths {
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub expectations: Option<PathBuf>,
}

/// One line per listener finding, for the terminal and the reports.
pub fn listener_notes(l: &Listener, secrets: &[String]) -> Vec<String> {
    let s = l.summary();
    let redactor = crate::text::Redactor::new(secrets);
    let red = |t: &str| redactor.redact(t);
    let mut out = Vec::new();
    for r in &s.refused {
        if r.status == 0 {
            out.push(format!("refused a connection: {}", r.reason));
            continue;
        }
        out.push(format!(
            "refused a POST to {} with {}: {}",
            red(&r.path),
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
            red(body)
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

/// The run as the reporters see it.
pub fn summary(
    plan: &Plan,
    results: &[CaseResult],
    started_at: std::time::SystemTime,
    listener_notes: Vec<String>,
    secrets: Vec<String>,
    expectations_file: Option<String>,
) -> RunSummary {
    let targets = match &plan.targets {
        Targets::Embedded => Default::default(),
        Targets::Given { targets, .. } => targets
            .iter()
            .map(|(f, t)| (f.to_string(), t.base_url.clone()))
            .collect(),
    };
    let mut warnings = plan.warnings.clone();
    if let Some(e) = plan.expectations.as_deref() {
        warnings.extend(e.unused_note_entries(results));
    }
    RunSummary {
        target: plan.targets.banner(),
        targets,
        started: Some(crate::report::rfc3339_utc(started_at)),
        duration: started_at.elapsed().unwrap_or_default(),
        listener_notes,
        warnings,
        judgements: results
            .iter()
            .map(|r| (r.name.clone(), judge(plan.expectations.as_deref(), r)))
            .collect(),
        expectations_file,
        secrets,
    }
}

/// The terminal lines under each case: its notes (one line each, unless an expectation
/// silenced them), warnings, written snapshots and expected failures.
pub fn case_lines(r: &CaseResult, summary: &RunSummary) -> Vec<String> {
    let mut out = Vec::new();
    let j = summary.judgement(r);
    let redactor = crate::text::Redactor::new(&summary.secrets);
    let red = |t: &str| redactor.redact(t);
    if let Outcome::Error(m) = &r.outcome {
        out.push(red(&format!("error: {}: {m}", r.name)));
    }
    for (c, n) in r.notes_shown(&j) {
        out.push(red(&format!(
            "note: {}: {} on {}: {n}",
            r.name,
            c.name(),
            c.subject
        )));
    }
    for w in r.warnings() {
        out.push(red(&format!(
            "warning: {}: {} on {}: {}",
            r.name,
            w.name(),
            w.subject,
            w.detail
        )));
    }
    for s in &r.steps {
        for w in &s.written {
            out.push(format!("{}: snapshot {w}", r.name));
        }
        for i in &s.ignored {
            out.push(red(&format!("ignored: {}: step `{}`: {i}", r.name, s.name)));
        }
    }
    if let Judgement::ExpectedFail { reason } = &j {
        out.push(red(&format!("expected failure: {} ({reason})", r.name)));
    }
    out
}

/// Prints the per-case lines and writes every requested report; false when one failed.
pub fn write_reports(paths: &ReportPaths, results: &[CaseResult], summary: &RunSummary) -> bool {
    for r in results {
        for line in case_lines(r, summary) {
            eprintln!("{line}");
        }
    }
    let mut ok = true;
    let mut write = |path: &Option<PathBuf>, render: &dyn Fn() -> String| {
        if let Some(p) = path
            && let Err(e) = crate::report::write_atomic_report(p, &render())
        {
            eprintln!("error: {e}");
            ok = false;
        }
    };
    write(&paths.junit, &|| {
        crate::report::junit::render(results, summary)
    });
    write(&paths.json, &|| {
        crate::report::json::render(results, summary)
    });
    write(&paths.markdown, &|| {
        crate::report::markdown::render(results, summary)
    });
    write(&paths.expectations, &|| crate::expectations::write(results));
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        print!("{}", crate::report::gha::annotations(results, summary));
    }
    ok
}

/// Why a run that selected cases checked none of them (every one ignored: no target for
/// its family, a trigger the target cannot cause): the line printed before it exits
/// [`exit::USAGE`], with the count of each reason, most common first. A run that checked
/// nothing is not green.
pub fn nothing_checked(ignored: u64, results: &[CaseResult], summary: &RunSummary) -> String {
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for r in results {
        if let Outcome::Ignored(why) = &r.outcome {
            *reasons.entry(why.as_str()).or_default() += 1;
        }
    }
    let known: u64 = reasons.values().sum();
    let mut counted: Vec<(&str, u64)> = reasons.into_iter().collect();
    counted.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = counted
        .iter()
        .take(SHOWN)
        .map(|(why, n)| format!("{n}: {why}"))
        .collect();
    if counted.len() > SHOWN {
        let rest: u64 = counted[SHOWN..].iter().map(|(_, n)| n).sum();
        parts.push(format!("{rest}: {} other reasons", counted.len() - SHOWN));
    }
    if ignored > known {
        parts.push(format!("{}: not run", ignored - known));
    }
    let noun = if ignored == 1 {
        "case was"
    } else {
        "cases were"
    };
    let why = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    };
    crate::text::redact(
        &format!(
            "callconform: no case ran: {ignored} selected {noun} ignored{why}; a run that checked nothing is not green"
        ),
        &summary.secrets,
    )
}

/// The exit code: unreachable targets first, then broken cases or reports, then
/// nonconformance, from the results and from libtest's own conclusion alike.
pub fn exit_code(
    results: &[CaseResult],
    summary: &RunSummary,
    libtest_failed: bool,
    reports_ok: bool,
) -> u8 {
    if results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Unreachable(_)))
    {
        exit::UNREACHABLE
    } else if !reports_ok
        || results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Error(_)))
    {
        exit::USAGE
    } else if summary.fails_run(results) || libtest_failed {
        exit::NONCONFORMANT
    } else {
        exit::CONFORMANT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn the_exit_code_is_the_worse_of_libtest_and_the_results() {
        let (all, summary) = fixtures::results();
        let passed: Vec<CaseResult> = all
            .iter()
            .filter(|r| r.outcome == Outcome::Passed && r.warnings().count() == 0)
            .take(1)
            .cloned()
            .collect();
        let plain = RunSummary::default();
        assert_eq!(exit_code(&passed, &plain, false, true), exit::CONFORMANT);
        assert_eq!(
            exit_code(&passed, &plain, true, true),
            exit::NONCONFORMANT,
            "libtest saw a failure the results do not show"
        );
        assert_eq!(exit_code(&passed, &plain, false, false), exit::USAGE);
        assert_eq!(exit_code(&all, &summary, false, true), exit::UNREACHABLE);
        assert_eq!(exit_code(&[], &plain, false, true), exit::CONFORMANT);
    }

    #[test]
    fn a_run_that_checked_nothing_says_why_each_case_was_ignored() {
        let ignored = |name: &str, why: &str| {
            let mut r = fixtures::case(name, "x", Outcome::Ignored(why.into()), vec![]);
            r.steps.clear();
            r
        };
        let results = vec![
            ignored("graph::a", "no graph target given (--graph URL)"),
            ignored("graph::b", "no graph target given (--graph URL)"),
            ignored(
                "graph::c",
                "needs the target to cause `incoming-call` tok-SECRET-4f9a",
            ),
        ];
        let summary = RunSummary {
            secrets: vec![fixtures::SECRET.to_owned()],
            ..RunSummary::default()
        };
        let line = nothing_checked(3, &results, &summary);
        assert_eq!(
            line,
            "callconform: no case ran: 3 selected cases were ignored (2: no graph target given (--graph URL); 1: needs the target to cause `incoming-call` [redacted]); a run that checked nothing is not green"
        );
        // Trials libtest ignored without a result (not run) are counted too.
        let line = nothing_checked(1, &[], &summary);
        assert_eq!(
            line,
            "callconform: no case ran: 1 selected case was ignored (1: not run); a run that checked nothing is not green"
        );
    }

    #[test]
    fn each_note_is_one_line_under_its_case_unless_silenced() {
        let (results, summary) = fixtures::results_with_notes();
        let lines = case_lines(&results[0], &summary);
        let notes: Vec<&String> = lines.iter().filter(|l| l.starts_with("note: ")).collect();
        assert_eq!(notes.len(), 2, "{lines:?}");
        assert_eq!(
            notes[0],
            &format!(
                "note: graph::delete-call: snapshot on Step1 › terminated: {}",
                fixtures::NOTE_7000
            )
        );
        assert!(notes[1].contains("[redacted]") && !notes[1].contains("4f9a"));
        assert!(case_lines(&results[1], &summary).is_empty(), "silenced");
        let (all, summary) = fixtures::results();
        let answer = all
            .iter()
            .find(|r| r.name == "graph::answer")
            .expect("case");
        assert_eq!(
            case_lines(answer, &summary),
            [
                "warning: graph::answer: undocumented-fields on Step1 › notification: undocumented fields: /value/0/x, /y"
            ]
        );
    }
}
