//! Which call a commsNotification entry is about, from its `resourceUrl`.
//!
//! README, Verdict model (notifications entry by entry): the path, percent-decoded, with an optional `/v1.0` or `/beta`
//! prefix, is `/communications/calls/<id>` or starts with `/communications/calls/<id>/`
//! (participants and operations of a call belong to that call); some documented
//! notifications use the legacy `/app/calls/<id>` form. Segments are split before they are
//! decoded, so an id holding an encoded `/` (`%2F`) stays one id.

/// The call id a `resourceUrl` names, decoded; `None` when it names no call (another
/// resource, an empty id, an id that does not decode to UTF-8).
pub fn call_id_of(resource_url: &str) -> Option<String> {
    let path = resource_url.split(['?', '#']).next().unwrap_or("");
    let mut segments = path.strip_prefix('/')?.split('/');
    let mut first = segments.next()?;
    if first == "v1.0" || first == "beta" {
        first = segments.next()?;
    }
    let collection = match first {
        "communications" => segments.next()?,
        "app" => segments.next()?,
        _ => return None,
    };
    if collection != "calls" {
        return None;
    }
    let id = percent_decode(segments.next()?)?;
    (!id.is_empty()).then_some(id)
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is (the id is
/// then compared as sent). `None` when the decoded bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_resources_and_their_sub_resources() {
        for (url, want) in [
            ("/communications/calls/abc", Some("abc")),
            ("/communications/calls/abc/", Some("abc")),
            ("/v1.0/communications/calls/abc/operations/x", Some("abc")),
            ("/beta/communications/calls/abc/participants", Some("abc")),
            ("/communications/calls/abc/participants/p1", Some("abc")),
            ("/app/calls/abc/operations/x", Some("abc")),
            ("/communications/calls/abc?$select=state", Some("abc")),
            ("/communications/calls/", None),
            ("/communications/calls", None),
            ("/communications/onlineMeetings/abc", None),
            ("/v2.0/communications/calls/abc", None),
            ("communications/calls/abc", None),
            ("/nothing", None),
            ("", None),
        ] {
            assert_eq!(call_id_of(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn percent_encoded_ids_are_decoded_per_segment() {
        assert_eq!(
            call_id_of("/communications/calls/a%2Fb%20c%3F/operations/x").as_deref(),
            Some("a/b c?")
        );
        assert_eq!(
            call_id_of("/communications/calls/%C3%A9t%C3%A9").as_deref(),
            Some("été")
        );
        // Not an escape: kept as sent.
        assert_eq!(
            call_id_of("/communications/calls/100%25%zz").as_deref(),
            Some("100%%zz")
        );
        // Not UTF-8 once decoded: names no call rather than a mangled one.
        assert_eq!(call_id_of("/communications/calls/%FF"), None);
    }
}
