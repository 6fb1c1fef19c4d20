//! The case file as extract writes it: the v1 format (README "Case files") plus the v2
//! additions of the README's "Case files" (notifications matched by content,
//! alternative outcomes, trigger steps, truncated responses, per-case contract fields).
//! A case that uses none of the additions is written exactly as v1, so the runner of
//! either format reads it; [`CaseV2::v1`] says which.

use crate::case::{BodyKind, NotificationOrder, Provenance};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseV2 {
    #[serde(default)]
    pub setup: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub placeholders: Vec<String>,
    pub provenance: Provenance,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(rename = "step")]
    pub steps: Vec<StepV2>,
    #[serde(default)]
    pub contract: Contract,
    /// Values the documented exchange shows in several places ([`super::relations`]).
    #[serde(default, rename = "relation")]
    pub relations: Vec<crate::case::Relation>,
}

/// `[[contract.field]]` in a case: fields this case classes differently from its family.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    #[serde(default)]
    pub field: Vec<Field>,
}

/// A field class (README: Verdict model).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub path: String,
    pub class: String,
    #[serde(default)]
    pub set: Option<String>,
    #[serde(default)]
    pub provenance: Option<FieldSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSource {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepV2 {
    pub name: String,
    /// `incoming-call`: the target offers a call; no request is sent.
    #[serde(default)]
    pub trigger: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub capture: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub notification_order: NotificationOrder,
    #[serde(default)]
    pub expect: Option<ExpectV2>,
    #[serde(default, rename = "notification")]
    pub notifications: Vec<NotificationV2>,
    #[serde(default, rename = "alternative")]
    pub alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectV2 {
    pub status: u16,
    #[serde(default)]
    pub content_type: Option<String>,
    pub body: BodyKind,
    #[serde(default)]
    pub snapshot: Option<String>,
    #[serde(default)]
    pub documented: Option<String>,
    #[serde(default)]
    pub redact: Vec<String>,
    /// The documented body is a subset (apidoctor `truncated`).
    #[serde(default)]
    pub truncated: bool,
    /// The value set whose documented state the step waits for (a call just placed).
    #[serde(default)]
    pub progress: Option<String>,
    /// The body's declared type (the page's annotation, or its `@odata.context`).
    #[serde(default, rename = "type")]
    pub ty: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationV2 {
    pub name: String,
    /// The body's declared type (`microsoft.graph.commsNotifications`).
    #[serde(default, rename = "type")]
    pub ty: Option<String>,
    /// Another party's event causes it ([`crate::case::NotificationExpect::caused_by`]).
    #[serde(default)]
    pub caused_by: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// JSON pointer into one entry → the value it must render as.
    #[serde(default, rename = "match")]
    pub matches: BTreeMap<String, String>,
    #[serde(default)]
    pub snapshot: Option<String>,
    #[serde(default)]
    pub documented: Option<String>,
    #[serde(default)]
    pub redact: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    pub name: String,
    #[serde(default)]
    pub about: String,
    #[serde(default)]
    pub notification_order: NotificationOrder,
    #[serde(default, rename = "notification")]
    pub notifications: Vec<NotificationV2>,
}

impl CaseV2 {
    /// True when the case needs nothing beyond format v1.
    pub fn v1(&self) -> bool {
        self.contract.field.is_empty()
            && self.relations.is_empty()
            && self.steps.iter().all(|s| {
                s.trigger.is_none()
                    && s.method.is_some()
                    && s.path.is_some()
                    && s.expect.as_ref().is_some_and(|e| !e.truncated)
                    && s.alternatives.is_empty()
                    && s.notifications
                        .iter()
                        .all(|n| n.state.is_some() && n.matches.is_empty())
            })
    }

    /// Every documented body with a snapshot: (step, notification name, snapshot, text, kind).
    pub fn documented(&self) -> Vec<(&str, Option<String>, &str, &str, BodyKind)> {
        let mut out = Vec::new();
        for s in &self.steps {
            if let Some(e) = &s.expect
                && let (Some(snap), Some(doc)) = (&e.snapshot, &e.documented)
            {
                out.push((s.name.as_str(), None, snap.as_str(), doc.as_str(), e.body));
            }
            for n in &s.notifications {
                if let (Some(snap), Some(doc)) = (&n.snapshot, &n.documented) {
                    out.push((
                        s.name.as_str(),
                        Some(n.name.clone()),
                        snap.as_str(),
                        doc.as_str(),
                        BodyKind::Json,
                    ));
                }
            }
            for a in &s.alternatives {
                for n in &a.notifications {
                    if let (Some(snap), Some(doc)) = (&n.snapshot, &n.documented) {
                        out.push((
                            s.name.as_str(),
                            Some(format!("{}/{}", a.name, n.name)),
                            snap.as_str(),
                            doc.as_str(),
                            BodyKind::Json,
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Parses a case file written by extract (the round-trip check).
pub fn parse(text: &str) -> Result<CaseV2, String> {
    toml::from_str(text).map_err(|e| e.message().trim().to_string())
}
