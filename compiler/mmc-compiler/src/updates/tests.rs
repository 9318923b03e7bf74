//! Update policies: what bundles carry, and each problem as `mmc check` renders it.

use mmc_config as config;

use crate::source::FileSet;
use crate::{Compiled, compile};

const REPO: &str = "mmc_version: 1\norg: {name: Org, identifier_prefix: com.example}\ntracks: [testing, stable]\nbundles:\n  - {name: testing, track: testing}\n  - {name: stable, track: stable}\nvars: {help: it@example.com, url: \"https://help.example.com/macos\"}\nfacts: {department: string}\n";

fn compile_policies(policies: &[(&str, &str)]) -> (FileSet, Compiled) {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    for (name, text) in policies {
        files.insert(format!("policies/updates/{name}.yaml"), *text);
    }
    let c = compile(&files);
    (files, c)
}

/// Every diagnostic of a repository with one policy file, `p.yaml`, as `mmc check` prints it.
fn problems(policy: &str) -> String {
    let (files, c) = compile_policies(&[("p", policy)]);
    assert!(!c.diagnostics.is_empty(), "no problem found in:\n{policy}");
    c.diagnostics
        .iter()
        .map(|d| crate::diag::render_human(d, &files, false))
        .collect::<Vec<_>>()
        .join("\n")
}

fn codes(policy: &str) -> Vec<&'static str> {
    let (_, c) = compile_policies(&[("p", policy)]);
    c.diagnostics.iter().map(|d| d.code).collect()
}

/// The policies the `stable` bundle's `config.json` carries.
fn shipped(policies: &[(&str, &str)]) -> Vec<config::UpdatePolicy> {
    let (_, c) = compile_policies(policies);
    assert!(
        c.diagnostics.is_empty(),
        "{:?}",
        c.diagnostics
            .iter()
            .map(|d| (d.code, &d.message))
            .collect::<Vec<_>>()
    );
    let b = c.bundles.iter().find(|b| b.name == "stable").unwrap();
    config::Config::from_json(&b.files["config.json"])
        .unwrap()
        .updates
}

#[test]
fn a_minimal_policy_gets_every_default() {
    let u = shipped(&[("security", "require: recommended\n")]);
    assert_eq!(u.len(), 1);
    let p = &u[0];
    assert_eq!(p.name, "security");
    assert_eq!(p.require, config::Requirement::Recommended);
    assert_eq!(p.condition, None);
    assert_eq!(p.deadline, None);
    assert_eq!(p.max_deferral_secs, 72 * 3600);
    assert_eq!(p.reprompt_secs, 4 * 3600);
    assert_eq!(p.prompt_timeout_secs, 600);
    assert_eq!(p.restart_delay_secs, 300);
    assert_eq!(p.work_hours, None);
    assert!(!p.skip_deferral);
    assert_eq!(p.notifier, super::preset("osascript").unwrap());
    assert_eq!(p.messages.install_button, "Install now");
    assert_eq!(p.messages.defer_button, "Later");
    assert_eq!(p.messages.title, "Software updates required");
    assert!(p.messages.prompt.contains("%UPDATES%") && p.messages.prompt.contains("%HOURS%"));
    // No support contact: the default texts do not name one.
    assert!(
        !p.messages.prompt.contains("%SUPPORT%"),
        "{}",
        p.messages.prompt
    );
    assert!(
        p.messages.deadline.contains(
            "Click “Install now” to install them now; otherwise they are installed in 10 minutes."
        ),
        "{}",
        p.messages.deadline
    );
    assert_eq!(p.support_contact, None);
}

#[test]
fn every_key_lowers_to_the_agents_contract() {
    let policy = r#"condition: department == 'Finance' AND machine_type == "laptop"
require: {os_version: "15.2"}
deadline: "2026-12-01T18:00"
time_zone: "+01:00"
reprompt: 2h
prompt_timeout: 90s
restart_delay: 1m
work_hours: "09:00-17:00"
notifier: swiftdialog
support_contact: "{{ vars.help }}"
details_url: "{{ vars.url }}"
messages:
  title: Update {{ org.name }} Macs
  prompt: "By %DEADLINE%, %HOURS% h left.[restart] Restarts.[/restart][deferrable] Defer?[/deferrable] %SUPPORT%"
  deadline: Now. %UPDATES%
  install_button: Go
  defer_button: Wait
"#;
    let u = shipped(&[("finance", policy)]);
    let p = &u[0];
    assert_eq!(
        p.condition.as_deref(),
        Some("department == \"Finance\" AND machine_type == \"laptop\"")
    );
    assert_eq!(
        p.require,
        config::Requirement::OsVersion {
            version: "15.2".into()
        }
    );
    // The agent gets the instant in UTC; it applies the work hours itself.
    assert_eq!(p.deadline.as_deref(), Some("2026-12-01T17:00:00Z"));
    assert_eq!(
        (p.reprompt_secs, p.prompt_timeout_secs, p.restart_delay_secs),
        (7200, 90, 60)
    );
    assert_eq!(p.work_hours, Some(config::WorkHours { start: 9, end: 17 }));
    assert_eq!(p.notifier, super::preset("swiftdialog").unwrap());
    assert_eq!(p.support_contact.as_deref(), Some("it@example.com"));
    assert_eq!(p.messages.title, "Update Org Macs");
    assert_eq!(p.messages.deadline, "Now. %UPDATES%");
    assert_eq!(
        (
            p.messages.install_button.as_str(),
            p.messages.defer_button.as_str()
        ),
        ("Go", "Wait")
    );
}

#[test]
fn policies_ship_in_name_order_to_the_tracks_they_name() {
    let (_, c) = compile_policies(&[
        ("20-everyone", "require: recommended\n"),
        ("10-pilot", "require: recommended\ntracks: [testing]\n"),
        ("15-stable", "require: recommended\ntracks: [stable]\n"),
    ]);
    assert!(c.diagnostics.is_empty());
    let names = |bundle: &str| -> Vec<String> {
        let b = c.bundles.iter().find(|b| b.name == bundle).unwrap();
        config::Config::from_json(&b.files["config.json"])
            .unwrap()
            .updates
            .into_iter()
            .map(|u| u.name)
            .collect()
    };
    assert_eq!(names("testing"), ["10-pilot", "20-everyone"]);
    assert_eq!(names("stable"), ["15-stable", "20-everyone"]);
    let stable = c.bundles.iter().find(|b| b.name == "stable").unwrap();
    assert_eq!(
        stable.sources.updates["15-stable"],
        "policies/updates/15-stable.yaml"
    );
}

#[test]
fn custom_notifiers_are_taken_as_written() {
    let u = shipped(&[(
        "p",
        "require: recommended\nnotifier:\n  program: /usr/local/bin/ask\n  args: [--title, \"%TITLE%\", \"--text=%MESSAGE%\", --later, \"%DEFER%\", \"{{ vars.help }}\"]\n  install_exit: [0, 10]\n  defer_exit: [3]\n",
    )]);
    assert_eq!(
        u[0].notifier,
        config::Notifier {
            program: "/usr/local/bin/ask".into(),
            args: [
                "--title",
                "%TITLE%",
                "--text=%MESSAGE%",
                "--later",
                "%DEFER%",
                "it@example.com"
            ]
            .map(String::from)
            .to_vec(),
            install_exit: vec![0, 10],
            defer_exit: vec![3],
        }
    );
}

#[test]
fn presets_put_defer_right_after_its_option() {
    for name in super::PRESETS {
        let n = super::preset(name).unwrap();
        assert!(n.program.starts_with('/'), "{name}");
        let at = n.args.iter().position(|a| a == "%DEFER%").expect(name);
        assert_eq!(
            n.args.iter().filter(|a| a.contains("%DEFER%")).count(),
            1,
            "{name}"
        );
        if name != "osascript" {
            assert!(n.args[at - 1].starts_with('-'), "{name}: {:?}", n.args);
        } else {
            // Positional: the script counts its arguments; the one before is not an option.
            assert_eq!(at, n.args.len() - 1);
            assert_eq!(n.args[at - 1], "%TIMEOUT%");
        }
        assert!(n.install_exit.iter().all(|s| !n.defer_exit.contains(s)));
        for p in ["%TITLE%", "%MESSAGE%", "%INSTALL%", "%TIMEOUT%"] {
            assert!(n.args.iter().any(|a| a == p), "{name} lacks {p}");
        }
    }
}

#[test]
fn human_durations() {
    assert_eq!(super::human_duration(600), "10 minutes");
    assert_eq!(super::human_duration(60), "1 minute");
    assert_eq!(super::human_duration(90), "90 seconds");
    assert_eq!(super::human_duration(7200), "2 hours");
    assert_eq!(super::human_duration(86_400 * 14), "2 weeks");
}

#[test]
fn deadlines_as_written() {
    use super::{Written, parse_deadline};
    use jiff::civil::date;
    use jiff::tz::Offset;
    let at = date(2026, 12, 1).at(18, 0, 0, 0);
    assert_eq!(
        parse_deadline("2026-12-01T18:00:00+01:00"),
        Some(Written::Absolute(at, Offset::constant(1)))
    );
    assert_eq!(
        parse_deadline("2026-12-01T18:00:00Z"),
        Some(Written::Absolute(at, Offset::UTC))
    );
    assert_eq!(
        parse_deadline("2026-12-01T18:00-05:30"),
        Some(Written::Absolute(
            at,
            Offset::from_seconds(-(5 * 3600 + 1800)).unwrap()
        ))
    );
    assert_eq!(parse_deadline("2026-12-01T18:00"), Some(Written::Local(at)));
    for bad in [
        "2026-12-01",
        "2026-12-01 18:00:00Z",
        "2026-02-30T18:00:00Z",
        "2026-12-01T25:00:00Z",
        "2026-12-01T18:00:00.5Z",
        "2026-12-01T18:00:00+0100",
        "2026-12-01T18:00:00+01:00[Europe/Berlin]",
        "9999-12-30T10:00:00-11:00",
        "1999-12-31T23:59:59Z",
        "tomorrow",
    ] {
        assert_eq!(parse_deadline(bad), None, "{bad}");
    }
}

#[test]
fn work_hours_move_a_deadline_to_their_end() {
    use super::outside_work_hours;
    use jiff::civil::date;
    let w = config::WorkHours { start: 9, end: 17 };
    let d = date(2026, 12, 1);
    assert_eq!(outside_work_hours(d.at(10, 30, 0, 0), w), d.at(17, 0, 0, 0));
    assert_eq!(outside_work_hours(d.at(9, 0, 0, 0), w), d.at(17, 0, 0, 0));
    assert_eq!(outside_work_hours(d.at(17, 0, 0, 0), w), d.at(17, 0, 0, 0));
    assert_eq!(outside_work_hours(d.at(8, 59, 0, 0), w), d.at(8, 59, 0, 0));
    let late = config::WorkHours { start: 8, end: 24 };
    assert_eq!(
        outside_work_hours(d.at(20, 0, 0, 0), late),
        date(2026, 12, 2).at(0, 0, 0, 0)
    );
}

#[test]
fn placeholders_are_scanned_as_the_agent_scans() {
    let found: Vec<&str> =
        super::placeholders("100% sure: %HOURS%%DEADLINE% %FOO%HOURS% %20x% %a b%")
            .into_iter()
            .map(|(_, t)| t)
            .collect();
    assert_eq!(found, ["%HOURS%", "%DEADLINE%", "%FOO%", "%HOURS%"]);
}

#[test]
fn templates_that_produce_a_bad_placeholder_are_caught() {
    let (_, c) = compile_policies(&[(
        "p",
        "require: recommended\nmessages:\n  prompt: \"{{ '%HOUR' ~ '%' }} left\"\n",
    )]);
    let d = &c.diagnostics[0];
    assert_eq!(d.code, "unknown-placeholder");
    assert_eq!(d.notes, ["in the text a template produced"]);
}

#[test]
fn a_warning_does_not_stop_the_policy() {
    let (_, c) = compile_policies(&[(
        "p",
        "require: recommended\nmessages:\n  prompt: \"Ask %SUPPORT%\"\n",
    )]);
    assert_eq!(
        c.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["support-placeholder-empty"]
    );
    assert!(!c.has_errors());
    let b = &c.bundles[0];
    assert!(
        config::Config::from_json(&b.files["config.json"])
            .unwrap()
            .updates
            .len()
            == 1
    );
}

#[test]
fn every_problem_of_a_policy_is_reported_in_one_run() {
    let c = codes(
        "require: {os_version: \"fifteen\"}\ndeadline: soon\nreprompt: 4 hours\nwork_hours: \"9-5\"\nnotifier: swiftdialg\nmessages:\n  prompt: \"%HOUR%\"\n",
    );
    assert_eq!(
        c,
        [
            "bad-version",
            "bad-deadline",
            "bad-duration",
            "bad-work-hours",
            "unknown-value",
            "unknown-placeholder"
        ]
    );
}

// One snapshot per problem, as `mmc check` renders it.

#[test]
fn unknown_placeholder_suggests_the_closest() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: |\n    Install by %DEADLNE%.\n"
    ));
}

#[test]
fn unknown_placeholder_from_install_or_defer() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: \"You may defer for %DEFER_HOURS% hours.\"\n"
    ));
}

#[test]
fn lower_case_placeholder() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  title: \"Updates due %deadline%\"\n"
    ));
}

#[test]
fn notifier_placeholder_in_a_message() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  deadline: \"%TITLE%: installing now\"\n"
    ));
}

#[test]
fn placeholder_in_a_button() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  defer_button: \"Later (%HOURS% h left)\"\n"
    ));
}

#[test]
fn message_placeholder_in_notifier_arguments() {
    insta::assert_snapshot!(problems(
        "require: recommended\nnotifier:\n  program: /usr/local/bin/ask\n  args: [--text, \"%UPDATES%\"]\n  install_exit: [0]\n  defer_exit: [2]\n"
    ));
}

#[test]
fn support_placeholder_without_support_contact() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: \"Questions? %SUPPORT%\"\n"
    ));
}

#[test]
fn unclosed_section() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: \"Install.[restart] Your Mac restarts.\"\n"
    ));
}

#[test]
fn closing_tag_without_opening_tag() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: \"Install. Your Mac restarts.[/restart]\"\n"
    ));
}

#[test]
fn crossing_sections() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: \"[restart]Restarts.[deferrable] Defer?[/restart][/deferrable]\"\n"
    ));
}

#[test]
fn nested_section_of_the_same_name() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: \"[restart]a[restart]b[/restart]\"\n"
    ));
}

#[test]
fn misspelt_section() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  prompt: \"Install.[deferable] Or defer.[/deferable]\"\n"
    ));
}

#[test]
fn section_in_a_button() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  install_button: \"[restart]Restart[/restart]\"\n"
    ));
}

#[test]
fn same_button_labels() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  install_button: OK\n  defer_button: OK\n"
    ));
}

#[test]
fn empty_button() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  defer_button: \"\"\n"
    ));
}

#[test]
fn bad_duration() {
    insta::assert_snapshot!(problems(
        "require: recommended\nprompt_timeout: 10 minutes\n"
    ));
}

#[test]
fn zero_duration() {
    insta::assert_snapshot!(problems("require: recommended\nrestart_delay: 0m\n"));
}

#[test]
fn work_hours_not_on_the_hour() {
    insta::assert_snapshot!(problems(
        "require: recommended\nwork_hours: \"08:30-17:00\"\n"
    ));
}

#[test]
fn work_hours_across_midnight() {
    insta::assert_snapshot!(problems(
        "require: recommended\nwork_hours: \"22:00-06:00\"\n"
    ));
}

#[test]
fn work_hours_in_another_shape() {
    insta::assert_snapshot!(problems("require: recommended\nwork_hours: 9-17\n"));
}

#[test]
fn deadline_that_is_not_a_time() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndeadline: \"2026-12-01 6pm\"\n"
    ));
}

#[test]
fn local_deadline_without_time_zone() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndeadline: \"2026-12-01T18:00\"\n"
    ));
}

#[test]
fn time_zone_name() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndeadline: \"2026-12-01T18:00\"\ntime_zone: Europe/Berlin\n"
    ));
}

#[test]
fn time_zone_with_an_offset_deadline() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndeadline: \"2026-12-01T18:00:00Z\"\ntime_zone: \"+01:00\"\n"
    ));
}

#[test]
fn time_zone_without_deadline() {
    insta::assert_snapshot!(problems("require: recommended\ntime_zone: \"+01:00\"\n"));
}

#[test]
fn deadline_and_max_deferral() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndeadline: \"2026-12-01T18:00:00Z\"\nmax_deferral: 3d\n"
    ));
}

#[test]
fn skip_deferral_with_a_deadline() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndeadline: \"2026-12-01T18:00:00Z\"\nskip_deferral: true\n"
    ));
}

#[test]
fn os_version_that_is_not_a_version() {
    insta::assert_snapshot!(problems("require: {os_version: \"Sequoia\"}\n"));
}

#[test]
fn os_version_as_a_number() {
    insta::assert_snapshot!(problems("require:\n  os_version: 15.10\n"));
}

#[test]
fn unknown_requirement() {
    insta::assert_snapshot!(problems("require: recomended\n"));
}

#[test]
fn unknown_key_in_a_policy() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndeadlne: \"2026-12-01T18:00:00Z\"\n"
    ));
}

#[test]
fn unknown_notifier_preset() {
    insta::assert_snapshot!(problems("require: recommended\nnotifier: swiftDialog\n"));
}

#[test]
fn notifier_of_the_wrong_shape() {
    insta::assert_snapshot!(problems("require: recommended\nnotifier: [dialog]\n"));
}

#[test]
fn notifier_program_not_absolute() {
    insta::assert_snapshot!(problems(
        "require: recommended\nnotifier:\n  program: dialog\n  install_exit: [0]\n  defer_exit: [2]\n"
    ));
}

#[test]
fn notifier_unknown_and_missing_keys() {
    insta::assert_snapshot!(problems(
        "require: recommended\nnotifier:\n  program: /usr/local/bin/dialog\n  arguments: [--title, \"%TITLE%\"]\n  install_exit: [0]\n"
    ));
}

#[test]
fn notifier_exit_status_for_both_answers() {
    insta::assert_snapshot!(problems(
        "require: recommended\nnotifier:\n  program: /usr/local/bin/dialog\n  install_exit: [0, 2]\n  defer_exit: [2]\n"
    ));
}

#[test]
fn notifier_without_an_install_status() {
    insta::assert_snapshot!(problems(
        "require: recommended\nnotifier:\n  program: /usr/local/bin/dialog\n  install_exit: []\n  defer_exit: [2]\n"
    ));
}

#[test]
fn notifier_exit_status_out_of_range() {
    insta::assert_snapshot!(problems(
        "require: recommended\nnotifier:\n  program: /usr/local/bin/dialog\n  install_exit: [0]\n  defer_exit: [\"2\", 256]\n"
    ));
}

#[test]
fn condition_with_an_unknown_fact() {
    insta::assert_snapshot!(problems(
        "require: recommended\ncondition: departmnt == \"Finance\"\n"
    ));
}

#[test]
fn empty_condition() {
    insta::assert_snapshot!(problems("require: recommended\ncondition: \"\"\n"));
}

#[test]
fn unknown_track() {
    insta::assert_snapshot!(problems("require: recommended\ntracks: [stabel]\n"));
}

#[test]
fn details_url_that_is_not_a_url() {
    insta::assert_snapshot!(problems(
        "require: recommended\ndetails_url: help.example.com\n"
    ));
}

#[test]
fn bundle_variables_are_not_available() {
    insta::assert_snapshot!(problems(
        "require: recommended\nmessages:\n  title: \"Updates for {{ bundle.track }}\"\n"
    ));
}

#[test]
fn ddm_identifier_too_long() {
    let name = "a-policy-name-that-is-far-too-long-for-an-identifier";
    let (files, c) = compile_policies(&[(
        name,
        "require: {os_version: \"15.2\"}\ndeadline: \"2026-12-01T18:00:00Z\"\n",
    )]);
    let text: Vec<String> = c
        .diagnostics
        .iter()
        .map(|d| crate::diag::render_human(d, &files, false))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
    // Agent-only policies have no declaration, so any name will do.
    let (_, c) = compile_policies(&[(name, "require: recommended\n")]);
    assert!(c.diagnostics.is_empty());
}

#[test]
fn policy_names_must_be_file_names() {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert("policies/updates/macOS 15.yaml", "require: recommended\n");
    files.insert("policies/updates/Security.yaml", "require: recommended\n");
    files.insert("policies/updates/security.yml", "require: recommended\n");
    files.insert("policies/updates/old/x.yaml", "require: recommended\n");
    let c = compile(&files);
    let text: Vec<String> = c
        .diagnostics
        .iter()
        .map(|d| crate::diag::render_human(d, &files, false))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}

mod properties {
    use proptest::prelude::*;

    use crate::source::FileSet;

    /// Fragments of plausible (and implausible) update policies.
    fn policyish() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "require: ",
            "recommended",
            "{os_version: ",
            "\"15.2\"",
            "}",
            "\n",
            "deadline: ",
            "\"2026-12-01T18:00\"",
            "2999-12-31T23:59:59-23:59",
            "+01:00",
            "time_zone: ",
            "work_hours: ",
            "\"09:00-24:00\"",
            "max_deferral: ",
            "reprompt: ",
            "0m",
            "99999999999w",
            "notifier: ",
            "swiftdialog",
            "{program: /x, install_exit: [0], defer_exit: [",
            "256",
            "-1",
            "]}",
            "messages:\n  prompt: ",
            "\"%HOURS%",
            "%",
            "[restart]",
            "[/restart]",
            "[deferrable][/restart]",
            "[/",
            "é",
            "{{ vars.x }}",
            "{{ bundle.name }}",
            "\"",
            "condition: ",
            "machine_type == 'laptop'",
            "skip_deferral: true",
            "details_url: ",
        ]);
        prop::collection::vec(atoms, 0..30).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn policies_never_panic_and_spans_stay_inside_their_file(policy in policyish()) {
            let mut files = FileSet::new();
            files.insert("mmc.yaml", super::REPO);
            files.insert("policies/updates/p.yaml", policy);
            let compiled = crate::compile(&files);
            for d in &compiled.diagnostics {
                for label in &d.labels {
                    let text = files.get(&label.file).expect("labels name files of the set");
                    prop_assert!(label.span.end <= text.len(), "{d:?}");
                    prop_assert!(text.is_char_boundary(label.span.start) && text.is_char_boundary(label.span.end), "{d:?}");
                }
                let _ = crate::diag::render_human(d, &files, false);
            }
        }
    }
}
