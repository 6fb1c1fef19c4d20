//! Reads one docs page: YAML front matter, fenced code blocks with their apidoctor
//! annotations, and pipe tables. Prose and headings are skipped on purpose: they are
//! translated, so they cannot identify an example.

use super::Diagnostic;
use serde_json::Value;

/// The front-matter fields that identify a page and its locale copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrontMatter {
    pub title: Option<String>,
    pub assetid: Option<String>,
    pub api_name: Vec<String>,
    pub locale: Option<String>,
}

/// The `blockType` of an apidoctor annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockType {
    Request,
    Response,
    Example,
    Ignored,
    Other(String),
}

/// An apidoctor annotation (`<!-- { "blockType": … } -->`) attached to the next fence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Annotation {
    /// 1-based line of the `<!--`.
    pub line: usize,
    pub block_type: Option<BlockType>,
    /// `name`, which apidoctor accepts as a string or a list.
    pub names: Vec<String>,
    pub truncated: bool,
    pub is_empty: bool,
    pub odata_type: Option<String>,
    /// The response is a collection of `odata_type` (`isCollection`).
    pub is_collection: bool,
}

/// What sits before a fence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Annot {
    None,
    Some(Annotation),
    /// The comment looked like an annotation but was not usable; already diagnosed.
    Invalid,
}

/// A fenced code block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The info string, trimmed and lower-cased (```` ``` http ```` gives `http`).
    pub lang: String,
    /// The content as printed, without leading and trailing blank lines, ending in `\n`
    /// (empty when the block is empty).
    pub text: String,
    pub annot: Annot,
    /// The text of the nearest heading above the block (tab headings such as
    /// `# [HTTP](#tab/http)` do not count), translation spans removed.
    pub heading: String,
}

/// A pipe table: its data rows (after the `|---|` separator), each with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub line: usize,
    pub rows: Vec<(usize, Vec<String>)>,
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub front: FrontMatter,
    pub blocks: Vec<Block>,
    pub tables: Vec<Table>,
    /// Bulleted lists of single words introduced by a line that mentions "possible
    /// values" (the UM element pages' enumerations).
    pub value_lists: Vec<ValueList>,
    /// Prose lines (not headings) that are one bold word and nothing else, with the line:
    /// ` **string**` gives `(32, "string")` (the UM element pages' type of the element's
    /// text). Of a machine-translated line, the hidden original's word.
    pub bold_lines: Vec<(usize, String)>,
    /// The page says notifications may arrive "out of order".
    pub any_order: bool,
}

/// An enumeration printed as a bulleted list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueList {
    /// 1-based line of the introducing sentence.
    pub line: usize,
    pub values: Vec<String>,
}

/// Scans a page. Problems become diagnostics naming `display:line`; scanning stops only
/// where the rest of the page cannot be read (an unterminated fence or comment).
pub fn parse(text: &str, display: &str, diags: &mut Vec<Diagnostic>) -> Page {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let normalized;
    let text = if text.contains('\r') {
        normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        text
    };
    let mut s = Scanner {
        lines: text.split('\n').collect(),
        display,
        diags,
        page: Page {
            any_order: text.to_ascii_lowercase().contains("out of order"),
            ..Page::default()
        },
        pending: None,
        heading: String::new(),
        list: None,
    };
    let mut i = s.front_matter();
    while i < s.lines.len() {
        let line = s.lines[i];
        let t = line.trim_start();
        let next = if let Some(fence) = fence_open(line) {
            s.fence(i, &fence)
        } else if let Some(rest) = t.strip_prefix("<!--") {
            s.comment(i, rest)
        } else if t.starts_with('|') {
            Some(s.table(i))
        } else {
            s.prose(i, t);
            Some(i + 1)
        };
        match next {
            Some(n) => i = n,
            None => {
                s.pending = None;
                break;
            }
        }
    }
    s.flush();
    if let Some(l) = s.list.take().filter(|l| !l.values.is_empty()) {
        s.page.value_lists.push(l);
    }
    s.page
}

/// The state of scanning one page line by line. Each step returns the index of the next
/// line to read, or `None` where the rest of the page cannot be read.
struct Scanner<'t, 'd> {
    lines: Vec<&'t str>,
    display: &'t str,
    diags: &'d mut Vec<Diagnostic>,
    page: Page,
    /// An annotation seen but not yet attached: it attaches to the next fence if only
    /// blank lines, `[!INCLUDE …]` lines, tab headings and other comments come between.
    pending: Option<Annot>,
    /// The nearest heading so far.
    heading: String,
    /// An enumeration being read.
    list: Option<ValueList>,
}

impl<'t> Scanner<'t, '_> {
    fn diag(&mut self, line: usize, reason: String) {
        self.diags.push(Diagnostic::new(self.display, line, reason));
    }

    /// A pending annotation that no code block follows is dropped, with a diagnostic when
    /// it announced an example.
    fn flush(&mut self) {
        if let Some(Annot::Some(a)) = self.pending.take()
            && matches!(
                a.block_type,
                Some(BlockType::Request | BlockType::Response | BlockType::Example)
            )
        {
            self.diag(
                a.line,
                "annotation is not followed by a code block; nothing to extract".into(),
            );
        }
    }

    /// Reads the YAML front matter, if the page opens with one; returns the first line
    /// after it. An unclosed one is read as prose.
    fn front_matter(&mut self) -> usize {
        if self.lines.first().map(|l| l.trim_end()) != Some("---") {
            return 0;
        }
        match self
            .lines
            .iter()
            .skip(1)
            .position(|l| l.trim_end() == "---")
        {
            Some(end) => {
                self.page.front = front_matter(&self.lines[1..end + 1]);
                end + 2
            }
            None => {
                self.diag(
                    1,
                    "front matter (`---`) is never closed; read as prose".into(),
                );
                0
            }
        }
    }

    /// A fenced code block, taking the pending annotation and the current heading.
    fn fence(&mut self, i: usize, fence: &Fence<'_>) -> Option<usize> {
        let lines = &self.lines;
        let Some(close) = (i + 1..lines.len()).find(|&j| fence_close(lines[j], fence.ticks)) else {
            self.diag(
                i + 1,
                "code fence is never closed; the rest of the page is not read".into(),
            );
            return None;
        };
        let body: Vec<&str> = lines[i + 1..close]
            .iter()
            .map(|l| strip_indent(l, fence.indent))
            .collect();
        let text = block_text(&body);
        self.page.blocks.push(Block {
            line: i + 1,
            lang: fence.info.to_ascii_lowercase(),
            text,
            annot: self.pending.take().unwrap_or(Annot::None),
            heading: self.heading.clone(),
        });
        Some(close + 1)
    }

    /// An HTML comment; one holding JSON is an apidoctor annotation for the next fence.
    fn comment(&mut self, i: usize, rest: &str) -> Option<usize> {
        let Some((content, end)) = comment_text(&self.lines, i, rest) else {
            self.diag(
                i + 1,
                "HTML comment is never closed; the rest of the page is not read".into(),
            );
            return None;
        };
        let c = content.trim();
        if c.starts_with('{') {
            match annotation(c, i + 1) {
                Ok(Some(a)) => {
                    self.flush();
                    self.pending = Some(Annot::Some(a));
                }
                Ok(None) => {} // page-level annotation (`#page.annotation`)
                Err(reason) => {
                    self.flush();
                    self.diag(i + 1, reason);
                    self.pending = Some(Annot::Invalid);
                }
            }
        }
        Some(end + 1)
    }

    /// A pipe table: the run of lines starting with `|`.
    fn table(&mut self, start: usize) -> usize {
        self.flush();
        let mut i = start;
        while i < self.lines.len() && self.lines[i].trim_start().starts_with('|') {
            i += 1;
        }
        if let Some(table) = table(&self.lines[start..i], start + 1) {
            self.page.tables.push(table);
        }
        i
    }

    /// Any other line: a heading, part of an enumeration, or prose that ends a pending
    /// annotation's reach.
    fn prose(&mut self, i: usize, t: &str) {
        let tab = t.starts_with('#') && t.contains("](#tab/");
        if t.starts_with('#') && !tab {
            self.heading = strip_spans(t.trim_start_matches('#')).trim().to_string();
        }
        value_list_line(t, i + 1, &mut self.list, &mut self.page.value_lists);
        if !t.starts_with('#')
            && let Some(word) = bold_word(t)
        {
            self.page.bold_lines.push((i + 1, word));
        }
        let between = t.is_empty() || t.starts_with("[!INCLUDE") || tab;
        if !between {
            self.flush();
        }
    }
}

/// The text of an HTML comment opening on line `i` (`rest` follows its `<!--`) and the
/// line it closes on; `None` when it never closes.
fn comment_text(lines: &[&str], i: usize, rest: &str) -> Option<(String, usize)> {
    if let Some(p) = rest.find("-->") {
        return Some((rest[..p].to_string(), i));
    }
    let j = (i + 1..lines.len()).find(|&j| lines[j].contains("-->"))?;
    let mut c = String::from(rest);
    for l in &lines[i + 1..j] {
        c.push('\n');
        c.push_str(l);
    }
    c.push('\n');
    let last = lines[j];
    c.push_str(&last[..last.find("-->").unwrap_or(last.len())]);
    Some((c, j))
}

/// Follows an enumeration: a sentence naming "possible values", then `- Word` items
/// (blank lines between them allowed); anything else ends it.
fn value_list_line(t: &str, line: usize, list: &mut Option<ValueList>, out: &mut Vec<ValueList>) {
    if t.to_ascii_lowercase().contains("possible values") {
        if let Some(l) = list.take().filter(|l| !l.values.is_empty()) {
            out.push(l);
        }
        *list = Some(ValueList {
            line,
            values: Vec::new(),
        });
        return;
    }
    let Some(l) = list.as_mut() else { return };
    if t.is_empty() {
        return;
    }
    let item = t
        .strip_prefix("- ")
        .or_else(|| t.strip_prefix("* "))
        .map(|i| {
            strip_spans(i)
                .trim()
                .trim_matches('`')
                .trim_matches('*')
                .to_string()
        });
    match item {
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            l.values.push(v)
        }
        _ => {
            if let Some(l) = list.take().filter(|l| !l.values.is_empty()) {
                out.push(l);
            }
        }
    }
}

struct Fence<'a> {
    ticks: usize,
    indent: usize,
    info: &'a str,
}

/// A line opening a fence: up to three spaces, three or more backticks, an info string.
fn fence_open(line: &str) -> Option<Fence<'_>> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ticks = rest.len() - rest.trim_start_matches('`').len();
    if ticks < 3 {
        return None;
    }
    let info = rest[ticks..].trim();
    if info.contains('`') {
        return None;
    }
    Some(Fence {
        ticks,
        indent,
        info,
    })
}

fn fence_close(line: &str, ticks: usize) -> bool {
    let t = line.trim();
    t.len() >= ticks && t.bytes().all(|b| b == b'`')
}

fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// Block content without leading and trailing blank lines (a stray `  ` line before the
/// closing fence is layout, not example), each line kept as printed.
fn block_text(lines: &[&str]) -> String {
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(f), Some(l)) => {
            let mut s = lines[f..=l].join("\n");
            s.push('\n');
            s
        }
        _ => String::new(),
    }
}

/// The few front-matter fields we need, read from the simple YAML the docs use
/// (`key: value`, and `key:` followed by `- item` lines).
fn front_matter(lines: &[&str]) -> FrontMatter {
    let mut fm = FrontMatter::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.starts_with([' ', '\t', '-']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let value = value.trim();
        let mut items = Vec::new();
        if value.is_empty() {
            while i < lines.len() {
                let t = lines[i].trim_start();
                let Some(item) = t.strip_prefix('-') else {
                    break;
                };
                items.push(unquote(item.trim()));
                i += 1;
            }
        } else if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            items.extend(inner.split(',').map(|s| unquote(s.trim())));
        } else {
            items.push(unquote(value));
        }
        items.retain(|s| !s.is_empty());
        let first = items.first().cloned();
        match key {
            "title" => fm.title = first,
            "ms.assetid" => fm.assetid = first,
            "ms.contentlocale" => fm.locale = first,
            "api_name" => fm.api_name = items,
            _ => {}
        }
    }
    fm
}

fn unquote(s: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q))
            && s.len() >= 2
        {
            return inner.to_string();
        }
    }
    s.to_string()
}

/// Reads the JSON of an annotation comment. `Ok(None)` for a page-level annotation,
/// which belongs to no block. apidoctor reads these with a lenient parser, so the
/// documented-JSON reader is the fallback.
fn annotation(json: &str, line: usize) -> Result<Option<Annotation>, String> {
    let value: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(strict) => crate::canon::json::parse_documented(json)
            .map_err(|_| format!("annotation is not valid JSON: {strict}"))?,
    };
    let Value::Object(map) = value else {
        return Err("annotation is not a JSON object".into());
    };
    if map.get("type").and_then(Value::as_str) == Some("#page.annotation") {
        return Ok(None);
    }
    let flag = |key: &str| match map.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        None | Some(Value::Null) => Ok(false),
        Some(other) => Err(format!("annotation `{key}` is {other}, not true or false")),
    };
    let block_type = match map.get("blockType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.to_ascii_lowercase().as_str() {
            "request" => BlockType::Request,
            "response" => BlockType::Response,
            "example" => BlockType::Example,
            "ignored" => BlockType::Ignored,
            _ => BlockType::Other(s.clone()),
        }),
        Some(other) => return Err(format!("annotation `blockType` is {other}, not a string")),
    };
    let names = match map.get("name") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("annotation `name` holds {v}, not a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("annotation `name` is {other}, not a string")),
    };
    Ok(Some(Annotation {
        line,
        block_type,
        names,
        truncated: flag("truncated")?,
        is_empty: flag("isEmpty")?,
        is_collection: flag("isCollection")?,
        odata_type: map
            .get("@odata.type")
            .and_then(Value::as_str)
            .map(str::to_string),
    }))
}

/// A header row, a `|---|` separator and data rows; anything else is not a table.
fn table(lines: &[&str], first_line: usize) -> Option<Table> {
    if lines.len() < 2 {
        return None;
    }
    let sep = cells(lines[1]);
    let is_sep = !sep.is_empty()
        && sep.iter().all(|c| {
            let c = c.trim_matches(':');
            !c.is_empty() && c.bytes().all(|b| b == b'-')
        });
    if !is_sep {
        return None;
    }
    Some(Table {
        line: first_line,
        rows: lines[2..]
            .iter()
            .enumerate()
            .map(|(k, l)| (first_line + 2 + k, cells(l)))
            .collect(),
    })
}

/// The trimmed cells of a table row; `\|` is a literal bar.
fn cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t
        .strip_suffix('|')
        .filter(|r| !r.ends_with('\\'))
        .unwrap_or(t);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// The word of a line that is one bold run (`**string**`), spans removed; of a
/// machine-translated line, the hidden original's.
fn bold_word(line: &str) -> Option<String> {
    let text = hidden_original(line).unwrap_or_else(|| strip_spans(line));
    let word = text.trim().strip_prefix("**")?.strip_suffix("**")?;
    let ok = !word.is_empty() && !word.contains(['*', '`']) && !word.contains(char::is_whitespace);
    ok.then(|| word.to_string())
}

/// The original text a machine translation hides in `<span class="sxs-lookup">…</span>`
/// (the English of a translated cell or line), tags removed; `None` when there is none.
pub fn hidden_original(s: &str) -> Option<String> {
    let start = s.find("sxs-lookup")?;
    let rest = &s[start..];
    let rest = &rest[rest.find('>')? + 1..];
    // The lookup span holds one nested span: its content ends at the second `</span>`.
    let mut out = String::new();
    let mut depth = 1usize;
    let mut pos = 0;
    while depth > 0 {
        let tail = &rest[pos..];
        let (open, close) = (tail.find("<span"), tail.find("</span>"));
        match (open, close) {
            (Some(o), Some(c)) if o < c => {
                out.push_str(&tail[..o]);
                depth += 1;
                pos += o + tail[o..].find('>').map_or(tail.len() - o, |g| g + 1);
            }
            (_, Some(c)) => {
                out.push_str(&tail[..c]);
                depth -= 1;
                pos += c + "</span>".len();
            }
            (_, None) => {
                out.push_str(tail);
                break;
            }
        }
    }
    Some(out)
}

/// Removes the machine-translation wrappers from a line of prose or a table cell:
/// the hidden English original (`<span class="sxs-lookup">…</span></span>`) goes with its
/// content, the other `<span …>`/`</span>` tags go alone.
pub fn strip_spans(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<span") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(gt) = tail.find('>') else {
            out.push_str(tail);
            return out;
        };
        let tag = &tail[..=gt];
        rest = &tail[gt + 1..];
        if tag.contains("sxs-lookup") {
            // The lookup span holds one nested span: skip to the second `</span>`.
            let mut depth = 1usize;
            let mut pos = 0;
            while depth > 0 {
                let (open, close) = (rest[pos..].find("<span"), rest[pos..].find("</span>"));
                match (open, close) {
                    (Some(o), Some(c)) if o < c => {
                        depth += 1;
                        pos += o + 5;
                    }
                    (_, Some(c)) => {
                        depth -= 1;
                        pos += c + 7;
                    }
                    (_, None) => {
                        pos = rest.len();
                        break;
                    }
                }
            }
            rest = &rest[pos..];
        }
    }
    out.push_str(rest);
    out.replace("</span>", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_across_tab_heading_and_includes() {
        let page = "---\ntitle: T\nms.contentlocale: ru-RU\napi_name:\n- A\n- B\n---\n\
            <!-- {\n  \"blockType\": \"request\",\n  \"name\": [\"x-1\", \"y\"]\n}-->\n\
            # [HTTP](#tab/http)\n[!INCLUDE [a](b.md)]\n\n``` http\nGET /a\n```\n";
        let mut d = Vec::new();
        let p = parse(page, "p.md", &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.front.api_name, ["A", "B"]);
        assert_eq!(p.front.locale.as_deref(), Some("ru-RU"));
        assert_eq!(p.blocks.len(), 1);
        assert_eq!(p.blocks[0].lang, "http");
        assert_eq!(p.blocks[0].line, 15);
        let Annot::Some(a) = &p.blocks[0].annot else {
            panic!("no annotation")
        };
        assert_eq!(a.block_type, Some(BlockType::Request));
        assert_eq!(a.names, ["x-1", "y"]);
    }

    #[test]
    fn prose_between_annotation_and_fence_detaches_it() {
        let page = "<!-- { \"blockType\": \"response\", \"truncated\": \"true\" } -->\nSome text.\n```http\nHTTP/1.1 200 OK\n```\n";
        let mut d = Vec::new();
        let p = parse(page, "p.md", &mut d);
        assert_eq!(p.blocks[0].annot, Annot::None);
        assert_eq!(d.len(), 1);
        assert!(d[0].to_string().starts_with("p.md:1: "), "{}", d[0]);
    }

    #[test]
    fn page_trailers_are_not_block_annotations() {
        let page = "<!-- uuid: 8fcb\n2015 -->\n<!--\n{\n  \"type\": \"#page.annotation\",\n  \"suppressions\": [\n  ]\n}\n-->\n";
        let mut d = Vec::new();
        let p = parse(page, "p.md", &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert!(p.blocks.is_empty());
    }

    #[test]
    fn spans_lose_the_hidden_english() {
        let s = "<span data-ttu-id=\"b-1\">代码</span><span class=\"sxs-lookup\"><span data-stu-id=\"b-1\">Code</span></span> x";
        assert_eq!(strip_spans(s), "代码 x");
    }

    #[test]
    fn bold_lines_are_words_alone_on_a_prose_line() {
        let page = "# **Heading**\n\n **string**\nThe **X** element.\n**two words**\n\
            <span data-ttu-id=\"a-1\">**chaîne**</span><span class=\"sxs-lookup\"><span data-stu-id=\"a-1\">**string**</span></span>\n\
            ```xml\n**code**\n```\n";
        let p = parse(page, "p.md", &mut Vec::new());
        assert_eq!(
            p.bold_lines,
            [(3, "string".to_string()), (6, "string".to_string())]
        );
    }

    #[test]
    fn the_hidden_original_of_a_translated_cell() {
        let cell = "<span data-ttu-id=\"b-7\">Peut être vide</span><span class=\"sxs-lookup\"><span data-stu-id=\"b-7\">Can be Empty</span></span>  <br/>";
        assert_eq!(hidden_original(cell).as_deref(), Some("Can be Empty"));
        assert_eq!(hidden_original("Faux  <br/>"), None);
    }

    #[test]
    fn table_cells_and_escaped_bars() {
        let page = "| a | b |\n|:--|--:|\n| 1 | x \\| y |\n";
        let p = parse(page, "p.md", &mut Vec::new());
        assert_eq!(
            p.tables[0].rows,
            vec![(3, vec!["1".into(), "x | y".into()])]
        );
    }
}
