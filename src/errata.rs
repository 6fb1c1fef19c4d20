//! The errata table (`cases/errata.toml`): documentation errors, each corrected once with its
//! evidence, instead of silently editing the documented text in the cases.

use crate::case::Family;
use crate::diag::CaseError;
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
    pub applies_to: Vec<Part>,
    #[serde(default)]
    pub replace: Option<Replace>,
    /// JSON pointers (`*` = any index) whose string values become Int32 numbers.
    #[serde(default)]
    pub json_int: Vec<String>,
    pub summary: String,
    pub evidence: String,
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
        let errata: Errata = toml::from_str(&text).map_err(|e| CaseError {
            path: path.to_owned(),
            message: crate::diag::toml_error(&text, &e),
        })?;
        for er in &errata.errata {
            if er.replace.is_none() && er.json_int.is_empty() {
                return Err(CaseError {
                    path: path.to_owned(),
                    message: format!("erratum `{}`: give `replace` or `json_int`", er.id),
                });
            }
        }
        Ok(errata)
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
    fn resultinfo_strings_become_int32() {
        let e = table();
        let mut v = serde_json::json!({"value":[{"resourceData":{"resultInfo":{"code":"200","subcode":"5001","message":"x"}}}]});
        e.apply_json(Family::GRAPH, Part::Notification, &mut v);
        assert_eq!(v["value"][0]["resourceData"]["resultInfo"]["code"], 200);
        assert_eq!(v["value"][0]["resourceData"]["resultInfo"]["subcode"], 5001);
        assert_eq!(v["value"][0]["resourceData"]["resultInfo"]["message"], "x");
    }
}
