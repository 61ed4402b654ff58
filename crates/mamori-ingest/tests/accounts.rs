//! The account inventory reader: our columns and every export alias, the three directories'
//! export shapes, both encodings, privileged derivation and precise rejections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::civil::datetime;
use mamori_event::{ACCOUNT_CSV_COLUMNS, AccountRecord, AccountSource};
use mamori_ingest::Rejected;
use mamori_ingest::accounts::{AccountCsvReader, AccountError, COLUMN_ALIASES};
use proptest::prelude::*;

fn read(bytes: &[u8], source: Option<AccountSource>) -> Vec<Result<AccountRecord, Rejected>> {
    let reader = AccountCsvReader::new(bytes, "accounts.csv", source).unwrap();
    reader.map(Result::unwrap).collect()
}

fn ok(records: &[Result<AccountRecord, Rejected>]) -> Vec<&AccountRecord> {
    records.iter().map(|r| r.as_ref().unwrap()).collect()
}

const CANONICAL: &str = r#"account,source,person_id,display_name,enabled,created,last_logon,mfa,privileged,groups
yamada-t,ad,E1001,山田 太郎,true,2023-04-01,2025-02-14T08:30:00Z,yes,false,"CN=Domain Admins,CN=Users,DC=corp,DC=example;Sales"
"#;

#[test]
fn every_canonical_column_is_read() {
    let records = read(CANONICAL.as_bytes(), None);
    let mut expected = AccountRecord::new("yamada-t", AccountSource::Ad);
    expected.person_id = Some("E1001".into());
    expected.display_name = Some("山田 太郎".into());
    expected.enabled = Some(true);
    expected.created = Some(datetime(2023, 4, 1, 0, 0, 0, 0));
    expected.last_logon = Some(datetime(2025, 2, 14, 8, 30, 0, 0));
    expected.mfa = Some(true);
    expected.privileged_flag = Some(false);
    expected.groups = vec!["Domain Admins".into(), "Sales".into()];
    let account = records[0].as_ref().unwrap();
    assert_eq!(account, &expected);
    assert!(account.privileged(), "Domain Admins makes it privileged");
    assert_eq!(account.privileged_flag, Some(false), "the raw flag is kept");
}

#[test]
fn every_alias_fills_its_column() {
    for alias in COLUMN_ALIASES {
        let (value, check): (&str, fn(&AccountRecord) -> bool) = match alias.column() {
            "account" => ("someone", |r| r.account == "someone"),
            "source" => ("google", |r| r.source == AccountSource::Google),
            "person_id" => ("E9", |r| r.person_id.as_deref() == Some("E9")),
            "display_name" => ("Some One", |r| {
                r.display_name.as_deref() == Some("Some One")
            }),
            "enabled" => match alias.name {
                "block sign in" | "blocksignin" | "block credential" => {
                    ("Yes", |r| r.enabled == Some(false))
                }
                "status [read only]" => ("Suspended", |r| r.enabled == Some(false)),
                _ => ("False", |r| r.enabled == Some(false)),
            },
            "created" => ("2024/5/6 7:08:09", |r| {
                r.created == Some(datetime(2024, 5, 6, 7, 8, 9, 0))
            }),
            "last_logon" => ("2024-05-06T07:08:09Z", |r| {
                r.last_logon == Some(datetime(2024, 5, 6, 7, 8, 9, 0))
            }),
            "mfa" => ("TRUE", |r| r.mfa == Some(true)),
            "privileged" => ("True", |r| {
                r.privileged_flag == Some(true) && r.privileged()
            }),
            "groups" => ("CN=Backup Operators,CN=Builtin,DC=corp;VPN", |r| {
                r.groups == ["Backup Operators", "VPN"] && r.privileged()
            }),
            other => panic!("untested column {other}"),
        };
        // The alias in upper case, surrounded by spaces: names are compared loosely.
        let header = if alias.column() == "account" {
            format!(" {} ,source", alias.name.to_uppercase())
        } else {
            format!("account,source, {} ", alias.name.to_uppercase())
        };
        let row = if alias.column() == "account" {
            format!("{value},other")
        } else if alias.column() == "source" {
            format!("x,{value}")
        } else {
            format!("x,other,\"{value}\"")
        };
        let header = if alias.column() == "source" {
            "account,source".to_string()
        } else {
            header
        };
        let input = format!("{header}\n{row}\n");
        let records = read(input.as_bytes(), None);
        let record = records[0]
            .as_ref()
            .unwrap_or_else(|bad| panic!("{}: {}", alias.name, bad.reason));
        assert!(check(record), "{}: {record:?}", alias.name);
    }
    // Every canonical column has an alias entry of its own name.
    for column in ACCOUNT_CSV_COLUMNS {
        assert!(COLUMN_ALIASES.iter().any(|alias| alias.name == column));
    }
}

/// `Get-ADUser -Filter * -Properties … | Export-Csv` on Japanese Windows PowerShell 5.1,
/// MemberOf joined with `;`: the `#TYPE` line, both account names, local times.
const AD_EXPORT: &str = r#"#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser
"DistinguishedName","Enabled","GivenName","Name","ObjectClass","ObjectGUID","SamAccountName","SID","Surname","UserPrincipalName","EmployeeID","DisplayName","whenCreated","LastLogonDate","lastLogonTimestamp","MemberOf"
"CN=山田 太郎,OU=Staff,DC=corp,DC=example","True","太郎","山田 太郎","user","6f0b…","yamada-t","S-1-5-21-1","山田","yamada-t@corp.example","E1001","山田 太郎","2023/04/01 9:00:00","2025/02/14 8:30:12","133840000000000000","CN=Domain Admins,CN=Users,DC=corp,DC=example;CN=営業部,OU=Groups,DC=corp,DC=example"
"CN=svc-backup,OU=Service,DC=corp,DC=example","False","","svc-backup","user","7a1c…","svc-backup","S-1-5-21-2","","","","","2019/10/01 12:00:00","","0",""
"#;

#[test]
fn an_active_directory_export_reads_unedited() {
    let reader = AccountCsvReader::new(AD_EXPORT.as_bytes(), "ad.csv", None).unwrap();
    assert_eq!(reader.default_source(), Some((AccountSource::Ad, true)));
    assert_eq!(
        reader.ignored_columns(),
        [
            "DistinguishedName",
            "GivenName",
            "ObjectClass",
            "ObjectGUID",
            "SID",
            "Surname"
        ]
    );
    let records: Vec<_> = reader.map(Result::unwrap).collect();
    let accounts = ok(&records);
    let yamada = accounts[0];
    assert_eq!(
        yamada.account, "yamada-t",
        "SamAccountName before UserPrincipalName"
    );
    assert_eq!(yamada.source, AccountSource::Ad);
    assert_eq!(yamada.person_id.as_deref(), Some("E1001"));
    assert_eq!(yamada.display_name.as_deref(), Some("山田 太郎"));
    assert_eq!(yamada.enabled, Some(true));
    assert_eq!(yamada.created, Some(datetime(2023, 4, 1, 9, 0, 0, 0)));
    assert_eq!(
        yamada.last_logon,
        Some(datetime(2025, 2, 14, 8, 30, 12, 0)),
        "LastLogonDate before the raw lastLogonTimestamp"
    );
    assert_eq!(yamada.groups, ["Domain Admins", "営業部"]);
    assert!(yamada.privileged());
    let service = accounts[1];
    assert_eq!(service.enabled, Some(false));
    assert_eq!(
        service.display_name.as_deref(),
        Some("svc-backup"),
        "Name when DisplayName is empty"
    );
    assert_eq!(service.last_logon, None, "a zero file time is never");
    assert!(!service.privileged());
}

#[test]
fn entra_and_google_exports_read_unedited() {
    let entra = "userPrincipalName,displayName,surname,mail,givenName,objectId,userType,jobTitle,department,accountEnabled,createdDateTime,employeeId\n\
        taro@example.onmicrosoft.com,Taro,Yamada,taro@example.jp,Taro,0f1e,Member,,Sales,True,2023-04-01T00:00:00Z,E1001\n";
    let reader = AccountCsvReader::new(entra.as_bytes(), "entra.csv", None).unwrap();
    assert_eq!(reader.default_source(), Some((AccountSource::Entra, true)));
    let records: Vec<_> = reader.map(Result::unwrap).collect();
    let taro = records[0].as_ref().unwrap();
    assert_eq!(taro.account, "taro@example.onmicrosoft.com");
    assert_eq!(taro.source, AccountSource::Entra);
    assert_eq!(taro.enabled, Some(true));
    assert_eq!(taro.created, Some(datetime(2023, 4, 1, 0, 0, 0, 0)));
    assert_eq!(taro.person_id.as_deref(), Some("E1001"));

    let google = "First Name [Required],Last Name [Required],Email Address [Required],Password [Required],Org Unit Path [Required],Status [READ ONLY],Last Sign In [READ ONLY],Employee ID,2sv Enrolled [READ ONLY],2sv Enforced [READ ONLY]\n\
        Taro,Yamada,taro@example.jp,****,/,Active,2025/02/14 08:30:12,E1001,True,False\n\
        Hanako,Sato,hanako@example.jp,****,/Leavers,Suspended,Never logged in,,False,False\n";
    let reader = AccountCsvReader::new(google.as_bytes(), "google.csv", None).unwrap();
    assert_eq!(reader.default_source(), Some((AccountSource::Google, true)));
    let records: Vec<_> = reader.map(Result::unwrap).collect();
    let accounts = ok(&records);
    assert_eq!(accounts[0].account, "taro@example.jp");
    assert_eq!(accounts[0].enabled, Some(true));
    assert_eq!(accounts[0].mfa, Some(true));
    assert_eq!(
        accounts[0].last_logon,
        Some(datetime(2025, 2, 14, 8, 30, 12, 0))
    );
    assert_eq!(accounts[1].enabled, Some(false));
    assert_eq!(accounts[1].last_logon, None);
    assert_eq!(accounts[1].mfa, Some(false));
}

#[test]
fn shift_jis_and_a_byte_order_mark_are_decoded() {
    let input = "account,display_name,groups\nyamada-t,山田 太郎,営業部;経理部\n";
    let (bytes, _, had_errors) = encoding_rs::SHIFT_JIS.encode(input);
    assert!(!had_errors);
    let mut reader =
        AccountCsvReader::new(&bytes[..], "sjis.csv", Some(AccountSource::Other)).unwrap();
    let account = reader.next().unwrap().unwrap().unwrap();
    assert_eq!(reader.encoding(), Some("Shift_JIS"));
    assert_eq!(account.display_name.as_deref(), Some("山田 太郎"));
    assert_eq!(account.groups, ["営業部", "経理部"], "sorted");

    let with_bom = format!("\u{feff}{input}");
    let records = read(with_bom.as_bytes(), Some(AccountSource::Other));
    assert_eq!(records[0].as_ref().unwrap().account, "yamada-t");
}

#[test]
fn each_bad_row_is_rejected_naming_line_column_and_reason() {
    let input = "SamAccountName,Enabled,whenCreated,LastLogonDate,MemberOf,source
good,True,2023/04/01 9:00:00,,,
,True,,,,
bad-flag,maybe,,,,
bad-date,True,2023/13/01 9:00:00,,,

bad-logon,True,,yesterday,,
bad-groups,True,,,Microsoft.ActiveDirectory.Management.ADPropertyValueCollection,
bad-source,True,,,,ldap
short,True
good,False,,,,
also-good,False,,,,ad
";
    let records = read(input.as_bytes(), None);
    assert_eq!(records.len(), 10);
    assert!(records[0].is_ok());
    assert!(records[9].is_ok());
    let rejections: Vec<String> = records[1..9]
        .iter()
        .map(|record| {
            let rejected = record.as_ref().unwrap_err();
            format!("{} {}", rejected.location, rejected.reason)
        })
        .collect();
    assert_eq!(
        rejections,
        [
            "accounts.csv:3 SamAccountName: required, found an empty cell",
            r#"accounts.csv:4 Enabled: expected true/false, 1/0 or yes/no, found "maybe""#,
            r#"accounts.csv:5 whenCreated: invalid date/time "2023/13/01 9:00:00" (expected YYYY-MM-DD[THH:MM:SS[Z]], YYYY/MM/DD H:MM:SS, M/D/YYYY h:mm:ss AM, D.M.YYYY H:MM:SS, YYYYMMDDHHMMSS.0Z or a Windows file time)"#,
            r#"accounts.csv:7 LastLogonDate: invalid date/time "yesterday" (expected YYYY-MM-DD[THH:MM:SS[Z]], YYYY/MM/DD H:MM:SS, M/D/YYYY h:mm:ss AM, D.M.YYYY H:MM:SS, YYYYMMDDHHMMSS.0Z or a Windows file time)"#,
            r#"accounts.csv:8 MemberOf: found "Microsoft.ActiveDirectory.Management.ADPropertyValueCollection" instead of group names: export with @{n='MemberOf';e={$_.MemberOf -join ';'}}"#,
            r#"accounts.csv:9 source: unknown value "ldap" (expected ad, entra, google or other)"#,
            "accounts.csv:10 expected 6 fields as in the header, found 2",
            r#"accounts.csv:11 SamAccountName: "good" is already listed on line 2 (source ad)"#,
        ]
    );
}

#[test]
fn header_errors_name_the_problem() {
    let error = AccountCsvReader::new(&b"Enabled,whenCreated\n"[..], "a.csv", None)
        .err()
        .unwrap();
    assert!(matches!(error, AccountError::MissingAccount { .. }));
    assert!(
        error
            .to_string()
            .starts_with("a.csv: header has no account column (one of: account, samaccountname"),
        "{error}"
    );

    let error = AccountCsvReader::new(&b"account,Account\n"[..], "a.csv", None)
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        r#"a.csv: header names column "Account" twice"#
    );

    let error = AccountCsvReader::new(&b"account,enabled\n"[..], "a.csv", None)
        .err()
        .unwrap();
    assert!(matches!(error, AccountError::UnknownSource { .. }));
    assert!(error.to_string().contains("--source"), "{error}");

    let error = AccountCsvReader::new(&b"SamAccountName,Status [READ ONLY]\n"[..], "a.csv", None)
        .err()
        .unwrap();
    assert!(error.to_string().contains("ad and google"), "{error}");

    let error = AccountCsvReader::new(&b""[..], "a.csv", None)
        .err()
        .unwrap();
    assert!(matches!(error, AccountError::Empty { .. }));
}

#[test]
fn the_command_line_source_is_used_unless_a_row_names_one() {
    let input = "account,source\na,\nb,google\n";
    let records = read(input.as_bytes(), Some(AccountSource::Entra));
    let accounts = ok(&records);
    assert_eq!(accounts[0].source, AccountSource::Entra);
    assert_eq!(accounts[1].source, AccountSource::Google);
    // The same name in two sources is two accounts.
    let records = read(b"account,source\na,ad\na,entra\n", None);
    assert_eq!(ok(&records).len(), 2);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_reader(
        header in 0usize..3,
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut input = Vec::new();
        let headers = [
            "",
            "account,source,person_id,display_name,enabled,created,last_logon,mfa,privileged,groups\n",
            "SamAccountName,Enabled,whenCreated,LastLogonDate,lastLogonTimestamp,MemberOf,EmployeeID\n",
        ];
        input.extend_from_slice(headers[header].as_bytes());
        input.extend_from_slice(&body);
        if let Ok(reader) = AccountCsvReader::new(&input[..], "fuzz", Some(AccountSource::Other)) {
            for record in reader {
                prop_assert!(record.is_ok());
            }
        }
    }

    #[test]
    fn any_time_text_never_panics(text in "[0-9/:. APMTZ+-]{0,30}") {
        let input = format!("account,created\nx,\"{text}\"\n");
        let reader = AccountCsvReader::new(input.as_bytes(), "t", Some(AccountSource::Other)).unwrap();
        for record in reader {
            prop_assert!(record.is_ok());
        }
    }
}
