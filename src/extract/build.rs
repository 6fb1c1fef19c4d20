//! Turns a paired example into a case, following its family's rules. The rules are
//! knowledge about the two APIs, kept in one table ([`RULES`]) so they are easy to review.

use super::http;
use super::markdown::{Annot, Page};
use super::pair::Example;
use crate::case::{
    BodyKind, CaseFile, Expect, Family, NotificationExpect, NotificationOrder, Provenance, Source,
    Step,
};
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

pub fn rules(family: Family) -> &'static Rules {
    RULES
        .iter()
        .find(|r| r.family == family)
        .unwrap_or(&RULES[1])
}

/// A case built from one page, before locale copies are merged and names are settled.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub family: Family,
    /// What identifies the example across locale copies.
    pub key: String,
    /// Case names to try in order when several examples ask for the same one.
    pub names: Vec<String>,
    /// Snapshot fields hold `""` until the case name is settled.
    pub file: CaseFile,
}

/// Builds the case for one example, or says why it cannot.
pub fn build(page: &Page, rel: &str, ex: &Example) -> Result<Candidate, String> {
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
    let mut c = if family == Family::UM {
        um(page, rel, ex)?
    } else {
        graph(page, ex)?
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
    let step = Step {
        name: root.clone(),
        method: r.method.unwrap_or("POST").to_string(),
        path: r.path.unwrap_or("/").to_string(),
        headers,
        body: Some(body),
        expect: Expect {
            status: status.unwrap_or(200),
            content_type: r.response_content_type.map(str::to_string),
            body: BodyKind::Xml,
            snapshot: Some(String::new()),
            documented: Some(resp.text.clone()),
            redact: Vec::new(),
        },
        capture: BTreeMap::new(),
        notifications: Vec::new(),
        notification_order: NotificationOrder::Strict,
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
        names: vec![name],
        file: CaseFile {
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

fn graph(page: &Page, ex: &Example) -> Result<Candidate, String> {
    let r = rules(Family::GRAPH);
    let req_block = &page.blocks[ex.request];
    let req = http::parse(&req_block.text).map_err(|e| format!("request: {e}"))?;
    let Some((method, url)) = req.request_line.clone() else {
        return Err("request block holds a status line, not a request".into());
    };
    let example = ex.name.clone().ok_or(
        "request has no apidoctor `name`; Graph examples are identified by it, so it is needed",
    )?;
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

    let (path, vars) = graph_path(&url);
    let mut headers = BTreeMap::new();
    for (k, v) in &req.headers {
        // The harness sends its own credentials; Host comes from the target URL.
        if !k.eq_ignore_ascii_case("Authorization") && !k.eq_ignore_ascii_case("Host") {
            headers.insert(k.clone(), v.clone());
        }
    }
    let empty = status == 204 || resp_annot.is_some_and(|a| a.is_empty) || resp.body.is_none();
    let expect = if empty {
        Expect {
            status,
            content_type: None,
            body: BodyKind::Empty,
            snapshot: None,
            documented: None,
            redact: Vec::new(),
        }
    } else {
        Expect {
            status,
            content_type: resp
                .header("Content-Type")
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_string()),
            body: BodyKind::Json,
            snapshot: Some(String::new()),
            documented: resp.body.clone(),
            redact: Vec::new(),
        }
    };
    let mut notifications: Vec<NotificationExpect> = Vec::new();
    for n in &ex.notifications {
        let block = &page.blocks[n.block];
        let documented = notification_body(page, n)
            .map_err(|e| format!("notification at line {}: {e}", block.line))?;
        let state = notification_state(&documented)
            .map_err(|e| format!("notification at line {}: {e}", block.line))?;
        let mut name = state.clone();
        let mut k = 2;
        while notifications.iter().any(|x| x.name == name) {
            name = format!("{state}-{k}");
            k += 1;
        }
        notifications.push(NotificationExpect {
            name,
            state,
            snapshot: Some(String::new()),
            documented: Some(documented),
            redact: Vec::new(),
        });
    }
    let placeholders: Vec<String> = vars.keys().cloned().collect();
    let setup = vars
        .contains_key("call_id")
        .then(|| r.call_id_setup.to_string());
    // `delete-call` first; with the API version when v1.0 and beta print the same
    // example; `delete-call-1` when one page has several.
    let version = url
        .split('/')
        .find(|s| *s == "v1.0" || *s == "beta")
        .map(|v| v.replace('.', "-"));
    let stripped = strip_ordinal(&example).to_string();
    let mut names = vec![stripped.clone()];
    if let Some(v) = &version {
        names.push(format!("{stripped}-{v}"));
    }
    names.push(example.clone());
    if let Some(v) = &version {
        names.push(format!("{example}-{v}"));
    }
    names.dedup();
    let step = Step {
        name: example.clone(),
        method,
        path,
        headers,
        body: req.body.clone(),
        expect,
        capture: BTreeMap::new(),
        notifications,
        notification_order: NotificationOrder::Strict,
    };
    Ok(Candidate {
        family: Family::GRAPH,
        key: format!("graph|{example}|{url}"),
        names,
        file: CaseFile {
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
            steps: vec![step],
        },
    })
}

/// The notification's JSON as printed: the annotated `json` block, or the body of an
/// `http` block that prints headers and body together (or of the block after it).
fn notification_body(page: &Page, n: &super::pair::Notification) -> Result<String, String> {
    let block = &page.blocks[n.block];
    if block.lang == "json" {
        return Ok(block.text.clone());
    }
    let msg = http::parse(&block.text)?;
    if let Some(body) = msg.body {
        return Ok(body);
    }
    match n.companion.map(|c| &page.blocks[c]) {
        Some(next) if next.lang == "json" => Ok(next.text.clone()),
        _ => Err("no JSON body".into()),
    }
}

/// `resourceData.state` of the first notification in the batch that carries one.
fn notification_state(json: &str) -> Result<String, String> {
    let v: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(strict) => crate::canon::json::parse_documented(json)
            .map_err(|e| format!("JSON is not readable ({strict}; leniently: {e})"))?,
    };
    let items: Vec<&Value> = match v.get("value") {
        Some(Value::Array(a)) => a.iter().collect(),
        _ => vec![&v],
    };
    for item in items {
        let data = match item.get("resourceData") {
            Some(Value::Array(a)) => a.first(),
            other => other,
        };
        if let Some(state) = data.and_then(|d| d.get("state")).and_then(Value::as_str) {
            return Ok(state.to_string());
        }
    }
    Err("no `resourceData.state`; a notification is checked by its state".into())
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
        let after_calls = i > 0 && segments[i - 1].eq_ignore_ascii_case("calls");
        let braced = seg.len() > 2 && seg.starts_with('{') && seg.ends_with('}');
        let id_like = seg.bytes().any(|b| b.is_ascii_digit());
        if after_calls && (braced || id_like) {
            vars.insert("call_id".to_string(), seg.to_string());
            out.push("{{call_id}}".to_string());
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

/// Fills the snapshot names once the case name is settled.
pub fn name_snapshots(file: &mut CaseFile, family: Family, case: &str) {
    let prefix = rules(family).snapshot_prefix;
    for step in &mut file.steps {
        if step.expect.snapshot.is_some() {
            step.expect.snapshot = Some(format!("{prefix}__{case}"));
        }
        for n in &mut step.notifications {
            if n.snapshot.is_some() {
                n.snapshot = Some(format!("{prefix}__{case}__{}", n.name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
