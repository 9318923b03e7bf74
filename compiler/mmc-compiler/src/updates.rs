//! Update enforcement policies (`policies/updates/*.yaml`): validation, defaults and lowering to
//! what bundles carry (`mmc_config::UpdatePolicy`, the agent's contract) and what the Nudge and
//! DDM files need (see [`crate::mdm`]).
//!
//! The agent has no defaults of its own: every default is filled in here. The message notation
//! is the agent's (`%HOURS%`, `[restart]…[/restart]`); it cannot collide with minijinja's
//! `{{ }}`, which is rendered first, once per policy.

use std::ops::Range;

use jiff::civil::DateTime;
use jiff::tz::Offset;
use mmc_config as config;

use crate::conditions::FactTable;
use crate::diag::{Diagnostic, suggest};
use crate::ir;
use crate::load::{Loaded, Src};
use crate::lower::{Cx, parse_duration_in, unknown_name};
use crate::syntax::model::{RawMessages, RawRequire, UpdatesFile};
use crate::syntax::spanned::{Sp, Value};
use crate::template::map_into_scalar;

/// What update policies need from the repository-wide checks.
pub(crate) struct Repo<'a> {
    pub loaded: &'a Loaded,
    pub facts: &'a FactTable,
    pub tracks: &'a [&'a str],
}

pub const DEFAULT_MAX_DEFERRAL_SECS: i64 = 72 * 3_600;
pub const DEFAULT_REPROMPT_SECS: i64 = 4 * 3_600;
pub const DEFAULT_PROMPT_TIMEOUT_SECS: i64 = 10 * 60;
pub const DEFAULT_RESTART_DELAY_SECS: i64 = 5 * 60;
pub const DEFAULT_INSTALL_BUTTON: &str = "Install now";
pub const DEFAULT_DEFER_BUTTON: &str = "Later";
pub const DEFAULT_TITLE: &str = "Software updates required";

/// Units update timings take: seconds, minutes, hours, days, weeks.
const UNITS: &str = "smhdw";

/// Placeholders the agent replaces in the title and the two messages.
pub const MESSAGE_PLACEHOLDERS: [&str; 4] = ["%HOURS%", "%DEADLINE%", "%UPDATES%", "%SUPPORT%"];
/// Placeholders the agent replaces in the notifier's arguments.
pub const ARG_PLACEHOLDERS: [&str; 5] =
    ["%TITLE%", "%MESSAGE%", "%TIMEOUT%", "%INSTALL%", "%DEFER%"];
/// Sections the agent keeps or removes in the title and the two messages.
pub const SECTIONS: [&str; 2] = ["restart", "deferrable"];

/// install-or-defer's names for what mmc calls otherwise, for admins who move from it.
const INSTALL_OR_DEFER: [(&str, &str); 4] = [
    ("%DEFER_HOURS%", "%HOURS%"),
    ("%DEADLINE_DATE%", "%DEADLINE%"),
    ("%UPDATE_LIST%", "%UPDATES%"),
    ("%SUPPORT_CONTACT%", "%SUPPORT%"),
];

/// The DDM `Identifier` of a policy's declaration. Apple: at most 64 octets.
pub fn ddm_identifier(org_prefix: &str, name: &str) -> String {
    format!("{org_prefix}.mmc.updates.{name}")
}

/// Checks and lowers every update policy. A policy with an error is left out (and the build
/// fails on the error); all its problems are reported.
pub(crate) fn lower(repo: &Repo, cx: &mut Cx) -> Vec<ir::UpdatePolicy> {
    repo.loaded
        .updates
        .iter()
        .filter_map(|(name, src)| Policy { repo, name, src }.lower(cx))
        .collect()
}

struct Policy<'a> {
    repo: &'a Repo<'a>,
    name: &'a str,
    src: &'a Src<UpdatesFile>,
}

/// Where a text goes, which decides what it may contain.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    /// The title and the two messages: message placeholders and sections.
    Message,
    /// Button labels: shown as written.
    Button,
    /// Notifier arguments: argument placeholders.
    Argument,
}

impl Policy<'_> {
    fn file(&self) -> &str {
        &self.src.file
    }

    fn text<'c>(&self, cx: &Cx<'c>) -> &'c str {
        cx.files.get(self.file()).unwrap_or("")
    }

    fn lower(&self, cx: &mut Cx) -> Option<ir::UpdatePolicy> {
        let errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
        let p = &self.src.value;
        let file = self.file();

        let condition = p.condition.as_ref().and_then(|c| {
            if c.value.trim().is_empty() {
                cx.diags.push(
                    Diagnostic::error("empty-condition", "`condition` is empty")
                        .at(file, c.span.clone(), "empty")
                        .help("remove the key to apply the policy to every Mac"),
                );
                return None;
            }
            let text = self.text(cx).to_owned();
            crate::conditions::check(file, &text, c, self.repo.facts, cx.diags)
                .map(|p| mmc_predicate::print(&p))
        });
        for t in p.tracks.iter().flatten() {
            if !self.repo.tracks.contains(&t.value.as_str()) {
                cx.diags.push(unknown_name(
                    file,
                    t,
                    "track",
                    self.repo.tracks.iter().copied(),
                    Some("tracks are declared in mmc.yaml"),
                ));
            }
        }

        let require = match &p.require.value {
            RawRequire::Recommended => config::Requirement::Recommended,
            RawRequire::OsVersion(v) => {
                if !is_os_version(&v.value) {
                    cx.diags.push(
                        Diagnostic::error(
                            "bad-version",
                            format!("`{}` is not a macOS version", v.value),
                        )
                        .at(
                            file,
                            v.span.clone(),
                            "expected e.g. \"15\", \"15.2\" or \"15.2.1\"",
                        )
                        .help(
                            "write the version macOS reports (`sw_vers -productVersion`), quoted",
                        ),
                    );
                }
                config::Requirement::OsVersion {
                    version: v.value.clone(),
                }
            }
        };

        let timing = self.timing(cx);
        let support_contact = match &p.support_contact {
            Some(s) => self.render(cx, s),
            None => None,
        };
        let details_url = p.details_url.as_ref().and_then(|u| {
            let url = self.render(cx, u)?;
            let ok = ["https://", "http://"].iter().any(|scheme| {
                url.strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
            }) && !url.chars().any(char::is_whitespace);
            if !ok {
                cx.diags.push(
                    Diagnostic::error("bad-url", format!("`{url}` is not a web address"))
                        .at(file, u.span.clone(), "expected an http or https URL")
                        .help("write e.g. `https://help.example.com/macos-15`"),
                );
                return None;
            }
            Some(url)
        });
        let timeout = timing
            .as_ref()
            .map_or(DEFAULT_PROMPT_TIMEOUT_SECS, |t| t.prompt_timeout);
        let messages = self.messages(
            cx,
            p.messages.as_ref(),
            timeout,
            p.support_contact.is_some(),
        );
        let notifier = self.notifier(cx, p.notifier.as_ref());

        if let (Some(t), config::Requirement::OsVersion { .. }) = (&timing, &require)
            && t.local_deadline.is_some()
        {
            let prefix = &self.repo.loaded.repo.value.org.identifier_prefix.value;
            let id = ddm_identifier(prefix, self.name);
            if id.len() > 64 {
                let room = 64usize.saturating_sub(id.len() - self.name.len());
                cx.diags.push(
                    Diagnostic::error(
                        "ddm-identifier-too-long",
                        format!("the DDM declaration's identifier `{id}` is longer than 64 bytes"),
                    )
                    .at(file, 0..0, "the policy's name is its file name")
                    .help(format!(
                        "Apple limits declaration identifiers to 64 bytes: shorten the file name to at most {room} characters"
                    )),
                );
            }
        }

        let errors_after = cx.diags.iter().filter(|d| d.is_error()).count();
        let (timing, messages, notifier) = (timing?, messages?, notifier?);
        if errors_after > errors_before {
            return None;
        }
        Some(ir::UpdatePolicy {
            file: file.to_owned(),
            tracks: p
                .tracks
                .as_ref()
                .map(|t| t.iter().map(|t| t.value.clone()).collect()),
            config: config::UpdatePolicy {
                name: self.name.to_owned(),
                condition,
                require,
                deadline: timing.deadline_utc,
                max_deferral_secs: timing.max_deferral as u64,
                reprompt_secs: timing.reprompt as u64,
                prompt_timeout_secs: timing.prompt_timeout as u64,
                restart_delay_secs: timing.restart_delay as u64,
                work_hours: timing.work_hours,
                skip_deferral: timing.skip_deferral,
                notifier,
                messages,
                support_contact,
            },
            local_deadline: timing.local_deadline,
            details_url,
        })
    }

    /// Renders a template in a policy's string. Policies are rendered once, not per bundle, so
    /// an undefined `bundle` gets a note saying why.
    fn render(&self, cx: &mut Cx, s: &Sp<String>) -> Option<String> {
        let before = cx.diags.len();
        let out = cx.text(self.file(), s);
        if s.value.contains("bundle") {
            for d in &mut cx.diags[before..] {
                if d.code == "template-undefined" {
                    d.notes.push("update policies are rendered once for every bundle and for the Nudge and DDM files, so `bundle` is not available in them".to_owned());
                    d.help = Some("define it under `vars:` in mmc.yaml; available in update policies: vars.*, org.name, org.identifier_prefix".to_owned());
                }
            }
        }
        out
    }

    fn timing(&self, cx: &mut Cx) -> Option<Timing> {
        let p = &self.src.value;
        let file = self.file();
        let mut ok = true;
        let mut duration = |v: &Option<Sp<String>>, default: i64, cx: &mut Cx| -> i64 {
            let Some(v) = v else { return default };
            match parse_duration_in(&v.value, UNITS) {
                Some(secs) => secs,
                None => {
                    let digits = v
                        .value
                        .trim()
                        .trim_end_matches(|c: char| c.is_ascii_alphabetic());
                    let (message, label) = match digits.trim().parse::<i64>() {
                        Ok(n) if n <= 0 => (
                            format!("`{}` is not a positive duration", v.value),
                            "must be more than zero",
                        ),
                        _ => (
                            format!("`{}` is not a duration", v.value),
                            "expected a whole number and a unit",
                        ),
                    };
                    cx.diags.push(
                        Diagnostic::error("bad-duration", message)
                            .at(file, v.span.clone(), label)
                            .help("write e.g. `90s`, `10m`, `4h`, `3d` or `1w` (s seconds, m minutes, h hours, d days, w weeks)"),
                    );
                    ok = false;
                    default
                }
            }
        };
        let max_deferral = duration(&p.max_deferral, DEFAULT_MAX_DEFERRAL_SECS, cx);
        let reprompt = duration(&p.reprompt, DEFAULT_REPROMPT_SECS, cx);
        let prompt_timeout = duration(&p.prompt_timeout, DEFAULT_PROMPT_TIMEOUT_SECS, cx);
        let restart_delay = duration(&p.restart_delay, DEFAULT_RESTART_DELAY_SECS, cx);

        let work_hours = match &p.work_hours {
            None => None,
            Some(w) => match parse_work_hours(&w.value) {
                Ok(h) => Some(h),
                Err((message, help)) => {
                    cx.diags.push(
                        Diagnostic::error("bad-work-hours", message)
                            .at(file, w.span.clone(), "not a range of whole hours")
                            .help(help),
                    );
                    ok = false;
                    None
                }
            },
        };

        if let (Some(d), Some(m)) = (&p.deadline, &p.max_deferral) {
            cx.diags.push(
                Diagnostic::error("deadline-and-deferral", "a policy has a `deadline` or a `max_deferral`, not both")
                    .at(file, m.span.clone(), "a deferral window")
                    .also(file, d.span.clone(), "an absolute deadline")
                    .help("keep `deadline` to enforce a date on every Mac, or `max_deferral` to give each Mac its own window from when it first sees the updates"),
            );
            ok = false;
        }
        let offset = match &p.time_zone {
            None => None,
            Some(z) => match parse_offset(&z.value) {
                Some(o) => Some(o),
                None => {
                    let help = if z.value.contains('/') || z.value.chars().all(char::is_alphabetic)
                    {
                        "mmc has no time-zone database (and a zone's offset changes with daylight saving): write the offset at the deadline, e.g. `+01:00` for Berlin in winter"
                    } else {
                        "write `Z` or an offset such as `+01:00` or `-05:00`"
                    };
                    cx.diags.push(
                        Diagnostic::error(
                            "bad-time-zone",
                            format!("`{}` is not a UTC offset", z.value),
                        )
                        .at(file, z.span.clone(), "expected `Z` or `±HH:MM`")
                        .help(help),
                    );
                    ok = false;
                    None
                }
            },
        };
        let mut local_deadline = None;
        match (&p.deadline, &p.time_zone) {
            (None, Some(z)) => {
                cx.diags.push(
                    Diagnostic::error(
                        "time-zone-unused",
                        "`time_zone` belongs to a local `deadline`, and this policy has none",
                    )
                    .at(file, z.span.clone(), "no deadline to apply it to")
                    .help("remove `time_zone`, or add a `deadline` such as `2026-12-01T18:00`"),
                );
                ok = false;
            }
            (None, None) => {}
            (Some(d), zone) => match (parse_deadline(&d.value), zone) {
                (None, _) => {
                    cx.diags.push(
                        Diagnostic::error("bad-deadline", format!("`{}` is not a date and time", d.value))
                            .at(file, d.span.clone(), "expected YYYY-MM-DDTHH:MM:SS and an offset")
                            .help("write RFC 3339 with an offset, e.g. `2026-12-01T18:00:00+01:00` or `2026-12-01T17:00:00Z`"),
                    );
                    ok = false;
                }
                (Some(Written::Absolute(..)), Some(z)) => {
                    cx.diags.push(
                        Diagnostic::error(
                            "time-zone-unused",
                            "this deadline has its own offset, so `time_zone` would be ignored",
                        )
                        .at(file, z.span.clone(), "a second offset")
                        .also(file, d.span.clone(), "the deadline names its offset")
                        .help("remove `time_zone`, or write the deadline without an offset"),
                    );
                    ok = false;
                }
                (Some(Written::Absolute(datetime, offset)), None) => {
                    local_deadline = Some(ir::LocalDeadline { datetime, offset });
                }
                (Some(Written::Local(datetime)), Some(_)) => {
                    if let Some(offset) = offset {
                        local_deadline = Some(ir::LocalDeadline { datetime, offset });
                    }
                }
                (Some(Written::Local(_)), None) => {
                    cx.diags.push(
                        Diagnostic::error("deadline-needs-offset", format!("the deadline `{}` has no UTC offset", d.value))
                            .at(file, d.span.clone(), "local time, but where?")
                            .help(format!("write the offset into it (`{}:00+01:00`, or `Z` for UTC), or add `time_zone: \"+01:00\"`", d.value.trim_end_matches(":00").trim_end_matches(':'))),
                    );
                    ok = false;
                }
            },
        }
        let mut deadline_utc = None;
        if let Some(l) = &local_deadline {
            match l.offset.to_timestamp(l.datetime) {
                Ok(t) => deadline_utc = Some(t.to_string()),
                Err(_) => {
                    let d = p.deadline.as_ref().expect("a local deadline was written");
                    cx.diags.push(
                        Diagnostic::error("bad-deadline", format!("`{}` is out of range", d.value))
                            .at(file, d.span.clone(), "not a representable time"),
                    );
                    ok = false;
                }
            }
        }

        let skip_deferral = p.skip_deferral.as_ref().is_some_and(|s| s.value);
        if skip_deferral && let Some(other) = p.deadline.as_ref().or(p.max_deferral.as_ref()) {
            let key = if p.deadline.is_some() {
                "deadline"
            } else {
                "max_deferral"
            };
            let s = p.skip_deferral.as_ref().expect("set");
            cx.diags.push(
                Diagnostic::warning("skip-deferral-overrides", format!("`skip_deferral` makes the agent ignore `{key}`"))
                    .at(file, s.span.clone(), "every Mac installs as soon as it sees the updates")
                    .also(file, other.span.clone(), "not used by the agent")
                    .help("`skip_deferral` is for testing the workflow; remove it before the policy reaches the fleet"),
            );
        }
        if !ok {
            return None;
        }
        // DDM and Nudge get the deadline the agent would enforce on a Mac in the deadline's offset.
        let local_deadline = local_deadline.map(|l| ir::LocalDeadline {
            datetime: work_hours.map_or(l.datetime, |w| outside_work_hours(l.datetime, w)),
            ..l
        });
        Some(Timing {
            deadline_utc,
            local_deadline,
            max_deferral,
            reprompt,
            prompt_timeout,
            restart_delay,
            work_hours,
            skip_deferral,
        })
    }

    fn messages(
        &self,
        cx: &mut Cx,
        r: Option<&RawMessages>,
        timeout: i64,
        has_support: bool,
    ) -> Option<config::UpdateMessages> {
        let mut ok = true;
        let mut field = |s: Option<&Sp<String>>, what: Field, cx: &mut Cx| -> Option<String> {
            let s = s?;
            match self.checked_text(cx, s, what, has_support) {
                Some(t) => Some(t),
                None => {
                    ok = false;
                    None
                }
            }
        };
        let title = field(r.and_then(|m| m.title.as_ref()), Field::Message, cx);
        let prompt = field(r.and_then(|m| m.prompt.as_ref()), Field::Message, cx);
        let deadline = field(r.and_then(|m| m.deadline.as_ref()), Field::Message, cx);
        let install = field(r.and_then(|m| m.install_button.as_ref()), Field::Button, cx);
        let defer = field(r.and_then(|m| m.defer_button.as_ref()), Field::Button, cx);
        if !ok {
            return None;
        }
        let install_button = install.unwrap_or_else(|| DEFAULT_INSTALL_BUTTON.to_owned());
        let defer_button = defer.unwrap_or_else(|| DEFAULT_DEFER_BUTTON.to_owned());
        let file = self.file();
        for (label, key, raw) in [
            (
                &install_button,
                "install_button",
                r.and_then(|m| m.install_button.as_ref()),
            ),
            (
                &defer_button,
                "defer_button",
                r.and_then(|m| m.defer_button.as_ref()),
            ),
        ] {
            if label.trim().is_empty() {
                let span = raw.map_or(0..0, |s| s.span.clone());
                cx.diags.push(
                    Diagnostic::error("empty-button", format!("`{key}` is empty"))
                        .at(file, span, "a button needs a label")
                        .help("give it a label, or remove the key for the default"),
                );
                ok = false;
            }
        }
        if ok && install_button == defer_button {
            let span = r
                .and_then(|m| m.defer_button.as_ref().or(m.install_button.as_ref()))
                .map_or(0..0, |s| s.span.clone());
            cx.diags.push(
                Diagnostic::error(
                    "same-button-labels",
                    format!("both buttons say `{install_button}`"),
                )
                .at(file, span, "the user could not tell install from defer")
                .help("give `install_button` and `defer_button` different labels"),
            );
            ok = false;
        }
        if !ok {
            return None;
        }
        Some(config::UpdateMessages {
            title: title.unwrap_or_else(|| DEFAULT_TITLE.to_owned()),
            prompt: prompt.unwrap_or_else(|| default_prompt(has_support)),
            deadline: deadline
                .unwrap_or_else(|| default_deadline(&install_button, timeout, has_support)),
            install_button,
            defer_button,
        })
    }

    /// Checks a text's placeholders and sections as written (so a problem is shown exactly where
    /// it is), renders it, and, when a template changed it, checks what the template produced.
    fn checked_text(
        &self,
        cx: &mut Cx,
        s: &Sp<String>,
        field: Field,
        has_support: bool,
    ) -> Option<String> {
        let source_ok = self.check_notation(cx, s, &s.value, field, has_support, true);
        let out = self.render(cx, s)?;
        if !source_ok
            || (out != s.value && !self.check_notation(cx, s, &out, field, has_support, false))
        {
            return None;
        }
        Some(out)
    }

    /// Reports placeholders and sections that the agent would show as written. `exact`: `text`
    /// is the scalar as written, so spans point into it; otherwise at the whole scalar.
    fn check_notation(
        &self,
        cx: &mut Cx,
        s: &Sp<String>,
        text: &str,
        field: Field,
        has_support: bool,
        exact: bool,
    ) -> bool {
        let file = self.file();
        let source = self.text(cx).to_owned();
        let span = |r: Range<usize>| {
            if exact {
                map_into_scalar(&source, &s.span, &s.value, r)
            } else {
                s.span.clone()
            }
        };
        let rendered_note = (!exact).then_some("in the text a template produced");
        let mut problems: Vec<Diagnostic> = Vec::new();
        let allowed: &[&str] = match field {
            Field::Message => &MESSAGE_PLACEHOLDERS,
            Field::Button => &[],
            Field::Argument => &ARG_PLACEHOLDERS,
        };
        for (r, token) in placeholders(text) {
            if allowed.contains(&token) {
                // Reported once, in the source, even when a template surrounds it.
                if token == "%SUPPORT%" && !has_support && (exact || !s.value.contains(token)) {
                    problems.push(
                        Diagnostic::warning("support-placeholder-empty", "`%SUPPORT%` is replaced by nothing: this policy has no `support_contact`")
                            .at(file, span(r), "shown as an empty string")
                            .help("add e.g. `support_contact: \"{{ vars.support_contact }}\"` to the policy"),
                    );
                }
                continue;
            }
            let upper = token.to_uppercase();
            let help = if allowed.contains(&upper.as_str()) {
                format!("placeholders are upper case: `{upper}`")
            } else if let Some((_, ours)) =
                INSTALL_OR_DEFER.iter().find(|(theirs, _)| *theirs == upper)
                && allowed.contains(ours)
            {
                format!("that is install-or-defer's name; mmc's is `{ours}`")
            } else if field == Field::Button {
                "button labels are shown as written: no placeholder is replaced in them".to_owned()
            } else if field == Field::Message && ARG_PLACEHOLDERS.contains(&upper.as_str()) {
                format!(
                    "`{upper}` is replaced in the notifier's arguments, not in messages; messages take {}",
                    MESSAGE_PLACEHOLDERS.join(", ")
                )
            } else if field == Field::Argument && MESSAGE_PLACEHOLDERS.contains(&upper.as_str()) {
                format!(
                    "`{upper}` is replaced in messages, not in the notifier's arguments (pass the message with `%MESSAGE%`)"
                )
            } else {
                match suggest(
                    &token[1..token.len() - 1],
                    allowed.iter().map(|a| &a[1..a.len() - 1]),
                ) {
                    Some(s) => format!("did you mean `%{s}%`? known here: {}", allowed.join(", ")),
                    None => format!("known here: {}", allowed.join(", ")),
                }
            };
            let mut d = Diagnostic::error(
                "unknown-placeholder",
                format!("`{token}` is not a placeholder the agent replaces here"),
            )
            .at(file, span(r), "shown to the user as written")
            .help(help);
            if let Some(n) = rendered_note {
                d = d.note(n);
            }
            problems.push(d);
        }
        check_sections(
            text,
            field == Field::Message,
            &mut |r, message, label, help| {
                let mut d = Diagnostic::error(
                    if message.starts_with("unknown") || message.contains("not replaced") {
                        "unknown-section"
                    } else {
                        "unbalanced-section"
                    },
                    message,
                )
                .at(file, span(r), label)
                .help(help);
                if let Some(n) = rendered_note {
                    d = d.note(n);
                }
                problems.push(d);
            },
        );
        let ok = !problems.iter().any(Diagnostic::is_error);
        cx.diags.extend(problems);
        ok
    }

    fn notifier(&self, cx: &mut Cx, raw: Option<&Sp<Value>>) -> Option<config::Notifier> {
        let file = self.file();
        let Some(raw) = raw else {
            return Some(preset("osascript").expect("a preset"));
        };
        let entries = match &raw.value {
            Value::String(name) => {
                if let Some(n) = preset(name) {
                    return Some(n);
                }
                let d = Diagnostic::error("unknown-value", format!("unknown notifier `{name}`"))
                    .at(file, raw.span.clone(), "not a notifier mmc knows");
                cx.diags.push(match suggest(name, PRESETS) {
                    Some(s) => d.help(format!("did you mean `{s}`? presets: {}; or give `{{program, args, install_exit, defer_exit}}`", PRESETS.join(", "))),
                    None => d.help(format!("presets: {}; or give your own as `{{program, args, install_exit, defer_exit}}`", PRESETS.join(", "))),
                });
                return None;
            }
            Value::Dict(entries) => entries,
            other => {
                cx.diags.push(
                    Diagnostic::error("bad-notifier", "`notifier` is a preset name or a mapping")
                        .at(file, raw.span.clone(), format!("this is {}", other.kind()))
                        .help(format!("write e.g. `notifier: swiftdialog` (presets: {}), or `{{program, args, install_exit, defer_exit}}`", PRESETS.join(", "))),
                );
                return None;
            }
        };
        const KEYS: [&str; 4] = ["program", "args", "install_exit", "defer_exit"];
        let ok = std::cell::Cell::new(true);
        for (k, _) in entries {
            if !KEYS.contains(&k.value.as_str()) {
                let d = Diagnostic::error("unknown-key", format!("unknown key `{}`", k.value)).at(
                    file,
                    k.span.clone(),
                    "not a valid key here",
                );
                cx.diags.push(match suggest(&k.value, KEYS) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("valid keys here are: {}", KEYS.join(", "))),
                });
                ok.set(false);
            }
        }
        let get = |key: &str| entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v);
        let missing = |key: &str, cx: &mut Cx| {
            cx.diags.push(
                Diagnostic::error("missing-key", format!("a notifier needs `{key}`")).at(
                    file,
                    raw.span.clone(),
                    format!("`{key}` is missing from this mapping"),
                ),
            );
            ok.set(false);
        };
        let program = match get("program").map(|v| &v.value) {
            None => {
                missing("program", cx);
                None
            }
            Some(Value::String(p)) if p.starts_with('/') && !p.split('/').any(|c| c == "..") => {
                Some(p.clone())
            }
            Some(_) => {
                let v = get("program").expect("present");
                cx.diags.push(
                    Diagnostic::error("bad-path", "the notifier's `program` must be an absolute path")
                        .at(file, v.span.clone(), "not an absolute path")
                        .help("the agent runs it as root without a search path: write e.g. `/usr/local/bin/dialog`"),
                );
                ok.set(false);
                None
            }
        };
        let mut args = Vec::new();
        match get("args") {
            None => {}
            Some(Sp {
                value: Value::Array(list),
                ..
            }) => {
                for a in list {
                    match &a.value {
                        Value::String(text) => {
                            match self.checked_text(
                                cx,
                                &Sp::new(text.clone(), a.span.clone()),
                                Field::Argument,
                                true,
                            ) {
                                Some(t) => args.push(t),
                                None => ok.set(false),
                            }
                        }
                        other => {
                            cx.diags.push(
                                Diagnostic::error(
                                    "bad-notifier",
                                    "every notifier argument must be text",
                                )
                                .at(file, a.span.clone(), format!("this is {}", other.kind()))
                                .help("quote it: arguments are passed as strings"),
                            );
                            ok.set(false);
                        }
                    }
                }
            }
            Some(v) => {
                cx.diags.push(
                    Diagnostic::error("bad-notifier", "`args` must be a list of strings")
                        .at(file, v.span.clone(), format!("this is {}", v.value.kind()))
                        .help(
                            "write e.g. `args: [--title, \"%TITLE%\", --message, \"%MESSAGE%\"]`",
                        ),
                );
                ok.set(false);
            }
        }
        let statuses = |key: &str, cx: &mut Cx| -> Option<(Vec<i32>, &Sp<Value>)> {
            let Some(v) = get(key) else {
                missing(key, cx);
                return None;
            };
            let list = match &v.value {
                Value::Array(list) => list,
                _ => {
                    cx.diags.push(
                        Diagnostic::error(
                            "bad-exit-status",
                            format!("`{key}` must be a list of exit statuses"),
                        )
                        .at(file, v.span.clone(), format!("this is {}", v.value.kind()))
                        .help(format!("write e.g. `{key}: [0]`")),
                    );
                    ok.set(false);
                    return None;
                }
            };
            let mut out = Vec::new();
            for s in list {
                match s.value {
                    Value::Integer(n @ 0..=255) => out.push(n as i32),
                    _ => {
                        let label = match s.value {
                            Value::Integer(_) => "outside 0–255".to_owned(),
                            _ => format!("this is {}", s.value.kind()),
                        };
                        cx.diags.push(
                            Diagnostic::error(
                                "bad-exit-status",
                                "an exit status is a whole number from 0 to 255",
                            )
                            .at(file, s.span.clone(), label)
                            .help("write it without quotes, e.g. `0`"),
                        );
                        ok.set(false);
                    }
                }
            }
            Some((out, v))
        };
        let install = statuses("install_exit", cx);
        let defer = statuses("defer_exit", cx);
        if let Some((list, v)) = &install
            && list.is_empty()
        {
            cx.diags.push(
                Diagnostic::error(
                    "bad-exit-status",
                    "`install_exit` is empty: the user could never choose to install",
                )
                .at(file, v.span.clone(), "no status means \"install now\"")
                .help("list the status the notifier exits with for the install button, e.g. `[0]`"),
            );
            ok.set(false);
        }
        if let (Some((i, _)), Some((d, dv))) = (&install, &defer)
            && let Some(both) = i.iter().find(|s| d.contains(s))
        {
            cx.diags.push(
                Diagnostic::error(
                    "bad-exit-status",
                    format!("exit status {both} means both install and defer"),
                )
                .at(file, dv.span.clone(), "also in `install_exit`")
                .help("each status means one answer; remove it from one of the lists"),
            );
            ok.set(false);
        }
        if !ok.get() {
            return None;
        }
        Some(config::Notifier {
            program: program?,
            args,
            install_exit: install?.0,
            defer_exit: defer?.0,
        })
    }
}

struct Timing {
    deadline_utc: Option<String>,
    local_deadline: Option<ir::LocalDeadline>,
    max_deferral: i64,
    reprompt: i64,
    prompt_timeout: i64,
    restart_delay: i64,
    work_hours: Option<config::WorkHours>,
    skip_deferral: bool,
}

pub const PRESETS: [&str; 3] = ["swiftdialog", "jamfhelper", "osascript"];

/// The AppleScript of the `osascript` preset, one `-e` per line. Its arguments: title, message,
/// install label, timeout in seconds and, while the user may defer, the defer label. The install
/// button exits 0; the defer button (the dialog's cancel button, so Escape too) and a timeout
/// raise an error, which osascript reports with exit status 1, the only other status it has.
const OSASCRIPT_LINES: &[&str] = &[
    "on run argv",
    "set installLabel to item 3 of argv",
    "set waitTime to (item 4 of argv) as integer",
    "if (count of argv) > 4 then",
    "set answer to display dialog (item 2 of argv) with title (item 1 of argv) buttons {item 5 of argv, installLabel} default button installLabel cancel button (item 5 of argv) giving up after waitTime",
    "else",
    "set answer to display dialog (item 2 of argv) with title (item 1 of argv) buttons {installLabel} default button installLabel giving up after waitTime",
    "end if",
    "if gave up of answer then error \"no answer\" number 1",
    "end run",
];

/// A notifier preset, complete: the agent knows no presets. `%DEFER%` stands alone right after
/// its option, so that past the deadline the agent drops both and no defer button is shown.
pub fn preset(name: &str) -> Option<config::Notifier> {
    let strings = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Some(match name {
        "swiftdialog" => config::Notifier {
            program: "/usr/local/bin/dialog".to_owned(),
            args: strings(&[
                "--title",
                "%TITLE%",
                "--message",
                "%MESSAGE%",
                "--button1text",
                "%INSTALL%",
                "--button2text",
                "%DEFER%",
                "--timer",
                "%TIMEOUT%",
                "--ontop",
            ]),
            // swiftDialog: 0 button 1, 2 button 2, 4 the timer ran out.
            install_exit: vec![0],
            defer_exit: vec![2],
        },
        "jamfhelper" => config::Notifier {
            program:
                "/Library/Application Support/JAMF/bin/jamfHelper.app/Contents/MacOS/jamfHelper"
                    .to_owned(),
            // No -defaultButton: on timeout jamfHelper then picks button 2 (defer) while there is
            // one, and button 1 (install) past the deadline.
            args: strings(&[
                "-windowType",
                "utility",
                "-title",
                "%TITLE%",
                "-description",
                "%MESSAGE%",
                "-button1",
                "%INSTALL%",
                "-button2",
                "%DEFER%",
                "-timeout",
                "%TIMEOUT%",
            ]),
            install_exit: vec![0],
            defer_exit: vec![2],
        },
        "osascript" => {
            let mut args = Vec::new();
            for line in OSASCRIPT_LINES {
                args.push("-e".to_owned());
                args.push((*line).to_owned());
            }
            args.extend(strings(&[
                "%TITLE%",
                "%MESSAGE%",
                "%INSTALL%",
                "%TIMEOUT%",
                "%DEFER%",
            ]));
            config::Notifier {
                program: "/usr/bin/osascript".to_owned(),
                args,
                install_exit: vec![0],
                defer_exit: vec![1],
            }
        }
        _ => return None,
    })
}

fn support_line(has_support: bool) -> &'static str {
    if has_support {
        "\n\nQuestions? Contact %SUPPORT%."
    } else {
        ""
    }
}

fn default_prompt(has_support: bool) -> String {
    format!(
        "Your Mac needs these updates:\n\n%UPDATES%\n\nThey are installed without asking after %DEADLINE%.\nUntil then you can defer them: %HOURS% hours are left.[restart]\n\nYour Mac restarts to finish, so save your work first.[/restart]{}",
        support_line(has_support)
    )
}

fn default_deadline(install_button: &str, timeout_secs: i64, has_support: bool) -> String {
    format!(
        "These updates can no longer be deferred:\n\n%UPDATES%\n\nClick “{install_button}” to install them now; otherwise they are installed in {}.[restart]\n\nYour Mac restarts when they are done: save your work now.[/restart]{}",
        human_duration(timeout_secs),
        support_line(has_support)
    )
}

/// `600` → `10 minutes`: the largest unit that divides the time exactly.
pub fn human_duration(secs: i64) -> String {
    let (n, unit) = [
        (604_800, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
    ]
    .iter()
    .find(|(u, _)| secs % u == 0 && secs >= *u)
    .map_or((secs, "second"), |(u, name)| (secs / u, *name));
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `15`, `15.2`, `15.2.1`.
fn is_os_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A deadline as written.
#[derive(Debug, PartialEq)]
enum Written {
    /// With `Z` or an offset.
    Absolute(DateTime, Offset),
    /// Without: needs `time_zone`.
    Local(DateTime),
}

/// `YYYY-MM-DDTHH:MM[:SS]` (years 2000 to 2999), then `Z` or `±HH:MM` or nothing.
fn parse_deadline(s: &str) -> Option<Written> {
    let s = s.trim();
    let (local, offset) = if let Some(rest) = s.strip_suffix(['Z', 'z']) {
        (rest, Some(Offset::UTC))
    } else if s.len() > 6 && matches!(s.as_bytes()[s.len() - 6], b'+' | b'-') {
        let (rest, off) = s.split_at(s.len() - 6);
        (rest, Some(parse_offset(off)?))
    } else {
        (s, None)
    };
    let b = local.as_bytes();
    let shape_ok = (b.len() == 16 || b.len() == 19)
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T' || *c == b't',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let n = |r: Range<usize>| local[r].parse::<i16>().ok();
    // Far from any real deadline, and far from the ends of the time range, where moving a
    // deadline out of the work hours or into UTC could leave it.
    if !(2000..=2999).contains(&n(0..4)?) {
        return None;
    }
    let seconds = if b.len() == 19 { n(17..19)? } else { 0 };
    let datetime = DateTime::new(
        n(0..4)?,
        n(5..7)? as i8,
        n(8..10)? as i8,
        n(11..13)? as i8,
        n(14..16)? as i8,
        seconds as i8,
        0,
    )
    .ok()?;
    Some(match offset {
        Some(o) => Written::Absolute(datetime, o),
        None => Written::Local(datetime),
    })
}

/// `Z`, `UTC` or `±HH:MM` (up to 23:59).
fn parse_offset(s: &str) -> Option<Offset> {
    let s = s.trim();
    if matches!(s, "Z" | "z" | "UTC") {
        return Some(Offset::UTC);
    }
    let b = s.as_bytes();
    if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return None;
    }
    if !s[1..3]
        .bytes()
        .chain(s[4..6].bytes())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let h: i32 = s[1..3].parse().ok().filter(|h| (0..24).contains(h))?;
    let m: i32 = s[4..6].parse().ok().filter(|m| (0..60).contains(m))?;
    let secs = (h * 3_600 + m * 60) * if b[0] == b'-' { -1 } else { 1 };
    Offset::from_seconds(secs).ok()
}

/// `09:00-17:00` → start 9, end 17. Whole hours only; `24:00` may end the range.
fn parse_work_hours(s: &str) -> Result<config::WorkHours, (String, String)> {
    let shape = || {
        (
            format!("`{s}` is not a range of hours"),
            "write the start and end as `HH:00-HH:00`, e.g. `\"09:00-17:00\"`".to_owned(),
        )
    };
    let (start, end) = s.trim().split_once('-').ok_or_else(shape)?;
    let hour = |t: &str| -> Result<(u8, u8), (String, String)> {
        let (h, m) = t.trim().split_once(':').ok_or_else(shape)?;
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || !digits(m) || m.len() != 2 {
            return Err(shape());
        }
        Ok((
            h.parse().map_err(|_| shape())?,
            m.parse().map_err(|_| shape())?,
        ))
    };
    let ((sh, sm), (eh, em)) = (hour(start)?, hour(end)?);
    if sm != 0 || em != 0 {
        return Err((
            format!("`{s}` does not start and end on the hour"),
            "work hours are whole hours (the agent moves a deadline to the end hour): write e.g. `\"09:00-17:00\"`".to_owned(),
        ));
    }
    if sh > 23 || eh > 24 || eh == 0 {
        return Err((
            format!("`{s}` has an hour outside the day"),
            "hours run from 00 to 23; the end may be 24:00".to_owned(),
        ));
    }
    if sh >= eh {
        return Err((
            format!("`{s}` ends before it starts"),
            "work hours within one day only: a range across midnight is not supported".to_owned(),
        ));
    }
    Ok(config::WorkHours { start: sh, end: eh })
}

/// A deadline whose hour lies within the work hours `[start, end)` moves to `end:00` that day
/// (midnight after it for 24), as the agent moves it on the Mac.
fn outside_work_hours(t: DateTime, w: config::WorkHours) -> DateTime {
    let hour = t.hour() as u8;
    if hour < w.start || hour >= w.end {
        return t;
    }
    if w.end == 24 {
        t.date().tomorrow().map_or(t, |d| d.at(0, 0, 0, 0))
    } else {
        t.date().at(w.end as i8, 0, 0, 0)
    }
}

/// Every `%NAME%` in `text`, scanned as the agent scans: a known name is skipped whole, and an
/// unknown one only by its first `%`.
fn placeholders(text: &str) -> Vec<(Range<usize>, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if j < b.len() && b[j].is_ascii_alphabetic() {
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j < b.len() && b[j] == b'%' {
                let token = &text[i..=j];
                out.push((i..j + 1, token));
                let known =
                    MESSAGE_PLACEHOLDERS.contains(&token) || ARG_PLACEHOLDERS.contains(&token);
                i = if known { j + 1 } else { i + 1 };
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Checks `[name]…[/name]` sections: known names properly nested and closed; unknown closing
/// tags and near misses of known names reported. `allowed`: whether the field processes
/// sections at all. Calls `report(range, message, label, help)` per problem.
fn check_sections(
    text: &str,
    allowed: bool,
    report: &mut dyn FnMut(Range<usize>, String, String, String),
) {
    let mut open: Vec<(&str, Range<usize>)> = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'[' {
            i += 1;
            continue;
        }
        let closing = b.get(i + 1) == Some(&b'/');
        let start = i + 1 + usize::from(closing);
        let mut j = start;
        while j < b.len() && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        if j == start || b.get(j) != Some(&b']') {
            i += 1;
            continue;
        }
        let name = &text[start..j];
        let r = i..j + 1;
        let tag = &text[r.clone()];
        i = j + 1;
        let Some(known) = SECTIONS.iter().copied().find(|s| *s == name) else {
            match suggest(name, SECTIONS) {
                Some(s) if allowed => report(
                    r,
                    format!("unknown section `{tag}`"),
                    "shown to the user as written".into(),
                    format!(
                        "did you mean `[{}{s}]`? sections: [restart]…[/restart], [deferrable]…[/deferrable]",
                        if closing { "/" } else { "" }
                    ),
                ),
                None if allowed && closing => report(
                    r,
                    format!("unknown section `{tag}`"),
                    "shown to the user as written".into(),
                    "sections: [restart]…[/restart], [deferrable]…[/deferrable]".into(),
                ),
                _ => {}
            }
            continue;
        };
        if !allowed {
            report(
                r,
                format!("`{tag}` is not replaced here"),
                "shown to the user as written".into(),
                "sections work in the title and the two messages; button labels and notifier arguments are used as written".into(),
            );
            continue;
        }
        if !closing {
            if open.iter().any(|(n, _)| *n == known) {
                report(
                    r,
                    format!("`{tag}` inside another `{tag}`"),
                    "nested in a section of the same name".into(),
                    format!("close the first with `[/{known}]` before opening another"),
                );
            } else {
                open.push((known, r));
            }
            continue;
        }
        match open.iter().rposition(|(n, _)| *n == known) {
            Some(at) if at + 1 == open.len() => {
                open.pop();
            }
            Some(at) => {
                let inner = open[at + 1].0;
                report(
                    r,
                    format!("`{tag}` closes `[{known}]` while `[{inner}]` inside it is still open"),
                    "sections cross".into(),
                    format!("close `[{inner}]` first: `…[/{inner}]{tag}`"),
                );
                open.truncate(at);
            }
            None => report(
                r,
                format!("`{tag}` has no `[{known}]` before it"),
                "closes nothing".into(),
                format!("add `[{known}]` where the part starts, or remove `{tag}`"),
            ),
        }
    }
    for (name, r) in open {
        report(
            r,
            format!("`[{name}]` is never closed"),
            "opened here".into(),
            format!("end the part with `[/{name}]`; the agent shows an unclosed tag as written"),
        );
    }
}

#[cfg(test)]
mod tests;
