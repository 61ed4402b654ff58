//! Is this text source code? A language-agnostic judgement from the shape of its lines, with
//! the file extension as a hint and keyword votes for the likely language.
//!
//! Code has lines that end in `;`, `{`, `}`, `)` or a block colon, start with keywords
//! (`def`, `function`, `class`, `#include`, `import`, `package`, `SELECT`…), use operators
//! (`==`, `->`, `=>`, `::`, `&&`, `:=`) and are indented in steps. Prose has long lines of words
//! ending in `.` or `。`. A line is *code-like* when it shows at least one code trait and no prose
//! trait; the share of code-like lines among non-empty ones is the main score. Texts that are
//! delimited data (CSV, TSV), JSON documents or JSON/NDJSON logs are not code however many
//! braces and commas they have, unless the extension says so.
//!
//! Only the first [`SAMPLE_BYTES`] are read: a file's style does not change halfway.

/// How much of a text is looked at.
const SAMPLE_BYTES: usize = 64 * 1024;

/// The classifier's answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Guess {
    pub(super) language: &'static str,
    pub(super) confidence: f32,
    pub(super) reason: String,
}

/// Extension → language. Markup, data and config formats (html, xml, json, yaml, md, csv) are
/// not source code here.
const EXTENSIONS: &[(&str, &str)] = &[
    ("rs", "rust"),
    ("py", "python"),
    ("pyw", "python"),
    ("ipynb", "python"),
    ("js", "javascript"),
    ("mjs", "javascript"),
    ("cjs", "javascript"),
    ("jsx", "javascript"),
    ("ts", "typescript"),
    ("tsx", "typescript"),
    ("java", "java"),
    ("kt", "kotlin"),
    ("kts", "kotlin"),
    ("scala", "scala"),
    ("groovy", "groovy"),
    ("c", "c"),
    ("h", "c"),
    ("cc", "cpp"),
    ("cpp", "cpp"),
    ("cxx", "cpp"),
    ("hpp", "cpp"),
    ("hh", "cpp"),
    ("cs", "csharp"),
    ("go", "go"),
    ("rb", "ruby"),
    ("php", "php"),
    ("swift", "swift"),
    ("m", "objective-c"),
    ("mm", "objective-c"),
    ("sh", "shell"),
    ("bash", "shell"),
    ("zsh", "shell"),
    ("ps1", "powershell"),
    ("psm1", "powershell"),
    ("bat", "batch"),
    ("cmd", "batch"),
    ("sql", "sql"),
    ("pl", "perl"),
    ("pm", "perl"),
    ("lua", "lua"),
    ("r", "r"),
    ("dart", "dart"),
    ("vb", "vb"),
    ("bas", "vb"),
    ("vba", "vb"),
    ("fs", "fsharp"),
    ("hs", "haskell"),
    ("ex", "elixir"),
    ("exs", "elixir"),
    ("erl", "erlang"),
    ("clj", "clojure"),
    ("tf", "terraform"),
    ("asm", "assembly"),
    ("s", "assembly"),
    ("f90", "fortran"),
    ("cob", "cobol"),
    ("cbl", "cobol"),
    ("abap", "abap"),
    ("sol", "solidity"),
    ("vue", "javascript"),
    ("svelte", "javascript"),
];

/// Keyword votes per language: substrings of a line, each counted once per line.
const VOTES: &[(&str, &[&str])] = &[
    (
        "rust",
        &[
            "fn ",
            "let mut ",
            "impl ",
            "pub fn ",
            "use std",
            "#[derive",
            "println!",
            "-> Result",
            "&mut ",
            "&self",
            "pub struct ",
        ],
    ),
    (
        "python",
        &[
            "def ",
            "import ",
            "self.",
            "elif ",
            "print(",
            "__init__",
            "__name__",
            "None",
            "lambda ",
            "except ",
            " in range(",
        ],
    ),
    (
        "javascript",
        &[
            "function",
            "const ",
            "=> ",
            "require(",
            "console.log",
            "module.exports",
            "document.",
            "===",
            "let ",
            "async ",
            "undefined",
        ],
    ),
    (
        "typescript",
        &[
            "interface ",
            ": string",
            ": number",
            ": boolean",
            "export ",
            "import {",
            "readonly ",
            ": void",
            "<T>",
        ],
    ),
    (
        "java",
        &[
            "public class ",
            "System.out",
            "import java.",
            "private ",
            "public static void main",
            "@Override",
            "new ",
            "String[]",
            "extends ",
        ],
    ),
    (
        "kotlin",
        &[
            "fun ",
            "val ",
            "println(",
            "data class ",
            "import kotlin",
            "?.let",
        ],
    ),
    (
        "csharp",
        &[
            "using System",
            "namespace ",
            "Console.Write",
            "static void Main",
            "{ get; set; }",
            "public class ",
            "var ",
        ],
    ),
    (
        "c",
        &[
            "#include <",
            "printf(",
            "int main(",
            "malloc(",
            "sizeof(",
            "NULL",
            "->",
            "#define ",
            "void ",
        ],
    ),
    (
        "cpp",
        &[
            "std::",
            "#include <iostream>",
            "cout <<",
            "template<",
            "template <",
            "namespace ",
            "nullptr",
            "::",
        ],
    ),
    (
        "go",
        &[
            "package ",
            "func ",
            ":= ",
            "fmt.",
            "import (",
            "err != nil",
            "go func",
        ],
    ),
    (
        "ruby",
        &[
            "def ",
            "puts ",
            "require '",
            "attr_accessor",
            ".each do |",
            "end",
            "elsif ",
        ],
    ),
    (
        "php",
        &["<?php", "$this->", "echo ", "function ", "->", "$_"],
    ),
    (
        "shell",
        &[
            "#!/bin/", "echo ", "fi", "then", "done", "esac", "$(", "export ", "if [", "${",
        ],
    ),
    (
        "powershell",
        &["$_", "Get-", "Write-Host", "param(", "-eq ", "Set-"],
    ),
    (
        "sql",
        &[
            "SELECT ",
            " FROM ",
            "INSERT INTO",
            "CREATE TABLE",
            "UPDATE ",
            "WHERE ",
            "JOIN ",
            "GROUP BY",
            "ORDER BY",
            "select ",
            " from ",
            "where ",
        ],
    ),
    ("perl", &["my $", "use strict", "sub ", "=~"]),
    (
        "swift",
        &[
            "func ",
            "import UIKit",
            "import Foundation",
            "guard let",
            "var ",
            "let ",
        ],
    ),
    (
        "vb",
        &["Dim ", "End Sub", "Sub ", "End Function", "Then", "End If"],
    ),
];

/// Words that start code lines in many languages.
const LINE_STARTS: &[&str] = &[
    "def ",
    "class ",
    "function ",
    "func ",
    "fn ",
    "pub ",
    "import ",
    "from ",
    "package ",
    "#include",
    "#define",
    "#import",
    "#if",
    "#endif",
    "using ",
    "namespace ",
    "public ",
    "private ",
    "protected ",
    "static ",
    "const ",
    "let ",
    "var ",
    "val ",
    "return",
    "if (",
    "if(",
    "if ",
    "else",
    "elif ",
    "for (",
    "for(",
    "for ",
    "while ",
    "while(",
    "switch",
    "case ",
    "try",
    "catch",
    "except",
    "finally",
    "struct ",
    "enum ",
    "impl ",
    "trait ",
    "interface ",
    "type ",
    "module ",
    "require",
    "export ",
    "async ",
    "await ",
    "print",
    "echo ",
    "int ",
    "void ",
    "char ",
    "float ",
    "double ",
    "bool ",
    "string ",
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "DELETE ",
    "CREATE ",
    "ALTER ",
    "DROP ",
    "FROM ",
    "WHERE ",
    "end",
    "begin",
    "local ",
    "sub ",
    "my ",
    "use ",
    "mod ",
    "match ",
    "lambda",
    "yield",
    "raise ",
    "throw ",
    "new ",
    "@",
    "}",
    "{",
    "//",
    "/*",
    "*/",
    "<?php",
    "Dim ",
    "Sub ",
    "End ",
    "#!",
    "fi",
    "done",
    "then",
    "do ",
    "set ",
    "Set-",
    "$",
];

const OPERATORS: &[&str] = &[
    "==", "!=", "->", "=>", "::", "&&", "||", "+=", "-=", ":=", "();", "()", "[]", "<<", ">>",
    "/*", "//",
];

/// Classifies `text`; `file_name` gives an extension hint. `None` when nothing suggests code.
pub(super) fn classify(file_name: Option<&str>, text: &str) -> Option<Guess> {
    let ext = file_name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let ext_lang = ext
        .as_deref()
        .and_then(|e| EXTENSIONS.iter().find(|(x, _)| *x == e).map(|(_, l)| *l));
    let mut cut = text.len().min(SAMPLE_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let sample = text.get(..cut).unwrap_or_default();
    let lines: Vec<&str> = sample
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let shebang = sample.starts_with("#!/") || sample.starts_with("#! /");
    let php = sample.trim_start().starts_with("<?php");

    let stats = Stats::of(&lines);
    let data = looks_like_data(sample, &lines);
    let mut content = stats.score();
    let mut why = Vec::new();
    if shebang || php {
        content = content.max(0.9);
        why.push(if shebang { "shebang line" } else { "<?php" }.to_owned());
    }
    if data.is_some() && ext_lang.is_none() {
        return None;
    }
    if lines.len() < 3 && !shebang && !php {
        // Too little to judge by content; only an extension can say.
        content = content.min(0.3);
    }
    if content > 0.0 && !shebang {
        why.push(format!(
            "{}% of {} lines code-like",
            (stats.code_ratio() * 100.0).round() as u32,
            lines.len()
        ));
    }
    let language = ext_lang.or_else(|| {
        vote(
            &lines,
            shebang.then(|| sample.lines().next().unwrap_or_default()),
        )
    });
    let confidence = match ext_lang {
        Some(_) if stats.prose_ratio() > 0.6 && stats.code_ratio() < 0.1 => {
            why.push("code extension but prose".to_owned());
            0.3
        }
        Some(_) => {
            why.push(format!(".{} extension", ext.as_deref().unwrap_or_default()));
            (content.max(0.45) + 0.3).min(0.98)
        }
        None => content,
    };
    if confidence <= 0.0 {
        return None;
    }
    Some(Guess {
        language: language.unwrap_or("unknown"),
        confidence,
        reason: format!("source code ({})", why.join(", ")),
    })
}

/// Line statistics of a sample.
#[derive(Debug, Default)]
struct Stats {
    lines: usize,
    code: usize,
    prose: usize,
    keyword_lines: usize,
    indented: usize,
}

impl Stats {
    fn of(lines: &[&str]) -> Stats {
        let mut s = Stats {
            lines: lines.len(),
            ..Stats::default()
        };
        for line in lines {
            let trimmed = line.trim();
            let indented =
                line.starts_with("    ") || line.starts_with('\t') || line.starts_with("  ");
            let starts_kw = LINE_STARTS.iter().any(|k| trimmed.starts_with(k));
            let ends_code = trimmed.ends_with([';', '{', '}', ')', '(', '[', ']'])
                || trimmed.ends_with("):")
                || trimmed.ends_with("=>")
                || trimmed.ends_with("->")
                || (trimmed.ends_with(':') && starts_kw);
            let has_op = OPERATORS.iter().any(|o| trimmed.contains(o));
            let assignment = trimmed.contains(" = ") && !trimmed.contains("。");
            let words = trimmed.split_whitespace().count();
            let symbols = trimmed
                .chars()
                .filter(|c| "{}()[];=<>&|!+*/%$".contains(*c))
                .count();
            let chars = trimmed.chars().count().max(1);
            let prose = (trimmed.ends_with(['.', '。', '?', '!', '？', '！', '」'])
                && words >= 6
                && symbols * 25 < chars)
                || (trimmed.chars().filter(|c| !c.is_ascii()).count() * 2 > chars
                    && !ends_code
                    && !has_op);
            if prose {
                s.prose += 1;
            } else if ends_code
                || has_op
                || (starts_kw && (symbols > 0 || indented))
                || (assignment && symbols > 0)
            {
                s.code += 1;
            }
            if starts_kw {
                s.keyword_lines += 1;
            }
            if indented {
                s.indented += 1;
            }
        }
        s
    }

    fn code_ratio(&self) -> f32 {
        self.code as f32 / self.lines.max(1) as f32
    }

    fn prose_ratio(&self) -> f32 {
        self.prose as f32 / self.lines.max(1) as f32
    }

    /// The content score: mostly code-like lines, some keyword lines, little prose.
    fn score(&self) -> f32 {
        if self.lines == 0 {
            return 0.0;
        }
        let code = self.code_ratio();
        let keywords = self.keyword_lines as f32 / self.lines as f32;
        let prose = self.prose_ratio();
        if code < 0.3 || keywords < 0.1 || prose > 0.4 {
            return (code * 0.5).min(0.3);
        }
        let mut s = 0.45 + (code - 0.3) * 0.9 + keywords.min(0.5) * 0.3;
        if self.indented * 5 >= self.lines {
            s += 0.05;
        }
        (s - prose).clamp(0.0, 0.97)
    }
}

/// Why a text is data rather than code: delimited rows, a JSON document, JSON lines.
fn looks_like_data(sample: &str, lines: &[&str]) -> Option<&'static str> {
    let trimmed = sample.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(sample.trim()).is_ok()
    {
        return Some("json");
    }
    if lines.len() >= 3 {
        let json_lines = lines
            .iter()
            .filter(|l| {
                let l = l.trim();
                l.starts_with('{') && l.ends_with('}')
            })
            .count();
        if json_lines * 10 >= lines.len() * 8 {
            return Some("json lines");
        }
        for d in [',', '\t', '|', ';'] {
            let counts: Vec<usize> = lines.iter().map(|l| l.matches(d).count()).collect();
            let first = counts.first().copied().unwrap_or(0);
            if first >= 2 && counts.iter().filter(|&&c| c == first).count() * 10 >= counts.len() * 8
            {
                return Some("delimited rows");
            }
        }
    }
    None
}

/// The language with most keyword votes (the shebang's interpreter first).
fn vote(lines: &[&str], shebang: Option<&str>) -> Option<&'static str> {
    if let Some(line) = shebang {
        for (needle, lang) in [
            ("python", "python"),
            ("node", "javascript"),
            ("ruby", "ruby"),
            ("perl", "perl"),
            ("php", "php"),
            ("pwsh", "powershell"),
            ("sh", "shell"),
        ] {
            if line.contains(needle) {
                return Some(lang);
            }
        }
    }
    let mut best: Option<(&'static str, usize)> = None;
    for (lang, words) in VOTES {
        let n: usize = lines
            .iter()
            .map(|l| words.iter().filter(|w| l.contains(**w)).count().min(2))
            .sum();
        if n > 0 && best.is_none_or(|(_, m)| n > m) {
            best = Some((lang, n));
        }
    }
    best.map(|(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(name: Option<&str>, text: &str) -> Option<(&'static str, f32)> {
        classify(name, text)
            .filter(|g| g.confidence >= 0.5)
            .map(|g| (g.language, g.confidence))
    }

    const RUST: &str = "use std::io;\n\nfn main() {\n    let mut x = 1;\n    if x == 1 {\n        println!(\"{x}\");\n    }\n}\n";
    const PYTHON: &str = "import os\n\ndef main():\n    for i in range(3):\n        print(i)\n\nif __name__ == '__main__':\n    main()\n";
    const C: &str =
        "#include <stdio.h>\n\nint main(void) {\n    printf(\"hi\\n\");\n    return 0;\n}\n";
    const SQL: &str =
        "SELECT name, salary\nFROM employees\nWHERE dept = 'sales'\nORDER BY salary DESC;\n";
    const JAVA: &str = "package com.example;\n\nimport java.util.List;\n\npublic class Foo {\n    private int x;\n    @Override\n    public String toString() {\n        return \"x\";\n    }\n}\n";
    const GO: &str = "package main\n\nimport (\n\t\"fmt\"\n)\n\nfunc main() {\n\tx := 1\n\tif err != nil {\n\t\tfmt.Println(x)\n\t}\n}\n";

    #[test]
    fn recognises_code_without_extension() {
        assert_eq!(lang(None, RUST).map(|x| x.0), Some("rust"));
        assert_eq!(lang(None, PYTHON).map(|x| x.0), Some("python"));
        assert_eq!(lang(None, C).map(|x| x.0), Some("c"));
        assert_eq!(lang(None, JAVA).map(|x| x.0), Some("java"));
        assert_eq!(lang(None, GO).map(|x| x.0), Some("go"));
        assert!(lang(None, SQL).is_some());
        assert_eq!(
            lang(Some("run"), "#!/bin/bash\nset -e\necho hi\n").map(|x| x.0),
            Some("shell")
        );
    }

    #[test]
    fn extension_is_a_hint() {
        let (l, c) = lang(Some("src/lib.rs"), RUST).unwrap_or(("", 0.0));
        assert_eq!(l, "rust");
        assert!(c >= 0.9);
        assert_eq!(lang(Some("a.py"), "x = 1\n").map(|x| x.0), Some("python"));
        // Prose named .py is not code.
        let prose = "This is a letter to the team about the plan for next quarter.\nWe will meet on Monday to discuss the budget and the hiring plan.\nPlease bring your notes and your questions to the meeting.\n";
        assert!(lang(Some("notes.py"), prose).is_none());
    }

    #[test]
    fn prose_csv_and_json_are_not_code() {
        let en = "Dear team,\nThe quarterly report is attached. Revenue grew by twelve percent compared to last year.\nPlease review the numbers before the meeting on Friday, and send me your comments.\nBest regards,\nTaro\n";
        assert!(lang(None, en).is_none());
        let ja = "お疲れ様です。\n来週の会議の資料を添付します。\nご確認のほど、よろしくお願いいたします。\n山田\n";
        assert!(lang(None, ja).is_none());
        let csv = "id,name,amount,date\n1,foo,100,2024-01-01\n2,bar,200,2024-01-02\n3,baz,300,2024-01-03\n";
        assert!(lang(Some("data.csv"), csv).is_none());
        assert!(lang(None, csv).is_none());
        let json =
            "{\n  \"name\": \"x\",\n  \"items\": [1, 2, 3],\n  \"nested\": {\"a\": true}\n}\n";
        assert!(lang(None, json).is_none());
        let logs = "{\"time\":\"2024-01-01T00:00:00Z\",\"level\":\"info\",\"msg\":\"start\"}\n{\"time\":\"2024-01-01T00:00:01Z\",\"level\":\"warn\",\"msg\":\"slow\"}\n{\"time\":\"2024-01-01T00:00:02Z\",\"level\":\"info\",\"msg\":\"done\"}\n";
        assert!(lang(None, logs).is_none());
        assert!(lang(None, "").is_none());
    }

    #[test]
    fn markdown_with_a_little_code_is_not_code() {
        let md = "# Release notes\n\nThis release fixes several bugs in the importer and improves performance.\nThe configuration format is unchanged, and no migration is needed for existing users.\n\n```\ncargo run\n```\n\nThanks to everyone who reported issues and tested the release candidates.\n";
        assert!(lang(Some("NOTES.md"), md).is_none());
    }
}
