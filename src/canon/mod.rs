//! Stage 4: canonical forms. Both sides of every comparison (the documented example and
//! the target's answer) go through the same function, so only meaning can differ.

pub mod json;
pub mod xml;

use std::fmt;

/// Bounds that keep a hostile body from exhausting the harness.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest element or JSON nesting accepted.
    pub max_depth: usize,
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Most elements + attributes + text nodes (XML) or values (JSON) accepted.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_bytes: 16 * 1024 * 1024,
            max_nodes: 1_000_000,
        }
    }
}

/// Why a body has no canonical form. `offset` is a byte position in the input when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonError {
    pub message: String,
    pub offset: Option<u64>,
}

impl fmt::Display for CanonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} (at byte {o})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for CanonError {}

/// A runtime value and the name it stands for: `("57dab8b1-…", "call_id")` turns every
/// occurrence into `[call_id]`, so a live id compares equal to the documented one.
pub type Placeholder<'a> = (&'a str, &'a str);

/// `s` with every placeholder value replaced by `[name]`, or `None` when none occurs.
///
/// One left-to-right pass: where several values match at the same place the longest wins,
/// and inserted `[name]` text is never searched again. Empty values are ignored.
pub(crate) fn substitute(s: &str, placeholders: &[Placeholder<'_>]) -> Option<String> {
    // The common case, nothing to replace, costs one substring search per value.
    if !placeholders
        .iter()
        .any(|(v, _)| !v.is_empty() && s.contains(v))
    {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'scan: while !rest.is_empty() {
        let mut best: Option<&Placeholder<'_>> = None;
        for p in placeholders {
            if !p.0.is_empty()
                && rest.starts_with(p.0)
                && best.is_none_or(|b| p.0.len() > b.0.len())
            {
                best = Some(p);
            }
        }
        if let Some((value, name)) = best {
            out.push('[');
            out.push_str(name);
            out.push(']');
            rest = &rest[value.len()..];
            continue 'scan;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn substitute_longest_first_and_no_rescan() {
        let p = [("ab", "x"), ("abc", "y"), ("x", "z"), ("", "e")];
        assert_eq!(substitute("abcab-x", &p).as_deref(), Some("[y][x]-[z]"));
        assert_eq!(substitute("nothing", &p), None);
        assert_eq!(substitute("é ab é", &p).as_deref(), Some("é [x] é"));
    }
}
