//! States that progress. A documented answer may show a later state of a live resource
//! than the one just created (GetCallInfo shows the answered call; a real call rings
//! first). A step that declares `progress = "<set>"` is repeated at an interval while the
//! answer holds a state of the set's `progress` order that can still lead to the
//! documented one; it passes as soon as the documented state arrives, fails at once on an
//! undocumented value or one that cannot lead there, and fails at the deadline naming
//! every state seen, in order.

use super::{CaseState, Runner};
use crate::case::{BodyKind, Step};
use crate::contract::{Contract, FieldClass, ValueSet};
use crate::request::{PreparedRequest, TransportError};
use crate::response::Response;
use crate::results::{Check, CheckId, Observed};
use std::time::Instant;

/// What a progressing step must reach, and where to read it.
struct Goal<'c> {
    set_name: &'c str,
    set: &'c ValueSet,
    path: &'c str,
    documented: String,
}

/// The value at a field path of a body: element text by local names (SOAP) or a JSON pointer.
fn value_at(resp: &Response, kind: BodyKind, path: &str) -> Option<String> {
    match kind {
        BodyKind::Xml => {
            let root = resp.xml().ok()?;
            crate::canon::xml::select_text(root, path)
        }
        _ => match resp.json().ok()?.pointer(path)? {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        },
    }
}

/// The documented value at the same path, read from the case's documented body.
fn documented_at(step: &Step, path: &str) -> Option<String> {
    let text = step.expect.documented.as_deref()?;
    let body = bytes::Bytes::from(text.trim().to_owned());
    let resp = Response::new(200, Vec::new(), body, std::time::Duration::ZERO);
    value_at(&resp, step.expect.body, path)
}

fn goal<'c>(step: &Step, contract: &'c Contract, set_name: &'c str) -> Result<Goal<'c>, String> {
    let set = contract.sets.get(set_name).ok_or_else(|| {
        format!("`progress = \"{set_name}\"`: no such value set in the family's contract")
    })?;
    let rule = contract
        .fields
        .iter()
        .find(|r| r.class == FieldClass::Set && r.set.as_deref() == Some(set_name))
        .ok_or_else(|| format!("`progress = \"{set_name}\"`: no field is classed with that set"))?;
    let path = rule.path.as_str();
    let documented = documented_at(step, path)
        .ok_or_else(|| format!("the documented answer has no value at {path}"))?;
    if !set.progress.contains(&documented) {
        return Err(format!(
            "`{documented}` (documented at {path}) is not in the `{set_name}` progress order"
        ));
    }
    Ok(Goal {
        set_name,
        set,
        path,
        documented,
    })
}

/// Whether `seen` can still lead to `documented` in the set's progress order.
fn can_lead(set: &ValueSet, seen: &str, documented: &str) -> bool {
    let pos = |v: &str| set.progress.iter().position(|p| p == v);
    matches!((pos(seen), pos(documented)), (Some(a), Some(b)) if a < b)
}

impl Runner {
    /// Repeats a progressing step until its documented state arrives; returns the last
    /// answer, the states seen, and the `state-progress` verdict.
    pub(super) async fn progress(
        &self,
        st: &CaseState<'_>,
        step: &Step,
        subject: &str,
        req: &PreparedRequest,
        mut resp: Response,
        sent_at: Instant,
    ) -> Result<(Response, Vec<Observed>, Check), TransportError> {
        let Some(set_name) = step.expect.progress.as_deref() else {
            return Ok((
                resp,
                Vec::new(),
                Check::pass(CheckId::StateProgress, subject),
            ));
        };
        let contract = self.corpus.contract_for(st.case);
        let goal = match goal(step, &contract, set_name) {
            Ok(g) => g,
            Err(e) => {
                return Ok((
                    resp,
                    Vec::new(),
                    Check::fail(CheckId::StateProgress, subject, e),
                ));
            }
        };
        let deadline = sent_at + self.config.progress_deadline;
        let mut seen = Vec::new();
        loop {
            let value = value_at(&resp, step.expect.body, goal.path);
            seen.push(Observed {
                after_ms: sent_at.elapsed().as_secs_f64() * 1000.0,
                value: value.clone().unwrap_or_else(|| "(none)".into()),
            });
            let verdict = match value.as_deref() {
                Some(v) if v == goal.documented => {
                    Some(Check::pass(CheckId::StateProgress, subject))
                }
                Some(v) if !goal.set.contains(v) => {
                    Some(self.stuck(&goal, subject, &seen, "is not a documented value"))
                }
                Some(v) if !can_lead(goal.set, v, &goal.documented) => {
                    Some(self.stuck(&goal, subject, &seen, "cannot lead to the documented state"))
                }
                None => Some(self.stuck(&goal, subject, &seen, "is missing")),
                Some(_) if Instant::now() + self.config.progress_interval > deadline => {
                    Some(self.stuck(
                        &goal,
                        subject,
                        &seen,
                        &format!(
                            "was still not reached after {:?}",
                            self.config.progress_deadline
                        ),
                    ))
                }
                Some(_) => None,
            };
            if let Some(check) = verdict {
                return Ok((resp, seen, check));
            }
            tokio::time::sleep(self.config.progress_interval).await;
            resp = self.transport.send(req).await?;
        }
    }

    fn stuck(&self, goal: &Goal<'_>, subject: &str, seen: &[Observed], why: &str) -> Check {
        let states: Vec<String> = seen.iter().map(|o| format!("`{}`", o.value)).collect();
        let last = seen.last().map_or("nothing", |o| o.value.as_str());
        Check::fail(
            CheckId::StateProgress,
            subject,
            format!(
                "Expected: {} `{}` (documented), by way of {}\nActual:   `{last}` {why}; seen in order: {}",
                goal.set_name,
                goal.documented,
                goal.set
                    .progress
                    .iter()
                    .take_while(|v| **v != goal.documented)
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                states.join(" → ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> ValueSet {
        ValueSet {
            values: ["Idle", "Connecting", "Alerted", "Connected", "Disconnected"]
                .map(String::from)
                .to_vec(),
            provenance: None,
            progress: ["Idle", "Connecting", "Alerted", "Connected"]
                .map(String::from)
                .to_vec(),
        }
    }

    #[test]
    fn only_earlier_states_of_the_progress_order_lead_on() {
        let s = set();
        assert!(can_lead(&s, "Connecting", "Connected"));
        assert!(can_lead(&s, "Alerted", "Connected"));
        assert!(!can_lead(&s, "Disconnected", "Connected"));
        assert!(!can_lead(&s, "Connected", "Alerted"));
        assert!(!can_lead(&s, "connected", "Connected"));
    }
}
