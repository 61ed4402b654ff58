//! SigmaHQ's regression data: each `info.yml` names a rule and the event logs it must fire on
//! (`regression_tests_info`), mostly with the exact number of matching events.

use std::path::{Path, PathBuf};

use super::rule::LoadError;
use super::yaml::{self, Value};

/// One test: `rule_id` must match `match_count` events of `evtx` (at least one when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub info: PathBuf,
    pub rule_id: String,
    pub rule_title: Option<String>,
    pub name: Option<String>,
    pub evtx: PathBuf,
    pub match_count: Option<u64>,
}

/// The cases of one `info.yml`. Paths in it are relative to the folder holding
/// `regression_data/` (the SigmaHQ repository root); `root` is that folder.
pub fn read_info(info: &Path, text: &str, root: &Path) -> Result<Vec<Case>, LoadError> {
    let file = info.display().to_string();
    let fail = |line: usize, reason: &str| LoadError {
        file: file.clone(),
        line,
        reason: reason.to_string(),
    };
    let documents = yaml::parse_documents(text).map_err(|e| fail(e.line, &e.reason))?;
    let doc = documents
        .first()
        .ok_or_else(|| fail(1, "empty regression info file"))?;
    let meta = doc
        .get("rule_metadata")
        .and_then(|m| match &m.value {
            Value::Seq(items) => items.first(),
            _ => None,
        })
        .ok_or_else(|| fail(doc.line, "no rule_metadata list"))?;
    let rule_id = meta
        .get("id")
        .and_then(|n| n.as_str())
        .ok_or_else(|| fail(meta.line, "rule_metadata has no id"))?
        .to_string();
    let rule_title = meta
        .get("title")
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let tests = match doc.get("regression_tests_info").map(|n| &n.value) {
        Some(Value::Seq(items)) => items,
        // Some infos have their tests commented out (a raw log no runner reads yet).
        None => return Ok(Vec::new()),
        Some(_) => return Err(fail(doc.line, "regression_tests_info is not a list")),
    };
    let mut cases = Vec::new();
    for test in tests {
        if test
            .get("type")
            .and_then(|n| n.as_str())
            .is_some_and(|t| t != "evtx")
        {
            continue;
        }
        let path = test
            .get("path")
            .and_then(|n| n.as_str())
            .ok_or_else(|| fail(test.line, "test has no path"))?;
        let match_count = match test.get("match_count") {
            None => None,
            Some(n) => Some(
                n.as_str()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| fail(n.line, "match_count is not a number"))?,
            ),
        };
        cases.push(Case {
            info: info.to_path_buf(),
            rule_id: rule_id.clone(),
            rule_title: rule_title.clone(),
            name: test
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string),
            evtx: root.join(path),
            match_count,
        });
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn reads_cases_relative_to_the_root() {
        let text = "id: x\nrule_metadata:\n    - id: 1234\n      title: T\nregression_tests_info:\n    - name: Positive\n      type: evtx\n      match_count: 2\n      path: regression_data/a/b.evtx\n    - name: Other\n      path: regression_data/c.evtx\n";
        let cases = read_info(
            Path::new("/r/regression_data/a/info.yml"),
            text,
            Path::new("/r"),
        )
        .unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].rule_id, "1234");
        assert_eq!(cases[0].match_count, Some(2));
        assert_eq!(cases[0].evtx, Path::new("/r/regression_data/a/b.evtx"));
        assert_eq!(cases[1].match_count, None);
        let none = "rule_metadata:\n    - id: 1\n# regression_tests_info:\n";
        assert!(
            read_info(Path::new("i.yml"), none, Path::new("/"))
                .unwrap()
                .is_empty()
        );
        let error = read_info(Path::new("i.yml"), "id: x\n", Path::new("/")).unwrap_err();
        assert!(
            error.to_string().starts_with("i.yml:1: no rule_metadata"),
            "{error}"
        );
    }
}
