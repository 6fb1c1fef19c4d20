//! Turns a paired example into a case, following its family's rules. The rules are
//! knowledge about the two APIs and the documentation's conventions, kept in tables
//! ([`RULES`], [`INCOMING_ACTIONS`]) and small functions so they are easy to review.

use super::Diagnostic;
use super::http;
use super::markdown::{Annot, Page};
use super::model::{Alternative, CaseV2, Contract, ExpectV2, Field, NotificationV2, StepV2};
use super::pair::{Example, NotificationKind};
use crate::case::{BodyKind, NotificationOrder, Provenance, Source};
use crate::family::Family;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a family's cases share.
pub struct Rules {
    pub family: Family,
    /// Prefix of snapshot names: `<prefix>__<case>[__<notification>]`.
    pub snapshot_prefix: &'static str,
    /// The family set-up that yields a live `call_id` (in `_family.toml`).
    pub call_id_setup: &'static str,
    /// Fixed request parts (UM: every operation is a SOAP POST to one endpoint).
    pub method: Option<&'static str>,
    pub path: Option<&'static str>,
    pub content_type: Option<&'static str>,
    /// UM pages never print the HTTP status or content type of a response.
    pub status: Option<u16>,
    /// The status of a documented SOAP fault (SOAP 1.1 answers faults with 500).
    pub fault_status: Option<u16>,
    pub response_content_type: Option<&'static str>,
}

pub const RULES: [Rules; 2] = [
    Rules {
        family: Family::UM,
        snapshot_prefix: "um",
        call_id_setup: "play-on-phone",
        method: Some("POST"),
        path: Some("{{um_endpoint}}"),
        content_type: Some("text/xml; charset=utf-8"),
        status: Some(200),
        fault_status: Some(500),
        response_content_type: Some("text/xml"),
    },
    Rules {
        family: Family::GRAPH,
        snapshot_prefix: "graph",
        call_id_setup: "create-call",
        method: None,
        path: None,
        content_type: None,
        status: None,
        fault_status: None,
        response_content_type: None,
    },
];

/// Graph actions that act on a call the service offered to the bot (an incoming call),
/// not on one the bot created: they need the `incoming-call` set-up or a trigger step.
pub const INCOMING_ACTIONS: [&str; 3] = ["answer", "reject", "redirect"];

/// The Graph set-up for actions on a participant: a created call whose response names
/// the bot's own participant (`myParticipantId`).
pub const PARTICIPANT_SETUP: &str = "create-call-participant";
/// The set-up of a request on one audio routing group (beta): a call holding one.
pub const AUDIO_ROUTING_GROUP_SETUP: &str = "create-call-audio-routing-group";
/// The set-up for reading a call that joined a meeting (the page's answer shows one).
pub const MEETING_SETUP: &str = "join-meeting";
pub const INCOMING_SETUP: &str = "incoming-call";

pub fn rules(family: Family) -> &'static Rules {
    match family.as_str() {
        "um" => &RULES[0],
        _ => &RULES[1],
    }
}

/// A case built from one page, before locale copies are merged and names are settled.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub family: Family,
    /// What identifies the example across locale copies and API versions.
    pub key: String,
    /// `v1.0` / `beta` when the request URL names one.
    pub version: Option<String>,
    /// Case names to try in order when several examples ask for the same one.
    pub names: Vec<String>,
    /// Snapshot fields hold `""` until the case name is settled.
    pub file: CaseV2,
    /// Notifications kept, and request bodies that needed JSON repair (for statistics).
    pub notifications: usize,
}

/// Builds the case for one example, or says why it cannot. Problems with single parts
/// (one unusable notification) drop only that part, with a diagnostic in `diags`.
pub fn build(
    page: &Page,
    rel: &str,
    display: &str,
    ex: &Example,
    diags: &mut Vec<Diagnostic>,
) -> Result<Candidate, String> {
    let req = &page.blocks[ex.request];
    let family = if req.lang == "xml" {
        Family::UM
    } else {
        Family::GRAPH
    };
    let source = Source {
        file: rel.to_string(),
        locale: page.front.locale.clone(),
        title: page.front.title.clone(),
        line: Some(req.line),
    };
    let mut c = match family.as_str() {
        "um" => um(page, rel, ex)?,
        _ => graph(page, display, ex, diags)?,
    };
    c.file.provenance.sources.push(source);
    if c.file.tags.is_empty() {
        c.file.tags.push(c.names[0].clone());
    }
    if let Some(bad) = c.names.iter().find(|n| !crate::diag::valid_var_name(n)) {
        return Err(format!(
            "`{bad}` cannot be a case name (letters, digits, `-` and `_` only)"
        ));
    }
    Ok(c)
}

fn um(page: &Page, rel: &str, ex: &Example) -> Result<Candidate, String> {
    let r = rules(Family::UM);
    let req = &page.blocks[ex.request];
    let root = http::soap_root(&req.text).map_err(|e| format!("request: {e}"))?;
    let resp = ex
        .response
        .map(|i| &page.blocks[i])
        .ok_or("request with no response")?;
    let fault = http::soap_root(&resp.text)
        .map_err(|e| format!("response at line {}: {e}", resp.line))?
        == "Fault";
    let status = if fault { r.fault_status } else { r.status };
    let mut vars = BTreeMap::new();
    let mut placeholders = Vec::new();
    let mut body = req.text.clone();
    if let Some(id) = call_id_in_xml(&req.text) {
        body = body.replace(
            &format!("<CallId>{id}</CallId>"),
            "<CallId>{{call_id}}</CallId>",
        );
        vars.insert("call_id".to_string(), id);
        placeholders.push("call_id".to_string());
    }
    let mut headers = BTreeMap::new();
    if let Some(ct) = r.content_type {
        headers.insert("Content-Type".to_string(), ct.to_string());
    }
    let name = kebab(&root);
    let step = StepV2 {
        name: root.clone(),
        trigger: None,
        method: Some(r.method.unwrap_or("POST").to_string()),
        path: Some(r.path.unwrap_or("/").to_string()),
        headers,
        body: Some(body),
        capture: BTreeMap::new(),
        notification_order: NotificationOrder::Strict,
        expect: Some(ExpectV2 {
            status: status.unwrap_or(200),
            content_type: r.response_content_type.map(str::to_string),
            body: BodyKind::Xml,
            snapshot: Some(String::new()),
            documented: Some(resp.text.clone()),
            redact: Vec::new(),
            truncated: false,
            progress: None,
            ty: None,
        }),
        notifications: Vec::new(),
        alternatives: Vec::new(),
    };
    let setup = vars
        .contains_key("call_id")
        .then(|| r.call_id_setup.to_string());
    // Locale copies share `ms.assetid`; a page without one stands alone.
    let identity = match &page.front.assetid {
        Some(a) => format!("asset:{a}"),
        None => format!("file:{rel}"),
    };
    Ok(Candidate {
        family: Family::UM,
        key: format!("um|{identity}|{root}"),
        version: None,
        names: vec![name],
        notifications: 0,
        file: CaseV2 {
            setup,
            tags: page.front.api_name.clone(),
            provenance: Provenance {
                assetid: page.front.assetid.clone(),
                api_name: page.front.api_name.first().cloned(),
                example: root,
                documented_url: None,
                sources: Vec::new(),
            },
            vars,
            placeholders,
            steps: vec![step],
            contract: Contract::default(),
            relations: Vec::new(),
        },
    })
}

/// The documented `<CallId>` value (the id a live call replaces).
fn call_id_in_xml(xml: &str) -> Option<String> {
    let start = xml.find("<CallId>")? + "<CallId>".len();
    let end = start + xml[start..].find("</CallId>")?;
    let id = &xml[start..end];
    (!id.trim().is_empty() && !id.contains('<')).then(|| id.to_string())
}

/// Replaces the documented `callbackUri` values of a JSON request body with the
/// harness's listener (`{{callback_url}}`), keeping the rest as printed.
pub fn callback_to_listener(body: &str) -> String {
    let key = "\"callbackUri\"";
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(p) = rest.find(key) {
        let after = &rest[p + key.len()..];
        let ws = after.len() - after.trim_start().len();
        let Some(after_colon) = after.trim_start().strip_prefix(':') else {
            out.push_str(&rest[..p + key.len()]);
            rest = after;
            continue;
        };
        let ws2 = after_colon.len() - after_colon.trim_start().len();
        let value = after_colon.trim_start();
        let Some(v) = value.strip_prefix('"') else {
            out.push_str(&rest[..p + key.len()]);
            rest = after;
            continue;
        };
        let Some(end) = v.find('"') else {
            break;
        };
        let consumed = key.len() + ws + 1 + ws2 + 1 + end + 1;
        out.push_str(&rest[..p + key.len() + ws + 1 + ws2]);
        out.push_str("\"{{callback_url}}\"");
        rest = &rest[p + consumed..];
    }
    out.push_str(rest);
    out
}

/// A notification's name, `state` shorthand and `match` pointers.
type Recognised = (String, Option<String>, BTreeMap<String, String>);

/// How a documented notification is recognised among the arrivals, by the first entry
/// of its `value`: a call's `state`; an operation's `@odata.type` and `status`; a
/// roster's (collection's) element type; another resource's type and `changeType`.
/// The name says the same in a word.
fn recognise(json: &Value) -> Result<Recognised, String> {
    let entries = super::pair::entries(json);
    let entry = entries.first().ok_or("no notification entry in `value`")?;
    let change = entry.get("changeType").and_then(Value::as_str);
    let short = |ty: &str| {
        ty.trim_start_matches('#')
            .rsplit('.')
            .next()
            .unwrap_or(ty)
            .to_ascii_lowercase()
    };
    let mut m = BTreeMap::new();
    match entry.get("resourceData") {
        Some(Value::Object(d)) => {
            if let Some(state) = d.get("state").and_then(Value::as_str) {
                return Ok((state.to_string(), Some(state.to_string()), m));
            }
            let ty = d.get("@odata.type").and_then(Value::as_str).ok_or(
                "resourceData has no `state`, `status` or `@odata.type` to recognise it by",
            )?;
            m.insert("/resourceData/@odata.type".to_string(), ty.to_string());
            if let Some(status) = d.get("status").and_then(Value::as_str) {
                m.insert("/resourceData/status".to_string(), status.to_string());
                return Ok((format!("{}-{status}", short(ty)), None, m));
            }
            let change = change.ok_or(
                "resourceData has neither `state` nor `status`, and the entry has no `changeType`",
            )?;
            m.insert("/changeType".to_string(), change.to_string());
            Ok((format!("{}-{change}", short(ty)), None, m))
        }
        Some(Value::Array(items)) => {
            let ty = items
                .first()
                .and_then(|d| d.get("@odata.type"))
                .and_then(Value::as_str)
                .ok_or("resourceData is a collection whose first element has no `@odata.type`")?;
            m.insert("/resourceData/0/@odata.type".to_string(), ty.to_string());
            let mut name = format!("{}s", short(ty));
            if let Some(c) = change {
                m.insert("/changeType".to_string(), c.to_string());
                name = format!("{name}-{c}");
            }
            Ok((name, None, m))
        }
        // No resource data: the resource is named by its URL (the collection after the
        // call, e.g. `contentsharingsessions`), and the change by `changeType`.
        _ => {
            let change = change.ok_or("the entry has neither `resourceData` nor `changeType`")?;
            let url = entry
                .get("resourceUrl")
                .and_then(Value::as_str)
                .ok_or("the entry has neither `resourceData` nor `resourceUrl`")?;
            let segs: Vec<&str> = url.split('/').filter(|s| !s.is_empty()).collect();
            let resource = segs
                .iter()
                .rposition(|s| s.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(|p| segs[p].to_ascii_lowercase())
                .unwrap_or_else(|| "resource".into());
            m.insert("/changeType".to_string(), change.to_string());
            Ok((format!("{resource}-{change}"), None, m))
        }
    }
}

fn kebab_words(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn unique(names: &[String], want: &str) -> String {
    let mut name = want.to_string();
    let mut k = 2;
    while names.contains(&name) {
        name = format!("{want}-{k}");
        k += 1;
    }
    name
}

/// Builds a Graph case: the request step (after an incoming-call trigger step when the
/// page shows one), its documented notifications and alternative outcomes, the set-up
/// its path needs, and the names the case may take.
fn graph(
    page: &Page,
    display: &str,
    ex: &Example,
    diags: &mut Vec<Diagnostic>,
) -> Result<Candidate, String> {
    let req_block = &page.blocks[ex.request];
    let req = http::parse(&req_block.text).map_err(|e| format!("request: {e}"))?;
    let Some((method, url)) = req.request_line.clone() else {
        return Err("request block holds a status line, not a request".into());
    };
    let example = ex.name.clone().ok_or(
        "request has no apidoctor `name`; Graph examples are identified by it, so it is needed",
    )?;
    let expect = graph_expect(page, ex)?;

    let (path, vars) = graph_path(&url);
    let headers = graph_headers(&req.headers);
    let body = req
        .body
        .clone()
        .or_else(|| ex.request_body.map(|b| page.blocks[b].text.clone()))
        .map(|b| callback_to_listener(&b));

    let notes = GraphNotifications::of(page, display, ex, &example, diags);
    let collection = collection_fields(&method, &expect, notes.results.is_empty());
    let any_order = notes.results.len() > 1 && page_allows_any_order(page);
    let alternatives = alternatives(notes.failures, &notes.results, any_order);

    let mut placeholders: Vec<String> = vars.keys().cloned().collect();
    let mut steps = Vec::new();
    let setup = match notes.trigger {
        Some(t) => {
            if !vars.contains_key("call_id") {
                diags.push(Diagnostic::new(
                    display,
                    req_block.line,
                    format!("request `{example}` follows an incoming-call notification but its path names no call"),
                ));
            }
            steps.push(incoming_step(t));
            None
        }
        None if method == "GET" && vars.contains_key("call_id") && shows_meeting(&expect) => {
            Some(MEETING_SETUP.to_string())
        }
        None => graph_setup(&path, &vars),
    };
    placeholders.sort();
    // A request that creates a call: the call's notifications (those the page shows, and
    // those of a call the page leaves progressing) are routed by the new call's id, taken
    // from the answer.
    let mut capture = BTreeMap::new();
    let creates = !notes.results.is_empty() || expect.status == 201;
    if method == "POST" && creates && !vars.contains_key("call_id") {
        capture.insert(
            "call_id".to_string(),
            vec![
                "json:/id".to_string(),
                "header:Location#last-segment".to_string(),
            ],
        );
    }
    steps.push(StepV2 {
        name: example.clone(),
        trigger: None,
        method: Some(method),
        path: Some(path),
        headers,
        body,
        capture,
        notification_order: order(any_order),
        expect: Some(expect),
        notifications: notes.results,
        alternatives,
    });
    let (version, names) = graph_names(&url, &example);
    Ok(Candidate {
        family: Family::GRAPH,
        key: format!("graph|{example}"),
        version,
        names,
        notifications: notes.kept,
        file: CaseV2 {
            setup,
            tags: page.front.api_name.clone(),
            provenance: Provenance {
                assetid: page.front.assetid.clone(),
                api_name: page.front.api_name.first().cloned(),
                example,
                documented_url: Some(url),
                sources: Vec::new(),
            },
            vars,
            placeholders,
            steps,
            contract: Contract { field: collection },
            relations: Vec::new(),
        },
    })
}

/// The answer to a GET of a collection lists instances (README: Verdict model): its
/// `value` is classed `members`. Recognised by the OData shape the page prints: a GET
/// answered by an object whose only property is a `value` array of objects (beside
/// `@odata.*` annotations, a context that does not name one `$entity`). The class is the
/// case's own: the family's `/value` is also a notification batch, so a case that waits
/// for notifications keeps element-by-element judging.
fn collection_fields(method: &str, expect: &ExpectV2, no_notifications: bool) -> Vec<Field> {
    let Some(body) = expect
        .documented
        .as_deref()
        .filter(|_| method.eq_ignore_ascii_case("GET") && no_notifications)
        .and_then(super::pair::lenient_json)
    else {
        return Vec::new();
    };
    let Some(obj) = body.as_object() else {
        return Vec::new();
    };
    let only_value = obj.keys().all(|k| k == "value" || k.starts_with('@'));
    let members = obj
        .get("value")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().all(Value::is_object));
    let entity = obj
        .get("@odata.context")
        .and_then(Value::as_str)
        .is_some_and(|c| c.ends_with("/$entity"));
    if !(only_value && members && !entity) {
        return Vec::new();
    }
    vec![Field {
        path: "/value".into(),
        class: "members".into(),
        set: None,
        provenance: None,
    }]
}

/// Whether a documented answer shows a call that joined a meeting (`meetingInfo` set).
fn shows_meeting(expect: &ExpectV2) -> bool {
    expect
        .documented
        .as_deref()
        .and_then(super::pair::lenient_json)
        .and_then(|v| v.get("meetingInfo").cloned())
        .is_some_and(|m| m.is_object())
}

fn order(any_order: bool) -> NotificationOrder {
    if any_order {
        NotificationOrder::Any
    } else {
        NotificationOrder::Strict
    }
}

/// What the documented response says to expect: its status, and (unless it is empty,
/// 204 or annotated so) its JSON body as the snapshot's documented text.
fn graph_expect(page: &Page, ex: &Example) -> Result<ExpectV2, String> {
    let resp_block = ex
        .response
        .map(|i| &page.blocks[i])
        .ok_or("request with no response")?;
    let resp_annot = match &resp_block.annot {
        Annot::Some(a) => Some(a),
        _ => None,
    };
    let resp = http::parse(&resp_block.text).map_err(|e| {
        format!(
            "response at line {}: {e}; a status line is needed",
            resp_block.line
        )
    })?;
    let status = resp
        .status
        .ok_or_else(|| format!("response at line {} has no status line", resp_block.line))?;
    // A body printed in its own block after the status line: its annotation says
    // whether the example is truncated.
    let body_block = ex.response_body.map(|b| &page.blocks[b]);
    let body_annot = body_block.and_then(|b| match &b.annot {
        Annot::Some(a) => Some(a),
        _ => None,
    });
    let mut resp = resp;
    if resp.body.is_none() {
        resp.body = body_block.map(|b| b.text.clone());
    }
    let truncated =
        resp_annot.is_some_and(|a| a.truncated) || body_annot.is_some_and(|a| a.truncated);
    let empty = status == 204 || resp_annot.is_some_and(|a| a.is_empty) || resp.body.is_none();
    Ok(if empty {
        ExpectV2 {
            status,
            content_type: None,
            body: BodyKind::Empty,
            snapshot: None,
            documented: None,
            redact: Vec::new(),
            truncated: false,
            progress: None,
            ty: None,
        }
    } else {
        ExpectV2 {
            status,
            // A page that prints a JSON body without its Content-Type header still
            // documents a JSON answer: OData serves it as application/json.
            content_type: Some(
                resp.header("Content-Type")
                    .map_or("application/json", |v| {
                        v.split(';').next().unwrap_or(v).trim()
                    })
                    .to_string(),
            ),
            body: BodyKind::Json,
            snapshot: Some(String::new()),
            documented: resp.body.clone(),
            redact: Vec::new(),
            truncated,
            progress: None,
            ty: None,
        }
    })
}

/// The request headers a case keeps: the harness sends its own credentials, and Host
/// comes from the target URL.
fn graph_headers(headers: &[(String, String)]) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(k, _)| {
            !k.eq_ignore_ascii_case("Authorization") && !k.eq_ignore_ascii_case("Host")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// An example's notifications, by what they mean: the results of the request, the
/// alternative outcomes (named from their heading), and the incoming-call trigger.
struct GraphNotifications {
    results: Vec<NotificationV2>,
    failures: Vec<(String, NotificationV2)>,
    trigger: Option<NotificationV2>,
    /// How many became part of the case (for statistics).
    kept: usize,
}

impl GraphNotifications {
    /// An unreadable or unrecognised notification drops only itself, with a diagnostic.
    fn of(
        page: &Page,
        display: &str,
        ex: &Example,
        example: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> GraphNotifications {
        let mut out = GraphNotifications {
            results: Vec::new(),
            failures: Vec::new(),
            trigger: None,
            kept: 0,
        };
        for n in &ex.notifications {
            let block = &page.blocks[n.block];
            let value = super::pair::lenient_json(&n.text);
            let recognised = value
                .as_ref()
                .ok_or_else(|| "the JSON is not readable even after repair".to_string())
                .and_then(recognise);
            let (want, state, matches) = match recognised {
                Ok(r) => r,
                Err(e) => {
                    diags.push(Diagnostic::new(
                        display,
                        block.line,
                        format!(
                            "notification: {e}; only this notification is not extracted (its \
                             request `{example}` is)"
                        ),
                    ));
                    continue;
                }
            };
            out.kept += 1;
            let nv = NotificationV2 {
                ty: None,
                caused_by: None,
                name: want,
                state,
                matches,
                snapshot: Some(String::new()),
                documented: Some(n.text.clone()),
                redact: Vec::new(),
            };
            out.add(page, n, nv, display, diags);
        }
        out
    }

    /// Files one recognised notification by its kind.
    fn add(
        &mut self,
        page: &Page,
        n: &super::pair::Notification,
        mut nv: NotificationV2,
        display: &str,
        diags: &mut Vec<Diagnostic>,
    ) {
        let block = &page.blocks[n.block];
        match n.kind {
            NotificationKind::Trigger => {
                nv.name = "incoming".into();
                if self.trigger.is_some() {
                    diags.push(Diagnostic::new(
                        display,
                        block.line,
                        "a second incoming-call notification for one request; only the first \
                         is the trigger, this one is not extracted"
                            .into(),
                    ));
                    self.kept -= 1;
                } else {
                    self.trigger = Some(nv);
                }
            }
            NotificationKind::Result => {
                let names: Vec<String> = self.results.iter().map(|r| r.name.clone()).collect();
                nv.name = unique(&names, &nv.name);
                self.results.push(nv);
            }
            NotificationKind::Alternative => {
                let heading = n
                    .companion
                    .map(|c| page.blocks[c.min(n.block)].heading.clone())
                    .unwrap_or_else(|| block.heading.clone());
                let outcome = heading
                    .rsplit_once(" - ")
                    .map(|(_, t)| t.to_string())
                    .unwrap_or(heading);
                let mut alt = kebab_words(&outcome);
                if alt.is_empty() || alt.len() > 40 {
                    alt = "failed".into();
                }
                self.failures.push((alt, nv));
            }
        }
    }
}

/// An alternative outcome replaces the last documented result (the success), after the
/// notifications both outcomes share.
fn alternatives(
    failures: Vec<(String, NotificationV2)>,
    results: &[NotificationV2],
    any_order: bool,
) -> Vec<Alternative> {
    let mut alternatives: Vec<Alternative> = Vec::new();
    for (alt, mut nv) in failures {
        match alternatives.iter_mut().find(|a| a.name == alt) {
            Some(a) => {
                let names: Vec<String> = a.notifications.iter().map(|r| r.name.clone()).collect();
                nv.name = unique(&names, &nv.name);
                a.notifications.push(nv);
            }
            None => {
                let mut list: Vec<NotificationV2> = results
                    .iter()
                    .take(results.len().saturating_sub(1))
                    .cloned()
                    .collect();
                let names: Vec<String> = list.iter().map(|r| r.name.clone()).collect();
                nv.name = unique(&names, &nv.name);
                list.push(nv);
                alternatives.push(Alternative {
                    name: alt.clone(),
                    about: format!(
                        "the documented alternative outcome `{alt}`, instead of the last \
                         documented result"
                    ),
                    notification_order: order(any_order),
                    notifications: list,
                });
            }
        }
    }
    alternatives
}

/// The step that has the target offer a call, checked against the documented
/// incoming-call notification; the call it names becomes `call_id`.
fn incoming_step(trigger: NotificationV2) -> StepV2 {
    let mut capture = BTreeMap::new();
    capture.insert(
        "call_id".to_string(),
        vec!["notification:/value/0/resourceUrl#last-segment".to_string()],
    );
    StepV2 {
        name: "incoming".into(),
        trigger: Some(INCOMING_SETUP.into()),
        method: None,
        path: None,
        headers: BTreeMap::new(),
        body: None,
        capture,
        notification_order: NotificationOrder::Strict,
        expect: None,
        notifications: vec![trigger],
        alternatives: Vec::new(),
    }
}

/// The set-up a request without a trigger step needs, from what its path names: an
/// offered call for actions only an incoming call takes (answer, reject, redirect), a
/// participant, or a created call.
fn graph_setup(path: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let action = path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    let on_incoming = vars.contains_key("call_id") && INCOMING_ACTIONS.contains(&action.as_str());
    if on_incoming {
        Some(INCOMING_SETUP.to_string())
    } else if vars.contains_key("participant_id") {
        Some(PARTICIPANT_SETUP.to_string())
    } else if vars.contains_key("audio_routing_group_id") {
        Some(AUDIO_ROUTING_GROUP_SETUP.to_string())
    } else if vars.contains_key("call_id") {
        Some(rules(Family::GRAPH).call_id_setup.to_string())
    } else {
        None
    }
}

/// The API version the URL names, and the case names to try: `delete-call` first; with
/// the API version when v1.0 and beta print different examples; `delete-call-1` when one
/// page has several.
fn graph_names(url: &str, example: &str) -> (Option<String>, Vec<String>) {
    let version = url
        .split('/')
        .find(|s| *s == "v1.0" || *s == "beta")
        .map(str::to_string);
    let vsuffix = version.as_ref().map(|v| v.replace('.', "-"));
    let stripped = strip_ordinal(example).to_string();
    let mut names = vec![stripped.clone()];
    if let Some(v) = &vsuffix {
        names.push(format!("{stripped}-{v}"));
    }
    names.push(example.to_string());
    if let Some(v) = &vsuffix {
        names.push(format!("{example}-{v}"));
    }
    names.dedup();
    (version, names)
}

/// A case for an incoming-call notification no request follows (a page that shows how
/// a call is offered, e.g. for policy-based recording): the target offers a call and
/// its notification is checked against the documented one.
pub fn lone_trigger(
    page: &Page,
    rel: &str,
    n: &super::pair::Notification,
) -> Result<Candidate, String> {
    let block = &page.blocks[n.block];
    let value = super::pair::lenient_json(&n.text).ok_or("the JSON is not readable")?;
    let (_, state, matches) = recognise(&value)?;
    let stem = rel
        .rsplit('/')
        .next()
        .unwrap_or(rel)
        .trim_end_matches(".md")
        .to_string();
    let name = format!("{stem}-incoming");
    let mut capture = BTreeMap::new();
    capture.insert(
        "call_id".to_string(),
        vec!["notification:/value/0/resourceUrl#last-segment".to_string()],
    );
    Ok(Candidate {
        family: Family::GRAPH,
        key: format!("graph|{name}"),
        version: None,
        names: vec![name.clone(), format!("{name}-{}", block.line)],
        notifications: 1,
        file: CaseV2 {
            setup: None,
            tags: if page.front.api_name.is_empty() {
                vec![name.clone()]
            } else {
                page.front.api_name.clone()
            },
            provenance: Provenance {
                assetid: page.front.assetid.clone(),
                api_name: page.front.api_name.first().cloned(),
                example: name,
                documented_url: None,
                sources: vec![Source {
                    file: rel.to_string(),
                    locale: page.front.locale.clone(),
                    title: page.front.title.clone(),
                    line: Some(block.line),
                }],
            },
            vars: BTreeMap::new(),
            placeholders: Vec::new(),
            steps: vec![StepV2 {
                name: "incoming".into(),
                trigger: Some(INCOMING_SETUP.into()),
                method: None,
                path: None,
                headers: BTreeMap::new(),
                body: None,
                capture,
                notification_order: NotificationOrder::Strict,
                expect: None,
                notifications: vec![NotificationV2 {
                    ty: None,
                    caused_by: None,
                    name: "incoming".into(),
                    state,
                    matches,
                    snapshot: Some(String::new()),
                    documented: Some(n.text.clone()),
                    redact: Vec::new(),
                }],
                alternatives: Vec::new(),
            }],
            contract: Contract::default(),
            relations: Vec::new(),
        },
    })
}

/// The Graph pages say when establishing and established may arrive out of order.
fn page_allows_any_order(page: &Page) -> bool {
    page.any_order
}

/// Fills the snapshot names once the case name is settled.
pub fn name_snapshots(file: &mut CaseV2, family: Family, case: &str) {
    let prefix = rules(family).snapshot_prefix;
    for step in &mut file.steps {
        if let Some(e) = &mut step.expect
            && e.snapshot.is_some()
        {
            e.snapshot = Some(format!("{prefix}__{case}"));
        }
        for n in &mut step.notifications {
            if n.snapshot.is_some() {
                n.snapshot = Some(format!("{prefix}__{case}__{}", n.name));
            }
        }
        for a in &mut step.alternatives {
            for n in &mut a.notifications {
                if n.snapshot.is_some() {
                    n.snapshot = Some(format!("{prefix}__{case}__{}__{}", a.name, n.name));
                }
            }
        }
    }
}

/// The step path for a documented Graph URL, and the variables it introduced: the scheme,
/// host and version prefix go; the segment after `/calls/` becomes `{{call_id}}` with the
/// documented id as its default; `{name}` placeholders become `{{name}}` variables.
pub fn graph_path(url: &str) -> (String, BTreeMap<String, String>) {
    let mut rest = url;
    if let Some(p) = rest.find("://") {
        let after = &rest[p + 3..];
        rest = after.find('/').map_or("/", |s| &after[s..]);
    }
    for prefix in ["/v1.0/", "/beta/"] {
        if let Some(r) = rest.strip_prefix(&prefix[..prefix.len() - 1])
            && r.starts_with('/')
        {
            rest = r;
        }
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut vars = BTreeMap::new();
    let segments: Vec<&str> = path.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let braced = seg.len() > 2 && seg.starts_with('{') && seg.ends_with('}');
        let id_like = seg.bytes().any(|b| b.is_ascii_digit());
        // The id after a collection segment is that collection's member: a call, a
        // participant, an operation; documented (`{id}`, a GUID) or not, it is live.
        let collection = i
            .checked_sub(1)
            .map(|p| segments[p].to_ascii_lowercase())
            .and_then(|c| match c.as_str() {
                "calls" => Some("call_id"),
                "participants" => Some("participant_id"),
                "operations" => Some("operation_id"),
                "audioroutinggroups" => Some("audio_routing_group_id"),
                _ => None,
            });
        if let Some(var) = collection.filter(|_| braced || id_like) {
            vars.insert(var.to_string(), seg.to_string());
            out.push(format!("{{{{{var}}}}}"));
        } else if braced && crate::diag::valid_var_name(&snake(&seg[1..seg.len() - 1])) {
            let var = snake(&seg[1..seg.len() - 1]);
            vars.insert(var.clone(), seg.to_string());
            out.push(format!("{{{{{var}}}}}"));
        } else {
            out.push(seg.to_string());
        }
    }
    let mut path = out.join("/");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    (path, vars)
}

/// `delete-call-1` → `delete-call`: the ordinal only numbers examples on one page.
pub fn strip_ordinal(name: &str) -> &str {
    match name.rfind('-') {
        Some(p)
            if p > 0 && p + 1 < name.len() && name[p + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &name[..p]
        }
        _ => name,
    }
}

/// `GetCallInfo` → `get-call-info`, `IsUMEnabled` → `is-um-enabled`.
pub fn kebab(s: &str) -> String {
    split_words(s, '-')
}

fn snake(s: &str) -> String {
    split_words(s, '_').replace('-', "_")
}

fn split_words(s: &str, sep: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push(sep);
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> ExpectV2 {
        ExpectV2 {
            status: 200,
            content_type: Some("application/json".into()),
            body: BodyKind::Json,
            snapshot: Some(String::new()),
            documented: Some(body.into()),
            redact: Vec::new(),
            truncated: false,
            progress: None,
            ty: None,
        }
    }

    #[test]
    fn a_get_of_a_collection_classes_its_value_as_members() {
        let listed = r#"{"@odata.context": "https://x/$metadata#communications/calls('1')/participants",
            "value": [{"id": "a"}, {"id": "b"},]}"#;
        let f = collection_fields("GET", &answer(listed), true);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].path.as_str(), f[0].class.as_str()),
            ("/value", "members")
        );
        // The beta pages print no context: the shape is enough.
        assert_eq!(
            collection_fields("GET", &answer(r#"{"value": [{"id": "a"}]}"#), true).len(),
            1
        );
        for (method, body, quiet) in [
            // Not a GET: an action's answer.
            ("POST", listed, true),
            // A notification batch shares the shape: a case that waits for one keeps it.
            ("GET", listed, false),
            // One entity with a `value` property, or other properties beside it.
            (
                "GET",
                r#"{"@odata.context": "https://x/$metadata#calls/$entity", "value": [{"a": 1}]}"#,
                true,
            ),
            ("GET", r#"{"id": "1", "value": [{"a": 1}]}"#, true),
            // A list of scalars is no collection of instances.
            ("GET", r#"{"value": ["audio", "video"]}"#, true),
        ] {
            assert!(
                collection_fields(method, &answer(body), quiet).is_empty(),
                "{method} {body}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(kebab("GetCallInfo"), "get-call-info");
        assert_eq!(kebab("Disconnect"), "disconnect");
        assert_eq!(kebab("IsUMEnabled"), "is-um-enabled");
        assert_eq!(kebab("GetUMProperties"), "get-um-properties");
        assert_eq!(strip_ordinal("delete-call-1"), "delete-call");
        assert_eq!(strip_ordinal("call-reject-none"), "call-reject-none");
        assert_eq!(strip_ordinal("x-"), "x-");
    }

    #[test]
    fn graph_paths() {
        let (p, v) = graph_path(
            "https://graph.microsoft.com/beta/communications/calls/57dab8b1-894c/answer",
        );
        assert_eq!(p, "/communications/calls/{{call_id}}/answer");
        assert_eq!(v["call_id"], "57dab8b1-894c");
        let (p, v) = graph_path(
            "https://graph.microsoft.com/v1.0/communications/calls/{id}/participants/{participantId}",
        );
        assert_eq!(
            p,
            "/communications/calls/{{call_id}}/participants/{{participant_id}}"
        );
        assert_eq!(v["call_id"], "{id}");
        assert_eq!(v["participant_id"], "{participantId}");
        let (p, v) = graph_path("/communications/calls/logTeleconferenceDeviceQuality");
        assert_eq!(p, "/communications/calls/logTeleconferenceDeviceQuality");
        assert!(v.is_empty());
        assert_eq!(
            graph_path("https://graph.microsoft.com/v1.0/communications/calls").0,
            "/communications/calls"
        );
    }
}
