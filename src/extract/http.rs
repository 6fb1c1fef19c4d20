//! Documented HTTP messages: a request or status line, headers, and (often in the same
//! block) a body. Documented `Content-Length` values are not trusted and are dropped.

/// A documented request or response, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// `DELETE https://…` → (`DELETE`, `https://…`).
    pub request_line: Option<(String, String)>,
    pub status: Option<u16>,
    /// In printed order, without `Content-Length`.
    pub headers: Vec<(String, String)>,
    /// Everything after the headers, without surrounding blank lines, ending in `\n`.
    pub body: Option<String>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a block's text. Headers end at a blank line, or where a line is not
/// `Name: value` (a JSON body printed straight after the headers).
pub fn parse(text: &str) -> Result<Message, String> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(first) = lines.iter().position(|l| !l.trim().is_empty()) else {
        return Err("the block is empty".into());
    };
    let head = lines[first].trim();
    let mut msg = Message::default();
    if let Some(rest) = head.strip_prefix("HTTP/") {
        let code = rest.split_whitespace().nth(1).unwrap_or("");
        let status: u16 = code
            .parse()
            .map_err(|_| format!("status line `{head}` has no status code"))?;
        msg.status = Some(status);
    } else {
        let mut parts = head.split_whitespace();
        let method = parts.next().unwrap_or("");
        let url = parts.next();
        match url {
            Some(url) if !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase()) => {
                msg.request_line = Some((method.to_string(), url.to_string()));
            }
            _ => {
                return Err(format!(
                    "`{head}` is neither a request line (`METHOD URL`) nor a status line"
                ));
            }
        }
    }
    let mut i = first + 1;
    while i < lines.len() {
        let l = lines[i];
        if l.trim().is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            break;
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            break;
        }
        if !name.eq_ignore_ascii_case("Content-Length") {
            msg.headers
                .push((name.to_string(), value.trim().to_string()));
        }
        i += 1;
    }
    let rest = &lines[i.min(lines.len())..];
    let start = rest.iter().position(|l| !l.trim().is_empty());
    let end = rest.iter().rposition(|l| !l.trim().is_empty());
    if let (Some(s), Some(e)) = (start, end) {
        let mut body = rest[s..=e].join("\n");
        body.push('\n');
        msg.body = Some(body);
    }
    Ok(msg)
}

/// The local name of the first element inside the SOAP `Body` (the operation), or of the
/// document element when there is no envelope. The whole document must be well-formed:
/// a broken example would only fail later, at run time.
pub fn soap_root(xml: &str) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml.trim());
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("XML is not well-formed: {e}"))?;
        let (name, empty) = match &ev {
            Event::Start(e) => (e.local_name(), false),
            Event::Empty(e) => (e.local_name(), true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof if !stack.is_empty() => {
                return Err(format!(
                    "XML is not well-formed: `{}` is never closed",
                    stack.join("/")
                ));
            }
            Event::Eof => {
                return root.ok_or_else(|| "XML has no SOAP Body element with content".into());
            }
            _ => continue,
        };
        let local: String = name.as_ref().to_string();
        let in_body = stack.last().map(String::as_str) == Some("Body");
        if root.is_none() && (in_body || (stack.is_empty() && local != "Envelope")) {
            root = Some(local.clone());
        }
        if !empty {
            stack.push(local);
        }
    }
}

/// Whether an XML block is a whole SOAP message (an example) rather than an element's
/// syntax (`<CallState/>` on a UM element page): its document element is `Envelope`.
pub fn is_soap_envelope(xml: &str) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml.trim());
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                return e.local_name().as_ref() == "Envelope";
            }
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_body_in_one_block_drop_content_length() {
        let m = parse("POST https://x/a\nContent-Type: application/json\nContent-Length: 211\n{\n  \"a\": 1,\n}\n")
            .unwrap();
        assert_eq!(m.request_line, Some(("POST".into(), "https://x/a".into())));
        assert_eq!(
            m.headers,
            vec![("Content-Type".into(), "application/json".into())]
        );
        assert_eq!(m.body.as_deref(), Some("{\n  \"a\": 1,\n}\n"));
    }

    #[test]
    fn status_line() {
        let m = parse("HTTP/1.1 204 No Content\n").unwrap();
        assert_eq!(m.status, Some(204));
        assert_eq!(m.body, None);
        assert!(parse("hello world\n").is_err());
    }

    #[test]
    fn operation_is_first_child_of_body() {
        let x = "<?xml version=\"1.0\" ?> \n<s:Envelope xmlns:s=\"e\"><s:Header/><s:Body><m:GetCallInfoResponse xmlns:m=\"m\"><GetCallInfoResponse/></m:GetCallInfoResponse></s:Body></s:Envelope>";
        assert_eq!(soap_root(x).unwrap(), "GetCallInfoResponse");
        assert_eq!(soap_root("<a><b/></a>").unwrap(), "a");
        assert!(soap_root("<a><b></a>").is_err());
        assert!(soap_root("<a><b/>").is_err());
    }
}
