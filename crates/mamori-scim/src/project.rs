//! Which attributes a response carries (RFC 7644 §3.9): the `attributes` and
//! `excludedAttributes` query parameters, applied with each attribute's `returned`
//! characteristic (RFC 7643 §7). Projection is also the last gate before a resource leaves
//! the server: anything in the stored JSON that the schema does not define is never
//! returned.

use serde_json::Value;

use crate::error::ScimError;
use crate::resource::{Object, container, kind_schemas, member, present_schemas};
use crate::schema::{Attribute, COMMON, Kind, Resolved, Returned, Schema, Type, resolve};

/// The longest `attributes` or `excludedAttributes` value accepted, in bytes.
const MAX_LIST_BYTES: usize = 8192;

/// The response form of `resource` (a stored resource with the server's `id`, `meta` and
/// `groups`) for a request with the given `attributes` and `excludedAttributes` (comma
/// separated, short or URN-qualified, `name.givenName` for a sub-attribute, an extension
/// URN for the whole extension).
///
/// Without `attributes`, every `returned: default` attribute is returned except those
/// excluded; with it, only the listed ones (minus any excluded). `returned: always`
/// attributes (`id`) are always there, and `schemas` lists what the response holds.
/// Names that match no attribute are ignored, as an attribute the resource lacks would be.
pub fn project(
    kind: Kind,
    resource: &Value,
    attributes: Option<&str>,
    excluded_attributes: Option<&str>,
) -> Result<Value, ScimError> {
    let requested = Selection::parse(kind, attributes, "attributes")?;
    let excluded = Selection::parse(kind, excluded_attributes, "excludedAttributes")?;
    let Some(source) = resource.as_object() else {
        return Err(ScimError::invalid_value(format!(
            "a {} resource must be a JSON object",
            kind.name()
        )));
    };
    let mut out = Object::new();
    let schemas = std::iter::once(&COMMON).chain(kind_schemas(kind));
    for schema in schemas {
        let Some(holder) = container(source, schema) else {
            continue;
        };
        let mut projected = Object::new();
        for attribute in schema.attributes {
            let Some(value) = member(holder, attribute.name) else {
                continue;
            };
            let choice = Choice {
                schema,
                attribute,
                requested: requested.as_ref(),
                excluded: excluded.as_ref(),
            };
            if let Some(value) = choice.project(value) {
                projected.insert(attribute.name.to_owned(), value);
            }
        }
        if !schema.is_extension {
            out.extend(projected);
        } else if !projected.is_empty() {
            out.insert(schema.id.to_owned(), Value::Object(projected));
        }
    }
    let schemas = present_schemas(kind, &out);
    out.insert("schemas".to_owned(), schemas);
    Ok(Value::Object(out))
}

/// The attributes one query parameter lists.
#[derive(Default)]
struct Selection {
    attributes: Vec<&'static Attribute>,
    sub_attributes: Vec<(&'static Attribute, &'static Attribute)>,
    extensions: Vec<&'static Schema>,
}

impl Selection {
    fn parse(kind: Kind, text: Option<&str>, parameter: &str) -> Result<Option<Self>, ScimError> {
        let Some(text) = text else {
            return Ok(None);
        };
        if text.len() > MAX_LIST_BYTES {
            return Err(ScimError::invalid_value(format!(
                "{parameter} is {} bytes long; at most {MAX_LIST_BYTES} are accepted",
                text.len()
            )));
        }
        let mut selection = Selection::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry.contains('[') {
                return Err(ScimError::invalid_value(format!(
                    "{parameter} lists attribute names, not filters: '{entry}'"
                )));
            }
            match resolve(kind, entry) {
                Ok(Resolved::Attribute(path)) => match path.sub {
                    Some(sub) => selection.sub_attributes.push((path.attribute, sub)),
                    None => selection.attributes.push(path.attribute),
                },
                Ok(Resolved::Extension(schema)) => selection.extensions.push(schema),
                Ok(Resolved::Dropped) | Err(_) => {}
            }
        }
        Ok(Some(selection))
    }

    fn lists(&self, schema: &Schema, attribute: &Attribute) -> bool {
        self.attributes.iter().any(|a| std::ptr::eq(*a, attribute))
            || self.extensions.iter().any(|s| std::ptr::eq(*s, schema))
    }

    fn lists_sub(&self, attribute: &Attribute, sub: &Attribute) -> bool {
        self.sub_attributes
            .iter()
            .any(|(a, s)| std::ptr::eq(*a, attribute) && std::ptr::eq(*s, sub))
    }

    fn lists_some_sub(&self, attribute: &Attribute) -> bool {
        self.sub_attributes
            .iter()
            .any(|(a, _)| std::ptr::eq(*a, attribute))
    }
}

/// The decision for one attribute of the resource.
struct Choice<'s> {
    schema: &'static Schema,
    attribute: &'static Attribute,
    requested: Option<&'s Selection>,
    excluded: Option<&'s Selection>,
}

impl Choice<'_> {
    fn project(&self, value: &Value) -> Option<Value> {
        let (schema, attribute) = (self.schema, self.attribute);
        let listed = self
            .requested
            .is_some_and(|r| r.lists(schema, attribute) || r.lists_some_sub(attribute));
        let excluded = self.excluded.is_some_and(|e| e.lists(schema, attribute));
        let included = match attribute.returned {
            Returned::Always => true,
            Returned::Request => listed && !excluded,
            Returned::Default => (self.requested.is_none() || listed) && !excluded,
        };
        if !included {
            return None;
        }
        if attribute.ty != Type::Complex {
            return Some(value.clone());
        }
        match value {
            Value::Array(elements) => {
                let kept: Vec<Value> = elements
                    .iter()
                    .filter_map(|element| self.project_element(element))
                    .collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            element => self.project_element(element),
        }
    }

    fn project_element(&self, element: &Value) -> Option<Value> {
        let element = element.as_object()?;
        let mut kept = Object::new();
        for sub in self.attribute.sub_attributes {
            if !self.includes_sub(sub) {
                continue;
            }
            if let Some(value) = member(element, sub.name) {
                kept.insert(sub.name.to_owned(), value.clone());
            }
        }
        (!kept.is_empty()).then_some(Value::Object(kept))
    }

    fn includes_sub(&self, sub: &Attribute) -> bool {
        let attribute = self.attribute;
        let listed = self.requested.is_some_and(|r| {
            r.lists(self.schema, attribute) && sub.returned != Returned::Request
                || r.lists_sub(attribute, sub)
        });
        let excluded = self.excluded.is_some_and(|e| e.lists_sub(attribute, sub));
        match sub.returned {
            Returned::Always => true,
            Returned::Request => listed && !excluded,
            Returned::Default => (self.requested.is_none() || listed) && !excluded,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x", "type": "work"}, {"value": "c@x", "type": "home"}],
            "groups": [{"value": "g1", "display": "G"}],
            ENTERPRISE: {"department": "Tours", "manager": {"value": "m1"}},
            "meta": {"resourceType": "User", "version": "W/\"1\""},
            "internalNote": "server-private, never returned",
        })
    }

    #[test]
    fn by_default_everything_defined_is_returned_and_nothing_else() {
        let projected = project(Kind::User, &user(), None, None).unwrap();
        let mut expected = user();
        expected.as_object_mut().unwrap().remove("internalNote");
        assert_eq!(projected, expected);
    }

    #[test]
    fn attributes_lists_what_is_returned_plus_id() {
        let projected = project(
            Kind::User,
            &user(),
            Some("userName, NAME.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        )
        .unwrap();
        assert_eq!(
            projected,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "id": "u1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@x"}, {"value": "c@x"}],
                ENTERPRISE: {"department": "Tours"},
            })
        );
        let projected = project(Kind::User, &user(), Some(ENTERPRISE), None).unwrap();
        assert_eq!(projected[ENTERPRISE], user()[ENTERPRISE]);
        assert!(projected.get("userName").is_none());
    }

    #[test]
    fn excluded_attributes_are_left_out_but_id_stays() {
        let projected = project(
            Kind::User,
            &user(),
            None,
            Some("id,groups,emails.type,meta,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        )
        .unwrap();
        assert_eq!(projected["id"], "u1");
        assert!(projected.get("groups").is_none());
        assert!(projected.get("meta").is_none());
        assert!(projected.get(ENTERPRISE).is_none());
        assert_eq!(
            projected["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
        assert_eq!(
            projected["emails"],
            json!([{"value": "b@x"}, {"value": "c@x"}])
        );
    }

    #[test]
    fn entra_excludes_members_of_groups() {
        let group = json!({"id": "g1", "displayName": "G", "members": [{"value": "u1"}],
                           "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]});
        let projected = project(Kind::Group, &group, None, Some("members")).unwrap();
        assert_eq!(
            projected,
            json!({"id": "g1", "displayName": "G",
                   "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]})
        );
    }

    #[test]
    fn unknown_names_are_ignored_and_filters_refused() {
        let projected = project(Kind::User, &user(), Some("shoeSize,password"), None).unwrap();
        assert_eq!(
            projected,
            json!({"id": "u1", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
        );
        let error =
            project(Kind::User, &user(), Some("emails[type eq \"work\"]"), None).unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidValue"));
    }
}
