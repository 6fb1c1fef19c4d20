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
}

pub use crate::text::{preview, preview_redacted};

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-token-value";

    #[test]
    fn a_secret_straddling_the_cut_leaves_no_prefix() {
        let secrets = vec![SECRET.to_owned()];
        for at in 0..40 {
            let body = format!("{}{SECRET} tail", "x".repeat(at));
            let p = preview_redacted(body.as_bytes(), 30, &secrets);
            for n in 4..=SECRET.len() {
                assert!(!p.contains(&SECRET[..n]), "cut at {at}: {p}");
            }
            if body.chars().count() > 30 && at + "[redacted]".len() + 5 > 30 {
                assert!(
                    p.ends_with(&format!("… ({} bytes in all)", body.len())),
                    "{p}"
                );
            }
        }
        // Cutting first would have kept a prefix: the reason for the helper.
        let naive = preview(format!("{}{SECRET}", "x".repeat(20)).as_bytes(), 30);
        assert!(naive.contains(&SECRET[..10]), "{naive}");
        assert_eq!(
            preview_redacted(b"\xff\xfe", 10, &secrets),
            "<2 bytes, not UTF-8>"
        );
        assert_eq!(preview_redacted(b"short", 10, &secrets), "short");
    }
}
