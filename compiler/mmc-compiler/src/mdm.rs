//! Files for an MDM, which `mmc build` writes under `build/mdm/` next to the bundles: per update
//! policy that requires a macOS version by a deadline, a Nudge configuration (JSON and
//! profile) and a DDM declaration. Paths are relative to `build/mdm/`:
//!
//! ```text
//! updates/NAME.nudge.json          Nudge's JSON configuration (osVersionRequirements, userExperience, userInterface)
//! updates/NAME.nudge.mobileconfig  the same keys in a com.github.macadmins.Nudge profile payload
//! updates/NAME.ddm.json            com.apple.configuration.softwareupdate.enforcement.specific
//! ```
//!
//! The configuration profiles of `profiles/` join them under `profiles/`, and Fleet GitOps
//! fragments that list them under `fleet/` ([`profiles`]). Everything here is a pure function of
//! the policies: rebuilding gives the same bytes.

use std::collections::BTreeMap;

use mmc_config as config;
use mmc_config::messages::substitute;
use plist::Value as Pv;
use serde::Serialize;
use uuid::Uuid;

use crate::emit::{mobileconfig, plist_bytes};
use crate::ir;
use crate::lower::uuid_for;
use crate::updates::ddm_identifier;

pub mod profiles;

/// The folder below `build/mdm/` for update enforcement files.
pub const UPDATES_DIR: &str = "updates";
/// Suffixes of the files [`emit`] writes into [`UPDATES_DIR`] (what a rebuild may replace).
pub const UPDATE_SUFFIXES: [&str; 3] = [".nudge.json", ".nudge.mobileconfig", ".ddm.json"];
pub const DDM_TYPE: &str = "com.apple.configuration.softwareupdate.enforcement.specific";
pub const NUDGE_PAYLOAD_TYPE: &str = "com.github.macadmins.Nudge";

/// What `build/mdm/` receives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MdmOutput {
    /// Path below `build/mdm/` → bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Why an update policy has no Nudge or DDM files (one line each, for `mmc build`).
    pub notes: Vec<String>,
    /// Fleet GitOps fragments (path below `build/mdm/` → bytes), written only by
    /// `mmc build --fleet`.
    pub fleet: BTreeMap<String, Vec<u8>>,
}

/// The Nudge and DDM files of every update policy that requires a macOS version by a deadline.
pub fn emit(policies: &[ir::UpdatePolicy], org_name: &str, org_prefix: &str) -> MdmOutput {
    let mut out = MdmOutput::default();
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_DNS, org_prefix.as_bytes());
    for p in policies {
        let name = &p.config.name;
        let version = match &p.config.require {
            config::Requirement::OsVersion { version } => version,
            config::Requirement::Recommended => {
                out.notes.push(format!(
                    "update policy `{name}` has no Nudge or DDM files: they need `require: {{os_version: …}}`, not `recommended`"
                ));
                continue;
            }
        };
        let Some(deadline) = p.local_deadline else {
            out.notes.push(format!(
                "update policy `{name}` has no Nudge or DDM files: they need a `deadline` (Nudge and DDM enforce a date, not a deferral window)"
            ));
            continue;
        };
        let nudge = nudge(p, version, &deadline);
        let mut json = serde_json::to_vec_pretty(&nudge).expect("Nudge settings serialize");
        json.push(b'\n');
        out.files
            .insert(format!("{UPDATES_DIR}/{name}.nudge.json"), json);
        let profile = nudge_profile(
            p, version, &deadline, &nudge, org_name, org_prefix, &namespace,
        );
        out.files.insert(
            format!("{UPDATES_DIR}/{name}.nudge.mobileconfig"),
            plist_bytes(&mobileconfig(&profile)),
        );
        out.files.insert(
            format!("{UPDATES_DIR}/{name}.ddm.json"),
            ddm(p, version, &deadline, org_prefix),
        );
    }
    out
}

/// Nudge's configuration, keys in a fixed order (Nudge's names).
#[derive(Serialize)]
struct Nudge {
    #[serde(rename = "osVersionRequirements")]
    os_version_requirements: Vec<OsVersionRequirement>,
    #[serde(rename = "userExperience")]
    user_experience: UserExperience,
    #[serde(rename = "userInterface")]
    user_interface: UserInterface,
}

#[derive(Serialize)]
struct OsVersionRequirement {
    #[serde(rename = "requiredMinimumOSVersion")]
    required_minimum_os_version: String,
    /// ISO 8601 in UTC, e.g. `2026-12-01T17:00:00Z`.
    #[serde(rename = "requiredInstallationDate")]
    required_installation_date: String,
    #[serde(rename = "aboutUpdateURL", skip_serializing_if = "Option::is_none")]
    about_update_url: Option<String>,
}

#[derive(Serialize)]
struct UserExperience {
    /// Only with `skip_deferral`: 0, so Nudge is insistent from the start.
    #[serde(rename = "allowedDeferrals", skip_serializing_if = "Option::is_none")]
    allowed_deferrals: Option<u64>,
    /// Seconds between reminders, before and while the deadline approaches: the re-prompt
    /// interval, as the agent re-prompts.
    #[serde(rename = "initialRefreshCycle")]
    initial_refresh_cycle: u64,
    #[serde(rename = "approachingRefreshCycle")]
    approaching_refresh_cycle: u64,
}

#[derive(Serialize)]
struct UserInterface {
    #[serde(rename = "updateElements")]
    update_elements: Vec<UpdateElement>,
}

#[derive(Serialize)]
struct UpdateElement {
    #[serde(rename = "_language")]
    language: &'static str,
    #[serde(rename = "mainHeader", skip_serializing_if = "String::is_empty")]
    main_header: String,
    #[serde(rename = "mainContentText")]
    main_content_text: String,
    #[serde(rename = "actionButtonText")]
    action_button_text: String,
    #[serde(rename = "primaryQuitButtonText")]
    primary_quit_button_text: String,
}

fn nudge(p: &ir::UpdatePolicy, version: &str, deadline: &ir::LocalDeadline) -> Nudge {
    let c = &p.config;
    let vars = NudgeVars {
        deadline: deadline_text(deadline),
        updates: format!("macOS {version}"),
        support: c.support_contact.clone().unwrap_or_default(),
    };
    Nudge {
        os_version_requirements: vec![OsVersionRequirement {
            required_minimum_os_version: version.to_owned(),
            required_installation_date: deadline.timestamp().to_string(),
            about_update_url: p.details_url.clone(),
        }],
        user_experience: UserExperience {
            allowed_deferrals: c.skip_deferral.then_some(0),
            initial_refresh_cycle: c.reprompt_secs,
            approaching_refresh_cycle: c.reprompt_secs,
        },
        user_interface: UserInterface {
            update_elements: vec![UpdateElement {
                language: "en",
                main_header: nudge_text(&c.messages.title, &vars),
                main_content_text: nudge_text(&c.messages.prompt, &vars),
                action_button_text: c.messages.install_button.clone(),
                primary_quit_button_text: c.messages.defer_button.clone(),
            }],
        },
    }
}

/// What Nudge's texts get where the agent's messages have placeholders.
struct NudgeVars {
    deadline: String,
    updates: String,
    support: String,
}

/// The agent's message notation, resolved for Nudge, which has none: both sections are kept (a
/// macOS update restarts the Mac, and Nudge is shown before the date); `%DEADLINE%`,
/// `%UPDATES%` and `%SUPPORT%` are known when compiling and filled in; a line with `%HOURS%` is
/// left out, because the hours left change while the text stays (Nudge shows the days left
/// itself).
fn nudge_text(template: &str, v: &NudgeVars) -> String {
    let text = template
        .replace("[restart]", "")
        .replace("[/restart]", "")
        .replace("[deferrable]", "")
        .replace("[/deferrable]", "");
    let kept: Vec<String> = text
        .split('\n')
        .filter(|line| !line.contains("%HOURS%"))
        .map(|line| {
            substitute(
                line,
                &[
                    ("%DEADLINE%", &v.deadline),
                    ("%UPDATES%", &v.updates),
                    ("%SUPPORT%", &v.support),
                ],
            )
        })
        .collect();
    // Lines left out may leave runs of blank lines behind.
    let mut out: Vec<&str> = Vec::new();
    for line in &kept {
        if line.trim().is_empty() && out.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n").trim().to_owned()
}

/// `2026-12-01 18:00 UTC+01:00` (or `… UTC`): the deadline in the offset it was written in.
fn deadline_text(d: &ir::LocalDeadline) -> String {
    let t = d.datetime;
    let zone = if d.offset.seconds() == 0 {
        "UTC".to_owned()
    } else {
        let s = d.offset.seconds();
        let sign = if s < 0 { '-' } else { '+' };
        let s = s.unsigned_abs();
        format!("UTC{sign}{:02}:{:02}", s / 3600, s % 3600 / 60)
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} {zone}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The Nudge profile: one `com.github.macadmins.Nudge` payload with the JSON's keys (the date as
/// a property-list date, as Nudge reads it from managed preferences).
fn nudge_profile(
    p: &ir::UpdatePolicy,
    version: &str,
    deadline: &ir::LocalDeadline,
    nudge: &Nudge,
    org_name: &str,
    org_prefix: &str,
    namespace: &Uuid,
) -> ir::Profile {
    let name = &p.config.name;
    let mut settings = match plist::to_value(nudge) {
        Ok(Pv::Dictionary(d)) => d,
        _ => unreachable!("Nudge settings are a dictionary"),
    };
    let date = plist::Date::from_xml_format(&deadline.timestamp().to_string())
        .expect("RFC 3339 UTC times are plist dates");
    if let Some(Pv::Array(reqs)) = settings.get_mut("osVersionRequirements") {
        for r in reqs {
            if let Pv::Dictionary(r) = r {
                r.insert("requiredInstallationDate".to_owned(), Pv::Date(date));
            }
        }
    }
    let identifier = format!("{}.nudge", ddm_identifier(org_prefix, name));
    let payload_id = format!("{identifier}.{NUDGE_PAYLOAD_TYPE}");
    ir::Profile {
        uuid: uuid_for(namespace, &identifier),
        display_name: format!("Nudge: macOS {version}"),
        description: Some(format!(
            "macOS {version} by {}: update policy `{name}`, for Nudge.",
            deadline_text(deadline)
        )),
        organization: org_name.to_owned(),
        scope: "System",
        removal_disallowed: None,
        consent_text: None,
        target_device_type: None,
        removal_date: None,
        duration_until_removal: None,
        expiration_date: None,
        has_removal_passcode: None,
        payloads: vec![ir::Payload {
            payload_type: NUDGE_PAYLOAD_TYPE.to_owned(),
            uuid: uuid_for(namespace, &payload_id),
            identifier: payload_id,
            display_name: Some("Nudge".to_owned()),
            description: None,
            organization: None,
            settings,
        }],
        identifier,
    }
}

/// A DDM declaration, keys in Apple's order.
#[derive(Serialize)]
struct Declaration<'a> {
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(rename = "Identifier")]
    identifier: String,
    #[serde(rename = "ServerToken")]
    server_token: String,
    #[serde(rename = "Payload")]
    payload: &'a EnforcementSpecific,
}

#[derive(Serialize)]
struct EnforcementSpecific {
    #[serde(rename = "TargetOSVersion")]
    target_os_version: String,
    /// `yyyy-mm-ddThh:mm:ss`, no offset: the Mac's local time.
    #[serde(rename = "TargetLocalDateTime")]
    target_local_date_time: String,
    #[serde(rename = "DetailsURL", skip_serializing_if = "Option::is_none")]
    details_url: Option<String>,
}

/// The `softwareupdate.enforcement.specific` declaration. Its `ServerToken` is the SHA-256 of
/// the payload's JSON, so it changes exactly when the payload does.
fn ddm(p: &ir::UpdatePolicy, version: &str, d: &ir::LocalDeadline, org_prefix: &str) -> Vec<u8> {
    let t = d.datetime;
    let payload = EnforcementSpecific {
        target_os_version: version.to_owned(),
        target_local_date_time: format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        details_url: p.details_url.clone(),
    };
    let token = mmc_bundle::sha256_hex(
        &serde_json::to_vec(&payload).expect("a declaration payload serializes"),
    );
    let mut bytes = serde_json::to_vec_pretty(&Declaration {
        kind: DDM_TYPE,
        identifier: ddm_identifier(org_prefix, &p.config.name),
        server_token: token,
        payload: &payload,
    })
    .expect("a declaration serializes");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests;
