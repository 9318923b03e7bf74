//! Running the scripts of an item (Munki's check, install and uninstall scripts).
//!
//! A script is written to a private temporary file and run by the interpreter its `#!` line
//! names (which `--commands DIR` may replace with a stand-in of the same name), with a timeout,
//! a clean environment, and its output kept for the log. Like Munki, a script that cannot be
//! written or started reports exit status -1.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::platform::{Output, Runner};

/// What one script run produced.
#[derive(Clone, Debug)]
pub struct ScriptRun {
    /// The exit status, or -1 when the script could not run or a signal ended it.
    pub status: i32,
    pub output: Output,
    /// Why it could not run, when it could not.
    pub error: Option<String>,
}

impl ScriptRun {
    /// A short account for the log and report: status and the last line of output.
    pub fn summary(&self) -> String {
        match &self.error {
            Some(e) => e.clone(),
            None => self.output.failure(),
        }
    }
}

/// Runs scripts in `scratch`, a directory only root can read.
pub struct Scripts<'a> {
    pub runner: &'a Runner,
    pub scratch: PathBuf,
    pub timeout: Duration,
}

impl Scripts<'_> {
    /// Runs `text` as item `item`'s `role` script (`installcheck_script`, …).
    pub fn run(&self, item: &str, role: &str, text: &str) -> ScriptRun {
        match self.try_run(item, role, text) {
            Ok(output) => ScriptRun {
                status: if output.timed_out {
                    -1
                } else {
                    output.status.unwrap_or(-1)
                },
                output,
                error: None,
            },
            Err(error) => ScriptRun {
                status: -1,
                output: Output::default(),
                error: Some(error),
            },
        }
    }

    fn try_run(&self, item: &str, role: &str, text: &str) -> Result<Output, String> {
        let (interpreter, argument) = shebang(text)?;
        // Only the agent may enter the directory a script is written to; otherwise someone could
        // swap the file between its writing and its running.
        crate::platform::private_dir(&self.scratch)
            .map_err(|e| format!("cannot use {} for scripts: {e}", self.scratch.display()))?;
        let path = self
            .scratch
            .join(format!("{}.{role}.{}", safe(item), std::process::id()));
        let _ = fs::remove_file(&path);
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o700)
                .open(&path)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&path);
            return Err(format!(
                "cannot write the script to {}: {e}",
                path.display()
            ));
        }
        let program = self.runner.interpreter(interpreter);
        let mut args: Vec<&std::ffi::OsStr> = Vec::new();
        if let Some(argument) = argument {
            args.push(argument.as_ref());
        }
        args.push(path.as_os_str());
        let result = self.runner.run(
            &program,
            &args,
            &[("MMC_ITEM", item), ("MMC_SCRIPT", role)],
            self.timeout,
        );
        let _ = fs::remove_file(&path);
        result
    }
}

/// The interpreter and its one optional argument from a script's `#!` line, as the kernel
/// reads it.
pub fn shebang(text: &str) -> Result<(&str, Option<&str>), String> {
    let line = text
        .strip_prefix("#!")
        .ok_or("the script does not start with a #! line naming its interpreter")?
        .lines()
        .next()
        .unwrap_or("")
        .trim();
    let (interpreter, argument) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (i, Some(a.trim()).filter(|a| !a.is_empty())),
        None => (line, None),
    };
    if !Path::new(interpreter).is_absolute() {
        return Err(format!(
            "the #! line names {interpreter:?}, not an absolute path"
        ));
    }
    Ok((interpreter, argument))
}

/// An item name as a file name component.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::platform::Root;

    #[test]
    fn shebang_lines() {
        assert_eq!(shebang("#!/bin/sh\nexit 0").unwrap(), ("/bin/sh", None));
        assert_eq!(
            shebang("#!/bin/zsh --no-rcs\n").unwrap(),
            ("/bin/zsh", Some("--no-rcs"))
        );
        assert_eq!(
            shebang("#! /usr/bin/env python3\n").unwrap(),
            ("/usr/bin/env", Some("python3"))
        );
        assert!(shebang("echo hi").is_err());
        assert!(shebang("#!sh\n").is_err());
    }

    #[test]
    fn scripts_are_never_written_where_others_can_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let runner = Runner::new(&root, &BTreeMap::new(), None, None);
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let scripts = Scripts {
            runner: &runner,
            scratch: shared.clone(),
            timeout: Duration::from_secs(10),
        };
        // A directory of the agent's own is tightened to 0700 before use.
        let run = scripts.run("x", "installcheck_script", "#!/bin/sh\nexit 0\n");
        assert_eq!(run.status, 0);
        assert_eq!(
            fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // A symlink is refused, whatever it points at.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&shared, &link).unwrap();
        let scripts = Scripts {
            runner: &runner,
            scratch: link,
            timeout: Duration::from_secs(10),
        };
        let run = scripts.run("x", "installcheck_script", "#!/bin/sh\nexit 0\n");
        assert_eq!(run.status, -1);
        assert!(
            run.summary().contains("not a directory of the agent's own"),
            "{}",
            run.summary()
        );
    }

    #[test]
    fn scripts_run_with_their_item_and_role_and_report_status() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let runner = Runner::new(&root, &BTreeMap::new(), None, None);
        let scripts = Scripts {
            runner: &runner,
            scratch: dir.path().join("scratch"),
            timeout: Duration::from_secs(10),
        };
        let run = scripts.run(
            "My Item",
            "installcheck_script",
            "#!/bin/sh\necho \"$MMC_ITEM/$MMC_SCRIPT\"\nexit 4\n",
        );
        assert_eq!(run.status, 4);
        assert_eq!(
            run.output.stdout_text().trim(),
            "My Item/installcheck_script"
        );
        let fails = scripts.run("x", "postinstall_script", "no shebang\n");
        assert_eq!(fails.status, -1);
        assert!(fails.summary().contains("#!"), "{}", fails.summary());
        // Scripts leave nothing behind.
        assert_eq!(fs::read_dir(dir.path().join("scratch")).unwrap().count(), 0);
    }
}
