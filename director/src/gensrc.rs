//! `gensrc`: build (or take prebuilt) plugin libraries, pack them with audit
//! sources, dependencies and the TLI, sign the manifest and write
//! `GROUP-VERSION.tls` into the director directory. On any failure nothing
//! is written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::tli::{Tli, TliError};
use runtime::tls::format;
use runtime::tls::keys::{self, KeyStrength};
use runtime::tls::{BuildError, KeyError, LibraryInfo, LibrarySpec, PackageBuilder};

use crate::{atomic, localtime};

/// What `gensrc` is asked to do.
#[derive(Debug, Clone)]
pub struct GensrcArgs {
    /// The group.
    pub group: String,
    /// The signing key (PEM).
    pub private_key: PathBuf,
    /// The crate (or source tree) directory.
    pub sources_dir: PathBuf,
    /// `version:V`, `version:date`, `tli:FILE`, `deps:FILE`, `lib:TRIPLE=PATH` and SRCGLOBs.
    pub options: Vec<String>,
    /// Accept a 1024-bit signing key.
    pub allow_legacy_key: bool,
    /// Where the package goes.
    pub director_dir: PathBuf,
}

/// What `gensrc` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GensrcOutcome {
    /// The package file.
    pub package: PathBuf,
    /// The TLI copy, when one was given.
    pub tli: Option<PathBuf>,
    /// The package hash.
    pub hash: String,
    /// The version written (after `version:date` expansion).
    pub version: Option<String>,
    /// Whether the key was a legacy (1024-bit) key.
    pub key_strength: KeyStrength,
}

/// Why `gensrc` failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum GensrcError {
    /// An argument is malformed.
    #[error("{0}")]
    BadArgument(String),
    /// The director directory is missing.
    #[error("the director directory {0} does not exist (set THESPIAN_DIRECTOR_DIR)")]
    NoDirectorDir(PathBuf),
    /// The signing key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The TLI file cannot be read.
    #[error("cannot read TLI file {file}: {reason}")]
    TliUnreadable {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The TLI file is invalid.
    #[error("TLI file {file}: {error}")]
    Tli {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        error: TliError,
    },
    /// A deps file line is wrong.
    #[error("deps file {file}, line {line}: {reason}")]
    Deps {
        /// The file.
        file: PathBuf,
        /// The line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A source glob is wrong or matches nothing.
    #[error("source pattern {pattern:?}: {reason}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// `cargo build` failed or built no cdylib.
    #[error("building {dir}: {reason}")]
    Build {
        /// The crate directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A library is not a loadable package library.
    #[error("library {path}: {reason}")]
    Library {
        /// The library.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The libraries of one package disagree on what they export.
    #[error("the libraries disagree: {first} {what} differs from {other}")]
    LibrariesDisagree {
        /// The first library.
        first: PathBuf,
        /// The one that differs.
        other: PathBuf,
        /// What differs.
        what: &'static str,
    },
    /// The package could not be built or signed.
    #[error(transparent)]
    Package(#[from] BuildError),
    /// The package could not be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// The parsed trailing arguments.
#[derive(Debug, Default)]
struct Options {
    version: Option<String>,
    tli: Option<PathBuf>,
    deps: Option<PathBuf>,
    libs: Vec<LibrarySpec>,
    globs: Vec<String>,
}

fn parse_options(args: &[String], now: u64) -> Result<Options, GensrcError> {
    let bad = |m: String| GensrcError::BadArgument(m);
    let mut o = Options::default();
    for arg in args {
        if let Some(v) = arg.strip_prefix("version:") {
            let v = if v == "date" { localtime::date_version(now) } else { v.to_string() };
            format::check_version(&v).map_err(bad)?;
            o.version = Some(v);
        } else if let Some(f) = arg.strip_prefix("tli:") {
            o.tli = Some(PathBuf::from(f));
        } else if let Some(f) = arg.strip_prefix("deps:") {
            o.deps = Some(PathBuf::from(f));
        } else if let Some(spec) = arg.strip_prefix("lib:") {
            let (target, path) =
                spec.split_once('=').ok_or_else(|| bad(format!("{arg:?}: expected lib:TRIPLE=PATH")))?;
            if target.is_empty() || path.is_empty() {
                return Err(bad(format!("{arg:?}: expected lib:TRIPLE=PATH")));
            }
            o.libs.push(LibrarySpec { target: target.to_string(), path: PathBuf::from(path) });
        } else {
            o.globs.push(arg.clone());
        }
    }
    Ok(o)
}

fn read(path: &Path) -> Result<Vec<u8>, GensrcError> {
    std::fs::read(path).map_err(|e| GensrcError::Read { path: path.to_path_buf(), reason: e.to_string() })
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Runs `gensrc`.
pub fn gensrc(args: &GensrcArgs) -> Result<GensrcOutcome, GensrcError> {
    let now = localtime::now_unix();
    let opts = parse_options(&args.options, now)?;
    if !args.director_dir.is_dir() {
        return Err(GensrcError::NoDirectorDir(args.director_dir.clone()));
    }
    format::check_group(&args.group).map_err(GensrcError::BadArgument)?;
    let key = keys::read_private_key(&args.private_key)?;
    keys::check_size(&key.path, key.bits, args.allow_legacy_key)?;
    let tli = opts.tli.as_deref().map(read_tli).transpose()?;
    let deps = opts.deps.as_deref().map(read_deps).transpose()?.unwrap_or_default();
    let sources = collect_sources(&args.sources_dir, &opts.globs)?;
    let libs = if opts.libs.is_empty() { vec![build_crate(&args.sources_dir)?] } else { opts.libs.clone() };
    let info = inspect_libraries(&libs)?;
    if let Some((file, text)) = &tli {
        let parsed = Tli::parse(text).map_err(|error| GensrcError::Tli { file: file.clone(), error })?;
        parsed.check_against(&info.classes).map_err(|error| GensrcError::Tli { file: file.clone(), error })?;
    }
    let mut builder = PackageBuilder::new(&args.group, opts.version.as_deref(), now, &info)?;
    for lib in &libs {
        builder.library(&lib.target, &file_name(&lib.path), read(&lib.path)?)?;
    }
    for dep in &deps {
        builder.dependency(&dep.target, &file_name(&dep.path), read(&dep.path)?)?;
    }
    for (relative, path) in &sources {
        builder.source(relative, read(path)?)?;
    }
    if let Some((_, text)) = &tli {
        builder.tli(text);
    }
    let (bytes, key_strength) = builder.build(&key, args.allow_legacy_key)?;
    write_outputs(args, opts.version, tli.map(|(_, t)| t), bytes, key_strength)
}

fn write_outputs(
    args: &GensrcArgs,
    version: Option<String>,
    tli: Option<String>,
    bytes: Vec<u8>,
    key_strength: KeyStrength,
) -> Result<GensrcOutcome, GensrcError> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| GensrcError::Write { path, reason: e.to_string() }
    };
    let package = args.director_dir.join(format::file_name(&args.group, version.as_deref()));
    let tli_path = args.director_dir.join(format!("{}.tli", args.group));
    // Stage both, then commit both: a failure leaves neither behind.
    let staged_pkg = atomic::stage(&package, &bytes, 0o644).map_err(werr(&package))?;
    let staged_tli =
        tli.as_deref().map(|t| atomic::stage(&tli_path, t.as_bytes(), 0o644)).transpose().map_err(werr(&tli_path))?;
    let package = staged_pkg.commit().map_err(werr(&package))?;
    let tli = staged_tli.map(|s| s.commit()).transpose().map_err(werr(&tli_path))?;
    Ok(GensrcOutcome { package, tli, hash: runtime::sha256_hex(&bytes), version, key_strength })
}

fn read_tli(file: &Path) -> Result<(PathBuf, String), GensrcError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| GensrcError::TliUnreadable { file: file.to_path_buf(), reason: e.to_string() })?;
    Tli::parse(&text).map_err(|error| GensrcError::Tli { file: file.to_path_buf(), error })?;
    Ok((file.to_path_buf(), text))
}

/// `deps:FILE`: one library per line, `PATH` or `TRIPLE=PATH`; relative
/// paths are relative to the deps file; blank lines and `#` comments skipped.
fn read_deps(file: &Path) -> Result<Vec<LibrarySpec>, GensrcError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| GensrcError::Read { path: file.to_path_buf(), reason: e.to_string() })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (target, path) = match line.split_once('=') {
            Some((t, p)) => (t.trim().to_string(), p.trim()),
            None => (runtime::TARGET_TRIPLE.to_string(), line),
        };
        let path = base.join(path);
        if !path.is_file() {
            let reason = format!("{} is not a file", path.display());
            return Err(GensrcError::Deps { file: file.to_path_buf(), line: i + 1, reason });
        }
        out.push(LibrarySpec { target, path });
    }
    Ok(out)
}

/// Expands SRCGLOBs relative to `dir` (`**` recurses; a pattern ending in
/// `**`, like `src/**`, takes every file below, as in `.gitignore`). A
/// pattern that is absolute, climbs out with `..`, or matches no file is an
/// error.
fn collect_sources(dir: &Path, globs: &[String]) -> Result<Vec<(String, PathBuf)>, GensrcError> {
    let mut found = BTreeSet::new();
    for pattern in globs {
        let gerr = |reason: &str| GensrcError::Glob { pattern: pattern.clone(), reason: reason.to_string() };
        if pattern.starts_with('/') || pattern.split('/').any(|p| p == "..") {
            return Err(gerr("must be relative to SOURCES_DIR and stay inside it"));
        }
        // The glob crate's trailing `**` matches directories only.
        let files = if pattern == "**" || pattern.ends_with("/**") { "/*" } else { "" };
        let full = format!("{}/{pattern}{files}", glob::Pattern::escape(&dir.to_string_lossy()));
        let paths = glob::glob(&full).map_err(|e| gerr(&e.to_string()))?;
        let before = found.len();
        for p in paths.filter_map(Result::ok).filter(|p| p.is_file()) {
            let rel = p.strip_prefix(dir).map_err(|_| gerr("matched outside SOURCES_DIR"))?;
            let rel = rel.to_str().ok_or_else(|| gerr("matched a file name that is not UTF-8"))?.to_string();
            found.insert((rel, p));
        }
        if found.len() == before {
            return Err(gerr("matches no file"));
        }
    }
    Ok(found.into_iter().collect())
}

/// Reads what every library exports from its file (nothing is loaded or
/// run, so a library for any target can be packaged), checks each against
/// the target it is packaged for, and that they all agree.
fn inspect_libraries(libs: &[LibrarySpec]) -> Result<LibraryInfo, GensrcError> {
    let mut first: Option<(&Path, LibraryInfo)> = None;
    for lib in libs {
        let lerr = |reason: String| GensrcError::Library { path: lib.path.clone(), reason };
        let info = runtime::tls::inspect_library_for(&lib.path, &lib.target).map_err(|e| lerr(e.to_string()))?;
        if info.abi_version != actor_abi::ffi::ABI_VERSION {
            return Err(lerr(format!(
                "it speaks Thespian ABI {}, this gensrc packages ABI {} (rebuild it against this actor-abi)",
                info.abi_version,
                actor_abi::ffi::ABI_VERSION
            )));
        }
        match &first {
            None => first = Some((&lib.path, info)),
            Some((path, seen)) => {
                let what = if seen.classes != info.classes {
                    Some("actor classes")
                } else if seen.fingerprint != info.fingerprint {
                    Some("ABI layout fingerprint")
                } else {
                    None
                };
                if let Some(what) = what {
                    return Err(GensrcError::LibrariesDisagree {
                        first: path.to_path_buf(),
                        other: lib.path.clone(),
                        what,
                    });
                }
            }
        }
    }
    first.map(|(_, info)| info).ok_or_else(|| GensrcError::BadArgument("no library to package".into()))
}

/// `cargo build --release` in `dir` (progress on stderr) and the cdylib it made.
fn build_crate(dir: &Path) -> Result<LibrarySpec, GensrcError> {
    let berr = |reason: String| GensrcError::Build { dir: dir.to_path_buf(), reason };
    let manifest = dir.join("Cargo.toml").canonicalize().map_err(|e| berr(format!("no Cargo.toml: {e}")))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(&cargo)
        .current_dir(dir)
        .args(["build", "--release", "--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| berr(format!("cannot run {cargo}: {e}")))?;
    if !out.status.success() {
        return Err(berr(format!("cargo build failed ({})", out.status)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lib = text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|m| {
        let is_ours = m["reason"] == "compiler-artifact"
            && m["manifest_path"].as_str().map(PathBuf::from).is_some_and(|p| p == manifest)
            && m["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|x| x == "cdylib"));
        let files = m["filenames"].as_array()?.iter().filter_map(|f| f.as_str()).map(PathBuf::from);
        is_ours.then(|| files.into_iter().find(|f| f.extension().is_some_and(|e| e == "so"))).flatten()
    });
    let path = lib.ok_or_else(|| berr("the crate built no cdylib (set crate-type = [\"cdylib\"])".into()))?;
    Ok(LibrarySpec { target: runtime::TARGET_TRIPLE.to_string(), path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_recognised_by_prefix() {
        let args: Vec<String> =
            ["version:1.2", "tli:foo.tli", "deps:d.txt", "lib:aarch64-unknown-linux-gnu=/x/libfoo.so", "src/*.rs"]
                .map(String::from)
                .to_vec();
        let o = parse_options(&args, 0).unwrap();
        assert_eq!(o.version.as_deref(), Some("1.2"));
        assert_eq!(o.tli, Some(PathBuf::from("foo.tli")));
        assert_eq!(o.deps, Some(PathBuf::from("d.txt")));
        assert_eq!(o.libs[0].target, "aarch64-unknown-linux-gnu");
        assert_eq!(o.globs, vec!["src/*.rs".to_string()]);
    }

    #[test]
    fn version_date_is_local_minutes() {
        let o = parse_options(&["version:date".to_string()], 1_700_000_000).unwrap();
        assert_eq!(o.version, Some(localtime::date_version(1_700_000_000)));
    }

    #[test]
    fn malformed_options_are_refused() {
        assert!(parse_options(&["lib:nopath".to_string()], 0).is_err());
        assert!(parse_options(&["version:".to_string()], 0).is_err());
        assert!(parse_options(&["version:a/b".to_string()], 0).is_err());
    }

    #[test]
    fn source_globs_stay_inside_the_sources_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/c.rs"), "x").unwrap();
        std::fs::write(dir.path().join("top.rs"), "y").unwrap();
        let got = collect_sources(dir.path(), &["**/*.rs".to_string()]).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["a/b/c.rs", "top.rs"]);
        let below = |p: &str| -> Vec<String> {
            collect_sources(dir.path(), &[p.to_string()]).unwrap().into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(below("a/**"), ["a/b/c.rs"], "a trailing ** takes every file below");
        assert_eq!(below("**"), ["a/b/c.rs", "top.rs"]);
        assert!(collect_sources(dir.path(), &["../*".to_string()]).is_err());
        assert!(collect_sources(dir.path(), &["/etc/*".to_string()]).is_err());
        assert!(collect_sources(dir.path(), &["*.py".to_string()]).is_err());
    }
}
