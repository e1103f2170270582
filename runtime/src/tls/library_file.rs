//! What a package library exports, read from the file: its format, its
//! architecture and the descriptor that `export_actors!` writes into a
//! section of its own (see [`actor_abi::descriptor`]). Nothing is loaded and
//! nothing of the library runs (no `dlopen`, so no constructors), and a
//! library for any target can be inspected on any host.

use std::path::{Path, PathBuf};

use actor_abi::descriptor::{Descriptor, SECTION_ELF, SECTION_MACHO, SECTION_PE};
use object::{Architecture, BinaryFormat, Object, ObjectKind, ObjectSection};

/// The largest library read (a package holds at most this much anyway).
const MAX_LIBRARY: u64 = 256 << 20;

/// What a package library exports, read from its descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryInfo {
    /// Its ABI version.
    pub abi_version: u32,
    /// Its layout fingerprint.
    pub fingerprint: u64,
    /// Its actor-abi crate version.
    pub crate_version: String,
    /// Its exported actor classes.
    pub classes: Vec<String>,
}

/// Why a library could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Not a shared library in a format this tool reads.
    #[error("{path} is not a shared library: {reason}")]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Built for another target than the one it is packaged for.
    #[error("{path} is a {found} library, but target {triple} needs {expected}")]
    WrongTarget {
        /// The file.
        path: PathBuf,
        /// The target it is packaged for.
        triple: String,
        /// Format and architecture found.
        found: String,
        /// Format and architecture the target needs.
        expected: String,
    },
    /// The target names an architecture this tool does not know.
    #[error("cannot tell which architecture target {0:?} names")]
    UnknownTarget(String),
    /// No descriptor section, or a damaged one.
    #[error(
        "{path} has no usable Thespian actor descriptor ({reason}); build it with `export_actors!` of actor-abi {}",
        actor_abi::ffi::CRATE_VERSION
    )]
    NoDescriptor {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Reads what the library at `path` exports, without loading it.
///
/// ```no_run
/// let info = runtime::tls::inspect_library(std::path::Path::new("target/release/libgreeter.so"))?;
/// println!("exports {:?}", info.classes);
/// # Ok::<(), runtime::tls::InspectError>(())
/// ```
pub fn inspect_library(path: &Path) -> Result<LibraryInfo, InspectError> {
    let data = read(path)?;
    let file = parse(path, &data)?;
    descriptor(path, &file)
}

/// [`inspect_library`], and checks that the library's format and
/// architecture are the ones target `triple` needs.
pub fn inspect_library_for(path: &Path, triple: &str) -> Result<LibraryInfo, InspectError> {
    let data = read(path)?;
    let file = parse(path, &data)?;
    let (format, arch) = expected(triple)?;
    if file.format() != format || file.architecture() != arch {
        return Err(InspectError::WrongTarget {
            path: path.to_path_buf(),
            triple: triple.to_string(),
            found: format!("{:?} {:?}", file.format(), file.architecture()),
            expected: format!("{format:?} {arch:?}"),
        });
    }
    descriptor(path, &file)
}

fn read(path: &Path) -> Result<Vec<u8>, InspectError> {
    // A library to package is the author's own file: no ownership check.
    crate::tls::trusted_file::read(path, MAX_LIBRARY, false)
        .map_err(|e| InspectError::Unreadable { path: path.to_path_buf(), reason: e.to_string() })
}

fn parse<'d>(path: &Path, data: &'d [u8]) -> Result<object::File<'d>, InspectError> {
    let not_lib = |reason: String| InspectError::NotALibrary { path: path.to_path_buf(), reason };
    let file = object::File::parse(data).map_err(|e| not_lib(e.to_string()))?;
    if file.kind() != ObjectKind::Dynamic {
        return Err(not_lib(format!("it is a {:?} object, not a dynamic library", file.kind())));
    }
    Ok(file)
}

fn descriptor(path: &Path, file: &object::File<'_>) -> Result<LibraryInfo, InspectError> {
    let missing = |reason: String| InspectError::NoDescriptor { path: path.to_path_buf(), reason };
    let name = match file.format() {
        BinaryFormat::MachO => SECTION_MACHO,
        BinaryFormat::Pe | BinaryFormat::Coff => SECTION_PE,
        _ => SECTION_ELF,
    };
    let section = file.section_by_name(name).ok_or_else(|| missing(format!("no section {name}")))?;
    let bytes = section.data().map_err(|e| missing(format!("section {name}: {e}")))?;
    let d = Descriptor::parse(bytes).map_err(|e| missing(e.to_string()))?;
    Ok(LibraryInfo {
        abi_version: d.abi_version,
        fingerprint: d.fingerprint,
        crate_version: d.crate_version,
        classes: d.classes,
    })
}

/// The object format and architecture of libraries for target `triple`.
pub fn expected(triple: &str) -> Result<(BinaryFormat, Architecture), InspectError> {
    let arch_name = triple.split('-').next().unwrap_or_default();
    let arch = match arch_name {
        "x86_64" | "x86_64h" => Architecture::X86_64,
        "aarch64" | "arm64" | "arm64e" => Architecture::Aarch64,
        "i386" | "i486" | "i586" | "i686" => Architecture::I386,
        "s390x" => Architecture::S390x,
        "loongarch64" => Architecture::LoongArch64,
        "sparc64" => Architecture::Sparc64,
        "powerpc64" | "powerpc64le" => Architecture::PowerPc64,
        "powerpc" => Architecture::PowerPc,
        a if a.starts_with("riscv64") => Architecture::Riscv64,
        a if a.starts_with("riscv32") => Architecture::Riscv32,
        a if a.starts_with("arm") || a.starts_with("thumb") => Architecture::Arm,
        a if a.starts_with("mips64") => Architecture::Mips64,
        a if a.starts_with("mips") => Architecture::Mips,
        _ => return Err(InspectError::UnknownTarget(triple.to_string())),
    };
    let format = if triple.contains("-apple-") {
        BinaryFormat::MachO
    } else if triple.contains("-windows") {
        BinaryFormat::Pe
    } else {
        BinaryFormat::Elf
    };
    Ok((format, arch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_name_their_format_and_architecture() {
        assert_eq!(expected("x86_64-unknown-linux-gnu").unwrap(), (BinaryFormat::Elf, Architecture::X86_64));
        assert_eq!(expected("aarch64-apple-darwin").unwrap(), (BinaryFormat::MachO, Architecture::Aarch64));
        assert_eq!(expected("x86_64-pc-windows-msvc").unwrap(), (BinaryFormat::Pe, Architecture::X86_64));
        assert_eq!(expected("riscv64gc-unknown-linux-gnu").unwrap().1, Architecture::Riscv64);
        assert!(matches!(expected("quantum-unknown-none"), Err(InspectError::UnknownTarget(_))));
    }

    #[test]
    fn a_file_that_is_no_library_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libx.so");
        std::fs::write(&path, b"\x7fELF but not really").unwrap();
        assert!(matches!(inspect_library(&path), Err(InspectError::NotALibrary { .. })));
    }
}
