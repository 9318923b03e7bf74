//! JSON Schemas of the policy files, for editors (`mmc schema`).

use schemars::{JsonSchema, Schema, generate::SchemaSettings};

use crate::syntax::model::{ItemsFile, ManifestFile, ProfileFile, RepoFile, TestFile, UpdatesFile};

/// The kinds of policy file, with the glob they live at.
pub const KINDS: [(&str, &str); 6] = [
    ("repo", "mmc.yaml"),
    ("items", "policies/items/*.yaml"),
    ("manifest", "policies/manifests/**/*.yaml"),
    ("profile", "profiles/*.yaml"),
    ("test", "policies/tests/*.yaml"),
    ("updates", "policies/updates/*.yaml"),
];

fn generate<T: JsonSchema>(title: &str) -> Schema {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.root_schema_for::<T>();
    schema.insert("title".to_owned(), title.into());
    schema
}

/// The schema for one kind of file (see [`KINDS`]).
pub fn for_kind(kind: &str) -> Option<Schema> {
    Some(match kind {
        "repo" => generate::<RepoFile>("mmc.yaml"),
        "items" => generate::<ItemsFile>("mmc items file"),
        "manifest" => generate::<ManifestFile>("mmc manifest"),
        "profile" => generate::<ProfileFile>("mmc configuration profile"),
        "test" => generate::<TestFile>("mmc policy tests"),
        "updates" => generate::<UpdatesFile>("mmc update enforcement policy"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_policy_keys_are_documented_for_editors() {
        let s = serde_json::to_value(for_kind("updates").unwrap()).unwrap();
        let props = s["properties"].as_object().unwrap();
        for key in [
            "condition",
            "tracks",
            "require",
            "deadline",
            "time_zone",
            "max_deferral",
            "reprompt",
            "prompt_timeout",
            "restart_delay",
            "work_hours",
            "skip_deferral",
            "notifier",
            "messages",
            "support_contact",
            "details_url",
        ] {
            assert!(
                props[key]["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{key}: {}",
                props[key]
            );
        }
        assert_eq!(s["required"], serde_json::json!(["require"]));
        let notifier = serde_json::to_string(&props["notifier"]).unwrap();
        assert!(notifier.contains("swiftdialog") && notifier.contains("install_exit"));
    }

    #[test]
    fn every_kind_has_a_schema_that_forbids_unknown_keys() {
        for (kind, _) in KINDS {
            let s = serde_json::to_value(for_kind(kind).unwrap()).unwrap();
            assert_eq!(s["additionalProperties"], false, "{kind}");
            assert!(
                s["properties"].as_object().is_some_and(|p| !p.is_empty()),
                "{kind}"
            );
        }
    }

    #[test]
    fn munki_key_names_appear_in_the_items_schema() {
        let s = serde_json::to_string(&for_kind("items").unwrap()).unwrap();
        for key in [
            "installer_item_hash",
            "OnDemand",
            "RestartAction",
            "CFBundleShortVersionString",
            "installcheck_script",
        ] {
            assert!(s.contains(key), "{key}");
        }
    }

    #[test]
    fn launchd_keys_are_documented_for_editors() {
        let s = serde_json::to_value(for_kind("items").unwrap()).unwrap();
        let item = &s["$defs"]["RawItem"]["properties"];
        for key in ["label", "job"] {
            assert!(
                item[key]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("launchd")),
                "{key}: {}",
                item[key]
            );
        }
        let kinds: Vec<&str> = s["$defs"]["Kind"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["const"].as_str())
            .collect();
        assert_eq!(
            kinds,
            ["package", "script", "preference", "file", "launchd"]
        );
    }
}
