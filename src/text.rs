//! Text for people: secrets replaced, bodies cut short. A leaf: the runner, the listener,
//! the response stage and the reporters all use it, and it uses none of them. Redact
//! first, then cut, so a secret straddling the cut leaves no prefix behind.

use base64::Engine as _;
use std::ops::Range;

/// What every redacted form of a secret becomes.
pub const PLACEHOLDER: &str = "[redacted]";

/// A secret cut short still leaks when at least this many of its leading characters
/// remain: a prefix this long is redacted wherever it appears, a shorter one only when it
/// is the whole secret. Not below [`crate::profile::MIN_SECRET_CHARS`], the shortest
/// secret a profile accepts, so a prefix match is never shorter than a whole one may be.
pub const PREFIX_MIN_CHARS: usize = 8;

const _: () = assert!(PREFIX_MIN_CHARS >= crate::profile::MIN_SECRET_CHARS);

/// Finds and replaces the forms a secret takes in transit, precomputed once per set of
/// secrets:
///
/// * the secret itself, ASCII case-insensitively (a target that upper- or lower-cases it);
/// * any byte of it percent-encoded (`%2F` or `%2f`, a space as `+`), in any mix;
/// * its base64 encoding, standard and URL-safe alphabets, padded or not, and as a part
///   of a longer encoded string (`Bearer <token>`, `user:<password>`): the characters that
///   encode only the secret's bits, for each of the three alignments of the secret in the
///   encoded bytes, together with the one character on either side that mixes the
///   secret's bits with its neighbours' and any `=` padding after it;
/// * a prefix of any of these of at least [`PREFIX_MIN_CHARS`] characters (a secret cut
///   short), or the whole form when it is shorter.
///
/// Overlapping matches become one [`PLACEHOLDER`]. Finding is one pass over the text,
/// trying at each position only the forms that can start with its byte.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    forms: Vec<Form>,
    /// Bytes a match of some form can start with.
    starts: Vec<bool>,
}

#[derive(Debug, Clone)]
struct Form {
    pattern: Vec<u8>,
    /// Matched ASCII case-insensitively (the secret itself; not base64, whose case is
    /// its content).
    fold: bool,
    /// Bytes of `pattern` a match must cover: its first [`PREFIX_MIN_CHARS`] characters,
    /// or all of it.
    min: usize,
    base64: Option<Base64Edges>,
}

/// What surrounds a base64 form: the neighbouring characters that carry some of the
/// secret's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Base64Edges {
    /// The character before the form mixes the secret's first bits with earlier bytes.
    lead: bool,
    /// The character after a whole match mixes the secret's last bits with later bytes
    /// (or with the zero bits of the end).
    tail: bool,
}

/// A character of either base64 alphabet (a form common to both stands for either).
fn in_base64_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

impl Redactor {
    /// The forms of every non-empty secret. Base64 forms need a secret of at least
    /// [`crate::profile::MIN_SECRET_CHARS`] bytes (the shortest a profile accepts): the
    /// bits of a shorter one fill too few characters to tell them from other base64.
    pub fn new(secrets: &[String]) -> Redactor {
        let mut forms: Vec<Form> = Vec::new();
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            forms.push(Form::new(s.as_bytes().to_vec(), true, None));
            if s.len() >= crate::profile::MIN_SECRET_CHARS {
                forms.extend(base64_forms(s.as_bytes()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        forms.retain(|f| seen.insert((f.pattern.clone(), f.fold, f.base64)));
        let mut starts = vec![false; 256];
        for f in &forms {
            let b = f.pattern[0];
            starts[usize::from(b)] = true;
            if f.fold {
                starts[usize::from(b.to_ascii_lowercase())] = true;
                starts[usize::from(b.to_ascii_uppercase())] = true;
            }
            if b == b' ' {
                starts[usize::from(b'+')] = true;
            }
            starts[usize::from(b'%')] = true;
        }
        Redactor { forms, starts }
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every form of every secret replaced by [`PLACEHOLDER`].
    pub fn redact(&self, text: &str) -> String {
        let found = self.find(text);
        if found.is_empty() {
            text.to_owned()
        } else {
            replace(text, &found)
        }
    }

    /// [`Redactor::redact`] in place, leaving `text` untouched (no copy) when it holds no
    /// secret.
    pub fn redact_in_place(&self, text: &mut String) {
        let found = self.find(text);
        if !found.is_empty() {
            *text = replace(text, &found);
        }
    }

    /// The byte ranges to replace, sorted, disjoint and on character boundaries.
    fn find(&self, text: &str) -> Vec<Range<usize>> {
        let bytes = text.as_bytes();
        let mut found: Vec<Range<usize>> = Vec::new();
        if self.forms.is_empty() {
            return found;
        }
        // Per form, where its last match ended: matches of one form do not overlap.
        let mut free = vec![0usize; self.forms.len()];
        for (i, &b) in bytes.iter().enumerate() {
            if !self.starts[usize::from(b)] {
                continue;
            }
            for (f, form) in self.forms.iter().enumerate() {
                if i < free[f] {
                    continue;
                }
                if let Some(r) = form.match_at(bytes, i) {
                    free[f] = r.end;
                    found.push(r);
                }
            }
        }
        if found.is_empty() {
            return found;
        }
        for r in &mut found {
            while !text.is_char_boundary(r.start) {
                r.start -= 1;
            }
            while !text.is_char_boundary(r.end) {
                r.end += 1;
            }
        }
        found.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
        for r in found {
            match merged.last_mut() {
                Some(last) if r.start < last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        merged
    }
}

impl Form {
    fn new(pattern: Vec<u8>, fold: bool, base64: Option<Base64Edges>) -> Form {
        // The byte length of the first PREFIX_MIN_CHARS characters (a base64 form is
        // ASCII; the secret itself may not be).
        let min = std::str::from_utf8(&pattern)
            .ok()
            .and_then(|s| s.char_indices().nth(PREFIX_MIN_CHARS).map(|(i, _)| i))
            .unwrap_or(pattern.len())
            .min(pattern.len());
        Form {
            pattern,
            fold,
            min,
            base64,
        }
    }

    fn eq(&self, a: u8, b: u8) -> bool {
        if self.fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    }

    /// The match starting at `i`: the longest run of the pattern's leading bytes, each
    /// as itself or percent-encoded, covering at least `min` of them; widened over the
    /// base64 neighbours that carry some of the secret's bits.
    fn match_at(&self, text: &[u8], i: usize) -> Option<Range<usize>> {
        let mut t = i;
        let mut k = 0;
        while k < self.pattern.len() && t < text.len() {
            let p = self.pattern[k];
            if percent_decoded(text, t).is_some_and(|d| self.eq(d, p)) {
                t += 3;
            } else if self.eq(text[t], p) || (p == b' ' && text[t] == b'+' && self.fold) {
                t += 1;
            } else {
                break;
            }
            k += 1;
        }
        if k < self.min {
            return None;
        }
        let mut r = i..t;
        if let Some(edges) = self.base64 {
            if edges.lead && r.start > 0 && in_base64_alphabet(text[r.start - 1]) {
                r.start -= 1;
            }
            if k == self.pattern.len() {
                if edges.tail && r.end < text.len() && in_base64_alphabet(text[r.end]) {
                    r.end += 1;
                }
                for _ in 0..2 {
                    if text.get(r.end) == Some(&b'=') {
                        r.end += 1;
                    } else if percent_decoded(text, r.end) == Some(b'=') {
                        r.end += 3;
                    }
                }
            }
        }
        Some(r)
    }
}

/// `text` with each of the `found` ranges (sorted, disjoint) replaced by [`PLACEHOLDER`].
fn replace(text: &str, found: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in found {
        out.push_str(&text[at..r.start]);
        out.push_str(PLACEHOLDER);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The byte `%XX` at `t` stands for (either case of hex digits).
fn percent_decoded(text: &[u8], t: usize) -> Option<u8> {
    if text.get(t) != Some(&b'%') {
        return None;
    }
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let hi = hex(text.get(t + 1))?;
    let lo = hex(text.get(t + 2))?;
    u8::try_from(hi * 16 + lo).ok()
}

/// The base64 forms of `secret`, for each alphabet and each alignment: the secret's
/// bytes preceded by 0, 1 or 2 others, encoded, cut to the characters whose six bits all
/// come from the secret (the same whatever the other bytes are).
fn base64_forms(secret: &[u8]) -> Vec<Form> {
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut data = vec![0u8; offset];
        data.extend_from_slice(secret);
        let first_bit = 8 * offset;
        let end_bit = 8 * (offset + secret.len());
        let from = first_bit.div_ceil(6);
        let to = end_bit / 6;
        if to <= from {
            continue;
        }
        for url_safe in [false, true] {
            let encoded = if url_safe {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&data)
            } else {
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(&data)
            };
            let Some(core) = encoded.get(from..to) else {
                continue;
            };
            out.push(Form::new(
                core.as_bytes().to_vec(),
                false,
                Some(Base64Edges {
                    lead: !first_bit.is_multiple_of(6),
                    tail: !end_bit.is_multiple_of(6),
                }),
            ));
        }
    }
    out
}

/// Replaces every form of every secret (tokens, the callback token) by `[redacted]`,
/// however short: secrets too short to redact safely are refused where they are read
/// ([`crate::profile::check_secret`]), not skipped here. See [`Redactor`] for the forms;
/// build one when redacting many texts with the same secrets.
pub fn redact(text: &str, secrets: &[String]) -> String {
    Redactor::new(secrets).redact(text)
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};

    /// Its base64 at every alignment holds `+` or `/` (`-` or `_` URL-safe), so the two
    /// alphabets give different text.
    const SECRET: &str = "tok~SECRET~4f9a.live~Qz";

    fn secrets() -> Vec<String> {
        vec![SECRET.to_owned()]
    }

    fn red(text: &str) -> String {
        redact(text, &secrets())
    }

    /// The characters carrying only the secret's bits, for each alignment and alphabet.
    fn cores() -> Vec<String> {
        let mut out = Vec::new();
        for offset in 0..3 {
            let mut data = vec![b'x'; offset];
            data.extend_from_slice(SECRET.as_bytes());
            let from = (8 * offset).div_ceil(6);
            let to = 8 * (offset + SECRET.len()) / 6;
            for engine in [STANDARD, URL_SAFE] {
                out.push(engine.encode(&data)[from..to].to_owned());
            }
        }
        out
    }

    /// True when `text` keeps 4 or more consecutive characters of a base64 form.
    fn leaks_base64(text: &str) -> bool {
        cores().iter().any(|c| {
            c.as_bytes()
                .windows(4)
                .any(|w| text.as_bytes().windows(4).any(|t| t == w))
        })
    }

    #[test]
    fn the_forms_are_what_the_tests_assume() {
        let c = cores();
        for pair in c.chunks(2) {
            assert!(pair[0].contains(['+', '/']), "{pair:?}");
            assert!(pair[1].contains(['-', '_']), "{pair:?}");
        }
        assert_eq!(red(SECRET), PLACEHOLDER);
    }

    #[test]
    fn a_percent_encoded_secret_is_redacted() {
        // The usual encoding (only `~` escaped, as some encoders do), every byte escaped,
        // lower-case hex, and a space encoded as `+`.
        let usual = "tok%7ESECRET%7E4f9a.live%7EQz";
        let every: String = SECRET.bytes().map(|b| format!("%{b:02X}")).collect();
        let lower = every.to_ascii_lowercase();
        for encoded in [usual, &every, &lower] {
            assert_eq!(
                red(&format!("GET /cb?token={encoded}&x=1")),
                "GET /cb?token=[redacted]&x=1",
                "{encoded}"
            );
        }
        let spaced = vec!["pass word 1234".to_owned()];
        assert_eq!(redact("p=pass+word%201234;", &spaced), "p=[redacted];");
    }

    #[test]
    fn a_base64_secret_is_redacted_standard_alphabet() {
        let padded = STANDARD.encode(SECRET);
        assert!(
            padded.contains(['+', '/']) && padded.ends_with('='),
            "{padded}"
        );
        assert_eq!(red(&format!("echo {padded} done")), "echo [redacted] done");
        let bare = padded.trim_end_matches('=');
        assert_eq!(red(&format!("echo {bare} done")), "echo [redacted] done");
        assert_eq!(red(&format!("\"{bare}\"")), "\"[redacted]\"");
    }

    #[test]
    fn a_base64_secret_is_redacted_url_safe_alphabet() {
        let padded = URL_SAFE.encode(SECRET);
        assert!(
            padded.contains(['-', '_']) && padded.ends_with('='),
            "{padded}"
        );
        assert_eq!(red(&format!("?t={padded}&x")), "?t=[redacted]&x");
        let bare = URL_SAFE_NO_PAD.encode(SECRET);
        assert_eq!(red(&format!("?t={bare}&x")), "?t=[redacted]&x");
        // Padding percent-encoded in a query.
        assert_eq!(
            red(&format!("?t={}&x", padded.replace('=', "%3D"))),
            "?t=[redacted]&x"
        );
    }

    /// The secret after `prefix` in an encoded string (and something after it): the
    /// characters of `prefix` alone stay, every character with a bit of the secret goes.
    fn secret_in_encoded(prefix: &str, offset: usize) {
        assert_eq!(prefix.len() % 3, offset, "{prefix:?}");
        for (engine, suffix) in [(STANDARD, ""), (URL_SAFE, ""), (STANDARD, ":rest-of-it")] {
            let encoded = engine.encode(format!("{prefix}{SECRET}{suffix}"));
            let text = format!("Authorization: Basic {encoded}\nnext line");
            let out = red(&text);
            // Characters whose six bits all come from `prefix`.
            let kept = &encoded[..8 * prefix.len() / 6];
            let expected_head = format!("Authorization: Basic {kept}[redacted]");
            assert!(out.starts_with(&expected_head), "{out} / {expected_head}");
            assert!(out.ends_with("\nnext line"), "{out}");
            assert!(!leaks_base64(&out), "{out}");
            if suffix.is_empty() {
                assert_eq!(out, format!("{expected_head}\nnext line"));
            }
        }
    }

    #[test]
    fn a_base64_secret_at_offset_0_of_an_encoded_string_is_redacted() {
        secret_in_encoded("", 0);
        secret_in_encoded("alice:", 0);
    }

    #[test]
    fn a_base64_secret_at_offset_1_of_an_encoded_string_is_redacted() {
        secret_in_encoded("Bearer ", 1);
        secret_in_encoded("x", 1);
    }

    #[test]
    fn a_base64_secret_at_offset_2_of_an_encoded_string_is_redacted() {
        secret_in_encoded("user:", 2);
        secret_in_encoded("xy", 2);
    }

    #[test]
    fn an_upper_cased_secret_is_redacted() {
        let upper = SECRET.to_ascii_uppercase();
        assert_ne!(upper, SECRET);
        assert_eq!(red(&format!("TOKEN={upper}; OK")), "TOKEN=[redacted]; OK");
    }

    #[test]
    fn a_lower_cased_secret_is_redacted() {
        let lower = SECRET.to_ascii_lowercase();
        assert_ne!(lower, SECRET);
        assert_eq!(red(&format!("token={lower}; ok")), "token=[redacted]; ok");
    }

    #[test]
    fn a_prefix_of_at_least_the_minimum_is_redacted() {
        let cut = &SECRET[..PREFIX_MIN_CHARS];
        assert_eq!(red(&format!("saw {cut}… (cut)")), "saw [redacted]… (cut)");
        let longer = &SECRET[..PREFIX_MIN_CHARS + 5];
        assert_eq!(red(&format!("saw {longer}")), "saw [redacted]");
        // Cut and upper-cased, and a prefix of the base64 form.
        let upper = SECRET[..PREFIX_MIN_CHARS + 2].to_ascii_uppercase();
        assert_eq!(red(&format!("saw {upper}.")), "saw [redacted].");
        let encoded = STANDARD.encode(SECRET);
        assert_eq!(
            red(&format!("saw {}…", &encoded[..PREFIX_MIN_CHARS + 3])),
            "saw [redacted]…"
        );
        // One character short of the minimum is not the secret.
        let short = &SECRET[..PREFIX_MIN_CHARS - 1];
        assert_eq!(
            red(&format!("saw {short} only")),
            format!("saw {short} only")
        );
        // A secret shorter than the minimum is redacted whole only.
        let five = vec!["k3y-z".to_owned()];
        assert_eq!(
            redact("k3y-z and k3y- stay", &five),
            "[redacted] and k3y- stay"
        );
        // A prefix ending inside a character takes the whole character.
        let wide = vec!["clé-secrète-0123".to_owned()];
        assert_eq!(redact("x clé-secrèTE!", &wide), "x [redacted]!");
        assert_eq!(redact("x clé-secrèt€", &wide), "x [redacted]€");
        assert_eq!(redact("x clé-secré.", &wide), "x [redacted].");
    }

    #[test]
    fn unrelated_text_is_left_alone() {
        let r = Redactor::new(&secrets());
        let texts = [
            "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"id\":\"tok\",\"state\":\"established\"}",
            "the token is tok~SEC and the rest is elsewhere; Live~Qz too",
            "https://graph.test/v1.0/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896?x=%7E%20",
            // Other base64: a different token, and a long blob.
            "Authorization: Basic dXNlcjpodW50ZXIy",
            "[redacted] stays as it is",
            "",
        ];
        let blob = STANDARD.encode((0u8..=255).cycle().take(4096).collect::<Vec<u8>>());
        for text in texts.iter().copied().chain([blob.as_str()]) {
            assert_eq!(r.redact(text), text);
            let mut s = text.to_owned();
            r.redact_in_place(&mut s);
            assert_eq!(s, text);
        }
        assert!(Redactor::new(&[String::new()]).is_empty());
        assert_eq!(redact("nothing", &[]), "nothing");
    }
}
