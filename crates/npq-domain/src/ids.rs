//! Public identifiers of resources: UUIDs wrapped in one type per resource, so an application id
//! cannot be passed where a participant id is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// Error for a string that is not a UUID in the 8-4-4-4-12 hexadecimal form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")]
pub struct InvalidUuid(pub String);

/// Parses the hyphenated 8-4-4-4-12 form only, case-insensitively.
///
/// `uuid::Uuid::parse_str` also takes the simple, braced and URN forms; public ids are always
/// hyphenated, so the other forms are rejected here rather than silently matched.
pub fn parse_hyphenated_uuid(text: &str) -> Result<Uuid, InvalidUuid> {
    let bytes = text.as_bytes();
    let hyphens_in_place = bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&at| bytes[at] == b'-');
    if !hyphens_in_place {
        return Err(InvalidUuid(text.to_owned()));
    }
    Uuid::parse_str(text).map_err(|_| InvalidUuid(text.to_owned()))
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Creates a new random (version 4) id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// Returns the UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Lower-case hyphenated, the only form the API emits.
                self.0.hyphenated().fmt(formatter)
            }
        }

        impl FromStr for $name {
            type Err = InvalidUuid;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_hyphenated_uuid(text).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Public id of an application (`id` on the application resource).
    ApplicationId
);
uuid_id!(
    /// Public id of a person, shown as `participant_id` on applications.
    ParticipantId
);
uuid_id!(
    /// Public id of a lead provider.
    LeadProviderId
);
uuid_id!(
    /// Public id of a delivery partner.
    DeliveryPartnerId
);
uuid_id!(
    /// Public id of an API token, used by operators to name a token without its secret.
    ApiTokenId
);
uuid_id!(
    /// Public id of a declaration.
    DeclarationId
);
uuid_id!(
    /// Public id of a participant outcome.
    OutcomeId
);
uuid_id!(
    /// Public id of a statement.
    StatementId
);
uuid_id!(
    /// Public id of a manual adjustment on a statement.
    AdjustmentId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hyphenated_uuid_parses_in_either_case() {
        let lower: ApplicationId = "7e5bcdbf-c818-4961-8da5-439cab1984e0".parse().unwrap();
        let upper: ApplicationId = "7E5BCDBF-C818-4961-8DA5-439CAB1984E0".parse().unwrap();
        assert_eq!(lower, upper);
        assert_eq!(upper.to_string(), "7e5bcdbf-c818-4961-8da5-439cab1984e0");
    }

    #[test]
    fn other_uuid_forms_are_rejected() {
        for text in [
            "7e5bcdbfc81849618da5439cab1984e0",
            "{7e5bcdbf-c818-4961-8da5-439cab1984e0}",
            "urn:uuid:7e5bcdbf-c818-4961-8da5-439cab1984e0",
            "7e5bcdbf-c818-4961-8da5-439cab1984e",
            "",
            "123XXX",
        ] {
            assert!(text.parse::<ApplicationId>().is_err(), "{text} should be rejected");
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(bytes in any::<[u8; 16]>()) {
            let id = ParticipantId::from_uuid(Uuid::from_bytes(bytes));
            prop_assert_eq!(id.to_string().parse::<ParticipantId>().unwrap(), id);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = text.parse::<LeadProviderId>();
        }
    }
}
