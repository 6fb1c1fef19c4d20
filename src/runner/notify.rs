//! The notifications a step causes: wait for them (by the call the case acts on, or by the
//! case's callback before any call is known), pick the documented outcome they satisfy
//! (the step's own list or one alternative, never a mix), and judge them: sequence,
//! family rules, and each against its snapshot.

use super::body::CanonActual;
use super::{CaseState, Runner};
use crate::canon;
use crate::case::{NotificationExpect, NotificationOrder, Step};
use crate::listener::{Listener, Received};
use crate::protocol;
use crate::results::{Check, CheckId, NotificationRecord, StepResult};
use std::time::Instant;

/// How a step's notifications find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// By the call the case acts on (the family's routing variable).
    Call,
    /// By the case's own callback path: a trigger step, before the call is known.
    Tag,
}

/// What a step's arrivals are judged against.
#[derive(Clone, Copy)]
struct Judged<'a> {
    subject: &'a str,
    /// The step's name (relation places name it).
    step_name: &'a str,
    expected: &'a [NotificationExpect],
    got: &'a [Received],
    matched: &'a [Option<usize>],
}

/// One documented outcome of a step: its name (`None` for the step's own list).
struct Outcome<'s> {
    name: Option<&'s str>,
    expected: &'s [NotificationExpect],
    order: NotificationOrder,
}

fn outcomes(step: &Step) -> Vec<Outcome<'_>> {
    let mut out = vec![Outcome {
        name: None,
        expected: &step.notifications,
        order: step.notification_order,
    }];
    out.extend(step.alternatives.iter().map(|a| Outcome {
        name: Some(a.name.as_str()),
        expected: &a.notifications,
        order: a.notification_order,
    }));
    out
}

/// The first outcome the arrivals fully satisfy, else the step's own list.
fn chosen<'o, 's>(outcomes: &'o [Outcome<'s>], got: &[Received]) -> &'o Outcome<'s> {
    outcomes
        .iter()
        .find(|o| protocol::all_matched(o.expected, got))
        .unwrap_or(&outcomes[0])
}

impl Runner {
    /// Waits until one outcome is satisfied or the deadline passes, then (strict order) a
    /// quiet period so that anything after the last documented notification is seen.
    async fn collect(
        &self,
        listener: &Listener,
        tag: &str,
        key: &(Route, String),
        cursor: usize,
        outcomes: &[Outcome<'_>],
        is_setup: bool,
    ) -> (Vec<Received>, protocol::Deadline) {
        let deadline = tokio::time::Instant::now() + self.config.notification_timeout;
        let due = protocol::Deadline::new(deadline.into_std(), self.config.notification_timeout);
        let wait = |count: usize, until: tokio::time::Instant| async move {
            match key.0 {
                Route::Call => listener.wait_call(tag, &key.1, cursor, count, until).await,
                Route::Tag => listener.wait_tag(tag, cursor, count, until).await,
            }
        };
        let mut want = outcomes.iter().map(|o| o.expected.len()).min().unwrap_or(0);
        let mut got;
        loop {
            got = wait(want, deadline).await;
            let done = outcomes
                .iter()
                .any(|o| protocol::all_matched(o.expected, &got));
            if done || tokio::time::Instant::now() >= deadline {
                break;
            }
            want = got.len() + 1;
        }
        // Strict order: anything after the last documented notification is seen and fails.
        // A set-up consumes what its call sends meanwhile, so the case's own steps start
        // from the notifications their request causes.
        if chosen(outcomes, &got).order.is_strict() || is_setup {
            let settle = tokio::time::Instant::now() + self.config.settle;
            // A set-up takes all that arrives in the quiet period; a step needs one extra
            // arrival to fail.
            let count = if is_setup { usize::MAX } else { got.len() + 1 };
            got = wait(count, settle).await;
        }
        (got, due)
    }

    pub(super) async fn check_notifications(
        &self,
        st: &mut CaseState<'_>,
        step: &Step,
        is_setup: bool,
        sent_at: Instant,
        route: Route,
        sr: &mut StepResult,
    ) {
        let subject = if is_setup {
            format!("set-up `{}`", step.name)
        } else {
            format!("`{}`", step.name)
        };
        let Some(listener) = self.listener.clone() else {
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
        let key = match route {
            Route::Tag => (Route::Tag, st.case.trial_name()),
            Route::Call => match st.vars.get(routing_var) {
                Some(v) => (Route::Call, v.clone()),
                None => {
                    sr.checks.push(Check::fail(
                        CheckId::NotificationDeadline,
                        &subject,
                        format!("no `{routing_var}` to route notifications by"),
                    ));
                    return;
                }
            },
        };
        let cursor = st.cursors.get(&key.1).copied().unwrap_or(0);
        let all = outcomes(step);
        let tag = st.case.trial_name();
        let (got, due) = self
            .collect(&listener, &tag, &key, cursor, &all, is_setup)
            .await;
        st.cursors.insert(key.1.clone(), cursor + got.len());
        sr.notifications = got
            .iter()
            .map(|r| NotificationRecord {
                seq: r.seq,
                batch: r.batch,
                state: r.state().map(str::to_owned),
                after_ms: r.at.saturating_duration_since(sent_at).as_secs_f64() * 1000.0,
            })
            .collect();
        let outcome = chosen(&all, &got);
        let (seq_checks, matched) = protocol::sequence_checks(
            &subject,
            outcome.expected,
            outcome.order,
            &got,
            due,
            self.config.strict,
        );
        sr.checks.extend(seq_checks);
        if let Some(alt) = outcome.name
            && protocol::all_matched(outcome.expected, &got)
        {
            sr.outcome = Some(alt.to_owned());
        }
        if route == Route::Tag {
            self.capture_from(st, step, &subject, &got, &matched, sr);
            if let Some(call) = st.vars.get(routing_var).cloned() {
                // What the trigger step saw of that call is consumed: later steps go on
                // from there.
                let seen = got
                    .iter()
                    .filter(|r| r.call_id.as_deref() == Some(call.as_str()))
                    .count();
                st.cursors.insert(call, seen);
            }
        }
        self.misdirected(&listener, st, outcome.expected, &matched, &subject, sr);
        if is_setup {
            // A set-up's notifications are not its page's to compare, but they obey the
            // protocol like any (authorization, content type, JSON).
            let call_id = st.vars.get(routing_var).cloned().unwrap_or_default();
            let rules = self.rule_context(&call_id);
            let nsubject = protocol::subject(&subject, "(set-up)");
            for r in &got {
                sr.checks.extend(family_rules.checks(&nsubject, r, &rules));
            }
            return;
        }
        let judged = Judged {
            subject: &subject,
            step_name: &step.name,
            expected: outcome.expected,
            got: &got,
            matched: &matched,
        };
        self.judge_arrivals(st, family_rules, &judged, sr);
    }

    fn rule_context<'r>(&'r self, call_id: &'r str) -> crate::family::RuleContext<'r> {
        crate::family::RuleContext {
            routed_by: call_id,
            reasons: &self.reasons,
            as_printed: self.config.as_printed,
            expected_token: self.config.expected_notify_token.as_deref(),
        }
    }

    /// The protocol's rules on every arrival, and each documented notification against its
    /// snapshot.
    fn judge_arrivals(
        &self,
        st: &mut CaseState<'_>,
        family_rules: &dyn crate::family::Notifications,
        judged: &Judged<'_>,
        sr: &mut StepResult,
    ) {
        let Judged {
            subject,
            step_name,
            expected,
            got,
            matched,
        } = *judged;
        let call_id = st
            .vars
            .get(family_rules.routing_var())
            .cloned()
            .unwrap_or_default();
        let rules = self.rule_context(&call_id);
        let owned = self.placeholders(st);
        let placeholders: Vec<(&str, &str)> = owned
            .iter()
            .map(|(v, p)| (v.as_str(), p.as_str()))
            .collect();
        // Every arrival obeys the protocol's rules, documented or not (a body that is not a
        // notification entry is a `notification-json` failure, not only an extra).
        for (i, r) in got.iter().enumerate() {
            if !matched.contains(&Some(i)) {
                let nsubject = protocol::subject(subject, "(undocumented)");
                sr.checks.extend(family_rules.checks(&nsubject, r, &rules));
            }
        }
        for (exp, m) in expected.iter().zip(matched) {
            let Some(i) = *m else { continue };
            let r = &got[i];
            if let Ok(json) = &r.json {
                st.related
                    .notification(&st.case.file, step_name, &exp.name, json);
            }
            let nsubject = protocol::subject(subject, &exp.name);
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
                let shape = super::body::Shape {
                    truncated: false,
                    root_type: exp.ty.as_deref(),
                };
                self.judge_canonical(st, snap, &nsubject, actual, shape, sr);
            }
        }
    }

    /// Once a step has captured the call the case acts on, the case owns that call's
    /// notifications: those its steps do not judge (a call the page leaves progressing)
    /// are its own, not a stray's. Another case owning the same call id is the target's
    /// fault.
    pub(super) fn claim_call(&self, st: &CaseState<'_>, subject: &str, sr: &mut StepResult) {
        let (Some(listener), Some(rules)) =
            (&self.listener, st.case.family.protocol().notifications())
        else {
            return;
        };
        let Some(call) = st.vars.get(rules.routing_var()) else {
            return;
        };
        if let Err(e) = listener.claim(&st.case.trial_name(), call) {
            sr.checks
                .push(Check::fail(CheckId::NotificationCallback, subject, e));
        }
    }

    /// Captures of a trigger step come from its first matched notification.
    fn capture_from(
        &self,
        st: &mut CaseState<'_>,
        step: &Step,
        subject: &str,
        got: &[Received],
        matched: &[Option<usize>],
        sr: &mut StepResult,
    ) {
        let first = matched
            .iter()
            .flatten()
            .next()
            .and_then(|&i| got[i].json.as_ref().ok());
        for (var, selectors) in &step.capture {
            let captured = first
                .ok_or_else(|| "no documented notification arrived to capture from".to_owned())
                .and_then(|body| crate::capture::capture_notification(selectors, body));
            match captured {
                Ok(v) => {
                    st.vars.insert(var.clone(), v);
                }
                Err(e) => sr.checks.push(Check::fail(
                    CheckId::Capture,
                    subject,
                    format!("could not capture `{var}`: {e}"),
                )),
            }
        }
        if !step.capture.is_empty() {
            self.claim_call(st, subject, sr);
        }
    }

    /// A missing notification that was POSTed to this case's callback naming another call:
    /// the target put the wrong call in `resourceUrl`.
    fn misdirected(
        &self,
        listener: &Listener,
        st: &CaseState<'_>,
        expected: &[NotificationExpect],
        matched: &[Option<usize>],
        subject: &str,
        sr: &mut StepResult,
    ) {
        let missing: Vec<&NotificationExpect> = expected
            .iter()
            .zip(matched)
            .filter(|(_, m)| m.is_none())
            .map(|(e, _)| e)
            .collect();
        if missing.is_empty() {
            return;
        }
        for r in listener.unclaimed_for(&st.case.trial_name()) {
            let Some(entry) = protocol::entry(&r) else {
                continue;
            };
            if let Some(e) = missing.iter().find(|e| e.matches_entry(entry)) {
                sr.checks.push(Check::fail(
                    CheckId::ResourceUrlNamesCall,
                    &protocol::subject(subject, &e.name),
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
}

impl Runner {
    /// After the case: notifications for its calls that arrived on another case's callback,
    /// or on its callback naming another case's call. Each fails the case.
    pub(super) fn misrouted(&self, tag: &str) -> Vec<Check> {
        let Some(listener) = &self.listener else {
            return Vec::new();
        };
        listener
            .misrouted_for(tag)
            .into_iter()
            .map(|m| {
                let what = protocol::entry(&m.entry)
                    .and_then(crate::listener::entry_resource_url)
                    .unwrap_or("an entry without resourceUrl")
                    .to_owned();
                Check::fail(
                    CheckId::NotificationCallback,
                    "notifications",
                    format!(
                        "Expected: notifications for a case's calls on that case's callbackUri\nActual:   `{what}` (call of `{}`) arrived on {}",
                        m.owner,
                        m.arrived_on
                            .as_deref()
                            .map_or("the callbackUri without a case".to_owned(), |t| format!("the callbackUri of `{t}`"))
                    ),
                )
            })
            .collect()
    }
}
