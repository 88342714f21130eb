//! OpenAPI schemas of the wire types (the `openapi` feature): what `#[derive(utoipa::ToSchema)]`
//! cannot say by itself. `cairn-server` builds its OpenAPI document from these; clients never
//! compile them.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

use crate::ErrorCode;

/// [`crate::ServerInfo::blob_store`]: one of the kinds of blob store.
pub(crate) fn blob_store() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["local", "s3", "gs", "azure"]))
        .description(Some("Where blobs are kept."))
}

/// Version metadata: a JSON object of at most [`crate::MAX_METADATA_KEYS`] keys.
pub(crate) fn metadata() -> ObjectBuilder {
    metadata_of(SchemaType::Type(Type::Object))
}

/// Any JSON object (a run's config and summary).
pub(crate) fn json_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some("A JSON object, as the logging client sent it."))
}

/// [`crate::UpdateVersion::metadata`]: new metadata, or `null` (or absent) to keep the old.
pub(crate) fn optional_metadata() -> ObjectBuilder {
    metadata_of(SchemaType::from_iter([Type::Object, Type::Null]))
}

fn metadata_of(schema_type: SchemaType) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(schema_type)
        .max_properties(Some(crate::MAX_METADATA_KEYS))
        .description(Some("User metadata: a JSON object of at most 100 keys."))
}

impl utoipa::PartialSchema for ErrorCode {
    /// The codes a server sends; [`ErrorCode::Unknown`] is only a client's name for a code it
    /// does not know, so it is not listed.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Self::KNOWN.iter().map(|code| code.as_str())))
            .description(Some(
                "The stable machine code of a problem. The set only grows, so clients treat an \
                 unknown code by its HTTP status.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}
