//! The generic notification sequence rules, each a named check: that what a step expects
//! arrives before its deadline, in order (terminating, then terminated), with nothing after
//! the last. The rules on each notification's content belong to its family
//! (`family::graph::rules` for Graph).

use crate::case::{NotificationExpect, NotificationOrder};
use crate::listener::Received;
use crate::results::{Check, CheckId};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The subject line for checks on one notification.
pub fn subject(step: &str, name: &str) -> String {
    format!("{step} › notification `{name}`")
}

/// The notification entry a received POST carries (the first element of `value`).
pub fn entry(r: &Received) -> Option<&Value> {
    r.json.as_ref().ok()?.get("value")?.get(0)
}

/// Pairs each expected notification with the first unused arrival it matches.
pub fn match_arrivals(expected: &[NotificationExpect], got: &[Received]) -> Vec<Option<usize>> {
    let mut used = vec![false; got.len()];
    expected
        .iter()
        .map(|e| {
            let i = got
                .iter()
                .enumerate()
                .position(|(i, r)| !used[i] && entry(r).is_some_and(|v| e.matches_entry(v)))?;
            used[i] = true;
            Some(i)
        })
        .collect()
}

pub fn all_matched(expected: &[NotificationExpect], got: &[Received]) -> bool {
    match_arrivals(expected, got).iter().all(Option::is_some)
}

fn states(got: &[Received]) -> String {
    if got.is_empty() {
        return "nothing".into();
    }
    got.iter()
        .map(|r| match (r.state(), &r.json) {
            (Some(s), _) => format!("`{s}`"),
            (None, Ok(_)) => match entry(r).map(describe_entry) {
                Some(d) => d,
                None => "a notification without an entry".into(),
            },
            (None, Err(e)) => format!("a body that is not JSON ({e})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A notification entry without a call state, in words: its resource type and status.
fn describe_entry(v: &Value) -> String {
    let ty = v
        .pointer("/resourceData/@odata.type")
        .or_else(|| v.pointer("/resourceData/0/@odata.type"))
        .and_then(Value::as_str)
        .unwrap_or("no resource type");
    match v.pointer("/resourceData/status").and_then(Value::as_str) {
        Some(st) => format!("`{ty}` ({st})"),
        None => format!("`{ty}`"),
    }
}

/// When a step's notifications are due: `timeout` after the runner began listening (once
/// the response arrived). The runner keeps listening past it for the quiet period, so what
/// arrives then is seen, and judged late by its arrival time.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub due: Instant,
    pub timeout: Duration,
}

impl Deadline {
    pub fn new(due: Instant, timeout: Duration) -> Deadline {
        Deadline { due, timeout }
    }

    /// How long past the deadline `r` arrived, if it did.
    pub fn late(&self, r: &Received) -> Option<Duration> {
        (r.at > self.due).then(|| r.at - self.due)
    }
}

/// Deadline, order and nothing-unexpected checks over one step's arrivals. Order and
/// nothing-after-last apply only to a strict sequence.
///
/// A live service also updates a call's sub-resources (its roster, its operations) while
/// the documented sequence runs: such an entry arriving before the last documented
/// notification is reported as undocumented (`undocumented-fields`, failing under
/// `--strict`), not as something after the last.
pub fn sequence_checks(
    step: &str,
    expected: &[NotificationExpect],
    order: NotificationOrder,
    got: &[Received],
    deadline: Deadline,
    strict: bool,
) -> (Vec<Check>, Vec<Option<usize>>) {
    let matched = match_arrivals(expected, got);
    let mut checks = vec![deadline_check(step, expected, got, &matched, deadline)];
    if order == NotificationOrder::Strict {
        checks.push(order_check(step, expected, got, &matched));
        let last = matched.iter().flatten().max().copied();
        let between: Vec<usize> = (0..got.len())
            .filter(|i| !matched.contains(&Some(*i)))
            .filter(|i| last.is_some_and(|l| *i < l) && names_sub_resource(&got[*i]))
            .collect();
        checks.push(nothing_after_last_check(
            step, expected, got, &matched, &between,
        ));
        if !between.is_empty() {
            let what: Vec<String> = between
                .iter()
                .map(|&i| {
                    entry(&got[i])
                        .and_then(crate::listener::entry_resource_url)
                        .map_or("an entry".into(), |u| format!("`{u}`"))
                })
                .collect();
            let detail = format!(
                "undocumented notifications before the last documented one: {} (a sub-resource update the page does not show)",
                what.join(", ")
            );
            checks.push(if strict {
                Check::fail(
                    CheckId::UndocumentedFields,
                    step,
                    detail + " (failing: --strict)",
                )
            } else {
                Check::warn(CheckId::UndocumentedFields, step, detail)
            });
        }
    }
    (checks, matched)
}

/// An entry about a sub-resource of a call (`.../calls/{id}/participants`,
/// `.../operations/{id}`), not about the call itself.
fn names_sub_resource(r: &Received) -> bool {
    let Some(url) = entry(r).and_then(crate::listener::entry_resource_url) else {
        return false;
    };
    let path = url.split(['?', '#']).next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segs.iter()
        .position(|s| *s == "calls")
        .is_some_and(|i| segs.len() > i + 2)
}

/// Names as a comma-separated list of code spans.
fn name_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every expected notification arrived, none past the deadline; the message names the
/// missing and the late ones apart.
fn deadline_check(
    step: &str,
    expected: &[NotificationExpect],
    got: &[Received],
    matched: &[Option<usize>],
    deadline: Deadline,
) -> Check {
    let missing: Vec<&str> = expected
        .iter()
        .zip(matched)
        .filter(|(_, m)| m.is_none())
        .map(|(e, _)| e.name.as_str())
        .collect();
    let late: Vec<String> = expected
        .iter()
        .zip(matched)
        .filter_map(|(e, m)| {
            let after = deadline.late(&got[(*m)?])?;
            Some(format!("`{}` {} ms past it", e.name, after.as_millis()))
        })
        .collect();
    let all: Vec<&str> = expected.iter().map(|e| e.name.as_str()).collect();
    Check::from_bool(
        CheckId::NotificationDeadline,
        step,
        missing.is_empty() && late.is_empty(),
        || {
            let mut actual = format!("{} arrived", states(got));
            if !missing.is_empty() {
                actual.push_str(&format!("; missing {}", name_list(&missing)));
            }
            if !late.is_empty() {
                actual.push_str(&format!("; late: {}", late.join(", ")));
            }
            format!(
                "Expected: {} within {} ms of the response\nActual:   {actual}",
                name_list(&all),
                deadline.timeout.as_millis(),
            )
        },
    )
}

/// The expected notifications that arrived did so in the order the case lists them.
fn order_check(
    step: &str,
    expected: &[NotificationExpect],
    got: &[Received],
    matched: &[Option<usize>],
) -> Check {
    let present: Vec<(usize, &NotificationExpect)> = matched
        .iter()
        .zip(expected)
        .filter_map(|(m, e)| m.map(|i| (i, e)))
        .collect();
    let in_order = present.windows(2).all(|w| w[0].0 < w[1].0);
    Check::from_bool(CheckId::NotificationOrder, step, in_order, || {
        format!(
            "Expected: {} in this order\nActual:   {}",
            expected
                .iter()
                .map(|e| format!("`{}`", e.name))
                .collect::<Vec<_>>()
                .join(" then "),
            states(got)
        )
    })
}

/// Nothing arrived that no expected notification claims (the Delete page: nothing after
/// `terminated`).
fn nothing_after_last_check(
    step: &str,
    expected: &[NotificationExpect],
    got: &[Received],
    matched: &[Option<usize>],
    between: &[usize],
) -> Check {
    let unexpected: Vec<&Received> = got
        .iter()
        .enumerate()
        .filter(|(i, _)| !matched.contains(&Some(*i)) && !between.contains(i))
        .map(|(_, r)| r)
        .collect();
    let last = expected.last().map(|e| e.name.as_str()).unwrap_or("");
    Check::from_bool(
        CheckId::NothingAfterLast,
        step,
        unexpected.is_empty(),
        || {
            format!(
                "Expected: nothing after `{last}`\nActual:   also {}",
                unexpected
                    .iter()
                    .map(|r| r
                        .state()
                        .map_or("a notification without state".into(), |s| format!("`{s}`")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    )
}

pub use crate::contract::EndReasons;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn received(at: Instant, body: Value) -> Received {
        Received::fixture(at, body)
    }

    fn state_entry(url: &str, change: &str, state: &str) -> Value {
        json!({"changeType": change, "resourceUrl": url, "resourceData": {"state": state}})
    }

    fn expect(name: &str) -> NotificationExpect {
        NotificationExpect {
            name: name.into(),
            state: Some(name.into()),
            matches: Default::default(),
            snapshot: None,
            documented: None,
            redact: Vec::new(),
            ty: None,
            caused_by: None,
        }
    }

    fn verdict(checks: &[Check], id: CheckId) -> Vec<crate::results::Verdict> {
        checks
            .iter()
            .filter(|c| c.id == id)
            .map(|c| c.verdict)
            .collect()
    }

    #[test]
    fn an_arrival_past_the_deadline_is_late_even_when_received() {
        use crate::results::Verdict::{Fail, Pass};
        let t0 = Instant::now();
        let timeout = Duration::from_millis(100);
        let deadline = Deadline::new(t0 + timeout, timeout);
        let on_time = received(
            t0 + Duration::from_millis(50),
            json!({"value": [state_entry("/communications/calls/c", "updated", "terminating")]}),
        );
        let late = received(
            t0 + Duration::from_millis(180),
            json!({"value": [state_entry("/communications/calls/c", "deleted", "terminated")]}),
        );
        let want = [expect("terminating"), expect("terminated")];
        let strict = NotificationOrder::Strict;
        let got = [on_time.clone(), late];
        let (checks, matched) = sequence_checks("s", &want, strict, &got, deadline, false);
        assert_eq!(matched, vec![Some(0), Some(1)]);
        assert_eq!(verdict(&checks, CheckId::NotificationDeadline), [Fail]);
        let detail = &checks[0].detail;
        assert!(
            detail.contains("late: `terminated` 80 ms past it"),
            "{detail}"
        );
        assert!(!detail.contains("missing"), "{detail}");
        // Both on time: the deadline holds.
        let got = [
            on_time.clone(),
            received(t0 + timeout, got[1].json.clone().unwrap()),
        ];
        let (checks, _) = sequence_checks("s", &want, strict, &got, deadline, false);
        assert_eq!(verdict(&checks, CheckId::NotificationDeadline), [Pass]);
        // One missing: named as missing.
        let (checks, _) = sequence_checks("s", &want, strict, &[on_time], deadline, false);
        assert!(
            checks[0].detail.contains("missing `terminated`"),
            "{}",
            checks[0].detail
        );
    }

    #[test]
    fn a_roster_update_between_documented_notifications_is_undocumented_not_after_the_last() {
        use crate::results::Verdict::{Fail, Pass, Warn};
        let t0 = Instant::now();
        let timeout = Duration::from_secs(5);
        let deadline = Deadline::new(t0 + timeout, timeout);
        let at = |ms: u64, body: Value| received(t0 + Duration::from_millis(ms), body);
        let terminating = at(
            10,
            json!({"value": [state_entry("/communications/calls/c", "updated", "terminating")]}),
        );
        let roster = at(
            20,
            json!({"value": [{"changeType": "updated", "resourceUrl": "/communications/calls/c/participants", "resourceData": []}]}),
        );
        let terminated = at(
            30,
            json!({"value": [state_entry("/communications/calls/c", "deleted", "terminated")]}),
        );
        let want = [expect("terminating"), expect("terminated")];
        let strict_order = NotificationOrder::Strict;
        let got = [terminating.clone(), roster.clone(), terminated.clone()];
        let (checks, _) = sequence_checks("s", &want, strict_order, &got, deadline, false);
        assert_eq!(verdict(&checks, CheckId::NothingAfterLast), [Pass]);
        assert_eq!(verdict(&checks, CheckId::UndocumentedFields), [Warn]);
        let (checks, _) = sequence_checks("s", &want, strict_order, &got, deadline, true);
        assert_eq!(verdict(&checks, CheckId::UndocumentedFields), [Fail]);
        // After `terminated`, the same update is something after the last.
        let late_roster = at(
            40,
            json!({"value": [{"changeType": "updated", "resourceUrl": "/communications/calls/c/participants", "resourceData": []}]}),
        );
        let got = [terminating.clone(), terminated.clone(), late_roster];
        let (checks, _) = sequence_checks("s", &want, strict_order, &got, deadline, false);
        assert_eq!(verdict(&checks, CheckId::NothingAfterLast), [Fail]);
        assert!(verdict(&checks, CheckId::UndocumentedFields).is_empty());
        // A call-state entry in between is no sub-resource update: it still fails.
        let extra_state = at(
            20,
            json!({"value": [state_entry("/communications/calls/c", "updated", "established")]}),
        );
        let got = [terminating, extra_state, terminated];
        let (checks, _) = sequence_checks("s", &want, strict_order, &got, deadline, false);
        assert_eq!(verdict(&checks, CheckId::NothingAfterLast), [Fail]);
    }
}
