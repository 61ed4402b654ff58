//! JSON field names of the event model, in one place.
//!
//! Input and canonical form use the same names. Every other part of the crate (parsing,
//! canonical serialisation, OCSF mapping) refers to these constants instead of retyping the
//! strings, so a rename is a one-line change and a typo is a compile error.

// Event (top level). Canonical order: actor, destination, kind, nonce, object, outcome, raw,
// source, time, v.
/// Event schema version (`1`).
pub const V: &str = "v";
/// When the action happened (RFC 3339).
pub const TIME: &str = "time";
/// What kind of action ([`crate::Kind`]).
pub const KIND: &str = "kind";
/// Who performed it ([`crate::Actor`]).
pub const ACTOR: &str = "actor";
/// What it was performed on ([`crate::Object`]).
pub const OBJECT: &str = "object";
/// Where data went ([`crate::Destination`]).
pub const DESTINATION: &str = "destination";
/// How it ended ([`crate::Outcome`]).
pub const OUTCOME: &str = "outcome";
/// Where the record came from ([`crate::Source`]).
pub const SOURCE: &str = "source";
/// Original source fields, any JSON object.
pub const RAW: &str = "raw";
/// 128 random bits, base64url.
pub const NONCE: &str = "nonce";

// Actor. Canonical order: host, ip, process, session, user.
/// The account (user id) that performed the action; required, non-empty.
pub const USER: &str = "user";
/// Host name the action happened on.
pub const HOST: &str = "host";
/// IP address of that host.
pub const IP: &str = "ip";
/// The process that performed the action ([`crate::Process`]).
pub const PROCESS: &str = "process";
/// Logon / session identifier.
pub const SESSION: &str = "session";

// Process. Canonical order: name, path, pid, sha256.
/// Name (object, process, destination, source).
pub const NAME: &str = "name";
/// File system path (object, process).
pub const PATH: &str = "path";
/// Process id.
pub const PID: &str = "pid";
/// SHA-256 of the content, 64 hex characters (object, process).
pub const SHA256: &str = "sha256";

// Object. Canonical order: extension, labels, name, path, sha256, size, subject, type, url.
/// URL of the object (web, cloud).
pub const URL: &str = "url";
/// Subject (e-mail, document title).
pub const SUBJECT: &str = "subject";
/// Size in bytes.
pub const SIZE: &str = "size";
/// Content type as the source names it (e.g. `dwg`, `application/pdf`).
pub const TYPE: &str = "type";
/// File name extension without the dot.
pub const EXTENSION: &str = "extension";
/// Classification labels (e.g. `社外秘`).
pub const LABELS: &str = "labels";

// Destination. Canonical order: device_id, domain, external, kind, name, recipients.
// (`kind` and `name` are shared with the event and object.)
/// Device instance id (e.g. Windows PnP id of a USB stick).
pub const DEVICE_ID: &str = "device_id";
/// DNS domain of the destination.
pub const DOMAIN: &str = "domain";
/// Whether the destination is outside the organisation.
pub const EXTERNAL: &str = "external";
/// E-mail recipients.
pub const RECIPIENTS: &str = "recipients";

// Source. Canonical order: name, ref.
/// The source's own record reference.
pub const REF: &str = "ref";

/// Fields of the top-level event, in canonical (RFC 8785) order.
pub const EVENT_FIELDS: &[&str] = &[
    ACTOR,
    DESTINATION,
    KIND,
    NONCE,
    OBJECT,
    OUTCOME,
    RAW,
    SOURCE,
    TIME,
    V,
];
/// Fields of `actor`, in canonical order.
pub const ACTOR_FIELDS: &[&str] = &[HOST, IP, PROCESS, SESSION, USER];
/// Fields of `actor.process`, in canonical order.
pub const PROCESS_FIELDS: &[&str] = &[NAME, PATH, PID, SHA256];
/// Fields of `object`, in canonical order.
pub const OBJECT_FIELDS: &[&str] = &[
    EXTENSION, LABELS, NAME, PATH, SHA256, SIZE, SUBJECT, TYPE, URL,
];
/// Fields of `destination`, in canonical order.
pub const DESTINATION_FIELDS: &[&str] = &[DEVICE_ID, DOMAIN, EXTERNAL, KIND, NAME, RECIPIENTS];
/// Fields of `source`, in canonical order.
pub const SOURCE_FIELDS: &[&str] = &[NAME, REF];
