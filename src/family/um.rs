//! Exchange Unified Messaging web service (SOAP 1.1): request/response only.

use super::{Protocol, TargetUrl};
use crate::request::Target;

pub struct Um;

/// The profile option (`[um] soap_action`) choosing the SOAPAction form.
pub const SOAP_ACTION_OPTION: &str = "soap_action";

/// The case variable holding the endpoint path requests are POSTed to.
pub const ENDPOINT_VAR: &str = "um_endpoint";

impl Protocol for Um {
    fn name(&self) -> &'static str {
        "um"
    }
    fn title(&self) -> &'static str {
        "Exchange Unified Messaging web service (SOAP 1.1)"
    }
    /// WSDL-driven clients send the SOAPAction the WSDL declares; a case's own header wins.
    fn request_headers(&self, body: Option<&str>, target: &Target) -> Vec<(String, String)> {
        let form = target
            .options
            .get(SOAP_ACTION_OPTION)
            .and_then(|f| SoapAction::parse(f))
            .unwrap_or_default();
        body.and_then(|b| form.value_for(b))
            .map(|v| vec![("SOAPAction".to_owned(), v)])
            .unwrap_or_default()
    }
    /// A 404 on the UM endpoint usually means the endpoint path is wrong: say how to set it.
    fn status_hint(&self, expected: u16, got: u16, url: &str) -> Option<String> {
        (got == 404 && expected != 404).then(|| um_not_found_hint(url))
    }
    /// Clients name the service by its endpoint URL (`.../UnifiedMessaging/Service.asmx`,
    /// as zeep, SoapUI and the Exchange docs do); a plain base URL keeps the endpoint
    /// given separately, or the cases' default.
    fn target_from_url(&self, url: &str, given: Option<&str>) -> Result<TargetUrl, String> {
        let (base_url, endpoint) = split_um_url(
            "--um",
            url,
            given.map(|e| ("--um-endpoint/--var um_endpoint", e)),
        )?;
        Ok(TargetUrl {
            base_url,
            vars: endpoint
                .map(|e| vec![(ENDPOINT_VAR.to_owned(), e)])
                .unwrap_or_default(),
        })
    }
    fn endpoint_var(&self) -> Option<&'static str> {
        Some(ENDPOINT_VAR)
    }
}

/// The namespace UM operations live in; a SOAPAction is `<this>/<Operation>`.
const UM_MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// How UM requests carry the `SOAPAction` header (profile `[um] soap_action`).
///
/// WSDL-driven clients send the value the WSDL declares, quoted (SOAP 1.1 §6.1.1); ASMX
/// servers (Exchange 2007) route on it and fault without it, Exchange 2010+ ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SoapAction {
    /// `SOAPAction: "http://.../messages/<Operation>"`.
    #[default]
    Quoted,
    /// `SOAPAction: http://.../messages/<Operation>`, for servers that compare it verbatim.
    Unquoted,
    /// No header at all.
    None,
}

impl SoapAction {
    /// The profile spellings, for messages.
    pub const NAMES: &'static str = "\"quoted\" (default), \"unquoted\" or \"none\"";

    pub fn parse(s: &str) -> Option<SoapAction> {
        match s {
            "quoted" => Some(SoapAction::Quoted),
            "unquoted" => Some(SoapAction::Unquoted),
            "none" => Some(SoapAction::None),
            _ => None,
        }
    }

    /// The header value for a SOAP 1.1 request body, or `None` when this form sends none
    /// or the body names no operation.
    pub fn value_for(self, body: &str) -> Option<String> {
        if self == SoapAction::None {
            return None;
        }
        let op = soap_operation(body)?;
        Some(match self {
            SoapAction::Quoted => format!("\"{UM_MESSAGES_NS}/{op}\""),
            _ => format!("{UM_MESSAGES_NS}/{op}"),
        })
    }
}

/// The local name of the first child element of the SOAP 1.1 `Body`: the operation.
/// Reads only up to that element, so it costs a few hundred bytes of parsing per request.
pub fn soap_operation(body: &str) -> Option<String> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut r = quick_xml::reader::NsReader::from_str(body);
    let mut depth = 0usize;
    let mut in_body = false;
    loop {
        match r.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                if depth == 3 && in_body {
                    return Some(e.local_name().as_ref().to_owned());
                }
                if depth == 2 {
                    let (ns, local) = r.resolver().resolve_element(e.name());
                    in_body = local.as_ref() == "Body"
                        && matches!(ns, ResolveResult::Bound(n) if n.as_ref() == SOAP11_NS);
                }
            }
            Event::Empty(e) if depth == 2 && in_body => {
                return Some(e.local_name().as_ref().to_owned());
            }
            Event::End(_) => {
                if depth == 2 {
                    in_body = false;
                }
                depth = depth.checked_sub(1)?;
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Splits a UM URL into the base URL case paths are appended to and the endpoint path.
///
/// A URL whose path ends in `.asmx` (case-insensitive) is the endpoint URL, as zeep, SoapUI
/// and the Exchange docs give it: its origin is the base and its path the endpoint. A URL
/// ending in the `endpoint` given separately (`(key, path)`) is split there. Any other URL
/// is a base URL, and the endpoint stays the given one (`None`: the cases' default).
pub fn split_um_url(
    key: &str,
    url: &str,
    endpoint: Option<(&str, &str)>,
) -> Result<(String, Option<String>), String> {
    let u = url.trim();
    let (scheme, rest) = if let Some(r) = u.strip_prefix("https://") {
        ("https://", r)
    } else if let Some(r) = u.strip_prefix("http://") {
        ("http://", r)
    } else {
        return Err(format!(
            "{key} `{url}`: expected an http:// or https:// URL"
        ));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{key} `{url}`: no host"));
    }
    if u.contains(['?', '#']) {
        return Err(format!(
            "{key} `{url}`: a UM URL has no query or fragment (give the endpoint, not its ?wsdl)"
        ));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = path.trim_end_matches('/');
    let origin = format!("{scheme}{authority}");
    if let Some((_, e)) = endpoint {
        let e = e.trim_end_matches('/');
        if !e.is_empty()
            && let Some(cut) = path.len().checked_sub(e.len())
            && path.is_char_boundary(cut)
            && path[cut..].eq_ignore_ascii_case(e)
        {
            return Ok((format!("{origin}{}", &path[..cut]), Some(e.to_owned())));
        }
    }
    if path.to_ascii_lowercase().ends_with(".asmx") {
        if let Some((ekey, e)) = endpoint {
            return Err(format!(
                "{key} `{url}` names the endpoint {path}, and {ekey} names {e}; keep one"
            ));
        }
        return Ok((origin, Some(path.to_owned())));
    }
    Ok((
        format!("{origin}{path}"),
        endpoint.map(|(_, e)| e.to_owned()),
    ))
}

/// Appended to a UM step's failing status when the target answered 404: the endpoint is
/// most likely elsewhere, and these are the two ways to say where.
pub fn um_not_found_hint(url: &str) -> String {
    format!(
        "\nhint: nothing answers at {url}. If the UM service lives elsewhere, give its \
         endpoint URL (`--um http://host/path/Service.asmx`) or its path (`--um-endpoint \
         /path/Service.asmx`, or `endpoint` in the profile's [um] section)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCI: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header><Ignored xmlns="urn:x"/></soap:Header>
  <soap:Body>
    <GetCallInfo xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <CallId>abc</CallId>
    </GetCallInfo>
  </soap:Body>
</soap:Envelope>"#;

    #[test]
    fn operation_is_the_first_body_child() {
        assert_eq!(soap_operation(GCI).as_deref(), Some("GetCallInfo"));
        let prefixed = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:m"><e:Body><m:Disconnect/></e:Body></e:Envelope>"#;
        assert_eq!(soap_operation(prefixed).as_deref(), Some("Disconnect"));
        // Not SOAP 1.1, no Body, an empty Body, not XML: no operation.
        for body in [
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><X/></e:Body></e:Envelope>"#,
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><X/></s:Header></s:Envelope>"#,
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#,
            "{\"json\": true}",
            "",
        ] {
            assert_eq!(soap_operation(body), None, "{body}");
        }
    }

    #[test]
    fn soap_action_forms() {
        let ns = UM_MESSAGES_NS;
        assert_eq!(
            SoapAction::Quoted.value_for(GCI),
            Some(format!("\"{ns}/GetCallInfo\""))
        );
        assert_eq!(
            SoapAction::Unquoted.value_for(GCI),
            Some(format!("{ns}/GetCallInfo"))
        );
        assert_eq!(SoapAction::None.value_for(GCI), None);
        assert_eq!(SoapAction::default(), SoapAction::Quoted);
        assert_eq!(SoapAction::parse("unquoted"), Some(SoapAction::Unquoted));
        assert_eq!(SoapAction::parse("Quoted"), None);
    }

    #[test]
    fn an_endpoint_url_names_the_endpoint_and_a_base_url_keeps_the_default() {
        let t = Um
            .target_from_url("http://127.0.0.1:9/UnifiedMessaging/Service.asmx", None)
            .expect("an endpoint URL");
        assert_eq!(t.base_url, "http://127.0.0.1:9");
        assert_eq!(
            t.vars,
            vec![(
                ENDPOINT_VAR.to_owned(),
                "/UnifiedMessaging/Service.asmx".to_owned()
            )]
        );
        let t = Um
            .target_from_url("https://mail.contoso.test/", None)
            .expect("a base URL");
        assert_eq!(t.base_url, "https://mail.contoso.test");
        assert!(t.vars.is_empty());
    }
}
