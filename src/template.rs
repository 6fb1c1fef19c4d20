//! `{{var}}` placeholders in paths, headers and bodies, each value escaped for where it is
//! spliced ([`render_in`]).

use std::collections::BTreeMap;

/// Checks the placeholder syntax without values, so a broken case fails at load time.
pub fn check(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!(
                "unterminated placeholder `{}`",
                &rest[start..(start + 20).min(rest.len())]
            ));
        };
        let name = after[..end].trim();
        if !crate::diag::valid_var_name(name) {
            return Err(format!("`{{{{{name}}}}}` is not a variable name"));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Every variable name the text refers to.
pub fn names(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// Fills placeholders verbatim ([`Context::Plain`]); a variable without a value is an
/// error naming it.
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    render_in(text, vars, Context::Plain)
}

/// Where a placeholder's value is spliced, which decides how it is escaped: a captured
/// value is data, never markup, so a CallId holding `&` or a call id holding `/` reaches
/// the target as that value and not as XML or as another path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A request path and query: percent-encoded as a path segment, a query value, or (a
    /// placeholder the path starts with, such as `{{um_endpoint}}`) a path of its own.
    Path,
    /// An XML document: `&`, `<`, `>`, `"` and `'` become entity references, which is
    /// right in both text and attribute values.
    XmlBody,
    /// A JSON document: JSON string escaping inside string literals (`"{{var}}"`); a
    /// placeholder outside quotes is a literal the case author chose (a number) and is
    /// spliced as is.
    JsonBody,
    /// A header value: spliced as is, but a value holding CR, LF or NUL is refused (it
    /// would end the header and start another).
    Header,
    /// Verbatim.
    Plain,
}

impl Context {
    /// The context for a request body: its `Content-Type` when the step gives one, else
    /// what the body starts with.
    pub fn for_body(headers: &BTreeMap<String, String>, body: &str) -> Context {
        let media = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        match media.as_deref() {
            Some(m) if m == "application/json" || m.ends_with("+json") => Context::JsonBody,
            Some(m) if m.ends_with("/xml") || m.ends_with("+xml") => Context::XmlBody,
            Some(_) => Context::Plain,
            None => match body.trim_start().chars().next() {
                Some('<') => Context::XmlBody,
                Some('{' | '[') => Context::JsonBody,
                _ => Context::Plain,
            },
        }
    }
}

/// Fills placeholders, escaping each value for where it lands (see [`Context`]); a
/// variable without a value is an error naming it.
pub fn render_in(
    text: &str,
    vars: &BTreeMap<String, String>,
    ctx: Context,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut scan = Scan::default();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let literal = &rest[..start];
        out.push_str(literal);
        scan.feed(ctx, literal);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("unterminated placeholder".into());
        };
        let name = after[..end].trim();
        let Some(value) = vars.get(name) else {
            return Err(format!(
                "variable `{name}` has no value (give it with --var {name}=...)"
            ));
        };
        let spliced = match ctx {
            Context::Plain => value.clone(),
            Context::Path if scan.in_query => encode(value, QUERY_KEEP),
            Context::Path if out.is_empty() => encode(value, PATH_KEEP),
            Context::Path => encode(value, SEGMENT_KEEP),
            Context::XmlBody => xml_escape(name, value)?,
            Context::JsonBody if scan.in_string => json_escape(value),
            Context::JsonBody => value.clone(),
            Context::Header => {
                if value.contains(['\r', '\n', '\0']) {
                    return Err(format!(
                        "variable `{name}` holds a line break or NUL, which cannot go into a header value"
                    ));
                }
                value.clone()
            }
        };
        out.push_str(&spliced);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What the template's literal text says about the next placeholder's position.
#[derive(Default)]
struct Scan {
    /// Past the path's `?` (or `#`).
    in_query: bool,
    /// Inside a JSON string literal.
    in_string: bool,
    /// The previous character was a backslash inside a JSON string.
    escaped: bool,
}

impl Scan {
    fn feed(&mut self, ctx: Context, literal: &str) {
        match ctx {
            Context::Path => self.in_query |= literal.contains(['?', '#']),
            Context::JsonBody => {
                for c in literal.chars() {
                    if self.escaped {
                        self.escaped = false;
                    } else if self.in_string && c == '\\' {
                        self.escaped = true;
                    } else if c == '"' {
                        self.in_string = !self.in_string;
                    }
                }
            }
            _ => {}
        }
    }
}

/// Bytes kept as they are in a path segment besides the unreserved ones: RFC 3986's pchar
/// sub-delimiters, `:` and `@`, without `;` (some servers cut path parameters at it).
const SEGMENT_KEEP: &[u8] = b"!$&'()*+,=:@";
/// A placeholder the path starts with is a path (an endpoint): `/` and existing
/// `%`-escapes are kept, only what no path may hold is encoded.
const PATH_KEEP: &[u8] = b"!$&'()*+,;=:@/%";
/// A query value keeps only the unreserved bytes: `&`, `=`, `+` and `#` would change
/// the query's meaning.
const QUERY_KEEP: &[u8] = b"";

/// Percent-encodes every byte of `value`'s UTF-8 except the unreserved ones and `keep`.
fn encode(value: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `value` as one path segment, `/` and all: how a call id goes into a URL.
pub fn encode_segment(value: &str) -> String {
    encode(value, SEGMENT_KEEP)
}

/// Undoes percent-encoding (`%2F` → `/`); a `%` not followed by two hex digits stays as
/// it is, and a result that is not UTF-8 leaves the input unchanged. `+` is not a space
/// here: this is for paths (a `resourceUrl`), not form bodies.
pub fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return s.into();
    }
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits make a byte (h * 16 + l < 256).
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(d) => d.into(),
        Err(_) => s.into(),
    }
}

/// XML 1.0 escaping for text and attribute values. Characters XML 1.0 cannot carry at all
/// (most C0 controls) are refused: no escape makes them well-formed.
fn xml_escape(name: &str, value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                return Err(format!(
                    "variable `{name}` holds U+{:04X}, which an XML 1.0 document cannot carry",
                    c as u32
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The inside of a JSON string literal holding `value`.
fn json_escape(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_reports_missing() {
        let mut vars = BTreeMap::new();
        vars.insert("call_id".to_string(), "abc".to_string());
        assert_eq!(
            render("/calls/{{call_id}}/x", &vars).unwrap(),
            "/calls/abc/x"
        );
        let err = render("{{nope}}", &vars).unwrap_err();
        assert!(err.contains("`nope`"), "{err}");
        assert!(check("{{ok}} {{bad").is_err());
        assert!(check("{{not a name}}").is_err());
        assert_eq!(names("a {{x}} b {{ y }}"), vec!["x", "y"]);
    }

    /// Values a target may hand back as an id: markup, path and query syntax, quotes.
    const HOSTILE: &str = "a&b<c>d\"e'f/g?h i#j%k+l=m;n\\o";

    fn one(name: &str, value: &str) -> BTreeMap<String, String> {
        [(name.to_owned(), value.to_owned())].into()
    }

    #[test]
    fn xml_bodies_stay_well_formed_and_carry_the_value() {
        let doc = "<Envelope><Body><GetCallInfo a=\"{{id}}\"><CallId>{{id}}</CallId></GetCallInfo></Body></Envelope>";
        let out = render_in(doc, &one("id", HOSTILE), Context::XmlBody).unwrap();
        let root =
            crate::canon::xml::canonicalize(out.as_bytes(), &crate::canon::Limits::default())
                .expect("well-formed XML");
        assert_eq!(
            crate::canon::xml::select_text(&root, "/Envelope/Body/GetCallInfo/CallId").as_deref(),
            Some(HOSTILE)
        );
        assert!(
            out.contains(r#"a="a&amp;b&lt;c&gt;d&quot;e&apos;f"#),
            "{out}"
        );
        let err = render_in("<a>{{id}}</a>", &one("id", "x\u{1}"), Context::XmlBody).unwrap_err();
        assert!(err.contains("`id`") && err.contains("U+0001"), "{err}");
    }

    #[test]
    fn json_bodies_escape_inside_strings_only() {
        let doc = r#"{"callbackUri": "{{id}}", "n": {{n}}, "s": "x \" {{id}} y"}"#;
        let mut vars = one("id", HOSTILE);
        vars.insert("n".into(), "42".into());
        let out = render_in(doc, &vars, Context::JsonBody).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(v["callbackUri"], HOSTILE);
        assert_eq!(v["n"], 42);
        assert_eq!(v["s"], format!("x \" {HOSTILE} y"));
    }

    #[test]
    fn paths_encode_segments_queries_and_keep_a_leading_endpoint() {
        let vars: BTreeMap<String, String> = [
            ("call_id".to_owned(), "a/b?c d".to_owned()),
            ("ep".to_owned(), "/EWS/UM 2007.asmx".to_owned()),
            ("q".to_owned(), "x&y=z+1".to_owned()),
        ]
        .into();
        assert_eq!(
            render_in("/communications/calls/{{call_id}}", &vars, Context::Path).unwrap(),
            "/communications/calls/a%2Fb%3Fc%20d"
        );
        assert_eq!(
            render_in("{{ep}}?wsdl&x={{q}}", &vars, Context::Path).unwrap(),
            "/EWS/UM%202007.asmx?wsdl&x=x%26y%3Dz%2B1"
        );
        let hostile = render_in("/calls/{{id}}", &one("id", HOSTILE), Context::Path).unwrap();
        let seg = hostile.strip_prefix("/calls/").unwrap();
        assert!(
            !seg.contains(['/', '?', '#', ' ', '"', '<', ';', '\\']),
            "{seg}"
        );
        assert_eq!(percent_decode(seg), HOSTILE);
        // A UUID, the common case, is untouched.
        let uuid = "57dab8b1-894c-409a-b240-bd8beae78896";
        assert_eq!(encode_segment(uuid), uuid);
    }

    #[test]
    fn headers_refuse_line_breaks_without_echoing_the_value() {
        let err = render_in(
            "Bearer {{t}}",
            &one("t", "abc\r\nX-Evil: 1"),
            Context::Header,
        )
        .unwrap_err();
        assert!(err.contains("`t`") && !err.contains("Evil"), "{err}");
        assert_eq!(
            render_in("x {{t}}", &one("t", HOSTILE), Context::Header).unwrap(),
            format!("x {HOSTILE}")
        );
    }

    #[test]
    fn body_context_from_content_type_or_first_character() {
        let ct =
            |v: &str| -> BTreeMap<String, String> { [("content-type".into(), v.into())].into() };
        let none = BTreeMap::new();
        assert_eq!(
            Context::for_body(&ct("text/xml; charset=utf-8"), "{"),
            Context::XmlBody
        );
        assert_eq!(
            Context::for_body(&ct("application/soap+xml"), ""),
            Context::XmlBody
        );
        assert_eq!(
            Context::for_body(&ct("Application/JSON"), "<"),
            Context::JsonBody
        );
        assert_eq!(Context::for_body(&ct("text/plain"), "{"), Context::Plain);
        assert_eq!(Context::for_body(&none, "\n  <?xml"), Context::XmlBody);
        assert_eq!(Context::for_body(&none, " [1]"), Context::JsonBody);
        assert_eq!(Context::for_body(&none, "a=b"), Context::Plain);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%3fc%20d"), "a/b?c d");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%FF"), "%FF");
        assert_eq!(percent_decode("a+b"), "a+b");
        for s in ["", "plain", HOSTILE, "ünï/cödé"] {
            assert_eq!(percent_decode(&encode_segment(s)), s);
        }
    }
}
