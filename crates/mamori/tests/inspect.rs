//! `mamori inspect` and `mamori import files` through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

mod support;

use support::*;

/// A personnel list in Shift_JIS, as older Japanese systems export it.
const ROSTER: &str = "社外秘\n氏名\t個人番号\t電話番号\n山田 太郎\t1234 5678 9018\t03-1234-5678\n注文番号 123456789012\n";

fn docx(text: &str) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", options).unwrap();
    zip.write_all(b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>").unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    write!(zip, "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>").unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

fn lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn inspect_finds_personal_data_labels_and_disguised_files_without_showing_values() {
    let env = Env::new();
    let dir = env.dir.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("roster.txt"),
        encoding_rs::SHIFT_JIS.encode(ROSTER).0,
    )
    .unwrap();
    // A Word document renamed to look like a picture.
    std::fs::write(
        dir.join("holiday.jpg"),
        docx("カード番号 4111 1111 1111 1111"),
    )
    .unwrap();
    let out = env.run(&["--json", "inspect", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let found = lines(&out);
    let types = |file: &str| -> Vec<String> {
        found
            .iter()
            .filter(|f| f["file"].as_str().unwrap().ends_with(file))
            .map(|f| f["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        types("roster.txt"),
        ["label", "my_number", "phone_jp"],
        "{found:#?}"
    );
    let holiday = types("holiday.jpg");
    assert!(holiday.contains(&"type_mismatch".to_string()), "{found:#?}");
    assert!(holiday.contains(&"credit_card".to_string()), "{found:#?}");
    // No values unless asked; offsets point into the decoded text.
    assert!(found.iter().all(|f| f.get("value").is_none()));
    let my_number = found.iter().find(|f| f["type"] == "my_number").unwrap();
    let decoded: Vec<char> = ROSTER.chars().collect();
    let span: String = decoded[my_number["start"].as_u64().unwrap() as usize
        ..my_number["end"].as_u64().unwrap() as usize]
        .iter()
        .collect();
    assert_eq!(span, "1234 5678 9018");
    let shown = env.run(&[
        "--json",
        "inspect",
        "--show-values",
        dir.join("roster.txt").to_str().unwrap(),
    ]);
    let values: Vec<String> = lines(&shown)
        .iter()
        .filter_map(|f| f["value"].as_str().map(str::to_string))
        .collect();
    assert_eq!(values, ["社外秘", "123456789018", "0312345678"]);
    // A lower threshold shows the weaker findings: a valid check digit without any context.
    let bare = env.file("bare.txt", "see 123456789018 above\n");
    let weak = |threshold: &str| {
        lines(&env.run(&[
            "--json",
            "inspect",
            "--min-confidence",
            threshold,
            bare.to_str().unwrap(),
        ]))
        .iter()
        .filter(|f| f["type"] == "my_number")
        .count()
    };
    assert_eq!((weak("0.5"), weak("0.3")), (0, 1));
    // The organisation's own label vocabulary replaces the built-in one.
    let vocabulary = env.file(
        "labels.toml",
        "[[label]]\ntext = \"経営会議限り\"\nlevel = \"secret\"\n",
    );
    let memo = env.file("memo.txt", "経営会議限り\n社外秘\n");
    let labels = lines(&env.run(&[
        "--json",
        "inspect",
        "--labels",
        vocabulary.to_str().unwrap(),
        memo.to_str().unwrap(),
    ]));
    let found: Vec<(&str, &str)> = labels
        .iter()
        .filter(|f| f["type"] == "label")
        .map(|f| (f["detail"].as_str().unwrap(), f["file"].as_str().unwrap()))
        .collect();
    assert_eq!(found.len(), 1, "{labels:#?}");
    assert_eq!(found[0].0, "secret");
    let bad = env.file("bad.toml", "[[label]]\ntext = \"x\"\n");
    assert_eq!(
        env.run(&[
            "inspect",
            "--labels",
            bad.to_str().unwrap(),
            memo.to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
    // --text shows what the detectors read: the decoded text, a Word document's words.
    let text = env.run(&["inspect", "--text", dir.to_str().unwrap()]);
    assert!(text.status.success(), "{}", stderr(&text));
    let printed = stdout(&text);
    assert!(printed.contains("holiday.jpg (docx, -)"), "{printed}");
    assert!(
        printed.contains("カード番号 4111 1111 1111 1111"),
        "{printed}"
    );
    assert!(printed.contains("(text, Shift_JIS)"), "{printed}");
    assert!(printed.contains(ROSTER), "{printed}");
    // A path that does not exist is bad input.
    let missing = env.run(&["inspect", "/no/such/file"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_zip_bomb_is_reported_and_the_other_files_are_still_inspected() {
    let env = Env::new();
    let dir = env.dir.path().join("files");
    std::fs::create_dir(&dir).unwrap();
    // 512 MiB of zeros in one entry: a few hundred kilobytes compressed.
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file("zeros.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..512 {
        zip.write_all(&block).unwrap();
    }
    zip.finish().unwrap();
    std::fs::write(dir.join("a-bomb.zip"), out.into_inner()).unwrap();
    std::fs::write(dir.join("b-note.txt"), "マイナンバー 1234 5678 9018\n").unwrap();
    let started = std::time::Instant::now();
    let out = env.run(&["--json", "inspect", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let found = lines(&out);
    assert!(
        found.iter().any(|f| f["file"].as_str().unwrap().contains("a-bomb.zip") && f["problem"].is_string()),
        "{found:#?}"
    );
    assert!(found.iter().any(|f| f["type"] == "my_number"), "{found:#?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn imported_files_carry_labels_counts_and_keyed_hashes_never_the_values() {
    let env = Env::new();
    let dir = env.dir.path().join("share");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("roster.txt"), ROSTER).unwrap();
    std::fs::write(dir.join("plain.txt"), "nothing to see here\n").unwrap();
    let import = || {
        env.run(&[
            "--json",
            "import",
            "files",
            dir.to_str().unwrap(),
            "--user",
            "ACM2278",
            "--host",
            "PC-1",
        ])
    };
    let out = import();
    assert!(out.status.success(), "{}", stderr(&out));
    let store = std::fs::read_to_string(env.data().join("store.ndjson")).unwrap();
    let events: Vec<serde_json::Value> = store
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    let roster = events
        .iter()
        .find(|e| e["object"]["name"] == "roster.txt")
        .unwrap();
    assert_eq!(roster["object"]["labels"], serde_json::json!(["社外秘"]));
    assert_eq!(roster["kind"], "file.write");
    let findings = &roster["raw"]["content_findings"];
    assert_eq!(findings["my_number"]["count"], 1, "{roster}");
    assert_eq!(findings["my_number"]["hashes"].as_array().unwrap().len(), 1);
    assert_eq!(findings["phone_jp"]["count"], 1);
    // The values themselves are nowhere in the store.
    for value in [
        "123456789018",
        "1234 5678 9018",
        "0312345678",
        "03-1234-5678",
    ] {
        assert!(!store.contains(value), "{value} stored");
    }
    // The same file again is the same event: nothing new.
    let again = import();
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(env.data().join("store.ndjson"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    let verify = env.run(&["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}
