//! Known failures (`--expect known.toml`): a target that is known not to conform in some
//! listed way can still gate CI on *new* failures. Each entry names a case, says it is
//! expected to fail, why, and which checks fail. Only those checks are absorbed: any other
//! failing check fails the case, so a failure that changes shape is never hidden:
//!
//! ```toml
//! ["um::get-call-info"]
//! result = "fail"
//! reason = "our server omits EventCause (TICKET-12)"
//! check = "snapshot"        # a check id, or a list: check = ["snapshot", "status"]
//! ```
//!
//! Only check failures can be expected: a target that cannot be reached, or a case that
//! cannot be run, always fails the run, so a listed case can never hide an outage.
//!
//! An entry can instead silence known notes (a documented value other than the example's
//! that this target always sends): the case still passes, and the notes of the listed
//! checks are no longer shown. A note entry never absorbs a failure:
//!
//! ```toml
//! ["graph::delete-call"]
//! result = "note"
//! reason = "our bot ends calls itself: resultInfo 200/7000"
//! check = "snapshot"
//! ```

pub use crate::results::Judgement;
use crate::results::{CaseResult, CheckId, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Largest expectations file read; anything bigger is not hand-written.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// What an entry declares; an enum so `result = "pass"` is a parse error naming the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedResult {
    /// The listed checks fail; only they are absorbed.
    Fail,
    /// The listed checks pass with notes; those notes are known and not shown.
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub result: ExpectedResult,
    pub reason: String,
    /// The checks that fail (`snapshot`, `status`, ...): only these are absorbed.
    pub check: CheckNames,
}

/// One check id or a list of them, as written in the file; unknown names are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CheckNames {
    One(String),
    Many(Vec<String>),
}

impl CheckNames {
    fn names(&self) -> &[String] {
        match self {
            CheckNames::One(n) => std::slice::from_ref(n),
            CheckNames::Many(v) => v,
        }
    }

    /// The ids, or an error naming the unknown one and the known ones.
    pub fn ids(&self) -> Result<BTreeSet<CheckId>, String> {
        let mut out = BTreeSet::new();
        for n in self.names() {
            match CheckId::parse(n.trim()) {
                Some(id) => {
                    out.insert(id);
                }
                None => {
                    let known: Vec<&str> = CheckId::ALL.iter().map(|c| c.name()).collect();
                    return Err(format!(
                        "`check = \"{n}\"` is no check; known checks: {}",
                        known.join(", ")
                    ));
                }
            }
        }
        if out.is_empty() {
            return Err("`check` is empty; name the failing check".into());
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Case name (`family::name`) → expectation.
    pub entries: BTreeMap<String, Expected>,
    /// Case name → the parsed check ids of its entry.
    checks: BTreeMap<String, BTreeSet<CheckId>>,
    /// The file they came from, as given, for messages.
    pub file: String,
}

impl Expectations {
    /// Looks up one case; `None` when it is not listed.
    pub fn get(&self, case_name: &str) -> Option<&Expected> {
        self.entries.get(case_name)
    }

    pub fn judge(&self, result: &CaseResult) -> Judgement {
        let plain = Judgement::from_outcome(&result.outcome);
        let Some(exp) = self.entries.get(&result.name) else {
            return plain;
        };
        if exp.result == ExpectedResult::Note {
            return self.judge_notes(result, exp);
        }
        match &result.outcome {
            Outcome::Ignored(_) => Judgement::Ignored,
            Outcome::Passed => Judgement::UnexpectedPass {
                reason: exp.reason.clone(),
                note: format!("unexpectedly passed: remove it from {}", self.file),
            },
            Outcome::Unreachable(_) => Judgement::Fail {
                note: Some(format!(
                    "listed in {} as failing, but an unreachable target is never expected",
                    self.file
                )),
            },
            Outcome::Error(_) => Judgement::Fail {
                note: Some(format!(
                    "listed in {} as failing, but a case that cannot run is never expected",
                    self.file
                )),
            },
            Outcome::Failed => {
                let want = self.checks.get(&result.name).cloned().unwrap_or_default();
                let failing: BTreeSet<CheckId> = result.failing_check_ids().into_iter().collect();
                let surprise: Vec<String> = failing
                    .difference(&want)
                    .map(|c| format!("`{c}`"))
                    .collect();
                if !failing.is_empty() && surprise.is_empty() {
                    return Judgement::ExpectedFail {
                        reason: exp.reason.clone(),
                    };
                }
                let listed: Vec<String> = want.iter().map(|c| format!("`{c}`")).collect();
                let now = if failing.is_empty() {
                    "a step error, no failing check".to_owned()
                } else {
                    format!("also {}", surprise.join(", "))
                };
                Judgement::Fail {
                    note: Some(format!(
                        "the failure changed: {} expects {} to fail ({}), but the case fails {now}",
                        self.file,
                        listed.join(", "),
                        exp.reason
                    )),
                }
            }
        }
    }

    /// A `result = "note"` entry: silences the notes of its checks on a passing case, and
    /// leaves every other outcome to its plain verdict (saying why for a failure).
    fn judge_notes(&self, result: &CaseResult, exp: &Expected) -> Judgement {
        let want = self.checks.get(&result.name).cloned().unwrap_or_default();
        match &result.outcome {
            Outcome::Passed => {
                let known: Vec<CheckId> = result
                    .noted_check_ids()
                    .into_iter()
                    .filter(|c| want.contains(c))
                    .collect();
                if known.is_empty() {
                    Judgement::Pass
                } else {
                    Judgement::KnownNotes {
                        reason: exp.reason.clone(),
                        checks: known,
                    }
                }
            }
            Outcome::Ignored(_) => Judgement::Ignored,
            _ => Judgement::Fail {
                note: Some(format!(
                    "listed in {} for known notes ({}); a note entry never absorbs a failure",
                    self.file, exp.reason
                )),
            },
        }
    }

    /// Note entries whose case passed without any note of the listed checks: stale, worth
    /// a warning (they do not fail the run: notes never do).
    pub fn unused_note_entries(&self, results: &[CaseResult]) -> Vec<String> {
        results
            .iter()
            .filter(|r| r.outcome == Outcome::Passed)
            .filter(|r| {
                self.entries
                    .get(&r.name)
                    .is_some_and(|e| e.result == ExpectedResult::Note)
            })
            .filter(|r| self.judge(r) == Judgement::Pass)
            .map(|r| {
                format!(
                    "{} lists known notes for `{}`, which passed without them: remove the entry",
                    self.file, r.name
                )
            })
            .collect()
    }

    /// Judgements for a whole run, keyed by case name: `RunSummary::judgements`.
    pub fn judge_all(&self, results: &[CaseResult]) -> BTreeMap<String, Judgement> {
        results
            .iter()
            .map(|r| (r.name.clone(), self.judge(r)))
            .collect()
    }

    /// Listed cases that the corpus does not have (renamed or deleted): worth a warning.
    pub fn names_not_in<S: AsRef<str>>(&self, all_case_names: &[S]) -> Vec<String> {
        let known: BTreeSet<&str> = all_case_names.iter().map(|s| s.as_ref()).collect();
        self.entries
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .cloned()
            .collect()
    }
}

/// Reads and validates an expectations file. Errors name the file, line and key.
pub fn load(path: &Path) -> Result<Expectations, String> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{shown}: {} bytes, over the {MAX_FILE} byte limit",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    parse(&shown, &text)
}

/// [`load`] without the file system; `file` is used in messages.
pub fn parse(file: &str, text: &str) -> Result<Expectations, String> {
    let entries: BTreeMap<String, Expected> = toml::from_str(text)
        .map_err(|e| format!("{file}: {}", crate::diag::toml_error(text, &e)))?;
    let mut checks = BTreeMap::new();
    for (name, e) in &entries {
        if !name.contains("::") {
            return Err(format!(
                "{file}: `{name}` is not a case name (expected `family::name`, e.g. `um::disconnect`)"
            ));
        }
        if e.reason.trim().is_empty() {
            return Err(format!(
                "{file}: `{name}`: `reason` is empty; say why it fails"
            ));
        }
        let ids = e
            .check
            .ids()
            .map_err(|m| format!("{file}: `{name}`: {m}"))?;
        checks.insert(name.clone(), ids);
    }
    Ok(Expectations {
        entries,
        checks,
        file: file.to_owned(),
    })
}

/// A starting expectations file from the current failures (`--write-expectations`).
/// Deterministic: sorted by case name, no dates, so rewriting it gives no diff.
/// Only `Failed` outcomes are written: unreachable and broken cases are never expected.
pub fn write(results: &[CaseResult]) -> String {
    let mut entries: BTreeMap<&str, Expected> = BTreeMap::new();
    for r in results.iter().filter(|r| r.outcome == Outcome::Failed) {
        entries.insert(
            &r.name,
            Expected {
                result: ExpectedResult::Fail,
                reason: "recorded by --write-expectations".to_owned(),
                check: match r.failing_check_ids().as_slice() {
                    [one] => CheckNames::One(one.name().to_owned()),
                    many => CheckNames::Many(many.iter().map(|c| c.name().to_owned()).collect()),
                },
            },
        );
    }
    let mut out = String::from(
        "# Known failures: cases listed here may fail without failing the run.\n\
         # Replace each reason with why it fails (a ticket), and delete entries once fixed.\n",
    );
    for (name, e) in &entries {
        out.push('\n');
        out.push_str(&format!("[{}]\n", toml_string(name)));
        out.push_str("result = \"fail\"\n");
        out.push_str(&format!("reason = {}\n", toml_string(&e.reason)));
        match &e.check {
            CheckNames::One(c) => out.push_str(&format!("check = {}\n", toml_string(c))),
            CheckNames::Many(v) => {
                let list: Vec<String> = v.iter().map(|c| toml_string(c)).collect();
                out.push_str(&format!("check = [{}]\n", list.join(", ")));
            }
        }
    }
    out
}

/// A TOML basic string with the escapes TOML requires.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Check, StepResult};
    use std::time::Duration;

    fn case(name: &str, outcome: Outcome, checks: Vec<Check>) -> CaseResult {
        let mut step = StepResult::new("step", false);
        step.checks = checks;
        CaseResult {
            name: name.to_owned(),
            family: name.split("::").next().unwrap_or("um").to_owned(),
            file: format!("cases/{name}.toml"),
            operation: "Op".into(),
            tags: vec![],
            outcome,
            steps: vec![step],
            duration: Duration::ZERO,
        }
    }

    fn failed(name: &str, check: &str) -> CaseResult {
        failing(name, &[check])
    }

    fn failing(name: &str, checks: &[&str]) -> CaseResult {
        let mut all = vec![Check::pass(CheckId::Status, "s")];
        for c in checks {
            let id = CheckId::parse(c).expect("a known check id");
            all.push(Check::fail(id, "s", "diff"));
        }
        case(name, Outcome::Failed, all)
    }

    const FILE: &str = r#"
["um::get-call-info"]
result = "fail"
reason = "omits EventCause (TICKET-12)"
check = "snapshot"

["um::disconnect"]
result = "fail"
reason = "TICKET-13"
check = ["status", "empty-body"]
"#;

    fn exp() -> Expectations {
        parse("known.toml", FILE).expect("parses")
    }

    #[test]
    fn unlisted_cases_keep_their_plain_verdict() {
        let e = exp();
        assert_eq!(
            e.judge(&case("um::other", Outcome::Passed, vec![])),
            Judgement::Pass
        );
        assert_eq!(
            e.judge(&failed("um::other", "status")),
            Judgement::Fail { note: None }
        );
        assert_eq!(
            e.judge(&case("um::other", Outcome::Ignored("no".into()), vec![])),
            Judgement::Ignored
        );
        assert!(!Judgement::Ignored.fails_run());
        assert!(Judgement::Fail { note: None }.fails_run());
    }

    #[test]
    fn listed_failure_is_expected() {
        let e = exp();
        let j = e.judge(&failed("um::disconnect", "status"));
        assert_eq!(
            j,
            Judgement::ExpectedFail {
                reason: "TICKET-13".into()
            }
        );
        assert!(!j.fails_run());
        let j = e.judge(&failed("um::get-call-info", "snapshot"));
        assert!(matches!(j, Judgement::ExpectedFail { .. }), "{j:?}");
    }

    #[test]
    fn listed_pass_is_an_unexpected_pass() {
        let j = exp().judge(&case("um::disconnect", Outcome::Passed, vec![]));
        match &j {
            Judgement::UnexpectedPass { reason, note } => {
                assert_eq!(reason, "TICKET-13");
                assert_eq!(note, "unexpectedly passed: remove it from known.toml");
            }
            other => panic!("{other:?}"),
        }
        assert!(j.fails_run());
    }

    #[test]
    fn a_different_failing_check_is_a_changed_failure() {
        let j = exp().judge(&failed("um::get-call-info", "status"));
        match &j {
            Judgement::Fail { note: Some(n) } => {
                assert!(n.contains("failure changed"), "{n}");
                assert!(n.contains("`snapshot`") && n.contains("`status`"), "{n}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_additional_failing_check_is_not_absorbed() {
        let e = exp();
        let j = e.judge(&failing("um::get-call-info", &["snapshot", "content-type"]));
        match &j {
            Judgement::Fail { note: Some(n) } => assert!(n.contains("also `content-type`"), "{n}"),
            other => panic!("{other:?}"),
        }
        let j = e.judge(&failing("um::disconnect", &["status", "empty-body"]));
        assert!(matches!(j, Judgement::ExpectedFail { .. }), "{j:?}");
    }

    #[test]
    fn check_names_are_ids() {
        let text = "[\"um::x\"]\nresult = \"fail\"\nreason = \"r\"\ncheck = \"snapshto\"\n";
        let err = parse("known.toml", text).unwrap_err();
        assert!(
            err.contains("snapshto") && err.contains("known checks: status"),
            "{err}"
        );
        let text = "[\"um::x\"]\nresult = \"fail\"\nreason = \"r\"\n";
        let err = parse("known.toml", text).unwrap_err();
        assert!(err.contains("check"), "{err}");
        let text = "[\"um::x\"]\nresult = \"fail\"\nreason = \"r\"\ncheck = []\n";
        assert!(parse("known.toml", text).unwrap_err().contains("empty"));
    }

    #[test]
    fn unreachable_and_errors_are_never_expected() {
        let e = exp();
        for o in [
            Outcome::Unreachable("refused".into()),
            Outcome::Error("missing var".into()),
        ] {
            let j = e.judge(&case("um::disconnect", o, vec![]));
            assert!(matches!(j, Judgement::Fail { note: Some(_) }), "{j:?}");
        }
        let j = e.judge(&case(
            "um::disconnect",
            Outcome::Ignored("x".into()),
            vec![],
        ));
        assert_eq!(j, Judgement::Ignored);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "[\"um::x\"]\nresult = \"fail\"\nreason = \"r\"\nchek = \"status\"\n";
        let err = parse("known.toml", text).unwrap_err();
        assert!(err.contains("chek"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.starts_with("known.toml: "), "{err}");
    }

    #[test]
    fn result_must_be_fail_and_reason_given() {
        let err = parse(
            "k",
            "[\"um::x\"]\nresult = \"pass\"\nreason = \"r\"\ncheck = \"status\"\n",
        )
        .unwrap_err();
        assert!(err.contains("line 2") && err.contains("pass"), "{err}");
        let err = parse("k", "[\"um::x\"]\nresult = \"fail\"\n").unwrap_err();
        assert!(err.contains("reason"), "{err}");
        let err = parse(
            "k",
            "[\"um::x\"]\nresult = \"fail\"\nreason = \" \"\ncheck = \"status\"\n",
        )
        .unwrap_err();
        assert!(err.contains("reason"), "{err}");
        let err = parse(
            "k",
            "[x]\nresult = \"fail\"\nreason = \"r\"\ncheck = \"status\"\n",
        )
        .unwrap_err();
        assert!(err.contains("not a case name"), "{err}");
    }

    #[test]
    fn names_not_in_lists_stale_entries() {
        let e = exp();
        assert_eq!(
            e.names_not_in(&["um::disconnect", "graph::delete-call"]),
            vec!["um::get-call-info".to_owned()]
        );
    }

    #[test]
    fn write_round_trips_and_is_sorted() {
        let results = vec![
            failed("um::zeta", "snapshot"),
            case("um::passes", Outcome::Passed, vec![]),
            case("um::down", Outcome::Unreachable("x".into()), vec![]),
            failed("graph::alpha \"q\"", "status"),
        ];
        let text = write(&results);
        assert_eq!(text, write(&results), "deterministic");
        let back = parse("w", &text).expect("written file parses");
        let names: Vec<&String> = back.entries.keys().collect();
        assert_eq!(names, ["graph::alpha \"q\"", "um::zeta"]);
        assert!(text.find("graph::alpha") < text.find("um::zeta"));
        assert_eq!(
            back.entries["um::zeta"].check,
            CheckNames::One("snapshot".into())
        );
        // Re-judging the same results with the written file passes the run.
        for r in &results {
            assert!(
                !back.judge(r).fails_run() || r.name == "um::down",
                "{}",
                r.name
            );
        }
    }

    fn noted(name: &str, ids: &[CheckId]) -> CaseResult {
        let mut checks = vec![Check::pass(CheckId::Status, "s")];
        for id in ids {
            checks.push(Check::note(
                *id,
                "s",
                vec!["a documented other value".into()],
            ));
        }
        case(name, Outcome::Passed, checks)
    }

    const NOTES: &str = r#"
["graph::delete-call"]
result = "note"
reason = "our bot ends calls: 200/7000"
check = "snapshot"
"#;

    #[test]
    fn a_note_entry_silences_the_listed_checks_notes_only() {
        let e = parse("known.toml", NOTES).expect("parses");
        let r = noted("graph::delete-call", &[CheckId::Snapshot]);
        let j = e.judge(&r);
        assert_eq!(
            j,
            Judgement::KnownNotes {
                reason: "our bot ends calls: 200/7000".into(),
                checks: vec![CheckId::Snapshot],
            }
        );
        assert!(!j.fails_run());
        assert_eq!(r.notes_shown(&j).count(), 0);
        assert_eq!(r.notes().count(), 1, "the note is still in the results");
        // A note on another check stays shown.
        let r = noted(
            "graph::delete-call",
            &[CheckId::Snapshot, CheckId::NotificationOrder],
        );
        let j = e.judge(&r);
        let shown: Vec<CheckId> = r.notes_shown(&j).map(|(c, _)| c.id).collect();
        assert_eq!(shown, vec![CheckId::NotificationOrder]);
        // Unlisted cases keep their notes.
        let r = noted("graph::other", &[CheckId::Snapshot]);
        assert_eq!(e.judge(&r), Judgement::Pass);
        assert_eq!(r.notes_shown(&Judgement::Pass).count(), 1);
    }

    #[test]
    fn a_note_entry_never_absorbs_a_failure_and_stale_ones_are_named() {
        let e = parse("known.toml", NOTES).expect("parses");
        let j = e.judge(&failed("graph::delete-call", "snapshot"));
        match &j {
            Judgement::Fail { note: Some(n) } => {
                assert!(n.contains("never absorbs a failure"), "{n}")
            }
            other => panic!("{other:?}"),
        }
        let clean = case("graph::delete-call", Outcome::Passed, vec![]);
        assert_eq!(e.judge(&clean), Judgement::Pass);
        let stale = e.unused_note_entries(&[clean]);
        assert_eq!(stale.len(), 1);
        assert!(stale[0].contains("graph::delete-call"), "{stale:?}");
        let live = e.unused_note_entries(&[noted("graph::delete-call", &[CheckId::Snapshot])]);
        assert!(live.is_empty(), "{live:?}");
        // Note entries name checks like fail entries do.
        let bad = NOTES.replace("\"snapshot\"", "\"snapshto\"");
        assert!(parse("k", &bad).unwrap_err().contains("snapshto"));
    }
}
