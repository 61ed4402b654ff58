//! The API's description: every route the server registers is listed here, and the router is
//! built from this list (`serve::router`), so `GET /api/v1/openapi.json` (OpenAPI 3.1) cannot
//! leave a route out or describe one that is not there.

use mamori_store::auth::Role;

use crate::api;
use serde_json::{Map, Value, json};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// An agent's `ingest` token (`mamori agents enroll`).
    IngestToken,
    /// A signed-in user (API token or session) with one of these roles; everyone else is
    /// refused (default deny: a route names the roles it admits).
    Roles(&'static [Role]),
    /// An agent's `ingest` token, or a signed-in user with one of these roles.
    IngestTokenOrRoles(&'static [Role]),
}

/// What a request body or an answer holds.
#[derive(Debug, Clone, Copy)]
pub enum Media {
    Text,
    Html,
    Octets,
    Zip,
    Ndjson,
    /// An HTML form (`application/x-www-form-urlencoded`) with this schema.
    Form(fn() -> Value),
    /// No body (`204`).
    Empty,
    /// JSON with this schema.
    Json(fn() -> Value),
}

/// One route: its method and path (axum's syntax), what it does, and what it answers.
#[derive(Debug)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// Query or path parameters: name, location (`query`, `path`), type (`string`,
    /// `integer` from 1, `leaf` from 0, `token` a mail link's token), description.
    pub parameters: &'static [(&'static str, &'static str, &'static str, &'static str)],
    /// The request body, if it takes one.
    pub body: Option<Media>,
    /// Status, description and body of the answers particular to the route; the refusals
    /// every route of its kind can give (`401`, `403`, `429`, `503`, `400` for a bad query or
    /// body) are added by [`document`].
    pub responses: &'static [(u16, &'static str, Media)],
}

const ALL: &[Role] = &Role::ALL;
const LIMIT: (&str, &str, &str, &str) = (
    "limit",
    "query",
    "integer",
    "How many records (default 100, at most 1000).",
);
const MANAGER: (&str, &str, &str, &str) = (
    "manager",
    "path",
    "string",
    "The manager: a person's pseudonym or HR person id.",
);
/// Who reviews and attests access: administrators and approvers.
const REVIEWERS: &[Role] = &[Role::Admin, Role::Approver];
const CASE_ID: (&str, &str, &str, &str) = ("id", "path", "integer", "The case's id.");

pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        summary: "Liveness: answers `ok`.",
        access: Access::Public,
        parameters: &[],
        body: None,
        responses: &[(200, "The server is up.", Media::Text)],
    },
    Route {
        method: "get",
        path: "/transparency",
        summary: "What is collected about employees, why, for how long, and who is responsible (docs/privacy.md).",
        access: Access::Public,
        parameters: &[(
            "lang",
            "query",
            "string",
            "`ja` or `en`; otherwise from Accept-Language, then Japanese.",
        )],
        body: None,
        responses: &[(200, "The page.", Media::Html)],
    },
    Route {
        method: "get",
        path: "/tlog/events/checkpoint",
        summary: "The latest signed checkpoint of the events log (C2SP tlog-tiles).",
        access: Access::Public,
        parameters: &[],
        body: None,
        responses: &[
            (200, "A signed note.", Media::Text),
            (404, "No checkpoint yet.", Media::Text),
        ],
    },
    Route {
        method: "get",
        path: "/tlog/events/tile/{*path}",
        summary: "A tile or entry bundle of the events log, up to the latest checkpoint (C2SP tlog-tiles).",
        access: Access::Public,
        parameters: &[TILE_PATH],
        body: None,
        responses: TILE_RESPONSES,
    },
    Route {
        method: "get",
        path: "/tlog/access/checkpoint",
        summary: "The latest signed checkpoint of the access log: every read of personal data and every change (C2SP tlog-tiles).",
        access: Access::Public,
        parameters: &[],
        body: None,
        responses: &[
            (200, "A signed note.", Media::Text),
            (404, "No checkpoint yet.", Media::Text),
        ],
    },
    Route {
        method: "get",
        path: "/tlog/access/tile/{*path}",
        summary: "A tile or entry bundle of the access log, up to its latest checkpoint.",
        access: Access::Public,
        parameters: &[TILE_PATH],
        body: None,
        responses: TILE_RESPONSES,
    },
    Route {
        method: "post",
        path: "/api/v1/events",
        summary: "Events from agents and forwarders, as NDJSON (optionally gzip); every line is answered with its ledger leaf or the reason it was rejected (docs/api.md).",
        access: Access::IngestToken,
        parameters: &[],
        body: Some(Media::Ndjson),
        responses: &[
            (
                200,
                "Accepted lines with their leaves, rejected lines with reasons.",
                Media::Json(schema::ingested),
            ),
            (413, "Over 16 MiB, or over 64 MiB decompressed.", ERROR),
            (415, "A Content-Encoding other than gzip.", ERROR),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/mail/links",
        summary: "The mail guard registers the release and cancel links it e-mailed for a delayed or held message: the SHA-256 of each link's token, never the token (docs/api.md). Registering a link again changes nothing and counts it.",
        access: Access::IngestToken,
        parameters: &[],
        body: Some(Media::Json(schema::mail_links)),
        responses: &[
            (
                200,
                "Registered (or registered before).",
                Media::Json(schema::mail_registered),
            ),
            (
                400,
                "A field is missing or wrong: the message names it.",
                ERROR,
            ),
            (413, "Over 1 MiB.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/mail/actions",
        summary: "The decisions taken through the links the calling agent registered, after `after`, oldest first, at most 500.",
        access: Access::IngestToken,
        parameters: &[(
            "after",
            "query",
            "leaf",
            "Only decisions with a greater `seq` (default 0): the last one applied.",
        )],
        body: None,
        responses: &[(200, "The decisions.", Media::Json(schema::mail_actions))],
    },
    Route {
        method: "get",
        path: "/api/v1/policy",
        summary: "The prevention policy in force (docs/policy.md): its name, revision, mode and TOML text, for agents to enforce and administrators to read. The ETag is the revision: agents poll with If-None-Match and keep their copy while the answer is 304.",
        access: Access::IngestTokenOrRoles(api::ADMINS),
        parameters: &[],
        body: None,
        responses: &[
            (
                200,
                "The policy; header ETag: \"<revision>\".",
                Media::Json(schema::policy),
            ),
            (
                304,
                "If-None-Match names the installed revision: the caller's copy is current.",
                Media::Empty,
            ),
            (404, "No policy is installed.", ERROR),
        ],
    },
    Route {
        method: "put",
        path: "/api/v1/policy",
        summary: "Installs a new prevention policy: its TOML text (text/plain or application/toml, at most 1 MiB), validated, with a revision above the installed one's; stored in the data directory and recorded in the access log.",
        access: Access::Roles(api::ADMINS),
        parameters: &[],
        body: Some(Media::Text),
        responses: &[
            (200, "Installed.", Media::Json(schema::policy_installed)),
            (
                400,
                "Not a valid policy: the message names the line or the key.",
                ERROR,
            ),
            (
                409,
                "The revision is not above the installed policy's.",
                ERROR,
            ),
            (413, "Over 1 MiB.", ERROR),
            (
                415,
                "A Content-Type other than text/plain or application/toml.",
                ERROR,
            ),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/decisions",
        summary: "Decides one request (who sends what, where, how) under the policy in force: the action, the verdict, the rules that matched and the message to show. A decision other than a plain allow is stored in the events ledger as a policy.decision event before the answer names its leaf.",
        access: Access::IngestToken,
        parameters: &[],
        body: Some(Media::Json(schema::decision_request)),
        responses: &[
            (
                200,
                "The decision, with the leaf of its event (null when not recorded).",
                Media::Json(schema::policy_decision),
            ),
            (
                400,
                "The body is not a request: the message names the field.",
                ERROR,
            ),
            (413, "Over 64 KiB.", ERROR),
            (
                503,
                "No policy is installed, or the store is not available.",
                ERROR,
            ),
        ],
    },
    Route {
        method: "get",
        path: "/mail/hold/{token}",
        summary: "The page of a release or cancel link of held mail: the message, why it was stopped, its state and, while undecided, the buttons. Needs no sign-in (the token is the capability) and never changes anything.",
        access: Access::Public,
        parameters: &[
            MAIL_TOKEN,
            (
                "lang",
                "query",
                "string",
                "`ja` or `en`; otherwise from Accept-Language, then Japanese.",
            ),
        ],
        body: None,
        responses: MAIL_PAGE_RESPONSES,
    },
    Route {
        method: "post",
        path: "/mail/hold/{token}",
        summary: "Releases (sends) or cancels the link's message: the first decision on the message, through the sender's or the approver's link, is the one taken; it is recorded in the access log as the link's reader.",
        access: Access::Public,
        parameters: &[
            MAIL_TOKEN,
            (
                "lang",
                "query",
                "string",
                "`ja` or `en`; otherwise from Accept-Language, then Japanese.",
            ),
        ],
        body: Some(Media::Form(schema::mail_decision)),
        responses: &[
            (200, "Decided: the page with the new state.", Media::Html),
            (
                400,
                "The form is not `action=release` or `action=cancel`: the page again.",
                Media::Html,
            ),
            (
                403,
                "A sender's link asked to release a message held for approval.",
                Media::Html,
            ),
            (404, "No such link.", Media::Html),
            (
                409,
                "The message was decided before: the page with that decision.",
                Media::Html,
            ),
            (410, "The link has expired.", Media::Html),
            (413, "The form is over 1 KiB.", Media::Html),
            (
                429,
                "The store is busy: open the page again after Retry-After.",
                Media::Html,
            ),
            (503, "The store is not available.", Media::Html),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/login",
        summary: "Signs in with a name and password: sets the session cookie and answers the CSRF token that changes made with it must send in `X-CSRF-Token`.",
        access: Access::Public,
        parameters: &[],
        body: Some(Media::Json(schema::login)),
        responses: &[
            (200, "Signed in.", Media::Json(schema::signed_in)),
            (400, "Not a JSON body with `name` and `password`.", ERROR),
            (
                401,
                "Wrong name or password, or the account is locked.",
                ERROR,
            ),
            (
                429,
                "Too many attempts from this address: wait for Retry-After.",
                ERROR,
            ),
            (503, "The store is not available.", ERROR),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/logout",
        summary: "Ends the caller's session.",
        access: Access::Roles(ALL),
        parameters: &[],
        body: None,
        responses: &[(204, "Signed out.", Media::Empty)],
    },
    Route {
        method: "get",
        path: "/api/v1/me",
        summary: "Who the caller is, and whether their one-time password still has to be replaced.",
        access: Access::Roles(ALL),
        parameters: &[],
        body: None,
        responses: &[(200, "The caller.", Media::Json(schema::me))],
    },
    Route {
        method: "post",
        path: "/api/v1/password",
        summary: "Replaces the caller's password (the one-time password first of all); ends their other sessions.",
        access: Access::Roles(ALL),
        parameters: &[],
        body: Some(Media::Json(schema::password)),
        responses: &[
            (204, "Changed.", Media::Empty),
            (
                422,
                "The new password is too short or the same as the current one.",
                ERROR,
            ),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/alerts",
        summary: "Alerts, newest first, about pseudonymised persons.",
        access: Access::Roles(api::ANALYSTS),
        parameters: &[
            (
                "status",
                "query",
                "string",
                "`open`, `dismissed` or `escalated`.",
            ),
            (
                "min_severity",
                "query",
                "string",
                "`low`, `medium`, `high` or `critical`.",
            ),
            (
                "person",
                "query",
                "string",
                "Only this person's (pseudonym).",
            ),
            (
                "kind",
                "query",
                "string",
                "Only this kind (`rule`, `risk_level`).",
            ),
            (
                "sort",
                "query",
                "string",
                "`time` (newest first, the default) or `severity` (most severe first).",
            ),
            LIMIT,
        ],
        body: None,
        responses: &[(200, "The alerts.", Media::Json(schema::alerts))],
    },
    Route {
        method: "post",
        path: "/api/v1/alerts/triage",
        summary: "Dismisses (with a reason), assigns or reopens alerts, one or many: all are checked before any changes.",
        access: Access::Roles(api::ANALYSTS),
        parameters: &[],
        body: Some(Media::Json(schema::triage)),
        responses: &[
            (200, "Done.", Media::Json(schema::updated)),
            (404, "An alert does not exist.", ERROR),
            (
                422,
                "No reason for a dismissal, an escalated alert, or an assignee who cannot work on alerts.",
                ERROR,
            ),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/dashboard",
        summary: "The organisation at a glance: persons by risk level per day, open alerts by severity and department, top indicators, event kinds' last arrival, ingest rate. Counts only.",
        access: Access::Roles(api::ANALYSTS),
        parameters: &[(
            "days",
            "query",
            "integer",
            "Days of trend up to the latest scored day (default 90, at most 366).",
        )],
        body: None,
        responses: &[(200, "The figures.", Media::Json(schema::dashboard))],
    },
    Route {
        method: "get",
        path: "/api/v1/events",
        summary: "Organisation-wide event search, pseudonymised, a page at a time in leaf order; at most 20,000 events or 100 ms of reading per request (`more` and `next_after` say where to go on).",
        access: Access::Roles(api::ANALYSTS),
        parameters: &[
            ("from", "query", "string", "From this time (RFC 3339)."),
            ("to", "query", "string", "Before this time (RFC 3339)."),
            (
                "kind",
                "query",
                "string",
                "Only this kind, e.g. `file.copy`.",
            ),
            (
                "person",
                "query",
                "string",
                "Only this person's (pseudonym).",
            ),
            (
                "destination",
                "query",
                "string",
                "Part of a destination (domain, device, recipient, URL), matched on the pseudonymised event.",
            ),
            (
                "label",
                "query",
                "string",
                "A classification label of the object, e.g. 社外秘.",
            ),
            (
                "after",
                "query",
                "leaf",
                "Only events after this leaf: the previous page's `next_after`.",
            ),
            LIMIT,
        ],
        body: None,
        responses: &[
            (200, "The events found.", Media::Json(schema::search)),
            (404, "No person with this pseudonym.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/persons/{person}/events",
        summary: "One person's activity in leaf order, pseudonymised.",
        access: Access::Roles(api::ANALYSTS),
        parameters: &[
            (
                "person",
                "path",
                "string",
                "The person's pseudonym (`P-…`).",
            ),
            ("from", "query", "string", "From this time (RFC 3339)."),
            ("to", "query", "string", "Before this time (RFC 3339)."),
            (
                "after",
                "query",
                "leaf",
                "Only events after this leaf: the previous page's `next_after`.",
            ),
            LIMIT,
        ],
        body: None,
        responses: &[
            (200, "The events.", Media::Json(schema::person_events)),
            (404, "No person with this pseudonym.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/persons/{person}/risk",
        summary: "One person's daily risk scores and levels with their explanations.",
        access: Access::Roles(api::ANALYSTS),
        parameters: &[(
            "person",
            "path",
            "string",
            "The person's pseudonym (`P-…`).",
        )],
        body: None,
        responses: &[
            (200, "The days.", Media::Json(schema::risk)),
            (404, "No person with this pseudonym.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/cases",
        summary: "Cases, newest first.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[(
            "status",
            "query",
            "string",
            "`open`, `investigating` or `closed`.",
        )],
        body: None,
        responses: &[(200, "The cases.", Media::Json(schema::cases))],
    },
    Route {
        method: "post",
        path: "/api/v1/cases",
        summary: "Opens a case from open alerts about one person.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[],
        body: Some(Media::Json(schema::new_case)),
        responses: &[
            (201, "Opened.", Media::Json(schema::created)),
            (404, "An alert does not exist.", ERROR),
            (
                422,
                "An alert is not open, or they are about different persons.",
                ERROR,
            ),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/cases/{id}",
        summary: "A case with its alerts, events, notes and reveal and export requests; persons revealed only under the caller's granted reveal.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: None,
        responses: &[
            (200, "The case.", Media::Json(schema::case)),
            (404, "No such case.", ERROR),
        ],
    },
    Route {
        method: "patch",
        path: "/api/v1/cases/{id}",
        summary: "Moves a case along: status (an outcome when closing) and assignee.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: Some(Media::Json(schema::case_change)),
        responses: &[
            (200, "The case.", Media::Json(schema::case_summary)),
            (404, "No such case.", ERROR),
            (
                422,
                "Closing without an outcome, an outcome without closing, or an assignee who is not an investigator.",
                ERROR,
            ),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/cases/{id}/events",
        summary: "The events a case rests on (at most 1000), pseudonymised unless revealed.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: None,
        responses: &[
            (200, "The events.", Media::Json(schema::case_events)),
            (404, "No such case.", ERROR),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/cases/{id}/notes",
        summary: "Adds a note to a case.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: Some(Media::Json(schema::note)),
        responses: &[
            (201, "Added.", Media::Json(schema::created)),
            (404, "No such case.", ERROR),
            (422, "An empty note.", ERROR),
        ],
    },
    Route {
        method: "put",
        path: "/api/v1/cases/{id}/legal-hold",
        summary: "Puts a case's events under legal hold (retention keeps them) or releases them.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: Some(Media::Json(schema::legal_hold)),
        responses: &[
            (200, "Done.", Media::Json(schema::legal_hold_state)),
            (404, "No such case.", ERROR),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/cases/{id}/reveals",
        summary: "Asks to see who is behind the case's pseudonyms, for a declared purpose with a written justification; under dual control an approver decides.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: Some(Media::Json(schema::new_request)),
        responses: REQUEST_RESPONSES,
    },
    Route {
        method: "post",
        path: "/api/v1/cases/{id}/exports",
        summary: "Asks to export the case's evidence bundle, for a declared purpose with a written justification; under dual control an approver decides.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: Some(Media::Json(schema::new_request)),
        responses: REQUEST_RESPONSES,
    },
    Route {
        method: "get",
        path: "/api/v1/cases/{id}/bundle",
        summary: "The case's evidence bundle: its events as stored, with inclusion proofs to the latest signed checkpoint and a signed manifest (docs/evidence.md); needs the caller's granted export.",
        access: Access::Roles(api::INVESTIGATORS),
        parameters: &[CASE_ID],
        body: None,
        responses: &[
            (200, "The bundle (ZIP).", Media::Zip),
            (404, "No such case.", ERROR),
            (422, "Too many events for one bundle.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/approvals",
        summary: "Reveal and export requests, newest first.",
        access: Access::Roles(api::APPROVERS),
        parameters: &[(
            "status",
            "query",
            "string",
            "`pending`, `granted` or `denied`.",
        )],
        body: None,
        responses: &[(200, "The requests.", Media::Json(schema::approvals))],
    },
    Route {
        method: "post",
        path: "/api/v1/approvals/{id}/decision",
        summary: "Grants or denies a pending reveal or export request; nobody decides their own.",
        access: Access::Roles(api::APPROVERS),
        parameters: &[("id", "path", "integer", "The request's id.")],
        body: Some(Media::Json(schema::decision)),
        responses: &[
            (200, "Decided.", Media::Json(schema::approval)),
            (404, "No such request.", ERROR),
            (422, "Decided already, or the caller asked for it.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/access-reviews/{manager}",
        summary: "A manager's access review: their people (pseudonymised) with each account's directory, state, last use, groups and the latest keep/revoke decision (docs/review.md).",
        access: Access::Roles(REVIEWERS),
        parameters: &[
            MANAGER,
            (
                "as_of",
                "query",
                "string",
                "The day (YYYY-MM-DD, UTC); default today.",
            ),
            (
                "all_levels",
                "query",
                "boolean",
                "Also the people of the manager's people, down every level.",
            ),
        ],
        body: None,
        responses: &[
            (200, "The review.", Media::Json(schema::access_review)),
            (404, "No such person.", ERROR),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/access-reviews/{manager}/decisions",
        summary: "Keeps or revokes an account of the manager's people (any level), or one of its groups; a revoke needs a comment of 10 characters or more.",
        access: Access::Roles(REVIEWERS),
        parameters: &[MANAGER],
        body: Some(Media::Json(schema::review_decision_change)),
        responses: &[
            (200, "Stored.", Media::Json(schema::review_decision)),
            (
                404,
                "No such person, or the account or group is not one of the manager's people's.",
                ERROR,
            ),
            (
                422,
                "Not `keep` or `revoke`, or a revoke without a comment.",
                ERROR,
            ),
        ],
    },
    Route {
        method: "put",
        path: "/api/v1/me/preferences",
        summary: "The caller's console language and time zone.",
        access: Access::Roles(ALL),
        parameters: &[],
        body: Some(Media::Json(schema::preferences_change)),
        responses: &[
            (200, "Saved.", Media::Json(schema::preferences)),
            (422, "Not `ja` or `en`, or not a time zone name.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/purposes",
        summary: "The declared purposes (privacy.toml) a reveal or export must name.",
        access: Access::Roles(ALL),
        parameters: &[],
        body: None,
        responses: &[(200, "The purposes.", Media::Json(schema::purposes))],
    },
    Route {
        method: "get",
        path: "/api/v1/users",
        summary: "The users and their roles.",
        access: Access::Roles(api::ADMINS),
        parameters: &[],
        body: None,
        responses: &[(200, "The users.", Media::Json(schema::users))],
    },
    Route {
        method: "post",
        path: "/api/v1/users",
        summary: "Adds a user; answers their one-time password, once.",
        access: Access::Roles(api::ADMINS),
        parameters: &[],
        body: Some(Media::Json(schema::new_user)),
        responses: &[
            (201, "Added.", Media::Json(schema::added_user)),
            (422, "A bad name or role, or the name is taken.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/rules",
        summary: "The detection rules of the data directory's rules/ folder, with their settings and stored findings.",
        access: Access::Roles(&[Role::Admin, Role::Analyst, Role::Investigator]),
        parameters: &[],
        body: None,
        responses: &[(200, "The rules.", Media::Json(schema::rules))],
    },
    Route {
        method: "put",
        path: "/api/v1/rules/{id}",
        summary: "Switches a rule on or off and sets its severity (null: its own level); `mamori rules run` follows.",
        access: Access::Roles(api::ADMINS),
        parameters: &[("id", "path", "string", "The rule's id.")],
        body: Some(Media::Json(schema::rule_change)),
        responses: &[
            (200, "Saved.", Media::Json(schema::rule_setting)),
            (404, "No such rule.", ERROR),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/rules/{id}/backtest",
        summary: "Runs one rule over the stored history (switched on or not) and answers what it would have found: hits, persons, first and last. Counts only; one back-test at a time.",
        access: Access::Roles(api::ADMINS),
        parameters: &[
            ("id", "path", "string", "The rule's id."),
            ("from", "query", "string", "From this time (RFC 3339)."),
            ("to", "query", "string", "Before this time (RFC 3339)."),
        ],
        body: None,
        responses: &[
            (200, "What the rule found.", Media::Json(schema::backtest)),
            (404, "No such rule.", ERROR),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/settings",
        summary: "The configuration in force: purposes, retention periods, approval rules, session lifetimes.",
        access: Access::Roles(api::ADMINS),
        parameters: &[],
        body: None,
        responses: &[(200, "The settings.", Media::Json(schema::settings))],
    },
    Route {
        method: "get",
        path: "/api/v1/access-log",
        summary: "Who read or changed what, newest first; reading it is itself recorded.",
        access: Access::Roles(&[Role::Auditor]),
        parameters: &[LIMIT],
        body: None,
        responses: &[(200, "The records.", Media::Json(schema::access_log))],
    },
    Route {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This description.",
        access: Access::Public,
        parameters: &[],
        body: None,
        responses: &[(200, "OpenAPI 3.1.", Media::Json(schema::any_object))],
    },
];

const ERROR: Media = Media::Json(schema::error);
const REQUEST_RESPONSES: &[(u16, &str, Media)] = &[
    (
        201,
        "Requested (or granted, without dual control).",
        Media::Json(schema::approval),
    ),
    (404, "No such case.", ERROR),
    (
        422,
        "No justification, or a purpose that is not declared.",
        ERROR,
    ),
];
const MAIL_TOKEN: (&str, &str, &str, &str) = (
    "token",
    "path",
    "token",
    "The link's token: 32 random bytes, unpadded base64url (43 characters).",
);
const MAIL_PAGE_RESPONSES: &[(u16, &str, Media)] = &[
    (200, "The page.", Media::Html),
    (
        404,
        "No such link (the same page for every unknown token).",
        Media::Html,
    ),
    (
        429,
        "The store is busy: open the page again after Retry-After.",
        Media::Html,
    ),
    (503, "The store is not available.", Media::Html),
];
const TILE_PATH: (&str, &str, &str, &str) = (
    "path",
    "path",
    "string",
    "A canonical tile path, e.g. `0/x001/234` or `entries/000.p/17`.",
);
const TILE_RESPONSES: &[(u16, &str, Media)] = &[
    (200, "The tile.", Media::Octets),
    (
        404,
        "Not a tile path, or not covered by the latest checkpoint.",
        Media::Text,
    ),
];

/// The refusals every route of an access kind can answer besides its own.
fn common_responses(route: &Route) -> Vec<(u16, &'static str)> {
    let mut common = Vec::new();
    if route.access != Access::Public {
        common.extend([
            (401, "No credentials, or an unknown, expired or revoked token or session."),
            (403, "The caller's role may not use this route, a session's change came without its CSRF token, or a one-time password is still to be replaced."),
            (429, "The store is busy: send again after Retry-After."),
            (503, "The store is not available."),
        ]);
    }
    let has_query = route.parameters.iter().any(|p| p.1 == "query");
    if route.access != Access::Public && (has_query || route.body.is_some()) {
        common.push((
            400,
            "A query parameter or the body is not what the route takes.",
        ));
    }
    common
}

fn media_type(media: Media) -> Option<&'static str> {
    match media {
        Media::Text => Some("text/plain"),
        Media::Html => Some("text/html"),
        Media::Octets => Some("application/octet-stream"),
        Media::Zip => Some("application/zip"),
        Media::Ndjson => Some("application/x-ndjson"),
        Media::Form(_) => Some("application/x-www-form-urlencoded"),
        Media::Empty => None,
        Media::Json(_) => Some("application/json"),
    }
}

fn content(media: Media) -> Value {
    let schema = match media {
        Media::Json(schema) | Media::Form(schema) => schema(),
        Media::Empty => return json!({}),
        // One event object per line (docs/events.md).
        Media::Ndjson => json!({"type": "array", "items": {"type": "object"}}),
        _ => json!({"type": "string"}),
    };
    match media_type(media) {
        Some(media) => json!({ media: {"schema": schema} }),
        None => json!({}),
    }
}

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        // axum's catch-all `{*path}` is a plain path parameter in OpenAPI.
        let path = route.path.replace("{*", "{");
        let mut operation = Map::new();
        operation.insert("summary".into(), json!(route.summary));
        if !route.parameters.is_empty() {
            let parameters: Vec<Value> = route
                .parameters
                .iter()
                .map(|(name, location, kind, description)| {
                    // Ids and counts start at 1, ledger leaves at 0.
                    let schema = match *kind {
                        "integer" => json!({"type": "integer", "minimum": 1}),
                        "leaf" => json!({"type": "integer", "minimum": 0}),
                        "token" => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}),
                        other => json!({"type": other}),
                    };
                    json!({
                        "name": name,
                        "in": location,
                        "required": *location == "path",
                        "description": description,
                        "schema": schema,
                    })
                })
                .collect();
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(media) = route.body {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": content(media)}),
            );
        }
        let mut responses: Map<String, Value> = route
            .responses
            .iter()
            .map(|(status, description, media)| {
                (
                    status.to_string(),
                    json!({"description": description, "content": content(*media)}),
                )
            })
            .collect();
        for (status, description) in common_responses(route) {
            responses
                .entry(status.to_string())
                .or_insert_with(|| json!({"description": description, "content": content(ERROR)}));
        }
        operation.insert("responses".into(), Value::Object(responses));
        match route.access {
            Access::Public => operation.insert("security".into(), json!([])),
            Access::IngestToken => operation.insert("security".into(), json!([{"ingest": []}])),
            Access::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                operation.insert("x-mamori-roles".into(), json!(names));
                operation.insert("security".into(), json!([{"api": []}, {"session": []}]))
            }
            Access::IngestTokenOrRoles(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                operation.insert("x-mamori-roles".into(), json!(names));
                operation.insert(
                    "security".into(),
                    json!([{"ingest": []}, {"api": []}, {"session": []}]),
                )
            }
        };
        let entry = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.into(), Value::Object(operation));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Mamori",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Mamori's server: event ingest for agents, alerts, persons and cases under pseudonyms, reveals and evidence exports under dual control, the access log, the ledgers' tiles, the transparency page (docs/api.md).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ingest": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An agent's ingest token from `mamori agents enroll NAME`.",
                },
                "api": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A user's API token from `mamori tokens create --user NAME`; the route admits the roles in x-mamori-roles.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": crate::auth::COOKIE,
                    "description": "The session cookie from POST /api/v1/login; changes made with it also send the CSRF token from the login answer in X-CSRF-Token.",
                },
            },
        },
    })
}

/// JSON Schemas of request and answer bodies.
mod schema {
    use serde_json::{Value, json};

    fn object(required: &[&str], properties: Value) -> Value {
        json!({"type": "object", "required": required, "properties": properties})
    }

    fn list(key: &str, items: Value) -> Value {
        object(&[key], json!({ key: {"type": "array", "items": items} }))
    }

    fn nullable(kind: &str) -> Value {
        json!({"type": [kind, "null"]})
    }

    const TIME: &str = "string";

    pub fn any_object() -> Value {
        json!({"type": "object"})
    }

    pub fn error() -> Value {
        object(&["error"], json!({"error": {"type": "string"}}))
    }

    pub fn ingested() -> Value {
        object(
            &["accepted", "rejected"],
            json!({
                "accepted": {"type": "array", "items": object(&["line", "leaf"], json!({
                    "line": {"type": "integer"}, "leaf": {"type": "integer"}}))},
                "rejected": {"type": "array", "items": object(&["line", "reason"], json!({
                    "line": {"type": "integer"}, "reason": {"type": "string"}}))},
            }),
        )
    }

    pub fn mail_links() -> Value {
        let address = json!({"type": "string", "minLength": 1, "maxLength": 320});
        let time = json!({"type": "string", "description": "RFC 3339"});
        let reason = object(
            &["check", "en", "ja"],
            json!({
                "check": {"type": "string", "minLength": 1, "maxLength": 64},
                "en": {"type": "string", "maxLength": 2000},
                "ja": {"type": "string", "maxLength": 2000},
            }),
        );
        let mut reason = reason;
        reason["additionalProperties"] = json!(false);
        let mut link = object(
            &[
                "token_sha256",
                "id",
                "reader",
                "reader_address",
                "sender",
                "recipients",
                "action",
                "reasons",
                "received",
                "expires",
            ],
            json!({
                "token_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                                 "description": "SHA-256 of the link's token (the 43 characters in the link), in lowercase hex."},
                "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$", "description": "The message's queue id."},
                "reader": {"enum": ["sender", "approver"]},
                "reader_address": address,
                "sender": {"type": "string", "maxLength": 320},
                "recipients": {"type": "array", "items": address, "maxItems": 1000},
                "action": {"enum": ["delay", "hold_sender", "hold_approval"]},
                "reasons": {"type": "array", "items": reason, "maxItems": 50},
                "received": time,
                "send_at": {"type": ["string", "null"], "description": "RFC 3339: when a delayed message is sent by itself."},
                "expires": time,
            }),
        );
        link["additionalProperties"] = json!(false);
        let mut schema = object(
            &["links"],
            json!({"links": {"type": "array", "items": link, "maxItems": 100}}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn mail_registered() -> Value {
        object(
            &["registered"],
            json!({"registered": {"type": "integer", "minimum": 0}}),
        )
    }

    pub fn mail_actions() -> Value {
        list(
            "actions",
            object(
                &["seq", "id", "action", "by", "at"],
                json!({
                    "seq": {"type": "integer", "minimum": 1},
                    "id": {"type": "string"},
                    "action": {"enum": ["release", "cancel"]},
                    "by": {"type": "string"},
                    "at": {"type": TIME},
                }),
            ),
        )
    }

    fn policy_summary() -> Value {
        json!({
            "name": {"type": "string"},
            "revision": {"type": "integer", "minimum": 0},
            "mode": {"enum": ["enforce", "simulate"]},
        })
    }

    pub fn policy() -> Value {
        let mut properties = policy_summary();
        properties["toml"] =
            json!({"type": "string", "description": "The policy file as it was installed."});
        object(&["name", "revision", "mode", "toml"], properties)
    }

    pub fn policy_installed() -> Value {
        object(&["name", "revision", "mode"], policy_summary())
    }

    fn closed(required: &[&str], properties: Value) -> Value {
        let mut schema = object(required, properties);
        schema["additionalProperties"] = json!(false);
        schema
    }

    const CHANNELS: [&str; 8] = [
        "removable_media",
        "print",
        "web_upload",
        "cloud_sync",
        "email",
        "clipboard",
        "app_launch",
        "network_share",
    ];
    const ACTIONS: [&str; 5] = ["allow", "audit", "warn", "justify", "block"];

    /// `mamori_policy::Request` (docs/policy.md, "Requests").
    pub fn decision_request() -> Value {
        let text = || json!({"type": "string", "maxLength": 4096});
        let optional = || json!({"type": ["string", "null"], "maxLength": 4096});
        let texts = || json!({"type": "array", "items": text(), "maxItems": 1000});
        let usb_id = json!({"type": "string", "pattern": "^[0-9A-Fa-f]{4}$"});
        closed(
            &["user"],
            json!({
                "channel": {"enum": CHANNELS, "description": "How the data leaves; without one, the policy's default action."},
                "time": {"type": ["string", "null"], "description": "RFC 3339: when the action is attempted (default: now). A request with a time is stored once however often it is sent."},
                "user": {"type": "string", "minLength": 1, "maxLength": 4096, "description": "The account acting."},
                "host": optional(),
                "person": closed(&[], json!({
                    "groups": texts(),
                    "department": optional(),
                    "departing": {"type": "boolean"},
                    "risk": {"enum": ["none", "low", "medium", "high", "critical", null]},
                })),
                "object": closed(&[], json!({
                    "path": optional(),
                    "labels": texts(),
                    "findings": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 4_294_967_295_u64},
                                 "description": "Content findings by kind, e.g. {\"my_number\": 3} (docs/inspect.md)."},
                    "extension": optional(),
                    "size": {"type": ["integer", "null"], "minimum": 0, "maximum": 9_007_199_254_740_991_u64},
                })),
                "destination": closed(&[], json!({
                    "device": {"oneOf": [{"type": "null"}, closed(&["vendor", "product"], json!({
                        "vendor": usb_id,
                        "product": usb_id,
                        "serial": optional(),
                    }))]},
                    "domain": optional(),
                    "name": optional(),
                    "recipients": texts(),
                })),
                "process": {"oneOf": [{"type": "null"}, closed(&[], json!({
                    "name": optional(),
                    "path": optional(),
                    "pid": {"type": ["integer", "null"], "minimum": 0, "maximum": 4_294_967_295_u64},
                }))]},
                "justification": optional(),
            }),
        )
    }

    pub fn policy_decision() -> Value {
        let rule = || nullable("string");
        object(
            &[
                "action",
                "verdict",
                "permitted",
                "rule",
                "matched",
                "simulated",
                "message",
                "policy",
                "leaf",
            ],
            json!({
                "action": {"enum": ACTIONS},
                "verdict": {"enum": ["allowed", "warned", "blocked", "overridden"]},
                "permitted": {"type": "boolean"},
                "rule": rule(),
                "matched": {"type": "array", "items": {"type": "string"}},
                "simulated": {"oneOf": [{"type": "null"}, object(&["action", "rule"], json!({
                    "action": {"enum": ACTIONS}, "rule": rule()}))]},
                "message": {"oneOf": [{"type": "null"}, object(&["en", "ja"], json!({
                    "en": {"type": "string"}, "ja": {"type": "string"}}))]},
                "policy": object(&["name", "revision", "mode"], policy_summary()),
                "leaf": {"type": ["integer", "null"], "minimum": 0,
                         "description": "The ledger leaf of the decision's policy.decision event; null when the decision is not recorded (a plain allow)."},
            }),
        )
    }

    pub fn mail_decision() -> Value {
        let mut schema = object(
            &["action"],
            json!({"action": {"enum": ["release", "cancel"]}}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn login() -> Value {
        let mut schema = object(
            &["name", "password"],
            json!({"name": {"type": "string"}, "password": {"type": "string"}}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn signed_in() -> Value {
        object(
            &["name", "role", "must_change_password", "csrf_token"],
            json!({
                "name": {"type": "string"},
                "role": role(),
                "must_change_password": {"type": "boolean"},
                "csrf_token": {"type": "string"},
            }),
        )
    }

    fn role() -> Value {
        json!({"enum": ["admin", "analyst", "investigator", "approver", "auditor", "employee"]})
    }

    pub fn me() -> Value {
        object(
            &[
                "name",
                "role",
                "must_change_password",
                "csrf_token",
                "lang",
                "tz",
            ],
            json!({"name": {"type": "string"}, "role": role(), "must_change_password": {"type": "boolean"},
                   "csrf_token": nullable("string"), "lang": {"enum": ["ja", "en", null]},
                   "tz": {"type": "string"}}),
        )
    }

    pub fn preferences() -> Value {
        object(
            &["lang", "tz"],
            json!({"lang": {"enum": ["ja", "en", null]}, "tz": {"type": "string"}}),
        )
    }

    pub fn preferences_change() -> Value {
        let mut schema = object(
            &[],
            json!({"lang": {"enum": ["ja", "en"]}, "tz": {"type": "string", "description": "An IANA time zone, e.g. Asia/Tokyo."}}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn purposes() -> Value {
        list(
            "purposes",
            object(
                &["id", "en", "ja"],
                json!({"id": {"type": "string"}, "en": {"type": "string"}, "ja": {"type": "string"}}),
            ),
        )
    }

    pub fn users() -> Value {
        list(
            "users",
            object(
                &["name", "role", "must_change_password", "locked", "created"],
                json!({"name": {"type": "string"}, "role": role(), "must_change_password": {"type": "boolean"},
                       "locked": {"type": "boolean"}, "created": {"type": TIME}}),
            ),
        )
    }

    pub fn new_user() -> Value {
        let mut schema = object(
            &["name", "role"],
            json!({"name": {"type": "string"}, "role": role()}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn added_user() -> Value {
        object(
            &["name", "role", "password"],
            json!({"name": {"type": "string"}, "role": role(), "password": {"type": "string"}}),
        )
    }

    pub fn rules() -> Value {
        list(
            "rules",
            object(
                &[
                    "id",
                    "title",
                    "title_ja",
                    "correlation",
                    "enabled",
                    "severity",
                    "findings",
                ],
                json!({"id": {"type": "string"}, "title": {"type": "string"}, "title_ja": {"type": "string"},
                       "description": nullable("string"), "level": nullable("string"),
                       "correlation": {"type": "boolean"}, "enabled": {"type": "boolean"}, "severity": {"enum": ["low", "medium", "high", "critical", null]},
                       "findings": {"type": "integer"}}),
            ),
        )
    }

    pub fn rule_change() -> Value {
        let mut schema = object(
            &["enabled"],
            json!({"enabled": {"type": "boolean"}, "severity": {"enum": ["low", "medium", "high", "critical", null]}}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn backtest() -> Value {
        object(
            &[
                "rule_id", "events", "hits", "persons", "first", "last", "seconds",
            ],
            json!({"rule_id": {"type": "string"}, "events": {"type": "integer"}, "hits": {"type": "integer"},
                   "persons": {"type": "integer"}, "first": nullable(TIME), "last": nullable(TIME),
                   "seconds": {"type": "number"}}),
        )
    }

    pub fn rule_setting() -> Value {
        object(
            &["id", "enabled", "severity"],
            json!({"id": {"type": "string"}, "enabled": {"type": "boolean"},
                   "severity": {"enum": ["low", "medium", "high", "critical", null]}}),
        )
    }

    pub fn triage() -> Value {
        let mut schema = object(
            &["alerts", "action"],
            json!({
                "alerts": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 1000},
                "action": {"enum": ["dismiss", "assign", "reopen"]},
                "reason": {"type": "string", "description": "Why the alerts need no action (dismiss)."},
                "assignee": {"type": "string", "description": "An analyst or investigator (assign); absent: nobody."},
            }),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn updated() -> Value {
        object(&["updated"], json!({"updated": {"type": "integer"}}))
    }

    pub fn case_change() -> Value {
        let mut schema = object(
            &[],
            json!({
                "status": {"enum": ["open", "investigating", "closed"]},
                "outcome": {"enum": ["confirmed", "benign", "inconclusive"]},
                "assignee": {"type": "string"},
            }),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    fn levels(from_low: bool) -> Value {
        let names: &[&str] = if from_low {
            &["low", "medium", "high", "critical"]
        } else {
            &["none", "low", "medium", "high", "critical"]
        };
        let properties: serde_json::Map<String, Value> = names
            .iter()
            .map(|n| (n.to_string(), json!({"type": "integer"})))
            .collect();
        object(names, Value::Object(properties))
    }

    pub fn dashboard() -> Value {
        let mut day = levels(true);
        day["properties"]["day"] = json!({"type": "string"});
        let mut department = levels(true);
        department["properties"]["department"] = nullable("string");
        department["properties"]["small"] = json!({"type": "boolean", "description": "Departments under five persons, together and unnamed."});
        object(
            &[
                "latest_day",
                "trend",
                "levels",
                "alerts",
                "indicators",
                "sources",
                "ingest",
            ],
            json!({
                "latest_day": nullable("string"),
                "trend": {"type": "array", "items": day},
                "levels": levels(false),
                "alerts": object(&["by_severity", "by_department"], json!({
                    "by_severity": levels(true),
                    "by_department": {"type": "array", "items": department},
                })),
                "indicators": {"type": "array", "items": object(&["feature", "en", "ja", "count"], json!({
                    "feature": {"type": "string"}, "en": {"type": "string"}, "ja": {"type": "string"},
                    "count": {"type": "integer"}}))},
                "sources": {"type": "array", "items": object(&["kind", "events", "last"], json!({
                    "kind": {"type": "string"}, "events": {"type": "integer"}, "last": nullable(TIME)}))},
                "ingest": object(&["since_start", "last_minute"], json!({
                    "since_start": {"type": "integer"}, "last_minute": {"type": "integer"}})),
            }),
        )
    }

    pub fn search() -> Value {
        let mut found = event_view();
        found["properties"]["person"] = nullable("string");
        let mut schema = list("events", found);
        schema["required"] = json!(["events", "scanned", "more", "next_after"]);
        schema["properties"]["scanned"] = json!({"type": "integer"});
        schema["properties"]["more"] = json!({"type": "boolean"});
        schema["properties"]["next_after"] = nullable("integer");
        schema
    }

    pub fn password() -> Value {
        let mut schema = object(
            &["current_password", "new_password"],
            json!({"current_password": {"type": "string"}, "new_password": {"type": "string", "minLength": 12}}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    fn level() -> Value {
        json!({"enum": ["none", "low", "medium", "high", "critical"]})
    }

    fn alert() -> Value {
        object(
            &[
                "id", "person", "time", "severity", "kind", "title", "title_ja", "status", "events",
            ],
            json!({
                "id": {"type": "integer"},
                "person": {"type": "string"},
                "time": {"type": TIME},
                "severity": level(),
                "kind": {"type": "string"},
                "title": {"type": "string"},
                "title_ja": {"type": "string"},
                "details": {},
                "status": {"enum": ["open", "dismissed", "escalated"]},
                "dismiss_reason": nullable("string"),
                "case_id": nullable("integer"),
                "events": {"type": "array", "items": {"type": "integer"}},
                "assignee": nullable("string"),
            }),
        )
    }

    pub fn alerts() -> Value {
        list("alerts", alert())
    }

    fn event_view() -> Value {
        object(
            &["leaf", "purged", "event"],
            json!({"leaf": {"type": "integer"}, "purged": {"type": "boolean"}, "event": {"type": ["object", "null"]}}),
        )
    }

    pub fn person_events() -> Value {
        let mut schema = list("events", event_view());
        schema["required"] = json!(["person", "events", "more", "next_after"]);
        schema["properties"]["person"] = json!({"type": "string"});
        schema["properties"]["more"] = json!({"type": "boolean"});
        schema["properties"]["next_after"] = nullable("integer");
        schema
    }

    pub fn case_events() -> Value {
        let mut schema = list("events", event_view());
        schema["required"] = json!(["case_id", "revealed", "events"]);
        schema["properties"]["case_id"] = json!({"type": "integer"});
        schema["properties"]["revealed"] = json!({"type": "boolean"});
        schema
    }

    pub fn risk() -> Value {
        let mut schema = list(
            "days",
            object(
                &["day", "score", "level"],
                json!({"day": {"type": "string", "description": "YYYY-MM-DD"}, "score": {"type": "number"}, "level": level(), "details": {}}),
            ),
        );
        schema["required"] = json!(["person", "department", "days"]);
        schema["properties"]["person"] = json!({"type": "string"});
        schema["properties"]["department"] = nullable("string");
        schema
    }

    pub fn case_summary() -> Value {
        object(
            &[
                "id",
                "title",
                "person",
                "revealed",
                "status",
                "created",
                "updated",
                "legal_hold",
            ],
            json!({
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "person": nullable("string"),
                "revealed": {"type": "boolean"},
                "status": {"enum": ["open", "investigating", "closed"]},
                "outcome": {"enum": ["confirmed", "benign", "inconclusive", null]},
                "assignee": nullable("string"),
                "created": {"type": TIME},
                "updated": {"type": TIME},
                "legal_hold": {"type": "boolean"},
            }),
        )
    }

    pub fn cases() -> Value {
        list("cases", case_summary())
    }

    pub fn case() -> Value {
        let mut schema = case_summary();
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        let mut required: Vec<Value> = required;
        required.extend(["alerts", "events", "notes", "approvals"].map(Value::from));
        schema["required"] = Value::Array(required);
        schema["properties"]["person_name"] = nullable("string");
        schema["properties"]["alerts"] = json!({"type": "array", "items": alert()});
        schema["properties"]["events"] = json!({"type": "array", "items": {"type": "integer"}});
        schema["properties"]["notes"] = json!({"type": "array", "items": object(
            &["id", "author", "time", "text"],
            json!({"id": {"type": "integer"}, "author": {"type": "string"}, "time": {"type": TIME}, "text": {"type": "string"}}),
        )});
        schema["properties"]["approvals"] = json!({"type": "array", "items": approval()});
        schema
    }

    pub fn new_case() -> Value {
        let mut schema = object(
            &["title", "alerts"],
            json!({
                "title": {"type": "string", "minLength": 1},
                "alerts": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                "assignee": {"type": "string"},
            }),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn created() -> Value {
        object(&["id"], json!({"id": {"type": "integer"}}))
    }

    pub fn note() -> Value {
        let mut schema = object(
            &["text"],
            json!({"text": {"type": "string", "minLength": 1}}),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn legal_hold() -> Value {
        let mut schema = object(&["hold"], json!({"hold": {"type": "boolean"}}));
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn legal_hold_state() -> Value {
        object(
            &["case_id", "legal_hold"],
            json!({"case_id": {"type": "integer"}, "legal_hold": {"type": "boolean"}}),
        )
    }

    pub fn new_request() -> Value {
        let mut schema = object(
            &["purpose", "justification"],
            json!({
                "purpose": {"type": "string", "description": "The id of a purpose declared in privacy.toml."},
                "justification": {"type": "string", "minLength": 20},
            }),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn approval() -> Value {
        object(
            &[
                "id",
                "case_id",
                "requester",
                "purpose",
                "justification",
                "requested",
                "status",
            ],
            json!({
                "id": {"type": "integer"},
                "case_id": {"type": "integer"},
                "requester": {"type": "string"},
                "purpose": {"type": "string"},
                "justification": {"type": "string"},
                "requested": {"type": TIME},
                "status": {"enum": ["pending", "granted", "denied"]},
                "decided_by": nullable("string"),
                "decided": nullable(TIME),
                "expires": nullable(TIME),
            }),
        )
    }

    pub fn approvals() -> Value {
        list("approvals", approval())
    }

    pub fn decision() -> Value {
        let mut schema = object(&["grant"], json!({"grant": {"type": "boolean"}}));
        schema["additionalProperties"] = json!(false);
        schema
    }

    fn attestation() -> Value {
        object(
            &["state"],
            json!({
                "state": {"enum": ["pending", "keep", "revoke"]},
                "comment": nullable("string"),
                "decided_by": nullable("string"),
                "decided": nullable(TIME),
            }),
        )
    }

    pub fn access_review() -> Value {
        let group = object(
            &["group", "privileged", "decision"],
            json!({
                "group": {"type": "string"},
                "privileged": {"type": "boolean"},
                "decision": attestation(),
            }),
        );
        let account = object(
            &["account", "unused", "privileged", "decision", "groups"],
            json!({
                "account": {"type": "string"},
                "directory": nullable("string"),
                "enabled": nullable("boolean"),
                "last_sign_in": nullable("string"),
                "last_activity": nullable(TIME),
                "idle_days": nullable("integer"),
                "unused": {"type": "boolean"},
                "privileged": {"type": "boolean"},
                "decision": attestation(),
                "groups": {"type": "array", "items": group},
            }),
        );
        let person = object(
            &["person", "supervisor", "accounts"],
            json!({
                "person": {"type": "string"},
                "supervisor": {"type": "string"},
                "department": nullable("string"),
                "termination_date": nullable("string"),
                "accounts": {"type": "array", "items": account},
            }),
        );
        let count = json!({"type": "integer", "minimum": 0});
        object(
            &["manager", "as_of", "all_levels", "persons", "summary"],
            json!({
                "manager": {"type": "string"},
                "as_of": {"type": "string"},
                "all_levels": {"type": "boolean"},
                "persons": {"type": "array", "items": person},
                "summary": object(
                    &["persons", "accounts", "groups", "privileged_grants", "unused_accounts",
                      "pending", "keep", "revoke"],
                    json!({
                        "persons": count, "accounts": count, "groups": count,
                        "privileged_grants": count, "unused_accounts": count,
                        "pending": count, "keep": count, "revoke": count,
                    }),
                ),
            }),
        )
    }

    pub fn review_decision_change() -> Value {
        let mut schema = object(
            &["account", "decision"],
            json!({
                "account": {"type": "string", "minLength": 1},
                "grant": {"type": "string"},
                "decision": {"enum": ["keep", "revoke"]},
                "comment": {"type": "string"},
            }),
        );
        schema["additionalProperties"] = json!(false);
        schema
    }

    pub fn review_decision() -> Value {
        object(
            &[
                "id",
                "manager",
                "account",
                "grant",
                "decision",
                "comment",
                "decided_by",
                "decided",
            ],
            json!({
                "id": {"type": "integer"},
                "manager": {"type": "string"},
                "account": {"type": "string"},
                "grant": {"type": "string"},
                "decision": {"enum": ["keep", "revoke"]},
                "comment": {"type": "string"},
                "decided_by": {"type": "string"},
                "decided": {"type": TIME},
            }),
        )
    }

    pub fn settings() -> Value {
        object(
            &["declared", "purposes", "retention", "approvals", "sessions"],
            json!({
                "declared": {"type": "boolean"},
                "purposes": {"type": "array", "items": {"type": "string"}},
                "retention": {"type": "array", "items": object(
                    &["what", "what_ja", "retention_days", "kinds"],
                    json!({"what": {"type": "string"}, "what_ja": {"type": "string"},
                           "retention_days": {"type": "integer"},
                           "kinds": {"type": "array", "items": {"type": "string"}}}),
                )},
                "approvals": object(&["dual_control", "hours"], json!({
                    "dual_control": {"type": "boolean"}, "hours": {"type": "integer"}})),
                "sessions": object(&["idle_minutes", "max_hours"], json!({
                    "idle_minutes": {"type": "integer"}, "max_hours": {"type": "integer"}})),
            }),
        )
    }

    pub fn access_log() -> Value {
        list(
            "access",
            object(
                &["time_us", "actor", "action", "target"],
                json!({"time_us": {"type": "integer"}, "actor": {"type": "string"},
                       "action": {"type": "string"}, "target": {"type": "string"}}),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_route_is_described_once_with_its_parameters() {
        let document = document();
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert((route.method, route.path)), "{route:?} twice");
            let path = route.path.replace("{*", "{");
            let operation = &document["paths"][&path][route.method];
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty())
            );
            // Every `{name}` in the path is a documented path parameter.
            for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
                assert!(
                    route
                        .parameters
                        .iter()
                        .any(|(n, location, _, _)| *n == name && *location == "path"),
                    "{path}: {name} undocumented"
                );
            }
        }
    }
}
