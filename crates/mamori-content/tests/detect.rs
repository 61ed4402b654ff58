//! Integration tests of the detectors: a realistic document, properties over arbitrary text,
//! and the throughput figure (`cargo test -p mamori-content --release --test detect --
//! --ignored --nocapture`).

use std::sync::OnceLock;
use std::time::Instant;

use mamori_content::detect::{Detector, DetectorConfig, Finding, FindingKind};
use proptest::prelude::*;

/// About `bytes` of mixed Japanese/English business text with entities sprinkled in (one
/// line in twenty carries one), deterministic.
fn corpus(bytes: usize) -> String {
    let ja = [
        "本日の会議では、来期の予算配分と採用計画について議論しました。",
        "担当部署は、2024年度の売上目標を前年比12%増の3,500万円に設定しています。",
        "資料は共有フォルダに保存してありますので、ご確認ください。",
        "新しい勤怠管理システムは4月1日から稼働する予定です。",
        "顧客満足度調査の結果、サポート窓口の対応時間に改善の余地があることが分かりました。",
    ];
    let en = [
        "The quarterly report shows revenue growth of 12% compared to last year, driven by new customers.",
        "Please review the attached draft before Friday and send your comments to the project team.",
        "Version 2.3.1 of the client was released on 2024-05-14 with 37 bug fixes.",
        "Meeting room B is booked from 10:00 to 11:30 for the design review.",
    ];
    let entities = [
        "個人番号：1234 5678 9018",
        "TEL 03-1234-5678",
        "〒100-0001 東京都千代田区千代田1-1",
        "連絡先 taro.yamada@example.co.jp",
        "カード番号 4111-1111-1111-1111",
        "【社外秘】",
        "法人番号 7000012050002",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "携帯 090-1234-5678",
        "口座番号 普通 1234567",
    ];
    let mut s = String::with_capacity(bytes + 256);
    let mut i = 0usize;
    while s.len() < bytes {
        if i.is_multiple_of(3) {
            s.push_str(en[i % en.len()]);
        } else {
            s.push_str(ja[i % ja.len()]);
        }
        if i.is_multiple_of(20) {
            s.push(' ');
            s.push_str(entities[(i / 20) % entities.len()]);
        }
        s.push('\n');
        i += 1;
    }
    s
}

#[test]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
fn throughput() {
    let text = corpus(50 << 20);
    let d = Detector::new(&DetectorConfig::default());
    // Warm up, then measure the best of three.
    let mut found = d.scan(&corpus(1 << 20)).len();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        found = d.scan(&text).len();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mbs = text.len() as f64 / 1e6 / best;
    println!(
        "scan: {:.1} MB in {:.3} s = {mbs:.0} MB/s, {found} findings",
        text.len() as f64 / 1e6,
        best
    );
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let n = mamori_content::normalize::normalize(&text);
        best = best.min(t.elapsed().as_secs_f64());
        assert!(!n.is_unchanged());
    }
    println!(
        "of which normalisation: {:.0} MB/s",
        text.len() as f64 / 1e6 / best
    );
}

fn show(text: &str, f: &Finding) -> String {
    text.chars().skip(f.start).take(f.end - f.start).collect()
}

/// A staff list as it comes out of a spreadsheet (tab-separated), with a cover note.
const STAFF_LIST: &str = "【社外秘】社員名簿（2025年4月1日現在）
人事部 作成

氏名\tフリガナ\t個人番号\t電話番号\t住所\tメール
山田 太郎\tヤマダ タロウ\t1234 5678 9018\t090-1234-5678\t〒100-0001 東京都千代田区千代田1-1\ttaro.yamada@example.co.jp
佐藤 花子\tサトウ ハナコ\t２３４５６７８９０１２１\t(03)1234-5678\t〒530-0001 大阪府大阪市北区梅田1-1\thanako.sato@example.co.jp
鈴木 一郎\tスズキ イチロウ\t987654321094\t080-9876-5432\t〒060-0001 北海道札幌市中央区北1条西1\tichiro@example.jp

給与振込先：みずほ銀行 渋谷支店 普通 1234567
注文番号: 410293857168（参考）
当社の法人番号は 7000012050002 です。
お問い合わせ: 0120-123-456（平日 9:00〜17:00）
";

#[test]
fn staff_list_exact_findings() {
    let d = Detector::new(&DetectorConfig::default());
    let findings = d.scan(STAFF_LIST);
    let got: Vec<(&str, String, String)> = findings
        .iter()
        .map(|f| (f.kind.as_str(), show(STAFF_LIST, f), f.value.clone()))
        .collect();
    let want: Vec<(&str, &str, &str)> = vec![
        ("label", "社外秘", "社外秘"),
        ("my_number", "1234 5678 9018", "123456789018"),
        ("phone_jp", "090-1234-5678", "09012345678"),
        ("postal_code_jp", "〒100-0001", "1000001"),
        (
            "email",
            "taro.yamada@example.co.jp",
            "taro.yamada@example.co.jp",
        ),
        ("my_number", "２３４５６７８９０１２１", "234567890121"),
        ("phone_jp", "(03)1234-5678", "0312345678"),
        ("postal_code_jp", "〒530-0001", "5300001"),
        (
            "email",
            "hanako.sato@example.co.jp",
            "hanako.sato@example.co.jp",
        ),
        ("phone_jp", "080-9876-5432", "08098765432"),
        ("postal_code_jp", "〒060-0001", "0600001"),
        ("email", "ichiro@example.jp", "ichiro@example.jp"),
        ("bank_account", "1234567", "1234567"),
        ("corporate_number", "7000012050002", "7000012050002"),
        ("phone_jp", "0120-123-456", "0120123456"),
    ];
    let want: Vec<(&str, String, String)> = want
        .into_iter()
        .map(|(k, s, v)| (k, s.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(got, want, "{findings:#?}");
    // 987654321094 has a wrong check digit; the order number is labelled as such.
    let all = Detector::new(&DetectorConfig {
        min_confidence: 0.0,
        ..DetectorConfig::default()
    })
    .scan(STAFF_LIST);
    assert!(!all.iter().any(|f| f.value == "987654321094"));
    let order = all
        .iter()
        .find(|f| f.value == "410293857168")
        .map(|f| f.confidence);
    assert!(order.is_some_and(|c| c < 0.2), "{order:?}");
    for f in &findings {
        assert!(f.confidence >= 0.5 && f.confidence <= 1.0);
        assert!(!f.reason.is_empty());
    }
}

#[test]
fn corpus_findings_are_found() {
    let text = corpus(20_000);
    let d = Detector::new(&DetectorConfig::default());
    let f = d.scan(&text);
    for kind in [
        FindingKind::MyNumber,
        FindingKind::PhoneJp,
        FindingKind::Email,
        FindingKind::CreditCard,
        FindingKind::Label,
        FindingKind::Secret,
    ] {
        assert!(f.iter().any(|x| x.kind == kind), "{kind}");
    }
}

/// A detector that reports everything (threshold 0), shared by the property tests.
fn everything() -> &'static Detector {
    static D: OnceLock<Detector> = OnceLock::new();
    D.get_or_init(|| {
        Detector::new(&DetectorConfig {
            min_confidence: 0.0,
            ..DetectorConfig::default()
        })
    })
}

// Independent implementations of the check digits, straight from the specifications.

fn my_number_ok(d: &[u8]) -> bool {
    let sum: u32 = (1..=11u32)
        .map(|n| u32::from(d[11 - n as usize]) * if n <= 6 { n + 1 } else { n - 5 })
        .sum();
    let r = sum % 11;
    u32::from(d[11]) == if r <= 1 { 0 } else { 11 - r }
}

fn corporate_ok(d: &[u8]) -> bool {
    let sum: u32 = (1..=12u32)
        .map(|n| u32::from(d[13 - n as usize]) * if n % 2 == 1 { 1 } else { 2 })
        .sum();
    u32::from(d[0]) == 9 - sum % 9
}

fn luhn_ok(d: &[u8]) -> bool {
    let mut sum = 0;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut x = u32::from(x);
        if i % 2 == 1 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    sum % 10 == 0
}

fn text_of(d: &[u8]) -> String {
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

/// Writes digits in `groups` with `sep`, optionally full-width.
fn format_digits(d: &[u8], groups: &[usize], sep: &str, full_width: bool) -> String {
    let mut out = String::new();
    let mut i = 0;
    for (k, g) in groups.iter().enumerate() {
        if k > 0 {
            out.push_str(sep);
        }
        for x in &d[i..i + g] {
            out.push(if full_width {
                char::from_u32(0xFF10 + u32::from(*x)).unwrap_or('0')
            } else {
                char::from(b'0' + x)
            });
        }
        i += g;
    }
    out
}

fn degenerate(d: &[u8]) -> bool {
    d.iter().all(|x| *x == d[0])
        || d.windows(2).all(|w| w[1] == (w[0] + 1) % 10)
        || d.windows(2).all(|w| w[0] == (w[1] + 1) % 10)
}

/// Text fragments that exercise the scanners' edges.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,20}",
        "[０-９]{1,14}",
        "[0-9 \\-ー－‐()+]{1,24}",
        "[a-zA-Z0-9@._%+-]{1,30}",
        Just("個人番号".to_owned()),
        Just("〒".to_owned()),
        Just("T".to_owned()),
        Just("【秘】".to_owned()),
        Just("社外秘".to_owned()),
        Just("-----BEGIN RSA PRIVATE KEY-----".to_owned()),
        Just("eyJhbGciOiJIUzI1NiJ9.".to_owned()),
        Just("password=".to_owned()),
        Just("AKIA".to_owned()),
        Just("\t".to_owned()),
        Just("\n".to_owned()),
        Just(",".to_owned()),
        "\\PC{1,8}",
        "[ｱ-ﾝﾞﾟｰ]{1,6}",
        "[\u{300}-\u{36F}\u{3099}\u{200B}]{1,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn scan_is_total_and_offsets_are_valid(parts in proptest::collection::vec(fragment(), 0..24)) {
        let text: String = parts.concat();
        let chars = text.chars().count();
        let findings = everything().scan(&text);
        let mut prev = 0;
        for f in &findings {
            prop_assert!(f.start < f.end && f.end <= chars, "{f:?} in {chars} chars");
            prop_assert!(f.start >= prev, "sorted");
            prev = f.start;
            prop_assert!((0.0..=1.0).contains(&f.confidence));
            prop_assert!(!f.reason.is_empty());
            let shown = show(&text, f);
            // Numbers: the digits of the original span (after NFKC) are the value.
            if matches!(f.kind, FindingKind::MyNumber | FindingKind::CorporateNumber | FindingKind::CreditCard | FindingKind::BankAccount) {
                let norm = mamori_content::normalize::normalize(&shown);
                let digits: String = norm.as_str().chars().filter(char::is_ascii_digit).collect();
                prop_assert_eq!(&digits, &f.value, "{:?}", shown);
            }
            if f.kind == FindingKind::MyNumber {
                let d: Vec<u8> = f.value.bytes().map(|b| b - b'0').collect();
                prop_assert!(d.len() == 12 && my_number_ok(&d));
            }
        }
    }

    #[test]
    fn valid_my_numbers_are_found_and_one_digit_off_are_not(
        first in proptest::collection::vec(0u8..10, 11),
        style in 0usize..4,
        context in 0usize..3,
        pos in 0usize..12,
        delta in 1u8..10,
    ) {
        let r: u32 = (1..=11u32).map(|n| u32::from(first[11 - n as usize]) * if n <= 6 { n + 1 } else { n - 5 }).sum::<u32>() % 11;
        let mut d = first.clone();
        d.push(if r <= 1 { 0 } else { (11 - r) as u8 });
        prop_assume!(!degenerate(&d));
        let (groups, sep, fw): (&[usize], &str, bool) = match style {
            0 => (&[12], "", false),
            1 => (&[4, 4, 4], " ", false),
            2 => (&[4, 4, 4], "－", true),
            _ => (&[4, 4, 4], "-", false),
        };
        let prefix = ["個人番号：", "マイナンバー ", "My Number: "][context];
        let text = format!("{prefix}{}です。", format_digits(&d, groups, sep, fw));
        let f = everything().scan(&text);
        let mine: Vec<_> = f.iter().filter(|x| x.kind == FindingKind::MyNumber).collect();
        prop_assert_eq!(mine.len(), 1, "{} {:?}", text, f);
        prop_assert_eq!(&mine[0].value, &text_of(&d));
        prop_assert!(mine[0].confidence >= 0.95);
        // One digit changed: found only if the check digit still holds (remainders 0 and 1
        // share check digit 0), never otherwise.
        let mut e = d.clone();
        e[pos] = (e[pos] + delta) % 10;
        let text = format!("{prefix}{}です。", format_digits(&e, groups, sep, fw));
        let hit = everything().scan(&text).iter().any(|x| x.kind == FindingKind::MyNumber);
        prop_assert_eq!(hit, my_number_ok(&e) && !degenerate(&e), "{}", text);
    }

    #[test]
    fn valid_corporate_numbers_are_found_and_one_digit_off_are_not(
        base in proptest::collection::vec(0u8..10, 12),
        t_prefix in any::<bool>(),
        pos in 0usize..13,
        delta in 1u8..10,
    ) {
        let sum: u32 = (1..=12u32).map(|n| u32::from(base[12 - n as usize]) * if n % 2 == 1 { 1 } else { 2 }).sum();
        let mut d = vec![(9 - sum % 9) as u8];
        d.extend(&base);
        prop_assume!(!degenerate(&d));
        let t = if t_prefix { "T" } else { "" };
        let text = format!("法人番号 {t}{}", text_of(&d));
        let f = everything().scan(&text);
        let corp: Vec<_> = f.iter().filter(|x| x.kind == FindingKind::CorporateNumber).collect();
        prop_assert_eq!(corp.len(), 1, "{} {:?}", text, f);
        prop_assert_eq!(&corp[0].value, &text_of(&d));
        let mut e = d.clone();
        e[pos] = (e[pos] + delta) % 10;
        let text = format!("法人番号 {t}{}", text_of(&e));
        let hit = everything().scan(&text).iter().any(|x| x.kind == FindingKind::CorporateNumber);
        prop_assert_eq!(hit, corporate_ok(&e) && !degenerate(&e), "{}", text);
    }

    #[test]
    fn valid_cards_are_found_and_one_digit_off_are_not(
        issuer in 0usize..5,
        body in proptest::collection::vec(0u8..10, 18),
        grouped in any::<bool>(),
        pos in 0usize..19,
        delta in 1u8..10,
    ) {
        let (prefix, len, groups): (&[u8], usize, &[usize]) = match issuer {
            0 => (&[4], 16, &[4, 4, 4, 4]),
            1 => (&[5, 3], 16, &[4, 4, 4, 4]),
            2 => (&[3, 5, 6, 2], 16, &[4, 4, 4, 4]),
            3 => (&[3, 7], 15, &[4, 6, 5]),
            _ => (&[3, 0, 2], 14, &[4, 6, 4]),
        };
        let mut d: Vec<u8> = prefix.to_vec();
        d.extend(&body[..len - 1 - prefix.len()]);
        let check = (0..10u8).find(|c| { let mut x = d.clone(); x.push(*c); luhn_ok(&x) }).unwrap_or(0);
        d.push(check);
        prop_assume!(!degenerate(&d));
        let fmt = |d: &[u8]| if grouped { format_digits(d, groups, " ", false) } else { text_of(d) };
        let text = format!("カード番号：{}", fmt(&d));
        let f = everything().scan(&text);
        let cards: Vec<_> = f.iter().filter(|x| x.kind == FindingKind::CreditCard).collect();
        prop_assert_eq!(cards.len(), 1, "{} {:?}", text, f);
        prop_assert_eq!(&cards[0].value, &text_of(&d));
        prop_assert!(cards[0].confidence >= 0.95);
        // Luhn catches every single-digit error; a changed prefix may also leave the issuer.
        let pos = pos % len;
        let mut e = d.clone();
        e[pos] = (e[pos] + delta) % 10;
        let text = format!("カード番号：{}", fmt(&e));
        let hit = everything().scan(&text).iter().any(|x| x.kind == FindingKind::CreditCard);
        prop_assert!(!hit, "{}", text);
    }
}

/// A small deterministic generator (xorshift64*), so the synthetic corpus needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn digits(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.below(10) as u8).collect()
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn my_number(rng: &mut Rng, valid: bool) -> Vec<u8> {
    loop {
        let mut d = rng.digits(11);
        let r: u32 = (1..=11u32)
            .map(|n| u32::from(d[11 - n as usize]) * if n <= 6 { n + 1 } else { n - 5 })
            .sum::<u32>()
            % 11;
        let c = if r <= 1 { 0 } else { (11 - r) as u8 };
        d.push(if valid {
            c
        } else {
            (c + 1 + rng.below(9) as u8) % 10
        });
        if !degenerate(&d) && my_number_ok(&d) == valid {
            return d;
        }
    }
}

fn corporate(rng: &mut Rng) -> Vec<u8> {
    let base = rng.digits(12);
    let sum: u32 = (1..=12u32)
        .map(|n| u32::from(base[12 - n as usize]) * if n % 2 == 1 { 1 } else { 2 })
        .sum();
    let mut d = vec![(9 - sum % 9) as u8];
    d.extend(base);
    d
}

fn card(rng: &mut Rng) -> (Vec<u8>, &'static [usize]) {
    let (prefix, len, groups): (Vec<u8>, usize, &'static [usize]) = match rng.below(5) {
        0 => (vec![4], 16, &[4, 4, 4, 4]),
        1 => (vec![5, 1 + rng.below(5) as u8], 16, &[4, 4, 4, 4]),
        2 => (vec![3, 5, 3 + rng.below(5) as u8, 0], 16, &[4, 4, 4, 4]),
        3 => (vec![3, 7], 15, &[4, 6, 5]),
        _ => (vec![3, 6], 14, &[4, 6, 4]),
    };
    let mut d = prefix;
    let rest = len - 1 - d.len();
    d.extend(rng.digits(rest));
    let c = (0..10u8).find(|c| {
        let mut x = d.clone();
        x.push(*c);
        luhn_ok(&x)
    });
    d.push(c.unwrap_or(0));
    (d, groups)
}

/// One synthetic document: lines of filler with planted entities, and the planted
/// `(kind, original text of the entity)` pairs.
fn synthetic_document(rng: &mut Rng) -> (String, Vec<(FindingKind, String)>) {
    let filler = [
        "本日の打ち合わせの議事録を共有します。",
        "The project timeline was reviewed and approved by the steering committee.",
        "来月の出張費精算は月末までに提出してください。",
        "売上は前年同期比で8.5%増加し、営業利益は1億2,345万円となりました。",
        "Version 3.12.1 was deployed on 2024-11-05 at 09:30 JST.",
        "会議室Aは10:00〜12:00まで予約済みです。",
        "秘書課の佐藤さんに確認しました。秘密保持契約の締結が必要です。",
        "Please keep the secret recipe between us; it is a confidential matter.",
        "ISBN 978-4-06-512345-9 の書籍を発注しました。",
        "サーバーのIPアドレスは192.168.10.25です。",
    ];
    let mut text = String::new();
    let mut planted = Vec::new();
    let plant = |text: &mut String,
                 planted: &mut Vec<(FindingKind, String)>,
                 before: &str,
                 entity: String,
                 after: &str,
                 kind: Option<FindingKind>| {
        text.push_str(before);
        text.push_str(&entity);
        text.push_str(after);
        text.push('\n');
        if let Some(k) = kind {
            planted.push((k, entity));
        }
    };
    let lines = 20 + rng.below(30);
    let mut mentions_my_number = false;
    for _ in 0..lines {
        let r = rng.below(34);
        match r {
            0..=9 => {
                text.push_str(rng.pick(&filler));
                text.push('\n');
            }
            10 => {
                let d = my_number(rng, true);
                let (groups, sep): (&[usize], &str) = match rng.below(4) {
                    0 => (&[12], ""),
                    1 => (&[4, 4, 4], " "),
                    2 => (&[4, 4, 4], "-"),
                    _ => (&[4, 4, 4], "－"),
                };
                let fw = rng.below(5) == 0;
                let label = rng.pick(&[
                    "個人番号：",
                    "マイナンバー ",
                    "My Number: ",
                    "個人番号（マイナンバー）\n",
                    "マイナンバー:",
                ]);
                mentions_my_number = true;
                plant(
                    &mut text,
                    &mut planted,
                    label,
                    format_digits(&d, groups, sep, fw),
                    "",
                    Some(FindingKind::MyNumber),
                );
            }
            11 => {
                // A table with a header.
                let delim = rng.pick(&["\t", ","]);
                text.push_str(&format!(
                    "氏名{delim}個人番号{delim}電話番号{delim}メール\n"
                ));
                mentions_my_number = true;
                for i in 0..(2 + rng.below(6)) {
                    let d = my_number(rng, true);
                    let phone = format!("090-{:04}-{:04}", rng.below(10000), rng.below(10000));
                    let mail = format!("user{i}@example.co.jp");
                    text.push_str(&format!("社員{i}{delim}"));
                    let m = text_of(&d);
                    text.push_str(&format!("{m}{delim}{phone}{delim}{mail}\n"));
                    planted.push((FindingKind::MyNumber, m));
                    planted.push((FindingKind::PhoneJp, phone));
                    planted.push((FindingKind::Email, mail));
                }
            }
            12 => {
                // Wrong check digit, with context: never a finding.
                let d = my_number(rng, false);
                plant(&mut text, &mut planted, "個人番号：", text_of(&d), "", None);
            }
            13 => {
                // Other 12-digit numbers, labelled as what they are.
                let d = rng.digits(12);
                let label = rng.pick(&[
                    "注文番号：",
                    "伝票番号 ",
                    "会員番号:",
                    "管理番号 ",
                    "Order No. ",
                    "お問い合わせ番号：",
                ]);
                plant(&mut text, &mut planted, label, text_of(&d), "", None);
            }
            14 => {
                let d = corporate(rng);
                let (label, t) = match rng.below(3) {
                    0 => ("法人番号：", ""),
                    1 => ("登録番号 ", "T"),
                    _ => ("Corporate Number: ", ""),
                };
                plant(
                    &mut text,
                    &mut planted,
                    label,
                    format!("{t}{}", text_of(&d)),
                    "",
                    Some(FindingKind::CorporateNumber),
                );
            }
            15 => {
                // JAN codes.
                let mut d = vec![4, 9];
                d.extend(rng.digits(10));
                let sum: u32 = d
                    .iter()
                    .enumerate()
                    .map(|(i, x)| u32::from(*x) * if i % 2 == 0 { 1 } else { 3 })
                    .sum();
                d.push(((10 - sum % 10) % 10) as u8);
                plant(&mut text, &mut planted, "JANコード ", text_of(&d), "", None);
            }
            16 => {
                let (d, groups) = card(rng);
                let grouped = rng.below(2) == 0;
                let s = if grouped {
                    format_digits(&d, groups, rng.pick(&[" ", "-"]), false)
                } else {
                    text_of(&d)
                };
                let label = rng.pick(&[
                    "カード番号：",
                    "クレジットカード番号 ",
                    "Card number: ",
                    "お支払いカード ",
                ]);
                plant(
                    &mut text,
                    &mut planted,
                    label,
                    s,
                    "",
                    Some(FindingKind::CreditCard),
                );
            }
            17 => {
                // Invalid card numbers and tracking numbers.
                let (mut d, groups) = card(rng);
                let last = d.len() - 1;
                d[last] = (d[last] + 1 + rng.below(9) as u8) % 10;
                plant(
                    &mut text,
                    &mut planted,
                    "カード番号：",
                    format_digits(&d, groups, " ", false),
                    "",
                    None,
                );
                let t = rng.digits(16);
                plant(&mut text, &mut planted, "追跡番号 ", text_of(&t), "", None);
            }
            18 => {
                let (before, phone, detail) = match rng.below(6) {
                    0 => (
                        "TEL ",
                        format!("03-{:04}-{:04}", rng.below(10000), rng.below(10000)),
                        "",
                    ),
                    1 => (
                        "携帯：",
                        format!("080-{:04}-{:04}", 1000 + rng.below(9000), rng.below(10000)),
                        "",
                    ),
                    2 => (
                        "FAX ",
                        format!("(06){:04}-{:04}", rng.below(10000), rng.below(10000)),
                        "",
                    ),
                    3 => (
                        "お問い合わせ ",
                        format!("0120-{:03}-{:03}", rng.below(1000), rng.below(1000)),
                        "",
                    ),
                    4 => (
                        "Phone: ",
                        format!("+81-90-{:04}-{:04}", rng.below(10000), rng.below(10000)),
                        "",
                    ),
                    _ => (
                        "",
                        format!(
                            "0{}-{:03}-{:04}",
                            [45, 46, 47, 48, 52, 53, 54, 55, 72, 75, 78, 92][rng.below(12)],
                            rng.below(1000),
                            rng.below(10000)
                        ),
                        "",
                    ),
                };
                let _ = detail;
                plant(
                    &mut text,
                    &mut planted,
                    before,
                    phone,
                    "",
                    Some(FindingKind::PhoneJp),
                );
            }
            19 => {
                let code = format!("{:03}-{:04}", rng.below(1000), rng.below(10000));
                let (before, after) = match rng.below(3) {
                    0 => ("〒", " 東京都港区芝公園4-2-8"),
                    1 => ("郵便番号 ", ""),
                    _ => ("住所：〒", " 大阪府大阪市北区"),
                };
                let entity = if before.ends_with('〒') {
                    format!("〒{code}")
                } else {
                    code
                };
                let before = before.trim_end_matches('〒');
                plant(
                    &mut text,
                    &mut planted,
                    before,
                    entity,
                    after,
                    Some(FindingKind::PostalCodeJp),
                );
            }
            20 => {
                let user = rng.pick(&["taro", "hanako.sato", "k-suzuki", "info+sales", "yamada_t"]);
                let domain = rng.pick(&["example.co.jp", "example.com", "mail.example.jp"]);
                let fw = rng.below(4) == 0;
                let addr = format!("{user}@{domain}");
                let shown = if fw { addr.replace('@', "＠") } else { addr };
                plant(
                    &mut text,
                    &mut planted,
                    "連絡先：",
                    shown,
                    "",
                    Some(FindingKind::Email),
                );
            }
            21 => {
                let acct = text_of(&rng.digits(7));
                let label = rng.pick(&["口座番号：", "普通 ", "普通預金 ", "振込先口座 "]);
                plant(
                    &mut text,
                    &mut planted,
                    label,
                    acct,
                    "",
                    Some(FindingKind::BankAccount),
                );
            }
            22 => {
                let letters = ["TK", "TR", "TZ", "MU", "ME"][rng.below(5)];
                let p = format!("{letters}{}", text_of(&rng.digits(7)));
                let label = rng.pick(&["旅券番号：", "パスポート番号 ", "Passport No. "]);
                plant(
                    &mut text,
                    &mut planted,
                    label,
                    p,
                    "",
                    Some(FindingKind::Passport),
                );
            }
            23 => {
                let mark = rng.pick(&[
                    "【社外秘】",
                    "【部外秘】",
                    "㊙",
                    "CONFIDENTIAL",
                    "【極秘】",
                    "取扱注意",
                    "Internal Use Only",
                ]);
                let inner = mark
                    .trim_start_matches('【')
                    .trim_end_matches('】')
                    .to_owned();
                plant(
                    &mut text,
                    &mut planted,
                    if mark.starts_with('【') { "【" } else { "" },
                    inner,
                    if mark.starts_with('【') { "】" } else { "" },
                    Some(FindingKind::Label),
                );
            }
            24 => {
                let amount = format!("{}円", rng.below(100_000_000));
                plant(&mut text, &mut planted, "合計金額 ", amount, "", None);
                let date = format!(
                    "{}/{:02}/{:02}",
                    2020 + rng.below(6),
                    1 + rng.below(12),
                    1 + rng.below(28)
                );
                plant(&mut text, &mut planted, "日付 ", date, "", None);
            }
            25 => {
                let d = rng.digits(7);
                plant(&mut text, &mut planted, "品番 ", text_of(&d), "", None);
                let d = rng.digits(10);
                plant(&mut text, &mut planted, "受付番号 ", text_of(&d), "", None);
            }
            26 => {
                let key = format!(
                    "AKIA{}",
                    (0..16)
                        .map(|_| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng.below(32)]))
                        .collect::<String>()
                );
                plant(
                    &mut text,
                    &mut planted,
                    "aws_access_key_id = ",
                    key,
                    "",
                    Some(FindingKind::Secret),
                );
            }
            27 => {
                let token: String = (0..36)
                    .map(|_| {
                        char::from(
                            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                [rng.below(62)],
                        )
                    })
                    .collect();
                plant(
                    &mut text,
                    &mut planted,
                    "GITHUB_TOKEN=",
                    format!("ghp_{token}"),
                    "",
                    Some(FindingKind::Secret),
                );
            }
            28 => {
                // A bare valid My Number in a document that mentions it elsewhere.
                if mentions_my_number {
                    let d = my_number(rng, true);
                    plant(
                        &mut text,
                        &mut planted,
                        "山田 太郎　",
                        text_of(&d),
                        "",
                        Some(FindingKind::MyNumber),
                    );
                }
            }
            29 => {
                let d = corporate(rng);
                plant(
                    &mut text,
                    &mut planted,
                    "株式会社サンプル（法人番号 ",
                    text_of(&d),
                    "）",
                    Some(FindingKind::CorporateNumber),
                );
            }
            30 => {
                let mut d = corporate(rng);
                d[0] = (d[0] + 1 + rng.below(8) as u8) % 10;
                if !corporate_ok(&d) {
                    plant(&mut text, &mut planted, "法人番号：", text_of(&d), "", None);
                }
            }
            _ => {
                text.push_str(rng.pick(&filler));
                text.push('\n');
            }
        }
    }
    (text, planted)
}

/// Precision and recall per kind over `docs` synthetic documents at the default threshold.
fn synthetic_scores(docs: usize) -> Vec<(FindingKind, usize, usize, usize)> {
    let d = Detector::new(&DetectorConfig::default());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut stats: std::collections::BTreeMap<&'static str, (FindingKind, usize, usize, usize)> =
        Default::default();
    for _ in 0..docs {
        let (text, planted) = synthetic_document(&mut rng);
        let findings = d.scan(&text);
        let mut matched = vec![false; planted.len()];
        for f in &findings {
            let shown = show(&text, f);
            let hit = planted
                .iter()
                .enumerate()
                .find(|(i, (k, s))| !matched[*i] && *k == f.kind && *s == shown);
            let e = stats.entry(f.kind.as_str()).or_insert((f.kind, 0, 0, 0));
            match hit {
                Some((i, _)) => {
                    matched[i] = true;
                    e.1 += 1;
                }
                None => {
                    e.2 += 1;
                    if std::env::var_os("SHOW_FP").is_some() {
                        let line = text
                            .lines()
                            .find(|l| l.contains(shown.as_str()))
                            .unwrap_or_default();
                        println!("FP {} {shown:?} ({}) in {line:?}", f.kind, f.reason);
                    }
                }
            }
        }
        for (i, (k, s)) in planted.iter().enumerate() {
            if !matched[i] {
                stats.entry(k.as_str()).or_insert((*k, 0, 0, 0)).3 += 1;
                if std::env::var_os("SHOW_FN").is_some() {
                    let why: Vec<String> = everything()
                        .scan(&text)
                        .iter()
                        .filter(|f| show(&text, f) == *s)
                        .map(|f| format!("{} {:.2} {}", f.kind, f.confidence, f.reason))
                        .collect();
                    let line = text
                        .lines()
                        .find(|l| l.contains(s.as_str()))
                        .unwrap_or_default();
                    println!("FN {k} {s:?} {why:?} in {line:?}");
                }
            }
        }
    }
    stats.into_values().collect()
}

#[test]
fn synthetic_corpus_meets_the_targets() {
    for (kind, tp, fp, fn_) in synthetic_scores(400) {
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / (tp + fn_).max(1) as f64;
        println!(
            "{:<16} tp {tp:5} fp {fp:4} fn {fn_:4} precision {precision:.3} recall {recall:.3}",
            kind.as_str()
        );
        let target = match kind {
            FindingKind::MyNumber | FindingKind::CorporateNumber | FindingKind::CreditCard => {
                (0.98, 0.97)
            }
            _ => (0.9, 0.9),
        };
        assert!(
            precision >= target.0 && recall >= target.1,
            "{kind}: precision {precision:.3} recall {recall:.3}"
        );
    }
}

/// Inputs built to make a careless scanner quadratic: each must scan at a linear pace.
#[test]
fn hostile_inputs_stay_linear() {
    let d = Detector::new(&DetectorConfig::default());
    let n = 256 * 1024;
    let inputs: Vec<(&str, String)> = vec![
        (
            "PEM headers without footers",
            "-----BEGIN RSA PRIVATE KEY-----\n".repeat(n / 32),
        ),
        ("password keys in one run", "password=".repeat(n / 9)),
        (
            "one long alphanumeric run",
            format!("AKIA{}", "A".repeat(n)),
        ),
        ("JWT-like run", format!("eyJ{}", "eyJ.".repeat(n / 4))),
        ("spaced digits", "1 ".repeat(n / 2)),
        ("hyphenated digits", "1234-".repeat(n / 5)),
        ("at signs", "a@b.".repeat(n / 4)),
        (
            "table without header",
            "1,4111111111111111\n".repeat(n / 19),
        ),
        ("digits only", "7".repeat(n)),
        ("label marks", "【秘】".repeat(n / 9)),
        ("full-width digits", "１".repeat(n / 3)),
    ];
    for (what, text) in &inputs {
        let t = Instant::now();
        let found = d.scan(text).len();
        let el = t.elapsed().as_secs_f64();
        println!(
            "{what}: {:.1} MB/s ({found} findings)",
            text.len() as f64 / 1e6 / el
        );
        // Generous for unoptimised builds on a busy machine; a quadratic case takes minutes.
        assert!(el < 20.0, "{what}: {el:.1} s");
    }
}
