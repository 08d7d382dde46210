//! Where the CA is and which root to trust, as step finds them: the flags, then environment
//! variables (`STEPCA_URL`, `STEPCA_ROOT`, `STEPCA_FINGERPRINT`, then step's own
//! `STEP_CA_URL`, `STEP_ROOT`, `STEP_FINGERPRINT`), then `$STEPPATH/config/defaults.json`
//! (`ca-url`, `root`, `fingerprint`), which `step ca bootstrap` and `stepca bootstrap` write.
//! `$STEPPATH` defaults to `~/.step`, as in step.
//!
//! step's own order is the same (a flag, then its `STEP_*` variable, then defaults.json);
//! stepca's `STEPCA_*` variables come before step's.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stepca::{CertificateChain, Client, ClientBuilder};

use crate::{Cli, Failure, Result, input, read};

/// The environment variables that give the CA, in the order they are consulted after the
/// flags (the man page lists them from here).
pub(crate) const ENVIRONMENT: [(&str, &str); 7] = [
    ("STEPCA_URL", "the CA URL, as --ca-url"),
    ("STEPCA_ROOT", "the root certificate file, as --root"),
    (
        "STEPCA_FINGERPRINT",
        "the root's SHA-256 fingerprint, as --fingerprint",
    ),
    (
        "STEP_CA_URL",
        "step's variable for the CA URL, after STEPCA_URL",
    ),
    (
        "STEP_ROOT",
        "step's variable for the root file, after STEPCA_ROOT",
    ),
    (
        "STEP_FINGERPRINT",
        "step's variable for the fingerprint, after STEPCA_FINGERPRINT",
    ),
    (
        "STEPPATH",
        "step's directory (default ~/.step); its config/defaults.json gives the CA last",
    ),
];

/// `$STEPPATH`, or `~/.step`.
pub(crate) fn step_path() -> PathBuf {
    match std::env::var_os("STEPPATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".step")
        }
    }
}

/// `$STEPPATH/config/defaults.json`.
pub(crate) fn defaults_file() -> PathBuf {
    step_path().join("config").join("defaults.json")
}

/// `$STEPPATH/certs/root_ca.crt`, where `step ca bootstrap` puts the root.
pub(crate) fn root_file() -> PathBuf {
    step_path().join("certs").join("root_ca.crt")
}

/// Where a setting came from, most explicit first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Flag,
    StepcaEnv,
    StepEnv,
    Defaults,
}

/// A setting and where it came from, for messages.
struct Setting<T> {
    value: T,
    source: Source,
    /// `--root`, `STEP_ROOT`, `defaults.json`...
    from: String,
}

/// The settings of `$STEPPATH/config/defaults.json`, read once when first needed.
#[derive(Default)]
struct Defaults {
    loaded: Option<serde_json::Map<String, Value>>,
}

impl Defaults {
    fn get(&mut self, key: &str) -> Result<Option<String>> {
        if self.loaded.is_none() {
            let path = defaults_file();
            let map = match std::fs::read(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
                Err(e) => return Err(input(format!("{}: {e}", path.display()))),
                Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => {
                        return Err(input(format!("{}: not a JSON object", path.display())));
                    }
                    Err(e) => return Err(input(format!("{}: {e}", path.display()))),
                },
            };
            self.loaded = Some(map);
        }
        Ok(self
            .loaded
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string))
    }
}

/// The first of: the flag, `$stepca_env`, `$step_env`, `key` of defaults.json (unless
/// `defaults` was made empty).
fn resolve(
    flag: Option<&str>,
    flag_name: &str,
    stepca_env: &str,
    step_env: &str,
    key: &str,
    defaults: &mut Defaults,
) -> Result<Option<Setting<String>>> {
    let setting = |value: &str, source, from: &str| {
        Some(Setting {
            value: value.to_string(),
            source,
            from: from.to_string(),
        })
    };
    if let Some(v) = flag {
        return Ok(setting(v, Source::Flag, flag_name));
    }
    for (var, source) in [(stepca_env, Source::StepcaEnv), (step_env, Source::StepEnv)] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return Ok(setting(&v, source, var));
        }
    }
    Ok(match defaults.get(key)? {
        Some(v) => setting(
            &v,
            Source::Defaults,
            &format!("{key} of {}", defaults_file().display()),
        ),
        None => None,
    })
}

/// The CA's URL, and how to trust it.
pub(crate) struct Ca {
    url: Option<Setting<String>>,
    root: Option<Setting<String>>,
    fingerprint: Option<Setting<String>>,
}

/// Lower case hex without colons, for comparing fingerprints.
fn normal_fingerprint(fp: &str) -> String {
    fp.chars()
        .filter(|c| !matches!(c, ':' | '-'))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// A URL without a scheme gets `https://`, as step's CompleteURL.
pub(crate) fn complete_url(url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else {
        format!("https://{url}")
    }
}

impl Ca {
    /// Resolves the CA's settings for `cli`.
    pub(crate) fn of(cli: &Cli) -> Result<Ca> {
        Ca::resolve(cli, true)
    }

    /// The CA's settings from the flags and the environment only (bootstrap: step does not
    /// take them from defaults.json either).
    pub(crate) fn explicit(cli: &Cli) -> Result<Ca> {
        Ca::resolve(cli, false)
    }

    fn resolve(cli: &Cli, use_defaults: bool) -> Result<Ca> {
        let mut d = Defaults::default();
        let mut none = Defaults {
            loaded: Some(Default::default()),
        };
        let defaults = if use_defaults { &mut d } else { &mut none };
        let root = cli.root.as_ref().map(|p| p.to_string_lossy().into_owned());
        let url = resolve(
            cli.ca_url.as_deref(),
            "--ca-url",
            "STEPCA_URL",
            "STEP_CA_URL",
            "ca-url",
            defaults,
        )?;
        // defaults.json's root and fingerprint matter only when neither was given: one given
        // wins over both of them. (So a broken defaults.json is not read when not needed.)
        let (root, fingerprint) = {
            let mut given = Defaults {
                loaded: Some(Default::default()),
            };
            let r = |d: &mut Defaults| {
                resolve(
                    root.as_deref(),
                    "--root",
                    "STEPCA_ROOT",
                    "STEP_ROOT",
                    "root",
                    d,
                )
            };
            let f = |d: &mut Defaults| {
                resolve(
                    cli.fingerprint.as_deref(),
                    "--fingerprint",
                    "STEPCA_FINGERPRINT",
                    "STEP_FINGERPRINT",
                    "fingerprint",
                    d,
                )
            };
            match (r(&mut given)?, f(&mut given)?) {
                (None, None) => (r(defaults)?, f(defaults)?),
                some => some,
            }
        };
        Ok(Ca {
            url,
            root,
            fingerprint,
        })
    }

    /// The CA's URL, required.
    pub(crate) fn url(&self) -> Result<String> {
        self.url
            .as_ref()
            .map(|s| complete_url(&s.value))
            .ok_or_else(|| {
                input(
                    "--ca-url is required (or STEPCA_URL or STEP_CA_URL, or $STEPPATH/config/\
                 defaults.json from `stepca bootstrap` or `step ca bootstrap`)",
                )
            })
    }

    /// The root fingerprint, required (bootstrap).
    pub(crate) fn fingerprint(&self) -> Result<String> {
        self.fingerprint
            .as_ref()
            .map(|s| s.value.trim().to_string())
            .ok_or_else(|| {
                input("bootstrap needs --fingerprint (or STEPCA_FINGERPRINT or STEP_FINGERPRINT)")
            })
    }

    /// A client for the CA. The root comes from the most explicit of the root file and the
    /// fingerprint (fetched from the CA and checked); given at the same level (both flags,
    /// or both from defaults.json), the root file is used and must hold a certificate with
    /// that fingerprint. With neither, the system's trust store.
    pub(crate) fn client(&self) -> Result<Client> {
        let mut b = ClientBuilder::new(&self.url()?);
        match (&self.root, &self.fingerprint) {
            (Some(r), Some(f)) if f.source < r.source => {
                b.root_fingerprint(f.value.trim())?;
            }
            (Some(r), f) => {
                let path = Path::new(&r.value);
                if let Some(f) = f.as_ref().filter(|f| f.source == r.source) {
                    check_fingerprint(path, &r.from, &f.value, &f.from)?;
                }
                b.root_file(path).map_err(|e| {
                    let mut f = Failure::from(e);
                    f.message = format!("{} {}: {}", r.from, r.value, f.message);
                    f
                })?;
            }
            (None, Some(f)) => {
                b.root_fingerprint(f.value.trim())?;
            }
            (None, None) => {}
        }
        Ok(b.build()?)
    }

    /// A client that fetches the root by fingerprint (bootstrap), whatever the root file.
    pub(crate) fn bootstrap_client(&self) -> Result<Client> {
        let mut b = ClientBuilder::new(&self.url()?);
        b.root_fingerprint(&self.fingerprint()?)?;
        Ok(b.build()?)
    }
}

/// Fails (exit 7) unless the PEM file `root` holds a certificate with fingerprint `fp`.
fn check_fingerprint(root: &Path, root_from: &str, fp: &str, fp_from: &str) -> Result<()> {
    let chain = CertificateChain::from_pem(&read(root)?).map_err(|e| {
        let mut f = Failure::from(e);
        f.message = format!("{root_from} {}: {}", root.display(), f.message);
        f
    })?;
    let want = normal_fingerprint(fp);
    if chain
        .certificates()
        .iter()
        .any(|c| stepca::fingerprint(c) == want)
    {
        return Ok(());
    }
    Err(Failure {
        code: 7,
        message: format!(
            "{root_from} {} holds no certificate with the fingerprint {fp} ({fp_from})",
            root.display()
        ),
    })
}

/// Writes defaults.json as `step ca bootstrap` does (2-space indents, mode 0644).
pub(crate) fn write_defaults(path: &Path, url: &str, fingerprint: &str, root: &Path) -> Result<()> {
    let json = serde_json::json!({
        "ca-url": url,
        "fingerprint": fingerprint,
        "root": root,
    });
    let text = serde_json::to_string_pretty(&json).unwrap_or_default();
    stepca::write_atomic(path, text.as_bytes(), 0o644)?;
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700, as step does.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| input(format!("{}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_fingerprints() {
        assert_eq!(complete_url("ca.example:9000"), "https://ca.example:9000");
        assert_eq!(complete_url("https://ca:9000"), "https://ca:9000");
        assert_eq!(normal_fingerprint("AB:cd:01"), "abcd01");
    }
}
