//! An OData CSDL metadata document (the Graph `$metadata`) → the family's type model
//! (`cases/graph/_types.toml`). Only the types the corpus reaches are kept: those its
//! bodies name in `@odata.type` or `@odata.context`, their base types, the types of their
//! properties and the types derived from them, transitively. Navigation properties are
//! not kept: a payload carries them only when expanded, and the examples do not.

use super::Diagnostic;
use crate::contract::rules::Provenance;
use crate::contract::types::{EnumDef, PropertyDef, TypeDef, TypeKind, TypeModel, TypeRef};
use quick_xml::events::{BytesStart, Event};
use std::collections::{BTreeMap, BTreeSet};

/// Everything one metadata document declares.
#[derive(Debug, Default)]
pub struct Metadata {
    pub types: BTreeMap<String, TypeDef>,
    pub enums: BTreeMap<String, EnumDef>,
    /// Entity container children (entity sets and singletons) → their type reference.
    pub roots: BTreeMap<String, String>,
    /// Navigation properties, `type.property` → type reference (to resolve a context path).
    pub navigation: BTreeMap<(String, String), String>,
}

/// Whether a file name is a CSDL metadata document (`*.csdl.xml`, `$metadata.xml`).
pub fn is_metadata(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".csdl.xml") || n.ends_with("metadata.xml")
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Qualifies a type reference: `graph.call` (alias) → `microsoft.graph.call`,
/// `Collection(graph.x)` → `Collection(microsoft.graph.x)`; `Edm.*` stays.
fn qualify(ty: &str, aliases: &BTreeMap<String, String>) -> String {
    if let Some(inner) = ty
        .strip_prefix("Collection(")
        .and_then(|t| t.strip_suffix(')'))
    {
        return format!("Collection({})", qualify(inner, aliases));
    }
    if let Some((ns, name)) = ty.rsplit_once('.')
        && let Some(full) = aliases.get(ns)
    {
        return format!("{full}.{name}");
    }
    ty.to_string()
}

/// Reads a metadata document. `file` is how provenance names it. Errors name the line.
pub fn parse(text: &str, file: &str) -> Result<Metadata, Diagnostic> {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |pos: usize| line_starts.partition_point(|&s| s <= pos);
    let malformed = |r: &quick_xml::Reader<&[u8]>, e: quick_xml::Error| {
        let at = usize::try_from(r.error_position()).unwrap_or(0);
        Diagnostic::new(file, line_of(at), format!("not well-formed metadata: {e}"))
    };
    // Aliases first: a type may refer to a schema declared later.
    let mut aliases = BTreeMap::new();
    {
        let mut r = quick_xml::Reader::from_str(text);
        loop {
            match r.read_event() {
                Ok(Event::Start(e)) | Ok(Event::Empty(e))
                    if e.local_name().as_ref() == "Schema" =>
                {
                    if let Some(ns) = attr(&e, "Namespace") {
                        if let Some(a) = attr(&e, "Alias") {
                            aliases.insert(a, ns.clone());
                        }
                        aliases.insert(ns.clone(), ns);
                    }
                }
                Ok(Event::Eof) => break,
                Err(e) => return Err(malformed(&r, e)),
                _ => {}
            }
        }
    }
    let mut m = Metadata::default();
    let mut r = quick_xml::Reader::from_str(text);
    let mut ns = String::new();
    // The type or enum being read: (qualified name, is enum).
    let mut open: Option<(String, bool)> = None;
    loop {
        let pos = usize::try_from(r.buffer_position()).unwrap_or(0);
        let ev = r.read_event();
        let (e, empty) = match ev {
            Ok(Event::Start(e)) => (e, false),
            Ok(Event::Empty(e)) => (e, true),
            Ok(Event::End(e)) => {
                if matches!(
                    e.local_name().as_ref(),
                    "EntityType" | "ComplexType" | "EnumType"
                ) {
                    open = None;
                }
                continue;
            }
            Ok(Event::Eof) => break,
            Err(e) => return Err(malformed(&r, e)),
            _ => continue,
        };
        let line = line_of(pos + 1);
        let provenance = || Provenance {
            file: file.to_string(),
            line,
        };
        match e.local_name().as_ref() {
            "Schema" => ns = attr(&e, "Namespace").unwrap_or_default(),
            tag @ ("EntityType" | "ComplexType") => {
                let Some(name) = attr(&e, "Name") else {
                    continue;
                };
                let full = format!("{ns}.{name}");
                let yes = |a: &str| attr(&e, a).is_some_and(|v| v == "true");
                m.types.insert(
                    full.clone(),
                    TypeDef {
                        kind: if tag == "EntityType" {
                            TypeKind::Entity
                        } else {
                            TypeKind::Complex
                        },
                        base: attr(&e, "BaseType").map(|b| qualify(&b, &aliases)),
                        is_abstract: yes("Abstract"),
                        open: yes("OpenType"),
                        properties: BTreeMap::new(),
                        provenance: provenance(),
                    },
                );
                open = (!empty).then_some((full, false));
            }
            "EnumType" => {
                let Some(name) = attr(&e, "Name") else {
                    continue;
                };
                let full = format!("{ns}.{name}");
                m.enums.insert(
                    full.clone(),
                    EnumDef {
                        members: Vec::new(),
                        flags: attr(&e, "IsFlags").is_some_and(|v| v == "true"),
                        provenance: provenance(),
                    },
                );
                open = (!empty).then_some((full, true));
            }
            "Member" => {
                if let (Some((t, true)), Some(name)) = (&open, attr(&e, "Name"))
                    && let Some(en) = m.enums.get_mut(t)
                {
                    en.members.push(name);
                }
            }
            "Property" => {
                if let (Some((t, false)), Some(name), Some(ty)) =
                    (&open, attr(&e, "Name"), attr(&e, "Type"))
                    && let Some(td) = m.types.get_mut(t)
                {
                    td.properties.insert(
                        name,
                        PropertyDef {
                            ty: qualify(&ty, &aliases),
                            nullable: attr(&e, "Nullable").is_none_or(|v| v != "false"),
                            provenance: Some(provenance()),
                        },
                    );
                }
            }
            "NavigationProperty" => {
                if let (Some((t, false)), Some(name), Some(ty)) =
                    (&open, attr(&e, "Name"), attr(&e, "Type"))
                {
                    m.navigation
                        .insert((t.clone(), name), qualify(&ty, &aliases));
                }
            }
            "EntitySet" => {
                if let (Some(name), Some(ty)) = (attr(&e, "Name"), attr(&e, "EntityType")) {
                    m.roots
                        .insert(name, format!("Collection({})", qualify(&ty, &aliases)));
                }
            }
            "Singleton" => {
                if let (Some(name), Some(ty)) = (attr(&e, "Name"), attr(&e, "Type")) {
                    m.roots.insert(name, qualify(&ty, &aliases));
                }
            }
            _ => {}
        }
    }
    Ok(m)
}

/// `Collection(x)` → `x`; any other reference as it is.
pub fn named_type(ty: &str) -> &str {
    ty.strip_prefix("Collection(")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or(ty)
}

/// The named type inside a reference (`Collection(x)` → `x`), unless primitive.
fn named(ty: &str) -> Option<&str> {
    match TypeRef::parse(ty) {
        TypeRef::Primitive(_) => None,
        TypeRef::Named(n) => Some(n),
        TypeRef::Collection(inner) => named(inner),
    }
}

impl Metadata {
    /// The type an `@odata.context` fragment describes (`muteParticipantOperation`,
    /// `communications/calls/$entity`, `communications/calls('x')/participants`), as a
    /// type reference; `None` when the fragment names nothing the metadata declares.
    pub fn context_type(&self, fragment: &str) -> Option<String> {
        let mut segments = strip_keys(fragment)
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>();
        let entity = segments.last().is_some_and(|s| s == "$entity");
        if entity {
            segments.pop();
        }
        let first = segments.first()?;
        let qualified = |n: &str| {
            if n.contains('.') {
                n.to_string()
            } else {
                format!("microsoft.graph.{n}")
            }
        };
        let mut cur = if segments.len() == 1
            && (self.types.contains_key(&qualified(first))
                || self.enums.contains_key(&qualified(first)))
        {
            qualified(first)
        } else {
            self.roots.get(first)?.clone()
        };
        for seg in &segments[1..] {
            let owner = named(&cur)?.to_string();
            cur = self.member_type(&owner, seg)?;
        }
        if entity {
            cur = named(&cur)?.to_string();
        }
        Some(cur)
    }

    /// The type of a structural or navigation property of `owner` or its bases.
    fn member_type(&self, owner: &str, name: &str) -> Option<String> {
        let mut t = Some(owner.to_string());
        while let Some(o) = t {
            let td = self.types.get(&o)?;
            if let Some(p) = td.properties.get(name) {
                return Some(p.ty.clone());
            }
            if let Some(n) = self.navigation.get(&(o.clone(), name.to_string())) {
                return Some(n.clone());
            }
            t = td.base.clone();
        }
        None
    }

    /// The part of the model `roots` reach: their bases, their properties' types and the
    /// types derived from them, transitively. Derived types of `entity` (every entity)
    /// are not pulled in by the base alone.
    pub fn closure<'n>(&self, roots: impl IntoIterator<Item = &'n str>) -> TypeModel {
        let mut derived: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (n, t) in &self.types {
            if let Some(b) = &t.base {
                derived.entry(b.as_str()).or_default().push(n.as_str());
            }
        }
        let root_entity = self
            .types
            .iter()
            .find(|(_, t)| t.kind == TypeKind::Entity && t.base.is_none() && t.is_abstract)
            .map(|(n, _)| n.as_str());
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<&str> = roots
            .into_iter()
            .filter_map(|r| {
                self.types
                    .get_key_value(r)
                    .map(|(k, _)| k.as_str())
                    .or_else(|| self.enums.get_key_value(r).map(|(k, _)| k.as_str()))
            })
            .collect();
        while let Some(n) = queue.pop() {
            if !seen.insert(n) {
                continue;
            }
            let Some(t) = self.types.get(n) else {
                continue;
            };
            if let Some(b) = &t.base {
                queue.push(b);
            }
            for p in t.properties.values() {
                let Some(inner) = named(&p.ty) else {
                    continue;
                };
                if let Some((k, _)) = self.types.get_key_value(inner) {
                    queue.push(k);
                } else if let Some((k, _)) = self.enums.get_key_value(inner) {
                    queue.push(k);
                }
            }
            if Some(n) != root_entity
                && let Some(ds) = derived.get(n)
            {
                queue.extend(ds.iter().copied());
            }
        }
        let mut model = TypeModel::default();
        for n in seen {
            if let Some(t) = self.types.get(n) {
                let mut t = t.clone();
                // A property of a type outside the model (none: the closure takes them all).
                t.properties.retain(|_, p| {
                    named(&p.ty)
                        .is_none_or(|i| self.types.contains_key(i) || self.enums.contains_key(i))
                });
                model.types.insert(n.to_string(), t);
            } else if let Some(e) = self.enums.get(n) {
                model.enums.insert(n.to_string(), e.clone());
            }
        }
        model
    }
}

/// What examples show of properties no declaration covers: (type, property) → the type
/// the examples print for the value and the first example showing it, or `None` once two
/// examples disagree (a dynamic property such as a notification's `resourceData`).
pub type Shown = BTreeMap<(String, String), Option<(String, Provenance)>>;

/// Collects into `shown` the properties an example shows on an object of a known type
/// that no declaration covers, when the example names the value's type (`"answeredBy": {
/// "@odata.type": "#microsoft.graph.participantInfo", ...}` on a call), or the value is a
/// string or a boolean. A property shown only as null, a number or an untyped object
/// stays undeclared.
pub fn shown_properties(
    v: &serde_json::Value,
    declared: Option<&str>,
    model: &TypeModel,
    at: &Provenance,
    shown: &mut Shown,
) {
    use serde_json::Value;
    let named_in = |x: &Value| -> Option<String> {
        let t = x.get("@odata.type")?.as_str()?.trim_start_matches('#');
        model.types.contains_key(t).then(|| t.to_string())
    };
    match v {
        Value::Array(items) => {
            let elem = declared.map(named_type);
            for i in items {
                shown_properties(i, elem, model, at, shown);
            }
        }
        Value::Object(o) => {
            let ty = named_in(v).or_else(|| {
                declared
                    .filter(|d| model.types.contains_key(*d))
                    .map(str::to_string)
            });
            for (k, x) in o {
                if k.starts_with('@') {
                    continue;
                }
                let child = ty.as_ref().and_then(|t| {
                    if let Some((_, p, _)) = model.declaration_in_family(t, k) {
                        return Some(p.ty.clone());
                    }
                    let seen = match x {
                        Value::Array(a) => a
                            .first()
                            .and_then(|f| named_in(f).or_else(|| primitive(f)))
                            .map(|n| format!("Collection({n})")),
                        _ => named_in(x).or_else(|| primitive(x)),
                    }?;
                    let slot = shown
                        .entry((t.clone(), k.clone()))
                        .or_insert_with(|| Some((seen.clone(), at.clone())));
                    if slot.as_ref().is_some_and(|(was, _)| *was != seen) {
                        *slot = None;
                    }
                    Some(seen)
                });
                shown_properties(x, child.as_deref(), model, at, shown);
            }
        }
        _ => {}
    }
}

/// The Edm type a JSON scalar is an instance of (Gavel's inference: a string is a
/// string); null, objects without `@odata.type` and numbers of no fixed width say nothing.
fn primitive(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(_) => Some("Edm.String".into()),
        serde_json::Value::Bool(_) => Some("Edm.Boolean".into()),
        _ => None,
    }
}

/// Declares in `model` what [`shown_properties`] found without disagreement.
pub fn declare_shown(model: &mut TypeModel, shown: Shown) {
    for ((t, k), found) in shown {
        if let (Some((ty, at)), Some(def)) = (found, model.types.get_mut(&t)) {
            def.properties.insert(
                k,
                PropertyDef {
                    ty,
                    nullable: true,
                    provenance: Some(at),
                },
            );
        }
    }
}

/// `calls('x')/participants` → `calls/participants`.
fn strip_keys(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EnumType Name="callState">
        <Member Name="incoming" Value="0" />
        <Member Name="established" Value="3" />
      </EnumType>
      <EntityType Name="entity" Abstract="true">
        <Key><PropertyRef Name="id" /></Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
      </EntityType>
      <EntityType Name="call" BaseType="graph.entity" OpenType="true">
        <Property Name="state" Type="graph.callState" />
        <Property Name="resultInfo" Type="graph.resultInfo" />
        <NavigationProperty Name="participants" Type="Collection(graph.participant)" ContainsTarget="true" />
      </EntityType>
      <EntityType Name="participant" BaseType="graph.entity" />
      <EntityType Name="user" BaseType="graph.entity" />
      <ComplexType Name="resultInfo">
        <Property Name="code" Type="Edm.Int32" Nullable="false" />
      </ComplexType>
      <ComplexType Name="identity" OpenType="true" />
      <ComplexType Name="communicationsIdentitySet" BaseType="graph.identity" />
      <EntityType Name="cloudCommunications" BaseType="graph.entity">
        <NavigationProperty Name="calls" Type="Collection(graph.call)" ContainsTarget="true" />
      </EntityType>
      <EntityContainer Name="GraphService">
        <Singleton Name="communications" Type="microsoft.graph.cloudCommunications" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

    #[test]
    fn reads_types_enums_aliases_and_lines() {
        let m = parse(DOC, "graph.csdl.xml").expect("parses");
        let call = &m.types["microsoft.graph.call"];
        assert_eq!(call.base.as_deref(), Some("microsoft.graph.entity"));
        assert!(call.open);
        assert_eq!(call.properties["state"].ty, "microsoft.graph.callState");
        assert_eq!(call.provenance.line, 12);
        assert!(!m.types["microsoft.graph.resultInfo"].properties["code"].nullable);
        assert!(m.types["microsoft.graph.entity"].is_abstract);
        assert_eq!(
            m.enums["microsoft.graph.callState"].members,
            ["incoming", "established"]
        );
        assert!(
            !call.properties.contains_key("participants"),
            "navigation is not structure"
        );
    }

    #[test]
    fn context_fragments_resolve_through_the_container() {
        let m = parse(DOC, "g").expect("parses");
        assert_eq!(
            m.context_type("communications/calls/$entity").as_deref(),
            Some("microsoft.graph.call")
        );
        assert_eq!(
            m.context_type("communications/calls('x')/participants")
                .as_deref(),
            Some("Collection(microsoft.graph.participant)")
        );
        assert_eq!(
            m.context_type("communications/calls('x')/participants/$entity")
                .as_deref(),
            Some("microsoft.graph.participant")
        );
        assert_eq!(
            m.context_type("resultInfo").as_deref(),
            Some("microsoft.graph.resultInfo")
        );
        assert_eq!(m.context_type("app/calls/$entity"), None);
    }

    #[test]
    fn the_closure_takes_bases_property_types_and_derived_types_only() {
        let m = parse(DOC, "g").expect("parses");
        let model = m.closure(["microsoft.graph.call", "microsoft.graph.identity"]);
        let names: Vec<&str> = model
            .types
            .keys()
            .map(String::as_str)
            .chain(model.enums.keys().map(String::as_str))
            .collect();
        assert_eq!(
            names,
            [
                "microsoft.graph.call",
                "microsoft.graph.communicationsIdentitySet",
                "microsoft.graph.entity",
                "microsoft.graph.identity",
                "microsoft.graph.resultInfo",
                "microsoft.graph.callState"
            ]
        );
        // What it renders, the loader reads back, dangling names excluded.
        let text = crate::contract::types::render(&model, "test");
        assert_eq!(TypeModel::parse(&text).expect("loads"), model);
    }

    #[test]
    fn a_property_an_example_types_is_declared_unless_examples_disagree() {
        let m = parse(DOC, "g").expect("parses");
        let model = m.closure(["microsoft.graph.call", "microsoft.graph.participant"]);
        let at = |line| Provenance {
            file: "page.md".into(),
            line,
        };
        let mut shown = Shown::new();
        let call = serde_json::json!({
            "@odata.type": "#microsoft.graph.call",
            "answeredBy": {"@odata.type": "#microsoft.graph.participant"},
            "data": {"@odata.type": "#microsoft.graph.call"},
            "label": "main",
            "note": null,
            "count": 3
        });
        shown_properties(&call, None, &model, &at(3), &mut shown);
        let other = serde_json::json!({
            "@odata.type": "#microsoft.graph.call",
            "data": [{"@odata.type": "#microsoft.graph.participant"}]
        });
        shown_properties(&other, None, &model, &at(9), &mut shown);
        let mut model = model;
        declare_shown(&mut model, shown);
        let p = model
            .property("microsoft.graph.call", "answeredBy")
            .expect("declared by the example");
        assert_eq!(p.ty, "microsoft.graph.participant");
        assert_eq!(p.provenance.as_ref().map(|a| a.line), Some(3));
        assert!(
            model.property("microsoft.graph.call", "data").is_none(),
            "two types shown"
        );
        assert!(
            model.property("microsoft.graph.call", "note").is_none(),
            "only null shown"
        );
        assert!(
            model.property("microsoft.graph.call", "count").is_none(),
            "a number of no width"
        );
        assert_eq!(
            model
                .property("microsoft.graph.call", "label")
                .map(|p| p.ty.as_str()),
            Some("Edm.String")
        );
    }

    #[test]
    fn malformed_metadata_names_the_line() {
        let err = parse(
            "<Schema Namespace=\"a\">\n<EntityType Name=\"x\">\n</Schema>",
            "m.xml",
        )
        .expect_err("not well-formed");
        assert_eq!(err.to_string().split(':').next(), Some("m.xml"));
        assert!(err.to_string().contains("not well-formed"), "{err}");
    }
}
