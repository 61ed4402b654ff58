//! SCIM filters and PATCH requests on arbitrary input (the server parses both straight from
//! requests): parsing never panics, never exceeds its bounds, and a parsed filter prints to
//! text that parses back to the same filter. The first byte picks the resource type and
//! whether the rest is a filter or a PATCH body applied to a fixed User.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_scim::{Filter, Kind, apply_patch, prepare_create};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let kind = if selector & 1 == 0 {
        Kind::User
    } else {
        Kind::Group
    };
    let text = String::from_utf8_lossy(body);
    if selector & 2 == 0 {
        let Ok(filter) = Filter::parse(kind, &text) else {
            return;
        };
        let printed = filter.to_string();
        assert_eq!(
            Filter::parse(kind, &printed).as_ref(),
            Ok(&filter),
            "{printed}"
        );
        let resource = json!({
            "id": "u1", "userName": "bjensen", "displayName": "Babs",
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "members": [{"value": "u2"}],
            "meta": {"lastModified": "2011-05-13T04:42:34Z"},
        });
        let _ = filter.matches(&resource);
    } else if let Ok(request) = serde_json::from_str::<serde_json::Value>(&text) {
        let existing = match kind {
            Kind::User => {
                json!({"id": "u1", "userName": "bjensen", "emails": [{"value": "b@example.com", "type": "work"}]})
            }
            Kind::Group => json!({"id": "g1", "displayName": "G", "members": [{"value": "u1"}]}),
        };
        if let Ok(patched) = apply_patch(kind, &existing, &request) {
            // A PATCH result is always a valid resource.
            assert!(prepare_create(kind, &patched).is_ok(), "{patched}");
        }
    }
});
