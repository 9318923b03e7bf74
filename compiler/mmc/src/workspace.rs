//! Finding the policy repository, reading it into a `FileSet`, asking git about it, and writing
//! outputs atomically.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use mmc_compiler::diag::Diagnostic;
use mmc_compiler::load::{
    ITEMS_DIR, MANIFESTS_DIR, PROFILES_DIR, REPO_FILE, TESTS_DIR, UPDATES_DIR,
};
use mmc_compiler::source::FileSet;

/// The repository root: `--repo`, or the nearest directory upward holding `mmc.yaml`.
pub fn find_repo(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        if !dir.join(REPO_FILE).is_file() {
            bail!(
                "{} has no {REPO_FILE}; is it a policy repository? (`mmc init DIR` creates one)",
                dir.display()
            );
        }
        return Ok(dir.to_path_buf());
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    for dir in cwd.ancestors() {
        if dir.join(REPO_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "no {REPO_FILE} in {} or any parent directory; pass --repo DIR, or run `mmc init DIR` to create a repository",
        cwd.display()
    )
}

/// Reads `mmc.yaml`, `policies/` and `profiles/` into memory. Problems with individual files
/// (symlinks, non-UTF-8 text) become diagnostics; I/O failures are errors.
pub fn read_files(root: &Path, diags: &mut Vec<Diagnostic>) -> Result<FileSet> {
    let mut files = FileSet::new();
    let mut paths = Vec::new();
    paths.push(root.join(REPO_FILE));
    for dir in POLICY_DIRS {
        let dir = root.join(dir);
        // A linked policy folder would pull files from outside the repository: report it below.
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            paths.push(dir);
        } else {
            walk(&dir, &mut paths)?;
        }
    }
    paths.sort();
    for path in paths {
        let rel = path.strip_prefix(root).expect("walked below the root");
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if meta.file_type().is_symlink() {
            diags.push(symlink_problem(&rel));
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        add_file(&mut files, rel, bytes, diags);
    }
    Ok(files)
}

/// The folders below the repository root whose `.yaml`/`.yml` files are policies (besides
/// `mmc.yaml`). The work tree and a git revision (`mmc diff`) are read with the same selection.
pub const POLICY_DIRS: [&str; 5] = [
    ITEMS_DIR,
    MANIFESTS_DIR,
    PROFILES_DIR,
    TESTS_DIR,
    UPDATES_DIR,
];

/// Whether a file name below a policy folder is read: `.yaml` or `.yml`, not hidden.
pub fn is_policy_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// A symbolic link where a policy file or folder would be.
pub fn symlink_problem(rel: &str) -> Diagnostic {
    Diagnostic::error(
        "symlink",
        format!("{rel} is a symbolic link; mmc does not follow links in a policy repository"),
    )
    .help("policy files must be regular files: a link could pull a file from outside the repository into a signed bundle")
}

/// Adds one policy file's bytes: UTF-8 text, a leading byte-order mark dropped.
pub fn add_file(files: &mut FileSet, rel: String, bytes: Vec<u8>, diags: &mut Vec<Diagnostic>) {
    match String::from_utf8(bytes) {
        Ok(text) => {
            let text = text
                .strip_prefix('\u{feff}')
                .map(str::to_owned)
                .unwrap_or(text);
            files.insert(rel, text);
        }
        Err(_) => diags.push(
            Diagnostic::error("not-utf8", format!("{rel} is not UTF-8 text"))
                .help("save the file as UTF-8"),
        ),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_symlink() {
            out.push(path); // refused by the caller, whatever it points at
        } else if ft.is_dir() {
            walk(&path, out)?;
        } else if is_policy_name(&name) {
            out.push(path);
        }
    }
    Ok(())
}

fn git(root: &Path, args: &[&str]) -> Option<std::process::Output> {
    Command::new("git")
        .env_remove(crate::commands::KEY_ENV)
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()
}

/// The repository root's path inside its git checkout, with a trailing `/` (`""` at the top, or
/// outside git).
pub fn checkout_prefix(root: &Path) -> String {
    git(root, &["rev-parse", "--show-prefix"])
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The top of the git work tree holding `root` (`None` outside git).
pub fn work_tree_top(root: &Path) -> Option<PathBuf> {
    let out = git(root, &["rev-parse", "--show-toplevel"]).filter(|o| o.status.success())?;
    let top = String::from_utf8(out.stdout).ok()?;
    std::fs::canonicalize(top.trim_end_matches('\n')).ok()
}

/// Committer time of HEAD, in Unix seconds, if `root` is in a git work tree with a commit.
pub fn head_commit_time(root: &Path) -> Option<i64> {
    let out = git(root, &["log", "-1", "--format=%ct", "HEAD"])?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// Whether policy files differ from HEAD (uncommitted or untracked changes).
pub fn has_uncommitted_policy_changes(root: &Path) -> bool {
    git(
        root,
        &[
            "status",
            "--porcelain",
            "--",
            REPO_FILE,
            "policies",
            "profiles",
        ],
    )
    .is_some_and(|o| o.status.success() && !o.stdout.is_empty())
}

/// Runs git in the directory holding `path`, with `path`'s file name as the last argument.
fn git_about(path: &Path, args: &[&str]) -> Option<std::process::Output> {
    let name = path.file_name()?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Command::new("git")
        .env_remove(crate::commands::KEY_ENV)
        .arg("-C")
        .arg(dir)
        .args(args)
        .arg(name)
        .output()
        .ok()
}

/// Whether git tracks `path` (in whatever repository contains it). Fails closed: when git runs
/// but cannot answer (e.g. "dubious ownership"), that is an error, not a "no".
pub fn is_tracked_by_git(path: &Path) -> Result<bool> {
    let Some(out) = git_about(path, &["ls-files", "--error-unmatch", "--"]) else {
        return Ok(false); // no git on this machine: nothing can be tracked by it here
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ if stderr.contains("not a git repository") => Ok(false),
        _ => bail!(
            "cannot tell whether git tracks {} (git said: {}); fix git's complaint, then build again",
            path.display(),
            stderr.trim()
        ),
    }
}

/// Whether `path` lies in a git work tree and is not ignored there (so `git add .` would take it).
pub fn is_inside_repo_unignored(path: &Path) -> bool {
    // `check-ignore` exits 0 when ignored, 1 when not ignored, 128 outside a work tree.
    git_about(path, &["check-ignore", "-q", "--"]).is_some_and(|o| o.status.code() == Some(1))
}

/// Writes `bytes` to `dest` through a temporary file in the same directory and a rename, so
/// readers see the old file or the new one, never a part.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    stage(dest, bytes, mode)?.commit()
}

/// A file written in full next to its destination, not yet visible under its name. Dropping it
/// removes it; [`Staged::commit`] renames it into place.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl Staged {
    pub fn commit(self) -> Result<()> {
        let dest = self.dest;
        self.tmp
            .persist(&dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        if let Some(dir) = dest.parent() {
            // Make the rename itself durable.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("cannot sync {}", dir.display()))?;
        }
        Ok(())
    }
}

/// Writes `bytes` to a synced temporary file in `dest`'s directory.
pub fn stage(dest: &Path, bytes: &[u8], mode: u32) -> Result<Staged> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = dest
        .parent()
        .context("destination has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".mmc-tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    Ok(Staged {
        tmp,
        dest: dest.to_path_buf(),
    })
}
