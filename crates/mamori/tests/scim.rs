//! SCIM provisioning through the real `mamori serve`: the requests Microsoft Entra ID sends
//! (its PascalCase op names, string booleans, `remove` of members with a value), and what
//! Mamori makes of them — HR versions, ledger events, access records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::*;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const HR: &str = "urn:mamori:params:scim:schemas:extension:hr:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Scim {
    url: String,
    token: String,
}

impl Scim {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String, Value) {
        self.call_with(method, path, body, &[])
    }

    fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> (u16, String, Value) {
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/scim+json"),
        ];
        headers.extend_from_slice(extra);
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, head, body) = http(
            &format!("{}/scim/v2{path}", self.url),
            method,
            &headers,
            &bytes,
        );
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or_else(|e| {
                panic!("{method} {path}: {e}: {}", String::from_utf8_lossy(&body))
            })
        };
        (status, head, json)
    }
}

fn encode(filter: &str) -> String {
    filter
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn entra_style_provisioning_reaches_hr_the_ledger_and_the_access_log() {
    let env = Env::new();
    assert!(env.run(&["init"]).status.success());
    assert!(
        env.run(&["users", "add", "idp", "--role", "employee"])
            .status
            .success()
    );
    assert!(
        env.run(&["users", "add", "aoki", "--role", "admin"])
            .status
            .success()
    );
    let token = last_line_of(env.run(&["tokens", "create", "--user", "idp", "--scope", "scim"]));
    let api_token = last_line_of(env.run(&["tokens", "create", "--user", "aoki"]));
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let scim = Scim {
        url: url.clone(),
        token,
    };

    // Only a token of scope scim provisions; refusals are SCIM error bodies.
    let anonymous = Scim {
        url: url.clone(),
        token: String::new(),
    };
    let (status, head, body) = anonymous.call("GET", "/Users", None);
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let admin = Scim {
        url: url.clone(),
        token: api_token,
    };
    assert_eq!(admin.call("GET", "/Users", None).0, 403);

    // Discovery.
    let (status, head, config) = scim.call("GET", "/ServiceProviderConfig", None);
    assert_eq!(status, 200);
    assert!(head.contains("application/scim+json"), "{head}");
    assert_eq!(config["patch"]["supported"], true);
    let (_, _, schemas) = scim.call("GET", "/Schemas", None);
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&HR) && ids.contains(&ENTERPRISE), "{ids:?}");

    // Entra asks before it creates.
    let filter = encode("userName eq \"taro@example.co.jp\"");
    let (status, _, found) = scim.call("GET", &format!("/Users?filter={filter}"), None);
    assert_eq!((status, found["totalResults"].clone()), (200, json!(0)));
    let taro = json!({
        "schemas": [USER, ENTERPRISE, HR],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7d2ebd8e7a11",
        "userName": "taro@example.co.jp",
        "active": true,
        "displayName": "山田 太郎",
        "title": "主任",
        "emails": [{"primary": true, "type": "work", "value": "taro@example.co.jp"}],
        "name": {"formatted": "山田 太郎", "familyName": "山田", "givenName": "太郎"},
        ENTERPRISE: {"employeeNumber": "E1001", "department": "設計部"},
        HR: {"employmentType": "employee"},
    });
    let (status, head, created) = scim.call("POST", "/Users", Some(&taro));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("/scim/v2/users/{id}")),
        "{head}"
    );
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(created[ENTERPRISE]["department"], "設計部");
    // The same userName again, in another case: taken.
    let twin = json!({"schemas": [USER], "userName": "TARO@example.co.jp"});
    let (status, _, conflict) = scim.call("POST", "/Users", Some(&twin));
    assert_eq!(
        (status, conflict["scimType"].clone()),
        (409, json!("uniqueness"))
    );
    let (_, _, found) = scim.call("GET", &format!("/Users?filter={filter}"), None);
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // Notice given: HR's dates arrive through the Mamori extension (Entra's "Replace"/"Add").
    let notice = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": format!("{HR}:noticeDate"), "value": "2026-11-20"},
        {"op": "Add", "path": format!("{HR}:terminationDate"), "value": "2026-12-31"},
    ]});
    let (status, _, patched) = scim.call("PATCH", &format!("/Users/{id}"), Some(&notice));
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched[HR]["terminationDate"], "2026-12-31");
    // A stale version is refused.
    let stale = [("If-Match", "W/\"1\"")];
    let (status, _, _) = scim.call_with("PATCH", &format!("/Users/{id}"), Some(&notice), &stale);
    assert_eq!(status, 412);

    // Group membership, granted and revoked the way Entra does it.
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "設計部 管理者", "members": [{"value": id}]});
    let (status, _, group) = scim.call("POST", "/Groups", Some(&group));
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().unwrap().to_string();
    let (_, _, user) = scim.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(user["groups"][0]["value"], group_id.as_str());
    let remove = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"value": id}]}]});
    let (status, _, group) = scim.call("PATCH", &format!("/Groups/{group_id}"), Some(&remove));
    assert_eq!(status, 200, "{group}");
    assert!(
        group["members"].as_array().is_none_or(Vec::is_empty),
        "{group}"
    );

    // Disabled with Entra's string boolean, then deleted.
    let disable = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"}]});
    let (status, _, disabled) = scim.call("PATCH", &format!("/Users/{id}"), Some(&disable));
    assert_eq!((status, disabled["active"].clone()), (200, json!(false)));
    assert_eq!(scim.call("DELETE", &format!("/Users/{id}"), None).0, 204);
    assert_eq!(scim.call("GET", &format!("/Users/{id}"), None).0, 404);
    server.stop();

    // HR: the person, the dates, the account.
    let db = env.sqlite();
    let (notice, termination, accounts, department): (String, String, String, String) = db
        .query_row(
            "SELECT notice_date, termination_date, accounts, department FROM person_versions
             WHERE person_id = 'E1001' ORDER BY valid_from DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (
            notice.as_str(),
            termination.as_str(),
            accounts.as_str(),
            department.as_str()
        ),
        ("2026-11-20", "2026-12-31", "taro@example.co.jp", "設計部")
    );
    let person: String = db
        .query_row(
            "SELECT person_id FROM accounts WHERE account = 'taro@example.co.jp'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(person, "E1001");
    // The ledger: who granted, changed, revoked, disabled and deleted, in order.
    let mut kinds = db
        .prepare(
            "SELECT n.name FROM events e JOIN names n ON n.id = e.kind_id ORDER BY e.leaf_index",
        )
        .unwrap();
    let kinds: Vec<String> = kinds
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        kinds,
        [
            "account.create",
            "account.change",
            "account.group_add",
            "account.group_remove",
            "account.disable",
            "account.delete"
        ]
    );
    // Reads are on the access log under the token's owner.
    let reads: i64 = db
        .query_row(
            "SELECT count(*) FROM access_log WHERE actor = 'scim:idp' AND action LIKE 'scim.%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Two lists and one read; refused and missing ones are not reads.
    assert_eq!(reads, 3);
    assert!(env.run(&["verify"]).status.success());
}
