use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit status: 0 success, 2 error (invalid policies, I/O, usage).

Start with `mmc init DIR`, then `mmc check` while you edit, and `mmc build` to produce signed bundles.";

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
    /// JSON: one object per problem (JSON Lines); `build` prints one document on stdout
    Json,
    /// GitHub Actions annotations on the YAML lines
    Github,
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
    /// Create an ed25519 signing key pair: PREFIX.key (private, mode 0600) and PREFIX.pub
    Keygen(KeygenArgs),
    /// Print the JSON Schema of a policy file kind, for editor completion and checking
    #[command(
        after_help = "Kinds: repo (mmc.yaml), items (policies/items/*.yaml), manifest (policies/manifests/**/*.yaml),\n\
profile (profiles/*.yaml).\n\n\
Editors using yaml-language-server pick a schema from a first-line comment:\n  # yaml-language-server: $schema=../../build/schema/items.schema.json\n\
Write all four with:  mmc schema --out build/schema"
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
    #[arg(value_parser = ["repo", "items", "manifest", "profile", "test"], default_value = "repo")]
    pub kind: String,
    /// Write all four schemas into DIR as KIND.schema.json instead of printing one
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
