//! The SCIM error response (RFC 7644 §3.12): an HTTP status, an optional `scimType` keyword
//! and a human-readable detail. Every function of this crate fails with one, so the server
//! can answer any failure as-is with [`ScimError::status`] and [`ScimError::body`].

use serde_json::{Value, json};

/// The schema URN of SCIM error responses.
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error: what went wrong, said the way RFC 7644 §3.12 asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.display())]
pub struct ScimError {
    status: u16,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 400 `invalidFilter`: the filter does not follow RFC 7644 §3.4.2.2 or compares an
    /// attribute in a way its type does not allow.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidFilter", detail)
    }

    /// 400 `tooMany`: the request would return more results than the server will process.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::bad_request("tooMany", detail)
    }

    /// 409 `uniqueness`: a value the server keeps unique (userName, a Group's displayName)
    /// is already taken.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        ScimError {
            status: 409,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }

    /// 400 `mutability`: the request changes a readOnly or immutable attribute.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request("mutability", detail)
    }

    /// 400 `invalidSyntax`: the request body is not a well-formed SCIM message (not an
    /// object, unknown attributes, a PatchOp without operations, …).
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidSyntax", detail)
    }

    /// 400 `invalidPath`: a PATCH `path` is malformed or names no attribute.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidPath", detail)
    }

    /// 400 `noTarget`: a PATCH path with a value filter matched nothing (or `remove` had no
    /// path).
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request("noTarget", detail)
    }

    /// 400 `invalidValue`: a value has the wrong type, is not allowed, or a required
    /// attribute is missing.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidValue", detail)
    }

    /// 400 `invalidVers`: the request names a SCIM version the server does not speak.
    pub fn invalid_vers(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidVers", detail)
    }

    /// 403 `sensitive`: the request would put sensitive data (e.g. a password) in a URL.
    pub fn sensitive(detail: impl Into<String>) -> Self {
        ScimError {
            status: 403,
            scim_type: Some("sensitive"),
            detail: detail.into(),
        }
    }

    /// 404 without a `scimType`: the resource or endpoint does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError {
            status: 404,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// 412 without a `scimType`: `If-Match` names a version that is no longer current
    /// (RFC 7644 §3.14).
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        ScimError {
            status: 412,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The RFC 7644 §3.12 `scimType` keyword, when the status has one.
    pub fn scim_type(&self) -> Option<&'static str> {
        self.scim_type
    }

    /// What went wrong, for a human.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The JSON body of the error response. `status` is a string, as RFC 7644 §3.12's
    /// examples and most clients expect.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(scim_type), Some(object)) = (self.scim_type, body.as_object_mut()) {
            object.insert("scimType".to_owned(), Value::from(scim_type));
        }
        body
    }

    /// The same error with `context` in front of its detail (e.g. which PATCH operation).
    pub(crate) fn within(mut self, context: &str) -> Self {
        self.detail = format!("{context}: {}", self.detail);
        self
    }

    fn display(&self) -> String {
        match self.scim_type {
            Some(scim_type) => format!("{} {scim_type}: {}", self.status, self.detail),
            None => format!("{}: {}", self.status, self.detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_follows_rfc7644_section_3_12() {
        let error = ScimError::invalid_filter("unexpected end at column 9");
        assert_eq!(
            error.body(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "unexpected end at column 9",
            })
        );
        assert_eq!(error.status(), 400);
        assert_eq!(
            error.to_string(),
            "400 invalidFilter: unexpected end at column 9"
        );
    }

    #[test]
    fn not_found_has_no_scim_type() {
        let body = ScimError::not_found("no User 42").body();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
        assert_eq!(ScimError::uniqueness("taken").status(), 409);
    }
}
