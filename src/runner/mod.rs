//! Runs one case: set-up steps (status and captures only), then the documented steps with
//! every check, producing a [`CaseResult`]. Data flows one way; nothing here prints.
//!
//! [`body`] judges a response body against its snapshot; [`notify`] waits for and judges
//! the notifications a step causes; [`trigger`] asks a target to cause an event.

mod body;
mod notify;
mod progress;
mod relations;
mod trigger;

use crate::case::{Case, Step};
use crate::compare;
use crate::corpus::Corpus;
use crate::errata::Part;
use crate::family::Family;
use crate::listener::Listener;
use crate::protocol::EndReasons;
use crate::report::{CaseResult, Outcome, RequestRecord, StepResult};
use crate::request::{PreparedRequest, Target, Transport, TransportError};
use crate::results::{Check, CheckId};
use crate::snapshot::Update;
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
    /// `--exact-values`: notes (another documented value, other text) fail.
    pub exact_values: bool,
    pub notification_timeout: Duration,
    /// Quiet period after the last expected notification, to catch extra ones.
    pub settle: Duration,
    /// A progressing step is repeated this often...
    pub progress_interval: Duration,
    /// ...until its documented state arrives or this much time has passed.
    pub progress_deadline: Duration,
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
            exact_values: false,
            notification_timeout: Duration::from_secs(5),
            settle: Duration::from_millis(250),
            progress_interval: Duration::from_millis(250),
            progress_deadline: Duration::from_secs(60),
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

/// The expected forms of a case's snapshots, read and prepared before the case runs (by
/// the schedule's reader thread), by snapshot name.
pub type Expected = Vec<(String, Arc<compare::Prepared>)>;

struct CaseState<'c> {
    case: &'c Case,
    expected: Expected,
    vars: BTreeMap<String, String>,
    /// Notifications already consumed, per call id.
    cursors: HashMap<String, usize>,
    /// The values at the case's relation places, as its steps run.
    related: relations::Related,
}

impl Runner {
    pub async fn run_case(&self, case: &Case) -> CaseResult {
        self.run_prepared(case, Expected::new()).await
    }

    /// The expected forms a case compares against that can be read now: those that are
    /// not there or do not read are left to the run, which reports them where they are used.
    pub fn read_expected(&self, case: &Case) -> Expected {
        let mut out = Expected::new();
        for doc in crate::snapshot::documented(&case.file) {
            if out.iter().any(|(n, _)| n == doc.snapshot) {
                continue;
            }
            if let Ok(Some(p)) = self.read_snapshot(case, doc.snapshot, doc.kind) {
                out.push((doc.snapshot.to_owned(), p));
            }
        }
        out
    }

    /// [`Runner::run_case`] with the expected forms [`Runner::read_expected`] gave.
    pub async fn run_prepared(&self, case: &Case, expected: Expected) -> CaseResult {
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
                    .iter()
                    .find(|st| !st.is_trigger())
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
        let setup_steps = self
            .corpus
            .setup_for(case)
            .map(|s| s.steps.as_slice())
            .unwrap_or(&[]);
        if let Some(why) = trigger::unavailable(case, target, setup_steps) {
            result.outcome = Outcome::Ignored(why);
            return result;
        }
        let mut state = CaseState {
            case,
            expected,
            vars: self.initial_vars(case),
            cursors: HashMap::new(),
            related: relations::Related::new(&case.file),
        };
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
        // Relations are judged when every step they span has run (a failed step's values
        // are what the target answered, and still judged).
        let related = state.related.checks(&case.file, &state.vars);
        if !related.is_empty() {
            let mut sr = StepResult::new("(relations)", false);
            sr.checks = related;
            if sr.failed() && result.outcome == Outcome::Passed {
                result.outcome = Outcome::Failed;
            }
            result.steps.push(sr);
        }
        let misrouted = self.misrouted(&case.trial_name());
        if !misrouted.is_empty() {
            let mut sr = StepResult::new("(notifications)", false);
            sr.checks = misrouted;
            result.steps.push(sr);
            if result.outcome == Outcome::Passed {
                result.outcome = Outcome::Failed;
            }
        }
        if let Some(e) = result
            .steps
            .iter()
            .find(|s| s.corpus_error)
            .and_then(|s| s.error.as_ref())
            && result.outcome == Outcome::Failed
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
        if let Some(name) = &step.trigger {
            self.run_trigger(st, target, step, name, is_setup, &mut sr)
                .await;
            return (sr, None);
        }
        let req = match self.prepare(st, target, step) {
            Ok(r) => r,
            Err(e) => {
                sr.error = Some(format!("cannot render the request: {e}"));
                sr.corpus_error = true;
                return (sr, None);
            }
        };
        if !is_setup {
            st.related
                .request(&st.case.file, &step.name, req.body.as_deref());
        }
        let sent_at = Instant::now();
        let subject = if is_setup {
            format!("set-up `{}`", step.name)
        } else {
            format!("`{}`", step.name)
        };
        let first = self.transport.send(&req).await;
        let polled = match first {
            Ok(r) if step.expect.progress.is_some() && !is_setup => self
                .progress(st, step, &subject, &req, r, sent_at)
                .await
                .map(|(r, seen, check)| (r, Some((seen, check)))),
            other => other.map(|r| (r, None)),
        };
        // The request is recorded as sent (moved, not copied: it is not sent again).
        let PreparedRequest {
            method,
            url,
            headers,
            body,
        } = req;
        sr.request = Some(RequestRecord {
            method,
            url,
            headers,
            body,
        });
        let resp = match polled {
            Ok((r, progress)) => {
                if let Some((seen, check)) = progress {
                    sr.progress = seen;
                    sr.checks.push(check);
                }
                r
            }
            Err(e) => {
                sr.error = Some(e.to_string());
                return (sr, Some(e));
            }
        };
        sr.status = Some(resp.status);
        sr.content_type = resp.header("content-type").map(str::to_owned);
        sr.elapsed = resp.elapsed;
        let url = sr.request.as_ref().map_or("", |r| r.url.as_str());
        let head = self.head_checks(st, step, &subject, &resp, url);
        sr.checks.extend(head);
        if !is_setup {
            self.check_body(st, step, &subject, &resp, &mut sr);
            if step.expect.body == crate::case::BodyKind::Json
                && let Ok(json) = resp.json()
            {
                sr.checks
                    .extend(st.case.family.protocol().response_checks(&subject, json));
            }
            if st.related.wants(
                &st.case.file,
                &step.name,
                crate::case::PlacePart::Response,
                None,
            ) && let Ok(json) = resp.json()
            {
                st.related.response(&st.case.file, &step.name, json);
            }
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
        if !step.capture.is_empty() {
            self.claim_call(st, &subject, &mut sr);
        }
        if sr.failed() {
            sr.response_preview = Some(crate::response::preview_redacted(
                &resp.body,
                2000,
                &self.config.secrets,
            ));
        }
        if !step.notifications.is_empty() && !sr.failed() {
            let kept;
            let step = match self.cause_others(st, target, step, &subject, &mut sr).await {
                Some(s) => {
                    kept = s;
                    &kept
                }
                None => step,
            };
            self.check_notifications(st, step, is_setup, sent_at, notify::Route::Call, &mut sr)
                .await;
        }
        (sr, None)
    }

    /// The status (with the family's hint when it fails) and the media type.
    fn head_checks(
        &self,
        st: &CaseState<'_>,
        step: &Step,
        subject: &str,
        resp: &crate::response::Response,
        url: &str,
    ) -> Vec<Check> {
        let mut out = Vec::new();
        let mut status = compare::status(subject, step.expect.status, resp.status);
        if status.verdict == compare::Verdict::Fail
            && let Some(hint) =
                st.case
                    .family
                    .protocol()
                    .status_hint(step.expect.status, resp.status, url)
        {
            status.detail.push_str(&hint);
        }
        out.push(status);
        if let Some(ct) = &step.expect.content_type {
            out.push(compare::content_type(
                subject,
                ct,
                resp.media_type().as_deref(),
            ));
        }
        out
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
}

fn redact(text: &str, secrets: &[String]) -> String {
    crate::text::redact(text, secrets)
}

/// Replaces every form of every secret in the result's texts (see
/// [`crate::text::Redactor`]); a request's Authorization header is replaced whole.
fn redact_result(r: &mut CaseResult, secrets: &[String]) {
    let redactor = crate::text::Redactor::new(secrets);
    for s in &mut r.steps {
        if let Some(req) = &mut s.request {
            redactor.redact_in_place(&mut req.url);
            for (k, v) in &mut req.headers {
                if k.eq_ignore_ascii_case("authorization") {
                    *v = "[redacted]".into();
                } else {
                    redactor.redact_in_place(v);
                }
            }
            if let Some(b) = &mut req.body {
                redactor.redact_in_place(b);
            }
        }
        if let Some(p) = &mut s.response_preview {
            redactor.redact_in_place(p);
        }
        if let Some(e) = &mut s.error {
            redactor.redact_in_place(e);
        }
        for c in &mut s.checks {
            redactor.redact_in_place(&mut c.detail);
        }
    }
    if let Outcome::Unreachable(m) | Outcome::Error(m) = &mut r.outcome {
        redactor.redact_in_place(m);
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
