//! Validation and lowering: raw spanned files → one span-free [`ir::Bundle`] per bundle.
//!
//! Repository-wide checks run once (names, kinds, references, include cycles); per-bundle work
//! (templates, track availability) runs for each bundle. Every problem is collected; nothing
//! stops at the first error.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use plist::Value as Pv;
use uuid::Uuid;

use crate::conditions::{self, FactTable};
use crate::diag::{Diagnostic, suggest};
use crate::ir;
use crate::load::{Loaded, Src, file_stem};
use crate::source::FileSet;
use crate::syntax::model::*;
use crate::syntax::spanned::{Sp, Value};
use crate::template::Templates;
use mmc_predicate::FactType;

/// Reverse-DNS-ish identifiers and bundle/track names.
fn is_name_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// What lowering produced: one IR bundle per bundle, and the update policies (which also feed
/// the MDM files, independent of bundles).
#[derive(Debug)]
pub struct Lowered {
    pub bundles: Vec<ir::Bundle>,
    pub updates: Vec<ir::UpdatePolicy>,
}

pub fn lower(files: &FileSet, loaded: &Loaded, diags: &mut Vec<Diagnostic>) -> Lowered {
    let repo = Repo::index(files, loaded, diags);
    repo.check_items(diags);
    repo.check_manifests(diags);
    repo.check_profiles(diags);
    let updates = repo.lower_updates(diags);
    let mut bundles = Vec::new();
    for b in &repo.bundles {
        bundles.push(repo.lower_bundle(files, b, &updates, diags));
    }
    Lowered { bundles, updates }
}

/// Items that write to one place on the Mac, each with the value (label or path) that says so.
type Claims<'a> = Vec<(&'a Src<RawItem>, &'a Sp<String>)>;

/// A bundle definition after its own checks.
struct BundleSpec<'a> {
    def: &'a BundleDef,
    audience: String,
    expires_after_secs: i64,
}

struct Repo<'a> {
    files: &'a FileSet,
    loaded: &'a Loaded,
    /// Built-in and declared admin facts, for type-checking conditions.
    facts: FactTable,
    tracks: Vec<&'a str>,
    bundles: Vec<BundleSpec<'a>>,
    /// First definition of each item name.
    items: BTreeMap<&'a str, &'a Src<RawItem>>,
}

impl<'a> Repo<'a> {
    fn index(files: &'a FileSet, loaded: &'a Loaded, diags: &mut Vec<Diagnostic>) -> Self {
        let file = loaded.repo.file.as_str();
        let cfg = &loaded.repo.value;
        if cfg.mmc_version.value != 1 {
            diags.push(
                Diagnostic::error(
                    "unsupported-version",
                    format!("mmc_version {} is not supported", cfg.mmc_version.value),
                )
                .at(
                    file,
                    cfg.mmc_version.span.clone(),
                    "this mmc understands version 1",
                )
                .help("write `mmc_version: 1`, or upgrade mmc"),
            );
        }
        let prefix = &cfg.org.identifier_prefix;
        if !is_name_token(&prefix.value) || !prefix.value.contains('.') {
            diags.push(
                Diagnostic::error(
                    "bad-identifier",
                    format!("`{}` is not a reverse-DNS prefix", prefix.value),
                )
                .at(
                    file,
                    prefix.span.clone(),
                    "expected something like `com.example`",
                ),
            );
        }
        let mut tracks: Vec<&str> = Vec::new();
        if cfg.tracks.is_empty() {
            diags.push(
                Diagnostic::error("no-tracks", "mmc.yaml lists no tracks")
                    .at(file, 0..0, "")
                    .help("add `tracks: [testing, stable]`"),
            );
        }
        for t in &cfg.tracks {
            if !is_name_token(&t.value) {
                diags.push(bad_name(file, t, "track"));
            } else if tracks.contains(&t.value.as_str()) {
                diags.push(
                    Diagnostic::error(
                        "duplicate-track",
                        format!("track `{}` is listed twice", t.value),
                    )
                    .at(file, t.span.clone(), "repeated"),
                );
            } else {
                tracks.push(&t.value);
            }
        }
        if let Some(signing) = &cfg.signing {
            for k in &signing.trusted_keys {
                if k.value.len() != 64
                    || !k
                        .value
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    diags.push(
                        Diagnostic::error(
                            "bad-key-id",
                            "a trusted key id is 64 lowercase hex digits",
                        )
                        .at(file, k.span.clone(), "not a key id")
                        .help("`mmc keygen` prints the key id of the key it creates"),
                    );
                }
            }
        }
        if let Some(vars) = &cfg.vars
            && !matches!(vars.value, Value::Dict(_))
        {
            diags.push(
                Diagnostic::error("bad-vars", "`vars` must be a mapping of names to values").at(
                    file,
                    vars.span.clone(),
                    format!("this is {}", vars.value.kind()),
                ),
            );
        }
        let mut bundles: Vec<BundleSpec> = Vec::new();
        if cfg.bundles.is_empty() {
            diags.push(
                Diagnostic::error("no-bundles", "mmc.yaml defines no bundles")
                    .at(file, 0..0, "")
                    .help("add a `bundles:` list with at least a name and a track"),
            );
        }
        for def in &cfg.bundles {
            let mut ok = true;
            if !is_name_token(&def.name.value) {
                diags.push(bad_name(file, &def.name, "bundle"));
                ok = false;
            }
            if let Some(first) = bundles.iter().find(|b| b.def.name.value == def.name.value) {
                diags.push(
                    Diagnostic::error(
                        "duplicate-bundle",
                        format!("bundle `{}` is defined twice", def.name.value),
                    )
                    .at(file, def.name.span.clone(), "second definition")
                    .also(
                        file,
                        first.def.name.span.clone(),
                        "first definition",
                    ),
                );
                ok = false;
            }
            if !tracks.contains(&def.track.value.as_str()) {
                diags.push(unknown_name(
                    file,
                    &def.track,
                    "track",
                    tracks.iter().copied(),
                    None,
                ));
                ok = false;
            }
            let expires_after_secs = match &def.expires_after {
                None => Some(30 * 86_400),
                Some(e) => match parse_duration(&e.value) {
                    Some(s) => Some(s),
                    None => {
                        diags.push(
                            Diagnostic::error(
                                "bad-duration",
                                format!("`{}` is not a duration", e.value),
                            )
                            .at(file, e.span.clone(), "expected a number and a unit")
                            .help("write e.g. `12h`, `30d` or `2w` (at most ten years)"),
                        );
                        None
                    }
                },
            };
            let audience = match &def.audience {
                Some(a) if a.value.trim().is_empty() => {
                    diags.push(
                        Diagnostic::error("bad-audience", "audience must not be empty").at(
                            file,
                            a.span.clone(),
                            "",
                        ),
                    );
                    None
                }
                Some(a) => Some(a.value.clone()),
                None => Some(format!("{}:{}", prefix.value, def.name.value)),
            };
            if let (true, Some(expires_after_secs), Some(audience)) =
                (ok, expires_after_secs, audience)
            {
                bundles.push(BundleSpec {
                    def,
                    audience,
                    expires_after_secs,
                });
            }
        }
        let mut items: BTreeMap<&str, &Src<RawItem>> = BTreeMap::new();
        for src in &loaded.items {
            let name = &src.value.name;
            if let Some(first) = items.get(name.value.as_str()) {
                diags.push(
                    Diagnostic::error(
                        "duplicate-item",
                        format!("item `{}` is defined twice", name.value),
                    )
                    .at(&src.file, name.span.clone(), "second definition")
                    .also(
                        &first.file,
                        first.value.name.span.clone(),
                        "first definition",
                    )
                    .help("item names are one namespace across all files; rename one"),
                );
                continue;
            }
            items.insert(&name.value, src);
        }
        let facts = FactTable::new(declared_facts(
            file,
            loaded.repo.value.facts.as_ref(),
            diags,
        ));
        Repo {
            files,
            loaded,
            facts,
            tracks,
            bundles,
            items,
        }
    }

    fn check_tracks(
        &self,
        file: &str,
        catalogs: &Option<Vec<Sp<String>>>,
        diags: &mut Vec<Diagnostic>,
    ) {
        for c in catalogs.iter().flatten() {
            if !self.tracks.contains(&c.value.as_str()) {
                diags.push(unknown_name(
                    file,
                    c,
                    "track",
                    self.tracks.iter().copied(),
                    Some("tracks are declared in mmc.yaml"),
                ));
            }
        }
    }

    fn check_items(&self, diags: &mut Vec<Diagnostic>) {
        for src in self.items.values() {
            let (file, item) = (src.file.as_str(), &src.value);
            let kind = item.kind.value;
            if item.name.value.trim().is_empty() || item.name.value.contains(['/', '\n']) {
                diags.push(
                    Diagnostic::error(
                        "bad-name",
                        "an item name must be non-empty and contain no `/` or line break",
                    )
                    .at(file, item.name.span.clone(), ""),
                );
            }
            for (key, span) in present_keys(item) {
                if !allowed(kind, key) {
                    let span = span.unwrap_or_else(|| item.name.span.clone());
                    diags.push(
                        Diagnostic::error(
                            "key-not-for-kind",
                            format!("`{key}` does not apply to a {} item", kind.as_str()),
                        )
                        .at(file, span, format!("`{key}` set here"))
                        .also(
                            file,
                            item.kind.span.clone(),
                            format!("this is a {} item", kind.as_str()),
                        )
                        .help(format!(
                            "{} items take: {}",
                            kind.as_str(),
                            keys_for(kind).join(", ")
                        )),
                    );
                }
            }
            let missing = |key: &str, diags: &mut Vec<Diagnostic>| {
                diags.push(
                    Diagnostic::error(
                        "missing-key",
                        format!("a {} item needs `{key}`", kind.as_str()),
                    )
                    .at(
                        file,
                        item.name.span.clone(),
                        format!("`{key}` missing for this item"),
                    ),
                );
            };
            match kind {
                Kind::Package => {
                    if item.version.is_none() {
                        missing("version", diags);
                    }
                    if item.installer_item_location.is_none() {
                        missing("installer_item_location", diags);
                    }
                    match &item.installer_item_hash {
                        None => missing("installer_item_hash", diags),
                        Some(h) if !is_sha256(&h.value) => diags.push(
                            Diagnostic::error(
                                "bad-hash",
                                "installer_item_hash must be a SHA-256: 64 hex digits",
                            )
                            .at(file, h.span.clone(), "not a SHA-256")
                            .help("compute it with `shasum -a 256 FILE`"),
                        ),
                        Some(_) => {}
                    }
                }
                Kind::Script => {
                    if item.version.is_none() {
                        missing("version", diags);
                    }
                    if item.installcheck_script.is_none()
                        && item.on_demand.as_ref().is_none_or(|o| !o.value)
                    {
                        missing("installcheck_script", diags);
                    }
                    if item.postinstall_script.is_none() {
                        missing("postinstall_script", diags);
                    }
                }
                Kind::Preference => {
                    if item.domain.is_none() {
                        missing("domain", diags);
                    }
                    match &item.values {
                        None => missing("values", diags),
                        Some(v) if !matches!(v.value, Value::Dict(_)) => diags.push(
                            Diagnostic::error(
                                "bad-values",
                                "`values` must be a mapping of preference keys to values",
                            )
                            .at(
                                file,
                                v.span.clone(),
                                format!("this is {}", v.value.kind()),
                            ),
                        ),
                        Some(_) => {}
                    }
                }
                Kind::File => {
                    match &item.path {
                        None => missing("path", diags),
                        Some(p)
                            if !p.value.starts_with('/')
                                || p.value.split('/').any(|c| c == "..") =>
                        {
                            diags.push(
                                Diagnostic::error(
                                    "bad-path",
                                    "a file path must be absolute and contain no `..`",
                                )
                                .at(
                                    file,
                                    p.span.clone(),
                                    "not an absolute path",
                                ),
                            )
                        }
                        Some(_) => {}
                    }
                    if item.content.is_none() {
                        missing("content", diags);
                    }
                    if let Some(m) = &item.mode
                        && parse_mode(&m.value).is_none()
                    {
                        diags.push(
                            Diagnostic::error("bad-mode", format!("`{}` is not an octal file mode", m.value))
                                .at(file, m.span.clone(), "expected e.g. \"0644\"")
                                .help("write the mode as a quoted octal string such as \"0644\" or \"0755\""),
                        );
                    }
                }
                Kind::Launchd => {
                    match &item.label {
                        None => missing("label", diags),
                        Some(l) => self.check_label(file, l, diags),
                    }
                    match &item.job {
                        None => missing("job", diags),
                        Some(j) => check_job(file, j, diags),
                    }
                }
            }
            for arch in item.supported_architectures.iter().flatten() {
                if !matches!(arch.value.as_str(), "arm64" | "x86_64") {
                    diags.push(unknown_name(
                        file,
                        arch,
                        "architecture",
                        ["arm64", "x86_64"],
                        None,
                    ));
                }
            }
            if let Some(m) = &item.uninstall_method {
                self.check_uninstall_method(file, item, m, diags);
            }
            if let Some(h) = &item.uninstaller_item_hash
                && !is_sha256(&h.value)
            {
                diags.push(
                    Diagnostic::error(
                        "bad-hash",
                        "uninstaller_item_hash must be a SHA-256: 64 hex digits",
                    )
                    .at(file, h.span.clone(), "not a SHA-256")
                    .help("compute it with `shasum -a 256 FILE`"),
                );
            }
            self.check_tracks(file, &item.catalogs, diags);
            for name in item
                .requires
                .iter()
                .flatten()
                .chain(item.update_for.iter().flatten())
            {
                self.check_item_ref(file, name, diags);
            }
        }
        self.check_destinations(diags);
    }

    /// A launchd label: a file name on the Mac, and not one of Apple's.
    fn check_label(&self, file: &str, l: &Sp<String>, diags: &mut Vec<Diagnostic>) {
        if !is_label(&l.value) {
            diags.push(
                Diagnostic::error(
                    "bad-label",
                    format!("`{}` is not a valid launchd label", l.value),
                )
                .at(
                    file,
                    l.span.clone(),
                    "use letters, digits, `.`, `-` and `_`, starting with a letter or digit",
                )
                .help("the label is also the plist's file name; write a reverse-DNS name such as `com.example.fleet.heartbeat`"),
            );
        } else if let Some(rest) = apple_label(&l.value) {
            let prefix = &self.loaded.repo.value.org.identifier_prefix.value;
            diags.push(
                Diagnostic::error(
                    "apple-label",
                    format!("`{}` is a label in Apple's `com.apple.` namespace", l.value),
                )
                .at(file, l.span.clone(), "reserved for the jobs of macOS")
                .help(format!(
                    "mmc does not replace or add to Apple's daemons; use your own prefix, e.g. `{prefix}.{rest}`"
                )),
            );
        }
    }

    /// What items write on the Mac must not collide within a bundle: two launchd items with one
    /// label, two file items with one path, or a file item at a launchd item's plist. Paths are
    /// compared as macOS's default file systems do, ignoring case. Items released to tracks that
    /// share no bundle (a testing-only variant of a stable item) do not collide.
    fn check_destinations(&self, diags: &mut Vec<Diagnostic>) {
        // First definitions only, in the order of the files (duplicate names are reported already).
        let defined = self.loaded.items.iter().filter(|src| {
            self.items
                .get(src.value.name.value.as_str())
                .is_some_and(|first| std::ptr::eq(*first, *src))
        });
        let mut labels: BTreeMap<String, Claims> = BTreeMap::new();
        let mut paths: BTreeMap<String, Claims> = BTreeMap::new();
        for src in defined {
            let item = &src.value;
            match item.kind.value {
                Kind::Launchd => {
                    let Some(l) = item.label.as_ref().filter(|l| is_label(&l.value)) else {
                        continue;
                    };
                    let claims = labels.entry(l.value.to_ascii_lowercase()).or_default();
                    if let Some((first, first_label)) = claims
                        .iter()
                        .find(|(other, _)| self.share_a_track(other, src))
                    {
                        let mut d = Diagnostic::error(
                            "duplicate-label",
                            format!("two launchd items use the label `{}`", l.value),
                        )
                        .at(&src.file, l.span.clone(), format!("label of `{}`", item.name.value))
                        .also(
                            &first.file,
                            first_label.span.clone(),
                            format!("also the label of `{}`", first.value.name.value),
                        )
                        .help("one plist in /Library/LaunchDaemons would replace the other; give each job its own label");
                        if first_label.value != l.value {
                            d = d.note(
                                "labels that differ only in case share one plist file on macOS",
                            );
                        }
                        diags.push(d);
                    }
                    claims.push((src, l));
                }
                Kind::File => {
                    let Some((p, key)) = item
                        .path
                        .as_ref()
                        .and_then(|p| path_key(&p.value).map(|key| (p, key)))
                    else {
                        continue;
                    };
                    let claims = paths.entry(key).or_default();
                    if let Some((first, first_path)) = claims
                        .iter()
                        .find(|(other, _)| self.share_a_track(other, src))
                    {
                        diags.push(
                            Diagnostic::error(
                                "duplicate-path",
                                format!("two file items write `{}`", p.value),
                            )
                            .at(
                                &src.file,
                                p.span.clone(),
                                format!("path of `{}`", item.name.value),
                            )
                            .also(
                                &first.file,
                                first_path.span.clone(),
                                format!("also the path of `{}`", first.value.name.value),
                            )
                            .help("the agent would overwrite one with the other; keep one of them"),
                        );
                    }
                    claims.push((src, p));
                }
                _ => {}
            }
        }
        for (label, claims) in &labels {
            let Some(files) = paths.get(&format!("/library/launchdaemons/{label}.plist")) else {
                continue;
            };
            for (file_src, p) in files {
                let Some((daemon, l)) = claims
                    .iter()
                    .find(|(daemon, _)| self.share_a_track(daemon, file_src))
                else {
                    continue;
                };
                diags.push(
                    Diagnostic::error(
                        "duplicate-path",
                        format!(
                            "file item `{}` writes the plist of launchd item `{}`",
                            file_src.value.name.value, daemon.value.name.value
                        ),
                    )
                    .at(&file_src.file, p.span.clone(), "this path")
                    .also(
                        &daemon.file,
                        l.span.clone(),
                        format!(
                            "`{}` writes /Library/LaunchDaemons/{}.plist",
                            daemon.value.name.value, l.value
                        ),
                    )
                    .help("the launchd item writes and loads this plist; remove the file item"),
                );
            }
        }
    }

    /// Whether two items are released to a common track, so one bundle can carry both.
    fn share_a_track(&self, a: &Src<RawItem>, b: &Src<RawItem>) -> bool {
        self.tracks
            .iter()
            .any(|t| Self::in_track(&a.value.catalogs, t) && Self::in_track(&b.value.catalogs, t))
    }

    fn check_uninstall_method(
        &self,
        file: &str,
        item: &RawItem,
        m: &Sp<String>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let needs = |key: &str, present: bool, diags: &mut Vec<Diagnostic>| {
            if !present {
                diags.push(
                    Diagnostic::error(
                        "missing-key",
                        format!("uninstall_method `{}` needs `{key}`", m.value),
                    )
                    .at(
                        file,
                        m.span.clone(),
                        format!("`{key}` is not set for this item"),
                    ),
                );
            }
        };
        match m.value.as_str() {
            "removepackages" => needs(
                "receipts",
                item.receipts.as_ref().is_some_and(|r| !r.is_empty()),
                diags,
            ),
            "uninstall_script" => needs("uninstall_script", item.uninstall_script.is_some(), diags),
            "uninstall_package" => {
                needs(
                    "uninstaller_item_location",
                    item.uninstaller_item_location.is_some(),
                    diags,
                );
                needs(
                    "uninstaller_item_hash",
                    item.uninstaller_item_hash.is_some(),
                    diags,
                );
            }
            "remove_copied_items" => diags.push(
                Diagnostic::error(
                    "unsupported",
                    "uninstall_method `remove_copied_items` is not supported yet",
                )
                .at(
                    file,
                    m.span.clone(),
                    "needs `items_to_copy`, which mmc does not support yet",
                )
                .help("use `uninstall_script`, or an uninstaller package with `uninstall_package`"),
            ),
            path if path.starts_with('/') => {}
            _ => {
                let methods = ["removepackages", "uninstall_script", "uninstall_package"];
                diags.push(unknown_name(
                    file,
                    m,
                    "uninstall_method",
                    methods,
                    Some("or an absolute path to an uninstaller on the Mac"),
                ));
            }
        }
    }

    /// A reference names an item that exists somewhere (`name`, `name-version` or `name--version`).
    fn resolve(&self, reference: &str) -> Option<&'a Src<RawItem>> {
        if let Some(src) = self.items.get(reference) {
            return Some(src);
        }
        for sep in ["--", "-"] {
            let mut at = reference.len();
            while let Some(i) = reference[..at].rfind(sep) {
                let (name, version) = (&reference[..i], &reference[i + sep.len()..]);
                if let Some(src) = self.items.get(name)
                    && src
                        .value
                        .version
                        .as_ref()
                        .is_some_and(|v| v.value == version)
                {
                    return Some(src);
                }
                at = i;
            }
        }
        None
    }

    fn check_item_ref(&self, file: &str, name: &Sp<String>, diags: &mut Vec<Diagnostic>) {
        if self.resolve(&name.value).is_some() || self.loaded.items_incomplete {
            return;
        }
        let mut d = Diagnostic::error("unknown-item", format!("unknown item `{}`", name.value)).at(
            file,
            name.span.clone(),
            "no item has this name",
        );
        match suggest(&name.value, self.items.keys().copied()) {
            Some(s) => {
                let def = self.items[s];
                d = d
                    .also(
                        &def.file,
                        def.value.name.span.clone(),
                        "a similar name is defined here",
                    )
                    .help(format!("did you mean `{s}`?"));
            }
            None => d = d.help("items are defined in policies/items/*.yaml"),
        }
        diags.push(d);
    }

    fn check_manifests(&self, diags: &mut Vec<Diagnostic>) {
        let manifests = &self.loaded.manifests;
        for src in manifests.values() {
            let file = src.file.as_str();
            walk_body(&Body::of_manifest(&src.value), &mut |body| {
                self.check_tracks(file, body.catalogs, diags);
                for inc in body.included_manifests.iter().flatten() {
                    if !manifests.contains_key(&inc.value) && !self.loaded.manifests_incomplete {
                        diags.push(unknown_name(
                            file,
                            inc,
                            "manifest",
                            manifests.keys().map(String::as_str),
                            Some("manifests are the files under policies/manifests/"),
                        ));
                    }
                }
                for (_, list) in body.lists() {
                    for name in list.iter().flatten() {
                        self.check_item_ref(file, name, diags);
                    }
                }
                if let Some(c) = body.condition {
                    if c.value.trim().is_empty() {
                        diags.push(
                            Diagnostic::error(
                                "empty-condition",
                                "a conditional item needs a condition",
                            )
                            .at(file, c.span.clone(), "empty"),
                        );
                    } else {
                        let text = self.files.get(file).unwrap_or("");
                        conditions::check(file, text, c, &self.facts, diags);
                    }
                }
            });
            for m in src.value.modifications.iter().flatten() {
                self.check_modification(src, m, diags);
            }
        }
        self.find_cycles(diags);
    }

    fn check_modification(
        &self,
        src: &Src<ManifestFile>,
        m: &RawModification,
        diags: &mut Vec<Diagnostic>,
    ) {
        let file = src.file.as_str();
        let targets: Vec<(mmc_manifest::Target, &Sp<String>)> = modification_targets(m);
        let Some((target, value)) = targets.first() else {
            let span = m
                .tracks
                .as_ref()
                .and_then(|t| t.first())
                .map_or(0..0, |t| t.span.clone());
            diags.push(
                Diagnostic::error(
                    "modification-target",
                    "a modification needs one of site, os_version, owner, uuid or tag",
                )
                .at(file, span, "no target")
                .help("e.g. `- tag: engineering` followed by the lists it changes"),
            );
            return;
        };
        if targets.len() > 1 {
            diags.push(
                Diagnostic::error(
                    "modification-target",
                    "a modification has exactly one target",
                )
                .at(file, targets[1].1.span.clone(), "second target")
                .help("split it into one modification per target"),
            );
        }
        // The Mac must report the fact the target is matched against.
        let fact = target.fact();
        let wanted = if *target == mmc_manifest::Target::Tag {
            FactType::StringArray
        } else {
            FactType::String
        };
        if self.facts.get(fact) != Some(wanted) {
            diags.push(
                Diagnostic::error("modification-fact", format!("a `{}` modification needs the fact `{fact}`", target.as_str()))
                    .at(file, value.span.clone(), format!("matched against `{fact}`"))
                    .help(format!(
                        "declare it in mmc.yaml: `facts: {{{fact}: {}}}`, and have a condition script report it",
                        if wanted == FactType::StringArray { "string_array" } else { "string" }
                    )),
            );
        }
        self.check_tracks(file, &m.tracks, diags);
        let reachable = self.names_by_key(&manifest_key(&src.file));
        for (key, list) in modification_lists(m) {
            for entry in list.iter().flatten() {
                match entry.value.strip_prefix('-') {
                    Some(gone) => {
                        let gone_sp = Sp::new(gone.to_owned(), entry.span.clone());
                        self.check_item_ref(file, &gone_sp, diags);
                        if self.resolve(gone).is_some()
                            && !reachable.get(key).is_some_and(|names| {
                                names
                                    .iter()
                                    .any(|n| n == gone || mmc_manifest::base_name(n) == gone)
                            })
                        {
                            diags.push(
                                Diagnostic::warning(
                                    "removal-matches-nothing",
                                    format!(
                                        "`{gone}` is not in {key} here, so removing it does nothing"
                                    ),
                                )
                                .at(file, entry.span.clone(), "nothing to remove")
                                .help(format!(
                                    "no manifest this one includes lists `{gone}` under {key}"
                                )),
                            );
                        }
                    }
                    None => self.check_item_ref(file, entry, diags),
                }
            }
        }
    }

    /// Every name listed under each key by a manifest, the manifests it includes, their
    /// conditional items and modifications: what a removal could match.
    fn names_by_key(&self, manifest: &str) -> BTreeMap<&'static str, BTreeSet<String>> {
        let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue = vec![manifest];
        while let Some(name) = queue.pop() {
            let Some((key, src)) = self.loaded.manifests.get_key_value(name) else {
                continue;
            };
            if !seen.insert(key.as_str()) {
                continue;
            }
            walk_body(&Body::of_manifest(&src.value), &mut |b| {
                for (k, list) in b.lists() {
                    out.entry(k)
                        .or_default()
                        .extend(list.iter().flatten().map(|s| s.value.clone()));
                }
                queue.extend(
                    b.included_manifests
                        .iter()
                        .flatten()
                        .map(|s| s.value.as_str()),
                );
            });
            for m in src.value.modifications.iter().flatten() {
                for (k, list) in modification_lists(m) {
                    out.entry(k).or_default().extend(
                        list.iter()
                            .flatten()
                            .filter(|s| !s.value.starts_with('-'))
                            .map(|s| s.value.clone()),
                    );
                }
            }
        }
        out
    }

    /// Reports include cycles: a depth-first search in manifest-name order that colours each
    /// manifest once, so it runs in linear time. Each include that leads back into the current
    /// path closes one cycle, reported at that include.
    fn find_cycles(&self, diags: &mut Vec<Diagnostic>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let manifests = &self.loaded.manifests;
        let includes = |name: &str| -> Vec<&'a Sp<String>> {
            let mut out = Vec::new();
            if let Some(src) = manifests.get(name) {
                walk_body(&Body::of_manifest(&src.value), &mut |b| {
                    out.extend(b.included_manifests.iter().flatten())
                });
            }
            out
        };
        let mut colour: BTreeMap<&str, Colour> = manifests
            .keys()
            .map(|k| (k.as_str(), Colour::White))
            .collect();
        for root in manifests.keys() {
            if colour[root.as_str()] != Colour::White {
                continue;
            }
            // Each frame: a manifest on the current path, its includes, and the next one to visit.
            let mut stack: Vec<(&str, Vec<&Sp<String>>, usize)> =
                vec![(root.as_str(), includes(root), 0)];
            colour.insert(root.as_str(), Colour::Grey);
            while let Some((name, incs, next)) = stack.last_mut() {
                let Some(inc) = incs.get(*next).copied() else {
                    colour.insert(name, Colour::Black);
                    stack.pop();
                    continue;
                };
                *next += 1;
                let current: &str = name;
                match colour.get(inc.value.as_str()).copied() {
                    Some(Colour::White) => {
                        let target = manifests
                            .get_key_value(&inc.value)
                            .map(|(k, _)| k.as_str())
                            .expect("coloured names exist");
                        colour.insert(target, Colour::Grey);
                        stack.push((target, includes(target), 0));
                    }
                    Some(Colour::Grey) => {
                        let start = stack
                            .iter()
                            .position(|(n, _, _)| *n == inc.value)
                            .expect("grey manifests are on the path");
                        let mut shown: Vec<&str> =
                            stack[start..].iter().map(|(n, _, _)| *n).collect();
                        shown.push(&inc.value);
                        let file = &manifests[current].file;
                        diags.push(
                            Diagnostic::error(
                                "include-cycle",
                                format!("included manifests form a cycle: {}", shown.join(" → ")),
                            )
                            .at(
                                file,
                                inc.span.clone(),
                                format!("`{current}` includes `{}` again", inc.value),
                            )
                            .help("remove one of these includes"),
                        );
                    }
                    _ => {} // finished, or unknown (reported elsewhere)
                }
            }
        }
    }

    fn check_profiles(&self, diags: &mut Vec<Diagnostic>) {
        crate::profiles::check(self.loaded, diags);
        let mut seen: BTreeMap<String, (&str, Range<usize>)> = BTreeMap::new();
        for src in &self.loaded.profiles {
            let (file, p) = (src.file.as_str(), &src.value);
            let identifier = self.profile_identifier(src);
            let span = p.identifier.as_ref().map_or(0..0, |i| i.span.clone());
            if let Some((first_file, first_span)) = seen.get(&identifier) {
                diags.push(
                    Diagnostic::error("duplicate-profile", format!("two profiles use the identifier `{identifier}`"))
                        .at(file, span.clone(), "second profile")
                        .also(first_file, first_span.clone(), "first profile")
                        .help("macOS would replace one with the other; give each profile its own identifier"),
                );
            } else {
                seen.insert(identifier.clone(), (file, span.clone()));
            }
            if let Some(i) = &p.identifier
                && !is_name_token(&i.value)
            {
                diags.push(bad_name(file, i, "profile identifier"));
            }
            // Kept PayloadUUIDs: well-formed, and no two alike in one profile.
            let mut uuids: BTreeMap<String, Range<usize>> = BTreeMap::new();
            for u in p
                .uuid
                .iter()
                .chain(p.payloads.iter().filter_map(|q| q.uuid.as_ref()))
            {
                if !is_uuid(&u.value) {
                    diags.push(
                        Diagnostic::error("bad-uuid", format!("`{}` is not a UUID", u.value))
                            .at(file, u.span.clone(), "not 8-4-4-4-12 hexadecimal digits")
                            .help("write it as the installed profile has it, e.g. 0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C90, or remove `uuid:` to let mmc derive one"),
                    );
                } else if let Some(first) = uuids.insert(u.value.to_uppercase(), u.span.clone()) {
                    diags.push(
                        Diagnostic::error(
                            "duplicate-uuid",
                            format!("the UUID `{}` is used twice in this profile", u.value),
                        )
                        .at(file, u.span.clone(), "second use")
                        .also(file, first, "first use")
                        .help("every payload and the profile itself need their own PayloadUUID"),
                    );
                }
            }
            check_profile_keys(file, p, diags);
            self.check_tracks(file, &p.catalogs, diags);
            if p.payloads.is_empty() {
                diags.push(
                    Diagnostic::error("no-payloads", "a profile needs at least one payload").at(
                        file,
                        p.display_name.span.clone(),
                        "this profile is empty",
                    ),
                );
            }
            let mut payload_ids: BTreeMap<String, Range<usize>> = BTreeMap::new();
            for (i, payload) in p.payloads.iter().enumerate() {
                let pid = payload_identifier(&identifier, p, i);
                let pspan = payload
                    .identifier
                    .as_ref()
                    .unwrap_or(&payload.payload_type)
                    .span
                    .clone();
                if let Some(first) = payload_ids.insert(pid.clone(), pspan.clone()) {
                    diags.push(
                        Diagnostic::error(
                            "duplicate-payload",
                            format!("two payloads use the identifier `{pid}`"),
                        )
                        .at(file, pspan, "second payload")
                        .also(file, first, "first payload")
                        .help("set `identifier:` on one of them"),
                    );
                }
                match payload.settings.as_ref().map(|s| &s.value) {
                    None => {}
                    Some(Value::Dict(entries)) => {
                        for (k, _) in entries {
                            if matches!(
                                k.value.as_str(),
                                "PayloadType"
                                    | "PayloadUUID"
                                    | "PayloadIdentifier"
                                    | "PayloadVersion"
                                    | "PayloadDisplayName"
                                    | "PayloadDescription"
                                    | "PayloadOrganization"
                            ) {
                                diags.push(
                                    Diagnostic::error("reserved-key", format!("`{}` is set by mmc, not in settings", k.value))
                                        .at(file, k.span.clone(), "reserved payload key")
                                        .help("use the payload's `type`, `identifier`, `display_name` and `description` keys; mmc derives PayloadUUID and PayloadVersion"),
                                );
                            }
                        }
                    }
                    Some(v) => {
                        let span = payload.settings.as_ref().map_or(0..0, |s| s.span.clone());
                        diags.push(
                            Diagnostic::error(
                                "bad-settings",
                                "payload `settings` must be a mapping",
                            )
                            .at(
                                file,
                                span,
                                format!("this is {}", v.kind()),
                            ),
                        );
                    }
                }
            }
        }
    }

    fn profile_identifier(&self, src: &Src<ProfileFile>) -> String {
        match &src.value.identifier {
            Some(i) => i.value.clone(),
            None => format!(
                "{}.{}",
                self.loaded.repo.value.org.identifier_prefix.value,
                file_stem(&src.file)
            ),
        }
    }

    fn in_track(catalogs: &Option<Vec<Sp<String>>>, track: &str) -> bool {
        catalogs
            .as_ref()
            .is_none_or(|c| c.iter().any(|t| t.value == track))
    }

    /// Update policies are rendered once, for every bundle and for the MDM files alike, so their
    /// templates see `vars` and `org` but no `bundle`.
    fn lower_updates(&self, diags: &mut Vec<Diagnostic>) -> Vec<ir::UpdatePolicy> {
        if self.loaded.updates.is_empty() {
            return Vec::new();
        }
        let cfg = &self.loaded.repo.value;
        let templates = Templates::new(minijinja::context! {
            vars => self.vars(),
            org => minijinja::context! { name => cfg.org.name.value.clone(), identifier_prefix => cfg.org.identifier_prefix.value.clone() },
        });
        let mut cx = Cx {
            files: self.files,
            templates: &templates,
            diags,
        };
        crate::updates::lower(
            &crate::updates::Repo {
                loaded: self.loaded,
                facts: &self.facts,
                tracks: &self.tracks,
            },
            &mut cx,
        )
    }

    fn vars(&self) -> minijinja::Value {
        self.loaded.repo.value.vars.as_ref().map_or_else(
            || minijinja::Value::from(BTreeMap::<String, minijinja::Value>::new()),
            |v| to_jinja(&v.value),
        )
    }

    fn lower_bundle(
        &self,
        files: &FileSet,
        spec: &BundleSpec,
        updates: &[ir::UpdatePolicy],
        diags: &mut Vec<Diagnostic>,
    ) -> ir::Bundle {
        let cfg = &self.loaded.repo.value;
        let track = spec.def.track.value.as_str();
        let context = minijinja::context! {
            vars => self.vars(),
            org => minijinja::context! { name => cfg.org.name.value.clone(), identifier_prefix => cfg.org.identifier_prefix.value.clone() },
            bundle => minijinja::context! { name => spec.def.name.value.clone(), track => track, audience => spec.audience.clone() },
        };
        let templates = Templates::new(context);
        let mut cx = Cx {
            files,
            templates: &templates,
            diags,
        };

        // Manifests this bundle ships: the listed ones (default all) and everything they include.
        let mut selected: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<&str> = match &spec.def.manifests {
            Some(list) => {
                for m in list {
                    if !self.loaded.manifests.contains_key(&m.value)
                        && !self.loaded.manifests_incomplete
                    {
                        cx.diags.push(unknown_name(
                            &self.loaded.repo.file,
                            m,
                            "manifest",
                            self.loaded.manifests.keys().map(String::as_str),
                            None,
                        ));
                    }
                }
                list.iter().map(|m| m.value.as_str()).collect()
            }
            None => self.loaded.manifests.keys().map(String::as_str).collect(),
        };
        while let Some(name) = queue.pop() {
            let Some(src) = self.loaded.manifests.get(name) else {
                continue;
            };
            if selected.insert(name) {
                walk_body(&Body::of_manifest(&src.value), &mut |b| {
                    queue.extend(
                        b.included_manifests
                            .iter()
                            .flatten()
                            .map(|s| s.value.as_str()),
                    )
                });
            }
        }

        let mut sources = ir::Sources::default();
        let mut manifests = BTreeMap::new();
        for name in &selected {
            let src = &self.loaded.manifests[*name];
            // Every name the manifest uses must be released to this bundle's track.
            walk_body(&Body::of_manifest(&src.value), &mut |b| {
                if let Some(catalogs) = b.catalogs.as_ref().filter(|c| !c.is_empty())
                    && !catalogs.iter().any(|c| c.value == track)
                {
                    let shown: Vec<&str> = catalogs.iter().map(|c| c.value.as_str()).collect();
                    cx.diags.push(
                        Diagnostic::error("catalog-not-in-bundle", format!("manifest `{name}` reads catalogs [{}], which bundle `{}` does not carry", shown.join(", "), spec.def.name.value))
                            .at(&src.file, catalogs[0].span.clone(), format!("bundle `{}` carries only catalog `{track}`", spec.def.name.value))
                            .help(format!("add `{track}` to these catalogs, remove the `catalogs` key (the bundle's track is the default), or leave this manifest out of bundle `{}`", spec.def.name.value)),
                    );
                }
                for (_, list) in b.lists() {
                    for r in list.iter().flatten() {
                        self.check_available(&src.file, r, track, &spec.def.name.value, cx.diags);
                    }
                }
            });
            let mut manifest_spec = cx.manifest(&Body::of_manifest(&src.value));
            // Modifications limited to other tracks never apply to this bundle's Macs: leave them out.
            manifest_spec.modifications = src
                .value
                .modifications
                .iter()
                .flatten()
                .filter_map(lower_modification)
                .filter(|m| m.tracks.is_empty() || m.tracks.iter().any(|t| t == track))
                .collect();
            for m in src.value.modifications.iter().flatten() {
                if m.tracks
                    .as_ref()
                    .is_none_or(|t| t.iter().any(|t| t.value == track))
                {
                    for (_, list) in modification_lists(m) {
                        for r in list.iter().flatten().filter(|r| !r.value.starts_with('-')) {
                            self.check_available(
                                &src.file,
                                r,
                                track,
                                &spec.def.name.value,
                                cx.diags,
                            );
                        }
                    }
                }
            }
            let m = ir::Manifest {
                spec: manifest_spec,
                display_name: src
                    .value
                    .display_name
                    .as_ref()
                    .and_then(|t| cx.text(&src.file, t)),
                notes: src.value.notes.as_ref().and_then(|t| cx.text(&src.file, t)),
            };
            manifests.insert((*name).to_owned(), m);
            sources
                .manifests
                .insert((*name).to_owned(), src.file.clone());
        }

        let mut items = BTreeMap::new();
        for (name, src) in &self.items {
            if !Self::in_track(&src.value.catalogs, track) {
                continue;
            }
            for r in src
                .value
                .requires
                .iter()
                .flatten()
                .chain(src.value.update_for.iter().flatten())
            {
                self.check_available(&src.file, r, track, &spec.def.name.value, cx.diags);
            }
            if let Some(item) = cx.item(&src.file, &src.value, &self.tracks) {
                items.insert((*name).to_owned(), item);
                sources.items.insert((*name).to_owned(), src.file.clone());
            }
        }

        let namespace = Uuid::new_v5(
            &Uuid::NAMESPACE_DNS,
            cfg.org.identifier_prefix.value.as_bytes(),
        );
        let mut profiles = BTreeMap::new();
        for src in &self.loaded.profiles {
            if !Self::in_track(&src.value.catalogs, track) {
                continue;
            }
            let identifier = self.profile_identifier(src);
            if let Some(p) = cx.profile(src, &identifier, &namespace, &cfg.org.name.value) {
                sources
                    .profiles
                    .insert(identifier.clone(), src.file.clone());
                profiles.insert(identifier, p);
            }
        }

        // Update policies released to this track, in name order (the order the agent tries them).
        let mut bundle_updates = Vec::new();
        for u in updates {
            if u.tracks
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| t == track))
            {
                sources
                    .updates
                    .insert(u.config.name.clone(), u.file.clone());
                bundle_updates.push(u.config.clone());
            }
        }

        ir::Bundle {
            name: spec.def.name.value.clone(),
            track: track.to_owned(),
            audience: spec.audience.clone(),
            expires_after_secs: spec.expires_after_secs,
            org_name: cfg.org.name.value.clone(),
            org_prefix: cfg.org.identifier_prefix.value.clone(),
            trusted_keys: cfg
                .signing
                .iter()
                .flat_map(|s| s.trusted_keys.iter().map(|k| k.value.clone()))
                .collect(),
            items,
            manifests,
            profiles,
            updates: bundle_updates,
            sources,
        }
    }

    /// An existing item that is not released to the bundle's track.
    fn check_available(
        &self,
        file: &str,
        r: &Sp<String>,
        track: &str,
        bundle: &str,
        diags: &mut Vec<Diagnostic>,
    ) {
        let Some(src) = self.resolve(&r.value) else {
            return;
        }; // unknown names were reported once already
        if Self::in_track(&src.value.catalogs, track) {
            return;
        }
        let catalogs_span = src
            .value
            .catalogs
            .as_ref()
            .and_then(|c| c.first())
            .map_or(src.value.name.span.clone(), |c| c.span.clone());
        diags.push(
            Diagnostic::error("item-not-in-track", format!("item `{}` is not released to track `{track}`", src.value.name.value))
                .at(file, r.span.clone(), format!("used by bundle `{bundle}`"))
                .also(&src.file, catalogs_span, "the item's catalogs are set here")
                .help(format!("add `{track}` to the item's catalogs, or leave this manifest out of bundle `{bundle}`")),
        );
    }
}

fn names(l: &Option<Vec<Sp<String>>>) -> Vec<String> {
    l.iter().flatten().map(|s| s.value.clone()).collect()
}

/// `policies/manifests/site/lab.yaml` → `site/lab`.
fn manifest_key(file: &str) -> String {
    crate::load::manifest_name(file)
}

fn modification_targets(m: &RawModification) -> Vec<(mmc_manifest::Target, &Sp<String>)> {
    use mmc_manifest::Target;
    [
        (Target::Site, &m.site),
        (Target::OsVersion, &m.os_version),
        (Target::Owner, &m.owner),
        (Target::Uuid, &m.uuid),
        (Target::Tag, &m.tag),
    ]
    .into_iter()
    .filter_map(|(t, v)| v.as_ref().map(|v| (t, v)))
    .collect()
}

fn modification_lists(m: &RawModification) -> [(&'static str, &Option<Vec<Sp<String>>>); 6] {
    [
        ("managed_installs", &m.managed_installs),
        ("managed_uninstalls", &m.managed_uninstalls),
        ("managed_updates", &m.managed_updates),
        ("optional_installs", &m.optional_installs),
        ("featured_items", &m.featured_items),
        ("default_installs", &m.default_installs),
    ]
}

fn lower_modification(m: &RawModification) -> Option<mmc_manifest::Modification> {
    let (target, value) = *modification_targets(m).first()?;
    let lists = modification_lists(m)
        .into_iter()
        .map(|(k, l)| (k.to_owned(), names(l)))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    Some(mmc_manifest::Modification {
        target,
        value: value.value.clone(),
        tracks: names(&m.tracks),
        lists,
    })
}

/// Admin facts declared in `mmc.yaml`, with their types.
fn declared_facts(
    file: &str,
    decl: Option<&Sp<Value>>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, FactType)> {
    let Some(decl) = decl else { return Vec::new() };
    let Value::Dict(entries) = &decl.value else {
        diags.push(
            Diagnostic::error("bad-facts", "`facts` must map fact names to types")
                .at(
                    file,
                    decl.span.clone(),
                    format!("this is {}", decl.value.kind()),
                )
                .help("e.g. `facts: {department: string, tags: string_array}`"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, ty) in entries {
        let valid_name = name
            .value
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            let help = if name.value.contains('-') {
                format!(
                    "NSPredicate reads `-` as subtraction; call it `{}`",
                    name.value.replace('-', "_")
                )
            } else {
                "use letters, digits and `_`, starting with a letter".to_owned()
            };
            diags.push(
                Diagnostic::error(
                    "bad-fact-name",
                    format!("`{}` cannot be a fact name", name.value),
                )
                .at(file, name.span.clone(), "invalid name")
                .help(help),
            );
            continue;
        }
        if conditions::RESERVED_WORDS
            .iter()
            .any(|w| w.eq_ignore_ascii_case(&name.value))
        {
            diags.push(
                Diagnostic::error(
                    "bad-fact-name",
                    format!("`{}` is a reserved word in NSPredicate", name.value),
                )
                .at(file, name.span.clone(), "cannot be a fact name")
                .help("choose another name: a condition could not name this fact"),
            );
            continue;
        }
        if mmc_predicate::BUILTIN_FACTS
            .iter()
            .any(|(b, _)| *b == name.value)
        {
            diags.push(
                Diagnostic::error("builtin-fact", format!("`{}` is one of Munki's built-in facts", name.value))
                    .at(file, name.span.clone(), "already defined by Munki")
                    .help("choose another name; a condition script cannot replace a built-in fact reliably"),
            );
            continue;
        }
        let Value::String(t) = &ty.value else {
            diags.push(
                Diagnostic::error("bad-fact-type", "a fact's type is a word such as `string`").at(
                    file,
                    ty.span.clone(),
                    format!("this is {}", ty.value.kind()),
                ),
            );
            continue;
        };
        match conditions::TYPE_NAMES.iter().find(|(n, _)| n == t) {
            Some((_, ft)) => out.push((name.value.clone(), *ft)),
            None => {
                let all: Vec<&str> = conditions::TYPE_NAMES.iter().map(|(n, _)| *n).collect();
                let d = Diagnostic::error("bad-fact-type", format!("unknown fact type `{t}`")).at(
                    file,
                    ty.span.clone(),
                    "not a type",
                );
                diags.push(match suggest(t, all.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`? types: {}", all.join(", "))),
                    None => d.help(format!("types: {}", all.join(", "))),
                });
            }
        }
    }
    out
}

/// A manifest or a conditional item, seen through the keys they share.
struct Body<'b> {
    condition: Option<&'b Sp<String>>,
    catalogs: &'b Option<Vec<Sp<String>>>,
    included_manifests: &'b Option<Vec<Sp<String>>>,
    lists: [&'b Option<Vec<Sp<String>>>; 6],
    conditional_items: &'b Option<Vec<ConditionalItem>>,
}

impl<'b> Body<'b> {
    fn of_manifest(m: &'b ManifestFile) -> Self {
        Body {
            condition: None,
            catalogs: &m.catalogs,
            included_manifests: &m.included_manifests,
            lists: [
                &m.managed_installs,
                &m.managed_uninstalls,
                &m.managed_updates,
                &m.optional_installs,
                &m.featured_items,
                &m.default_installs,
            ],
            conditional_items: &m.conditional_items,
        }
    }
    fn of_conditional(c: &'b ConditionalItem) -> Self {
        Body {
            condition: Some(&c.condition),
            catalogs: &c.catalogs,
            included_manifests: &c.included_manifests,
            lists: [
                &c.managed_installs,
                &c.managed_uninstalls,
                &c.managed_updates,
                &c.optional_installs,
                &c.featured_items,
                &c.default_installs,
            ],
            conditional_items: &c.conditional_items,
        }
    }
    fn lists(&self) -> impl Iterator<Item = (&'static str, &'b Option<Vec<Sp<String>>>)> + '_ {
        mmc_manifest::KEYS
            .iter()
            .copied()
            .zip(self.lists.iter().copied())
    }
}

/// Visits a body and all its nested conditional items, outermost first.
fn walk_body<'b>(body: &Body<'b>, f: &mut dyn FnMut(&Body<'b>)) {
    f(body);
    for c in body.conditional_items.iter().flatten() {
        walk_body(&Body::of_conditional(c), f);
    }
}

/// Lowering state for one bundle: templates and the diagnostics sink.
pub(crate) struct Cx<'c> {
    pub(crate) files: &'c FileSet,
    pub(crate) templates: &'c Templates,
    pub(crate) diags: &'c mut Vec<Diagnostic>,
}

impl Cx<'_> {
    /// Renders a string value and checks it can be written to a plist.
    pub(crate) fn text(&mut self, file: &str, s: &Sp<String>) -> Option<String> {
        let text = self.files.get(file).unwrap_or("");
        let out = self.templates.render(file, text, s, self.diags)?;
        self.checked(file, s, out)
    }

    /// Scripts are literal by default; one that uses mmc's template variables was probably meant
    /// to be rendered.
    fn warn_unrendered_template(&mut self, file: &str, key: &str, script: &Sp<String>) {
        let v = &script.value;
        let Some(at) = [
            "{{ vars.",
            "{{vars.",
            "{{ org.",
            "{{org.",
            "{{ bundle.",
            "{{bundle.",
        ]
        .iter()
        .filter_map(|p| v.find(p))
        .min() else {
            return;
        };
        let end = v[at..].find("}}").map_or(v.len(), |e| at + e + 2);
        let text = self.files.get(file).unwrap_or("");
        let span = crate::template::map_into_scalar(text, &script.span, v, at..end);
        self.diags.push(
            Diagnostic::warning("script-not-rendered", format!("`{key}` uses a template variable, but scripts are not rendered"))
                .at(file, span, "shipped as written, braces included")
                .help("add `render_scripts: true` to this item to render its scripts (wrap shell code such as `${#array[@]}` in {% raw %}…{% endraw %})"),
        );
    }

    /// A string value taken as written (no templates), checked for plist-illegal characters.
    fn literal(&mut self, file: &str, s: &Sp<String>) -> Option<String> {
        self.checked(file, s, s.value.clone())
    }

    fn checked(&mut self, file: &str, s: &Sp<String>, out: String) -> Option<String> {
        if let Some(c) = out.chars().find(|c| !crate::source::is_xml_char(*c)) {
            self.diags.push(
                Diagnostic::error(
                    "xml-illegal-char",
                    format!(
                        "this text contains U+{:04X}, which property lists cannot hold",
                        c as u32
                    ),
                )
                .at(file, s.span.clone(), "invalid character in this value")
                .help("remove the control character"),
            );
            return None;
        }
        Some(out)
    }

    fn opt_text(&mut self, file: &str, s: &Option<Sp<String>>) -> Option<Option<String>> {
        match s {
            None => Some(None),
            Some(s) => self.text(file, s).map(Some),
        }
    }

    fn value(&mut self, file: &str, v: &Sp<Value>) -> Option<Pv> {
        Some(match &v.value {
            Value::Bool(b) => Pv::Boolean(*b),
            Value::Integer(i) => Pv::Integer((*i).into()),
            Value::Real(r) => Pv::Real(*r),
            Value::String(s) => Pv::String(self.text(file, &Sp::new(s.clone(), v.span.clone()))?),
            Value::Array(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for i in items {
                    match self.value(file, i) {
                        Some(p) => out.push(p),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Pv::Array(out)
            }
            Value::Dict(entries) => Pv::Dictionary(self.dict(file, entries)?),
            Value::Data(bytes) => Pv::Data(bytes.clone()),
            Value::Date(text) => match plist::Date::from_xml_format(text) {
                Ok(d) => Pv::Date(d),
                Err(_) => {
                    self.diags.push(
                        Diagnostic::error(
                            "bad-date",
                            format!("`{text}` is not a date a property list can hold"),
                        )
                        .at(file, v.span.clone(), "this date")
                        .help("write a UTC time as YYYY-MM-DDTHH:MM:SSZ"),
                    );
                    return None;
                }
            },
            Value::Null => {
                self.diags.push(
                    Diagnostic::error("null-value", "a property list cannot hold null")
                        .at(file, v.span.clone(), "empty value")
                        .help("give the key a value, or remove it"),
                );
                return None;
            }
        })
    }

    fn dict(
        &mut self,
        file: &str,
        entries: &[(Sp<String>, Sp<Value>)],
    ) -> Option<plist::Dictionary> {
        let mut sorted: BTreeMap<&str, Pv> = BTreeMap::new();
        let mut ok = true;
        for (k, v) in entries {
            if let Some(c) = k.value.chars().find(|c| !crate::source::is_xml_char(*c)) {
                self.diags.push(
                    Diagnostic::error(
                        "xml-illegal-char",
                        format!("this key contains U+{:04X}", c as u32),
                    )
                    .at(file, k.span.clone(), "invalid character"),
                );
                ok = false;
            }
            match self.value(file, v) {
                Some(p) => {
                    sorted.insert(&k.value, p);
                }
                None => ok = false,
            }
        }
        ok.then(|| sorted.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A manifest as the bundle carries it, with conditions in canonical form.
    fn manifest(&mut self, body: &Body) -> mmc_manifest::Manifest {
        let mut m = mmc_manifest::Manifest {
            catalogs: names(body.catalogs),
            included_manifests: names(body.included_manifests),
            ..Default::default()
        };
        for (key, list) in body.lists() {
            let list = names(list);
            if !list.is_empty() {
                m.lists.insert(key.to_owned(), list);
            }
        }
        for c in body.conditional_items.iter().flatten() {
            let manifest = self.manifest(&Body::of_conditional(c));
            // Checked already; an unparseable condition has been reported and nothing is written.
            let condition = mmc_predicate::parse(&c.condition.value)
                .map_or_else(|_| c.condition.value.clone(), |p| mmc_predicate::print(&p));
            m.conditional_items.push(mmc_manifest::Conditional {
                condition,
                manifest,
            });
        }
        m
    }

    fn item(&mut self, file: &str, item: &RawItem, tracks: &[&str]) -> Option<ir::Item> {
        let name = item.name.value.clone();
        // Packages and scripts carry their metadata inside the pkginfo; the others keep it here.
        let mut meta = ir::Meta::default();
        if !matches!(item.kind.value, Kind::Package | Kind::Script) {
            let mut ok = true;
            for (slot, field) in [
                (&mut meta.display_name, &item.display_name),
                (&mut meta.description, &item.description),
                (&mut meta.category, &item.category),
                (&mut meta.developer, &item.developer),
                (&mut meta.notes, &item.notes),
            ] {
                match self.opt_text(file, field) {
                    Some(v) => *slot = v,
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
        }
        let spec = match item.kind.value {
            Kind::Package | Kind::Script => {
                ir::ItemSpec::Pkginfo(self.pkginfo(file, item, tracks)?)
            }
            Kind::Preference => {
                let Value::Dict(entries) = &item.values.as_ref()?.value else {
                    return None;
                };
                ir::ItemSpec::Preference {
                    domain: item.domain.as_ref()?.value.clone(),
                    scope: match item.scope.as_ref().map(|s| s.value) {
                        Some(PrefScope::User) => mmc_config::PrefScope::User,
                        _ => mmc_config::PrefScope::System,
                    },
                    values: self.dict(file, entries)?,
                }
            }
            Kind::Launchd => {
                let Value::Dict(entries) = &item.job.as_ref()?.value else {
                    return None;
                };
                ir::ItemSpec::Launchd {
                    label: item.label.as_ref()?.value.clone(),
                    job: self.dict(file, entries)?,
                }
            }
            Kind::File => ir::ItemSpec::File {
                path: item.path.as_ref()?.value.clone(),
                content: self.text(file, item.content.as_ref()?)?,
                mode: item
                    .mode
                    .as_ref()
                    .map_or(Some(0o644), |m| parse_mode(&m.value))?,
                owner: item
                    .owner
                    .as_ref()
                    .map_or_else(|| "root".to_owned(), |o| o.value.clone()),
                group: item
                    .group
                    .as_ref()
                    .map_or_else(|| "wheel".to_owned(), |g| g.value.clone()),
            },
        };
        Some(ir::Item {
            name,
            kind: item.kind.value,
            meta,
            spec,
        })
    }

    /// The item as a Munki pkginfo dictionary, with Munki's key names and types.
    fn pkginfo(
        &mut self,
        file: &str,
        item: &RawItem,
        tracks: &[&str],
    ) -> Option<plist::Dictionary> {
        let mut d: BTreeMap<&str, Pv> = BTreeMap::new();
        let mut ok = true;
        let s = |v: &Sp<String>| Pv::String(v.value.clone());
        let list = |l: &Option<Vec<Sp<String>>>| {
            l.as_ref()
                .map(|l| Pv::Array(l.iter().map(|s| Pv::String(s.value.clone())).collect()))
        };
        let b = |v: &Option<Sp<bool>>| v.as_ref().map(|v| Pv::Boolean(v.value));
        d.insert("name", s(&item.name));
        d.insert("version", s(item.version.as_ref()?));
        let catalogs = match &item.catalogs {
            Some(c) => c.iter().map(|t| Pv::String(t.value.clone())).collect(),
            None => tracks.iter().map(|t| Pv::String((*t).to_owned())).collect(),
        };
        d.insert("catalogs", Pv::Array(catalogs));
        for (key, field) in [
            ("display_name", &item.display_name),
            ("description", &item.description),
            ("category", &item.category),
            ("developer", &item.developer),
            ("notes", &item.notes),
        ] {
            match self.opt_text(file, field) {
                Some(Some(v)) => {
                    d.insert(key, Pv::String(v));
                }
                Some(None) => {}
                None => ok = false,
            }
        }
        // Scripts are shell code, taken literally unless the item asks for templates.
        let render_scripts = item.render_scripts.as_ref().is_some_and(|r| r.value);
        for (key, field) in [
            ("installcheck_script", &item.installcheck_script),
            ("uninstallcheck_script", &item.uninstallcheck_script),
            ("preinstall_script", &item.preinstall_script),
            ("postinstall_script", &item.postinstall_script),
            ("preuninstall_script", &item.preuninstall_script),
            ("postuninstall_script", &item.postuninstall_script),
            ("uninstall_script", &item.uninstall_script),
        ] {
            let Some(script) = field else { continue };
            if !render_scripts {
                self.warn_unrendered_template(file, key, script);
            }
            let value = if render_scripts {
                self.text(file, script)
            } else {
                self.literal(file, script)
            };
            match value {
                Some(v) => {
                    d.insert(key, Pv::String(v));
                }
                None => ok = false,
            }
        }
        for (key, field) in [
            ("installer_item_location", &item.installer_item_location),
            ("installer_item_hash", &item.installer_item_hash),
            ("minimum_os_version", &item.minimum_os_version),
            ("maximum_os_version", &item.maximum_os_version),
            ("uninstall_method", &item.uninstall_method),
            ("uninstaller_item_location", &item.uninstaller_item_location),
            ("uninstaller_item_hash", &item.uninstaller_item_hash),
        ] {
            if let Some(v) = field {
                d.insert(key, s(v));
            }
        }
        for (key, field) in [
            ("supported_architectures", &item.supported_architectures),
            ("requires", &item.requires),
            ("update_for", &item.update_for),
            ("blocking_applications", &item.blocking_applications),
        ] {
            if let Some(v) = list(field) {
                d.insert(key, v);
            }
        }
        for (key, field) in [
            ("unattended_install", &item.unattended_install),
            ("unattended_uninstall", &item.unattended_uninstall),
            ("uninstallable", &item.uninstallable),
            ("OnDemand", &item.on_demand),
        ] {
            if let Some(v) = b(field) {
                d.insert(key, v);
            }
        }
        for (key, field) in [
            ("installer_item_size", &item.installer_item_size),
            ("installed_size", &item.installed_size),
            ("uninstaller_item_size", &item.uninstaller_item_size),
        ] {
            if let Some(v) = field {
                d.insert(key, Pv::Integer(v.value.into()));
            }
        }
        if let Some(r) = &item.restart_action {
            let v = match r.value {
                RestartAction::None => "None",
                RestartAction::RequireRestart => "RequireRestart",
                RestartAction::RecommendRestart => "RecommendRestart",
                RestartAction::RequireLogout => "RequireLogout",
            };
            d.insert("RestartAction", Pv::String(v.to_owned()));
        }
        if item.kind.value == Kind::Script {
            d.insert("installer_type", Pv::String("nopkg".to_owned()));
        }
        if let Some(installs) = &item.installs {
            let mut out = Vec::new();
            for i in installs {
                let mut e: BTreeMap<&str, Pv> = BTreeMap::new();
                e.insert("type", Pv::String(i.kind.value.as_str().to_owned()));
                e.insert("path", s(&i.path));
                for (key, field) in [
                    ("CFBundleIdentifier", &i.bundle_identifier),
                    ("CFBundleName", &i.bundle_name),
                    ("CFBundleShortVersionString", &i.short_version),
                    ("CFBundleVersion", &i.bundle_version),
                    ("version_comparison_key", &i.version_comparison_key),
                    ("md5checksum", &i.md5checksum),
                    ("minosversion", &i.minosversion),
                ] {
                    if let Some(v) = field {
                        e.insert(key, s(v));
                    }
                }
                out.push(Pv::Dictionary(
                    e.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ));
            }
            d.insert("installs", Pv::Array(out));
        }
        if let Some(receipts) = &item.receipts {
            let mut out = Vec::new();
            for r in receipts {
                let mut e: BTreeMap<&str, Pv> = BTreeMap::new();
                e.insert("packageid", s(&r.packageid));
                e.insert("version", s(&r.version));
                if let Some(o) = &r.optional {
                    e.insert("optional", Pv::Boolean(o.value));
                }
                if let Some(n) = &r.name {
                    e.insert("name", s(n));
                }
                if let Some(n) = &r.installed_size {
                    e.insert("installed_size", Pv::Integer(n.value.into()));
                }
                out.push(Pv::Dictionary(
                    e.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ));
            }
            d.insert("receipts", Pv::Array(out));
        }
        ok.then(|| d.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn profile(
        &mut self,
        src: &Src<ProfileFile>,
        identifier: &str,
        namespace: &Uuid,
        org: &str,
    ) -> Option<ir::Profile> {
        let (file, p) = (src.file.as_str(), &src.value);
        let display_name = self.text(file, &p.display_name);
        let description = self.opt_text(file, &p.description);
        let organization = self.opt_text(file, &p.organization);
        let mut payloads = Vec::new();
        let mut ok = true;
        for (i, raw) in p.payloads.iter().enumerate() {
            let pid = payload_identifier(identifier, p, i);
            let settings = match &raw.settings {
                None => Some(plist::Dictionary::new()),
                Some(Sp {
                    value: Value::Dict(entries),
                    ..
                }) => self.dict(file, entries),
                Some(_) => None,
            };
            let display = self.opt_text(file, &raw.display_name);
            let desc = self.opt_text(file, &raw.description);
            let payload_org = self.opt_text(file, &raw.organization);
            match (settings, display, desc, payload_org) {
                (Some(settings), Some(display_name), Some(description), Some(organization)) => {
                    payloads.push(ir::Payload {
                        payload_type: raw.payload_type.value.clone(),
                        uuid: raw.uuid.as_ref().map_or_else(
                            || {
                                // A payload may share the profile's identifier (some vendors'
                                // profiles do); its PayloadUUID must still differ. `/` never
                                // occurs in an identifier, so this name is nobody else's.
                                if pid == identifier {
                                    uuid_for(namespace, &format!("{pid}/payload"))
                                } else {
                                    uuid_for(namespace, &pid)
                                }
                            },
                            |u| u.value.clone(),
                        ),
                        identifier: pid,
                        display_name,
                        description,
                        organization,
                        settings,
                    })
                }
                _ => ok = false,
            }
        }
        let consent_text = match &p.consent_text {
            None => Some(None),
            Some(texts) => {
                let mut out = BTreeMap::new();
                for (language, text) in &texts.value {
                    match self.text(file, text) {
                        Some(t) => {
                            out.insert(language.clone(), t);
                        }
                        None => ok = false,
                    }
                }
                Some(Some(out))
            }
        };
        // A malformed date was reported by `check_profile_keys`; emit needs a real one.
        let valid_date = |d: &Option<Sp<String>>| {
            d.as_ref()
                .is_none_or(|d| crate::syntax::spanned::check_date(&d.value).is_ok())
        };
        if !ok || !valid_date(&p.removal_date) || !valid_date(&p.expiration_date) {
            return None;
        }
        Some(ir::Profile {
            identifier: identifier.to_owned(),
            uuid: p
                .uuid
                .as_ref()
                .map_or_else(|| uuid_for(namespace, identifier), |u| u.value.clone()),
            display_name: display_name?,
            description: description?,
            organization: organization?.unwrap_or_else(|| org.to_owned()),
            scope: match p.scope.as_ref().map(|s| s.value) {
                Some(ProfileScope::User) => "User",
                _ => "System",
            },
            removal_disallowed: p.removal_disallowed.as_ref().map(|r| r.value),
            consent_text: consent_text?,
            target_device_type: p.target_device_type.as_ref().map(|t| t.value),
            removal_date: p.removal_date.as_ref().map(|d| d.value.clone()),
            duration_until_removal: p.duration_until_removal.as_ref().map(|d| d.value),
            expiration_date: p.expiration_date.as_ref().map(|d| d.value.clone()),
            has_removal_passcode: p.has_removal_passcode.as_ref().map(|h| h.value),
            payloads,
        })
    }
}

/// TargetDeviceType values Apple lists (TopLevel's rangelist), with what each means.
pub(crate) const TARGET_DEVICE_TYPES: [(i64, &str); 7] = [
    (0, "any"),
    (1, "iPhone, iPad or iPod touch"),
    (2, "Apple Watch"),
    (3, "HomePod"),
    (4, "Apple TV"),
    (5, "Mac"),
    (6, "Apple Vision Pro"),
];

/// The profile-level keys with a fixed form: dates, the target device type, the removal delay.
fn check_profile_keys(file: &str, p: &ProfileFile, diags: &mut Vec<Diagnostic>) {
    for (key, date) in [
        ("removal_date", &p.removal_date),
        ("expiration_date", &p.expiration_date),
    ] {
        if let Some(d) = date
            && crate::syntax::spanned::check_date(&d.value).is_err()
        {
            diags.push(
                Diagnostic::error("bad-date", format!("`{key}` `{}` is not a UTC date and time", d.value))
                    .at(file, d.span.clone(), "not YYYY-MM-DDTHH:MM:SSZ")
                    .help("write a UTC time as YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-01-31T09:00:00Z (no offset, no fraction of a second)"),
            );
        }
    }
    if let Some(t) = &p.target_device_type
        && !TARGET_DEVICE_TYPES.iter().any(|(v, _)| *v == t.value)
    {
        let allowed: Vec<String> = TARGET_DEVICE_TYPES
            .iter()
            .map(|(v, what)| format!("{v} ({what})"))
            .collect();
        diags.push(
            Diagnostic::error(
                "bad-target-device-type",
                format!(
                    "`target_device_type` {} is not a device type Apple defines",
                    t.value
                ),
            )
            .at(file, t.span.clone(), "not one of 0 to 6")
            .help(format!("use one of {}", allowed.join(", "))),
        );
    }
    if let Some(d) = &p.duration_until_removal
        && !(d.value.is_finite() && d.value > 0.0)
    {
        diags.push(
            Diagnostic::error("bad-duration", format!("`duration_until_removal` {} is not a positive number of seconds", d.value))
                .at(file, d.span.clone(), "not a positive number")
                .help("write the seconds after installation until macOS removes the profile, e.g. 86400 for a day"),
        );
    }
}

/// PayloadUUID: UUIDv5 of the identifier in the org's namespace (UUIDv5 of the prefix in the DNS
/// namespace), upper-case as Apple writes them. Stable across edits; changes only with identity.
pub fn uuid_for(namespace: &Uuid, identifier: &str) -> String {
    Uuid::new_v5(namespace, identifier.as_bytes())
        .hyphenated()
        .to_string()
        .to_uppercase()
}

/// A UUID as profiles write it: 8-4-4-4-12 hexadecimal digits. Apple writes upper case; a kept
/// UUID is written exactly as the installed profile had it, lower case included.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn payload_identifier(profile_identifier: &str, p: &ProfileFile, index: usize) -> String {
    let raw = &p.payloads[index];
    if let Some(i) = &raw.identifier {
        return i.value.clone();
    }
    let same_type_before = p.payloads[..index]
        .iter()
        .filter(|q| q.identifier.is_none() && q.payload_type.value == raw.payload_type.value)
        .count();
    let base = format!("{profile_identifier}.{}", raw.payload_type.value);
    if same_type_before == 0 {
        base
    } else {
        format!("{base}.{}", same_type_before + 1)
    }
}

/// A launchd label mmc accepts: `^[A-Za-z0-9][A-Za-z0-9._-]*$`.
fn is_label(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// For a label in Apple's namespace, what follows `com.apple.` (in any case).
fn apple_label(label: &str) -> Option<&str> {
    const APPLE: &str = "com.apple.";
    label
        .get(..APPLE.len())
        .filter(|p| p.eq_ignore_ascii_case(APPLE))
        .map(|_| &label[APPLE.len()..])
}

/// An absolute path as the file system sees it: `//` and `/./` collapsed, case ignored (macOS's
/// default file systems are case-insensitive). `None` for paths the path check refuses.
fn path_key(path: &str) -> Option<String> {
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return None;
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    Some(format!("/{}", parts.join("/")).to_lowercase())
}

/// The keys of a launchd job that mmc checks: `Label` comes from the item, a program must be
/// named, and the common keys must have the types launchd needs.
fn check_job(file: &str, job: &Sp<Value>, diags: &mut Vec<Diagnostic>) {
    let Value::Dict(entries) = &job.value else {
        diags.push(
            Diagnostic::error("bad-job", "`job` must be a mapping of launchd.plist keys to values")
                .at(file, job.span.clone(), format!("this is {}", job.value.kind()))
                .help("e.g. `job: {ProgramArguments: [/usr/local/bin/tool, --flag], StartInterval: 3600}`"),
        );
        return;
    };
    let get = |key: &str| entries.iter().find(|(k, _)| k.value == key);
    if let Some((k, _)) = get("Label") {
        diags.push(
            Diagnostic::error("reserved-key", "`Label` is set by mmc, not in `job`")
                .at(file, k.span.clone(), "reserved launchd key")
                .help("the label comes from the item's `label`; remove `Label` from `job`"),
        );
    }
    let program = get("Program");
    let arguments = get("ProgramArguments");
    if program.is_none() && arguments.is_none() {
        let span = entries
            .first()
            .map_or(job.span.clone(), |(k, _)| k.span.clone());
        diags.push(
            Diagnostic::error(
                "missing-key",
                "a launchd job needs `Program` or `ProgramArguments`",
            )
            .at(file, span, "this job names no program to run")
            .help("add e.g. `ProgramArguments: [/usr/local/bin/tool, --flag]`"),
        );
    }
    let bad = |v: &Sp<Value>, message: &str, help: &str| {
        Diagnostic::error("bad-job-value", message.to_owned())
            .at(file, v.span.clone(), format!("this is {}", v.value.kind()))
            .help(help.to_owned())
    };
    // A null is reported where the job is lowered (`null-value`), once.
    if let Some((_, v)) = program
        && !matches!(v.value, Value::String(_) | Value::Null)
    {
        diags.push(bad(
            v,
            "`Program` must be text: the path of the executable",
            "write e.g. `Program: /usr/local/bin/tool`",
        ));
    }
    if let Some((_, v)) = arguments {
        match &v.value {
            Value::Array(args) if !args.is_empty() => {
                for a in args
                    .iter()
                    .filter(|a| !matches!(a.value, Value::String(_) | Value::Null))
                {
                    diags.push(bad(
                        a,
                        "every entry of `ProgramArguments` must be text",
                        "quote it: launchd passes arguments as strings",
                    ));
                }
            }
            Value::Array(_) => diags.push(
                Diagnostic::error("bad-job-value", "`ProgramArguments` must not be empty")
                    .at(file, v.span.clone(), "empty list")
                    .help("the first entry is the program to run, e.g. `[/usr/local/bin/tool, --flag]`"),
            ),
            Value::Null => {}
            _ => diags.push(bad(
                v,
                "`ProgramArguments` must be a list of strings",
                "write e.g. `ProgramArguments: [/usr/local/bin/tool, --flag]`",
            )),
        }
    }
    if let Some((_, v)) = get("StartInterval")
        && !matches!(v.value, Value::Integer(1..) | Value::Null)
    {
        let d = match v.value {
            Value::Integer(_) => Diagnostic::error(
                "bad-job-value",
                "`StartInterval` must be a positive number of seconds",
            )
            .at(file, v.span.clone(), "not positive")
            .help("e.g. `StartInterval: 3600` runs the job every hour"),
            _ => bad(
                v,
                "`StartInterval` must be a positive whole number of seconds",
                "write digits without quotes, e.g. `StartInterval: 3600`",
            ),
        };
        diags.push(d);
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The longest validity a bundle may have: ten years.
pub const MAX_EXPIRY_SECS: i64 = 3_650 * 86_400;

/// `12h`, `30d`, `2w` → seconds; at most [`MAX_EXPIRY_SECS`].
pub fn parse_duration(s: &str) -> Option<i64> {
    parse_duration_in(s, "hdw")
}

/// A positive whole number and one of `units` (`s`econds, `m`inutes, `h`ours, `d`ays, `w`eeks)
/// → seconds; at most [`MAX_EXPIRY_SECS`].
pub fn parse_duration_in(s: &str, units: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last().filter(|u| units.contains(*u))?;
    let n: i64 = s[..s.len() - unit.len_utf8()]
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs).filter(|t| *t <= MAX_EXPIRY_SECS)
}

pub fn parse_mode(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

fn to_jinja(v: &Value) -> minijinja::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::Integer(i) => (*i).into(),
        Value::Real(r) => (*r).into(),
        Value::String(s) => s.clone().into(),
        Value::Array(a) => a.iter().map(|x| to_jinja(&x.value)).collect(),
        Value::Dict(d) => d
            .iter()
            .map(|(k, v)| (k.value.clone(), to_jinja(&v.value)))
            .collect::<BTreeMap<_, _>>()
            .into(),
        Value::Null => minijinja::Value::from(()),
        Value::Data(bytes) => minijinja::Value::from_bytes(bytes.clone()),
        Value::Date(text) => text.clone().into(),
    }
}

fn bad_name(file: &str, s: &Sp<String>, what: &str) -> Diagnostic {
    Diagnostic::error(
        "bad-name",
        format!("`{}` is not a valid {what} name", s.value),
    )
    .at(
        file,
        s.span.clone(),
        "use letters, digits, `.`, `-` and `_`",
    )
}

pub(crate) fn unknown_name<'n>(
    file: &str,
    s: &Sp<String>,
    what: &str,
    candidates: impl IntoIterator<Item = &'n str> + Clone,
    note: Option<&str>,
) -> Diagnostic {
    let mut d = Diagnostic::error(format_code(what), format!("unknown {what} `{}`", s.value)).at(
        file,
        s.span.clone(),
        format!("no {what} has this name"),
    );
    let all: Vec<&str> = candidates.clone().into_iter().collect();
    d = match suggest(&s.value, candidates) {
        Some(m) => d.help(format!("did you mean `{m}`?")),
        None if !all.is_empty() && all.len() <= 12 => d.help(format!("known: {}", all.join(", "))),
        None => d,
    };
    if let Some(n) = note {
        d = d.note(n);
    }
    d
}

fn format_code(what: &str) -> &'static str {
    match what {
        "track" => "unknown-track",
        "manifest" => "unknown-manifest",
        "architecture" => "unknown-architecture",
        "uninstall_method" => "unknown-uninstall-method",
        _ => "unknown-name",
    }
}

/// Keys every kind accepts.
const COMMON_KEYS: &[&str] = &[
    "name",
    "kind",
    "display_name",
    "description",
    "catalogs",
    "category",
    "developer",
    "notes",
];

fn keys_for(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Package => &[
            "version",
            "installer_item_location",
            "installer_item_hash",
            "installer_item_size",
            "installed_size",
            "installs",
            "receipts",
            "minimum_os_version",
            "maximum_os_version",
            "supported_architectures",
            "requires",
            "update_for",
            "blocking_applications",
            "unattended_install",
            "unattended_uninstall",
            "uninstallable",
            "uninstall_method",
            "uninstaller_item_location",
            "uninstaller_item_hash",
            "uninstaller_item_size",
            "RestartAction",
            "OnDemand",
            "render_scripts",
            "installcheck_script",
            "uninstallcheck_script",
            "preinstall_script",
            "postinstall_script",
            "preuninstall_script",
            "postuninstall_script",
            "uninstall_script",
        ],
        Kind::Script => &[
            "version",
            "installcheck_script",
            "postinstall_script",
            "uninstallcheck_script",
            "uninstall_script",
            "uninstallable",
            "uninstall_method",
            "minimum_os_version",
            "maximum_os_version",
            "supported_architectures",
            "requires",
            "update_for",
            "unattended_install",
            "RestartAction",
            "OnDemand",
            "render_scripts",
        ],
        Kind::Preference => &["domain", "scope", "values"],
        Kind::File => &["path", "content", "mode", "owner", "group"],
        Kind::Launchd => &["label", "job"],
    }
}

fn allowed(kind: Kind, key: &str) -> bool {
    COMMON_KEYS.contains(&key) || keys_for(kind).contains(&key)
}

/// Kind-specific keys that are set on `item`, with the span of their value where there is one.
fn present_keys(item: &RawItem) -> Vec<(&'static str, Option<Range<usize>>)> {
    let mut out = Vec::new();
    let mut text = |k: &'static str, v: &Option<Sp<String>>| {
        if let Some(v) = v {
            out.push((k, Some(v.span.clone())));
        }
    };
    text("version", &item.version);
    text("installer_item_location", &item.installer_item_location);
    text("installer_item_hash", &item.installer_item_hash);
    text("minimum_os_version", &item.minimum_os_version);
    text("maximum_os_version", &item.maximum_os_version);
    text("uninstall_method", &item.uninstall_method);
    text("uninstaller_item_location", &item.uninstaller_item_location);
    text("uninstaller_item_hash", &item.uninstaller_item_hash);
    text("installcheck_script", &item.installcheck_script);
    text("uninstallcheck_script", &item.uninstallcheck_script);
    text("preinstall_script", &item.preinstall_script);
    text("postinstall_script", &item.postinstall_script);
    text("preuninstall_script", &item.preuninstall_script);
    text("postuninstall_script", &item.postuninstall_script);
    text("uninstall_script", &item.uninstall_script);
    text("domain", &item.domain);
    text("path", &item.path);
    text("content", &item.content);
    text("mode", &item.mode);
    text("owner", &item.owner);
    text("group", &item.group);
    text("label", &item.label);
    let mut other = |k: &'static str, span: Option<Option<Range<usize>>>| {
        if let Some(s) = span {
            out.push((k, s));
        }
    };
    let first = |l: &Option<Vec<Sp<String>>>| l.as_ref().map(|l| l.first().map(|s| s.span.clone()));
    other(
        "supported_architectures",
        first(&item.supported_architectures),
    );
    other("requires", first(&item.requires));
    other("update_for", first(&item.update_for));
    other("blocking_applications", first(&item.blocking_applications));
    let flag = |v: &Option<Sp<bool>>| v.as_ref().map(|v| Some(v.span.clone()));
    other("unattended_install", flag(&item.unattended_install));
    other("unattended_uninstall", flag(&item.unattended_uninstall));
    other("uninstallable", flag(&item.uninstallable));
    other("OnDemand", flag(&item.on_demand));
    other("render_scripts", flag(&item.render_scripts));
    other(
        "uninstaller_item_size",
        item.uninstaller_item_size
            .as_ref()
            .map(|v| Some(v.span.clone())),
    );
    other(
        "installer_item_size",
        item.installer_item_size
            .as_ref()
            .map(|v| Some(v.span.clone())),
    );
    other(
        "installed_size",
        item.installed_size.as_ref().map(|v| Some(v.span.clone())),
    );
    other(
        "RestartAction",
        item.restart_action.as_ref().map(|v| Some(v.span.clone())),
    );
    other("scope", item.scope.as_ref().map(|v| Some(v.span.clone())));
    other("values", item.values.as_ref().map(|v| Some(v.span.clone())));
    other("job", item.job.as_ref().map(|v| Some(v.span.clone())));
    other(
        "installs",
        item.installs
            .as_ref()
            .map(|l| l.first().map(|i| i.path.span.clone())),
    );
    other(
        "receipts",
        item.receipts
            .as_ref()
            .map(|l| l.first().map(|r| r.packageid.span.clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Some(30 * 86_400));
        assert_eq!(parse_duration("12h"), Some(12 * 3_600));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("99999999w"), None);
        assert_eq!(parse_duration("520w"), Some(520 * 7 * 86_400));
        // Bundle expiry takes hours and more; update timings take minutes and seconds too.
        assert_eq!(parse_duration("10m"), None);
        assert_eq!(parse_duration_in("10m", "smhdw"), Some(600));
        assert_eq!(parse_duration_in("90s", "smhdw"), Some(90));
        assert_eq!(parse_duration_in("-5m", "smhdw"), None);
        assert_eq!(parse_duration_in("5 minutes", "smhdw"), None);
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Some(0o644));
        assert_eq!(parse_mode("0o755"), Some(0o755));
        assert_eq!(parse_mode("0999"), None);
        assert_eq!(parse_mode("rw-r--r--"), None);
    }

    #[test]
    fn payload_uuids_are_stable_and_distinct() {
        let ns = Uuid::new_v5(&Uuid::NAMESPACE_DNS, b"com.example");
        let a = uuid_for(&ns, "com.example.screensaver");
        assert_eq!(a, uuid_for(&ns, "com.example.screensaver"));
        assert_ne!(a, uuid_for(&ns, "com.example.loginwindow"));
        assert_eq!(a, a.to_uppercase());
        let other = Uuid::new_v5(&Uuid::NAMESPACE_DNS, b"org.other");
        assert_ne!(a, uuid_for(&other, "com.example.screensaver"));
    }
}
