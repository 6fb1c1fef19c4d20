//! The errata table (`cases/errata.toml`): documentation errors, each corrected once with its
//! evidence, instead of silently editing the documented text in the cases.

use crate::diag::CaseError;
use crate::family::Family;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// Which documented text an erratum corrects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Request,
    Response,
    Notification,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replace {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erratum {
    pub id: String,
    pub family: Family,
    #[serde(default)]
    pub applies_to: Vec<Part>,
    #[serde(default)]
    pub replace: Option<Replace>,
    /// JSON pointers (`*` = any index) whose string values become Int32 numbers.
    #[serde(default)]
    pub json_int: Vec<String>,
    /// Values a documented enumeration leaves out but the service sends (added to the
    /// set of that name in `_contract.toml` by `extract`).
    #[serde(default)]
    pub add_values: Option<AddValues>,
    /// The documentation blocks (`file:line`) this erratum corrects, when it corrects
    /// particular examples (written by `extract` for printed JSON that is not JSON).
    #[serde(default)]
    pub blocks: Vec<String>,
    pub summary: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddValues {
    pub set: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Errata {
    #[serde(default, rename = "erratum")]
    pub errata: Vec<Erratum>,
}

impl Errata {
    pub fn load(path: &Path) -> Result<Errata, CaseError> {
        if !path.exists() {
            return Ok(Errata::default());
        }
        let text = crate::diag::read_capped(path)?;
        Errata::parse(&text).map_err(|message| CaseError {
            path: path.to_owned(),
            message,
        })
    }

    /// Reads an errata table's text (what `load` does after reading the file).
    pub fn parse(text: &str) -> Result<Errata, String> {
        let errata: Errata = toml::from_str(text).map_err(|e| crate::diag::toml_error(text, &e))?;
        for er in &errata.errata {
            if er.replace.is_none() && er.json_int.is_empty() && er.add_values.is_none() {
                return Err(format!(
                    "erratum `{}`: give `replace`, `json_int` or `add_values`",
                    er.id
                ));
            }
            if (er.replace.is_some() || !er.json_int.is_empty()) && er.applies_to.is_empty() {
                return Err(format!(
                    "erratum `{}`: `applies_to` is required with `replace` or `json_int`",
                    er.id
                ));
            }
        }
        Ok(errata)
    }

    /// Values errata add to the documented enumeration `set` of `family`: (erratum id, values).
    pub fn added_values(&self, family: Family, set: &str) -> Vec<(String, Vec<String>)> {
        self.errata
            .iter()
            .filter(|e| e.family == family)
            .filter_map(|e| {
                let a = e.add_values.as_ref()?;
                (a.set == set).then(|| (e.id.clone(), a.values.clone()))
            })
            .collect()
    }

    fn matching(&self, family: Family, part: Part) -> impl Iterator<Item = &Erratum> {
        self.errata
            .iter()
            .filter(move |e| e.family == family && e.applies_to.contains(&part))
    }

    /// Textual corrections (namespace URIs and the like).
    pub fn apply_text(&self, family: Family, part: Part, text: &str) -> String {
        let mut out = text.to_owned();
        for e in self.matching(family, part) {
            if let Some(r) = &e.replace {
                out = out.replace(&r.from, &r.to);
            }
        }
        out
    }

    /// Structural corrections on a parsed JSON document.
    pub fn apply_json(&self, family: Family, part: Part, value: &mut Value) {
        for e in self.matching(family, part) {
            for ptr in &e.json_int {
                for_each_match(value, ptr, &mut |v| {
                    if let Value::String(s) = v
                        && let Ok(n) = s.trim().parse::<i32>()
                    {
                        *v = Value::from(n);
                    }
                });
            }
        }
    }

    /// The ids of the errata that touch this family and part (for reports).
    pub fn ids(&self, family: Family, part: Part) -> Vec<&str> {
        self.matching(family, part).map(|e| e.id.as_str()).collect()
    }
}

/// Visits every value a pointer reaches, where a `*` segment matches any index or key.
pub fn for_each_match(value: &mut Value, pointer: &str, f: &mut dyn FnMut(&mut Value)) {
    let segs: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    walk(value, &segs, f);
}

fn walk(value: &mut Value, segs: &[String], f: &mut dyn FnMut(&mut Value)) {
    let Some((head, rest)) = segs.split_first() else {
        f(value);
        return;
    };
    match value {
        Value::Array(items) if head == "*" => items.iter_mut().for_each(|v| walk(v, rest, f)),
        Value::Array(items) => {
            if let Some(v) = head.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                walk(v, rest, f);
            }
        }
        Value::Object(map) if head == "*" => map.values_mut().for_each(|v| walk(v, rest, f)),
        Value::Object(map) => {
            if let Some(v) = map.get_mut(head.as_str()) {
                walk(v, rest, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Errata {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/errata.toml");
        assert!(root.exists(), "{} is missing", root.display());
        Errata::load(&root).expect("the committed errata table loads")
    }

    #[test]
    fn namespace_erratum_rewrites_only_um() {
        let e = table();
        let t = r#"<X xmlns="https://schemas.microsoft.com/exchange/services/2006/messages"/>"#;
        assert_eq!(
            e.apply_text(Family::UM, Part::Request, t),
            r#"<X xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"/>"#
        );
        assert_eq!(e.apply_text(Family::GRAPH, Part::Request, t), t);
    }

    #[test]
    fn eventcause_gains_unavailable_and_bad_errata_are_refused() {
        let e = table();
        let added = e.added_values(Family::UM, "EventCause");
        assert_eq!(added.len(), 1, "{added:?}");
        assert_eq!(added[0].1, ["Unavailable"]);
        assert!(e.added_values(Family::GRAPH, "EventCause").is_empty());
        let bad = "[[erratum]]\nid = \"x\"\nfamily = \"um\"\nsummary = \"s\"\nevidence = \"e\"\n";
        assert!(Errata::parse(bad).unwrap_err().contains("add_values"));
        let no_parts = "[[erratum]]\nid = \"x\"\nfamily = \"um\"\nreplace = { from = \"a\", to = \"b\" }\nsummary = \"s\"\nevidence = \"e\"\n";
        assert!(Errata::parse(no_parts).unwrap_err().contains("applies_to"));
    }

    #[test]
    fn resultinfo_strings_become_int32() {
        let e = table();
        let mut v = serde_json::json!({"value":[{"resourceData":{"resultInfo":{"code":"200","subcode":"5001","message":"x"}}}]});
        e.apply_json(Family::GRAPH, Part::Notification, &mut v);
        assert_eq!(v["value"][0]["resourceData"]["resultInfo"]["code"], 200);
        assert_eq!(v["value"][0]["resourceData"]["resultInfo"]["subcode"], 5001);
        assert_eq!(v["value"][0]["resourceData"]["resultInfo"]["message"], "x");
    }
}
