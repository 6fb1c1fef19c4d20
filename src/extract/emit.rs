//! A small deterministic TOML writer for case files. `toml::to_string_pretty` escapes
//! multi-line bodies into one long line; reviewers need to read SOAP envelopes and JSON
//! as printed, so bodies are written as `'''` literal strings where TOML allows it.
//! Keys come in the structs' field order (plain values first, as TOML requires).

use super::model::{Alternative, CaseV2, ExpectV2, Field, NotificationV2, StepV2};
use crate::case::{NotificationOrder, Provenance};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The case file's text. [`super::model::parse`] reads it back into an equal case, and a
/// case that needs nothing beyond v1 is written as v1 wrote it (checked by the caller
/// before anything is written).
pub fn case_file(c: &CaseV2) -> String {
    let mut s = String::new();
    opt(&mut s, "setup", c.setup.as_deref());
    list(&mut s, "tags", &c.tags);
    list(&mut s, "placeholders", &c.placeholders);
    provenance(&mut s, &c.provenance);
    if !c.vars.is_empty() {
        section(&mut s, "[vars]");
        for (k, v) in &c.vars {
            kv(&mut s, k, v);
        }
    }
    for step in &c.steps {
        self::step(&mut s, step);
    }
    for f in &c.contract.field {
        field(&mut s, "[[contract.field]]", f);
    }
    for r in &c.relations {
        relation(&mut s, r);
    }
    s
}

/// A `[[relation]]` with its places as inline tables, one a line.
fn relation(s: &mut String, r: &crate::case::Relation) {
    section(s, "[[relation]]");
    kv(s, "example", &r.example);
    s.push_str("at = [\n");
    for p in &r.at {
        let mut parts = Vec::new();
        if let Some(step) = &p.step {
            parts.push(format!("step = {}", basic_string(step)));
        }
        let part = match p.part {
            crate::case::PlacePart::Request => "request",
            crate::case::PlacePart::Response => "response",
            crate::case::PlacePart::Notification => "notification",
            crate::case::PlacePart::Var => "var",
        };
        parts.push(format!("in = \"{part}\""));
        if let Some(n) = &p.name {
            parts.push(format!("name = {}", basic_string(n)));
        }
        if let Some(ptr) = &p.pointer {
            parts.push(format!("pointer = {}", basic_string(ptr)));
        }
        if p.segment {
            parts.push("segment = true".into());
        }
        let _ = writeln!(s, "  {{ {} }},", parts.join(", "));
    }
    s.push_str("]\n");
}

/// A `[[field]]`-style table (`_contract.toml` and `[[contract.field]]` in cases).
pub fn field(s: &mut String, header: &str, f: &Field) {
    section(s, header);
    kv(s, "path", &f.path);
    kv(s, "class", &f.class);
    opt(s, "set", f.set.as_deref());
    if let Some(p) = &f.provenance {
        let _ = writeln!(
            s,
            "provenance = {{ file = {}, line = {} }}",
            basic_string(&p.file),
            p.line
        );
    }
}

fn provenance(s: &mut String, p: &Provenance) {
    section(s, "[provenance]");
    opt(s, "assetid", p.assetid.as_deref());
    opt(s, "api_name", p.api_name.as_deref());
    kv(s, "example", &p.example);
    opt(s, "documented_url", p.documented_url.as_deref());
    for src in &p.sources {
        section(s, "[[provenance.sources]]");
        kv(s, "file", &src.file);
        opt(s, "locale", src.locale.as_deref());
        opt(s, "title", src.title.as_deref());
        if let Some(line) = src.line {
            let _ = writeln!(s, "line = {line}");
        }
    }
}

fn step(s: &mut String, st: &StepV2) {
    section(s, "[[step]]");
    kv(s, "name", &st.name);
    opt(s, "trigger", st.trigger.as_deref());
    opt(s, "method", st.method.as_deref());
    opt(s, "path", st.path.as_deref());
    if !st.headers.is_empty() {
        let _ = writeln!(
            s,
            "headers = {}",
            inline_table(&st.headers, |v| basic_string(v))
        );
    }
    opt(s, "body", st.body.as_deref());
    if !st.capture.is_empty() {
        let _ = writeln!(s, "capture = {}", inline_table(&st.capture, |v| array(v)));
    }
    if st.notification_order == NotificationOrder::Any {
        kv(s, "notification_order", "any");
    }
    if let Some(e) = &st.expect {
        expect(s, e);
    }
    for n in &st.notifications {
        notification(s, "[[step.notification]]", n);
    }
    for a in &st.alternatives {
        alternative(s, a);
    }
}

fn expect(s: &mut String, e: &ExpectV2) {
    section(s, "[step.expect]");
    let _ = writeln!(s, "status = {}", e.status);
    opt(s, "content_type", e.content_type.as_deref());
    kv(s, "body", body_kind(e.body));
    if e.truncated {
        let _ = writeln!(s, "truncated = true");
    }
    opt(s, "progress", e.progress.as_deref());
    opt(s, "type", e.ty.as_deref());
    opt(s, "snapshot", e.snapshot.as_deref());
    opt(s, "documented", e.documented.as_deref());
    list(s, "redact", &e.redact);
}

fn notification(s: &mut String, header: &str, n: &NotificationV2) {
    section(s, header);
    kv(s, "name", &n.name);
    opt(s, "state", n.state.as_deref());
    opt(s, "type", n.ty.as_deref());
    opt(s, "caused_by", n.caused_by.as_deref());
    if !n.matches.is_empty() {
        let _ = writeln!(
            s,
            "match = {}",
            inline_table(&n.matches, |v| basic_string(v))
        );
    }
    opt(s, "snapshot", n.snapshot.as_deref());
    opt(s, "documented", n.documented.as_deref());
    list(s, "redact", &n.redact);
}

fn alternative(s: &mut String, a: &Alternative) {
    section(s, "[[step.alternative]]");
    kv(s, "name", &a.name);
    if !a.about.is_empty() {
        kv(s, "about", &a.about);
    }
    if a.notification_order == NotificationOrder::Any {
        kv(s, "notification_order", "any");
    } else {
        kv(s, "notification_order", "strict");
    }
    for n in &a.notifications {
        notification(s, "[[step.alternative.notification]]", n);
    }
}

fn body_kind(b: crate::case::BodyKind) -> &'static str {
    use crate::case::BodyKind::*;
    match b {
        Xml => "xml",
        Json => "json",
        Empty => "empty",
        Any => "any",
    }
}

/// A blank line, then the table header (no blank line at the top of the file).
pub fn section(s: &mut String, header: &str) {
    if !s.is_empty() {
        s.push('\n');
    }
    s.push_str(header);
    s.push('\n');
}

pub fn kv(s: &mut String, key: &str, value: &str) {
    let _ = writeln!(s, "{} = {}", key_str(key), value_str(value));
}

pub fn opt(s: &mut String, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        kv(s, key, v);
    }
}

pub fn list(s: &mut String, key: &str, items: &[String]) {
    if !items.is_empty() {
        let _ = writeln!(s, "{} = {}", key_str(key), array(items));
    }
}

fn array(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|i| basic_string(i)).collect();
    format!("[{}]", parts.join(", "))
}

fn inline_table<V>(map: &BTreeMap<String, V>, value: impl Fn(&V) -> String) -> String {
    let parts: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{} = {}", key_str(k), value(v)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

/// Bare keys where TOML allows them (`Content-Type`), quoted otherwise.
fn key_str(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        basic_string(k)
    }
}

/// One-line values as basic strings; multi-line ones as `'''` literals when they can be
/// (no `'''`, no control characters but tab, not ending in `'`), else as `"""` strings.
fn value_str(v: &str) -> String {
    if !v.contains('\n') {
        return basic_string(v);
    }
    let literal_ok = !v.contains("'''")
        && !v.ends_with('\'')
        && v.chars().all(|c| c == '\n' || c == '\t' || !c.is_control());
    if literal_ok {
        format!("'''\n{v}'''")
    } else {
        let mut out = String::from("\"\"\"\n");
        for c in v.chars() {
            match c {
                '\n' => out.push('\n'),
                _ => escape_into(&mut out, c),
            }
        }
        out.push_str("\"\"\"");
        out
    }
}

/// A TOML basic string (`"…"`) with the required escapes.
pub fn basic_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        escape_into(&mut out, c);
    }
    out.push('"');
    out
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() => {
            let _ = write!(out, "\\u{:04X}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(basic_string("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
        assert_eq!(value_str("a\nb\n"), "'''\na\nb\n'''");
        assert_eq!(value_str("a'''\n"), "\"\"\"\na'''\n\"\"\"");
        let back: toml::Value =
            toml::from_str(&format!("x = {}", value_str("a'''\"\\\n\u{7}"))).unwrap();
        assert_eq!(back["x"].as_str(), Some("a'''\"\\\n\u{7}"));
        assert_eq!(key_str("Content-Type"), "Content-Type");
        assert_eq!(key_str("a b"), "\"a b\"");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a page prints, the emitted value reads back as the same string.
        #[test]
        fn any_string_round_trips(v in "(\\PC|[\\n\\t\\r'\"\\\\\u{0}-\u{1f}]){0,40}") {
            let text = format!("k = {}\n", value_str(&v));
            let back: toml::Table = toml::from_str(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(back["k"].as_str(), Some(v.as_str()));
        }
    }
}
