//! The text forms of enums stored in the database, written once: each maps both ways, and a
//! value the database holds but this build does not know is an error (the request fails with a
//! logged `internal`), never silently read as a default.

use crate::model::{CollectionKind, Role, RunState, TtlEditors, VersionState, Visibility};
use rusqlite::Row;
use rusqlite::types::{FromSqlError, Type};

/// A user or a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntityKind {
    User,
    Team,
}

/// An enum stored as text.
pub(crate) trait TextEnum: Sized + Copy + 'static {
    /// What the enum is, for the error message.
    const WHAT: &'static str;
    /// Every value with its stored text.
    const ALL: &'static [(Self, &'static str)];

    /// The stored text of `self`.
    fn as_sql(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::ALL
            .iter()
            .find(|(value, _)| *value == self)
            .map_or("", |(_, text)| text)
    }

    /// Column `index` of `row`, which must hold one of the stored texts.
    fn from_row(row: &Row<'_>, index: usize) -> rusqlite::Result<Self> {
        let text: String = row.get(index)?;
        Self::ALL
            .iter()
            .find(|(_, stored)| *stored == text)
            .map(|(value, _)| *value)
            .ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    index,
                    Type::Text,
                    Box::new(FromSqlError::Other(
                        format!("unknown {} `{text}` in the database", Self::WHAT).into(),
                    )),
                )
            })
    }
}

impl TextEnum for Visibility {
    const WHAT: &'static str = "project visibility";
    const ALL: &'static [(Self, &'static str)] = &[
        (Self::Private, "private"),
        (Self::Public, "public"),
        (Self::Open, "open"),
    ];
}

impl TextEnum for VersionState {
    const WHAT: &'static str = "version state";
    const ALL: &'static [(Self, &'static str)] = &[
        (Self::Pending, "PENDING"),
        (Self::Committed, "COMMITTED"),
        (Self::Deleted, "DELETED"),
    ];
}

impl TextEnum for Role {
    const WHAT: &'static str = "team role";
    const ALL: &'static [(Self, &'static str)] =
        &[(Self::Admin, "admin"), (Self::Member, "member")];
}

impl TextEnum for RunState {
    const WHAT: &'static str = "run state";
    const ALL: &'static [(Self, &'static str)] = &[
        (Self::Running, "running"),
        (Self::Finished, "finished"),
        (Self::Failed, "failed"),
        (Self::Crashed, "crashed"),
    ];
}

impl TextEnum for CollectionKind {
    const WHAT: &'static str = "collection kind";
    const ALL: &'static [(Self, &'static str)] =
        &[(Self::Sequence, "sequence"), (Self::Portfolio, "portfolio")];
}

impl TextEnum for TtlEditors {
    const WHAT: &'static str = "TTL editors";
    const ALL: &'static [(Self, &'static str)] =
        &[(Self::Admins, "admins"), (Self::Members, "members")];
}

impl TextEnum for EntityKind {
    const WHAT: &'static str = "entity kind";
    const ALL: &'static [(Self, &'static str)] = &[(Self::User, "user"), (Self::Team, "team")];
}

/// Column `index` of `row` as an MD5 stored in hex; anything else fails loudly.
pub(crate) fn md5_from_row(row: &Row<'_>, index: usize) -> rusqlite::Result<cairn_hash::Md5Digest> {
    let text: String = row.get(index)?;
    cairn_hash::Md5Digest::from_hex(&text).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(error))
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    fn read<T: TextEnum>(text: &str) -> rusqlite::Result<T> {
        let connection = Connection::open_in_memory()?;
        connection.query_row("SELECT ?1", [text], |row| T::from_row(row, 0))
    }

    fn round_trips<T: TextEnum + PartialEq + std::fmt::Debug>() {
        for (value, text) in T::ALL {
            assert_eq!(value.as_sql(), *text);
            assert_eq!(read::<T>(text).ok(), Some(*value));
        }
        let error = read::<T>("bogus").unwrap_err().to_string();
        assert!(
            error.contains("unknown") && error.contains("bogus"),
            "{error}"
        );
    }

    #[test]
    fn every_enum_round_trips_and_unknown_text_fails_loudly() {
        round_trips::<Visibility>();
        round_trips::<VersionState>();
        round_trips::<Role>();
        round_trips::<RunState>();
        round_trips::<EntityKind>();
    }
}
