//! Cohorts: the academic year a course starts in, and how DfE funds it.

use std::fmt;
use std::str::FromStr;

use crate::Timestamp;

/// Earliest start year a cohort can have.
pub const FIRST_START_YEAR: u16 = 2021;
/// Latest start year a cohort can have.
pub const LAST_START_YEAR: u16 = 2029;

text_enum!(
    /// The funding regime of a cohort: which of its places DfE pays for.
    FundingRegime, "funding regime" {
        /// DfE funds every eligible participant; there is no cap and no funded-place flag (2021 to 2023).
        Full => "full",
        /// DfE funds only the places a lead provider marks as funded (2024 onwards).
        Capped => "capped",
        /// DfE funds no places at all.
        Zero => "zero",
    }
);

impl FundingRegime {
    /// Returns whether DfE funds any place in a cohort with this regime.
    pub const fn is_funded(self) -> bool {
        matches!(self, Self::Full | Self::Capped)
    }
}

/// Error for a cohort identifier that is not a start year followed by an optional suffix letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid cohort '{0}': expected a start year from {FIRST_START_YEAR} to {LAST_START_YEAR}, optionally followed by one lower-case letter, such as 2026 or 2026b"
)]
pub struct InvalidCohort(pub String);

/// A cohort's unique key: its start year and a suffix letter that tells apart several cohorts of
/// one year (`2026a`, `2026b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CohortIdentifier {
    start_year: u16,
    suffix: char,
}

impl CohortIdentifier {
    /// The suffix of a cohort that was given none.
    pub const DEFAULT_SUFFIX: char = 'a';

    /// Creates an identifier from a start year in range and a lower-case ASCII letter.
    pub fn new(start_year: u16, suffix: char) -> Result<Self, InvalidCohort> {
        if (FIRST_START_YEAR..=LAST_START_YEAR).contains(&start_year) && suffix.is_ascii_lowercase() {
            Ok(Self { start_year, suffix })
        } else {
            Err(InvalidCohort(format!("{start_year}{suffix}")))
        }
    }

    /// Returns the academic year the cohort starts in.
    pub const fn start_year(&self) -> u16 {
        self.start_year
    }

    /// Returns the suffix letter.
    pub const fn suffix(&self) -> char {
        self.suffix
    }
}

impl fmt::Display for CohortIdentifier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}{}", self.start_year, self.suffix)
    }
}

impl FromStr for CohortIdentifier {
    type Err = InvalidCohort;

    /// Parses `2026b`, or a bare year such as `2026`, which means suffix `a`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidCohort(text.to_owned());
        let (year, suffix) = match text.len() {
            4 => (text, Self::DEFAULT_SUFFIX),
            5 if text.is_char_boundary(4) => {
                let suffix = text[4..].chars().next().ok_or_else(invalid)?;
                (&text[..4], suffix)
            }
            _ => return Err(invalid()),
        };
        if !year.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid());
        }
        let start_year: u16 = year.parse().map_err(|_| invalid())?;
        Self::new(start_year, suffix).map_err(|_| invalid())
    }
}

/// A cohort and how it is funded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    pub identifier: CohortIdentifier,
    /// Label shown to DfE staff, unique across cohorts.
    pub description: String,
    /// When registration for the cohort opens; its year equals the start year.
    pub registration_start_date: Timestamp,
    pub funding: FundingRegime,
}

impl Cohort {
    /// Returns the name shown to people: the bare year for suffix `a`, otherwise the identifier.
    pub fn display_name(&self) -> String {
        if self.identifier.suffix() == CohortIdentifier::DEFAULT_SUFFIX {
            self.identifier.start_year().to_string()
        } else {
            self.identifier.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bare_year_means_suffix_a() {
        let cohort: CohortIdentifier = "2025".parse().unwrap();
        assert_eq!(cohort.start_year(), 2025);
        assert_eq!(cohort.suffix(), 'a');
        assert_eq!(cohort.to_string(), "2025a");
    }

    #[test]
    fn cohorts_outside_the_year_range_are_rejected() {
        for text in ["2020", "2030a", "202", "20255", "2025B", "2025é", "abcd", ""] {
            assert!(text.parse::<CohortIdentifier>().is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn only_full_and_capped_cohorts_are_funded() {
        assert!(FundingRegime::Full.is_funded());
        assert!(FundingRegime::Capped.is_funded());
        assert!(!FundingRegime::Zero.is_funded());
    }

    proptest! {
        #[test]
        fn identifiers_round_trip(year in FIRST_START_YEAR..=LAST_START_YEAR, suffix in proptest::char::range('a', 'z')) {
            let cohort = CohortIdentifier::new(year, suffix).unwrap();
            prop_assert_eq!(cohort.to_string().parse::<CohortIdentifier>().unwrap(), cohort);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,8}") {
            let _ = text.parse::<CohortIdentifier>();
        }
    }
}
