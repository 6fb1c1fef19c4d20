//! Trigger steps: the harness asks the target to cause an event (offer an incoming call to
//! the case's callback), then judges the notifications it causes like any step's. How to
//! ask is the target's business: the embedded reference target has a control endpoint, a
//! third-party target names a request or a program in its profile.

use super::notify::Route;
use super::{CaseState, Runner};
use crate::case::{BodyKind, Case, NotificationExpect, Step};
use crate::compare::Prepared;
use crate::request::{PreparedRequest, Target, Trigger};
use crate::results::{Check, CheckId};
use crate::results::{RequestRecord, StepResult};
use std::time::{Duration, Instant};

/// The variable holding the documented notification a trigger step expects (JSON).
pub const EXAMPLE_VAR: &str = "trigger_example";

/// How long a trigger program may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a case cannot run against this target: a trigger it needs that the target has no
/// way to cause. Such a case is ignored with the reason, never passed.
pub(super) fn unavailable(case: &Case, target: &Target, setup: &[Step]) -> Option<String> {
    let missing = setup
        .iter()
        .chain(&case.file.steps)
        .filter_map(|s| s.trigger.as_deref())
        .find(|t| !target.triggers.contains_key(*t))?;
    Some(format!(
        "needs the target to cause `{missing}`, and it has no way to: name one in the profile ([{}.triggers.{missing}] url = \"...\" or command = [...])",
        case.family
    ))
}

impl Runner {
    pub(super) async fn run_trigger(
        &self,
        st: &mut CaseState<'_>,
        target: &Target,
        step: &Step,
        name: &str,
        is_setup: bool,
        sr: &mut StepResult,
    ) {
        let Some(trigger) = target.triggers.get(name) else {
            sr.error = Some(format!("the target has no way to cause `{name}`"));
            return;
        };
        // The documented notification the event should cause, for a target that can shape
        // the event after it (the reference target does): its snapshot (the errata
        // applied), else the body as printed; `null` when the page shows none.
        let example = step
            .notifications
            .iter()
            .find_map(|n| {
                let snap = n.snapshot.as_deref()?;
                match self.expected(st, snap, BodyKind::Json) {
                    Ok(Some(p)) => match &*p {
                        Prepared::Json(v) => Some(v.to_string()),
                        Prepared::Xml(_) => None,
                    },
                    _ => None,
                }
            })
            .or_else(|| {
                step.notifications
                    .iter()
                    .find_map(|n| n.documented.as_deref())
                    .and_then(|d| crate::canon::json::parse_documented(d).ok())
                    .map(|v| v.to_string())
            })
            .unwrap_or_else(|| "null".to_owned());
        st.vars.insert(EXAMPLE_VAR.to_owned(), example);
        let sent_at = Instant::now();
        if let Err(e) = self.fire(st, trigger, sr).await {
            sr.error = Some(format!("could not cause `{name}`: {e}"));
            return;
        }
        self.check_notifications(st, step, is_setup, sent_at, Route::Tag, sr)
            .await;
    }

    /// The notifications of `step` that another party's event causes (`caused_by`): the
    /// target is asked for each event it has a trigger for; the expectations of the
    /// others are ignored, with the reason. `Some`: the step without those.
    pub(super) async fn cause_others(
        &self,
        st: &CaseState<'_>,
        target: &Target,
        step: &Step,
        subject: &str,
        sr: &mut StepResult,
    ) -> Option<Step> {
        let mut events: Vec<&str> = step
            .notifications
            .iter()
            .chain(step.alternatives.iter().flat_map(|a| &a.notifications))
            .filter_map(|n| n.caused_by.as_deref())
            .collect();
        events.sort_unstable();
        events.dedup();
        let mut missing: Vec<&str> = Vec::new();
        for event in events {
            let Some(trigger) = target.triggers.get(event) else {
                missing.push(event);
                continue;
            };
            // The record of the request is the step's own.
            let own = sr.request.take();
            let fired = self.fire(st, trigger, sr).await;
            sr.request = own;
            if let Err(e) = fired {
                sr.checks.push(Check::fail(
                    CheckId::NotificationDeadline,
                    subject,
                    format!("could not cause `{event}`: {e}"),
                ));
            }
        }
        if missing.is_empty() {
            return None;
        }
        let dropped =
            |n: &NotificationExpect| n.caused_by.as_deref().is_some_and(|c| missing.contains(&c));
        for n in step
            .notifications
            .iter()
            .chain(step.alternatives.iter().flat_map(|a| &a.notifications))
            .filter(|n| dropped(n))
        {
            sr.ignored.push(format!(
                "notification `{}`: caused by `{}`, another party's event, and the target has no way to cause it (name one in the profile: [{}.triggers.{}])",
                n.name,
                n.caused_by.as_deref().unwrap_or_default(),
                st.case.family,
                n.caused_by.as_deref().unwrap_or_default(),
            ));
        }
        let mut kept = step.clone();
        kept.notifications.retain(|n| !dropped(n));
        for a in &mut kept.alternatives {
            a.notifications.retain(|n| !dropped(n));
        }
        Some(kept)
    }

    /// Sends the trigger's request or runs its program, with `{{var}}`s rendered.
    async fn fire(
        &self,
        st: &CaseState<'_>,
        trigger: &Trigger,
        sr: &mut StepResult,
    ) -> Result<(), String> {
        let render = |t: &str| crate::template::render(t, &st.vars);
        match trigger {
            Trigger::Http { method, url, body } => {
                let req = PreparedRequest {
                    method: method.clone(),
                    url: render(url)?,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body: body.as_deref().map(render).transpose()?,
                };
                sr.request = Some(RequestRecord {
                    method: req.method.clone(),
                    url: req.url.clone(),
                    headers: req.headers.clone(),
                    body: req.body.clone(),
                });
                let resp = self.transport.send(&req).await.map_err(|e| e.to_string())?;
                if !(200..300).contains(&resp.status) {
                    return Err(format!(
                        "{} {} answered {}: {}",
                        req.method,
                        req.url,
                        resp.status,
                        crate::response::preview_redacted(&resp.body, 300, &self.config.secrets)
                    ));
                }
                Ok(())
            }
            Trigger::Command(argv) => {
                let argv: Vec<String> = argv.iter().map(|a| render(a)).collect::<Result<_, _>>()?;
                let (prog, args) = argv.split_first().ok_or("an empty command")?;
                let run = tokio::process::Command::new(prog)
                    .args(args)
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let out = tokio::time::timeout(COMMAND_TIMEOUT, run)
                    .await
                    .map_err(|_| format!("`{prog}` did not finish within {COMMAND_TIMEOUT:?}"))?
                    .map_err(|e| format!("cannot run `{prog}`: {e}"))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "`{prog}` exited with {}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ))
                }
            }
        }
    }
}
