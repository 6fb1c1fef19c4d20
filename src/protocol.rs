//! Graph notification rules beyond the snapshot, each a named check: what the Delete call
//! page says about the sequence (terminating, then terminated, nothing after), how
//! changeType follows state, which call a notification names, which end reasons exist,
//! and that notifications authenticate.

use crate::case::{NotificationExpect, NotificationOrder};
use crate::listener::Received;
use crate::results::{Check, CheckId};
use serde_json::Value;
use std::time::Duration;

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

/// Deadline, order and nothing-unexpected checks over one step's arrivals.
pub fn sequence_checks(
    step: &str,
    expected: &[NotificationExpect],
    order: NotificationOrder,
    got: &[Received],
    timeout: Duration,
) -> (Vec<Check>, Vec<Option<usize>>) {
    let matched = match_arrivals(expected, got);
    let mut checks = Vec::new();
    let missing: Vec<&str> = expected
        .iter()
        .zip(&matched)
        .filter(|(_, m)| m.is_none())
        .map(|(e, _)| e.name.as_str())
        .collect();
    checks.push(Check::from_bool(
        CheckId::NotificationDeadline,
        step,
        missing.is_empty(),
        || {
            format!(
                "Expected: {} within {:?}\nActual:   {} arrived; missing {}",
                expected
                    .iter()
                    .map(|e| format!("`{}`", e.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                timeout,
                states(got),
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
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
                        u.replace(rules.routed_by, "[call_id]")
                    ))
                )
            },
        ));
        if let Some(ri) = entry.pointer("/resourceData/resultInfo") {
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
