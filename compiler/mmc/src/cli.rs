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
    /// Convert existing .mobileconfig profiles into profile sources (profiles/NAME.yaml)
    #[command(
        after_help = "Each FILE (XML, binary, or signed: the signature is dropped) becomes one YAML file that \
says the same thing in the policy format: identifier, names, scope and every payload's settings, with data as \
{$data: …} and dates as {$date: …}. The file name is the identifier's last part (or FILE's name when that part \
is a UUID). Keys mmc does not model (a profile-level PayloadEnabled, which is not Apple's and which macOS \
ignores, …) are printed as warnings and listed at the top of the file. Nothing is written unless every FILE \
converts; an existing file is never overwritten without --force.\n\n\
Use --keep-uuids for a profile that an MDM already installed: macOS reinstalls a profile whose PayloadUUID \
changes, so keeping the original UUIDs lets the profile move to mmc without touching the Macs.\n\n\
Exit status: 0 written (warnings allowed), 2 error (nothing written).\n\n\
Examples:\n  mmc import ~/Downloads/Wi-Fi.mobileconfig\n  \
mmc import --keep-uuids exported/*.mobileconfig && mmc check"
    )]
    Import(ImportArgs),
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
    /// Manage the fleet's root of trust: offline root keys that delegate bundle signing
    #[command(
        after_help = "The root of trust is trust/root-N.json in the policy repository. Agents pin root-1.json \
(agent.json \"root\") and accept later versions only when a threshold of the previous version's root keys \
and a threshold of the new version's both signed them. Bundles must be signed by the newest root's bundle \
keys; each bundle key has an epoch (rollback floors are kept per epoch) and an expiry.\n\n\
Keep root keys offline: create them with `mmc keygen` on a machine that never runs CI, sign there, and \
commit only the signed root-N.json. SECURITY.md has the whole procedure.\n\n\
Examples:\n  \
mmc root init --root-key alice.pub --root-key bob.pub --threshold 2 --bundle-key ci.pub\n  \
mmc root sign trust/root-1.json --key /Volumes/KEYS/alice.key\n  \
mmc root rotate --bundle-key ci-2027.pub     # new bundle key, next epoch\n  \
mmc root status"
    )]
    Root(RootArgs),
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
pub struct ImportArgs {
    /// The .mobileconfig files to convert
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where to write the YAML files [default: the repository's profiles/]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write each profile's and payload's PayloadUUID as `uuid:`, so Macs that have the profile
    /// installed keep it instead of reinstalling it
    #[arg(long)]
    pub keep_uuids: bool,
    /// Overwrite YAML files that already exist
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Where to write bundles [default: REPO/build]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Private signing key (PKCS#8 PEM, mode 0600, outside the policy repository and its git work
    /// tree) [default: the PEM text in $MMC_SIGNING_KEY]
    #[arg(long, value_name = "FILE", conflicts_with = "unsigned")]
    pub key: Option<PathBuf>,
    /// Sign only if the key has this id (64 hex digits, as `mmc keygen` prints it): a wrong key is
    /// refused before anything is signed
    #[arg(long, value_name = "ID", conflicts_with = "unsigned")]
    pub expect_key_id: Option<String>,
    /// Write the archives and the statements to sign (NAME-VERSION.tar.gz.statement.json) but no
    /// signatures; `mmc sign` signs them later, e.g. in a separate CI job that holds the key
    #[arg(long)]
    pub unsigned: bool,
    /// Also write Fleet GitOps fragments listing the profiles: OUT/mdm/fleet/profiles.yml (every
    /// profile) and, with several bundles, OUT/mdm/fleet/bundles/BUNDLE.yml. Point a fleet file's
    /// `controls: path:` at one. Without it, fragments an earlier build wrote are removed
    #[arg(long)]
    pub fleet: bool,
    /// Sign the .mobileconfig files of OUT/mdm/ (not the bundles' copies) with this certificate
    /// (PEM), as CMS SignedData (DER) that macOS shows as verified; needs `openssl`
    /// ($MMC_OPENSSL) and --sign-profiles-key
    #[arg(long, value_name = "CERT.pem", requires = "sign_profiles_key")]
    pub sign_profiles_cert: Option<PathBuf>,
    /// The certificate's private key (PEM, mode 0600, not tracked by git)
    #[arg(long, value_name = "KEY.pem", requires = "sign_profiles_cert")]
    pub sign_profiles_key: Option<PathBuf>,
    /// Intermediate certificates (PEM) to include, so that macOS can build the chain
    #[arg(long, value_name = "CHAIN.pem", requires = "sign_profiles_cert")]
    pub sign_profiles_chain: Option<PathBuf>,
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
    /// Private signing key (PKCS#8 PEM, mode 0600, outside the policy repository and its git work
    /// tree) [default: the PEM text in $MMC_SIGNING_KEY]
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Sign only if the key has this id (64 hex digits, as `mmc keygen` prints it): a wrong key is
    /// refused before anything is signed
    #[arg(long, value_name = "ID")]
    pub expect_key_id: Option<String>,
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
pub struct RootArgs {
    #[command(subcommand)]
    pub command: RootCommand,
}

#[derive(Debug, Subcommand)]
pub enum RootCommand {
    /// Write trust/root-1.json, unsigned: the root keys, their threshold and the first bundle key(s)
    Init(RootInitArgs),
    /// Add one root key's signature to a root document (run it once per key holder)
    Sign(RootSignArgs),
    /// Write the next root version, unsigned: a new bundle key (next epoch), root key changes, fresh expiries
    Rotate(RootRotateArgs),
    /// Show each root version's signatures, keys and expiries, and verify the chain as an agent would
    Status {
        /// Folder holding root-N.json [default: REPO/trust]
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RootInitArgs {
    /// A root key's public half (PEM, from `mmc keygen`); repeat for each key holder
    #[arg(long, value_name = "PUB", required = true)]
    pub root_key: Vec<PathBuf>,
    /// How many distinct root keys must sign each root version
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threshold: usize,
    /// A key CI signs bundles with (PEM public key); repeatable
    #[arg(long, value_name = "PUB", required = true)]
    pub bundle_key: Vec<PathBuf>,
    /// How many distinct bundle keys must sign each bundle
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub bundle_threshold: usize,
    /// How long the root is valid; agents refuse everything once it expires
    #[arg(long, value_name = "DURATION", default_value = "52w")]
    pub expires: String,
    /// How long the bundle keys are valid
    #[arg(long, value_name = "DURATION", default_value = "26w")]
    pub bundle_key_expires: String,
    /// Where to write [default: REPO/trust/root-1.json]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RootSignArgs {
    /// The root document (root-N.json); root-(N-1).json must sit next to it
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The root key (PKCS#8 PEM, mode 0600, never tracked by git)
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

#[derive(Debug, Args)]
pub struct RootRotateArgs {
    /// Replace the bundle keys with this one (repeatable); they get the next epoch
    #[arg(long, value_name = "PUB")]
    pub bundle_key: Vec<PathBuf>,
    /// Add a root key
    #[arg(long, value_name = "PUB")]
    pub add_root_key: Vec<PathBuf>,
    /// Remove a root key by key id
    #[arg(long, value_name = "KEYID")]
    pub remove_root_key: Vec<String>,
    /// New root threshold
    #[arg(long, value_name = "N")]
    pub threshold: Option<usize>,
    /// New bundle threshold
    #[arg(long, value_name = "N")]
    pub bundle_threshold: Option<usize>,
    /// How long the new root is valid
    #[arg(long, value_name = "DURATION", default_value = "52w")]
    pub expires: String,
    /// How long the bundle keys are valid from now
    #[arg(long, value_name = "DURATION", default_value = "26w")]
    pub bundle_key_expires: String,
    /// Folder holding root-N.json [default: REPO/trust]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
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
