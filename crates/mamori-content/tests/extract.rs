//! Text extraction and file-type detection on files built here: Office documents with
//! Japanese text and sensitivity labels, text in every Japanese encoding, hand-written PDFs
//! with CJK fonts, mail with attachments, Outlook items and legacy Office files in OLE
//! containers, disguised files, and hostile ones — bombs, deep nests, truncations, noise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use encoding_rs::{EUC_JP, ISO_2022_JP, SHIFT_JIS};
use mamori_content::extract::{Extracted, FileType, Limits, Part, ProblemKind, extract};
use proptest::prelude::*;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

// ---------------------------------------------------------------- helpers

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn part<'a>(x: &'a Extracted, path: &str) -> &'a Part {
    x.parts.iter().find(|p| p.path == path).unwrap_or_else(|| {
        panic!(
            "no part {path} in {:#?}",
            x.parts.iter().map(|p| &p.path).collect::<Vec<_>>()
        )
    })
}

fn text<'a>(x: &'a Extracted, path: &str) -> &'a str {
    part(x, path).text.as_deref().unwrap_or("")
}

fn has_problem(x: &Extracted, kind: ProblemKind) -> bool {
    x.problems.iter().any(|p| p.kind == kind)
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#;
const LABEL_GUID: &str = "3a6f8e2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b";

fn custom_xml(name: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2" name="MSIP_Label_{LABEL_GUID}_Enabled"><vt:lpwstr>true</vt:lpwstr></property><property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="3" name="MSIP_Label_{LABEL_GUID}_SetDate"><vt:lpwstr>2026-01-05T01:02:03Z</vt:lpwstr></property><property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="4" name="MSIP_Label_{LABEL_GUID}_Name"><vt:lpwstr>{name}</vt:lpwstr></property></Properties>"#
    )
}

fn docx() -> Vec<u8> {
    let document = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>
<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>個人番号</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve">1234 5678 9012 </w:t></w:r><w:r><w:t>&amp; 社外秘</w:t></w:r></w:p>
<w:p><w:r><w:t>山田</w:t></w:r><w:r><w:br/><w:t>太郎</w:t></w:r></w:p>
<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>テキストボックス</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>テキストボックス</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>
<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>HYPERLINK "x"</w:instrText></w:r><w:r><w:t>リンク</w:t></w:r><w:del><w:r><w:delText>削除された文</w:delText></w:r></w:del></w:p>
</w:body></w:document>"#;
    let header = r#"<w:hdr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:p><w:r><w:t>ヘッダー：取扱注意</w:t></w:r></w:p></w:hdr>"#;
    let comments = r#"<w:comments xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:comment w:id="0"><w:p><w:r><w:t>コメント本文</w:t></w:r></w:p></w:comment></w:comments>"#;
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", b"<Relationships/>"),
        ("word/document.xml", document.as_bytes()),
        ("word/header1.xml", header.as_bytes()),
        ("word/comments.xml", comments.as_bytes()),
        ("docProps/custom.xml", custom_xml("社外秘").as_bytes()),
    ])
}

fn xlsx() -> Vec<u8> {
    let shared = r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3"><si><t>氏名</t></si><si><t>マイナンバー</t></si><si><r><t>山田</t></r><r><t>太郎</t></r><rPh sb="0" eb="2"><t>ヤマダタロウ</t></rPh></si></sst>"#;
    let sheet = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>1.23456789012E+11</v></c><c r="C2" t="inlineStr"><is><t>備考</t></is></c></row>
<row r="3"><c r="A3" t="str"><f>A1&amp;"x"</f><v>氏名x</v></c><c r="B3"><v>987654321098</v></c><c r="C3" t="b"><v>1</v></c><c r="D3"><v>0.5</v></c></row>
</sheetData></worksheet>"#;
    let sheet2 = r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>二枚目</t></is></c></row></sheetData></worksheet>"#;
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("xl/workbook.xml", b"<workbook/>"),
        ("xl/sharedStrings.xml", shared.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ("xl/worksheets/sheet2.xml", sheet2.as_bytes()),
        ("docProps/custom.xml", custom_xml("Confidential").as_bytes()),
    ])
}

fn pptx() -> Vec<u8> {
    let slide = |t: &str| {
        format!(
            r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{t}</a:t></a:r><a:br/><a:r><a:t>二行目</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    };
    let notes = r#"<p:notes xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>発表者メモ：極秘</a:t></a:r></a:p></p:notes>"#;
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("ppt/presentation.xml", b"<presentation/>"),
        ("ppt/slides/slide2.xml", slide("第二スライド").as_bytes()),
        ("ppt/slides/slide1.xml", slide("第一スライド").as_bytes()),
        ("ppt/notesSlides/notesSlide1.xml", notes.as_bytes()),
    ])
}

// ---------------------------------------------------------------- Office Open XML

#[test]
fn docx_text_and_label() {
    let x = extract("plan.docx", &docx(), &Limits::default());
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let p = part(&x, "plan.docx");
    assert_eq!(p.file_type, FileType::Docx);
    assert!(!p.type_mismatch);
    assert_eq!(p.declared.as_deref(), Some("docx"));
    assert_eq!(p.labels, vec!["社外秘"]);
    let t = text(&x, "plan.docx");
    assert!(t.contains("個人番号\t1234 5678 9012 & 社外秘\n"), "{t}");
    assert!(t.contains("山田\n太郎"), "{t}");
    assert_eq!(
        t.matches("テキストボックス").count(),
        1,
        "fallback copies are skipped: {t}"
    );
    assert!(t.contains("リンク") && !t.contains("HYPERLINK"), "{t}");
    assert!(
        t.contains("削除された文"),
        "deleted text is still in the file: {t}"
    );
    assert!(
        t.contains("ヘッダー：取扱注意") && t.contains("コメント本文"),
        "{t}"
    );
    assert!(!t.contains("720"), "tab stops are not text: {t}");
}

#[test]
fn xlsx_cells_numbers_and_label() {
    let x = extract("list.xlsx", &xlsx(), &Limits::default());
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let p = part(&x, "list.xlsx");
    assert_eq!(p.file_type, FileType::Xlsx);
    assert_eq!(p.labels, vec!["Confidential"]);
    let t = text(&x, "list.xlsx");
    assert!(
        t.starts_with(
            "氏名\tマイナンバー\n山田太郎\t123456789012\t備考\n氏名x\t987654321098\tTRUE\t0.5\n"
        ),
        "{t}"
    );
    assert!(!t.contains("ヤマダ"), "phonetic readings are not text: {t}");
    assert!(!t.contains("E+11"), "{t}");
    assert!(t.contains("二枚目"), "{t}");
}

#[test]
fn pptx_slides_in_order_with_notes() {
    let x = extract("deck.pptx", &pptx(), &Limits::default());
    let t = text(&x, "deck.pptx");
    assert_eq!(part(&x, "deck.pptx").file_type, FileType::Pptx);
    let first = t.find("第一スライド").unwrap();
    let second = t.find("第二スライド").unwrap();
    assert!(first < second, "{t}");
    assert!(t.contains("第一スライド\n二行目"), "{t}");
    assert!(t.contains("発表者メモ：極秘"), "{t}");
}

#[test]
fn labels_from_label_info_without_names() {
    let info = br#"<clbl:labelList xmlns:clbl="http://schemas.microsoft.com/office/2020/mipLabelMetadata"><clbl:label id="{3A6F8E2B-1C4D-4E5F-9A8B-7C6D5E4F3A2B}" enabled="1" method="Privileged" siteId="{00000000-0000-0000-0000-000000000000}" removed="0"/></clbl:labelList>"#;
    let doc = zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("word/document.xml", b"<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p></w:body></w:document>"), ("docProps/labelInfo.xml", info)]);
    let x = extract("a.docx", &doc, &Limits::default());
    assert_eq!(
        part(&x, "a.docx").labels,
        vec![format!("MSIP:{LABEL_GUID}")]
    );
}

#[test]
fn embedded_and_smuggled_files_are_nested_parts() {
    let inner = xlsx();
    let doc = zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("word/document.xml", b"<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>see table</w:t></w:r></w:p></w:body></w:document>"),
        ("word/embeddings/Microsoft_Excel_Worksheet.xlsx", &inner),
        ("word/media/image1.png", b"\x89PNG\r\n\x1a\n0000"),
        ("secret/customers.csv", "氏名,電話\n山田,03-1234-5678\n".as_bytes()),
    ]);
    let x = extract("report.docx", &doc, &Limits::default());
    let paths: Vec<&str> = x.parts.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "report.docx",
            "report.docx!word/embeddings/Microsoft_Excel_Worksheet.xlsx",
            "report.docx!secret/customers.csv"
        ]
    );
    assert!(
        text(
            &x,
            "report.docx!word/embeddings/Microsoft_Excel_Worksheet.xlsx"
        )
        .contains("123456789012")
    );
    assert_eq!(
        part(&x, "report.docx!secret/customers.csv").file_type,
        FileType::Csv
    );
}

// ---------------------------------------------------------------- text encodings

const JA: &str = "個人番号：123456789012\n氏名：山田太郎（ヤマダ　タロウ）\n住所：〒100-0001 東京都千代田区千代田1-1\n社外秘\n";

#[test]
fn japanese_text_encodings() {
    let utf16le: Vec<u8> = JA.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = JA.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("utf8.txt", JA.as_bytes().to_vec(), "UTF-8"),
        (
            "bom.txt",
            [&[0xEF, 0xBB, 0xBF][..], JA.as_bytes()].concat(),
            "UTF-8",
        ),
        ("sjis.txt", SHIFT_JIS.encode(JA).0.into_owned(), "Shift_JIS"),
        ("euc.txt", EUC_JP.encode(JA).0.into_owned(), "EUC-JP"),
        (
            "jis.txt",
            ISO_2022_JP.encode(JA).0.into_owned(),
            "ISO-2022-JP",
        ),
        (
            "le-bom.txt",
            [&[0xFF, 0xFE][..], &utf16le].concat(),
            "UTF-16LE",
        ),
        (
            "be-bom.txt",
            [&[0xFE, 0xFF][..], &utf16be].concat(),
            "UTF-16BE",
        ),
        ("le.txt", utf16le.clone(), "UTF-16LE"),
        ("be.txt", utf16be.clone(), "UTF-16BE"),
    ];
    for (name, bytes, encoding) in cases {
        let x = extract(name, &bytes, &Limits::default());
        let p = part(&x, name);
        assert_eq!(p.file_type, FileType::Text, "{name}");
        assert_eq!(p.encoding.as_deref(), Some(encoding), "{name}");
        assert_eq!(p.text.as_deref(), Some(JA), "{name}");
        assert!(!p.type_mismatch, "{name}");
    }
}

#[test]
fn utf16_without_bom_or_ascii() {
    let kana = "ひらがなとカタカナと漢字だけの文章です。これは社外秘の資料です。";
    let le: Vec<u8> = kana.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let x = extract("x.txt", &le, &Limits::default());
    assert_eq!(text(&x, "x.txt"), kana);
}

#[test]
fn short_legacy_texts() {
    for s in ["社外秘", "マイナンバー 123456789012", "取扱注意：顧客名簿"] {
        for enc in [SHIFT_JIS, EUC_JP] {
            let x = extract("s.txt", &enc.encode(s).0, &Limits::default());
            assert_eq!(text(&x, "s.txt"), s, "{} {s}", enc.name());
        }
    }
}

#[test]
fn csv_html_and_harmless_extensions() {
    let csv = SHIFT_JIS
        .encode("氏名,個人番号\n山田,123456789012\n佐藤,987654321098\n")
        .0;
    let x = extract("people.csv", &csv, &Limits::default());
    let p = part(&x, "people.csv");
    assert_eq!(
        (p.file_type, p.type_mismatch, p.encoding.as_deref()),
        (FileType::Csv, false, Some("Shift_JIS"))
    );
    assert!(text(&x, "people.csv").contains("山田,123456789012"));

    let x = extract("export.txt", b"a,b,c\n1,2,3\n4,5,6\n", &Limits::default());
    assert_eq!(part(&x, "export.txt").file_type, FileType::Csv);
    assert!(!part(&x, "export.txt").type_mismatch);

    for name in ["server.log", "notes.md", "README", "data.json"] {
        let x = extract(name, b"2026-01-01 started\nall good\n", &Limits::default());
        assert!(!part(&x, name).type_mismatch, "{name}");
    }

    let html = "<html><head><meta charset=\"shift_jis\"><title>t</title></head><body><p>電話：03-1234-5678</p><script>var x=1;</script></body></html>";
    let x = extract("page.html", &SHIFT_JIS.encode(html).0, &Limits::default());
    let p = part(&x, "page.html");
    assert_eq!(p.file_type, FileType::Html);
    assert_eq!(p.text.as_deref(), Some("電話：03-1234-5678"));
}

// ---------------------------------------------------------------- disguised files

#[test]
fn type_mismatch() {
    let zip = zip_of(&[("a.txt", b"hello")]);
    let x = extract("holiday.jpg", &zip, &Limits::default());
    let p = part(&x, "holiday.jpg");
    assert_eq!((p.file_type, p.type_mismatch), (FileType::Zip, true));
    assert_eq!(
        text(&x, "holiday.jpg!a.txt"),
        "hello",
        "the disguised archive is still read"
    );

    let x = extract("notes.txt", &xlsx(), &Limits::default());
    assert_eq!(
        (
            part(&x, "notes.txt").file_type,
            part(&x, "notes.txt").type_mismatch
        ),
        (FileType::Xlsx, true)
    );

    let x = extract("archive.zip", &docx(), &Limits::default());
    assert!(!part(&x, "archive.zip").type_mismatch, "a docx is a zip");

    let x = extract("report.pdf", "just text".as_bytes(), &Limits::default());
    assert!(part(&x, "report.pdf").type_mismatch);

    let x = extract(
        "photo.png",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00",
        &Limits::default(),
    );
    assert_eq!(
        (
            part(&x, "photo.png").file_type,
            part(&x, "photo.png").type_mismatch
        ),
        (FileType::Jpeg, true)
    );

    let mut pe = vec![0u8; 256];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3C] = 0x80;
    pe[0x80..0x84].copy_from_slice(b"PE\0\0");
    let x = extract("invoice.pdf", &pe, &Limits::default());
    assert_eq!(
        (
            part(&x, "invoice.pdf").file_type,
            part(&x, "invoice.pdf").type_mismatch
        ),
        (FileType::Exe, true)
    );
    let x = extract("tool.exe", &pe, &Limits::default());
    assert!(!part(&x, "tool.exe").type_mismatch);

    let x = extract(
        "unknown.bin",
        &[0u8, 1, 2, 3, 4, 5, 250, 251],
        &Limits::default(),
    );
    assert!(
        !part(&x, "unknown.bin").type_mismatch,
        "unknown extensions say nothing"
    );
}

#[test]
fn magic_numbers() {
    let cases: [(&[u8], FileType); 9] = [
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", FileType::Png),
        (b"GIF89a\x01\0\x01\0", FileType::Gif),
        (b"7z\xBC\xAF\x27\x1C\0\x04", FileType::SevenZip),
        (b"Rar!\x1a\x07\x01\0", FileType::Rar),
        (b"\x7FELF\x02\x01\x01\0", FileType::Elf),
        (b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n", FileType::Pdf),
        (b"\xFD7zXZ\0\0\x04", FileType::Xz),
        (b"{\\rtf1\\ansi hello}", FileType::Rtf),
        (
            b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\n\r\nbody\r\n",
            FileType::Eml,
        ),
    ];
    for (bytes, t) in cases {
        assert_eq!(
            extract("f", bytes, &Limits::default()).parts[0].file_type,
            t,
            "{bytes:?}"
        );
    }
}

// ---------------------------------------------------------------- PDF

/// A PDF from objects (numbered from 1), with a correct cross-reference table.
fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    pdf_with_trailer(objects, "/Info 2 0 R")
}

/// A PDF whose trailer has `extra` entries besides /Size and /Root.
fn pdf_with_trailer(objects: &[Vec<u8>], extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {extra} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    [
        format!("<< {dict} /Length {} >>\nstream\n", data.len()).as_bytes(),
        data,
        b"\nendstream",
    ]
    .concat()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A one-page PDF: Japanese in an Identity-H font with a ToUnicode CMap (CIDs 1.. for the
/// characters of `ja`), English in Helvetica, Shift_JIS bytes in a 90ms-RKSJ-H font without
/// a ToUnicode CMap, and a form XObject; the content stream compressed.
fn japanese_pdf(ja: &str) -> Vec<u8> {
    let chars: Vec<char> = ja.chars().collect();
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CMapName /Adobe-Identity-UCS def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    cmap.push_str(&format!("{} beginbfchar\n", chars.len()));
    for (i, c) in chars.iter().enumerate() {
        let units: String = c
            .encode_utf16(&mut [0; 2])
            .iter()
            .map(|u| format!("{u:04X}"))
            .collect();
        cmap.push_str(&format!("<{:04X}> <{units}>\n", i + 1));
    }
    cmap.push_str("endbfchar\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    let cids: String = (1..=chars.len()).map(|i| format!("{i:04X}")).collect();
    let sjis: String = SHIFT_JIS
        .encode("社外秘")
        .0
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let content = format!(
        "BT /F1 10.5 Tf 1 0 0 1 72 720 Tm <{cids}> Tj ET\nBT /F2 12 Tf 72 700 Td (Card: 4111 1111 ) Tj [(1111) -250 (1111)] TJ ET\nBT /F3 12 Tf 72 680 Td <{sjis}> Tj ET\nq 1 0 0 1 0 -100 cm /Fm1 Do Q\n"
    );
    let form = "BT /F2 9 Tf 72 600 Td (In a form) Tj ET";
    pdf(&[
        b"<< /Type /Catalog /Pages 3 0 R >>".to_vec(),
        format!("<< /Producer (test) /MSIP_Label_{LABEL_GUID}_Enabled (true) /MSIP_Label_{LABEL_GUID}_Name <FEFF{}> >>", "社外秘".encode_utf16().map(|u| format!("{u:04X}")).collect::<String>()).into_bytes(),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 /Resources << /Font << /F1 5 0 R /F2 8 0 R /F3 9 0 R >> /XObject << /Fm1 11 0 R >> >> >>".to_vec(),
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Contents 10 0 R >>".to_vec(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /MS-Gothic /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>".to_vec(),
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /MS-Gothic /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 /W [1 [500 500]] >>".to_vec(),
        stream("", cmap.as_bytes()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /MS-Mincho /Encoding /90ms-RKSJ-H /DescendantFonts [12 0 R] >>".to_vec(),
        stream("/Filter /FlateDecode", &deflate(content.as_bytes())),
        stream("/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F2 8 0 R >> >>", form.as_bytes()),
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /MS-Mincho /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> >>".to_vec(),
    ])
}

#[test]
fn pdf_with_japanese_fonts() {
    let ja = "12個人番号：123456789012（山田）";
    let x = extract("scan.pdf", &japanese_pdf(ja), &Limits::default());
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let p = part(&x, "scan.pdf");
    assert_eq!(p.file_type, FileType::Pdf);
    assert_eq!(p.labels, vec!["社外秘"]);
    let t = p.text.as_deref().unwrap_or("");
    assert!(t.contains(ja), "{t}");
    assert!(t.contains("Card: 4111 1111 1111 1111"), "{t}");
    assert!(t.contains("社外秘"), "{t}");
    assert!(t.contains("In a form"), "{t}");
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 4, "one line per baseline: {t:?}");
}

#[test]
fn pdf_attachments_are_nested() {
    let attached = "顧客リスト\n山田,03-1234-5678\n".as_bytes();
    let doc = pdf(&[
        b"<< /Type /Catalog /Pages 3 0 R /Names << /EmbeddedFiles << /Names [(list.csv) 5 0 R] >> >> >>".to_vec(),
        b"<< >>".to_vec(),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Resources << >> >>".to_vec(),
        b"<< /Type /Filespec /F (list.csv) /UF (list.csv) /EF << /F 6 0 R >> >>".to_vec(),
        stream("/Type /EmbeddedFile /Filter /FlateDecode", &deflate(attached)),
    ]);
    let x = extract("cover.pdf", &doc, &Limits::default());
    assert_eq!(
        text(&x, "cover.pdf!list.csv"),
        "顧客リスト\n山田,03-1234-5678\n"
    );
    assert!(
        has_problem(&x, ProblemKind::Unsupported),
        "a page without text is said to have none: {:?}",
        x.problems
    );
}

#[test]
fn broken_pdfs_are_problems_not_panics() {
    let good = japanese_pdf("社外秘");
    for cut in [10, 100, good.len() / 2, good.len() - 30] {
        let x = extract("cut.pdf", &good[..cut], &Limits::default());
        assert_eq!(x.parts[0].file_type, FileType::Pdf);
    }
    let x = extract("junk.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF", &Limits::default());
    assert_eq!(x.parts[0].file_type, FileType::Pdf);
    let x = extract(
        "garbage.pdf",
        b"%PDF-1.7\n\xff\xfe garbage garbage",
        &Limits::default(),
    );
    assert!(has_problem(&x, ProblemKind::Malformed), "{:?}", x.problems);
}

#[test]
fn pdf_stream_bomb() {
    // 64 MiB of zeros as a page content stream, with a 1 MiB budget.
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    let doc = pdf(&[
        b"<< /Type /Catalog /Pages 3 0 R >>".to_vec(),
        b"<< >>".to_vec(),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Contents 5 0 R >>".to_vec(),
        stream("/Filter /FlateDecode", &bomb),
    ]);
    let limits = Limits {
        max_expanded_bytes: 1 << 20,
        ..Limits::default()
    };
    let x = extract("bomb.pdf", &doc, &limits);
    assert!(has_problem(&x, ProblemKind::Bomb), "{:?}", x.problems);
}

// ---------------------------------------------------------------- mail

fn eml() -> Vec<u8> {
    let subject = format!(
        "=?ISO-2022-JP?B?{}?=",
        base64(&ISO_2022_JP.encode("社外秘：顧客リスト送付").0)
    );
    let from = format!(
        "=?ISO-2022-JP?B?{}?= <taro@example.co.jp>",
        base64(&ISO_2022_JP.encode("山田太郎").0)
    );
    let body = ISO_2022_JP
        .encode("お世話になっております。\r\n個人番号は123456789012です。\r\n")
        .0;
    let mut m = format!(
        "From: {from}\r\nTo: hanako@example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&body);
    m.extend_from_slice(
        format!("\r\n--b1\r\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=\"plan.docx\"\r\nContent-Disposition: attachment; filename=\"plan.docx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Disposition: attachment; filename=\"memo.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n", base64(&docx()), base64(&SHIFT_JIS.encode("メモ：部外秘").0))
            .as_bytes(),
    );
    m
}

#[test]
fn eml_headers_body_and_attachments() {
    let x = extract("mail.eml", &eml(), &Limits::default());
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let p = part(&x, "mail.eml");
    assert_eq!(p.file_type, FileType::Eml);
    let t = p.text.as_deref().unwrap_or("");
    assert!(t.contains("Subject: 社外秘：顧客リスト送付"), "{t}");
    assert!(t.contains("From: 山田太郎 <taro@example.co.jp>"), "{t}");
    assert!(t.contains("To: hanako@example.com"), "{t}");
    assert!(t.contains("個人番号は123456789012です。"), "{t}");
    let docx = part(&x, "mail.eml!plan.docx");
    assert_eq!(docx.file_type, FileType::Docx);
    assert_eq!(docx.attachment_of.as_deref(), Some("mail.eml"));
    assert_eq!(docx.labels, vec!["社外秘"]);
    assert!(text(&x, "mail.eml!plan.docx").contains("個人番号"));
    assert!(text(&x, "mail.eml!memo.txt").contains("メモ：部外秘"));
}

#[test]
fn forwarded_mail_is_nested() {
    let inner = eml();
    let mut outer = b"From: boss@example.com\r\nTo: x@example.com\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"orig.eml\"\r\n\r\n".to_vec();
    outer.extend_from_slice(&inner);
    outer.extend_from_slice(b"\r\n--o--\r\n");
    let x = extract("fwd.eml", &outer, &Limits::default());
    assert!(
        text(&x, "fwd.eml!orig.eml").contains("社外秘：顧客リスト送付"),
        "{:#?}",
        x.parts
    );
    assert_eq!(
        part(&x, "fwd.eml!orig.eml!plan.docx")
            .attachment_of
            .as_deref(),
        Some("fwd.eml!orig.eml")
    );
}

// ---------------------------------------------------------------- OLE: msg, doc, xls, encrypted

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn ole(streams: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    for (path, data) in streams {
        if let Some((dir, _)) = path.rsplit_once('/')
            && !dir.is_empty()
        {
            cf.create_storage_all(dir).unwrap();
        }
        let mut s = cf.create_stream(path).unwrap();
        s.write_all(data).unwrap();
    }
    cf.flush().unwrap();
    cf.into_inner().into_inner()
}

#[test]
fn outlook_msg() {
    let attach = "/__attach_version1.0_#00000000";
    let msg = ole(&[
        ("/__properties_version1.0", vec![0u8; 32]),
        ("/__substg1.0_0037001F", utf16le("【社外秘】見積書")),
        ("/__substg1.0_0C1A001F", utf16le("山田太郎")),
        ("/__substg1.0_5D01001F", utf16le("taro@example.co.jp")),
        ("/__substg1.0_0E04001F", utf16le("佐藤花子")),
        (
            "/__substg1.0_1000001F",
            utf16le("カード番号 4111-1111-1111-1111 をお送りします。"),
        ),
        (
            "/__substg1.0_007D001F",
            utf16le(&format!(
                "Received: x\r\nmsip_labels: MSIP_Label_{LABEL_GUID}_Enabled=True;\r\n MSIP_Label_{LABEL_GUID}_Name=Confidential;\r\n"
            )),
        ),
        (&format!("{attach}/__properties_version1.0"), vec![0u8; 8]),
        (
            &format!("{attach}/__substg1.0_3707001F"),
            utf16le("見積.xlsx"),
        ),
        (&format!("{attach}/__substg1.0_37010102"), xlsx()),
    ]);
    let x = extract("mail.msg", &msg, &Limits::default());
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let p = part(&x, "mail.msg");
    assert_eq!((p.file_type, p.type_mismatch), (FileType::Msg, false));
    assert_eq!(p.labels, vec!["Confidential"]);
    let t = p.text.as_deref().unwrap_or("");
    assert!(t.contains("Subject: 【社外秘】見積書"), "{t}");
    assert!(t.contains("From: 山田太郎 <taro@example.co.jp>"), "{t}");
    assert!(t.contains("4111-1111-1111-1111"), "{t}");
    let a = part(&x, "mail.msg!見積.xlsx");
    assert_eq!(
        (a.file_type, a.attachment_of.as_deref()),
        (FileType::Xlsx, Some("mail.msg"))
    );
}

#[test]
fn encrypted_office_file() {
    let enc = ole(&[
        ("/EncryptionInfo", vec![4, 0, 4, 0, 0x40, 0, 0, 0]),
        ("/EncryptedPackage", vec![7u8; 600]),
    ]);
    let x = extract("secret.xlsx", &enc, &Limits::default());
    let p = part(&x, "secret.xlsx");
    assert_eq!((p.file_type, p.type_mismatch), (FileType::Ole, false));
    assert!(has_problem(&x, ProblemKind::Encrypted));
    let x = extract("secret.pdf", &enc, &Limits::default());
    assert!(part(&x, "secret.pdf").type_mismatch);
}

/// A Word 97 document: a FIB pointing at a one-piece table of UTF-16 text.
fn word97(text: &str) -> Vec<u8> {
    let mut word = vec![0u8; 0x800];
    word[0..2].copy_from_slice(&0xA5ECu16.to_le_bytes());
    word[2..4].copy_from_slice(&0x00C1u16.to_le_bytes());
    word[0x0A..0x0C].copy_from_slice(&0x0200u16.to_le_bytes()); // fWhichTblStm: 1Table
    word[32..34].copy_from_slice(&14u16.to_le_bytes());
    word[62..64].copy_from_slice(&22u16.to_le_bytes());
    word[152..154].copy_from_slice(&93u16.to_le_bytes());
    let units: Vec<u8> = utf16le(text);
    let count = (units.len() / 2) as u32;
    word.extend_from_slice(&units);
    let mut clx = vec![0x02];
    clx.extend_from_slice(&16u32.to_le_bytes());
    clx.extend_from_slice(&0u32.to_le_bytes());
    clx.extend_from_slice(&count.to_le_bytes());
    clx.extend_from_slice(&[0, 0]);
    clx.extend_from_slice(&0x800u32.to_le_bytes());
    clx.extend_from_slice(&[0, 0]);
    let mut table = vec![0u8; 16];
    let fc = table.len() as u32;
    table.extend_from_slice(&clx);
    word[0x1A2..0x1A6].copy_from_slice(&fc.to_le_bytes());
    word[0x1A6..0x1AA].copy_from_slice(&(clx.len() as u32).to_le_bytes());
    ole(&[("/WordDocument", word), ("/1Table", table)])
}

#[test]
fn legacy_word_document() {
    let x = extract(
        "old.doc",
        &word97("社外秘\r個人番号\u{7}123456789012\u{7}\r\u{13} PAGE \u{14}1\u{15}"),
        &Limits::default(),
    );
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    let p = part(&x, "old.doc");
    assert_eq!((p.file_type, p.type_mismatch), (FileType::Ole, false));
    assert_eq!(
        p.text.as_deref(),
        Some("社外秘\n個人番号\t123456789012\t\n1")
    );
}

/// An Excel 97 workbook: BOF, SST (split by a CONTINUE), LABELSST, NUMBER and RK cells.
fn biff8() -> Vec<u8> {
    fn record(ty: u16, body: &[u8]) -> Vec<u8> {
        [
            &ty.to_le_bytes()[..],
            &(body.len() as u16).to_le_bytes(),
            body,
        ]
        .concat()
    }
    let mut sst = vec![];
    sst.extend_from_slice(&2u32.to_le_bytes());
    sst.extend_from_slice(&2u32.to_le_bytes());
    sst.extend_from_slice(&[2, 0, 0, b'I', b'D']);
    sst.extend_from_slice(&[3, 0, 1]);
    sst.extend_from_slice(&utf16le("氏"));
    let cont = [&[1u8][..], &utf16le("名簿")].concat();
    let cell = |row: u16, col: u16, rest: &[u8]| {
        [
            &row.to_le_bytes()[..],
            &col.to_le_bytes(),
            &0u16.to_le_bytes(),
            rest,
        ]
        .concat()
    };
    let mut book = Vec::new();
    book.extend(record(0x0809, &[0; 16]));
    book.extend(record(0x00FC, &sst));
    book.extend(record(0x003C, &cont));
    book.extend(record(0x000A, &[]));
    book.extend(record(0x0809, &[0; 16]));
    book.extend(record(0x00FD, &cell(0, 0, &0u32.to_le_bytes())));
    book.extend(record(0x00FD, &cell(0, 1, &1u32.to_le_bytes())));
    book.extend(record(
        0x0203,
        &cell(1, 0, &123_456_789_012f64.to_le_bytes()),
    ));
    book.extend(record(
        0x027E,
        &cell(1, 1, &((42u32 << 2) | 2).to_le_bytes()),
    ));
    book.extend(record(0x000A, &[]));
    ole(&[("/Workbook", book)])
}

#[test]
fn legacy_excel_workbook() {
    let x = extract("old.xls", &biff8(), &Limits::default());
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(text(&x, "old.xls"), "ID\t氏名簿\n123456789012\t42\n");
}

// ---------------------------------------------------------------- archives and limits

#[test]
fn nested_archives_and_shift_jis_names() {
    let inner = zip_of(&[("名簿.csv", "a,b\n1,2\n".as_bytes())]);
    // A name in Shift_JIS without the UTF-8 flag, as Windows' Explorer writes them.
    let mut outer = zip_of(&[
        ("docs/inner.zip", &inner),
        ("XXXXXX.txt", "テキスト".as_bytes()),
    ]);
    let sjis = SHIFT_JIS.encode("資料.txt").0;
    assert_eq!(sjis.len(), 8);
    let mut at = 0;
    while let Some(pos) = outer[at..].windows(10).position(|w| w == b"XXXXXX.txt") {
        outer[at + pos..at + pos + 8].copy_from_slice(&sjis);
        outer[at + pos + 8..at + pos + 10].copy_from_slice(b"  ");
        at += pos + 10;
    }
    let x = extract("bundle.zip", &outer, &Limits::default());
    let paths: Vec<&str> = x.parts.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "bundle.zip",
            "bundle.zip!docs/inner.zip",
            "bundle.zip!docs/inner.zip!名簿.csv",
            "bundle.zip!資料.txt  "
        ],
        "{:?}",
        x.problems
    );
}

#[test]
fn tar_gz() {
    fn tar_entry(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut out = h.to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }
    let mut tar = tar_entry("src/secret.txt", "社外秘のメモ".as_bytes());
    tar.extend(tar_entry("list.xlsx", &xlsx()));
    tar.extend([0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let x = extract("backup.tgz", &gz.finish().unwrap(), &Limits::default());
    assert!(x.problems.is_empty(), "{:?}", x.problems);
    assert_eq!(part(&x, "backup.tgz!backup.tar").file_type, FileType::Tar);
    assert_eq!(
        text(&x, "backup.tgz!backup.tar!src/secret.txt"),
        "社外秘のメモ"
    );
    assert!(text(&x, "backup.tgz!backup.tar!list.xlsx").contains("123456789012"));
}

/// A zip of one entry of `n` zeros, streamed through the deflater (never in memory).
fn zeros_zip(n: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(
        "zeros.bin",
        SimpleFileOptions::default().compression_method(CompressionMethod::Deflated),
    )
    .unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..k]).unwrap();
        left -= k as u64;
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn zip_bomb_is_reported_quickly() {
    let bomb = zeros_zip(200 << 20);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let start = Instant::now();
    let x = extract("bomb.zip", &bomb, &Limits::default());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(has_problem(&x, ProblemKind::Bomb), "{:?}", x.problems);
    assert_eq!(x.parts.len(), 1);

    // The same bomb declaring a small size: the reader never goes past the declared size, so
    // the lie shows as corrupt data after 1000 bytes, quickly.
    let mut lying = bomb.clone();
    for sig in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
        let at = lying.windows(4).position(|w| w == sig).unwrap();
        let size_at = at + if sig == b"PK\x03\x04" { 22 } else { 24 };
        lying[size_at..size_at + 4].copy_from_slice(&1000u32.to_le_bytes());
    }
    let start = Instant::now();
    let x = extract("bomb.zip", &lying, &Limits::default());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        has_problem(&x, ProblemKind::Bomb) || has_problem(&x, ProblemKind::Malformed),
        "{:?}",
        x.problems
    );
    assert!(
        x.parts
            .iter()
            .all(|p| p.text.as_ref().is_none_or(|t| t.len() <= 1000))
    );
}

#[test]
fn expanded_total_is_bounded() {
    // Ten entries of 2 MiB of zeros each (fine one by one) against an 8 MiB total budget.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let chunk = vec![b'a'; 2 << 20];
    for i in 0..10 {
        w.start_file(
            format!("f{i}.txt"),
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
        )
        .unwrap();
        w.write_all(&chunk).unwrap();
    }
    let z = w.finish().unwrap().into_inner();
    let limits = Limits {
        max_expanded_bytes: 8 << 20,
        ..Limits::default()
    };
    let x = extract("many.zip", &z, &limits);
    assert!(has_problem(&x, ProblemKind::Bomb), "{:?}", x.problems);
    assert!(x.parts.len() <= 5, "{}", x.parts.len());
}

#[test]
fn nesting_and_entry_limits() {
    let mut z = b"deepest".to_vec();
    for i in 0..8 {
        z = zip_of(&[(&format!("level{i}.zip"), &z)]);
    }
    let x = extract("nest.zip", &z, &Limits::default());
    assert!(has_problem(&x, ProblemKind::TooDeep), "{:?}", x.problems);
    assert_eq!(x.parts.len(), 6, "depths 0 to 5");

    let names: Vec<String> = (0..50).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let x = extract("wide.zip", &zip_of(&entries), &limits);
    assert!(
        has_problem(&x, ProblemKind::TooManyEntries),
        "{:?}",
        x.problems
    );
    assert_eq!(x.parts.len(), 11);
}

#[test]
fn size_time_and_text_limits() {
    let limits = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    let x = extract("big.txt", b"0123456789abcdef", &limits);
    assert!(has_problem(&x, ProblemKind::TooLarge));
    assert_eq!(x.parts[0].text, None);

    let limits = Limits {
        max_text_chars: 3,
        ..Limits::default()
    };
    let x = extract("t.txt", "社外秘です".as_bytes(), &limits);
    assert_eq!(x.parts[0].text.as_deref(), Some("社外秘"));
    assert!(has_problem(&x, ProblemKind::TooLarge));

    let limits = Limits {
        max_time: Duration::ZERO,
        ..Limits::default()
    };
    let x = extract("t.zip", &zip_of(&[("a.txt", b"a")]), &limits);
    assert!(has_problem(&x, ProblemKind::TimedOut), "{:?}", x.problems);
}

#[test]
fn encrypted_zip_entry() {
    // General-purpose flag bit 0 set on the entry: a password-protected entry.
    let mut z = zip_of(&[("secret.txt", b"top secret")]);
    for sig in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
        let at = z.windows(4).position(|w| w == sig).unwrap();
        let flag_at = at + if sig == b"PK\x03\x04" { 6 } else { 8 };
        z[flag_at] |= 1;
    }
    let x = extract("locked.zip", &z, &Limits::default());
    assert!(has_problem(&x, ProblemKind::Encrypted), "{:?}", x.problems);
}

// ---------------------------------------------------------------- hostile input

#[test]
fn truncated_files_never_panic() {
    let fixtures: Vec<(&str, Vec<u8>)> = vec![
        ("a.docx", docx()),
        ("a.xlsx", xlsx()),
        ("a.pptx", pptx()),
        ("a.eml", eml()),
        ("a.xls", biff8()),
        ("a.doc", word97("社外秘")),
        ("a.pdf", japanese_pdf("社外秘")),
    ];
    for (name, bytes) in &fixtures {
        for cut in (0..bytes.len()).step_by((bytes.len() / 37).max(1)) {
            let x = extract(name, &bytes[..cut], &Limits::default());
            assert!(!x.parts.is_empty());
        }
    }
    let x = extract("a.docx", &docx()[..docx().len() - 40], &Limits::default());
    assert!(has_problem(&x, ProblemKind::Malformed), "{:?}", x.problems);
}

const NAMES: &[&str] = &[
    "a.txt", "a.csv", "a.docx", "a.xlsx", "a.pptx", "a.pdf", "a.zip", "a.eml", "a.msg", "a.doc",
    "a.xls", "a.ppt", "a.gz", "a.tar", "a.html", "a.rtf", "a.jpg", "a",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_noise(bytes in proptest::collection::vec(any::<u8>(), 0..2048), name in proptest::sample::select(NAMES)) {
        let x = extract(name, &bytes, &Limits::default());
        prop_assert!(!x.parts.is_empty());
    }

    #[test]
    fn never_panics_on_damaged_documents(which in 0usize..7, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let (name, mut bytes) = match which {
            0 => ("d.docx", docx()),
            1 => ("d.xlsx", xlsx()),
            2 => ("d.pptx", pptx()),
            3 => ("d.eml", eml()),
            4 => ("d.pdf", japanese_pdf("社外秘")),
            5 => ("d.xls", biff8()),
            _ => ("d.doc", word97("個人番号")),
        };
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(bytes.len() / 2));
        let limits = Limits { max_time: Duration::from_secs(5), ..Limits::default() };
        let x = extract(name, &bytes, &limits);
        prop_assert!(!x.parts.is_empty());
    }
}

#[test]
fn pdf_form_field_values() {
    let doc = pdf(&[
        b"<< /Type /Catalog /Pages 3 0 R /AcroForm << /Fields [5 0 R 6 0 R] >> >>".to_vec(),
        b"<< >>".to_vec(),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] >>".to_vec(),
        format!(
            "<< /FT /Tx /T (mynumber) /V <FEFF{}> >>",
            "１２３４５６７８９０１２"
                .encode_utf16()
                .map(|u| format!("{u:04X}"))
                .collect::<String>()
        )
        .into_bytes(),
        b"<< /T (address) /Kids [7 0 R] >>".to_vec(),
        b"<< /FT /Tx /T (city) /V (Tokyo) >>".to_vec(),
    ]);
    let x = extract("form.pdf", &doc, &Limits::default());
    assert_eq!(
        text(&x, "form.pdf"),
        "mynumber: １２３４５６７８９０１２\ncity: Tokyo\n"
    );
}

#[test]
fn file_embedded_as_ole_package_in_docx() {
    let data = "社外秘の添付ファイル".as_bytes();
    let mut native = Vec::new();
    native.extend_from_slice(&0u32.to_le_bytes());
    native.extend_from_slice(&2u16.to_le_bytes());
    native.extend_from_slice(b"secret.txt\0C:\\work\\secret.txt\0");
    native.extend_from_slice(&0x0003_0000u32.to_le_bytes());
    let temp = b"C:\\Temp\\secret.txt\0";
    native.extend_from_slice(&(temp.len() as u32).to_le_bytes());
    native.extend_from_slice(temp);
    native.extend_from_slice(&(data.len() as u32).to_le_bytes());
    native.extend_from_slice(data);
    let object = ole(&[
        ("/\u{1}Ole10Native", native),
        ("/\u{1}CompObj", vec![1, 0, 254, 255]),
    ]);
    let doc = zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        (
            "word/document.xml",
            b"<w:document xmlns:w=\"w\"><w:body/></w:document>",
        ),
        ("word/embeddings/oleObject1.bin", &object),
    ]);
    let x = extract("memo.docx", &doc, &Limits::default());
    assert_eq!(
        text(&x, "memo.docx!word/embeddings/oleObject1.bin!secret.txt"),
        "社外秘の添付ファイル",
        "{:?}",
        x.problems
    );
}

/// A font file that is only a table directory and a format-4 `cmap` mapping `chars[i]` to
/// glyph `i + 5` (all the PDF reader looks at).
fn truetype_with_cmap(chars: &[char]) -> Vec<u8> {
    let mut segs: Vec<(u16, u16, u16)> = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| (c as u16, c as u16, (i as u16 + 5).wrapping_sub(c as u16)))
        .collect();
    segs.sort();
    segs.push((0xFFFF, 0xFFFF, 1));
    let n = segs.len() as u16;
    let mut sub = Vec::new();
    for v in [4u16, 0, 0, n * 2, 0, 0, 0] {
        sub.extend_from_slice(&v.to_be_bytes());
    }
    segs.iter()
        .for_each(|s| sub.extend_from_slice(&s.1.to_be_bytes()));
    sub.extend_from_slice(&[0, 0]);
    segs.iter()
        .for_each(|s| sub.extend_from_slice(&s.0.to_be_bytes()));
    segs.iter()
        .for_each(|s| sub.extend_from_slice(&s.2.to_be_bytes()));
    segs.iter()
        .for_each(|_| sub.extend_from_slice(&0u16.to_be_bytes()));
    let len = sub.len() as u16;
    sub[2..4].copy_from_slice(&len.to_be_bytes());
    let mut cmap = Vec::new();
    for v in [0u16, 1, 3, 1] {
        cmap.extend_from_slice(&v.to_be_bytes());
    }
    cmap.extend_from_slice(&12u32.to_be_bytes());
    cmap.extend_from_slice(&sub);
    let mut font = Vec::new();
    font.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for v in [1u16, 16, 0, 0] {
        font.extend_from_slice(&v.to_be_bytes());
    }
    font.extend_from_slice(b"cmap");
    font.extend_from_slice(&0u32.to_be_bytes());
    font.extend_from_slice(&28u32.to_be_bytes());
    font.extend_from_slice(&(cmap.len() as u32).to_be_bytes());
    font.extend_from_slice(&cmap);
    font
}

#[test]
fn pdf_identity_font_without_tounicode_uses_the_font_cmap() {
    let chars: Vec<char> = "社外秘".chars().collect();
    let glyphs: String = (0..chars.len()).map(|i| format!("{:04X}", i + 5)).collect();
    let content = format!("BT /F1 12 Tf 72 720 Td <{glyphs}> Tj ET");
    let doc = pdf(&[
        b"<< /Type /Catalog /Pages 3 0 R >>".to_vec(),
        b"<< >>".to_vec(),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 6 0 R >> >> /Contents 5 0 R >>".to_vec(),
        stream("", content.as_bytes()),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+MSMincho /Encoding /Identity-H /DescendantFonts [7 0 R] >>".to_vec(),
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+MSMincho /CIDToGIDMap /Identity /FontDescriptor 8 0 R >>".to_vec(),
        b"<< /Type /FontDescriptor /FontName /ABCDEF+MSMincho /FontFile2 9 0 R >>".to_vec(),
        stream("/Filter /FlateDecode", &deflate(&truetype_with_cmap(&chars))),
    ]);
    let x = extract("old.pdf", &doc, &Limits::default());
    assert_eq!(text(&x, "old.pdf"), "社外秘\n", "{:?}", x.problems);
}

/// Extraction throughput on generated files. Ignored by default; run with
/// `cargo test -p mamori-content --release --test extract throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let line = "個人番号：123456789012、電話 03-1234-5678、山田太郎様の住所は東京都千代田区です。Customer card 4111 1111 1111 1111.\n";
    let text: String = line.repeat((64 << 20) / line.len());
    let paragraphs: String = (0..200_000)
        .map(|i| format!("<w:p><w:r><w:t>{i} {line}</w:t></w:r></w:p>"))
        .collect();
    let document = format!("<w:document xmlns:w=\"w\"><w:body>{paragraphs}</w:body></w:document>");
    let rows: String = (0..300_000).map(|i| format!("<row r=\"{i}\"><c t=\"inlineStr\"><is><t>山田太郎</t></is></c><c><v>{}</v></c><c><v>0.{i}</v></c></row>", 123_456_789_012u64 + i)).collect();
    let sheet = format!("<worksheet><sheetData>{rows}</sheetData></worksheet>");
    let pages: Vec<String> = (0..2_000).map(|_| (0..40).map(|l| format!("BT /F1 10 Tf 72 {} Td (Customer 4111 1111 1111 1111 phone 03-1234-5678 number 123456789012) Tj ET\n", 800 - l * 18)).collect()).collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [".to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let mut kids = String::new();
    for page in &pages {
        let n = objects.len() + 1;
        kids.push_str(&format!("{n} 0 R "));
        objects.push(format!("<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>", n + 1).into_bytes());
        objects.push(stream("", page.as_bytes()));
    }
    objects[1] = format!("<< /Type /Pages /Kids [{kids}] /Count {} >>", pages.len()).into_bytes();
    // `pdf` numbers objects from 1 and points /Info at 2 0 R, which is harmless here.
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("utf8.txt", text.as_bytes().to_vec()),
        ("sjis.txt", SHIFT_JIS.encode(&text).0.into_owned()),
        (
            "big.docx",
            zip_of(&[
                ("[Content_Types].xml", CONTENT_TYPES),
                ("word/document.xml", document.as_bytes()),
            ]),
        ),
        (
            "big.xlsx",
            zip_of(&[
                ("[Content_Types].xml", CONTENT_TYPES),
                ("xl/workbook.xml", b"<workbook/>"),
                ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
            ]),
        ),
        ("big.pdf", pdf(&objects)),
    ];
    for (name, bytes) in files {
        let start = Instant::now();
        let x = extract(name, &bytes, &Limits::default());
        let secs = start.elapsed().as_secs_f64();
        let chars: usize = x
            .parts
            .iter()
            .filter_map(|p| p.text.as_ref())
            .map(|t| t.len())
            .sum();
        println!(
            "{name}: {:.1} MB in, {:.1} MB text, {secs:.2} s, {:.0} MB/s of input, {:.0} MB/s of text; problems {:?}",
            bytes.len() as f64 / 1e6,
            chars as f64 / 1e6,
            bytes.len() as f64 / 1e6 / secs,
            chars as f64 / 1e6 / secs,
            x.problems
        );
    }
}

#[test]
fn mbox_messages_are_nested() {
    let mbox = b"From a@example.com Mon Jan  5 10:00:00 2026\nFrom: a@example.com\nTo: b@example.com\nSubject: one\n\nfirst body\nFrom the start, this line is quoted text.\n\nFrom b@example.com Mon Jan  5 11:00:00 2026\nFrom: b@example.com\nTo: a@example.com\nSubject: two\n\nsecond body\n";
    let x = extract("inbox.mbox", mbox, &Limits::default());
    assert_eq!(part(&x, "inbox.mbox").file_type, FileType::Eml);
    assert!(text(&x, "inbox.mbox!message-1.eml").contains("first body\nFrom the start"));
    assert!(text(&x, "inbox.mbox!message-2.eml").contains("Subject: two"));
}

/// Writes the fixtures above as a seed corpus for the `content_extract` fuzz target (a
/// leading byte picks the name there). Ignored by default; run with
/// `MAMORI_FUZZ_SEEDS=fuzz/corpus/content_extract cargo test -p mamori-content --test extract write_fuzz_seeds -- --ignored`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("MAMORI_FUZZ_SEEDS") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("docx", 4, docx()),
        ("xlsx", 5, xlsx()),
        ("pptx", 6, pptx()),
        ("pdf", 8, japanese_pdf("個人番号：123456789012")),
        ("eml", 12, eml()),
        ("doc", 14, word97("社外秘\r本文")),
        ("xls", 15, biff8()),
        (
            "zip",
            9,
            zip_of(&[("a/b.txt", "社外秘".as_bytes()), ("c.csv", b"a,b\n1,2\n")]),
        ),
        ("sjis", 0, SHIFT_JIS.encode(JA).0.into_owned()),
        (
            "rtf",
            3,
            br"{\rtf1\ansi\ansicpg932{\fonttbl{\f0\fcharset128 x;}}\f0 \'8e\'d0\par}".to_vec(),
        ),
    ];
    for (name, selector, bytes) in seeds {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("seed-{name}")),
            [&[selector][..], &bytes].concat(),
        )
        .unwrap();
    }
}

#[test]
fn forty_two_style_nest_is_bounded() {
    // 16 × 16 × 16 zips, each holding 2 MiB of zeros: 8 GiB if fully expanded.
    let mut level = zeros_zip(2 << 20);
    for _ in 0..3 {
        let names: Vec<String> = (0..16).map(|i| format!("{i:x}.zip")).collect();
        let entries: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), level.as_slice()))
            .collect();
        level = zip_of(&entries);
    }
    let start = Instant::now();
    let x = extract("42.zip", &level, &Limits::default());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(has_problem(&x, ProblemKind::Bomb));
    assert!(x.problems.len() <= 1_001);
    let limits = Limits {
        max_entries: 100,
        ..Limits::default()
    };
    let x = extract("42.zip", &level, &limits);
    assert!(has_problem(&x, ProblemKind::TooManyEntries));
}

#[test]
fn truncated_archives_are_recovered_from_local_headers() {
    let doc = docx();
    let cut = doc
        .windows(16)
        .position(|w| w == b"word/header1.xml")
        .unwrap()
        - 30;
    let x = extract("cut.docx", &doc[..cut], &Limits::default());
    let p = part(&x, "cut.docx");
    assert_eq!((p.file_type, p.type_mismatch), (FileType::Docx, false));
    assert!(
        text(&x, "cut.docx").contains("個人番号"),
        "{:?}",
        x.problems
    );
    assert!(has_problem(&x, ProblemKind::Malformed));

    let z = zip_of(&[("one.txt", "社外秘".as_bytes()), ("two.txt", &[b'x'; 5000])]);
    let x = extract("cut.zip", &z[..z.len() - 60], &Limits::default());
    assert_eq!(text(&x, "cut.zip!one.txt"), "社外秘");
    assert!(has_problem(&x, ProblemKind::Malformed));

    let folder = zip_of(&[("word/notes.txt", b"just a folder called word")]);
    assert_eq!(
        extract("f.zip", &folder, &Limits::default()).parts[0].file_type,
        FileType::Zip
    );
}

#[test]
fn password_protected_pdf() {
    let doc = pdf_with_trailer(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
            stream("", b"0123456789"),
            format!(
                "<< /Filter /Standard /V 1 /R 2 /O <{}> /U <{}> /P -4 >>",
                "41".repeat(32),
                "42".repeat(32)
            )
            .into_bytes(),
        ],
        "/Encrypt 5 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]",
    );
    let x = extract("locked.pdf", &doc, &Limits::default());
    assert_eq!(part(&x, "locked.pdf").file_type, FileType::Pdf);
    assert!(has_problem(&x, ProblemKind::Encrypted), "{:?}", x.problems);
}

/// A one-page PDF in Helvetica with `content` as its content stream.
fn helvetica_pdf(content: &str) -> Vec<u8> {
    pdf(&[
        b"<< /Type /Catalog /Pages 3 0 R >>".to_vec(),
        b"<< /Producer (test) >>".to_vec(),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_vec(),
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Contents 6 0 R >>".to_vec(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
        stream("", content.as_bytes()),
    ])
}

#[test]
fn pdf_table_cells_become_tabs() {
    // Two rows of three cells placed 100 pt apart; words inside a cell a normal space apart.
    let content = "BT /F1 10 Tf 72 700 Td (Name) Tj 100 0 Td (Passport No.) Tj 100 0 Td (Phone) Tj ET\n\
                   BT /F1 10 Tf 72 680 Td (Ai Mori) Tj 100 0 Td (TK1234567) Tj 100 0 Td (0312345678) Tj ET\n\
                   BT /F1 10 Tf 72 660 Td (A sentence) Tj 54 0 Td (goes on.) Tj ET";
    let x = extract("table.pdf", &helvetica_pdf(content), &Limits::default());
    let t = text(&x, "table.pdf");
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(
        lines,
        [
            "Name\tPassport No.\tPhone",
            "Ai Mori\tTK1234567\t0312345678",
            "A sentence goes on."
        ],
        "{t:?}"
    );
}

#[test]
fn docx_tables_are_tab_separated_rows() {
    let cell = |s: &str| format!("<w:tc><w:p><w:r><w:t>{s}</w:t></w:r></w:p></w:tc>");
    let two_paragraphs =
        "<w:tc><w:p><w:r><w:t>東京都</w:t></w:r></w:p><w:p><w:r><w:t>港区</w:t></w:r></w:p></w:tc>";
    let document = format!(
        r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>社員名簿</w:t></w:r></w:p>
<w:tbl><w:tr>{}{}{}</w:tr><w:tr>{}{}{two_paragraphs}</w:tr><w:tr>{}{}<w:tc><w:p/></w:tc></w:tr></w:tbl>
<w:p><w:r><w:t>以上</w:t></w:r></w:p></w:body></w:document>"#,
        cell("氏名"),
        cell("個人番号"),
        cell("住所"),
        cell("山田 太郎"),
        cell("1234 5678 9018"),
        cell("佐藤 花子"),
        cell("123456789018"),
    );
    let bytes = zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", b"<Relationships/>"),
        ("word/document.xml", document.as_bytes()),
    ]);
    let x = extract("roster.docx", &bytes, &Limits::default());
    assert_eq!(
        text(&x, "roster.docx"),
        "社員名簿\n氏名\t個人番号\t住所\n山田 太郎\t1234 5678 9018\t東京都 港区\n佐藤 花子\t123456789018\t\n以上\n"
    );
}
