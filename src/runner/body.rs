//! Response bodies against their snapshots: canonical forms, the comparison, and writing
//! a snapshot when the update mode allows it.

use super::{CaseState, Runner, redact, rel};
use crate::canon;
use crate::case::{BodyKind, Step};
use crate::compare::{self, Prepared};
use crate::response::Response;
use crate::results::{Check, CheckId, StepResult};
use crate::snapshot::{self, Update};
use std::sync::Arc;

pub(super) enum CanonActual {
    Xml(String),
    Json(serde_json::Value),
}

/// The canonical text a snapshot records.
fn render(actual: &CanonActual) -> String {
    match actual {
        CanonActual::Xml(t) => t.clone(),
        CanonActual::Json(v) => canon::json::render(v),
    }
}

/// What the documents say of a body beyond its example: a truncated example shows a
/// subset; the declared type is where the type model starts.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Shape<'s> {
    pub truncated: bool,
    pub root_type: Option<&'s str>,
}

impl Runner {
    /// Live values and the placeholder each becomes in both canonical forms; a value that
    /// percent-encoding changes (a call id holding `/`) is also replaced in its encoded form,
    /// as it appears in a `resourceUrl`.
    pub(super) fn placeholders(&self, st: &CaseState<'_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for p in &st.case.file.placeholders {
            let Some(v) = st.vars.get(p).filter(|v| !v.is_empty()) else {
                continue;
            };
            let encoded = crate::template::encode_segment(v);
            if encoded != *v {
                out.push((encoded, p.clone()));
            }
            out.push((v.clone(), p.clone()));
        }
        out
    }

    /// The expected form of a snapshot: read ahead for this case, else read and prepared now.
    pub(super) fn expected(
        &self,
        st: &CaseState<'_>,
        snapshot_name: &str,
        kind: BodyKind,
    ) -> Result<Option<Arc<Prepared>>, String> {
        if let Some((_, p)) = st.expected.iter().find(|(n, _)| n == snapshot_name) {
            return Ok(Some(p.clone()));
        }
        self.read_snapshot(st.case, snapshot_name, kind)
    }

    /// Reads and prepares one expected form: the snapshot file, or under `--as-printed` the
    /// documented body as printed. `Ok(None)`: the snapshot file does not exist.
    pub(super) fn read_snapshot(
        &self,
        case: &crate::case::Case,
        snapshot_name: &str,
        kind: BodyKind,
    ) -> Result<Option<Arc<Prepared>>, String> {
        let text = if self.config.as_printed {
            let docs = snapshot::documented(&case.file);
            let doc = docs
                .iter()
                .find(|d| d.snapshot == snapshot_name)
                .ok_or_else(|| format!("no documented body for snapshot `{snapshot_name}`"))?;
            snapshot::canonical_documented(case.family, &case.file, doc, &self.corpus.errata, true)?
        } else {
            match snapshot::read(&snapshot::path(&self.config.snapshots, snapshot_name))? {
                Some(t) => t,
                None => return Ok(None),
            }
        };
        crate::corpus::prepare(&text, kind).map(|p| Some(Arc::new(p)))
    }

    pub(super) fn snapshot_label(&self, name: &str) -> String {
        if self.config.as_printed {
            format!("documented `{name}` as printed (--as-printed)")
        } else {
            format!("snapshots/{name}.snap")
        }
    }

    /// Judges one canonical answer against its snapshot by the case's contract, and writes
    /// the snapshot when it fails and the update mode allows it.
    pub(super) fn judge_canonical(
        &self,
        st: &CaseState<'_>,
        snapshot_name: &str,
        subject: &str,
        actual: Result<CanonActual, String>,
        shape: Shape<'_>,
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
        let kind = match actual {
            CanonActual::Xml(_) => BodyKind::Xml,
            CanonActual::Json(_) => BodyKind::Json,
        };
        let expected = match self.expected(st, snapshot_name, kind) {
            Ok(Some(e)) => e,
            // `--bless` records a snapshot the corpus lacks; otherwise it is the corpus's error.
            Ok(None) if self.config.update != Update::Never && !self.config.as_printed => {
                self.write_snapshot(st, snapshot_name, &render(&actual), sr);
                if self.config.update == Update::Pending {
                    sr.checks.push(Check::fail(
                        CheckId::Snapshot,
                        subject,
                        format!("{label} does not exist; the answer is pending review"),
                    ));
                }
                return;
            }
            Ok(None) => {
                let msg = snapshot::missing_message(snapshot_name, &st.case.trial_name());
                sr.checks
                    .push(Check::fail(CheckId::Snapshot, subject, msg.clone()));
                sr.error = Some(msg);
                sr.corpus_error = true;
                return;
            }
            // Under --as-printed, a page's body that is no JSON as printed cannot be the
            // expected form: a failure of the check, as the page is what is being judged.
            Err(e) if self.config.as_printed => {
                sr.checks.push(Check::fail(CheckId::Snapshot, subject, e));
                return;
            }
            Err(e) => {
                sr.checks
                    .push(Check::fail(CheckId::Snapshot, subject, e.clone()));
                sr.error = Some(e);
                sr.corpus_error = true;
                return;
            }
        };
        let opts = compare::JudgeOptions {
            strict: self.config.strict,
            exact_values: self.config.exact_values,
            truncated: shape.truncated,
            root_type: shape.root_type,
        };
        let contract = self.corpus.contract_for(st.case);
        let view = match &actual {
            CanonActual::Xml(t) => compare::Actual::Xml(t),
            CanonActual::Json(v) => compare::Actual::Json(v),
        };
        let checks = compare::judge(
            subject,
            &label,
            &expected,
            view,
            &contract,
            &self.reasons,
            &opts,
        );
        let mismatch = checks
            .iter()
            .any(|c| c.id == CheckId::Snapshot && c.verdict == compare::Verdict::Fail);
        sr.checks.extend(checks);
        if mismatch && !self.config.as_printed {
            self.write_snapshot(st, snapshot_name, &render(&actual), sr);
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
                sr.checks.push(compare::empty_body(
                    subject,
                    &resp.body,
                    &self.config.secrets,
                ));
            }
            return;
        };
        let owned = self.placeholders(st);
        let placeholders: Vec<(&str, &str)> = owned
            .iter()
            .map(|(v, p)| (v.as_str(), p.as_str()))
            .collect();
        let actual = match step.expect.body {
            BodyKind::Xml => resp
                .xml_text(&placeholders)
                .map(CanonActual::Xml)
                .map_err(|e| {
                    format!(
                        "the response has no canonical XML form: {e}\nbody: {}",
                        crate::response::preview_redacted(&resp.body, 500, &self.config.secrets)
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
                        crate::response::preview_redacted(&resp.body, 500, &self.config.secrets)
                    )
                }),
            BodyKind::Empty => {
                sr.checks.push(compare::empty_body(
                    subject,
                    &resp.body,
                    &self.config.secrets,
                ));
                return;
            }
            BodyKind::Any => return,
        };
        self.judge_canonical(
            st,
            snapshot_name,
            subject,
            actual,
            Shape {
                truncated: step.expect.truncated,
                root_type: step.expect.ty.as_deref(),
            },
            sr,
        );
    }
}
