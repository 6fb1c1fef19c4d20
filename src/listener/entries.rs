//! One POST split into its commsNotification entries.
//!
//! Graph sends queued notifications to a callback together: `value` is a collection. Each
//! entry is judged on its own, so each becomes a body of the single-entry form
//! `{"@odata.type": "#microsoft.graph.commsNotifications", "value": [entry]}` (the POST's
//! other top-level keys kept as sent), and a batched entry compares exactly like a
//! single-entry POST. A POST that is not a commsNotifications object with a `value` array
//! of two or more entries is kept whole, as received, for the checks to judge.

use super::route::call_id_of;
use bytes::Bytes;
use serde_json::Value;

/// One entry of a POST, before the listener stamps it with the POST's metadata.
pub(super) struct Part {
    /// The entry's own body: the POST's bytes when it is kept whole, else the
    /// single-entry form serialized.
    pub(super) body: Bytes,
    pub(super) json: Result<Value, String>,
    /// The call the entry's `resourceUrl` names.
    pub(super) call_id: Option<String>,
    /// `(index, len)` when the entry came with others in one POST.
    pub(super) batch: Option<(usize, usize)>,
}

/// Entries one POST may carry. Each entry is a copy of the POST's metadata and top-level
/// keys before the budget can refuse it, so a 64 KiB body of ten thousand `{}` entries
/// must be refused before it is split; real batches hold a handful.
pub(super) const MAX_ENTRIES: usize = 256;

/// The entries of one POST body, in the order they were sent; `Err` with the count when
/// it holds more than [`MAX_ENTRIES`].
pub(super) fn split(body: Bytes) -> Result<Vec<Part>, usize> {
    let json = serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string());
    let len = json
        .as_ref()
        .ok()
        .and_then(|v| v.get("value"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if len > MAX_ENTRIES {
        return Err(len);
    }
    let batched = len > 1;
    let whole = |json: Result<Value, String>, body: Bytes| {
        let call_id = named_call(json.as_ref().ok().and_then(|v| v.pointer("/value/0")));
        vec![Part {
            body,
            json,
            call_id,
            batch: None,
        }]
    };
    if !batched {
        return Ok(whole(json, body));
    }
    let Ok(Value::Object(mut top)) = json else {
        return Ok(whole(json, body));
    };
    let Some(Value::Array(items)) = top.remove("value") else {
        return Ok(whole(Ok(Value::Object(top)), body));
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let call_id = named_call(Some(&entry));
            let mut single = top.clone();
            single.insert("value".into(), Value::Array(vec![entry]));
            let single = Value::Object(single);
            Part {
                body: Bytes::from(single.to_string()),
                json: Ok(single),
                call_id,
                batch: Some((index, len)),
            }
        })
        .collect())
}

/// The call an entry names: by its `resourceUrl`, or by the legacy `resource` the
/// 2018-2019 pages print in its place.
fn named_call(entry: Option<&Value>) -> Option<String> {
    resource_url(entry?).and_then(call_id_of)
}

/// An entry's resource URL: `resourceUrl`, else the legacy `resource`.
pub fn resource_url(entry: &Value) -> Option<&str> {
    entry
        .get("resourceUrl")
        .or_else(|| entry.get("resource"))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_legacy_resource_names_the_call_where_resource_url_is_absent() {
        let e = json!({"resource": "/app/calls/a%2Fb/operations/x"});
        assert_eq!(named_call(Some(&e)).as_deref(), Some("a/b"));
        let both =
            json!({"resource": "/app/calls/old", "resourceUrl": "/communications/calls/new"});
        assert_eq!(named_call(Some(&both)).as_deref(), Some("new"));
    }

    #[test]
    fn a_batch_becomes_single_entry_bodies_in_order() {
        let post = json!({
            "@odata.type": "#microsoft.graph.commsNotifications",
            "extra": 1,
            "value": [
                {"resourceUrl": "/communications/calls/a", "resourceData": {"state": "terminating"}},
                {"resourceUrl": "/communications/calls/b%2F1", "resourceData": {"state": "terminated"}},
                {"resourceData": {"state": "x"}}
            ]
        });
        let parts = split(Bytes::from(post.to_string())).expect("3 entries");
        assert_eq!(parts.len(), 3);
        let states: Vec<_> = parts
            .iter()
            .map(|p| {
                let v = p.json.as_ref().expect("json");
                assert_eq!(v["@odata.type"], "#microsoft.graph.commsNotifications");
                assert_eq!(v["extra"], 1);
                assert_eq!(v["value"].as_array().map(Vec::len), Some(1));
                let reparsed: Value = serde_json::from_slice(&p.body).expect("body is JSON");
                assert_eq!(&reparsed, v);
                v["value"][0]["resourceData"]["state"].clone()
            })
            .collect();
        assert_eq!(
            states,
            [json!("terminating"), json!("terminated"), json!("x")]
        );
        let calls: Vec<_> = parts.iter().map(|p| p.call_id.as_deref()).collect();
        assert_eq!(calls, [Some("a"), Some("b/1"), None]);
        let batch: Vec<_> = parts.iter().map(|p| p.batch).collect();
        assert_eq!(batch, [Some((0, 3)), Some((1, 3)), Some((2, 3))]);
    }

    #[test]
    fn anything_else_is_kept_whole_as_received() {
        for body in [
            r#"{"value":[{"resourceUrl":"/communications/calls/a"}]}"#,
            r#"{"value":[]}"#,
            r#"{"value":{"resourceUrl":"/communications/calls/a"}}"#,
            r#"[1,2]"#,
            "not json",
        ] {
            let parts = split(Bytes::from(body)).expect("one entry");
            assert_eq!(parts.len(), 1, "{body}");
            assert_eq!(&parts[0].body[..], body.as_bytes());
            assert_eq!(parts[0].batch, None);
        }
        let one = split(Bytes::from(
            r#"{"value":[{"resourceUrl":"/communications/calls/a"}]}"#,
        ))
        .expect("one entry");
        assert_eq!(one[0].call_id.as_deref(), Some("a"));
        assert!(split(Bytes::from("not json")).is_ok_and(|p| p[0].json.is_err()));
    }

    #[test]
    fn a_post_of_too_many_entries_is_not_split() {
        let many = |n: usize| format!(r#"{{"value":[{}]}}"#, vec!["{}"; n].join(","));
        assert_eq!(
            split(Bytes::from(many(MAX_ENTRIES))).map(|p| p.len()),
            Ok(MAX_ENTRIES)
        );
        assert_eq!(
            split(Bytes::from(many(MAX_ENTRIES + 1))).err(),
            Some(MAX_ENTRIES + 1)
        );
    }
}
