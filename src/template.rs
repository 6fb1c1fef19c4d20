//! `{{var}}` placeholders in paths, headers and bodies.

use std::collections::BTreeMap;

/// Checks the placeholder syntax without values, so a broken case fails at load time.
pub fn check(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!(
                "unterminated placeholder `{}`",
                &rest[start..(start + 20).min(rest.len())]
            ));
        };
        let name = after[..end].trim();
        if !crate::diag::valid_var_name(name) {
            return Err(format!("`{{{{{name}}}}}` is not a variable name"));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Every variable name the text refers to.
pub fn names(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// Fills placeholders; a variable without a value is an error naming it.
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("unterminated placeholder".into());
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                return Err(format!(
                    "variable `{name}` has no value (give it with --var {name}=...)"
                ));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_reports_missing() {
        let mut vars = BTreeMap::new();
        vars.insert("call_id".to_string(), "abc".to_string());
        assert_eq!(
            render("/calls/{{call_id}}/x", &vars).unwrap(),
            "/calls/abc/x"
        );
        let err = render("{{nope}}", &vars).unwrap_err();
        assert!(err.contains("`nope`"), "{err}");
        assert!(check("{{ok}} {{bad").is_err());
        assert!(check("{{not a name}}").is_err());
        assert_eq!(names("a {{x}} b {{ y }}"), vec!["x", "y"]);
    }
}
