//! Response bodies against their snapshots: canonical forms, the comparison, and writing
//! a snapshot when the update mode allows it.

use super::{CaseState, Runner, redact, rel};
use crate::canon;
use crate::case::{BodyKind, Step};
use crate::compare;
use crate::response::Response;
use crate::results::{Check, CheckId, StepResult};
use crate::snapshot::{self, Update};

pub(super) enum CanonActual {
    Xml(String),
    Json(serde_json::Value),
}

impl Runner {
    pub(super) fn placeholders<'v>(&self, st: &'v CaseState<'_>) -> Vec<(&'v str, &'v str)> {
        st.case
            .file
            .placeholders
            .iter()
            .filter_map(|p| st.vars.get(p).map(|v| (v.as_str(), p.as_str())))
            .filter(|(v, _)| !v.is_empty())
            .collect()
    }

    /// The expected canonical text: the committed snapshot, or with `--as-printed` the
    /// canonical form of the documented text without errata.
    pub(super) fn expected(
        &self,
        st: &CaseState<'_>,
        snapshot_name: &str,
    ) -> Result<Option<String>, String> {
        if self.config.as_printed {
            let docs = snapshot::documented(&st.case.file);
            let doc = docs
                .iter()
                .find(|d| d.snapshot == snapshot_name)
                .ok_or_else(|| format!("no documented body for snapshot `{snapshot_name}`"))?;
            return snapshot::canonical_documented(
                st.case.family,
                &st.case.file,
                doc,
                &self.corpus.errata,
                true,
            )
            .map(Some);
        }
        snapshot::read(&snapshot::path(&self.config.snapshots, snapshot_name))
    }

    pub(super) fn snapshot_label(&self, name: &str) -> String {
        if self.config.as_printed {
            format!("documented `{name}` as printed (--as-printed)")
        } else {
            format!("snapshots/{name}.snap")
        }
    }

    /// Compares one canonical actual body with its snapshot, and writes the snapshot when
    /// the update mode allows it.
    pub(super) fn judge_canonical(
        &self,
        st: &CaseState<'_>,
        snapshot_name: &str,
        subject: &str,
        actual: Result<CanonActual, String>,
        sr: &mut StepResult,
    ) {
        let actual = match actual {
            Ok(a) => a,
            Err(e) => {
                sr.checks.push(Check::fail(CheckId::Snapshot, subject, e));
                return;
            }
        };
        let label = self.snapshot_label(snapshot_name);
        let expected = match self.expected(st, snapshot_name) {
            Ok(e) => e,
            Err(e) => {
                sr.checks.push(Check::fail(CheckId::Snapshot, subject, e));
                return;
            }
        };
        let checks = match (&expected, &actual) {
            (None, _) => vec![Check::fail(
                CheckId::Snapshot,
                subject,
                format!(
                    "{label} does not exist: run `callconform extract` on the documentation, or `callconform run --bless` against a trusted implementation"
                ),
            )],
            (Some(exp), CanonActual::Xml(text)) => vec![compare::exact(subject, &label, exp, text)],
            (Some(exp), CanonActual::Json(value)) => {
                match canon::json::parse(exp.as_bytes(), &canon::Limits::default()) {
                    Ok(exp_v) => {
                        compare::json_subset(subject, &label, &exp_v, value, self.config.strict)
                    }
                    Err(e) => vec![Check::fail(
                        CheckId::Snapshot,
                        subject,
                        format!("{label} is not JSON: {e}"),
                    )],
                }
            }
        };
        let mismatch = checks
            .iter()
            .any(|c| c.id == CheckId::Snapshot && c.verdict != compare::Verdict::Pass);
        sr.checks.extend(checks);
        if mismatch && !self.config.as_printed {
            let rendered = match &actual {
                CanonActual::Xml(t) => t.clone(),
                CanonActual::Json(v) => canon::json::render(v),
            };
            self.write_snapshot(st, snapshot_name, &rendered, sr);
        }
    }

    pub(super) fn write_snapshot(
        &self,
        st: &CaseState<'_>,
        name: &str,
        contents: &str,
        sr: &mut StepResult,
    ) {
        let path = snapshot::path(&self.config.snapshots, name);
        let (target, what) = match self.config.update {
            Update::Never => return,
            Update::Always => (path.clone(), "blessed"),
            Update::Pending => (path.with_extension("snap.new"), "pending"),
        };
        let source = rel(&self.corpus.root, &st.case.path);
        let description = format!(
            "{}: recorded from the target (`callconform run`; review with `cargo insta review`)",
            st.case.trial_name()
        );
        let text = snapshot::render_file(
            &source,
            &description,
            &redact(contents, &self.config.secrets),
        );
        match snapshot::write_atomic(&target, &text) {
            Ok(()) => sr.written.push(format!("{what}: {}", target.display())),
            Err(e) => sr.error = Some(format!("cannot write {}: {e}", target.display())),
        }
    }

    pub(super) fn check_body(
        &self,
        st: &CaseState<'_>,
        step: &Step,
        subject: &str,
        resp: &Response,
        sr: &mut StepResult,
    ) {
        let Some(snapshot_name) = step.expect.snapshot.as_deref() else {
            if step.expect.body == BodyKind::Empty {
                sr.checks.push(compare::empty_body(subject, &resp.body));
            }
            return;
        };
        let placeholders = self.placeholders(st);
        let actual = match step.expect.body {
            BodyKind::Xml => resp
                .xml_text(&placeholders)
                .map(CanonActual::Xml)
                .map_err(|e| {
                    format!(
                        "the response has no canonical XML form: {e}\nbody: {}",
                        resp.body_preview(500)
                    )
                }),
            BodyKind::Json => resp
                .json()
                .map(|v| {
                    let mut v = v.clone();
                    canon::json::apply_placeholders(&mut v, &placeholders);
                    canon::json::redact(&mut v, &step.expect.redact);
                    CanonActual::Json(v)
                })
                .map_err(|e| {
                    format!(
                        "the response is not JSON: {e}\nbody: {}",
                        resp.body_preview(500)
                    )
                }),
            BodyKind::Empty => {
                sr.checks.push(compare::empty_body(subject, &resp.body));
                return;
            }
            BodyKind::Any => return,
        };
        self.judge_canonical(st, snapshot_name, subject, actual, sr);
    }
}
