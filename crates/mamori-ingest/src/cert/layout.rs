//! Which CERT file this is and where its columns are.
//!
//! The column sets come from the release readmes (r4.2, r6.2) and public code that reads the
//! files (see `docs/cert.md`). A header line, when present, is read by name, so column order
//! does not matter; a file without one is read in the readme's order, chosen by field count.

use std::fmt;

/// The activity files of a CERT dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Logon,
    Device,
    File,
    Http,
    Email,
}

impl FileKind {
    pub const ALL: [FileKind; 5] = [
        FileKind::Logon,
        FileKind::Device,
        FileKind::File,
        FileKind::Http,
        FileKind::Email,
    ];

    /// The file's name in a dataset directory, e.g. `http.csv`.
    pub const fn file_name(self) -> &'static str {
        match self {
            FileKind::Logon => "logon.csv",
            FileKind::Device => "device.csv",
            FileKind::File => "file.csv",
            FileKind::Http => "http.csv",
            FileKind::Email => "email.csv",
        }
    }

    /// The kind a file name stands for (`logon.csv`, `HTTP.csv`, …), if any.
    pub fn from_file_name(name: &str) -> Option<FileKind> {
        let lower = name.to_ascii_lowercase();
        FileKind::ALL
            .into_iter()
            .find(|kind| kind.file_name() == lower)
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// The generator release whose column set a file has. Each of r4.1/r5.1/r6.1 shares its
/// sibling's layout as far as the readmes tell, so `R4_2` reads as "r4-style".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Release {
    R4_2,
    R5_2,
    R6_2,
}

impl Release {
    pub const fn as_str(self) -> &'static str {
        match self {
            Release::R4_2 => "r4.2",
            Release::R5_2 => "r5.2",
            Release::R6_2 => "r6.2",
        }
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One known column set of one file kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `id,date,user,pc,activity` (all releases).
    Logon,
    /// `id,date,user,pc,activity` (r4).
    DeviceR4,
    /// `id,date,user,pc,file_tree,activity` (r5, r6).
    DeviceR5,
    /// `id,date,user,pc,filename,content` (r4): every row is a copy to removable media.
    FileR4,
    /// `id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content` (r5, r6).
    FileR5,
    /// `id,date,user,pc,url,content` (r4, r5).
    HttpR4,
    /// `id,date,user,pc,url,activity,content` (r6).
    HttpR6,
    /// `id,date,user,pc,to,cc,bcc,from,size,attachments,content` (r4): attachments is a count.
    EmailR4,
    /// `id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content` (r5, r6).
    EmailR5,
}

impl Layout {
    pub const ALL: [Layout; 9] = [
        Layout::Logon,
        Layout::DeviceR4,
        Layout::DeviceR5,
        Layout::FileR4,
        Layout::FileR5,
        Layout::HttpR4,
        Layout::HttpR6,
        Layout::EmailR4,
        Layout::EmailR5,
    ];

    /// The columns in the readme's order (the order of a file without a header).
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            Layout::Logon | Layout::DeviceR4 => &["id", "date", "user", "pc", "activity"],
            Layout::DeviceR5 => &["id", "date", "user", "pc", "file_tree", "activity"],
            Layout::FileR4 => &["id", "date", "user", "pc", "filename", "content"],
            Layout::FileR5 => &[
                "id",
                "date",
                "user",
                "pc",
                "filename",
                "activity",
                "to_removable_media",
                "from_removable_media",
                "content",
            ],
            Layout::HttpR4 => &["id", "date", "user", "pc", "url", "content"],
            Layout::HttpR6 => &["id", "date", "user", "pc", "url", "activity", "content"],
            Layout::EmailR4 => &[
                "id",
                "date",
                "user",
                "pc",
                "to",
                "cc",
                "bcc",
                "from",
                "size",
                "attachments",
                "content",
            ],
            Layout::EmailR5 => &[
                "id",
                "date",
                "user",
                "pc",
                "to",
                "cc",
                "bcc",
                "from",
                "activity",
                "size",
                "attachments",
                "content",
            ],
        }
    }

    pub const fn kind(self) -> FileKind {
        match self {
            Layout::Logon => FileKind::Logon,
            Layout::DeviceR4 | Layout::DeviceR5 => FileKind::Device,
            Layout::FileR4 | Layout::FileR5 => FileKind::File,
            Layout::HttpR4 | Layout::HttpR6 => FileKind::Http,
            Layout::EmailR4 | Layout::EmailR5 => FileKind::Email,
        }
    }

    /// The releases whose files have this column set.
    pub const fn releases(self) -> &'static [Release] {
        match self {
            Layout::Logon => &[Release::R4_2, Release::R5_2, Release::R6_2],
            Layout::DeviceR4 | Layout::FileR4 | Layout::EmailR4 => &[Release::R4_2],
            Layout::DeviceR5 | Layout::FileR5 | Layout::EmailR5 => &[Release::R5_2, Release::R6_2],
            Layout::HttpR4 => &[Release::R4_2, Release::R5_2],
            Layout::HttpR6 => &[Release::R6_2],
        }
    }

    fn candidates(kind: FileKind) -> impl Iterator<Item = Layout> {
        Layout::ALL
            .into_iter()
            .filter(move |layout| layout.kind() == kind)
    }
}

/// Other names a header may use for a column: the r4.2 readme calls the e-mail attachment
/// count `attachment_count` while public code reading the files names it `attachments`.
fn canonical_column(name: &str) -> &str {
    match name {
        "attachment_count" => "attachments",
        other => other,
    }
}

/// Where each column of a file is, after detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub layout: Layout,
    /// Number of fields a row must have.
    pub count: usize,
    pub id: usize,
    pub date: usize,
    pub user: usize,
    pub pc: usize,
    pub activity: Option<usize>,
    pub file_tree: Option<usize>,
    pub filename: Option<usize>,
    pub to_removable_media: Option<usize>,
    pub from_removable_media: Option<usize>,
    pub url: Option<usize>,
    pub to: Option<usize>,
    pub cc: Option<usize>,
    pub bcc: Option<usize>,
    pub from: Option<usize>,
    pub size: Option<usize>,
    pub attachments: Option<usize>,
    pub content: Option<usize>,
}

impl Columns {
    /// Columns named by `names` (a header, lower-cased and trimmed by the caller), in any order.
    fn from_names(layout: Layout, names: &[String]) -> Option<Columns> {
        let position = |column: &str| names.iter().position(|name| name == column);
        let required = |column: &str| position(column);
        let optional = |column: &str| -> Option<Option<usize>> {
            if layout.columns().contains(&column) {
                position(column).map(Some)
            } else {
                Some(None)
            }
        };
        Some(Columns {
            layout,
            count: names.len(),
            id: required("id")?,
            date: required("date")?,
            user: required("user")?,
            pc: required("pc")?,
            activity: optional("activity")?,
            file_tree: optional("file_tree")?,
            filename: optional("filename")?,
            to_removable_media: optional("to_removable_media")?,
            from_removable_media: optional("from_removable_media")?,
            url: optional("url")?,
            to: optional("to")?,
            cc: optional("cc")?,
            bcc: optional("bcc")?,
            from: optional("from")?,
            size: optional("size")?,
            attachments: optional("attachments")?,
            content: optional("content")?,
        })
    }

    /// The layout of `kind` whose column set is exactly `header` (any order), if any.
    pub fn from_header(kind: FileKind, header: &[String]) -> Option<Columns> {
        let names: Vec<String> = header
            .iter()
            .map(|name| canonical_column(name.trim().to_ascii_lowercase().as_str()).to_string())
            .collect();
        for layout in Layout::candidates(kind) {
            let expected = layout.columns();
            let same_set = names.len() == expected.len()
                && expected
                    .iter()
                    .all(|column| names.iter().any(|name| name == column));
            if same_set {
                return Columns::from_names(layout, &names);
            }
        }
        None
    }

    /// The layout of `kind` without a header: the readme's order, chosen by field count
    /// (each kind's layouts differ in their number of columns).
    pub fn from_field_count(kind: FileKind, count: usize) -> Option<Columns> {
        let layout = Layout::candidates(kind).find(|layout| layout.columns().len() == count)?;
        let names: Vec<String> = layout.columns().iter().map(|c| c.to_string()).collect();
        Columns::from_names(layout, &names)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn header(text: &str) -> Vec<String> {
        text.split(',').map(str::to_string).collect()
    }

    #[test]
    fn every_layout_is_found_from_its_own_header_and_from_its_field_count() {
        for layout in Layout::ALL {
            let names: Vec<String> = layout.columns().iter().map(|c| c.to_string()).collect();
            let by_name = Columns::from_header(layout.kind(), &names).unwrap();
            assert_eq!(by_name.layout, layout);
            let by_count = Columns::from_field_count(layout.kind(), names.len()).unwrap();
            assert_eq!(by_count, by_name);
        }
    }

    #[test]
    fn header_order_and_case_do_not_matter() {
        let columns = Columns::from_header(
            FileKind::Http,
            &header("ID,Date,User,PC,Content,Activity,URL"),
        )
        .unwrap();
        assert_eq!(columns.layout, Layout::HttpR6);
        assert_eq!(columns.content, Some(4));
        assert_eq!(columns.url, Some(6));
    }

    #[test]
    fn the_readme_name_of_the_attachment_count_is_accepted() {
        let names = header("id,date,user,pc,to,cc,bcc,from,size,attachment_count,content");
        let columns = Columns::from_header(FileKind::Email, &names).unwrap();
        assert_eq!(columns.layout, Layout::EmailR4);
        assert_eq!(columns.attachments, Some(9));
    }

    #[test]
    fn unknown_column_sets_are_not_guessed() {
        assert!(Columns::from_header(FileKind::Logon, &header("id,date,user,pc")).is_none());
        assert!(Columns::from_field_count(FileKind::Email, 10).is_none());
    }
}
