//! The deterministic archive writer (feature `sign`).

use flate2::{Compression, GzBuilder};
use std::collections::BTreeMap;

use crate::paths::{Clash, Namespace, PathProblem, check_path};
use crate::{
    FORMAT_VERSION, FileEntry, INDEX_PATH, Index, MAX_ARCHIVE_BYTES, MAX_ENTRIES, MAX_FILE_BYTES,
    MAX_TOTAL_BYTES, sha256_hex,
};

/// Fixed modification time of every entry (1 rather than 0, which some tools treat as "unset").
const ENTRY_MTIME: u64 = 1;

/// Why an archive could not be written. The writer refuses anything the extractor would refuse.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("file {path:?}: {problem}")]
    BadPath { path: String, problem: PathProblem },
    #[error("file {path:?}: {clash}")]
    Clash { path: String, clash: Clash },
    #[error("file {path:?} is {size} bytes, over the per-file limit of {limit} bytes")]
    FileTooLarge { path: String, size: u64, limit: u64 },
    #[error("files total {size} bytes, over the limit of {limit} bytes")]
    TotalTooLarge { size: u64, limit: u64 },
    #[error("{count} files is over the limit of {limit} entries (index.json included)")]
    TooManyFiles { count: usize, limit: usize },
    #[error("compressed archive is {size} bytes, over the limit of {limit} bytes")]
    ArchiveTooLarge { size: u64, limit: u64 },
    #[error("cannot write archive: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes a deterministic `.tar.gz`: `index.json` first, then `files` in byte order of path.
///
/// Regular files only (no directory entries); ustar headers with mode 0644, uid/gid 0, empty
/// user and group names, mtime 1; a path too long for a ustar header is carried by a GNU
/// `././@LongLink` entry. gzip: level 9, mtime 0, no file name, OS byte 255.
pub fn write_archive(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, WriteError> {
    if files.len() + 1 > MAX_ENTRIES {
        return Err(WriteError::TooManyFiles {
            count: files.len() + 1,
            limit: MAX_ENTRIES,
        });
    }
    let mut names = Namespace::default();
    names
        .insert(INDEX_PATH, false)
        .expect("the first name cannot clash");
    let mut entries = Vec::with_capacity(files.len());
    for (path, data) in files {
        let bad_path = |problem| WriteError::BadPath {
            path: path.clone(),
            problem,
        };
        check_path(path).map_err(bad_path)?;
        if path.eq_ignore_ascii_case(INDEX_PATH) {
            return Err(bad_path(PathProblem::Reserved));
        }
        names
            .insert(path, false)
            .map_err(|clash| WriteError::Clash {
                path: path.clone(),
                clash,
            })?;
        let size = data.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(WriteError::FileTooLarge {
                path: path.clone(),
                size,
                limit: MAX_FILE_BYTES,
            });
        }
        entries.push(FileEntry {
            path: path.clone(),
            size,
            sha256: sha256_hex(data),
        });
    }

    let index = Index {
        format: FORMAT_VERSION,
        files: entries,
    };
    let mut index_json = serde_json::to_vec_pretty(&index).expect("an Index always serializes");
    index_json.push(b'\n');
    let index_size = index_json.len() as u64;
    if index_size > MAX_FILE_BYTES {
        return Err(WriteError::FileTooLarge {
            path: INDEX_PATH.to_owned(),
            size: index_size,
            limit: MAX_FILE_BYTES,
        });
    }
    let total = index.files.iter().map(|f| f.size).sum::<u64>() + index_size;
    if total > MAX_TOTAL_BYTES {
        return Err(WriteError::TotalTooLarge {
            size: total,
            limit: MAX_TOTAL_BYTES,
        });
    }

    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(9));
    let mut tar = tar::Builder::new(gz);
    append(&mut tar, INDEX_PATH, &index_json)?;
    for (path, data) in files {
        append(&mut tar, path, data)?;
    }
    let out = tar.into_inner()?.finish()?;
    if out.len() as u64 > MAX_ARCHIVE_BYTES {
        return Err(WriteError::ArchiveTooLarge {
            size: out.len() as u64,
            limit: MAX_ARCHIVE_BYTES,
        });
    }
    Ok(out)
}

fn append<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: &[u8],
) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(ENTRY_MTIME);
    header.set_username("")?;
    header.set_groupname("")?;
    // Sets the path (or emits a GNU long-name entry first) and the checksum.
    tar.append_data(&mut header, path, data)
}
