//! Printed JSON that is not JSON: `//` comments, trailing commas, and braces left
//! unbalanced by an edit. Each correction is a textual replacement (what was printed →
//! what JSON needs) small enough to read in `cases/errata.toml` and exact enough to touch
//! nothing else; the caller checks that the whole errata table leaves valid documents
//! alone and makes every broken one valid.

/// What a correction repairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    Comment,
    TrailingComma,
    Unbalanced,
}

impl Problem {
    pub fn describe(self) -> &'static str {
        match self {
            Problem::Comment => "a `//` comment (JSON has none)",
            Problem::TrailingComma => "a trailing comma before `}` or `]`",
            Problem::Unbalanced => "unbalanced braces (a member printed outside its object)",
        }
    }
}

/// One correction: `from` (as printed, after the corrections before it) → `to`, found at
/// `line` of the block (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub problem: Problem,
    pub line: usize,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub text: String,
    pub fixes: Vec<Fix>,
}

/// Repairs a printed JSON document. Valid JSON comes back unchanged with no fixes.
pub fn repair(text: &str) -> Repair {
    let mut fixes = Vec::new();
    let mut t = text.to_string();
    if serde_json::from_str::<serde_json::Value>(&t).is_ok() {
        return Repair { text: t, fixes };
    }
    t = comments(&t, &mut fixes);
    t = trailing_commas(&t, &mut fixes);
    t = unbalanced(&t, &mut fixes);
    Repair { text: t, fixes }
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// Byte offsets of code outside strings: calls `f(i, byte)` for each.
fn outside_strings(text: &str, mut f: impl FnMut(usize, u8) -> bool) {
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' || b == b'\n' {
                in_string = false;
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
            continue;
        }
        if !f(i, b) {
            return;
        }
    }
}

fn comments(text: &str, fixes: &mut Vec<Fix>) -> String {
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut skip_to = 0;
    outside_strings(text, |i, b| {
        if i >= skip_to && b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
            let mut start = i;
            while start > 0 && matches!(bytes[start - 1], b' ' | b'\t') {
                start -= 1;
            }
            spans.push((start, end));
            skip_to = end;
        }
        true
    });
    apply_spans(text, &spans, Problem::Comment, fixes, |_| String::new())
}

fn trailing_commas(text: &str, fixes: &mut Vec<Fix>) -> String {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    outside_strings(text, |i, b| {
        if b == b',' {
            let mut j = i + 1;
            while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\n') {
                j += 1;
            }
            if matches!(bytes.get(j), Some(b'}' | b']')) {
                spans.push((i, j + 1));
            }
        }
        true
    });
    apply_spans(text, &spans, Problem::TrailingComma, fixes, |s| {
        s[1..].to_string()
    })
}

fn apply_spans(
    text: &str,
    spans: &[(usize, usize)],
    problem: Problem,
    fixes: &mut Vec<Fix>,
    to: impl Fn(&str) -> String,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(s, e) in spans {
        let from = &text[s..e];
        let replacement = to(from);
        fixes.push(Fix {
            problem,
            line: line_of(text, s),
            from: from.to_string(),
            to: replacement.clone(),
        });
        out.push_str(&text[at..s]);
        out.push_str(&replacement);
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// A container still open: its closer, the indentation of the line that opened it, and
/// the indentation of its members once a member line shows it.
type Open = (char, usize, Option<usize>);

/// Closes objects the printed text forgot to close, guided by indentation: a member
/// line indented like the members of an outer object belongs to that object, so the
/// objects opened since are closed before it. Objects still open at the end are closed
/// at the end; closers with nothing to close at the end are removed.
fn unbalanced(text: &str, fixes: &mut Vec<Fix>) -> String {
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut stack: Vec<Open> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut extra_at_end = 0usize;
    for (n, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let ind = indent(line);
        let is_member = t.starts_with('"') && t.contains("\":");
        if is_member
            && let Some(&(_, _, Some(member))) = stack.last()
            && ind < member
        {
            close_before_member(&mut stack, &mut out, ind, n, line, fixes);
        }
        track_containers(line, ind, is_member, &mut stack, &mut extra_at_end);
        out.push(line.to_string());
    }
    let mut result = out.join("\n");
    if text.ends_with('\n') {
        result.push('\n');
    }
    if !stack.is_empty() {
        close_at_end(&result, stack, lines.len(), fixes)
    } else if extra_at_end > 0 {
        drop_extra_closers(&result, extra_at_end, lines.len(), fixes).unwrap_or(result)
    } else {
        result
    }
}

/// Member line `n` (`line`, indented `ind`) belongs to the open object whose members sit
/// at that indentation: the containers opened since are closed at the end of the line
/// before it (`out`'s last), the last closer taking the comma.
fn close_before_member(
    stack: &mut Vec<Open>,
    out: &mut [String],
    ind: usize,
    n: usize,
    line: &str,
    fixes: &mut Vec<Fix>,
) {
    let Some(k) = stack.iter().rposition(|&(_, _, m)| m == Some(ind)) else {
        return;
    };
    let mut closers = Vec::new();
    while stack.len() > k + 1 {
        if let Some((c, open_ind, _)) = stack.pop() {
            closers.push((c, open_ind));
        }
    }
    let Some(prev) = out.last_mut() else {
        return;
    };
    let before = prev.clone();
    let mut inserted = prev.trim_end().trim_end_matches(',').to_string();
    let count = closers.len();
    for (idx, (c, open_ind)) in closers.into_iter().enumerate() {
        inserted.push('\n');
        inserted.push_str(&" ".repeat(open_ind));
        inserted.push(c);
        if idx + 1 == count {
            inserted.push(',');
        }
    }
    fixes.push(Fix {
        problem: Problem::Unbalanced,
        line: n + 1,
        from: format!("{before}\n{line}"),
        to: format!("{inserted}\n{line}"),
    });
    *prev = inserted;
}

/// Tracks the containers a line opens and closes (outside strings). A member line fixes
/// the member indentation of the container it sits in; a closer with nothing open is
/// counted as extra.
fn track_containers(
    line: &str,
    ind: usize,
    is_member: bool,
    stack: &mut Vec<Open>,
    extra_at_end: &mut usize,
) {
    let mut this_line_members = is_member;
    outside_strings(line, |_, b| {
        match b {
            b'{' | b'[' => {
                if let Some(top) = stack.last_mut()
                    && top.2.is_none()
                    && this_line_members
                {
                    top.2 = Some(ind);
                }
                stack.push((if b == b'{' { '}' } else { ']' }, ind, None));
                this_line_members = false;
            }
            b'}' | b']' if stack.pop().is_none() => *extra_at_end += 1,
            _ => {}
        }
        true
    });
    if this_line_members
        && let Some(top) = stack.last_mut()
        && top.2.is_none()
    {
        top.2 = Some(ind);
    }
}

/// Closes the containers still open at the end, each at the indentation of the line that
/// opened it.
fn close_at_end(result: &str, mut stack: Vec<Open>, line: usize, fixes: &mut Vec<Fix>) -> String {
    let tail = last_lines(result, 2);
    let mut to = tail.trim_end_matches('\n').to_string();
    while let Some((c, open_ind, _)) = stack.pop() {
        to.push('\n');
        to.push_str(&" ".repeat(open_ind));
        to.push(c);
    }
    if tail.ends_with('\n') {
        to.push('\n');
    }
    fixes.push(Fix {
        problem: Problem::Unbalanced,
        line,
        from: tail.clone(),
        to: to.clone(),
    });
    format!("{}{to}", &result[..result.len() - tail.len()])
}

/// Removes `extra` closers with nothing to close, when they are the last lines; `None`
/// (no repair) when they are not.
fn drop_extra_closers(
    result: &str,
    extra: usize,
    line: usize,
    fixes: &mut Vec<Fix>,
) -> Option<String> {
    let tail = last_lines(result, 2 + extra);
    let mut kept: Vec<&str> = tail.lines().collect();
    let mut removed = 0;
    while removed < extra && kept.last().is_some_and(|l| matches!(l.trim(), "}" | "]")) {
        kept.pop();
        removed += 1;
    }
    if removed != extra {
        return None;
    }
    let mut to = kept.join("\n");
    if tail.ends_with('\n') {
        to.push('\n');
    }
    fixes.push(Fix {
        problem: Problem::Unbalanced,
        line,
        from: tail.clone(),
        to: to.clone(),
    });
    Some(format!("{}{to}", &result[..result.len() - tail.len()]))
}

/// The last `n` lines of `text`, with their line ends.
fn last_lines(text: &str, n: usize) -> String {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut start = body.len();
    for _ in 0..n {
        match body[..start].rfind('\n') {
            Some(p) => start = p,
            None => {
                start = 0;
                break;
            }
        }
    }
    let start = if start == 0 { 0 } else { start + 1 };
    text[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(s: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(s).is_ok()
    }

    /// Replaying the fixes in order on the printed text gives the repaired text.
    fn replays(printed: &str, r: &Repair) {
        let mut t = printed.to_string();
        for f in &r.fixes {
            assert!(t.contains(&f.from), "{:?} not in {t}", f.from);
            t = t.replacen(&f.from, &f.to, 1);
        }
        assert_eq!(t, r.text);
    }

    #[test]
    fn valid_json_is_left_alone() {
        let r = repair("{\n  \"a\": \"http://x//y\"\n}\n");
        assert!(r.fixes.is_empty());
    }

    #[test]
    fn comment_and_trailing_comma() {
        let p = "{\n  \"isMuted\": true, // set on mute\n  \"u\": \"https://a//b\"\n}\n";
        let r = repair(p);
        assert!(valid(&r.text), "{}", r.text);
        assert_eq!(r.fixes.len(), 1);
        assert_eq!(r.fixes[0].problem, Problem::Comment);
        assert_eq!(r.fixes[0].from, " // set on mute");
        replays(p, &r);
        let p = "{\n  \"a\": [1, 2,],\n  \"b\": null,\n}\n";
        let r = repair(p);
        assert!(valid(&r.text), "{}", r.text);
        assert_eq!(r.fixes.len(), 2);
        assert_eq!(r.fixes[1].from, ",\n}");
        replays(p, &r);
    }

    #[test]
    fn a_member_outside_its_object_closes_the_object_before_it() {
        let p = "{\n  \"t\": {\n    \"identity\": {\n      \"id\": \"1\"\n    },\n  \"transferee\": {\n    \"id\": \"2\"\n  }\n}\n";
        let r = repair(p);
        assert!(valid(&r.text), "{}", r.text);
        let v: serde_json::Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(v["transferee"]["id"], "2");
        assert_eq!(v["t"]["identity"]["id"], "1");
        replays(p, &r);
    }

    #[test]
    fn missing_and_extra_final_braces() {
        let p = "{\n  \"a\": {\n    \"b\": 1\n  }\n";
        let r = repair(p);
        assert!(valid(&r.text), "{}", r.text);
        replays(p, &r);
        let p = "{\n  \"a\": 1\n}\n}\n";
        let r = repair(p);
        assert!(valid(&r.text), "{}", r.text);
        replays(p, &r);
    }
}
