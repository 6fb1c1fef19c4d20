//! Which callbackUri values the reference target will POST notifications to.
//!
//! A target reachable from a network (`serve --addr 0.0.0.0`) must not become a way to make
//! requests to arbitrary hosts, so by default only loopback callbacks are accepted
//! (127.0.0.0/8, ::1, `localhost`); the operator can allow more hosts by name
//! (`Config.allowed_callback_hosts`, `serve --allow-callback-host HOST`). The decision is
//! made on the URL text alone, at request time: a refused host is never resolved or contacted.

use std::net::IpAddr;

use crate::reference::Config;

/// Why a callbackUri was refused; the text goes into the Graph error body.
#[derive(Debug, PartialEq)]
pub(super) enum Refusal {
    /// Not an absolute http(s) URL with a host.
    Invalid,
    /// A host outside loopback and the operator's list.
    HostNotAllowed(String),
}

impl Refusal {
    pub(super) fn message(&self) -> String {
        match self {
            Refusal::Invalid => {
                "callbackUri is required and must be an absolute http or https URL.".into()
            }
            Refusal::HostNotAllowed(host) => format!(
                "callbackUri host `{host}` is not allowed: this reference target delivers \
                 notifications only to loopback callbacks (127.0.0.0/8, ::1, localhost) and to \
                 hosts its operator allows (callconform serve --allow-callback-host HOST)."
            ),
        }
    }
}

/// Only absolute http(s) URLs with a host are accepted as callbackUri (syntax only).
pub(super) fn valid_callback(s: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(s).ok()?;
    let scheme_ok = matches!(url.scheme(), "http" | "https");
    let host_ok = url.host_str().is_some_and(|h| !h.is_empty());
    (scheme_ok && host_ok).then_some(url)
}

/// The callback URL to store, or why it is refused.
pub(super) fn check(config: &Config, s: &str) -> Result<String, Refusal> {
    let url = valid_callback(s).ok_or(Refusal::Invalid)?;
    let host = url.host_str().unwrap_or_default();
    if is_loopback(host) || allowed(config, host) {
        Ok(url.to_string())
    } else {
        Err(Refusal::HostNotAllowed(host.to_owned()))
    }
}

/// `host_str` as the URL parser normalised it: IPv4 in dotted form, IPv6 in brackets.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
        Err(_) => {
            let name = host.strip_suffix('.').unwrap_or(host);
            name.eq_ignore_ascii_case("localhost")
        }
    }
}

fn allowed(config: &Config, host: &str) -> bool {
    let norm = |h: &str| {
        h.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase()
    };
    let want = norm(host);
    config
        .allowed_callback_hosts
        .iter()
        .any(|h| !h.trim().is_empty() && norm(h) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hosts: &[&str]) -> Config {
        Config {
            allowed_callback_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..Config::default()
        }
    }

    #[test]
    fn syntax() {
        assert!(valid_callback("https://bot.contoso.com/callback").is_some());
        assert!(valid_callback("http://127.0.0.1:9/x?y=1").is_some());
        assert!(valid_callback("ftp://x/").is_none());
        assert!(valid_callback("/relative").is_none());
        assert!(valid_callback("mailto:a@b").is_none());
        assert!(valid_callback("").is_none());
    }

    #[test]
    fn loopback_only_by_default() {
        let c = config(&[]);
        for ok in [
            "http://127.0.0.1:9/cb",
            "http://127.8.9.10/cb",
            "http://[::1]:80/cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://localhost:1/cb",
            "http://LOCALHOST./cb",
            "http://0x7f.1/cb",
        ] {
            assert!(check(&c, ok).is_ok(), "{ok}");
        }
        for refused in [
            "https://bot.contoso.com/callback",
            "http://10.0.0.1/cb",
            "http://169.254.169.254/latest",
            "http://[::2]/cb",
            "http://localhost.evil.test/cb",
            "http://127.0.0.1.nip.io/cb",
        ] {
            assert!(
                matches!(check(&c, refused), Err(Refusal::HostNotAllowed(_))),
                "{refused}"
            );
        }
        assert_eq!(check(&c, "nope"), Err(Refusal::Invalid));
    }

    #[test]
    fn operator_allowed_hosts() {
        let c = config(&["Bot.Contoso.com", "[fd00::1]", " "]);
        assert!(check(&c, "https://bot.contoso.com/callback").is_ok());
        assert!(check(&c, "http://[fd00::1]:8/x").is_ok());
        assert!(check(&c, "https://other.contoso.com/").is_err());
        let m = Refusal::HostNotAllowed("bot.contoso.com".into()).message();
        assert!(
            m.contains("bot.contoso.com")
                && m.contains("loopback")
                && m.contains("--allow-callback-host")
        );
    }
}
