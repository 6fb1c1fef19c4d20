//! Groups a page's code blocks into examples: a request, its response, and the
//! notifications documented after it.
//!
//! apidoctor's rule: a response pairs with the request of the same `name`, else with the
//! last request before it, and a request pairs once. Unannotated UM pages pair `X` with
//! `XResponse` by the SOAP body's root element. apidoctor never pairs `example` blocks;
//! we attach each notification example to the request before it on the page.

use super::Diagnostic;
use super::http;
use super::markdown::{Annot, Block, BlockType, Page};

/// What a block is on its page.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Request {
        name: Option<String>,
    },
    Response {
        names: Vec<String>,
    },
    Example,
    /// Annotated `ignored` or another block type we do not turn into cases.
    Skip,
    /// Not annotated and not a SOAP message: only usable as a notification's header or
    /// body block.
    Loose,
}

/// One documented exchange, by block index into `Page::blocks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub request: usize,
    /// The request's name: the apidoctor `name`, or the SOAP operation on UM pages.
    pub name: Option<String>,
    pub response: Option<usize>,
    pub notifications: Vec<Notification>,
}

/// A notification example: its body block, and the unannotated block that printed its
/// POST line and headers (or its body, when the annotation sits on the header block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub block: usize,
    pub companion: Option<usize>,
}

fn is_code(lang: &str) -> bool {
    matches!(lang, "http" | "msgraph-interactive" | "json" | "xml")
}

fn role(b: &Block) -> Role {
    match &b.annot {
        Annot::Invalid => Role::Skip,
        Annot::Some(a) => match &a.block_type {
            Some(BlockType::Request) => Role::Request {
                name: a.names.first().cloned().or_else(|| soap_name(b)),
            },
            Some(BlockType::Response) => Role::Response {
                names: if a.names.is_empty() {
                    soap_name(b)
                        .and_then(|r| r.strip_suffix("Response").map(str::to_string))
                        .into_iter()
                        .collect()
                } else {
                    a.names.clone()
                },
            },
            Some(BlockType::Example) => Role::Example,
            Some(BlockType::Ignored | BlockType::Other(_)) => Role::Skip,
            // apidoctor infers a missing blockType from what the block parses as.
            None => match http::parse(&b.text) {
                Ok(m) if m.status.is_some() => Role::Response { names: Vec::new() },
                Ok(_) => Role::Request {
                    name: a.names.first().cloned(),
                },
                Err(_) => Role::Skip,
            },
        },
        Annot::None if b.lang == "xml" => match soap_name(b) {
            // A fault answers the request before it.
            Some(root) if root == "Fault" => Role::Response { names: Vec::new() },
            Some(root) => match root.strip_suffix("Response") {
                Some(op) if !op.is_empty() => Role::Response {
                    names: vec![op.to_string()],
                },
                _ => Role::Request { name: Some(root) },
            },
            None => Role::Loose,
        },
        Annot::None => Role::Loose,
    }
}

fn soap_name(b: &Block) -> Option<String> {
    (b.lang == "xml")
        .then(|| http::soap_root(&b.text).ok())
        .flatten()
}

/// Pairs the blocks of one page. Every code block ends up in an example, is skipped on
/// purpose (annotated `ignored`), or is named in a diagnostic.
pub fn pair(page: &Page, display: &str, diags: &mut Vec<Diagnostic>) -> Vec<Example> {
    let roles: Vec<Role> = page.blocks.iter().map(role).collect();
    let mut examples: Vec<Example> = Vec::new();
    let mut used = vec![false; page.blocks.len()];
    let mut diag = |line: usize, reason: String| diags.push(Diagnostic::new(display, line, reason));

    for (i, block) in page.blocks.iter().enumerate() {
        match &roles[i] {
            Role::Request { name } => {
                used[i] = true;
                examples.push(Example {
                    request: i,
                    name: name.clone(),
                    response: None,
                    notifications: Vec::new(),
                });
            }
            Role::Response { names } => {
                used[i] = true;
                let targets: Vec<usize> = if names.is_empty() {
                    examples.len().checked_sub(1).into_iter().collect()
                } else {
                    (0..examples.len())
                        .filter(|&k| examples[k].name.as_ref().is_some_and(|n| names.contains(n)))
                        .collect()
                };
                if targets.is_empty() {
                    let what = if names.is_empty() {
                        "no request before it".to_string()
                    } else {
                        format!("no request named `{}` before it", names.join("`, `"))
                    };
                    diag(block.line, format!("response with {what}; not extracted"));
                }
                for k in targets {
                    match examples[k].response {
                        None => examples[k].response = Some(i),
                        Some(prev) => diag(
                            block.line,
                            format!(
                                "response with no request: the request at line {} already has \
                                 its response (line {}); not extracted",
                                page.blocks[examples[k].request].line, page.blocks[prev].line
                            ),
                        ),
                    }
                }
            }
            Role::Example => {
                used[i] = true;
                // The header block printed just before (`POST https://bot…` + Content-Type),
                // or the JSON body printed just after an annotated header block.
                let before = i.checked_sub(1).filter(|&p| {
                    roles[p] == Role::Loose && !used[p] && page.blocks[p].lang == "http"
                });
                let after = (i + 1 < page.blocks.len()
                    && roles[i + 1] == Role::Loose
                    && page.blocks[i + 1].lang == "json"
                    && http::parse(&block.text).is_ok_and(|m| m.body.is_none()))
                .then_some(i + 1);
                let companion = after.or(before);
                if let Some(c) = companion {
                    used[c] = true;
                }
                match examples.last_mut() {
                    Some(ex) => ex.notifications.push(Notification {
                        block: i,
                        companion,
                    }),
                    None => diag(
                        block.line,
                        "notification example with no request before it; not extracted".into(),
                    ),
                }
            }
            Role::Skip => used[i] = true,
            Role::Loose => {}
        }
    }
    for (i, block) in page.blocks.iter().enumerate() {
        if !used[i] && is_code(&block.lang) {
            diag(
                block.line,
                format!(
                    "unannotated `{}` block is not part of any example; not extracted",
                    block.lang
                ),
            );
        }
    }
    examples.retain(|ex| {
        if ex.response.is_none() {
            diag(
                page.blocks[ex.request].line,
                "request with no response; not extracted".into(),
            );
        }
        ex.response.is_some()
    });
    examples
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::markdown;

    fn run(page: &str) -> (Vec<Example>, Vec<String>) {
        let mut d = Vec::new();
        let p = markdown::parse(page, "p.md", &mut d);
        let ex = pair(&p, "p.md", &mut d);
        (ex, d.iter().map(|d| d.to_string()).collect())
    }

    fn block(annotation: &str, lang: &str, body: &str) -> String {
        format!("<!-- {annotation} -->\n```{lang}\n{body}\n```\n\n")
    }

    #[test]
    fn named_response_pairs_by_name_then_unnamed_with_the_last() {
        let page = [
            block(r#"{"blockType":"request","name":"a-1"}"#, "http", "GET /a"),
            block(r#"{"blockType":"request","name":"b-1"}"#, "http", "GET /b"),
            block(
                r#"{"blockType":"response","name":["a-1"]}"#,
                "http",
                "HTTP/1.1 200 OK",
            ),
            block(
                r#"{"blockType":"response"}"#,
                "http",
                "HTTP/1.1 204 No Content",
            ),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert!(d.is_empty(), "{d:?}");
        let pairs: Vec<_> = ex.iter().map(|e| (e.name.as_deref(), e.response)).collect();
        assert_eq!(pairs, [(Some("a-1"), Some(2)), (Some("b-1"), Some(3))]);
    }

    #[test]
    fn a_request_pairs_once() {
        let page = [
            block(r#"{"blockType":"request","name":"a"}"#, "http", "GET /a"),
            block(r#"{"blockType":"response"}"#, "http", "HTTP/1.1 200 OK"),
            block(r#"{"blockType":"response"}"#, "http", "HTTP/1.1 200 OK"),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert_eq!(ex.len(), 1);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("p.md:12: response with no request"),
            "{d:?}"
        );
    }

    #[test]
    fn examples_attach_to_the_request_before_them_with_their_header_block() {
        let page = [
            block(r#"{"blockType":"request","name":"a"}"#, "http", "GET /a"),
            block(r#"{"blockType":"response"}"#, "http", "HTTP/1.1 200 OK"),
            "```http\nPOST https://bot.contoso.com/api/calls\nContent-Type: application/json\n```\n\n"
                .to_string(),
            block(r#"{"blockType":"example"}"#, "json", "{}"),
            block(r#"{"blockType":"example"}"#, "http", "POST https://bot/x"),
            "```json\n{}\n```\n".to_string(),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            ex[0].notifications,
            [
                Notification {
                    block: 3,
                    companion: Some(2)
                },
                Notification {
                    block: 4,
                    companion: Some(5)
                }
            ]
        );
    }

    #[test]
    fn um_pages_pair_by_operation_not_order() {
        let env = |op: &str| {
            format!(
                "```XML\n<soap:Envelope xmlns:soap=\"s\"><soap:Body><{op} xmlns=\"m\"/></soap:Body></soap:Envelope>\n```\n\n"
            )
        };
        let page = [
            env("GetCallInfo"),
            env("Disconnect"),
            env("GetCallInfoResponse"),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].name.as_deref(), Some("GetCallInfo"));
        assert_eq!(d, ["p.md:5: request with no response; not extracted"]);
    }
}
