//! Enforcement against the real kernel: a loop-mounted ext4 image stands for a USB stick,
//! the real `/bin/cp` copies a 社外秘 file to it, and the sensor must deny the open.
//!
//! Needs root with CAP_SYS_ADMIN, fanotify permission events and loop devices. Where the
//! machine does not allow it the tests print "skipped: <reason>" and pass — unless
//! `MAMORI_REQUIRE_FANOTIFY` is set, when they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Instant;

use mamori_agent::{
    ActivityKind, Capability, PolicyHandle, Record, RemovableRules, Sensor, SensorConfig,
};
use mamori_policy::{Action, Policy};
use support::{collect, skip};

/// A loop-mounted ext4 image, unmounted (lazily, if busy) when dropped.
struct LoopMount {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl LoopMount {
    fn mount_point(&self) -> PathBuf {
        self.dir.path().join("usb")
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        if self.mounted {
            // `-d` detaches the loop device with the mount.
            let _ = Command::new("umount")
                .arg("-d")
                .arg(self.mount_point())
                .status();
            if Path::new(&self.mount_point()).exists() && is_mount_point(&self.mount_point()) {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(self.mount_point())
                    .status();
            }
        }
    }
}

fn is_mount_point(path: &Path) -> bool {
    mamori_agent::mounts::read_mounts()
        .map(|ms| ms.iter().any(|m| m.mount_point == path))
        .unwrap_or(false)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn loop_mount() -> Result<LoopMount, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let image = dir.path().join("usb.img");
    let mut lm = LoopMount {
        dir,
        mounted: false,
    };
    std::fs::create_dir(lm.mount_point()).map_err(|e| e.to_string())?;
    run(Command::new("truncate").arg("-s").arg("32M").arg(&image))?;
    run(Command::new("mkfs.ext4").arg("-q").arg(&image))?;
    run(Command::new("mount")
        .arg("-o")
        .arg("loop")
        .arg(&image)
        .arg(lm.mount_point()))?;
    lm.mounted = true;
    Ok(lm)
}

const POLICY: &str = r#"
format = 1
name = "test"
revision = 1
[[rules]]
id = "usb-classified"
action = "block"
when.channels = ["removable_media"]
when.classified = true
"#;

/// Fields drop in order: the sensor stops before the mount goes.
struct Setup {
    sensor: Sensor,
    records: Receiver<Record>,
    source: tempfile::TempDir,
    usb: LoopMount,
}

fn setup(policy: &str) -> Option<Setup> {
    setup_with(policy, false)
}

fn setup_with(policy: &str, observe_only: bool) -> Option<Setup> {
    let source = tempfile::tempdir().unwrap();
    match mamori_agent::probe(source.path()) {
        Capability::Enforce => {}
        other => {
            skip(&other.describe());
            return None;
        }
    }
    let usb = match loop_mount() {
        Ok(usb) => usb,
        Err(e) => {
            skip(&format!("no loop mount: {e}"));
            return None;
        }
    };
    std::fs::write(
        source.path().join("plan.txt"),
        "社外秘\n来期の事業計画(案)\n売上目標: 12億円\n",
    )
    .unwrap();
    std::fs::write(source.path().join("lunch.txt"), "お昼は何にしますか。\n").unwrap();
    let (tx, rx) = sync_channel(100_000);
    let config = SensorConfig {
        watched: vec![source.path().to_path_buf()],
        removable: RemovableRules {
            sysfs: "/sys".into(),
            declared: [usb.mount_point()].into_iter().collect(),
        },
        observe_only,
        ..SensorConfig::default()
    };
    let sensor = Sensor::start(
        config,
        PolicyHandle::new(Policy::from_toml(policy).unwrap()),
        tx,
    )
    .unwrap();
    assert_eq!(sensor.capability().enforces(), !observe_only);
    let usb_point = std::fs::canonicalize(usb.mount_point()).unwrap();
    assert!(
        sensor
            .removable_mounts()
            .iter()
            .any(|m| m.mount_point == usb_point),
        "{:?}",
        sensor.removable_mounts()
    );
    Some(Setup {
        sensor,
        records: rx,
        source,
        usb,
    })
}

fn decisions<'a>(
    records: &'a [Record],
    source: &'a Path,
) -> impl Iterator<Item = &'a mamori_agent::DecisionRecord> + 'a {
    records.iter().filter_map(move |r| match r {
        Record::Decision(d)
            if d.request.object.path.as_deref() == Some(source.to_string_lossy().as_ref()) =>
        {
            Some(&**d)
        }
        _ => None,
    })
}

fn cp(from: &Path, to: &Path) -> std::process::Output {
    Command::new("/bin/cp").arg(from).arg(to).output().unwrap()
}

#[test]
fn blocks_classified_copy_to_removable_media() {
    let Some(s) = setup(POLICY) else { return };
    let source = std::fs::canonicalize(s.source.path()).unwrap();
    let usb = std::fs::canonicalize(s.usb.mount_point()).unwrap();
    let secret = source.join("plan.txt");
    let plain = source.join("lunch.txt");

    let out = cp(&secret, &usb);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cp of a 社外秘 file succeeded");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    let copied = usb.join("plan.txt");
    assert!(
        std::fs::metadata(&copied).map(|m| m.len()).unwrap_or(0) == 0,
        "the classified file has content on the mount"
    );

    let out = cp(&plain, &usb);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(usb.join("lunch.txt")).unwrap(),
        "お昼は何にしますか。\n"
    );

    let records = collect(&s.records, |rs| {
        decisions(rs, &secret).next().is_some()
            && decisions(rs, &plain).next().is_some()
            && rs.iter().any(|r| {
                matches!(r, Record::Activity(a)
                    if a.kind == ActivityKind::CloseWrite && a.path.ends_with("lunch.txt") && a.removable)
            })
    });
    let blocked = decisions(&records, &secret)
        .next()
        .expect("a decision on plan.txt");
    assert!(blocked.denied && blocked.enforced);
    assert_eq!(blocked.decision.action, Action::Block);
    assert_eq!(
        blocked.policy.rules()[blocked.decision.rule.unwrap()].id,
        "usb-classified"
    );
    let process = blocked.request.process.as_ref().unwrap();
    assert_eq!(process.name.as_deref(), Some("cp"));
    assert!(process.path.as_deref().unwrap_or("").ends_with("cp"));
    assert_eq!(blocked.request.object.labels, ["社外秘"]);
    assert_eq!(
        blocked.request.destination.name.as_deref(),
        Some(usb.to_string_lossy().as_ref())
    );
    assert_eq!(blocked.destination_path, copied.to_string_lossy());
    assert!(!blocked.request.user.is_empty());
    // The decision becomes a valid policy.decision event.
    let event = mamori_policy::decision_event(
        &blocked.policy,
        &blocked.request,
        &blocked.decision,
        "mamori-agent",
        blocked.time,
    );
    let parsed = mamori_event::Event::from_json(&event.canonical_json());
    assert!(parsed.is_ok(), "{parsed:?}");

    let allowed = decisions(&records, &plain)
        .next()
        .expect("a decision on lunch.txt");
    assert!(!allowed.denied);
    assert_eq!(allowed.decision.action, Action::Allow);

    // File activity: cp's open of the source, classified.
    assert!(records.iter().any(|r| matches!(r, Record::Activity(a)
        if a.kind == ActivityKind::Open && Path::new(&a.path) == secret
            && a.process.as_deref() == Some("cp")
            && a.classification.as_ref().is_some_and(|c| c.classified()))));
    assert!(records.iter().any(|r| matches!(r, Record::Activity(a)
        if a.kind == ActivityKind::Open && a.removable && Path::new(&a.path) == copied)));
    let stats = s.sensor.stop();
    assert!(stats.denied >= 1, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    eprintln!("sensor stats: {stats:?}");
}

#[test]
fn simulated_block_lets_the_copy_through() {
    let policy = format!("mode = \"simulate\"\n{POLICY}");
    let Some(s) = setup(&policy) else { return };
    let source = std::fs::canonicalize(s.source.path()).unwrap();
    let usb = std::fs::canonicalize(s.usb.mount_point()).unwrap();
    let secret = source.join("plan.txt");
    let out = cp(&secret, &usb);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(usb.join("plan.txt"))
            .unwrap()
            .starts_with("社外秘")
    );
    let records = collect(&s.records, |rs| decisions(rs, &secret).next().is_some());
    let d = decisions(&records, &secret).next().expect("a decision");
    assert!(!d.denied);
    assert_eq!(d.decision.action, Action::Allow);
    assert_eq!(d.decision.simulated.map(|s| s.0), Some(Action::Block));
    assert!(d.decision.is_recorded());
}

/// Rough figures: the added latency of opens on a watched path and the events the sensor
/// keeps up with. Printed, with loose bounds only (the machine is shared).
#[test]
fn open_latency_and_throughput() {
    let Some(s) = setup(POLICY) else { return };
    let source = std::fs::canonicalize(s.source.path()).unwrap();
    let files: Vec<PathBuf> = (0..200)
        .map(|i| {
            let p = source.join(format!("f{i}.txt"));
            std::fs::write(&p, format!("社外秘 {i}\n")).unwrap();
            p
        })
        .collect();
    // Opens by a child process (the sensor ignores its own process), timed by `cat`.
    let started = Instant::now();
    let rounds = 5;
    for _ in 0..rounds {
        let out = Command::new("/bin/cat").args(&files).output().unwrap();
        assert!(out.status.success());
    }
    let elapsed = started.elapsed();
    let opens = files.len() * rounds;
    let records = collect(&s.records, |rs| {
        rs.iter()
            .filter(|r| matches!(r, Record::Activity(a) if a.kind == ActivityKind::Open && !a.removable))
            .count()
            >= opens
    });
    let seen = records
        .iter()
        .filter(
            |r| matches!(r, Record::Activity(a) if a.kind == ActivityKind::Open && !a.removable),
        )
        .count();
    let handled = started.elapsed();
    let stats = s.sensor.stop();
    eprintln!(
        "{opens} watched opens by cat in {elapsed:?}; sensor reported {seen} in {handled:?} \
         ({:.0} events/s); {stats:?}",
        seen as f64 / handled.as_secs_f64()
    );
    assert_eq!(seen, opens);
    assert_eq!(stats.classified_files, 200);
}

/// Observing (as where permission events are not allowed): the copy goes through, and the
/// decision is made when the write is finished, reported as not enforced.
#[test]
fn observer_reports_without_enforcing() {
    let Some(s) = setup_with(POLICY, true) else {
        return;
    };
    assert!(matches!(s.sensor.capability(), Capability::ObserveOnly(_)));
    let source = std::fs::canonicalize(s.source.path()).unwrap();
    let usb = std::fs::canonicalize(s.usb.mount_point()).unwrap();
    let secret = source.join("plan.txt");
    let out = cp(&secret, &usb);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = collect(&s.records, |rs| decisions(rs, &secret).next().is_some());
    let d = decisions(&records, &secret).next().expect("a decision");
    assert_eq!(d.decision.action, Action::Block);
    assert!(!d.enforced && !d.denied);
    // Notifications are asynchronous: a short-lived cp may be gone before its events are
    // read, and then /proc has nothing to say (enforcing, cp waits on the answer).
    let process = d.request.process.as_ref().unwrap();
    assert!(
        matches!(process.name.as_deref(), Some("cp") | None),
        "{process:?}"
    );
    assert!(process.pid.is_some());
}

#[test]
fn entries_created_renamed_and_deleted_on_the_stick_are_reported_with_the_process() {
    let Some(s) = setup(POLICY) else { return };
    let usb = std::fs::canonicalize(s.usb.mount_point()).unwrap();
    let (made, renamed_to) = (usb.join("lunch.txt"), usb.join("ランチ.txt"));
    // One process that stays alive while its events are read: the sensor names processes
    // from /proc, and a short-lived `rm` can be gone (and reaped) by then.
    let mut child = Command::new("perl")
        .arg("-e")
        .arg(
            r#"open(my $f, ">", $ARGV[0]) or die; close $f; rename($ARGV[0], $ARGV[1]) or die;
                unlink($ARGV[1]) or die; print "done\n"; STDOUT->flush; sleep 30"#,
        )
        .arg(&made)
        .arg(&renamed_to)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "done\n");

    let gone = renamed_to.to_string_lossy().into_owned();
    let records = collect(&s.records, |rs| {
        rs.iter().any(|r| matches!(r, Record::Activity(a) if a.kind == ActivityKind::Delete && a.path == gone))
    });
    let _ = child.kill();
    let _ = child.wait();
    let activity = |kind| {
        records
            .iter()
            .find_map(|r| match r {
                Record::Activity(a) if a.kind == kind && a.removable => Some(a),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {kind:?} in {records:?}"))
    };
    let created = activity(ActivityKind::Create);
    assert_eq!(created.path, made.to_string_lossy());
    assert_eq!(created.pid, child.id());
    assert_eq!(created.process.as_deref(), Some("perl"));
    assert_eq!(created.user, "root");
    let renamed = activity(ActivityKind::Rename);
    assert_eq!(renamed.path, gone);
    assert_eq!(
        renamed.previous.as_deref(),
        Some(made.to_string_lossy().as_ref())
    );
    let deleted = activity(ActivityKind::Delete);
    assert_eq!((deleted.pid, deleted.dir), (child.id(), false));
    assert_eq!(deleted.process.as_deref(), Some("perl"));
}
