//! Properties of the parsers of untrusted input: filters and PATCH requests never panic,
//! and a printed filter parses back to the same filter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_scim::{Filter, Kind, apply_patch, prepare_create, project};
use proptest::prelude::*;
use serde_json::{Value, json};

fn sample_user() -> Value {
    let mut user = prepare_create(
        Kind::User,
        &json!({
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "title": "Tour Guide",
            "active": true,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours"},
        }),
    )
    .unwrap();
    user["id"] = json!("u1");
    user["groups"] = json!([{"value": "g1", "display": "Guides"}]);
    user["meta"] = json!({"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"});
    user
}

/// Pieces filters are made of, so random strings get past the first token often.
fn filter_soup() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "userName",
        "emails",
        "emails.value",
        "type",
        "value",
        "meta.lastModified",
        "active",
        "name.givenName",
        "groups",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        " eq ",
        " ne ",
        " co ",
        " sw ",
        " gt ",
        " le ",
        " pr",
        " and ",
        " or ",
        "not",
        "(",
        ")",
        "[",
        "]",
        ".",
        "\"",
        "\\",
        "\"x\"",
        "\"2011-05-13T04:42:34Z\"",
        "true",
        "null",
        "12",
        "-1.5e3",
        " ",
        "é",
        "\u{0}",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|pieces| pieces.concat())
}

/// Well-formed filters over the User schema.
fn filter_text() -> impl Strategy<Value = String> {
    let comparison = prop_oneof![
        "[a-zA-Z@. ]{0,8}".prop_map(|s| format!("userName sw {}", json!(s))),
        "[a-z\"\\\\]{0,6}".prop_map(|s| format!("emails.value co {}", json!(s))),
        "[a-z]{0,5}".prop_map(|s| format!("title ne {}", json!(s))),
        any::<bool>().prop_map(|b| format!("active eq {b}")),
        (0i64..2_000_000_000).prop_map(|t| {
            let at = jiff::Timestamp::from_second(t).unwrap();
            format!("meta.lastModified gt \"{at}\"")
        }),
        Just("name.givenName pr".to_owned()),
        Just("groups eq \"g1\"".to_owned()),
        Just("externalId eq null".to_owned()),
        "[a-z]{0,4}"
            .prop_map(|s| format!("emails[type eq {} or not (value ew \".org\")]", json!(s))),
        "[A-Z]{0,4}".prop_map(|s| format!(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq {}",
            json!(s)
        )),
    ];
    comparison.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or {b}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(vec![
            "add",
            "Remove",
            "replace",
            "members",
            "emails[type eq \"work\"].value",
            "userName",
            "name.givenName",
            "active",
            "False",
            "id",
            "groups",
            "value",
            "primary",
            "type",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "members[value eq \"u1\"]",
            "emails[type eq \"home\"]",
            "x",
            "",
            "2025-03-31",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        let keys = prop::sample::select(vec![
            "op",
            "path",
            "value",
            "Operations",
            "schemas",
            "userName",
            "emails",
            "members",
            "value",
            "type",
            "primary",
            "display",
            "name",
            "givenName",
            "active",
            "displayName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5).prop_map(|map| Value::Object(
                map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn operation() -> impl Strategy<Value = Value> {
    let ops = prop::sample::select(vec!["add", "remove", "replace", "Replace", "ADD"]);
    let paths = prop::sample::select(vec![
        None,
        Some("userName"),
        Some("emails"),
        Some("emails[type eq \"work\"].value"),
        Some("emails[type eq \"work\"]"),
        Some("emails.primary"),
        Some("name"),
        Some("name.givenName"),
        Some("active"),
        Some("groups"),
        Some("id"),
        Some("members"),
        Some("members[value eq \"u1\"]"),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
        Some("urn:mamori:params:scim:schemas:extension:hr:2.0:User:terminationDate"),
        Some("displayName"),
        Some("password"),
    ]);
    let plausible = prop::sample::select(vec![
        json!("x@example.com"),
        json!("False"),
        json!(true),
        json!(null),
        json!("2025-03-31"),
        json!({"value": "y@example.com", "type": "work", "primary": true}),
        json!([{"value": "z@example.com", "type": "home", "primary": true}, {"value": "u1"}]),
        json!({"givenName": "Barbara", "familyName": "J"}),
        json!({"userName": "other", "name.givenName": "B", "active": "true"}),
        json!({"department": "Tours", "manager": "m1"}),
    ]);
    let values = prop_oneof![plausible, json_value()];
    (ops, paths, values).prop_map(|(op, path, value)| {
        let mut operation = json!({"op": op, "value": value});
        if let Some(path) = path {
            operation["path"] = json!(path);
        }
        operation
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn filter_parsing_never_panics(text in any::<String>()) {
        for kind in [Kind::User, Kind::Group] {
            if let Ok(filter) = Filter::parse(kind, &text) {
                let _ = filter.matches(&sample_user());
            }
        }
    }

    #[test]
    fn filter_soup_never_panics_and_prints_back(text in filter_soup()) {
        if let Ok(filter) = Filter::parse(Kind::User, &text) {
            let printed = filter.to_string();
            let reparsed = Filter::parse(Kind::User, &printed);
            prop_assert_eq!(reparsed.as_ref(), Ok(&filter), "{}", printed);
            let _ = filter.matches(&sample_user());
        }
    }

    #[test]
    fn printed_filters_parse_to_the_same_filter(text in filter_text()) {
        let filter = Filter::parse(Kind::User, &text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let printed = filter.to_string();
        let reparsed = Filter::parse(Kind::User, &printed).unwrap();
        prop_assert_eq!(&reparsed, &filter);
        prop_assert_eq!(reparsed.matches(&sample_user()), filter.matches(&sample_user()));
    }

    #[test]
    fn patch_never_panics_on_arbitrary_json(request in json_value()) {
        let _ = apply_patch(Kind::User, &sample_user(), &request);
        let _ = apply_patch(Kind::Group, &json!({"id": "g1", "displayName": "G"}), &request);
    }

    #[test]
    fn patch_results_are_valid_resources(operations in prop::collection::vec(operation(), 1..5)) {
        let request = json!({"Operations": operations});
        if let Ok(patched) = apply_patch(Kind::User, &sample_user(), &request) {
            // Whatever a PATCH produces is accepted again as it is, and keeps the server's
            // attributes.
            prop_assert_eq!(&patched["id"], &json!("u1"));
            prop_assert_eq!(&patched["groups"], &sample_user()["groups"]);
            let again = prepare_create(Kind::User, &patched).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again["userName"], &patched["userName"]);
            let primaries = patched["emails"].as_array().map_or(0, |emails| {
                emails.iter().filter(|e| e["primary"] == json!(true)).count()
            });
            prop_assert!(primaries <= 1);
            project(Kind::User, &patched, None, None).unwrap();
        }
        let group = json!({"id": "g1", "displayName": "G", "members": [{"value": "u1"}]});
        let _ = apply_patch(Kind::Group, &group, &request);
    }
}
