//! `cases/<family>/_contract.toml` (README: Verdict model): the value sets the element and resource
//! pages enumerate, and which fields of an example are fixed, enumerated, prose or live.
//! Written by `extract`, read here once per corpus; a case can add or override fields
//! (`[[contract.field]]`, [`Contract::merge`]).

use super::path::FieldPath;
use crate::diag::{CaseError, read_capped, toml_error};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The contract's file name inside its family directory.
pub const FILE_NAME: &str = "_contract.toml";

/// The reserved set name: the Graph resultInfo (code, subcode) pair, judged as one
/// against the call-end reason table ([`super::EndReasons`]), not against a `[sets]` entry.
pub const END_REASONS: &str = "end-reasons";

/// Where a set or a field class was documented.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// An enumeration the documents print, e.g. UM `CallState`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSet {
    pub values: Vec<String>,
    #[serde(default)]
    pub provenance: Option<Provenance>,
    /// States that can still lead to a later one, in order (for progressing steps).
    #[serde(default)]
    pub progress: Vec<String>,
}

impl ValueSet {
    pub fn contains(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }
}

/// How a field's value is judged; structure (presence, JSON type) is always exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldClass {
    /// Equal to the example (anything not listed).
    #[default]
    Exact,
    /// Any value of the named set; another one than the example's is a note.
    Set,
    /// Any string; a difference from the example is a note.
    Text,
    /// Any value of the documented JSON type, silently (ids, contexts).
    Live,
    /// An object whose documented members are alternatives (an identitySet holds a user,
    /// an application, a phone, ... "one or more"): the answer must hold at least one
    /// member; each member present is judged as documented.
    Choice,
    /// A collection of instances (the `value` of a GET of a collection, such as a call's
    /// participants): which members a live resource has, and how many, is the instance.
    /// Each member is judged against the documented member it matches (see
    /// [`crate::compare::json`]); another count is a note, none at all a failure.
    Members,
}

impl FieldClass {
    pub fn name(self) -> &'static str {
        match self {
            FieldClass::Exact => "exact",
            FieldClass::Set => "set",
            FieldClass::Text => "text",
            FieldClass::Live => "live",
            FieldClass::Choice => "choice",
            FieldClass::Members => "members",
        }
    }
}

/// A `[[field]]` (family) or `[[contract.field]]` (case) entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub path: String,
    #[serde(default)]
    pub class: FieldClass,
    #[serde(default)]
    pub set: Option<String>,
    #[serde(default)]
    pub provenance: Option<Provenance>,
}

/// A field class, its path compiled, its set checked to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    pub path: FieldPath,
    pub class: FieldClass,
    /// For `set`: a `[sets]` name or [`END_REASONS`].
    pub set: Option<String>,
    pub provenance: Option<Provenance>,
    /// From the case file: wins over every family rule.
    pub from_case: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    sets: BTreeMap<String, ValueSet>,
    #[serde(default)]
    field: Vec<FieldSpec>,
}

/// A family's documented contract. Without a file every field is `exact`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contract {
    pub sets: BTreeMap<String, ValueSet>,
    pub fields: Vec<FieldRule>,
    /// The family's declared types (`_types.toml`), shared by every case's contract.
    pub types: std::sync::Arc<super::TypeModel>,
}

impl Contract {
    /// Reads `cases/<family>/_contract.toml`. Errors name the file and the field.
    pub fn load(path: &Path) -> Result<Contract, CaseError> {
        let text = read_capped(path)?;
        Contract::parse(&text).map_err(|message| CaseError {
            path: path.to_owned(),
            message,
        })
    }

    /// [`Contract::load`] without the file system.
    pub fn parse(text: &str) -> Result<Contract, String> {
        let file: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        for (name, set) in &file.sets {
            check_set(name, set)?;
        }
        let mut c = Contract {
            sets: file.sets,
            fields: Vec::new(),
            types: Default::default(),
        };
        for (i, spec) in file.field.iter().enumerate() {
            let rule = c
                .compile(spec, false)
                .map_err(|m| format!("[[field]] #{} (path `{}`): {m}", i + 1, spec.path))?;
            c.fields.push(rule);
        }
        Ok(c)
    }

    /// This contract with a case's `[[contract.field]]` entries: a case entry replaces the
    /// family's entry for the same path and wins over any other that matches. The error
    /// names the entry; the caller adds the case file.
    pub fn merge(&self, case_fields: &[FieldSpec]) -> Result<Contract, String> {
        let mut out = self.clone();
        for (i, spec) in case_fields.iter().enumerate() {
            let rule = out.compile(spec, true).map_err(|m| {
                format!("[[contract.field]] #{} (path `{}`): {m}", i + 1, spec.path)
            })?;
            out.fields.retain(|f| f.path.as_str() != spec.path);
            out.fields.push(rule);
        }
        Ok(out)
    }

    fn compile(&self, spec: &FieldSpec, from_case: bool) -> Result<FieldRule, String> {
        let path = FieldPath::parse(&spec.path)?;
        match (spec.class, &spec.set) {
            (FieldClass::Set, None) => {
                return Err("class `set` needs `set = \"<name>\"`".into());
            }
            (FieldClass::Set, Some(name))
                if name != END_REASONS && !self.sets.contains_key(name) =>
            {
                let known: Vec<&str> = self.sets.keys().map(String::as_str).collect();
                return Err(format!(
                    "set `{name}` is not defined (known sets: {}{END_REASONS})",
                    known.iter().map(|k| format!("{k}, ")).collect::<String>()
                ));
            }
            (c, Some(name)) if c != FieldClass::Set => {
                return Err(format!(
                    "`set = \"{name}\"` only goes with class `set`, not `{}`",
                    c.name()
                ));
            }
            _ => {}
        }
        Ok(FieldRule {
            path,
            class: spec.class,
            set: spec.set.clone(),
            provenance: spec.provenance.clone(),
            from_case,
        })
    }

    /// The rule classing the field at `path` (unescaped segments from the root): a case's
    /// entry first, then the most specific path, then the first listed.
    pub fn rule<S: AsRef<str>>(&self, path: &[S]) -> Option<&FieldRule> {
        let mut best: Option<&FieldRule> = None;
        for f in &self.fields {
            if !f.path.matches(path) {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    (f.from_case, f.path.specificity()) > (b.from_case, b.path.specificity())
                }
            };
            if better {
                best = Some(f);
            }
        }
        best
    }

    /// The class of the field at `path`; `exact` when no rule names it.
    pub fn class<S: AsRef<str>>(&self, path: &[S]) -> FieldClass {
        self.rule(path).map_or(FieldClass::Exact, |r| r.class)
    }
}

fn check_set(name: &str, set: &ValueSet) -> Result<(), String> {
    if name == END_REASONS {
        return Err(format!(
            "[sets.\"{END_REASONS}\"]: the name is reserved for the call-end reason table"
        ));
    }
    if set.values.is_empty() {
        return Err(format!("[sets.\"{name}\"]: `values` is empty"));
    }
    for p in &set.progress {
        if !set.contains(p) {
            return Err(format!(
                "[sets.\"{name}\"]: progress value `{p}` is not one of its values"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UM: &str = r#"
[sets."CallState"]
values = ["Idle", "Connecting", "Alerted", "Connected", "Disconnected"]
provenance = { file = "um/elements/callstate-um-web-service.md", line = 53 }
progress = ["Idle", "Connecting", "Alerted", "Connected"]

[[field]]
path = "/Envelope/Body/GetCallInfoResponse/GetCallInfoResponse/CallState"
class = "set"
set = "CallState"
provenance = { file = "um/elements/callstate-um-web-service.md", line = 53 }

[[field]]
path = "**/resultInfo/code"
class = "set"
set = "end-reasons"

[[field]]
path = "**/id"
class = "live"

[[field]]
path = "/value/*/id"
class = "text"
"#;

    fn segs(p: &str) -> Vec<&str> {
        p.split('/').filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn loads_sets_fields_and_provenance() {
        let c = Contract::parse(UM).expect("parses");
        let s = &c.sets["CallState"];
        assert_eq!(s.values.len(), 5);
        assert_eq!(s.progress.last().map(String::as_str), Some("Connected"));
        assert_eq!(
            s.provenance.as_ref().map(ToString::to_string).as_deref(),
            Some("um/elements/callstate-um-web-service.md:53")
        );
        let r = c
            .rule(&segs(
                "/Envelope/Body/GetCallInfoResponse/GetCallInfoResponse/CallState",
            ))
            .expect("classed");
        assert_eq!(
            (r.class, r.set.as_deref()),
            (FieldClass::Set, Some("CallState"))
        );
        assert_eq!(c.class(&segs("/Envelope/Body/Other")), FieldClass::Exact);
        // The more specific path wins over `**/id`.
        assert_eq!(c.class(&segs("/value/0/id")), FieldClass::Text);
        assert_eq!(c.class(&segs("/value/0/resourceData/id")), FieldClass::Live);
    }

    #[test]
    fn an_unknown_set_is_an_error_naming_the_field() {
        let text = "[[field]]\npath = \"/state\"\nclass = \"set\"\nset = \"call.sate\"\n";
        let e = Contract::parse(text).unwrap_err();
        assert!(
            e.contains("#1") && e.contains("/state") && e.contains("call.sate"),
            "{e}"
        );
        assert!(e.contains("end-reasons"), "{e}");
        let e = Contract::parse("[[field]]\npath = \"/s\"\nclass = \"set\"\n").unwrap_err();
        assert!(e.contains("needs `set"), "{e}");
        let e = Contract::parse("[[field]]\npath = \"/s\"\nclass = \"live\"\nset = \"X\"\n")
            .unwrap_err();
        assert!(e.contains("only goes with class `set`"), "{e}");
        let e = Contract::parse("[[field]]\npath = \"s\"\nclass = \"live\"\n").unwrap_err();
        assert!(e.contains("must start with"), "{e}");
        let e = Contract::parse("[[field]]\npath = \"/s\"\nclass = \"fuzzy\"\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("fuzzy"), "{e}");
        let e = Contract::parse("[sets.S]\nvalues = [\"a\"]\nprogress = [\"b\"]\n").unwrap_err();
        assert!(e.contains("progress value `b`"), "{e}");
        let e = Contract::parse("[sets.\"end-reasons\"]\nvalues = [\"a\"]\n").unwrap_err();
        assert!(e.contains("reserved"), "{e}");
        let e = Contract::parse("[sets.S]\nvalues = [\"a\"]\nprovenance = \"x\"\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("cc-contract-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let p = dir.join(FILE_NAME);
        std::fs::write(
            &p,
            "[[field]]\npath = \"/a\"\nclass = \"set\"\nset = \"Nope\"\n",
        )
        .expect("write");
        let e = Contract::load(&p).unwrap_err();
        assert_eq!(e.path, p);
        assert!(
            e.to_string().contains("_contract.toml: [[field]] #1"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn case_fields_override_the_family() {
        let c = Contract::parse(UM).expect("parses");
        let case = [
            FieldSpec {
                path: "/value/*/id".into(),
                class: FieldClass::Exact,
                set: None,
                provenance: None,
            },
            FieldSpec {
                path: "**/label".into(),
                class: FieldClass::Text,
                set: None,
                provenance: None,
            },
        ];
        let m = c.merge(&case).expect("merges");
        assert_eq!(m.class(&segs("/value/0/id")), FieldClass::Exact);
        assert_eq!(m.class(&segs("/a/label")), FieldClass::Text);
        // A less specific case entry still wins over a family entry.
        let m = c
            .merge(&[FieldSpec {
                path: "**".into(),
                class: FieldClass::Exact,
                set: None,
                provenance: None,
            }])
            .expect("merges");
        assert_eq!(m.class(&segs("/x/id")), FieldClass::Exact);
        let e = c
            .merge(&[FieldSpec {
                path: "/a".into(),
                class: FieldClass::Set,
                set: Some("Nope".into()),
                provenance: None,
            }])
            .unwrap_err();
        assert!(
            e.contains("[[contract.field]] #1") && e.contains("Nope"),
            "{e}"
        );
    }

    #[test]
    fn the_committed_contracts_load() {
        let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
        for fam in ["um", "graph"] {
            let p = cases.join(fam).join(FILE_NAME);
            Contract::load(&p).unwrap_or_else(|e| panic!("{e}"));
        }
        let graph = Contract::load(&cases.join("graph").join(FILE_NAME)).expect("loads");
        let code = graph.rule(&segs("/value/0/resourceData/resultInfo/code"));
        assert_eq!(code.and_then(|r| r.set.as_deref()), Some(END_REASONS));
    }
}
