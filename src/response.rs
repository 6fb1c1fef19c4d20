//! Stage 3: what came back, as plain data. Parsed forms are computed once, on demand.

use crate::canon::{self, CanonError, Limits};
use bytes::Bytes;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub elapsed: Duration,
    limits: Limits,
    xml: OnceLock<Result<canon::xml::Element, CanonError>>,
    json: OnceLock<Result<serde_json::Value, CanonError>>,
}

impl Response {
    pub fn new(
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
        elapsed: Duration,
    ) -> Self {
        Response {
            status,
            headers,
            body,
            elapsed,
            limits: Limits::default(),
            xml: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type without parameters, lower-cased (`text/xml`).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    pub fn xml(&self) -> Result<&canon::xml::Element, &CanonError> {
        self.xml
            .get_or_init(|| canon::xml::canonicalize(&self.body, &self.limits))
            .as_ref()
    }

    /// The canonical XML rendering of the body with `placeholders` substituted, streamed
    /// without building the tree that [`Response::xml`] keeps.
    pub fn xml_text(&self, placeholders: &[canon::Placeholder<'_>]) -> Result<String, CanonError> {
        canon::xml::canonical_text(&self.body, &self.limits, placeholders)
    }

    pub fn json(&self) -> Result<&serde_json::Value, &CanonError> {
        self.json
            .get_or_init(|| canon::json::parse(&self.body, &self.limits))
            .as_ref()
    }

    /// The body for a human: text when it is UTF-8, else a byte count, cut to `max` chars.
    pub fn body_preview(&self, max: usize) -> String {
        preview(&self.body, max)
    }
}

pub fn preview(body: &[u8], max: usize) -> String {
    match std::str::from_utf8(body) {
        Ok(s) if s.chars().count() > max => {
            let cut: String = s.chars().take(max).collect();
            format!("{cut}… ({} bytes in all)", body.len())
        }
        Ok(s) => s.to_owned(),
        Err(_) => format!("<{} bytes, not UTF-8>", body.len()),
    }
}
