//! The HR CSV reader: every column, both encodings, and precise rejections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::civil::date;
use mamori_event::{EmploymentType, PersonRecord};
use mamori_ingest::Rejected;
use mamori_ingest::hr::{HrCsvReader, HrError};
use proptest::prelude::*;

fn read(bytes: &[u8]) -> (Vec<Result<PersonRecord, Rejected>>, Option<&'static str>) {
    let mut reader = HrCsvReader::new(bytes, "hr.csv").unwrap();
    let mut out = Vec::new();
    for record in reader.by_ref() {
        out.push(record.unwrap());
    }
    (out, reader.encoding())
}

const FULL: &str = "person_id,valid_from,name,email,business_unit,functional_unit,department,team,role,supervisor,employment_type,hire_date,notice_date,termination_date,priority,accounts
E1001,2024-04-01,山田 太郎,taro.yamada@example.co.jp,本社,開発本部,設計部,第一設計課,主任,E0001,employee,2015-04-01,2025-02-14,2025-03-31,yes,ACM2278; yamada-t
";

#[test]
fn every_column_is_read() {
    let (records, encoding) = read(FULL.as_bytes());
    assert_eq!(encoding, Some("UTF-8"));
    let person = records[0].as_ref().unwrap();
    let mut expected = PersonRecord::new("E1001", date(2024, 4, 1), "山田 太郎");
    expected.email = Some("taro.yamada@example.co.jp".into());
    expected.business_unit = Some("本社".into());
    expected.functional_unit = Some("開発本部".into());
    expected.department = Some("設計部".into());
    expected.team = Some("第一設計課".into());
    expected.role = Some("主任".into());
    expected.supervisor = Some("E0001".into());
    expected.employment_type = Some(EmploymentType::Employee);
    expected.hire_date = Some(date(2015, 4, 1));
    expected.notice_date = Some(date(2025, 2, 14));
    expected.termination_date = Some(date(2025, 3, 31));
    expected.priority = true;
    expected.accounts = vec!["ACM2278".into(), "yamada-t".into()];
    assert_eq!(person, &expected);
}

#[test]
fn columns_may_come_in_any_order_and_only_three_are_required() {
    let (records, encoding) = read(b"Name , VALID_FROM,person_id\nAlice,2024/4/1,E1\n");
    assert_eq!(encoding, None, "ASCII only: nothing to decide");
    let person = records[0].as_ref().unwrap();
    assert_eq!(person, &PersonRecord::new("E1", date(2024, 4, 1), "Alice"));
}

#[test]
fn shift_jis_input_is_detected_and_decoded() {
    let (bytes, _, had_errors) = encoding_rs::SHIFT_JIS.encode(FULL);
    assert!(!had_errors);
    assert!(std::str::from_utf8(&bytes).is_err());
    let (records, encoding) = read(&bytes);
    assert_eq!(encoding, Some("Shift_JIS"));
    let person = records[0].as_ref().unwrap();
    assert_eq!(person.name, "山田 太郎");
    assert_eq!(person.team.as_deref(), Some("第一設計課"));
}

#[test]
fn a_utf8_byte_order_mark_is_skipped() {
    let with_bom = format!("\u{feff}{FULL}");
    let (records, encoding) = read(with_bom.as_bytes());
    assert_eq!(encoding, Some("UTF-8"));
    assert_eq!(records[0].as_ref().unwrap().person_id, "E1001");
}

#[test]
fn values_in_their_accepted_spellings() {
    let input = "person_id,valid_from,name,employment_type,priority
E1,2024-04-01,A,Contract,TRUE
E2,2024-04-01,B,派遣社員,0
E3,2024-04-01,C,パート・アルバイト,No
E4,2024-04-01,D,,
";
    let (records, _) = read(input.as_bytes());
    let people: Vec<_> = records.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(people[0].employment_type, Some(EmploymentType::Contract));
    assert!(people[0].priority);
    assert_eq!(people[1].employment_type, Some(EmploymentType::Temporary));
    assert!(!people[1].priority);
    assert_eq!(people[2].employment_type, Some(EmploymentType::PartTime));
    assert_eq!(people[3].employment_type, None);
    assert!(!people[3].priority);
}

#[test]
fn each_bad_row_is_rejected_naming_line_column_and_reason() {
    let input = "person_id,valid_from,name,hire_date,termination_date,employment_type,priority
E1,2024-04-01,Good,,,,
,2024-04-01,No id,,,,
E3,2024-13-01,Bad month,,,,
E4,2024-04-01,,,,,

E5,2024-04-01,Bad type,,,intern,
E6,2024-04-01,Bad flag,,,,maybe
E7,2024-04-01,Ends first,2020-04-01,2019-03-31,,
E8,2024-04-01,Short row
E9,2024-04-01,Also good,,,,
";
    let (records, _) = read(input.as_bytes());
    assert_eq!(records.len(), 9);
    assert!(records[0].is_ok());
    assert!(records[8].is_ok());
    let rejections: Vec<String> = records[1..8]
        .iter()
        .map(|record| {
            let rejected = record.as_ref().unwrap_err();
            format!("{} {}", rejected.location, rejected.reason)
        })
        .collect();
    assert_eq!(
        rejections,
        [
            "hr.csv:3 person_id: required, found an empty cell",
            r#"hr.csv:4 valid_from: invalid date "2024-13-01" (expected YYYY-MM-DD or YYYY/MM/DD)"#,
            "hr.csv:5 name: required, found an empty cell",
            r#"hr.csv:7 employment_type: unknown value "intern" (expected employee, contract, temporary, contractor, part_time or executive)"#,
            r#"hr.csv:8 priority: expected true/false, 1/0 or yes/no, found "maybe""#,
            "hr.csv:9 termination_date: 2019-03-31 is before hire_date 2020-04-01",
            "hr.csv:10 expected 7 fields as in the header, found 3",
        ]
    );
}

#[test]
fn header_errors_name_the_column() {
    let error = HrCsvReader::new(&b"person_id,valid_from,name,dept\n"[..], "hr.csv")
        .err()
        .unwrap();
    assert!(
        matches!(&error, HrError::UnknownColumn { column, position: 4, .. } if column == "dept")
    );
    assert!(error.to_string().starts_with(r#"hr.csv: header column 4 "dept" is not an HR column (known: person_id, valid_from, name, email"#));

    let error = HrCsvReader::new(&b"person_id,name\n"[..], "hr.csv")
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        r#"hr.csv: header lacks the required column "valid_from""#
    );

    let error = HrCsvReader::new(&b"person_id,valid_from,name,name\n"[..], "hr.csv")
        .err()
        .unwrap();
    assert!(matches!(error, HrError::DuplicateColumn { .. }));

    let error = HrCsvReader::new(&b""[..], "hr.csv").err().unwrap();
    assert!(matches!(error, HrError::Empty { .. }));
}

#[test]
fn invalid_utf8_after_utf8_was_detected_rejects_only_that_row() {
    // The first 64 KiB chunk with non-ASCII bytes decides; make it valid UTF-8.
    let mut input = "person_id,valid_from,name\n".as_bytes().to_vec();
    for _ in 0..4000 {
        input.extend_from_slice("E1,2024-04-01,Zoë\n".as_bytes());
    }
    input.extend_from_slice(b"E2,2024-04-01,\xff\xfe\nE3,2024-04-01,C\n");
    let (records, encoding) = read(&input);
    assert_eq!(encoding, Some("UTF-8"));
    assert_eq!(records.len(), 4002);
    assert!(records[3999].is_ok());
    assert_eq!(
        records[4000].as_ref().unwrap_err().reason,
        "name: invalid UTF-8 (the file mixes encodings?)"
    );
    assert!(records[4001].is_ok());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_reader(
        header in prop::bool::ANY,
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut input = Vec::new();
        if header {
            input.extend_from_slice(mamori_event::HR_CSV_COLUMNS.join(",").as_bytes());
            input.push(b'\n');
        }
        input.extend_from_slice(&body);
        if let Ok(reader) = HrCsvReader::new(&input[..], "fuzz") {
            for record in reader {
                prop_assert!(record.is_ok());
            }
        }
    }
}
