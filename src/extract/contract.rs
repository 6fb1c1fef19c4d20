//! The documented contract of a family (`cases/<family>/_contract.toml`, README: Verdict model):
//! value sets read from the element and resource pages, and field classes decided by
//! rule from the documented examples, never listed per page:
//! - `set`: an element (UM) or property (Graph) whose page enumerates its possible values;
//!   the Graph `resultInfo` code/subcode pair is judged by the call-end reason table;
//! - `live`: values a live service makes up: ids (`id`, `...Id`), `@odata.context`,
//!   `@odata.etag`, `@odata.id`, the notification `resourceUrl` (its call is checked by
//!   routing), and UM elements holding a CallId (base64 of `session@server` or
//!   `session|server`);
//! - `text`: prose (`resultInfo.message`, SOAP `faultstring`).

use super::emit;
use super::markdown::{Annot, BlockType, Page};
use super::model::{CaseV2, Field, FieldSource};
use crate::case::BodyKind;
use crate::family::Family;
use base64::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const FILE_NAME: &str = "_contract.toml";

/// An enumeration, with where it was documented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSet {
    pub family: Family,
    pub name: String,
    pub values: Vec<String>,
    pub file: String,
    pub line: usize,
    /// Values added by an erratum (id, values).
    pub added: Vec<(String, Vec<String>)>,
    pub progress: Vec<String>,
    /// An example of the corpus shows a value the set lacks (the list a translated page
    /// prints, say): it is not the wire's enumeration, and no field is judged by it.
    pub contradicted: Option<String>,
}

/// The set a step after a set-up waits on: the documented answer shows a state of a
/// resource the set-up just created that is not the set's first value (a call placed by
/// PlayOnPhone shows `Connected`; it rings first). The rule the contract's `progress` order
/// follows too.
pub fn progressing_set(sets: &[ValueSet], family: Family, documented_xml: &str) -> Option<String> {
    xml_leaves(documented_xml)
        .into_iter()
        .find_map(|(_, name, text)| {
            let pos = sets
                .iter()
                .filter(|s| s.family == family && s.name == name)
                .find_map(|s| s.values.iter().position(|v| *v == text))?;
            (pos > 0).then(|| name.clone())
        })
}

/// A UM page (an operation or element page): one that prints XML. Its element, if it is
/// an element page, is its `api_name`.
pub fn is_um_page(page: &Page) -> bool {
    page.blocks.iter().any(|b| b.lang == "xml")
}

/// The enumerations a page documents: UM element pages print a bulleted list after
/// "possible values"; Graph resource pages say "Possible values are: `a`, `b`" in a
/// property table row.
pub fn sets_from_page(page: &Page, rel: &str) -> Vec<ValueSet> {
    let mut out = Vec::new();
    if is_um_page(page) {
        if let Some(name) = page.front.api_name.first() {
            for l in &page.value_lists {
                // The element pages print xs:boolean as `True`/`False`; the wire form
                // (and every example) is the schema's lexical form.
                let boolean = l.values.len() == 2
                    && l.values
                        .iter()
                        .all(|v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"));
                let values = if boolean {
                    vec!["true".to_string(), "false".to_string()]
                } else {
                    l.values.clone()
                };
                out.push(ValueSet {
                    family: Family::UM,
                    name: name.clone(),
                    values,
                    file: rel.to_string(),
                    line: l.line,
                    added: Vec::new(),
                    progress: Vec::new(),
                    contradicted: None,
                });
            }
        }
        return out;
    }
    let resource = page.blocks.iter().find_map(|b| match &b.annot {
        Annot::Some(a) if a.block_type == Some(BlockType::Other("resource".into())) => {
            a.odata_type.as_deref().map(short_type)
        }
        _ => None,
    });
    let Some(resource) = resource else {
        return out;
    };
    for t in &page.tables {
        for (line, cells) in &t.rows {
            if cells.len() < 3 {
                continue;
            }
            let desc = &cells[2];
            let Some(p) = desc.to_ascii_lowercase().find("possible values") else {
                continue;
            };
            let values: Vec<String> = desc[p..]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .filter(|v| !v.is_empty())
                .collect();
            let prop = cells[0].trim().trim_matches('*').to_string();
            if values.is_empty() || prop.is_empty() {
                continue;
            }
            out.push(ValueSet {
                family: Family::GRAPH,
                name: format!("{resource}.{prop}"),
                values,
                file: rel.to_string(),
                line: *line,
                added: Vec::new(),
                progress: Vec::new(),
                contradicted: None,
            });
        }
    }
    out
}

/// `#microsoft.graph.playPromptOperation` → `playPromptOperation`.
pub fn short_type(ty: &str) -> String {
    ty.trim_start_matches('#')
        .rsplit('.')
        .next()
        .unwrap_or(ty)
        .to_string()
}

/// A documented body of a case, with what it is typed as.
pub struct Body<'a> {
    pub text: &'a str,
    pub kind: BodyKind,
    /// The response annotation's `@odata.type`, for an untyped top-level object.
    pub odata_type: Option<String>,
    /// The case has a set-up: the body shows a resource created just before.
    pub after_setup: bool,
}

/// Field classes found so far, by (path, class): the value set a `set` field names, and
/// where the page documents it.
type Found = BTreeMap<(String, String), (Option<String>, Option<FieldSource>)>;

/// Builds the field classes of a family from its documented bodies.
pub fn fields(
    family: Family,
    bodies: &[Body<'_>],
    sets: &mut [ValueSet],
    end_reasons: Option<(String, usize)>,
) -> Vec<Field> {
    let mut found = Found::new();
    match family.as_str() {
        "um" => um_fields(bodies, sets, &mut found),
        _ => graph_fields(bodies, sets, end_reasons, &mut found),
    }
    one_class_per_path(found)
}

/// Where a value set is documented, as a field's provenance.
fn set_source(s: &ValueSet) -> Option<FieldSource> {
    Some(FieldSource {
        file: s.file.clone(),
        line: s.line,
    })
}

/// UM: an XML leaf named like a documented enumeration is a `set`, a call id is `live`,
/// a SOAP fault's text is `text`. A state shown after a set-up also fixes the progress
/// of its set.
///
/// A page's list is the wire's enumeration only if the examples agree: a set that lacks a
/// value an example shows (a machine-translated list, "Inactif, Connexion, Connecté") is
/// contradicted and judges nothing; another page's list of the same name may still hold.
fn um_fields(bodies: &[Body<'_>], sets: &mut [ValueSet], found: &mut Found) {
    let mut progress: BTreeMap<usize, String> = BTreeMap::new();
    for b in bodies.iter().filter(|b| b.kind == BodyKind::Xml) {
        for (path, name, text) in xml_leaves(b.text) {
            let named: Vec<usize> = (0..sets.len())
                .filter(|&i| sets[i].family == Family::UM && sets[i].name == name)
                .collect();
            for &i in &named {
                if !sets[i].values.contains(&text)
                    && sets[i].added.iter().all(|(_, v)| !v.contains(&text))
                {
                    sets[i].contradicted.get_or_insert_with(|| text.clone());
                }
            }
            let holding = named
                .iter()
                .copied()
                .find(|&i| sets[i].contradicted.is_none());
            if let Some(i) = holding {
                found.insert((path, "set".into()), (Some(name), set_source(&sets[i])));
                if b.after_setup {
                    progress.insert(i, text.clone());
                }
            } else if !named.is_empty() {
                // Every list of that name is contradicted: the example's value is exact.
            } else if is_call_id(&text) {
                found.insert((path, "live".into()), (None, None));
            } else if name == "faultstring" {
                found.insert((path, "text".into()), (None, None));
            }
        }
    }
    // A state documented after a set-up created the call: the values the page lists
    // before it are the ones that can still lead to it.
    for (i, v) in progress {
        if let Some(p) = sets[i].values.iter().position(|x| *x == v)
            && p > 0
        {
            sets[i].progress = sets[i].values[..=p].to_vec();
        }
    }
}

/// Graph: a JSON leaf whose typed property has a documented enumeration is a `set`;
/// ids and URLs are `live`, names people choose `text`. The notification's resourceUrl
/// is live, resultInfo's message text, and its code/subcode are the end-reason table.
fn graph_fields(
    bodies: &[Body<'_>],
    sets: &[ValueSet],
    end_reasons: Option<(String, usize)>,
    found: &mut Found,
) {
    let by_name: BTreeMap<String, usize> = sets
        .iter()
        .enumerate()
        .filter(|(_, s)| s.family == Family::GRAPH)
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    for b in bodies.iter().filter(|b| b.kind == BodyKind::Json) {
        let Some(v) = super::pair::lenient_json(b.text) else {
            continue;
        };
        let mut leaves = Vec::new();
        json_leaves(&v, String::new(), b.odata_type.clone(), &mut leaves);
        for (path, key, ty) in leaves {
            if let Some(t) = ty.as_deref()
                && let Some(&i) = by_name.get(&format!("{t}.{key}"))
            {
                found.insert(
                    (path.clone(), "set".into()),
                    (Some(sets[i].name.clone()), set_source(&sets[i])),
                );
                continue;
            }
            if is_live_key(&key) {
                found.insert((format!("**/{key}"), "live".into()), (None, None));
            } else if is_text_key(&key) {
                found.insert((format!("**/{key}"), "text".into()), (None, None));
            }
        }
    }
    found.insert(("/value/*/resourceUrl".into(), "live".into()), (None, None));
    // identitySet: "one or more" of user, application, device, phone, ... The kind an
    // example shows is one instance.
    found.insert(("**/identity".into(), "choice".into()), (None, None));
    found.insert(
        ("**/resultInfo/message".into(), "text".into()),
        (None, None),
    );
    if let Some((file, line)) = end_reasons {
        for k in ["code", "subcode"] {
            found.insert(
                (format!("**/resultInfo/{k}"), "set".into()),
                (
                    Some("end-reasons".into()),
                    Some(FieldSource {
                        file: file.clone(),
                        line,
                    }),
                ),
            );
        }
    }
}

/// One class per path: set wins over live, live over text.
fn one_class_per_path(found: Found) -> Vec<Field> {
    let rank = |c: &str| match c {
        "set" => 0,
        "live" => 1,
        _ => 2,
    };
    let mut best: BTreeMap<String, Field> = BTreeMap::new();
    for ((path, class), (set, provenance)) in found {
        let f = Field {
            path: path.clone(),
            class,
            set,
            provenance,
        };
        match best.get(&path) {
            Some(old) if rank(&old.class) <= rank(&f.class) => {}
            _ => {
                best.insert(path, f);
            }
        }
    }
    best.into_values().collect()
}

/// Free text the resource pages type as a plain String with no enumeration: names people
/// choose and places a deployment runs in. Judged by type; a difference is a note.
fn is_text_key(key: &str) -> bool {
    matches!(
        key,
        "displayName" | "region" | "languageId" | "identityProvider" | "message" | "subject"
    )
}

fn is_live_key(key: &str) -> bool {
    key == "id"
        // When something happened: per run.
        || key.ends_with("DateTime")
        || matches!(
            key,
            "@odata.context"
                | "@odata.etag"
                | "@odata.id"
                | "callbackUri"
                // The legacy notification's resource path names live ids, like resourceUrl.
                | "resource"
                // Echoed from the request; pages print unrelated example values.
                | "clientContext"
                // Where and with what a recording can be fetched: per recording.
                | "recordingLocation"
                | "recordingAccessToken"
                // Their names on the 2018 beta `record` pages.
                | "recordResourceLocation"
                | "recordResourceAccessToken"
        )
        || (key.len() > 2
            && key.ends_with("Id")
            && key[..key.len() - 2]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric()))
}

/// A UM CallId: base64 of UTF-8 `session@server` or `session|server`.
fn is_call_id(text: &str) -> bool {
    let t = text.trim();
    if t.len() < 16 {
        return false;
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|s| {
            s.split(['@', '|']).count() == 2 && s.bytes().all(|b| b.is_ascii_graphic())
        })
}

/// Leaf elements of a SOAP document: (path of local names from the document element,
/// local name, text).
pub fn xml_leaves(xml: &str) -> Vec<(String, String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml.trim());
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                stack.push(e.local_name().as_ref().to_string());
                text.clear();
            }
            Ok(Event::Text(t)) => {
                text.push_str(t.as_ref());
            }
            Ok(Event::End(_)) => {
                if let Some(name) = stack.last().cloned() {
                    if !text.trim().is_empty() {
                        out.push((
                            format!("/{}", stack.join("/")),
                            name,
                            text.trim().to_string(),
                        ));
                    }
                    text.clear();
                    stack.pop();
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// Leaves of a JSON body: (abstract path, key, @odata.type of the object holding it).
fn json_leaves(
    v: &Value,
    path: String,
    ty: Option<String>,
    out: &mut Vec<(String, String, Option<String>)>,
) {
    match v {
        Value::Object(map) => {
            let own = map
                .get("@odata.type")
                .and_then(Value::as_str)
                .map(short_type)
                .or(ty);
            for (k, child) in map {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match child {
                    Value::Object(_) | Value::Array(_) => {
                        json_leaves(child, p, None, out);
                    }
                    _ => out.push((p, k.clone(), own.clone())),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                json_leaves(item, format!("{path}/*"), ty.clone(), out);
            }
        }
        _ => {}
    }
}

/// The bodies of a family's cases that the contract judges; the response of a case is
/// typed by its annotation's `@odata.type` (given beside the case).
pub fn bodies_of<'a>(cases: &[(&'a CaseV2, Option<String>)]) -> Vec<Body<'a>> {
    let mut out = Vec::new();
    for (case, response_type) in cases {
        for (_, notif, _, text, kind) in case.documented() {
            out.push(Body {
                text,
                kind,
                odata_type: if notif.is_none() {
                    response_type
                        .as_deref()
                        .map(|t| super::csdl::named_type(t).to_string())
                } else {
                    None
                },
                after_setup: case.setup.is_some(),
            });
        }
    }
    out
}

/// The file's text, with provenance for each set.
pub fn render(family: Family, sets: &[ValueSet], fields: &[Field]) -> String {
    let mut s = format!(
        "# The documented contract of the {family} family (generated by `callconform extract`):\n\
         # value sets from the element and resource pages, and field classes by rule.\n"
    );
    let mut names = BTreeSet::new();
    for set in sets
        .iter()
        .filter(|x| x.family == family && x.contradicted.is_none())
    {
        if !names.insert(set.name.clone()) {
            continue;
        }
        s.push('\n');
        for (id, vals) in &set.added {
            s.push_str(&format!(
                "# {}: added by erratum `{id}` (cases/errata.toml)\n",
                vals.join(", ")
            ));
        }
        s.push_str(&format!("[sets.{}]\n", emit::basic_string(&set.name)));
        let mut values = set.values.clone();
        for (_, vals) in &set.added {
            for v in vals {
                if !values.contains(v) {
                    values.push(v.clone());
                }
            }
        }
        emit_list(&mut s, "values", &values);
        s.push_str(&format!(
            "provenance = {{ file = {}, line = {} }}\n",
            emit::basic_string(&set.file),
            set.line
        ));
        if !set.progress.is_empty() {
            emit_list(&mut s, "progress", &set.progress);
        }
    }
    for f in fields {
        emit::field(&mut s, "[[field]]", f);
    }
    s
}

fn emit_list(s: &mut String, key: &str, items: &[String]) {
    let parts: Vec<String> = items.iter().map(|i| emit::basic_string(i)).collect();
    s.push_str(&format!("{key} = [{}]\n", parts.join(", ")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_are_recognised_by_shape() {
        assert!(is_call_id(
            "MDlkZjllZGMtNGUyMy00NzA5LWJkYWYtN2JlMjBjYjBhZTU2QGRmLWV1bS0wMS5leGNoYW5nZS5jb3JwLm1pY3Jvc29mdC5jb20="
        ));
        assert!(!is_call_id(
            "AAAAAGsd2rbQLVtLobUGbrq/9IUBAEX2ikn/L8JJtI5WHI0FAW8AAAFXHhsAAA=="
        ));
        assert!(!is_call_id("true"));
    }

    #[test]
    fn live_keys() {
        assert!(is_live_key("id") && is_live_key("callChainId") && is_live_key("@odata.context"));
        assert!(!is_live_key("Id") && !is_live_key("state") && !is_live_key("video"));
    }

    #[test]
    fn graph_sets_and_live_fields() {
        let mut sets = vec![ValueSet {
            family: Family::GRAPH,
            name: "call.state".into(),
            values: vec!["established".into()],
            file: "call.md".into(),
            line: 3,
            added: vec![],
            contradicted: None,
            progress: vec![],
        }];
        let text = r##"{"value":[{"resourceUrl":"/x","resourceData":{"@odata.type":"#microsoft.graph.call","state":"established","callChainId":"1"}}]}"##;
        let f = fields(
            Family::GRAPH,
            &[Body {
                text,
                kind: BodyKind::Json,
                odata_type: None,
                after_setup: false,
            }],
            &mut sets,
            None,
        );
        let got: Vec<_> = f
            .iter()
            .map(|f| (f.path.as_str(), f.class.as_str()))
            .collect();
        assert!(
            got.contains(&("/value/*/resourceData/state", "set")),
            "{got:?}"
        );
        assert!(got.contains(&("**/callChainId", "live")), "{got:?}");
    }
}
