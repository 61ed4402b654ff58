//! Directory-entry events against the real kernel: files and directories created, renamed,
//! moved and deleted under a watched tree, named by path, with the process that did it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mamori_agent::dirent::{Change, ChangeKind, DirWatch};
use support::skip;

/// Changes until `done` says enough, or 5 s.
fn changes(watch: &mut DirWatch, mut done: impl FnMut(&[Change]) -> bool) -> Vec<Change> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(&out) && Instant::now() < deadline {
        let drained = watch.drain();
        assert!(drained.problems.is_empty(), "{:?}", drained.problems);
        out.extend(drained.changes);
        std::thread::sleep(Duration::from_millis(10));
    }
    out
}

fn has(changes: &[Change], kind: &ChangeKind, path: &Path) -> bool {
    changes.iter().any(|c| &c.kind == kind && c.path == path)
}

fn open(max_dirs: usize) -> Option<(DirWatch, tempfile::TempDir, PathBuf)> {
    let watch = match DirWatch::new(max_dirs) {
        Ok(watch) => watch,
        Err(e) => {
            skip(&e.to_string());
            return None;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    Some((watch, dir, root))
}

#[test]
fn creations_renames_moves_and_deletions_by_path_and_process() {
    let Some((mut watch, _dir, root)) = open(1000) else {
        return;
    };
    std::fs::create_dir(root.join("old")).unwrap();
    let problems = watch.watch(&root);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(watch.marked(), 2);

    let plan = root.join("plan.txt");
    std::fs::write(&plan, "社外秘").unwrap();
    std::fs::rename(&plan, root.join("plan-v2.txt")).unwrap();
    std::fs::rename(root.join("plan-v2.txt"), root.join("old/plan-v2.txt")).unwrap();
    // A directory renamed: what happens in it afterwards is named by its new path.
    std::fs::rename(root.join("old"), root.join("archive")).unwrap();
    std::fs::remove_file(root.join("archive/plan-v2.txt")).unwrap();
    // A tree made at once: its entries are reported with it.
    std::fs::create_dir_all(root.join("new/deep")).unwrap();
    std::fs::write(root.join("new/deep/a.txt"), "a").unwrap();
    std::fs::write(root.join("new/b.txt"), "b").unwrap();

    let last = root.join("new/b.txt");
    let seen = changes(&mut watch, |cs| has(cs, &ChangeKind::Created, &last));
    let pid = std::process::id();
    assert!(seen.iter().all(|c| c.pid == pid), "{seen:?}");
    assert!(has(&seen, &ChangeKind::Created, &plan), "{seen:?}");
    let renamed = ChangeKind::Renamed { from: plan.clone() };
    assert!(has(&seen, &renamed, &root.join("plan-v2.txt")), "{seen:?}");
    let moved = ChangeKind::Renamed {
        from: root.join("plan-v2.txt"),
    };
    assert!(
        has(&seen, &moved, &root.join("old/plan-v2.txt")),
        "{seen:?}"
    );
    let dir_renamed = seen
        .iter()
        .find(|c| c.path == root.join("archive"))
        .unwrap();
    assert!(dir_renamed.dir);
    assert_eq!(
        dir_renamed.kind,
        ChangeKind::Renamed {
            from: root.join("old")
        }
    );
    assert!(
        has(
            &seen,
            &ChangeKind::Deleted,
            &root.join("archive/plan-v2.txt")
        ),
        "{seen:?}"
    );
    assert!(
        has(&seen, &ChangeKind::Created, &root.join("new")),
        "{seen:?}"
    );
    assert!(
        has(&seen, &ChangeKind::Created, &root.join("new/deep")),
        "{seen:?}"
    );
    // `new/deep/a.txt` may come from the walk of the new tree or its own event: either way
    // it is there, by its path.
    assert!(
        has(&seen, &ChangeKind::Created, &root.join("new/deep/a.txt")),
        "{seen:?}"
    );
}

#[test]
fn a_child_process_is_named_by_its_pid_and_directories_past_the_limit_are_reported() {
    let Some((mut watch, _dir, root)) = open(2) else {
        return;
    };
    for sub in ["a", "b", "c"] {
        std::fs::create_dir(root.join(sub)).unwrap();
    }
    let problems = watch.watch(&root);
    assert_eq!(watch.marked(), 2);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("limit"), "{problems:?}");

    let file = root.join("doomed.txt");
    std::fs::write(&file, "x").unwrap();
    let _ = changes(&mut watch, |cs| has(cs, &ChangeKind::Created, &file));
    let rm = std::process::Command::new("/bin/rm")
        .arg(&file)
        .spawn()
        .unwrap();
    let rm_pid = rm.id();
    let status = rm.wait_with_output().unwrap().status;
    assert!(status.success());
    let seen = changes(&mut watch, |cs| has(cs, &ChangeKind::Deleted, &file));
    let deleted = seen.iter().find(|c| c.path == file).unwrap();
    assert_eq!(deleted.pid, rm_pid);
    assert!(!deleted.dir);
}

/// How long marking a tree takes — the sensor's thread does it when a removable mount
/// appears, while permission events wait (a figure for docs/agent.md, no assertion on time).
#[test]
fn marking_a_tree_of_two_thousand_directories() {
    let Some((mut watch, _dir, root)) = open(5000) else {
        return;
    };
    for a in 0..40 {
        for b in 0..50 {
            std::fs::create_dir_all(root.join(format!("{a}/{b}"))).unwrap();
        }
    }
    let started = Instant::now();
    let problems = watch.watch(&root);
    let took = started.elapsed();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(watch.marked(), 1 + 40 + 40 * 50);
    eprintln!(
        "marked {} directories in {:.1} ms",
        watch.marked(),
        took.as_secs_f64() * 1000.0
    );
    // The deepest directory's events are named by path.
    let deep = root.join("39/49/x.txt");
    std::fs::write(&deep, "x").unwrap();
    let seen = changes(&mut watch, |cs| has(cs, &ChangeKind::Created, &deep));
    assert!(has(&seen, &ChangeKind::Created, &deep), "{seen:?}");

    // As the sensor marks a mount that just appeared: a step per drain, never all at once.
    let mut later = DirWatch::new(5000).unwrap();
    assert!(later.watch_later(&root).is_empty());
    assert!(later.marking());
    let mut drains = 0;
    while later.marking() {
        let before = later.marked();
        let drained = later.drain();
        assert!(drained.problems.is_empty(), "{:?}", drained.problems);
        assert!(later.marked() - before <= 128, "one step marks at most 128");
        drains += 1;
    }
    assert_eq!(later.marked(), 2041);
    assert!(drains >= 16, "{drains} drains");
    std::fs::write(root.join("39/49/y.txt"), "y").unwrap();
    let seen = changes(&mut later, |cs| !cs.is_empty());
    assert!(
        has(&seen, &ChangeKind::Created, &root.join("39/49/y.txt")),
        "{seen:?}"
    );
}
