//! Captures: values a step hands to later steps (the CallId of a PlayOnPhone answer,
//! the id of a created Graph call), taken by a small selector language:
//!
//! - `xpath:/Envelope/Body/PlayOnPhoneResponse/PlayOnPhoneResponse`: element text by local names;
//! - `json:/id`: a JSON pointer into the body (strings and numbers);
//! - `header:Location`, `header:Location#last-segment`: a response header, or its last path segment;
//! - `notification:/value/0/resourceUrl#last-segment`: a JSON pointer into the step's first
//!   matched notification (trigger steps: the id of the call the target offered).

use crate::response::Response;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    XPath(String),
    Json(String),
    Header { name: String, last_segment: bool },
    Notification { pointer: String, last_segment: bool },
}

/// The last path segment of a URL-ish value (`/communications/calls/abc` → `abc`),
/// percent-decoded: ids are spliced back into paths by the template, which encodes them.
fn last_segment(v: &str) -> Option<String> {
    let trimmed = v
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    let seg = trimmed.rsplit('/').next().filter(|s| !s.is_empty())?;
    Some(crate::template::percent_decode(seg).into_owned())
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
            "notification" => {
                let (pointer, last_segment) = match arg.split_once('#') {
                    Some((p, "last-segment")) => (p, true),
                    Some((_, other)) => return Err(format!("unknown modifier `#{other}`")),
                    None => (arg, false),
                };
                if !pointer.starts_with('/') {
                    return Err(format!("selector `{s}`: the pointer must start with `/`"));
                }
                Ok(Selector::Notification {
                    pointer: pointer.into(),
                    last_segment,
                })
            }
            "xpath" | "json" => Err(format!("selector `{s}`: the path must start with `/`")),
            other => Err(format!(
                "unknown selector kind `{other}:` (use xpath:, json:, header: or notification:)"
            )),
        }
    }

    /// The captured value from a notification body, or why there is none.
    pub fn apply_notification(&self, body: &serde_json::Value) -> Result<String, String> {
        let Selector::Notification {
            pointer,
            last_segment: last,
        } = self
        else {
            return Err("only notification: selectors read a notification".into());
        };
        let v = match body.pointer(pointer) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(other) => return Err(format!("{pointer} is {other}, not a string")),
            None => return Err(format!("no value at {pointer}")),
        };
        if *last {
            last_segment(&v).ok_or_else(|| format!("{pointer} has no path segment"))
        } else {
            Ok(v)
        }
    }

    /// The captured value, or why there is none.
    pub fn apply(&self, resp: &Response) -> Result<String, String> {
        match self {
            Selector::Notification { .. } => Err(
                "a notification: selector reads the step's notification, not its response".into(),
            ),
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
            Selector::Header {
                name,
                last_segment: last,
            } => {
                let v = resp
                    .header(name)
                    .ok_or_else(|| format!("no `{name}` header"))?;
                if *last {
                    last_segment(v).ok_or_else(|| format!("`{name}` header has no path segment"))
                } else {
                    Ok(v.to_owned())
                }
            }
        }
    }
}

/// Tries each `notification:` selector in order against a notification body.
pub fn capture_notification(
    selectors: &[String],
    body: &serde_json::Value,
) -> Result<String, String> {
    let mut why = Vec::new();
    for s in selectors {
        match Selector::parse(s).and_then(|sel| sel.apply_notification(body)) {
            Ok(v) => return Ok(v),
            Err(e) => why.push(format!("{s}: {e}")),
        }
    }
    Err(why.join("; "))
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
        assert!(Selector::parse("notification:value").is_err());
    }

    #[test]
    fn a_notification_selector_takes_the_offered_call_id_decoded() {
        let body =
            serde_json::json!({"value": [{"resourceUrl": "/communications/calls/a%2Fb%20c"}]});
        assert_eq!(
            capture_notification(
                &["notification:/value/0/resourceUrl#last-segment".into()],
                &body
            ),
            Ok("a/b c".to_owned())
        );
        assert!(
            capture_notification(&["notification:/value/1/resourceUrl".into()], &body).is_err()
        );
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
