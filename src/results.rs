//! What a run produces, as plain data: check verdicts, step and case results, and the
//! judgement once expectations apply. This module imports nothing of the project's own, so
//! the runner writes these types, the reporters only read them, and neither depends on
//! the other.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Declares the check ids once: the enum, its stable kebab-case names and the list of all.
macro_rules! check_ids {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// A named documented rule. The name is stable: expectations files and reports use it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum CheckId {
            $($(#[doc = $doc])* $variant,)*
        }

        impl CheckId {
            /// Every check, in the order the README lists them.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant,)*];

            /// The stable kebab-case name (`snapshot`, `notification-order`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $name,)*
                }
            }

            /// Parses a name as written in an expectations file.
            pub fn parse(name: &str) -> Option<CheckId> {
                match name {
                    $($name => Some(CheckId::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

check_ids! {
    /// The HTTP status equals the documented one.
    Status => "status",
    /// The media type equals the documented one (parameters aside).
    ContentType => "content-type",
    /// A documented empty response has no body.
    EmptyBody => "empty-body",
    /// The canonical body (or notification) equals the documented snapshot.
    Snapshot => "snapshot",
    /// Fields the documents do not show (reported; failing only under `--strict`).
    UndocumentedFields => "undocumented-fields",
    /// A live value a later step needs could be taken from the response.
    Capture => "capture",
    /// Every expected notification arrived before the deadline.
    NotificationDeadline => "notification-deadline",
    /// Notifications arrived in the documented order.
    NotificationOrder => "notification-order",
    /// Nothing arrived after the last documented notification.
    NothingAfterLast => "nothing-after-last",
    /// `changeType` agrees with the call state (`deleted` for terminated, ...).
    ChangeTypeMatchesState => "change-type-matches-state",
    /// The notification's `resourceUrl` names the call the case acts on.
    ResourceUrlNamesCall => "resource-url-names-call",
    /// The resultInfo code/subcode pair is a row of the documented call-end reason table.
    ResultInfoDocumented => "result-info-documented",
    /// resultInfo code and subcode, where present, are Int32, as the schema says (which are present is the snapshot's to judge).
    ResultInfoType => "result-info-type",
    /// The notification carries the expected bearer token.
    NotificationAuthorization => "notification-authorization",
    /// The notification is sent as `application/json`.
    NotificationContentType => "notification-content-type",
    /// The notification body is a JSON `commsNotifications` object.
    NotificationJson => "notification-json",
    /// The notification arrived on the callback of the case whose call it names.
    NotificationCallback => "notification-callback",
    /// A live resource reached its documented state by way of documented states only.
    StateProgress => "state-progress",
    /// A value the example shows in two places (an id in a path and a body, a `clientContext` sent and echoed) is the same in the answer.
    Relation => "relation",
    /// An operation's resultInfo agrees with its status (`completed` reports no failure, `failed` no success).
    OperationResult => "operation-result",
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Reported, but only fails the case under `--strict` (undocumented extra fields).
    Warn,
    /// Passed, with a documented difference from the example worth knowing (another value
    /// of an enumerated set, other prose); a failure under `--exact-values`.
    Note,
}

/// One check applied to one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    #[serde(rename = "name")]
    pub id: CheckId,
    /// What it was applied to: a step, or `step › notification`.
    pub subject: String,
    pub verdict: Verdict,
    /// Expected/actual or a diff; empty on pass.
    pub detail: String,
    /// One line each: how the answer differs from the example within the documents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Check {
    pub fn pass(id: CheckId, subject: &str) -> Check {
        Check::with(id, subject, Verdict::Pass, String::new())
    }
    pub fn fail(id: CheckId, subject: &str, detail: impl Into<String>) -> Check {
        Check::with(id, subject, Verdict::Fail, detail.into())
    }
    pub fn warn(id: CheckId, subject: &str, detail: impl Into<String>) -> Check {
        Check::with(id, subject, Verdict::Warn, detail.into())
    }
    /// A pass with notes; a plain pass when there are none.
    pub fn note(id: CheckId, subject: &str, notes: Vec<String>) -> Check {
        if notes.is_empty() {
            return Check::pass(id, subject);
        }
        Check {
            notes,
            ..Check::with(id, subject, Verdict::Note, String::new())
        }
    }
    pub fn from_bool(
        id: CheckId,
        subject: &str,
        ok: bool,
        detail: impl FnOnce() -> String,
    ) -> Check {
        if ok {
            Check::pass(id, subject)
        } else {
            Check::fail(id, subject, detail())
        }
    }
    fn with(id: CheckId, subject: &str, verdict: Verdict, detail: String) -> Check {
        Check {
            id,
            subject: subject.to_owned(),
            verdict,
            detail,
            notes: Vec::new(),
        }
    }
    /// The stable name of the rule.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
}

/// How running a case ended, before any expectations apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "reason", rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// A check failed.
    Failed,
    /// The target could not be reached at all (connection refused, DNS, TLS).
    Unreachable(String),
    /// The case could not be run as written (missing variable, broken snapshot file).
    Error(String),
    /// Not run, with the reason (e.g. no target for this family).
    Ignored(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: String,
    pub setup: bool,
    pub request: Option<RequestRecord>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub response_preview: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    pub elapsed: Duration,
    pub checks: Vec<Check>,
    /// Why the step could not be judged (transport error, render error).
    pub error: Option<String>,
    /// The error is the corpus's, not the target's (a request that cannot be rendered, a
    /// snapshot missing or unreadable): the case is an error (exit 2), not a failure.
    #[serde(skip)]
    pub corpus_error: bool,
    /// Snapshot files written by this step (`--bless` or pending `.snap.new`).
    pub written: Vec<String>,
    /// Notifications this step received, in arrival order.
    pub notifications: Vec<NotificationRecord>,
    /// The documented alternative outcome the notifications satisfied, when not the
    /// step's own list (`transfer-failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// A progressing step's answers, in order (`Connecting`, `Alerted`, `Connected`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<Observed>,
    /// Expectations not checked, with the reason (a notification another party causes,
    /// and the target names no trigger for it): neither passed nor failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

/// One answer of a progressing step: the state it held and when.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    /// Milliseconds after the step's first request was sent.
    pub after_ms: f64,
    pub value: String,
}

/// One notification as it arrived: its order in the run, its state and when it came.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRecord {
    pub seq: u64,
    /// `(index, count)` when the entry came batched with others in one POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<(usize, usize)>,
    pub state: Option<String>,
    /// Milliseconds after the step's request was sent.
    pub after_ms: f64,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl StepResult {
    pub fn new(name: &str, setup: bool) -> Self {
        StepResult {
            name: name.to_owned(),
            setup,
            request: None,
            status: None,
            content_type: None,
            response_preview: None,
            elapsed: Duration::ZERO,
            checks: Vec::new(),
            error: None,
            corpus_error: false,
            written: Vec::new(),
            notifications: Vec::new(),
            outcome: None,
            progress: Vec::new(),
            ignored: Vec::new(),
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some() || self.checks.iter().any(|c| c.verdict == Verdict::Fail)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// `{family}::{name}`
    pub name: String,
    pub family: String,
    pub file: String,
    /// The documented operation (api_name), for the conformance matrix.
    pub operation: String,
    pub tags: Vec<String>,
    pub outcome: Outcome,
    pub steps: Vec<StepResult>,
    #[serde(serialize_with = "ser_ms")]
    pub duration: Duration,
}

impl CaseResult {
    pub fn failed_checks(&self) -> impl Iterator<Item = (&StepResult, &Check)> {
        self.steps.iter().flat_map(|s| {
            s.checks
                .iter()
                .filter(|c| c.verdict == Verdict::Fail)
                .map(move |c| (s, c))
        })
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Check> {
        self.steps
            .iter()
            .flat_map(|s| s.checks.iter().filter(|c| c.verdict == Verdict::Warn))
    }

    /// Every note of a passing check, with the check it belongs to, in order.
    pub fn notes(&self) -> impl Iterator<Item = (&Check, &str)> {
        self.steps.iter().flat_map(|s| {
            s.checks
                .iter()
                .filter(|c| c.verdict == Verdict::Note)
                .flat_map(|c| c.notes.iter().map(move |n| (c, n.as_str())))
        })
    }

    /// The notes left once an expectation has silenced the known ones.
    pub fn notes_shown<'a>(
        &'a self,
        judgement: &'a Judgement,
    ) -> impl Iterator<Item = (&'a Check, &'a str)> {
        self.notes().filter(move |(c, _)| match judgement {
            Judgement::KnownNotes { checks, .. } => !checks.contains(&c.id),
            _ => true,
        })
    }

    /// The ids of the checks that carry notes, each once, in order.
    pub fn noted_check_ids(&self) -> Vec<CheckId> {
        let mut out: Vec<CheckId> = Vec::new();
        for (c, _) in self.notes() {
            if !out.contains(&c.id) {
                out.push(c.id);
            }
        }
        out
    }

    /// The ids of the failing checks, each once, in the order they failed.
    pub fn failing_check_ids(&self) -> Vec<CheckId> {
        let mut out: Vec<CheckId> = Vec::new();
        for (_, c) in self.failed_checks() {
            if !out.contains(&c.id) {
                out.push(c.id);
            }
        }
        out
    }
}

/// What a case result means once the expectations are applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Judgement {
    /// Passed (with or without notes).
    Pass,
    /// Passed; the notes of these checks are listed as known (`result = "note"`) and not
    /// shown as notes.
    KnownNotes {
        reason: String,
        checks: Vec<CheckId>,
    },
    /// A failure that fails the run. `note` says why an expectation did not cover it.
    Fail {
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Listed, and failed as listed: does not fail the run.
    ExpectedFail {
        reason: String,
    },
    /// Listed but passed: fails the run, so stale entries get removed.
    UnexpectedPass {
        reason: String,
        note: String,
    },
    Ignored,
}

impl Judgement {
    /// The verdict without expectations: what a plain run reports.
    pub fn from_outcome(outcome: &Outcome) -> Judgement {
        match outcome {
            Outcome::Passed => Judgement::Pass,
            Outcome::Ignored(_) => Judgement::Ignored,
            _ => Judgement::Fail { note: None },
        }
    }

    /// True when this case makes the run nonconformant.
    pub fn fails_run(&self) -> bool {
        matches!(
            self,
            Judgement::Fail { .. } | Judgement::UnexpectedPass { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for id in CheckId::ALL {
            assert_eq!(CheckId::parse(id.name()), Some(*id));
            assert!(seen.insert(id.name()), "duplicate name {}", id.name());
            assert!(
                id.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{} is not kebab-case",
                id.name()
            );
        }
        assert_eq!(CheckId::parse("snapshto"), None);
    }
}
