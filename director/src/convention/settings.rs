//! `convention.cfg` and `membername.cfg`: where the convention's NATS
//! server is, the convention's name, how this member authenticates, and
//! this member's own name.
//!
//! ```python
//! {'Url': 'nats://127.0.0.1:4222', 'Name': 'prod',
//!  'Credentials': '/path/to/user.creds'}        # or 'User' and 'Password', or 'NkeySeed'
//!  # optional: 'Tls': {'Ca': 'ca.pem', 'Cert': 'cert.pem', 'Key': 'key.pem'}
//! ```
//!
//! Relative paths are relative to the director directory. A password is
//! never shown (`config`, logs, `Debug`).

use std::path::{Path, PathBuf};

use actor_abi::Value;

/// How this member authenticates to the NATS server.
#[derive(Clone, PartialEq, Eq)]
pub enum ConventionAuth {
    /// No credentials (a server without authorization).
    None,
    /// `'User'` and `'Password'`.
    UserPassword {
        /// The user.
        user: String,
        /// The password (never displayed).
        password: String,
    },
    /// `'Credentials'`: a `.creds` file (a user JWT and its nkey seed).
    Credentials(PathBuf),
    /// `'NkeySeed'`: a file holding an nkey seed.
    NkeySeed(PathBuf),
}

impl std::fmt::Debug for ConventionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ConventionAuth {
    /// What `config` shows: the method and the user or file, never a secret.
    pub fn describe(&self) -> String {
        match self {
            ConventionAuth::None => "no credentials".to_string(),
            ConventionAuth::UserPassword { user, .. } => format!("user {user:?} with a password"),
            ConventionAuth::Credentials(p) => format!("credentials file {}", p.display()),
            ConventionAuth::NkeySeed(p) => format!("nkey seed file {}", p.display()),
        }
    }
}

/// `'Tls'`: a CA to trust, and a client certificate with its key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// `'Ca'`.
    pub ca: Option<PathBuf>,
    /// `'Cert'` (with `'Key'`).
    pub cert: Option<PathBuf>,
    /// `'Key'` (with `'Cert'`).
    pub key: Option<PathBuf>,
}

/// `convention.cfg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConventionSettings {
    /// `'Url'`: `nats://HOST:PORT` or `tls://HOST:PORT`.
    pub url: String,
    /// `'Name'`: prefixes every subject and bucket, so that two conventions
    /// can share a server.
    pub name: String,
    /// How to authenticate.
    pub auth: ConventionAuth,
    /// `'Tls'`, if given.
    pub tls: Option<TlsFiles>,
}

/// What is wrong with `convention.cfg` (or `membername.cfg`): the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// `Url`, `Tls.Cert`...
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> SettingsError {
    SettingsError { field: field.to_string(), message: message.into() }
}

const KEYS: &[&str] = &["Url", "Name", "Credentials", "User", "Password", "NkeySeed", "Tls"];

impl ConventionSettings {
    /// Reads the literal of `convention.cfg`; relative paths are taken
    /// from `dir`.
    pub fn parse(v: &Value, dir: &Path) -> Result<ConventionSettings, SettingsError> {
        let map = v.as_map().ok_or_else(|| bad("convention.cfg", format!("expected a dict, found {}", v.kind())))?;
        only_keys(map, "", KEYS)?;
        let url = text(v, "Url")?.ok_or_else(|| bad("Url", "missing (say where the NATS server is)"))?;
        check_url(&url)?;
        let name = text(v, "Name")?.ok_or_else(|| bad("Name", "missing (the convention's name)"))?;
        check_token("Name", &name, 64)?;
        let auth = auth(v, dir)?;
        let tls = match v.get("Tls") {
            None => None,
            Some(t) => Some(tls(t, dir)?),
        };
        Ok(ConventionSettings { url, name, auth, tls })
    }
}

/// Refuses the first key of `map` not in `allowed`, as field `prefix`KEY.
fn only_keys(map: &actor_abi::Map, prefix: &str, allowed: &[&str]) -> Result<(), SettingsError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(&format!("{prefix}{k}"), format!("unknown key (allowed: {})", allowed.join(", ")))),
        None => Ok(()),
    }
}

fn text(v: &Value, key: &str) -> Result<Option<String>, SettingsError> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(other) => Err(bad(key, format!("expected a non-empty string, found {}", other.kind()))),
    }
}

fn path(v: &Value, key: &str, field: &str, dir: &Path) -> Result<Option<PathBuf>, SettingsError> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(dir.join(s))),
        Some(other) => Err(bad(field, format!("expected a file path, found {}", other.kind()))),
    }
}

fn check_url(url: &str) -> Result<(), SettingsError> {
    let rest = url
        .strip_prefix("nats://")
        .or_else(|| url.strip_prefix("tls://"))
        .ok_or_else(|| bad("Url", format!("{url:?} does not start with nats:// or tls://")))?;
    if rest.contains('@') {
        return Err(bad("Url", "put credentials in 'User'/'Password' or 'Credentials', not in the URL"));
    }
    let host_port = rest;
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        None if !host_port.is_empty() && !host_port.contains('/') => Ok(()),
        _ => Err(bad("Url", format!("{url:?} is not nats://HOST[:PORT]"))),
    }
}

/// A name usable in NATS subjects and bucket names: letters, digits, `-`, `_`.
pub fn check_token(field: &str, s: &str, max: usize) -> Result<(), SettingsError> {
    let ok = !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(bad(field, format!("{s:?}: use 1 to {max} letters, digits, '-' or '_'"))) }
}

fn auth(v: &Value, dir: &Path) -> Result<ConventionAuth, SettingsError> {
    let creds = path(v, "Credentials", "Credentials", dir)?;
    let seed = path(v, "NkeySeed", "NkeySeed", dir)?;
    let user = text(v, "User")?;
    let password = match v.get("Password") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(bad("Password", format!("expected a string, found {}", other.kind()))),
    };
    let given = [creds.is_some(), seed.is_some(), user.is_some() || password.is_some()].iter().filter(|b| **b).count();
    if given > 1 {
        return Err(bad("convention.cfg", "give one of 'Credentials', 'NkeySeed' or 'User' with 'Password'"));
    }
    Ok(match (creds, seed, user, password) {
        (Some(c), ..) => ConventionAuth::Credentials(c),
        (_, Some(s), ..) => ConventionAuth::NkeySeed(s),
        (_, _, Some(user), Some(password)) => ConventionAuth::UserPassword { user, password },
        (_, _, Some(_), None) => return Err(bad("Password", "missing ('User' needs one)")),
        (_, _, None, Some(_)) => return Err(bad("User", "missing ('Password' needs one)")),
        _ => ConventionAuth::None,
    })
}

fn tls(t: &Value, dir: &Path) -> Result<TlsFiles, SettingsError> {
    let map = t.as_map().ok_or_else(|| bad("Tls", format!("expected a dict, found {}", t.kind())))?;
    only_keys(map, "Tls.", &["Ca", "Cert", "Key"])?;
    let files = TlsFiles {
        ca: path(t, "Ca", "Tls.Ca", dir)?,
        cert: path(t, "Cert", "Tls.Cert", dir)?,
        key: path(t, "Key", "Tls.Key", dir)?,
    };
    if files.cert.is_some() != files.key.is_some() {
        return Err(bad("Tls", "'Cert' and 'Key' go together"));
    }
    Ok(files)
}

/// `membername.cfg`, or else this host's name: this member's name in the
/// convention (compared with `convleader.cfg` to find the leader).
pub fn member_name(configured: Option<String>) -> Result<String, SettingsError> {
    let name = match configured {
        Some(n) => n,
        None => host_name().ok_or_else(|| bad("membername.cfg", "absent, and this host's name cannot be read"))?,
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(name) } else { Err(bad("membername.cfg", format!("{name:?}: use letters, digits, '-', '_' or '.'"))) }
}

fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_string()).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyliteral;

    fn parse(text: &str) -> Result<ConventionSettings, SettingsError> {
        ConventionSettings::parse(&pyliteral::parse(text).unwrap(), Path::new("/d"))
    }

    #[test]
    fn the_issues_example_and_each_way_to_authenticate() {
        let c = parse("{'Url': 'nats://127.0.0.1:4222', 'Name': 'prod', 'Credentials': 'user.creds'}").unwrap();
        assert_eq!((c.url.as_str(), c.name.as_str()), ("nats://127.0.0.1:4222", "prod"));
        assert_eq!(c.auth, ConventionAuth::Credentials("/d/user.creds".into()));
        let c = parse("{'Url': 'nats://h:1', 'Name': 'a', 'User': 'u', 'Password': 'p'}").unwrap();
        assert_eq!(c.auth, ConventionAuth::UserPassword { user: "u".into(), password: "p".into() });
        assert!(!format!("{c:?}").contains("\"p\""), "the password never shows: {c:?}");
        let c = parse("{'Url': 'tls://h:1', 'Name': 'a', 'NkeySeed': '/k/seed', 'Tls': {'Ca': 'ca.pem'}}").unwrap();
        assert_eq!(c.auth, ConventionAuth::NkeySeed("/k/seed".into()));
        assert_eq!(c.tls.unwrap().ca, Some("/d/ca.pem".into()));
        assert_eq!(parse("{'Url': 'nats://h', 'Name': 'a'}").unwrap().auth, ConventionAuth::None);
    }

    #[test]
    fn mistakes_name_their_field() {
        let e = |t: &str| parse(t).unwrap_err().to_string();
        assert!(e("{'Name': 'a'}").starts_with("Url: missing"));
        assert!(e("{'Url': 'http://h:1', 'Name': 'a'}").starts_with("Url: \"http://h:1\" does not start"));
        assert!(e("{'Url': 'nats://u:p@h:1', 'Name': 'a'}").starts_with("Url: put credentials"));
        assert!(e("{'Url': 'nats://h:99999', 'Name': 'a'}").starts_with("Url: "));
        assert!(e("{'Url': 'nats://h:1', 'Name': 'a.b'}").starts_with("Name: \"a.b\": use 1 to 64"));
        assert!(e("{'Url': 'nats://h:1', 'Name': 'a', 'User': 'u'}").starts_with("Password: missing"));
        assert!(
            e("{'Url': 'nats://h:1', 'Name': 'a', 'User': 'u', 'Password': 'p', 'Credentials': 'c'}")
                .contains("give one of")
        );
        assert!(e("{'Url': 'nats://h:1', 'Name': 'a', 'Tls': {'Cert': 'c'}}").starts_with("Tls: 'Cert' and 'Key'"));
        assert!(e("{'Url': 'nats://h:1', 'Name': 'a', 'Tls': {'CA': 'c'}}").starts_with("Tls.CA: unknown key"));
        assert!(e("{'Url': 'nats://h:1', 'Name': 'a', 'Port': 1}").starts_with("Port: unknown key"));
    }

    #[test]
    fn a_member_name_is_checked_and_defaults_to_the_host_name() {
        assert_eq!(member_name(Some("node-1.example".into())).unwrap(), "node-1.example");
        assert!(member_name(Some("a b".into())).is_err());
        let host = member_name(None).unwrap();
        assert_eq!(host, std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim());
    }
}
