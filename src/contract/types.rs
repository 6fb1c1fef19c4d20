//! `cases/<family>/_types.toml`: the types the documents declare (README: Verdict model),
//! written by `extract` from the service's metadata (the Graph CSDL), the property tables
//! of the resource pages (beta-only types and properties) and, for a property declared
//! nowhere, the type its examples print in `@odata.type`. The judges read it to hold
//! every value to its declared type, whatever the example's particular value.
//!
//! Names are qualified as the metadata qualifies them (`microsoft.graph.call`); a type
//! reference is `Edm.<Primitive>`, a qualified type or enum name, or `Collection(<ref>)`.

use super::rules::Provenance;
use crate::diag::{CaseError, read_capped, toml_error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The type model's file name inside its family directory.
pub const FILE_NAME: &str = "_types.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    Entity,
    Complex,
}

/// An entity or complex type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeDef {
    pub kind: TypeKind,
    /// The qualified base type, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(
        default,
        rename = "abstract",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub is_abstract: bool,
    /// An OData open type may carry dynamic properties beyond its declared ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    /// Declared here (the base type's are not repeated).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, PropertyDef>,
    pub provenance: Provenance,
}

/// One declared property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyDef {
    #[serde(rename = "type")]
    pub ty: String,
    /// OData properties are nullable unless the metadata says `Nullable="false"`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub nullable: bool,
    /// Where the property was declared, when not where its type was (a page's property
    /// table, an example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

/// An enumeration type: its declared members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumDef {
    pub members: Vec<String>,
    /// A flags enum: a value is a comma-separated list of members.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flags: bool,
    pub provenance: Provenance,
}

/// A type reference, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeRef<'a> {
    Primitive(Primitive),
    /// A qualified complex, entity or enum name.
    Named(&'a str),
    Collection(&'a str),
}

/// The Edm primitive types the judges tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    String,
    Boolean,
    /// Edm.Byte, SByte, Int16, Int32, Int64, with their ranges.
    Integer {
        min: i64,
        max: i64,
    },
    /// Edm.Single, Double, Decimal: a number (or the OData strings `NaN`, `INF`, `-INF`).
    Number,
    DateTimeOffset,
    Date,
    TimeOfDay,
    Duration,
    Guid,
    Binary,
    /// Edm.Stream, Edm.Untyped and any primitive not told apart: any value.
    Any,
}

impl Primitive {
    pub fn from_edm(name: &str) -> Option<Primitive> {
        Some(match name.strip_prefix("Edm.")? {
            "String" => Primitive::String,
            "Boolean" => Primitive::Boolean,
            "Byte" => Primitive::Integer { min: 0, max: 255 },
            "SByte" => Primitive::Integer {
                min: -128,
                max: 127,
            },
            "Int16" => Primitive::Integer {
                min: i16::MIN as i64,
                max: i16::MAX as i64,
            },
            "Int32" => Primitive::Integer {
                min: i32::MIN as i64,
                max: i32::MAX as i64,
            },
            "Int64" => Primitive::Integer {
                min: i64::MIN,
                max: i64::MAX,
            },
            "Single" | "Double" | "Decimal" => Primitive::Number,
            "DateTimeOffset" => Primitive::DateTimeOffset,
            "Date" => Primitive::Date,
            "TimeOfDay" => Primitive::TimeOfDay,
            "Duration" => Primitive::Duration,
            "Guid" => Primitive::Guid,
            "Binary" => Primitive::Binary,
            _ => Primitive::Any,
        })
    }
}

impl<'a> TypeRef<'a> {
    pub fn parse(text: &'a str) -> TypeRef<'a> {
        if let Some(inner) = text
            .strip_prefix("Collection(")
            .and_then(|t| t.strip_suffix(')'))
        {
            return TypeRef::Collection(inner);
        }
        match Primitive::from_edm(text) {
            Some(p) => TypeRef::Primitive(p),
            None => TypeRef::Named(text),
        }
    }
}

/// An XML element's text, as its element page types it (UM: " **string**", "Can be
/// Empty: False"; `extract` writes them, `crate::extract::um_types`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementDef {
    /// The schema type of its text: `xs:string`, `xs:boolean`, `xs:int`, ...; or the name
    /// of a simple type the page names (`UMCallState`), which the judge cannot check and
    /// leaves to the element's value set.
    #[serde(rename = "type")]
    pub ty: String,
    /// False when the page says the element cannot be empty.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub can_be_empty: bool,
    pub provenance: Provenance,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    types: BTreeMap<String, TypeDef>,
    #[serde(default)]
    enums: BTreeMap<String, EnumDef>,
    #[serde(default)]
    elements: BTreeMap<String, ElementDef>,
}

/// A family's declared types. Empty: every value is judged by its example alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeModel {
    pub types: BTreeMap<String, TypeDef>,
    pub enums: BTreeMap<String, EnumDef>,
    /// XML families: element local name → the type of its text.
    pub elements: BTreeMap<String, ElementDef>,
}

impl TypeModel {
    pub fn load(path: &Path) -> Result<TypeModel, CaseError> {
        let text = read_capped(path)?;
        TypeModel::parse(&text).map_err(|message| CaseError {
            path: path.to_owned(),
            message,
        })
    }

    /// [`TypeModel::load`] without the file system: every name a type refers to (its
    /// base, its properties' types) must be defined, so a judge never meets a dangling one.
    pub fn parse(text: &str) -> Result<TypeModel, String> {
        let file: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let m = TypeModel {
            types: file.types,
            enums: file.enums,
            elements: file.elements,
        };
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), String> {
        for (name, e) in &self.enums {
            if e.members.is_empty() {
                return Err(format!("[enums.\"{name}\"]: `members` is empty"));
            }
            if self.types.contains_key(name) {
                return Err(format!("`{name}` is both a type and an enum"));
            }
        }
        for (name, t) in &self.types {
            if let Some(b) = &t.base
                && !self.types.contains_key(b)
            {
                return Err(format!(
                    "[types.\"{name}\"]: base type `{b}` is not defined"
                ));
            }
            for (p, def) in &t.properties {
                let inner = match TypeRef::parse(&def.ty) {
                    TypeRef::Primitive(_) => continue,
                    TypeRef::Named(n) => n,
                    TypeRef::Collection(i) => match TypeRef::parse(i) {
                        TypeRef::Primitive(_) => continue,
                        TypeRef::Named(n) => n,
                        TypeRef::Collection(_) => {
                            return Err(format!(
                                "[types.\"{name}\"] property `{p}`: a collection of collections"
                            ));
                        }
                    },
                };
                if !self.types.contains_key(inner) && !self.enums.contains_key(inner) {
                    return Err(format!(
                        "[types.\"{name}\"] property `{p}`: type `{inner}` is not defined"
                    ));
                }
            }
            // A cycle in the base chain would make every lookup loop.
            let mut seen = 0;
            let mut cur = t.base.as_deref();
            while let Some(b) = cur {
                seen += 1;
                if seen > self.types.len() {
                    return Err(format!("[types.\"{name}\"]: its base types form a cycle"));
                }
                cur = self.types.get(b).and_then(|t| t.base.as_deref());
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.enums.is_empty() && self.elements.is_empty()
    }

    /// A qualified name from an `@odata.type` value (`#microsoft.graph.call` →
    /// `microsoft.graph.call`; `#Collection(...)` stays a collection reference).
    pub fn odata_type_name(value: &str) -> &str {
        value.strip_prefix('#').unwrap_or(value)
    }

    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// True when `ty` is `base` or derives from it.
    pub fn derives_from(&self, ty: &str, base: &str) -> bool {
        let mut cur = Some(ty);
        while let Some(t) = cur {
            if t == base {
                return true;
            }
            cur = self.types.get(t).and_then(|d| d.base.as_deref());
        }
        false
    }

    /// The property `name` of `ty`, declared on it or on a base type.
    pub fn property(&self, ty: &str, name: &str) -> Option<&PropertyDef> {
        self.declaration(ty, name).map(|(_, p, _)| p)
    }

    /// The property `name` of `ty` with the type that declares it (`ty` or a base type)
    /// and where it was declared.
    pub fn declaration<'m>(
        &'m self,
        ty: &str,
        name: &str,
    ) -> Option<(&'m str, &'m PropertyDef, &'m Provenance)> {
        let mut cur = self.types.get_key_value(ty);
        while let Some((t, def)) = cur {
            if let Some(p) = def.properties.get(name) {
                return Some((
                    t.as_str(),
                    p,
                    p.provenance.as_ref().unwrap_or(&def.provenance),
                ));
            }
            cur = def
                .base
                .as_deref()
                .and_then(|b| self.types.get_key_value(b));
        }
        None
    }

    /// [`TypeModel::declaration`], else the declaration on a type derived from `ty`: an
    /// identitySet the examples label `#microsoft.graph.identitySet` carries the members
    /// of `communicationsIdentitySet` (`applicationInstance`, `guest`), as the service does.
    pub fn declaration_in_family<'m>(
        &'m self,
        ty: &str,
        name: &str,
    ) -> Option<(&'m str, &'m PropertyDef, &'m Provenance)> {
        self.declaration(ty, name).or_else(|| {
            self.types
                .keys()
                .filter(|t| t.as_str() != ty && self.derives_from(t, ty))
                .find_map(|t| self.declaration(t, name))
        })
    }

    /// Every property of `ty`, its base types' included, by name.
    pub fn properties(&self, ty: &str) -> BTreeMap<&str, &PropertyDef> {
        let mut out = BTreeMap::new();
        let mut cur = Some(ty);
        while let Some(t) = cur {
            let Some(def) = self.types.get(t) else { break };
            for (k, v) in &def.properties {
                out.entry(k.as_str()).or_insert(v);
            }
            cur = def.base.as_deref();
        }
        out
    }

    /// True when `ty` or a base type is open.
    pub fn is_open(&self, ty: &str) -> bool {
        let mut cur = Some(ty);
        while let Some(t) = cur {
            let Some(def) = self.types.get(t) else { break };
            if def.open {
                return true;
            }
            cur = def.base.as_deref();
        }
        false
    }

    /// The types derived from `ty` (directly or not), for messages.
    pub fn derived(&self, ty: &str) -> Vec<&str> {
        self.types
            .keys()
            .filter(|t| t.as_str() != ty && self.derives_from(t, ty))
            .map(String::as_str)
            .collect()
    }

    /// Where a type (or enum) was declared, for messages.
    pub fn provenance(&self, name: &str) -> Option<&Provenance> {
        self.types
            .get(name)
            .map(|t| &t.provenance)
            .or_else(|| self.enums.get(name).map(|e| &e.provenance))
    }
}

/// Writes a model in the form [`TypeModel::parse`] reads back equal: one table per type,
/// its properties as dotted keys, sorted by name.
pub fn render(model: &TypeModel, header: &str) -> String {
    let mut s = String::new();
    for line in header.lines() {
        s.push_str("# ");
        s.push_str(line);
        s.push('\n');
    }
    let quote = |v: &str| toml::Value::String(v.to_owned()).to_string();
    let prov = |p: &Provenance| format!("{{ file = {}, line = {} }}", quote(&p.file), p.line);
    for (name, e) in &model.elements {
        s.push_str(&format!("\n[elements.{}]\n", quote(name)));
        s.push_str(&format!("type = {}\n", quote(&e.ty)));
        if !e.can_be_empty {
            s.push_str("can_be_empty = false\n");
        }
        s.push_str(&format!("provenance = {}\n", prov(&e.provenance)));
    }
    for (name, e) in &model.enums {
        s.push_str(&format!("\n[enums.{}]\n", quote(name)));
        let members: Vec<String> = e.members.iter().map(|m| quote(m)).collect();
        s.push_str(&format!("members = [{}]\n", members.join(", ")));
        if e.flags {
            s.push_str("flags = true\n");
        }
        s.push_str(&format!("provenance = {}\n", prov(&e.provenance)));
    }
    for (name, t) in &model.types {
        s.push_str(&format!("\n[types.{}]\n", quote(name)));
        s.push_str(match t.kind {
            TypeKind::Entity => "kind = \"entity\"\n",
            TypeKind::Complex => "kind = \"complex\"\n",
        });
        if let Some(b) = &t.base {
            s.push_str(&format!("base = {}\n", quote(b)));
        }
        if t.is_abstract {
            s.push_str("abstract = true\n");
        }
        if t.open {
            s.push_str("open = true\n");
        }
        s.push_str(&format!("provenance = {}\n", prov(&t.provenance)));
        for (p, def) in &t.properties {
            let mut parts = vec![format!("type = {}", quote(&def.ty))];
            if !def.nullable {
                parts.push("nullable = false".into());
            }
            if let Some(pr) = &def.provenance {
                parts.push(format!("provenance = {}", prov(pr)));
            }
            s.push_str(&format!(
                "properties.{} = {{ {} }}\n",
                quote(p),
                parts.join(", ")
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"
[enums."microsoft.graph.callState"]
members = ["incoming", "establishing", "established"]
provenance = { file = "graph-v1.0.csdl.xml", line = 10 }

[types."microsoft.graph.entity"]
kind = "entity"
abstract = true
provenance = { file = "graph-v1.0.csdl.xml", line = 1 }
properties."id" = { type = "Edm.String", nullable = false }

[types."microsoft.graph.call"]
kind = "entity"
base = "microsoft.graph.entity"
open = true
provenance = { file = "graph-v1.0.csdl.xml", line = 20 }
properties."state" = { type = "microsoft.graph.callState" }
properties."ringingTimeoutInSeconds" = { type = "Edm.Int32" }
properties."targets" = { type = "Collection(microsoft.graph.entity)" }
properties."answeredBy" = { type = "microsoft.graph.entity", provenance = { file = "call-redirect.md", line = 5 } }

[elements."PlayOnPhoneDialString"]
type = "xs:string"
can_be_empty = false
provenance = { file = "um/elements/playonphonedialstring-um-web-service.md", line = 32 }
"#;

    #[test]
    fn loads_and_renders_back_equal() {
        let m = TypeModel::parse(MODEL).expect("parses");
        assert!(m.derives_from("microsoft.graph.call", "microsoft.graph.entity"));
        assert!(!m.derives_from("microsoft.graph.entity", "microsoft.graph.call"));
        assert_eq!(
            m.property("microsoft.graph.call", "id").map(|p| p.nullable),
            Some(false)
        );
        assert!(m.is_open("microsoft.graph.call"));
        assert_eq!(m.properties("microsoft.graph.call").len(), 5);
        let again = TypeModel::parse(&render(&m, "generated")).expect("round trip");
        assert_eq!(again, m);
    }

    #[test]
    fn dangling_names_are_errors_naming_them() {
        let e = TypeModel::parse(
            "[types.\"a\"]\nkind = \"complex\"\nprovenance = { file = \"f\", line = 1 }\nproperties.\"p\" = { type = \"Collection(b)\" }\n",
        )
        .unwrap_err();
        assert!(e.contains("`p`") && e.contains("`b`"), "{e}");
        let e = TypeModel::parse(
            "[types.\"a\"]\nkind = \"complex\"\nbase = \"z\"\nprovenance = { file = \"f\", line = 1 }\n",
        )
        .unwrap_err();
        assert!(e.contains("base type `z`"), "{e}");
    }

    #[test]
    fn type_references_parse() {
        assert_eq!(
            TypeRef::parse("Edm.Int32"),
            TypeRef::Primitive(Primitive::Integer {
                min: i32::MIN as i64,
                max: i32::MAX as i64
            })
        );
        assert_eq!(
            TypeRef::parse("Collection(microsoft.graph.x)"),
            TypeRef::Collection("microsoft.graph.x")
        );
        assert_eq!(
            TypeRef::parse("microsoft.graph.x"),
            TypeRef::Named("microsoft.graph.x")
        );
        assert_eq!(
            TypeModel::odata_type_name("#microsoft.graph.x"),
            "microsoft.graph.x"
        );
    }
}
