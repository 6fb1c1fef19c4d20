//! Runs one case: set-up steps (status and captures only), then the documented steps with
//! every check, producing a [`CaseResult`]. Data flows one way; nothing here prints.

use crate::canon;
use crate::case::{BodyKind, Case, Corpus, Family, Step};
use crate::compare;
use crate::errata::Part;
use crate::listener::{Listener, Received};
use crate::protocol::{self, EndReasons};
use crate::report::{CaseResult, Outcome, RequestRecord, StepResult};
use crate::request::{PreparedRequest, Target, Transport, TransportError};
use crate::response::Response;
use crate::results::{Check, CheckId};
use crate::snapshot::{self, Update};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub targets: BTreeMap<Family, Target>,
    /// Families not run, with the reason shown as "ignored".
    pub skipped: BTreeMap<Family, String>,
    /// `--var` overrides (over documented defaults, under captures).
    pub vars: BTreeMap<String, String>,
    pub snapshots: PathBuf,
    pub update: Update,
    pub as_printed: bool,
    pub strict: bool,
    pub notification_timeout: Duration,
    /// Quiet period after the last expected notification, to catch extra ones.
    pub settle: Duration,
    pub expected_notify_token: Option<String>,
    /// Values redacted from every output.
    pub secrets: Vec<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            targets: BTreeMap::new(),
            skipped: BTreeMap::new(),
            vars: BTreeMap::new(),
            snapshots: PathBuf::from("snapshots"),
            update: Update::Never,
            as_printed: false,
            strict: false,
            notification_timeout: Duration::from_secs(5),
            settle: Duration::from_millis(250),
            expected_notify_token: None,
            secrets: Vec::new(),
        }
    }
}

pub struct Runner {
    pub corpus: Arc<Corpus>,
    pub config: RunConfig,
    pub transport: Arc<dyn Transport>,
    pub listener: Option<Arc<Listener>>,
    pub reasons: EndReasons,
}

struct CaseState<'c> {
    case: &'c Case,
    vars: BTreeMap<String, String>,
    /// Notifications already consumed, per call id.
    cursors: HashMap<String, usize>,
}

impl Runner {
    pub async fn run_case(&self, case: &Case) -> CaseResult {
        let started = Instant::now();
        let mut result = CaseResult {
            name: case.trial_name(),
            family: case.family.to_string(),
            file: rel(&self.corpus.root, &case.path),
            // The documented operation: the page's api_name, else the request line
            // (Graph pages have no api_name).
            operation: case.file.provenance.api_name.clone().unwrap_or_else(|| {
                case.file
                    .steps
                    .first()
                    .map(|st| format!("{} {}", st.method, st.path.replace("{{call_id}}", "{id}")))
                    .unwrap_or_else(|| case.file.provenance.example.clone())
            }),
            tags: case.file.tags.clone(),
            outcome: Outcome::Passed,
            steps: Vec::new(),
            duration: Duration::ZERO,
        };
        let Some(target) = self.config.targets.get(&case.family) else {
            let why = self
                .config
                .skipped
                .get(&case.family)
                .cloned()
                .unwrap_or_else(|| format!("no target for the {} family", case.family));
            result.outcome = Outcome::Ignored(why);
            return result;
        };
        let mut state = CaseState {
            case,
            vars: self.initial_vars(case),
            cursors: HashMap::new(),
        };
        let setup_steps = self
            .corpus
            .setup_for(case)
            .map(|s| s.steps.as_slice())
            .unwrap_or(&[]);
        let all = setup_steps
            .iter()
            .map(|s| (s, true))
            .chain(case.file.steps.iter().map(|s| (s, false)));
        for (step, is_setup) in all {
            let (sr, transport_err) = self.run_step(&mut state, target, step, is_setup).await;
            let failed = sr.failed();
            result.steps.push(sr);
            if let Some(e) = transport_err {
                result.outcome = match e {
                    TransportError::Unreachable(m) => Outcome::Unreachable(m),
                    _ => Outcome::Failed,
                };
                break;
            }
            if failed {
                result.outcome = Outcome::Failed;
                if is_setup {
                    break; // later steps need what the set-up should have captured
                }
            }
        }
        if let Some(e) = result.steps.iter().find_map(|s| s.error.as_ref())
            && result.outcome == Outcome::Failed
            && e.starts_with("cannot render")
        {
            result.outcome = Outcome::Error(e.clone());
        }
        result.duration = started.elapsed();
        redact_result(&mut result, &self.config.secrets);
        result
    }

    fn initial_vars(&self, case: &Case) -> BTreeMap<String, String> {
        let mut vars = self
            .corpus
            .family_vars(case.family)
            .cloned()
            .unwrap_or_default();
        vars.extend(case.file.vars.clone());
        vars.extend(self.config.vars.clone());
        if let Some(l) = &self.listener {
            vars.insert(
                "callback_url".into(),
                l.callback_url_for(&case.trial_name()),
            );
        }
        vars
    }

    async fn run_step(
        &self,
        st: &mut CaseState<'_>,
        target: &Target,
        step: &Step,
        is_setup: bool,
    ) -> (StepResult, Option<TransportError>) {
        let mut sr = StepResult::new(&step.name, is_setup);
        let req = match self.prepare(st, target, step) {
            Ok(r) => r,
            Err(e) => {
                sr.error = Some(format!("cannot render the request: {e}"));
                return (sr, None);
            }
        };
        sr.request = Some(RequestRecord {
            method: req.method.clone(),
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
        });
        let sent_at = Instant::now();
        let resp = match self.transport.send(&req).await {
            Ok(r) => r,
            Err(e) => {
                sr.error = Some(e.to_string());
                return (sr, Some(e));
            }
        };
        sr.status = Some(resp.status);
        sr.content_type = resp.header("content-type").map(str::to_owned);
        sr.elapsed = resp.elapsed;
        let subject = if is_setup {
            format!("set-up `{}`", step.name)
        } else {
            format!("`{}`", step.name)
        };
        let mut status = compare::status(&subject, step.expect.status, resp.status);
        if status.verdict == compare::Verdict::Fail
            && let Some(hint) =
                st.case
                    .family
                    .protocol()
                    .status_hint(step.expect.status, resp.status, &req.url)
        {
            status.detail.push_str(&hint);
        }
        sr.checks.push(status);
        if let Some(ct) = &step.expect.content_type {
            sr.checks.push(compare::content_type(
                &subject,
                ct,
                resp.media_type().as_deref(),
            ));
        }
        if !is_setup {
            self.check_body(st, step, &subject, &resp, &mut sr);
        }
        for (var, selectors) in &step.capture {
            match crate::capture::capture(selectors, &resp) {
                Ok(v) => {
                    st.vars.insert(var.clone(), v);
                }
                Err(e) => sr.checks.push(Check::fail(
                    CheckId::Capture,
                    &subject,
                    format!("could not capture `{var}`: {e}"),
                )),
            }
        }
        if sr.failed() {
            sr.response_preview = Some(crate::response::preview_redacted(
                &resp.body,
                2000,
                &self.config.secrets,
            ));
        }
        if !step.notifications.is_empty() && !sr.failed() {
            self.check_notifications(st, step, is_setup, sent_at, &mut sr)
                .await;
        }
        (sr, None)
    }

    fn prepare(
        &self,
        st: &CaseState<'_>,
        target: &Target,
        step: &Step,
    ) -> Result<PreparedRequest, String> {
        let path =
            crate::template::render_in(&step.path, &st.vars, crate::template::Context::Path)?;
        let url = format!("{}{}", target.base_url.trim_end_matches('/'), path);
        let mut headers = Vec::new();
        for (k, v) in &step.headers {
            headers.push((
                k.clone(),
                crate::template::render_in(v, &st.vars, crate::template::Context::Header)?,
            ));
        }
        let body = match &step.body {
            Some(b) => {
                let b = crate::template::render_in(
                    b,
                    &st.vars,
                    crate::template::Context::for_body(&step.headers, b),
                )?;
                let b = if self.config.as_printed {
                    b
                } else {
                    self.corpus
                        .errata
                        .apply_text(st.case.family, Part::Request, &b)
                };
                // Documentation blocks start on the line after the fence; send them as printed
                // but without the blank edges a TOML multi-line string adds.
                Some(b.trim().to_owned())
            }
            None => None,
        };
        for (k, v) in st
            .case
            .family
            .protocol()
            .request_headers(body.as_deref(), target)
        {
            if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(&k)) {
                headers.push((k, v));
            }
        }
        headers.extend(target.headers.iter().cloned());
        Ok(PreparedRequest {
            method: step.method.clone(),
            url,
            headers,
            body,
        })
    }

    fn placeholders<'v>(&self, st: &'v CaseState<'_>) -> Vec<(&'v str, &'v str)> {
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
    fn expected(&self, st: &CaseState<'_>, snapshot_name: &str) -> Result<Option<String>, String> {
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

    fn snapshot_label(&self, name: &str) -> String {
        if self.config.as_printed {
            format!("documented `{name}` as printed (--as-printed)")
        } else {
            format!("snapshots/{name}.snap")
        }
    }

    /// Compares one canonical actual body with its snapshot, and writes the snapshot when
    /// the update mode allows it.
    fn judge_canonical(
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

    fn write_snapshot(&self, st: &CaseState<'_>, name: &str, contents: &str, sr: &mut StepResult) {
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

    fn check_body(
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
        let placeholders = self.placeholders(st);
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
        self.judge_canonical(st, snapshot_name, subject, actual, sr);
    }

    async fn check_notifications(
        &self,
        st: &mut CaseState<'_>,
        step: &Step,
        is_setup: bool,
        sent_at: Instant,
        sr: &mut StepResult,
    ) {
        let subject = if is_setup {
            format!("set-up `{}`", step.name)
        } else {
            format!("`{}`", step.name)
        };
        let Some(listener) = &self.listener else {
            sr.checks.push(Check::fail(
                CheckId::NotificationDeadline,
                &subject,
                "no webhook listener is running, so no notification can be received",
            ));
            return;
        };
        let Some(family_rules) = st.case.family.protocol().notifications() else {
            sr.checks.push(Check::fail(
                CheckId::NotificationDeadline,
                &subject,
                format!("the {} family sends no notifications", st.case.family),
            ));
            return;
        };
        let routing_var = family_rules.routing_var();
        let Some(call_id) = st.vars.get(routing_var).cloned() else {
            sr.checks.push(Check::fail(
                CheckId::NotificationDeadline,
                &subject,
                format!("no `{routing_var}` to route notifications by"),
            ));
            return;
        };
        let cursor = st.cursors.get(&call_id).copied().unwrap_or(0);
        let timeout = self.config.notification_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut want = step.notifications.len();
        let mut got: Vec<Received>;
        loop {
            got = listener.wait(&call_id, cursor, want, deadline).await;
            if protocol::all_matched(&step.notifications, &got)
                || tokio::time::Instant::now() >= deadline
            {
                break;
            }
            want = got.len() + 1;
        }
        if step.notification_order.is_strict() {
            // A quiet period: anything that follows the last documented notification is a failure.
            let settle = tokio::time::Instant::now() + self.config.settle;
            got = listener.wait(&call_id, cursor, got.len() + 1, settle).await;
        }
        st.cursors.insert(call_id.clone(), cursor + got.len());
        sr.notifications = got
            .iter()
            .map(|r| crate::report::NotificationRecord {
                seq: r.seq,
                state: r.state().map(str::to_owned),
                after_ms: r.at.saturating_duration_since(sent_at).as_secs_f64() * 1000.0,
            })
            .collect();
        let (seq_checks, matched) = protocol::sequence_checks(
            &subject,
            &step.notifications,
            step.notification_order,
            &got,
            protocol::Deadline::new(deadline.into_std(), timeout),
        );
        sr.checks.extend(seq_checks);
        let missing: Vec<&str> = step
            .notifications
            .iter()
            .zip(&matched)
            .filter(|(_, m)| m.is_none())
            .map(|(e, _)| e.state.as_str())
            .collect();
        if !missing.is_empty() {
            // Sent to this case's callbackUri but naming another call: the resourceUrl is wrong.
            for r in listener.unclaimed_for(&st.case.trial_name()) {
                if r.state().is_some_and(|s| missing.contains(&s)) {
                    sr.checks.push(Check::fail(
                        CheckId::ResourceUrlNamesCall,
                        &protocol::subject(&subject, r.state().unwrap_or("?")),
                        format!(
                            "Expected: a resourceUrl naming call [call_id]\nActual:   {} (POSTed to this case's callbackUri)",
                            r.call_id
                                .as_deref()
                                .map_or("no call id".into(), |c| format!("call `{c}`"))
                        ),
                    ));
                }
            }
        }
        let rules = crate::family::RuleContext {
            routed_by: &call_id,
            reasons: &self.reasons,
            as_printed: self.config.as_printed,
            expected_token: self.config.expected_notify_token.as_deref(),
        };
        let placeholders = self.placeholders(st);
        for (exp, m) in step.notifications.iter().zip(matched) {
            let Some(i) = m else { continue };
            let r = &got[i];
            let nsubject = protocol::subject(&subject, &exp.name);
            if is_setup {
                continue; // set-up checks arrival only
            }
            sr.checks.extend(family_rules.checks(&nsubject, r, &rules));
            if let Some(snap) = &exp.snapshot {
                let actual = r
                    .json
                    .as_ref()
                    .map(|v| {
                        let mut v = v.clone();
                        canon::json::apply_placeholders(&mut v, &placeholders);
                        canon::json::redact(&mut v, &exp.redact);
                        CanonActual::Json(v)
                    })
                    .map_err(|e| format!("the notification is not JSON: {e}"));
                self.judge_canonical(st, snap, &nsubject, actual, sr);
            }
        }
    }
}

enum CanonActual {
    Xml(String),
    Json(serde_json::Value),
}

fn redact(text: &str, secrets: &[String]) -> String {
    crate::report::redact(text, secrets)
}

fn redact_result(r: &mut CaseResult, secrets: &[String]) {
    for s in &mut r.steps {
        if let Some(req) = &mut s.request {
            req.url = redact(&req.url, secrets);
            for (k, v) in &mut req.headers {
                *v = if k.eq_ignore_ascii_case("authorization") {
                    "[redacted]".into()
                } else {
                    redact(v, secrets)
                };
            }
            if let Some(b) = &mut req.body {
                *b = redact(b, secrets);
            }
        }
        if let Some(p) = &mut s.response_preview {
            *p = redact(p, secrets);
        }
        if let Some(e) = &mut s.error {
            *e = redact(e, secrets);
        }
        for c in &mut s.checks {
            c.detail = redact(&c.detail, secrets);
        }
    }
    if let Outcome::Unreachable(m) | Outcome::Error(m) = &mut r.outcome {
        *m = redact(m, secrets);
    }
}

/// A path relative to the project root (the parent of `cases/`), with `/` separators.
pub fn rel(cases_root: &std::path::Path, path: &std::path::Path) -> String {
    let root = cases_root.parent().unwrap_or(cases_root);
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}
