//! Properties of the canonical forms.
//!
//! XML: a generated tree is written out as a document in many equivalent spellings
//! (prefix names, default namespace or not, where declarations sit, attribute order,
//! indentation, CDATA and character references). Every spelling must canonicalise back to
//! the tree itself, and changing one text or attribute value must always show.
//!
//! JSON: object key order never matters to `render(parse(..))`; changing one scalar always does.

use callconform::canon::Limits;
use callconform::canon::json;
use callconform::canon::xml::{self, Element, Node};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use std::collections::BTreeMap;

const NAMESPACES: &[&str] = &[
    "http://schemas.xmlsoap.org/soap/envelope/",
    "http://schemas.microsoft.com/exchange/services/2006/messages",
    "urn:a",
];
const LOCALS: &[&str] = &["Envelope", "Body", "CallId", "a", "b-c", "_d", "e.f"];
const PREFIXES: &[&str] = &["s", "soap", "m", "a", "ns0", "x", "env", "q"];

fn clark(ns: Option<usize>, local: &str) -> String {
    match ns {
        Some(i) => format!("{{{}}}{local}", NAMESPACES[i]),
        None => local.to_owned(),
    }
}

/// Text as canonicalisation leaves it: non-empty, no leading or trailing whitespace, no `\r`.
fn text_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&\"'\\]\\n\\té€\u{a0}:]{1,12}".prop_filter_map("blank", |s| {
        let t = s.trim_matches([' ', '\t', '\n']);
        (!t.is_empty()).then(|| t.to_owned())
    })
}

/// Attribute values: whitespace other than spaces is normalised away by XML, so avoid it.
fn attr_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&\"'é:]{0,10}"
}

fn name() -> impl Strategy<Value = (Option<usize>, &'static str)> {
    (
        prop::option::of(0..NAMESPACES.len()),
        prop::sample::select(LOCALS),
    )
}

fn element_strategy() -> impl Strategy<Value = Element> {
    let attrs = || prop::collection::vec((name(), attr_value()), 0..4);
    let leaf =
        (name(), attrs(), prop::option::of(text_value())).prop_map(|((ns, local), attrs, text)| {
            Element {
                name: clark(ns, local),
                attrs: attr_map(attrs),
                children: text.map(Node::Text).into_iter().collect(),
            }
        });
    leaf.prop_recursive(4, 40, 5, move |inner| {
        let child = prop_oneof![
            3 => inner.prop_map(Node::Element),
            1 => text_value().prop_map(Node::Text),
        ];
        (name(), attrs(), prop::collection::vec(child, 0..5)).prop_map(
            |((ns, local), attrs, children)| Element {
                name: clark(ns, local),
                attrs: attr_map(attrs),
                children: merge_texts(children),
            },
        )
    })
}

fn attr_map(attrs: Vec<((Option<usize>, &'static str), String)>) -> BTreeMap<String, String> {
    attrs
        .into_iter()
        .map(|((ns, local), v)| (clark(ns, local), v))
        .collect()
}

/// Adjacent text nodes are one run in XML.
fn merge_texts(children: Vec<Node>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    for c in children {
        if let (Node::Text(new), Some(Node::Text(prev))) = (&c, out.last_mut()) {
            prev.push_str(new);
            continue;
        }
        out.push(c);
    }
    out
}

/// How to spell a document.
#[derive(Debug, Clone)]
struct Style {
    /// Prefix for each namespace in `NAMESPACES` (distinct).
    prefixes: Vec<&'static str>,
    /// Write element names in this namespace without a prefix, using `xmlns="…"`.
    default_ns: Option<usize>,
    /// Declare every prefix on the root, or on each element that uses it.
    decls_at_root: bool,
    /// Drives attribute order, indentation and text escaping choices.
    seed: u64,
    pretty: bool,
}

fn style_strategy() -> impl Strategy<Value = Style> {
    (
        Just(PREFIXES.to_vec()).prop_shuffle(),
        prop::option::of(0..NAMESPACES.len()),
        any::<bool>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(
            |(prefixes, default_ns, decls_at_root, seed, pretty)| Style {
                prefixes: prefixes[..NAMESPACES.len()].to_vec(),
                default_ns,
                decls_at_root,
                seed,
                pretty,
            },
        )
}

/// A tiny deterministic generator so one `u64` drives all the small choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn split_clark(name: &str) -> (Option<usize>, &str) {
    if let Some(rest) = name.strip_prefix('{')
        && let Some((ns, local)) = rest.split_once('}')
    {
        let idx = NAMESPACES.iter().position(|n| *n == ns);
        return (idx, local);
    }
    (None, name)
}

fn escape_attr(v: &str, rng: &mut Rng) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c if rng.below(8) == 0 => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn escape_text(t: &str, rng: &mut Rng) -> String {
    if !t.contains("]]>") && rng.below(4) == 0 {
        return format!("<![CDATA[{t}]]>");
    }
    let mut out = String::new();
    for c in t.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '>' => out.push_str("&gt;"),
            '\'' if rng.below(2) == 0 => out.push_str("&apos;"),
            c if rng.below(8) == 0 => out.push_str(&format!("&#x{:X};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Writes `root` as a document in the given style.
fn write_doc(root: &Element, style: &Style) -> String {
    let mut out = String::new();
    let mut rng = Rng(style.seed);
    if rng.below(2) == 0 {
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n");
    }
    write_el(root, style, &mut rng, &mut out, 0, None, true);
    if style.pretty {
        out.push_str("\n<!-- end -->\n");
    }
    out
}

fn write_el(
    el: &Element,
    style: &Style,
    rng: &mut Rng,
    out: &mut String,
    depth: usize,
    default_in_scope: Option<usize>,
    is_root: bool,
) {
    if style.pretty {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    }
    let (ns, local) = split_clark(&el.name);
    let mut parts: Vec<String> = Vec::new();
    // The element name, and the default namespace its children will see.
    let mut child_default = default_in_scope;
    let qname = match ns {
        Some(i) if style.default_ns == Some(i) => {
            if default_in_scope != Some(i) {
                parts.push(format!("xmlns=\"{}\"", NAMESPACES[i]));
                child_default = Some(i);
            }
            local.to_owned()
        }
        Some(i) => format!("{}:{local}", style.prefixes[i]),
        None => {
            if default_in_scope.is_some() {
                parts.push("xmlns=\"\"".into());
                child_default = None;
            }
            local.to_owned()
        }
    };
    // Prefix declarations.
    let mut used: Vec<usize> = Vec::new();
    if is_root && style.decls_at_root {
        used.extend(0..NAMESPACES.len());
    } else if !style.decls_at_root {
        if let Some(i) = ns
            && style.default_ns != Some(i)
        {
            used.push(i);
        }
        for k in el.attrs.keys() {
            if let (Some(i), _) = split_clark(k)
                && !used.contains(&i)
            {
                used.push(i);
            }
        }
    }
    for i in used {
        parts.push(format!("xmlns:{}=\"{}\"", style.prefixes[i], NAMESPACES[i]));
    }
    for (k, v) in &el.attrs {
        let (ans, alocal) = split_clark(k);
        let key = match ans {
            Some(i) => format!("{}:{alocal}", style.prefixes[i]),
            None => alocal.to_owned(),
        };
        parts.push(format!("{key}=\"{}\"", escape_attr(v, rng)));
    }
    rng.shuffle(&mut parts);
    out.push('<');
    out.push_str(&qname);
    for p in &parts {
        out.push_str(if rng.below(3) == 0 { "\n    " } else { " " });
        out.push_str(p);
    }
    if el.children.is_empty() && rng.below(2) == 0 {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &el.children {
        match c {
            Node::Text(t) => {
                if style.pretty {
                    out.push_str("\n ");
                }
                out.push_str(&escape_text(t, rng));
                if rng.below(5) == 0 {
                    out.push_str("<!-- c -->");
                }
            }
            Node::Element(c) => write_el(c, style, rng, out, depth + 1, child_default, false),
        }
    }
    if style.pretty {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    }
    out.push_str("</");
    out.push_str(&qname);
    out.push('>');
}

fn canon(doc: &str) -> Result<Element, TestCaseError> {
    xml::canonicalize(doc.as_bytes(), &Limits::default())
        .map_err(|e| TestCaseError::fail(format!("{e}\n{doc}")))
}

/// Every text and attribute value location in the tree, as a path of child indices.
#[derive(Debug, Clone)]
enum Slot {
    Text(Vec<usize>),
    Attr(Vec<usize>, String),
}

fn slots(el: &Element, path: &mut Vec<usize>, out: &mut Vec<Slot>) {
    for k in el.attrs.keys() {
        out.push(Slot::Attr(path.clone(), k.clone()));
    }
    for (i, c) in el.children.iter().enumerate() {
        path.push(i);
        match c {
            Node::Text(_) => out.push(Slot::Text(path.clone())),
            Node::Element(c) => slots(c, path, out),
        }
        path.pop();
    }
}

fn element_at<'a>(root: &'a mut Element, path: &[usize]) -> &'a mut Element {
    let mut el = root;
    for &i in path {
        match &mut el.children[i] {
            Node::Element(c) => el = c,
            Node::Text(_) => unreachable!("paths to elements only"),
        }
    }
    el
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn xml_any_spelling_canonicalises_to_the_tree(tree in element_strategy(), style in style_strategy()) {
        let doc = write_doc(&tree, &style);
        let got = canon(&doc)?;
        prop_assert_eq!(&got, &tree, "document:\n{}", doc);
    }

    #[test]
    fn xml_two_spellings_are_equal(tree in element_strategy(), a in style_strategy(), b in style_strategy()) {
        let da = write_doc(&tree, &a);
        let db = write_doc(&tree, &b);
        prop_assert_eq!(xml::render(&canon(&da)?), xml::render(&canon(&db)?));
    }

    #[test]
    fn xml_canonicalising_is_idempotent(tree in element_strategy(), a in style_strategy(), b in style_strategy()) {
        let once = canon(&write_doc(&tree, &a))?;
        let twice = canon(&write_doc(&once, &b))?;
        prop_assert_eq!(xml::render(&once), xml::render(&twice));
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn xml_changing_a_value_always_shows(
        tree in element_strategy(),
        style in style_strategy(),
        pick in any::<Index>(),
        new_text in text_value(),
        new_attr in attr_value(),
    ) {
        let mut all = Vec::new();
        slots(&tree, &mut Vec::new(), &mut all);
        prop_assume!(!all.is_empty());
        let mut changed = tree.clone();
        match pick.get(&all) {
            Slot::Text(path) => {
                let (last, parent) = path.split_last().expect("text paths are non-empty");
                let el = element_at(&mut changed, parent);
                let Node::Text(t) = &mut el.children[*last] else { unreachable!() };
                prop_assume!(*t != new_text);
                *t = new_text;
            }
            Slot::Attr(path, key) => {
                let el = element_at(&mut changed, path);
                let v = el.attrs.get_mut(key).expect("slot exists");
                prop_assume!(*v != new_attr);
                *v = new_attr;
            }
        }
        let before = canon(&write_doc(&tree, &style))?;
        let after = canon(&write_doc(&changed, &style))?;
        prop_assert_ne!(xml::render(&before), xml::render(&after));
    }
}

// ---- JSON ----

fn json_strategy() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Quarters are exact in binary, so they survive text and back unchanged.
        (-1_000_000i64..1_000_000).prop_map(|n| Value::from(n as f64 / 4.0)),
        "[a-z0-9 \"\\\\/~é\\n\u{1f600}]{0,8}".prop_map(Value::String),
    ];
    scalar.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z@~/.é]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON text with every object's keys in a shuffled order.
fn write_shuffled(v: &Value, rng: &mut Rng, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            rng.shuffle(&mut entries);
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(if rng.below(2) == 0 { "," } else { ",\n " });
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_shuffled(v, rng, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_shuffled(v, rng, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn scalar_pointers(v: &Value, ptr: &mut String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let len = ptr.len();
                ptr.push('/');
                ptr.push_str(&k.replace('~', "~0").replace('/', "~1"));
                scalar_pointers(c, ptr, out);
                ptr.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let len = ptr.len();
                ptr.push_str(&format!("/{i}"));
                scalar_pointers(c, ptr, out);
                ptr.truncate(len);
            }
        }
        _ => out.push(ptr.clone()),
    }
}

fn scalar_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1000i64..1000).prop_map(|n| Value::from(n as f64 / 4.0)),
        "[a-z0-9]{0,4}".prop_map(Value::String),
    ]
}

fn parse_json(text: &str) -> Result<Value, TestCaseError> {
    json::parse(text.as_bytes(), &Limits::default())
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn json_key_order_never_matters(v in json_strategy(), seed in any::<u64>()) {
        let mut shuffled = String::new();
        write_shuffled(&v, &mut Rng(seed), &mut shuffled);
        let canonical = json::render(&v);
        prop_assert_eq!(json::render(&parse_json(&shuffled)?), canonical.clone());
        // And render → parse → render is stable.
        prop_assert_eq!(json::render(&parse_json(&canonical)?), canonical);
    }

    #[test]
    fn json_changing_a_scalar_always_shows(v in json_strategy(), pick in any::<Index>(), new in scalar_strategy()) {
        let mut all = Vec::new();
        scalar_pointers(&v, &mut String::new(), &mut all);
        prop_assume!(!all.is_empty());
        let ptr = pick.get(&all);
        let mut changed = v.clone();
        let slot = changed.pointer_mut(ptr).expect("pointer from the walk");
        prop_assume!(*slot != new);
        *slot = new;
        let a = json::render(&parse_json(&v.to_string())?);
        let b = json::render(&parse_json(&changed.to_string())?);
        prop_assert_ne!(a, b);
    }
}

// ---- XML: the streamed rendering ----

/// Placeholder values short enough to occur in generated text and attribute values
/// (sometimes overlapping, sometimes empty).
fn placeholders_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-cA:é &<]{0,3}", "[a-z_]{1,6}"), 0..4)
}

/// Limits small enough that generated documents sometimes exceed them.
fn limits_strategy() -> impl Strategy<Value = Limits> {
    prop_oneof![
        3 => Just(Limits::default()),
        1 => (1usize..8, 1usize..60, 1usize..2000).prop_map(|(max_depth, max_nodes, max_bytes)| Limits {
            max_depth,
            max_nodes,
            max_bytes,
        }),
    ]
}

/// Pieces that break a document in interesting ways when spliced in.
const BREAKERS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&bad;",
    b"&#0;",
    b"&#x41;",
    b"&lt;",
    b"<!DOCTYPE r>",
    b"<![CDATA[x]]>",
    b"]]>",
    b"<?pi x?>",
    b"<!-- c -->",
    b"<x/>",
    b"</x>",
    b"<q:x/>",
    b" q:y=\"1\"",
    b" a=\"1\" a=\"2\"",
    b" xmlns:xml=\"urn:x\"",
    b" xmlns:p=\"\"",
    b" xmlns=\"urn:d\"",
    b"=\"",
    b"\"",
    b"\xff",
    b"\xc3",
    b"\r\n",
    b"faultcode",
    b" ",
];

/// A document with one edit: cut short, a byte dropped, or a breaker spliced in.
fn mutate(mut bytes: Vec<u8>, how: usize, at: Index, piece: Index) -> Vec<u8> {
    let at = at.index(bytes.len() + 1);
    match how {
        0 => bytes.truncate(at),
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        _ => {
            let piece = piece.get(BREAKERS);
            bytes.splice(at..at, piece.iter().copied());
        }
    }
    bytes
}

/// The tree path: canonicalise, substitute, render.
fn via_tree(
    input: &[u8],
    limits: &Limits,
    placeholders: &[(&str, &str)],
) -> Result<String, callconform::canon::CanonError> {
    let mut tree = xml::canonicalize(input, limits)?;
    xml::apply_placeholders(&mut tree, placeholders);
    Ok(xml::render(&tree))
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn xml_canonical_text_is_the_rendered_tree(
        tree in element_strategy(),
        style in style_strategy(),
        placeholders in placeholders_strategy(),
        limits in limits_strategy(),
    ) {
        let doc = write_doc(&tree, &style);
        let placeholders: Vec<(&str, &str)> =
            placeholders.iter().map(|(v, n)| (v.as_str(), n.as_str())).collect();
        let streamed = xml::canonical_text(doc.as_bytes(), &limits, &placeholders);
        prop_assert_eq!(streamed, via_tree(doc.as_bytes(), &limits, &placeholders), "document:\n{}", doc);
    }

    #[test]
    fn xml_canonical_text_fails_like_the_tree(
        tree in element_strategy(),
        style in style_strategy(),
        edits in prop::collection::vec((0usize..4, any::<Index>(), any::<Index>()), 1..3),
        placeholders in placeholders_strategy(),
    ) {
        let mut doc = write_doc(&tree, &style).into_bytes();
        for (how, at, piece) in edits {
            doc = mutate(doc, how, at, piece);
        }
        let placeholders: Vec<(&str, &str)> =
            placeholders.iter().map(|(v, n)| (v.as_str(), n.as_str())).collect();
        let limits = Limits::default();
        let streamed = xml::canonical_text(&doc, &limits, &placeholders);
        prop_assert_eq!(streamed, via_tree(&doc, &limits, &placeholders), "document:\n{}", String::from_utf8_lossy(&doc));
    }
}
