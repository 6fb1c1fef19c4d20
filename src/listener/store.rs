//! What the listener keeps: every accepted entry once, in arrival order, indexed by the call
//! its `resourceUrl` names and by the case tag of the callback path it arrived on, plus
//! which case claims which call (so an entry on the wrong path is evidence, not noise).
//!
//! Memory is bounded by a byte budget charged per entry (its body, an estimate of its
//! parsed JSON, its metadata, and a new call or tag its key), and by a per-call cap.

use super::{Misrouted, Received, Refused};
use std::collections::HashMap;
use tokio::sync::watch;

/// Indices into [`State::entries`] for one call or one tag, and a wake-up for waiters.
#[derive(Default)]
pub(super) struct Stream {
    pub(super) idx: Vec<usize>,
    tx: Option<watch::Sender<usize>>,
}

impl Stream {
    fn sender(&mut self) -> &watch::Sender<usize> {
        self.tx.get_or_insert_with(|| watch::channel(0).0)
    }

    pub(super) fn subscribe(&mut self) -> watch::Receiver<usize> {
        self.sender().subscribe()
    }

    fn push(&mut self, i: usize) {
        self.idx.push(i);
        let n = self.idx.len();
        self.sender().send_replace(n);
    }
}

/// The bounds a POST is admitted under.
pub(super) struct Limits {
    pub(super) max_per_call: usize,
    pub(super) max_kept: usize,
    pub(super) byte_budget: usize,
}

#[derive(Default)]
pub(super) struct State {
    /// POSTs admitted so far; an entry's `seq` is its POST's.
    pub(super) seq: u64,
    /// Bytes charged against the byte budget.
    pub(super) stored_bytes: usize,
    /// Entries refused because the byte budget was spent.
    pub(super) budget_overflow: u64,
    /// Entries refused because a call they (or a sibling in their POST) name was full.
    pub(super) cap_overflow: u64,
    pub(super) entries: Vec<Received>,
    pub(super) calls: HashMap<String, Stream>,
    pub(super) tags: HashMap<String, Stream>,
    /// Call id → the case tag that claims it (`None`: claimed by a wait that gave no tag).
    pub(super) claims: HashMap<String, Option<String>>,
    /// Entries naming no call, at most `max_kept`.
    pub(super) unrouted: Vec<usize>,
    pub(super) unrouted_overflow: u64,
    pub(super) refused: Vec<Refused>,
    pub(super) refused_overflow: u64,
}

impl State {
    /// Keeps every entry of one POST, or none: a sender that is answered 507 may retry the
    /// whole POST, and a half-kept batch would then arrive twice. `Err` is the reason.
    pub(super) fn admit(&mut self, parts: Vec<Received>, limits: &Limits) -> Result<(), String> {
        let n = parts.len() as u64;
        let mut per_call: HashMap<&str, usize> = HashMap::new();
        for id in parts.iter().filter_map(|p| p.call_id.as_deref()) {
            *per_call.entry(id).or_default() += 1;
        }
        let full = per_call.iter().any(|(id, add)| {
            self.calls.get(*id).map_or(0, |s| s.idx.len()) + add > limits.max_per_call
        });
        if full {
            self.cap_overflow += n;
            return Err(format!(
                "more than {} notifications for one call",
                limits.max_per_call
            ));
        }
        // Entries naming no call past `max_kept` are accepted but only counted.
        let room = limits.max_kept.saturating_sub(self.unrouted.len());
        let mut keep = Vec::with_capacity(parts.len());
        let mut unrouted_kept = 0;
        for p in parts {
            if p.call_id.is_none() {
                if unrouted_kept >= room {
                    keep.push((p, false));
                    continue;
                }
                unrouted_kept += 1;
            }
            keep.push((p, true));
        }
        let mut charge = 0;
        let mut new_keys: Vec<&str> = Vec::new();
        for (p, stored) in &keep {
            if !stored {
                continue;
            }
            charge += cost(p);
            let keys = [
                p.call_id
                    .as_deref()
                    .filter(|k| !self.calls.contains_key(*k)),
                p.tag.as_deref().filter(|k| !self.tags.contains_key(*k)),
            ];
            for k in keys.into_iter().flatten() {
                if !new_keys.contains(&k) {
                    new_keys.push(k);
                    charge += k.len() + std::mem::size_of::<Stream>();
                }
            }
        }
        if charge > 0 && self.stored_bytes + charge > limits.byte_budget {
            self.budget_overflow += n;
            return Err(format!(
                "the listener's {} byte budget is spent",
                limits.byte_budget
            ));
        }
        self.seq += 1;
        self.stored_bytes += charge;
        for (mut p, stored) in keep {
            if !stored {
                self.unrouted_overflow += 1;
                continue;
            }
            p.seq = self.seq;
            let i = self.entries.len();
            match &p.call_id {
                Some(id) => self.calls.entry(id.clone()).or_default().push(i),
                None => self.unrouted.push(i),
            }
            if let Some(tag) = &p.tag {
                self.tags.entry(tag.clone()).or_default().push(i);
            }
            self.entries.push(p);
        }
        Ok(())
    }

    /// Indices of the entries naming `call`; with `tag`, only those that arrived on it.
    pub(super) fn of_call(&self, call: &str, tag: Option<&str>) -> Vec<usize> {
        self.calls.get(call).map_or_else(Vec::new, |s| {
            s.idx
                .iter()
                .copied()
                .filter(|&i| tag.is_none() || self.entries[i].tag.as_deref() == tag)
                .collect()
        })
    }

    /// Indices of every entry that arrived on the callback path of `tag`.
    pub(super) fn of_tag(&self, tag: &str) -> Vec<usize> {
        self.tags.get(tag).map_or_else(Vec::new, |s| s.idx.clone())
    }

    /// Records that the case `tag` owns `call`. The first claim stands; a second case
    /// claiming the same call gets the owner back (a target that reuses a call id).
    pub(super) fn claim(&mut self, tag: &str, call: &str) -> Result<(), String> {
        match self.claims.get_mut(call) {
            Some(Some(owner)) if owner != tag => Err(owner.clone()),
            Some(Some(_)) => Ok(()),
            Some(owner @ None) => {
                *owner = Some(tag.to_owned());
                Ok(())
            }
            None => {
                self.claims.insert(call.to_owned(), Some(tag.to_owned()));
                Ok(())
            }
        }
    }

    /// Entries naming a call `tag` claims that arrived elsewhere, and entries that arrived
    /// on `tag`'s path naming a call another case claims; in arrival order.
    pub(super) fn misrouted_for(&self, tag: &str) -> Vec<Misrouted> {
        let mut out: Vec<Misrouted> = Vec::new();
        for (call, owner) in &self.claims {
            let Some(owner) = owner else { continue };
            let Some(stream) = self.calls.get(call) else {
                continue;
            };
            for &i in &stream.idx {
                let e = &self.entries[i];
                let arrived = e.tag.as_deref();
                if arrived == Some(owner.as_str()) {
                    continue;
                }
                if owner == tag || arrived == Some(tag) {
                    out.push(Misrouted {
                        entry: e.clone(),
                        owner: owner.clone(),
                        arrived_on: e.tag.clone(),
                    });
                }
            }
        }
        out.sort_by_key(|m| m.entry.order());
        out
    }

    /// Entries that arrived on `tag`'s path naming no call or a call nobody claims.
    pub(super) fn unclaimed_for(&self, tag: &str) -> Vec<Received> {
        self.of_tag(tag)
            .into_iter()
            .map(|i| &self.entries[i])
            .filter(|e| {
                e.call_id
                    .as_ref()
                    .is_none_or(|c| !self.claims.contains_key(c))
            })
            .cloned()
            .collect()
    }

    /// Entries naming a call nobody claims, in arrival order.
    pub(super) fn unclaimed(&self) -> Vec<&Received> {
        let mut out: Vec<&Received> = self
            .calls
            .iter()
            .filter(|(id, _)| !self.claims.contains_key(*id))
            .flat_map(|(_, s)| s.idx.iter().map(|&i| &self.entries[i]))
            .collect();
        out.sort_by_key(|e| e.order());
        out
    }
}

/// Memory a parsed JSON value holds, roughly: a node per value plus its strings and keys.
/// An estimate is enough for a budget; it errs on the high side.
pub(super) fn json_cost(v: &serde_json::Value) -> usize {
    const NODE: usize = std::mem::size_of::<serde_json::Value>();
    NODE + match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(json_cost).sum(),
        serde_json::Value::Object(m) => m
            .iter()
            // The key's String and a map entry's links.
            .map(|(k, v)| k.len() + 2 * NODE + json_cost(v))
            .sum(),
        _ => 0,
    }
}

/// What keeping one entry costs against the byte budget.
pub(super) fn cost(r: &Received) -> usize {
    let parsed = r.json.as_ref().map_or_else(|e| e.len(), json_cost);
    std::mem::size_of::<Received>()
        + r.body.len()
        + parsed
        + r.path.len()
        + r.authorization.as_ref().map_or(0, String::len)
        + r.content_type.as_ref().map_or(0, String::len)
        + r.call_id.as_ref().map_or(0, String::len)
        + r.tag.as_ref().map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_cost_counts_nodes_strings_and_keys() {
        let small = json_cost(&serde_json::json!({"a": 1}));
        let big = json_cost(&serde_json::json!({"a": 1, "bbbb": "x".repeat(100)}));
        assert!(big >= small + 100 + 4, "{small} {big}");
    }
}
