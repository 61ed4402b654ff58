//! The requests Microsoft Entra ID and Okta send when provisioning, as their documentation
//! and SCIM validators show them, including their departures from the RFC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_scim::{
    Filter, Kind, apply_patch, prepare_create, prepare_replace, project, unique_key,
};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const HR: &str = "urn:mamori:params:scim:schemas:extension:hr:2.0:User";

fn patch(kind: Kind, existing: &Value, operations: Value) -> Value {
    apply_patch(
        kind,
        existing,
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}),
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

fn with_id(mut resource: Value, id: &str) -> Value {
    resource["id"] = json!(id);
    resource
}

fn entra_user() -> Value {
    let created = prepare_create(
        Kind::User,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{"primary": true, "type": "work",
                        "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        }),
    )
    .unwrap();
    with_id(created, "u1")
}

#[test]
fn entra_create_user() {
    let user = entra_user();
    assert!(user.get("roles").is_none());
    assert!(user.get("meta").is_none() || user["meta"].get("resourceType").is_none());
    assert_eq!(
        unique_key(Kind::User, &user).as_deref(),
        Some("test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1")
    );
    let filter = Filter::parse(
        Kind::User,
        r#"userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1""#,
    )
    .unwrap();
    assert!(filter.matches(&user));
    assert_eq!(
        filter.eq_value("userName"),
        Some("Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1")
    );
    let by_external = Filter::parse(
        Kind::User,
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
    )
    .unwrap();
    assert!(by_external.matches(&user));
}

#[test]
fn entra_update_user_attributes() {
    let user = patch(
        Kind::User,
        &entra_user(),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "externalId", "value": "e2"},
            {"op": "Replace", "path": "userName", "value": "5b50642d@testuser.com"},
        ]),
    );
    assert_eq!(user["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(user["name"]["familyName"], "updatedFamilyName");
    assert_eq!(user["name"]["givenName"], "givenName");
    assert_eq!(user["userName"], "5b50642d@testuser.com");
    assert_eq!(user["id"], "u1");
}

#[test]
fn entra_disables_with_string_booleans() {
    let disabled = patch(
        Kind::User,
        &entra_user(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(disabled["active"], false);
    let disabled = patch(
        Kind::User,
        &entra_user(),
        json!([{"op": "replace", "value": {"active": "False"}}]),
    );
    assert_eq!(disabled["active"], false);
    assert!(
        Filter::parse(Kind::User, "active eq false")
            .unwrap()
            .matches(&disabled)
    );
}

#[test]
fn entra_pathless_values_with_paths_and_urn_keys() {
    let user = patch(
        Kind::User,
        &entra_user(),
        json!([{"op": "Add", "value": {
            "displayName": "Babs",
            "name.givenName": "Barbara",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tours",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            HR: {"terminationDate": "2025-03-31", "employmentType": "contractor"},
        }}]),
    );
    assert_eq!(user["displayName"], "Babs");
    assert_eq!(user["name"]["givenName"], "Barbara");
    assert_eq!(
        user[ENTERPRISE],
        json!({"department": "Tours", "employeeNumber": "701984"})
    );
    assert_eq!(user[HR]["employmentType"], "contractor");
    assert_eq!(
        user["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, HR])
    );
}

#[test]
fn entra_sets_and_removes_the_manager_by_id() {
    let user = patch(
        Kind::User,
        &entra_user(),
        json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": "26118915-6090-4610-87e4-49d8ca9f808d"}]),
    );
    assert_eq!(
        user[ENTERPRISE]["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d"})
    );
    let user = patch(
        Kind::User,
        &user,
        json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
    );
    assert!(user.get(ENTERPRISE).is_none());
    assert_eq!(
        user["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
}

#[test]
fn entra_adds_a_work_email_that_is_not_there() {
    let mut user = entra_user();
    user.as_object_mut().unwrap().remove("emails");
    let user = patch(
        Kind::User,
        &user,
        json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
    );
    assert_eq!(
        user["emails"],
        json!([{"type": "work", "value": "new@example.com"}])
    );
}

#[test]
fn entra_adds_roles_with_string_primary() {
    let user = patch(
        Kind::User,
        &entra_user(),
        json!([{"op": "Add", "path": "roles", "value": [
            {"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}]),
    );
    assert_eq!(user["roles"][0]["primary"], true);
}

fn entra_group() -> Value {
    let created = prepare_create(
        Kind::Group,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }),
    )
    .unwrap();
    with_id(created, "g1")
}

#[test]
fn entra_group_membership() {
    let group = patch(
        Kind::Group,
        &entra_group(),
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
    );
    assert_eq!(group["members"], json!([{"value": "f648f8d5ea4e4cd38e9c"}]));
    let group = patch(
        Kind::Group,
        &group,
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "a2a7a5e9c2ba4b33ad1b"}]}]),
    );
    // Entra's membership check: GET /Groups?filter=id eq "g1" and members eq "…"&excludedAttributes=members
    let check = Filter::parse(
        Kind::Group,
        r#"id eq "g1" and members eq "a2a7a5e9c2ba4b33ad1b""#,
    )
    .unwrap();
    assert!(check.matches(&group));
    let answer = project(Kind::Group, &group, None, Some("members")).unwrap();
    assert!(answer.get("members").is_none());

    let group = patch(
        Kind::Group,
        &group,
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "a2a7a5e9c2ba4b33ad1b"}]}]),
    );
    assert_eq!(group["members"], json!([{"value": "f648f8d5ea4e4cd38e9c"}]));
    assert!(!check.matches(&group));

    let group = patch(
        Kind::Group,
        &group,
        json!([{"op": "Replace", "path": "displayName", "value": "1879db59updatedDisplayName"}]),
    );
    assert_eq!(group["displayName"], "1879db59updatedDisplayName");
    assert_eq!(
        unique_key(Kind::Group, &group).as_deref(),
        Some("1879db59updateddisplayname")
    );
}

fn okta_user() -> Value {
    let created = prepare_create(
        Kind::User,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        }),
    )
    .unwrap();
    with_id(created, "23a35c27-23d3-4c03-b4c5-6443c09e7173")
}

#[test]
fn okta_create_drops_the_password() {
    let user = okta_user();
    assert!(user.get("password").is_none());
    assert!(user.get("groups").is_none());
    assert_eq!(user["locale"], "en-US");
}

#[test]
fn okta_put_user_and_deactivate() {
    let existing = okta_user();
    let replaced = prepare_replace(
        Kind::User,
        &existing,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
            "userName": "test.user@okta.local",
            "name": {"givenName": "Another", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Another User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true,
            "meta": {"resourceType": "User"}
        }),
    )
    .unwrap();
    assert_eq!(replaced["name"]["givenName"], "Another");
    assert_eq!(replaced["id"], existing["id"]);

    let deactivated = patch(
        Kind::User,
        &replaced,
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert_eq!(deactivated["active"], false);
    // Okta's password change by PATCH is accepted and dropped.
    let same = patch(
        Kind::User,
        &deactivated,
        json!([{"op": "replace", "value": {"password": "new"}}]),
    );
    assert_eq!(same, deactivated);
}

#[test]
fn okta_group_push() {
    let group = with_id(
        prepare_create(
            Kind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Test SCIMv2", "members": []}),
        )
        .unwrap(),
        "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
    );
    // Okta renames a Group with a path-less replace that repeats the id.
    let group = patch(
        Kind::Group,
        &group,
        json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2 renamed"}}]),
    );
    assert_eq!(group["displayName"], "Test SCIMv2 renamed");
    let group = patch(
        Kind::Group,
        &group,
        json!([{"op": "add", "path": "members", "value": [
            {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local"},
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "another@okta.local"}]}]),
    );
    let group = patch(
        Kind::Group,
        &group,
        json!([{"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"}]),
    );
    assert_eq!(
        group["members"],
        json!([{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "another@okta.local"}])
    );
    assert!(
        Filter::parse(Kind::Group, r#"displayName eq "test scimv2 RENAMED""#)
            .unwrap()
            .matches(&group)
    );
}

#[test]
fn hr_extension_dates() {
    let user = patch(
        Kind::User,
        &okta_user(),
        json!([{"op": "add", "path": "urn:mamori:params:scim:schemas:extension:hr:2.0:User:terminationDate",
                "value": "2025-03-31T23:00:00-05:00"},
               {"op": "add", "path": "urn:mamori:params:scim:schemas:extension:hr:2.0:User:priority",
                "value": true}]),
    );
    assert_eq!(
        user[HR],
        json!({"terminationDate": "2025-03-31T23:00:00-05:00", "priority": true})
    );
    let soon = Filter::parse(
        Kind::User,
        r#"urn:mamori:params:scim:schemas:extension:hr:2.0:User:terminationDate le "2025-04-30""#,
    )
    .unwrap();
    assert!(soon.matches(&user));
    let error = apply_patch(
        Kind::User,
        &user,
        &json!({"Operations": [{"op": "add", "path": "urn:mamori:params:scim:schemas:extension:hr:2.0:User:noticeDate", "value": "next week"}]}),
    )
    .unwrap_err();
    assert_eq!(error.scim_type(), Some("invalidValue"));
}
