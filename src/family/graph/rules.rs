//! The Graph notification rules beyond the snapshot, each a named check: that a
//! notification authenticates and is JSON, how changeType follows state, which call a
//! notification names, and which end reasons (resultInfo) exist.

use crate::family::RuleContext as Rules;
use crate::listener::Received;
use crate::results::{Check, CheckId};
use serde_json::Value;

/// Every rule a received commsNotifications POST must satisfy: the transport checks once,
/// then the per-entry checks for each commsNotification in `value`.
pub fn notification_checks(subject: &str, r: &Received, rules: &Rules<'_>) -> Vec<Check> {
    let mut out = vec![
        authorization_check(subject, r, rules),
        content_type_check(subject, r),
    ];
    let entries = match notification_entries(subject, r) {
        Ok(entries) => entries,
        Err(failed) => {
            out.push(failed);
            return out;
        }
    };
    for (i, entry) in entries.iter().enumerate() {
        entry_checks(subject, i, entry, rules, &mut out);
    }
    out
}

/// Authorization: the docs say every notification carries a bearer token; when the run
/// knows the token, it must be that one. The token itself never appears in a message.
fn authorization_check(subject: &str, r: &Received, rules: &Rules<'_>) -> Check {
    let auth = r.authorization.as_deref().unwrap_or("");
    let bearer = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match (bearer, rules.expected_token) {
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
    }
}

/// The media type, parameters (charset) and case aside, must be JSON.
fn content_type_check(subject: &str, r: &Received) -> Check {
    let ct = r.content_type.as_deref().map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    Check::from_bool(
        CheckId::NotificationContentType,
        subject,
        ct.as_deref() == Some("application/json"),
        || {
            format!(
                "Expected: application/json\nActual:   {}",
                ct.as_deref().unwrap_or("none")
            )
        },
    )
}

/// The `value` array of a commsNotifications body, or the failed JSON check saying why
/// there is none; without entries no per-entry rule can be judged.
fn notification_entries<'r>(subject: &str, r: &'r Received) -> Result<&'r Vec<Value>, Check> {
    let json = r.json.as_ref().map_err(|e| {
        Check::fail(
            CheckId::NotificationJson,
            subject,
            format!("body is not JSON: {e}"),
        )
    })?;
    json.get("value")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            Check::fail(
                CheckId::NotificationJson,
                subject,
                "Expected: a commsNotifications object with a non-empty `value` array",
            )
        })
}

/// The checks on the `i`th commsNotification of a body.
fn entry_checks(subject: &str, i: usize, entry: &Value, rules: &Rules<'_>, out: &mut Vec<Check>) {
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
        return;
    }
    out.extend(change_type_check(subject, i, entry));
    out.push(resource_url_check(subject, i, entry, rules));
    if let Some(ri) = entry.pointer("/resourceData/resultInfo") {
        out.push(result_info_type_check(subject, i, ri, rules));
        // The call-end reason table documents how calls end: it judges a call's
        // resultInfo, not an operation's (a playPrompt completes with 200/0).
        let is_call = entry
            .pointer("/resourceData/@odata.type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "#microsoft.graph.call");
        if is_call {
            out.push(result_info_documented_check(subject, i, ri, rules));
        }
    }
    if let Some(data) = entry.get("resourceData") {
        out.extend(operation_result_check(
            subject,
            &at(i, "resourceData"),
            data,
        ));
    }
}

/// What an operation's resultInfo code says of its outcome: the code's class, as the
/// resultInfo page explains it (2xx success, 4xx client error, 5xx server error), with `0`
/// the success code the transfer pages print.
fn succeeded(code: i64) -> Option<bool> {
    match code {
        0 | 200..=299 => Some(true),
        400..=599 => Some(false),
        _ => None,
    }
}

/// An operation (a resource with `status` and `resultInfo`) that ended: `completed`
/// reports no failure and `failed` no success. Which pair it reports, among those of its
/// outcome, is the snapshot's note. Nothing to judge (still running, no resultInfo): no
/// check.
pub fn operation_result_check(subject: &str, at: &str, data: &Value) -> Option<Check> {
    let status = data.get("status")?.as_str()?;
    let want_success = match status {
        "completed" => true,
        "failed" => false,
        _ => return None,
    };
    let ri = data.get("resultInfo").filter(|v| !v.is_null())?;
    let code = ri.get("code").and_then(as_int);
    let outcome = code.and_then(succeeded);
    let verdict_ok = outcome == Some(want_success);
    Some(Check::from_bool(
        CheckId::OperationResult,
        subject,
        verdict_ok,
        || {
            let shown = format!(
                "{}/{}",
                ri.get("code").map_or("none".into(), Value::to_string),
                ri.get("subcode")
                    .or_else(|| ri.get("subCode"))
                    .map_or("none".into(), Value::to_string)
            );
            format!(
                "{at}: Expected: a `{status}` operation's resultInfo to report {} (code {})\nActual:   resultInfo {shown}{}",
                if want_success { "success" } else { "a failure" },
                if want_success {
                    "0 or 2xx"
                } else {
                    "4xx or 5xx"
                },
                match outcome {
                    Some(true) => " (a success)",
                    Some(false) => " (a failure)",
                    None => " (a code of no documented class)",
                }
            )
        },
    ))
}

/// Where in the body a per-entry check looked, for its message.
fn at(i: usize, key: &str) -> String {
    format!("/value/{i}/{key}")
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

/// The changeType check, for an entry that carries a call state (others have no rule).
fn change_type_check(subject: &str, i: usize, entry: &Value) -> Option<Check> {
    let state = entry
        .pointer("/resourceData/state")
        .and_then(Value::as_str)?;
    let change = entry.get("changeType").and_then(Value::as_str);
    let want = expected_change_type(state);
    Some(Check::from_bool(
        CheckId::ChangeTypeMatchesState,
        subject,
        change == Some(want),
        || {
            format!(
                "{}: state `{state}` needs changeType `{want}`\nActual:   {}",
                at(i, "changeType"),
                change.map_or("missing".into(), |c| format!("`{c}`"))
            )
        },
    ))
}

/// The resourceUrl must name the call the case acts on; the URL names it percent-encoded
/// (a call id may hold `/` or a space). The live id is shown as `[call_id]`.
fn resource_url_check(subject: &str, i: usize, entry: &Value, rules: &Rules<'_>) -> Check {
    // The 2018-2019 pages name the resource by `resource` alone.
    let url = crate::listener::entry_resource_url(entry);
    let named = url.and_then(crate::listener::call_id_of);
    Check::from_bool(
        CheckId::ResourceUrlNamesCall,
        subject,
        named.as_deref() == Some(rules.routed_by),
        || {
            format!(
                "{}: Expected: a resourceUrl naming call [call_id]\nActual:   {}",
                at(i, "resourceUrl"),
                url.map_or("missing".into(), |u| format!(
                    "`{}`",
                    u.replace(rules.routed_by, "[call_id]").replace(
                        &crate::template::encode_segment(rules.routed_by),
                        "[call_id]"
                    )
                ))
            )
        },
    )
}

/// resultInfo code and subcode are Int32 numbers by the schema (erratum
/// graph-resultinfo-int32); `--as-printed` judges them as the page prints them, strings.
///
/// This check judges the types of the members that are there. Whether a member is there
/// at all is structure, which the snapshot judges against the page: a v1.0 page shows
/// `subcode`, so a target leaving it out fails `snapshot`, while the 2018 beta transfer
/// page reports `{"code": "200", "subCode": "transferring"}` with no `subcode` at all.
/// A resultInfo with neither member has nothing to judge, and fails.
fn result_info_type_check(subject: &str, i: usize, ri: &Value, rules: &Rules<'_>) -> Check {
    let typed = |v: &Value| match v {
        Value::Number(n) => {
            !rules.as_printed && n.as_i64().is_some_and(|n| i32::try_from(n).is_ok())
        }
        Value::String(_) => rules.as_printed,
        _ => false,
    };
    let present: Vec<(&str, &Value)> = ["code", "subcode"]
        .into_iter()
        .filter_map(|k| ri.get(k).map(|v| (k, v)))
        .collect();
    let want = if rules.as_printed {
        "strings, as printed (--as-printed)"
    } else {
        "Int32 numbers (the schema; erratum graph-resultinfo-int32)"
    };
    let where_ = at(i, "resourceData/resultInfo");
    if present.is_empty() {
        return Check::fail(
            CheckId::ResultInfoType,
            subject,
            format!(
                "{where_}: Expected code and/or subcode as {want}\nActual:   neither (resultInfo is {})",
                json_kind(ri)
            ),
        );
    }
    let wrong: Vec<String> = present
        .iter()
        .filter(|(_, v)| !typed(v))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    Check::from_bool(CheckId::ResultInfoType, subject, wrong.is_empty(), || {
        format!(
            "{where_}: Expected code and subcode, where present, as {want}\nActual:   {}",
            wrong.join(", ")
        )
    })
}

/// The code/subcode pair must be a documented call-end reason, whatever its JSON type
/// (the type has its own check). The table is keyed by the pair, so a call's resultInfo
/// missing either member names no documented reason and fails: absence never passes.
fn result_info_documented_check(subject: &str, i: usize, ri: &Value, rules: &Rules<'_>) -> Check {
    // Pages older than the call-end reason table: no table to judge by, which is said, not
    // blamed on the target; the snapshot judges the pair against the example.
    if rules.reasons.pairs() == 0 {
        return Check::note(
            CheckId::ResultInfoDocumented,
            subject,
            vec![format!(
                "{}: no call-end reason table in the corpus (cases/graph/_end-reasons.toml): the pair is judged against the example only",
                at(i, "resourceData/resultInfo")
            )],
        );
    }
    let pair = (
        ri.get("code").and_then(as_int),
        ri.get("subcode").and_then(as_int),
    );
    match pair {
        (Some(c), Some(s)) if rules.reasons.is_documented(c, s) => {
            Check::pass(CheckId::ResultInfoDocumented, subject)
        }
        (Some(c), Some(s)) => Check::fail(
            CheckId::ResultInfoDocumented,
            subject,
            format!(
                "{}: code {c} / subcode {s} is not a documented call-end reason ({} documented pairs)",
                at(i, "resourceData/resultInfo"),
                rules.reasons.pairs()
            ),
        ),
        _ => Check::fail(
            CheckId::ResultInfoDocumented,
            subject,
            format!(
                "{}: code or subcode missing or not a number",
                at(i, "resourceData/resultInfo")
            ),
        ),
    }
}

/// An integer from a number or a numeric string.
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::EndReasons;
    use serde_json::json;
    use std::time::Instant;

    fn received(at: Instant, body: Value) -> Received {
        Received::fixture(at, body)
    }

    fn state_entry(url: &str, change: &str, state: &str) -> Value {
        json!({"changeType": change, "resourceUrl": url, "resourceData": {"state": state}})
    }

    fn verdict(checks: &[Check], id: CheckId) -> Vec<crate::results::Verdict> {
        checks
            .iter()
            .filter(|c| c.id == id)
            .map(|c| c.verdict)
            .collect()
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

    fn rules_for(reasons: &EndReasons, as_printed: bool) -> Rules<'_> {
        Rules {
            routed_by: "c",
            reasons,
            as_printed,
            expected_token: None,
        }
    }

    /// The checks on one entry whose resourceData is `data`.
    fn judged(data: Value, as_printed: bool) -> Vec<Check> {
        judged_with(data, as_printed, &table())
    }

    /// A call-end reason table of one row (200/5001).
    fn table() -> EndReasons {
        EndReasons::parse(
            "[[reason]]\ncode = 200\nsubcodes = [5001]\nmeaning = \"The conversation has ended by user.\"\nsource = \"call-delete.md:170\"\n",
        )
        .expect("reasons")
    }

    fn judged_with(data: Value, as_printed: bool, reasons: &EndReasons) -> Vec<Check> {
        let entry = json!({
            "changeType": "updated",
            "resourceUrl": "/communications/calls/c/operations/o",
            "resourceData": data,
        });
        let r = received(Instant::now(), json!({ "value": [entry] }));
        notification_checks("s", &r, &rules_for(reasons, as_printed))
    }

    fn operation(result_info: Value) -> Value {
        json!({
            "@odata.type": "#microsoft.graph.commsOperation",
            "status": "running",
            "resultInfo": result_info,
        })
    }

    #[test]
    fn result_info_type_judges_the_members_that_are_there() {
        use crate::results::Verdict::Pass;
        // The 2018 transfer page's shape, after the Int32 erratum: code, and `subCode` (not
        // the schema's member, which the snapshot judges against the page).
        let legacy = operation(json!({"code": 200, "subCode": "transferring"}));
        let checks = judged(legacy, false);
        assert_eq!(verdict(&checks, CheckId::ResultInfoType), [Pass]);
        assert!(verdict(&checks, CheckId::ResultInfoDocumented).is_empty());
        let full = operation(json!({"code": 200, "subcode": 0, "message": "ok"}));
        assert_eq!(
            verdict(&judged(full, false), CheckId::ResultInfoType),
            [Pass]
        );
        let sub_only = operation(json!({"subcode": 5001}));
        assert_eq!(
            verdict(&judged(sub_only, false), CheckId::ResultInfoType),
            [Pass]
        );
    }

    #[test]
    fn result_info_type_fails_a_present_member_of_another_type() {
        use crate::results::Verdict::{Fail, Pass};
        for bad in [
            json!({"code": "200", "subCode": "transferring"}),
            json!({"code": 200, "subcode": "5001"}),
            json!({"code": 200, "subcode": 5001.5}),
            json!({"code": 4_294_967_296_i64, "subcode": 0}),
            json!({"code": null}),
        ] {
            let checks = judged(operation(bad.clone()), false);
            assert_eq!(verdict(&checks, CheckId::ResultInfoType), [Fail], "{bad}");
        }
        let checks = judged(operation(json!({"code": 200, "subcode": "5001"})), false);
        let detail = checks
            .iter()
            .find(|c| c.id == CheckId::ResultInfoType)
            .map(|c| c.detail.as_str())
            .unwrap_or_default();
        assert!(
            detail.contains("subcode \"5001\"") && !detail.contains("code 200"),
            "{detail}"
        );
        // As printed, strings are the expectation and numbers are not.
        let printed = operation(json!({"code": "200", "subCode": "transferring"}));
        assert_eq!(
            verdict(&judged(printed, true), CheckId::ResultInfoType),
            [Pass]
        );
        let numbers = operation(json!({"code": 200}));
        assert_eq!(
            verdict(&judged(numbers, true), CheckId::ResultInfoType),
            [Fail]
        );
    }

    #[test]
    fn a_result_info_with_nothing_to_judge_fails() {
        use crate::results::Verdict::Fail;
        for empty in [
            json!({}),
            json!({"message": "x", "subCode": 7000}),
            json!(null),
            json!("200"),
        ] {
            let checks = judged(operation(empty.clone()), false);
            assert_eq!(verdict(&checks, CheckId::ResultInfoType), [Fail], "{empty}");
            let checks = judged(operation(empty.clone()), true);
            assert_eq!(verdict(&checks, CheckId::ResultInfoType), [Fail], "{empty}");
        }
    }

    #[test]
    fn a_call_end_reason_missing_a_member_is_not_documented() {
        use crate::results::Verdict::{Fail, Pass};
        let call = |ri: Value| json!({"@odata.type": "#microsoft.graph.call", "state": "established", "resultInfo": ri});
        // Typed as far as it goes, but no pair to find in the table.
        let checks = judged(call(json!({"code": 500, "subCode": 7000})), false);
        assert_eq!(verdict(&checks, CheckId::ResultInfoType), [Pass]);
        assert_eq!(verdict(&checks, CheckId::ResultInfoDocumented), [Fail]);
        let checks = judged(call(json!({"subcode": 5001})), false);
        assert_eq!(verdict(&checks, CheckId::ResultInfoDocumented), [Fail]);
    }

    #[test]
    fn without_a_reason_table_the_pair_is_left_to_the_example_and_that_is_said() {
        use crate::results::Verdict::{Note, Pass};
        let call = json!({"@odata.type": "#microsoft.graph.call", "state": "terminated", "resultInfo": {"code": 200, "subcode": 4242}});
        let checks = judged_with(call.clone(), false, &EndReasons::default());
        let documented: Vec<&Check> = checks
            .iter()
            .filter(|c| c.id == CheckId::ResultInfoDocumented)
            .collect();
        assert_eq!(documented.len(), 1);
        assert_eq!(documented[0].verdict, Note);
        assert!(
            documented[0].notes[0].contains("no call-end reason table"),
            "{:?}",
            documented[0].notes
        );
        assert_eq!(verdict(&checks, CheckId::ResultInfoType), [Pass]);
    }

    #[test]
    fn an_ended_operation_reports_the_outcome_of_its_status() {
        use crate::results::Verdict::{Fail, Pass};
        let op = |status: &str, code: i64| json!({"@odata.type": "#microsoft.graph.playPromptOperation", "status": status, "resultInfo": {"code": code, "subcode": 9999, "message": "m"}});
        assert_eq!(
            verdict(
                &judged(op("completed", 200), false),
                CheckId::OperationResult
            ),
            [Pass]
        );
        assert_eq!(
            verdict(&judged(op("failed", 400), false), CheckId::OperationResult),
            [Pass]
        );
        let c = judged(op("completed", 500), false);
        assert_eq!(verdict(&c, CheckId::OperationResult), [Fail]);
        let detail = &c
            .iter()
            .find(|c| c.id == CheckId::OperationResult)
            .expect("judged")
            .detail;
        assert!(
            detail.contains("a `completed` operation's resultInfo to report success")
                && detail.contains("500/9999 (a failure)"),
            "{detail}"
        );
        assert_eq!(
            verdict(&judged(op("failed", 200), false), CheckId::OperationResult),
            [Fail]
        );
        assert_eq!(
            verdict(
                &judged(op("completed", 42), false),
                CheckId::OperationResult
            ),
            [Fail]
        );
        // Still running, or no result yet: nothing to judge, no check.
        assert!(verdict(&judged(op("running", 500), false), CheckId::OperationResult).is_empty());
        let no_result = json!({"@odata.type": "#microsoft.graph.playPromptOperation", "status": "completed", "resultInfo": null});
        assert!(verdict(&judged(no_result, false), CheckId::OperationResult).is_empty());
    }
}
