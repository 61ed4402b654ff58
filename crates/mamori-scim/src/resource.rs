//! Resources as Mamori keeps them: validation of what a client sends and its canonical
//! form — attribute names in the schema's spelling whatever case the client used (RFC 7643
//! §2.1), extension attributes in an object keyed by the extension URN, `schemas` listing
//! the core schema and the extensions present, nulls and empty arrays dropped (RFC 7643
//! §2.5: they mean "unassigned"), readOnly attributes from the client ignored (RFC 7644
//! §3.5.1) and `id`/`meta` never taken from the client.

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{Attribute, Kind, Mutability, Resolved, Schema, Type, resolve};

pub(crate) type Object = Map<String, Value>;

/// Validates a POST body and returns the resource to store, without `id` and `meta` (the
/// server assigns them) and without `groups` (the server derives it from Group members).
///
/// `password` and `x509Certificates` are accepted and dropped: Mamori never keeps a
/// password, and IdPs such as Okta send one when password sync is on.
pub fn prepare_create(kind: Kind, input: &Value) -> Result<Value, ScimError> {
    let resource = canonicalise(kind, input)?;
    check_required(kind, &resource)?;
    Ok(Value::Object(resource))
}

/// Validates a PUT body against the stored resource and returns the replacement: the
/// client's attributes, plus what only the server sets copied from `existing` (`id`,
/// `meta`, `groups`, `manager.displayName` while the manager is unchanged). Attributes the
/// client leaves out are removed, as PUT replaces (RFC 7644 §3.5.1); immutable attributes
/// must keep their value. The server then updates `meta.lastModified` and `meta.version`.
pub fn prepare_replace(kind: Kind, existing: &Value, input: &Value) -> Result<Value, ScimError> {
    let mut resource = canonicalise(kind, input)?;
    check_required(kind, &resource)?;
    check_immutable(kind, existing, &mut resource)?;
    carry_server_attributes(kind, existing, &mut resource);
    Ok(Value::Object(resource))
}

/// The key the server keeps unique per resource type: a User's `userName`, a Group's
/// `displayName`, lower-cased because both are compared case-insensitively (caseExact
/// false), so `BJensen` and `bjensen` collide. `None` when the attribute is missing.
///
/// Lower-casing is Unicode's (`str::to_lowercase`), the same folding filters use, so the
/// server may look `Filter::eq_value` up in its index after lower-casing it the same way.
pub fn unique_key(kind: Kind, resource: &Value) -> Option<String> {
    let name = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    let value = member(resource.as_object()?, name)?.as_str()?;
    Some(value.to_lowercase())
}

/// The member `name` of `object`: exactly, or else case-insensitively.
pub(crate) fn member<'o>(object: &'o Object, name: &str) -> Option<&'o Value> {
    if let Some(value) = object.get(name) {
        return Some(value);
    }
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// The member `name` of `object`, mutable, found as [`member`] finds it.
pub(crate) fn member_mut<'o>(object: &'o mut Object, name: &str) -> Option<&'o mut Value> {
    let key = object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()?;
    object.get_mut(&key)
}

/// Removes every member called `name` in any case.
pub(crate) fn remove_member(object: &mut Object, name: &str) {
    object.retain(|key, _| !key.eq_ignore_ascii_case(name));
}

/// Sets `name` (in the schema's spelling), replacing it in whatever case it was.
pub(crate) fn set_member(object: &mut Object, name: &str, value: Value) {
    remove_member(object, name);
    object.insert(name.to_owned(), value);
}

/// Whether `value` counts as assigned: not null, not an empty string, array or object
/// (RFC 7643 §2.5, and the `pr` operator of RFC 7644 §3.4.2.2).
pub(crate) fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(members) => members.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Where the attributes of `schema` live in a resource: the resource itself, or the object
/// under the extension's URN.
pub(crate) fn container<'r>(resource: &'r Object, schema: &Schema) -> Option<&'r Object> {
    if schema.is_extension {
        member(resource, schema.id)?.as_object()
    } else {
        Some(resource)
    }
}

/// The schemas of `kind` whose attributes a resource holds: core first, then extensions.
pub(crate) fn kind_schemas(kind: Kind) -> impl Iterator<Item = &'static Schema> {
    std::iter::once(kind.core()).chain(kind.extensions().iter().copied())
}

/// Validates `input` as a `kind` resource and returns its canonical form, `schemas`
/// included, readOnly attributes (and `id`, `meta`) left out.
pub(crate) fn canonicalise(kind: Kind, input: &Value) -> Result<Object, ScimError> {
    let Value::Object(input) = input else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} must be a JSON object",
            kind.name()
        )));
    };
    let mut given: Vec<(&'static Schema, &'static Attribute, &Value)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for (key, value) in input {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(kind, value)?;
            continue;
        }
        if let Some(extension) = kind.extension(key) {
            match value {
                Value::Null => {}
                Value::Object(inner) => {
                    for (inner_key, inner_value) in inner {
                        match extension.attribute(inner_key) {
                            Some(attribute) => given.push((extension, attribute, inner_value)),
                            None => unknown.push(format!("{}:{inner_key}", extension.id)),
                        }
                    }
                }
                _ => {
                    return Err(ScimError::invalid_syntax(format!(
                        "{} must be an object of the extension's attributes",
                        extension.id
                    )));
                }
            }
            continue;
        }
        match resolve(kind, key) {
            Ok(Resolved::Attribute(path)) if path.sub.is_none() => {
                given.push((path.schema, path.attribute, value));
            }
            Ok(Resolved::Dropped) => {}
            _ => unknown.push(key.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(ScimError::invalid_syntax(format!(
            "unknown attributes of a {}: {}",
            kind.name(),
            unknown.join(", ")
        )));
    }

    let mut resource = Object::new();
    for (schema, attribute, value) in given {
        let label = label(schema, attribute);
        let Some(canonical) = canonical_value(attribute, value, &label)? else {
            continue;
        };
        let target = if schema.is_extension {
            let slot = resource
                .entry(schema.id)
                .or_insert_with(|| Value::Object(Object::new()));
            match slot.as_object_mut() {
                Some(object) => object,
                None => continue,
            }
        } else {
            &mut resource
        };
        if target.contains_key(attribute.name) {
            return Err(ScimError::invalid_syntax(format!("{label} is given twice")));
        }
        target.insert(attribute.name.to_owned(), canonical);
    }
    let schemas = present_schemas(kind, &resource);
    resource.insert("schemas".to_owned(), schemas);
    Ok(resource)
}

/// The `schemas` value of a resource: the core URN and each extension present.
pub(crate) fn present_schemas(kind: Kind, resource: &Object) -> Value {
    let mut urns = vec![Value::from(kind.schema())];
    for extension in kind.extensions() {
        if resource.get(extension.id).is_some_and(is_present) {
            urns.push(Value::from(extension.id));
        }
    }
    Value::Array(urns)
}

/// `schemas` must be an array of strings naming this kind's core schema. Other URNs (Entra
/// sends a Microsoft one on Groups) are tolerated: the output lists only what Mamori keeps.
fn check_schemas(kind: Kind, value: &Value) -> Result<(), ScimError> {
    let Some(urns) = value.as_array() else {
        return Err(ScimError::invalid_syntax(
            "schemas must be an array of schema URNs",
        ));
    };
    let mut names_core = false;
    for urn in urns {
        let Some(urn) = urn.as_str() else {
            return Err(ScimError::invalid_syntax(
                "schemas must be an array of schema URNs",
            ));
        };
        names_core |= urn.eq_ignore_ascii_case(kind.schema());
    }
    if urns.is_empty() || names_core {
        Ok(())
    } else {
        Err(ScimError::invalid_syntax(format!(
            "schemas does not list {}: this is not a {}",
            kind.schema(),
            kind.name()
        )))
    }
}

fn label(schema: &Schema, attribute: &Attribute) -> String {
    if schema.is_extension {
        format!("{}:{}", schema.id, attribute.name)
    } else {
        attribute.name.to_owned()
    }
}

/// The canonical value of a whole attribute, `None` when it is unassigned or readOnly.
pub(crate) fn canonical_value(
    attribute: &Attribute,
    value: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if attribute.mutability == Mutability::ReadOnly || value.is_null() {
        return Ok(None);
    }
    if !attribute.multi_valued {
        return canonical_element(attribute, value, label);
    }
    let Value::Array(items) = value else {
        return Err(ScimError::invalid_value(format!(
            "{label} is multi-valued: expected an array, got {}",
            shown(value)
        )));
    };
    let mut elements: Vec<Value> = Vec::new();
    for item in items {
        if let Some(element) = canonical_element(attribute, item, label)?
            && !elements.contains(&element)
        {
            elements.push(element);
        }
    }
    normalise_primary(&mut elements, None);
    if elements.is_empty() {
        Ok(None)
    } else {
        Ok(Some(Value::Array(elements)))
    }
}

/// The canonical form of one value of `attribute` (the value of a single-valued attribute,
/// or one element of a multi-valued one); `None` when it is null or empty.
///
/// A bare scalar given for a complex attribute with a `value` sub-attribute is taken as
/// that `value`: Entra ID sends `manager` as a plain id.
pub(crate) fn canonical_element(
    attribute: &Attribute,
    value: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attribute.ty != Type::Complex {
        return canonical_scalar(attribute, value, label).map(Some);
    }
    let mut element = Object::new();
    match value {
        Value::Object(given) => {
            for (key, sub_value) in given {
                let Some(sub) = attribute.sub(key) else {
                    return Err(ScimError::invalid_syntax(format!(
                        "{label} has no sub-attribute '{key}'"
                    )));
                };
                if sub.mutability == Mutability::ReadOnly || sub_value.is_null() {
                    continue;
                }
                if element.contains_key(sub.name) {
                    return Err(ScimError::invalid_syntax(format!(
                        "{label}.{} is given twice",
                        sub.name
                    )));
                }
                let sub_label = format!("{label}.{}", sub.name);
                let canonical = canonical_scalar(sub, sub_value, &sub_label)?;
                element.insert(sub.name.to_owned(), canonical);
            }
        }
        Value::Array(_) => {
            return Err(ScimError::invalid_value(format!(
                "{label} is complex: expected an object, got {}",
                shown(value)
            )));
        }
        scalar => match attribute.value_sub() {
            Some(value_sub) => {
                let canonical = canonical_scalar(value_sub, scalar, &format!("{label}.value"))?;
                element.insert("value".to_owned(), canonical);
            }
            None => {
                return Err(ScimError::invalid_value(format!(
                    "{label} is complex: expected an object, got {}",
                    shown(value)
                )));
            }
        },
    }
    if element.is_empty() {
        return Ok(None);
    }
    for sub in attribute.sub_attributes {
        if sub.required && !element.get(sub.name).is_some_and(is_present) {
            return Err(ScimError::invalid_value(format!(
                "{label}.{} is required in each value",
                sub.name
            )));
        }
    }
    Ok(Some(Value::Object(element)))
}

/// The canonical form of a simple value, checked against the attribute's type.
pub(crate) fn canonical_scalar(
    attribute: &Attribute,
    value: &Value,
    label: &str,
) -> Result<Value, ScimError> {
    let wrong = |expected: &str| {
        ScimError::invalid_value(format!(
            "{label}: expected {expected}, got {}",
            shown(value)
        ))
    };
    match attribute.ty {
        Type::String => {
            let text = value.as_str().ok_or_else(|| wrong("a string"))?;
            if attribute.closed_values {
                return attribute
                    .canonical_values
                    .iter()
                    .find(|allowed| allowed.eq_ignore_ascii_case(text))
                    .map(|allowed| Value::from(*allowed))
                    .ok_or_else(|| {
                        wrong(&format!("one of {}", attribute.canonical_values.join(", ")))
                    });
            }
            Ok(value.clone())
        }
        // Entra ID sends booleans as the strings "True" and "False".
        Type::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong("a boolean")),
        },
        Type::Decimal => match value {
            Value::Number(_) => Ok(value.clone()),
            _ => Err(wrong("a number")),
        },
        Type::Integer => match value {
            Value::Number(number) if number.is_i64() || number.is_u64() => Ok(value.clone()),
            _ => Err(wrong("an integer")),
        },
        Type::DateTime => match value.as_str() {
            Some(text) if text.parse::<Timestamp>().is_ok() => Ok(value.clone()),
            // Mamori's HR dates may be bare calendar dates; kept as written.
            Some(text) if attribute.calendar_date && is_calendar_date(text) => Ok(value.clone()),
            _ if attribute.calendar_date => Err(wrong("an RFC 3339 dateTime or a date YYYY-MM-DD")),
            _ => Err(wrong("an RFC 3339 dateTime")),
        },
        Type::Reference => match value.as_str() {
            Some(text) if !text.is_empty() => Ok(value.clone()),
            _ => Err(wrong("a URI reference")),
        },
        Type::Binary => match value.as_str() {
            Some(text) if is_base64(text) => Ok(value.clone()),
            _ => Err(wrong("base64 data")),
        },
        Type::Complex => Err(wrong("a simple value")),
    }
}

/// Whether `text` is exactly a calendar date `YYYY-MM-DD` that exists.
fn is_calendar_date(text: &str) -> bool {
    text.len() == 10 && text.parse::<Date>().is_ok()
}

fn is_base64(text: &str) -> bool {
    text.bytes().all(|byte| {
        byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=' | b'-' | b'_')
    })
}

/// A value as shown in an error: JSON, cut short so a huge input is not echoed back.
pub(crate) fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// At most one element is `primary: true` (RFC 7643 §2.4). The element at `preferred` wins
/// if it is primary (the one a PATCH just set); otherwise the last one does, so that a later
/// `primary: true` clears an earlier one.
pub(crate) fn normalise_primary(elements: &mut [Value], preferred: Option<usize>) {
    let is_primary = |element: &Value| element.get("primary") == Some(&Value::Bool(true));
    let winner = match preferred {
        Some(index) if elements.get(index).is_some_and(is_primary) => Some(index),
        _ => elements.iter().rposition(is_primary),
    };
    for (index, element) in elements.iter_mut().enumerate() {
        if Some(index) != winner
            && is_primary(element)
            && let Some(object) = element.as_object_mut()
        {
            object.insert("primary".to_owned(), Value::Bool(false));
        }
    }
}

/// Every required attribute is present (userName, a Group's displayName).
pub(crate) fn check_required(kind: Kind, resource: &Object) -> Result<(), ScimError> {
    for schema in kind_schemas(kind) {
        for attribute in schema.attributes.iter().filter(|a| a.required) {
            let present = container(resource, schema)
                .and_then(|object| object.get(attribute.name))
                .is_some_and(is_present);
            if !present {
                return Err(ScimError::invalid_value(format!(
                    "{} is required",
                    label(schema, attribute)
                )));
            }
        }
    }
    Ok(())
}

/// Immutable attributes that have a value keep it (RFC 7644 §3.5.1): a different value is a
/// `mutability` error; a missing one is copied from `existing`. Immutable sub-attributes of
/// multi-valued attributes (a member's `value`) are checked per element by PATCH: replacing
/// the whole list is not changing an element.
pub(crate) fn check_immutable(
    kind: Kind,
    existing: &Value,
    resource: &mut Object,
) -> Result<(), ScimError> {
    let Some(existing) = existing.as_object() else {
        return Ok(());
    };
    for schema in kind_schemas(kind) {
        let Some(old_container) = container(existing, schema) else {
            continue;
        };
        for attribute in schema.attributes {
            let Some(old) = member(old_container, attribute.name).filter(|v| is_present(v)) else {
                continue;
            };
            if attribute.mutability == Mutability::Immutable {
                keep_immutable(
                    resource,
                    schema,
                    attribute.name,
                    old,
                    &label(schema, attribute),
                )?;
            }
            let single_complex = attribute.ty == Type::Complex && !attribute.multi_valued;
            let Some(old_object) = old.as_object().filter(|_| single_complex) else {
                continue;
            };
            for sub in attribute.sub_attributes {
                if sub.mutability != Mutability::Immutable {
                    continue;
                }
                let Some(old_sub) = member(old_object, sub.name) else {
                    continue;
                };
                let new_sub = container(resource, schema)
                    .and_then(|c| c.get(attribute.name))
                    .and_then(|v| v.get(sub.name));
                if new_sub.is_some_and(|new_sub| new_sub != old_sub) {
                    return Err(ScimError::mutability(format!(
                        "{}.{} is immutable",
                        label(schema, attribute),
                        sub.name
                    )));
                }
            }
        }
    }
    Ok(())
}

fn keep_immutable(
    resource: &mut Object,
    schema: &'static Schema,
    name: &str,
    old: &Value,
    label: &str,
) -> Result<(), ScimError> {
    let target = if schema.is_extension {
        let slot = resource
            .entry(schema.id)
            .or_insert_with(|| Value::Object(Object::new()));
        match slot.as_object_mut() {
            Some(object) => object,
            None => return Ok(()),
        }
    } else {
        resource
    };
    match target.get(name) {
        None => {
            target.insert(name.to_owned(), old.clone());
            Ok(())
        }
        Some(new) if new == old => Ok(()),
        Some(_) => Err(ScimError::mutability(format!("{label} is immutable"))),
    }
}

/// Copies from `existing` what only the server sets: `id`, `meta`, readOnly attributes
/// (a User's `groups`), and readOnly sub-attributes of a single-valued complex attribute
/// whose `value` is unchanged (`manager.displayName` while the manager stays the same).
pub(crate) fn carry_server_attributes(kind: Kind, existing: &Value, resource: &mut Object) {
    let Some(existing) = existing.as_object() else {
        return;
    };
    for name in ["id", "meta"] {
        if let Some(value) = member(existing, name) {
            resource.insert(name.to_owned(), value.clone());
        }
    }
    for schema in kind_schemas(kind) {
        let Some(old_container) = container(existing, schema) else {
            continue;
        };
        for attribute in schema.attributes {
            let Some(old) = member(old_container, attribute.name) else {
                continue;
            };
            if attribute.mutability == Mutability::ReadOnly {
                if !schema.is_extension {
                    resource.insert(attribute.name.to_owned(), old.clone());
                }
                continue;
            }
            if attribute.multi_valued || attribute.ty != Type::Complex {
                continue;
            }
            let (Some(old_object), Some(new_object)) = (
                old.as_object(),
                new_attribute_object(resource, schema, attribute.name),
            ) else {
                continue;
            };
            if member(old_object, "value") != new_object.get("value") {
                continue;
            }
            for sub in attribute.sub_attributes {
                if sub.mutability == Mutability::ReadOnly
                    && let Some(old_sub) = member(old_object, sub.name)
                {
                    new_object.insert(sub.name.to_owned(), old_sub.clone());
                }
            }
        }
    }
}

fn new_attribute_object<'r>(
    resource: &'r mut Object,
    schema: &Schema,
    name: &str,
) -> Option<&'r mut Object> {
    let holder = if schema.is_extension {
        resource.get_mut(schema.id)?.as_object_mut()?
    } else {
        resource
    };
    holder.get_mut(name)?.as_object_mut()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const HR: &str = "urn:mamori:params:scim:schemas:extension:hr:2.0:User";

    #[test]
    fn names_are_canonicalised_whatever_their_case() {
        let user = prepare_create(
            Kind::User,
            &json!({
                "SCHEMAS": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "username": "bjensen",
                "NAME": {"givenname": "Barbara"},
                "Emails": [{"VALUE": "b@example.com", "Primary": "True"}],
            }),
        )
        .unwrap();
        assert_eq!(
            user,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "b@example.com", "primary": true}],
            })
        );
    }

    #[test]
    fn id_meta_and_read_only_attributes_are_never_taken_from_the_client() {
        let user = prepare_create(
            Kind::User,
            &json!({
                "userName": "a",
                "id": "chosen-by-client",
                "meta": {"resourceType": "User"},
                "groups": [{"value": "g1"}],
                ENTERPRISE: {"manager": {"value": "m1", "displayName": "M"}},
            }),
        )
        .unwrap();
        assert!(user.get("id").is_none());
        assert!(user.get("meta").is_none());
        assert!(user.get("groups").is_none());
        assert_eq!(user[ENTERPRISE]["manager"], json!({"value": "m1"}));
        assert_eq!(user["schemas"][1], ENTERPRISE);
    }

    #[test]
    fn unknown_attributes_are_named() {
        let error = prepare_create(
            Kind::User,
            &json!({"userName": "a", "shoeSize": 42, ENTERPRISE: {"badge": "x"}}),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidSyntax"));
        assert!(error.detail().contains("shoeSize"), "{error}");
        assert!(error.detail().contains("badge"), "{error}");
    }

    #[test]
    fn required_attributes_are_enforced() {
        let error = prepare_create(Kind::User, &json!({"displayName": "x"})).unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidValue"));
        assert!(error.detail().contains("userName"));
        assert!(prepare_create(Kind::Group, &json!({"members": []})).is_err());
        assert!(prepare_create(Kind::Group, &json!({"displayName": ""})).is_err());
    }

    #[test]
    fn types_are_checked() {
        for bad in [
            json!({"userName": 7}),
            json!({"userName": "a", "active": "yes"}),
            json!({"userName": "a", "emails": {"value": "x"}}),
            json!({"userName": "a", "name": "Barbara"}),
            json!({"userName": "a", HR: {"terminationDate": "31/03/2025"}}),
            json!({"userName": "a", HR: {"employmentType": "intern"}}),
            json!({"userName": "a", HR: {"priority": 1}}),
        ] {
            let error = prepare_create(Kind::User, &bad).unwrap_err();
            assert_eq!(error.status(), 400, "{bad}");
        }
        let error = prepare_create(Kind::Group, &json!("x")).unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidSyntax"));
    }

    #[test]
    fn numbers_and_binary_are_checked_by_type() {
        use crate::schema::Type;
        let typed = |ty| Attribute {
            name: "x",
            ty,
            multi_valued: false,
            description: "",
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: crate::schema::Returned::Default,
            uniqueness: crate::schema::Uniqueness::None,
            canonical_values: &[],
            closed_values: false,
            reference_types: &[],
            sub_attributes: &[],
            calendar_date: false,
        };
        let integer = typed(Type::Integer);
        assert!(canonical_scalar(&integer, &json!(3), "x").is_ok());
        assert!(canonical_scalar(&integer, &json!(3.5), "x").is_err());
        assert!(canonical_scalar(&integer, &json!("3"), "x").is_err());
        let decimal = typed(Type::Decimal);
        assert!(canonical_scalar(&decimal, &json!(3.5), "x").is_ok());
        assert!(canonical_scalar(&decimal, &json!(true), "x").is_err());
        let binary = typed(Type::Binary);
        assert!(canonical_scalar(&binary, &json!("TUlJRA=="), "x").is_ok());
        assert!(canonical_scalar(&binary, &json!("not base64!"), "x").is_err());
        let date_time = typed(Type::DateTime);
        assert!(canonical_scalar(&date_time, &json!("2011-05-13T04:42:34Z"), "x").is_ok());
        assert!(canonical_scalar(&date_time, &json!("2011-05-13"), "x").is_err());
        let complex = typed(Type::Complex);
        assert!(canonical_scalar(&complex, &json!("x"), "x").is_err());
    }

    #[test]
    fn hr_dates_are_date_times_or_calendar_dates() {
        let user = prepare_create(
            Kind::User,
            &json!({"userName": "a", HR: {
                "noticeDate": "2025-03-01",
                "terminationDate": "2025-03-31T00:00:00+09:00",
                "employmentType": "Part_Time",
                "priority": "False",
            }}),
        )
        .unwrap();
        // Kept as written: the server takes the date part, the day in the writer's offset
        // (an HR system's `2025-03-31T00:00:00+09:00` means the 31st).
        assert_eq!(
            user[HR],
            json!({"noticeDate": "2025-03-01", "terminationDate": "2025-03-31T00:00:00+09:00",
                   "employmentType": "part_time", "priority": false})
        );
        for bad in [
            "2025-02-30",
            "2025-03-31T25:00:00Z",
            "31/03/2025",
            "not a date",
        ] {
            let input = json!({"userName": "a", HR: {"noticeDate": bad}});
            assert!(prepare_create(Kind::User, &input).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_later_primary_clears_an_earlier_one() {
        let user = prepare_create(
            Kind::User,
            &json!({"userName": "a", "emails": [
                {"value": "a@x", "primary": true},
                {"value": "b@x", "primary": true},
                {"value": "b@x", "primary": true},
            ]}),
        )
        .unwrap();
        assert_eq!(
            user["emails"],
            json!([{"value": "a@x", "primary": false}, {"value": "b@x", "primary": true}])
        );
    }

    #[test]
    fn replace_keeps_server_attributes_and_drops_omitted_ones() {
        let existing = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "u1", "userName": "a", "title": "Boss",
            "groups": [{"value": "g1", "display": "G"}],
            "meta": {"resourceType": "User", "version": "W/\"1\""},
            ENTERPRISE: {"manager": {"value": "m1", "displayName": "Mona"}},
        });
        let replaced = prepare_replace(
            Kind::User,
            &existing,
            &json!({"userName": "A", ENTERPRISE: {"manager": "m1"}}),
        )
        .unwrap();
        assert_eq!(replaced["id"], "u1");
        assert_eq!(replaced["groups"], existing["groups"]);
        assert_eq!(replaced["meta"], existing["meta"]);
        assert!(replaced.get("title").is_none());
        assert_eq!(
            replaced[ENTERPRISE]["manager"],
            json!({"value": "m1", "displayName": "Mona"})
        );
        assert_eq!(unique_key(Kind::User, &replaced).as_deref(), Some("a"));
    }

    #[test]
    fn unknown_schema_urns_in_schemas_are_tolerated_but_the_core_is_required() {
        let group = prepare_create(
            Kind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "displayName": "Sales"}),
        )
        .unwrap();
        assert_eq!(
            group["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
        );
        let error = prepare_create(
            Kind::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"}),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidSyntax"));
    }
}
