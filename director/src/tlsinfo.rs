//! `tlsinfo FILE [contents|MEMBER]`: verify a package as the Source
//! Authority would and show what it holds.

use std::path::{Path, PathBuf};

use runtime::tls::{PackageError, SourceAuthority, Verified};

use crate::localtime;

/// What to show besides the validation line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Only validate.
    Validate,
    /// The manifest summary and every entry with its size.
    Contents,
    /// One audit source's text.
    Member(String),
}

impl Query {
    /// `None` → validate, `"contents"` → contents, else a member name.
    pub fn from_arg(arg: Option<&str>) -> Query {
        match arg {
            None => Query::Validate,
            Some("contents") => Query::Contents,
            Some(m) => Query::Member(m.to_string()),
        }
    }
}

/// Why `tlsinfo` failed; [`TlsinfoError::exit_code`] gives the status.
#[derive(Debug, thiserror::Error)]
pub enum TlsinfoError {
    /// The file exists neither as given nor in the director directory.
    #[error("The tls file \"{0}\" does not exist")]
    Missing(PathBuf),
    /// The package was refused.
    #[error("Could not validate \"{path}\": {error}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        error: PackageError,
    },
    /// No such audit source.
    #[error("\"{path}\" holds no audit source {member:?} (it holds: {available})")]
    NoMember {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        member: String,
        /// The sources it has.
        available: String,
    },
}

impl TlsinfoError {
    /// 4: file missing; 6: corrupt or not loadable; 7: no trusted key validates it; 1: no such member.
    pub fn exit_code(&self) -> u8 {
        match self {
            TlsinfoError::Missing(_) => 4,
            TlsinfoError::Refused { error, .. } if error.is_trust_failure() => 7,
            TlsinfoError::Refused { .. } => 6,
            TlsinfoError::NoMember { .. } => 1,
        }
    }
}

/// Finds `file` as given, else in the director directory.
pub fn locate(file: &Path, director_dir: &Path) -> Result<PathBuf, TlsinfoError> {
    if file.exists() {
        return Ok(file.to_path_buf());
    }
    let in_dir = director_dir.join(file);
    if file.is_relative() && in_dir.exists() {
        return Ok(in_dir);
    }
    Err(TlsinfoError::Missing(file.to_path_buf()))
}

/// Verifies the package and renders the answer to `query`.
pub fn tlsinfo(
    file: &Path,
    director_dir: &Path,
    authority: &SourceAuthority,
    query: &Query,
) -> Result<String, TlsinfoError> {
    let path = locate(file, director_dir)?;
    let v = authority.verify_file(&path).map_err(|error| TlsinfoError::Refused { path: path.clone(), error })?;
    let mut out = format!("Validated \"{}\" loadable with key {}\n", path.display(), v.key_file.display());
    match query {
        Query::Validate => {}
        Query::Contents => out.push_str(&contents(&v)),
        Query::Member(m) => {
            let bytes = v.source(m).ok_or_else(|| TlsinfoError::NoMember {
                path: path.clone(),
                member: m.clone(),
                available: sources(&v).join(", "),
            })?;
            return Ok(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    Ok(out)
}

fn sources(v: &Verified) -> Vec<String> {
    v.entries.iter().filter_map(|(n, _)| n.strip_prefix("src/")).map(str::to_string).collect()
}

fn contents(v: &Verified) -> String {
    let m = &v.manifest;
    let mut out = String::new();
    out.push_str(&format!("Group: {}\n", m.group));
    out.push_str(&format!("Version: {}\n", m.version.as_deref().unwrap_or("(none)")));
    out.push_str(&format!("Created: {}\n", localtime::display(m.created)));
    out.push_str(&format!("Hash: {}\n", v.hash));
    out.push_str(&format!("ABI: version {} (actor-abi {})\n", m.abi.version, m.abi.crate_version));
    out.push_str(&format!("Targets: {}\n", m.targets().join(", ")));
    out.push_str(&format!("Actors: {}\n", m.actors.join(", ")));
    out.push_str(&format!("TLI: {}\n", if m.tli.is_some() { "embedded" } else { "none" }));
    for (name, size) in &v.entries {
        out.push_str(&format!("{size:>10}  {name}\n"));
    }
    out
}
