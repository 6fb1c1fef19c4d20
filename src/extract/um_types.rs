//! The types of the UM elements' text (`cases/um/_types.toml`, `[elements."<LocalName>"]`),
//! read from the element pages: the compare judges an element's text by its type, the
//! example's particular value then only a note.
//!
//! An element page is found by its shape, not by its (translatable) headings: a UM page
//! (one with an XML block, [`super::contract::is_um_page`]) whose "Element information"
//! table is a two-column table with a namespace URI row. Its element is the page's
//! `api_name`, spelled as the syntax block (the page's first XML block) spells it on the
//! wire (`Status` → `<status/>`). Its type is the first line after the syntax block that is
//! one bold word (` **string**`): a schema word (`string`, `Boolean`, `int`, `dateTime`,
//! ...) becomes its `xs:` type; a named simple type (`UMCallState`) is kept by name; a
//! container (`complexType`, or an element the syntax block shows with children), any
//! XML (`xs:any`) and an element whose page prints no type line have no text to type and
//! no entry. "Can be Empty" is the table's row whose value reads as a boolean, in
//! English, in the hidden English of a machine translation, or in a translation
//! ("Faux").

use super::Diagnostic;
use super::markdown::{Page, hidden_original, strip_spans};
use crate::contract::rules::Provenance;
use crate::contract::types::ElementDef;

/// The element a page types, with the definition its page gives; `None` for a page that is
/// no element page or whose element holds no text (a container). A page that looks like
/// an element page but says less than it should is diagnosed.
pub fn from_page(
    page: &Page,
    rel: &str,
    display: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<(String, ElementDef)> {
    if !super::contract::is_um_page(page) {
        return None;
    }
    let api_name = page.front.api_name.first()?;
    let table = info_table(page)?;
    let syntax = page.blocks.iter().find(|b| b.lang == "xml")?;
    let (name, has_children) =
        syntax_element(&syntax.text, api_name).unwrap_or_else(|| (api_name.clone(), false));
    // No type line: the page gives its element no text (attributes only, say).
    let (line, word) = page
        .bold_lines
        .iter()
        .find(|(l, _)| *l > syntax.line)
        .cloned()?;
    if has_children || NO_TEXT.iter().any(|w| w.eq_ignore_ascii_case(&word)) {
        return None;
    }
    let ty = match schema_type(&word) {
        Some(t) => t,
        None if is_type_name(&word) => word,
        None => {
            diags.push(Diagnostic::new(
                display,
                line,
                format!(
                    "`{word}` is neither a schema type nor a type name; no type taken for `{name}`"
                ),
            ));
            return None;
        }
    };
    let can_be_empty = match can_be_empty(table) {
        Some(b) => b,
        None => {
            diags.push(Diagnostic::new(
                display,
                table.line,
                format!(
                    "the element information table has no row that reads True or False (Can be Empty); `{name}` is taken as possibly empty"
                ),
            ));
            true
        }
    };
    Some((
        name,
        ElementDef {
            ty,
            can_be_empty,
            provenance: Provenance {
                file: rel.to_string(),
                line,
            },
        },
    ))
}

/// Type words of an element with no text of a simple type: a container, or any XML.
const NO_TEXT: &[&str] = &[
    "complexType",
    "xs:any",
    "xsd:any",
    "any",
    "anyType",
    "xs:anyType",
];

/// The element information table: two columns, one row of which holds a namespace URI.
fn info_table(page: &Page) -> Option<&super::markdown::Table> {
    page.tables.iter().find(|t| {
        let rows: Vec<&Vec<String>> = t.rows.iter().map(|(_, c)| c).collect();
        !rows.is_empty()
            && rows.iter().all(|c| c.len() == 2)
            && rows.iter().any(|c| is_uri(&cell_text(&c[1])))
    })
}

/// A cell as read: the hidden original of a translation if any, else the visible text,
/// without line breaks (`<br/>`), emphasis or code marks.
fn cell_text(cell: &str) -> String {
    let text = hidden_original(cell).unwrap_or_else(|| strip_spans(cell));
    let mut t = text;
    for br in ["<br/>", "<br />", "<br>"] {
        t = t.replace(br, " ");
    }
    t.trim().trim_matches(['*', '`']).trim().to_string()
}

fn is_uri(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://") || s.starts_with("urn:"))
        && !s.contains(char::is_whitespace)
}

/// The table's "Can be Empty": the row whose value reads as a boolean (its English name
/// preferred, should several).
fn can_be_empty(table: &super::markdown::Table) -> Option<bool> {
    let rows: Vec<(String, bool)> = table
        .rows
        .iter()
        .filter_map(|(_, c)| Some((cell_text(&c[0]), boolean_word(&cell_text(&c[1]))?)))
        .collect();
    rows.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("can be empty"))
        .or_else(|| rows.first())
        .map(|(_, b)| *b)
}

/// True/False as the element pages print them, and as their translations do.
fn boolean_word(s: &str) -> Option<bool> {
    const TRUE: &[&str] = &[
        "true",
        "vrai",
        "wahr",
        "verdadero",
        "verdadeiro",
        "vero",
        "waar",
        "prawda",
        "sant",
        "истина",
        "真",
        "是",
        "はい",
        "참",
        "yes",
        "oui",
        "ja",
        "sí",
        "sim",
        "да",
    ];
    const FALSE: &[&str] = &[
        "false",
        "faux",
        "falsch",
        "falso",
        "onwaar",
        "fałsz",
        "falskt",
        "ложь",
        "假",
        "否",
        "いいえ",
        "거짓",
        "no",
        "non",
        "nein",
        "não",
        "nee",
        "нет",
    ];
    let w = s.trim().to_lowercase();
    if TRUE.contains(&w.as_str()) {
        Some(true)
    } else if FALSE.contains(&w.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// The XML Schema built-in type a page's type word names (`Boolean` → `xs:boolean`).
pub fn schema_type(word: &str) -> Option<String> {
    const BUILT_IN: &[&str] = &[
        "string",
        "boolean",
        "int",
        "integer",
        "long",
        "short",
        "byte",
        "unsignedInt",
        "unsignedLong",
        "unsignedShort",
        "unsignedByte",
        "positiveInteger",
        "negativeInteger",
        "nonNegativeInteger",
        "nonPositiveInteger",
        "decimal",
        "double",
        "float",
        "dateTime",
        "date",
        "time",
        "duration",
        "base64Binary",
        "hexBinary",
        "anyURI",
        "normalizedString",
        "token",
        "language",
        "QName",
        "NCName",
    ];
    let w = word.trim();
    let w = w
        .strip_prefix("xs:")
        .or_else(|| w.strip_prefix("xsd:"))
        .unwrap_or(w);
    BUILT_IN
        .iter()
        .find(|t| t.eq_ignore_ascii_case(w))
        .map(|t| format!("xs:{t}"))
}

/// A named type (`UMCallState`): an identifier, not a translated word.
fn is_type_name(word: &str) -> bool {
    let mut bytes = word.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The element named `name` (any case) in a syntax block: its spelling there and whether
/// the block shows it with child elements. The block may show the element inside its
/// parent, beside its siblings (`<GetUMPropertiesResponse><OofStatus/>...`).
fn syntax_element(xml: &str, name: &str) -> Option<(String, bool)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0usize;
    // The element once found, and its depth.
    let mut found: Option<(String, usize)> = None;
    let local = |e: &quick_xml::events::BytesStart<'_>| e.local_name().as_ref().to_string();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                match &found {
                    Some((n, d)) if depth == d + 1 => return Some((n.clone(), true)),
                    Some(_) => {}
                    None if local(&e).eq_ignore_ascii_case(name) => {
                        found = Some((local(&e), depth));
                    }
                    None => {}
                }
            }
            Ok(Event::Empty(e)) => match &found {
                Some((n, d)) if depth == *d => return Some((n.clone(), true)),
                Some(_) => {}
                None if local(&e).eq_ignore_ascii_case(name) => return Some((local(&e), false)),
                None => {}
            },
            Ok(Event::End(_)) => {
                if let Some((n, d)) = &found
                    && depth == *d
                {
                    return Some((n.clone(), false));
                }
                depth = depth.saturating_sub(1);
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    found.map(|(n, _)| (n, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An element page in the documentation's form: front matter, the syntax block, the
    /// type line, the element information table (`rows`: key, value).
    fn page(api_name: &str, syntax: &str, ty_line: &str, rows: &[(&str, &str)]) -> String {
        let mut table = String::from("| Element | Example |\n|:-----|:-----|\n");
        for (k, v) in rows {
            table.push_str(&format!("|{k}  <br/> |{v}  <br/> |\n"));
        }
        format!(
            "---\ntitle: \"{api_name} (UM web service)\"\napi_name:\n- {api_name}\napi_type:\n- schema\n---\n\n\
             # {api_name} (UM web service)\n\nThe **{api_name}** element.\n\n```xml\n{syntax}\n```\n\n\
             {ty_line}\n## Attributes and elements\n\n### Parent elements\n\n\
             |**Element**|**Description**|\n|:-----|:-----|\n|[P (UM web service)](p.md) <br/> |Defines a [P operation](p-op.md).  <br/> |\n\n\
             ## Element information\n\n{table}\n## See also\n"
        )
    }

    const EN_ROWS: &[(&str, &str)] = &[
        (
            "Namespace",
            "http://schemas.microsoft.com/exchange/services/2006/messages",
        ),
        ("Schema Name", "Messages"),
        ("Validation File", "Messages.xsd"),
        ("Can be Empty", "False"),
    ];

    fn typed(text: &str) -> (Option<(String, ElementDef)>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let p = super::super::markdown::parse(text, "p.md", &mut diags);
        let got = from_page(&p, "um/elements/p.md", "p.md", &mut diags);
        (got, diags)
    }

    #[test]
    fn a_string_element_that_cannot_be_empty() {
        let text = page(
            "PlayOnPhoneDialString",
            "<PlayOnPhoneDialString/>",
            " **string**",
            EN_ROWS,
        );
        let line = text
            .lines()
            .position(|l| l == " **string**")
            .map(|i| i + 1)
            .expect("the type line");
        let (got, diags) = typed(&text);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            got,
            Some((
                "PlayOnPhoneDialString".to_string(),
                ElementDef {
                    ty: "xs:string".into(),
                    can_be_empty: false,
                    provenance: Provenance {
                        file: "um/elements/p.md".into(),
                        line
                    },
                }
            ))
        );
    }

    #[test]
    fn schema_words_map_to_xs_types_in_any_case() {
        assert_eq!(schema_type("Boolean").as_deref(), Some("xs:boolean"));
        assert_eq!(schema_type("int").as_deref(), Some("xs:int"));
        assert_eq!(schema_type("DateTime").as_deref(), Some("xs:dateTime"));
        assert_eq!(schema_type("xs:integer").as_deref(), Some("xs:integer"));
        assert_eq!(schema_type("UMCallState"), None);
        let (got, _) = typed(&page("OofStatus", "<OofStatus/>", " **Boolean**", EN_ROWS));
        assert_eq!(got.map(|(_, d)| d.ty).as_deref(), Some("xs:boolean"));
    }

    #[test]
    fn containers_have_no_entry() {
        // Said so, or shown with children whatever the word (`**Type**`).
        for (syntax, word) in [
            (
                "<Disconnect>\n  <CallId>\n  </CallId>\n</Disconnect>",
                "complexType",
            ),
            ("<DisconnectResponse />", "complexType"),
            ("<SetOofStatus>\n  <status/>\n</SetOofStatus>", "Type"),
            (
                "<GetCallInfoResponse>\n  <CallState/>\n  <EventCause/>\n</GetCallInfoResponse>",
                "UMCallInfo",
            ),
        ] {
            let api = syntax
                .trim_start_matches('<')
                .split(['>', ' ', '/'])
                .next()
                .unwrap_or("");
            let (got, diags) = typed(&page(api, syntax, &format!(" **{word}**"), EN_ROWS));
            assert_eq!(got, None, "{syntax}");
            assert!(diags.is_empty(), "{diags:?}");
        }
    }

    #[test]
    fn the_element_is_found_among_its_siblings_and_spelled_as_on_the_wire() {
        let siblings = "<GetUMPropertiesResponse>\n    <OofStatus/>\n  <MissedCallNotificationEnabled/>\n</GetUMPropertiesResponse>";
        let (got, _) = typed(&page("OofStatus", siblings, " **Boolean**", EN_ROWS));
        assert_eq!(got.map(|(n, _)| n).as_deref(), Some("OofStatus"));
        let (got, _) = typed(&page(
            "Status",
            "<SetOofStatus>\n  <status/>\n</SetOofStatus>",
            " **Boolean**",
            EN_ROWS,
        ));
        assert_eq!(got.map(|(n, _)| n).as_deref(), Some("status"));
    }

    #[test]
    fn a_named_simple_type_is_kept_by_name() {
        let (got, diags) = typed(&page(
            "CallState",
            "<CallState/>",
            " **UMCallState**",
            EN_ROWS,
        ));
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(got.map(|(_, d)| d.ty).as_deref(), Some("UMCallState"));
    }

    #[test]
    fn translated_tables_are_read_by_shape() {
        // French, no hidden original: the boolean word is translated.
        let fr = [
            (
                "Espace de noms",
                "http://schemas.microsoft.com/exchange/services/2006/messages",
            ),
            ("Nom du schéma", "Messages"),
            ("Fichier de validation", "Messages.xsd"),
            ("Peut être vide", "Faux"),
        ];
        let (got, diags) = typed(&page(
            "TelephoneAccessNumbers",
            "<TelephoneAccessNumbers/>",
            " **string**",
            &fr,
        ));
        assert!(diags.is_empty(), "{diags:?}");
        let (name, def) = got.expect("typed");
        assert_eq!(
            (name.as_str(), def.ty.as_str(), def.can_be_empty),
            ("TelephoneAccessNumbers", "xs:string", false)
        );
        // A machine translation hides the English in a lookup span.
        let span = |zh: &str, en: &str| {
            format!(
                "<span data-ttu-id=\"b-1\">{zh}</span><span class=\"sxs-lookup\"><span data-stu-id=\"b-1\">{en}</span></span>"
            )
        };
        let zh = [
            (
                span("命名空间", "Namespace"),
                "http://schemas.microsoft.com/exchange/services/2006/messages".to_string(),
            ),
            (span("可以为空", "Can be Empty"), span("错误", "True")),
        ];
        let rows: Vec<(&str, &str)> = zh.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (got, diags) = typed(&page("CallId", "<CallId/>", " **string**", &rows));
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(got.map(|(_, d)| d.can_be_empty), Some(true));
    }

    #[test]
    fn an_element_of_no_text_type_has_no_entry() {
        let attributes = "<ServerVersionInfo MajorVersion=\"\" Version=\"\" />";
        let (got, diags) = typed(&page("ServerVersionInfo", attributes, "", EN_ROWS));
        assert_eq!(got, None);
        assert!(diags.is_empty(), "{diags:?}");
        let (got, diags) = typed(&page("MessageXml", "<MessageXml/>", " **xs:any**", EN_ROWS));
        assert_eq!(got, None);
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn an_element_page_that_says_too_little_is_diagnosed() {
        let unreadable = [
            (
                "Namespace",
                "http://schemas.microsoft.com/exchange/services/2006/messages",
            ),
            ("空にできる", "ほにゃらら"),
        ];
        let (got, diags) = typed(&page("CallId", "<CallId/>", " **string**", &unreadable));
        assert_eq!(got.map(|(_, d)| d.can_be_empty), Some(true));
        assert!(
            diags[0].reason.contains("taken as possibly empty"),
            "{diags:?}"
        );
        let (got, diags) = typed(&page("CallId", "<CallId/>", " **chaîne**", EN_ROWS));
        assert_eq!(got, None);
        assert!(diags[0].reason.contains("`chaîne`"), "{diags:?}");
    }

    #[test]
    fn operation_pages_are_not_element_pages() {
        let op = "---\napi_name:\n- GetUMProperties\n---\n\n```xml\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"/>\n```\n\n**Note**\n\n| A | B |\n|--|--|\n| [x](x.md) | y |\n";
        let (got, diags) = typed(op);
        assert_eq!(got, None);
        assert!(diags.is_empty(), "{diags:?}");
    }
}
