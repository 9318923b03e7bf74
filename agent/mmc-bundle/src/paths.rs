//! Path rules shared by the writer and the extractor, so anything the writer accepts extracts.

use std::collections::BTreeMap;

use crate::{MAX_COMPONENT_BYTES, MAX_PATH_BYTES};

/// Why a path is not allowed inside a bundle archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("path is not valid UTF-8")]
    NotUtf8,
    #[error("path is empty")]
    Empty,
    #[error("path is {len} bytes long, over the {MAX_PATH_BYTES}-byte limit")]
    TooLong { len: usize },
    #[error("absolute paths are not allowed")]
    Absolute,
    #[error("empty path component (\"//\" or a trailing \"/\") is not allowed")]
    EmptyComponent,
    #[error("path component {0:?} is not allowed")]
    DotComponent(String),
    #[error("path component is {len} bytes long, over the {MAX_COMPONENT_BYTES}-byte limit")]
    ComponentTooLong { len: usize },
    #[error("character {0:?} is not allowed (only A-Z a-z 0-9 . _ - and / between components)")]
    BadChar(char),
    #[error("\"index.json\" at the top level is reserved for the bundle index")]
    Reserved,
}

/// Checks one archive path (without a trailing `/`).
pub(crate) fn check_path(path: &str) -> Result<(), PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathProblem::TooLong { len: path.len() });
    }
    if path.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(PathProblem::EmptyComponent);
        }
        if component == "." || component == ".." {
            return Err(PathProblem::DotComponent(component.to_owned()));
        }
        if component.len() > MAX_COMPONENT_BYTES {
            return Err(PathProblem::ComponentTooLong {
                len: component.len(),
            });
        }
        if let Some(bad) = component
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(PathProblem::BadChar(bad));
        }
    }
    Ok(())
}

/// Why a (valid) path cannot join the set of paths already in an archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Clash {
    #[error("duplicate entry")]
    Duplicate,
    #[error(
        "collides with {other:?} (the names differ only in case; macOS file systems ignore case)"
    )]
    CaseCollision { other: String },
    #[error("its parent {parent:?} is a file")]
    ParentIsFile { parent: String },
    #[error("a directory of the same name already exists")]
    FileOverDirectory,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    /// Listed as a directory entry.
    Dir,
    /// Only exists as the parent of another entry.
    ImplicitDir,
}

/// The set of paths in an archive, keyed case-insensitively (APFS and HFS+ default to
/// case-insensitive names, so `A.json` and `a.json` would be one file on a Mac).
#[derive(Default)]
pub(crate) struct Namespace {
    names: BTreeMap<String, (String, Kind)>,
}

impl Namespace {
    /// Adds `path` (already checked by [`check_path`]) and returns the directories that now have
    /// to exist and did not before, parents first (for a directory entry, possibly itself).
    pub(crate) fn insert(&mut self, path: &str, is_dir: bool) -> Result<Vec<String>, Clash> {
        let mut new_dirs = Vec::new();
        for (slash, _) in path.match_indices('/') {
            let parent = &path[..slash];
            match self.names.get(&parent.to_ascii_lowercase()) {
                Some((_, Kind::File)) => {
                    return Err(Clash::ParentIsFile {
                        parent: parent.to_owned(),
                    });
                }
                Some((seen, _)) if seen != parent => {
                    return Err(Clash::CaseCollision {
                        other: seen.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    self.names.insert(
                        parent.to_ascii_lowercase(),
                        (parent.to_owned(), Kind::ImplicitDir),
                    );
                    new_dirs.push(parent.to_owned());
                }
            }
        }
        let key = path.to_ascii_lowercase();
        match self.names.get_mut(&key) {
            None => {
                let kind = if is_dir { Kind::Dir } else { Kind::File };
                self.names.insert(key, (path.to_owned(), kind));
                if is_dir {
                    new_dirs.push(path.to_owned());
                }
                Ok(new_dirs)
            }
            Some((seen, _)) if seen != path => Err(Clash::CaseCollision {
                other: seen.clone(),
            }),
            // A directory entry that comes after entries inside it: it already exists.
            Some((_, kind @ Kind::ImplicitDir)) if is_dir => {
                *kind = Kind::Dir;
                Ok(new_dirs)
            }
            Some((_, Kind::ImplicitDir)) => Err(Clash::FileOverDirectory),
            Some(_) => Err(Clash::Duplicate),
        }
    }
}
