//! Just enough JSON to write notification bodies with a chosen key order: the documents
//! print keys in a fixed order and `graph-keys-reordered` reverses it, while serde_json's
//! map would sort them.

use std::borrow::Cow;

use serde_json::Value;

/// A JSON value whose objects keep their keys in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum J {
    Null,
    Bool(bool),
    Num(i64),
    /// A number echoed from a request, written as parsed (any JSON number).
    Raw(String),
    Str(String),
    Obj(Vec<(Cow<'static, str>, J)>),
    Arr(Vec<J>),
}

impl J {
    /// An object from `(key, value)` pairs, in that order.
    pub(super) fn obj(pairs: Vec<(&'static str, J)>) -> J {
        J::Obj(
            pairs
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), v))
                .collect(),
        )
    }

    pub(super) fn str(s: impl Into<String>) -> J {
        J::Str(s.into())
    }

    /// Converts a parsed value (echoed request content); its keys come out sorted.
    pub(super) fn from_value(v: &Value) -> J {
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => J::Raw(n.to_string()),
            Value::String(s) => J::Str(s.clone()),
            Value::Array(a) => J::Arr(a.iter().map(J::from_value).collect()),
            Value::Object(m) => J::Obj(
                m.iter()
                    .map(|(k, v)| (Cow::Owned(k.clone()), J::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// Adds or replaces `key` in an object (no-op on other values).
    pub(super) fn set(&mut self, key: &'static str, value: J) {
        if let J::Obj(pairs) = self {
            match pairs.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => pairs.push((Cow::Borrowed(key), value)),
            }
        }
    }

    /// Serialises compactly; `reverse_keys` writes every object's keys in reverse order.
    pub(super) fn write(&self, reverse_keys: bool, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Str(s) => write_json_string(s, out),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Raw(n) => out.push_str(n),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(reverse_keys, out);
                }
                out.push(']');
            }
            J::Obj(pairs) => {
                out.push('{');
                let mut ordered: Vec<&(Cow<'static, str>, J)> = pairs.iter().collect();
                if reverse_keys {
                    ordered.reverse();
                }
                for (i, (k, v)) in ordered.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write(reverse_keys, out);
                }
                out.push('}');
            }
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_is_valid_and_ordered() {
        let j = J::obj(vec![
            ("b", J::str("x\"\\\u{1}é")),
            (
                "a",
                J::Arr(vec![J::Num(1), J::obj(vec![]), J::Null, J::Bool(true)]),
            ),
        ]);
        let mut s = String::new();
        j.write(false, &mut s);
        assert_eq!(s, r#"{"b":"x\"\\\u0001é","a":[1,{},null,true]}"#);
        let v: Value = serde_json::from_str(&s).expect("valid json");
        assert_eq!(v["b"], "x\"\\\u{1}é");
        let mut r = String::new();
        j.write(true, &mut r);
        assert!(r.starts_with(r#"{"a":"#));
    }

    #[test]
    fn from_value_round_trips() {
        let v = serde_json::json!({"k": [1, 2.5, "s", null, false, {"z": 1}]});
        let mut s = String::new();
        J::from_value(&v).write(false, &mut s);
        let back: Value = serde_json::from_str(&s).expect("json");
        assert_eq!(back["k"][0], 1);
        assert_eq!(back["k"][1], 2.5);
        assert_eq!(back["k"][5]["z"], 1);
    }

    #[test]
    fn set_replaces_or_appends() {
        let mut j = J::obj(vec![("a", J::Num(1))]);
        j.set("a", J::Num(2));
        j.set("b", J::Null);
        assert_eq!(j, J::obj(vec![("a", J::Num(2)), ("b", J::Null)]));
    }
}
