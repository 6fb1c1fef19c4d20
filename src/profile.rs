//! Target profiles (`--profile target.toml`): a target described once, checked in next
//! to the CI job, instead of a dozen flags. Secrets never live in the file, only the
//! NAMES of the environment variables that hold them; [`Profile::resolve`] reads them.
//!
//! Every table rejects unknown keys, so a typo is an error naming the key and its line
//! rather than a setting silently ignored.
//!
//! ```toml
//! [um]
//! base_url = "https://mail.contoso.com"
//! endpoint = "/EWS/UM2007Legacy.asmx"        # sets the case variable um_endpoint
//!                                             # (or give base_url as the endpoint URL:
//!                                             # "https://host/UnifiedMessaging/Service.asmx")
//! soap_action = "quoted"                      # SOAPAction form: "quoted" (default),
//!                                             # "unquoted" or "none"
//! auth = { basic = { username_env = "UM_USER", password_env = "UM_PASSWORD" } }
//! # or: auth = { bearer_env = "UM_TOKEN" }
//!
//! [graph]
//! base_url = "https://graph.example.test"
//! version = "/v1.0"                           # "/v1.0", "/beta" or "" (the default:
//!                                             # base_url already has it); appended to base_url
//! auth = { bearer_env = "CALLCONFORM_GRAPH_TOKEN" }
//! notification_token_env = "GRAPH_NOTIFY_TOKEN"  # bearer expected on notifications (optional)
//!
//! [vars]                                      # case variables, like --var NAME=VALUE
//! entry_id = "AAAA..."
//! dial_string = "+14255550100"
//!
//! [timeouts]
//! request_secs = 10                           # like --timeout
//! notification_secs = 5                       # like --notification-timeout
//! quiet_period_secs = 0.25                    # like --quiet-period
//! progress_interval_secs = 0.25               # like --progress-interval
//! progress_deadline_secs = 60                 # like --progress-deadline
//!
//! [listener]
//! listen = "0.0.0.0:8443"                     # like --listen [default: 127.0.0.1:0]
//! callback_url = "https://tunnel.example.test"   # like --callback-url
//! tls_cert_file = "certs/listener.pem"        # serve https: PEM chain, leaf first
//! tls_key_file = "certs/listener-key.pem"     # and its PEM private key (both or neither)
//!
//! [tls]
//! ca_file = "certs/test-ca.pem"               # extra CA to trust; relative paths are
//! client_cert_file = "certs/client.pem"       # relative to this file's directory;
//! insecure = false                            # client cert: PEM certificate + key
//! ```
//!
//! Every section and key is optional except `base_url` in `[um]` and `[graph]`; a family
//! without a section has no target (its cases are reported as ignored).

use crate::request::Target;
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest profile read; anything bigger is not a hand-written profile.
const MAX_FILE: u64 = 1024 * 1024;
/// Largest certificate file read.
const MAX_PEM: u64 = 1024 * 1024;

/// How a family authenticates. Externally tagged, so the TOML reads
/// `auth = { basic = { ... } }` or `auth = { bearer_env = "NAME" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    Basic(BasicAuth),
    /// Name of the variable holding the bearer token.
    BearerEnv(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username_env: String,
    pub password_env: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UmSection {
    pub base_url: String,
    /// The SOAP endpoint path; becomes the case variable `um_endpoint`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// How requests carry SOAPAction: see [`crate::family::SoapAction`].
    #[serde(default)]
    pub soap_action: Option<String>,
    #[serde(default)]
    pub auth: Option<Auth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSection {
    pub base_url: String,
    /// Version prefix appended to `base_url`: `/v1.0`, `/beta` or empty.
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Variable holding the bearer token the target puts on its notifications.
    #[serde(default)]
    pub notification_token_env: Option<String>,
    /// How to make the target cause a trigger event, by trigger name:
    /// `[graph.triggers.incoming-call] url = "...", method = "POST", body = '...'` or
    /// `command = ["./offer-call", "{{callback_url}}"]`.
    #[serde(default)]
    pub triggers: BTreeMap<String, TriggerSection>,
}

/// One trigger: a request to send or a program to run (exactly one of the two).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSection {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

impl TriggerSection {
    fn resolve(&self, key: &str) -> Result<crate::request::Trigger, String> {
        match (&self.url, &self.command) {
            (Some(url), None) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!("{key}: url `{url}` is not an http(s) URL"));
                }
                Ok(crate::request::Trigger::Http {
                    method: self.method.clone().unwrap_or_else(|| "POST".into()),
                    url: url.clone(),
                    body: self.body.clone(),
                })
            }
            (None, Some(argv))
                if !argv.is_empty() && self.method.is_none() && self.body.is_none() =>
            {
                Ok(crate::request::Trigger::Command(argv.clone()))
            }
            (None, Some(_)) => Err(format!(
                "{key}: `command` is a non-empty list and goes without method and body"
            )),
            _ => Err(format!("{key}: give exactly one of `url` and `command`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default)]
    pub request_secs: Option<f64>,
    #[serde(default)]
    pub notification_secs: Option<f64>,
    /// The quiet period after the last documented notification.
    #[serde(default)]
    pub quiet_period_secs: Option<f64>,
    /// How often a progressing step (a call that rings first) is repeated.
    #[serde(default)]
    pub progress_interval_secs: Option<f64>,
    /// How long it may take to reach its documented state.
    #[serde(default)]
    pub progress_deadline_secs: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    #[serde(default)]
    pub callback_url: Option<String>,
    /// With `tls_key_file`: the listener serves https (relative to the profile's directory).
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub insecure: bool,
}

/// `[run]`: how this target is judged.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Like `--exact-values`: notes (another documented value, other prose) fail.
    #[serde(default)]
    pub exact_values: Option<bool>,
}

/// A parsed profile: still names, not secrets. See the module docs for the file shape.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub um: Option<UmSection>,
    #[serde(default)]
    pub graph: Option<GraphSection>,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub listener: ListenerSection,
    #[serde(default)]
    pub tls: TlsSection,
    #[serde(default)]
    pub run: RunSection,
    /// The file it was read from: messages name it, relative TLS paths start from its
    /// directory.
    #[serde(skip)]
    pub path: PathBuf,
}

/// A profile with its secrets and files read: concrete values for the run.
#[derive(Debug, Clone, Default)]
pub struct ResolvedProfile {
    /// Base URL (with the Graph version) and auth headers per family.
    pub um: Option<Target>,
    pub graph: Option<Target>,
    /// Case variables, `um_endpoint` included when `[um] endpoint` is set.
    pub vars: BTreeMap<String, String>,
    pub request_timeout: Option<Duration>,
    pub notification_timeout: Option<Duration>,
    pub quiet_period: Option<Duration>,
    pub progress_interval: Option<Duration>,
    pub progress_deadline: Option<Duration>,
    pub listen: Option<SocketAddr>,
    pub callback_url: Option<String>,
    /// `[listener] tls_cert_file` and `tls_key_file`, read and checked.
    pub listener_tls: Option<crate::listener::ListenerTls>,
    /// PEM bytes of `[tls] ca_file`.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM bytes (certificate + key) of `[tls] client_cert_file`.
    pub client_identity_pem: Option<Vec<u8>>,
    pub insecure: bool,
    /// `[run] exact_values`.
    pub exact_values: Option<bool>,
    /// Bearer token notifications must carry (`[graph] notification_token_env`).
    pub notify_token: Option<String>,
    /// Every secret value read (tokens, passwords, encoded Basic credentials), for
    /// redaction.
    pub secrets: Vec<String>,
}

impl ResolvedProfile {
    /// The target the profile names for a family, if any.
    pub fn target(&self, family: crate::family::Family) -> Option<&Target> {
        use crate::family::Family;
        if family == Family::UM {
            self.um.as_ref()
        } else if family == Family::GRAPH {
            self.graph.as_ref()
        } else {
            None
        }
    }

    /// The transport options with the profile's TLS settings and request timeout applied.
    pub fn http_options(
        &self,
        mut base: crate::request::HttpOptions,
    ) -> crate::request::HttpOptions {
        if let Some(t) = self.request_timeout {
            base.timeout = t;
        }
        if self.ca_pem.is_some() {
            base.ca_pem = self.ca_pem.clone();
        }
        if self.client_identity_pem.is_some() {
            base.client_identity_pem = self.client_identity_pem.clone();
        }
        base.insecure |= self.insecure;
        base
    }
}

/// Secrets shorter than this are refused where they are read: redaction replaces every
/// occurrence of a secret, and a 1 to 3 character one occurs everywhere (it would blank
/// out the reports) or would be guessed from what is left.
pub const MIN_SECRET_CHARS: usize = 4;

/// Refuses a secret too short to redact safely; `source` names where it came from (an
/// environment variable, a profile key). The message never shows the value.
pub fn check_secret(source: &str, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n < MIN_SECRET_CHARS {
        return Err(format!(
            "{source} holds a secret of {n} character{}: too short to redact safely from logs and reports (at least {MIN_SECRET_CHARS})",
            if n == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// A TOML error in a profile, as [`toml_error`] but without the source line and with
/// quoted values masked: a profile may hold a secret where a variable name belongs
/// (`auth = { token = "..." }`), and the error must not print it.
fn profile_toml_error(file: &str, text: &str, e: &toml::de::Error) -> String {
    let msg = mask_quoted(text, e.message().trim());
    match e.span() {
        Some(span) => {
            let (line, col) = crate::diag::line_col(text, span.start);
            format!("{file}: line {line}, column {col}: {msg}")
        }
        None => format!("{file}: {msg}"),
    }
}

/// `"..."` in a message becomes `"…"` (serde quotes values, and backticks field names),
/// and so does the backticked name after `unknown variant` when the file has it as a
/// quoted string (a string where a table belongs: `auth = "<token>"`; a bare key such as
/// `auth = { token = ... }` is a name and stays).
fn mask_quoted(text: &str, msg: &str) -> String {
    let quoted_in_file =
        |v: &str| text.contains(&format!("\"{v}\"")) || text.contains(&format!("'{v}'"));
    let msg = match msg.split_once("unknown variant `") {
        Some((before, rest)) => match rest.split_once('`') {
            Some((v, after)) if quoted_in_file(v) => {
                format!("{before}unknown variant `…`{after}")
            }
            _ => msg.to_owned(),
        },
        None => msg.to_owned(),
    };
    let mut out = String::with_capacity(msg.len());
    let mut parts = msg.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut inside = true;
    for part in parts {
        if inside {
            out.push_str("\"…\"");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out
}

/// Reads, parses and checks a profile. Secrets are not read yet: see [`Profile::resolve`].
pub fn load(path: &Path) -> Result<Profile, String> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{shown}: {} bytes, over the {MAX_FILE} byte limit for profiles",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    parse(path, &text)
}

/// [`load`] without reading: `path` is where the text came from.
pub fn parse(path: &Path, text: &str) -> Result<Profile, String> {
    let shown = path.display().to_string();
    let mut p: Profile = toml::from_str(text).map_err(|e| profile_toml_error(&shown, text, &e))?;
    p.path = path.to_owned();
    p.validate().map_err(|m| format!("{shown}: {m}"))?;
    Ok(p)
}

/// Reads the secrets a profile names by environment variable, remembering each (and
/// each encoding of it) so reports can redact them. Errors name the key, never the value.
struct Secrets<'a> {
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    found: Vec<String>,
}

impl Secrets<'_> {
    /// The value of environment variable `name`, which profile key `key` names.
    fn read(&self, key: &str, name: &str) -> Result<String, String> {
        match (self.env)(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!(
                "{}: {key} names the environment variable {name}, which is unset or empty",
                self.file
            )),
        }
    }

    /// The Authorization header a section's `auth` asks for.
    fn auth_headers(
        &mut self,
        section: &str,
        auth: &Option<Auth>,
    ) -> Result<Vec<(String, String)>, String> {
        let file = self.file;
        Ok(match auth {
            None => vec![],
            Some(Auth::BearerEnv(n)) => {
                let key = format!("[{section}] auth.bearer_env");
                let t = self.read(&key, n)?;
                check_secret(&format!("{file}: {key} ({n})"), &t)?;
                self.found.push(t.clone());
                vec![("Authorization".to_owned(), format!("Bearer {t}"))]
            }
            Some(Auth::Basic(b)) => {
                let user = self.read(
                    &format!("[{section}] auth.basic.username_env"),
                    &b.username_env,
                )?;
                let key = format!("[{section}] auth.basic.password_env");
                let pass = self.read(&key, &b.password_env)?;
                check_secret(&format!("{file}: {key} ({})", b.password_env), &pass)?;
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                self.found.push(pass);
                self.found.push(encoded.clone());
                vec![("Authorization".to_owned(), format!("Basic {encoded}"))]
            }
        })
    }
}

fn check_base_url(key: &str, url: &str) -> Result<String, String> {
    let u = url.trim();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| format!("{key} = \"{url}\": expected an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{key} = \"{url}\": no host"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        // Not echoed: the part before `@` is a password.
        return Err(format!(
            "{key}: credentials in the URL are refused (they would appear in every report); use the section's `auth` with the secret in an environment variable"
        ));
    }
    if u.contains(['?', '#']) {
        return Err(format!(
            "{key} = \"{url}\": a base URL has no query or fragment"
        ));
    }
    Ok(u.trim_end_matches('/').to_owned())
}

fn check_env_name(key: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        // The value is not echoed: what is not a variable name may well be the secret itself.
        Err(format!(
            "{key}: expected the NAME of an environment variable (letters, digits, _), not its value (the value given is not shown)"
        ))
    }
}

fn check_auth(section: &str, auth: &Option<Auth>) -> Result<(), String> {
    match auth {
        None => Ok(()),
        Some(Auth::BearerEnv(n)) => check_env_name(&format!("[{section}] auth.bearer_env"), n),
        Some(Auth::Basic(b)) => {
            check_env_name(
                &format!("[{section}] auth.basic.username_env"),
                &b.username_env,
            )?;
            check_env_name(
                &format!("[{section}] auth.basic.password_env"),
                &b.password_env,
            )
        }
    }
}

fn check_secs(key: &str, v: Option<f64>) -> Result<(), String> {
    match v {
        Some(s) if !(s.is_finite() && s > 0.0 && s <= 86_400.0) => Err(format!(
            "{key} = {s}: expected a positive number of seconds"
        )),
        _ => Ok(()),
    }
}

impl Profile {
    /// Checks what the types cannot: URL shapes, variable names, positive timeouts.
    fn validate(&self) -> Result<(), String> {
        if let Some(um) = &self.um {
            check_base_url("[um] base_url", &um.base_url)?;
            if let Some(e) = &um.endpoint
                && !e.starts_with('/')
            {
                return Err(format!(
                    "[um] endpoint = \"{e}\": expected a path starting with `/`"
                ));
            }
            if um.endpoint.is_some() && self.vars.contains_key("um_endpoint") {
                return Err(
                    "both [um] endpoint and [vars] um_endpoint are set; keep one".to_owned(),
                );
            }
            self.um_split(um)?;
            if let Some(f) = &um.soap_action
                && crate::family::SoapAction::parse(f).is_none()
            {
                return Err(format!(
                    "[um] soap_action = \"{f}\": expected {}",
                    crate::family::SoapAction::NAMES
                ));
            }
            check_auth("um", &um.auth)?;
        }
        if let Some(g) = &self.graph {
            let base = check_base_url("[graph] base_url", &g.base_url)?;
            let v = &g.version;
            if !v.is_empty() && (!v.starts_with('/') || v.ends_with('/') || v.len() < 2) {
                return Err(format!(
                    "[graph] version = \"{v}\": expected \"/v1.0\", \"/beta\" or \"\""
                ));
            }
            for known in ["/v1.0", "/beta"] {
                if !v.is_empty() && base.ends_with(known) {
                    return Err(format!(
                        "[graph] base_url already ends with `{known}` and version = \"{v}\" adds another; set version = \"\" or drop it from base_url"
                    ));
                }
            }
            check_auth("graph", &g.auth)?;
            if let Some(n) = &g.notification_token_env {
                check_env_name("[graph] notification_token_env", n)?;
            }
        }
        for k in self.vars.keys() {
            if !crate::diag::valid_var_name(k) {
                return Err(format!(
                    "[vars] `{k}` is not a variable name (letters, digits, _ and -)"
                ));
            }
        }
        check_secs("[timeouts] request_secs", self.timeouts.request_secs)?;
        check_secs(
            "[timeouts] notification_secs",
            self.timeouts.notification_secs,
        )?;
        check_secs(
            "[timeouts] quiet_period_secs",
            self.timeouts.quiet_period_secs,
        )?;
        check_secs(
            "[timeouts] progress_interval_secs",
            self.timeouts.progress_interval_secs,
        )?;
        check_secs(
            "[timeouts] progress_deadline_secs",
            self.timeouts.progress_deadline_secs,
        )?;
        if let Some(c) = &self.listener.callback_url {
            check_base_url("[listener] callback_url", c)?;
        }
        match (&self.listener.tls_cert_file, &self.listener.tls_key_file) {
            (Some(_), None) => {
                return Err("[listener] tls_cert_file is set without tls_key_file".into());
            }
            (None, Some(_)) => {
                return Err("[listener] tls_key_file is set without tls_cert_file".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// `[um] base_url` split into base and endpoint (see [`split_um_url`]).
    fn um_split(&self, um: &UmSection) -> Result<(String, Option<String>), String> {
        let endpoint = um
            .endpoint
            .as_deref()
            .map(|e| ("[um] endpoint", e))
            .or_else(|| {
                self.vars
                    .get("um_endpoint")
                    .map(|e| ("[vars] um_endpoint", e.as_str()))
            });
        crate::family::um::split_um_url("[um] base_url", &um.base_url, endpoint)
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    /// Things worth saying before a run: TLS checks off, credentials sent in clear.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let file = self.shown();
        let mut targets = Vec::new();
        if let Some(um) = &self.um {
            targets.push(("um", um.base_url.as_str(), um.auth.is_some()));
        }
        if let Some(g) = &self.graph {
            targets.push(("graph", g.base_url.as_str(), g.auth.is_some()));
        }
        if self.tls.insecure {
            let list = if targets.is_empty() {
                "every target".to_owned()
            } else {
                targets
                    .iter()
                    .map(|(f, u, _)| format!("{f} ({u})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push(format!(
                "TLS verification is OFF for {list}: [tls] insecure = true in {file}"
            ));
        }
        for (f, u, has_auth) in targets {
            if has_auth && u.trim().starts_with("http://") {
                out.push(format!(
                    "[{f}] sends credentials over plain http to {u} ({file})"
                ));
            }
        }
        out
    }

    /// Reads the named environment variables and the TLS files. `env` is
    /// `|n| std::env::var(n).ok()` in the CLI; tests pass a map.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<ResolvedProfile, String> {
        let file = self.shown();
        let mut out = ResolvedProfile {
            vars: self.vars.clone(),
            insecure: self.tls.insecure,
            listen: self.listener.listen,
            callback_url: self
                .listener
                .callback_url
                .as_deref()
                .map(|c| c.trim().trim_end_matches('/').to_owned()),
            request_timeout: self.timeouts.request_secs.map(Duration::from_secs_f64),
            notification_timeout: self.timeouts.notification_secs.map(Duration::from_secs_f64),
            quiet_period: self.timeouts.quiet_period_secs.map(Duration::from_secs_f64),
            progress_interval: self
                .timeouts
                .progress_interval_secs
                .map(Duration::from_secs_f64),
            progress_deadline: self
                .timeouts
                .progress_deadline_secs
                .map(Duration::from_secs_f64),
            exact_values: self.run.exact_values,
            ..ResolvedProfile::default()
        };
        let mut secrets = Secrets {
            file: &file,
            env: &env,
            found: Vec::new(),
        };
        if let Some(um) = &self.um {
            self.um_target(um, &mut secrets, &mut out)?;
        }
        if let Some(g) = &self.graph {
            self.graph_target(g, &mut secrets, &mut out)?;
        }
        self.tls_files(&file, &mut out)?;
        let mut secrets = secrets.found;
        secrets.sort();
        secrets.dedup();
        out.secrets = secrets;
        Ok(out)
    }

    /// The `[um]` target: its base URL and endpoint variable, SOAPAction form and auth.
    fn um_target(
        &self,
        um: &UmSection,
        secrets: &mut Secrets<'_>,
        out: &mut ResolvedProfile,
    ) -> Result<(), String> {
        check_base_url("[um] base_url", &um.base_url)?;
        let (base_url, endpoint) = self
            .um_split(um)
            .map_err(|m| format!("{}: {m}", secrets.file))?;
        let mut options = BTreeMap::new();
        if let Some(f) = &um.soap_action {
            options.insert(crate::family::um::SOAP_ACTION_OPTION.to_owned(), f.clone());
        }
        out.um = Some(Target {
            base_url,
            headers: secrets.auth_headers("um", &um.auth)?,
            options,
            triggers: BTreeMap::new(),
        });
        if let Some(e) = endpoint {
            out.vars.insert("um_endpoint".to_owned(), e);
        }
        Ok(())
    }

    /// The `[graph]` target: base URL with its API version, auth, triggers, and the token
    /// notifications must carry.
    fn graph_target(
        &self,
        g: &GraphSection,
        secrets: &mut Secrets<'_>,
        out: &mut ResolvedProfile,
    ) -> Result<(), String> {
        let file = secrets.file;
        out.graph = Some(Target {
            base_url: format!(
                "{}{}",
                check_base_url("[graph] base_url", &g.base_url)?,
                g.version
            ),
            headers: secrets.auth_headers("graph", &g.auth)?,
            options: BTreeMap::new(),
            triggers: g
                .triggers
                .iter()
                .map(|(name, t)| {
                    t.resolve(&format!("{file}: [graph.triggers.{name}]"))
                        .map(|t| (name.clone(), t))
                })
                .collect::<Result<_, _>>()?,
        });
        if let Some(n) = &g.notification_token_env {
            let t = secrets.read("[graph] notification_token_env", n)?;
            check_secret(&format!("{file}: [graph] notification_token_env ({n})"), &t)?;
            secrets.found.push(t.clone());
            out.notify_token = Some(t);
        }
        Ok(())
    }

    /// The CA, client identity and listener certificate files the profile names.
    fn tls_files(&self, file: &str, out: &mut ResolvedProfile) -> Result<(), String> {
        out.ca_pem = self.read_pem(
            "[tls] ca_file",
            self.tls.ca_file.as_deref(),
            &["CERTIFICATE"],
        )?;
        out.client_identity_pem = self.read_pem(
            "[tls] client_cert_file",
            self.tls.client_cert_file.as_deref(),
            &["CERTIFICATE", "PRIVATE KEY"],
        )?;
        if let (Some(c), Some(k)) = (&self.listener.tls_cert_file, &self.listener.tls_key_file) {
            let tls =
                crate::listener::ListenerTls::load(&self.resolve_path(c), &self.resolve_path(k))
                    .map_err(|e| format!("{file}: [listener] tls_cert_file / tls_key_file: {e}"))?;
            out.listener_tls = Some(tls);
        }
        Ok(())
    }

    /// Where a path in the profile points: relative to the profile's directory.
    pub fn resolve_path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            return p.to_owned();
        }
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
            _ => p.to_owned(),
        }
    }

    /// Reads a PEM file and checks it has the blocks it must (so a wrong file is named
    /// here, not deep inside the TLS stack).
    fn read_pem(
        &self,
        key: &str,
        p: Option<&Path>,
        needs: &[&str],
    ) -> Result<Option<Vec<u8>>, String> {
        let Some(p) = p else { return Ok(None) };
        let file = self.shown();
        let full = self.resolve_path(p);
        let err = |m: String| {
            format!(
                "{file}: {key} = \"{}\": {}: {m}",
                p.display(),
                full.display()
            )
        };
        let meta = std::fs::metadata(&full).map_err(|e| err(format!("cannot read: {e}")))?;
        if meta.len() > MAX_PEM {
            return Err(err(format!("over the {MAX_PEM} byte limit for PEM files")));
        }
        let bytes = std::fs::read(&full).map_err(|e| err(format!("cannot read: {e}")))?;
        let text = String::from_utf8_lossy(&bytes);
        for n in needs {
            if !text
                .lines()
                .any(|l| l.starts_with("-----BEGIN ") && l.contains(n))
            {
                return Err(err(format!("no PEM `{n}` block in it")));
            }
        }
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let mut rnd = [0u8; 6];
            let _ = getrandom::fill(&mut rnd);
            let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
            let dir = std::env::temp_dir().join(format!(
                "callconform-profile-{tag}-{}-{hex}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Scratch(dir)
        }
        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.0.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).expect("dir");
            }
            std::fs::write(&p, text).expect("write");
            p
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const FULL: &str = r#"
[um]
base_url = "https://mail.contoso.com/"
endpoint = "/EWS/UM2007Legacy.asmx"
auth = { basic = { username_env = "UM_USER", password_env = "UM_PASSWORD" } }

[graph]
base_url = "https://graph.example.test"
version = "/v1.0"
auth = { bearer_env = "CALLCONFORM_GRAPH_TOKEN" }
notification_token_env = "GRAPH_NOTIFY_TOKEN"

[vars]
entry_id = "AAAA"
dial_string = "+14255550100"

[timeouts]
request_secs = 10
notification_secs = 2.5
quiet_period_secs = 0.4

[listener]
listen = "0.0.0.0:8443"
callback_url = "https://tunnel.example.test/"

[tls]
ca_file = "certs/test-ca.pem"
client_cert_file = "certs/client.pem"
insecure = false
"#;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const CLIENT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

    fn full_env() -> impl Fn(&str) -> Option<String> {
        env(&[
            ("UM_USER", "alice"),
            ("UM_PASSWORD", "s3cret-pass"),
            ("CALLCONFORM_GRAPH_TOKEN", "graph-token-123"),
            ("GRAPH_NOTIFY_TOKEN", "notify-token-456"),
        ])
    }

    #[test]
    fn full_profile_resolves_to_concrete_values() {
        let s = Scratch::new("full");
        let path = s.write("ci/target.toml", FULL);
        s.write("ci/certs/test-ca.pem", CA);
        s.write("ci/certs/client.pem", CLIENT);
        let p = load(&path).expect("loads");
        assert!(p.warnings().is_empty(), "{:?}", p.warnings());
        let r = p.resolve(full_env()).expect("resolves");

        let um = r.um.clone().expect("um target");
        assert_eq!(um.base_url, "https://mail.contoso.com");
        // base64("alice:s3cret-pass")
        assert_eq!(
            um.headers,
            vec![(
                "Authorization".to_owned(),
                "Basic YWxpY2U6czNjcmV0LXBhc3M=".to_owned()
            )]
        );
        let g = r.graph.clone().expect("graph target");
        assert_eq!(g.base_url, "https://graph.example.test/v1.0");
        assert_eq!(
            g.headers,
            vec![(
                "Authorization".to_owned(),
                "Bearer graph-token-123".to_owned()
            )]
        );
        assert_eq!(r.notify_token.as_deref(), Some("notify-token-456"));
        assert_eq!(r.vars["um_endpoint"], "/EWS/UM2007Legacy.asmx");
        assert_eq!(r.vars["dial_string"], "+14255550100");
        assert_eq!(r.request_timeout, Some(Duration::from_secs(10)));
        assert_eq!(r.notification_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(r.quiet_period, Some(Duration::from_millis(400)));
        assert_eq!(r.listen, Some("0.0.0.0:8443".parse().expect("addr")));
        assert_eq!(
            r.callback_url.as_deref(),
            Some("https://tunnel.example.test")
        );
        assert_eq!(r.ca_pem.as_deref(), Some(CA.as_bytes()));
        assert_eq!(r.client_identity_pem.as_deref(), Some(CLIENT.as_bytes()));
        assert!(!r.insecure);
        for secret in [
            "s3cret-pass",
            "YWxpY2U6czNjcmV0LXBhc3M=",
            "graph-token-123",
            "notify-token-456",
        ] {
            assert!(r.secrets.iter().any(|s| s == secret), "{secret}");
        }
        assert!(!r.secrets.iter().any(|s| s == "alice"));
        let opts = r.http_options(crate::request::HttpOptions::default());
        assert_eq!(opts.timeout, Duration::from_secs(10));
        assert!(opts.ca_pem.is_some() && opts.client_identity_pem.is_some());
    }

    #[test]
    fn unknown_key_is_named_with_file_and_line() {
        let text = "[graph]\nbase_url = \"https://g.test\"\nverison = \"/v1.0\"\n";
        let err = parse(Path::new("target.toml"), text).unwrap_err();
        assert!(err.contains("verison"), "{err}");
        assert!(err.contains("target.toml: line 3"), "{err}");

        let err = parse(Path::new("t.toml"), "[tsl]\ninsecure = true\n").unwrap_err();
        assert!(err.contains("tsl") && err.contains("line 1"), "{err}");

        let text = "[um]\nbase_url = \"https://m.test\"\nauth = { basic = { username_env = \"U\", password = \"P\" } }\n";
        let err = parse(Path::new("t.toml"), text).unwrap_err();
        assert!(err.contains("password") && err.contains("line 3"), "{err}");

        let text = "[um]\nbase_url = \"https://m.test\"\nauth = { token = \"T\" }\n";
        let err = parse(Path::new("t.toml"), text).unwrap_err();
        assert!(err.contains("token") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn unset_env_var_is_named_with_its_key() {
        let p = parse(
            Path::new("target.toml"),
            "[graph]\nbase_url = \"https://g.test\"\nauth = { bearer_env = \"MY_TOKEN\" }\n",
        )
        .expect("parses");
        let err = p.resolve(env(&[])).unwrap_err();
        assert!(err.contains("MY_TOKEN"), "{err}");
        assert!(err.contains("[graph] auth.bearer_env"), "{err}");
        assert!(err.contains("target.toml"), "{err}");
        let err = p.resolve(env(&[("MY_TOKEN", "")])).unwrap_err();
        assert!(err.contains("MY_TOKEN"), "{err}");
    }

    #[test]
    fn tls_paths_are_relative_to_the_profile_and_named_when_missing() {
        let s = Scratch::new("tls");
        let path = s.write(
            "deep/target.toml",
            "[tls]\nca_file = \"ca.pem\"\ninsecure = true\n",
        );
        let p = load(&path).expect("loads");
        let err = p.resolve(env(&[])).unwrap_err();
        assert!(err.contains("[tls] ca_file"), "{err}");
        assert!(
            err.contains(&s.0.join("deep/ca.pem").display().to_string()),
            "{err}"
        );
        s.write("deep/ca.pem", CA);
        let r = p.resolve(env(&[])).expect("resolves");
        assert_eq!(r.ca_pem.as_deref(), Some(CA.as_bytes()));
        assert!(r.insecure);

        s.write("deep/ca.pem", "not a certificate");
        let err = p.resolve(env(&[])).unwrap_err();
        assert!(err.contains("CERTIFICATE"), "{err}");
    }

    #[test]
    fn insecure_and_plain_http_credentials_are_warned() {
        let p = parse(
            Path::new("t.toml"),
            "[um]\nbase_url = \"http://m.test\"\nauth = { bearer_env = \"T\" }\n[tls]\ninsecure = true\n",
        )
        .expect("parses");
        let w = p.warnings();
        assert!(
            w.iter()
                .any(|w| w.contains("TLS verification is OFF for um (http://m.test)")),
            "{w:?}"
        );
        assert!(w.iter().any(|w| w.contains("plain http")), "{w:?}");
    }

    #[test]
    fn um_urls_split_into_base_and_endpoint() {
        let split = |u: &str, e: Option<&str>| {
            crate::family::um::split_um_url("--um", u, e.map(|e| ("--um-endpoint", e)))
        };
        let ok = |b: &str, e: Option<&str>| Ok((b.to_owned(), e.map(str::to_owned)));
        // The endpoint URL, as clients and the docs give it.
        assert_eq!(
            split("http://127.0.0.1:8080/UnifiedMessaging/Service.asmx", None),
            ok(
                "http://127.0.0.1:8080",
                Some("/UnifiedMessaging/Service.asmx")
            )
        );
        assert_eq!(
            split("https://mail.contoso.com/ews/um2007legacy.ASMX/", None),
            ok("https://mail.contoso.com", Some("/ews/um2007legacy.ASMX"))
        );
        // A base URL keeps the cases' default endpoint (or the one given).
        assert_eq!(
            split("https://mail.contoso.com/", None),
            ok("https://mail.contoso.com", None)
        );
        assert_eq!(
            split("https://h/prefix", None),
            ok("https://h/prefix", None)
        );
        assert_eq!(
            split("https://h/prefix", Some("/Svc.svc")),
            ok("https://h/prefix", Some("/Svc.svc"))
        );
        // A URL ending in the endpoint given separately is split there, whatever it ends in.
        assert_eq!(
            split("https://h/prefix/um/Svc.svc", Some("/um/Svc.svc")),
            ok("https://h/prefix", Some("/um/Svc.svc"))
        );
        assert_eq!(
            split(
                "https://h/UnifiedMessaging/Service.asmx",
                Some("/unifiedmessaging/service.asmx")
            ),
            ok("https://h", Some("/unifiedmessaging/service.asmx"))
        );
        for (u, e, want) in [
            ("https://h/A.asmx", Some("/B.asmx"), "keep one"),
            ("mail.contoso.com", None, "http"),
            ("https:///x.asmx", None, "no host"),
            ("https://h/Service.asmx?wsdl", None, "?wsdl"),
        ] {
            let err = split(u, e).unwrap_err();
            assert!(err.contains(want) && err.contains(u), "{u}: {err}");
        }
        let hint = crate::family::um::um_not_found_hint("http://h/x");
        assert!(
            hint.contains("http://h/x")
                && hint.contains("--um http")
                && hint.contains("--um-endpoint")
        );
    }

    #[test]
    fn credentials_in_a_base_url_are_refused_without_echoing_them() {
        let e = parse(
            Path::new("t.toml"),
            "[um]\nbase_url = \"https://alice:hunter2-pw@mail.test\"\n",
        )
        .unwrap_err();
        assert!(e.contains("credentials in the URL are refused"), "{e}");
        assert!(!e.contains("hunter2-pw"), "{e}");
    }

    #[test]
    fn um_profile_endpoint_url_and_soap_action() {
        let p = parse(
            Path::new("t.toml"),
            "[um]\nbase_url = \"http://h:1/UnifiedMessaging/Service.asmx\"\nsoap_action = \"none\"\n",
        )
        .expect("parses");
        let r = p.resolve(env(&[])).expect("resolves");
        let um = r.um.expect("um");
        assert_eq!(um.base_url, "http://h:1");
        assert_eq!(r.vars["um_endpoint"], "/UnifiedMessaging/Service.asmx");
        assert_eq!(um.options["soap_action"], "none");

        let p = parse(Path::new("t.toml"), "[um]\nbase_url = \"http://h\"\n").expect("parses");
        let r = p.resolve(env(&[])).expect("resolves");
        assert!(r.um.expect("um").options.is_empty());
        assert!(!r.vars.contains_key("um_endpoint"));

        for (text, want) in [
            (
                "[um]\nbase_url = \"http://h\"\nsoap_action = \"always\"\n",
                "[um] soap_action = \"always\": expected \"quoted\" (default), \"unquoted\" or \"none\"",
            ),
            (
                "[um]\nbase_url = \"http://h/A.asmx\"\nendpoint = \"/B.asmx\"\n",
                "names /B.asmx; keep one",
            ),
        ] {
            let err = parse(Path::new("t.toml"), text).unwrap_err();
            assert!(err.contains(want) && err.starts_with("t.toml: "), "{err}");
        }
    }

    #[test]
    fn values_are_checked() {
        let bad = [
            ("[um]\nbase_url = \"mail.contoso.com\"\n", "http"),
            (
                "[um]\nbase_url = \"https://m\"\nendpoint = \"EWS\"\n",
                "endpoint",
            ),
            (
                "[um]\nbase_url = \"https://m\"\nendpoint = \"/E\"\n[vars]\num_endpoint = \"/F\"\n",
                "keep one",
            ),
            (
                "[graph]\nbase_url = \"https://g\"\nversion = \"v1.0\"\n",
                "version",
            ),
            (
                "[graph]\nbase_url = \"https://g/v1.0\"\nversion = \"/v1.0\"\n",
                "already ends",
            ),
            (
                "[graph]\nbase_url = \"https://g\"\nauth = { bearer_env = \"Bearer abc\" }\n",
                "NAME",
            ),
            ("[vars]\n\"a b\" = \"x\"\n", "not a variable name"),
            ("[timeouts]\nrequest_secs = 0\n", "positive"),
            ("[listener]\nlisten = \"nowhere\"\n", "line 2"),
            (
                "[listener]\ntls_cert_file = \"c.pem\"\n",
                "tls_cert_file is set without tls_key_file",
            ),
            (
                "[listener]\ntls_key_file = \"k.pem\"\n",
                "tls_key_file is set without tls_cert_file",
            ),
            ("[vars]\nn = 5\n", "line 2"),
        ];
        for (text, want) in bad {
            let err = parse(Path::new("t.toml"), text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
        let p = parse(Path::new("t.toml"), "").expect("empty profile is fine");
        let r = p.resolve(env(&[])).expect("resolves");
        assert!(r.um.is_none() && r.graph.is_none() && r.secrets.is_empty());
    }

    #[test]
    fn errors_never_echo_a_misplaced_secret() {
        const SECRET: &str = "eyJ0eXAiOiJKV1Qi.s3cr3t-v4lue";
        for text in [
            format!(
                "[graph]\nbase_url = \"https://g.test\"\nauth = {{ bearer_env = \"{SECRET}\" }}\n"
            ),
            format!("[graph]\nbase_url = \"https://g.test\"\nauth = {{ token = \"{SECRET}\" }}\n"),
            format!("[graph]\nbase_url = \"https://g.test\"\nauth = \"{SECRET}\"\n"),
            format!(
                "[graph]\nbase_url = \"https://g.test\"\nnotification_token_env = \"{SECRET}\"\n"
            ),
            format!(
                "[um]\nbase_url = \"https://m.test\"\nauth = {{ basic = {{ username_env = \"U\", password_env = \"{SECRET}\" }} }}\n"
            ),
        ] {
            let err = parse(Path::new("t.toml"), &text).unwrap_err();
            assert!(!err.contains(SECRET), "{err}");
            assert!(!err.contains("s3cr3t"), "{err}");
            assert!(
                err.contains("t.toml: ") && err.contains("line 3") || err.contains("NAME"),
                "{err}"
            );
        }
    }

    #[test]
    fn secrets_too_short_to_redact_are_refused() {
        let p = parse(
            Path::new("target.toml"),
            "[graph]\nbase_url = \"https://g.test\"\nauth = { bearer_env = \"MY_TOKEN\" }\nnotification_token_env = \"N\"\n",
        )
        .expect("parses");
        let err = p
            .resolve(env(&[("MY_TOKEN", "q7Z"), ("N", "long-enough")]))
            .unwrap_err();
        assert!(err.contains("too short to redact safely"), "{err}");
        assert!(
            err.contains("MY_TOKEN") && err.contains("target.toml"),
            "{err}"
        );
        assert!(!err.contains("q7Z"), "{err}");
        let err = p
            .resolve(env(&[("MY_TOKEN", "long-enough"), ("N", "x")]))
            .unwrap_err();
        assert!(
            err.contains("notification_token_env") && err.contains("1 character:"),
            "{err}"
        );
        assert!(
            p.resolve(env(&[("MY_TOKEN", "abcd"), ("N", "wxyz")]))
                .is_ok()
        );
        let basic = parse(
            Path::new("t.toml"),
            "[um]\nbase_url = \"https://m.test\"\nauth = { basic = { username_env = \"U\", password_env = \"P\" } }\n",
        )
        .expect("parses");
        let err = basic.resolve(env(&[("U", "al"), ("P", "pw")])).unwrap_err();
        assert!(err.contains("password_env") && !err.contains("pw"), "{err}");
        assert!(check_secret("X", "ab\u{e9}c").is_ok());
    }
}
