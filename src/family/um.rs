//! Exchange Unified Messaging web service (SOAP 1.1): request/response only.

use super::{Protocol, TargetUrl};

pub struct Um;

/// The case variable holding the endpoint path requests are POSTed to.
pub const ENDPOINT_VAR: &str = "um_endpoint";

impl Protocol for Um {
    fn name(&self) -> &'static str {
        "um"
    }
    fn title(&self) -> &'static str {
        "Exchange Unified Messaging web service (SOAP 1.1)"
    }
    /// Clients name the service by its endpoint URL (`.../UnifiedMessaging/Service.asmx`,
    /// as zeep, SoapUI and the Exchange docs do); a plain base URL keeps the family's
    /// default endpoint path.
    fn target_from_url(&self, url: &str) -> TargetUrl {
        let trimmed = url.trim_end_matches('/');
        if let Ok(parsed) = reqwest::Url::parse(trimmed)
            && parsed.path().to_ascii_lowercase().ends_with(".asmx")
        {
            let path = parsed.path().to_owned();
            let base = trimmed.strip_suffix(&path).unwrap_or(trimmed).to_owned();
            return TargetUrl {
                base_url: base,
                vars: vec![(ENDPOINT_VAR.to_owned(), path)],
            };
        }
        TargetUrl {
            base_url: trimmed.to_owned(),
            vars: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_url_names_the_endpoint_and_a_base_url_keeps_the_default() {
        let t = Um.target_from_url("http://127.0.0.1:9/UnifiedMessaging/Service.asmx");
        assert_eq!(t.base_url, "http://127.0.0.1:9");
        assert_eq!(
            t.vars,
            vec![(
                ENDPOINT_VAR.to_owned(),
                "/UnifiedMessaging/Service.asmx".to_owned()
            )]
        );
        let t = Um.target_from_url("https://mail.contoso.test/");
        assert_eq!(t.base_url, "https://mail.contoso.test");
        assert!(t.vars.is_empty());
        let t = Um.target_from_url("https://mail.test/EWS/UM2007Legacy.ASMX");
        assert_eq!(t.vars[0].1, "/EWS/UM2007Legacy.ASMX");
    }
}
