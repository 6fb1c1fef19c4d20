//! End-to-end checks of the embedded reference target: started in-process on loopback,
//! driven over HTTP with reqwest, with a tiny hyper receiver standing in for the bot's
//! notification callback. Every wait is bounded.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use callconform::reference::{self, Config, Deviation, Running};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const MSG_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const UM_PATH: &str = "/EWS/UM2007Legacy.asmx";
const UM_PATH_2007: &str = "/UnifiedMessaging/Service.asmx";
const TOKEN: &str = "test-notify-token";

/// Runs a test body with an overall deadline so nothing can hang.
async fn bounded<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test exceeded its deadline");
}

async fn target(deviations: Vec<Deviation>) -> Running {
    let config = Config {
        deviations,
        notify_token: TOKEN.into(),
        accept_token: None,
        late_delay: Duration::from_millis(300),
        ..Config::default()
    };
    reference::start("127.0.0.1:0".parse().expect("addr"), config)
        .await
        .expect("start reference target")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

// ---------------------------------------------------------------------------------------
// UM helpers

fn envelope(ns: &str, op: &str, children: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  \
         <soap:Body>\n    <{op} xmlns=\"{ns}\">{children}</{op}>\n  </soap:Body>\n</soap:Envelope>"
    )
}

struct Reply {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn post_soap(base: &str, path: &str, body: String) -> Reply {
    let r = client()
        .post(format!("{base}{path}"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"x\"")
        .body(body)
        .send()
        .await
        .expect("send");
    reply(r).await
}

async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = r.text().await.expect("body");
    Reply {
        status,
        content_type,
        body,
    }
}

async fn play_on_phone(base: &str, path: &str) -> String {
    let r = post_soap(
        base,
        path,
        envelope(
            MSG_NS,
            "PlayOnPhone",
            "<entryId>AAAAAGsd2rbQLVtLobUGbrq/9IUHAEX2ikn/L8JJtI5WHI0FAW8AAAFXHhsAACxVpEl+KVVLl957wp//x6UAGAetcDUAAA==</entryId><DialString>12345</DialString>",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let open = "<PlayOnPhoneResponse>";
    let start = r.body.find(open).expect("inner PlayOnPhoneResponse") + open.len();
    let end = start
        + r.body[start..]
            .find("</PlayOnPhoneResponse>")
            .expect("close");
    r.body[start..end].to_owned()
}

async fn call_op(base: &str, path: &str, op: &str, call_id: &str) -> Reply {
    post_soap(
        base,
        path,
        envelope(MSG_NS, op, &format!("<CallId>{call_id}</CallId>")),
    )
    .await
}

const GET_CALL_INFO_DOC: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Body>
    <GetCallInfoResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <GetCallInfoResponse>
        <CallState>Connected</CallState>
        <EventCause>None</EventCause>
      </GetCallInfoResponse>
    </GetCallInfoResponse>
  </soap:Body>
</soap:Envelope>"#;

const DISCONNECT_DOC: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <soap:Body>
    <DisconnectResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages" />
  </soap:Body>
</soap:Envelope>"#;

fn assert_invalid_call_id(r: &Reply) {
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert!(r.content_type.starts_with("text/xml"), "{}", r.content_type);
    assert!(r.body.starts_with("<?xml"), "{}", r.body);
    assert!(
        r.body.contains(
            r#"<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/errors">a:InvalidCallIdException</faultcode>"#
        ),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!(
            r#"<ExceptionType xmlns="{MSG_NS}">InvalidCallIdException</ExceptionType>"#
        )),
        "{}",
        r.body
    );
}

// ---------------------------------------------------------------------------------------
// UM tests

#[tokio::test]
async fn um_call_lifecycle_on_both_paths() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        for path in [UM_PATH, UM_PATH_2007, "/ews/um2007legacy.ASMX"] {
            let id = play_on_phone(&base, path).await;
            let decoded = String::from_utf8(B64.decode(&id).expect("base64 CallId")).expect("utf8");
            let (session, fqdn) = decoded.split_once('|').expect("session|fqdn");
            assert_eq!(session.len(), 36);
            assert_eq!(fqdn, "um.reference.callconform.invalid");

            let r = call_op(&base, path, "GetCallInfo", &id).await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.content_type, "text/xml; charset=utf-8");
            assert_eq!(r.body, GET_CALL_INFO_DOC);

            let r = call_op(&base, path, "Disconnect", &id).await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.content_type, "text/xml; charset=utf-8");
            assert_eq!(r.body, DISCONNECT_DOC);

            assert_invalid_call_id(&call_op(&base, path, "GetCallInfo", &id).await);
            assert_invalid_call_id(&call_op(&base, path, "Disconnect", &id).await);
        }
    })
    .await;
}

#[tokio::test]
async fn um_invalid_call_ids_fault() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let unknown = B64.encode("00000000-0000-4000-8000-000000000000|um.reference.callconform.invalid");
        // The documented example CallId uses `@`, which a 2013+ server cannot decode.
        let documented = "MDlkZjllZGMtNGUyMy00NzA5LWJkYWYtN2JlMjBjYjBhZTU2QGRmLWV1bS0wMS5leGNoYW5nZS5jb3JwLm1pY3Jvc29mdC5jb20=";
        let long = "A".repeat(1424);
        for id in [unknown.as_str(), documented, long.as_str(), "not base64!", ""] {
            assert_invalid_call_id(&call_op(&base, UM_PATH, "GetCallInfo", id).await);
            assert_invalid_call_id(&call_op(&base, UM_PATH, "Disconnect", id).await);
        }
    })
    .await;
}

#[tokio::test]
async fn um_https_namespace_and_unknown_operation_fault() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let https = MSG_NS.replace("http://", "https://");
        for body in [
            envelope(&https, "IsUMEnabled", ""),
            envelope("urn:other", "IsUMEnabled", ""),
            envelope(MSG_NS, "NoSuchOperation", ""),
        ] {
            let r = post_soap(&base, UM_PATH, body).await;
            assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
            assert!(r.body.contains("a:ErrorInvalidRequest"), "{}", r.body);
            assert!(
                r.body.contains(
                    r#"xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types""#
                ),
                "{}",
                r.body
            );
        }
        // The namespace comparison is case-insensitive, like Exchange's.
        let upper = MSG_NS.replace(
            "http://schemas.microsoft.com",
            "HTTP://SCHEMAS.MICROSOFT.COM",
        );
        let r = post_soap(&base, UM_PATH, envelope(&upper, "IsUMEnabled", "")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    })
    .await;
}

#[tokio::test]
async fn um_malformed_input_faults_and_server_survives() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let bodies = [
            String::new(),
            "<".into(),
            "garbage".into(),
            r#"<!DOCTYPE lolz [<!ENTITY lol "lol">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><IsUMEnabled xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">&lol;</IsUMEnabled></soap:Body></soap:Envelope>"#.into(),
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><IsUMEnabled xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"></soap:Body>"#.into(),
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>"#.into(),
            r#"<x:Envelope><x:Body/></x:Envelope>"#.into(),
        ];
        for b in bodies {
            let r = post_soap(&base, UM_PATH, b.clone()).await;
            assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{b}: {}", r.body);
            assert!(r.body.contains("<s:Fault>"), "{}", r.body);
        }
        let r = client()
            .post(format!("{base}{UM_PATH}"))
            .header("Content-Type", "text/xml")
            .body(vec![0xffu8, 0xfe, 0x00, 0x3c])
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);

        // Wrong content type → 415 with a SOAP fault; oversized → 413.
        let r = client()
            .post(format!("{base}{UM_PATH}"))
            .header("Content-Type", "application/json")
            .body(envelope(MSG_NS, "IsUMEnabled", ""))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(r.text().await.expect("text").contains("<s:Fault>"));
        let r = post_soap(&base, UM_PATH, "x".repeat(2 << 20)).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

        let r = post_soap(&base, UM_PATH, envelope(MSG_NS, "IsUMEnabled", "")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("<IsUMEnabledResponse>true</IsUMEnabledResponse>"), "{}", r.body);
    })
    .await;
}

#[tokio::test]
async fn um_other_operations() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let r = post_soap(&base, UM_PATH, envelope(MSG_NS, "GetUMProperties", "")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("<OofStatus>false</OofStatus>"), "{}", r.body);
        assert!(r.body.contains("<TelephoneAccessNumbers>54321</TelephoneAccessNumbers>"));

        for (op, children) in [
            ("SetOofStatus", "<status>true</status>"),
            ("SetMissedCallNotificationEnabled", "<status>false</status>"),
            ("SetPlayOnPhoneDialString", "<dialString>777</dialString>"),
            (
                "SetTelephoneAccessFolderEmail",
                "<base64FolderID>AAAAAGsd2rbQLVtLobUGbrq/9IUBAEX2ikn/L8JJtI5WHI0FAW8AAAFXHhsAAA==</base64FolderID>",
            ),
            ("ResetPIN", ""),
        ] {
            let r = post_soap(&base, UM_PATH, envelope(MSG_NS, op, children)).await;
            assert_eq!(r.status, StatusCode::OK, "{op}: {}", r.body);
            assert!(r.body.contains(&format!("<{op}Response xmlns=\"{MSG_NS}\" />")), "{}", r.body);
        }
        let r = post_soap(&base, UM_PATH, envelope(MSG_NS, "GetUMProperties", "")).await;
        assert!(r.body.contains("<OofStatus>true</OofStatus>"), "{}", r.body);
        assert!(r.body.contains("<PlayOnPhoneDialString>777</PlayOnPhoneDialString>"));

        let r = post_soap(
            &base,
            UM_PATH,
            envelope(
                MSG_NS,
                "PlayOnPhoneGreeting",
                "<GreetingType>NormalCustom</GreetingType><DialString>12345</DialString>",
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body.matches("<PlayOnPhoneGreetingResponse").count(), 2, "{}", r.body);

        let r = post_soap(&base, UM_PATH, envelope(MSG_NS, "SetOofStatus", "<status>maybe</status>")).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    })
    .await;
}

#[tokio::test]
async fn um_wsdl_on_both_paths() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        for path in [UM_PATH, UM_PATH_2007] {
            let r = reply(
                client()
                    .get(format!("{base}{path}?wsdl"))
                    .send()
                    .await
                    .expect("get"),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.content_type, "text/xml; charset=utf-8");
            assert!(r.body.starts_with("<?xml"));
            assert!(r.body.contains("wsdl:definitions"));
            for op in ["GetCallInfo", "Disconnect", "PlayOnPhone"] {
                assert!(
                    r.body.contains(&format!("<wsdl:operation name=\"{op}\">")),
                    "{op}"
                );
            }
            assert!(
                r.body.contains(&format!("location=\"{base}{path}\"")),
                "{}",
                r.body
            );
        }
        let r = client()
            .delete(format!("{base}{UM_PATH}"))
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Graph helpers

#[derive(Debug)]
struct Received {
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("notification is JSON")
    }
}

/// A stand-in for the bot's callback endpoint: records every POST and answers 202.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let header = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let authorization = header("authorization");
                        let content_type = header("content-type");
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let _ = tx.send(Received {
                            authorization,
                            content_type,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        let mut resp = Response::new(Full::new(Bytes::new()));
                        *resp.status_mut() = hyper::StatusCode::ACCEPTED;
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/api/calls"), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("notification within 10 s")
        .expect("receiver alive")
}

/// Asserts that nothing more arrives within a short grace period.
async fn quiet(rx: &mut mpsc::UnboundedReceiver<Received>) {
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        panic!("unexpected extra notification: {}", extra.body);
    }
}

fn create_body(callback: &str) -> String {
    json!({
        "@odata.type": "#microsoft.graph.call",
        "callbackUri": callback,
        "targets": [{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": {"@odata.type": "#microsoft.graph.identitySet",
                "user": {"@odata.type": "#microsoft.graph.identity", "displayName": "John",
                         "id": "112f7296-5fa4-42ca-bae8-6a692b15d4b8"}}
        }],
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"}
    })
    .to_string()
}

async fn create_call(base: &str, prefix: &str, callback: &str) -> (String, String) {
    let r = client()
        .post(format!("{base}{prefix}/calls"))
        .bearer_auth("graph-token")
        .header("Content-Type", "application/json")
        .body(create_body(callback))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned();
    let body: Value = serde_json::from_str(&r.text().await.expect("text")).expect("json");
    let id = body["id"].as_str().expect("id").to_owned();
    (id, location)
}

fn state_notification(r: &Received, change: &str, id: &str, state: &str) {
    let v = r.json();
    assert_eq!(v["@odata.type"], "#microsoft.graph.commsNotifications");
    let n = &v["value"][0];
    assert_eq!(n["@odata.type"], "#microsoft.graph.commsNotification");
    assert_eq!(n["changeType"], change, "{}", r.body);
    assert_eq!(n["resourceUrl"], format!("/communications/calls/{id}"));
    assert_eq!(n["resourceData"]["@odata.type"], "#microsoft.graph.call");
    assert_eq!(n["resourceData"]["state"], state, "{}", r.body);
}

// ---------------------------------------------------------------------------------------
// Graph tests

#[tokio::test]
async fn graph_create_get_delete_with_notifications() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let (callback, mut rx) = receiver().await;
        let (id, location) = create_call(&base, "/communications", &callback).await;
        assert_eq!(id.len(), 36);
        assert_eq!(id, id.to_ascii_lowercase());
        assert_eq!(location, format!("{base}/communications/calls/{id}"));

        let mut seen = Vec::new();
        for _ in 0..2 {
            let n = next(&mut rx).await;
            assert_eq!(
                n.authorization.as_deref(),
                Some(&*format!("Bearer {TOKEN}"))
            );
            assert_eq!(n.content_type.as_deref(), Some("application/json"));
            let v = n.json();
            assert_eq!(v["value"][0]["changeType"], "updated");
            seen.push(
                v["value"][0]["resourceData"]["state"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            );
            state_notification(&n, "updated", &id, &seen[seen.len() - 1]);
        }
        assert_eq!(seen, ["establishing", "established"]);

        let r = client()
            .get(format!("{base}/communications/calls/{id}"))
            .bearer_auth("x")
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = serde_json::from_str(&r.text().await.expect("t")).expect("json");
        assert_eq!(v["id"], id.as_str());
        assert_eq!(v["callbackUri"], callback.as_str());
        assert_eq!(v["direction"], "outgoing");
        assert_eq!(v["state"], "established");

        let r = client()
            .delete(format!("{base}/communications/calls/{id}"))
            .bearer_auth("x")
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(r.bytes().await.expect("b").is_empty());

        let terminating = next(&mut rx).await;
        assert_eq!(
            terminating.json(),
            json!({
                "@odata.type": "#microsoft.graph.commsNotifications",
                "value": [{
                    "@odata.type": "#microsoft.graph.commsNotification",
                    "changeType": "updated",
                    "resourceUrl": format!("/communications/calls/{id}"),
                    "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "terminating"}
                }]
            })
        );
        let terminated = next(&mut rx).await;
        assert_eq!(
            terminated.json(),
            json!({
                "@odata.type": "#microsoft.graph.commsNotifications",
                "value": [{
                    "@odata.type": "#microsoft.graph.commsNotification",
                    "changeType": "deleted",
                    "resourceUrl": format!("/communications/calls/{id}"),
                    "resourceData": {
                        "@odata.type": "#microsoft.graph.call",
                        "state": "terminated",
                        "resultInfo": {
                            "@odata.type": "#microsoft.graph.resultInfo",
                            "code": 200,
                            "subcode": 5001,
                            "message": "The conversation has ended."
                        }
                    }
                }]
            })
        );
        // Documented key order on the wire.
        assert!(terminated.body.starts_with(
            r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":[{"@odata.type""##
        ));
        assert_eq!(
            terminated.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
        quiet(&mut rx).await;

        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let r = client()
                .request(method, format!("{base}/communications/calls/{id}"))
                .bearer_auth("x")
                .send()
                .await
                .expect("after delete");
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            let v: Value = serde_json::from_str(&r.text().await.expect("t")).expect("json");
            assert_eq!(v["error"]["code"], "ItemNotFound");
        }
    })
    .await;
}

#[tokio::test]
async fn graph_requires_bearer_token() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let url = format!("{base}/communications/calls");
        let cases = [
            None,
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer "),
            Some("Bearer"),
        ];
        for auth in cases {
            let mut rb = client()
                .post(&url)
                .header("Content-Type", "application/json")
                .body(create_body("http://127.0.0.1:9/cb"));
            if let Some(a) = auth {
                rb = rb.header("Authorization", a);
            }
            let r = rb.send().await.expect("send");
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_eq!(
                r.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/json")
            );
            let v: Value = serde_json::from_str(&r.text().await.expect("t")).expect("json");
            assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
            assert!(v["error"]["innerError"]["request-id"].is_string());
            assert!(v["error"]["innerError"]["date"].is_string());
        }

        // With accept_token set, only that exact token works.
        let config = Config {
            accept_token: Some("exact".into()),
            ..Config::default()
        };
        let t2 = reference::start("127.0.0.1:0".parse().expect("addr"), config)
            .await
            .expect("start");
        let url2 = format!("{}/communications/calls/nope", t2.base_url());
        let r = client()
            .get(&url2)
            .bearer_auth("other")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = client()
            .get(&url2)
            .bearer_auth("exact")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn graph_versioned_and_legacy_paths() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let (callback, mut rx) = receiver().await;
        for prefix in [
            "/beta/communications",
            "/v1.0/communications",
            "/app",
            "/beta/app",
        ] {
            let (id, location) = create_call(&base, prefix, &callback).await;
            assert!(
                location.ends_with(&format!("/communications/calls/{id}")),
                "{location}"
            );
            next(&mut rx).await;
            next(&mut rx).await;
            let r = client()
                .delete(format!("{base}{prefix}/calls/{id}"))
                .bearer_auth("x")
                .send()
                .await
                .expect("delete");
            assert_eq!(r.status(), StatusCode::NO_CONTENT, "{prefix}");
            state_notification(&next(&mut rx).await, "updated", &id, "terminating");
            state_notification(&next(&mut rx).await, "deleted", &id, "terminated");
        }
    })
    .await;
}

#[tokio::test]
async fn graph_bad_requests() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let url = format!("{base}/communications/calls");
        for body in [
            "{not json".to_owned(),
            "[]".to_owned(),
            json!({"targets": []}).to_string(),
            json!({"callbackUri": 5}).to_string(),
            json!({"callbackUri": "ftp://bot.contoso.com/cb"}).to_string(),
            json!({"callbackUri": "/relative"}).to_string(),
        ] {
            let r = client()
                .post(&url)
                .bearer_auth("x")
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
            let v: Value = serde_json::from_str(&r.text().await.expect("t")).expect("json");
            assert!(v["error"]["code"].is_string());
        }
        let r = client()
            .get(&url)
            .bearer_auth("x")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let r = client()
            .patch(format!("{url}/abc"))
            .bearer_auth("x")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let r = client()
            .post(&url)
            .bearer_auth("x")
            .header("Content-Type", "application/json")
            .body(vec![b' '; 2 << 20])
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let r = client()
            .get(format!("{url}/00000000-0000-4000-8000-000000000000"))
            .bearer_auth("x")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Deviation spot checks

#[tokio::test]
async fn deviation_um_wrong_call_state_and_compact() {
    bounded(async {
        let t = target(vec![Deviation::UmWrongCallState]).await;
        let base = t.base_url();
        let id = play_on_phone(&base, UM_PATH).await;
        let r = call_op(&base, UM_PATH, "GetCallInfo", &id).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("<CallState>Disconnected</CallState>"), "{}", r.body);

        let t = target(vec![Deviation::UmCompactWhitespace]).await;
        let base = t.base_url();
        let id = play_on_phone(&base, UM_PATH).await;
        let r = call_op(&base, UM_PATH, "GetCallInfo", &id).await;
        assert!(!r.body.contains('\n'), "{}", r.body);
        assert!(r.body.contains(
            "<GetCallInfoResponse><CallState>Connected</CallState><EventCause>None</EventCause></GetCallInfoResponse>"
        ));
        // PlayOnPhone itself stays in the documented form.
        let r = post_soap(
            &base,
            UM_PATH,
            envelope(MSG_NS, "PlayOnPhone", "<entryId>AAAA</entryId><DialString>1</DialString>"),
        )
        .await;
        assert!(r.body.contains('\n'));
    })
    .await;
}

#[tokio::test]
async fn deviation_um_fault_with_200_and_prefixes() {
    bounded(async {
        let t = target(vec![Deviation::UmFaultWith200]).await;
        let base = t.base_url();
        let id = play_on_phone(&base, UM_PATH).await;
        let r = call_op(&base, UM_PATH, "GetCallInfo", &id).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("InvalidCallIdException"));

        let t = target(vec![
            Deviation::UmOtherPrefixes,
            Deviation::UmAttributesReordered,
        ])
        .await;
        let base = t.base_url();
        let id = play_on_phone(&base, UM_PATH).await;
        let r = call_op(&base, UM_PATH, "GetCallInfo", &id).await;
        assert!(r.body.contains("<env:Envelope xmlns:m="), "{}", r.body);
        assert!(
            r.body.contains("<m:CallState>Connected</m:CallState>"),
            "{}",
            r.body
        );
    })
    .await;
}

#[tokio::test]
async fn deviation_graph_no_terminating_and_strings() {
    bounded(async {
        let t = target(vec![
            Deviation::GraphNoTerminating,
            Deviation::GraphResultInfoStrings,
        ])
        .await;
        let base = t.base_url();
        let (callback, mut rx) = receiver().await;
        let (id, _) = create_call(&base, "/communications", &callback).await;
        next(&mut rx).await;
        next(&mut rx).await;
        let r = client()
            .delete(format!("{base}/communications/calls/{id}"))
            .bearer_auth("x")
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let n = next(&mut rx).await;
        state_notification(&n, "deleted", &id, "terminated");
        let ri = &n.json()["value"][0]["resourceData"]["resultInfo"];
        assert_eq!(ri["code"], "200");
        assert_eq!(ri["subcode"], "5001");
        quiet(&mut rx).await;
    })
    .await;
}

#[tokio::test]
async fn deviation_graph_keys_reordered_late_and_no_auth() {
    bounded(async {
        let t = target(vec![
            Deviation::GraphKeysReordered,
            Deviation::GraphLateNotifications,
            Deviation::GraphNoAuthorization,
            Deviation::GraphExtraResourceData,
        ])
        .await;
        let base = t.base_url();
        let (callback, mut rx) = receiver().await;
        let (id, _) = create_call(&base, "/communications", &callback).await;
        let n = next(&mut rx).await;
        assert!(n.authorization.is_none());
        assert!(
            n.body
                .starts_with(r#"{"value":[{"resourceData":{"callChainId":"#),
            "{}",
            n.body
        );
        next(&mut rx).await;
        let sent = std::time::Instant::now();
        let r = client()
            .delete(format!("{base}/communications/calls/{id}"))
            .bearer_auth("x")
            .send()
            .await
            .expect("delete");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        state_notification(&next(&mut rx).await, "updated", &id, "terminating");
        assert!(sent.elapsed() >= Duration::from_millis(300));
        state_notification(&next(&mut rx).await, "deleted", &id, "terminated");
    })
    .await;
}

#[tokio::test]
async fn dropping_running_stops_the_server() {
    bounded(async {
        let t = target(vec![]).await;
        let base = t.base_url();
        let r = client()
            .get(format!("{base}{UM_PATH}?wsdl"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        drop(t);
        let mut refused = false;
        for _ in 0..50 {
            let c = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client");
            if c.get(format!("{base}{UM_PATH}?wsdl")).send().await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(refused, "server still answering after drop");
    })
    .await;
}

/// What one UM call's GetCallInfo + Disconnect look like from the outside.
async fn um_observation(deviations: Vec<Deviation>) -> Vec<(StatusCode, String, String)> {
    let t = target(deviations).await;
    let base = t.base_url();
    let id = play_on_phone(&base, UM_PATH).await;
    let mut out = Vec::new();
    for op in ["GetCallInfo", "Disconnect"] {
        let r = call_op(&base, UM_PATH, op, &id).await;
        out.push((r.status, r.content_type, r.body));
    }
    out
}

#[tokio::test]
async fn every_um_deviation_changes_the_responses() {
    bounded(async {
        let baseline = um_observation(vec![]).await;
        assert_eq!(baseline[0].2, GET_CALL_INFO_DOC);
        assert_eq!(baseline[1].2, DISCONNECT_DOC);
        for &d in Deviation::all()
            .iter()
            .filter(|d| d.name().starts_with("um-"))
        {
            let seen = um_observation(vec![d]).await;
            assert_ne!(seen[0], baseline[0], "{d} left GetCallInfo unchanged");
            if d != Deviation::UmMissingEventCause
                && d != Deviation::UmWrongCallState
                && d != Deviation::UmChildrenSwapped
            {
                assert_ne!(seen[1], baseline[1], "{d} left Disconnect unchanged");
            }
            if d.expect_pass() {
                // Equivalent forms keep status, content type and the element content.
                assert_eq!(seen[0].0, StatusCode::OK);
                assert_eq!(seen[0].1, baseline[0].1);
                assert!(
                    seen[0].2.contains("Connected") && seen[0].2.contains("None"),
                    "{d}"
                );
            }
        }
    })
    .await;
}

/// DELETE status plus every notification (Authorization, body with the call id masked)
/// for one create → delete round.
async fn graph_observation(
    deviations: Vec<Deviation>,
) -> (StatusCode, Vec<(Option<String>, String)>) {
    let t = target(deviations).await;
    let base = t.base_url();
    let (callback, mut rx) = receiver().await;
    let (id, _) = create_call(&base, "/communications", &callback).await;
    let mut notes = vec![next(&mut rx).await, next(&mut rx).await];
    let r = client()
        .delete(format!("{base}/communications/calls/{id}"))
        .bearer_auth("x")
        .send()
        .await
        .expect("delete");
    let status = r.status();
    while let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(400), rx.recv()).await {
        notes.push(n);
        if notes.len() > 10 {
            break;
        }
    }
    let masked = notes
        .into_iter()
        .map(|n| (n.authorization, n.body.replace(&id, "{id}")))
        .collect();
    (status, masked)
}

#[tokio::test]
async fn every_graph_deviation_changes_the_exchange() {
    bounded(async {
        let baseline = graph_observation(vec![]).await;
        assert_eq!(baseline.0, StatusCode::NO_CONTENT);
        assert_eq!(baseline.1.len(), 4);
        let mut set = tokio::task::JoinSet::new();
        for &d in Deviation::all()
            .iter()
            .filter(|d| d.name().starts_with("graph-") && **d != Deviation::GraphLateNotifications)
        {
            set.spawn(async move { (d, graph_observation(vec![d]).await) });
        }
        while let Some(res) = set.join_next().await {
            let (d, seen) = res.expect("task");
            assert_ne!(seen, baseline, "{d} changed nothing observable");
        }
    })
    .await;
}
