//! The schemas Mamori speaks (RFC 7643 §4, §7, §8.7): the User core schema without
//! `password` and `x509Certificates`, the Enterprise User extension, Mamori's HR extension
//! and the Group schema — as static definitions that drive validation, filters, PATCH paths
//! and projection, and as the `/Schemas`, `/ResourceTypes` and `/ServiceProviderConfig`
//! discovery documents rendered from those same definitions (so what is advertised is what
//! is enforced).

use serde_json::{Map, Value, json};

/// Core User schema URN (RFC 7643 §4.1).
pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub(crate) const ENTERPRISE_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Mamori's HR extension URN: notice and termination dates, employment type, priority.
pub(crate) const HR_SCHEMA: &str = "urn:mamori:params:scim:schemas:extension:hr:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The most resources the server returns in one list response; advertised in
/// `/ServiceProviderConfig` as `filter.maxResults`.
pub const MAX_RESULTS: usize = 200;

/// The two resource types Mamori provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A person's account, `/Users`.
    User,
    /// A group of Users (or Groups), `/Groups`.
    Group,
}

impl Kind {
    /// The endpoint name without a slash: `"Users"` or `"Groups"`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    /// The core schema URN of this resource type.
    pub fn schema(self) -> &'static str {
        self.core().id
    }

    /// The resource type name, as in `meta.resourceType`: `"User"` or `"Group"`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    pub(crate) fn core(self) -> &'static Schema {
        match self {
            Kind::User => &USER,
            Kind::Group => &GROUP,
        }
    }

    pub(crate) fn extensions(self) -> &'static [&'static Schema] {
        match self {
            Kind::User => &USER_EXTENSIONS,
            Kind::Group => &[],
        }
    }

    /// Attribute names of the RFC 7643 schema that Mamori accepts and then drops: IdPs send
    /// them (Okta's password sync, certificates from a directory) but Mamori must never keep
    /// a password, and refusing the request would break provisioning for an attribute we
    /// would not store anyway.
    pub(crate) fn dropped(self) -> &'static [&'static str] {
        match self {
            Kind::User => &["password", "x509Certificates"],
            Kind::Group => &[],
        }
    }

    /// The extension schema whose URN is `urn` (case-insensitively).
    pub(crate) fn extension(self, urn: &str) -> Option<&'static Schema> {
        self.extensions()
            .iter()
            .copied()
            .find(|schema| schema.id.eq_ignore_ascii_case(urn))
    }
}

/// The attribute types of RFC 7643 §2.3. No attribute Mamori defines is decimal, integer
/// or binary yet; validation and filters handle them so an extension can use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    String,
    Boolean,
    #[allow(dead_code)]
    Decimal,
    #[allow(dead_code)]
    Integer,
    DateTime,
    Reference,
    Complex,
    #[allow(dead_code)]
    Binary,
}

impl Type {
    fn keyword(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Decimal => "decimal",
            Type::Integer => "integer",
            Type::DateTime => "dateTime",
            Type::Reference => "reference",
            Type::Complex => "complex",
            Type::Binary => "binary",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returned {
    Always,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uniqueness {
    None,
    Server,
}

/// One attribute definition (RFC 7643 §7). Built with the `const fn` modifiers below so that
/// each definition reads as one line of the RFC's schema tables.
#[derive(Debug)]
pub(crate) struct Attribute {
    pub name: &'static str,
    pub ty: Type,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    /// Only `canonical_values` are accepted (matched case-insensitively, stored in the
    /// canonical spelling). Off for the RFC's own `type` lists, which IdPs extend freely.
    pub closed_values: bool,
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attribute],
    /// A dateTime that may also be written as a bare calendar date `YYYY-MM-DD` (Mamori's HR
    /// dates; SCIM has no date type, and a termination date is a day in the organisation's
    /// calendar, not an
    /// instant).
    pub calendar_date: bool,
}

const BASE: Attribute = Attribute {
    name: "",
    ty: Type::String,
    multi_valued: false,
    description: "",
    required: false,
    case_exact: false,
    mutability: Mutability::ReadWrite,
    returned: Returned::Default,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    closed_values: false,
    reference_types: &[],
    sub_attributes: &[],
    calendar_date: false,
};

const fn attribute(name: &'static str, ty: Type, description: &'static str) -> Attribute {
    Attribute {
        name,
        ty,
        description,
        ..BASE
    }
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    attribute(name, Type::String, description)
}

const fn complex(
    name: &'static str,
    description: &'static str,
    sub_attributes: &'static [Attribute],
) -> Attribute {
    Attribute {
        sub_attributes,
        ..attribute(name, Type::Complex, description)
    }
}

const fn reference(
    name: &'static str,
    reference_types: &'static [&'static str],
    description: &'static str,
) -> Attribute {
    Attribute {
        reference_types,
        ..attribute(name, Type::Reference, description)
    }
}

impl Attribute {
    const fn multi(self) -> Self {
        Attribute {
            multi_valued: true,
            ..self
        }
    }
    const fn required(self) -> Self {
        Attribute {
            required: true,
            ..self
        }
    }
    const fn case_exact(self) -> Self {
        Attribute {
            case_exact: true,
            ..self
        }
    }
    const fn read_only(self) -> Self {
        Attribute {
            mutability: Mutability::ReadOnly,
            ..self
        }
    }
    const fn immutable(self) -> Self {
        Attribute {
            mutability: Mutability::Immutable,
            ..self
        }
    }
    const fn always(self) -> Self {
        Attribute {
            returned: Returned::Always,
            ..self
        }
    }
    const fn server_unique(self) -> Self {
        Attribute {
            uniqueness: Uniqueness::Server,
            ..self
        }
    }
    const fn canonical(self, values: &'static [&'static str]) -> Self {
        Attribute {
            canonical_values: values,
            ..self
        }
    }
    const fn closed(self, values: &'static [&'static str]) -> Self {
        Attribute {
            canonical_values: values,
            closed_values: true,
            ..self
        }
    }
    const fn date(self) -> Self {
        Attribute {
            calendar_date: true,
            ..self
        }
    }

    /// The sub-attribute called `name`, case-insensitively (RFC 7643 §2.1).
    pub(crate) fn sub(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|sub| sub.name.eq_ignore_ascii_case(name))
    }

    /// The `value` sub-attribute of a complex attribute: what a filter or a bare scalar
    /// refers to when it names the complex attribute itself (`members eq "id"`).
    pub(crate) fn value_sub(&self) -> Option<&'static Attribute> {
        self.sub_attributes.iter().find(|sub| sub.name == "value")
    }

    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("name".into(), self.name.into());
        object.insert("type".into(), self.ty.keyword().into());
        object.insert("multiValued".into(), self.multi_valued.into());
        object.insert("description".into(), self.description.into());
        object.insert("required".into(), self.required.into());
        object.insert("caseExact".into(), self.case_exact.into());
        let mutability = match self.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
        };
        object.insert("mutability".into(), mutability.into());
        let returned = match self.returned {
            Returned::Always => "always",
            Returned::Default => "default",
            Returned::Request => "request",
        };
        object.insert("returned".into(), returned.into());
        let uniqueness = match self.uniqueness {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
        };
        object.insert("uniqueness".into(), uniqueness.into());
        if !self.canonical_values.is_empty() {
            object.insert("canonicalValues".into(), self.canonical_values.into());
        }
        if self.ty == Type::Reference {
            object.insert("referenceTypes".into(), self.reference_types.into());
        }
        if self.ty == Type::Complex {
            let subs: Vec<Value> = self.sub_attributes.iter().map(Self::to_json).collect();
            object.insert("subAttributes".into(), subs.into());
        }
        Value::Object(object)
    }
}

/// A schema: its URN, name and attributes.
#[derive(Debug)]
pub(crate) struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
    /// An extension's attributes live in an object keyed by its URN; the core schema's and
    /// the common attributes at the top of the resource.
    pub is_extension: bool,
}

impl Schema {
    pub(crate) fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|attribute| attribute.name.eq_ignore_ascii_case(name))
    }

    fn to_json(&self) -> Value {
        let attributes: Vec<Value> = self.attributes.iter().map(Attribute::to_json).collect();
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attributes,
            "meta": { "resourceType": "Schema" },
        })
    }
}

/// The multi-valued "value, display, type, primary" shape shared by emails, phoneNumbers,
/// ims, photos, entitlements and roles.
const fn plural(
    name: &'static str,
    description: &'static str,
    sub_attributes: &'static [Attribute],
) -> Attribute {
    complex(name, description, sub_attributes).multi()
}

const PRIMARY: Attribute = attribute(
    "primary",
    Type::Boolean,
    "Whether this is the preferred value; at most one value is primary.",
);
const DISPLAY: Attribute = string("display", "A human-readable name, for display only.");

/// The attributes every resource has (RFC 7643 §3.1). They are not listed in `/Schemas`.
pub(crate) static COMMON: Schema = Schema {
    id: "",
    name: "Common",
    description: "Attributes of every resource (RFC 7643 §3.1)",
    is_extension: false,
    attributes: &[
        string("id", "Unique identifier of the resource, issued by Mamori.")
            .case_exact()
            .read_only()
            .always()
            .server_unique(),
        string(
            "externalId",
            "The identifier the provisioning client uses for this resource.",
        )
        .case_exact(),
        complex(
            "meta",
            "Resource metadata, maintained by Mamori.",
            &[
                string("resourceType", "The resource type: User or Group.")
                    .case_exact()
                    .read_only(),
                attribute("created", Type::DateTime, "When the resource was created.").read_only(),
                attribute(
                    "lastModified",
                    Type::DateTime,
                    "When the resource was last changed.",
                )
                .read_only(),
                reference("location", &["uri"], "The URI of the resource.").read_only(),
                string(
                    "version",
                    "The weak ETag of the resource's current version.",
                )
                .case_exact()
                .read_only(),
            ],
        )
        .read_only(),
    ],
};

static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    is_extension: false,
    attributes: &[
        string(
            "userName",
            "Unique identifier for the User, typically the sign-in name; unique regardless of case.",
        )
        .required()
        .server_unique(),
        complex(
            "name",
            "The components of the User's real name.",
            &[
                string("formatted", "The full name, formatted for display."),
                string("familyName", "The family name."),
                string("givenName", "The given name."),
                string("middleName", "The middle name(s)."),
                string("honorificPrefix", "Honorific prefix, e.g. 'Ms.'."),
                string("honorificSuffix", "Honorific suffix, e.g. 'III'."),
            ],
        ),
        string("displayName", "The name of the User, suitable for display."),
        string("nickName", "The casual way to address the User."),
        reference("profileUrl", &["external"], "A URI of the User's online profile."),
        string("title", "The User's title, e.g. 'Vice President'."),
        string(
            "userType",
            "The relationship to the organisation, e.g. 'Employee', 'Contractor'.",
        ),
        string(
            "preferredLanguage",
            "Preferred written or spoken language (RFC 7231 Accept-Language).",
        ),
        string("locale", "Default location for localisation, e.g. 'ja-JP'."),
        string("timezone", "The User's time zone (IANA name), e.g. 'Asia/Tokyo'."),
        attribute(
            "active",
            Type::Boolean,
            "Whether the User's account is active.",
        ),
        plural(
            "emails",
            "Email addresses of the User.",
            &[
                string("value", "The email address."),
                DISPLAY,
                string("type", "The kind of address.").canonical(&["work", "home", "other"]),
                PRIMARY,
            ],
        ),
        plural(
            "phoneNumbers",
            "Phone numbers of the User.",
            &[
                string("value", "The phone number (RFC 3966 form preferred)."),
                DISPLAY,
                string("type", "The kind of phone number.").canonical(&[
                    "work", "home", "mobile", "fax", "pager", "other",
                ]),
                PRIMARY,
            ],
        ),
        plural(
            "ims",
            "Instant messaging addresses of the User.",
            &[
                string("value", "The instant messaging address."),
                DISPLAY,
                string("type", "The instant messaging service.").canonical(&[
                    "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo",
                ]),
                PRIMARY,
            ],
        ),
        plural(
            "photos",
            "URLs of photos of the User.",
            &[
                reference("value", &["external"], "The URL of the photo."),
                DISPLAY,
                string("type", "The kind of photo.").canonical(&["photo", "thumbnail"]),
                PRIMARY,
            ],
        ),
        plural(
            "addresses",
            "Physical mailing addresses of the User.",
            &[
                string("formatted", "The full address, formatted for display."),
                string("streetAddress", "The street address."),
                string("locality", "The city or locality."),
                string("region", "The state or region."),
                string("postalCode", "The postal code."),
                string("country", "The country (ISO 3166-1 alpha-2)."),
                string("type", "The kind of address.").canonical(&["work", "home", "other"]),
                PRIMARY,
            ],
        ),
        plural(
            "groups",
            "The Groups the User belongs to, maintained by Mamori from Group memberships.",
            &[
                string("value", "The id of the Group.").read_only(),
                reference("$ref", &["User", "Group"], "The URI of the Group.").read_only(),
                string("display", "The displayName of the Group.").read_only(),
                string("type", "Direct or indirect membership.")
                    .canonical(&["direct", "indirect"])
                    .read_only(),
            ],
        )
        .read_only(),
        plural(
            "entitlements",
            "Entitlements of the User.",
            &[
                string("value", "The entitlement."),
                DISPLAY,
                string("type", "The kind of entitlement."),
                PRIMARY,
            ],
        ),
        plural(
            "roles",
            "Roles of the User.",
            &[
                string("value", "The role."),
                DISPLAY,
                string("type", "The kind of role."),
                PRIMARY,
            ],
        ),
    ],
};

static ENTERPRISE: Schema = Schema {
    id: ENTERPRISE_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    is_extension: true,
    attributes: &[
        string(
            "employeeNumber",
            "The identifier of the User in the organisation.",
        ),
        string("costCenter", "The cost center."),
        string("organization", "The organisation."),
        string("division", "The division."),
        string("department", "The department."),
        complex(
            "manager",
            "The User's manager.",
            &[
                string("value", "The id of the manager's User resource."),
                reference("$ref", &["User"], "The URI of the manager's User resource."),
                string("displayName", "The manager's displayName.").read_only(),
            ],
        ),
    ],
};

static HR: Schema = Schema {
    id: HR_SCHEMA,
    name: "MamoriHrUser",
    description: "Mamori HR context: employment facts that change how activity is weighed",
    is_extension: true,
    attributes: &[
        attribute(
            "noticeDate",
            Type::DateTime,
            "The day notice was given: a dateTime, or a calendar date YYYY-MM-DD; Mamori uses \
             the date as written.",
        )
        .date(),
        attribute(
            "terminationDate",
            Type::DateTime,
            "The last day of employment: a dateTime, or a calendar date YYYY-MM-DD; Mamori \
             uses the date as written.",
        )
        .date(),
        string("employmentType", "The kind of employment.").closed(&[
            "employee",
            "contract",
            "temporary",
            "contractor",
            "part_time",
            "executive",
        ]),
        attribute(
            "priority",
            Type::Boolean,
            "Whether the person's access warrants closer review (privileged or high-risk role).",
        ),
    ],
};

static USER_EXTENSIONS: [&Schema; 2] = [&ENTERPRISE, &HR];

static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    is_extension: false,
    attributes: &[
        string("displayName", "A human-readable name for the Group.").required(),
        plural(
            "members",
            "The members of the Group.",
            &[
                string("value", "The id of the member's resource.")
                    .immutable()
                    .required(),
                reference(
                    "$ref",
                    &["User", "Group"],
                    "The URI of the member's resource.",
                )
                .immutable(),
                string("display", "The member's display name."),
                string("type", "The kind of member.")
                    .closed(&["User", "Group"])
                    .immutable(),
            ],
        ),
    ],
};

/// Where an attribute path points.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttrPath {
    pub schema: &'static Schema,
    pub attribute: &'static Attribute,
    pub sub: Option<&'static Attribute>,
}

impl PartialEq for AttrPath {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.schema, other.schema)
            && std::ptr::eq(self.attribute, other.attribute)
            && match (self.sub, other.sub) {
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl AttrPath {
    /// The attribute a value at this path is checked against: the sub-attribute if named.
    pub(crate) fn leaf(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attribute)
    }

    /// The path in its canonical spelling: URN-qualified for extension attributes.
    pub(crate) fn write(&self, out: &mut String) {
        if self.schema.is_extension {
            out.push_str(self.schema.id);
            out.push(':');
        }
        out.push_str(self.attribute.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(sub.name);
        }
    }
}

/// What an attribute path names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resolved {
    Attribute(AttrPath),
    /// A whole extension, by its URN.
    Extension(&'static Schema),
    /// An attribute Mamori accepts and never keeps (see [`Kind::dropped`]).
    Dropped,
}

/// Resolves `text` (`userName`, `name.givenName`, `urn:…:User:manager.value`, an extension
/// URN) to an attribute of `kind`, case-insensitively. Short names refer to the common and
/// core attributes only: extension attributes are always URN-qualified (RFC 7644 §3.10), so
/// a name can never change meaning when an extension is added.
pub(crate) fn resolve(kind: Kind, text: &str) -> Result<Resolved, String> {
    if let Some(schema) = kind.extension(text) {
        return Ok(Resolved::Extension(schema));
    }
    let (schema, rest) = match split_urn(kind, text)? {
        Some((schema, rest)) => (schema, rest),
        None => (kind.core(), text),
    };
    let (name, sub_name) = match rest.split_once('.') {
        Some((name, sub_name)) => (name, Some(sub_name)),
        None => (rest, None),
    };
    check_name(name)?;
    if !schema.is_extension && kind.dropped().iter().any(|d| d.eq_ignore_ascii_case(name)) {
        return Ok(Resolved::Dropped);
    }
    let found = if schema.is_extension {
        schema.attribute(name).map(|a| (schema, a))
    } else {
        COMMON
            .attribute(name)
            .map(|a| (&COMMON, a))
            .or_else(|| schema.attribute(name).map(|a| (schema, a)))
    };
    let Some((schema, attribute)) = found else {
        return Err(format!("unknown attribute '{text}'"));
    };
    let sub = match sub_name {
        None => None,
        Some(sub_name) => {
            check_name(sub_name)?;
            match attribute.sub(sub_name) {
                Some(sub) => Some(sub),
                None => {
                    return Err(format!(
                        "'{}' has no sub-attribute '{sub_name}'",
                        attribute.name
                    ));
                }
            }
        }
    };
    Ok(Resolved::Attribute(AttrPath {
        schema,
        attribute,
        sub,
    }))
}

/// Splits a URN-qualified path into its schema and the attribute part.
fn split_urn(kind: Kind, text: &str) -> Result<Option<(&'static Schema, &str)>, String> {
    let is_urn = text
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:"));
    if !is_urn {
        return Ok(None);
    }
    let schemas = std::iter::once(kind.core()).chain(kind.extensions().iter().copied());
    for schema in schemas {
        let id_length = schema.id.len();
        let matches = text
            .get(..id_length)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(schema.id))
            && text.as_bytes().get(id_length) == Some(&b':');
        if matches {
            return Ok(Some((schema, &text[id_length + 1..])));
        }
    }
    Err(format!("'{text}' names no schema of a {}", kind.name()))
}

/// ATTRNAME = ALPHA *(nameChar) (RFC 7643 §2.1), and `$ref`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = match chars.next() {
        Some('$') => name == "$ref",
        Some(first) if first.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!("'{name}' is not an attribute name"))
    }
}

/// The Schema resources for `/Schemas` (RFC 7643 §7): User, the Enterprise User and Mamori
/// HR extensions, and Group. `meta.location` is left to the server, which knows its URL.
pub fn schemas() -> Vec<Value> {
    [&USER, &ENTERPRISE, &HR, &GROUP]
        .into_iter()
        .map(Schema::to_json)
        .collect()
}

/// The ResourceType resources for `/ResourceTypes` (RFC 7643 §6), with `meta.location`
/// under `base` (the SCIM base URL, e.g. `https://mamori.example/scim/v2`).
pub fn resource_types(base: &str) -> Vec<Value> {
    let base = base.trim_end_matches('/');
    [Kind::User, Kind::Group]
        .into_iter()
        .map(|kind| {
            let extensions: Vec<Value> = kind
                .extensions()
                .iter()
                .map(|schema| json!({ "schema": schema.id, "required": false }))
                .collect();
            let description = match kind {
                Kind::User => "User Account",
                Kind::Group => "Group",
            };
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": kind.name(),
                "name": kind.name(),
                "endpoint": format!("/{}", kind.endpoint()),
                "description": description,
                "schema": kind.schema(),
                "schemaExtensions": extensions,
                "meta": {
                    "resourceType": "ResourceType",
                    "location": format!("{base}/ResourceTypes/{}", kind.name()),
                },
            })
        })
        .collect()
}

/// The `/ServiceProviderConfig` resource (RFC 7643 §5): PATCH, filters and ETags
/// supported; bulk, sort and password changes not.
pub fn service_provider_config(base: &str) -> Value {
    let base = base.trim_end_matches('/');
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Bearer token created with `mamori tokens create --scope scim`",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(kind: Kind, text: &str) -> AttrPath {
        match resolve(kind, text) {
            Ok(Resolved::Attribute(path)) => path,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn names_resolve_case_insensitively_with_or_without_urn() {
        let short = path(Kind::User, "USERNAME");
        let long = path(
            Kind::User,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        );
        assert_eq!(short, long);
        assert_eq!(short.attribute.name, "userName");
        let manager = path(
            Kind::User,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Manager.Value",
        );
        assert_eq!(manager.attribute.name, "manager");
        assert_eq!(manager.sub.map(|s| s.name), Some("value"));
        assert_eq!(
            path(Kind::Group, "meta.lastModified").leaf().ty,
            Type::DateTime
        );
    }

    #[test]
    fn extension_attributes_need_their_urn() {
        assert!(resolve(Kind::User, "department").is_err());
        assert!(matches!(
            resolve(Kind::User, HR_SCHEMA),
            Ok(Resolved::Extension(_))
        ));
        assert!(matches!(
            resolve(Kind::User, "password"),
            Ok(Resolved::Dropped)
        ));
        assert!(resolve(Kind::Group, "password").is_err());
        assert!(resolve(Kind::User, "urn:example:foo:bar").is_err());
        assert!(resolve(Kind::User, "name.nope").is_err());
        assert!(resolve(Kind::User, "1abc").is_err());
    }

    #[test]
    fn schemas_never_advertise_passwords() {
        let text = serde_json::to_string(&schemas()).unwrap_or_default();
        assert!(!text.contains("password"));
        assert!(!text.contains("x509"));
        assert_eq!(schemas().len(), 4);
        let user = &schemas()[0];
        assert_eq!(user["attributes"][0]["name"], "userName");
        assert_eq!(user["attributes"][0]["uniqueness"], "server");
        assert_eq!(user["meta"]["resourceType"], "Schema");
    }

    #[test]
    fn resource_types_locate_under_the_base() {
        let types = resource_types("https://m.example/scim/v2/");
        assert_eq!(
            types[0]["meta"]["location"],
            "https://m.example/scim/v2/ResourceTypes/User"
        );
        assert_eq!(types[0]["schemaExtensions"][1]["schema"], HR_SCHEMA);
        assert_eq!(types[1]["endpoint"], "/Groups");
        let config = service_provider_config("https://m.example/scim/v2");
        assert_eq!(config["filter"]["maxResults"], 200);
        assert_eq!(config["bulk"]["supported"], false);
    }
}
