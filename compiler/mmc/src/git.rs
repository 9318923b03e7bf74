//! Reading a policy repository as it was at a git revision, straight from the object database
//! (gix): no checkout, no network, no `git` process. The files are chosen exactly as the work
//! tree's are (`workspace::read_files`).

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use mmc_compiler::diag::Diagnostic;
use mmc_compiler::load::REPO_FILE;
use mmc_compiler::source::FileSet;

use crate::workspace::{self, POLICY_DIRS};

/// The git repository around a policy repository.
pub struct Git {
    repo: gix::Repository,
    /// The policy repository's folder inside the work tree: `""` at the top, else `dir/sub/`.
    prefix: String,
}

/// A commit, resolved.
pub struct Revision {
    /// What the user asked for, or how the default was found.
    pub name: String,
    pub id: gix::ObjectId,
    /// Abbreviated id (7 hex digits).
    pub short: String,
    /// Committer time, Unix seconds: the bundle version `mmc build` gives this commit.
    pub time: i64,
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

impl Git {
    /// The repository whose work tree holds `root`.
    pub fn open(root: &Path) -> Result<Git> {
        let repo = gix::discover(root).map_err(|e| {
            anyhow!(
                "{} is not in a git repository ({e}); mmc diff compares git revisions",
                root.display()
            )
        })?;
        let workdir = repo
            .workdir()
            .context("the git repository has no work tree (a bare repository)")?;
        let top = std::fs::canonicalize(workdir)
            .with_context(|| format!("cannot read {}", workdir.display()))?;
        let here = std::fs::canonicalize(root)
            .with_context(|| format!("cannot read {}", root.display()))?;
        let rel = here.strip_prefix(&top).with_context(|| {
            format!(
                "{} is outside git's work tree {}",
                here.display(),
                top.display()
            )
        })?;
        let mut prefix = String::new();
        for c in rel.components() {
            prefix.push_str(&c.as_os_str().to_string_lossy());
            prefix.push('/');
        }
        Ok(Git { repo, prefix })
    }

    /// A revision as `git rev-parse` reads it (`main`, `origin/main`, `HEAD~2`, a commit id).
    pub fn resolve(&self, spec: &str) -> Result<Revision> {
        let id = self
            .repo
            .rev_parse_single(spec)
            .map_err(|e| anyhow!("cannot resolve the revision `{spec}`: {e}"))?;
        let commit = id
            .object()
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| anyhow!("`{spec}` does not name a commit: {e}"))?;
        self.revision(spec.to_owned(), commit)
    }

    fn revision(&self, name: String, commit: gix::Commit<'_>) -> Result<Revision> {
        let time = commit.time().map_err(err)?.seconds;
        Ok(Revision {
            name,
            id: commit.id,
            short: commit.id.to_hex_with_len(7).to_string(),
            time,
        })
    }

    /// HEAD's commit, if there is one.
    pub fn head(&self) -> Result<Option<Revision>> {
        match self.repo.head_commit() {
            Ok(c) => Ok(Some(self.revision("HEAD".to_owned(), c)?)),
            Err(_) if self.repo.head_id().is_err() => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// The default base: where HEAD branched off the default branch (`origin/HEAD`, else
    /// `origin/main`, `origin/master`, `main`, `master`).
    pub fn default_base(&self) -> Result<Revision> {
        let head = self
            .head()?
            .context("the repository has no commits yet; commit once, then compare")?;
        let mut branch = None;
        if let Ok(Some(r)) = self.repo.try_find_reference("refs/remotes/origin/HEAD") {
            let target = r.follow().and_then(Result::ok).unwrap_or(r);
            branch = Some(target);
        }
        for name in [
            "refs/remotes/origin/main",
            "refs/remotes/origin/master",
            "refs/heads/main",
            "refs/heads/master",
        ] {
            if branch.is_some() {
                break;
            }
            branch = self.repo.try_find_reference(name).ok().flatten();
        }
        let Some(mut branch) = branch else {
            bail!(
                "cannot tell the default branch (no origin/HEAD, origin/main, main or master); name BASE, e.g. `mmc diff HEAD~1`"
            );
        };
        let shown = branch.name().shorten().to_string();
        let tip = branch.peel_to_id().map_err(err)?.detach();
        let base = self
            .repo
            .merge_base(tip, head.id)
            .map_err(err)?
            .with_context(|| {
                format!("HEAD and {shown} have no common history; name BASE explicitly")
            })?;
        let commit = self.repo.find_commit(base).map_err(err)?;
        self.revision(format!("merge-base with {shown}"), commit)
    }

    /// The policy files of the repository at `rev`, selected as in the work tree.
    pub fn files(&self, rev: &Revision, diags: &mut Vec<Diagnostic>) -> Result<FileSet> {
        let commit = self.repo.find_commit(rev.id).map_err(err)?;
        let tree = commit.tree().map_err(err)?;
        let mut files = FileSet::new();
        for wanted in std::iter::once(REPO_FILE).chain(POLICY_DIRS) {
            let path = format!("{}{wanted}", self.prefix);
            let Some(entry) = tree.lookup_entry_by_path(&path).map_err(err)? else {
                continue;
            };
            let mode = entry.mode();
            if mode.is_link() {
                diags.push(workspace::symlink_problem(wanted));
            } else if wanted == REPO_FILE {
                if mode.is_blob() {
                    let blob = self.repo.find_blob(entry.object_id()).map_err(err)?;
                    workspace::add_file(&mut files, wanted.to_owned(), blob.data.clone(), diags);
                }
            } else if mode.is_tree() {
                self.walk(entry.object_id(), wanted, &mut files, diags)?;
            }
        }
        Ok(files)
    }

    fn walk(
        &self,
        tree: gix::ObjectId,
        dir: &str,
        files: &mut FileSet,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<()> {
        let tree = self.repo.find_tree(tree).map_err(err)?;
        for entry in tree.iter() {
            let entry = entry.map_err(err)?;
            let name = entry.filename().to_string();
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{dir}/{name}");
            let mode = entry.mode();
            if mode.is_link() {
                diags.push(workspace::symlink_problem(&rel));
            } else if mode.is_tree() {
                self.walk(entry.oid().to_owned(), &rel, files, diags)?;
            } else if mode.is_blob() && workspace::is_policy_name(&name) {
                let blob = self.repo.find_blob(entry.oid().to_owned()).map_err(err)?;
                workspace::add_file(files, rel, blob.data.clone(), diags);
            }
        }
        Ok(())
    }
}
