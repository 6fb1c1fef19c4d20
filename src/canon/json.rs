//! Canonical JSON: strict parsing within limits, a sorted-key pretty rendering, placeholder
//! substitution, redaction by JSON pointer and a "documented fields are present" subset check.

use super::{CanonError, Limits, Placeholder, substitute};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// The deepest nesting serde_json accepts (its built-in recursion limit of 128 counts the
/// level it refuses), whatever `Limits::max_depth` says.
pub const SERDE_JSON_MAX_DEPTH: usize = 127;

fn err(message: String, offset: Option<u64>) -> CanonError {
    CanonError { message, offset }
}

/// Strict JSON from the wire, within the limits.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Value, CanonError> {
    if input.len() > limits.max_bytes {
        return Err(err(
            format!(
                "JSON: body is {} bytes, more than the limit of {} bytes",
                input.len(),
                limits.max_bytes
            ),
            None,
        ));
    }
    let value: Value = serde_json::from_slice(input).map_err(|e| parse_error(&e, input, limits))?;
    check_shape(&value, limits)?;
    Ok(value)
}

/// Depth and node count of a parsed value, without recursion. Each array or object is one
/// level: `[[1]]` is two deep.
fn check_shape(value: &Value, limits: &Limits) -> Result<(), CanonError> {
    let mut nodes = 0usize;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((v, depth)) = stack.pop() {
        nodes += 1;
        if nodes > limits.max_nodes {
            return Err(err(
                format!("JSON: more than {} values", limits.max_nodes),
                None,
            ));
        }
        match v {
            Value::Array(_) | Value::Object(_) if depth > limits.max_depth => {
                return Err(too_deep(limits.max_depth, None));
            }
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
            Value::Object(m) => stack.extend(m.values().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

fn too_deep(max: usize, offset: Option<u64>) -> CanonError {
    err(format!("JSON: nesting deeper than {max} levels"), offset)
}

/// Byte offset of serde_json's 1-based line and column.
fn offset_of(input: &[u8], line: usize, column: usize) -> u64 {
    let mut start = 0usize;
    if line > 1 {
        let mut seen = 1;
        for (i, b) in input.iter().enumerate() {
            if *b == b'\n' {
                seen += 1;
                if seen == line {
                    start = i + 1;
                    break;
                }
            }
        }
    }
    (start + column.saturating_sub(1)).min(input.len()) as u64
}

fn parse_error(e: &serde_json::Error, input: &[u8], limits: &Limits) -> CanonError {
    let (line, column) = (e.line(), e.column());
    let offset = offset_of(input, line, column);
    let msg = e.to_string();
    // serde_json appends " at line L column C"; keep the reason, give the place ourselves.
    let reason = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg.as_str(),
    };
    if let Err(u) = std::str::from_utf8(input)
        && u.valid_up_to() as u64 <= offset
    {
        return err(
            "JSON: input is not valid UTF-8".into(),
            Some(u.valid_up_to() as u64),
        );
    }
    let place = format!("line {line} column {column}");
    let message = if reason.starts_with("recursion limit exceeded") {
        return too_deep(limits.max_depth.min(SERDE_JSON_MAX_DEPTH), Some(offset));
    } else if reason.starts_with("trailing characters") {
        format!("JSON: unexpected content after the value, at {place}")
    } else if input.iter().all(u8::is_ascii_whitespace) {
        return err("JSON: no value (the body is empty)".into(), Some(0));
    } else if reason == "expected ident" {
        format!("JSON: invalid literal (expected `true`, `false` or `null`), at {place}")
    } else if e.is_eof() {
        format!("JSON: input ends in the middle of a value ({reason}), at {place}")
    } else {
        format!("JSON: {reason}, at {place}")
    };
    err(message, Some(offset))
}

/// JSON as documentation prints it: trailing commas before `}`/`]` are tolerated.
///
/// Commas inside strings are left alone. A byte-order mark and trailing whitespace lines
/// are accepted; everything else must be strict JSON.
pub fn parse_documented(input: &str) -> Result<Value, CanonError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let cleaned = strip_trailing_commas(input);
    parse(cleaned.as_bytes(), &Limits::default())
}

/// Removes each `,` that (ignoring whitespace) directly precedes a `}` or `]`, outside strings.
fn strip_trailing_commas(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b',' => {
                let next = bytes[i + 1..]
                    .iter()
                    .find(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'));
                if matches!(next, Some(b'}' | b']')) {
                    out.push_str(&input[from..i]);
                    from = i + 1;
                }
            }
            _ => {}
        }
    }
    out.push_str(&input[from..]);
    out
}

/// Serialises a value with object keys in sorted order whatever map type serde_json uses
/// (its `preserve_order` feature keeps insertion order, and any crate may turn it on).
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                if m.keys().is_sorted() {
                    for (k, v) in m {
                        map.serialize_entry(k, &Sorted(v))?;
                    }
                } else {
                    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in entries {
                        map.serialize_entry(k, &Sorted(v))?;
                    }
                }
                map.end()
            }
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Sorted(v))?;
                }
                seq.end()
            }
            scalar => scalar.serialize(s),
        }
    }
}

/// Sorted keys, two-space indent, trailing newline.
pub fn render(value: &Value) -> String {
    let mut buf = Vec::with_capacity(128);
    if let Err(e) = serde_json::to_writer_pretty(&mut buf, &Sorted(value)) {
        // Writing a `Value` into memory cannot fail; say so visibly if it ever does.
        return format!("<JSON could not be rendered: {e}>\n");
    }
    buf.push(b'\n');
    match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Replaces each placeholder value, wherever it occurs inside a string value, by `[name]`.
/// Object keys are left alone. Where two values could match at the same place, the longer wins.
pub fn apply_placeholders(value: &mut Value, placeholders: &[Placeholder<'_>]) {
    if placeholders.iter().all(|(v, _)| v.is_empty()) {
        return;
    }
    let mut stack: Vec<&mut Value> = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Some(new) = substitute(s, placeholders) {
                    *s = new;
                }
            }
            Value::Array(a) => stack.extend(a.iter_mut()),
            Value::Object(m) => stack.extend(m.values_mut()),
            _ => {}
        }
    }
}

/// Unescapes one RFC 6901 reference token.
fn unescape_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Escapes a key as an RFC 6901 reference token.
fn escape_token(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// Replaces the values at these JSON pointers (`*` = any array index or key) by `"[redacted]"`.
///
/// The empty pointer is the whole value. Paths that do not exist are ignored; so is a
/// pointer that does not start with `/`. A literal `*` key cannot be addressed.
pub fn redact(value: &mut Value, pointers: &[String]) {
    for pointer in pointers {
        if pointer.is_empty() {
            *value = Value::String("[redacted]".into());
            continue;
        }
        let Some(rest) = pointer.strip_prefix('/') else {
            continue;
        };
        let tokens: Vec<String> = rest.split('/').map(unescape_token).collect();
        let mut frontier: Vec<&mut Value> = vec![&mut *value];
        for (i, token) in tokens.iter().enumerate() {
            let last = i + 1 == tokens.len();
            let mut next: Vec<&mut Value> = Vec::new();
            for v in frontier {
                let any = token == "*";
                match v {
                    Value::Object(m) => {
                        if any {
                            next.extend(m.values_mut());
                        } else {
                            next.extend(m.get_mut(token.as_str()));
                        }
                    }
                    Value::Array(a) => {
                        if any {
                            next.extend(a.iter_mut());
                        } else if let Some(idx) = array_index(token) {
                            next.extend(a.get_mut(idx));
                        }
                    }
                    _ => {}
                }
            }
            if last {
                for v in next {
                    *v = Value::String("[redacted]".into());
                }
                break;
            }
            frontier = next;
        }
    }
}

/// An RFC 6901 array index: `0` or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok()
}

/// The result of checking that every documented field is present with its documented value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubsetReport {
    /// (JSON pointer, expected, actual or None when absent)
    pub mismatches: Vec<(String, Value, Option<Value>)>,
    /// JSON pointers present in `actual` but not documented.
    pub extra: Vec<String>,
}

impl SubsetReport {
    /// No documented field is missing or different (undocumented extras are allowed).
    pub fn is_match(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Checks that `actual` has every field of `expected` with an equal value.
///
/// Objects are compared key by key (extra keys in `actual` are listed in `extra`, not
/// descended into); arrays must have the same length and match element by element;
/// scalars must be equal including their type, so `"200"` does not match `200`.
pub fn subset(expected: &Value, actual: &Value) -> SubsetReport {
    let mut report = SubsetReport::default();
    let mut pointer = String::new();
    subset_at(expected, actual, &mut pointer, &mut report);
    // Deterministic whatever order the maps iterate in.
    report.mismatches.sort_by(|a, b| a.0.cmp(&b.0));
    report.extra.sort();
    report
}

fn subset_at(expected: &Value, actual: &Value, pointer: &mut String, report: &mut SubsetReport) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape_token(k));
                match a.get(k) {
                    Some(av) => subset_at(ev, av, pointer, report),
                    None => report.mismatches.push((pointer.clone(), ev.clone(), None)),
                }
                pointer.truncate(len);
            }
            for k in a.keys() {
                if !e.contains_key(k) {
                    report.extra.push(format!("{pointer}/{}", escape_token(k)));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                subset_at(ev, av, pointer, report);
                pointer.truncate(len);
            }
        }
        (e, a) => {
            if e != a {
                report
                    .mismatches
                    .push((pointer.clone(), e.clone(), Some(a.clone())));
            }
        }
    }
}

/// The value at a JSON pointer, for captures.
pub fn select<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    value.pointer(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> Limits {
        Limits::default()
    }

    fn p(s: &str) -> Value {
        match parse(s.as_bytes(), &limits()) {
            Ok(v) => v,
            Err(e) => panic!("{e}\n{s}"),
        }
    }

    /// The terminating notification of the Graph call-delete page, abridged.
    const NOTIFICATION: &str = r##"{
  "@odata.type": "#microsoft.graph.commsNotifications",
  "value": [
    {
      "@odata.type": "#microsoft.graph.commsNotification",
      "changeType": "deleted",
      "resourceUrl": "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896",
      "resourceData": {
        "@odata.type": "#microsoft.graph.call",
        "state": "terminated",
        "resultInfo": {
          "@odata.type": "#microsoft.graph.resultInfo",
          "code": "200",
          "subcode": "5001",
          "message": "The conversation has ended."
        },
      }
    }
  ]
}
"##;

    #[test]
    fn render_sorts_keys_and_pretty_prints() {
        let v = p(r#"{"b":1,"a":{"d":[1,"x",null],"c":true},"@odata.type":"t"}"#);
        let expected = r#"{
  "@odata.type": "t",
  "a": {
    "c": true,
    "d": [
      1,
      "x",
      null
    ]
  },
  "b": 1
}
"#;
        assert_eq!(render(&v), expected);
    }

    #[test]
    fn key_order_does_not_matter() {
        assert_eq!(
            render(&p(r#"{"x":{"b":2,"a":1},"y":[{"d":4,"c":3}]}"#)),
            render(&p(r#"{"y":[{"c":3,"d":4}],"x":{"a":1,"b":2}}"#))
        );
    }

    #[test]
    fn documented_json_with_trailing_commas() {
        let v = match parse_documented(&format!("{NOTIFICATION}\n   \n\n")) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            v.pointer("/value/0/resourceData/resultInfo/code"),
            Some(&json!("200"))
        );
        // Strict parsing refuses the same text.
        let e = parse(NOTIFICATION.as_bytes(), &limits()).unwrap_err();
        assert!(e.message.starts_with("JSON: trailing comma"), "{e}");
        assert_eq!(
            e.offset,
            Some(NOTIFICATION.find("},\n      }").unwrap() as u64 + 9)
        );
        // Commas in strings stay.
        let v = parse_documented(r#"{"a": "x,}", "b": [1, 2, ], }"#).unwrap();
        assert_eq!(v, json!({"a": "x,}", "b": [1, 2]}));
        let v = parse_documented(r#"{"a": "q\",]" , }"#).unwrap();
        assert_eq!(v, json!({"a": "q\",]"}));
    }

    #[test]
    fn parse_errors_read_well() {
        let e = parse(b"{\"a\": 1} x", &limits()).unwrap_err();
        assert_eq!(
            e.message,
            "JSON: unexpected content after the value, at line 1 column 10"
        );
        assert_eq!(e.offset, Some(9));
        let e = parse(b"{\"a\": \"\xff\"}", &limits()).unwrap_err();
        assert_eq!(e.message, "JSON: input is not valid UTF-8");
        assert_eq!(e.offset, Some(7));
        let e = parse(b"  \n", &limits()).unwrap_err();
        assert_eq!(e.message, "JSON: no value (the body is empty)");
        let e = parse(b"{\"a\": [1,", &limits()).unwrap_err();
        assert!(
            e.message.starts_with("JSON: input ends in the middle"),
            "{e}"
        );
        let e = parse(b"{\n  \"a\": tru }", &limits()).unwrap_err();
        assert_eq!(
            e.message,
            "JSON: invalid literal (expected `true`, `false` or `null`), at line 2 column 11"
        );
        assert_eq!(e.offset, Some(12));
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = parse(deep.as_bytes(), &limits()).unwrap_err();
        assert_eq!(e.message, "JSON: nesting deeper than 127 levels");
        let small = Limits {
            max_depth: 3,
            max_bytes: 100,
            max_nodes: 5,
        };
        assert!(parse(b"[[[1]]]", &small).is_ok());
        assert!(parse(b"[{\"a\":[]}]", &small).is_ok());
        assert!(parse(b"[[[[]]]]", &small).is_err());
        assert!(parse(b"[{\"a\":[{}]}]", &small).is_err());
        // serde_json's own limit: 127 levels pass, 128 do not.
        let at = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(at(127).as_bytes(), &limits()).is_ok());
        let e = parse(at(128).as_bytes(), &limits()).unwrap_err();
        assert_eq!(e.message, "JSON: nesting deeper than 127 levels");
        assert_eq!(e.offset, Some(127));
        assert_eq!(
            parse(b"[1,2,3,4,5]", &small).unwrap_err().message,
            "JSON: more than 5 values"
        );
        let e = parse(&[b' '; 101], &small).unwrap_err();
        assert_eq!(
            e.message,
            "JSON: body is 101 bytes, more than the limit of 100 bytes"
        );
    }

    #[test]
    fn placeholders_in_strings_only() {
        let mut v = json!({"id": "57dab8", "57dab8": ["x/57dab8/y", 57]});
        apply_placeholders(&mut v, &[("57dab8", "call_id")]);
        assert_eq!(
            v,
            json!({"id": "[call_id]", "57dab8": ["x/[call_id]/y", 57]})
        );
    }

    #[test]
    fn redact_with_wildcards() {
        let mut v = json!({
            "value": [
                {"id": "1", "resourceData": {"id": "a", "keep": 1}},
                {"id": "2", "resourceData": {"id": "b"}},
                {"id": "3"}
            ],
            "a/b": {"~": 1},
            "top": 2
        });
        redact(
            &mut v,
            &[
                "/value/*/resourceData/id".into(),
                "/a~1b/~0".into(),
                "/missing/x".into(),
                "/value/9".into(),
                "/value/01".into(),
            ],
        );
        assert_eq!(
            v,
            json!({
                "value": [
                    {"id": "1", "resourceData": {"id": "[redacted]", "keep": 1}},
                    {"id": "2", "resourceData": {"id": "[redacted]"}},
                    {"id": "3"}
                ],
                "a/b": {"~": "[redacted]"},
                "top": 2
            })
        );
        redact(&mut v, &["/value/*".into()]);
        assert_eq!(
            v["value"],
            json!(["[redacted]", "[redacted]", "[redacted]"])
        );
        redact(&mut v, &["".into()]);
        assert_eq!(v, json!("[redacted]"));
    }

    #[test]
    fn subset_reports_mismatches_and_extras() {
        let expected = json!({
            "@odata.type": "#microsoft.graph.call",
            "state": "terminated",
            "resultInfo": {"code": "200", "subcode": "5001"},
            "targets": [{"id": "x"}],
            "gone": null
        });
        let actual = json!({
            "@odata.type": "#microsoft.graph.call",
            "state": "terminated",
            "resultInfo": {"code": 200, "subcode": "5001", "message": "m"},
            "targets": [{"id": "x", "extra": {"deep": 1}}],
            "a/b": 1
        });
        let r = subset(&expected, &actual);
        assert_eq!(
            r.mismatches,
            vec![
                ("/gone".to_string(), Value::Null, None),
                (
                    "/resultInfo/code".to_string(),
                    json!("200"),
                    Some(json!(200))
                ),
            ]
        );
        assert_eq!(
            r.extra,
            vec!["/a~1b", "/resultInfo/message", "/targets/0/extra"]
        );
        assert!(!r.is_match());
        let r = subset(&json!({"a": [1, 2]}), &json!({"a": [1, 2, 3]}));
        assert_eq!(
            r.mismatches,
            vec![("/a".to_string(), json!([1, 2]), Some(json!([1, 2, 3])))]
        );
        let r = subset(&json!({"a": {"b": 1}}), &json!({"a": [1]}));
        assert_eq!(r.mismatches.len(), 1);
        assert!(subset(&actual, &actual).is_match());
        assert!(subset(&actual, &actual).extra.is_empty());
    }

    #[test]
    fn select_by_pointer() {
        let v = p(NOTIFICATION.replace("},\n      }", "}\n      }").as_str());
        assert_eq!(
            select(&v, "/value/0/resourceData/state"),
            Some(&json!("terminated"))
        );
        assert_eq!(select(&v, "/value/1"), None);
    }
}
