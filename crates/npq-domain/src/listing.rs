//! List queries: pagination, sorting and filters shared by every list endpoint.
//!
//! Lists are ordered totally: after the requested sort keys comes the record's insertion order, so
//! a client walking pages sees every record once. With the default order (creation time, oldest
//! first) records created during a walk are appended after the last page, and updates do not move
//! records, so nothing is skipped or repeated.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::Timestamp;
use crate::cohort::CohortIdentifier;
use crate::ids::{ParticipantId, parse_hyphenated_uuid};

/// Page size used when the client asks for none.
pub const DEFAULT_PER_PAGE: u32 = 100;
/// Largest page size. Larger requests are served with this many records.
pub const MAX_PER_PAGE: u32 = 1000;

/// Error for a list request whose parameters cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListParameterError {
    #[error("page[page] and page[per_page] must be positive whole numbers, such as page[page]=2&page[per_page]=100")]
    Pagination,
    #[error("'#/{name}' must be an ISO 8601 date and time, such as 2024-05-13T11:21:55Z or 2024-05-13T12:21:55+01:00")]
    InvalidTimestamp { name: &'static str },
    #[error("'#/{name}' must be participant ids (UUIDs) separated by commas; '{value}' is not a UUID")]
    InvalidParticipantIds { name: &'static str, value: String },
    #[error(
        "'#/cohort' must be cohort start years separated by commas, such as 2023,2024, or cohort identifiers such as 2026b; '{0}' is neither"
    )]
    InvalidCohort(String),
    #[error(
        "page[cursor] is not a cursor that this list returned, or it was changed: start again with an empty page[cursor]= or send meta.next_cursor from the last response unchanged"
    )]
    InvalidCursor,
    #[error(
        "page[cursor] was returned for sort={cursor_sort}, but this request has sort={request_sort}: send the sort the walk started with, or start again with an empty page[cursor]="
    )]
    CursorSortChanged { cursor_sort: &'static str, request_sort: &'static str },
    #[error(
        "page[cursor] walks a list oldest first by one column: send sort=created_at, sort=updated_at or no sort with it"
    )]
    CursorSortUnsupported,
    #[error(
        "page[cursor] and page[page] cannot be combined: send page[cursor] with page[per_page] only, or leave out page[cursor] to use page numbers"
    )]
    CursorWithPageNumber,
}

/// One page of a list: which page, and how many records on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, per_page: DEFAULT_PER_PAGE }
    }
}

impl PageRequest {
    /// Builds a page request from the numbers a client sent. Both must be at least 1; a page size
    /// above [`MAX_PER_PAGE`] is reduced to it.
    pub fn new(page: Option<i64>, per_page: Option<i64>) -> Result<Self, ListParameterError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(i64::from(DEFAULT_PER_PAGE));
        if page < 1 || per_page < 1 {
            return Err(ListParameterError::Pagination);
        }
        // A page number beyond u32 is past the end of any list: serve it as the last possible page,
        // which is empty.
        let page = u32::try_from(page).unwrap_or(u32::MAX);
        let per_page = u32::try_from(per_page.min(i64::from(MAX_PER_PAGE))).unwrap_or(MAX_PER_PAGE);
        Ok(Self { page, per_page })
    }

    /// Parses the text of `page[page]` and `page[per_page]`. Only whole decimal numbers are
    /// accepted; a blank value counts as absent.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, ListParameterError> {
        fn number(text: Option<&str>) -> Result<Option<i64>, ListParameterError> {
            match text.map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => {
                    let digits = text.strip_prefix('+').unwrap_or(text);
                    let valid =
                        !digits.is_empty() && digits.trim_start_matches('-').bytes().all(|byte| byte.is_ascii_digit());
                    if !valid {
                        return Err(ListParameterError::Pagination);
                    }
                    // A number too large for i64 is a page far beyond any list: clamp it.
                    Ok(Some(digits.parse::<i64>().unwrap_or(if digits.starts_with('-') { -1 } else { i64::MAX })))
                }
            }
        }
        Self::new(number(page)?, number(per_page)?)
    }

    /// Returns the 1-based page number.
    pub const fn page(&self) -> u32 {
        self.page
    }

    /// Returns the number of records on a page.
    pub const fn per_page(&self) -> u32 {
        self.per_page
    }

    /// Returns how many records come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Ascending,
    Descending,
}

/// A column a list can be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
}

impl SortField {
    /// Returns the column name as clients send it in `sort`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            _ => None,
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortKey {
    pub field: SortField,
    pub direction: Direction,
}

/// The order of a list: sort keys, applied in order, before the final tie-breaker (insertion order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort(Vec<SortKey>);

impl Default for Sort {
    /// Oldest first.
    fn default() -> Self {
        Self(vec![SortKey { field: SortField::CreatedAt, direction: Direction::Ascending }])
    }
}

impl Sort {
    /// Parses a `sort` parameter: column names separated by commas, each optionally prefixed with
    /// `+` (ascending, the default) or `-` (descending), such as `-updated_at,created_at`.
    ///
    /// Only `created_at` and `updated_at` are sortable. Other names are ignored, a repeated name
    /// counts once, and when no name is left the default order applies. A `+` that arrived
    /// undecoded in a query string becomes a space, so a leading space also means ascending.
    pub fn parse(text: Option<&str>) -> Self {
        let keys: Vec<SortKey> =
            parse_sort_keys(text, SortField::parse).map(|(field, direction)| SortKey { field, direction }).collect();
        if keys.is_empty() { Self::default() } else { Self(keys) }
    }

    /// Returns the keys in the order they apply.
    pub fn keys(&self) -> &[SortKey] {
        &self.0
    }

    /// Returns the column of a sort that a cursor walk can follow: one column, ascending.
    pub fn cursor_field(&self) -> Result<SortField, ListParameterError> {
        match self.0.as_slice() {
            [SortKey { field, direction: Direction::Ascending }] => Ok(*field),
            _ => Err(ListParameterError::CursorSortUnsupported),
        }
    }
}

/// Where a cursor walk resumes: after the record with this value of the sort column and this
/// public id, in the order of the sort column and then insertion order.
///
/// The store finds the record's place in insertion order from `id`. The sort value is the one the
/// client saw, so a record updated since it was returned does not move the walk forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListPosition {
    /// The sort column's value of the last record returned, to the microsecond.
    pub sort_value: Timestamp,
    /// The public id of the last record returned.
    pub id: uuid::Uuid,
}

/// Parses the text of a `sort` parameter into fields and directions, in order: names separated by
/// commas, each optionally prefixed with `+` (ascending, the default) or `-` (descending).
/// `parse_field` returns `None` for a name that cannot be sorted on, which is then skipped. A
/// repeated field counts once. A `+` that arrived undecoded in a query string becomes a space, so
/// a leading space also means ascending.
fn parse_sort_keys<F: PartialEq + Copy>(
    text: Option<&str>,
    parse_field: impl Fn(&str) -> Option<F>,
) -> impl Iterator<Item = (F, Direction)> {
    let mut keys: Vec<(F, Direction)> = Vec::new();
    for part in text.unwrap_or_default().split(',') {
        let part = part.trim_start_matches(' ');
        let (direction, name) = match part.strip_prefix('-') {
            Some(name) => (Direction::Descending, name),
            None => (Direction::Ascending, part.strip_prefix('+').unwrap_or(part)),
        };
        let Some(field) = parse_field(name.trim()) else {
            continue;
        };
        if keys.iter().all(|(seen, _)| *seen != field) {
            keys.push((field, direction));
        }
    }
    keys.into_iter()
}

/// A column the delivery partner list can be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryPartnerSortField {
    Name,
    CreatedAt,
    UpdatedAt,
}

impl DeliveryPartnerSortField {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "name" => Some(Self::Name),
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            _ => None,
        }
    }
}

/// The order of the delivery partner list: sort keys, applied in order, before the final
/// tie-breaker (insertion order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPartnerSort(Vec<(DeliveryPartnerSortField, Direction)>);

impl Default for DeliveryPartnerSort {
    /// By name, A to Z.
    fn default() -> Self {
        Self(vec![(DeliveryPartnerSortField::Name, Direction::Ascending)])
    }
}

impl DeliveryPartnerSort {
    /// Parses a `sort` parameter as [`Sort::parse`] does, over the columns `name`, `created_at`
    /// and `updated_at`. When no known name is left, the list is sorted by name.
    pub fn parse(text: Option<&str>) -> Self {
        let keys: Vec<_> = parse_sort_keys(text, DeliveryPartnerSortField::parse).collect();
        if keys.is_empty() { Self::default() } else { Self(keys) }
    }

    /// Returns the keys in the order they apply.
    pub fn keys(&self) -> &[(DeliveryPartnerSortField, Direction)] {
        &self.0
    }
}

/// A cohort filter element: a start year (every suffix) or one cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CohortSelector {
    StartYear(u16),
    Cohort(CohortIdentifier),
}

impl CohortSelector {
    /// Returns whether the cohort is selected.
    pub fn matches(&self, cohort: CohortIdentifier) -> bool {
        match self {
            Self::StartYear(year) => cohort.start_year() == *year,
            Self::Cohort(identifier) => *identifier == cohort,
        }
    }
}

/// Parses a `filter[cohort]` value: start years or cohort identifiers separated by commas. Blank
/// elements are skipped; a blank value means no filter (`None`).
pub fn parse_cohort_filter(text: Option<&str>) -> Result<Option<Vec<CohortSelector>>, ListParameterError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let mut selectors = Vec::new();
    for element in text.split(',').map(str::trim).filter(|element| !element.is_empty()) {
        let selector = if element.len() == 4 {
            // A well-formed year outside the cohort range matches nothing, like an unknown id.
            let year: u16 = element.parse().map_err(|_| ListParameterError::InvalidCohort(element.to_owned()))?;
            CohortSelector::StartYear(year)
        } else {
            let cohort = element.parse().map_err(|_| ListParameterError::InvalidCohort(element.to_owned()))?;
            CohortSelector::Cohort(cohort)
        };
        if !selectors.contains(&selector) {
            selectors.push(selector);
        }
    }
    Ok(if selectors.is_empty() { None } else { Some(selectors) })
}

/// Parses a participant id list filter (`filter[participant_id]`): UUIDs separated by commas.
/// Every element must be a UUID, so `a,,b` is rejected; a blank value means no filter.
pub fn parse_participant_id_filter(
    name: &'static str,
    text: Option<&str>,
) -> Result<Option<Vec<ParticipantId>>, ListParameterError> {
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(None);
    };
    let mut ids = Vec::new();
    for element in text.split(',') {
        let uuid = parse_hyphenated_uuid(element.trim())
            .map_err(|_| ListParameterError::InvalidParticipantIds { name, value: element.to_owned() })?;
        let id = ParticipantId::from_uuid(uuid);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(Some(ids))
}

/// Parses a date-time filter such as `filter[updated_since]`.
///
/// Accepts ISO 8601 dates with an optional time (`YYYY-MM-DD`, `YYYY-MM-DDThh:mm[:ss[.fraction]]`)
/// and an optional zone (`Z`, `±hh:mm`, `±hhmm`, `±hh`); without a zone the time is UTC. A space
/// where the zone's `+` should be is read as `+`, because query strings decode an unencoded `+` to
/// a space. A blank value means no filter.
pub fn parse_timestamp_filter(name: &'static str, text: Option<&str>) -> Result<Option<Timestamp>, ListParameterError> {
    let Some(text) = text.map(str::trim_start).filter(|text| !text.trim().is_empty()) else {
        return Ok(None);
    };
    parse_iso8601(text).map(Some).ok_or(ListParameterError::InvalidTimestamp { name })
}

fn parse_iso8601(text: &str) -> Option<Timestamp> {
    if text.len() > 64 || !text.is_ascii() {
        return None;
    }
    if text.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        return Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    let (date_part, rest) = text.split_at_checked(10)?;
    let date = NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()?;
    let rest = rest.strip_prefix(['T', 't'])?;

    // Split the time from the zone: the zone starts at the first 'Z', '+', '-' or space after the time.
    let zone_start = rest.find(['Z', 'z', '+', '-', ' ']).unwrap_or(rest.len());
    let (time_part, zone_part) = rest.split_at(zone_start);
    let time = ["%H:%M:%S%.f", "%H:%M"].iter().find_map(|format| NaiveTime::parse_from_str(time_part, format).ok())?;
    let local = NaiveDateTime::new(date, time);

    let offset_seconds = match zone_part {
        "" | "Z" | "z" => 0,
        zone => {
            let (sign, digits) = match zone.as_bytes()[0] {
                b'+' | b' ' => (1, &zone[1..]),
                b'-' => (-1, &zone[1..]),
                _ => return None,
            };
            let (hours, minutes) = match digits.len() {
                2 => (digits, "00"),
                4 => digits.split_at(2),
                5 if digits.as_bytes()[2] == b':' => (&digits[..2], &digits[3..]),
                _ => return None,
            };
            if !hours.bytes().chain(minutes.bytes()).all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let hours: i32 = hours.parse().ok()?;
            let minutes: i32 = minutes.parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let offset = FixedOffset::east_opt(offset_seconds)?;
    let zoned: DateTime<FixedOffset> = offset.from_local_datetime(&local).single()?;
    Some(zoned.with_timezone(&Utc))
}

/// The filters of the application list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationFilter {
    /// Only these cohorts; `None` means every cohort.
    pub cohorts: Option<Vec<CohortSelector>>,
    /// Only applications whose `updated_at` is at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only applications of these people.
    pub participant_ids: Option<Vec<ParticipantId>>,
}

/// A request for one page of a lead provider's applications.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationQuery {
    pub filter: ApplicationFilter,
    pub sort: Sort,
    pub page: PageRequest,
    /// In a cursor walk, only records after this position; the sort is then one ascending
    /// column and `page` is the first page.
    pub after: Option<ListPosition>,
}

/// A request for one page of the delivery partners a lead provider works with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPartnerQuery {
    /// Only partners with a partnership with the lead provider in one of these cohorts; `None`
    /// means every cohort.
    pub cohorts: Option<Vec<CohortSelector>>,
    pub sort: DeliveryPartnerSort,
    pub page: PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn page_size_above_the_maximum_is_capped() {
        let page = PageRequest::parse(None, Some("5000")).unwrap();
        assert_eq!(page.per_page(), MAX_PER_PAGE);
    }

    #[test]
    fn zero_negative_and_non_numeric_pages_are_rejected() {
        for (page, per_page) in [
            (Some("0"), None),
            (Some("-1"), None),
            (None, Some("0")),
            (None, Some("abc")),
            (Some("10abc"), None),
            (Some("1.5"), None),
        ] {
            assert_eq!(
                PageRequest::parse(page, per_page),
                Err(ListParameterError::Pagination),
                "{page:?} {per_page:?}"
            );
        }
    }

    #[test]
    fn blank_page_values_use_the_defaults() {
        assert_eq!(PageRequest::parse(Some(""), Some(" ")).unwrap(), PageRequest::default());
    }

    #[test]
    fn huge_page_numbers_do_not_overflow() {
        assert_eq!(PageRequest::parse(Some("99999999999999999999999"), None).unwrap().page(), u32::MAX);
        assert_eq!(PageRequest::parse(Some("4294967296"), None).unwrap().page(), u32::MAX);
        let page = PageRequest::parse(Some("4294967295"), Some("1000")).unwrap();
        assert_eq!(page.offset(), 4_294_967_294_000);
    }

    #[test]
    fn sort_keeps_documented_columns_only() {
        let sort = Sort::parse(Some("-updated_at,email,+created_at,updated_at"));
        assert_eq!(
            sort.keys(),
            &[
                SortKey { field: SortField::UpdatedAt, direction: Direction::Descending },
                SortKey { field: SortField::CreatedAt, direction: Direction::Ascending },
            ]
        );
        assert_eq!(Sort::parse(Some("email,id")), Sort::default());
        assert_eq!(Sort::parse(Some(" updated_at")).keys()[0].direction, Direction::Ascending);
    }

    #[test]
    fn delivery_partner_sort_defaults_to_name() {
        assert_eq!(DeliveryPartnerSort::parse(None), DeliveryPartnerSort::default());
        assert_eq!(
            DeliveryPartnerSort::parse(Some("id,ecf_id")).keys(),
            &[(DeliveryPartnerSortField::Name, Direction::Ascending)]
        );
        assert_eq!(
            DeliveryPartnerSort::parse(Some("-created_at,name,-created_at")).keys(),
            &[
                (DeliveryPartnerSortField::CreatedAt, Direction::Descending),
                (DeliveryPartnerSortField::Name, Direction::Ascending),
            ]
        );
        assert_eq!(DeliveryPartnerSort::parse(Some("-updated_at")).keys()[0].0, DeliveryPartnerSortField::UpdatedAt);
    }

    #[test]
    fn updated_since_accepts_decoded_plus_offsets() {
        let expected = Utc.with_ymd_and_hms(2024, 1, 1, 9, 0, 0).unwrap();
        for text in [
            "2024-01-01T10:00:00+01:00",
            "2024-01-01T10:00:00 01:00",
            "2024-01-01T10:00:00+0100",
            "2024-01-01T10:00:00+01",
            "2024-01-01T09:00:00Z",
            "2024-01-01T09:00:00",
            "2024-01-01T08:00:00-01:00",
            "2024-01-01T09:00:00.000Z",
        ] {
            assert_eq!(parse_timestamp_filter("updated_since", Some(text)), Ok(Some(expected)), "{text}");
        }
        assert_eq!(
            parse_timestamp_filter("updated_since", Some("2024-01-01")),
            Ok(Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()))
        );
    }

    #[test]
    fn updated_since_rejects_words_and_bad_dates() {
        for text in [
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T10:00:00+24:00",
            "2024-01-01X10:00:00Z",
            "1714000000",
        ] {
            assert_eq!(
                parse_timestamp_filter("updated_since", Some(text)),
                Err(ListParameterError::InvalidTimestamp { name: "updated_since" }),
                "{text}"
            );
        }
        assert_eq!(parse_timestamp_filter("updated_since", Some("")), Ok(None));
    }

    #[test]
    fn participant_ids_must_all_be_uuids() {
        let ids = parse_participant_id_filter(
            "participant_id",
            Some("7e5bcdbf-c818-4961-8da5-439cab1984e0,C2A7EF98-BBFC-48C5-8F02-D484071D2165"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ids.len(), 2);
        assert!(parse_participant_id_filter("participant_id", Some("abc")).is_err());
        assert!(parse_participant_id_filter("participant_id", Some("7e5bcdbf-c818-4961-8da5-439cab1984e0,,")).is_err());
        assert_eq!(parse_participant_id_filter("participant_id", Some("")), Ok(None));
    }

    #[test]
    fn cohort_filter_takes_years_and_identifiers() {
        let selectors = parse_cohort_filter(Some("2023, 2024,2026b")).unwrap().unwrap();
        assert_eq!(
            selectors,
            vec![
                CohortSelector::StartYear(2023),
                CohortSelector::StartYear(2024),
                CohortSelector::Cohort("2026b".parse().unwrap())
            ]
        );
        assert!(parse_cohort_filter(Some("twenty")).is_err());
        assert_eq!(parse_cohort_filter(Some(" , ")), Ok(None));
    }

    proptest! {
        #[test]
        fn valid_page_requests_have_bounded_sizes(page in 1i64..1_000_000, per_page in 1i64..100_000) {
            let request = PageRequest::new(Some(page), Some(per_page)).unwrap();
            prop_assert!(request.per_page() >= 1 && request.per_page() <= MAX_PER_PAGE);
            prop_assert_eq!(i64::from(request.page()), page.min(i64::from(u32::MAX)));
        }

        #[test]
        fn page_parsing_never_panics(page in ".{0,24}", per_page in ".{0,24}") {
            let _ = PageRequest::parse(Some(&page), Some(&per_page));
        }

        #[test]
        fn timestamp_parsing_never_panics(text in ".{0,40}") {
            let _ = parse_timestamp_filter("updated_since", Some(&text));
        }

        #[test]
        fn rfc3339_instants_round_trip(seconds in 0i64..4_000_000_000, offset_minutes in -23i32 * 60..=23 * 60) {
            let instant = Utc.timestamp_opt(seconds, 0).unwrap();
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let text = instant.with_timezone(&offset).to_rfc3339();
            prop_assert_eq!(parse_timestamp_filter("updated_since", Some(&text)), Ok(Some(instant)));
        }

        #[test]
        fn sort_parsing_never_panics_and_is_never_empty(text in ".{0,40}") {
            prop_assert!(!Sort::parse(Some(&text)).keys().is_empty());
        }
    }
}
