//! Relations the examples show (README: Verdict model): where one documented exchange
//! prints the same id in two places or more (the `clientContext` a request sends and the
//! operation echoes; an operation's id in its response and in its notifications'
//! `resourceUrl`; a participant's id in a roster and in a notification), the answer must
//! keep those places equal. Found by rule from the examples, never listed per page:
//! - the values compared are ids (`id`, `...Id` but `tenantId`, `clientContext`) and the
//!   segments of resource URLs (`resourceUrl`, `resource`, `@odata.id`), and only values
//!   shaped like an id (no spaces, a digit, at least 8 characters): a shared `"audio"` or
//!   a shared timestamp relates nothing;
//! - the call a resource URL names is left to `resource-url-names-call`, which judges it
//!   against the case's own call (an example may print another call there);
//! - a request to one entity by key (`.../calls/{{call_id}}`) answered by that entity
//!   relates the key to the answer's `id` (OData: an entity is read at its key), whatever
//!   the example prints in the URL.

use super::model::{CaseV2, StepV2};
use crate::case::{BodyKind, Place, PlacePart, Relation};
use crate::errata::{Errata, Part};
use crate::family::Family;
use serde_json::Value;
use std::collections::BTreeMap;

/// Keys whose values are ids a service hands out; `tenantId` is left out (a roster's
/// members may come from one tenant or several, whatever the example shows).
fn is_id_key(key: &str) -> bool {
    key == "id" || key == "clientContext" || (key.ends_with("Id") && key != "tenantId")
}

fn is_url_key(key: &str) -> bool {
    matches!(key, "resourceUrl" | "resource" | "@odata.id")
}

/// Shaped like an id a service hands out, not like a word, a placeholder or a template.
fn id_like(v: &str) -> bool {
    (8..=200).contains(&v.len())
        && v.bytes().any(|b| b.is_ascii_digit())
        && !v.contains(char::is_whitespace)
        && !v.contains(['{', '}', '<', '>', '/'])
        && !v.contains("://")
}

/// A documented body as JSON, with the corpus's errata applied (trailing commas).
fn parse(family: Family, part: Part, text: &str, errata: &Errata) -> Option<Value> {
    let text = errata.apply_text(family, part, text);
    crate::canon::json::parse_documented(&text).ok()
}

/// Every id-like value of a body and where it sits.
fn ids(json: &Value, at: impl Fn(String, bool) -> Place, out: &mut Vec<(String, Place)>) {
    fn walk(
        v: &Value,
        key: Option<&str>,
        ptr: &mut String,
        at: &dyn Fn(String, bool) -> Place,
        out: &mut Vec<(String, Place)>,
    ) {
        match v {
            Value::Object(o) => {
                for (k, child) in o {
                    let len = ptr.len();
                    ptr.push('/');
                    ptr.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(child, Some(k), ptr, at, out);
                    ptr.truncate(len);
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    let len = ptr.len();
                    ptr.push('/');
                    ptr.push_str(&i.to_string());
                    walk(child, key, ptr, at, out);
                    ptr.truncate(len);
                }
            }
            Value::String(s) => match key {
                Some(k) if is_id_key(k) && id_like(s) => {
                    out.push((s.clone(), at(ptr.clone(), false)))
                }
                Some(k) if is_url_key(k) => {
                    let path = s.split(['?', '#']).next().unwrap_or("");
                    let mut seen = Vec::new();
                    let mut after_calls = false;
                    for seg in path.split('/') {
                        // The call a URL names is routing's to judge
                        // (`resource-url-names-call`), against the case's own call.
                        let call = std::mem::replace(&mut after_calls, seg == "calls");
                        let seg = crate::template::percent_decode(seg);
                        if !call && id_like(&seg) && !seen.contains(&seg) {
                            out.push((seg.to_string(), at(ptr.clone(), true)));
                            seen.push(seg);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    walk(json, None, &mut String::new(), &at, out);
}

fn place(step: &StepV2, part: PlacePart, name: Option<&str>, ptr: String, segment: bool) -> Place {
    Place {
        step: Some(step.name.clone()),
        part,
        name: name.map(str::to_owned),
        pointer: Some(ptr),
        segment,
    }
}

/// The relations of one case (its own steps; a set-up's are not documented).
pub fn derive(file: &CaseV2, family: Family, errata: &Errata) -> Vec<Relation> {
    let mut found: Vec<(String, Place)> = Vec::new();
    for (var, value) in &file.vars {
        if id_like(value) {
            found.push((
                value.clone(),
                Place {
                    step: None,
                    part: PlacePart::Var,
                    name: Some(var.clone()),
                    pointer: None,
                    segment: false,
                },
            ));
        }
    }
    let mut keyed: Vec<Relation> = Vec::new();
    for step in &file.steps {
        if let Some(body) = &step.body
            && let Some(json) = parse(family, Part::Request, body, errata)
        {
            ids(
                &json,
                |p, s| place(step, PlacePart::Request, None, p, s),
                &mut found,
            );
        }
        let response = step
            .expect
            .as_ref()
            .filter(|e| e.body == BodyKind::Json)
            .and_then(|e| e.documented.as_deref())
            .and_then(|d| parse(family, Part::Response, d, errata));
        if let Some(json) = &response {
            ids(
                json,
                |p, s| place(step, PlacePart::Response, None, p, s),
                &mut found,
            );
            if let Some(r) = by_key(step, json) {
                keyed.push(r);
            }
        }
        let notifications = step.notifications.iter().chain(
            step.alternatives
                .iter()
                .flat_map(|a| a.notifications.iter()),
        );
        for n in notifications {
            if let Some(json) = n
                .documented
                .as_deref()
                .and_then(|d| parse(family, Part::Notification, d, errata))
            {
                ids(
                    &json,
                    |p, s| place(step, PlacePart::Notification, Some(&n.name), p, s),
                    &mut found,
                );
            }
        }
    }
    // One value in the roles of two kinds of identity (a user's id printed again as an
    // application's) is a coincidence of the example, not a relation.
    let mut groups: BTreeMap<(String, Option<String>), Vec<Place>> = BTreeMap::new();
    for (v, p) in found {
        let role = p.pointer.as_deref().and_then(identity_role);
        let g = groups.entry((v, role)).or_default();
        if !g.contains(&p) {
            g.push(p);
        }
    }
    let mut out: Vec<Relation> = groups
        .into_iter()
        // Two places, one of them a whole value to compare the others with.
        .filter(|(_, at)| at.len() >= 2 && at.iter().any(|p| !p.segment))
        .map(|((example, _), at)| Relation { example, at })
        .collect();
    for r in keyed {
        let covered = out.iter().any(|o| r.at.iter().all(|p| o.at.contains(p)));
        if !covered {
            out.push(r);
        }
    }
    out
}

/// The kind of identity a pointer goes through (`.../identity/user/id` → `user`).
fn identity_role(ptr: &str) -> Option<String> {
    let segs: Vec<&str> = ptr.split('/').collect();
    segs.windows(2)
        .rev()
        .find(|w| w[0] == "identity")
        .map(|w| w[1].to_owned())
}

/// A request to one entity by key, answered by an entity with an `id`: the key and the
/// `id` are one value.
fn by_key(step: &StepV2, json: &Value) -> Option<Relation> {
    let path = step.path.as_deref()?;
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    let var = last.strip_prefix("{{")?.strip_suffix("}}")?;
    let id = json.get("id")?.as_str()?;
    if json.get("value").is_some() {
        return None;
    }
    Some(Relation {
        example: id.to_owned(),
        at: vec![
            Place {
                step: None,
                part: PlacePart::Var,
                name: Some(var.to_owned()),
                pointer: None,
                segment: false,
            },
            place(step, PlacePart::Response, None, "/id".into(), false),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_recognised_by_shape_and_key() {
        assert!(id_like("0fe0623f-d628-42ed-b4bd-8ac290072cc5"));
        assert!(!id_like("audio"));
        assert!(!id_like("{{call_id}}"));
        assert!(!id_like("https://bot.contoso.com/callback"));
        assert!(!id_like("John Smith 2"));
        assert!(is_id_key("participantId") && is_id_key("id") && is_id_key("clientContext"));
        assert!(!is_id_key("tenantId") && !is_id_key("displayName"));
        assert_eq!(
            identity_role("/value/0/resourceData/source/identity/user/id").as_deref(),
            Some("user")
        );
        assert_eq!(identity_role("/targets/0/id"), None);
    }

    #[test]
    fn a_shared_literal_across_request_response_and_notification_is_one_relation() {
        let mut out = Vec::new();
        let step = StepV2 {
            name: "play".into(),
            trigger: None,
            method: Some("POST".into()),
            path: Some("/communications/calls/{{call_id}}/playPrompt".into()),
            headers: Default::default(),
            body: None,
            capture: Default::default(),
            notification_order: Default::default(),
            expect: None,
            notifications: Vec::new(),
            alternatives: Vec::new(),
        };
        let body = serde_json::json!({"clientContext": "d45324c1-fcb5-430a-902c-f20af696537c", "prompts": [{"id": "audio"}]});
        ids(
            &body,
            |p, s| place(&step, PlacePart::Request, None, p, s),
            &mut out,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].1.pointer.as_deref(), Some("/clientContext"));
        let note = serde_json::json!({"value": [{"resourceUrl": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5"}]});
        let mut out = Vec::new();
        ids(
            &note,
            |p, s| place(&step, PlacePart::Notification, Some("completed"), p, s),
            &mut out,
        );
        assert_eq!(out.len(), 1, "the operation's id, not the call's: {out:?}");
        assert!(out.iter().all(|(_, p)| p.segment));
        let answer = serde_json::json!({"id": "2e1a0b00-2db4-4022-9570-243709c565ab", "state": "established"});
        let get = StepV2 {
            path: Some("/communications/calls/{{call_id}}".into()),
            ..step.clone()
        };
        let r = by_key(&get, &answer).expect("keyed");
        assert_eq!(r.at[0].name.as_deref(), Some("call_id"));
        assert_eq!(r.at[1].pointer.as_deref(), Some("/id"));
        assert!(
            by_key(&step, &answer).is_none(),
            "an action is not its call"
        );
    }
}
