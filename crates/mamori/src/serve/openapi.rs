//! The API's description: every route the server registers is listed here, and the router is
//! built from this list (`serve::router`), so `GET /api/v1/openapi.json` (OpenAPI 3.1) cannot
//! leave a route out or describe one that is not there.

use mamori_store::auth::Role;
use serde_json::{Map, Value, json};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// An agent's `ingest` token (`mamori agents enroll`).
    IngestToken,
    /// A user's `api` token, the user having one of these roles; everyone else is refused
    /// (default deny: a route names the roles it admits).
    Roles(&'static [Role]),
}

/// One route: its method and path (axum's syntax), what it does, and what it answers.
#[derive(Debug)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// Query or path parameters: name, location (`query`, `path`), description.
    pub parameters: &'static [(&'static str, &'static str, &'static str)],
    /// The request body's media type, if it takes one.
    pub body: Option<&'static str>,
    /// Status, description, media type of the answer.
    pub responses: &'static [(u16, &'static str, &'static str)],
}

const TEXT: &str = "text/plain";

pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        summary: "Liveness: answers `ok`.",
        access: Access::Public,
        parameters: &[],
        body: None,
        responses: &[(200, "The server is up.", TEXT)],
    },
    Route {
        method: "get",
        path: "/transparency",
        summary: "What is collected about employees, why, for how long, and who is responsible (docs/privacy.md).",
        access: Access::Public,
        parameters: &[(
            "lang",
            "query",
            "`ja` or `en`; otherwise from Accept-Language, then Japanese.",
        )],
        body: None,
        responses: &[(200, "The page.", "text/html")],
    },
    Route {
        method: "get",
        path: "/tlog/events/checkpoint",
        summary: "The latest signed checkpoint of the events log (C2SP tlog-tiles).",
        access: Access::Public,
        parameters: &[],
        body: None,
        responses: &[
            (200, "A signed note.", TEXT),
            (404, "No checkpoint yet.", TEXT),
        ],
    },
    Route {
        method: "get",
        path: "/tlog/events/tile/{*path}",
        summary: "A tile or entry bundle of the events log, up to the latest checkpoint (C2SP tlog-tiles).",
        access: Access::Public,
        parameters: &[(
            "path",
            "path",
            "A canonical tile path, e.g. `0/x001/234` or `entries/000.p/17`.",
        )],
        body: None,
        responses: &[
            (200, "The tile.", "application/octet-stream"),
            (
                404,
                "Not a tile path, or not covered by the latest checkpoint.",
                TEXT,
            ),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/events",
        summary: "Events from agents and forwarders, as NDJSON (optionally gzip); every line is answered with its ledger leaf or the reason it was rejected (docs/api.md).",
        access: Access::IngestToken,
        parameters: &[],
        body: Some("application/x-ndjson"),
        responses: &[
            (
                200,
                "Accepted lines with their leaves, rejected lines with reasons.",
                "application/json",
            ),
            (400, "Not valid gzip.", TEXT),
            (
                401,
                "No token, or an unknown, expired or revoked one.",
                TEXT,
            ),
            (403, "Not an agent's ingest token.", TEXT),
            (413, "Over 16 MiB, or over 64 MiB decompressed.", TEXT),
            (415, "A Content-Encoding other than gzip.", TEXT),
            (
                429,
                "The store's queue is full: send again after Retry-After.",
                TEXT,
            ),
            (503, "The store is not available.", TEXT),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/access-log",
        summary: "Who read or changed what, newest first; reading it is itself recorded.",
        access: Access::Roles(&[Role::Auditor]),
        parameters: &[(
            "limit",
            "query",
            "How many records (default 50, at most 1000).",
        )],
        body: None,
        responses: &[
            (
                200,
                "`{\"access\": [{time, actor, action, target}]}`",
                "application/json",
            ),
            (
                401,
                "No token, or an unknown, expired or revoked one.",
                TEXT,
            ),
            (403, "Not an auditor's API token.", TEXT),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This description.",
        access: Access::Public,
        parameters: &[],
        body: None,
        responses: &[(200, "OpenAPI 3.1.", "application/json")],
    },
];

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
                .map(|(name, location, description)| {
                    json!({
                        "name": name,
                        "in": location,
                        "required": *location == "path",
                        "description": description,
                        "schema": {"type": "string"},
                    })
                })
                .collect();
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(media) = route.body {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {media: {"schema": {"type": "string"}}}}),
            );
        }
        let responses: Map<String, Value> = route
            .responses
            .iter()
            .map(|(status, description, media)| {
                (
                    status.to_string(),
                    json!({"description": description, "content": {*media: {}}}),
                )
            })
            .collect();
        operation.insert("responses".into(), Value::Object(responses));
        match route.access {
            Access::Public => operation.insert("security".into(), json!([])),
            Access::IngestToken => operation.insert("security".into(), json!([{"ingest": []}])),
            Access::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                operation.insert("x-mamori-roles".into(), json!(names));
                operation.insert("security".into(), json!([{"api": []}]))
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
            "description": "Mamori's server: event ingest for agents, the events log's tiles, the transparency page.",
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
            },
        },
    })
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
                        .any(|(n, location, _)| *n == name && *location == "path"),
                    "{path}: {name} undocumented"
                );
            }
        }
    }
}
