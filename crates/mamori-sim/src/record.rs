//! One row of activity, common to both output formats: the CERT writer prints it as a CSV row,
//! the NDJSON writer as a Mamori event whose `source.ref` is the row's CERT id.

use rand::RngExt;

use crate::rng::{SimRng, pick};
use crate::vocab::Category;

/// A CERT-style record id, e.g. `{X1D9-S0ES98JV-5357PWMI}`: letter, digit, letter, digit;
/// letter, digit, two letters, two digits, two letters; four digits, four letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertId([u8; 24]);

impl CertId {
    pub fn random(rng: &mut SimRng) -> Self {
        const SHAPE: &[u8; 24] = b"{LDLD-LDLLDDLL-DDDDLLLL}";
        let mut bytes = [0u8; 24];
        for (index, shape) in SHAPE.iter().enumerate() {
            bytes[index] = match shape {
                b'L' => b'A' + rng.random_range(0..26u8),
                b'D' => b'0' + rng.random_range(0..10u8),
                other => *other,
            };
        }
        CertId(bytes)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever written, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Display for CertId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a row is in the answer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// A row of malicious incident `n` (index into the plan's incidents).
    Incident(u32),
    /// A careless (non-malicious) event of person `n`.
    Careless(u32),
    /// A use of a leaver's account after the last day, in after-exit case `n`.
    AfterExit(u32),
    /// A session of shared account `n` ([`crate::org::Organisation::shared_accounts`]).
    Shared(u32),
}

/// Direction of an HTTP exchange (CERT r4.2 does not record it; events do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAction {
    Visit,
    Upload,
    Download,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Logon,
    Logoff,
    Connect,
    Disconnect,
    /// A file copied to removable media.
    File {
        filename: String,
        content: String,
    },
    Http {
        url: String,
        domain: &'static str,
        category: Category,
        action: HttpAction,
        content: String,
    },
    Email {
        to: Vec<String>,
        cc: Vec<String>,
        bcc: Vec<String>,
        from: String,
        size: u32,
        attachments: u8,
        content: String,
    },
}

/// One row.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: CertId,
    /// Second of the day (the day is the one being generated).
    pub second: u32,
    /// The account that did it (`user` column): a person's index for their own account, or
    /// `people.len() + n` for shared account `n` ([`crate::org::Organisation::account_name`]).
    pub user: u32,
    /// PC number (`PC-1234`).
    pub pc: u16,
    pub body: Body,
    pub tag: Option<Tag>,
}

impl Record {
    /// Appends general words to a web page or mail body of fewer than `words` words.
    pub fn pad_content(&mut self, rng: &mut SimRng, words: usize) {
        if let Body::Http { content, .. } | Body::Email { content, .. } = &mut self.body {
            let mut count = content.split_ascii_whitespace().count();
            while count < words {
                if !content.is_empty() {
                    content.push(' ');
                }
                let word: &&str = pick(rng, crate::vocab::GENERAL_WORDS);
                content.push_str(word);
                count += 1;
            }
        }
    }

    /// The CERT file this row goes to: `logon`, `device`, `file`, `http` or `email`.
    pub fn file_type(&self) -> FileType {
        match self.body {
            Body::Logon | Body::Logoff => FileType::Logon,
            Body::Connect | Body::Disconnect => FileType::Device,
            Body::File { .. } => FileType::File,
            Body::Http { .. } => FileType::Http,
            Body::Email { .. } => FileType::Email,
        }
    }
}

/// The five activity files of CERT r4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Logon,
    Device,
    File,
    Http,
    Email,
}

impl FileType {
    pub const ALL: [FileType; 5] = [
        FileType::Logon,
        FileType::Device,
        FileType::File,
        FileType::Http,
        FileType::Email,
    ];

    /// The name used in answer rows and as the file's stem.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Logon => "logon",
            FileType::Device => "device",
            FileType::File => "file",
            FileType::Http => "http",
            FileType::Email => "email",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A space-separated bag of `count` words, `share_topic` of them from `topic`, the rest from
/// `general`.
pub fn bag_of_words(
    rng: &mut SimRng,
    topic: &[&str],
    general: &[&str],
    count: usize,
    share_topic: f64,
) -> String {
    let mut text = String::with_capacity(count * 8);
    for index in 0..count {
        if index > 0 {
            text.push(' ');
        }
        let word = if rng.random_bool(share_topic) {
            pick(rng, topic)
        } else {
            pick(rng, general)
        };
        text.push_str(word);
    }
    text
}

/// `n` random upper-case letters and digits (file names, URL tokens).
pub fn token(rng: &mut SimRng, n: usize) -> String {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..n)
        .map(|_| char::from(ALPHABET[rng.random_range(0..36usize)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    #[test]
    fn ids_have_the_cert_shape() {
        let mut rng = derive(1, Stream::Plan, 0, 0);
        for _ in 0..100 {
            let id = CertId::random(&mut rng);
            let text = id.as_str();
            assert_eq!(text.len(), 24);
            for (got, shape) in text.bytes().zip(b"{LDLD-LDLLDDLL-DDDDLLLL}".iter()) {
                match shape {
                    b'L' => assert!(got.is_ascii_uppercase(), "{text}"),
                    b'D' => assert!(got.is_ascii_digit(), "{text}"),
                    other => assert_eq!(got, *other, "{text}"),
                }
            }
        }
    }
}
