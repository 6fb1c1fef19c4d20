//! The lexical forms of the Edm primitive types in JSON (OData JSON Format 4.01, section
//! 7.1): what a value of a declared primitive type must look like, whatever the example's
//! particular value.

use crate::contract::Primitive;
use serde_json::Value;

/// Why `v` is not a value of `p`, if it is not.
pub fn check(v: &Value, p: Primitive) -> Option<&'static str> {
    match p {
        Primitive::Any => None,
        Primitive::String => (!v.is_string()).then_some("a string"),
        Primitive::Boolean => (!v.is_boolean()).then_some("a boolean"),
        Primitive::Integer { min, max } => {
            let ok = v.as_i64().is_some_and(|n| (min..=max).contains(&n))
                || (max == i64::MAX && v.as_u64().is_none() && v.as_i64().is_some());
            (!ok).then_some("an integer in the type's range")
        }
        Primitive::Number => {
            let ok = v.is_number()
                || v.as_str()
                    .is_some_and(|s| matches!(s, "NaN" | "INF" | "-INF"));
            (!ok).then_some("a number")
        }
        Primitive::DateTimeOffset => string_form(v, date_time_offset, "an RFC 3339 timestamp"),
        Primitive::Date => string_form(v, |s| date(s).is_some(), "a date (YYYY-MM-DD)"),
        Primitive::TimeOfDay => string_form(v, time_of_day, "a time of day (hh:mm:ss)"),
        Primitive::Duration => string_form(v, duration, "an ISO 8601 duration"),
        Primitive::Guid => string_form(v, guid, "a GUID"),
        Primitive::Binary => string_form(v, base64, "base64"),
    }
}

fn string_form(v: &Value, ok: fn(&str) -> bool, what: &'static str) -> Option<&'static str> {
    match v.as_str() {
        Some(s) if ok(s) => None,
        _ => Some(what),
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD`; returns the rest of the text.
fn date(s: &str) -> Option<&str> {
    let (y, rest) = s.split_at_checked(4)?;
    digits(y, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (m, rest) = rest.split_at_checked(2)?;
    let rest = rest.strip_prefix('-')?;
    let (d, rest) = rest.split_at_checked(2)?;
    let (m, d) = (digits(m, 2)?, digits(d, 2)?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some(rest)
}

/// `hh:mm(:ss(.f+)?)?`
fn time_of_day(s: &str) -> bool {
    let mut parts = s.splitn(3, ':');
    let (Some(h), Some(m)) = (parts.next(), parts.next()) else {
        return false;
    };
    let ok_hm = digits(h, 2).is_some_and(|h| h < 24) && digits(m, 2).is_some_and(|m| m < 60);
    match parts.next() {
        None => ok_hm,
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, "0"));
            ok_hm
                && digits(whole, 2).is_some_and(|s| s < 61)
                && !frac.is_empty()
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

fn date_time_offset(s: &str) -> bool {
    let Some(rest) = date(s) else { return false };
    let Some(rest) = rest.strip_prefix(['T', 't']) else {
        return false;
    };
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return false,
    };
    let zone_ok = match zone {
        "Z" | "z" => true,
        z => {
            let z = &z[1..];
            z.split_once(':').is_some_and(|(h, m)| {
                digits(h, 2).is_some_and(|h| h < 24) && digits(m, 2).is_some_and(|m| m < 60)
            })
        }
    };
    zone_ok && time.matches(':').count() >= 1 && time_of_day(time)
}

/// `-?P[nD][T[nH][nM][n[.n]S]]`, at least one component.
fn duration(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let Some(s) = s.strip_prefix('P') else {
        return false;
    };
    let (days, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut any = false;
    let component = |part: &str, units: &[char], any: &mut bool| -> bool {
        let mut rest = part;
        let mut last = 0;
        while !rest.is_empty() {
            let Some(i) = rest.find(|c: char| c.is_ascii_alphabetic()) else {
                return false;
            };
            let (num, tail) = rest.split_at(i);
            let unit = tail.chars().next().unwrap_or(' ');
            let Some(pos) = units.iter().position(|u| *u == unit) else {
                return false;
            };
            let numeric = {
                let (w, f) = num.split_once('.').unwrap_or((num, ""));
                !w.is_empty()
                    && w.bytes().all(|b| b.is_ascii_digit())
                    && f.bytes().all(|b| b.is_ascii_digit())
                    && (f.is_empty() || unit == 'S')
                    && (!num.contains('.') || !f.is_empty())
            };
            if !numeric || pos < last {
                return false;
            }
            last = pos + 1;
            *any = true;
            rest = &tail[1..];
        }
        true
    };
    if !component(days, &['D'], &mut any) {
        return false;
    }
    if let Some(t) = time {
        let mut any_time = false;
        if t.is_empty() || !component(t, &['H', 'M', 'S'], &mut any_time) || !any_time {
            return false;
        }
        any = true;
    }
    any
}

fn guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Standard or URL-safe base64, padded or not (OData writes base64url).
fn base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
        && body.len() % 4 != 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value, p: Primitive) -> bool {
        check(&v, p).is_none()
    }

    #[test]
    fn integers_keep_their_range() {
        let int32 = Primitive::Integer {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        };
        assert!(ok(json!(200), int32));
        assert!(ok(json!(-5), int32));
        assert!(!ok(json!(1u64 << 40), int32));
        assert!(!ok(json!(2.5), int32));
        assert!(!ok(json!("200"), int32));
        let int64 = Primitive::Integer {
            min: i64::MIN,
            max: i64::MAX,
        };
        assert!(ok(json!(1u64 << 40), int64));
    }

    #[test]
    fn timestamps_dates_and_durations() {
        for s in [
            "2018-09-06T01:24:56Z",
            "2018-09-06T01:24:56.0981829Z",
            "2021-06-02T16:15:00+02:00",
        ] {
            assert!(ok(json!(s), Primitive::DateTimeOffset), "{s}");
        }
        for s in [
            "2018-09-06",
            "yesterday",
            "2018-13-06T01:24:56Z",
            "2018-09-06T01:24Z1",
        ] {
            assert!(!ok(json!(s), Primitive::DateTimeOffset), "{s}");
        }
        assert!(ok(json!("2020-02-29"), Primitive::Date));
        assert!(!ok(json!("2020-2-29"), Primitive::Date));
        for s in ["PT5S", "P1DT2H", "-PT0.5S", "PT1M30S"] {
            assert!(ok(json!(s), Primitive::Duration), "{s}");
        }
        for s in ["P", "PT", "5S", "PT1S1M", "PT1.S"] {
            assert!(!ok(json!(s), Primitive::Duration), "{s}");
        }
    }

    #[test]
    fn guids_and_base64() {
        assert!(ok(
            json!("2e1a0b00-2db4-4022-9570-243709c565ab"),
            Primitive::Guid
        ));
        assert!(!ok(json!("2e1a0b00-2db4-4022-9570"), Primitive::Guid));
        assert!(!ok(json!(""), Primitive::Guid));
        assert!(ok(json!("QUJD"), Primitive::Binary));
        assert!(ok(json!("QUI"), Primitive::Binary));
        assert!(!ok(json!("not base64!"), Primitive::Binary));
    }
}
