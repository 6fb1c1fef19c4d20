//! Groups a page's code blocks into examples by what they mean, not only by where they sit:
//! a request, its response, the notifications it causes, the alternative outcomes the page
//! documents, and the notification that triggers it (an incoming call).
//!
//! apidoctor's rule: a response pairs with the request of the same `name`, else with the
//! last request before it, and a request pairs once. Unannotated UM pages pair `X` with
//! `XResponse` by the SOAP body's root element. apidoctor never pairs `example` blocks, so
//! their meaning comes from their content and headings:
//! - a notification of a call in state `incoming` is how the *next* request's call begins
//!   (answer, reject, redirect act on it): it becomes that example's trigger;
//! - a notification under a heading that names a failure, or carrying an error
//!   `resultInfo` (4xx/5xx), is an alternative outcome of the request before it;
//! - any other notification is an expected result of the request before it;
//! - an `example` block that is not a notification but follows a request printed
//!   without a body is that request's body.

use super::Diagnostic;
use super::http;
use super::markdown::{Annot, Block, BlockType, Page};
use serde_json::Value;

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
    /// An element's syntax on a UM element page (`<CallState/>`): not an exchange.
    Syntax,
    /// Not annotated and not a SOAP message: only usable as a notification's header or
    /// body block.
    Loose,
    /// An unannotated request (`POST /app/calls/{id}/answer` and its headers) that no
    /// notification follows: the older pages print examples without apidoctor
    /// annotations, the body often in an annotated (`ignored`) JSON block after it.
    LooseRequest,
    /// An unannotated status line: the response of the request before it, when that one
    /// has none yet.
    LooseResponse,
}

/// What a documented notification stands for in its example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// Caused by the request: checked after it.
    Result,
    /// An alternative outcome of the request (a failure the page documents).
    Alternative,
    /// Opens the example: the incoming call the request acts on.
    Trigger,
}

/// One documented exchange, by block index into `Page::blocks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub request: usize,
    /// The request's name: the apidoctor `name`, or the SOAP operation on UM pages.
    pub name: Option<String>,
    pub response: Option<usize>,
    /// A body printed in its own block after a request printed without one.
    pub request_body: Option<usize>,
    /// A body printed in its own block after a response printed as a status line and
    /// headers only (`HTTP/1.1 200 OK` + `Content-Type`, then the JSON).
    pub response_body: Option<usize>,
    pub notifications: Vec<Notification>,
}

/// A notification example: its body block, and the block that printed its POST line and
/// headers (or its body, when the annotation sits on the header block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub block: usize,
    pub companion: Option<usize>,
    pub kind: NotificationKind,
    /// The JSON as printed.
    pub text: String,
}

/// What `pair` leaves out on purpose, for the extraction statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Element syntax blocks and blocks annotated `ignored` (or another non-example type).
    pub syntax_or_ignored: usize,
    /// Incoming-call notifications that no request follows: checked on their own (the
    /// target offers a call and must notify as documented).
    pub lone_triggers: Vec<Notification>,
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
            // An example request kept out of apidoctor's validation (`ignored`, usually
            // because its body is not JSON) is still a documented example when it is
            // named and prints a full request URL; the syntax blocks have neither.
            Some(BlockType::Ignored)
                if !a.names.is_empty()
                    && http::parse(&b.text).is_ok_and(|m| {
                        m.request_line
                            .as_ref()
                            .is_some_and(|(_, url)| url.contains("://"))
                    }) =>
            {
                Role::Request {
                    name: a.names.first().cloned(),
                }
            }
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
        Annot::None if b.lang == "xml" => {
            if !http::is_soap_envelope(&b.text) {
                return Role::Syntax;
            }
            match soap_name(b) {
                // A fault answers the request before it.
                Some(root) if root == "Fault" => Role::Response { names: Vec::new() },
                Some(root) => match root.strip_suffix("Response") {
                    Some(op) if !op.is_empty() => Role::Response {
                        names: vec![op.to_string()],
                    },
                    _ => Role::Request { name: Some(root) },
                },
                None => Role::Loose,
            }
        }
        // A notification printed without an annotation is still a notification; other
        // unannotated blocks that are not HTTP messages (a URL, prose) are not exchanges.
        Annot::None
            if b.lang == "json" && lenient_json(&b.text).is_some_and(|v| is_notification(&v)) =>
        {
            Role::Example
        }
        Annot::None if b.lang == "http" && http::parse(&b.text).is_err() => Role::Syntax,
        Annot::None => Role::Loose,
    }
}

/// Finds the exchanges older pages print without annotations: an `http` request block
/// that is not the POST line of a notification (the JSON after it is no notification),
/// and a bare status line. Blocks annotated on the page keep their annotated role.
fn unannotated_exchanges(page: &Page, roles: &mut [Role]) {
    for (i, b) in page.blocks.iter().enumerate() {
        if roles[i] != Role::Loose || !matches!(b.lang.as_str(), "http" | "msgraph-interactive") {
            continue;
        }
        let Ok(msg) = http::parse(&b.text) else {
            continue;
        };
        if msg.status.is_some() {
            roles[i] = Role::LooseResponse;
            continue;
        }
        let notification_follows = match &msg.body {
            Some(body) => lenient_json(body).is_some_and(|v| is_notification(&v)),
            None => page
                .blocks
                .get(i + 1)
                .filter(|n| n.lang == "json")
                .and_then(|n| lenient_json(&n.text))
                .is_some_and(|v| is_notification(&v)),
        };
        if msg.request_line.is_some() && !notification_follows {
            roles[i] = Role::LooseRequest;
        }
    }
}

fn soap_name(b: &Block) -> Option<String> {
    (b.lang == "xml")
        .then(|| http::soap_root(&b.text).ok())
        .flatten()
}

/// Reads documented JSON as leniently as the pages need (comments, trailing commas,
/// unbalanced braces), for deciding what a block means. `None` when it cannot be read.
pub fn lenient_json(text: &str) -> Option<Value> {
    let repaired = super::repair::repair(text).text;
    crate::canon::json::parse_documented(&repaired).ok()
}

/// The entries of a documented `commsNotifications` body (or the body itself when it
/// has no `value` collection).
pub fn entries(v: &Value) -> Vec<&Value> {
    match v.get("value") {
        Some(Value::Array(a)) => a.iter().collect(),
        _ => vec![v],
    }
}

/// Whether a documented JSON body is a notification: a `commsNotifications` collection,
/// or entries carrying `changeType` and the resource they name: `resourceUrl`, or
/// `resource`, its name on the pages written before `resourceUrl` (2018-2019 beta).
pub fn is_notification(v: &Value) -> bool {
    let ty = v
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ty.ends_with("commsNotifications")
        || entries(v).iter().any(|e| {
            e.get("changeType").is_some()
                && (e.get("resourceUrl").is_some() || e.get("resource").is_some())
        })
}

fn resource_data(entry: &Value) -> Vec<&Value> {
    match entry.get("resourceData") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

fn classify(v: &Value, heading: &str) -> NotificationKind {
    let incoming = entries(v).iter().any(|e| {
        resource_data(e)
            .iter()
            .any(|d| d.get("state").and_then(Value::as_str) == Some("incoming"))
    });
    if incoming {
        return NotificationKind::Trigger;
    }
    let h = heading.to_ascii_lowercase();
    let failed_heading = ["fail", "error", "unsuccessful"]
        .iter()
        .any(|w| h.contains(w));
    let error_result = entries(v).iter().any(|e| {
        resource_data(e).iter().any(|d| {
            d.get("resultInfo")
                .and_then(|r| r.get("code"))
                .and_then(|c| match c {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .is_some_and(|c| c >= 400)
        })
    });
    if failed_heading || error_result {
        NotificationKind::Alternative
    } else {
        NotificationKind::Result
    }
}

/// Pairs the blocks of one page. Every code block ends up in an example, is skipped on
/// purpose (annotated `ignored`, element syntax), or is named in a diagnostic.
pub fn pair(page: &Page, display: &str, diags: &mut Vec<Diagnostic>) -> (Vec<Example>, Skipped) {
    let mut roles: Vec<Role> = page.blocks.iter().map(role).collect();
    unannotated_exchanges(page, &mut roles);
    let mut p = Pairing {
        page,
        display,
        diags,
        roles,
        examples: Vec::new(),
        used: vec![false; page.blocks.len()],
        skipped: Skipped::default(),
        triggers: Vec::new(),
    };
    let mut i = 0;
    while i < page.blocks.len() {
        match p.roles[i].clone() {
            Role::Request { name } => i = p.request(i, name),
            Role::LooseRequest => {
                let name = p.loose_request_name(i);
                i = p.request(i, name);
            }
            Role::Response { names } => i = p.response(i, &names),
            Role::LooseResponse => {
                if p.examples.last().is_some_and(|e| e.response.is_none()) {
                    i = p.response(i, &[]);
                }
            }
            Role::Example => i = p.example(i),
            Role::Skip | Role::Syntax => {
                p.used[i] = true;
                p.skipped.syntax_or_ignored += 1;
            }
            Role::Loose => {}
        }
        i += 1;
    }
    p.skipped.lone_triggers = std::mem::take(&mut p.triggers);
    p.unused_blocks();
    p.drop_unanswered();
    (p.examples, p.skipped)
}

/// The state of pairing one page, block by block in page order.
struct Pairing<'p, 'd> {
    page: &'p Page,
    display: &'p str,
    diags: &'d mut Vec<Diagnostic>,
    roles: Vec<Role>,
    examples: Vec<Example>,
    /// Blocks that became part of an example or were skipped on purpose.
    used: Vec<bool>,
    skipped: Skipped,
    /// Incoming-call notifications waiting for the request they precede.
    triggers: Vec<Notification>,
}

impl Pairing<'_, '_> {
    fn diag(&mut self, line: usize, reason: String) {
        self.diags.push(Diagnostic::new(self.display, line, reason));
    }

    /// A request opens an example; incoming-call notifications printed before it are its
    /// triggers. A request printed without a body takes the JSON block right after it as
    /// its body, whatever that block's annotation (pages mark such bodies `ignored` or
    /// `example`), unless it is a notification. Returns the last block it consumed.
    fn request(&mut self, i: usize, name: Option<String>) -> usize {
        self.used[i] = true;
        let body = self.body_after(i);
        if let Some(b) = body {
            self.used[b] = true;
        }
        self.examples.push(Example {
            request: i,
            name,
            response: None,
            request_body: body,
            response_body: None,
            notifications: std::mem::take(&mut self.triggers),
        });
        body.unwrap_or(i)
    }

    /// The JSON block right after the http block `i` when `i` prints no body and that
    /// block is a body, not a notification, a response or a request of its own.
    fn body_after(&self, i: usize) -> Option<usize> {
        let page = self.page;
        let j = i + 1;
        let next = page.blocks.get(j)?;
        let bodiless = http::parse(&page.blocks[i].text).is_ok_and(|m| m.body.is_none());
        let usable = matches!(self.roles[j], Role::Example | Role::Loose | Role::Skip)
            && next.annot != Annot::Invalid;
        (bodiless && usable && next.lang == "json")
            .then(|| lenient_json(&next.text))
            .flatten()
            .filter(|v| !is_notification(v))
            .map(|_| j)
    }

    /// An unannotated request is named by its body block's annotation; else by the named
    /// request before it that acts on the same thing (same method, same last path
    /// segment: another example of that operation, told apart when the case is named);
    /// else by what it does (`POST …/keepAlive` → `post-keep-alive`).
    fn loose_request_name(&self, i: usize) -> Option<String> {
        let page = self.page;
        let from_body = self
            .body_after(i)
            .and_then(|b| match &page.blocks[b].annot {
                Annot::Some(a) => a.names.first().cloned(),
                _ => None,
            });
        let action = |b: usize| -> Option<(String, String)> {
            let (method, url) = http::parse(&page.blocks[b].text).ok()?.request_line?;
            let path = url.split(['?', '#']).next().unwrap_or_default();
            let last = path.rsplit('/').find(|s| {
                !s.is_empty() && !s.starts_with('{') && !s.bytes().any(|c| c.is_ascii_digit())
            })?;
            Some((method, last.to_ascii_lowercase()))
        };
        let mine = action(i);
        from_body
            .or_else(|| {
                let mine = mine.as_ref()?;
                self.examples
                    .iter()
                    .rev()
                    .filter(|e| action(e.request).as_ref() == Some(mine))
                    .find_map(|e| e.name.clone())
            })
            .or_else(|| {
                let (method, url) = http::parse(&page.blocks[i].text).ok()?.request_line?;
                let path = url.split(['?', '#']).next().unwrap_or_default();
                let last = path.rsplit('/').find(|s| {
                    !s.is_empty() && !s.starts_with('{') && !s.bytes().any(|c| c.is_ascii_digit())
                })?;
                Some(format!(
                    "{}-{}",
                    method.to_ascii_lowercase(),
                    super::build::kebab(last)
                ))
            })
    }

    /// A response answers the requests it names, or the last request when it names none.
    /// A response printed as a status line and headers takes the JSON block right after it
    /// as its body. Returns the last block it consumed.
    fn response(&mut self, i: usize, names: &[String]) -> usize {
        self.used[i] = true;
        let body = self.body_after(i);
        let line = self.page.blocks[i].line;
        let targets: Vec<usize> = if names.is_empty() {
            self.examples.len().checked_sub(1).into_iter().collect()
        } else {
            (0..self.examples.len())
                .filter(|&k| {
                    self.examples[k]
                        .name
                        .as_ref()
                        .is_some_and(|n| names.contains(n))
                })
                .collect()
        };
        if targets.is_empty() {
            let what = if names.is_empty() {
                "no request before it".to_string()
            } else {
                format!("no request named `{}` before it", names.join("`, `"))
            };
            self.diag(line, format!("response with {what}; not extracted"));
        }
        let mut last = i;
        for k in targets {
            match self.examples[k].response {
                None => {
                    self.examples[k].response = Some(i);
                    if let Some(b) = body {
                        self.examples[k].response_body = Some(b);
                        self.used[b] = true;
                        last = b;
                    }
                }
                Some(prev) => {
                    let reason = format!(
                        "response with no request: the request at line {} already has \
                         its response (line {}); not extracted",
                        self.page.blocks[self.examples[k].request].line,
                        self.page.blocks[prev].line
                    );
                    self.diag(line, reason);
                }
            }
        }
        last
    }

    /// An example block: a notification, or the body of the request before it. Returns
    /// the last block it consumed (its companion body block, if it has one after it).
    fn example(&mut self, i: usize) -> usize {
        let page = self.page;
        let block = &page.blocks[i];
        self.used[i] = true;
        // An annotated header block (`POST https://bot…`) whose body is the next block, or
        // a body whose header block was printed just before it.
        let header_only =
            block.lang != "json" && http::parse(&block.text).is_ok_and(|m| m.body.is_none());
        let after = (header_only
            && i + 1 < page.blocks.len()
            && matches!(self.roles[i + 1], Role::Loose | Role::Example)
            && page.blocks[i + 1].lang == "json")
            .then_some(i + 1);
        let before = i.checked_sub(1).filter(|&p| {
            self.roles[p] == Role::Loose && !self.used[p] && page.blocks[p].lang == "http"
        });
        let companion = after.or(before);
        if let Some(c) = companion {
            self.used[c] = true;
        }
        let last = after.unwrap_or(i);
        let text = match notification_text(page, i, companion) {
            Ok(t) => t,
            Err(e) => {
                self.diag(
                    block.line,
                    format!("example block: {e}; this block is not extracted"),
                );
                return last;
            }
        };
        let heading = companion
            .map(|c| page.blocks[c.min(i)].heading.as_str())
            .unwrap_or(&block.heading);
        match lenient_json(&text) {
            Some(v) if is_notification(&v) => {
                let n = Notification {
                    block: i,
                    companion,
                    kind: classify(&v, heading),
                    text,
                };
                self.notification(n);
            }
            Some(_) => self.request_body(i),
            None => self.diag(
                block.line,
                "example block is not readable JSON even after repair; this \
                 notification is not extracted"
                    .into(),
            ),
        }
        last
    }

    /// A trigger waits for the next request; any other notification belongs to the
    /// request before it.
    fn notification(&mut self, n: Notification) {
        let line = self.page.blocks[n.block].line;
        match (n.kind, self.examples.last_mut()) {
            (NotificationKind::Trigger, _) => self.triggers.push(n),
            (_, Some(ex)) => ex.notifications.push(n),
            (_, None) => self.diag(
                line,
                "notification example with no request before it; this \
                 notification is not extracted"
                    .into(),
            ),
        }
    }

    /// A JSON block that is not a notification is the body of the request before it, if
    /// that request printed none and has no response yet.
    fn request_body(&mut self, i: usize) {
        let page = self.page;
        let block = &page.blocks[i];
        match self.examples.last_mut() {
            Some(ex)
                if ex.response.is_none()
                    && ex.request_body.is_none()
                    && block.lang == "json"
                    && http::parse(&page.blocks[ex.request].text)
                        .is_ok_and(|m| m.body.is_none()) =>
            {
                ex.request_body = Some(i)
            }
            _ => self.diag(
                block.line,
                "example block is neither a notification nor the body of the \
                 request before it; this block is not extracted"
                    .into(),
            ),
        }
    }

    /// Code blocks that no example took: nothing is dropped without a diagnostic.
    fn unused_blocks(&mut self) {
        let page = self.page;
        for (i, block) in page.blocks.iter().enumerate() {
            if !self.used[i] && is_code(&block.lang) {
                self.diag(
                    block.line,
                    format!(
                        "unannotated `{}` block is not part of any example; not extracted",
                        block.lang
                    ),
                );
            }
        }
    }

    /// A request with no response cannot be checked: it is left out, with a diagnostic.
    fn drop_unanswered(&mut self) {
        let page = self.page;
        let diags = &mut *self.diags;
        let display = self.display;
        self.examples.retain(|ex| {
            if ex.response.is_none() {
                diags.push(Diagnostic::new(
                    display,
                    page.blocks[ex.request].line,
                    "request with no response; not extracted".into(),
                ));
            }
            ex.response.is_some()
        });
    }
}

/// The notification's JSON as printed: the `json` block, or the body of an `http` block
/// that prints headers and body together (or of its companion block).
fn notification_text(page: &Page, i: usize, companion: Option<usize>) -> Result<String, String> {
    let block = &page.blocks[i];
    if block.lang == "json" {
        return Ok(block.text.clone());
    }
    let msg = http::parse(&block.text)?;
    if let Some(body) = msg.body {
        return Ok(body);
    }
    match companion.map(|c| &page.blocks[c]) {
        Some(next) if next.lang == "json" => Ok(next.text.clone()),
        _ => Err("no JSON body".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::markdown;

    fn run(page: &str) -> (Vec<Example>, Vec<String>) {
        let mut d = Vec::new();
        let p = markdown::parse(page, "p.md", &mut d);
        let (ex, _) = pair(&p, "p.md", &mut d);
        (ex, d.iter().map(|d| d.to_string()).collect())
    }

    fn block(annotation: &str, lang: &str, body: &str) -> String {
        format!("<!-- {annotation} -->\n```{lang}\n{body}\n```\n\n")
    }

    fn notif(state: &str) -> String {
        format!(
            r##"{{"@odata.type":"#microsoft.graph.commsNotifications","value":[{{"changeType":"updated","resourceUrl":"/communications/calls/1","resourceData":{{"state":"{state}"}}}}]}}"##
        )
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
    fn notifications_attach_with_their_header_block() {
        let page = [
            block(r#"{"blockType":"request","name":"a"}"#, "http", "GET /a"),
            block(r#"{"blockType":"response"}"#, "http", "HTTP/1.1 200 OK"),
            "```http\nPOST https://bot.contoso.com/api/calls\nContent-Type: application/json\n```\n\n"
                .to_string(),
            block(r#"{"blockType":"example"}"#, "json", &notif("terminating")),
            block(r#"{"blockType":"example"}"#, "http", "POST https://bot/x"),
            format!("```json\n{}\n```\n", notif("terminated")),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert!(d.is_empty(), "{d:?}");
        let got: Vec<_> = ex[0]
            .notifications
            .iter()
            .map(|n| (n.block, n.companion, n.kind))
            .collect();
        assert_eq!(
            got,
            [
                (3, Some(2), NotificationKind::Result),
                (4, Some(5), NotificationKind::Result)
            ]
        );
    }

    #[test]
    fn incoming_opens_the_next_example_and_failures_are_alternatives() {
        let page = [
            block(r#"{"blockType":"request","name":"a"}"#, "http", "GET /a"),
            block(r#"{"blockType":"response"}"#, "http", "HTTP/1.1 200 OK"),
            "#### Notification - transfer failed\n".to_string(),
            block(r#"{"blockType":"example"}"#, "json", &notif("established")),
            block(r#"{"blockType":"example"}"#, "json", &notif("incoming")),
            block(
                r#"{"blockType":"request","name":"b"}"#,
                "http",
                "POST /b/answer",
            ),
            block(
                r#"{"blockType":"response"}"#,
                "http",
                "HTTP/1.1 202 Accepted",
            ),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(ex[0].notifications[0].kind, NotificationKind::Alternative);
        assert_eq!(ex[0].notifications.len(), 1);
        assert_eq!(ex[1].notifications[0].kind, NotificationKind::Trigger);
    }

    #[test]
    fn an_example_after_a_bodiless_request_is_its_body() {
        let page = [
            block(
                r#"{"blockType":"request","name":"a"}"#,
                "http",
                "POST https://g/a",
            ),
            block(r#"{"blockType":"example"}"#, "json", r#"{"x": 1}"#),
            block(r#"{"blockType":"response"}"#, "http", "HTTP/1.1 200 OK"),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(ex[0].request_body, Some(1));
        assert!(ex[0].notifications.is_empty());
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
            "```xml\n<CallState/>\n```\n".to_string(),
        ]
        .concat();
        let (ex, d) = run(&page);
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].name.as_deref(), Some("GetCallInfo"));
        assert_eq!(d, ["p.md:5: request with no response; not extracted"]);
    }
}
