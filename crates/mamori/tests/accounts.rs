//! `mamori import accounts` end to end: Active Directory, Entra ID and Google Workspace exports
//! as downloaded, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

/// `Get-ADUser … | Select-Object … | Export-Csv` (Windows PowerShell 5.1, Japanese Windows).
const AD: &str = r#"#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser
"SamAccountName","UserPrincipalName","EmployeeID","DisplayName","Enabled","whenCreated","LastLogonDate","MemberOf"
"yamada-t","yamada-t@corp.example","E1001","山田 太郎","True","2023/04/01 9:00:00","2025/02/14 8:30:12","CN=営業部,OU=Groups,DC=corp,DC=example"
"sato-h","sato-h@corp.example","E9999","佐藤 花子","True","2021/10/01 9:00:00","","CN=Domain Admins,CN=Users,DC=corp,DC=example"
"svc-backup","","","","False","2019/10/01 12:00:00","","CN=Backup Operators,CN=Builtin,DC=corp,DC=example"
"#;

/// Entra ID "Download users".
const ENTRA: &str = "userPrincipalName,displayName,surname,mail,givenName,objectId,userType,jobTitle,department,accountEnabled,employeeId,createdDateTime
taro@example.onmicrosoft.com,山田 太郎,山田,taro@example.jp,太郎,0f1e,Member,主任,営業部,True,E1001,2023-04-01T00:00:00Z
";

/// Google Workspace "Download users"; the third row has a bad status.
const GOOGLE: &str = "First Name [Required],Last Name [Required],Email Address [Required],Password [Required],Org Unit Path [Required],Status [READ ONLY],Last Sign In [READ ONLY],Employee ID,2sv Enrolled [READ ONLY],2sv Enforced [READ ONLY]
太郎,山田,taro@example.jp,****,/,Active,2025/02/14 08:30:12,E1001,True,False
花子,佐藤,hanako@example.jp,****,/Leavers,Deleted?,Never logged in,,False,False
共有,受付,reception@example.jp,****,/,Active,Never logged in,,False,False
";

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(out), stderr(out)))
}

#[test]
fn directory_exports_import_as_snapshots_with_group_history_and_person_links() {
    let env = Env::new();
    // HR links sato-h to E2002: the AD export's E9999 must not move it.
    let hr = env.file(
        "hr.csv",
        "person_id,valid_from,name,accounts\nE2002,2020-01-01,佐藤 花子,sato-h\n",
    );
    assert!(
        env.run(&["import", "hr", hr.to_str().unwrap()])
            .status
            .success()
    );

    let ad = env.file("ad.csv", AD);
    let out = env.run(&["--json", "import", "accounts", ad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["source"], "ad", "{summary}");
    assert_eq!(summary["source_inferred"], true);
    assert_eq!(summary["accounts"]["added"], 3, "{summary}");
    assert_eq!(summary["accounts"]["linked"], 1, "yamada-t → E1001");
    assert_eq!(
        summary["accounts"]["link_conflicts"],
        serde_json::json!([{"account": "sato-h", "source": "ad", "linked_to": "E2002", "inventory_person": "E9999"}])
    );
    assert!(
        stderr(&out).contains("sato-h (ad): linked to person E2002, the export names E9999"),
        "{}",
        stderr(&out)
    );

    // The same file again changes nothing, and says so.
    let again = env.run(&["import", "accounts", ad.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains(
            "(ad, told from the header): 3 accounts: 0 added, 3 unchanged, 0 changed, 0 removed, 0 quarantined"
        ),
        "{}",
        stdout(&again)
    );

    // Next month: yamada-t joins Enterprise Admins, svc-backup is gone from the export.
    let next = AD
        .replace(
            "\"CN=営業部,OU=Groups,DC=corp,DC=example\"",
            "\"CN=営業部,OU=Groups,DC=corp,DC=example;CN=Enterprise Admins,CN=Users,DC=corp,DC=example\"",
        )
        .lines()
        .filter(|line| !line.starts_with("\"svc-backup\""))
        .collect::<Vec<_>>()
        .join("\n");
    let ad_next = env.file("ad-next.csv", &next);
    let summary = json(&env.run(&[
        "--json",
        "import",
        "accounts",
        ad_next.to_str().unwrap(),
        "--source",
        "ad",
    ]));
    assert_eq!(summary["source_inferred"], false);
    assert_eq!(summary["accounts"]["changed"], 1, "{summary}");
    assert_eq!(summary["accounts"]["unchanged"], 1, "{summary}");
    assert_eq!(summary["accounts"]["removed"], 1, "{summary}");
    assert_eq!(summary["accounts"]["group_changes"], 1, "{summary}");

    let db = env.sqlite();
    let history: Vec<(String, String, String)> = db
        .prepare("SELECT account, group_name, change FROM account_group_history")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        history,
        [(
            "yamada-t".to_string(),
            "Enterprise Admins".to_string(),
            "added".to_string()
        )]
    );
    let (privileged, enabled): (bool, bool) = db
        .query_row(
            "SELECT privileged, enabled FROM account_inventory WHERE source = 'ad' AND account = 'yamada-t'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert!(privileged && enabled);
    let removed: Option<String> = db
        .query_row(
            "SELECT removed_at FROM account_inventory WHERE account = 'svc-backup'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(removed.is_some(), "kept, marked removed");
    let linked: String = db
        .query_row(
            "SELECT person_id FROM accounts WHERE account = 'sato-h'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(linked, "E2002", "never relinked");

    // Entra with the source given.
    let entra = env.file("entra.csv", ENTRA);
    let out = env.run(&[
        "--json",
        "import",
        "accounts",
        entra.to_str().unwrap(),
        "--source",
        "entra",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["accounts"]["added"], 1, "{summary}");
    assert!(
        summary["ignored_columns"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("objectId"))
    );

    // Google: the bad row is on stderr with its line, quarantined, and the import exits 2.
    let google = env.file("google.csv", GOOGLE);
    let out = env.run(&["--json", "import", "accounts", google.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{}:3 Status [READ ONLY]: expected Active, Suspended or Archived, found \"Deleted?\"",
            google.display()
        )),
        "{}",
        stderr(&out)
    );
    let summary = json(&out);
    assert_eq!(summary["source"], "google");
    assert_eq!(summary["accounts"]["added"], 2, "{summary}");
    assert_eq!(summary["quarantined"], 1);
    let quarantine = std::fs::read_to_string(summary["quarantine_file"].as_str().unwrap()).unwrap();
    let record: serde_json::Value =
        serde_json::from_str(quarantine.lines().next().unwrap()).unwrap();
    assert_eq!(record["source"], "accounts");
    assert_eq!(record["line"], 3);
    let mfa: Option<bool> = env
        .sqlite()
        .query_row(
            "SELECT mfa FROM account_inventory WHERE source = 'google' AND account = 'taro@example.jp'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(mfa, Some(true));
}

#[test]
fn a_file_that_does_not_say_its_source_is_bad_input() {
    let env = Env::new();
    let file = env.file("plain.csv", "account,enabled\nx,true\n");
    let out = env.run(&["import", "accounts", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--source"), "{}", stderr(&out));
    let out = env.run(&[
        "import",
        "accounts",
        file.to_str().unwrap(),
        "--source",
        "ldap",
    ]);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown source");
    let out = env.run(&[
        "import",
        "accounts",
        file.to_str().unwrap(),
        "--source",
        "other",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}
