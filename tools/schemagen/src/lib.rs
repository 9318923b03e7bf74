//! Turns Apple's device-management profile schema (`mdm/profiles/*.yaml` of
//! <https://github.com/apple/device-management>) into the compact JSON data file the compiler's
//! profile validator embeds (`compiler/mmc-compiler/data/apple-profiles.json`).
//!
//! Kept: per payload type its macOS support (introduced, deprecated, removed) and per key its
//! name, type, presence, rangelist, range, format, repetition, macOS support and subkeys. Dropped:
//! every other OS, titles, descriptions, defaults, enrollment flags, and payload types macOS does
//! not support. The output is deterministic: payload types and keys sorted by name, one payload
//! type per line.
//!
//! The YAML is read event by event into an arena, because two of Apple's files use recursive
//! anchors (`subkeys: *id001` inside the `&id001` subtree), which a value-building loader expands
//! forever or refuses. A recursive alias becomes `"same_as": N`: "the subkeys of the key N levels
//! up".

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use granit_parser::{Event, Parser};
use serde::Serialize;
use serde_json::{Number, Value as Json};

/// Meta files of `mdm/profiles` that describe no payload type, and payload types whose keys
/// the schema cannot describe.
const SKIPPED_FILES: &[(&str, &str)] = &[
    (
        "TopLevel.yaml",
        "the profile's own top-level keys, which mmc writes",
    ),
    (
        "CommonPayloadKeys.yaml",
        "the Payload* keys of every payload, which mmc writes",
    ),
    (
        "com.apple.ManagedClient.preferences.yaml",
        "its settings are other apps' preference domains, which Apple's schema does not describe",
    ),
];

/// macOS support of a payload type or key. A key's object holds only the fields it overrides;
/// the rest is inherited from its parent (Apple's rule).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Os {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
}

impl Os {
    fn is_empty(&self) -> bool {
        *self == Os::default()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bounds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Number>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Key {
    pub key: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(skip_serializing_if = "Os::is_empty")]
    pub os: Os,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rangelist: Option<Vec<Json>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<Bounds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition: Option<Bounds>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subkeys: Vec<Key>,
    /// The subkeys are those of the key this many levels up (a recursive structure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Payload {
    pub os: Os,
    pub keys: Vec<Key>,
}

/// Everything generated from one schema directory.
pub struct Output {
    /// The data file's text.
    pub json: String,
    /// Apple's license text, to ship beside it.
    pub license: String,
}

/// Reads `<dir>/mdm/profiles/*.yaml` (and `SNAPSHOT.txt`, `LICENSE.txt`) and renders the data file.
pub fn generate(dir: &Path) -> Result<Output, String> {
    let profiles = dir.join("mdm/profiles");
    let mut names: Vec<String> = std::fs::read_dir(&profiles)
        .map_err(|e| format!("cannot read {}: {e}", profiles.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("no *.yaml files in {}", profiles.display()));
    }
    let mut payloads: BTreeMap<String, Payload> = BTreeMap::new();
    for name in &names {
        if SKIPPED_FILES.iter().any(|(f, _)| f == name) {
            continue;
        }
        let path = profiles.join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let doc = Doc::parse(&text).map_err(|e| format!("{name}: {e}"))?;
        let Some((ty, payload)) = convert(&doc).map_err(|e| format!("{name}: {e}"))? else {
            continue;
        };
        match payloads.get_mut(&ty) {
            None => {
                payloads.insert(ty, payload);
            }
            Some(existing) => merge_payload(existing, payload),
        }
    }
    let source = snapshot(dir)?;
    let license = std::fs::read_to_string(dir.join("LICENSE.txt"))
        .map_err(|e| format!("cannot read LICENSE.txt: {e}"))?;
    let mut json = String::new();
    json.push_str("{\"source\":");
    json.push_str(&serde_json::to_string(&source).expect("string"));
    json.push_str(",\n\"payloads\":{\n");
    for (i, (ty, p)) in payloads.iter().enumerate() {
        if i > 0 {
            json.push_str(",\n");
        }
        json.push_str(&serde_json::to_string(ty).expect("string"));
        json.push(':');
        json.push_str(&serde_json::to_string(p).expect("serializable"));
    }
    json.push_str("\n}}\n");
    Ok(Output { json, license })
}

/// `apple/device-management@<commit>` from `SNAPSHOT.txt` (a 40-hex commit anywhere in it).
fn snapshot(dir: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(dir.join("SNAPSHOT.txt"))
        .map_err(|e| format!("cannot read SNAPSHOT.txt: {e}"))?;
    let commit = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 40)
        .ok_or("SNAPSHOT.txt names no 40-digit commit")?;
    Ok(format!("apple/device-management@{commit}"))
}

// ---------------------------------------------------------------------------------------------
// A YAML document as an arena of nodes; aliases stay references.

#[derive(Debug)]
enum Node {
    Scalar(String),
    Seq(Vec<usize>),
    Map(Vec<(usize, usize)>),
    Alias(usize),
}

struct Doc {
    nodes: Vec<Node>,
    /// Anchor id → node.
    anchors: HashMap<usize, usize>,
    root: usize,
}

impl Doc {
    fn parse(text: &str) -> Result<Doc, String> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut anchors = HashMap::new();
        let mut stack: Vec<(usize, Option<usize>)> = Vec::new(); // (container, pending map key)
        let mut root = None;
        for ev in Parser::new_from_str(text) {
            let (ev, _) = ev.map_err(|e| e.to_string())?;
            let new = match ev {
                Event::Scalar(v, _, anchor, _) => {
                    nodes.push(Node::Scalar(v.into_owned()));
                    if anchor != 0 {
                        anchors.insert(anchor, nodes.len() - 1);
                    }
                    Some(nodes.len() - 1)
                }
                Event::Alias(id) => {
                    nodes.push(Node::Alias(id));
                    Some(nodes.len() - 1)
                }
                Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                    let is_seq = matches!(ev, Event::SequenceStart(..));
                    nodes.push(if is_seq {
                        Node::Seq(Vec::new())
                    } else {
                        Node::Map(Vec::new())
                    });
                    let id = nodes.len() - 1;
                    if anchor != 0 {
                        anchors.insert(anchor, id);
                    }
                    attach(&mut nodes, &mut stack, &mut root, id);
                    stack.push((id, None));
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                    None
                }
                _ => None,
            };
            if let Some(id) = new {
                attach(&mut nodes, &mut stack, &mut root, id);
            }
        }
        Ok(Doc {
            nodes,
            anchors,
            root: root.ok_or("empty document")?,
        })
    }

    /// Follows aliases.
    fn deref(&self, mut n: usize) -> usize {
        for _ in 0..64 {
            match self.nodes[n] {
                Node::Alias(a) => n = self.anchors[&a],
                _ => return n,
            }
        }
        n
    }

    fn get(&self, map: usize, key: &str) -> Option<usize> {
        match &self.nodes[self.deref(map)] {
            Node::Map(entries) => entries
                .iter()
                .find(|(k, _)| self.str(*k) == Some(key))
                .map(|(_, v)| *v),
            _ => None,
        }
    }

    fn str(&self, n: usize) -> Option<&str> {
        match &self.nodes[self.deref(n)] {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    fn seq(&self, n: usize) -> &[usize] {
        match &self.nodes[self.deref(n)] {
            Node::Seq(items) => items,
            _ => &[],
        }
    }
}

fn attach(
    nodes: &mut [Node],
    stack: &mut [(usize, Option<usize>)],
    root: &mut Option<usize>,
    id: usize,
) {
    let Some((parent, pending)) = stack.last_mut() else {
        root.get_or_insert(id);
        return;
    };
    match &mut nodes[*parent] {
        Node::Seq(items) => items.push(id),
        Node::Map(entries) => match pending.take() {
            None => *pending = Some(id),
            Some(k) => entries.push((k, id)),
        },
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Apple's schema → ours

fn macos(doc: &Doc, node: usize) -> Option<Os> {
    let m = doc.get(doc.get(node, "supportedOS")?, "macOS")?;
    let field = |f: &str| doc.get(m, f).and_then(|n| doc.str(n)).map(str::to_owned);
    Some(Os {
        introduced: field("introduced"),
        deprecated: field("deprecated"),
        removed: field("removed"),
    })
}

/// The payload type and its data, or `None` when macOS does not support it.
fn convert(doc: &Doc) -> Result<Option<(String, Payload)>, String> {
    let payload = doc.get(doc.root, "payload").ok_or("no `payload`")?;
    let ty = doc
        .get(payload, "payloadtype")
        .and_then(|n| doc.str(n))
        .ok_or("no `payload.payloadtype`")?
        .to_owned();
    let Some(os) = macos(doc, payload) else {
        return Ok(None);
    };
    if matches!(os.introduced.as_deref(), None | Some("n/a")) {
        return Ok(None);
    }
    let mut stack = Vec::new();
    let keys = match doc.get(doc.root, "payloadkeys") {
        Some(k) => keys(doc, k, &mut stack)?,
        None => Vec::new(),
    };
    Ok(Some((ty, Payload { os, keys })))
}

/// `stack` holds the `subkeys` nodes of the keys being converted (outermost first).
fn keys(doc: &Doc, list: usize, stack: &mut Vec<usize>) -> Result<Vec<Key>, String> {
    let mut out = Vec::new();
    for &k in doc.seq(list) {
        out.push(key(doc, k, stack)?);
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

fn key(doc: &Doc, k: usize, stack: &mut Vec<usize>) -> Result<Key, String> {
    let name = doc
        .get(k, "key")
        .and_then(|n| doc.str(n))
        .ok_or("a payload key without `key`")?
        .to_owned();
    let raw_ty = doc
        .get(k, "type")
        .and_then(|n| doc.str(n))
        .ok_or_else(|| format!("key `{name}` has no `type`"))?;
    let ty = raw_ty
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    if !matches!(
        ty.as_str(),
        "string"
            | "integer"
            | "real"
            | "boolean"
            | "date"
            | "data"
            | "array"
            | "dictionary"
            | "any"
    ) {
        return Err(format!("key `{name}` has unknown type `{raw_ty}`"));
    }
    let required = doc.get(k, "presence").and_then(|n| doc.str(n)) == Some("required");
    let os = macos(doc, k).unwrap_or_default();
    let rangelist = match doc.get(k, "rangelist") {
        None => None,
        Some(list) => Some(
            doc.seq(list)
                .iter()
                .map(|&v| scalar(doc, v, &ty))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("key `{name}`: {e}"))?,
        ),
    };
    let range = bounds(doc, k, "range").map_err(|e| format!("key `{name}`: {e}"))?;
    let repetition = bounds(doc, k, "repetition").map_err(|e| format!("key `{name}`: {e}"))?;
    let format = doc
        .get(k, "format")
        .and_then(|n| doc.str(n))
        .map(str::to_owned);
    let mut subkeys = Vec::new();
    let mut same_as = None;
    if let Some(sub) = doc.get(k, "subkeys") {
        let target = doc.deref(sub);
        if let Some(i) = stack.iter().position(|&s| s == target) {
            same_as = Some(stack.len() - i);
        } else {
            stack.push(target);
            subkeys = keys(doc, sub, stack)?;
            stack.pop();
        }
    }
    Ok(Key {
        key: name,
        ty,
        required,
        os,
        rangelist,
        range,
        format,
        repetition,
        subkeys,
        same_as,
    })
}

/// A rangelist entry as a value of the key's type (Apple writes `0` and `'0'` alike).
fn scalar(doc: &Doc, n: usize, ty: &str) -> Result<Json, String> {
    let s = doc.str(n).ok_or("a rangelist entry that is not a scalar")?;
    Ok(match ty {
        "integer" => Json::Number(
            s.parse::<i64>()
                .map_err(|_| format!("rangelist entry `{s}` is not an integer"))?
                .into(),
        ),
        "real" => Json::Number(
            s.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .ok_or_else(|| format!("rangelist entry `{s}` is not a number"))?,
        ),
        "boolean" => Json::Bool(match s {
            "true" => true,
            "false" => false,
            _ => return Err(format!("rangelist entry `{s}` is not a boolean")),
        }),
        _ => Json::String(s.to_owned()),
    })
}

fn bounds(doc: &Doc, k: usize, field: &str) -> Result<Option<Bounds>, String> {
    let Some(r) = doc.get(k, field) else {
        return Ok(None);
    };
    let num = |f: &str| -> Result<Option<Number>, String> {
        let Some(s) = doc.get(r, f).and_then(|n| doc.str(n)) else {
            return Ok(None);
        };
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Some(i.into()));
        }
        s.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Some)
            .ok_or_else(|| format!("{field}.{f} `{s}` is not a number"))
    };
    Ok(Some(Bounds {
        min: num("min")?,
        max: num("max")?,
    }))
}

// ---------------------------------------------------------------------------------------------
// Several files for one payload type (`com.apple.MCX` ×6, `com.apple.extensiblesso` ×2)

fn version(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// One payload type described by several files: the union of their keys. A key is required only
/// when every file has it and requires it (each file describes one use of the payload type), and
/// keeps a range, format, repetition or macOS override only when the files agree (rangelists are
/// joined, and dropped when one file has none); the
/// payload type is supported from the earliest file on and deprecated or removed only when every
/// file says so.
fn merge_payload(a: &mut Payload, b: Payload) {
    for k in &mut a.keys {
        if !b.keys.iter().any(|o| o.key == k.key) {
            k.required = false;
        }
    }
    for mut k in b.keys {
        match a.keys.iter_mut().find(|o| o.key == k.key) {
            Some(o) => merge_key(o, k),
            None => {
                k.required = false;
                a.keys.push(k);
            }
        }
    }
    a.keys.sort_by(|x, y| x.key.cmp(&y.key));
    let older = |x: &Option<String>, y: &Option<String>| match (x, y) {
        (Some(x), Some(y)) => Some(if version(x) <= version(y) { x } else { y }.clone()),
        _ => None,
    };
    let newer = |x: &Option<String>, y: &Option<String>| match (x, y) {
        (Some(x), Some(y)) => Some(if version(x) >= version(y) { x } else { y }.clone()),
        _ => None,
    };
    a.os.introduced = older(&a.os.introduced, &b.os.introduced);
    a.os.deprecated = newer(&a.os.deprecated, &b.os.deprecated);
    a.os.removed = newer(&a.os.removed, &b.os.removed);
}

fn merge_key(a: &mut Key, b: Key) {
    a.required &= b.required;
    if a.ty != b.ty {
        a.ty = "any".to_owned();
        a.subkeys.clear();
        return;
    }
    // A constraint one use of the payload type has and another lacks does not hold for both
    // (the Kerberos extension's fixed ExtensionIdentifier is not every SSO extension's).
    a.rangelist = match (a.rangelist.take(), b.rangelist) {
        (Some(mut x), Some(y)) => {
            for v in y {
                if !x.contains(&v) {
                    x.push(v);
                }
            }
            Some(x)
        }
        _ => None,
    };
    if a.range != b.range {
        a.range = None;
    }
    if a.format != b.format {
        a.format = None;
    }
    if a.repetition != b.repetition {
        a.repetition = None;
    }
    if a.os != b.os {
        a.os = Os::default();
    }
    for mut s in b.subkeys {
        match a.subkeys.iter_mut().find(|o| o.key == s.key) {
            Some(o) => merge_key(o, s),
            None => {
                s.required = false;
                a.subkeys.push(s);
            }
        }
    }
    a.subkeys.sort_by(|x, y| x.key.cmp(&y.key));
}

/// Why files were skipped, for the README and `--help`.
pub fn skipped_files() -> &'static [(&'static str, &'static str)] {
    SKIPPED_FILES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursive_anchor_becomes_same_as() {
        let text = "payload:\n  payloadtype: t\n  supportedOS:\n    macOS:\n      introduced: '10.7'\n\
payloadkeys:\n- key: list\n  type: <array>\n  subkeys: &id001\n  - key: item\n    type: <dictionary>\n    subkeys:\n    - key: sub\n      type: <array>\n      subkeys: *id001\n";
        let doc = Doc::parse(text).unwrap();
        let (ty, p) = convert(&doc).unwrap().unwrap();
        assert_eq!(ty, "t");
        let sub = &p.keys[0].subkeys[0].subkeys[0];
        assert_eq!(sub.key, "sub");
        assert_eq!(sub.same_as, Some(2));
        assert!(sub.subkeys.is_empty());
    }

    #[test]
    fn rangelist_follows_the_key_type_and_no_macos_is_skipped() {
        let text = "payload:\n  payloadtype: t\n  supportedOS:\n    macOS:\n      introduced: '11.0'\n      deprecated: '13.0'\n\
payloadkeys:\n- key: n\n  type: <integer>\n  presence: required\n  rangelist: [0, '1']\n  supportedOS:\n    macOS:\n      removed: '14.0'\n";
        let doc = Doc::parse(text).unwrap();
        let (_, p) = convert(&doc).unwrap().unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"os":{"introduced":"11.0","deprecated":"13.0"},"keys":[{"key":"n","type":"integer","required":true,"os":{"removed":"14.0"},"rangelist":[0,1]}]}"#
        );
        let ios = "payload:\n  payloadtype: t\n  supportedOS:\n    macOS:\n      introduced: n/a\npayloadkeys: []\n";
        assert!(convert(&Doc::parse(ios).unwrap()).unwrap().is_none());
    }

    #[test]
    fn merged_payloads_keep_only_shared_requirements() {
        let key = |n: &str, req: bool| Key {
            key: n.into(),
            ty: "string".into(),
            required: req,
            os: Os::default(),
            rangelist: None,
            range: None,
            format: None,
            repetition: None,
            subkeys: vec![],
            same_as: None,
        };
        let os = |i: &str| Os {
            introduced: Some(i.into()),
            ..Os::default()
        };
        let mut a = Payload {
            os: os("10.9"),
            keys: vec![key("both", true), key("only_a", true)],
        };
        let b = Payload {
            os: os("10.7"),
            keys: vec![key("both", true), key("only_b", true)],
        };
        merge_payload(&mut a, b);
        let req: Vec<(&str, bool)> = a
            .keys
            .iter()
            .map(|k| (k.key.as_str(), k.required))
            .collect();
        assert_eq!(req, [("both", true), ("only_a", false), ("only_b", false)]);
        assert_eq!(a.os.introduced.as_deref(), Some("10.7"));
    }
}
