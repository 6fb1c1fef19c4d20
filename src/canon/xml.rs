//! Canonical XML: a namespace-resolved tree in which prefixes, attribute order, the place
//! of namespace declarations, comments, processing instructions, the XML declaration and
//! whitespace between elements no longer matter.
//!
//! The form is meant for data-style XML such as SOAP envelopes: text runs are trimmed and
//! whitespace-only runs are dropped, so it is not suitable for mixed content.
//!
//! Hostile input is refused rather than processed: a DOCTYPE (and with it every entity
//! declaration) is an error, as is any entity reference other than the five predefined
//! ones, and the size, depth and node count are bounded by [`Limits`].
//!
//! [`canonicalize`] builds the tree; [`canonical_text`] writes its [`render`]ing (with
//! placeholders substituted) in one streaming pass without building it. Both run the same
//! event loop, so they accept and refuse exactly the same documents.

use super::{CanonError, Limits, Placeholder, substitute};
use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::errors::{Error as QxError, IllFormedError};
use quick_xml::escape::{EscapeError, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::NamespaceError;
use quick_xml::name::{NamespaceResolver, QName, ResolveResult};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// An element with Clark-notation name `{namespace}local` (or bare `local` when unbound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// Keyed by `{namespace}local` or `local`; `xmlns` declarations are not attributes.
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// The name without its namespace: `GetCallInfoResponse` for
    /// `{http://schemas.microsoft.com/exchange/services/2006/messages}GetCallInfoResponse`.
    pub fn local_name(&self) -> &str {
        local_part(&self.name)
    }

    /// The namespace of the name, if it has one.
    pub fn namespace(&self) -> Option<&str> {
        let rest = self.name.strip_prefix('{')?;
        rest.rfind('}').map(|end| &rest[..end])
    }
}

/// The part of a Clark name after the namespace.
fn local_part(clark: &str) -> &str {
    if clark.starts_with('{') {
        match clark.rfind('}') {
            Some(end) => &clark[end + 1..],
            None => clark,
        }
    } else {
        clark
    }
}

const XSI_TYPE: &str = "{http://www.w3.org/2001/XMLSchema-instance}type";

/// The whitespace characters of XML (not Unicode's wider set: a no-break space is data).
/// All are ASCII, so text can be trimmed byte by byte without splitting a character.
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether `s` is all XML whitespace (or empty).
fn is_blank(s: &str) -> bool {
    s.bytes().all(is_xml_space)
}

fn trim_start_space(s: &str) -> &str {
    let start = s.bytes().position(|b| !is_xml_space(b)).unwrap_or(s.len());
    &s[start..]
}

fn trim_end_space(s: &str) -> &str {
    let end = s
        .bytes()
        .rposition(|b| !is_xml_space(b))
        .map_or(0, |i| i + 1);
    &s[..end]
}

fn err(message: String, offset: Option<u64>) -> CanonError {
    CanonError { message, offset }
}

/// Parses and canonicalises a document.
pub fn canonicalize(input: &[u8], limits: &Limits) -> Result<Element, CanonError> {
    let mut sink = TreeSink {
        stack: Vec::new(),
        pending: Vec::new(),
        root: None,
    };
    walk(input, limits, &mut sink)?;
    sink.root
        .take()
        .ok_or_else(|| err("XML: no root element".into(), Some(input.len() as u64)))
}

/// The canonical rendering of a document with placeholders substituted, in one streaming
/// pass: exactly `render(&t)` where `t` is [`canonicalize`] of `input` after
/// [`apply_placeholders`], with the same errors, but no tree is built.
pub fn canonical_text(
    input: &[u8],
    limits: &Limits,
    placeholders: &[Placeholder<'_>],
) -> Result<String, CanonError> {
    let active = placeholders.iter().any(|(v, _)| !v.is_empty());
    let mut sink = TextSink {
        // The rendering carries every namespace in full, so it is usually about twice the
        // input; growing from here costs at most a few reallocations. (Oversized input is
        // refused before anything is written.)
        out: String::with_capacity(if input.len() <= limits.max_bytes {
            input.len().saturating_mul(2) + 64
        } else {
            0
        }),
        placeholders: if active { placeholders } else { &[] },
    };
    walk(input, limits, &mut sink)?;
    Ok(sink.out)
}

/// Receives the canonical document from [`walk`] in document order: every check has been
/// made by the time a call arrives, so a sink only builds.
trait Sink {
    /// An element at `depth` (0 for the root); `ns` is its namespace, if bound.
    fn start(&mut self, ns: Option<&str>, local: &str, depth: usize);
    /// An attribute of the element just started, in ascending order of Clark name.
    fn attr(&mut self, key: &str, value: &str, depth: usize);
    /// A text run (trimmed, non-empty) of the innermost open element, at `depth`.
    fn text(&mut self, text: &str, depth: usize);
    /// The innermost open element ends.
    fn end(&mut self);
}

/// Builds the tree. Elements under construction live on an explicit stack, so nothing
/// recurses on the input's depth.
struct TreeSink {
    /// Open elements (their `children` still empty) and where their children start in
    /// `pending`.
    stack: Vec<(Element, usize)>,
    /// Children of all open elements, innermost last. An element's children are moved into
    /// one exactly sized `Vec` when it closes, so no `Vec` grows by doubling.
    pending: Vec<Node>,
    root: Option<Element>,
}

impl Sink for TreeSink {
    fn start(&mut self, ns: Option<&str>, local: &str, _depth: usize) {
        let mut name = String::with_capacity(ns.map_or(0, |ns| ns.len() + 2) + local.len());
        push_clark(&mut name, ns, local);
        self.stack.push((
            Element {
                name,
                attrs: BTreeMap::new(),
                children: Vec::new(),
            },
            self.pending.len(),
        ));
    }

    fn attr(&mut self, key: &str, value: &str, _depth: usize) {
        if let Some((el, _)) = self.stack.last_mut() {
            el.attrs.insert(key.to_owned(), value.to_owned());
        }
    }

    fn text(&mut self, text: &str, _depth: usize) {
        self.pending.push(Node::Text(text.to_owned()));
    }

    fn end(&mut self) {
        let Some((mut el, first_child)) = self.stack.pop() else {
            return;
        };
        if first_child < self.pending.len() {
            el.children = if first_child == 0 {
                // `split_off(0)` would hand over the whole buffer with its spare capacity.
                self.pending.drain(..).collect()
            } else {
                self.pending.split_off(first_child)
            };
        }
        if self.stack.is_empty() {
            self.root = Some(el);
        } else {
            self.pending.push(Node::Element(el));
        }
    }
}

/// Writes the rendering (see [`render`]) straight into one `String`.
struct TextSink<'p> {
    out: String,
    /// Empty unless some placeholder has a non-empty value.
    placeholders: &'p [Placeholder<'p>],
}

impl TextSink<'_> {
    fn push_value(&mut self, s: &str) {
        if !self.placeholders.is_empty()
            && let Some(replaced) = substitute(s, self.placeholders)
        {
            push_json_string(&mut self.out, &replaced);
        } else {
            push_json_string(&mut self.out, s);
        }
    }
}

impl Sink for TextSink<'_> {
    fn start(&mut self, ns: Option<&str>, local: &str, depth: usize) {
        indent(&mut self.out, depth);
        push_clark(&mut self.out, ns, local);
        self.out.push('\n');
    }

    fn attr(&mut self, key: &str, value: &str, depth: usize) {
        indent(&mut self.out, depth + 1);
        self.out.push('@');
        self.out.push_str(key);
        self.out.push('=');
        self.push_value(value);
        self.out.push('\n');
    }

    fn text(&mut self, text: &str, depth: usize) {
        indent(&mut self.out, depth + 1);
        self.push_value(text);
        self.out.push('\n');
    }

    fn end(&mut self) {}
}

/// Appends `{ns}local`, or `local` when unbound.
#[inline]
fn push_clark(out: &mut String, ns: Option<&str>, local: &str) {
    if let Some(ns) = ns {
        out.push('{');
        out.push_str(ns);
        out.push('}');
    }
    out.push_str(local);
}

/// What [`Element::local_name`] returns for the Clark name of `local` in a namespace
/// (`bound`) or in none.
fn clark_local(bound: bool, local: &str) -> &str {
    if bound || local.starts_with('{') {
        match local.rfind('}') {
            Some(end) => &local[end + 1..],
            None => local,
        }
    } else {
        local
    }
}

/// The event loop shared by [`canonicalize`] and [`canonical_text`]: every check happens
/// here, and `sink` only sees the canonical document.
fn walk<S: Sink>(input: &[u8], limits: &Limits, sink: &mut S) -> Result<(), CanonError> {
    if input.len() > limits.max_bytes {
        return Err(err(
            format!(
                "XML: body is {} bytes, more than the limit of {} bytes",
                input.len(),
                limits.max_bytes
            ),
            None,
        ));
    }
    // The slice reader validates UTF-8 piece by piece as it goes, so the input is never
    // copied or validated twice.
    // Namespaces are tracked here rather than by `NsReader`, which parses every start
    // tag's attributes once more just to look for declarations.
    let mut reader = Reader::from_reader(input);
    let mut resolver = NamespaceResolver::default();
    {
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
    }
    let mut w = Walker {
        limits: *limits,
        sink,
        open: Vec::new(),
        names: String::new(),
        root_done: false,
        run: Run::Empty,
        buf: String::new(),
        nodes: 0,
        scratch: String::new(),
        attrs: Vec::new(),
    };
    loop {
        let at = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(reader_error(e, reader.error_position(), input)),
        };
        match event {
            Event::Start(e) => {
                open_scope(&mut resolver, &e)
                    .map_err(|ne| reader_error(ne.into(), reader.error_position(), input))?;
                w.start(&e, &resolver, at)?;
            }
            Event::Empty(e) => {
                // Not produced with `expand_empty_elements`, but handled the same way.
                open_scope(&mut resolver, &e)
                    .map_err(|ne| reader_error(ne.into(), reader.error_position(), input))?;
                w.start(&e, &resolver, at)?;
                w.end(&resolver, at)?;
                resolver.pop();
            }
            Event::End(_) => {
                w.end(&resolver, at)?;
                resolver.pop();
            }
            // Whitespace between elements, the bulk of an indented document, is dropped
            // before its line ends are normalised.
            Event::Text(t) if matches!(w.run, Run::Empty) && is_blank(&t) => {}
            Event::Text(t) => w.text(t.xml10_content(), at)?,
            Event::CData(c) => w.text(c.xml10_content(), at)?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(ch)) => Some(ch),
                    Ok(None) => None,
                    Err(e) => {
                        return Err(err(
                            format!("XML: bad character reference `&{};`: {e}", &*r),
                            Some(at),
                        ));
                    }
                };
                match resolved {
                    Some(ch) => {
                        let mut utf8 = [0u8; 4];
                        w.text_owned(ch.encode_utf8(&mut utf8), at)?
                    }
                    None => match resolve_predefined_entity(&r) {
                        Some(s) => w.text(Cow::Borrowed(s), at)?,
                        None => return Err(unknown_entity(&r, Some(at))),
                    },
                }
            }
            Event::DocType(_) => {
                return Err(err(
                    "XML: DOCTYPE is not allowed (entity expansion is refused)".into(),
                    Some(at),
                ));
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => return w.finish(input.len() as u64),
        }
    }
}

fn unknown_entity(name: &str, offset: Option<u64>) -> CanonError {
    err(
        format!(
            "XML: entity reference `&{name};` is not defined (only &lt; &gt; &amp; &apos; &quot; \
             and character references are allowed)"
        ),
        offset,
    )
}

/// Turns a quick-xml error into one a user can act on.
fn reader_error(e: QxError, position: u64, input: &[u8]) -> CanonError {
    let at = Some(position);
    match e {
        QxError::Encoding(_) => {
            let offset = match std::str::from_utf8(input) {
                Err(u) => u.valid_up_to() as u64,
                Ok(_) => position,
            };
            err("XML: input is not valid UTF-8".into(), Some(offset))
        }
        QxError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => err(
            format!("XML: end tag `</{found}>` does not match start tag `<{expected}>`"),
            at,
        ),
        QxError::IllFormed(IllFormedError::UnmatchedEndTag(tag)) => err(
            format!("XML: end tag `</{tag}>` has no matching start tag"),
            at,
        ),
        QxError::Escape(EscapeError::UnrecognizedEntity(_, name)) => unknown_entity(&name, at),
        QxError::Syntax(s) => err(format!("XML: syntax error: {s}"), at),
        QxError::IllFormed(i) => err(format!("XML: not well-formed: {i}"), at),
        QxError::InvalidAttr(a) => err(format!("XML: bad attribute: {a}"), at),
        other => err(format!("XML: {other}"), at),
    }
}

/// Opens the namespace scope of a start tag: exactly [`NamespaceResolver::push`] (which
/// `NsReader` calls), but a tag whose attributes cannot hold a declaration is not parsed.
fn open_scope(resolver: &mut NamespaceResolver, e: &BytesStart<'_>) -> Result<(), NamespaceError> {
    // Every declaration's name starts with `xmlns` (searched for by hand: a substring
    // searcher costs more to set up than these few bytes take to scan).
    if e.attributes_raw()
        .as_bytes()
        .windows(5)
        .any(|w| w == b"xmlns")
    {
        return resolver.push(e);
    }
    let level = resolver
        .level()
        .checked_add(1)
        .ok_or(NamespaceError::TooDeeplyNested(u16::MAX as usize))?;
    // Raising the level adds an empty scope.
    resolver.set_level(level);
    Ok(())
}

/// The state of [`walk`]: open elements, the text run, limits and scratch space reused from
/// element to element.
struct Walker<'i, 's, S> {
    limits: Limits,
    sink: &'s mut S,
    open: Vec<Open>,
    /// Names (without namespace) of the open elements, concatenated (see
    /// [`Open::name_start`]).
    names: String,
    /// The root element has been closed.
    root_done: bool,
    /// The current text run (Text, CDATA and references joined), leading whitespace
    /// already skipped.
    run: Run<'i>,
    /// Holds the run once it has more than one piece. Reused across runs.
    buf: String,
    nodes: usize,
    /// Clark names and values of the current element's attributes, back to back.
    scratch: String,
    /// Where each attribute lives in `scratch`, sorted by name before it is handed on.
    attrs: Vec<AttrSpan>,
}

/// An open element.
struct Open {
    /// Where its local name starts in `Walker::names`.
    name_start: usize,
    /// A child (element or text) has been seen.
    has_children: bool,
    /// The name has a namespace.
    bound: bool,
}

impl Open {
    /// What [`Element::local_name`] returns for this element.
    fn local_name<'n>(&self, names: &'n str) -> &'n str {
        clark_local(self.bound, &names[self.name_start..])
    }

    /// Whether this is a SOAP 1.1 `faultcode` element (in any namespace).
    fn is_faultcode(&self, names: &str) -> bool {
        const FAULTCODE: &str = "faultcode";
        // The cheap test first: most names do not even end that way.
        names.ends_with(FAULTCODE) && self.local_name(names) == FAULTCODE
    }
}

/// An attribute in `Walker::scratch`: the name is `start..mid`, the value `mid..end`.
#[derive(Clone, Copy)]
struct AttrSpan {
    start: usize,
    mid: usize,
    end: usize,
    /// Position among the element's attributes, so duplicates are reported in document
    /// order.
    index: usize,
}

/// The text run being collected.
enum Run<'i> {
    Empty,
    /// A single piece, still borrowed from the input (the usual case).
    One(&'i str),
    /// Several pieces, joined in `Walker::buf`.
    Joined,
}

impl<'i, S: Sink> Walker<'i, '_, S> {
    fn count(&mut self, at: u64) -> Result<(), CanonError> {
        count(&mut self.nodes, &self.limits, at)
    }

    fn start(
        &mut self,
        e: &BytesStart<'_>,
        resolver: &NamespaceResolver,
        at: u64,
    ) -> Result<(), CanonError> {
        if self.open.len() >= self.limits.max_depth {
            return Err(err(
                format!("XML: nesting deeper than {} levels", self.limits.max_depth),
                Some(at),
            ));
        }
        if self.open.is_empty() && self.root_done {
            return Err(err(
                format!(
                    "XML: content after the root element (a second element `<{}>`)",
                    e.name().as_ref()
                ),
                Some(at),
            ));
        }
        self.flush_text(at, None)?;
        self.count(at)?;
        let qname = e.name();
        let (ns, local) = resolver.resolve_element(qname);
        let ns = bound(ns, qname, at)?;
        let local = local.into_inner();
        self.scratch.clear();
        self.attrs.clear();
        if let Err(e) = self.collect_attrs(e, resolver, at) {
            // Checked in document order, a duplicate before the failing attribute comes
            // first.
            return Err(match self.first_duplicate() {
                Some(key) => duplicate_attr(key, qname, at),
                None => e,
            });
        }
        if self.attrs.len() > 1
            && let Some(key) = self.first_duplicate()
        {
            return Err(duplicate_attr(key, qname, at));
        }
        let depth = self.open.len();
        if let Some(parent) = self.open.last_mut() {
            parent.has_children = true;
        }
        self.open.push(Open {
            name_start: self.names.len(),
            has_children: false,
            bound: ns.is_some(),
        });
        self.names.push_str(local);
        self.sink.start(ns, local, depth);
        for a in &self.attrs {
            self.sink.attr(
                &self.scratch[a.start..a.mid],
                &self.scratch[a.mid..a.end],
                depth,
            );
        }
        Ok(())
    }

    /// Resolves the attributes of `e` into `scratch` and `attrs`, in document order.
    /// Namespace declarations are not attributes.
    fn collect_attrs(
        &mut self,
        e: &BytesStart<'_>,
        resolver: &NamespaceResolver,
        at: u64,
    ) -> Result<(), CanonError> {
        let qname = e.name();
        // Duplicates are checked on expanded names (which also catches the same raw name
        // twice), so quick-xml's own check, which allocates, is off.
        let mut decls: Vec<&str> = Vec::new();
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|a| err(format!("XML: bad attribute: {a}"), Some(at)))?;
            if attr.key.as_namespace_binding().is_some() {
                let raw = attr.key.into_inner();
                if decls.contains(&raw) {
                    return Err(duplicate_attr(raw, qname, at));
                }
                decls.push(raw);
                continue;
            }
            self.count(at)?;
            let (ns, local) = resolver.resolve_attribute(attr.key);
            let ns = bound(ns, attr.key, at)?;
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    QxError::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
                        unknown_entity(&name, Some(at))
                    }
                    other => err(
                        format!(
                            "XML: bad value for attribute `{}`: {other}",
                            attr.key.as_ref()
                        ),
                        Some(at),
                    ),
                })?;
            let start = self.scratch.len();
            push_clark(&mut self.scratch, ns, local.into_inner());
            let mid = self.scratch.len();
            match &self.scratch[start..] == XSI_TYPE {
                true => match resolve_qname(&value, resolver) {
                    Some(resolved) => self.scratch.push_str(&resolved),
                    None => self.scratch.push_str(&value),
                },
                false => self.scratch.push_str(&value),
            }
            self.attrs.push(AttrSpan {
                start,
                mid,
                end: self.scratch.len(),
                index: self.attrs.len(),
            });
        }
        Ok(())
    }

    /// The name of the first attribute (in document order) whose name an earlier one
    /// already has.
    fn first_duplicate(&mut self) -> Option<&str> {
        if self.attrs.len() < 2 {
            return None;
        }
        let scratch = self.scratch.as_str();
        let key = |a: &AttrSpan| &scratch[a.start..a.mid];
        // Ordered by name, then by position: the second of each run of equal names is a
        // duplicate.
        self.attrs
            .sort_unstable_by(|a, b| key(a).cmp(key(b)).then(a.index.cmp(&b.index)));
        self.attrs
            .windows(2)
            .filter(|w| key(&w[0]) == key(&w[1]))
            .min_by_key(|w| w[1].index)
            .map(|w| key(&w[1]))
    }

    fn end(&mut self, resolver: &NamespaceResolver, at: u64) -> Result<(), CanonError> {
        self.flush_text(at, Some(resolver))?;
        let Some(open) = self.open.pop() else {
            return Err(err("XML: end tag without a start tag".into(), Some(at)));
        };
        self.names.truncate(open.name_start);
        self.sink.end();
        if self.open.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }

    /// Text outside the root element may only be whitespace.
    fn outside_root(&self, s: &str, at: u64) -> Result<(), CanonError> {
        if is_blank(s) {
            return Ok(());
        }
        let place = if self.root_done { "after" } else { "before" };
        Err(err(format!("XML: text {place} the root element"), Some(at)))
    }

    /// A piece of text that may borrow from the input.
    fn text(&mut self, s: Cow<'i, str>, at: u64) -> Result<(), CanonError> {
        let s = match s {
            Cow::Borrowed(s) => s,
            Cow::Owned(s) => return self.text_owned(&s, at),
        };
        if self.open.is_empty() {
            return self.outside_root(s, at);
        }
        match self.run {
            Run::Empty => {
                // Leading whitespace of a run is trimmed anyway; skip it without copying.
                let s = trim_start_space(s);
                if !s.is_empty() {
                    self.run = Run::One(s);
                }
            }
            Run::One(first) => {
                self.buf.clear();
                self.buf.push_str(first);
                self.buf.push_str(s);
                self.run = Run::Joined;
            }
            Run::Joined => self.buf.push_str(s),
        }
        Ok(())
    }

    /// A piece of text that does not outlive the event (a resolved reference, or text
    /// whose line ends were normalised).
    fn text_owned(&mut self, s: &str, at: u64) -> Result<(), CanonError> {
        if self.open.is_empty() {
            return self.outside_root(s, at);
        }
        match self.run {
            Run::Empty => {
                let s = trim_start_space(s);
                if !s.is_empty() {
                    self.buf.clear();
                    self.buf.push_str(s);
                    self.run = Run::Joined;
                }
            }
            Run::One(first) => {
                self.buf.clear();
                self.buf.push_str(first);
                self.buf.push_str(s);
                self.run = Run::Joined;
            }
            Run::Joined => self.buf.push_str(s),
        }
        Ok(())
    }

    /// Hands the text run on, if it has anything but whitespace. `closing` holds the
    /// resolver when the run ends at its element's end tag (not at a child's start tag).
    fn flush_text(
        &mut self,
        at: u64,
        closing: Option<&NamespaceResolver>,
    ) -> Result<(), CanonError> {
        let Self {
            run,
            buf,
            open,
            names,
            sink,
            nodes,
            limits,
            ..
        } = self;
        let run = match std::mem::replace(run, Run::Empty) {
            Run::Empty => return Ok(()),
            Run::One(s) => s,
            Run::Joined => buf.as_str(),
        };
        let trimmed = trim_end_space(run);
        if trimmed.is_empty() {
            return Ok(());
        }
        count(nodes, limits, at)?;
        let depth = open.len().saturating_sub(1);
        let Some(top) = open.last_mut() else {
            return Ok(());
        };
        let only_child = !top.has_children;
        top.has_children = true;
        // SOAP 1.1 puts a QName in the text of `faultcode`; its prefix is only meaningful
        // with the declarations in scope here (the resolver still has this element's scope).
        if let Some(resolver) = closing
            && only_child
            && top.is_faultcode(names)
            && let Some(resolved) = resolve_qname(trimmed, resolver)
        {
            sink.text(&resolved, depth);
        } else {
            sink.text(trimmed, depth);
        }
        Ok(())
    }

    fn finish(&self, end: u64) -> Result<(), CanonError> {
        if let Some(open) = self.open.last() {
            return Err(err(
                format!(
                    "XML: input ends before element `{}` is closed",
                    open.local_name(&self.names)
                ),
                Some(end),
            ));
        }
        if !self.root_done {
            return Err(err("XML: no root element".into(), Some(end)));
        }
        Ok(())
    }
}

fn count(nodes: &mut usize, limits: &Limits, at: u64) -> Result<(), CanonError> {
    *nodes += 1;
    if *nodes > limits.max_nodes {
        return Err(err(
            format!(
                "XML: more than {} nodes (elements, attributes and text runs)",
                limits.max_nodes
            ),
            Some(at),
        ));
    }
    Ok(())
}

fn duplicate_attr(key: &str, element: QName<'_>, at: u64) -> CanonError {
    err(
        format!(
            "XML: attribute `{key}` appears twice on `<{}>`",
            element.as_ref()
        ),
        Some(at),
    )
}

/// The namespace of a resolved name, or the error for a prefix that was never declared.
#[inline]
fn bound<'r>(
    ns: ResolveResult<'r>,
    qname: QName<'_>,
    at: u64,
) -> Result<Option<&'r str>, CanonError> {
    match ns {
        ResolveResult::Bound(ns) => Ok(Some(ns.into_inner())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(unknown_prefix(&prefix, qname, at)),
    }
}

#[cold]
fn unknown_prefix(prefix: &str, qname: QName<'_>, at: u64) -> CanonError {
    if prefix.is_empty() {
        err(
            format!(
                "XML: `{}` is not a valid name (empty namespace prefix)",
                qname.as_ref()
            ),
            Some(at),
        )
    } else {
        err(
            format!(
                "XML: unknown namespace prefix `{prefix}` in `{}`",
                qname.as_ref()
            ),
            Some(at),
        )
    }
}

/// `prefix:local` with a prefix bound in scope becomes `{ns}local`; anything else (no
/// prefix, an unbound prefix, not a QName at all) is left alone.
fn resolve_qname(value: &str, resolver: &NamespaceResolver) -> Option<String> {
    let (prefix, local) = value.split_once(':')?;
    let is_name =
        |s: &str| !s.is_empty() && !s.contains(|c: char| c == ':' || c.is_whitespace() || c == '{');
    if !is_name(prefix) || !is_name(local) {
        return None;
    }
    match resolver.resolve_attribute(QName(value)).0 {
        ResolveResult::Bound(ns) => {
            let ns = ns.into_inner();
            let mut s = String::with_capacity(ns.len() + local.len() + 2);
            s.push('{');
            s.push_str(ns);
            s.push('}');
            s.push_str(local);
            Some(s)
        }
        _ => None,
    }
}

/// Bytes that a JSON string literal cannot hold as they are: control characters, `"`
/// and `\\`.
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any of the eight bytes in `w` needs escaping (bit tricks on a whole word).
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero exactly when the high bit of `x - 1` is set and that of `x`
    // is not; below 0x20 likewise with `x - 0x20`. False alarms are impossible for
    // bytes without the high bit, and bytes with it set are masked out by `!w`.
    let below_space = w.wrapping_sub(ONES * 0x20);
    let quote = w ^ (ONES * b'"' as u64);
    let backslash = w ^ (ONES * b'\\' as u64);
    let hits =
        below_space | quote.wrapping_sub(ONES) & !quote | backslash.wrapping_sub(ONES) & !backslash;
    hits & !w & HIGHS != 0
}

/// Appends `s` as a JSON string literal (the escaping serde_json uses).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip a word at a time while nothing in it needs escaping.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !word_needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if !needs_escape(b) {
            i += 1;
            continue;
        }
        out.push_str(&s[from..i]);
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(escape);
        }
        i += 1;
        from = i;
    }
    out.push_str(&s[from..]);
    out.push('"');
}

fn indent(out: &mut String, depth: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = depth * 2;
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

/// One node per line, indented by depth, so a line diff points at the node.
///
/// ```text
/// {http://schemas.xmlsoap.org/soap/envelope/}Envelope
///   {http://schemas.xmlsoap.org/soap/envelope/}Body
///     {urn:x}Price
///       @{http://www.w3.org/2001/XMLSchema-instance}type="{http://www.w3.org/2001/XMLSchema}decimal"
///       "34.5"
/// ```
pub fn render(root: &Element) -> String {
    let mut out = String::new();
    // (element, index of the next child to render, depth); no recursion.
    let mut stack: Vec<(&Element, usize, usize)> = Vec::new();
    open(&mut out, root, 0);
    stack.push((root, 0, 0));
    while let Some(top) = stack.last_mut() {
        let (el, next, depth) = *top;
        let Some(child) = el.children.get(next) else {
            stack.pop();
            continue;
        };
        top.1 += 1;
        match child {
            Node::Text(t) => {
                indent(&mut out, depth + 1);
                push_json_string(&mut out, t);
                out.push('\n');
            }
            Node::Element(c) => {
                open(&mut out, c, depth + 1);
                stack.push((c, 0, depth + 1));
            }
        }
    }
    out
}

/// The element's own line and its attribute lines.
fn open(out: &mut String, el: &Element, depth: usize) {
    indent(out, depth);
    out.push_str(&el.name);
    out.push('\n');
    for (k, v) in &el.attrs {
        indent(out, depth + 1);
        out.push('@');
        out.push_str(k);
        out.push('=');
        push_json_string(out, v);
        out.push('\n');
    }
}

/// Replaces each placeholder value, wherever it occurs in text or attribute values, by `[name]`.
///
/// Empty values are ignored. Where two values could match at the same place, the longer
/// one wins, and replaced text is never searched again.
pub fn apply_placeholders(root: &mut Element, placeholders: &[Placeholder<'_>]) {
    if placeholders.iter().all(|(v, _)| v.is_empty()) {
        return;
    }
    let mut stack: Vec<&mut Element> = vec![root];
    while let Some(el) = stack.pop() {
        for v in el.attrs.values_mut() {
            if let Some(new) = substitute(v, placeholders) {
                *v = new;
            }
        }
        for child in &mut el.children {
            match child {
                Node::Text(t) => {
                    if let Some(new) = substitute(t, placeholders) {
                        *t = new;
                    }
                }
                Node::Element(c) => stack.push(c),
            }
        }
    }
}

/// Text of the first element reached by `/a/b/c` (local names; namespaces ignored).
///
/// The first segment names the root element. "First" is in document order, so
/// `/Envelope/Body/Item/Id` finds the `Id` of a later `Item` when earlier ones have none.
/// The text is the concatenation of the element's text children (empty when it has none).
pub fn select_text(root: &Element, path: &str) -> Option<String> {
    let steps: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (first, rest) = steps.split_first()?;
    if root.local_name() != *first {
        return None;
    }
    // Depth-first over candidate elements: (element, how many steps it has matched).
    let mut stack: Vec<(&Element, usize)> = vec![(root, 0)];
    while let Some((el, matched)) = stack.pop() {
        if matched == rest.len() {
            let mut text = String::new();
            for c in &el.children {
                if let Node::Text(t) = c {
                    text.push_str(t);
                }
            }
            return Some(text);
        }
        let want = rest[matched];
        // Push in reverse so the first child is explored first.
        for c in el.children.iter().rev() {
            if let Node::Element(c) = c
                && c.local_name() == want
            {
                stack.push((c, matched + 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The tree of `s`; its rendering is checked against the streamed text on the way.
    fn canon(s: &str) -> Element {
        match canonicalize(s.as_bytes(), &Limits::default()) {
            Ok(e) => {
                let streamed = canonical_text(s.as_bytes(), &Limits::default(), &[]);
                assert_eq!(streamed.as_deref(), Ok(render(&e).as_str()), "{s}");
                e
            }
            Err(e) => panic!("canonicalize failed: {e}\n{s}"),
        }
    }

    /// The error for `s`, which the streamed text must give too.
    fn canon_err(s: &[u8]) -> CanonError {
        canon_err_with(s, &Limits::default())
    }

    fn canon_err_with(s: &[u8], limits: &Limits) -> CanonError {
        match canonicalize(s, limits) {
            Ok(e) => panic!("expected an error, got\n{}", render(&e)),
            Err(e) => {
                assert_eq!(
                    canonical_text(s, limits, &[("x", "p")]),
                    Err(e.clone()),
                    "{}",
                    String::from_utf8_lossy(s)
                );
                e
            }
        }
    }

    /// The GetCallInfo response as the Exchange UM reference prints it.
    const DOC_GET_CALL_INFO: &str = r#"<?xml version="1.0" encoding="utf-8" ?> 
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Body>
    <GetCallInfoResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <GetCallInfoResponse>
        <CallState>Connected</CallState> 
        <EventCause>None</EventCause> 
      </GetCallInfoResponse>
    </GetCallInfoResponse>
  </soap:Body>
</soap:Envelope>
"#;

    /// The same response as a server might send it: one line, other prefixes, declarations moved.
    const WIRE_GET_CALL_INFO: &str = concat!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
        r#"<m:GetCallInfoResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">"#,
        r#"<GetCallInfoResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">"#,
        r#"<CallState>Connected</CallState><m:EventCause><![CDATA[None]]></m:EventCause>"#,
        r#"</GetCallInfoResponse></m:GetCallInfoResponse></s:Body></s:Envelope>"#
    );

    #[test]
    fn documented_and_wire_forms_are_equal() {
        assert_eq!(canon(DOC_GET_CALL_INFO), canon(WIRE_GET_CALL_INFO));
    }

    #[test]
    fn render_of_get_call_info() {
        let expected = "\
{http://schemas.xmlsoap.org/soap/envelope/}Envelope
  {http://schemas.xmlsoap.org/soap/envelope/}Body
    {http://schemas.microsoft.com/exchange/services/2006/messages}GetCallInfoResponse
      {http://schemas.microsoft.com/exchange/services/2006/messages}GetCallInfoResponse
        {http://schemas.microsoft.com/exchange/services/2006/messages}CallState
          \"Connected\"
        {http://schemas.microsoft.com/exchange/services/2006/messages}EventCause
          \"None\"
";
        assert_eq!(render(&canon(DOC_GET_CALL_INFO)), expected);
    }

    #[test]
    fn render_attributes_and_escapes() {
        let e = canon(
            r#"<r xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns:d="http://www.w3.org/2001/XMLSchema" z="2" a="1"><v i:type="d:decimal">a &amp; b&#10;"c"</v><e/></r>"#,
        );
        let expected = "\
r
  @a=\"1\"
  @z=\"2\"
  v
    @{http://www.w3.org/2001/XMLSchema-instance}type=\"{http://www.w3.org/2001/XMLSchema}decimal\"
    \"a & b\\n\\\"c\\\"\"
  e
";
        assert_eq!(render(&e), expected);
    }

    #[test]
    fn prefixes_attribute_order_and_declarations_do_not_matter() {
        let a = canon(
            r#"<a:root xmlns:a="urn:a" xmlns:b="urn:b" b:x="1" y="2"><a:child b:k="v">t</a:child></a:root>"#,
        );
        let b = canon(
            r#"<root xmlns="urn:a" y="2" xmlns:q="urn:b" q:x="1"><child xmlns:z="urn:b" z:k="v">t</child></root>"#,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn empty_element_forms_are_equal() {
        assert_eq!(canon("<a><b/></a>"), canon("<a><b></b></a>"));
        assert_eq!(canon("<a><b/></a>"), canon("<a>\n  <b>  </b>\n</a>"));
    }

    #[test]
    fn text_joins_cdata_and_references() {
        let e = canon("<a>  x &lt; <![CDATA[<y>]]>&#x41;&#66; </a>");
        assert_eq!(e.children, vec![Node::Text("x < <y>AB".into())]);
        // A no-break space is data, not whitespace.
        let e = canon("<a>&#160;</a>");
        assert_eq!(e.children, vec![Node::Text("\u{a0}".into())]);
    }

    #[test]
    fn comments_pis_and_declaration_are_dropped() {
        assert_eq!(
            canon("<?xml version=\"1.0\"?><!-- c --><a><?pi x?>t<!-- c -->u</a><!-- after -->"),
            canon("<a>tu</a>")
        );
    }

    #[test]
    fn https_namespace_differs_from_http() {
        let https = DOC_GET_CALL_INFO.replace(
            "http://schemas.microsoft.com/exchange/services/2006/messages",
            "https://schemas.microsoft.com/exchange/services/2006/messages",
        );
        assert_ne!(canon(DOC_GET_CALL_INFO), canon(&https));
    }

    #[test]
    fn swapped_children_differ() {
        let swapped = DOC_GET_CALL_INFO
            .replace("<CallState>Connected</CallState>", "@@")
            .replace(
                "<EventCause>None</EventCause>",
                "<CallState>Connected</CallState>",
            )
            .replace("@@", "<EventCause>None</EventCause>");
        assert_ne!(canon(DOC_GET_CALL_INFO), canon(&swapped));
    }

    #[test]
    fn extra_element_differs() {
        let extra = DOC_GET_CALL_INFO.replace(
            "<EventCause>None</EventCause>",
            "<EventCause>None</EventCause><Extra/>",
        );
        assert_ne!(canon(DOC_GET_CALL_INFO), canon(&extra));
    }

    #[test]
    fn changed_text_differs() {
        let changed = DOC_GET_CALL_INFO.replace(">Connected<", ">Disconnected<");
        assert_ne!(canon(DOC_GET_CALL_INFO), canon(&changed));
        assert_ne!(canon("<a x=\"1\"/>"), canon("<a x=\"2\"/>"));
    }

    #[test]
    fn faultcode_qname_is_resolved() {
        let a = canon(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
                <faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/errors">a:InvalidCallIdException</faultcode>
                <faultstring xml:lang="en-US">bad</faultstring></s:Fault></s:Body></s:Envelope>"#,
        );
        let b = canon(
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors"><soap:Body><soap:Fault><faultcode>e:InvalidCallIdException</faultcode><faultstring xml:lang="en-US">bad</faultstring></soap:Fault></soap:Body></soap:Envelope>"#,
        );
        assert_eq!(a, b);
        assert_eq!(
            select_text(&a, "/Envelope/Body/Fault/faultcode").as_deref(),
            Some(
                "{http://schemas.microsoft.com/exchange/services/2006/errors}InvalidCallIdException"
            )
        );
        // `soap:Client` resolves too; an unbound prefix is left as written.
        let c = canon(
            r#"<soap:Fault xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>soap:Client</faultcode><x>urn:y</x></soap:Fault>"#,
        );
        assert_eq!(
            select_text(&c, "/Fault/faultcode").as_deref(),
            Some("{http://schemas.xmlsoap.org/soap/envelope/}Client")
        );
        let d = canon("<f><faultcode>q:Client</faultcode></f>");
        assert_eq!(select_text(&d, "/f/faultcode").as_deref(), Some("q:Client"));
    }

    #[test]
    fn doctype_is_refused() {
        let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"#;
        let e = canon_err(laughs);
        assert_eq!(
            e.message,
            "XML: DOCTYPE is not allowed (entity expansion is refused)"
        );
        assert_eq!(e.offset, Some(22));
    }

    #[test]
    fn external_and_undefined_entities_are_refused() {
        let xxe = br#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>"#;
        assert!(canon_err(xxe).message.contains("DOCTYPE is not allowed"));
        let e = canon_err(b"<r>a &xxe; b</r>");
        assert!(e.message.contains("`&xxe;`"), "{e}");
        assert_eq!(e.offset, Some(5));
        let e = canon_err(b"<r a=\"&xxe;\"/>");
        assert!(e.message.contains("`&xxe;`"), "{e}");
    }

    #[test]
    fn deep_nesting_fails_fast() {
        let depth = 100_000;
        let mut doc = "<a>".repeat(depth);
        doc.push_str(&"</a>".repeat(depth));
        let started = Instant::now();
        let e = canon_err(doc.as_bytes());
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(e.message, "XML: nesting deeper than 256 levels");
        assert_eq!(e.offset, Some(256 * 3));
        // Exactly at the limit is fine.
        let ok = format!("{}{}", "<a>".repeat(256), "</a>".repeat(256));
        assert!(canonicalize(ok.as_bytes(), &Limits::default()).is_ok());
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let e = canon_err(b"<a>ok \xff\xfe</a>");
        assert_eq!(e.message, "XML: input is not valid UTF-8");
        assert_eq!(e.offset, Some(6));
        let e = canon_err(b"<a \xc3=\"1\"/>");
        assert_eq!(e.message, "XML: input is not valid UTF-8");
    }

    #[test]
    fn unknown_prefix_is_refused() {
        let e = canon_err(b"<a><x:b/></a>");
        assert_eq!(e.message, "XML: unknown namespace prefix `x` in `x:b`");
        assert_eq!(e.offset, Some(3));
        let e = canon_err(b"<a><:b/></a>");
        assert_eq!(
            e.message,
            "XML: `:b` is not a valid name (empty namespace prefix)"
        );
        let e = canon_err(b"<a y:z=\"1\"/>");
        assert!(e.message.contains("unknown namespace prefix `y`"), "{e}");
    }

    #[test]
    fn oversize_input_is_refused_before_parsing() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        // Not even well-formed: the size check comes first.
        let e = canon_err_with(b"<a>this is long</b>", &limits);
        assert_eq!(
            e.message,
            "XML: body is 19 bytes, more than the limit of 10 bytes"
        );
    }

    #[test]
    fn node_limit() {
        let limits = Limits {
            max_nodes: 3,
            ..Limits::default()
        };
        assert!(canonicalize(b"<a x=\"1\">t</a>", &limits).is_ok());
        let e = canon_err_with(b"<a x=\"1\">t<b/></a>", &limits);
        assert!(e.message.starts_with("XML: more than 3 nodes"), "{e}");
    }

    #[test]
    fn malformed_documents() {
        let e = canon_err(b"<a><b></a></b>");
        assert_eq!(
            e.message,
            "XML: end tag `</a>` does not match start tag `<b>`"
        );
        assert_eq!(e.offset, Some(6));
        let e = canon_err(b"<a><b></b>");
        assert_eq!(e.message, "XML: input ends before element `a` is closed");
        assert_eq!(canon_err(b"").message, "XML: no root element");
        assert_eq!(canon_err(b"  <!-- c -->\n").message, "XML: no root element");
        let e = canon_err(b"<a/><b/>");
        assert!(e.message.contains("content after the root element"), "{e}");
        assert_eq!(e.offset, Some(4));
        assert_eq!(
            canon_err(b"<a/>junk").message,
            "XML: text after the root element"
        );
        assert_eq!(
            canon_err(b"junk<a/>").message,
            "XML: text before the root element"
        );
        assert!(
            canon_err(b"<a x=\"1\" x=\"2\"/>")
                .message
                .contains("attribute")
        );
        let e = canon_err(b"<a xmlns:p=\"urn:p\" xmlns:q=\"urn:p\" p:x=\"1\" q:x=\"2\"/>");
        assert!(e.message.contains("appears twice"), "{e}");
        assert!(canon_err(b"<a").message.starts_with("XML: syntax error"));
    }

    #[test]
    fn bom_and_crlf() {
        assert_eq!(canon("\u{feff}<a>\r\nx\r\ny\r\n</a>"), canon("<a>x\ny</a>"));
    }

    #[test]
    fn placeholders_replace_in_text_and_attributes() {
        let mut e = canon(r#"<a id="call-123"><b>call-123 and call-1234</b><c>call-1</c></a>"#);
        apply_placeholders(
            &mut e,
            &[
                ("call-1", "short"),
                ("call-123", "call_id"),
                ("", "nothing"),
            ],
        );
        assert_eq!(
            render(&e),
            "a\n  @id=\"[call_id]\"\n  b\n    \"[call_id] and [call_id]4\"\n  c\n    \"[short]\"\n"
        );
    }

    #[test]
    fn select_text_by_local_names() {
        let doc = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
            <PlayOnPhoneResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
            <PlayOnPhoneResponse>NDEz</PlayOnPhoneResponse></PlayOnPhoneResponse></soap:Body></soap:Envelope>"#;
        let e = canon(doc);
        assert_eq!(
            select_text(&e, "/Envelope/Body/PlayOnPhoneResponse/PlayOnPhoneResponse").as_deref(),
            Some("NDEz")
        );
        assert_eq!(select_text(&e, "/Envelope/Body/Nope"), None);
        assert_eq!(select_text(&e, "/Other"), None);
        assert_eq!(
            select_text(&e, "/Envelope/Body/PlayOnPhoneResponse").as_deref(),
            Some("")
        );
        let e = canon("<r><i><x/></i><i><id>2</id></i></r>");
        assert_eq!(select_text(&e, "/r/i/id").as_deref(), Some("2"));
    }

    #[test]
    fn element_name_parts() {
        let e = canon(r#"<a xmlns="urn:x"/>"#);
        assert_eq!(e.local_name(), "a");
        assert_eq!(e.namespace(), Some("urn:x"));
        let e = canon("<a/>");
        assert_eq!(e.namespace(), None);
    }

    #[test]
    fn json_strings_escape_like_serde_json() {
        let mut samples: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        for b in 0u8..0x80 {
            // Every byte at every position of a word, and around word boundaries.
            for at in 0..18 {
                let mut s: String = "abcdefghijklmnopqr".into();
                s.replace_range(at..at + 1, &char::from(b).to_string());
                samples.push(s);
            }
        }
        samples.push("é€\u{a0}\u{7f}\u{80}\u{2028}😀 \"quoted\" back\\slash".into());
        samples.push(String::new());
        for s in samples {
            let mut out = String::new();
            push_json_string(&mut out, &s);
            assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn canonical_text_with_placeholders() {
        let doc = r#"<a xmlns:s="urn:s" id="call-123" s:t="s:x"><b>call-123 and call-1234</b><c>call-1</c><faultcode>s:call-1</faultcode></a>"#;
        let placeholders = [
            ("call-1", "short"),
            ("call-123", "call_id"),
            ("", "nothing"),
        ];
        let mut tree = canon(doc);
        apply_placeholders(&mut tree, &placeholders);
        let text = canonical_text(doc.as_bytes(), &Limits::default(), &placeholders).unwrap();
        assert_eq!(text, render(&tree));
        assert!(text.contains("\"{urn:s}[short]\""), "{text}");
        // Only empty values: nothing is replaced.
        assert_eq!(
            canonical_text(doc.as_bytes(), &Limits::default(), &[("", "e")]).unwrap(),
            render(&canon(doc))
        );
    }

    #[test]
    fn canonical_text_faultcode_only_when_alone() {
        let ns = r#"xmlns:p="urn:p""#;
        for doc in [
            format!("<faultcode {ns}>p:x</faultcode>"),
            format!("<faultcode {ns}> p:x <!-- c --> </faultcode>"),
            format!("<faultcode {ns}>p:<![CDATA[x]]></faultcode>"),
            format!("<faultcode {ns}>p:x<b/></faultcode>"),
            format!("<faultcode {ns}><b/>p:x</faultcode>"),
            format!("<r {ns}><faultcode>p:x</faultcode><faultcode/></r>"),
            format!("<p:faultcode {ns}>p:x</p:faultcode>"),
            "<faultcode><x xmlns:p=\"urn:q\"/>p:x</faultcode>".to_owned(),
            format!(
                "<r {ns} xsi:type=\"p:T\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>"
            ),
        ] {
            canon(&doc);
        }
    }

    #[test]
    fn errors_agree_with_the_tree() {
        // Duplicate attributes, alone and next to other errors, in either order.
        for doc in [
            r#"<a x="1" y="2" x="3"/>"#,
            r#"<a y="1" x="2" y="3" x="4"/>"#,
            r#"<a b="1" a="2" b="3" a="4"/>"#,
            r#"<a x="1" x="2" q:y="3"/>"#,
            r#"<a q:y="3" x="1" x="2"/>"#,
            r#"<a x="1" x="2" y="&bad;"/>"#,
            r#"<a y="&bad;" x="1" x="2"/>"#,
            r#"<a x="1" x="2" y=3/>"#,
            r#"<a xmlns:p="urn:p" xmlns:p="urn:p"/>"#,
            r#"<a x="1" x="2" xmlns:p="urn:p" xmlns:p="urn:p"/>"#,
            r#"<a xmlns:p="urn:p" p:x="1" xmlns:q="urn:p" q:x="2"/>"#,
            r#"<a xmlns:xml="urn:not-xml"/>"#,
            r#"<a xmlns:xmlns="urn:x"/>"#,
            r#"<a><b>t</b></a><c/>"#,
            r#"<a><b>t</a>"#,
            r#"<a>&#0;</a>"#,
            r#"<a>&#xZZ;</a>"#,
            r#"</a>"#,
            r#"<a></a></a>"#,
            r#"x<a/>"#,
            r#"<a/>x"#,
            r#"<a><b/></a>&amp;"#,
            r#"<!DOCTYPE a><a/>"#,
        ] {
            canon_err(doc.as_bytes());
        }
        let limits = Limits {
            max_nodes: 4,
            ..Limits::default()
        };
        for doc in [
            r#"<a x="1" y="2" z="3" w="4"/>"#,
            r#"<a x="1" x="2" y="2" z="3"/>"#,
            r#"<a><b>t</b><c>u</c></a>"#,
            r#"<a>t<b/>u<c/></a>"#,
        ] {
            canon_err_with(doc.as_bytes(), &limits);
        }
        let limits = Limits {
            max_depth: 2,
            ..Limits::default()
        };
        canon_err_with(b"<a><b><c/></b></a>", &limits);
    }
}
