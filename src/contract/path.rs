//! Field paths of the contract (README: Verdict model): JSON-pointer syntax over a JSON body, or
//! element local names from the document element of a SOAP body. `*` stands for exactly
//! one segment, `**` for any number (none included). A path is compiled once when the
//! contract is loaded; matching walks segments without allocating.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: exactly one segment (an array index or a key).
    One,
    /// `**`: any number of segments, none included.
    Any,
}

/// A compiled field path such as `**/resultInfo/code` or `/value/*/changeType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

impl FieldPath {
    /// Compiles a path. It starts with `/` (anchored at the body's root) or with `**`;
    /// `~1` and `~0` in a segment stand for `/` and `~`, as in JSON pointers.
    pub fn parse(text: &str) -> Result<FieldPath, String> {
        let rest = if let Some(r) = text.strip_prefix('/') {
            r
        } else if text == "**" || text.starts_with("**/") {
            text
        } else {
            return Err(format!(
                "path `{text}` must start with `/` (from the body's root) or `**/`"
            ));
        };
        if rest.is_empty() {
            return Err(format!("path `{text}` names no field"));
        }
        let mut segments = Vec::new();
        for s in rest.split('/') {
            let seg = match s {
                "*" => Segment::One,
                // Consecutive `**` mean the same as one; keeping one keeps matching linear.
                "**" if segments.last() == Some(&Segment::Any) => continue,
                "**" => Segment::Any,
                s if s.contains('*') => {
                    return Err(format!(
                        "path `{text}`: `{s}` mixes `*` with a name; a wildcard is a whole segment"
                    ));
                }
                s => Segment::Literal(unescape(s)),
            };
            segments.push(seg);
        }
        Ok(FieldPath {
            text: text.to_owned(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How specific the path is: a name outweighs `*`, which outweighs `**`. When several
    /// paths match one field, the most specific one classes it.
    pub fn specificity(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 3,
                Segment::One => 1,
                Segment::Any => 0,
            })
            .sum()
    }

    /// Whether the field at `path` (unescaped segments from the root) matches.
    pub fn matches<S: AsRef<str>>(&self, path: &[S]) -> bool {
        // Wildcard matching with one backtrack point (the last `**` seen): linear in
        // practice and never exponential, whatever the pattern.
        let pat = &self.segments;
        let (mut p, mut s) = (0, 0);
        let mut back: Option<(usize, usize)> = None;
        while s < path.len() {
            match pat.get(p) {
                Some(Segment::Any) => {
                    back = Some((p, s));
                    p += 1;
                }
                Some(Segment::One) => {
                    p += 1;
                    s += 1;
                }
                Some(Segment::Literal(l)) if l == path[s].as_ref() => {
                    p += 1;
                    s += 1;
                }
                _ => match back {
                    Some((bp, bs)) => {
                        // Let the last `**` swallow one more segment and retry.
                        p = bp + 1;
                        s = bs + 1;
                        back = Some((bp, bs + 1));
                    }
                    None => return false,
                },
            }
        }
        pat[p..].iter().all(|x| *x == Segment::Any)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn unescape(s: &str) -> String {
    if s.contains('~') {
        s.replace("~1", "/").replace("~0", "~")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        let p = FieldPath::parse(pattern).expect("compiles");
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        p.matches(&segs)
    }

    #[test]
    fn one_star_is_exactly_one_segment() {
        assert!(m("/value/*/changeType", "/value/0/changeType"));
        assert!(m("/value/*/changeType", "/value/12/changeType"));
        assert!(!m("/value/*/changeType", "/value/changeType"));
        assert!(!m("/value/*/changeType", "/value/0/1/changeType"));
    }

    #[test]
    fn two_stars_are_any_number_including_none() {
        assert!(m("**/resultInfo/code", "/resultInfo/code"));
        assert!(m(
            "**/resultInfo/code",
            "/value/0/resourceData/resultInfo/code"
        ));
        assert!(!m("**/resultInfo/code", "/value/0/resultInfo/subcode"));
        assert!(m("/a/**/z", "/a/z"));
        assert!(m("/a/**/z", "/a/b/c/z"));
        assert!(!m("/a/**/z", "/a/b/c/y"));
        assert!(m("**/id", "/id"));
        assert!(m("/a/**", "/a/b"));
        // Backtracking: the first `z` is not the end.
        assert!(m("**/z/y", "/z/q/z/y"));
        assert!(m("/**/**/x", "/a/x"));
    }

    #[test]
    fn anchored_paths_match_only_from_the_root() {
        assert!(m("/state", "/state"));
        assert!(!m("/state", "/value/0/resourceData/state"));
        assert!(m(
            "/Envelope/Body/GetCallInfoResponse/GetCallInfoResponse/CallState",
            "/Envelope/Body/GetCallInfoResponse/GetCallInfoResponse/CallState"
        ));
    }

    #[test]
    fn escapes_and_bad_paths() {
        assert!(!m("/a~1b", "/x"));
        let p = FieldPath::parse("/a~1b/c~0").expect("compiles");
        assert!(p.matches(&["a/b", "c~"]));
        for bad in ["", "state", "/", "/a*b", "*/x"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
        assert!(
            FieldPath::parse("/value/*/state")
                .expect("ok")
                .specificity()
                > FieldPath::parse("**/state").expect("ok").specificity()
        );
    }
}
