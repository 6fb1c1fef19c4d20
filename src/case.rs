//! Stage 1: case files. A case is one documented example, written in TOML so that a
//! reviewer can diff it; a family file (`cases/<family>/_family.toml`) holds the
//! set-up the docs do not show, written once and referenced by name.

use crate::diag::CaseError;
use crate::diag::{toml_error, valid_var_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::family::Family;

/// Where an example came from. Every locale copy of one page is listed, so a reader can
/// check the case against any of them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Page identity shared by all translations (`ms.assetid`), or the English page name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assetid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_name: Option<String>,
    /// The example's name: the apidoctor `name`, or the request's root element on UM pages.
    pub example: String,
    /// The request URL exactly as printed, when the page shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documented_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// 1-based line of the request fence in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// A case file (`cases/<family>/<name>.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Names a set-up in the family file; it runs first and is not snapshot-checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub provenance: Provenance,
    /// Documented defaults; `--var`, a profile and set-up captures override them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    /// Variables whose runtime value is replaced by `[name]` in both canonical forms,
    /// so a live call id compares equal to the documented one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placeholders: Vec<String>,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    /// Fields this case classes differently from its family's `_contract.toml`.
    #[serde(default, skip_serializing_if = "CaseContract::is_empty")]
    pub contract: CaseContract,
    /// Values the documented exchange shows in two places or more, which the answer
    /// must keep equal (`relation` check).
    #[serde(default, rename = "relation", skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Relation>,
}

/// One value the example shows in several places (README: Verdict model, relations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    /// The example's own value: a note, never compared.
    pub example: String,
    pub at: Vec<Place>,
}

/// Where a related value sits in the exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// The case step (absent for `var`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(rename = "in")]
    pub part: PlacePart,
    /// The notification's name (`notification`) or the variable's (`var`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A JSON pointer into the request body, the response body or the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The value is one `/`-separated segment of the string there (an id in a
    /// `resourceUrl`), not the whole string.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub segment: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacePart {
    Request,
    Response,
    Notification,
    /// A case variable's live value (a captured call id).
    Var,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = self.step.as_deref().unwrap_or("");
        let ptr = self.pointer.as_deref().unwrap_or("");
        let seg = if self.segment { " (a segment)" } else { "" };
        match self.part {
            PlacePart::Request => write!(f, "the request of `{step}` at {ptr}{seg}"),
            PlacePart::Response => write!(f, "the response to `{step}` at {ptr}{seg}"),
            PlacePart::Notification => write!(
                f,
                "notification `{}` of `{step}` at {ptr}{seg}",
                self.name.as_deref().unwrap_or("")
            ),
            PlacePart::Var => write!(f, "`{{{{{}}}}}`", self.name.as_deref().unwrap_or("")),
        }
    }
}

/// `[[contract.field]]` in a case (format: `cases/<family>/_contract.toml`'s `[[field]]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseContract {
    #[serde(default, rename = "field", skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<crate::contract::FieldSpec>,
}

impl CaseContract {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// The family file (`cases/<family>/_family.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyFile {
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub setup: BTreeMap<String, Setup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Why this set-up exists (shown in `--list` output and reports).
    #[serde(default)]
    pub about: String,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// A trigger step sends no request: the target is asked to cause something
    /// (`incoming-call`: offer a call to the case's callback), then its notifications
    /// are checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Required on request steps; absent on trigger steps.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Relative to the family's base URL; `{{var}}` placeholders allowed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Sent verbatim but for `{{var}}` placeholders (and the errata, unless `--as-printed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Required on request steps; absent on trigger steps.
    #[serde(default, skip_serializing_if = "Expect::is_unset")]
    pub expect: Expect,
    /// Values later steps need, each tried in order until one yields a value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture: BTreeMap<String, Vec<String>>,
    /// Notifications the target must POST to the callback after this step.
    #[serde(
        default,
        rename = "notification",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub notifications: Vec<NotificationExpect>,
    /// `strict`: in the listed order and nothing after the last; `any`: each once, any order.
    #[serde(default, skip_serializing_if = "NotificationOrder::is_strict")]
    pub notification_order: NotificationOrder,
    /// Documented alternative outcomes: the arrivals satisfy the step's own list or
    /// exactly one of these, never a mix.
    #[serde(default, rename = "alternative", skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
}

impl Step {
    pub fn is_trigger(&self) -> bool {
        self.trigger.is_some()
    }
}

/// Another documented outcome of a step (transfer failed instead of succeeded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub about: String,
    #[serde(default, skip_serializing_if = "NotificationOrder::is_strict")]
    pub notification_order: NotificationOrder,
    #[serde(default, rename = "notification")]
    pub notifications: Vec<NotificationExpect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationOrder {
    #[default]
    Strict,
    Any,
}

impl NotificationOrder {
    pub fn is_strict(&self) -> bool {
        *self == NotificationOrder::Strict
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyKind {
    Xml,
    Json,
    Empty,
    /// Not checked (set-up steps whose body only feeds captures).
    #[default]
    Any,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// Compared by media type (the part before `;`), case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub body: BodyKind,
    /// Snapshot name (file `snapshots/<name>.snap`); absent on set-up steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The documented response body, verbatim; the snapshot must equal its canonical form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documented: Option<String>,
    /// JSON pointers (`*` matches any array index) whose values are dynamic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
    /// The documented body is a subset (apidoctor `truncated`): fields it does not show
    /// are not reported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The documented answer shows a later state of a live resource than the one just
    /// created: the value set (in `_contract.toml`, with a `progress` order) whose field
    /// the step polls until the documented state arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The declared type of the documented body (`microsoft.graph.call`,
    /// `Collection(microsoft.graph.participant)`), from the page's annotation or the
    /// body's own `@odata.type`: where the type model (`_types.toml`) starts judging.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
}

impl Expect {
    /// A trigger step has no expectation of its own (status 0 is never an HTTP status).
    pub fn is_unset(&self) -> bool {
        self.status == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationExpect {
    pub name: String,
    /// The `resourceData.state` this notification carries (shorthand for
    /// `match = { "/resourceData/state" = ... }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// JSON pointers into one notification entry and the values they must render as.
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub matches: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documented: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
    /// The declared type of the documented notification body (see [`Expect::ty`]).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// The event of another party that causes this notification (a participant shares a
    /// screen), not the step's own request: the target is asked for it by the trigger of
    /// that name; a target with no such trigger has this expectation ignored, with the
    /// reason, never passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
}

impl NotificationExpect {
    /// True when one notification entry (an element of `value`) is this notification.
    pub fn matches_entry(&self, entry: &serde_json::Value) -> bool {
        let state_ok = self.state.as_deref().is_none_or(|want| {
            entry
                .pointer("/resourceData/state")
                .and_then(|v| v.as_str())
                == Some(want)
        });
        state_ok
            && self.matches.iter().all(|(ptr, want)| {
                entry.pointer(ptr).is_some_and(|v| match v {
                    serde_json::Value::String(s) => s == want,
                    serde_json::Value::Bool(b) => {
                        want.as_str() == if *b { "true" } else { "false" }
                    }
                    serde_json::Value::Number(n) => want.parse::<f64>().ok() == n.as_f64(),
                    _ => false,
                })
            })
    }

    /// How the notification is recognised, for messages: `state `x`` or the match pairs.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.state.iter().map(|s| format!("state `{s}`")).collect();
        parts.extend(self.matches.iter().map(|(k, v)| format!("{k} = `{v}`")));
        parts.join(", ")
    }
}

/// A loaded case: the file plus where it lives and the set-up it resolved to.
#[derive(Debug, Clone)]
pub struct Case {
    pub family: Family,
    pub name: String,
    pub path: PathBuf,
    pub file: CaseFile,
    /// The family's contract with this case's own `[[contract.field]]` classes, when it has
    /// any (merged when the case is read).
    pub contract: Option<std::sync::Arc<crate::contract::Contract>>,
}

impl Case {
    /// `{family}::{name}`, the trial name under libtest and nextest.
    pub fn trial_name(&self) -> String {
        format!("{}::{}", self.family, self.name)
    }
}

pub fn parse_case(path: &Path, text: &str) -> Result<CaseFile, CaseError> {
    let file: CaseFile = toml::from_str(text).map_err(|e| CaseError {
        path: path.to_owned(),
        message: toml_error(text, &e),
    })?;
    validate_case(&file).map_err(|message| CaseError {
        path: path.to_owned(),
        message,
    })?;
    Ok(file)
}

pub fn parse_family(path: &Path, text: &str) -> Result<FamilyFile, CaseError> {
    let file: FamilyFile = toml::from_str(text).map_err(|e| CaseError {
        path: path.to_owned(),
        message: toml_error(text, &e),
    })?;
    for (name, setup) in &file.setup {
        for (i, step) in setup.steps.iter().enumerate() {
            validate_step(step)
                .map_err(|m| format!("setup.{name}.step[{i}]: {m}"))
                .map_err(|message| CaseError {
                    path: path.to_owned(),
                    message,
                })?;
        }
    }
    Ok(file)
}

fn validate_case(file: &CaseFile) -> Result<(), String> {
    if file.steps.is_empty() {
        return Err("field `step`: a case needs at least one step".into());
    }
    for (i, step) in file.steps.iter().enumerate() {
        validate_step(step).map_err(|m| format!("step[{i}] ({}): {m}", step.name))?;
        if step.expect.body != BodyKind::Any
            && step.expect.body != BodyKind::Empty
            && step.expect.snapshot.is_none()
        {
            return Err(format!(
                "step[{i}] ({}): field `expect.snapshot` is required when `expect.body` is checked",
                step.name
            ));
        }
        if step.expect.snapshot.is_some() && step.expect.documented.is_none() {
            return Err(format!(
                "step[{i}] ({}): field `expect.documented` is required with `expect.snapshot`: \
                 a snapshot must come from the documented example",
                step.name
            ));
        }
    }
    for (i, r) in file.relations.iter().enumerate() {
        validate_relation(file, r).map_err(|m| format!("relation[{i}] ({}): {m}", r.example))?;
    }
    for p in &file.placeholders {
        if !valid_var_name(p) {
            return Err(format!(
                "field `placeholders`: `{p}` is not a variable name"
            ));
        }
    }
    Ok(())
}

/// Every place names a step of the case (and a notification of it), and a pointer where
/// one is needed; a relation needs two places to relate.
fn validate_relation(file: &CaseFile, r: &Relation) -> Result<(), String> {
    if r.at.len() < 2 {
        return Err("field `at`: a relation needs at least two places".into());
    }
    for p in &r.at {
        if p.part == PlacePart::Var {
            match &p.name {
                Some(n) if valid_var_name(n) => continue,
                _ => return Err("a `var` place needs `name`, a variable name".into()),
            }
        }
        let step_name = p.step.as_deref().ok_or("a place needs `step`")?;
        let step = file
            .steps
            .iter()
            .find(|s| s.name == step_name)
            .ok_or_else(|| format!("no step `{step_name}` in the case"))?;
        if p.part == PlacePart::Notification {
            let name = p
                .name
                .as_deref()
                .ok_or("a notification place needs `name`")?;
            let known = step
                .notifications
                .iter()
                .chain(
                    step.alternatives
                        .iter()
                        .flat_map(|a| a.notifications.iter()),
                )
                .any(|n| n.name == name);
            if !known {
                return Err(format!("step `{step_name}` has no notification `{name}`"));
            }
        }
        match p.pointer.as_deref() {
            Some(ptr) if ptr.starts_with('/') => {}
            _ => {
                return Err(format!(
                    "{p}: `pointer` must be a JSON pointer (starting with `/`)"
                ));
            }
        }
    }
    Ok(())
}

fn validate_notifications(list: &[NotificationExpect], what: &str) -> Result<(), String> {
    for n in list {
        if n.state.is_none() && n.matches.is_empty() {
            return Err(format!(
                "{what} notification `{}`: give `state` or `match` (how it is recognised)",
                n.name
            ));
        }
        for ptr in n.matches.keys() {
            if !ptr.starts_with('/') {
                return Err(format!(
                    "{what} notification `{}`: match key `{ptr}` is not a JSON pointer (starts with `/`)",
                    n.name
                ));
            }
        }
        if n.snapshot.is_some() != n.documented.is_some() {
            return Err(format!(
                "{what} notification `{}`: fields `snapshot` and `documented` go together",
                n.name
            ));
        }
        if let Some(snap) = &n.snapshot
            && !crate::diag::valid_var_name(snap)
        {
            return Err(format!(
                "{what} notification `{}`: snapshot name `{snap}` may hold only letters, digits, `-` and `_`",
                n.name
            ));
        }
    }
    Ok(())
}

fn validate_trigger(step: &Step) -> Result<(), String> {
    if !step.method.is_empty() || !step.path.is_empty() || step.body.is_some() {
        return Err("a trigger step sends no request: drop `method`, `path` and `body`".into());
    }
    if !step.expect.is_unset() {
        return Err("a trigger step has no `expect`: its notifications are the check".into());
    }
    if step.notifications.is_empty() {
        return Err("a trigger step needs the notification it causes".into());
    }
    Ok(())
}

fn validate_step(step: &Step) -> Result<(), String> {
    validate_notifications(&step.notifications, "")?;
    for a in &step.alternatives {
        validate_notifications(&a.notifications, &format!("alternative `{}`:", a.name))?;
        if a.notifications.is_empty() {
            return Err(format!("alternative `{}` lists no notification", a.name));
        }
    }
    if let Some(snap) = &step.expect.snapshot
        && !crate::diag::valid_var_name(snap)
    {
        return Err(format!(
            "field `expect.snapshot`: `{snap}` may hold only letters, digits, `-` and `_`"
        ));
    }
    if step.expect.snapshot.is_some() && matches!(step.expect.body, BodyKind::Any | BodyKind::Empty)
    {
        return Err(format!(
            "field `expect.snapshot`: a `{}` body is never compared; drop the snapshot or say `xml`/`json`",
            if step.expect.body == BodyKind::Any {
                "any"
            } else {
                "empty"
            }
        ));
    }
    if step.is_trigger() {
        validate_trigger(step)?;
        return validate_captures(step);
    }
    if step.method.is_empty() {
        return Err("field `method` is required on a request step".into());
    }
    if step.path.is_empty() {
        return Err("field `path` is required on a request step".into());
    }
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    if !METHODS.contains(&step.method.as_str()) {
        return Err(format!(
            "field `method`: `{}` is not one of {}",
            step.method,
            METHODS.join(", ")
        ));
    }
    if !(100..=599).contains(&step.expect.status) {
        return Err(format!(
            "field `expect.status`: {} is not an HTTP status",
            step.expect.status
        ));
    }
    if !step.path.starts_with('/') && !step.path.starts_with("{{") {
        return Err(format!(
            "field `path`: `{}` must start with `/` (it is relative to the family's base URL)",
            step.path
        ));
    }
    crate::template::check(&step.path).map_err(|e| format!("field `path`: {e}"))?;
    if let Some(body) = &step.body {
        crate::template::check(body).map_err(|e| format!("field `body`: {e}"))?;
    }
    validate_captures(step)
}

fn validate_captures(step: &Step) -> Result<(), String> {
    for (var, sels) in &step.capture {
        if !valid_var_name(var) {
            return Err(format!("field `capture.{var}`: not a variable name"));
        }
        if sels.is_empty() {
            return Err(format!("field `capture.{var}`: give at least one selector"));
        }
        for s in sels {
            crate::capture::Selector::parse(s)
                .map_err(|e| format!("field `capture.{var}`: {e}"))?;
        }
    }
    Ok(())
}
