//! The examples of RFC 7643 and RFC 7644, run through the crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_scim::{Filter, Kind, apply_patch, prepare_create, prepare_replace, project};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// RFC 7643 §8.2, "Full User Representation".
fn full_user() -> Value {
    json!({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "id": "2819c223-7f76-453a-919d-413861904646",
      "externalId": "701984",
      "userName": "bjensen@example.com",
      "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III"
      },
      "displayName": "Babs Jensen",
      "nickName": "Babs",
      "profileUrl": "https://login.example.com/bjensen",
      "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}
      ],
      "addresses": [
        {
          "type": "work",
          "streetAddress": "100 Universal City Plaza",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
          "primary": true
        },
        {
          "type": "home",
          "streetAddress": "456 Hollywood Blvd",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"
        }
      ],
      "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile"}
      ],
      "ims": [{"value": "someaimhandle", "type": "aim"}],
      "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
      ],
      "userType": "Employee",
      "title": "Tour Guide",
      "preferredLanguage": "en-US",
      "locale": "en-US",
      "timezone": "America/Los_Angeles",
      "active": true,
      "password": "t1meMa$heen",
      "groups": [
        {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
         "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
         "display": "Tour Guides"},
        {"value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
         "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
         "display": "Employees"},
        {"value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
         "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
         "display": "US Employees"}
      ],
      "x509Certificates": [
        {"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}
      ],
      "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": "W/\"a330bc54f0671c9\"",
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
      }
    })
}

/// RFC 7643 §8.3, the Enterprise User extension of the same user.
fn enterprise_part() -> Value {
    json!({
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
            "displayName": "John Smith"
        }
    })
}

/// What the server stores: the prepared resource plus id, meta and groups.
fn stored(prepared: &Value, example: &Value) -> Value {
    let mut stored = prepared.clone();
    for name in ["id", "meta", "groups"] {
        if let Some(value) = example.get(name) {
            stored[name] = value.clone();
        }
    }
    stored
}

#[test]
fn the_full_user_round_trips_except_password_and_certificates() {
    let example = full_user();
    let prepared = prepare_create(Kind::User, &example).unwrap();
    for server_owned in ["id", "meta", "groups"] {
        assert!(prepared.get(server_owned).is_none(), "{server_owned}");
    }
    let mut expected = example.clone();
    let object = expected.as_object_mut().unwrap();
    // Dropped, never stored: Mamori must not keep passwords, and does not advertise
    // certificates.
    object.remove("password");
    object.remove("x509Certificates");
    assert_eq!(
        project(Kind::User, &stored(&prepared, &example), None, None).unwrap(),
        expected
    );
    assert!(!prepared.to_string().contains("t1meMa$heen"));
}

#[test]
fn the_enterprise_user_round_trips_with_the_managers_name_left_to_the_server() {
    let mut example = full_user();
    example["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]);
    example[ENTERPRISE] = enterprise_part();
    let prepared = prepare_create(Kind::User, &example).unwrap();
    assert_eq!(prepared["schemas"], example["schemas"]);
    let mut manager = enterprise_part()["manager"].clone();
    manager.as_object_mut().unwrap().remove("displayName");
    assert_eq!(prepared[ENTERPRISE]["manager"], manager);
    assert_eq!(prepared[ENTERPRISE]["costCenter"], "4130");
}

#[test]
fn put_replaces_and_keeps_what_the_server_owns() {
    let example = full_user();
    let existing = stored(&prepare_create(Kind::User, &example).unwrap(), &example);
    let replaced = prepare_replace(
        Kind::User,
        &existing,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen@example.com",
            "externalId": "bjensen",
            "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
        }),
    )
    .unwrap();
    assert_eq!(replaced["id"], existing["id"]);
    assert_eq!(replaced["meta"], existing["meta"]);
    assert_eq!(replaced["groups"], existing["groups"]);
    assert_eq!(replaced["externalId"], "bjensen");
    assert!(replaced.get("emails").is_none());
}

/// RFC 7644 §3.4.2.2's example filters, on the §8.2 user.
#[test]
fn the_rfc7644_filter_examples_parse() {
    let user = full_user();
    let cases = [
        (r#"userName eq "bjensen""#, false),
        (r#"userName Eq "BJENSEN@example.com""#, true),
        (r#"name.familyName co "O'Malley""#, false),
        (r#"userName sw "J""#, false),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            false,
        ),
        ("title pr", true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr or userType eq "Intern""#, true),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            false,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            true,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
    ];
    for (text, expected) in cases {
        match Filter::parse(Kind::User, text) {
            Ok(filter) => assert_eq!(filter.matches(&user), expected, "{text}"),
            // `schemas` is not an attribute of the schema; the RFC's example is the one
            // filter Mamori refuses (invalidFilter, naming it).
            Err(error) => {
                assert!(text.starts_with("schemas"), "{text}: {error}");
                assert!(error.detail().contains("schemas"), "{error}");
            }
        }
    }
    let group_filter = Filter::parse(Kind::Group, r#"displayName eq "Tour Guides""#).unwrap();
    assert_eq!(group_filter.eq_value("displayName"), Some("Tour Guides"));
}

fn patch(kind: Kind, existing: &Value, operations: Value) -> Value {
    apply_patch(
        kind,
        existing,
        &json!({"schemas": [PATCH], "Operations": operations}),
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

/// RFC 7643 §8.4's Group.
fn tour_guides() -> Value {
    json!({
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
      "displayName": "Tour Guides",
      "members": [
        {"value": "2819c223-7f76-453a-919d-413861904646",
         "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
         "display": "Babs Jensen"},
        {"value": "902c246b-6245-4190-8e05-00816be7344a",
         "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
         "display": "Mandy Pepperidge"}
      ],
      "meta": {
        "resourceType": "Group",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": "W/\"3694e05e9dff592\"",
        "location": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"
      }
    })
}

#[test]
fn rfc7644_3_5_2_1_add() {
    let group = patch(
        Kind::Group,
        &tour_guides(),
        json!([{"op": "add", "path": "members", "value": [{
            "display": "Babs Jensen",
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "value": "2819c223-7f76-453a-919d-413861904646"}]}]),
    );
    // Already a member: no duplicate.
    assert_eq!(group["members"], tour_guides()["members"]);
    let group = patch(
        Kind::Group,
        &tour_guides(),
        json!([{"op": "add", "path": "members", "value": [{"value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}]),
    );
    assert_eq!(group["members"].as_array().unwrap().len(), 3);

    let user = stored(
        &prepare_create(Kind::User, &full_user()).unwrap(),
        &full_user(),
    );
    let user = patch(
        Kind::User,
        &user,
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b@new.example", "type": "other"}],
            "nickname": "Babs2"}}]),
    );
    assert_eq!(user["nickName"], "Babs2");
    assert_eq!(user["emails"].as_array().unwrap().len(), 3);
}

#[test]
fn rfc7644_3_5_2_2_remove() {
    let group = patch(
        Kind::Group,
        &tour_guides(),
        json!([{"op": "remove", "path": "members"}]),
    );
    assert!(group.get("members").is_none());

    let group = patch(
        Kind::Group,
        &tour_guides(),
        json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]),
    );
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    assert_eq!(group["members"][0]["display"], "Mandy Pepperidge");

    let user = stored(
        &prepare_create(Kind::User, &full_user()).unwrap(),
        &full_user(),
    );
    let removed = patch(
        Kind::User,
        &user,
        json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    );
    assert_eq!(
        removed["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );

    // Remove all members, then add one back (the RFC's two-operation example).
    let group = patch(
        Kind::Group,
        &tour_guides(),
        json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{
                "display": "James Smith",
                "$ref": "https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210",
                "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
        ]),
    );
    assert_eq!(group["members"].as_array().unwrap().len(), 1);

    // x509Certificates are never kept, so removing one is a no-op.
    let same = patch(
        Kind::User,
        &user,
        json!([{"op": "remove", "path": "x509Certificates[value eq \"MyOldCert\"]"}]),
    );
    assert_eq!(same, user);

    let error = apply_patch(
        Kind::User,
        &user,
        &json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "emails[type eq \"pager\"]"}]}),
    )
    .unwrap_err();
    assert_eq!(error.scim_type(), Some("noTarget"));
}

#[test]
fn rfc7644_3_5_2_3_replace() {
    let group = patch(
        Kind::Group,
        &tour_guides(),
        json!([{"op": "replace", "path": "members", "value": [
            {"display": "Babs Jensen",
             "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
             "value": "2819c223-7f76-453a-919d-413861904646"},
            {"display": "James Smith",
             "$ref": "https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210",
             "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}]),
    );
    assert_eq!(group["members"][1]["display"], "James Smith");
    assert_eq!(group["members"].as_array().unwrap().len(), 2);

    let user = stored(
        &prepare_create(Kind::User, &full_user()).unwrap(),
        &full_user(),
    );
    let new_work_address = json!({
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let replaced = patch(
        Kind::User,
        &user,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": new_work_address}]),
    );
    assert_eq!(replaced["addresses"][0], new_work_address);
    assert_eq!(replaced["addresses"][1], user["addresses"][1]);

    let replaced = patch(
        Kind::User,
        &user,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1111 Broadway Ave"}]),
    );
    assert_eq!(
        replaced["addresses"][0]["streetAddress"],
        "1111 Broadway Ave"
    );

    let replaced = patch(
        Kind::User,
        &user,
        json!([{"op": "replace", "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"}}]),
    );
    assert_eq!(replaced["emails"], user["emails"]);
    assert_eq!(replaced["nickName"], "Babs");
    assert_eq!(replaced["id"], user["id"]);
    assert_eq!(replaced["groups"], user["groups"]);
}
