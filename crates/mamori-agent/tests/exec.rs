//! Program launches against the real kernel: copies of `/bin/true` named `torbrowser` and
//! `harmless` on a tmpfs (so the exec marks cover only it), and a policy blocking
//! `torbrowser` on the `app_launch` channel.
//!
//! Needs root with CAP_SYS_ADMIN and fanotify permission events (Linux 5.0+ for exec
//! events). Where the machine does not allow it the tests print "skipped: <reason>" and
//! pass — unless `MAMORI_REQUIRE_FANOTIFY` is set, when they fail. Other processes exec all
//! the time: records are filtered by the test's own paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

use mamori_agent::{
    ActivityKind, Capability, DecisionRecord, FileActivity, PolicyHandle, Record, Sensor,
    SensorConfig,
};
use mamori_policy::{Action, Channel, Policy, Verdict};
use support::{collect, skip};

const POLICY: &str = r#"
format = 1
name = "test"
revision = 1
[[rules]]
id = "app-tor"
action = "block"
when.channels = ["app_launch"]
when.processes = ["torbrowser", "tor", "firefox-tor"]
"#;

/// A tmpfs, unmounted (lazily, if busy) when dropped; when it cannot be mounted, the
/// temporary directory itself (its mount is then marked: every exec there is seen).
struct Bin {
    dir: tempfile::TempDir,
    mounted: bool,
}

impl Bin {
    fn path(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path().join("bin")).unwrap()
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path().join("bin"))
                .status();
        }
    }
}

fn bin() -> Bin {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin");
    std::fs::create_dir(&path).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m,mode=755", "mamori-exec-test"])
        .arg(&path)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("no tmpfs; marking the temporary directory's mount");
    }
    let bin = Bin { dir, mounted };
    for name in ["torbrowser", "harmless"] {
        std::fs::copy("/bin/true", bin.path().join(name)).unwrap();
    }
    bin
}

/// Fields drop in order: the sensor stops before the tmpfs goes.
struct Setup {
    sensor: Sensor,
    records: Receiver<Record>,
    bin: Bin,
}

fn setup(policy: &str, exec_permission: bool) -> Option<Setup> {
    let bin = bin();
    match mamori_agent::probe(&bin.path()) {
        Capability::Enforce => {}
        other => {
            skip(&other.describe());
            return None;
        }
    }
    let (tx, rx) = sync_channel(100_000);
    let config = SensorConfig {
        exec_mounts: vec![bin.path()],
        exec_permission,
        ..SensorConfig::default()
    };
    let sensor = match Sensor::start(
        config,
        PolicyHandle::new(Policy::from_toml(policy).unwrap()),
        tx,
    ) {
        Ok(sensor) => sensor,
        // FAN_OPEN_EXEC needs Linux 5.0.
        Err(e) => {
            skip(&format!("no exec marks: {e}"));
            return None;
        }
    };
    assert!(sensor.capability().enforces());
    assert_eq!(sensor.exec_permission(), exec_permission);
    Some(Setup {
        sensor,
        records: rx,
        bin,
    })
}

fn execs<'a>(records: &'a [Record], exe: &'a Path) -> impl Iterator<Item = &'a FileActivity> {
    records.iter().filter_map(move |r| match r {
        Record::Activity(a) if a.kind == ActivityKind::Exec && Path::new(&a.path) == exe => Some(a),
        _ => None,
    })
}

fn decisions<'a>(records: &'a [Record], exe: &'a Path) -> impl Iterator<Item = &'a DecisionRecord> {
    records.iter().filter_map(move |r| match r {
        Record::Decision(d) if Path::new(&d.destination_path) == exe => Some(&**d),
        _ => None,
    })
}

/// Runs `exe`: `Ok(succeeded)` or the spawn error.
fn launch(exe: &Path) -> std::io::Result<bool> {
    Command::new(exe).output().map(|o| o.status.success())
}

fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the launch failed as a denied permission event makes it fail: `EPERM`.
fn is_eperm(result: &std::io::Result<bool>) -> bool {
    result
        .as_ref()
        .is_err_and(|e| e.raw_os_error() == Some(nix::errno::Errno::EPERM as i32))
}

#[test]
fn blocks_a_forbidden_launch() {
    assert!(
        Policy::from_toml(POLICY)
            .unwrap()
            .enforces_channel(Channel::AppLaunch)
    );
    let Some(s) = setup(POLICY, true) else { return };
    let tor = s.bin.path().join("torbrowser");
    let harmless = s.bin.path().join("harmless");

    let blocked = launch(&tor);
    assert!(is_eperm(&blocked), "torbrowser ran: {blocked:?}");
    let ran = launch(&harmless);
    assert!(matches!(ran, Ok(true)), "harmless did not run: {ran:?}");

    let records = collect(&s.records, |rs| {
        decisions(rs, &tor).next().is_some()
            && execs(rs, &tor).next().is_some()
            && execs(rs, &harmless).next().is_some()
    });
    let user = me();
    let exec = execs(&records, &tor)
        .next()
        .expect("an exec record of torbrowser");
    assert_eq!(exec.user, user);
    assert!(exec.uid.is_some());
    assert!(exec.pid > 0);
    assert!(exec.classification.is_none());
    assert!(execs(&records, &harmless).next().is_some());

    let d = decisions(&records, &tor)
        .next()
        .expect("a decision on torbrowser");
    assert!(d.denied && d.enforced);
    assert_eq!(d.verdict, Verdict::Blocked);
    assert_eq!(d.decision.action, Action::Block);
    assert_eq!(d.policy.rules()[d.decision.rule.unwrap()].id, "app-tor");
    assert_eq!(d.request.user, user);
    let process = d.request.process.as_ref().unwrap();
    assert_eq!(process.name.as_deref(), Some("torbrowser"));
    assert_eq!(
        process.path.as_deref(),
        Some(tor.to_string_lossy().as_ref())
    );
    // Nothing is recorded of the harmless launch beyond the activity.
    assert!(decisions(&records, &harmless).next().is_none());
    // The decision becomes a valid policy.decision event.
    let event =
        mamori_policy::decision_event(&d.policy, &d.request, &d.decision, "mamori-agent", d.time);
    let parsed = mamori_event::Event::from_json(&event.canonical_json());
    assert!(parsed.is_ok(), "{parsed:?}");

    let stats = s.sensor.stop();
    assert!(stats.denied >= 1, "{stats:?}");
    assert!(stats.execs >= 2, "{stats:?}");
    eprintln!(
        "decision latency {:?}; longest permission wait {:?}; {stats:?}",
        d.latency, stats.max_permission_latency
    );
}

#[test]
fn simulated_block_lets_the_launch_through() {
    let policy = format!("mode = \"simulate\"\n{POLICY}");
    assert!(
        !Policy::from_toml(&policy)
            .unwrap()
            .enforces_channel(Channel::AppLaunch)
    );
    // Permission marks anyway: a simulated block must still be allowed.
    let Some(s) = setup(&policy, true) else {
        return;
    };
    let tor = s.bin.path().join("torbrowser");
    let ran = launch(&tor);
    assert!(matches!(ran, Ok(true)), "torbrowser did not run: {ran:?}");
    let records = collect(&s.records, |rs| decisions(rs, &tor).next().is_some());
    let d = decisions(&records, &tor).next().expect("a decision");
    assert!(!d.denied && d.enforced);
    assert_eq!(d.verdict, Verdict::Allowed);
    assert_eq!(d.decision.action, Action::Allow);
    assert_eq!(d.decision.simulated.map(|s| s.0), Some(Action::Block));
    assert!(d.decision.is_recorded());
}

/// Notification marks only: launches are reported and decided but not stopped, until the
/// caller asks for permission marks.
#[test]
fn observes_launches_then_enforces_on_request() {
    let Some(s) = setup(POLICY, false) else {
        return;
    };
    let tor = s.bin.path().join("torbrowser");
    let ran = launch(&tor);
    assert!(matches!(ran, Ok(true)), "torbrowser did not run: {ran:?}");
    let records = collect(&s.records, |rs| {
        decisions(rs, &tor).next().is_some() && execs(rs, &tor).next().is_some()
    });
    let d = decisions(&records, &tor).next().expect("a decision");
    assert!(!d.enforced && !d.denied);
    assert_eq!(d.decision.action, Action::Block);

    s.sensor.set_exec_permission(true);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !s.sensor.exec_permission() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(s.sensor.exec_permission());
    let blocked = launch(&tor);
    assert!(is_eperm(&blocked), "torbrowser ran: {blocked:?}");

    s.sensor.set_exec_permission(false);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.sensor.exec_permission() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let ran = launch(&tor);
    assert!(matches!(ran, Ok(true)), "torbrowser did not run: {ran:?}");
}

/// Rough figure: the time a launch takes with and without the permission marks. Printed,
/// with loose bounds only (the machine is shared).
#[test]
fn launch_latency() {
    let Some(s) = setup(POLICY, true) else { return };
    let harmless = s.bin.path().join("harmless");
    let rounds = 100;
    let time = |n: u32| {
        let started = Instant::now();
        for _ in 0..n {
            assert!(matches!(launch(&harmless), Ok(true)));
        }
        started.elapsed() / n
    };
    let with = time(rounds);
    let stats = s.sensor.stop();
    let without = time(rounds);
    eprintln!(
        "launch of a copy of /bin/true: {with:?} with exec permission marks, {without:?} \
         without; longest permission wait in the sensor {:?}; {stats:?}",
        stats.max_permission_latency
    );
    assert!(stats.execs >= u64::from(rounds), "{stats:?}");
    assert!(stats.max_permission_latency < Duration::from_secs(1));
}
