//! Stage 6: results as plain data, rendered by reporters (terminal text here; JUnit,
//! JSON and Markdown in the submodules). Secrets are redacted on the way out.

use crate::compare::{Check, Verdict};
use serde::Serialize;
use std::time::Duration;

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
    /// Snapshot files written by this step (`--bless` or pending `.snap.new`).
    pub written: Vec<String>,
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
            written: Vec::new(),
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

    /// The failure text shown by libtest, JUnit and the Markdown report.
    pub fn failure_text(&self) -> String {
        let mut out = String::new();
        match &self.outcome {
            Outcome::Unreachable(m) => {
                out.push_str(&format!("{}: target unreachable: {m}\n", self.name))
            }
            Outcome::Error(m) => out.push_str(&format!("{}: cannot run: {m}\n", self.name)),
            _ => {}
        }
        for step in &self.steps {
            if !step.failed() {
                continue;
            }
            let kind = if step.setup { "set-up step" } else { "step" };
            out.push_str(&format!(
                "{} — {kind} `{}` ({})\n",
                self.name, step.name, self.file
            ));
            if let Some(e) = &step.error {
                out.push_str(&format!("error: {e}\n"));
            }
            for c in step.checks.iter().filter(|c| c.verdict == Verdict::Fail) {
                out.push_str(&format!("check `{}` failed on {}:\n", c.name, c.subject));
                for line in c.detail.lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            if let Some(req) = &step.request {
                out.push_str(&format!("request sent:\n  {} {}\n", req.method, req.url));
                for (k, v) in &req.headers {
                    out.push_str(&format!("  {k}: {v}\n"));
                }
                if let Some(b) = &req.body {
                    for line in crate::response::preview(b.as_bytes(), 1500).lines() {
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
}

/// Replaces every secret (tokens, the callback token) by `[redacted]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}
