//! A JSON answer judged against its documented example by the contract: structure exact
//! (every documented field present with its documented JSON type), values by field class.
//!
//! Collections (`class = "members"`, the `value` of a GET of a collection) list
//! instances, so they are judged member by member rather than position by position: each
//! actual member must have the structure of one documented member (the one of its
//! `@odata.type` where both name one, else the closest: fewest failures, then most
//! fields in common, then fewest notes), and a value that member shows only as the example's (an `exact`
//! field other than `@odata.type`: `isMuted`, `serverMuted`) differs with a note. Another
//! member count is a note (a truncated example only shows some: more are silent there); an
//! empty collection where the page lists members fails: a roster without the bot is no
//! roster. Every other array is compared element by element.

use super::{Findings, JudgeOptions, verdicts};
use crate::contract::{Contract, END_REASONS, EndReasons, FieldClass};
use crate::results::Check;
use serde_json::Value;

/// Judges `actual` against the documented `expected`: one `snapshot` check (pass, pass
/// with notes, or fail) and, for undocumented fields, one `undocumented-fields` check.
pub fn judge_json(
    subject: &str,
    label: &str,
    expected: &Value,
    actual: &Value,
    contract: &Contract,
    reasons: &EndReasons,
    opts: &JudgeOptions,
) -> Vec<Check> {
    let mut w = Walk {
        contract,
        reasons,
        opts,
        path: Vec::new(),
        found: Findings::default(),
        in_member: false,
    };
    w.at(expected, actual);
    verdicts(subject, w.found, opts, || {
        super::unified_diff(
            &crate::canon::json::render(expected),
            &crate::canon::json::render(actual),
            label,
            "actual",
        )
    })
}

struct Walk<'a> {
    contract: &'a Contract,
    reasons: &'a EndReasons,
    opts: &'a JudgeOptions,
    /// Unescaped segments from the root to the value being judged.
    path: Vec<String>,
    found: Findings,
    /// Inside a member of a collection: the example's own values there are one instance's.
    in_member: bool,
}

/// The JSON type of a value, as the schema would name it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value for a message, cut short: a notification can be large.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// How close a documented member is to an actual one, smallest first: failures, fields
/// in common (more is closer), notes.
type Closeness = (usize, std::cmp::Reverse<usize>, usize);

/// How much structure two members share: the fields present on both sides, at every
/// depth. Among members the answer's fits without failures, the one that explains most
/// of it is the one it stands for.
fn shared(e: &Value, a: &Value) -> usize {
    match (e, a) {
        (Value::Object(eo), Value::Object(ao)) => eo
            .iter()
            .filter_map(|(k, ev)| ao.get(k).map(|av| 1 + shared(ev, av)))
            .sum(),
        (Value::Array(ea), Value::Array(aa)) => {
            ea.iter().zip(aa).map(|(ev, av)| shared(ev, av)).sum()
        }
        _ => 0,
    }
}

/// The value as a set member is written (`"Alerted"` → `Alerted`, `true` → `true`).
fn member(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Walk<'_> {
    fn pointer(&self) -> String {
        if self.path.is_empty() {
            return "/".into();
        }
        let mut out = String::new();
        for s in &self.path {
            out.push('/');
            out.push_str(&s.replace('~', "~0").replace('/', "~1"));
        }
        out
    }

    fn child(&mut self, seg: String, e: &Value, a: &Value) {
        self.path.push(seg);
        self.at(e, a);
        self.path.pop();
    }

    fn at(&mut self, e: &Value, a: &Value) {
        // A documented `null` shows that the property exists but not its type or value:
        // any value fits it (OData services may also omit nulls, see below).
        if e.is_null() || self.placeholder(e, a) {
            return;
        }
        if kind(e) != kind(a) {
            let msg = format!(
                "{}: expected {} {}, got {} {}",
                self.pointer(),
                kind(e),
                show(e),
                kind(a),
                show(a)
            );
            self.found.failures.push(msg);
            return;
        }
        match (e, a) {
            (Value::Object(eo), Value::Object(ao)) => {
                let pair = self.end_reason_pair(eo, ao);
                let choice = self.contract.class(&self.path) == FieldClass::Choice;
                if choice && !ao.keys().any(|k| !k.starts_with('@')) {
                    self.found.failures.push(format!(
                        "{}: expected at least one of {} (alternatives), got none",
                        self.pointer(),
                        eo.keys()
                            .filter(|k| !k.starts_with('@'))
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                for (k, ev) in eo {
                    if pair && (k == "code" || k == "subcode") {
                        continue;
                    }
                    match ao.get(k) {
                        Some(av) => self.child(k.clone(), ev, av),
                        // OData lets a service omit properties whose value is null
                        // (`omit-values=nulls`): a documented null may be absent.
                        None if ev.is_null() => {}
                        // Another alternative stands in for this one.
                        None if choice => {}
                        None => {
                            self.path.push(k.clone());
                            let msg = format!(
                                "{}: documented field missing (the example shows {})",
                                self.pointer(),
                                show(ev)
                            );
                            self.path.pop();
                            self.found.failures.push(msg);
                        }
                    }
                }
                if !self.opts.truncated && !choice {
                    for k in ao.keys().filter(|k| !eo.contains_key(*k)) {
                        self.path.push(k.clone());
                        let p = self.pointer();
                        self.path.pop();
                        self.found.extra.push(p);
                    }
                }
            }
            (Value::Array(ea), Value::Array(aa))
                if self.contract.class(&self.path) == FieldClass::Members =>
            {
                self.members(ea, aa);
            }
            (Value::Array(ea), Value::Array(aa)) => {
                let longer_ok = self.opts.truncated && aa.len() > ea.len();
                if ea.len() != aa.len() && !longer_ok {
                    let msg = format!(
                        "{}: expected {} element(s), got {}",
                        self.pointer(),
                        ea.len(),
                        aa.len()
                    );
                    self.found.failures.push(msg);
                    return;
                }
                for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                    self.child(i.to_string(), ev, av);
                }
            }
            _ => self.scalar(e, a),
        }
    }

    /// A documented leaf whose value differs from the example's, judged by its class.
    fn scalar(&mut self, e: &Value, a: &Value) {
        if e == a {
            return;
        }
        let ptr = self.pointer();
        let rule = self.contract.rule(&self.path);
        let class = rule.map_or(FieldClass::Exact, |r| r.class);
        match (class, rule.and_then(|r| r.set.as_deref())) {
            (FieldClass::Live, _) => {}
            (FieldClass::Exact, _)
                if self.in_member && self.path.last().is_none_or(|k| k != "@odata.type") =>
            {
                self.found.notes.push(format!(
                    "{ptr}: {} where the member the example lists shows {} (a collection's members are instances)",
                    show(a),
                    show(e)
                ));
            }
            (FieldClass::Text, _) => self.found.notes.push(format!(
                "{ptr}: the text differs from the example: {} (the example shows {})",
                show(a),
                show(e)
            )),
            (FieldClass::Set, Some(name)) if name != END_REASONS => {
                let Some(set) = self.contract.sets.get(name) else {
                    self.found.failures.push(format!(
                        "{ptr}: expected {}, got {}",
                        show(e),
                        show(a)
                    ));
                    return;
                };
                let at = set
                    .provenance
                    .as_ref()
                    .map_or(String::new(), |p| format!(", documented at {p}"));
                if set.contains(&member(a)) {
                    self.found.notes.push(format!(
                        "{ptr}: {} is another documented value of `{name}`{at}; the example shows {}",
                        show(a),
                        show(e)
                    ));
                } else {
                    self.found.failures.push(format!(
                        "{ptr}: {} is not a documented value of `{name}` (one of: {}{at}); the example shows {}",
                        show(a),
                        set.values.join(", "),
                        show(e)
                    ));
                }
            }
            _ => self
                .found
                .failures
                .push(format!("{ptr}: expected {}, got {}", show(e), show(a))),
        }
    }

    /// The generated examples print `"<property>-value"` for a string property whose value
    /// they do not know (`"metadata": "metadata-value"`): any string fits it, or null (OData
    /// properties are nullable unless the schema says otherwise), silently.
    fn placeholder(&self, e: &Value, a: &Value) -> bool {
        let (Value::String(s), Some(key)) = (e, self.path.last()) else {
            return false;
        };
        s.strip_suffix("-value") == Some(key.as_str()) && (a.is_string() || a.is_null())
    }

    /// A collection's members (see the module comment).
    fn members(&mut self, ea: &[Value], aa: &[Value]) {
        let ptr = self.pointer();
        if aa.is_empty() {
            if !ea.is_empty() {
                self.found.failures.push(format!(
                    "{ptr}: no members, where the example lists {}",
                    ea.len()
                ));
            }
            return;
        }
        if ea.is_empty() {
            // No documented member to judge them by: every one is undocumented.
            if !self.opts.truncated {
                for i in 0..aa.len() {
                    self.found.extra.push(format!("{ptr}/{i}"));
                }
            }
            return;
        }
        if aa.len() < ea.len() || (aa.len() > ea.len() && !self.opts.truncated) {
            self.found.notes.push(format!(
                "{ptr}: {} member(s) where the example lists {} (a collection's members are instances)",
                aa.len(),
                ea.len()
            ));
        }
        for (i, av) in aa.iter().enumerate() {
            let ty = |v: &Value| {
                v.get("@odata.type")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let own = ty(av);
            let typed: Vec<&Value> = ea
                .iter()
                .filter(|ev| own.is_some() && ty(ev) == own)
                .collect();
            let candidates: Vec<&Value> = if typed.is_empty() {
                ea.iter().collect()
            } else {
                typed
            };
            let mut best: Option<(Closeness, Findings)> = None;
            for ev in candidates {
                let mut w = Walk {
                    contract: self.contract,
                    reasons: self.reasons,
                    opts: self.opts,
                    path: self.path.clone(),
                    found: Findings::default(),
                    in_member: true,
                };
                w.path.push(i.to_string());
                w.at(ev, av);
                let score = (
                    w.found.failures.len(),
                    std::cmp::Reverse(shared(ev, av)),
                    w.found.notes.len(),
                );
                if best.as_ref().is_none_or(|(s, _)| score < *s) {
                    best = Some((score, w.found));
                }
            }
            if let Some((_, found)) = best {
                self.found.failures.extend(found.failures);
                self.found.notes.extend(found.notes);
                self.found.extra.extend(found.extra);
            }
        }
    }

    /// A resultInfo-like object whose code and subcode the contract judges as one pair
    /// against the call-end reason table. Returns true when the pair was judged here.
    fn end_reason_pair(
        &mut self,
        eo: &serde_json::Map<String, Value>,
        ao: &serde_json::Map<String, Value>,
    ) -> bool {
        let num = |m: &serde_json::Map<String, Value>, k: &str| m.get(k).and_then(Value::as_i64);
        let (Some(ec), Some(es), Some(ac), Some(asub)) = (
            num(eo, "code"),
            num(eo, "subcode"),
            num(ao, "code"),
            num(ao, "subcode"),
        ) else {
            return false;
        };
        let reserved = ["code", "subcode"].iter().all(|k| {
            self.path.push((*k).to_owned());
            let r = self.contract.rule(&self.path);
            self.path.pop();
            r.and_then(|r| r.set.as_deref()) == Some(END_REASONS)
        });
        if !reserved {
            return false;
        }
        if (ec, es) == (ac, asub) {
            return true;
        }
        let ptr = self.pointer();
        match self.reasons.row(ac, asub) {
            Some(row) => self.found.notes.push(format!(
                "{ptr}: resultInfo {ac}/{asub} '{}' ({}); the example shows {ec}/{es}",
                row.meaning, row.source
            )),
            // A pair in no row fails `result-info-documented`; the snapshot does not
            // report it again, unless the example's own pair is required.
            None if self.opts.exact_values => self.found.failures.push(format!(
                "{ptr}: resultInfo {ac}/{asub}; the example shows {ec}/{es} (--exact-values)"
            )),
            None => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CheckId, Verdict};
    use serde_json::json;

    const CONTRACT: &str = r#"
[sets."call.state"]
values = ["incoming", "establishing", "established", "terminating", "terminated"]
provenance = { file = "graph/v1.0/resources/call.md", line = 82 }

[sets."commsNotification.changeType"]
values = ["created", "updated", "deleted"]
provenance = { file = "graph/v1.0/resources/commsnotification.md", line = 17 }

[[field]]
path = "/value/*/resourceData/state"
class = "set"
set = "call.state"

[[field]]
path = "/value/*/changeType"
class = "set"
set = "commsNotification.changeType"

[[field]]
path = "**/resultInfo/code"
class = "set"
set = "end-reasons"

[[field]]
path = "**/resultInfo/subcode"
class = "set"
set = "end-reasons"

[[field]]
path = "**/resultInfo/message"
class = "text"

[[field]]
path = "**/callChainId"
class = "live"
"#;

    const REASONS: &str = r#"
[[reason]]
code = 200
subcodes = [5001]
meaning = "The conversation has ended by user."
source = "delete-call.md:170"

[[reason]]
code = 200
subcodes = [7000]
meaning = "The conversation has ended by bot."
source = "delete-call.md:174"
"#;

    fn terminated() -> Value {
        json!({
            "@odata.type": "#microsoft.graph.commsNotifications",
            "value": [{
                "changeType": "deleted",
                "resourceUrl": "/communications/calls/[call_id]",
                "resourceData": {
                    "state": "terminated",
                    "callChainId": "d8f6a3b4-0000-0000-0000-000000000001",
                    "resultInfo": { "code": 200, "subcode": 5001, "message": "The conversation has ended by user." }
                }
            }]
        })
    }

    fn judge_with(actual: &Value, opts: JudgeOptions) -> Vec<Check> {
        let c = Contract::parse(CONTRACT).expect("contract");
        let r = EndReasons::parse(REASONS).expect("reasons");
        judge_json("s", "snap", &terminated(), actual, &c, &r, &opts)
    }

    fn judge(actual: &Value) -> Vec<Check> {
        judge_with(actual, JudgeOptions::default())
    }

    fn snapshot(checks: &[Check]) -> &Check {
        checks
            .iter()
            .find(|c| c.id == CheckId::Snapshot)
            .expect("a snapshot check")
    }

    fn with(f: impl FnOnce(&mut Value)) -> Value {
        let mut v = terminated();
        f(&mut v);
        v
    }

    #[test]
    fn the_example_itself_passes_without_notes() {
        let checks = judge(&terminated());
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].verdict, Verdict::Pass);
    }

    #[test]
    fn another_documented_value_passes_with_a_note() {
        let a = with(|v| v["value"][0]["resourceData"]["state"] = json!("terminating"));
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Note, "{c:?}");
        assert_eq!(c.notes.len(), 1);
        let n = &c.notes[0];
        assert!(n.contains("/value/0/resourceData/state"), "{n}");
        assert!(
            n.contains("\"terminating\"") && n.contains("\"terminated\""),
            "{n}"
        );
        assert!(
            n.contains("`call.state`") && n.contains("call.md:82"),
            "{n}"
        );
    }

    #[test]
    fn a_value_outside_the_set_fails_naming_set_values_and_provenance() {
        let a = with(|v| v["value"][0]["resourceData"]["state"] = json!("Terminated"));
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.detail.contains("not a documented value of `call.state`"),
            "{}",
            c.detail
        );
        assert!(c.detail.contains("incoming, establishing"), "{}", c.detail);
        assert!(
            c.detail.contains("graph/v1.0/resources/call.md:82"),
            "{}",
            c.detail
        );
        let a = with(|v| v["value"][0]["changeType"] = json!("removed"));
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.detail.contains("commsNotification.changeType"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn text_differences_are_notes_and_live_values_are_silent() {
        let a =
            with(|v| v["value"][0]["resourceData"]["resultInfo"]["message"] = json!("Call ended."));
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Note);
        assert!(c.notes[0].contains("\"Call ended.\""), "{:?}", c.notes);
        let a = with(|v| v["value"][0]["resourceData"]["callChainId"] = json!("another-id"));
        assert_eq!(judge(&a)[0].verdict, Verdict::Pass);
        // Live still means "of the documented type".
        let a = with(|v| v["value"][0]["resourceData"]["callChainId"] = json!(7));
        assert_eq!(snapshot(&judge(&a)).verdict, Verdict::Fail);
        // A text field must still be a string.
        let a = with(|v| v["value"][0]["resourceData"]["resultInfo"]["message"] = json!(null));
        assert_eq!(snapshot(&judge(&a)).verdict, Verdict::Fail);
    }

    #[test]
    fn exact_fields_must_equal_the_example() {
        let a = with(|v| v["@odata.type"] = json!("#microsoft.graph.other"));
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.detail.contains("/@odata.type: expected"), "{}", c.detail);
        assert!(c.detail.contains("--- snap"), "{}", c.detail);
    }

    #[test]
    fn exact_values_turns_every_note_into_a_failure() {
        let opts = JudgeOptions {
            exact_values: true,
            ..JudgeOptions::default()
        };
        for a in [
            with(|v| v["value"][0]["resourceData"]["state"] = json!("terminating")),
            with(|v| v["value"][0]["resourceData"]["resultInfo"]["message"] = json!("x")),
            with(|v| v["value"][0]["resourceData"]["resultInfo"]["subcode"] = json!(7000)),
            with(|v| v["value"][0]["resourceData"]["resultInfo"]["subcode"] = json!(1)),
        ] {
            let c = snapshot(&judge_with(&a, opts)).clone();
            assert_eq!(c.verdict, Verdict::Fail, "{a}");
            assert!(c.detail.contains("--exact-values"), "{}", c.detail);
        }
        // Live values stay silent: they are never the example's.
        let a = with(|v| v["value"][0]["resourceData"]["callChainId"] = json!("x"));
        assert_eq!(judge_with(&a, opts)[0].verdict, Verdict::Pass);
    }

    #[test]
    fn a_choice_object_holds_any_of_its_alternatives_but_not_none() {
        let contract = Contract::parse("[[field]]\npath = \"**/identity\"\nclass = \"choice\"\n")
            .expect("contract");
        let exp = json!({"identity": {"@odata.type": "#x.identitySet", "user": {"id": "1"}}});
        let judge_one = |a: &Value| {
            crate::compare::judge_json(
                "s",
                "l",
                &exp,
                a,
                &contract,
                &EndReasons::default(),
                &JudgeOptions::default(),
            )
        };
        let other =
            json!({"identity": {"@odata.type": "#x.identitySet", "application": {"id": "2"}}});
        assert_eq!(snapshot(&judge_one(&other)).verdict, Verdict::Pass);
        let none = json!({"identity": {"@odata.type": "#x.identitySet"}});
        let c = judge_one(&none);
        assert_eq!(snapshot(&c).verdict, Verdict::Fail, "{c:?}");
        assert!(
            snapshot(&c).detail.contains("at least one of `user`"),
            "{c:?}"
        );
        let wrong = json!({"identity": {"@odata.type": "#x.identitySet", "user": {"id": 3}}});
        assert_eq!(snapshot(&judge_one(&wrong)).verdict, Verdict::Fail);
    }

    #[test]
    fn a_documented_null_may_be_absent_or_hold_any_value() {
        let base = with(|v| v["value"][0]["resourceData"]["replacesCallId"] = json!(null));
        let exp = base.clone();
        let absent = with(|_| {});
        let checks = crate::compare::judge_json(
            "s",
            "l",
            &exp,
            &absent,
            &Contract::default(),
            &EndReasons::default(),
            &JudgeOptions::default(),
        );
        assert_eq!(snapshot(&checks).verdict, Verdict::Pass, "{checks:?}");
        let filled = with(|v| v["value"][0]["resourceData"]["replacesCallId"] = json!("abc"));
        let checks = crate::compare::judge_json(
            "s",
            "l",
            &exp,
            &filled,
            &Contract::default(),
            &EndReasons::default(),
            &JudgeOptions::default(),
        );
        assert_eq!(snapshot(&checks).verdict, Verdict::Pass, "{checks:?}");
    }

    #[test]
    fn missing_fields_and_wrong_types_fail() {
        let a = with(|v| {
            if let Some(o) = v["value"][0]["resourceData"].as_object_mut() {
                o.remove("state");
            }
        });
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.detail
                .contains("/value/0/resourceData/state: documented field missing"),
            "{}",
            c.detail
        );
        let a = with(|v| v["value"][0]["resourceData"]["resultInfo"]["code"] = json!("200"));
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.detail
                .contains("resultInfo/code: expected number 200, got string \"200\""),
            "{}",
            c.detail
        );
        let a = with(|v| v["value"] = json!({}));
        assert_eq!(snapshot(&judge(&a)).verdict, Verdict::Fail);
        let a = with(|v| {
            if let Some(arr) = v["value"].as_array_mut() {
                arr.push(json!({}));
            }
        });
        let c = snapshot(&judge(&a)).clone();
        assert!(
            c.detail.contains("expected 1 element(s), got 2"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn extra_fields_warn_fail_under_strict_and_are_silent_when_truncated() {
        let a = with(|v| v["value"][0]["resourceData"]["extra"] = json!(1));
        let checks = judge(&a);
        assert_eq!(checks[0].verdict, Verdict::Pass);
        assert_eq!(checks[1].id, CheckId::UndocumentedFields);
        assert_eq!(checks[1].verdict, Verdict::Warn);
        assert!(checks[1].detail.contains("/value/0/resourceData/extra"));
        let strict = JudgeOptions {
            strict: true,
            ..JudgeOptions::default()
        };
        assert_eq!(judge_with(&a, strict)[1].verdict, Verdict::Fail);
        let truncated = JudgeOptions {
            truncated: true,
            ..JudgeOptions::default()
        };
        let checks = judge_with(&a, truncated);
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0].verdict, Verdict::Pass);
        // Truncated still requires every field the example shows.
        let a = with(|v| v["value"][0]["resourceData"] = json!({"extra": 1}));
        assert_eq!(judge_with(&a, truncated)[0].verdict, Verdict::Fail);
    }

    #[test]
    fn another_end_reason_row_is_a_note_naming_its_meaning() {
        let a = with(|v| v["value"][0]["resourceData"]["resultInfo"]["subcode"] = json!(7000));
        let c = snapshot(&judge(&a)).clone();
        assert_eq!(c.verdict, Verdict::Note, "{c:?}");
        assert!(
            c.notes[0].contains(
                "resultInfo 200/7000 'The conversation has ended by bot.' (delete-call.md:174); the example shows 200/5001"
            ),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn a_pair_in_no_row_is_left_to_result_info_documented() {
        let a = with(|v| v["value"][0]["resourceData"]["resultInfo"]["subcode"] = json!(1234));
        let checks = judge(&a);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].verdict, Verdict::Pass, "{checks:?}");
        // Without the reserved classes the pair is exact, as before.
        let c = Contract::default();
        let r = EndReasons::parse(REASONS).expect("reasons");
        let checks = judge_json(
            "s",
            "l",
            &terminated(),
            &a,
            &c,
            &r,
            &JudgeOptions::default(),
        );
        assert_eq!(checks[0].verdict, Verdict::Fail);
        let a = with(|v| v["value"][0]["resourceData"]["resultInfo"]["subcode"] = json!(7000));
        let checks = judge_json(
            "s",
            "l",
            &terminated(),
            &a,
            &c,
            &r,
            &JudgeOptions::default(),
        );
        assert_eq!(checks[0].verdict, Verdict::Fail);
    }

    /// A roster as a GET of `/participants` answers it: the bot and one user.
    fn roster() -> Value {
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#communications/calls('x')/participants",
            "value": [
                {
                    "@odata.type": "#microsoft.graph.participant",
                    "id": "p-1",
                    "info": {"identity": {"application": {"id": "bot", "displayName": "Bot"}}},
                    "mediaStreams": [{"mediaType": "audio", "serverMuted": false}],
                    "isMuted": false
                },
                {
                    "@odata.type": "#microsoft.graph.participant",
                    "id": "p-2",
                    "info": {"identity": {"user": {"id": "u", "displayName": "Heidi"}}},
                    "mediaStreams": [{"mediaType": "audio", "serverMuted": false}],
                    "isMuted": true
                }
            ]
        })
    }

    const MEMBERS: &str = r#"
[[field]]
path = "/value"
class = "members"

[[field]]
path = "**/identity"
class = "choice"

[[field]]
path = "**/id"
class = "live"

[[field]]
path = "**/displayName"
class = "text"
"#;

    fn judge_roster(actual: &Value, opts: JudgeOptions) -> Check {
        let c = Contract::parse(MEMBERS).expect("contract");
        let checks = judge_json(
            "s",
            "snap",
            &roster(),
            actual,
            &c,
            &EndReasons::default(),
            &opts,
        );
        snapshot(&checks).clone()
    }

    fn roster_with(f: impl FnOnce(&mut Vec<Value>)) -> Value {
        let mut v = roster();
        if let Some(members) = v["value"].as_array_mut() {
            f(members);
        }
        v
    }

    #[test]
    fn members_in_another_order_match_their_own_documented_member() {
        let a = roster_with(|m| m.reverse());
        let c = judge_roster(&a, JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Pass, "{c:?}");
        // Without the class the same answer is compared position by position.
        let checks = judge_json(
            "s",
            "snap",
            &roster(),
            &a,
            &Contract::default(),
            &EndReasons::default(),
            &JudgeOptions::default(),
        );
        assert_eq!(snapshot(&checks).verdict, Verdict::Fail);
    }

    #[test]
    fn another_member_count_is_a_note_and_fails_under_exact_values() {
        let fewer = roster_with(|m| {
            m.pop();
        });
        let more = roster_with(|m| {
            let mut third = m[1].clone();
            third["id"] = json!("p-3");
            m.push(third);
        });
        for a in [&fewer, &more] {
            let c = judge_roster(a, JudgeOptions::default());
            assert_eq!(c.verdict, Verdict::Note, "{c:?}");
            assert!(
                c.notes
                    .iter()
                    .any(|n| n.contains("/value: ") && n.contains("where the example lists 2")),
                "{:?}",
                c.notes
            );
            let exact = JudgeOptions {
                exact_values: true,
                ..JudgeOptions::default()
            };
            let c = judge_roster(a, exact);
            assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
            assert!(c.detail.contains("--exact-values"), "{}", c.detail);
        }
        // A truncated example shows some of the members: more are not reported.
        let truncated = JudgeOptions {
            truncated: true,
            ..JudgeOptions::default()
        };
        assert_eq!(judge_roster(&more, truncated).verdict, Verdict::Pass);
        assert_eq!(judge_roster(&fewer, truncated).verdict, Verdict::Note);
    }

    #[test]
    fn an_empty_collection_fails_where_the_example_lists_members() {
        let a = roster_with(Vec::clear);
        let c = judge_roster(&a, JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
        assert!(
            c.detail
                .contains("/value: no members, where the example lists 2"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn a_member_of_the_wrong_structure_fails_naming_its_field() {
        let a = roster_with(|m| m[1]["isMuted"] = json!("true"));
        let c = judge_roster(&a, JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
        assert!(
            c.detail.contains("/value/1/isMuted: expected boolean"),
            "{}",
            c.detail
        );
        let a = roster_with(|m| {
            if let Some(o) = m[0].as_object_mut() {
                o.remove("mediaStreams");
            }
        });
        let c = judge_roster(&a, JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
        assert!(
            c.detail
                .contains("/value/0/mediaStreams: documented field missing"),
            "{}",
            c.detail
        );
        // A member's type is structure, not an instance's value.
        let a = roster_with(|m| m[0]["@odata.type"] = json!("#microsoft.graph.call"));
        assert_eq!(
            judge_roster(&a, JudgeOptions::default()).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn a_members_own_values_are_one_instances_and_differ_with_a_note() {
        // Heidi unmuted: the closest documented member is still Heidi's.
        let a = roster_with(|m| m[1]["isMuted"] = json!(false));
        let c = judge_roster(&a, JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Note, "{c:?}");
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert!(
            c.notes[0].contains("/value/1/isMuted: false"),
            "{:?}",
            c.notes
        );
        // Nested arrays of a member (its mediaStreams) are element by element.
        let a = roster_with(|m| m[1]["mediaStreams"] = json!([]));
        let c = judge_roster(&a, JudgeOptions::default());
        assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
        assert!(
            c.detail
                .contains("/value/1/mediaStreams: expected 1 element(s), got 0"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn members_are_matched_by_their_odata_type_where_both_name_one() {
        let exp = json!({"value": [
            {"@odata.type": "#x.a", "n": 1},
            {"@odata.type": "#x.b", "s": "t"}
        ]});
        let c = Contract::parse(MEMBERS).expect("contract");
        let judge_one = |a: &Value| {
            let checks = judge_json(
                "s",
                "l",
                &exp,
                a,
                &c,
                &EndReasons::default(),
                &JudgeOptions::default(),
            );
            snapshot(&checks).clone()
        };
        let ok =
            json!({"value": [{"@odata.type": "#x.b", "s": "t"}, {"@odata.type": "#x.a", "n": 1}]});
        assert_eq!(judge_one(&ok).verdict, Verdict::Pass);
        // A `#x.b` is judged as a `#x.b`, even when a `#x.a` would fit it better.
        let wrong =
            json!({"value": [{"@odata.type": "#x.b", "n": 1}, {"@odata.type": "#x.a", "n": 1}]});
        let c = judge_one(&wrong);
        assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
        assert!(
            c.detail.contains("/value/0/s: documented field missing"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn a_generated_placeholder_value_holds_any_string_or_null() {
        let exp = json!({"metadata": "metadata-value", "label": "label"});
        let judge_one = |a: &Value| {
            let checks = judge_json(
                "s",
                "l",
                &exp,
                a,
                &Contract::default(),
                &EndReasons::default(),
                &JudgeOptions {
                    exact_values: true,
                    ..JudgeOptions::default()
                },
            );
            snapshot(&checks).clone()
        };
        for m in [json!("blob"), json!(null)] {
            let a = json!({"metadata": m, "label": "label"});
            assert_eq!(judge_one(&a).verdict, Verdict::Pass, "{a}");
        }
        // Still a string property, and only a value named after its own key is one.
        assert_eq!(
            judge_one(&json!({"metadata": 3, "label": "label"})).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge_one(&json!({"metadata": "x", "label": "other"})).verdict,
            Verdict::Fail
        );
        assert_eq!(judge_one(&json!({"label": "label"})).verdict, Verdict::Fail);
    }
}
