//! Captures: values a step hands to later steps (the CallId of a PlayOnPhone answer,
//! the id of a created Graph call), taken by a small selector language:
//!
//! - `xpath:/Envelope/Body/PlayOnPhoneResponse/PlayOnPhoneResponse`: element text by local names;
//! - `json:/id`: a JSON pointer into the body (strings and numbers);
//! - `header:Location`, `header:Location#last-segment`: a response header, or its last path
//!   segment percent-decoded.

use crate::response::Response;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    XPath(String),
    Json(String),
    Header { name: String, last_segment: bool },
}

impl Selector {
    pub fn parse(s: &str) -> Result<Selector, String> {
        let (kind, arg) = s
            .split_once(':')
            .ok_or_else(|| format!("selector `{s}` needs a kind: xpath:, json: or header:"))?;
        match kind {
            "xpath" if arg.starts_with('/') && arg.len() > 1 => Ok(Selector::XPath(arg.into())),
            "json" if arg.is_empty() || arg.starts_with('/') => Ok(Selector::Json(arg.into())),
            "header" => {
                let (name, last_segment) = match arg.split_once('#') {
                    Some((n, "last-segment")) => (n, true),
                    Some((_, other)) => return Err(format!("unknown header modifier `#{other}`")),
                    None => (arg, false),
                };
                if name.is_empty() {
                    return Err(format!("selector `{s}` names no header"));
                }
                Ok(Selector::Header {
                    name: name.into(),
                    last_segment,
                })
            }
            "xpath" | "json" => Err(format!("selector `{s}`: the path must start with `/`")),
            other => Err(format!(
                "unknown selector kind `{other}:` (use xpath:, json: or header:)"
            )),
        }
    }

    /// The captured value, or why there is none.
    pub fn apply(&self, resp: &Response) -> Result<String, String> {
        match self {
            Selector::XPath(path) => {
                let root = resp.xml().map_err(|e| format!("body is not XML: {e}"))?;
                crate::canon::xml::select_text(root, path)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| format!("no element at {path}"))
            }
            Selector::Json(ptr) => {
                let v = resp.json().map_err(|e| format!("body is not JSON: {e}"))?;
                match crate::canon::json::select(v, ptr) {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                    Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                    Some(other) => Err(format!("{ptr} is {other}, not a string")),
                    None => Err(format!("no value at {ptr}")),
                }
            }
            Selector::Header { name, last_segment } => {
                let v = resp
                    .header(name)
                    .ok_or_else(|| format!("no `{name}` header"))?;
                if *last_segment {
                    let trimmed = v
                        .split(['?', '#'])
                        .next()
                        .unwrap_or("")
                        .trim_end_matches('/');
                    // A segment is percent-encoded; the value is what it encodes (it is
                    // encoded again where it is spliced into a path).
                    match trimmed.rsplit('/').next() {
                        Some(seg) if !seg.is_empty() => {
                            Ok(crate::template::percent_decode(seg).into_owned())
                        }
                        _ => Err(format!("`{name}` header has no path segment")),
                    }
                } else {
                    Ok(v.to_owned())
                }
            }
        }
    }
}

/// Tries each selector in order; the error lists why each one failed.
pub fn capture(selectors: &[String], resp: &Response) -> Result<String, String> {
    let mut why = Vec::new();
    for s in selectors {
        match Selector::parse(s).and_then(|sel| sel.apply(resp)) {
            Ok(v) => return Ok(v),
            Err(e) => why.push(format!("{s}: {e}")),
        }
    }
    Err(why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!(
            Selector::parse("json:/id").unwrap(),
            Selector::Json("/id".into())
        );
        assert_eq!(
            Selector::parse("header:Location#last-segment").unwrap(),
            Selector::Header {
                name: "Location".into(),
                last_segment: true
            }
        );
        assert!(Selector::parse("xpath:Envelope").is_err());
        assert!(Selector::parse("css:.x").is_err());
        assert!(Selector::parse("header:Location#first").is_err());
    }

    #[test]
    fn last_segment_is_percent_decoded() {
        let resp = Response::new(
            201,
            vec![(
                "location".into(),
                "https://g.test/v1.0/communications/calls/a%2Fb%3Fc%20d".into(),
            )],
            bytes::Bytes::new(),
            std::time::Duration::ZERO,
        );
        let sel = Selector::parse("header:Location#last-segment").unwrap();
        assert_eq!(sel.apply(&resp).as_deref(), Ok("a/b?c d"));
    }
}
