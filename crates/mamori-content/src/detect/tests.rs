//! Detector-level tests: each numeric kind through `scan`, with context, boundaries,
//! full-width input and dashes.

use super::*;

fn all() -> Detector {
    Detector::new(&DetectorConfig {
        min_confidence: 0.0,
        ..DetectorConfig::default()
    })
}

/// `(kind, matched original text, confidence)` of every finding.
fn found(text: &str) -> Vec<(FindingKind, String, f32)> {
    all()
        .scan(text)
        .into_iter()
        .map(|f| {
            (
                f.kind,
                text.chars().skip(f.start).take(f.end - f.start).collect(),
                f.confidence,
            )
        })
        .collect()
}

fn of(text: &str, kind: FindingKind) -> Vec<(String, f32)> {
    found(text)
        .into_iter()
        .filter(|f| f.0 == kind)
        .map(|f| (f.1, f.2))
        .collect()
}

fn conf(text: &str, kind: FindingKind) -> f32 {
    let f = of(text, kind);
    assert_eq!(f.len(), 1, "{text}: {f:?} (all: {:?})", found(text));
    f[0].1
}

const MY: FindingKind = FindingKind::MyNumber;
const CORP: FindingKind = FindingKind::CorporateNumber;
const CARD: FindingKind = FindingKind::CreditCard;
const PHONE: FindingKind = FindingKind::PhoneJp;
const POSTAL: FindingKind = FindingKind::PostalCodeJp;

#[test]
fn kinds_have_names() {
    assert_eq!(FindingKind::ALL.len(), 12);
    for k in FindingKind::ALL {
        assert_eq!(
            serde_json::to_value(k).ok(),
            Some(serde_json::Value::from(k.as_str()))
        );
    }
    assert_eq!(FindingKind::PostalCodeJp.to_string(), "postal_code_jp");
}

#[test]
fn my_number_with_context() {
    for text in [
        "個人番号：123456789018",
        "マイナンバー 1234 5678 9018",
        "My Number: 1234-5678-9018",
        "個人番号　１２３４５６７８９０１８",
        "マイナンバー：１２３４－５６７８－９０１８",
        "個人番号 1234ー5678ー9018",
        "個人番号 1234‐5678‐9018",
        "123456789018（個人番号）",
    ] {
        assert!(conf(text, MY) >= 0.95, "{text}");
    }
    let f = all().scan("マイナンバー：１２３４－５６７８－９０１８");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].value, "123456789018");
    assert_eq!((f[0].start, f[0].end), (7, 21));
    assert_eq!(
        f[0].reason,
        "12 digits (4-4-4), check digit valid, context マイナンバー"
    );
}

#[test]
fn my_number_wrong_check_digit_is_never_a_finding() {
    for last in 0..=9u8 {
        if last == 8 {
            continue;
        }
        for text in [
            format!("個人番号：12345678901{last}"),
            format!("マイナンバー 1234 5678 901{last}"),
        ] {
            assert!(of(&text, MY).is_empty(), "{text}");
        }
    }
}

#[test]
fn my_number_boundaries() {
    for text in [
        "個人番号 1123456789018",       // inside 13 digits
        "個人番号 1234567890189",       // inside 13 digits
        "個人番号 ID123456789018",      // after letters
        "個人番号 123456789018abc",     // before letters
        "個人番号 0.123456789018",      // decimal
        "個人番号 123456789018.5",      // decimal
        "個人番号 123456789018円",      // amount
        "個人番号 ¥123456789018",       // amount
        "個人番号 INV-123456789018",    // identifier
        "個人番号 1234 5678 9018 1234", // a longer grouped number
        "個人番号 1234-5678 9018",      // mixed separators
        "個人番号 123-456789018",       // wrong grouping
        "個人番号 000000000000",        // degenerate
    ] {
        assert!(of(text, MY).is_empty(), "{text}: {:?}", found(text));
    }
    // Next to other numbers joined by a space, it stands on its own.
    assert_eq!(of("個人番号 1 123456789018", MY).len(), 1);
}

#[test]
fn my_number_context_model() {
    // No context anywhere: below the default threshold.
    let bare = conf("123456789018", MY);
    assert!(
        conf("ID 123456789018", MY) < 0.2,
        "an unknown label names another number"
    );
    assert!(bare < DEFAULT_MIN_CONFIDENCE, "{bare}");
    // The card's 4-4-4 format alone: just above.
    let grouped = conf("1234 5678 9018", MY);
    assert!(
        (DEFAULT_MIN_CONFIDENCE..0.7).contains(&grouped),
        "{grouped}"
    );
    // Personal data nearby.
    assert!(conf("氏名 山田太郎 生年月日 1980年1月1日 123456789018", MY) >= DEFAULT_MIN_CONFIDENCE);
    // The document mentions My Number far away.
    let far = format!(
        "マイナンバーの取扱いについて\n{}\n123456789018",
        "あ".repeat(200)
    );
    let c = conf(&far, MY);
    assert!((0.75..0.95).contains(&c), "{c}");
    // Labelled as another number.
    assert!(conf("個人番号と注文番号: 123456789018", MY) < 0.2);
    assert!(conf("order 123456789018", MY) < 0.2);
    // Another number's words nearby lower it.
    assert!(conf("請求書の合計欄 123456789018", MY) < bare);
    // Default detector reports only what reaches the threshold.
    let d = Detector::new(&DetectorConfig::default());
    assert!(d.scan("ID 123456789018").is_empty());
    assert_eq!(d.scan("個人番号 123456789018").len(), 1);
}

#[test]
fn my_number_table_column() {
    let mut table = String::from("No\t氏名\t個人番号\t注文番号\n");
    for i in 0..300 {
        table.push_str(&format!("{i}\t社員{i}\t123456789018\t123456789018\n"));
    }
    let f: Vec<_> = of(&table, MY);
    let strong = f.iter().filter(|x| x.1 >= 0.95).count();
    let weak = f.iter().filter(|x| x.1 < 0.2).count();
    assert_eq!((strong, weak), (300, 300));
    // Spaced digit boxes of a form.
    assert!(conf("個人番号 1 2 3 4 5 6 7 8 9 0 1 8", MY) >= 0.95);
}

#[test]
fn corporate_numbers() {
    assert!(conf("法人番号 7000012050002", CORP) >= 0.95);
    assert!(conf("登録番号：T7000012050002", CORP) >= 0.95);
    let t = conf("T7000012050002", CORP);
    assert!((0.8..0.95).contains(&t), "{t}");
    assert!(conf("法人番号 7-0000-1205-0002", CORP) >= 0.95);
    assert!(
        conf(
            "法人番号 ７０００ー０１２０５０００２"
                .replace('ー', "")
                .as_str(),
            CORP
        ) >= 0.95
    );
    assert!(conf("7000012050002", CORP) < DEFAULT_MIN_CONFIDENCE);
    for bad in [
        "法人番号 8000012050002",
        "法人番号 70000120500021",
        "法人番号 AT7000012050002",
    ] {
        assert!(of(bad, CORP).is_empty(), "{bad}");
    }
    let f = all().scan("登録番号：T7000012050002");
    assert_eq!(f[0].value, "7000012050002");
}

#[test]
fn cards() {
    for (text, issuer) in [
        ("カード番号 4111 1111 1111 1111", "visa"),
        ("card number: 5555-5555-5555-4444", "mastercard"),
        ("2223 0000 4840 0011", "mastercard"),
        ("JCB 3530111333300000", "jcb"),
        ("Amex 3782 822463 10005", "amex"),
        ("Diners 3056 930902 5904", "diners"),
        (
            "クレジットカード：４１１１－１１１１－１１１１－１１１１",
            "visa",
        ),
    ] {
        let f = all().scan(text);
        let card: Vec<_> = f.iter().filter(|x| x.kind == CARD).collect();
        assert_eq!(card.len(), 1, "{text}: {f:?}");
        assert_eq!(card[0].detail.as_deref(), Some(issuer));
        assert!(card[0].confidence >= 0.85, "{text}");
    }
    assert!(conf("4111111111111111", CARD) >= 0.7);
    for bad in [
        "カード番号 4111 1111 1111 1112",   // Luhn
        "カード番号 6011 1111 1111 1117",   // Discover: not an accepted issuer
        "カード番号 4111 1111 1111 111",    // length
        "カード番号 1111 1111 1111 1111",   // no issuer
        "カード番号 4111 1111 1111 1111 1", // longer
        "カード番号 4111-1111 1111-1111",   // mixed separators
    ] {
        assert!(of(bad, CARD).is_empty(), "{bad}: {:?}", found(bad));
    }
    // A 13-digit Visa needs context.
    assert!(conf("4222222222222", CARD) < DEFAULT_MIN_CONFIDENCE);
}

#[test]
fn phones() {
    for (text, value) in [
        ("TEL 03-1234-5678", "0312345678"),
        ("0422-12-3456", "0422123456"),
        ("(03)1234-5678", "0312345678"),
        ("03(1234)5678", "0312345678"),
        ("090-1234-5678", "09012345678"),
        ("080 1234 5678", "08012345678"),
        ("050-1234-5678", "05012345678"),
        ("0120-123-456", "0120123456"),
        ("0800-123-4567", "08001234567"),
        ("0570-123-456", "0570123456"),
        ("+81-3-1234-5678", "0312345678"),
        ("+81 90 1234 5678", "09012345678"),
        ("+81 (0)3 1234 5678", "0312345678"),
        ("+819012345678", "09012345678"),
        ("電話：０９０ー１２３４ー５６７８", "09012345678"),
        ("電話 09012345678", "09012345678"),
    ] {
        let f = all().scan(text);
        let p: Vec<_> = f.iter().filter(|x| x.kind == PHONE).collect();
        assert_eq!(p.len(), 1, "{text}: {f:?}");
        assert_eq!(p[0].value, value, "{text}");
        assert!(p[0].confidence >= 0.85, "{text}: {}", p[0].confidence);
        let shown: String = text
            .chars()
            .skip(p[0].start)
            .take(p[0].end - p[0].start)
            .collect();
        assert!(shown.starts_with(['0', '+', '(', '０']), "{text}: {shown}");
    }
    for bad in [
        "2024-01-15",
        "03-1234-56789",
        "103-1234-5678",
        "01-2345-6789",
        "090-1234-567",
        "090-12345-678",
        "1,234,567,890",
        "ID03-1234-5678",
        "03-1234-5678-9",
        "00-1234-5678",
    ] {
        assert!(of(bad, PHONE).is_empty(), "{bad}: {:?}", found(bad));
    }
    assert!(conf("0312345678", PHONE) < DEFAULT_MIN_CONFIDENCE);
    assert!(conf("電話 0312345678", PHONE) >= 0.9);
}

#[test]
fn postal_codes() {
    assert!(conf("〒100-0001 東京都千代田区", POSTAL) >= 0.95);
    assert!(conf("〒１００－０００１", POSTAL) >= 0.95);
    assert!(conf("〒1000001", POSTAL) >= 0.95);
    assert!(conf("郵便番号 100-0001", POSTAL) >= 0.9);
    assert!(conf("100-0001 東京都千代田区", POSTAL) >= 0.9);
    assert!(conf("東京都千代田区千代田1-1 (100-0001)", POSTAL) >= 0.5);
    assert!(conf("Zip: 100-0001", POSTAL) >= 0.9);
    assert!(conf("部品 100-0001", POSTAL) < DEFAULT_MIN_CONFIDENCE);
    assert!(of("〒100-00012", POSTAL).is_empty());
    assert!(of("郵便番号 1000-001", POSTAL).is_empty());
}

#[test]
fn bank_accounts_and_passports() {
    assert!(conf("口座番号：1234567", FindingKind::BankAccount) >= 0.85);
    assert!(conf("みずほ銀行 渋谷支店 普通 7654321", FindingKind::BankAccount) >= 0.85);
    assert!(conf("振込先 店番 123-1234567", FindingKind::BankAccount) >= 0.85);
    // Seven digits alone or under another label are nothing sure (an account or a postal
    // code without its context).
    for text in ["会員番号 1234567", "1234567"] {
        assert!(
            found(text).iter().all(|f| f.2 < 0.5),
            "{text}: {:?}",
            found(text)
        );
    }
    assert!(conf("郵便番号 1234567", FindingKind::PostalCodeJp) >= 0.9);
    assert!(conf("〒2860038 千葉県成田市", FindingKind::PostalCodeJp) >= 0.9);
    assert!(conf("〒286-0038千葉県成田市", FindingKind::PostalCodeJp) >= 0.9);
    assert!(conf("〒450-0002 名古屋市中村区", FindingKind::PostalCodeJp) >= 0.9);
    assert!(conf("電話 03-1234-5678 本社", FindingKind::PhoneJp) >= 0.9);
    // Amounts stay amounts: a unit after the number, even a larger one.
    assert!(of("売上高 1234567千円", FindingKind::PostalCodeJp).is_empty());
    assert!(of("郵便番号 1234567 円", FindingKind::PostalCodeJp).is_empty());
    assert!(of("口座番号 1234567円", FindingKind::BankAccount).is_empty());
    assert!(conf("旅券番号 TK1234567", FindingKind::Passport) >= 0.9);
    assert!(conf("Passport No. ＭＵ７６５４３２１", FindingKind::Passport) >= 0.9);
    assert!(conf("TK1234567", FindingKind::Passport) < 0.5);
    assert!(of("パスポート ATK1234567", FindingKind::Passport).is_empty());
    assert!(of("パスポート TK12345678", FindingKind::Passport).is_empty());
    for (text, value) in [
        ("インボイス登録番号：T4-0110-0507-8208", "4011005078208"),
        ("登録番号 T-3120003566031", "3120003566031"),
        (
            "登録番号：Ｔ２－８０１１－０５４２－６４８４",
            "2801105426484",
        ),
    ] {
        let f = all().scan(text);
        let c: Vec<_> = f
            .iter()
            .filter(|f| f.kind == FindingKind::CorporateNumber)
            .collect();
        assert_eq!(c.len(), 1, "{text}: {f:?}");
        assert_eq!(c[0].value, value);
        assert!(c[0].confidence >= 0.9, "{text}: {f:?}");
        let matched: String = text
            .chars()
            .skip(c[0].start)
            .take(c[0].end - c[0].start)
            .collect();
        assert!(matched.starts_with(['T', 'Ｔ']), "{text}: {matched}");
    }
    let f = all().scan("旅券番号: ＴＫ１２３４５６７");
    assert_eq!(f[0].value, "TK1234567");
}

#[test]
fn numbers_inside_secrets_and_addresses_are_not_reported() {
    let f = found("mail 09012345678@example.jp");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, FindingKind::Email);
    let f = found("AKIA1234567890123456");
    assert!(f.iter().all(|x| x.0 == FindingKind::Secret), "{f:?}");
}

#[test]
fn offsets_point_into_the_original_text() {
    let text = "ｶｰﾄﾞ番号：４１１１　１１１１　１１１１　１１１１、ﾏｲﾅﾝﾊﾞｰ 123456789018";
    let f = all().scan(text);
    assert_eq!(f.len(), 2, "{f:?}");
    let chars: Vec<char> = text.chars().collect();
    let a: String = chars[f[0].start..f[0].end].iter().collect();
    let b: String = chars[f[1].start..f[1].end].iter().collect();
    assert_eq!(a, "４１１１　１１１１　１１１１　１１１１");
    assert_eq!(b, "123456789018");
    assert!(f[0].confidence >= 0.95 && f[1].confidence >= 0.95);
}

#[test]
fn detector_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Detector>();
}

#[test]
fn source_code_finding() {
    let d = Detector::new(&DetectorConfig::default());
    let code = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";
    let f = d.source_code(Some("main.rs"), code);
    let f = f.as_ref();
    assert_eq!(f.map(|f| f.kind), Some(FindingKind::SourceCode));
    assert_eq!(f.and_then(|f| f.detail.as_deref()), Some("rust"));
    assert_eq!(f.map(|f| (f.start, f.end)), Some((0, code.chars().count())));
    assert!(
        d.source_code(
            Some("letter.txt"),
            "拝啓 時下ますますご清栄のこととお慶び申し上げます。"
        )
        .is_none()
    );
}

proptest::proptest! {
    /// Scanning region by region finds what one pass over the whole text finds: tables are
    /// followed across regions, document cues apply everywhere, a finding reaching into the
    /// next region still hides what it contains, one found ahead waits for its region.
    #[test]
    fn regions_change_nothing(
        lines in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("氏名\t個人番号\t電話番号"),
                proptest::strategy::Just("山田 太郎\t1234 5678 9018\t03-1234-5678"),
                proptest::strategy::Just("佐藤 花子\t123456789018\t090-1234-5678"),
                proptest::strategy::Just("order 123456789018 shipped"),
                proptest::strategy::Just("【社外秘】"),
                proptest::strategy::Just("連絡先 taro@example.co.jp 〒100-0001"),
                proptest::strategy::Just("aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
                proptest::strategy::Just("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                proptest::strategy::Just("-----BEGIN RSA PRIVATE KEY-----"),
                proptest::strategy::Just("MIIEowIBAAKCAQEA 1234 5678 9018 4111 1111 1111 1111"),
                proptest::strategy::Just("-----END RSA PRIVATE KEY-----"),
                proptest::strategy::Just("password = S3cr3t!pass"),
                proptest::strategy::Just("マイナンバーの提出をお願いします"),
                proptest::strategy::Just(""),
            ],
            0..40,
        ),
        region in 1usize..300,
    ) {
        let text = lines.join("\n");
        let d = all();
        let mut whole = Vec::new();
        d.scan_regions(&text, usize::MAX, |f| whole.push(f));
        let mut split = Vec::new();
        d.scan_regions(&text, region, |f| split.push(f));
        proptest::prop_assert_eq!(split, whole);
    }
}
