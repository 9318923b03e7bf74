//! Raw, spanned types of the policy format v1, exactly as written in YAML.
//!
//! Every struct rejects unknown keys. Fields that a later check points at are `Sp<T>`.
//! The doc comments become descriptions in the JSON Schema that `mmc schema` prints.

use schemars::JsonSchema;
use serde::Deserialize;

use super::spanned::{Sp, Value};

type Text = Sp<String>;
type Names = Option<Vec<Sp<String>>>;

/// `mmc.yaml`: the policy repository's settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoFile {
    /// Version of the policy format. Always `1`.
    pub mmc_version: Sp<u32>,
    pub org: Org,
    /// Release tracks (Munki catalogs), from least to most stable, e.g. `[testing, stable]`.
    pub tracks: Vec<Text>,
    /// The bundles `mmc build` produces.
    pub bundles: Vec<BundleDef>,
    #[serde(default)]
    pub signing: Option<Signing>,
    /// The oldest macOS the fleet runs, quoted, e.g. `"13.0"`. Profile checks then report payload
    /// keys removed or deprecated by that version, and keys that need a newer one. Default: removed
    /// and deprecated keys are checked against macOS 13, newer ones are not reported.
    #[serde(default)]
    pub min_macos: Option<Text>,
    /// Template variables, available as `{{ vars.NAME }}` in string values.
    #[serde(default)]
    pub vars: Option<Sp<Value>>,
    /// Admin facts conditions may use, with their types: `string`, `integer`, `real`, `boolean`,
    /// `date` or `string_array`. Their values come from condition scripts on the Mac
    /// (ConditionalItems.plist). `site`, `owner`, `uuid` and `tags` feed modifications.
    #[serde(default)]
    pub facts: Option<Sp<Value>>,
}

/// The organisation that owns the fleet.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Org {
    /// Name shown in profiles (PayloadOrganization).
    pub name: Text,
    /// Reverse-DNS prefix, e.g. `com.example`. Seeds the deterministic PayloadUUIDs and defaults.
    pub identifier_prefix: Text,
}

/// One bundle: everything one group of Macs receives.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleDef {
    /// File-name-safe name, e.g. `stable`.
    pub name: Text,
    /// The track whose items this bundle carries.
    pub track: Text,
    /// Who may apply it; agents compare it with their own. Default: `<identifier_prefix>:<name>`.
    #[serde(default)]
    pub audience: Option<Text>,
    /// How long a bundle stays valid after its commit, e.g. `30d`, `12h`, `2w`. Default `30d`.
    #[serde(default)]
    pub expires_after: Option<Text>,
    /// Manifests to check and ship (their includes come along). Default: all manifests.
    #[serde(default)]
    pub manifests: Names,
    #[serde(default)]
    pub description: Option<Text>,
}

/// Signing policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Key ids (hex SHA-256 of the ed25519 public key, as `mmc keygen` prints) agents trust.
    #[serde(default)]
    pub trusted_keys: Vec<Text>,
}

/// A file under `policies/items/`: a list of items.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemsFile {
    pub items: Vec<RawItem>,
}

/// What an item is. Munki's pkginfo keys are used wherever Munki has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A flat package installed by Munki's rules (pkginfo).
    Package,
    /// A check script and a remediation script (Munki `nopkg`; a massmgmt module).
    Script,
    /// Managed keys of a preference domain (`defaults write` as data, verified by reading back).
    Preference,
    /// A file with fixed content, mode and owner.
    File,
    /// A launchd daemon: `/Library/LaunchDaemons/LABEL.plist`, bootstrapped into the system
    /// domain by mmc-agent.
    Launchd,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Package => "package",
            Kind::Script => "script",
            Kind::Preference => "preference",
            Kind::File => "file",
            Kind::Launchd => "launchd",
        }
    }
}

/// One item. Which keys are allowed depends on `kind`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    /// Unique name that manifests refer to (Munki `name`).
    pub name: Text,
    pub kind: Sp<Kind>,
    /// Version string; always quote it (`"1.10"`). Required for packages and scripts.
    #[serde(default)]
    pub version: Option<Text>,
    #[serde(default)]
    pub display_name: Option<Text>,
    #[serde(default)]
    pub description: Option<Text>,
    /// Tracks this item is released to. Default: every track.
    #[serde(default)]
    pub catalogs: Names,
    #[serde(default)]
    pub category: Option<Text>,
    #[serde(default)]
    pub developer: Option<Text>,
    #[serde(default)]
    pub notes: Option<Text>,

    // package
    /// Path of the installer relative to the Munki repo's `pkgs/` (package).
    #[serde(default)]
    pub installer_item_location: Option<Text>,
    /// SHA-256 of the installer, 64 hex digits (package).
    #[serde(default)]
    pub installer_item_hash: Option<Text>,
    /// Installer size in KiB (package).
    #[serde(default)]
    pub installer_item_size: Option<Sp<u64>>,
    /// Installed size in KiB (package).
    #[serde(default)]
    pub installed_size: Option<Sp<u64>>,
    /// What proves the item is installed (package).
    #[serde(default)]
    pub installs: Option<Vec<InstallsItem>>,
    /// Package receipts (package).
    #[serde(default)]
    pub receipts: Option<Vec<Receipt>>,
    #[serde(default)]
    pub minimum_os_version: Option<Text>,
    #[serde(default)]
    pub maximum_os_version: Option<Text>,
    /// `arm64` and/or `x86_64`.
    #[serde(default)]
    pub supported_architectures: Names,
    /// Items that must be installed first.
    #[serde(default)]
    pub requires: Names,
    /// Items this one is an update for.
    #[serde(default)]
    pub update_for: Names,
    /// Applications that must be closed before installing.
    #[serde(default)]
    pub blocking_applications: Names,
    #[serde(default)]
    pub unattended_install: Option<Sp<bool>>,
    #[serde(default)]
    pub unattended_uninstall: Option<Sp<bool>>,
    #[serde(default)]
    pub uninstallable: Option<Sp<bool>>,
    /// `removepackages`, `uninstall_script`, `uninstall_package`, or an absolute path to an
    /// uninstaller on the Mac.
    #[serde(default)]
    pub uninstall_method: Option<Text>,
    /// The uninstaller package, relative to the Munki repo's `pkgs/` (with `uninstall_package`).
    #[serde(default)]
    pub uninstaller_item_location: Option<Text>,
    /// SHA-256 of the uninstaller package (with `uninstall_package`).
    #[serde(default)]
    pub uninstaller_item_hash: Option<Text>,
    /// Uninstaller size in KiB.
    #[serde(default)]
    pub uninstaller_item_size: Option<Sp<u64>>,
    #[serde(default, rename = "RestartAction")]
    pub restart_action: Option<Sp<RestartAction>>,
    /// Never counted as installed; runs every time it is requested (Munki `OnDemand`).
    #[serde(default, rename = "OnDemand")]
    pub on_demand: Option<Sp<bool>>,

    // scripts (package and script)
    /// Render `{{ }}` templates inside this item's scripts. Off by default: shell code such as
    /// `${#array[@]}` would otherwise read as template syntax.
    #[serde(default)]
    pub render_scripts: Option<Sp<bool>>,
    /// Exit 0 means "needs install"; any other exit means installed.
    #[serde(default)]
    pub installcheck_script: Option<Text>,
    #[serde(default)]
    pub uninstallcheck_script: Option<Text>,
    #[serde(default)]
    pub preinstall_script: Option<Text>,
    /// For a `script` item, the remediation that runs when the check says so.
    #[serde(default)]
    pub postinstall_script: Option<Text>,
    #[serde(default)]
    pub preuninstall_script: Option<Text>,
    #[serde(default)]
    pub postuninstall_script: Option<Text>,
    #[serde(default)]
    pub uninstall_script: Option<Text>,

    // preference
    /// Preference domain, e.g. `com.apple.screensaver` (preference).
    #[serde(default)]
    pub domain: Option<Text>,
    /// `system` (`/Library/Preferences`, the default) or `user` (every user's ByHost-free domain).
    #[serde(default)]
    pub scope: Option<Sp<PrefScope>>,
    /// Managed keys and their values; keys not listed are left alone (preference).
    #[serde(default)]
    pub values: Option<Sp<Value>>,

    // file
    /// Absolute path on the Mac (file).
    #[serde(default)]
    pub path: Option<Text>,
    /// Full content of the file; templates allowed (file).
    #[serde(default)]
    pub content: Option<Text>,
    /// Octal mode as a quoted string, e.g. `"0644"` (file).
    #[serde(default)]
    pub mode: Option<Text>,
    /// Owner user name, default `root` (file).
    #[serde(default)]
    pub owner: Option<Text>,
    /// Group name, default `wheel` (file).
    #[serde(default)]
    pub group: Option<Text>,

    // launchd
    /// The job's `Label` and the name of its plist, `/Library/LaunchDaemons/LABEL.plist`, e.g.
    /// `com.example.fleet.heartbeat`: letters, digits, `.`, `-`, `_`; not `com.apple.` (launchd).
    #[serde(default)]
    pub label: Option<Text>,
    /// The job's launchd.plist keys other than `Label`: `Program` or `ProgramArguments`, and e.g.
    /// `StartInterval`, `RunAtLoad`, `KeepAlive`. YAML types map to plist types as in preference
    /// `values`; templates are allowed in strings (launchd).
    #[serde(default)]
    pub job: Option<Sp<Value>>,
}

/// Munki's `RestartAction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum RestartAction {
    None,
    RequireRestart,
    RecommendRestart,
    RequireLogout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrefScope {
    System,
    User,
}

/// A Munki `installs` entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallsItem {
    /// `application`, `bundle`, `plist` or `file`.
    #[serde(rename = "type")]
    pub kind: Sp<InstallsType>,
    pub path: Text,
    #[serde(default, rename = "CFBundleIdentifier")]
    pub bundle_identifier: Option<Text>,
    #[serde(default, rename = "CFBundleName")]
    pub bundle_name: Option<Text>,
    #[serde(default, rename = "CFBundleShortVersionString")]
    pub short_version: Option<Text>,
    #[serde(default, rename = "CFBundleVersion")]
    pub bundle_version: Option<Text>,
    #[serde(default)]
    pub version_comparison_key: Option<Text>,
    #[serde(default)]
    pub md5checksum: Option<Text>,
    #[serde(default)]
    pub minosversion: Option<Text>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstallsType {
    Application,
    Bundle,
    Plist,
    File,
}

impl InstallsType {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallsType::Application => "application",
            InstallsType::Bundle => "bundle",
            InstallsType::Plist => "plist",
            InstallsType::File => "file",
        }
    }
}

/// A Munki `receipts` entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub packageid: Text,
    pub version: Text,
    /// An optional receipt is ignored when deciding whether the item is installed.
    #[serde(default)]
    pub optional: Option<Sp<bool>>,
    /// Component package name, as makepkginfo records it.
    #[serde(default)]
    pub name: Option<Text>,
    /// Installed size in KiB, as makepkginfo records it.
    #[serde(default)]
    pub installed_size: Option<Sp<u64>>,
}

/// A file under `policies/manifests/`: a Munki manifest. Its name is its path below that folder,
/// without `.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    #[serde(default)]
    pub display_name: Option<Text>,
    #[serde(default)]
    pub notes: Option<Text>,
    /// Tracks to take items from. Default: the bundle's track.
    #[serde(default)]
    pub catalogs: Names,
    /// Other manifests whose items this one gets first.
    #[serde(default)]
    pub included_manifests: Names,
    #[serde(default)]
    pub managed_installs: Names,
    #[serde(default)]
    pub managed_uninstalls: Names,
    #[serde(default)]
    pub managed_updates: Names,
    #[serde(default)]
    pub optional_installs: Names,
    #[serde(default)]
    pub featured_items: Names,
    #[serde(default)]
    pub default_installs: Names,
    #[serde(default)]
    pub conditional_items: Option<Vec<ConditionalItem>>,
    /// Simian-style changes for Macs whose `site`, `os_version`, `owner`, `uuid` or `tag` matches,
    /// applied after this manifest's own items in that order (later ones win).
    #[serde(default)]
    pub modifications: Option<Vec<RawModification>>,
}

/// One modification: exactly one of `site`, `os_version`, `owner`, `uuid`, `tag`, and lists whose
/// entries add an item (`Name`) or remove one (`-Name`).
///
/// The list keys repeat [`ManifestFile`]'s on purpose, for the reason given on [`ConditionalItem`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawModification {
    /// Matches the `site` fact.
    #[serde(default)]
    pub site: Option<Text>,
    /// Matches `os_vers` at a dot boundary: `14` matches 14.x, `14.2` matches 14.2.x.
    #[serde(default)]
    pub os_version: Option<Text>,
    /// Matches the `owner` fact.
    #[serde(default)]
    pub owner: Option<Text>,
    /// Matches the `uuid` fact.
    #[serde(default)]
    pub uuid: Option<Text>,
    /// Matches any element of the `tags` fact.
    #[serde(default)]
    pub tag: Option<Text>,
    /// Only on these tracks. Default: every track.
    #[serde(default)]
    pub tracks: Names,
    #[serde(default)]
    pub managed_installs: Names,
    #[serde(default)]
    pub managed_uninstalls: Names,
    #[serde(default)]
    pub managed_updates: Names,
    #[serde(default)]
    pub optional_installs: Names,
    #[serde(default)]
    pub featured_items: Names,
    #[serde(default)]
    pub default_installs: Names,
}

/// A file under `tests/`: policy test cases that `mmc test` runs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub cases: Vec<TestCase>,
}

/// Facts in, expected item lists out.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: Text,
    /// Bundle to evaluate. Default: the first bundle in mmc.yaml.
    #[serde(default)]
    pub bundle: Option<Text>,
    /// Primary manifest. Default: `site_default`.
    #[serde(default)]
    pub manifest: Option<Text>,
    /// The Mac's facts.
    pub facts: Sp<Value>,
    /// Exact expected lists, compared as sets; keys left out are not checked.
    #[serde(default)]
    pub expect: Option<Expectation>,
    /// Items each list must contain (others may be there too).
    #[serde(default)]
    pub expect_includes: Option<Expectation>,
    /// Items each list must not contain.
    #[serde(default)]
    pub expect_excludes: Option<Expectation>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    #[serde(default)]
    pub managed_installs: Names,
    #[serde(default)]
    pub managed_uninstalls: Names,
    #[serde(default)]
    pub managed_updates: Names,
    #[serde(default)]
    pub optional_installs: Names,
}

impl Expectation {
    pub fn list(&self, key: &str) -> Option<&Vec<Sp<String>>> {
        match key {
            "managed_installs" => self.managed_installs.as_ref(),
            "managed_uninstalls" => self.managed_uninstalls.as_ref(),
            "managed_updates" => self.managed_updates.as_ref(),
            "optional_installs" => self.optional_installs.as_ref(),
            _ => None,
        }
    }
}

/// Items that apply when `condition` (an NSPredicate over facts) is true on the Mac.
///
/// The keys repeat [`ManifestFile`]'s on purpose: `#[serde(flatten)]` would lose the spans and
/// the unknown-key check. Code that handles both goes through `lower::Body`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionalItem {
    /// NSPredicate, e.g. `machine_type == "laptop" AND os_vers_major >= 14`.
    pub condition: Text,
    #[serde(default)]
    pub catalogs: Names,
    #[serde(default)]
    pub included_manifests: Names,
    #[serde(default)]
    pub managed_installs: Names,
    #[serde(default)]
    pub managed_uninstalls: Names,
    #[serde(default)]
    pub managed_updates: Names,
    #[serde(default)]
    pub optional_installs: Names,
    #[serde(default)]
    pub featured_items: Names,
    #[serde(default)]
    pub default_installs: Names,
    #[serde(default)]
    pub conditional_items: Option<Vec<ConditionalItem>>,
}

/// A file under `policies/updates/`: one update enforcement policy for Apple's software updates
/// (install-or-defer style), named after its file. Bundles carry it in `config.json` for
/// mmc-agent; `mmc build` also writes a Nudge configuration and a DDM declaration for it under
/// `build/mdm/updates/` when it requires a macOS version by a deadline.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatesFile {
    /// NSPredicate over the facts, as in a conditional item, e.g. `machine_type == "laptop"`.
    /// Policies are tried in name order; the first whose condition holds applies to a Mac.
    /// Default: every Mac.
    #[serde(default)]
    pub condition: Option<Text>,
    /// Tracks whose bundles carry this policy. Default: every track.
    #[serde(default)]
    pub tracks: Names,
    /// What is required: `recommended` (every update `softwareupdate --list` marks recommended
    /// or needing a restart) or `{os_version: "15.2"}` (macOS at least this version).
    pub require: Sp<RawRequire>,
    /// The time after which the updates are installed without asking: RFC 3339 with an offset,
    /// e.g. `2026-12-01T18:00:00+01:00` or `2026-12-01T17:00:00Z`; or a local
    /// `2026-12-01T18:00` together with `time_zone`. Not together with `max_deferral`.
    #[serde(default)]
    pub deadline: Option<Text>,
    /// The UTC offset of a local `deadline`, e.g. `+01:00`, `-05:00` or `Z`. Zone names such as
    /// `Europe/Berlin` are not accepted.
    #[serde(default)]
    pub time_zone: Option<Text>,
    /// Without a `deadline`: how long after a Mac first sees the updates they may be deferred,
    /// e.g. `72h`, `3d`, `1w`. Default `72h`.
    #[serde(default)]
    pub max_deferral: Option<Text>,
    /// After a deferral, the next prompt comes this much later, e.g. `4h`. Default `4h`.
    #[serde(default)]
    pub reprompt: Option<Text>,
    /// How long a prompt waits for an answer; past the deadline the updates are then installed
    /// anyway, e.g. `10m`. Default `10m`.
    #[serde(default)]
    pub prompt_timeout: Option<Text>,
    /// After an install that needs a restart, the time between the soft restart (apps may ask to
    /// save) and the forced one, e.g. `5m`. Default `5m`.
    #[serde(default)]
    pub restart_delay: Option<Text>,
    /// Local whole hours, e.g. `"09:00-17:00"`: a deadline inside them moves to their end, so
    /// forced installs do not interrupt the working day.
    #[serde(default)]
    pub work_hours: Option<Text>,
    /// Install at once, without any deferral: for testing the workflow on a few Macs.
    #[serde(default)]
    pub skip_deferral: Option<Sp<bool>>,
    /// The program that shows the prompts.
    #[serde(default)]
    #[schemars(schema_with = "notifier_schema")]
    pub notifier: Option<Sp<Value>>,
    /// The prompts' texts. `%HOURS%`, `%DEADLINE%`, `%UPDATES%` and `%SUPPORT%` are replaced on
    /// the Mac; `[restart]…[/restart]` is shown only when an update needs a restart and
    /// `[deferrable]…[/deferrable]` only while the user may still defer. Templates allowed.
    #[serde(default)]
    pub messages: Option<RawMessages>,
    /// Who to ask, shown where a message says `%SUPPORT%`, e.g. `{{ vars.support_contact }}`.
    #[serde(default)]
    pub support_contact: Option<Text>,
    /// A web page about this update (Nudge's `aboutUpdateURL`, DDM's `DetailsURL`).
    #[serde(default)]
    pub details_url: Option<Text>,
}

/// What an update policy requires.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawRequire {
    /// Every update `softwareupdate --list` marks recommended or needing a restart.
    Recommended,
    /// macOS at least this version, e.g. `"15.2"` (quote it).
    OsVersion(Text),
}

/// The texts of an update policy's prompts. Every key has a default.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMessages {
    /// The prompt's title.
    #[serde(default)]
    pub title: Option<Text>,
    /// Shown while the user may still defer.
    #[serde(default)]
    pub prompt: Option<Text>,
    /// Shown past the deadline, without a defer button.
    #[serde(default)]
    pub deadline: Option<Text>,
    /// Default `Install now`. Shown as written (no placeholders).
    #[serde(default)]
    pub install_button: Option<Text>,
    /// Default `Later`. Shown as written (no placeholders).
    #[serde(default)]
    pub defer_button: Option<Text>,
}

fn notifier_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The program that shows the prompts: `swiftdialog` (/usr/local/bin/dialog), `jamfhelper` (Jamf's jamfHelper), `osascript` (an AppleScript dialog, the default), or your own: `{program, args, install_exit, defer_exit}`.",
        "oneOf": [
            { "type": "string", "enum": ["swiftdialog", "jamfhelper", "osascript"] },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["program", "install_exit", "defer_exit"],
                "properties": {
                    "program": { "type": "string", "description": "Absolute path of the program." },
                    "args": {
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "Arguments. `%TITLE%`, `%MESSAGE%`, `%TIMEOUT%` (seconds), `%INSTALL%` and `%DEFER%` (button labels) are replaced; past the deadline an argument that is exactly `%DEFER%` is dropped with the option before it."
                    },
                    "install_exit": { "type": "array", "items": { "type": "integer" }, "description": "Exit statuses meaning \"install now\"." },
                    "defer_exit": { "type": "array", "items": { "type": "integer" }, "description": "Exit statuses meaning \"defer\"; any other status counts as a timeout or dismissal." }
                }
            }
        ]
    })
}

/// A file under `profiles/`: one configuration profile.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// PayloadIdentifier of the profile. Default: `<identifier_prefix>.<file name>`.
    #[serde(default)]
    pub identifier: Option<Text>,
    /// PayloadDisplayName, shown in System Settings.
    pub display_name: Text,
    #[serde(default)]
    pub description: Option<Text>,
    /// PayloadOrganization. Default: the org's name.
    #[serde(default)]
    pub organization: Option<Text>,
    /// PayloadScope: `System` (default) or `User`.
    #[serde(default)]
    pub scope: Option<Sp<ProfileScope>>,
    /// PayloadRemovalDisallowed.
    #[serde(default)]
    pub removal_disallowed: Option<Sp<bool>>,
    /// ConsentText: the agreement shown before the profile installs, by IETF BCP 47 language
    /// code (`en`, `de`, …), with `default` for the text shown when no language matches.
    #[serde(default)]
    pub consent_text: Option<Sp<std::collections::BTreeMap<String, Text>>>,
    /// TargetDeviceType: 0 any, 1 iPhone/iPad/iPod touch, 2 Apple Watch, 3 HomePod, 4 Apple TV,
    /// 5 Mac, 6 Apple Vision Pro. Not written unless set.
    #[serde(default)]
    #[schemars(range(min = 0, max = 6))]
    pub target_device_type: Option<Sp<i64>>,
    /// RemovalDate: when macOS removes the profile by itself, a UTC time written
    /// `YYYY-MM-DDTHH:MM:SSZ`, e.g. `2026-01-31T09:00:00Z`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))]
    pub removal_date: Option<Text>,
    /// DurationUntilRemoval: seconds after installation until macOS removes the profile by
    /// itself (with `removal_date` too, whichever comes first).
    #[serde(default)]
    pub duration_until_removal: Option<Sp<f64>>,
    /// PayloadExpirationDate: when the profile stops being valid, a UTC time written
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))]
    pub expiration_date: Option<Text>,
    /// HasRemovalPasscode: whether a removal passcode protects the profile.
    #[serde(default)]
    pub has_removal_passcode: Option<Sp<bool>>,
    /// Tracks this profile is released to. Default: every track.
    #[serde(default)]
    pub catalogs: Names,
    /// PayloadUUID to keep, e.g. the one an MDM installed (`mmc import --keep-uuids` writes it).
    /// Default: derived from the identifier.
    #[serde(default)]
    pub uuid: Option<Text>,
    pub payloads: Vec<RawPayload>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum ProfileScope {
    System,
    User,
}

/// One payload of a profile.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPayload {
    /// PayloadType, e.g. `com.apple.screensaver`.
    #[serde(rename = "type")]
    pub payload_type: Text,
    /// PayloadIdentifier. Default: `<profile identifier>.<type>`.
    #[serde(default)]
    pub identifier: Option<Text>,
    #[serde(default)]
    pub display_name: Option<Text>,
    #[serde(default)]
    pub description: Option<Text>,
    /// PayloadOrganization of the payload. Default: not written.
    #[serde(default)]
    pub organization: Option<Text>,
    /// The payload's own keys and values (everything except the Payload* keys, which mmc sets).
    #[serde(default)]
    pub settings: Option<Sp<Value>>,
    /// PayloadUUID to keep. Default: derived from the payload's identifier.
    #[serde(default)]
    pub uuid: Option<Text>,
}
