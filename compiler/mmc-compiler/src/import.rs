//! `mmc import`: an existing `.mobileconfig` → one profile source file (`profiles/NAME.yaml`).
//!
//! Pure: the bytes of a profile in, YAML text and warnings out; the CLI reads and writes the files.
//! The YAML says what the profile says, in the policy format, and compiles back to a profile that
//! is equal to the original except for what the warnings name (and, without `keep_uuids`, the
//! PayloadUUIDs, which mmc then derives).

use std::borrow::Cow;
use std::fmt::Write as _;

use plist::Value as Pv;

use crate::lower::is_uuid;
use crate::syntax::spanned::{DATA_KEY, DATE_KEY, check_date};

/// How to import one profile.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    /// The input's file name, for the header comment and the warnings.
    pub source: &'a str,
    /// The repository's `org.name`: a PayloadOrganization equal to it is left to the default.
    pub org_name: Option<&'a str>,
    /// Write the profile's and the payloads' PayloadUUIDs as `uuid:`.
    pub keep_uuids: bool,
}

/// One imported profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// PayloadIdentifier, exactly as the original has it.
    pub identifier: String,
    /// The suggested file name under `profiles/`, `.yaml` included.
    pub file_name: String,
    /// The profile source.
    pub yaml: String,
    /// What did not carry over as it was, one sentence each, naming the file and the key.
    pub warnings: Vec<String>,
}

/// A profile that cannot be imported at all.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ImportError {
    pub file: String,
    pub message: String,
}

/// Base64 characters per line of a `$data` block; shorter data is written inline.
const DATA_WIDTH: usize = 76;

/// Converts the bytes of a `.mobileconfig` (XML, binary, or signed) into a profile source.
pub fn import(bytes: &[u8], opts: &Options) -> Result<Imported, ImportError> {
    let fail = |message: String| ImportError {
        file: opts.source.to_owned(),
        message,
    };
    let mut cx = Cx {
        opts,
        warnings: Vec::new(),
    };
    let plist_bytes = match unwrap_signed(bytes) {
        Some(inner) => {
            cx.warn(
                "",
                "signature",
                "the profile is signed; the signature is dropped (mmc writes unsigned profiles)",
            );
            inner
        }
        None => Cow::Borrowed(bytes),
    };
    let root = Pv::from_reader(std::io::Cursor::new(plist_bytes.as_ref()))
        .map_err(|e| fail(format!("not a property list ({e})")))?;
    let Pv::Dictionary(top) = root else {
        return Err(fail("the property list is not a dictionary".into()));
    };
    match top.get("PayloadType") {
        Some(Pv::String(t)) if t == "Configuration" => {}
        // Some tools write the payload's type on the profile too; the payload list says what it is.
        Some(Pv::String(t)) if matches!(top.get("PayloadContent"), Some(Pv::Array(_))) => {
            cx.warn(
                "",
                "PayloadType",
                &format!("`{t}` becomes `Configuration`, the type of every profile"),
            );
        }
        Some(Pv::String(t)) => {
            return Err(fail(format!(
                "not a configuration profile: PayloadType is `{t}`, not `Configuration`"
            )));
        }
        _ => return Err(fail("not a configuration profile: no PayloadType".into())),
    }
    if top.contains_key("EncryptedPayloadContent") {
        return Err(fail(
            "the payloads are encrypted (EncryptedPayloadContent); decrypt the profile first"
                .into(),
        ));
    }
    let identifier = match top.get("PayloadIdentifier") {
        Some(Pv::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(fail("the profile has no PayloadIdentifier".into())),
    };
    if !identifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        cx.warn(
            "",
            "PayloadIdentifier",
            "is kept, but has characters mmc does not accept in a profile identifier (only letters, digits, `.`, `-` and `_`): `mmc check` will point at it",
        );
    }
    let Some(Pv::Array(contents)) = top.get("PayloadContent") else {
        return Err(fail("the profile has no PayloadContent list".into()));
    };
    if contents.is_empty() {
        return Err(fail(
            "the profile has no payloads; mmc needs at least one".into(),
        ));
    }

    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Imported by `mmc import` from {}.",
        one_line(opts.source)
    );
    let header_at = y.len();
    line(&mut y, 0, "identifier", &scalar_text(&identifier));
    match top.get("PayloadDisplayName") {
        Some(Pv::String(s)) => line(&mut y, 0, "display_name", &cx.text(s)),
        _ => {
            cx.warn(
                "",
                "PayloadDisplayName",
                "missing; mmc needs a display name, so the identifier is used",
            );
            line(&mut y, 0, "display_name", &cx.text(&identifier));
        }
    }
    for (key, field) in [
        ("PayloadDescription", "description"),
        ("PayloadOrganization", "organization"),
    ] {
        match top.get(key) {
            Some(Pv::String(s)) => {
                if field == "organization" && Some(s.as_str()) == opts.org_name {
                    continue;
                }
                line(&mut y, 0, field, &cx.text(s));
            }
            None if field == "organization" => cx.warn(
                "",
                key,
                "missing; mmc writes the organization's name (`org.name` in mmc.yaml)",
            ),
            None => {}
            Some(v) => cx.warn("", key, &format!("dropped: {} instead of text", kind(v))),
        }
    }
    match top.get("PayloadScope") {
        None => {}
        Some(Pv::String(s)) if s == "System" => {}
        Some(Pv::String(s)) if s == "User" => line(&mut y, 0, "scope", "User"),
        Some(Pv::String(s))
            if s.eq_ignore_ascii_case("system") || s.eq_ignore_ascii_case("user") =>
        {
            let fixed = if s.eq_ignore_ascii_case("user") {
                "User"
            } else {
                "System"
            };
            cx.warn(
                "",
                "PayloadScope",
                &format!("`{s}` is written as `{fixed}`"),
            );
            if fixed == "User" {
                line(&mut y, 0, "scope", "User");
            }
        }
        Some(v) => cx.warn(
            "",
            "PayloadScope",
            &format!(
                "dropped: `{}` is neither System nor User; mmc writes System",
                short(v)
            ),
        ),
    }
    match top.get("PayloadRemovalDisallowed") {
        None => {}
        Some(Pv::Boolean(b)) => line(&mut y, 0, "removal_disallowed", &b.to_string()),
        Some(v) => cx.warn(
            "",
            "PayloadRemovalDisallowed",
            &format!("dropped: {} instead of a boolean", kind(v)),
        ),
    }
    cx.removal_and_consent(&mut y, &top).map_err(fail)?;
    cx.uuid(&mut y, 0, "", top.get("PayloadUUID"));
    if let Some(v) = top.get("PayloadVersion")
        && !version_is_one(Some(v))
    {
        cx.warn(
            "",
            "PayloadVersion",
            &format!("`{}` becomes 1, the only version mmc writes", short(v)),
        );
    }
    for (key, v) in &top {
        if !TOP_MODELLED.contains(&key.as_str()) {
            cx.warn("", key, &format!("dropped: {}", unmodelled_reason(key, v)));
        }
    }

    y.push_str("payloads:\n");
    for (i, p) in contents.iter().enumerate() {
        let Pv::Dictionary(p) = p else {
            return Err(fail(format!(
                "payload {} is {}, not a dictionary",
                i + 1,
                kind(p)
            )));
        };
        let ptype = match p.get("PayloadType") {
            Some(Pv::String(t)) if !t.is_empty() => t.clone(),
            _ => return Err(fail(format!("payload {} has no PayloadType", i + 1))),
        };
        let at = format!("payload {} ({ptype})", i + 1);
        line(&mut y, 2, "- type", &scalar_text(&ptype));
        match p.get("PayloadIdentifier") {
            Some(Pv::String(s)) => line(&mut y, 4, "identifier", &scalar_text(s)),
            _ => cx.warn(
                &at,
                "PayloadIdentifier",
                "missing or not text; mmc derives one from the profile's identifier",
            ),
        }
        cx.uuid(&mut y, 4, &at, p.get("PayloadUUID"));
        for (key, field) in [
            ("PayloadDisplayName", "display_name"),
            ("PayloadDescription", "description"),
            ("PayloadOrganization", "organization"),
        ] {
            match p.get(key) {
                None => {}
                Some(Pv::String(s)) => line(&mut y, 4, field, &cx.text(s)),
                Some(v) => cx.warn(&at, key, &format!("dropped: {} instead of text", kind(v))),
            }
        }
        if let Some(v) = p.get("PayloadVersion")
            && !version_is_one(Some(v))
        {
            cx.warn(
                &at,
                "PayloadVersion",
                &format!("`{}` becomes 1, the only version mmc writes", short(v)),
            );
        }
        let settings: Vec<(&String, &Pv)> = p
            .iter()
            .filter(|(k, _)| !PAYLOAD_MODELLED.contains(&k.as_str()))
            .collect();
        if !settings.is_empty() {
            y.push_str("    settings:\n");
            let mut path = vec![at.clone()];
            cx.dict(&mut y, 6, None, &settings, &mut path)
                .map_err(fail)?;
        }
    }

    if !cx.warnings.is_empty() {
        let mut notes =
            String::from("# Not carried over as it was (`mmc import` warned about each):\n");
        for w in &cx.warnings {
            let w = w.strip_prefix(&format!("{}: ", opts.source)).unwrap_or(w);
            let _ = writeln!(notes, "#   {}", one_line(w));
        }
        y.insert_str(header_at, &notes);
    }
    Ok(Imported {
        file_name: file_name(&identifier, opts.source),
        identifier,
        yaml: y,
        warnings: cx.warnings,
    })
}

/// Top-level keys the policy format writes or checks itself.
const TOP_MODELLED: [&str; 16] = [
    "PayloadContent",
    "ConsentText",
    "TargetDeviceType",
    "RemovalDate",
    "DurationUntilRemoval",
    "PayloadExpirationDate",
    "HasRemovalPasscode",
    "PayloadDisplayName",
    "PayloadIdentifier",
    "PayloadDescription",
    "PayloadOrganization",
    "PayloadScope",
    "PayloadRemovalDisallowed",
    "PayloadUUID",
    "PayloadVersion",
    "PayloadType",
];

/// Payload keys mmc writes itself; every other key is a setting.
const PAYLOAD_MODELLED: [&str; 7] = [
    "PayloadType",
    "PayloadIdentifier",
    "PayloadUUID",
    "PayloadVersion",
    "PayloadDisplayName",
    "PayloadDescription",
    "PayloadOrganization",
];

fn unmodelled_reason(key: &str, v: &Pv) -> String {
    match key {
        // ProfileCreator and some MDMs add it; Apple's top-level keys have no PayloadEnabled.
        "PayloadEnabled" => format!(
            "it is not one of Apple's profile keys, and macOS ignores it (it was {})",
            short(v)
        ),
        _ => "the policy format has no key for it".into(),
    }
}

fn version_is_one(v: Option<&Pv>) -> bool {
    match v {
        None => true,
        Some(Pv::Integer(i)) => i.as_signed() == Some(1),
        _ => false,
    }
}

struct Cx<'a> {
    opts: &'a Options<'a>,
    warnings: Vec<String>,
}

impl Cx<'_> {
    /// The profile-level keys `ConsentText`, `TargetDeviceType`, `RemovalDate`,
    /// `DurationUntilRemoval`, `PayloadExpirationDate` and `HasRemovalPasscode`: written when
    /// present and of Apple's type, dropped with a warning otherwise.
    fn removal_and_consent(
        &mut self,
        y: &mut String,
        top: &plist::Dictionary,
    ) -> Result<(), String> {
        match top.get("ConsentText") {
            None => {}
            Some(Pv::Dictionary(texts)) if texts.values().all(|v| matches!(v, Pv::String(_))) => {
                if texts.is_empty() {
                    line(y, 0, "consent_text", "{}");
                } else {
                    y.push_str("consent_text:\n");
                    let entries: Vec<(&String, &Pv)> = texts.iter().collect();
                    self.dict(y, 2, None, &entries, &mut vec!["`ConsentText`".to_owned()])?;
                }
            }
            Some(v) => self.warn(
                "",
                "ConsentText",
                &format!("dropped: {} instead of texts by language", kind(v)),
            ),
        }
        match top.get("TargetDeviceType") {
            None => {}
            Some(Pv::Integer(i)) if i.as_signed().is_some() => {
                line(y, 0, "target_device_type", &i.to_string());
            }
            Some(v) => self.warn(
                "",
                "TargetDeviceType",
                &format!("dropped: `{}` is not an integer", short(v)),
            ),
        }
        for (key, field) in [
            ("RemovalDate", "removal_date"),
            ("PayloadExpirationDate", "expiration_date"),
        ] {
            match top.get(key) {
                None => {}
                Some(Pv::Date(d)) => {
                    let text = self.date_text(key, d)?;
                    line(y, 0, field, &text);
                }
                Some(v) => self.warn("", key, &format!("dropped: {} instead of a date", kind(v))),
            }
        }
        match top.get("DurationUntilRemoval") {
            None => {}
            Some(v @ Pv::Real(_)) => {
                let text = self
                    .simple(v)
                    .map_err(|e| format!("`DurationUntilRemoval`: {e}"))?;
                line(y, 0, "duration_until_removal", &text);
            }
            Some(Pv::Integer(i)) if i.as_signed().is_some() => {
                self.warn(
                    "",
                    "DurationUntilRemoval",
                    "becomes a real number, the type Apple documents (it was an integer)",
                );
                line(y, 0, "duration_until_removal", &i.to_string());
            }
            Some(v) => self.warn(
                "",
                "DurationUntilRemoval",
                &format!("dropped: {} instead of a number of seconds", kind(v)),
            ),
        }
        match top.get("HasRemovalPasscode") {
            None => {}
            Some(Pv::Boolean(b)) => line(y, 0, "has_removal_passcode", &b.to_string()),
            Some(v) => self.warn(
                "",
                "HasRemovalPasscode",
                &format!("dropped: {} instead of a boolean", kind(v)),
            ),
        }
        Ok(())
    }

    /// A plist date as `YYYY-MM-DDTHH:MM:SSZ`; a fraction of a second (binary plists have them)
    /// is cut off with a warning, since the policy format has whole seconds only.
    fn date_text(&mut self, at: &str, d: &plist::Date) -> Result<String, String> {
        let mut text = d.to_xml_format();
        if check_date(&text).is_err() {
            if let Some(dot) = text.find('.') {
                text = format!("{}Z", &text[..dot]);
                self.warn(at, "date", "loses its fraction of a second");
            }
            check_date(&text).map_err(|e| format!("{at}: {e}"))?;
        }
        Ok(text)
    }

    fn warn(&mut self, at: &str, key: &str, what: &str) {
        let at = if at.is_empty() {
            String::new()
        } else {
            format!("{at}: ")
        };
        self.warnings
            .push(format!("{}: {at}`{key}` {what}", self.opts.source));
    }

    /// A string as a YAML scalar that mmc reads back as exactly this text (templates disarmed).
    fn text(&self, s: &str) -> String {
        scalar_text(&literal(s))
    }

    fn uuid(&mut self, y: &mut String, indent: usize, at: &str, v: Option<&Pv>) {
        if !self.opts.keep_uuids {
            return;
        }
        match v {
            Some(Pv::String(u)) if is_uuid(u) => line(y, indent, "uuid", &scalar_text(u)),
            Some(v) => self.warn(
                at,
                "PayloadUUID",
                &format!("`{}` is not a UUID mmc can keep; mmc derives one", short(v)),
            ),
            None => self.warn(at, "PayloadUUID", "missing; mmc derives one"),
        }
    }

    /// Writes `entries` as a block mapping at `indent`; `first` replaces the indentation of the
    /// first line (`- ` of a list entry).
    fn dict(
        &mut self,
        y: &mut String,
        indent: usize,
        first: Option<String>,
        entries: &[(&String, &Pv)],
        path: &mut Vec<String>,
    ) -> Result<(), String> {
        for (i, (k, v)) in entries.iter().enumerate() {
            path.push(format!("`{k}`"));
            if k.as_str() == DATA_KEY || k.as_str() == DATE_KEY {
                return Err(format!(
                    "{}: a key named `{k}` cannot be written in the policy format",
                    path.join(" → ")
                ));
            }
            let prefix = match (&first, i) {
                (Some(f), 0) => format!("{f}{}:", key_text(k)),
                _ => format!("{}{}:", pad(indent), key_text(k)),
            };
            self.node(y, prefix, indent + 2, v, path)?;
            path.pop();
        }
        Ok(())
    }

    /// Writes one value after `prefix` (`  key:` or `  -`); nested content goes at `indent`.
    fn node(
        &mut self,
        y: &mut String,
        prefix: String,
        indent: usize,
        v: &Pv,
        path: &mut Vec<String>,
    ) -> Result<(), String> {
        let is_item = prefix.ends_with('-');
        match v {
            Pv::Dictionary(d) if !d.is_empty() => {
                let entries: Vec<(&String, &Pv)> = d.iter().collect();
                if is_item {
                    self.dict(y, indent, Some(format!("{prefix} ")), &entries, path)
                } else {
                    y.push_str(&prefix);
                    y.push('\n');
                    self.dict(y, indent, None, &entries, path)
                }
            }
            Pv::Array(a) if !a.is_empty() => {
                if !is_item {
                    y.push_str(&prefix);
                    y.push('\n');
                }
                for (i, item) in a.iter().enumerate() {
                    path.push(format!("[{}]", i + 1));
                    let p = if is_item && i == 0 {
                        format!("{prefix} -")
                    } else {
                        format!("{}-", pad(indent))
                    };
                    self.node(y, p, indent + 2, item, path)?;
                    path.pop();
                }
                Ok(())
            }
            Pv::String(s) => {
                let s = literal(s);
                match block_literal(&s, indent) {
                    Some(block) => {
                        let _ = write!(y, "{prefix} {block}");
                    }
                    None => {
                        let _ = writeln!(y, "{prefix} {}", scalar_text(&s));
                    }
                }
                Ok(())
            }
            Pv::Data(bytes) => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                if b64.len() <= 60 {
                    let b64 = if b64.is_empty() {
                        "\"\"".to_owned()
                    } else {
                        b64
                    };
                    let _ = writeln!(y, "{prefix} {{{DATA_KEY}: {b64}}}");
                    return Ok(());
                }
                let inner = if is_item {
                    format!("{prefix} {DATA_KEY}: |\n")
                } else {
                    format!("{prefix}\n{}{DATA_KEY}: |\n", pad(indent))
                };
                y.push_str(&inner);
                for chunk in b64.as_bytes().chunks(DATA_WIDTH) {
                    let _ = writeln!(
                        y,
                        "{}{}",
                        pad(indent + 2),
                        std::str::from_utf8(chunk).expect("base64 is ASCII")
                    );
                }
                Ok(())
            }
            Pv::Date(d) => {
                let text = self.date_text(&path.join(" → "), d)?;
                let _ = writeln!(y, "{prefix} {{{DATE_KEY}: {text}}}");
                Ok(())
            }
            _ => {
                let text = self
                    .simple(v)
                    .map_err(|e| format!("{}: {e}", path.join(" → ")))?;
                let _ = writeln!(y, "{prefix} {text}");
                Ok(())
            }
        }
    }

    /// Booleans, numbers, and empty collections.
    fn simple(&self, v: &Pv) -> Result<String, String> {
        Ok(match v {
            Pv::Boolean(b) => b.to_string(),
            Pv::Integer(i) => match i.as_signed() {
                Some(n) => n.to_string(),
                None => {
                    return Err(format!(
                        "the integer {i} is larger than a policy value can hold"
                    ));
                }
            },
            Pv::Real(r) if r.is_finite() => {
                // Rust's shortest round-trip form always has a `.` or an exponent, so YAML reads
                // a real, never an integer.
                let t = format!("{r:?}");
                if t.contains(['.', 'e', 'E']) {
                    t
                } else {
                    format!("{t}.0")
                }
            }
            Pv::Real(r) => return Err(format!("the real number {r} cannot be written in YAML")),
            Pv::Dictionary(_) => "{}".into(),
            Pv::Array(_) => "[]".into(),
            other => {
                return Err(format!(
                    "{} cannot be written in the policy format",
                    kind(other)
                ));
            }
        })
    }
}

fn line(y: &mut String, indent: usize, key: &str, value: &str) {
    let _ = writeln!(y, "{}{key}: {value}", pad(indent));
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

fn kind(v: &Pv) -> &'static str {
    match v {
        Pv::Array(_) => "an array",
        Pv::Dictionary(_) => "a dictionary",
        Pv::Boolean(_) => "a boolean",
        Pv::Data(_) => "data",
        Pv::Date(_) => "a date",
        Pv::Real(_) => "a real number",
        Pv::Integer(_) => "an integer",
        Pv::String(_) => "text",
        Pv::Uid(_) => "a keyed-archive UID",
        _ => "an unknown value",
    }
}

/// A value in a warning: short, one line.
fn short(v: &Pv) -> String {
    let s = match v {
        Pv::String(s) => s.clone(),
        Pv::Integer(i) => i.to_string(),
        Pv::Boolean(b) => b.to_string(),
        Pv::Real(r) => r.to_string(),
        other => return kind(other).to_owned(),
    };
    let s = one_line(&s);
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text the template engine passes through unchanged: a string with template syntax (`{{`, `{%`,
/// `{#`) is wrapped in `{% raw %}…{% endraw %}`, or, if it mentions `endraw` itself, each `{` is
/// printed by an expression.
pub fn literal(s: &str) -> Cow<'_, str> {
    if !(s.contains("{{") || s.contains("{%") || s.contains("{#")) {
        return Cow::Borrowed(s);
    }
    if !s.contains("endraw") {
        return Cow::Owned(format!("{{% raw %}}{s}{{% endraw %}}"));
    }
    Cow::Owned(s.replace('{', "{{ '{' }}"))
}

/// Words YAML (1.1 or 1.2) or mmc's strict reader would take as something other than text.
const NOT_TEXT_WORDS: [&str; 16] = [
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", "nan", "inf", "infinity",
    ".nan", ".inf", "-.inf",
];

/// Whether `s` can be written without quotes and read back as the same text: a conservative
/// subset of YAML's plain scalars.
fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_alphabetic() || first == '/' || first == '_') || s.ends_with(' ') {
        return false;
    }
    if NOT_TEXT_WORDS.contains(&s.to_lowercase().as_str()) {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().all(|(i, &c)| match c {
        c if c.is_alphanumeric() => true,
        ' ' | '.' | '_' | '/' | '-' | '(' | ')' | '+' | ',' | ';' | '=' | '@' | '\'' | '!'
        | '?' | '&' | '%' | '$' | '~' | '*' => true,
        ':' => chars.get(i + 1).is_some_and(|n| *n != ' '),
        _ => false,
    })
}

/// A map key, quoted when needed.
fn key_text(k: &str) -> String {
    scalar_text(k)
}

/// One-line YAML for a string: plain when safe, otherwise double-quoted with escapes.
fn scalar_text(s: &str) -> String {
    // A UUID is never a number, even when it starts with a digit.
    if is_plain(s) || is_uuid(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{85}' | '\u{a0}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A multi-line string as a literal block scalar (`|`, `|-` or `|+` and the lines at `indent`),
/// when the block form reads back exactly; `None` otherwise.
fn block_literal(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
        })
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    // The first non-empty line sets the block's indentation: it must not start with blanks.
    let first = body.lines().find(|l| !l.is_empty())?;
    if first.starts_with([' ', '\t']) {
        return None;
    }
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}\n");
    for l in body.split('\n') {
        if l.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{}{l}", pad(indent));
        }
    }
    for _ in 1..trailing.max(1) {
        out.push('\n');
    }
    Some(out)
}

/// `profiles/NAME.yaml` for a profile: the identifier's last part, or the input's file name when
/// that part is a UUID or too short to mean anything.
pub fn file_name(identifier: &str, source: &str) -> String {
    let last = identifier.rsplit('.').next().unwrap_or(identifier);
    let stem = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let stem = stem
        .strip_suffix(".mobileconfig")
        .or_else(|| stem.strip_suffix(".plist"))
        .unwrap_or(stem);
    let meaningful = last.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 3
        && !is_uuid(last)
        && !looks_like_hex_id(last);
    let name = sanitize(if meaningful { last } else { stem });
    let name = if name.is_empty() {
        sanitize(last)
    } else {
        name
    };
    let name = if name.is_empty() {
        "profile".to_owned()
    } else {
        name
    };
    format!("{name}.yaml")
}

/// `8FFDD3B8-5035` and the like: hexadecimal digits and hyphens only.
fn looks_like_hex_id(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') && s.bytes().any(|b| b.is_ascii_digit())
}

/// Letters, digits, `.`, `_` and `-`; anything else becomes `_`; no leading dot or dash.
fn sanitize(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(['.', '-']).trim_end_matches('.');
    trimmed.chars().take(100).collect()
}

/// The property list a signed profile carries, or `None` when `bytes` are not signed (they are
/// then read as XML or binary as they are).
///
/// A signed `.mobileconfig` is CMS SignedData (DER) whose encapsulated content is the XML
/// property list. This walks the DER structure to that content; if the structure is not the
/// expected one, it falls back to the bytes from `<?xml` to the last `</plist>`.
pub fn unwrap_signed(bytes: &[u8]) -> Option<Cow<'_, [u8]>> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let rest = &bytes[start..];
    let rest = rest
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(rest);
    if rest.starts_with(b"<") || rest.starts_with(b"bplist") || rest.first() != Some(&0x30) {
        return None;
    }
    if let Some(content) = cms_content(bytes) {
        return Some(Cow::Owned(content));
    }
    let xml = find(bytes, b"<?xml").or_else(|| find(bytes, b"<plist"))?;
    let end = rfind(bytes, b"</plist>")? + b"</plist>".len();
    (end > xml).then(|| Cow::Borrowed(&bytes[xml..end]))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// One DER element: (tag, contents, what follows). Definite lengths only.
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&len0, b) = b.split_first()?;
    let (len, b) = if len0 < 0x80 {
        (len0 as usize, b)
    } else {
        let n = (len0 & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, x| (a << 8) | *x as usize);
        (len, &b[n..])
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// ContentInfo { signedData, [0] SignedData { version, digestAlgorithms, encapContentInfo {
/// eContentType, [0] eContent OCTET STRING } … } } → eContent.
fn cms_content(b: &[u8]) -> Option<Vec<u8>> {
    const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let (0x30, content_info, _) = der(b)? else {
        return None;
    };
    let (0x06, oid, rest) = der(content_info)? else {
        return None;
    };
    if oid != SIGNED_DATA {
        return None;
    }
    let (0xa0, explicit, _) = der(rest)? else {
        return None;
    };
    let (0x30, signed_data, _) = der(explicit)? else {
        return None;
    };
    let (0x02, _, rest) = der(signed_data)? else {
        return None;
    };
    let (0x31, _, rest) = der(rest)? else {
        return None;
    };
    let (0x30, encap, _) = der(rest)? else {
        return None;
    };
    let (0x06, _, rest) = der(encap)? else {
        return None;
    };
    let (0xa0, explicit, _) = der(rest)? else {
        return None;
    };
    match der(explicit)? {
        (0x04, octets, _) => Some(octets.to_vec()),
        // A constructed OCTET STRING: the content in pieces.
        (0x24, mut pieces, _) => {
            let mut out = Vec::new();
            while !pieces.is_empty() {
                let (0x04, piece, rest) = der(pieces)? else {
                    return None;
                };
                out.extend_from_slice(piece);
                pieces = rest;
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
