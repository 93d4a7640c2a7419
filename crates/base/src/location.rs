//! Where an input lives: a local path, or an object in a store (`s3://`, `az://`/`abfs://`,
//! `gs://`, `http(s)://`) carried as a `PathBuf` holding the URI.

use std::path::Path;

/// Schemes read through an object store (everything else is a local path or `file://`).
const SCHEMES: &[&str] = &[
    "s3", "s3a", "az", "azure", "abfs", "abfss", "adl", "gs", "http", "https",
];

/// The URI a path holds when it names an object rather than a local file.
pub fn remote(path: &Path) -> Option<&str> {
    let text = path.to_str()?;
    let (scheme, _) = text.split_once("://")?;
    SCHEMES
        .contains(&scheme.to_ascii_lowercase().as_str())
        .then_some(text)
}

/// Whether a configured location (`paths.raw_dir`, a source URI) is an object-store URI.
pub fn is_remote(uri: &str) -> bool {
    remote(Path::new(uri)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_are_told_apart() {
        assert_eq!(
            remote(Path::new("s3://b/raw/x.csv")),
            Some("s3://b/raw/x.csv")
        );
        assert!(is_remote("az://c/raw") && is_remote("abfs://c@a.dfs.core.windows.net/x"));
        assert!(is_remote("gs://b/x") && is_remote("https://h/x.csv"));
        assert!(!is_remote("data/raw") && !is_remote("/abs/x.csv") && !is_remote("file:///x"));
    }
}
