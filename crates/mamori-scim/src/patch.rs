//! PATCH (RFC 7644 §3.5.2): `add`, `remove` and `replace` operations applied in order to a
//! copy of the stored resource, then the result validated as a whole, so a request either
//! applies completely or not at all.
//!
//! Where real identity providers depart from the RFC, the departure is accepted when its
//! meaning is unambiguous:
//! - op names in any case (`"Replace"`, Entra ID);
//! - booleans as strings (`"False"`, Entra ID);
//! - `remove` of `members` with a `value` listing the members to remove (Entra ID);
//! - keys of a path-less `value` that are paths themselves (`"name.givenName"`, or
//!   `"urn:…:enterprise:2.0:User:department"`, Entra ID);
//! - readOnly attributes in a path-less `value` ignored rather than refused (Okta sends the
//!   Group's `id`); an explicit `path` to a readOnly attribute is still a `mutability` error;
//! - `add` or `replace` at `attr[sub eq "x" and …].sub` matching no value creates the value
//!   the filter describes (Entra ID sets `emails[type eq "work"].value` on users without a
//!   work address; RFC 7644 would answer `noTarget` for `replace`);
//! - a `null` value means "unassigned" (RFC 7643 §2.5): the target is removed.

use serde_json::Value;

use crate::error::ScimError;
use crate::filter::{Expr, PatchPath, matches_element, parse_patch_path, required_values};
use crate::resource::{
    Object, canonical_element, canonical_scalar, canonicalise, carry_server_attributes,
    check_immutable, check_required, is_present, member, member_mut, normalise_primary,
    remove_member, set_member,
};
use crate::schema::{AttrPath, Attribute, Kind, Mutability, Schema, Type};

/// The schema URN of PATCH requests.
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Applies a PATCH request (`{"schemas": [PatchOp], "Operations": [...]}`) to `existing`
/// (the stored resource, with `id`, `meta` and `groups`) and returns the new resource, in
/// canonical form, carrying `existing`'s server-set attributes; the server then updates
/// `meta.lastModified` and `meta.version`. An error names the operation (counted from 1).
pub fn apply_patch(
    kind: Kind,
    existing: &Value,
    patch_request: &Value,
) -> Result<Value, ScimError> {
    let operations = operations(patch_request)?;
    let mut working = existing.as_object().cloned().unwrap_or_default();
    for (index, operation) in operations.iter().enumerate() {
        apply_operation(kind, &mut working, operation)
            .map_err(|error| error.within(&format!("operation {}", index + 1)))?;
    }
    let mut result = canonicalise(kind, &Value::Object(working))?;
    check_required(kind, &result)?;
    check_immutable(kind, existing, &mut result)?;
    carry_server_attributes(kind, existing, &mut result);
    Ok(Value::Object(result))
}

fn operations(request: &Value) -> Result<&Vec<Value>, ScimError> {
    let Some(request) = request.as_object() else {
        return Err(ScimError::invalid_syntax(
            "a PATCH request must be a JSON object",
        ));
    };
    if let Some(schemas) = member(request, "schemas") {
        let names_patch = schemas.as_array().is_some_and(|urns| {
            urns.iter().any(|urn| {
                urn.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_SCHEMA))
            })
        });
        if !names_patch {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must list {PATCH_SCHEMA}"
            )));
        }
    }
    match member(request, "Operations") {
        Some(Value::Array(operations)) if !operations.is_empty() => Ok(operations),
        _ => Err(ScimError::invalid_syntax(
            "a PATCH request needs a non-empty Operations array",
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Remove,
    Replace,
}

fn apply_operation(kind: Kind, doc: &mut Object, operation: &Value) -> Result<(), ScimError> {
    let Some(operation) = operation.as_object() else {
        return Err(ScimError::invalid_syntax(
            "an operation must be a JSON object",
        ));
    };
    let Some(name) = member(operation, "op").and_then(Value::as_str) else {
        return Err(ScimError::invalid_syntax("the operation has no \"op\""));
    };
    let verb = if name.eq_ignore_ascii_case("add") {
        Verb::Add
    } else if name.eq_ignore_ascii_case("remove") {
        Verb::Remove
    } else if name.eq_ignore_ascii_case("replace") {
        Verb::Replace
    } else {
        return Err(ScimError::invalid_syntax(format!(
            "unknown op '{name}': expected add, remove or replace"
        )));
    };
    let path = match member(operation, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(path)) if path.trim().is_empty() => None,
        Some(Value::String(path)) => Some(path.as_str()),
        Some(_) => return Err(ScimError::invalid_path("path must be a string")),
    };
    let value = member(operation, "value");
    match (verb, path) {
        (Verb::Remove, None) => Err(ScimError::no_target("remove needs a path")),
        (Verb::Remove, Some(path)) => remove(doc, parse_patch_path(kind, path)?, value),
        (_, None) => match value {
            Some(Value::Object(values)) => set_pathless(kind, doc, verb, values),
            _ => Err(ScimError::invalid_syntax(format!(
                "{name} without a path needs an object of attributes as its value"
            ))),
        },
        (_, Some(path)) => {
            let Some(value) = value else {
                return Err(ScimError::invalid_syntax(format!("{name} needs a value")));
            };
            set(doc, verb, parse_patch_path(kind, path)?, value, true)
        }
    }
}

/// `add`/`replace` without a path: each key of the value is an attribute (or an extension
/// URN holding an object, or an attribute path as Entra ID writes them).
fn set_pathless(
    kind: Kind,
    doc: &mut Object,
    verb: Verb,
    values: &Object,
) -> Result<(), ScimError> {
    for (key, value) in values {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let target = parse_patch_path(kind, key).map_err(|error| {
            ScimError::invalid_syntax(format!("unknown attribute '{key}': {}", error.detail()))
        })?;
        set(doc, verb, target, value, false)?;
    }
    Ok(())
}

/// `add` or `replace` at `target`. `explicit` is false for the keys of a path-less value,
/// where readOnly attributes are skipped instead of refused.
fn set(
    doc: &mut Object,
    verb: Verb,
    target: PatchPath,
    value: &Value,
    explicit: bool,
) -> Result<(), ScimError> {
    let (path, filter) = match target {
        PatchPath::Dropped => return Ok(()),
        PatchPath::Extension(schema) => return set_extension(doc, verb, schema, value, explicit),
        PatchPath::Attribute { path, filter } => (path, filter),
    };
    let leaf = path.leaf();
    if path.attribute.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly
    {
        if explicit {
            return Err(ScimError::mutability(format!(
                "{} is readOnly",
                written(&path)
            )));
        }
        return Ok(());
    }
    if value.is_null() {
        return remove(doc, PatchPath::Attribute { path, filter }, None).or_else(|error| {
            // Setting an absent filtered value to null leaves nothing to do.
            if error.scim_type() == Some("noTarget") {
                Ok(())
            } else {
                Err(error)
            }
        });
    }
    let Some(holder) = container_mut(doc, path.schema) else {
        return Ok(());
    };
    match (filter, path.sub) {
        (None, None) => set_attribute(holder, path.attribute, verb, value),
        (None, Some(sub)) => set_sub_everywhere(holder, path.attribute, sub, value),
        (Some(filter), sub) => set_filtered(holder, path.attribute, &filter, sub, value),
    }
}

fn set_extension(
    doc: &mut Object,
    verb: Verb,
    schema: &'static Schema,
    value: &Value,
    explicit: bool,
) -> Result<(), ScimError> {
    match value {
        Value::Null => {
            remove_member(doc, schema.id);
            Ok(())
        }
        Value::Object(values) => {
            for (key, inner) in values {
                // Clients that model the extension as a resource of its own send its
                // `schemas` along (scim2-models does): it says nothing to set.
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let Some(attribute) = schema.attribute(key) else {
                    return Err(ScimError::invalid_syntax(format!(
                        "unknown attribute '{}:{key}'",
                        schema.id
                    )));
                };
                let path = AttrPath {
                    schema,
                    attribute,
                    sub: None,
                };
                set(
                    doc,
                    verb,
                    PatchPath::Attribute { path, filter: None },
                    inner,
                    explicit,
                )?;
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_value(format!(
            "{} must be an object of the extension's attributes",
            schema.id
        ))),
    }
}

/// `add`/`replace` of a whole attribute. Single-valued complex attributes merge the given
/// sub-attributes (RFC 7644 §3.5.2.1, §3.5.2.3); multi-valued ones append (`add`, without
/// duplicates) or are replaced as a whole (`replace`).
fn set_attribute(
    holder: &mut Object,
    attribute: &'static Attribute,
    verb: Verb,
    value: &Value,
) -> Result<(), ScimError> {
    let label = attribute.name;
    if attribute.multi_valued {
        let given: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let mut elements: Vec<Value> = match verb {
            Verb::Replace => Vec::new(),
            Verb::Add | Verb::Remove => match member(holder, label) {
                Some(Value::Array(current)) => current.clone(),
                _ => Vec::new(),
            },
        };
        for item in given {
            if let Some(element) = canonical_element(attribute, item, label)? {
                add_element(attribute, &mut elements, element)?;
            }
        }
        if elements.is_empty() {
            remove_member(holder, label);
        } else {
            set_member(holder, label, Value::Array(elements));
        }
        return Ok(());
    }
    if attribute.ty == Type::Complex {
        let Some(Value::Object(given)) = canonical_element(attribute, value, label)? else {
            return Ok(());
        };
        let Some(current) = object_slot(holder, label) else {
            return Ok(());
        };
        return merge(attribute, current, given);
    }
    let canonical = canonical_scalar(attribute, value, label)?;
    if attribute.mutability == Mutability::Immutable
        && member(holder, label).is_some_and(|old| is_present(old) && *old != canonical)
    {
        return Err(ScimError::mutability(format!("{label} is immutable")));
    }
    set_member(holder, label, canonical);
    Ok(())
}

/// Appends `element` unless an equal value is there. A member (whose `value` is immutable)
/// is the same member whatever its `display`: adding it again updates it.
fn add_element(
    attribute: &'static Attribute,
    elements: &mut Vec<Value>,
    element: Value,
) -> Result<(), ScimError> {
    let identified_by_value = attribute
        .value_sub()
        .is_some_and(|sub| sub.mutability == Mutability::Immutable);
    let position = if identified_by_value {
        let wanted = element.get("value");
        elements
            .iter()
            .position(|old| old.get("value").is_some() && old.get("value") == wanted)
    } else {
        elements.iter().position(|old| *old == element)
    };
    let index = match position {
        Some(index) => {
            if let (Some(old), Value::Object(given)) = (elements[index].as_object_mut(), element) {
                merge(attribute, old, given)?;
            }
            index
        }
        None => {
            elements.push(element);
            elements.len() - 1
        }
    };
    normalise_primary(elements, Some(index));
    Ok(())
}

/// Sets the given sub-attributes of one complex value; immutable ones may not change.
fn merge(attribute: &Attribute, current: &mut Object, given: Object) -> Result<(), ScimError> {
    for (name, value) in given {
        let immutable = attribute
            .sub(&name)
            .is_some_and(|sub| sub.mutability == Mutability::Immutable);
        if immutable && member(current, &name).is_some_and(|old| is_present(old) && *old != value) {
            return Err(ScimError::mutability(format!(
                "{}.{name} is immutable",
                attribute.name
            )));
        }
        set_member(current, &name, value);
    }
    Ok(())
}

/// `attr.sub` without a filter: the sub-attribute of a single-valued complex attribute, or
/// of every value of a multi-valued one.
fn set_sub_everywhere(
    holder: &mut Object,
    attribute: &'static Attribute,
    sub: &'static Attribute,
    value: &Value,
) -> Result<(), ScimError> {
    let label = format!("{}.{}", attribute.name, sub.name);
    let canonical = canonical_scalar(sub, value, &label)?;
    let mut given = Object::new();
    given.insert(sub.name.to_owned(), canonical);
    if !attribute.multi_valued {
        let Some(current) = object_slot(holder, attribute.name) else {
            return Ok(());
        };
        return merge(attribute, current, given);
    }
    let Some(Value::Array(elements)) = member_mut(holder, attribute.name) else {
        return Err(ScimError::no_target(format!(
            "{} has no values to set {} on",
            attribute.name, sub.name
        )));
    };
    for element in elements.iter_mut() {
        if let Some(object) = element.as_object_mut() {
            merge(attribute, object, given.clone())?;
        }
    }
    normalise_primary(elements, None);
    Ok(())
}

/// `attr[filter]` or `attr[filter].sub`: the matching values are updated (a value given for
/// `attr[filter]` is merged into each). When nothing matches and the filter only requires
/// sub-attribute values, the value it describes is created (Entra ID's way of adding a work
/// email); otherwise `noTarget`.
fn set_filtered(
    holder: &mut Object,
    attribute: &'static Attribute,
    filter: &Expr,
    sub: Option<&'static Attribute>,
    value: &Value,
) -> Result<(), ScimError> {
    let label = attribute.name;
    let given = match sub {
        Some(sub) => {
            let mut given = Object::new();
            let sub_label = format!("{label}.{}", sub.name);
            given.insert(
                sub.name.to_owned(),
                canonical_scalar(sub, value, &sub_label)?,
            );
            given
        }
        None => match canonical_element(attribute, value, label)? {
            Some(Value::Object(given)) => given,
            _ => return Ok(()),
        },
    };
    if !member(holder, label).is_some_and(Value::is_array) {
        set_member(holder, label, Value::Array(Vec::new()));
    }
    let Some(Value::Array(elements)) = member_mut(holder, label) else {
        return Ok(());
    };
    let matched: Vec<usize> = (0..elements.len())
        .filter(|&index| matches_element(filter, &elements[index]))
        .collect();
    if matched.is_empty() {
        let Some(required) = required_values(filter) else {
            return Err(ScimError::no_target(format!(
                "no value of {label} matches the filter"
            )));
        };
        let mut created = Object::new();
        for (sub, value) in required {
            created.insert(sub.name.to_owned(), value);
        }
        created.extend(given);
        if let Some(element) = canonical_element(attribute, &Value::Object(created), label)? {
            elements.push(element);
            let last = elements.len() - 1;
            normalise_primary(elements, Some(last));
        }
        return Ok(());
    }
    for &index in &matched {
        if let Some(object) = elements[index].as_object_mut() {
            merge(attribute, object, given.clone())?;
        }
    }
    let last = matched.last().copied();
    normalise_primary(elements, last);
    Ok(())
}

/// `remove` (RFC 7644 §3.5.2.2). A filter that matches nothing is `noTarget`; removing an
/// attribute that is not there is not an error (the result is what was asked for).
fn remove(doc: &mut Object, target: PatchPath, value: Option<&Value>) -> Result<(), ScimError> {
    let (path, filter) = match target {
        PatchPath::Dropped => return Ok(()),
        PatchPath::Extension(schema) => {
            remove_member(doc, schema.id);
            return Ok(());
        }
        PatchPath::Attribute { path, filter } => (path, filter),
    };
    let attribute = path.attribute;
    let leaf = path.leaf();
    if attribute.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!(
            "{} is readOnly",
            written(&path)
        )));
    }
    let Some(holder) = container_mut(doc, path.schema) else {
        return Ok(());
    };
    let outcome = match (filter, path.sub) {
        (None, None) => match value {
            Some(listed) if attribute.multi_valued && !listed.is_null() => {
                remove_listed(holder, attribute, listed)
            }
            _ => {
                if attribute.mutability == Mutability::Immutable
                    && member(holder, attribute.name).is_some_and(is_present)
                {
                    return Err(ScimError::mutability(format!(
                        "{} is immutable",
                        attribute.name
                    )));
                }
                remove_member(holder, attribute.name);
                Ok(())
            }
        },
        (filter, sub) => remove_within(holder, attribute, filter.as_ref(), sub),
    };
    if path.schema.is_extension {
        let empty = member(doc, path.schema.id).is_some_and(|ext| !is_present(ext));
        if empty {
            remove_member(doc, path.schema.id);
        }
    }
    outcome
}

/// Entra ID removes members by listing them in `value`: each listed value removes the
/// values that have all its sub-attributes. Listing a value that is not there is no error.
fn remove_listed(
    holder: &mut Object,
    attribute: &'static Attribute,
    listed: &Value,
) -> Result<(), ScimError> {
    let listed: Vec<&Value> = match listed {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut removals = Vec::new();
    for item in listed {
        if let Some(element) = canonical_element(attribute, item, attribute.name)? {
            removals.push(element);
        }
    }
    let Some(Value::Array(elements)) = member_mut(holder, attribute.name) else {
        return Ok(());
    };
    elements.retain(|element| !removals.iter().any(|removal| covers(removal, element)));
    if elements.is_empty() {
        remove_member(holder, attribute.name);
    }
    Ok(())
}

/// Whether `element` has every sub-attribute value `removal` lists.
fn covers(removal: &Value, element: &Value) -> bool {
    match (removal.as_object(), element.as_object()) {
        (Some(removal), Some(element)) => removal
            .iter()
            .all(|(name, value)| member(element, name) == Some(value)),
        _ => removal == element,
    }
}

/// Removes the values matching `filter` (or all values), or just their `sub`.
fn remove_within(
    holder: &mut Object,
    attribute: &'static Attribute,
    filter: Option<&Expr>,
    sub: Option<&'static Attribute>,
) -> Result<(), ScimError> {
    let label = attribute.name;
    if let Some(sub) = sub
        && sub.mutability == Mutability::Immutable
    {
        return Err(ScimError::mutability(format!(
            "{label}.{} is immutable",
            sub.name
        )));
    }
    let Some(slot) = member_mut(holder, label) else {
        return match filter {
            Some(_) => Err(ScimError::no_target(format!(
                "{label} has no value matching the filter"
            ))),
            None => Ok(()),
        };
    };
    if let (Value::Object(object), Some(sub)) = (&mut *slot, sub) {
        remove_member(object, sub.name);
    } else if let Value::Array(elements) = slot {
        let selected: Vec<bool> = elements
            .iter()
            .map(|element| filter.is_none_or(|f| matches_element(f, element)))
            .collect();
        if filter.is_some() && !selected.contains(&true) {
            return Err(ScimError::no_target(format!(
                "no value of {label} matches the filter"
            )));
        }
        let mut index = 0;
        elements.retain_mut(|element| {
            let is_selected = selected[index];
            index += 1;
            match (is_selected, sub, element.as_object_mut()) {
                (false, _, _) => true,
                (true, None, _) => false,
                (true, Some(sub), Some(object)) => {
                    remove_member(object, sub.name);
                    is_present(element)
                }
                (true, Some(_), None) => true,
            }
        });
    }
    if member(holder, label).is_some_and(|value| !is_present(value)) {
        remove_member(holder, label);
    }
    Ok(())
}

/// The object holding `schema`'s attributes, created for an extension if absent.
fn container_mut<'d>(doc: &'d mut Object, schema: &Schema) -> Option<&'d mut Object> {
    if !schema.is_extension {
        return Some(doc);
    }
    object_slot(doc, schema.id)
}

/// The object at `name`, created (or replacing a non-object) if needed; always `Some`.
fn object_slot<'o>(holder: &'o mut Object, name: &str) -> Option<&'o mut Object> {
    if !member(holder, name).is_some_and(Value::is_object) {
        set_member(holder, name, Value::Object(Object::new()));
    }
    member_mut(holder, name)?.as_object_mut()
}

fn written(path: &AttrPath) -> String {
    let mut out = String::new();
    path.write(&mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(kind: Kind, existing: &Value, operations: Value) -> Result<Value, ScimError> {
        apply_patch(
            kind,
            existing,
            &json!({"schemas": [PATCH_SCHEMA], "Operations": operations}),
        )
    }

    fn group() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1", "displayName": "Tour Guides",
            "members": [{"value": "u1", "display": "Babs"}, {"value": "u2"}],
            "meta": {"resourceType": "Group", "version": "W/\"3\""},
        })
    }

    #[test]
    fn members_are_added_once_and_removed_by_filter() {
        let added = patch(
            Kind::Group,
            &group(),
            json!([{"op": "Add", "path": "members",
                    "value": [{"value": "u3", "$ref": null}, {"value": "u1", "display": "Barbara"}]}]),
        )
        .unwrap();
        assert_eq!(
            added["members"],
            json!([{"value": "u1", "display": "Barbara"}, {"value": "u2"}, {"value": "u3"}])
        );
        assert_eq!(added["id"], "g1");
        assert_eq!(added["meta"], group()["meta"]);
        let removed = patch(
            Kind::Group,
            &added,
            json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]),
        )
        .unwrap();
        assert_eq!(removed["members"].as_array().unwrap().len(), 2);
        let error = patch(
            Kind::Group,
            &removed,
            json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("noTarget"));
        assert!(error.detail().starts_with("operation 1"), "{error}");
    }

    #[test]
    fn member_values_are_immutable() {
        let error = patch(
            Kind::Group,
            &group(),
            json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u9"}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("mutability"));
        let renamed = patch(
            Kind::Group,
            &group(),
            json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "B"}]),
        )
        .unwrap();
        assert_eq!(
            renamed["members"][0],
            json!({"value": "u1", "display": "B"})
        );
    }

    #[test]
    fn read_only_targets_are_refused_but_skipped_in_pathless_values() {
        let user = json!({"userName": "a", "id": "u1", "groups": [{"value": "g1"}]});
        let error = patch(
            Kind::User,
            &user,
            json!([{"op": "add", "path": "groups", "value": [{"value": "g2"}]}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("mutability"));
        let error = patch(Kind::User, &user, json!([{"op": "remove", "path": "id"}])).unwrap_err();
        assert_eq!(error.scim_type(), Some("mutability"));
        let patched = patch(
            Kind::User,
            &user,
            json!([{"op": "replace", "value": {"id": "other", "userName": "b"}}]),
        )
        .unwrap();
        assert_eq!(patched["id"], "u1");
        assert_eq!(patched["userName"], "b");
        assert_eq!(patched["groups"], json!([{"value": "g1"}]));
    }

    #[test]
    fn required_attributes_cannot_be_removed() {
        let error = patch(
            Kind::User,
            &json!({"userName": "a"}),
            json!([{"op": "remove", "path": "userName"}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidValue"));
        let error = patch(
            Kind::Group,
            &group(),
            json!([{"op": "replace", "path": "displayName", "value": null}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidValue"));
    }

    #[test]
    fn malformed_requests_are_invalid_syntax() {
        let user = json!({"userName": "a"});
        for request in [
            json!([]),
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "value": {}}]}),
            json!({"Operations": []}),
            json!({"Operations": [{"op": "move", "path": "userName", "value": "b"}]}),
            json!({"Operations": [{"op": "add", "value": "b"}]}),
            json!({"Operations": [{"op": "add", "path": "userName"}]}),
            json!({"Operations": [{"op": "add", "value": {"shoeSize": 4}}]}),
        ] {
            let error = apply_patch(Kind::User, &user, &request).unwrap_err();
            assert_eq!(error.scim_type(), Some("invalidSyntax"), "{request}");
        }
        let error = apply_patch(
            Kind::User,
            &user,
            &json!({"Operations": [{"op": "remove"}]}),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("noTarget"));
        let error = apply_patch(
            Kind::User,
            &user,
            &json!({"Operations": [{"op": "add", "path": "emails[type eq]", "value": "x"}]}),
        )
        .unwrap_err();
        assert_eq!(error.scim_type(), Some("invalidPath"));
    }

    #[test]
    fn a_failed_operation_leaves_nothing_applied() {
        let user = json!({"userName": "a", "title": "t"});
        let result = patch(
            Kind::User,
            &user,
            json!([{"op": "remove", "path": "title"}, {"op": "add", "path": "active", "value": 3}]),
        );
        assert!(result.is_err());
        assert_eq!(user["title"], "t");
    }

    #[test]
    fn a_primary_set_by_patch_wins() {
        let user = json!({"userName": "a", "emails": [
            {"value": "a@x", "type": "work", "primary": true}, {"value": "b@x", "type": "home"}]});
        let patched = patch(
            Kind::User,
            &user,
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
        )
        .unwrap();
        assert_eq!(patched["emails"][0]["primary"], false);
        assert_eq!(patched["emails"][1]["primary"], true);
        let patched = patch(
            Kind::User,
            &patched,
            json!([{"op": "add", "path": "emails", "value": {"value": "c@x", "primary": true}}]),
        )
        .unwrap();
        assert_eq!(patched["emails"][1]["primary"], false);
        assert_eq!(patched["emails"][2]["primary"], true);
    }
}
