use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit status: 0 success, 1 changes found (`mmc diff`) or a policy test failed (`mmc test`), 2 error
(invalid policies, I/O, git, usage).

Start with `mmc init DIR`, then `mmc check` while you edit, `mmc diff` to see what a change does,
and `mmc build` to produce signed bundles.";

/// Compile a macOS fleet policy repository into signed, reproducible bundles.
#[derive(Debug, Parser)]
#[command(name = "mmc", version, propagate_version = true, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Policy repository root [default: the nearest directory upward that holds mmc.yaml]
    #[arg(long, short = 'C', global = true, env = "MMC_REPO", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// How to print results and problems [default: github when GITHUB_ACTIONS=true, else human]
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// When to use colours in human output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text with source snippets
    Human,
    /// JSON: problems as JSON Lines; `build` and `diff` print one document on stdout
    Json,
    /// GitHub Actions annotations on the YAML lines
    Github,
    /// A pull-request comment (`diff`); other commands print as `human`
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new policy repository with a small working example
    Init(InitArgs),
    /// Validate every policy file and report all problems; writes nothing
    #[command(
        after_help = "Every problem in the repository is reported in one run, each with file, line and column. \
Exit status: 0 when there is no error (warnings allowed), 2 otherwise.\n\n\
Example (in CI):  mmc check --format github"
    )]
    Check,
    /// Compile, package and sign every bundle
    #[command(
        after_help = "Each bundle becomes OUT/bundles/NAME-VERSION.tar.gz with its signed envelope next to it \
(NAME-VERSION.tar.gz.sig). VERSION and the created time come from the commit (committer time of HEAD, \
or SOURCE_DATE_EPOCH), so rebuilding a commit gives byte-identical bundles. If any policy has an \
error, nothing is written.\n\n\
Examples:\n  mmc keygen --out ~/.mmc/dev        # once; keep the .key file out of the repo\n  mmc build --key ~/.mmc/dev.key\n  MMC_SIGNING_KEY=\"$(cat key.pem)\" mmc build --format json"
    )]
    Build(BuildArgs),
    /// Show what a policy change does to the compiled bundles, like `terraform plan`
    #[command(
        after_help = "Compiles both revisions offline (git objects are read directly: no checkout, no network) and \
compares the bundles they produce, so reordered keys, comments and quoting report \"No changes\". Per bundle it \
shows items created, updated, replaced or removed with their changed fields (scripts as unified diffs), manifest \
entries per list and condition, profile changes (update in place, or replace when macOS would reinstall), the \
manifests each item change reaches, and the bundle's version and SHA-256.\n\n\
BASE defaults to where HEAD branched off the default branch (origin/HEAD, origin/main, main); HEAD defaults to \
the work tree, uncommitted changes included.\n\n\
Exit status: 0 no changes, 1 changes, 2 error (a revision does not compile: its problems are printed under \
its name).\n\n\
Examples:\n  mmc diff                              # this branch's changes, work tree included\n  \
mmc diff HEAD~1 HEAD\n  mmc diff origin/main HEAD --format markdown > comment.md\n  \
mmc diff --facts fleet/ --manifest site_default   # which Macs' lists change (facts files from Macs)"
    )]
    Diff(DiffArgs),
    /// Show what a Mac with the given facts gets, and why
    #[command(
        after_help = "Resolves a bundle's manifest exactly as the agent (and Munki) would: included manifests, \
conditional items, the manifest's own items, then modifications. Each item is printed with the path that put it \
there.\n\n\
FILE may be YAML, JSON or a plist; a Munki ConditionalItems.plist or a ManagedInstallReport.plist (its \
Conditions) works as it is.\n\n\
Example:  mmc eval --facts laptop.yaml --bundle stable --manifest engineering"
    )]
    Eval(EvalArgs),
    /// Run the policy test cases in policies/tests/
    #[command(
        after_help = "Each case gives a Mac's facts and the items it must get; lists are compared as sets.\n\
Exit status: 0 all cases pass, 1 a case fails, 2 the policies have errors."
    )]
    Test,
    /// Sign the bundles `mmc build --unsigned` wrote, without reading any policy
    #[command(
        after_help = "For CI that keeps the signing key away from the job that compiles the repository: one job runs \
`mmc build --unsigned` and hands over its bundles folder; another, holding the key, runs `mmc sign`. Signing \
reads only the archives and their statements (NAME-VERSION.tar.gz.statement.json), never a policy or template. \
It checks that each archive is the one its statement describes and that the key is one of the repository's \
trusted keys (when it lists any), then writes NAME-VERSION.tar.gz.sig.\n\n\
Example:  MMC_SIGNING_KEY=\"$(cat key.pem)\" mmc sign build/bundles"
    )]
    Sign(SignArgs),
    /// Create an ed25519 signing key pair: PREFIX.key (private, mode 0600) and PREFIX.pub
    Keygen(KeygenArgs),
    /// Print the JSON Schema of a policy file kind, for editor completion and checking
    #[command(
        after_help = "Kinds: repo (mmc.yaml), items (policies/items/*.yaml), manifest (policies/manifests/**/*.yaml),\n\
profile (profiles/*.yaml), test (policies/tests/*.yaml), updates (policies/updates/*.yaml).\n\n\
Editors using yaml-language-server pick a schema from a first-line comment:\n  # yaml-language-server: $schema=../../build/schema/items.schema.json\n\
Write them all with:  mmc schema --out build/schema"
    )]
    Schema(SchemaArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create (or an empty existing one)
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Where to write bundles [default: REPO/build]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Private signing key (PKCS#8 PEM, mode 0600, not tracked by git) [default: the PEM text in $MMC_SIGNING_KEY]
    #[arg(long, value_name = "FILE", conflicts_with = "unsigned")]
    pub key: Option<PathBuf>,
    /// Write the archives and the statements to sign (NAME-VERSION.tar.gz.statement.json) but no
    /// signatures; `mmc sign` signs them later, e.g. in a separate CI job that holds the key
    #[arg(long)]
    pub unsigned: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The revision to compare from [default: the merge base of HEAD and the default branch]
    #[arg(value_name = "BASE")]
    pub base: Option<String>,
    /// The revision to compare to [default: the work tree]
    #[arg(value_name = "HEAD")]
    pub head: Option<String>,
    /// A folder of facts files (YAML, JSON or plist, one per Mac, as `mmc eval` reads them): also
    /// show which Macs' effective lists change
    #[arg(long, value_name = "DIR")]
    pub facts: Option<PathBuf>,
    /// The primary manifest the Macs in --facts use [default: site_default]
    #[arg(long, value_name = "NAME", requires = "facts")]
    pub manifest: Option<String>,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Folder holding NAME-VERSION.tar.gz and NAME-VERSION.tar.gz.statement.json files [default: REPO/build/bundles]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Private signing key (PKCS#8 PEM, mode 0600, not tracked by git) [default: the PEM text in $MMC_SIGNING_KEY]
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The Mac's facts: YAML, JSON or plist
    #[arg(long, value_name = "FILE")]
    pub facts: std::path::PathBuf,
    /// Bundle to evaluate [default: the first in mmc.yaml]
    #[arg(long, value_name = "NAME")]
    pub bundle: Option<String>,
    /// The Mac's primary manifest [default: site_default]
    #[arg(long, value_name = "NAME")]
    pub manifest: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Path prefix: writes PREFIX.key and PREFIX.pub
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file kind
    #[arg(value_parser = ["repo", "items", "manifest", "profile", "test", "updates"], default_value = "repo")]
    pub kind: String,
    /// Write every kind's schema into DIR as KIND.schema.json instead of printing one
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
