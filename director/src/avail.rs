//! `avail [--json]`: the packages in the director directory, per group,
//! newest first. Group and version come from each verified manifest; files
//! that fail verification (or whose name disagrees with their manifest)
//! are listed as refused and never offered.

use std::path::{Path, PathBuf};

use runtime::tls::{SourceAuthority, VersionKey};
use serde::Serialize;

/// One loadable package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Available {
    /// The file.
    pub file: PathBuf,
    /// The package hash.
    pub hash: String,
    /// The signed version (`null` when unversioned).
    pub version: Option<String>,
}

/// One group's packages, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The group.
    pub group: String,
    /// Its packages, newest first.
    pub packages: Vec<Available>,
}

/// A file that is not offered, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// The file.
    pub file: PathBuf,
    /// Why.
    pub reason: String,
}

/// What `avail` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AvailReport {
    /// The director directory.
    pub dir: PathBuf,
    /// Groups by name.
    pub groups: Vec<Group>,
    /// Refused files.
    pub refused: Vec<Refused>,
}

/// Verifies every `*.tls` in `dir`.
pub fn avail(dir: &Path, authority: &SourceAuthority) -> std::io::Result<AvailReport> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tls"))
        .collect();
    files.sort();
    let mut groups: Vec<Group> = Vec::new();
    let mut refused = Vec::new();
    for file in files {
        match authority.verify_file(&file) {
            Ok(v) => {
                let entry = Available { file, hash: v.hash, version: v.manifest.version.clone() };
                match groups.iter_mut().find(|g| g.group == v.manifest.group) {
                    Some(g) => g.packages.push(entry),
                    None => groups.push(Group { group: v.manifest.group.clone(), packages: vec![entry] }),
                }
            }
            Err(e) => refused.push(Refused { file, reason: e.to_string() }),
        }
    }
    groups.sort_by(|a, b| a.group.cmp(&b.group));
    for g in &mut groups {
        g.packages.sort_by(|a, b| {
            VersionKey::of(b.version.as_deref()).cmp(&VersionKey::of(a.version.as_deref())).then(a.file.cmp(&b.file))
        });
    }
    Ok(AvailReport { dir: dir.to_path_buf(), groups, refused })
}

impl AvailReport {
    /// The text form: `GROUP: FILE  HASH`, `    + FILE  HASH`, `    ! FILE  REASON`.
    pub fn render(&self) -> String {
        let mut out = format!("THESPIAN_DIRECTOR_DIR={}\n", self.dir.display());
        for g in &self.groups {
            for (i, p) in g.packages.iter().enumerate() {
                let lead = if i == 0 { format!("{}: ", g.group) } else { "    + ".to_string() };
                out.push_str(&format!("{lead}{}  {}\n", p.file.display(), p.hash));
            }
        }
        for r in &self.refused {
            out.push_str(&format!("    ! {}  {}\n", r.file.display(), r.reason));
        }
        out
    }
}
