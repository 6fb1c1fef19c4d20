//! Graph notification rules beyond the snapshot, each a named check: what the Delete call
//! page says about the sequence (terminating, then terminated, nothing after), how
//! changeType follows state, which call a notification names, which end reasons exist,
//! and that notifications authenticate.

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

/// Deadline, order and nothing-unexpected checks over one step's arrivals.
pub fn sequence_checks(
    step: &str,
    expected: &[NotificationExpect],
    order: NotificationOrder,
    got: &[Received],
    deadline: Deadline,
) -> (Vec<Check>, Vec<Option<usize>>) {
    let matched = match_arrivals(expected, got);
    let mut checks = Vec::new();
    let missing: Vec<&str> = expected
        .iter()
        .zip(&matched)
        .filter(|(_, m)| m.is_none())
        .map(|(e, _)| e.name.as_str())
        .collect();
    let late: Vec<String> = expected
        .iter()
        .zip(&matched)
        .filter_map(|(e, m)| {
            let after = deadline.late(&got[(*m)?])?;
            Some(format!("`{}` {} ms past it", e.name, after.as_millis()))
        })
        .collect();
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all: Vec<&str> = expected.iter().map(|e| e.name.as_str()).collect();
    checks.push(Check::from_bool(
        CheckId::NotificationDeadline,
        step,
        missing.is_empty() && late.is_empty(),
        || {
            let mut actual = format!("{} arrived", states(got));
            if !missing.is_empty() {
                actual.push_str(&format!("; missing {}", list(&missing)));
            }
            if !late.is_empty() {
                actual.push_str(&format!("; late: {}", late.join(", ")));
            }
            format!(
                "Expected: {} within {} ms of the response\nActual:   {actual}",
                list(&all),
                deadline.timeout.as_millis(),
            )
        },
    ));
    if order == NotificationOrder::Strict {
        let present: Vec<(usize, &NotificationExpect)> = matched
            .iter()
            .zip(expected)
            .filter_map(|(m, e)| m.map(|i| (i, e)))
            .collect();
        let in_order = present.windows(2).all(|w| w[0].0 < w[1].0);
        checks.push(Check::from_bool(
            CheckId::NotificationOrder,
            step,
            in_order,
            || {
                format!(
                    "Expected: {} in this order\nActual:   {}",
                    expected
                        .iter()
                        .map(|e| format!("`{}`", e.name))
                        .collect::<Vec<_>>()
                        .join(" then "),
                    states(got)
                )
            },
        ));
        let unexpected: Vec<&Received> = got
            .iter()
            .enumerate()
            .filter(|(i, _)| !matched.contains(&Some(*i)))
            .map(|(_, r)| r)
            .collect();
        let last = expected.last().map(|e| e.name.as_str()).unwrap_or("");
        checks.push(Check::from_bool(
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
        ));
    }
    (checks, matched)
}

/// changeType follows state: `deleted` for terminated, `created` for incoming,
/// `updated` for every other state (domain notes 2.4).
pub fn expected_change_type(state: &str) -> &'static str {
    match state {
        "terminated" => "deleted",
        "incoming" => "created",
        _ => "updated",
    }
}

/// What a JSON value is, for a message that must not print it (it may be large).
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub use crate::contract::EndReasons;
pub use crate::family::RuleContext as Rules;

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn notification_checks(subject: &str, r: &Received, rules: &Rules<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    // Authorization: the docs say every notification carries a bearer token.
    let auth = r.authorization.as_deref().unwrap_or("");
    let bearer = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    out.push(match (bearer, rules.expected_token) {
        (None, _) if r.authorization.is_none() => Check::fail(
            CheckId::NotificationAuthorization,
            subject,
            "Expected: Authorization: Bearer <token>\nActual:   no Authorization header",
        ),
        (None, _) => Check::fail(
            CheckId::NotificationAuthorization,
            subject,
            "Expected: Authorization: Bearer <token>\nActual:   an Authorization header that is not a bearer token",
        ),
        (Some(t), Some(want)) if t != want => Check::fail(
            CheckId::NotificationAuthorization,
            subject,
            "Expected: the configured bearer token\nActual:   another token ([redacted])",
        ),
        _ => Check::pass(CheckId::NotificationAuthorization, subject),
    });
    let ct = r.content_type.as_deref().map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    out.push(Check::from_bool(
        CheckId::NotificationContentType,
        subject,
        ct.as_deref() == Some("application/json"),
        || {
            format!(
                "Expected: application/json\nActual:   {}",
                ct.as_deref().unwrap_or("none")
            )
        },
    ));
    let json = match &r.json {
        Ok(v) => v,
        Err(e) => {
            out.push(Check::fail(
                CheckId::NotificationJson,
                subject,
                format!("body is not JSON: {e}"),
            ));
            return out;
        }
    };
    let Some(entries) = json
        .get("value")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        out.push(Check::fail(
            CheckId::NotificationJson,
            subject,
            "Expected: a commsNotifications object with a non-empty `value` array",
        ));
        return out;
    };
    for (i, entry) in entries.iter().enumerate() {
        let at = |k: &str| format!("/value/{i}/{k}");
        if !entry.is_object() {
            // A commsNotification serialised twice arrives as a string: nothing in it can be
            // judged, and a client reading `value` as objects would choke on it.
            out.push(Check::fail(
                CheckId::NotificationJson,
                subject,
                format!(
                    "/value/{i}: Expected a commsNotification object\nActual:   {}",
                    json_kind(entry)
                ),
            ));
            continue;
        }
        let state = entry.pointer("/resourceData/state").and_then(Value::as_str);
        let change = entry.get("changeType").and_then(Value::as_str);
        if let Some(state) = state {
            let want = expected_change_type(state);
            out.push(Check::from_bool(
                CheckId::ChangeTypeMatchesState,
                subject,
                change == Some(want),
                || {
                    format!(
                        "{}: state `{state}` needs changeType `{want}`\nActual:   {}",
                        at("changeType"),
                        change.map_or("missing".into(), |c| format!("`{c}`"))
                    )
                },
            ));
        }
        let url = entry.get("resourceUrl").and_then(Value::as_str);
        // The URL names the call percent-encoded (a call id may hold `/` or a space).
        let named = url.and_then(crate::listener::call_id_of);
        out.push(Check::from_bool(
            CheckId::ResourceUrlNamesCall,
            subject,
            named.as_deref() == Some(rules.routed_by),
            || {
                format!(
                    "{}: Expected: a resourceUrl naming call [call_id]\nActual:   {}",
                    at("resourceUrl"),
                    url.map_or("missing".into(), |u| format!(
                        "`{}`",
                        u.replace(rules.routed_by, "[call_id]").replace(
                            &crate::template::encode_segment(rules.routed_by),
                            "[call_id]"
                        )
                    ))
                )
            },
        ));
        // The call-end reason table documents how calls end: it judges a call's resultInfo,
        // not an operation's (a playPrompt completes with 200/0).
        let is_call = entry
            .pointer("/resourceData/@odata.type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "#microsoft.graph.call");
        if let Some(ri) = entry
            .pointer("/resourceData/resultInfo")
            .filter(|_| is_call)
        {
            let code = ri.get("code");
            let sub = ri.get("subcode");
            let typed = |v: Option<&Value>| match v {
                Some(Value::Number(n)) => {
                    !rules.as_printed && n.as_i64().is_some_and(|n| i32::try_from(n).is_ok())
                }
                Some(Value::String(_)) => rules.as_printed,
                _ => false,
            };
            out.push(Check::from_bool(
                CheckId::ResultInfoType,
                subject,
                typed(code) && typed(sub),
                || {
                    let want = if rules.as_printed {
                        "strings, as printed (--as-printed)"
                    } else {
                        "Int32 numbers (the schema; erratum graph-resultinfo-int32)"
                    };
                    format!(
                        "{}: Expected code and subcode as {want}\nActual:   code {}, subcode {}",
                        at("resourceData/resultInfo"),
                        code.map_or("missing".into(), Value::to_string),
                        sub.map_or("missing".into(), Value::to_string)
                    )
                },
            ));
            let pair = (code.and_then(as_int), sub.and_then(as_int));
            out.push(match pair {
                (Some(c), Some(s)) if rules.reasons.is_documented(c, s) => {
                    Check::pass(CheckId::ResultInfoDocumented, subject)
                }
                (Some(c), Some(s)) => Check::fail(
                    CheckId::ResultInfoDocumented,
                    subject,
                    format!(
                        "{}: code {c} / subcode {s} is not a documented call-end reason ({} documented pairs)",
                        at("resourceData/resultInfo"),
                        rules.reasons.pairs()
                    ),
                ),
                _ => Check::fail(
                    CheckId::ResultInfoDocumented,
                    subject,
                    format!("{}: code or subcode missing or not a number", at("resourceData/resultInfo")),
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn received(at: Instant, body: Value) -> Received {
        Received {
            seq: 0,
            at,
            path: "/callbacks/t".into(),
            authorization: Some("Bearer t".into()),
            content_type: Some("application/json".into()),
            body: body.to_string().into(),
            json: Ok(body),
            call_id: None,
            tag: None,
            batch: None,
        }
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
        let (checks, matched) = sequence_checks("s", &want, strict, &got, deadline);
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
        let (checks, _) = sequence_checks("s", &want, strict, &got, deadline);
        assert_eq!(verdict(&checks, CheckId::NotificationDeadline), [Pass]);
        // One missing: named as missing.
        let (checks, _) = sequence_checks("s", &want, strict, &[on_time], deadline);
        assert!(
            checks[0].detail.contains("missing `terminated`"),
            "{}",
            checks[0].detail
        );
    }

    #[test]
    fn a_percent_encoded_resource_url_names_the_call() {
        use crate::results::Verdict::{Fail, Pass};
        let reasons = EndReasons::default();
        let id = "57dab8b1/leg?1 a";
        let rules = Rules {
            routed_by: id,
            reasons: &reasons,
            as_printed: false,
            expected_token: None,
        };
        let encoded = format!(
            "/communications/calls/{}",
            crate::template::encode_segment(id)
        );
        let r = received(
            Instant::now(),
            json!({"value": [state_entry(&encoded, "updated", "terminating")]}),
        );
        let checks = notification_checks("s", &r, &rules);
        assert_eq!(verdict(&checks, CheckId::ResourceUrlNamesCall), [Pass]);
        let other = received(
            Instant::now(),
            json!({"value": [state_entry("/communications/calls/57dab8b1%2Fleg", "updated", "terminating")]}),
        );
        let checks = notification_checks("s", &other, &rules);
        assert_eq!(verdict(&checks, CheckId::ResourceUrlNamesCall), [Fail]);
    }

    #[test]
    fn change_type_content_type_and_entry_shape_can_fail() {
        use crate::results::Verdict::{Fail, Pass};
        let reasons = EndReasons::default();
        let rules = Rules {
            routed_by: "c",
            reasons: &reasons,
            as_printed: false,
            expected_token: None,
        };
        let entry = state_entry("/communications/calls/c", "updated", "terminated");
        let mut r = received(
            Instant::now(),
            json!({"value": [entry.clone(), entry.to_string()]}),
        );
        r.content_type = Some("text/plain; charset=utf-8".into());
        let checks = notification_checks("s", &r, &rules);
        assert_eq!(verdict(&checks, CheckId::ChangeTypeMatchesState), [Fail]);
        assert_eq!(verdict(&checks, CheckId::NotificationContentType), [Fail]);
        assert_eq!(verdict(&checks, CheckId::NotificationJson), [Fail]);
        let json_check = checks
            .iter()
            .find(|c| c.id == CheckId::NotificationJson)
            .map(|c| c.detail.as_str())
            .unwrap_or_default();
        assert!(
            json_check.contains("/value/1") && json_check.contains("a string"),
            "{json_check}"
        );
        let good = received(
            Instant::now(),
            json!({"value": [state_entry("/communications/calls/c", "deleted", "terminated")]}),
        );
        let checks = notification_checks("s", &good, &rules);
        assert_eq!(verdict(&checks, CheckId::ChangeTypeMatchesState), [Pass]);
        assert_eq!(verdict(&checks, CheckId::NotificationContentType), [Pass]);
        assert!(verdict(&checks, CheckId::NotificationJson).is_empty());
    }
}
