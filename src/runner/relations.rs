//! Relations the example shows (README: Verdict model): the same id in a path and a body,
//! a `clientContext` sent and echoed, an operation's id in its response and in the
//! `resourceUrl` of its notifications. The values at a case's places are taken as its
//! steps run; once the case is over, each relation is one `relation` check.

use crate::case::{CaseFile, Place, PlacePart};
use crate::results::{Check, CheckId};
use serde_json::Value;
use std::collections::BTreeMap;

/// The values taken so far, per relation and place (`None`: not seen, or absent there,
/// which the snapshot and the sequence checks judge).
#[derive(Debug, Default)]
pub(super) struct Related {
    values: Vec<Vec<Option<String>>>,
}

/// The value at a pointer, as text: a string as it is, a number or boolean as written.
fn value_at(json: &Value, pointer: &str) -> Option<String> {
    match json.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// The `/`-separated segments of a URL or path, percent-decoded (a `resourceUrl`).
fn segments(s: &str) -> Vec<String> {
    let path = s.split(['?', '#']).next().unwrap_or("");
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(|p| crate::template::percent_decode(p).into_owned())
        .collect()
}

impl Related {
    pub fn new(file: &CaseFile) -> Related {
        Related {
            values: file
                .relations
                .iter()
                .map(|r| vec![None; r.at.len()])
                .collect(),
        }
    }

    fn take(&mut self, file: &CaseFile, want: impl Fn(&Place) -> bool, json: &Value) {
        for (r, rel) in file.relations.iter().enumerate() {
            for (p, place) in rel.at.iter().enumerate() {
                if want(place)
                    && let Some(ptr) = place.pointer.as_deref()
                    && let Some(v) = value_at(json, ptr)
                {
                    self.values[r][p] = Some(v);
                }
            }
        }
    }

    /// The body a step sent (JSON bodies only).
    pub fn request(&mut self, file: &CaseFile, step: &str, body: Option<&str>) {
        if !self.wants(file, step, PlacePart::Request, None) {
            return;
        }
        let Some(json) = body.and_then(|b| serde_json::from_str::<Value>(b).ok()) else {
            return;
        };
        self.take(
            file,
            |p| p.part == PlacePart::Request && p.step.as_deref() == Some(step),
            &json,
        );
    }

    /// The body a step was answered with.
    pub fn response(&mut self, file: &CaseFile, step: &str, json: &Value) {
        self.take(
            file,
            |p| p.part == PlacePart::Response && p.step.as_deref() == Some(step),
            json,
        );
    }

    /// One documented notification of a step, as it arrived.
    pub fn notification(&mut self, file: &CaseFile, step: &str, name: &str, json: &Value) {
        self.take(
            file,
            |p| {
                p.part == PlacePart::Notification
                    && p.step.as_deref() == Some(step)
                    && p.name.as_deref() == Some(name)
            },
            json,
        );
    }

    /// True when some place of the case is in this part of this step (so a body is
    /// parsed only when a relation needs it).
    pub fn wants(&self, file: &CaseFile, step: &str, part: PlacePart, name: Option<&str>) -> bool {
        file.relations.iter().any(|r| {
            r.at.iter().any(|p| {
                p.part == part
                    && p.step.as_deref() == Some(step)
                    && (name.is_none() || p.name.as_deref() == name)
            })
        })
    }

    /// One `relation` check per relation that has two values or more to compare.
    pub fn checks(&self, file: &CaseFile, vars: &BTreeMap<String, String>) -> Vec<Check> {
        let mut out = Vec::new();
        for (r, rel) in file.relations.iter().enumerate() {
            let mut seen: Vec<(&Place, String)> = Vec::new();
            for (p, place) in rel.at.iter().enumerate() {
                let v = match place.part {
                    PlacePart::Var => place.name.as_deref().and_then(|n| vars.get(n)).cloned(),
                    _ => self.values[r][p].clone(),
                };
                if let Some(v) = v {
                    seen.push((place, v));
                }
            }
            let Some(reference) = seen
                .iter()
                .find(|(p, _)| !p.segment)
                .map(|(_, v)| v.clone())
            else {
                continue;
            };
            if seen.len() < 2 {
                continue;
            }
            let holds = seen.iter().all(|(p, v)| {
                if p.segment {
                    segments(v).contains(&reference)
                } else {
                    *v == reference
                }
            });
            let subject = "relations";
            if holds {
                out.push(Check::pass(CheckId::Relation, subject));
                continue;
            }
            let places: Vec<String> = rel.at.iter().map(ToString::to_string).collect();
            let actual: Vec<String> = seen
                .iter()
                .map(|(p, v)| format!("{p}: {}", Value::String(v.clone())))
                .collect();
            out.push(Check::fail(
                CheckId::Relation,
                subject,
                format!(
                    "Expected: one value at {} (the example shows {} at each)\nActual:   {}",
                    places.join(", "),
                    Value::String(rel.example.clone()),
                    actual.join("; ")
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Relation;

    fn file(relations: Vec<Relation>) -> CaseFile {
        let text = r#"
[provenance]
example = "x"

[[step]]
name = "play"
method = "POST"
path = "/calls/{{call_id}}/playPrompt"

[step.expect]
status = 200
body = "any"

[[step.notification]]
name = "completed"
match = { "/resourceData/status" = "completed" }
"#;
        let mut f: CaseFile = toml::from_str(text).expect("case");
        f.relations = relations;
        f
    }

    fn place(part: PlacePart, name: Option<&str>, pointer: &str, segment: bool) -> Place {
        Place {
            step: (part != PlacePart::Var).then(|| "play".to_owned()),
            part,
            name: name.map(str::to_owned),
            pointer: (part != PlacePart::Var).then(|| pointer.to_owned()),
            segment,
        }
    }

    fn operation_id() -> Relation {
        Relation {
            example: "op-1".into(),
            at: vec![
                place(PlacePart::Request, None, "/clientContext", false),
                place(PlacePart::Response, None, "/clientContext", false),
                place(
                    PlacePart::Notification,
                    Some("completed"),
                    "/value/0/resourceUrl",
                    true,
                ),
            ],
        }
    }

    #[test]
    fn equal_values_hold_and_another_one_fails_naming_both_places() {
        let f = file(vec![operation_id()]);
        let mut r = Related::new(&f);
        r.request(&f, "play", Some(r#"{"clientContext": "ctx-9"}"#));
        r.response(&f, "play", &serde_json::json!({"clientContext": "ctx-9"}));
        r.notification(
            &f,
            "play",
            "completed",
            &serde_json::json!({"value": [{"resourceUrl": "/communications/calls/c/operations/ctx-9"}]}),
        );
        let checks = r.checks(&f, &BTreeMap::new());
        assert_eq!(checks.len(), 1);
        assert_eq!(
            checks[0].verdict,
            crate::results::Verdict::Pass,
            "{checks:?}"
        );

        let mut r = Related::new(&f);
        r.request(&f, "play", Some(r#"{"clientContext": "ctx-9"}"#));
        r.response(&f, "play", &serde_json::json!({"clientContext": "other"}));
        let checks = r.checks(&f, &BTreeMap::new());
        assert_eq!(checks[0].verdict, crate::results::Verdict::Fail);
        assert!(
            checks[0]
                .detail
                .contains("the response to `play` at /clientContext: \"other\""),
            "{}",
            checks[0].detail
        );
        assert!(
            checks[0].detail.contains("\"op-1\""),
            "{}",
            checks[0].detail
        );
    }

    #[test]
    fn a_segment_must_be_a_whole_segment_and_a_var_counts() {
        let rel = Relation {
            example: "c-1".into(),
            at: vec![
                Place {
                    step: None,
                    part: PlacePart::Var,
                    name: Some("call_id".into()),
                    pointer: None,
                    segment: false,
                },
                place(PlacePart::Response, None, "/id", false),
            ],
        };
        let f = file(vec![rel]);
        let vars = BTreeMap::from([("call_id".to_owned(), "c-1".to_owned())]);
        let mut r = Related::new(&f);
        r.response(&f, "play", &serde_json::json!({"id": "c-2"}));
        assert_eq!(
            r.checks(&f, &vars)[0].verdict,
            crate::results::Verdict::Fail
        );
        assert_eq!(segments("/a/b%2Fc/d?x=1"), vec!["a", "b/c", "d"]);
        // One value alone is nothing to relate: no check, not a pass.
        let r = Related::new(&f);
        assert!(r.checks(&f, &BTreeMap::new()).is_empty());
    }
}
