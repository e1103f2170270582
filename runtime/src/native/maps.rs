//! Is a library file still mapped into this process? Read from
//! `/proc/self/maps`, the ground truth after `dlclose`.

use std::path::Path;

/// The mappings of `/proc/self/maps` whose file is `path` (also when the
/// file was deleted since).
pub fn mappings_of(path: &Path) -> std::io::Result<Vec<String>> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    Ok(mappings_in(&maps, path))
}

/// The lines of a maps text whose file is `path`.
pub fn mappings_in(maps: &str, path: &Path) -> Vec<String> {
    let want = path.to_string_lossy();
    let deleted = format!("{want} (deleted)");
    maps.lines()
        .filter(|line| {
            // address perms offset dev inode pathname; the path may contain spaces.
            let name = line.splitn(6, char::is_whitespace).nth(5).map(str::trim_start);
            name.is_some_and(|n| n == want || n == deleted)
        })
        .map(str::to_string)
        .collect()
}

/// How many distinct files are mapped into this process.
pub fn mapped_file_count() -> std::io::Result<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut files: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.splitn(6, char::is_whitespace).nth(5).map(str::trim_start))
        .filter(|n| n.starts_with('/'))
        .collect();
    files.sort_unstable();
    files.dedup();
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_by_exact_path_and_deleted_suffix() {
        let maps = "7f00-7f10 r-xp 00000000 08:01 42   /tmp/a/libfoo.so\n\
                    7f10-7f20 r--p 00000000 08:01 42   /tmp/a/libfoo.so (deleted)\n\
                    7f20-7f30 r--p 00000000 08:01 43   /tmp/a/libfoo.so.bak\n\
                    7f30-7f40 rw-p 00000000 00:00 0 \n";
        assert_eq!(mappings_in(maps, Path::new("/tmp/a/libfoo.so")).len(), 2);
        assert!(mappings_in(maps, Path::new("/tmp/a/libbar.so")).is_empty());
    }
}
