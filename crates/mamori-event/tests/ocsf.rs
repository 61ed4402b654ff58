//! OCSF mapping: class table, attribute placement, outcomes, foreign input, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_event::ocsf::{self, class_of, from_ocsf, kind_of, to_ocsf};
use mamori_event::{Event, Kind, Outcome};
use serde_json::{Value, json};

fn event(members: &str) -> Event {
    let line = format!(r#"{{"time":"2026-01-05T09:12:00.123456789Z",{members}}}"#);
    Event::from_json(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn round_trip(e: &Event) -> Value {
    let o = to_ocsf(e);
    assert_eq!(&from_ocsf(&o).unwrap(), e, "{o}");
    o
}

#[test]
fn every_kind_has_a_class_and_comes_back() {
    for k in Kind::ALL {
        let c = class_of(*k);
        assert_eq!(
            c.type_uid(),
            u64::from(c.class_uid) * 100 + u64::from(c.activity_id)
        );
        let inferred = kind_of(
            c.class_uid.into(),
            c.activity_id.into(),
            Some(c.activity_name),
        );
        let e = event(&format!(
            r#""kind":"{}","actor":{{"user":"u"}},"outcome":"success""#,
            k.as_str()
        ));
        let o = round_trip(&e);
        assert_eq!(o["class_uid"], json!(c.class_uid));
        assert_eq!(o["activity_id"], json!(c.activity_id));
        assert_eq!(o["type_uid"], json!(c.type_uid()));
        if *k == Kind::LogonFailed {
            assert_eq!(inferred, Some(Kind::Logon));
            assert_eq!(o["unmapped"]["kind"], json!("logon.failed"));
        } else if matches!(k, Kind::DeviceConnect | Kind::DeviceDisconnect) {
            // OCSF requires peripheral_device.name; the event has no destination.
            assert_eq!(inferred, Some(*k));
            assert_eq!(o["unmapped"], json!({"destination": {"name": null}}));
        } else {
            assert_eq!(inferred, Some(*k));
            assert!(o.get("unmapped").is_none(), "{k}: {o}");
        }
    }
}

#[test]
fn outcomes() {
    let cases = [
        (Outcome::Success, json!([1, null, null, null])),
        (Outcome::Failure, json!([2, null, null, null])),
        (Outcome::Blocked, json!([2, 2, 2, "Blocked"])),
        (Outcome::Warned, json!([1, 1, 19, "Alert"])),
        (Outcome::Overridden, json!([1, 1, 99, "Overridden"])),
    ];
    for (outcome, want) in cases {
        let e = event(&format!(
            r#""kind":"file.copy","actor":{{"user":"u"}},"outcome":"{}""#,
            outcome.as_str()
        ));
        let o = round_trip(&e);
        let got = json!([
            o["status_id"],
            o.get("action_id"),
            o.get("disposition_id"),
            o.get("disposition")
        ]);
        assert_eq!(got, want, "{outcome}");
    }
}

#[test]
fn attribute_placement() {
    let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let e = event(&format!(
        r#""kind":"file.copy","actor":{{"user":"ACM2278","host":"PC-1","ip":"10.0.0.5","session":"s1","process":{{"name":"explorer.exe","path":"C:/Windows/explorer.exe","pid":4312,"sha256":"{sha}"}}}},"object":{{"path":"C:/d/a.dwg","name":"a.dwg","size":5,"extension":"dwg","sha256":"{sha}","type":"dwg","labels":["社外秘"]}},"destination":{{"kind":"removable","name":"KINGSTON","external":true}},"outcome":"blocked","source":{{"name":"ndjson","ref":"r1"}},"raw":{{"EventID":4663}},"nonce":"AAECAwQFBgcICQoLDA0ODw""#
    ));
    let o = round_trip(&e);
    assert_eq!(o["actor"]["user"]["name"], "ACM2278");
    assert_eq!(o["actor"]["session"]["uid"], "s1");
    assert_eq!(o["actor"]["process"]["pid"], 4312);
    assert_eq!(
        o["actor"]["process"]["file"]["path"],
        "C:/Windows/explorer.exe"
    );
    assert_eq!(
        o["actor"]["process"]["file"]["hashes"][0]["algorithm_id"],
        3
    );
    assert_eq!(o["actor"]["process"]["file"]["hashes"][0]["value"], sha);
    assert_eq!(o["device"]["hostname"], "PC-1");
    assert_eq!(o["device"]["ip"], "10.0.0.5");
    assert!(o.get("src_endpoint").is_none()); // system class
    assert_eq!(o["file"]["name"], "a.dwg");
    assert_eq!(o["file"]["ext"], "dwg");
    assert_eq!(o["file"]["size"], 5);
    assert_eq!(o["time"], json!(1_767_604_320_123i64));
    assert_eq!(o["time_dt"], "2026-01-05T09:12:00.123456789Z");
    assert_eq!(o["metadata"]["log_name"], "ndjson");
    assert_eq!(o["metadata"]["uid"], mamori_event::to_hex(&e.identity()));
    assert_eq!(
        o["unmapped"],
        json!({
            "object": {"labels": ["社外秘"], "type": "dwg"},
            "destination": {"external": true, "kind": "removable", "name": "KINGSTON"},
            "source": {"ref": "r1"},
            "raw": {"EventID": 4663},
            "nonce": "AAECAwQFBgcICQoLDA0ODw",
        })
    );

    let mail = event(
        r#""kind":"email.send","actor":{"user":"u","host":"PC-1"},"object":{"subject":"見積","size":10},"destination":{"kind":"email","domain":"p.example","external":true,"recipients":["a@p.example","b@p.example"]},"outcome":"warned""#,
    );
    let o = round_trip(&mail);
    assert_eq!(
        o["email"],
        json!({"subject": "見積", "size": 10, "to": ["a@p.example", "b@p.example"]})
    );
    assert_eq!(o["dst_endpoint"]["domain"], "p.example");
    assert_eq!(o["src_endpoint"]["hostname"], "PC-1");

    let usb = event(
        r#""kind":"device.connect","actor":{"user":"u"},"destination":{"kind":"removable","name":"KINGSTON DT","device_id":"USB\\VID_0951"},"outcome":"success""#,
    );
    let o = round_trip(&usb);
    assert_eq!(
        o["peripheral_device"],
        json!({"name": "KINGSTON DT", "uid": "USB\\VID_0951", "type_id": 1, "type": "External Storage"})
    );
    let bare = event(r#""kind":"device.connect","actor":{"user":"u"},"outcome":"success""#);
    let o = round_trip(&bare);
    assert_eq!(o["peripheral_device"]["name"], "Unknown");
    assert_eq!(o["unmapped"]["destination"], json!({"name": null}));

    let group = event(
        r#""kind":"account.group_add","actor":{"user":"admin"},"object":{"name":"ACM2278","type":"account"},"destination":{"kind":"local","name":"Domain Admins"},"outcome":"success""#,
    );
    let o = round_trip(&group);
    assert_eq!(o["user"]["name"], "ACM2278");
    assert_eq!(o["group"]["name"], "Domain Admins");
    assert_eq!(o["class_uid"], 3006);

    let proc_start = event(
        r#""kind":"process.start","actor":{"user":"u","process":{"name":"explorer.exe"}},"object":{"path":"C:\\Tools\\7z.exe"},"outcome":"success""#,
    );
    let o = round_trip(&proc_start);
    assert_eq!(o["process"]["file"]["path"], "C:\\Tools\\7z.exe");
    assert_eq!(o["process"]["file"]["name"], "7z.exe");
    assert_eq!(o["unmapped"]["object"], json!({"name": null}));

    let upload = event(
        r#""kind":"http.upload","actor":{"user":"u"},"object":{"url":"https://x.example/u","name":"a.zip"},"destination":{"kind":"cloud","domain":"x.example"},"outcome":"success""#,
    );
    let o = round_trip(&upload);
    assert_eq!(
        o["http_request"]["url"]["url_string"],
        "https://x.example/u"
    );
    assert_eq!(o["activity_name"], "Post");
}

#[test]
fn reads_foreign_ocsf() {
    let foreign = json!({
        "class_uid": 3002, "activity_id": 1, "category_uid": 3, "severity_id": 1,
        "time": 1767604320000i64,
        "status_id": 2,
        "actor": {"user": {"name": "ACM2278", "uid": "S-1-5-21-1"}},
        "user": {"name": "ACM2278"},
        "device": {"hostname": "PC-1234", "os": {"name": "Windows"}},
        "metadata": {"version": "1.3.0", "product": {"name": "Other"}},
        "unmapped": {"vendor_field": 1}
    });
    let e = from_ocsf(&foreign).unwrap();
    assert_eq!(e.kind, Kind::Logon);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.account(), "ACM2278");
    assert_eq!(e.actor.host.as_deref(), Some("PC-1234"));
    assert_eq!(
        mamori_event::Event::from_json(&e.canonical_json()).unwrap(),
        e
    );

    // A file event with only an MD5 fingerprint: no sha256, no error.
    let file = json!({
        "class_uid": 1001, "activity_id": 4, "time": 0, "status_id": 1,
        "actor": {"user": {"name": "u"}},
        "file": {"name": "a.txt", "hashes": [{"algorithm_id": 1, "value": "d41d8cd98f00b204e9800998ecf8427e"}]}
    });
    let e = from_ocsf(&file).unwrap();
    assert_eq!(e.kind, Kind::FileDelete);
    assert_eq!(e.object.unwrap().sha256, None);
    assert_eq!(e.time, jiff::Timestamp::UNIX_EPOCH);
}

#[test]
fn errors() {
    let err = |v: Value| from_ocsf(&v).unwrap_err().to_string();
    assert_eq!(err(json!([])), "expected an OCSF event object");
    assert_eq!(
        err(json!({"class_uid": 4001, "activity_id": 1})),
        "class_uid: no Mamori kind for class_uid 4001 activity_id 1"
    );
    assert_eq!(
        err(json!({"class_uid": 1001, "activity_id": 99, "activity_name": "Frobnicate"})),
        "class_uid: no Mamori kind for class_uid 1001 activity_id 99"
    );
    assert_eq!(
        err(json!({"class_uid": 1001})),
        "activity_id: missing field"
    );
    let base = json!({"class_uid": 1001, "activity_id": 4, "time_dt": "2026-01-05T09:12:00Z", "status_id": 1});
    let mut no_user = base.clone();
    no_user["actor"] = json!({"process": {"name": "x"}});
    assert_eq!(err(no_user), "actor.user: missing field");
    let mut bad_time = base.clone();
    bad_time["actor"] = json!({"user": {"name": "u"}});
    bad_time["time_dt"] = json!("yesterday");
    assert_eq!(
        err(bad_time),
        r#"time: invalid RFC 3339 timestamp "yesterday""#
    );
    let mut no_status = base.clone();
    no_status["actor"] = json!({"user": {"name": "u"}});
    no_status.as_object_mut().unwrap().remove("status_id");
    assert_eq!(err(no_status), "status_id: missing field");
    let mut bad_unmapped = base;
    bad_unmapped["actor"] = json!({"user": {"name": "u"}});
    bad_unmapped["unmapped"] = json!({"object": {"colour": "red"}});
    assert_eq!(
        err(bad_unmapped),
        "object.colour: unknown field, expected one of: extension, labels, name, path, sha256, size, subject, type, url"
    );
    assert_eq!(ocsf::OCSF_VERSION, "1.7.0");
}
