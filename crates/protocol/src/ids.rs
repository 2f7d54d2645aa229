//! Identifiers: tasks, users and recipes are UUIDs, parsed once at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be a UUID, got {value:?}")]
pub struct IdError {
    kind: &'static str,
    value: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The inner UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the canonical hyphenated form (or any form `uuid` accepts).
            ///
            /// # Errors
            /// [`IdError`] when the text is not a UUID.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                Uuid::parse_str(value.trim())
                    .map(Self)
                    .map_err(|_| IdError { kind: $kind, value: value.chars().take(64).collect() })
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A scrape task. New ids are UUIDv7, so they sort by creation time.
    TaskId,
    "task id"
);
uuid_id!(
    /// A user: the `sub` claim of their Supabase access token.
    UserId,
    "user id"
);
uuid_id!(
    /// A saved recipe. New ids are UUIDv7, so they sort by creation time.
    RecipeId,
    "recipe id"
);

impl TaskId {
    /// A fresh, time-ordered task id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl RecipeId {
    /// A fresh, time-ordered recipe id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for TaskId {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for RecipeId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let id = TaskId::new();
        assert_eq!(TaskId::parse(&id.to_string()), Ok(id));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<TaskId>(&json).unwrap(), id);
    }

    #[test]
    fn a_bad_id_names_its_kind() {
        let err = UserId::parse("not-a-uuid").unwrap_err();
        assert_eq!(err.to_string(), "user id must be a UUID, got \"not-a-uuid\"");
    }

    #[test]
    fn new_task_ids_sort_by_creation() {
        let a = TaskId::new();
        let b = TaskId::new();
        assert!(a < b);
    }
}
