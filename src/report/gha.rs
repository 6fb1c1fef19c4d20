//! GitHub Actions workflow commands, so failures show up as annotations on the case
//! files in the PR. Printed by the CLI only when `GITHUB_ACTIONS=true`.

use super::{
    CaseResult, CaseStatus, Outcome, RunSummary, failing_check_names, headline, prepare, redact,
};
use crate::results::Judgement;

/// Longest annotation message kept; GitHub truncates long ones anyway.
const MAX_MESSAGE: usize = 1000;

/// Escapes a message: GitHub decodes `%25`, `%0D`, `%0A` there.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`): also `:` and `,`, which end properties.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > MAX_MESSAGE {
        let cut: String = line.chars().take(MAX_MESSAGE).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

/// The first line of what went wrong, as specific as possible: the first failing check
/// with the first line of its detail, rather than the case heading.
fn message(r: &CaseResult, j: &Judgement) -> String {
    if let (Outcome::Failed, Judgement::Fail { note }) = (&r.outcome, j)
        && let Some((_, c)) = r.failed_checks().next()
    {
        let mut m = format!("check `{}` failed on {}", c.name(), c.subject);
        let detail = first_line(&c.detail);
        if !detail.is_empty() {
            m.push_str(&format!(": {detail}"));
        }
        let others: Vec<&str> = failing_check_names(r)
            .into_iter()
            .filter(|n| *n != c.name())
            .collect();
        if !others.is_empty() {
            m.push_str(&format!(" (also failing: {})", others.join(", ")));
        }
        if let Some(n) = note {
            m.push_str(&format!(" — {n}"));
        }
        return first_line(&m);
    }
    if let Judgement::UnexpectedPass { note, .. } = j {
        return first_line(&format!("{} — {note}", headline(r, j)));
    }
    first_line(&headline(r, j))
}

fn command(kind: &str, file: Option<&str>, title: &str, msg: &str) -> String {
    let mut props = Vec::new();
    if let Some(f) = file.filter(|f| !f.is_empty()) {
        props.push(format!("file={}", escape_property(f)));
    }
    props.push(format!("title={}", escape_property(title)));
    format!("::{kind} {}::{}\n", props.join(","), escape_data(msg))
}

/// `::error`/`::warning`/`::notice` lines for failing cases, undocumented-field warnings,
/// notes (unless an expectation silenced them) and listener findings. Expected failures
/// and ignored cases produce nothing.
pub fn annotations(results: &[CaseResult], summary: &RunSummary) -> String {
    let (results, summary) = prepare(results, summary);
    let mut out = String::new();
    for r in &results {
        let j = summary.judgement(r);
        if CaseStatus::of(r, &j).is_failure() && !matches!(j, Judgement::ExpectedFail { .. }) {
            out.push_str(&command("error", Some(&r.file), &r.name, &message(r, &j)));
        }
        for (c, n) in r.notes_shown(&j) {
            out.push_str(&command(
                "notice",
                Some(&r.file),
                &r.name,
                &first_line(&format!("{} on {}: {n}", c.name(), c.subject)),
            ));
        }
        for w in r.warnings() {
            out.push_str(&command(
                "warning",
                Some(&r.file),
                &r.name,
                &first_line(&format!("{} on {}: {}", w.name(), w.subject, w.detail)),
            ));
        }
    }
    for n in &summary.listener_notes {
        out.push_str(&command(
            "warning",
            None,
            "webhook listener",
            &first_line(n),
        ));
    }
    for w in &summary.warnings {
        out.push_str(&command("warning", None, "callconform", &first_line(w)));
    }
    redact(&out, &summary.secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn escaping_follows_githubs_rules() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_data("a:b,c"), "a:b,c");
        assert_eq!(escape_property("um::x, 5%"), "um%3A%3Ax%2C 5%25");
        let line = command("error", Some("cases/um/a,b.toml"), "um::a", "x\ny");
        assert_eq!(
            line,
            "::error file=cases/um/a%2Cb.toml,title=um%3A%3Aa::x%0Ay\n"
        );
    }

    #[test]
    fn one_error_per_failing_case_and_warnings_for_the_rest() {
        let (results, summary) = fixtures::results();
        let text = annotations(&results, &summary);
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
        // get-call-info, get-call-info-2 (unexpected pass), delete-call, broken.
        assert_eq!(errors.len(), 4, "{text}");
        assert!(errors.contains(
            &"::error file=cases/um/get-call-info.toml,title=um%3A%3Aget-call-info::check `status` failed on Step1: Expected: 200 (also failing: snapshot)"
        ));
        assert!(
            errors
                .iter()
                .any(|l| l.contains("unexpectedly passed")
                    && l.contains("remove it from known.toml"))
        );
        assert!(
            !text.contains("um%3A%3Adisconnect"),
            "expected failure annotated"
        );
        assert!(text.contains(
            "::warning file=cases/graph/answer.toml,title=graph%3A%3Aanswer::undocumented-fields on Step1 › notification: undocumented fields: /value/0/x, /y"
        ), "{text}");
        assert!(text.contains("::warning title=webhook listener::refused a POST"));
        assert_eq!(text.lines().count(), 4 + 1 + 2, "{text}");
    }

    #[test]
    fn notes_are_notices() {
        let (results, summary) = fixtures::results_with_notes();
        let text = annotations(&results, &summary);
        let notices: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("::notice "))
            .collect();
        assert_eq!(notices.len(), 2, "{text}");
        assert!(notices.contains(&format!(
            "::notice file=cases/graph/delete-call.toml,title=graph%3A%3Adelete-call::snapshot on Step1 › terminated: {}",
            fixtures::NOTE_7000
        ).as_str()), "{text}");
        assert!(!text.contains("::error"), "{text}");
        assert!(!text.contains("Alerted"), "silenced: {text}");
    }
}
