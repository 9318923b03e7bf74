//! The payload hash of a configuration profile: one value the compiler computes from the
//! `.mobileconfig` it writes and the agent computes from what `profiles` lists for an installed
//! profile, so that the agent can tell an installed profile that is out of date.
//!
//! # What is compared
//!
//! `profiles show -output stdout-xml` (and `profiles -C -o stdout-xml`) lists an installed
//! profile with `ProfileItems`: one dictionary per payload holding the payload's common keys
//! (`PayloadIdentifier`, `PayloadType`, `PayloadUUID`, `PayloadVersion`, and the display name and
//! description when set) beside `PayloadContent`, a dictionary of the payload's own keys. The
//! top level is rewritten (`ProfileInstallDate` added, `PayloadRemovalDisallowed` turned into the
//! string `"true"`), so it is not compared: the hash covers the payloads only.
//!
//! Both sides reduce each payload to that listed shape: the keys of [`COMMON_KEYS`] that are
//! present, and `PayloadContent` holding every other key of the payload (left out when there is
//! none). A listed payload keeps only those keys, so whatever else macOS adds is ignored. The
//! payloads are sorted by `PayloadIdentifier` (unique within a profile), then encoded by
//! [`canonical`] and hashed with SHA-256 (lowercase hex) after the line `mmc-payload-v1`.
//!
//! So an edit of any setting, payload, payload name or description changes the hash; a profile
//! name, description, organization or removal flag changes only the file's SHA-256.
//!
//! **Unverified on a Mac:** that `ProfileItems` carries every value with its type (integers
//! stay integers, dates dates), and how a payload whose own keys include `PayloadContent`
//! (`com.apple.ManagedClient.preferences`) is listed. A mismatch there shows as `outdated`
//! forever, never as a wrong `installed`.

use plist::{Dictionary, Value};
use sha2::{Digest, Sha256};

/// The keys a listed payload shows beside `PayloadContent`.
pub const COMMON_KEYS: [&str; 7] = [
    "PayloadDescription",
    "PayloadDisplayName",
    "PayloadIdentifier",
    "PayloadOrganization",
    "PayloadType",
    "PayloadUUID",
    "PayloadVersion",
];

const DOMAIN: &[u8] = b"mmc-payload-v1\n";

/// The payload hash of a `.mobileconfig` (its top-level dictionary). `None` when it has no
/// `PayloadContent` array of dictionaries (an encrypted profile, or not a profile).
pub fn of_mobileconfig(profile: &Value) -> Option<String> {
    let payloads = profile.as_dictionary()?.get("PayloadContent")?.as_array()?;
    let mut listed = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let payload = payload.as_dictionary()?;
        let mut shape = Dictionary::new();
        let mut content = Dictionary::new();
        for (key, value) in payload {
            if COMMON_KEYS.contains(&key.as_str()) {
                shape.insert(key.clone(), value.clone());
            } else {
                content.insert(key.clone(), value.clone());
            }
        }
        if !content.is_empty() {
            shape.insert("PayloadContent".to_owned(), Value::Dictionary(content));
        }
        listed.push(shape);
    }
    Some(hash(listed))
}

/// The payload hash of an installed profile: one dictionary of the `_computerlevel` (or a
/// user's) array that `profiles … -output stdout-xml` prints. `None` without `ProfileItems`.
pub fn of_installed(entry: &Dictionary) -> Option<String> {
    let items = entry.get("ProfileItems")?.as_array()?;
    let mut listed = Vec::with_capacity(items.len());
    for item in items {
        let item = item.as_dictionary()?;
        let mut shape = Dictionary::new();
        for (key, value) in item {
            if COMMON_KEYS.contains(&key.as_str()) {
                shape.insert(key.clone(), value.clone());
            } else if key == "PayloadContent" {
                match value {
                    Value::Dictionary(d) if d.is_empty() => {}
                    other => {
                        shape.insert(key.clone(), other.clone());
                    }
                }
            }
        }
        listed.push(shape);
    }
    Some(hash(listed))
}

fn hash(mut payloads: Vec<Dictionary>) -> String {
    let id = |d: &Dictionary| {
        d.get("PayloadIdentifier")
            .and_then(Value::as_string)
            .map(str::to_owned)
    };
    let mut keyed: Vec<(Option<String>, Vec<u8>)> = payloads
        .drain(..)
        .map(|d| {
            let mut bytes = Vec::new();
            canonical(&Value::Dictionary(d.clone()), &mut bytes);
            (id(&d), bytes)
        })
        .collect();
    keyed.sort();
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(format!("a{}:", keyed.len()).as_bytes());
    for (_, bytes) in &keyed {
        hasher.update(bytes);
    }
    hex(&hasher.finalize())
}

/// An unambiguous, type-preserving encoding of a plist value: a tag letter, then for
/// variable-length values the length in decimal and `:`. Dictionaries are written with their
/// keys sorted by byte order.
///
/// | value | encoding |
/// |---|---|
/// | dictionary | `d` N `:` then per key (sorted) the key as a string, then its value |
/// | array | `a` N `:` then each element |
/// | string | `s` LEN `:` UTF-8 bytes |
/// | data | `x` LEN `:` bytes |
/// | integer | `i` LEN `:` decimal text |
/// | real | `r` 16 lowercase hex digits of the IEEE 754 bits |
/// | boolean | `t` or `f` |
/// | date | `D` LEN `:` the XML plist text (`2026-11-21T05:31:00Z`) |
/// | UID | `u` LEN `:` decimal text |
pub fn canonical(value: &Value, out: &mut Vec<u8>) {
    fn bytes(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
        out.push(tag);
        out.extend_from_slice(b.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(b);
    }
    match value {
        Value::Dictionary(d) => {
            out.push(b'd');
            out.extend_from_slice(d.len().to_string().as_bytes());
            out.push(b':');
            let mut keys: Vec<&String> = d.keys().collect();
            keys.sort();
            for key in keys {
                bytes(out, b's', key.as_bytes());
                canonical(&d[key.as_str()], out);
            }
        }
        Value::Array(a) => {
            out.push(b'a');
            out.extend_from_slice(a.len().to_string().as_bytes());
            out.push(b':');
            for v in a {
                canonical(v, out);
            }
        }
        Value::String(s) => bytes(out, b's', s.as_bytes()),
        Value::Data(d) => bytes(out, b'x', d),
        Value::Integer(i) => bytes(out, b'i', i.to_string().as_bytes()),
        Value::Real(r) => {
            out.push(b'r');
            out.extend_from_slice(format!("{:016x}", r.to_bits()).as_bytes());
        }
        Value::Boolean(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Date(d) => bytes(out, b'D', d.to_xml_format().as_bytes()),
        Value::Uid(u) => bytes(out, b'u', u.get().to_string().as_bytes()),
        // `plist::Value` is non-exhaustive; a kind it may gain is told apart by its debug text.
        other => bytes(out, b'?', format!("{other:?}").as_bytes()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Value {
        Value::from_reader_xml(xml.as_bytes()).unwrap()
    }

    const MOBILECONFIG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>PayloadContent</key>
	<array>
		<dict>
			<key>EnableFirewall</key>
			<true/>
			<key>Applications</key>
			<array><dict><key>BundleID</key><string>us.zoom.xos</string><key>Allowed</key><true/></dict></array>
			<key>PayloadDisplayName</key>
			<string>Firewall</string>
			<key>PayloadIdentifier</key>
			<string>com.example.firewall.com.apple.security.firewall</string>
			<key>PayloadType</key>
			<string>com.apple.security.firewall</string>
			<key>PayloadUUID</key>
			<string>0C6AFB45-01B6-4E19-944A-123CD16381C7</string>
			<key>PayloadVersion</key>
			<integer>1</integer>
		</dict>
		<dict>
			<key>PayloadIdentifier</key>
			<string>com.example.firewall.empty</string>
			<key>PayloadType</key>
			<string>com.example.empty</string>
			<key>PayloadUUID</key>
			<string>1C6AFB45-01B6-4E19-944A-123CD16381C7</string>
			<key>PayloadVersion</key>
			<integer>1</integer>
		</dict>
	</array>
	<key>PayloadDisplayName</key>
	<string>Firewall</string>
	<key>PayloadIdentifier</key>
	<string>com.example.firewall</string>
	<key>PayloadRemovalDisallowed</key>
	<true/>
	<key>PayloadType</key>
	<string>Configuration</string>
	<key>PayloadUUID</key>
	<string>8D0F62E6-E24F-4B2F-AFA8-CAC1F07F4FDC</string>
	<key>PayloadVersion</key>
	<integer>1</integer>
</dict>
</plist>
"#;

    /// The same profile as `profiles show -output stdout-xml` lists it: payloads in another
    /// order, top-level keys rewritten, extra keys macOS adds, an empty payload's content
    /// written as an empty dictionary.
    const LISTED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0">
<dict>
	<key>ProfileDisplayName</key><string>Firewall (renamed by nobody)</string>
	<key>ProfileIdentifier</key><string>com.example.firewall</string>
	<key>ProfileInstallDate</key><string>2026-11-21 05:31:00 +0000</string>
	<key>ProfileItems</key>
	<array>
		<dict>
			<key>PayloadContent</key><dict/>
			<key>PayloadIdentifier</key><string>com.example.firewall.empty</string>
			<key>PayloadType</key><string>com.example.empty</string>
			<key>PayloadUUID</key><string>1C6AFB45-01B6-4E19-944A-123CD16381C7</string>
			<key>PayloadVersion</key><integer>1</integer>
		</dict>
		<dict>
			<key>PayloadContent</key>
			<dict>
				<key>Applications</key>
				<array><dict><key>Allowed</key><true/><key>BundleID</key><string>us.zoom.xos</string></dict></array>
				<key>EnableFirewall</key><true/>
			</dict>
			<key>PayloadDisplayName</key><string>Firewall</string>
			<key>PayloadIdentifier</key><string>com.example.firewall.com.apple.security.firewall</string>
			<key>PayloadType</key><string>com.apple.security.firewall</string>
			<key>PayloadUUID</key><string>0C6AFB45-01B6-4E19-944A-123CD16381C7</string>
			<key>PayloadVersion</key><integer>1</integer>
			<key>PayloadEnabled</key><true/>
		</dict>
	</array>
	<key>ProfileRemovalDisallowed</key><string>true</string>
	<key>ProfileType</key><string>Configuration</string>
	<key>ProfileUUID</key><string>8D0F62E6-E24F-4B2F-AFA8-CAC1F07F4FDC</string>
	<key>ProfileVersion</key><integer>1</integer>
</dict>
</plist>
"#;

    fn listed(xml: &str) -> Dictionary {
        parse(xml).into_dictionary().unwrap()
    }

    #[test]
    fn both_sides_agree() {
        let desired = of_mobileconfig(&parse(MOBILECONFIG)).unwrap();
        assert_eq!(desired.len(), 64);
        assert_eq!(of_installed(&listed(LISTED)), Some(desired));
    }

    #[test]
    fn the_hash_is_pinned() {
        // Changing the encoding changes every bundle's payload_sha256: only with a new DOMAIN.
        assert_eq!(
            of_mobileconfig(&parse(MOBILECONFIG)).unwrap(),
            "4c9ca29dffa6bff602a4985557331c1ec413fd31f11885eb9c951e65c20fb177"
        );
    }

    #[test]
    fn a_changed_setting_changes_the_hash() {
        let desired = of_mobileconfig(&parse(MOBILECONFIG)).unwrap();
        for (from, to) in [
            (
                "<key>EnableFirewall</key><true/>",
                "<key>EnableFirewall</key><false/>",
            ),
            (
                "<key>EnableFirewall</key><true/>",
                "<key>EnableFirewall</key><integer>1</integer>",
            ),
            ("us.zoom.xos", "us.zoom.xos2"),
            ("<key>PayloadDisplayName</key><string>Firewall</string>", ""),
            ("0C6AFB45", "0C6AFB46"),
        ] {
            let changed = LISTED.replace(from, to);
            assert_ne!(changed, LISTED, "{from} is not in the listing");
            assert_ne!(
                of_installed(&listed(&changed)).as_deref(),
                Some(desired.as_str()),
                "{from} → {to}"
            );
        }
        // A listing without the firewall payload.
        let mut fewer = listed(LISTED);
        if let Some(Value::Array(items)) = fewer.get_mut("ProfileItems") {
            items.pop();
        }
        assert_ne!(of_installed(&fewer).unwrap(), desired);
    }

    #[test]
    fn top_level_changes_do_not_count() {
        let desired = of_mobileconfig(&parse(MOBILECONFIG)).unwrap();
        let renamed = MOBILECONFIG.replace(
            "<key>PayloadDisplayName</key>\n\t<string>Firewall</string>",
            "<key>PayloadDisplayName</key>\n\t<string>Other</string>",
        );
        assert_ne!(renamed, MOBILECONFIG);
        assert_eq!(of_mobileconfig(&parse(&renamed)).unwrap(), desired);
    }

    #[test]
    fn not_a_profile() {
        assert_eq!(of_mobileconfig(&Value::Boolean(true)), None);
        assert_eq!(of_mobileconfig(&parse("<plist><dict/></plist>")), None);
        assert_eq!(of_installed(&Dictionary::new()), None);
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        let enc = |v: Value| {
            let mut out = Vec::new();
            canonical(&v, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        };
        assert_eq!(enc(Value::String("ab".into())), "s2:ab");
        assert_eq!(enc(Value::Integer(12.into())), "i2:12");
        assert_ne!(
            enc(Value::String("12".into())),
            enc(Value::Integer(12.into()))
        );
        assert_ne!(
            enc(Value::Array(vec!["a".into(), "b".into()])),
            enc(Value::Array(vec!["ab".into()]))
        );
        assert_eq!(enc(Value::Real(1.0)), "r3ff0000000000000");
        assert_eq!(enc(Value::Data(vec![0, 1])), "x2:\u{0}\u{1}");
    }
}
