//! End to end: `mamori agent` against the real `mamori serve` — enrolment with a token,
//! policy fetched and cached, USB storage authorisation on a sysfs tree, heartbeats, events
//! delivered through a server restart with nothing lost, an unclean stop reported by the next
//! start, `agent.stop` on SIGTERM; and, where the kernel allows it, a classified file's copy
//! to a loop-mounted "removable" file system denied by fanotify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.toml");

/// A free loopback port (bound and released: the server is restarted on the same one).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(env: &Env, port: u16) -> Server {
    start_server_on(env, &format!("127.0.0.1:{port}")).0
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("did not stop on SIGTERM");
}

/// A USB device in a sysfs tree: `class` is its interface class (08 = mass storage).
fn usb_device(sysfs: &Path, name: &str, vendor: &str, product: &str, serial: &str, class: u8) {
    let dir = sysfs.join("bus/usb/devices").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in [
        ("idVendor", vendor),
        ("idProduct", product),
        ("serial", serial),
        ("authorized", "0"),
        ("product", "USB DISK"),
    ] {
        std::fs::write(dir.join(file), format!("{text}\n")).unwrap();
    }
    let mut descriptors = vec![18, 1, 0, 2, 0, 0, 0, 64, 0, 0, 0, 0, 0, 1, 1, 2, 3, 1];
    descriptors.extend([9, 2, 32, 0, 1, 1, 0, 0x80, 50]);
    descriptors.extend([9, 4, 0, 0, 2, class, 6, 80, 0]);
    std::fs::write(dir.join("descriptors"), descriptors).unwrap();
}

/// One glibc utmp record (384 bytes) of a user's session (type 7).
fn utmp_session(pid: i32, line: &str, user: &str, host: &str, seconds: i32) -> Vec<u8> {
    let mut bytes = vec![0u8; 384];
    bytes[0..2].copy_from_slice(&7i16.to_le_bytes());
    bytes[4..8].copy_from_slice(&pid.to_le_bytes());
    bytes[8..8 + line.len()].copy_from_slice(line.as_bytes());
    bytes[44..44 + user.len()].copy_from_slice(user.as_bytes());
    bytes[76..76 + host.len()].copy_from_slice(host.as_bytes());
    bytes[340..344].copy_from_slice(&seconds.to_le_bytes());
    bytes
}

fn authorized(sysfs: &Path, name: &str) -> String {
    std::fs::read_to_string(sysfs.join("bus/usb/devices").join(name).join("authorized"))
        .unwrap()
        .trim()
        .to_string()
}

struct Agent {
    child: Child,
}

impl Agent {
    /// The agent's command with the test's state, sysfs tree and watched directory.
    fn command(env: &Env, url: &str, extra: &[&str]) -> Command {
        let dir = env.dir.path();
        let mut command = Command::new(MAMORI);
        command
            .args(["agent", "--server", url])
            .arg("--state")
            .arg(dir.join("agent-state"))
            .arg("--sysfs")
            .arg(dir.join("sys"))
            .arg("--watch")
            .arg(dir.join("src"))
            .arg("--cups-page-log")
            .arg(dir.join("page_log"))
            .args(["--heartbeat-seconds", "1", "--policy-seconds", "1"])
            .args(extra)
            .env("MAMORI_LOG", "info")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("agent.log"))
                    .unwrap(),
            );
        // Not the machine's /run: tests run side by side, and beside a real agent.
        if !extra.contains(&"--justify-socket") {
            command
                .arg("--justify-socket")
                .arg(dir.join("justify.sock"));
        }
        command
    }

    fn start(env: &Env, port: u16, extra: &[&str]) -> Agent {
        let url = format!("http://127.0.0.1:{port}");
        Agent {
            child: Agent::command(env, &url, extra).spawn().unwrap(),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The events the server stored (its bodies file), in order.
fn stored(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.data().join("store.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

/// Waits for the agent (logging to `log`) to mark the removable mount; false (the test is
/// skipped) where the kernel does not let it enforce.
fn enforcing_on_the_mount(log: &Path) -> bool {
    wait_for("the sensor", || {
        std::fs::read_to_string(log).is_ok_and(|l| l.contains("file sensor"))
    });
    let text = std::fs::read_to_string(log).unwrap();
    if !text.contains("enforcing: fanotify") {
        assert!(
            std::env::var_os("MAMORI_REQUIRE_FANOTIFY").is_none(),
            "fanotify enforcement is required: {text}"
        );
        eprintln!("skipped: the kernel does not allow enforcement here: {text}");
        return false;
    }
    wait_for("the mount to be marked", || {
        std::fs::read_to_string(log).is_ok_and(|l| l.contains("removable mount marked"))
    });
    true
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn events_survive_a_server_restart_and_an_unclean_stop_with_nothing_lost() {
    let env = Env::new();
    let dir = env.dir.path().to_path_buf();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let hub = dir.join("sys/bus/usb/devices/usb1");
    std::fs::create_dir_all(&hub).unwrap();
    std::fs::write(hub.join("authorized_default"), "1\n").unwrap();
    let sysfs = dir.join("sys");
    // The allow-listed corporate stick and an unknown one.
    usb_device(&sysfs, "1-1", "0951", "1666", "60A44C3FAE5AB1", 8);
    usb_device(&sysfs, "1-2", "abcd", "1234", "X1", 8);

    // yamada at the console, sato over ssh.
    let utmp = dir.join("utmp");
    std::fs::write(
        &utmp,
        [
            utmp_session(812, "tty1", "yamada", "", 1_764_600_000),
            utmp_session(913, "pts/0", "sato", "10.0.0.5", 1_764_600_100),
        ]
        .concat(),
    )
    .unwrap();
    let utmp_arg = utmp.to_str().unwrap().to_string();
    // A job printed before the agent ever ran is not reported.
    let page_log = dir.join("page_log");
    let job = |id: u32, name: &str| {
        format!(
            "Office-MFP yamada {id} [02/Dec/2026:10:15:07 +0900] total 3 - localhost {name} iso_a4_210x297mm one-sided\n"
        )
    };
    std::fs::write(&page_log, job(1, "old.pdf")).unwrap();

    let out = env.run(&["policy", "install", EXAMPLE]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = last_line_of(env.run(&["agents", "enroll", "pc-1"]));
    let port = free_port();
    let mut server = serve(&env, port);

    // A token given once is kept (0600) for later starts.
    let agent = Agent::start(&env, port, &["--token", &token, "--utmp", &utmp_arg]);
    let state = dir.join("agent-state");
    wait_for("the policy to be fetched and cached", || {
        state.join("policy.toml").exists()
    });
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(state.join("token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the token file is private");
    wait_for("device control", || {
        authorized(&sysfs, "1-1") == "1"
            && std::fs::read_to_string(hub.join("authorized_default")).unwrap() == "0"
    });
    assert_eq!(
        authorized(&sysfs, "1-2"),
        "0",
        "unknown storage stays unauthorised"
    );

    // The server goes away; the agent keeps collecting.
    terminate(&mut server.0);
    let before = of_kind(&stored(&env), "agent.heartbeat").len();
    usb_device(&sysfs, "1-3", "dead", "beef", "Y2", 8);
    // A print job while the server is down.
    {
        use std::io::Write as _;
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&page_log)
            .unwrap();
        log.write_all(job(2, "設計 レビュー.pdf").as_bytes())
            .unwrap();
    }
    // sato logs off while the server is down.
    std::fs::write(
        &utmp,
        utmp_session(812, "tty1", "yamada", "", 1_764_600_000),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        authorized(&sysfs, "1-3"),
        "0",
        "blocked while the server is down"
    );

    // Killed without a chance to say so; started again while the server is still down, it
    // decides with the cached policy.
    let mut agent = agent;
    agent.child.kill().unwrap();
    agent.child.wait().unwrap();
    drop(agent);
    assert_eq!(
        std::fs::read_to_string(hub.join("authorized_default")).unwrap(),
        "0",
        "a killed agent leaves new devices unauthorised (fail closed)"
    );
    let mut agent = Agent::start(&env, port, &["--utmp", &utmp_arg]);
    usb_device(&sysfs, "1-4", "dead", "beef", "Y3", 6);
    wait_for(
        "the cached policy to block a still-image device offline",
        || authorized(&sysfs, "1-4") == "0" && dir.join("agent.log").exists(),
    );
    std::thread::sleep(Duration::from_secs(2));

    let mut server = serve(&env, port);
    wait_for("the spool to be delivered", || {
        let events = stored(&env);
        of_kind(&events, "agent.start").len() == 2 && of_kind(&events, "device.connect").len() >= 4
    });
    terminate(&mut agent.child);
    assert!(
        std::fs::read_to_string(hub.join("authorized_default")).unwrap() == "1",
        "a stopped agent gives authorisation back"
    );
    terminate(&mut server.0);

    let events = stored(&env);
    let starts = of_kind(&events, "agent.start");
    assert_eq!(starts[0]["raw"]["previous"], "first");
    assert_eq!(starts[1]["raw"]["previous"], "unclean", "{}", starts[1]);
    let stops = of_kind(&events, "agent.stop");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0]["raw"]["reason"], "SIGTERM");
    // Heartbeats of each run are numbered: none is missing, none stored twice.
    let heartbeats = of_kind(&events, "agent.heartbeat");
    assert!(
        heartbeats.len() > before + 2,
        "heartbeats spooled while the server was down"
    );
    let mut runs: Vec<Vec<u64>> = vec![Vec::new()];
    for heartbeat in &heartbeats {
        let n = heartbeat["raw"]["n"].as_u64().unwrap();
        if n == 1 && !runs.last().unwrap().is_empty() {
            runs.push(Vec::new());
        }
        runs.last_mut().unwrap().push(n);
    }
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert_eq!(*run, (1..=run.len() as u64).collect::<Vec<_>>(), "{runs:?}");
    }
    // Devices: the corporate stick allowed, the unknown ones blocked, with decisions.
    let device = |serial: &str| {
        events
            .iter()
            .find(|e| e["kind"] == "device.connect" && e["raw"]["serial"] == serial)
            .cloned()
            .unwrap_or_else(|| panic!("no device.connect for {serial}"))
    };
    assert_eq!(device("60A44C3FAE5AB1")["outcome"], "success");
    for serial in ["X1", "Y2", "Y3"] {
        assert_eq!(device(serial)["outcome"], "blocked", "{}", device(serial));
    }
    let decisions = of_kind(&events, "policy.decision");
    assert!(
        decisions.iter().any(
            |d| d["destination"]["device_id"] == "USB\\VID_ABCD&PID_1234\\X1"
                && d["outcome"] == "blocked"
                && d["raw"]["device_control"] == true
        ),
        "{decisions:?}"
    );
    // Sessions: both logons once (the restart does not repeat them: the spool and the
    // server's de-duplication by identity keep one), sato's logoff, and the person at the
    // console named on the devices.
    let logon = |user: &str| {
        let found: Vec<&Value> = of_kind(&events, "logon")
            .into_iter()
            .filter(|e| e["actor"]["user"] == user)
            .collect();
        assert_eq!(found.len(), 1, "{user}: {found:?}");
        found[0].clone()
    };
    assert_eq!(of_kind(&events, "logon").len(), 2);
    assert_eq!(logon("yamada")["raw"]["local"], true);
    let sato = logon("sato");
    assert_eq!(sato["actor"]["ip"], "10.0.0.5");
    assert_eq!(sato["raw"]["local"], false);
    let logoffs = of_kind(&events, "logoff");
    assert_eq!(logoffs.len(), 1);
    assert_eq!(logoffs[0]["actor"]["user"], "sato");
    assert_eq!(device("X1")["actor"]["user"], "yamada");
    let prints = of_kind(&events, "print");
    assert_eq!(prints.len(), 1, "{prints:?}");
    assert_eq!(prints[0]["object"]["name"], "設計 レビュー.pdf");
    assert_eq!(prints[0]["destination"]["name"], "Office-MFP");
    assert_eq!(prints[0]["actor"]["user"], "yamada");
    // The insider pack flags the gap the kill left.
    let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/insider");
    let out = env.run(&["--json", "rules", "backtest", pack]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Mamori Agent Collection Interrupted"),
        "{}",
        stdout(&out)
    );
    assert!(env.run(&["verify"]).status.success());
}

/// A loop-mounted ext4 image, unmounted and detached however the test ends.
struct LoopMount {
    dir: PathBuf,
}

impl LoopMount {
    fn new(at: &Path) -> Result<LoopMount, String> {
        let image = at.join("usb.img");
        let dir = at.join("usb");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let run = |program: &str, args: &[&str]| -> Result<(), String> {
            let out = Command::new(program)
                .args(args)
                .output()
                .map_err(|e| format!("{program}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{program} {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        run("truncate", &["-s", "16M", image.to_str().unwrap()])?;
        run("mkfs.ext4", &["-q", image.to_str().unwrap()])?;
        run(
            "mount",
            &["-o", "loop", image.to_str().unwrap(), dir.to_str().unwrap()],
        )?;
        Ok(LoopMount { dir })
    }

    /// A loop mount, or None (the test is skipped) where the machine does not allow one.
    fn or_skip(dir: &Path) -> Option<LoopMount> {
        match LoopMount::new(dir) {
            Ok(mount) => Some(mount),
            Err(reason) => {
                assert!(
                    std::env::var_os("MAMORI_REQUIRE_FANOTIFY").is_none(),
                    "a loop mount is required: {reason}"
                );
                eprintln!("skipped: no loop mount here ({reason})");
                None
            }
        }
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let dir = self.dir.to_str().unwrap_or_default().to_string();
        let ok = Command::new("umount")
            .args(["-d", &dir])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").args(["-l", "-d", &dir]).status();
        }
    }
}

#[test]
fn a_classified_copy_to_removable_media_is_denied_where_the_kernel_allows() {
    let env = Env::new();
    let dir = env.dir.path().to_path_buf();
    let Some(mount) = LoopMount::or_skip(&dir) else {
        return;
    };
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(dir.join("sys")).unwrap();
    std::fs::write(src.join("設計書.txt"), "社外秘\n新製品の設計仕様\n").unwrap();
    std::fs::write(src.join("memo.txt"), "lunch at noon\n").unwrap();
    let token = last_line_of(env.run(&["agents", "enroll", "pc-2"]));
    let token_file = env.file("token", &token);
    let port = free_port();
    let mut server = serve(&env, port);
    let agent = Agent::start(
        &env,
        port,
        &[
            "--token-file",
            token_file.to_str().unwrap(),
            "--policy",
            EXAMPLE,
            "--removable-mount",
            mount.dir.to_str().unwrap(),
            "--exec-mount",
            dir.to_str().unwrap(),
        ],
    );
    if !enforcing_on_the_mount(&dir.join("agent.log")) {
        return;
    }
    let copy = |name: &str| {
        Command::new("cp")
            .arg(src.join(name))
            .arg(&mount.dir)
            .output()
            .unwrap()
    };
    let denied = copy("設計書.txt");
    assert!(!denied.status.success(), "the classified copy went through");
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("not permitted"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    assert!(
        std::fs::metadata(mount.dir.join("設計書.txt")).map_or(true, |m| m.len() == 0),
        "no content reached the media"
    );
    assert!(copy("memo.txt").status.success());
    assert_eq!(
        std::fs::read_to_string(mount.dir.join("memo.txt")).unwrap(),
        "lunch at noon\n"
    );
    // Entries renamed and deleted on the media are recorded too.
    let renamed = mount.dir.join("メモ.txt");
    assert!(
        Command::new("mv")
            .arg(mount.dir.join("memo.txt"))
            .arg(&renamed)
            .status()
            .unwrap()
            .success()
    );
    assert!(Command::new("rm").arg(&renamed).status().unwrap().success());

    // The example policy blocks anonymising browsers from starting (rule app-tor).
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["torbrowser", "harmless"] {
        std::fs::copy("/bin/true", bin.join(name)).unwrap();
    }
    let launched = Command::new(bin.join("torbrowser")).status();
    assert!(
        launched.as_ref().map_or(true, |s| !s.success()),
        "the blocked program started: {launched:?}"
    );
    assert!(
        Command::new(bin.join("harmless"))
            .status()
            .unwrap()
            .success()
    );

    wait_for("the decisions and the deletion to reach the server", || {
        let events = stored(&env);
        of_kind(&events, "policy.decision").len() >= 3
            && !of_kind(&events, "file.delete").is_empty()
    });
    let mut agent = agent;
    terminate(&mut agent.child);
    terminate(&mut server.0);
    let events = stored(&env);
    let decisions = of_kind(&events, "policy.decision");
    let blocked = decisions
        .iter()
        .find(|d| d["outcome"] == "blocked")
        .unwrap_or_else(|| panic!("{decisions:?}"));
    assert_eq!(blocked["raw"]["rule"], "usb-classified");
    assert_eq!(blocked["raw"]["enforced"], true);
    assert_eq!(blocked["actor"]["process"]["name"], "cp");
    assert_eq!(blocked["object"]["labels"], serde_json::json!(["社外秘"]));
    assert!(
        blocked["raw"]["destination_path"]
            .as_str()
            .unwrap()
            .ends_with("設計書.txt")
    );
    let audited = decisions
        .iter()
        .find(|d| d["raw"]["rule"] == "usb-audit")
        .unwrap();
    assert_eq!(audited["outcome"], "success");
    assert!(
        of_kind(&events, "file.read")
            .iter()
            .any(|e| e["object"]["labels"][0] == "社外秘")
    );
    let launch = decisions
        .iter()
        .find(|d| d["raw"]["rule"] == "app-tor")
        .unwrap_or_else(|| panic!("{decisions:?}"));
    assert_eq!(launch["outcome"], "blocked");
    assert_eq!(launch["actor"]["process"]["name"], "torbrowser");
    let starts = of_kind(&events, "process.start");
    assert!(
        starts.iter().any(|e| e["object"]["name"] == "harmless"),
        "{starts:?}"
    );
    let on_media = |kind: &str, name: &str| {
        of_kind(&events, kind)
            .into_iter()
            .find(|e| e["object"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} of {name}: {events:?}"))
    };
    let created = on_media("file.create", "memo.txt");
    assert_eq!(created["destination"]["kind"], "removable");
    assert!(created["actor"]["process"]["pid"].is_u64());
    let rename = on_media("file.rename", "memo.txt");
    assert_eq!(rename["destination"]["name"], "メモ.txt");
    assert_eq!(rename["destination"]["kind"], "removable");
    let deleted = on_media("file.delete", "メモ.txt");
    assert!(
        deleted["object"]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/メモ.txt")),
        "{deleted}"
    );
    drop(mount);
}

#[test]
fn the_agent_reports_over_https_verified_against_the_organisations_ca() {
    let env = Env::new();
    let dir = env.dir.path().to_path_buf();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("sys")).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = env.file("cert.pem", &certified.cert.pem());
    let key = env.file("key.pem", &certified.signing_key.serialize_pem());
    let token = last_line_of(env.run(&["agents", "enroll", "pc-3"]));
    let port = free_port();
    let mut server = Server(
        env.command(&[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let url = format!("https://localhost:{port}");

    // Without the CA, HTTPS is refused before anything starts.
    let out = Command::new(MAMORI)
        .args(["agent", "--server", &url, "--token", &token, "--state"])
        .arg(dir.join("refused"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--server-ca"), "{}", stderr(&out));
    // Nor plain HTTP to another machine.
    let out = Command::new(MAMORI)
        .args([
            "agent",
            "--server",
            "http://192.0.2.1:8080",
            "--token",
            &token,
            "--state",
        ])
        .arg(dir.join("refused"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("loopback"), "{}", stderr(&out));

    let cert_path = cert.to_str().unwrap();
    let mut command = Agent::command(&env, &url, &["--token", &token, "--server-ca", cert_path]);
    let mut agent = Agent {
        child: command.spawn().unwrap(),
    };
    wait_for("events over HTTPS", || {
        let events = stored(&env);
        !of_kind(&events, "agent.start").is_empty()
            && !of_kind(&events, "agent.heartbeat").is_empty()
    });
    terminate(&mut agent.child);
    terminate(&mut server.0);
    assert_eq!(of_kind(&stored(&env), "agent.stop").len(), 1);
}

#[test]
fn the_systemd_unit_is_valid_and_runs_the_agent() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/mamori-agent.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/mamori agent --server ${MAMORI_SERVER}"));
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("skipped: no systemd-analyze here");
        return;
    };
    // The unit as installed, pointed at this build and a scratch environment file.
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("agent.env");
    std::fs::write(
        &env_file,
        "MAMORI_SERVER=https://mamori.example.co.jp:8443\n",
    )
    .unwrap();
    let unit = unit
        .replace("/usr/bin/mamori", MAMORI)
        .replace("/etc/mamori/agent.env", env_file.to_str().unwrap());
    let path = dir.path().join("mamori-agent.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !complaints.contains("mamori-agent.service"),
        "{complaints}"
    );
}

/// A policy whose only rule asks a reason for classified files going to removable media.
const JUSTIFY_POLICY: &str = r#"format = 1
name = "justify-test"
revision = 1
[[rules]]
id = "usb-justify"
action = "justify"
message.en = "Classified files go to removable media only with a reason."
message.ja = "機密ファイルをUSBメモリへコピーするには理由が必要です。"
when.channels = ["removable_media"]
when.classified = true
"#;

#[test]
fn justify_lifts_a_copy_a_justify_rule_stopped_and_the_reason_is_recorded() {
    const REASON: &str = "引継ぎ資料を取引先へ渡すため";
    let env = Env::new();
    let dir = env.dir.path().to_path_buf();
    let Some(mount) = LoopMount::or_skip(&dir) else {
        return;
    };
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(dir.join("sys")).unwrap();
    std::fs::write(src.join("設計書.txt"), "社外秘\n新製品の設計仕様\n").unwrap();
    let policy = env.file("justify.toml", JUSTIFY_POLICY);
    // The socket where every local user can reach it (the test's directory is private).
    let run = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = run.path().join("mamori-agent/justify.sock");
    let token = last_line_of(env.run(&["agents", "enroll", "pc-4"]));
    let token_file = env.file("token", &token);
    let port = free_port();
    let mut server = serve(&env, port);
    let agent = Agent::start(
        &env,
        port,
        &[
            "--token-file",
            token_file.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--removable-mount",
            mount.dir.to_str().unwrap(),
            "--justify-socket",
            socket.to_str().unwrap(),
        ],
    );
    if !enforcing_on_the_mount(&dir.join("agent.log")) {
        return;
    }
    wait_for("the justification socket", || socket.exists());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o666, "any local user may ask");
    assert_eq!(mode(socket.parent().unwrap()), 0o755);

    let justify = |args: &[&str]| {
        let mut command = Command::new(MAMORI);
        command.args(args).arg("--socket").arg(&socket);
        run_with_deadline(command)
    };
    let copy = || {
        Command::new("cp")
            .arg(src.join("設計書.txt"))
            .arg(&mount.dir)
            .output()
            .unwrap()
    };

    // Nothing was stopped yet: nothing to justify, and the command says so.
    let out = justify(&["justify", REASON]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing awaits a justification"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("理由を待っている操作はありません"),
        "{}",
        stderr(&out)
    );

    // The copy is stopped by the `justify` rule.
    let denied = copy();
    assert!(
        !denied.status.success(),
        "the copy went through without a reason"
    );
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("not permitted"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    // It awaits its person's reason; listing grants nothing.
    let out = justify(&["--json", "justify", "--list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let pending = listed["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{listed}");
    assert!(
        pending[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("src/設計書.txt"),
        "{listed}"
    );
    assert_eq!(pending[0]["destination"], mount.dir.to_str().unwrap());
    assert_eq!(pending[0]["rule"], "usb-justify");
    assert!(!copy().status.success(), "listing granted something");

    // Somebody else's reason lifts nothing: the uid is the kernel's, not the request's.
    let as_nobody = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            MAMORI,
        ])
        .args([
            "justify",
            "--socket",
            socket.to_str().unwrap(),
            "not my copy",
        ])
        .output();
    match as_nobody {
        Ok(out) if stderr(&out).contains("nothing awaits") => {
            assert_eq!(out.status.code(), Some(1));
            assert!(!copy().status.success(), "another uid's reason lifted it");
        }
        other => eprintln!("not run as another user here: {other:?}"),
    }

    // The person's reason: the copy goes through, once more, within 10 minutes.
    let out = justify(&["justify", REASON]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("設計書.txt"), "{}", stdout(&out));
    let allowed = copy();
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(mount.dir.join("設計書.txt")).unwrap(),
        "社外秘\n新製品の設計仕様\n"
    );
    // Nothing awaits any more.
    let out = justify(&["justify", "again"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));

    let decided = |events: &[Value], outcome: &str| {
        of_kind(events, "policy.decision")
            .into_iter()
            .filter(|d| d["outcome"] == outcome)
            .cloned()
            .collect::<Vec<Value>>()
    };
    wait_for("the decisions to reach the server", || {
        let events = stored(&env);
        !decided(&events, "blocked").is_empty() && !decided(&events, "overridden").is_empty()
    });
    let mut agent = agent;
    terminate(&mut agent.child);
    assert!(!socket.exists(), "the socket is removed on exit");
    terminate(&mut server.0);
    let events = stored(&env);
    let blocked = decided(&events, "blocked");
    assert!(
        blocked.iter().all(|d| d["raw"]["rule"] == "usb-justify"
            && d["raw"]["action"] == "justify"
            && d["raw"]["enforced"] == true
            && d["raw"].get("justification").is_none()),
        "{blocked:?}"
    );
    let overridden = decided(&events, "overridden");
    assert_eq!(overridden.len(), 1, "{overridden:?}");
    let overridden = &overridden[0];
    assert_eq!(overridden["raw"]["justification"], REASON);
    assert_eq!(overridden["raw"]["verdict"], "overridden");
    assert_eq!(overridden["raw"]["rule"], "usb-justify");
    assert_eq!(overridden["raw"]["enforced"], true);
    assert_eq!(overridden["actor"]["process"]["name"], "cp");
    assert!(
        overridden["raw"]["destination_path"]
            .as_str()
            .unwrap()
            .ends_with("設計書.txt")
    );
    // The stopped copy came first.
    let position = |d: &Value| events.iter().position(|e| e == d).unwrap();
    assert!(position(&blocked[0]) < position(overridden));
    drop(mount);
}
