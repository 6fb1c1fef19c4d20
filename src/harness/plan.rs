//! Stage 0: what to run, against what. Resolves the command line, the environment and a
//! profile into one [`Plan`] before anything starts. The environment is passed in, so every
//! rule here is unit-tested without a process or a network.

use super::args::RunArgs;
use crate::expectations::Expectations;
use crate::family::Family;
use crate::listener::ListenerConfig;
use crate::profile::ResolvedProfile;
use crate::request::{HttpOptions, Target};
use crate::snapshot::Update;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the cases go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// No target was named: the embedded reference target serves every family.
    Embedded,
    /// Targets named by flags, environment or profile; families without one are ignored.
    Given {
        targets: BTreeMap<Family, Target>,
        skipped: BTreeMap<Family, String>,
    },
}

impl Targets {
    /// The first line of every run and every report: what was tested.
    pub fn banner(&self) -> String {
        match self {
            Targets::Embedded => {
                "target: embedded reference target (no --um/--graph/--target/--profile given)"
                    .to_owned()
            }
            Targets::Given { targets, skipped } => {
                let mut parts: Vec<String> = targets
                    .iter()
                    .map(|(f, t)| format!("{f} = {}", t.base_url))
                    .collect();
                parts.extend(skipped.keys().map(|f| format!("{f} = none (ignored)")));
                format!("target: {}", parts.join(", "))
            }
        }
    }
}

/// Everything a run needs, resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    pub cases_dir: PathBuf,
    pub snapshots_dir: PathBuf,
    pub update: Update,
    pub targets: Targets,
    pub vars: BTreeMap<String, String>,
    pub as_printed: bool,
    pub strict: bool,
    /// `--exact-values` or the profile's `[run] exact_values`: notes fail.
    pub exact_values: bool,
    pub notification_timeout: Duration,
    /// Quiet after the last documented notification (and after a set-up's).
    pub quiet_period: Duration,
    pub progress_interval: Duration,
    pub progress_deadline: Duration,
    pub http: HttpOptions,
    /// Values redacted from every output (tokens, passwords).
    pub secrets: Vec<String>,
    pub expected_notify_token: Option<String>,
    pub listener: ListenerConfig,
    pub expectations: Option<Arc<Expectations>>,
    /// `--family` and `--tag` selections (empty: all).
    pub families: Vec<Family>,
    pub tags: Vec<String>,
    pub warnings: Vec<String>,
}

/// The project directory a relative default is looked up in: the working directory when it
/// has one, else the source tree the binary was built from.
pub fn default_dir(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn parse_vars(vars: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for v in vars {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| format!("--var `{v}`: expected NAME=VALUE"))?;
        if !crate::diag::valid_var_name(k) {
            return Err(format!("--var `{v}`: `{k}` is not a variable name"));
        }
        out.insert(k.to_owned(), val.to_owned());
    }
    Ok(out)
}

/// A URL given for a target: absolute http(s), and no credentials in it (they would be
/// printed in every request line and report; the profile's `auth` keeps them secret).
fn check_target_url(what: &str, url: &str) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{what} `{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{what} `{url}`: expected an http:// or https:// URL"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{what}: credentials in the URL are refused (they would appear in every report); put them in a profile's `auth` with the secret in an environment variable"
        ));
    }
    Ok(())
}

/// The URL named for each family, from `--um`/`--graph`, `--target F=URL` and the
/// environment (`CALLCONFORM_<FAMILY>`), in that order of precedence.
fn named_urls(
    args: &RunArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<Family, String>, String> {
    let mut out = BTreeMap::new();
    for f in Family::all() {
        let var = f.protocol().target_env();
        match env(&var) {
            Some(v) if v.trim().is_empty() => {
                return Err(format!(
                    "{var} is set but empty (an unset CI secret?); unset it or give a URL"
                ));
            }
            Some(v) => {
                check_target_url(&var, v.trim())?;
                out.insert(f, v.trim().to_owned());
            }
            None => {}
        }
    }
    for t in &args.targets {
        let (name, url) = t
            .split_once('=')
            .ok_or_else(|| format!("--target `{t}`: expected FAMILY=URL"))?;
        let f = Family::parse(name).ok_or_else(|| {
            format!(
                "--target `{t}`: unknown family `{name}` (expected one of: {})",
                Family::names()
            )
        })?;
        check_target_url("--target", url)?;
        out.insert(f, url.to_owned());
    }
    for (f, flag) in [(Family::UM, &args.um), (Family::GRAPH, &args.graph)] {
        if let Some(url) = flag {
            check_target_url(&format!("--{f}"), url)?;
            out.insert(f, url.clone());
        }
    }
    Ok(out)
}

/// Targets from the profile and the named URLs; a URL keeps the profile's authentication.
fn given_targets(
    profile: Option<&ResolvedProfile>,
    urls: BTreeMap<Family, String>,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
    vars: &mut BTreeMap<String, String>,
    cli_vars: &BTreeMap<String, String>,
) -> Result<Targets, String> {
    let mut targets = BTreeMap::new();
    let mut skipped = BTreeMap::new();
    for f in Family::all() {
        let from_profile = profile.and_then(|p| p.target(f)).cloned();
        let target = match (urls.get(&f), from_profile) {
            (Some(url), p) => {
                let given = f
                    .protocol()
                    .endpoint_var()
                    .and_then(|v| cli_vars.get(v))
                    .map(String::as_str);
                let read = f.protocol().target_from_url(url, given)?;
                vars.extend(read.vars);
                let options = p.as_ref().map(|t| t.options.clone()).unwrap_or_default();
                let triggers = p.as_ref().map(|t| t.triggers.clone()).unwrap_or_default();
                let mut headers = p.map(|t| t.headers).unwrap_or_default();
                if let Some(token) = f.protocol().token_env().and_then(env)
                    && !token.is_empty()
                {
                    crate::profile::check_secret(
                        f.protocol().token_env().unwrap_or("token"),
                        &token,
                    )?;
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
                    headers.push(("Authorization".into(), format!("Bearer {token}")));
                    secrets.push(token);
                }
                Some(Target {
                    base_url: read.base_url,
                    headers,
                    options,
                    triggers,
                })
            }
            (None, p) => p,
        };
        match target {
            Some(t) => {
                targets.insert(f, t);
            }
            None => {
                skipped.insert(
                    f,
                    format!(
                        "no {f} target given (--{f} URL, {} or a profile)",
                        f.protocol().target_env()
                    ),
                );
            }
        }
    }
    Ok(Targets::Given { targets, skipped })
}

/// `--um-endpoint PATH`: sugar for the UM family's endpoint variable, refused beside
/// `--var um_endpoint` so one of the two is not silently ignored.
fn endpoint_flag(args: &RunArgs, cli_vars: &mut BTreeMap<String, String>) -> Result<(), String> {
    let Some(e) = &args.um_endpoint else {
        return Ok(());
    };
    if !e.starts_with('/') {
        return Err(format!(
            "--um-endpoint `{e}`: expected a path starting with `/`"
        ));
    }
    let var = Family::UM
        .protocol()
        .endpoint_var()
        .unwrap_or("um_endpoint");
    if cli_vars.contains_key(var) {
        return Err(format!(
            "both --um-endpoint and --var {var} are set; keep one"
        ));
    }
    cli_vars.insert(var.to_owned(), e.clone());
    Ok(())
}

/// Resolves the run. `env` reads the environment (`std::env::var(..).ok()` in a process).
/// Flags win over the environment, the environment over the profile.
pub fn resolve(args: &RunArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, String> {
    let update = crate::snapshot::update_mode(args.bless)?;
    let mut cli_vars = parse_vars(&args.vars)?;
    endpoint_flag(args, &mut cli_vars)?;
    let families = family_flags(args)?;
    check_timeouts(args)?;
    let mut warnings = Vec::new();
    let profile = match &args.profile {
        Some(path) => {
            let p = crate::profile::load(path)?;
            warnings.extend(p.warnings());
            Some(p.resolve(env)?)
        }
        None => None,
    };
    let expectations = match &args.expect {
        Some(path) => Some(Arc::new(crate::expectations::load(path)?)),
        None => None,
    };
    let mut secrets: Vec<String> = profile
        .as_ref()
        .map(|p| p.secrets.clone())
        .unwrap_or_default();
    let mut vars = profile.as_ref().map(|p| p.vars.clone()).unwrap_or_default();
    let urls = named_urls(args, env)?;
    let targets = if urls.is_empty() && profile.is_none() {
        if args.require_target {
            return Err(
                "--require-target: no target was named (--um/--graph/--target, CALLCONFORM_<FAMILY> or --profile); refusing to test the embedded reference target instead"
                    .into(),
            );
        }
        Targets::Embedded
    } else {
        given_targets(
            profile.as_ref(),
            urls,
            env,
            &mut secrets,
            &mut vars,
            &cli_vars,
        )?
    };
    vars.extend(cli_vars);
    let expected_notify_token = if targets != Targets::Embedded {
        notify_token(env, profile.as_ref(), &mut secrets)?
    } else {
        None
    };
    let http = http_options(args, profile.as_ref());
    let listener = listener_config(args, profile.as_ref(), &secrets)?;
    let timing = Timing::of(args, profile.as_ref());
    let quiet_period = timing
        .quiet_period
        .unwrap_or_else(|| quiet_period_for(&targets));
    Ok(Plan {
        cases_dir: args.cases.clone().unwrap_or_else(|| default_dir("cases")),
        snapshots_dir: args
            .snapshots
            .clone()
            .unwrap_or_else(|| default_dir("snapshots")),
        update,
        targets,
        vars,
        as_printed: args.as_printed,
        strict: args.strict,
        exact_values: args.exact_values
            || profile
                .as_ref()
                .is_some_and(|p| p.exact_values == Some(true)),
        quiet_period,
        progress_interval: timing.progress_interval,
        progress_deadline: timing.progress_deadline,
        notification_timeout: timing.notification_timeout,
        http,
        secrets,
        expected_notify_token,
        listener,
        expectations,
        families,
        tags: args.tags.clone(),
        warnings,
    })
}

/// The quiet period when none is asked for: the embedded target sends each notification
/// as it answers, on the same loopback, so a tenth of a second after the last documented
/// one is long past when a stray would come; a deployment may deliver through queues, so it
/// gets a quarter.
fn quiet_period_for(targets: &Targets) -> Duration {
    match targets {
        Targets::Embedded => Duration::from_millis(100),
        Targets::Given { .. } => Duration::from_millis(250),
    }
}

/// `--family NAME`, each a registered family.
fn family_flags(args: &RunArgs) -> Result<Vec<Family>, String> {
    args.families
        .iter()
        .map(|name| {
            Family::parse(name)
                .ok_or_else(|| format!("--family `{name}`: expected one of: {}", Family::names()))
        })
        .collect()
}

/// Every timeout flag must be a positive, finite number of seconds.
fn check_timeouts(args: &RunArgs) -> Result<(), String> {
    for t in [
        args.notification_timeout,
        args.quiet_period,
        args.timeout,
        args.progress_interval,
        args.progress_deadline,
    ]
    .into_iter()
    .flatten()
    {
        if !(t > 0.0 && t.is_finite()) {
            return Err("timeouts must be positive numbers of seconds".into());
        }
    }
    Ok(())
}

/// The bearer token notifications must carry (environment, else profile), when a real
/// target is tested; it joins the secrets so no report shows it.
fn notify_token(
    env: &dyn Fn(&str) -> Option<String>,
    profile: Option<&ResolvedProfile>,
    secrets: &mut Vec<String>,
) -> Result<Option<String>, String> {
    let from_env = env("CALLCONFORM_NOTIFY_TOKEN").filter(|t| !t.is_empty());
    let Some(t) = from_env.or(profile.and_then(|p| p.notify_token.clone())) else {
        return Ok(None);
    };
    crate::profile::check_secret("CALLCONFORM_NOTIFY_TOKEN", &t)?;
    secrets.push(t.clone());
    Ok(Some(t))
}

/// HTTP client options: defaults, then the profile, then `--timeout` and `--max-body`.
fn http_options(args: &RunArgs, profile: Option<&ResolvedProfile>) -> HttpOptions {
    let mut http = HttpOptions {
        max_body: args.max_body,
        ..HttpOptions::default()
    };
    if let Some(p) = profile {
        http = p.http_options(http);
    }
    if let Some(t) = args.timeout {
        http.timeout = Duration::from_secs_f64(t);
    }
    http
}

/// The webhook listener: flags override the profile's address, callback URL and
/// [listener] certificate and key; it redacts the run's secrets.
fn listener_config(
    args: &RunArgs,
    profile: Option<&ResolvedProfile>,
    secrets: &[String],
) -> Result<ListenerConfig, String> {
    let listener_tls = match (&args.listen_tls_cert, &args.listen_tls_key) {
        (Some(c), Some(k)) => Some(
            crate::listener::ListenerTls::load(c, k)
                .map_err(|e| format!("--listen-tls-cert / --listen-tls-key: {e}"))?,
        ),
        _ => profile.and_then(|p| p.listener_tls.clone()),
    };
    Ok(ListenerConfig {
        bind: args
            .listen
            .or(profile.and_then(|p| p.listen))
            .unwrap_or(ListenerConfig::default().bind),
        public_base: args
            .callback_url
            .clone()
            .or(profile.and_then(|p| p.callback_url.clone())),
        tls: listener_tls,
        redact: secrets.to_vec(),
        ..ListenerConfig::default()
    })
}

/// How long the runner waits: flag, else profile, else the default.
struct Timing {
    /// `None`: the default for the target (see [`quiet_period_for`]).
    quiet_period: Option<Duration>,
    progress_interval: Duration,
    progress_deadline: Duration,
    notification_timeout: Duration,
}

impl Timing {
    fn of(args: &RunArgs, profile: Option<&ResolvedProfile>) -> Timing {
        let pick = |flag: Option<f64>, from_profile: Option<Duration>, default: Duration| {
            flag.map(Duration::from_secs_f64)
                .or(from_profile)
                .unwrap_or(default)
        };
        Timing {
            quiet_period: args
                .quiet_period
                .map(Duration::from_secs_f64)
                .or(profile.and_then(|p| p.quiet_period)),
            progress_interval: pick(
                args.progress_interval,
                profile.and_then(|p| p.progress_interval),
                Duration::from_millis(250),
            ),
            progress_deadline: pick(
                args.progress_deadline,
                profile.and_then(|p| p.progress_deadline),
                Duration::from_secs(60),
            ),
            notification_timeout: pick(
                args.notification_timeout,
                profile.and_then(|p| p.notification_timeout),
                Duration::from_secs(5),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn plan(args: RunArgs, env: &[(&str, &str)]) -> Result<Plan, String> {
        resolve(&args, &env_of(env))
    }

    #[test]
    fn no_target_means_the_embedded_one_and_the_banner_says_so() {
        let p = plan(RunArgs::default(), &[]).expect("resolves");
        assert_eq!(p.targets, Targets::Embedded);
        assert!(p.targets.banner().contains("embedded reference target"));
    }

    #[test]
    fn the_quiet_period_follows_the_target_unless_asked_for() {
        let embedded = plan(RunArgs::default(), &[]).expect("resolves");
        assert_eq!(embedded.quiet_period, Duration::from_millis(100));
        let given =
            plan(RunArgs::default(), &[("CALLCONFORM_UM", "http://um.test")]).expect("resolves");
        assert_eq!(given.quiet_period, Duration::from_millis(250));
        let asked = RunArgs {
            quiet_period: Some(0.5),
            ..RunArgs::default()
        };
        assert_eq!(
            plan(asked, &[]).expect("resolves").quiet_period,
            Duration::from_millis(500)
        );
        let zero = RunArgs {
            quiet_period: Some(0.0),
            ..RunArgs::default()
        };
        assert!(plan(zero, &[]).unwrap_err().contains("positive"));
    }

    #[test]
    fn require_target_refuses_the_embedded_fallback() {
        let args = RunArgs {
            require_target: true,
            ..RunArgs::default()
        };
        let e = plan(args, &[]).unwrap_err();
        assert!(e.contains("--require-target"), "{e}");
        let args = RunArgs {
            require_target: true,
            ..RunArgs::default()
        };
        let p = plan(args, &[("CALLCONFORM_UM", "http://um.test")]).expect("a target is named");
        assert!(matches!(p.targets, Targets::Given { .. }));
    }

    #[test]
    fn an_empty_family_variable_is_a_usage_error() {
        let e = plan(RunArgs::default(), &[("CALLCONFORM_GRAPH", "")]).unwrap_err();
        assert!(e.contains("CALLCONFORM_GRAPH is set but empty"), "{e}");
        let e = plan(RunArgs::default(), &[("CALLCONFORM_UM", "  ")]).unwrap_err();
        assert!(e.contains("CALLCONFORM_UM"), "{e}");
    }

    #[test]
    fn one_family_named_ignores_the_other_and_the_banner_names_both() {
        let p = plan(RunArgs::default(), &[("CALLCONFORM_UM", "http://um.test/")]).expect("ok");
        let Targets::Given { targets, skipped } = &p.targets else {
            panic!("given targets expected");
        };
        assert_eq!(targets[&Family::UM].base_url, "http://um.test");
        assert!(skipped[&Family::GRAPH].contains("no graph target"));
        let banner = p.targets.banner();
        assert!(banner.contains("um = http://um.test"), "{banner}");
        assert!(banner.contains("graph = none (ignored)"), "{banner}");
    }

    #[test]
    fn flags_win_over_the_environment_and_the_token_comes_from_the_environment() {
        let args = RunArgs {
            graph: Some("http://flag.test/v1.0".into()),
            ..RunArgs::default()
        };
        let p = plan(
            args,
            &[
                ("CALLCONFORM_GRAPH", "http://env.test/v1.0"),
                ("CALLCONFORM_GRAPH_TOKEN", "tok-123456"),
            ],
        )
        .expect("ok");
        let Targets::Given { targets, .. } = &p.targets else {
            panic!("given targets expected");
        };
        let g = &targets[&Family::GRAPH];
        assert_eq!(g.base_url, "http://flag.test/v1.0");
        assert!(
            g.headers
                .contains(&("Authorization".into(), "Bearer tok-123456".into()))
        );
        assert!(p.secrets.contains(&"tok-123456".to_owned()));
    }

    #[test]
    fn tokens_too_short_to_redact_are_refused() {
        let args = || RunArgs {
            graph: Some("http://g.test/v1.0".into()),
            ..RunArgs::default()
        };
        let e = plan(args(), &[("CALLCONFORM_GRAPH_TOKEN", "t0k")]).unwrap_err();
        assert!(
            e.contains("CALLCONFORM_GRAPH_TOKEN") && e.contains("too short"),
            "{e}"
        );
        assert!(!e.contains("t0k"), "{e}");
        let e = plan(
            args(),
            &[
                ("CALLCONFORM_GRAPH_TOKEN", "tok-123456"),
                ("CALLCONFORM_NOTIFY_TOKEN", "n"),
            ],
        )
        .unwrap_err();
        assert!(
            e.contains("CALLCONFORM_NOTIFY_TOKEN") && e.contains("too short"),
            "{e}"
        );
    }

    #[test]
    fn credentials_in_a_target_url_are_refused_without_echoing_them() {
        let args = RunArgs {
            um: Some("https://alice:s3cret-pw@mail.test".into()),
            ..RunArgs::default()
        };
        let e = plan(args, &[]).unwrap_err();
        assert!(e.contains("credentials in the URL are refused"), "{e}");
        assert!(!e.contains("s3cret-pw"), "{e}");
        let e = plan(RunArgs::default(), &[("CALLCONFORM_UM", "ftp://x")]).unwrap_err();
        assert!(e.contains("http://"), "{e}");
    }

    #[test]
    fn generic_target_flag_names_any_registered_family() {
        let args = RunArgs {
            targets: vec!["graph=http://g.test".into()],
            ..RunArgs::default()
        };
        let p = plan(args, &[]).expect("ok");
        assert!(p.targets.banner().contains("graph = http://g.test"));
        let args = RunArgs {
            targets: vec!["sip=http://x.test".into()],
            ..RunArgs::default()
        };
        assert!(
            plan(args, &[])
                .unwrap_err()
                .contains("unknown family `sip`")
        );
    }

    #[test]
    fn bad_family_var_and_timeout_are_usage_errors() {
        let args = RunArgs {
            families: vec!["soap".into()],
            ..RunArgs::default()
        };
        assert!(plan(args, &[]).unwrap_err().contains("--family `soap`"));
        let args = RunArgs {
            vars: vec!["novalue".into()],
            ..RunArgs::default()
        };
        assert!(plan(args, &[]).unwrap_err().contains("NAME=VALUE"));
        let args = RunArgs {
            timeout: Some(0.0),
            ..RunArgs::default()
        };
        assert!(plan(args, &[]).unwrap_err().contains("positive"));
    }

    #[test]
    fn exact_values_comes_from_the_flag_or_the_profile() {
        assert!(!plan(RunArgs::default(), &[]).expect("ok").exact_values);
        let args = RunArgs {
            exact_values: true,
            ..RunArgs::default()
        };
        assert!(plan(args, &[]).expect("ok").exact_values);
        let dir = std::env::temp_dir().join(format!("cc-plan-exact-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let profile = dir.join("target.toml");
        std::fs::write(
            &profile,
            "[um]\nbase_url = \"http://um.test\"\n\n[run]\nexact_values = true\n",
        )
        .expect("write");
        let args = RunArgs {
            profile: Some(profile.clone()),
            ..RunArgs::default()
        };
        assert!(plan(args, &[]).expect("ok").exact_values);
        std::fs::write(
            &profile,
            "[um]\nbase_url = \"http://um.test\"\n\n[run]\nexact_values = false\n",
        )
        .expect("write");
        let args = RunArgs {
            profile: Some(profile.clone()),
            exact_values: true,
            ..RunArgs::default()
        };
        assert!(plan(args, &[]).expect("ok").exact_values, "the flag wins");
        std::fs::write(&profile, "[run]\nexact_value = true\n").expect("write");
        let args = RunArgs {
            profile: Some(profile),
            ..RunArgs::default()
        };
        let e = plan(args, &[]).unwrap_err();
        assert!(e.contains("exact_value"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
