//! Official reference numbers that arrive as text and are checked once, at the edge.
//!
//! Each type can only hold a well-formed value, so code behind the edge never re-checks them.

use std::fmt;
use std::str::FromStr;

/// Error for a reference number that does not have the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} '{value}': expected {expected}")]
pub struct InvalidIdentifier {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

macro_rules! text_identifier {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Returns the identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_identifier!(
    /// Teacher reference number: seven digits, issued by the Teaching Regulation Agency.
    Trn
);

impl FromStr for Trn {
    type Err = InvalidIdentifier;

    /// Parses seven digits. Spaces and hyphens, which people type when copying a TRN from a
    /// certificate, are removed first.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() == 7 && all_digits(&digits) {
            Ok(Self(digits))
        } else {
            Err(InvalidIdentifier { kind: "TRN", value: text.to_owned(), expected: "seven digits" })
        }
    }
}

text_identifier!(
    /// Unique reference number of a school or college in Get Information About Schools: six digits.
    SchoolUrn
);

impl FromStr for SchoolUrn {
    type Err = InvalidIdentifier;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() == 6 && all_digits(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidIdentifier { kind: "school URN", value: text.to_owned(), expected: "six digits" })
        }
    }
}

text_identifier!(
    /// Ofsted unique reference number of a private childcare provider: six or seven digits, or
    /// `EY` followed by six digits (stored in upper case).
    OfstedUrn
);

impl FromStr for OfstedUrn {
    type Err = InvalidIdentifier;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        let valid = match upper.strip_prefix("EY") {
            Some(rest) => rest.len() == 6 && all_digits(rest),
            None => (6..=7).contains(&upper.len()) && all_digits(&upper),
        };
        if valid {
            Ok(Self(upper))
        } else {
            Err(InvalidIdentifier {
                kind: "Ofsted URN",
                value: text.to_owned(),
                expected: "six or seven digits, or EY followed by six digits",
            })
        }
    }
}

text_identifier!(
    /// UK provider reference number: eight digits starting with 1.
    Ukprn
);

impl FromStr for Ukprn {
    type Err = InvalidIdentifier;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() == 8 && all_digits(text) && text.starts_with('1') {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidIdentifier { kind: "UKPRN", value: text.to_owned(), expected: "eight digits starting with 1" })
        }
    }
}

text_identifier!(
    /// ISO 3166-1 alpha-3 country code, such as `GBR`.
    CountryCode
);

impl FromStr for CountryCode {
    type Err = InvalidIdentifier;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        if upper.len() == 3 && upper.bytes().all(|byte| byte.is_ascii_uppercase()) {
            Ok(Self(upper))
        } else {
            Err(InvalidIdentifier {
                kind: "country code",
                value: text.to_owned(),
                expected: "three letters (ISO 3166-1 alpha-3)",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trn_accepts_seven_digits_with_separators() {
        assert_eq!("1234567".parse::<Trn>().unwrap().as_str(), "1234567");
        assert_eq!("123 45 67".parse::<Trn>().unwrap().as_str(), "1234567");
        assert_eq!("12-34567".parse::<Trn>().unwrap().as_str(), "1234567");
    }

    #[test]
    fn trn_rejects_wrong_length_and_letters() {
        for text in ["123456", "12345678", "12345a7", "", "RP99/12345"] {
            assert!(text.parse::<Trn>().is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn ukprn_must_start_with_one() {
        assert!("10012345".parse::<Ukprn>().is_ok());
        assert!("20012345".parse::<Ukprn>().is_err());
        assert!("1001234".parse::<Ukprn>().is_err());
    }

    #[test]
    fn ofsted_urn_takes_both_forms() {
        assert_eq!("ey123456".parse::<OfstedUrn>().unwrap().as_str(), "EY123456");
        assert!("123456".parse::<OfstedUrn>().is_ok());
        assert!("2123456".parse::<OfstedUrn>().is_ok());
        assert!("EY12345".parse::<OfstedUrn>().is_err());
    }

    #[test]
    fn school_urn_is_six_digits() {
        assert!("100001".parse::<SchoolUrn>().is_ok());
        assert!("10000".parse::<SchoolUrn>().is_err());
    }

    proptest! {
        #[test]
        fn any_seven_digits_are_a_trn(digits in "[0-9]{7}") {
            let trn: Trn = digits.parse().unwrap();
            prop_assert_eq!(trn.as_str(), digits.as_str());
        }

        #[test]
        fn parsed_identifiers_reparse_to_themselves(text in "[A-Za-z0-9 -]{0,12}") {
            if let Ok(trn) = text.parse::<Trn>() {
                prop_assert_eq!(trn.as_str().parse::<Trn>().unwrap(), trn);
            }
            if let Ok(urn) = text.parse::<OfstedUrn>() {
                prop_assert_eq!(urn.as_str().parse::<OfstedUrn>().unwrap(), urn);
            }
            if let Ok(ukprn) = text.parse::<Ukprn>() {
                prop_assert_eq!(ukprn.as_str().parse::<Ukprn>().unwrap(), ukprn);
            }
        }
    }
}
