//! Stage 5: comparison. Every check has a name, so a failure says which documented rule
//! broke; verdicts are plain data that the reporters render.
//!
//! The verdict model (issue 11): structure is exact; values are judged by the family's
//! contract ([`crate::contract`]): an `exact` field equals the example, a `set` field may
//! hold any documented value (another one than the example's is a *note*), `text` any
//! string (a difference is a note), `live` any value of the documented type. Under
//! `--exact-values` every note is a failure. [`json`] judges JSON bodies, [`xml`] SOAP.

mod assign;
mod formats;
pub mod json;
pub mod xml;

pub use crate::results::{Check, CheckId, Verdict};
pub use json::judge_json;
pub use xml::{PreparedXml, judge_xml};

use crate::contract::{Contract, EndReasons};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// How strictly a body is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JudgeOptions<'a> {
    /// `--strict`: undocumented fields fail instead of warning.
    pub strict: bool,
    /// `--exact-values`: every note (another documented value, other text) fails.
    pub exact_values: bool,
    /// `[step.expect] truncated`: the example shows a subset; fields it leaves out (and
    /// array elements past its last) are not reported.
    pub truncated: bool,
    /// The declared type of the body (`[step.expect] type`), where the type model starts.
    pub root_type: Option<&'a str>,
}

/// An expected body, prepared once per case that uses it, before the case runs (off the
/// runtime thread), not per answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    Json(Value),
    Xml(PreparedXml),
}

impl Prepared {
    /// A JSON snapshot's canonical text, parsed.
    pub fn json(canonical: &str) -> Result<Prepared, String> {
        crate::canon::json::parse(canonical.as_bytes(), &crate::canon::Limits::default())
            .map(Prepared::Json)
            .map_err(|e| format!("not JSON: {e}"))
    }

    /// An XML snapshot's canonical text, split into located lines.
    pub fn xml(canonical: &str) -> Prepared {
        Prepared::Xml(PreparedXml::new(canonical))
    }
}

/// An answer in canonical form: the JSON value (placeholders applied, redacted) or the
/// canonical XML text.
#[derive(Debug, Clone, Copy)]
pub enum Actual<'a> {
    Json(&'a Value),
    Xml(&'a str),
}

/// Judges an answer against its prepared example; see [`judge_json`] and [`judge_xml`].
pub fn judge(
    subject: &str,
    label: &str,
    expected: &Prepared,
    actual: Actual<'_>,
    contract: &Contract,
    reasons: &EndReasons,
    opts: &JudgeOptions<'_>,
) -> Vec<Check> {
    match (expected, actual) {
        (Prepared::Json(e), Actual::Json(a)) => {
            judge_json(subject, label, e, a, contract, reasons, opts)
        }
        (Prepared::Xml(e), Actual::Xml(a)) => judge_xml(subject, label, e, a, contract, opts),
        (Prepared::Json(_), Actual::Xml(_)) => vec![Check::fail(
            CheckId::Snapshot,
            subject,
            format!("{label} is JSON, the answer is XML"),
        )],
        (Prepared::Xml(_), Actual::Json(_)) => vec![Check::fail(
            CheckId::Snapshot,
            subject,
            format!("{label} is XML, the answer is JSON"),
        )],
    }
}

/// What a judge found, before it becomes checks.
#[derive(Debug, Default)]
struct Findings {
    failures: Vec<String>,
    notes: Vec<String>,
    /// Pointers of undocumented fields.
    extra: Vec<String>,
}

/// The checks for one judged body: `snapshot` (fail, note or pass) and, when fields the
/// example does not show arrived, `undocumented-fields`.
fn verdicts(
    subject: &str,
    found: Findings,
    opts: &JudgeOptions<'_>,
    diff: impl FnOnce() -> String,
) -> Vec<Check> {
    let Findings {
        mut failures,
        mut notes,
        mut extra,
    } = found;
    if opts.exact_values {
        failures.extend(
            notes
                .drain(..)
                .map(|n| format!("{n} (a failure under --exact-values)")),
        );
    }
    let mut out = Vec::new();
    if failures.is_empty() {
        out.push(Check::note(CheckId::Snapshot, subject, notes));
    } else {
        let mut detail = String::new();
        for f in &failures {
            detail.push_str(f);
            detail.push('\n');
        }
        for n in &notes {
            detail.push_str(&format!("note: {n}\n"));
        }
        detail.push('\n');
        detail.push_str(&diff());
        out.push(Check {
            notes,
            ..Check::fail(CheckId::Snapshot, subject, detail)
        });
    }
    if !extra.is_empty() {
        extra.sort();
        let detail = format!("undocumented fields: {}", extra.join(", "));
        out.push(if opts.strict {
            Check::fail(
                CheckId::UndocumentedFields,
                subject,
                detail + " (failing: --strict)",
            )
        } else {
            Check::warn(CheckId::UndocumentedFields, subject, detail)
        });
    }
    out
}

pub fn status(subject: &str, expected: u16, actual: u16) -> Check {
    Check::from_bool(CheckId::Status, subject, expected == actual, || {
        format!("Expected: {expected}\nActual:   {actual}")
    })
}

/// Media types compare case-insensitively without parameters (`text/xml; charset=utf-8`
/// matches `text/xml`).
pub fn content_type(subject: &str, expected: &str, actual: Option<&str>) -> Check {
    let want = expected
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match actual {
        Some(got) if got == want => Check::pass(CheckId::ContentType, subject),
        Some(got) => Check::fail(
            CheckId::ContentType,
            subject,
            format!("Expected: {want}\nActual:   {got}"),
        ),
        None => Check::fail(
            CheckId::ContentType,
            subject,
            format!("Expected: {want}\nActual:   no Content-Type header"),
        ),
    }
}

/// `secrets` are redacted from the preview before it is cut (see
/// [`crate::response::preview_redacted`]).
pub fn empty_body(subject: &str, body: &[u8], secrets: &[String]) -> Check {
    Check::from_bool(CheckId::EmptyBody, subject, body.is_empty(), || {
        format!(
            "Expected: no body\nActual:   {} bytes: {}",
            body.len(),
            crate::response::preview_redacted(body, 300, secrets)
        )
    })
}

/// Exact comparison of canonical text (SOAP envelopes are closed contracts).
pub fn exact(subject: &str, snapshot_label: &str, expected: &str, actual: &str) -> Check {
    if expected.trim_end() == actual.trim_end() {
        Check::pass(CheckId::Snapshot, subject)
    } else {
        Check::fail(
            CheckId::Snapshot,
            subject,
            unified_diff(expected, actual, snapshot_label, "actual"),
        )
    }
}

/// Documented fields must be present with the documented values; undocumented extras are
/// a warning (commsNotification is an open type), or a failure under `--strict`.
pub fn json_subset(
    subject: &str,
    snapshot_label: &str,
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    strict: bool,
) -> Vec<Check> {
    let report = crate::canon::json::subset(expected, actual);
    let mut out = Vec::new();
    if report.mismatches.is_empty() {
        out.push(Check::pass(CheckId::Snapshot, subject));
    } else {
        let mut detail = String::new();
        for (ptr, want, got) in &report.mismatches {
            match got {
                Some(g) => detail.push_str(&format!("{ptr}: expected {want}, got {g}\n")),
                None => detail.push_str(&format!("{ptr}: expected {want}, missing\n")),
            }
        }
        detail.push('\n');
        detail.push_str(&unified_diff(
            &crate::canon::json::render(expected),
            &crate::canon::json::render(actual),
            snapshot_label,
            "actual",
        ));
        out.push(Check::fail(CheckId::Snapshot, subject, detail));
    }
    if !report.extra.is_empty() {
        let detail = format!("undocumented fields: {}", report.extra.join(", "));
        out.push(if strict {
            Check::fail(
                CheckId::UndocumentedFields,
                subject,
                detail + " (failing: --strict)",
            )
        } else {
            Check::warn(CheckId::UndocumentedFields, subject, detail)
        });
    }
    out
}

/// A unified diff with a little context, in the `--- expected / +++ actual` shape.
pub fn unified_diff(
    expected: &str,
    actual: &str,
    expected_label: &str,
    actual_label: &str,
) -> String {
    // Both sides end in exactly one newline, so the last line never differs by that alone.
    let expected = format!("{}\n", expected.trim_end_matches('\n'));
    let actual = format!("{}\n", actual.trim_end_matches('\n'));
    let diff = TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .timeout(std::time::Duration::from_millis(500))
        .diff_lines(&expected, &actual);
    let mut out = format!("--- {expected_label}\n+++ {actual_label}\n");
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&format!("{}\n", hunk.header()));
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            out.push(sign);
            out.push_str(change.value());
            if change.missing_newline() {
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fails_with_a_diff_naming_the_line() {
        let c = exact(
            "s",
            "snapshots/x.snap",
            "a\n  b\n\"c\"\n",
            "a\n  b\n\"d\"\n",
        );
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("-\"c\""), "{}", c.detail);
        assert!(c.detail.contains("+\"d\""), "{}", c.detail);
        assert_eq!(
            c.detail
                .lines()
                .filter(|l| l.starts_with(['-', '+']))
                .count(),
            4,
            "{}",
            c.detail
        );
        assert_eq!(exact("s", "x", "a\n", "a").verdict, Verdict::Pass);
    }

    #[test]
    fn content_type_ignores_parameters_but_not_type() {
        assert_eq!(
            content_type("s", "text/xml", Some("text/xml")).verdict,
            Verdict::Pass
        );
        assert_eq!(
            content_type("s", "text/xml; charset=utf-8", Some("text/xml")).verdict,
            Verdict::Pass
        );
        assert_eq!(
            content_type("s", "text/xml", Some("application/json")).verdict,
            Verdict::Fail
        );
        assert_eq!(content_type("s", "text/xml", None).verdict, Verdict::Fail);
    }

    #[test]
    fn status_and_empty_body_fail_when_they_should() {
        assert_eq!(status("s", 204, 200).verdict, Verdict::Fail);
        assert_eq!(status("s", 204, 204).verdict, Verdict::Pass);
        assert_eq!(empty_body("s", b"x", &[]).verdict, Verdict::Fail);
        assert_eq!(empty_body("s", b"", &[]).verdict, Verdict::Pass);
        let secret = "tok-secret-value".to_owned();
        let body = format!("{}{secret}", "x".repeat(295));
        let c = empty_body("s", body.as_bytes(), std::slice::from_ref(&secret));
        assert!(!c.detail.contains("tok-"), "{}", c.detail);
    }
}
