//! SCIM 2.0 for Mamori: the logic of the User and Group resources an identity provider
//! (Microsoft Entra ID, Okta, …) provisions, per RFC 7643 (core schema) and RFC 7644
//! (protocol) — with no HTTP and no storage. The server owns those: it routes requests,
//! authenticates the bearer token, assigns `id` and `meta`, keeps the resources, enforces
//! uniqueness and ETags, and maintains each User's `groups` from Group memberships. This
//! crate owns what a resource may contain and how each request changes it.
//!
//! # Brief overview
//!
//! - `schema` — the schemas as static definitions: User (without `password` and
//!   `x509Certificates`: Mamori never stores a password), the Enterprise User extension,
//!   Mamori's HR extension `urn:mamori:params:scim:schemas:extension:hr:2.0:User`
//!   (notice and termination dates, employment type, priority), and Group. The discovery
//!   documents [`schemas`], [`resource_types`] and [`service_provider_config`] are rendered
//!   from the same definitions that validate input, so what is advertised is what is
//!   enforced.
//! - [`prepare_create`], [`prepare_replace`] — POST and PUT bodies validated and turned into
//!   the canonical resource the server stores.
//! - [`apply_patch`] — PATCH operations applied to the stored resource, all or nothing.
//! - [`Filter`] — `filter=` parsed (bounded, schema-checked) and evaluated on resources;
//!   [`Filter::eq_value`] lets the server answer `userName eq "…"` from an index.
//! - [`project`] — `attributes=` and `excludedAttributes=` applied to a response.
//! - [`unique_key`] — the value the server keeps unique (lower-cased `userName` or Group
//!   `displayName`).
//! - [`ScimError`] — every failure, with its HTTP status and RFC 7644 §3.12 body.
//!
//! # The canonical resource
//!
//! Everything this crate returns is canonical JSON: attribute names in the schema's spelling
//! whatever case the client used, extension attributes in an object under the extension
//! URN, `schemas` listing the core schema and the extensions present, null values and empty
//! arrays dropped. Stored resources are handed back in the same form plus the server's
//! `id`, `meta` (`resourceType`, `created`, `lastModified`, `location`, `version`) and, for
//! Users, `groups`; anything else the server keeps beside them must not be in the JSON it
//! passes to [`prepare_replace`] or [`apply_patch`] (unknown attributes are refused) and
//! never leaves through [`project`].
//!
//! # Example
//!
//! ```
//! use mamori_scim::{Filter, Kind, apply_patch, prepare_create, project};
//! use serde_json::json;
//!
//! // Entra ID creates a user…
//! let mut user = prepare_create(Kind::User, &json!({
//!     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
//!     "userName": "bjensen@example.com",
//!     "active": true,
//!     "emails": [{"primary": true, "type": "work", "value": "bjensen@example.com"}],
//! }))?;
//! // …the server assigns the id and meta…
//! user["id"] = json!("2819c223");
//! user["meta"] = json!({"resourceType": "User", "lastModified": "2025-04-01T09:00:00Z"});
//! // …and later disables it, Entra-style.
//! let user = apply_patch(Kind::User, &user, &json!({
//!     "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
//! }))?;
//! assert_eq!(user["active"], false);
//!
//! let filter = Filter::parse(Kind::User, r#"userName eq "BJENSEN@example.com" and active eq false"#)?;
//! assert!(filter.matches(&user));
//! let answer = project(Kind::User, &user, Some("userName"), None)?;
//! assert_eq!(answer, json!({
//!     "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
//!     "id": "2819c223",
//!     "userName": "bjensen@example.com",
//! }));
//! # Ok::<(), mamori_scim::ScimError>(())
//! ```

mod error;
mod filter;
mod patch;
mod project;
mod resource;
mod schema;

pub use error::ScimError;
pub use filter::Filter;
pub use patch::apply_patch;
pub use project::project;
pub use resource::{prepare_create, prepare_replace, unique_key};
pub use schema::{Kind, MAX_RESULTS, resource_types, schemas, service_provider_config};
