//! Text for people: secrets replaced, bodies cut short. A leaf: the runner, the listener,
//! the response stage and the reporters all use it, and it uses none of them. Redact
//! first, then cut, so a secret straddling the cut leaves no prefix behind.

/// Replaces every secret (tokens, the callback token) by `[redacted]`, however short:
/// secrets too short to redact safely are refused where they are read
/// ([`check_secret (in the profile)`]), not skipped here. Longer secrets go first, so one
/// that contains another is replaced whole.
pub fn redact(text: &str, secrets: &[String]) -> String {
    // Most texts hold no secret: one search each, no sorting or copying beyond the result.
    if !secrets
        .iter()
        .any(|s| !s.is_empty() && text.contains(s.as_str()))
    {
        return text.to_owned();
    }
    let mut out = text.to_owned();
    let mut ordered: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in ordered {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

/// [`preview`] of the body with every secret replaced first: cut before redaction, a
/// secret straddling the cut would leave its prefix in the preview.
pub fn preview_redacted(body: &[u8], max: usize, secrets: &[String]) -> String {
    match std::str::from_utf8(body) {
        Ok(s) => cut(&redact(s, secrets), max, body.len()),
        Err(_) => not_utf8(body),
    }
}

/// The body for a human: text when it is UTF-8, else a byte count, cut to `max` chars.
pub fn preview(body: &[u8], max: usize) -> String {
    match std::str::from_utf8(body) {
        Ok(s) => cut(s, max, body.len()),
        Err(_) => not_utf8(body),
    }
}

/// `text` cut to `max` chars, naming the size of the whole body when it was cut.
fn cut(text: &str, max: usize, body_bytes: usize) -> String {
    if text.chars().count() > max {
        let kept: String = text.chars().take(max).collect();
        format!("{kept}… ({body_bytes} bytes in all)")
    } else {
        text.to_owned()
    }
}

fn not_utf8(body: &[u8]) -> String {
    format!("<{} bytes, not UTF-8>", body.len())
}
