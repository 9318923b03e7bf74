//! The strict extractor (security.md §2.4). Never uses `tar::Archive::unpack`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::Digest as _;
use tar::EntryType;

use crate::paths::{Clash, Namespace, PathProblem, check_path};
use crate::{
    FORMAT_VERSION, INDEX_PATH, Index, MAX_ARCHIVE_BYTES, MAX_ENTRIES, MAX_FILE_BYTES,
    MAX_TOTAL_BYTES, hex, is_sha256_hex, one_line,
};

/// Zero padding tolerated after the tar end-of-archive marker (tar pads to 10 KiB records).
const MAX_TAIL_BYTES: u64 = 64 * 1024;
/// Cap on the decompressed tar stream: file data plus generous per-entry header overhead.
const MAX_TAR_BYTES: u64 = MAX_TOTAL_BYTES + (MAX_ENTRIES as u64 + 2) * 4096 + MAX_TAIL_BYTES;

/// An archive extracted into `dir`, with its (verified) index.
#[derive(Debug)]
pub struct Extracted {
    pub dir: PathBuf,
    pub index: Index,
}

/// Why an archive was refused. Nothing is left on disk after any of these.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("destination {} already exists", .0.display())]
    DestinationExists(PathBuf),
    #[error("destination {} is not a usable directory path", .0.display())]
    BadDestination(PathBuf),
    #[error("archive is {size} bytes, over the {limit}-byte limit")]
    ArchiveTooLarge { size: u64, limit: u64 },
    #[error("archive is corrupt or truncated: {0}")]
    Corrupt(String),
    #[error("entry {path:?}: {problem}")]
    BadPath { path: String, problem: PathProblem },
    #[error("entry {path:?}: {kind} entries are not allowed (only regular files and directories)")]
    EntryType { path: String, kind: String },
    #[error("entry {path:?}: {clash}")]
    Clash { path: String, clash: Clash },
    #[error("entry {path:?} is {size} bytes, over the per-file limit of {limit} bytes")]
    FileTooLarge { path: String, size: u64, limit: u64 },
    #[error("archive files total more than the limit of {limit} bytes")]
    TotalTooLarge { limit: u64 },
    #[error("archive decompresses to more than {limit} bytes")]
    DecompressedTooLarge { limit: u64 },
    #[error("archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("entry {path:?}: directory entry carries {size} bytes of data")]
    DirectoryWithData { path: String, size: u64 },
    #[error("first entry is {found:?}, but every bundle archive must start with {INDEX_PATH:?}")]
    IndexNotFirst { found: String },
    #[error("archive is empty (it must start with {INDEX_PATH:?})")]
    Empty,
    #[error("index.json is invalid: {0}")]
    BadIndex(String),
    #[error("file {path:?} is in the archive but not listed in index.json")]
    UnlistedFile { path: String },
    #[error("file {path:?} is listed in index.json but missing from the archive")]
    MissingFile { path: String },
    #[error("file {path:?} is {actual} bytes but index.json says {listed}")]
    SizeMismatch {
        path: String,
        listed: u64,
        actual: u64,
    },
    #[error("file {path:?}: SHA-256 does not match index.json (listed {listed}, got {actual})")]
    HashMismatch {
        path: String,
        listed: String,
        actual: String,
    },
    #[error("unexpected data after the end of the tar archive")]
    TrailingData,
    #[error("{count} trailing bytes after the gzip member")]
    TrailingBytes { count: usize },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Extracts a (verified) archive into `dest`, which must not exist yet.
///
/// Everything is written into a fresh staging directory next to `dest`, checked against
/// `index.json`, then renamed to `dest`. On any error the staging directory is removed.
pub fn extract(archive: &[u8], dest: &Path) -> Result<Extracted, ExtractError> {
    let size = archive.len() as u64;
    if size > MAX_ARCHIVE_BYTES {
        return Err(ExtractError::ArchiveTooLarge {
            size,
            limit: MAX_ARCHIVE_BYTES,
        });
    }
    if dest.symlink_metadata().is_ok() {
        return Err(ExtractError::DestinationExists(dest.to_owned()));
    }
    let Some(name) = dest.file_name() else {
        return Err(ExtractError::BadDestination(dest.to_owned()));
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };

    let staging = Staging::create(parent, &name.to_string_lossy())?;
    let index = unpack(archive, &staging.path)?;
    set_dir_mode(&staging.path, 0o755).map_err(io_at(&staging.path))?;
    if dest.symlink_metadata().is_ok() {
        return Err(ExtractError::DestinationExists(dest.to_owned()));
    }
    fs::rename(&staging.path, dest).map_err(io_at(dest))?;
    staging.disarm();
    // Make the rename durable where the platform allows fsync on a directory.
    if let Ok(dir) = fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(Extracted {
        dir: dest.to_owned(),
        index,
    })
}

/// A staging directory that removes itself unless disarmed.
struct Staging {
    path: PathBuf,
    armed: bool,
}

impl Staging {
    fn create(parent: &Path, name: &str) -> Result<Staging, ExtractError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut attempts = 0;
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("{name}.staging-{}-{n}", std::process::id()));
            attempts += 1;
            match dir_builder(0o700).create(&path) {
                Ok(()) => return Ok(Staging { path, armed: true }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {}
                Err(e) => return Err(io_at(&path)(e)),
            }
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Iterates the archive into `root` and returns the checked index.
fn unpack(archive: &[u8], root: &Path) -> Result<Index, ExtractError> {
    let decoder = flate2::bufread::GzDecoder::new(archive);
    let mut tar = tar::Archive::new(decoder.take(MAX_TAR_BYTES));
    let mut state = State {
        root,
        names: Namespace::default(),
        index: None,
        extracted: BTreeSet::new(),
        entries: 0,
        total: 0,
    };
    for entry in tar.entries().map_err(corrupt)? {
        state.add(&mut entry.map_err(corrupt)?)?;
    }

    // The tar end marker was reached. What follows inside the gzip member may only be zero
    // padding, and nothing may follow the gzip member.
    let rest = tar.into_inner();
    if rest.limit() == 0 {
        return Err(ExtractError::DecompressedTooLarge {
            limit: MAX_TAR_BYTES,
        });
    }
    let mut decoder = rest.into_inner();
    let mut buf = [0u8; 8192];
    let mut tail = 0u64;
    loop {
        let n = decoder.read(&mut buf).map_err(corrupt)?;
        if n == 0 {
            break;
        }
        tail += n as u64;
        if tail > MAX_TAIL_BYTES || buf[..n].iter().any(|b| *b != 0) {
            return Err(ExtractError::TrailingData);
        }
    }
    let trailing = decoder.into_inner().len();
    if trailing > 0 {
        return Err(ExtractError::TrailingBytes { count: trailing });
    }

    let Some(index) = state.index else {
        return Err(ExtractError::Empty);
    };
    if let Some(missing) = index
        .files
        .iter()
        .find(|f| !state.extracted.contains(&f.path))
    {
        return Err(ExtractError::MissingFile {
            path: missing.path.clone(),
        });
    }
    Ok(index)
}

struct State<'a> {
    root: &'a Path,
    names: Namespace,
    index: Option<Index>,
    /// Files written so far (index.json excluded); each already matched its index entry.
    extracted: BTreeSet<String>,
    entries: usize,
    total: u64,
}

impl State<'_> {
    fn add<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ExtractError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(ExtractError::TooManyEntries { limit: MAX_ENTRIES });
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = one_line(&String::from_utf8_lossy(&raw_path));
        let is_dir = match entry.header().entry_type() {
            EntryType::Regular => false,
            EntryType::Directory => true,
            other => {
                return Err(ExtractError::EntryType {
                    path: shown,
                    kind: type_name(other),
                });
            }
        };

        let bad_path = |problem| ExtractError::BadPath {
            path: shown.clone(),
            problem,
        };
        let mut path = String::from_utf8(raw_path).map_err(|_| bad_path(PathProblem::NotUtf8))?;
        if is_dir && path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        check_path(&path).map_err(bad_path)?;

        if self.index.is_none() && (is_dir || path != INDEX_PATH) {
            return Err(ExtractError::IndexNotFirst { found: shown });
        }
        let new_dirs = self
            .names
            .insert(&path, is_dir)
            .map_err(|clash| ExtractError::Clash {
                path: path.clone(),
                clash,
            })?;

        let size = entry.size();
        if is_dir && size != 0 {
            return Err(ExtractError::DirectoryWithData { path, size });
        }
        if size > MAX_FILE_BYTES {
            return Err(ExtractError::FileTooLarge {
                path,
                size,
                limit: MAX_FILE_BYTES,
            });
        }
        self.total += size;
        if self.total > MAX_TOTAL_BYTES {
            return Err(ExtractError::TotalTooLarge {
                limit: MAX_TOTAL_BYTES,
            });
        }
        // Compare with the index before writing or even reading the data.
        let listed = match &self.index {
            None => None,
            Some(_) if is_dir => None,
            Some(index) => {
                let Ok(i) = index.files.binary_search_by(|f| f.path.as_str().cmp(&path)) else {
                    return Err(ExtractError::UnlistedFile { path });
                };
                let listed = &index.files[i];
                if listed.size != size {
                    return Err(ExtractError::SizeMismatch {
                        path,
                        listed: listed.size,
                        actual: size,
                    });
                }
                Some(listed.sha256.clone())
            }
        };

        for dir in &new_dirs {
            let target = self.root.join(dir);
            dir_builder(0o755).create(&target).map_err(io_at(&target))?;
        }
        if is_dir {
            return Ok(());
        }

        let target = self.root.join(&path);
        let is_index = self.index.is_none();
        let (sha256, data) = write_file(entry, size, &target, is_index)?;
        match (listed, data) {
            (_, Some(data)) => self.index = Some(parse_index(&data)?),
            (Some(listed), None) if listed != sha256 => {
                return Err(ExtractError::HashMismatch {
                    path,
                    listed,
                    actual: sha256,
                });
            }
            _ => {
                self.extracted.insert(path);
            }
        }
        Ok(())
    }
}

/// Copies exactly `size` bytes of `entry` into a new file at `target`, returning the SHA-256 (and
/// the bytes themselves when `keep` is set).
fn write_file(
    entry: &mut impl Read,
    size: u64,
    target: &Path,
    keep: bool,
) -> Result<(String, Option<Vec<u8>>), ExtractError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
    let mut file = options.open(target).map_err(io_at(target))?;

    let mut hasher = sha2::Sha256::new();
    let mut kept = keep.then(Vec::new);
    let mut buf = vec![0u8; 64 * 1024];
    let mut limited = entry.take(size);
    let mut copied = 0u64;
    loop {
        let n = limited.read(&mut buf).map_err(corrupt)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_at(target))?;
        if let Some(kept) = &mut kept {
            kept.extend_from_slice(&buf[..n]);
        }
        copied += n as u64;
    }
    if copied != size {
        return Err(ExtractError::Corrupt(format!(
            "entry {:?} ends after {copied} of {size} bytes",
            target.file_name().unwrap_or_default()
        )));
    }
    file.sync_all().map_err(io_at(target))?;
    Ok((hex(&hasher.finalize()), kept))
}

/// Parses and checks `index.json`: strict schema, format version, sorted unique valid paths.
fn parse_index(bytes: &[u8]) -> Result<Index, ExtractError> {
    let bad = ExtractError::BadIndex;
    let index: Index = serde_json::from_slice(bytes).map_err(|e| bad(one_line(&e.to_string())))?;
    if index.format != FORMAT_VERSION {
        return Err(bad(format!(
            "format {} is not supported (expected {FORMAT_VERSION})",
            index.format
        )));
    }
    for file in &index.files {
        check_path(&file.path).map_err(|p| bad(format!("{:?}: {p}", one_line(&file.path))))?;
        if file.path == INDEX_PATH {
            return Err(bad(format!("it lists {INDEX_PATH:?} itself")));
        }
        if !is_sha256_hex(&file.sha256) {
            return Err(bad(format!(
                "{:?}: sha256 must be 64 lowercase hex digits",
                file.path
            )));
        }
    }
    if let Some(pair) = index.files.windows(2).find(|w| w[0].path >= w[1].path) {
        return Err(bad(format!(
            "files are not sorted by path without duplicates ({:?} before {:?})",
            pair[0].path, pair[1].path
        )));
    }
    Ok(index)
}

fn type_name(kind: EntryType) -> String {
    match kind {
        EntryType::Symlink => "symbolic link".into(),
        EntryType::Link => "hard link".into(),
        EntryType::Char => "character device".into(),
        EntryType::Block => "block device".into(),
        EntryType::Fifo => "FIFO".into(),
        EntryType::Continuous => "contiguous file".into(),
        EntryType::GNUSparse => "GNU sparse file".into(),
        EntryType::XGlobalHeader => "PAX global header".into(),
        other => format!("type {:?}", other.as_byte() as char),
    }
}

fn corrupt(e: io::Error) -> ExtractError {
    ExtractError::Corrupt(one_line(&e.to_string()))
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ExtractError + '_ {
    move |source| ExtractError::Io {
        path: path.to_owned(),
        source,
    }
}

fn dir_builder(mode: u32) -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
    #[cfg(not(unix))]
    let _ = mode;
    builder
}

fn set_dir_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}
