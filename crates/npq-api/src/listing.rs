//! Shared handling of list parameters: turning their text into domain list queries with the
//! parsers of `npq_domain::listing`, and their errors into 400 responses.

use npq_domain::cursor::{CursorKey, CursorList};
use npq_domain::listing::{ListParameterError, ListPosition, PageRequest, Sort, SortField};
use poem::Request;
use poem_openapi::Object;

use crate::error::ApiError;
use crate::query::{decode_query, nested_filter};

impl From<ListParameterError> for ApiError {
    fn from(error: ListParameterError) -> Self {
        Self::BadRequest(error.to_string())
    }
}

/// The decoded query string of a list request.
pub struct ListRequest {
    pairs: Vec<(String, String)>,
}

impl ListRequest {
    /// Decodes the request's query string.
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        Ok(Self { pairs: decode_query(request.uri().query().unwrap_or_default())? })
    }

    /// Rejects a filter that was sent as an object, such as `filter[participant_id][abc]=`, where
    /// a plain value is expected. `error` builds the filter's own error from the text sent below
    /// `filter[name]`.
    pub fn reject_nested_filter(
        &self,
        name: &str,
        error: impl FnOnce(String) -> ListParameterError,
    ) -> Result<(), ApiError> {
        match self.nested_filter(name) {
            Some(nested) => Err(error(nested).into()),
            None => Ok(()),
        }
    }

    /// Returns the text sent below `filter[name]` when the filter was sent as an object, such as
    /// `[abc]=x` for `filter[name][abc]=x`. Returns `None` when it was sent as a plain value or not
    /// at all.
    pub fn nested_filter(&self, name: &str) -> Option<String> {
        nested_filter(&self.pairs, name)
    }
}

/// Parses `page[page]` and `page[per_page]`.
pub fn parse_page(page: Option<&str>, per_page: Option<&str>) -> Result<PageRequest, ApiError> {
    Ok(PageRequest::parse(page, per_page)?)
}

/// Parses `sort`; unknown column names are ignored.
pub fn parse_sort(sort: Option<&str>) -> Sort {
    Sort::parse(sort)
}

/// The paging of a list request: page numbers, or a cursor walk when `page[cursor]` was sent.
pub struct Paging {
    pub page: PageRequest,
    pub cursor: Option<CursorWalk>,
}

/// A cursor walk: the list and sort column it follows, and where this page starts.
pub struct CursorWalk {
    list: CursorList,
    field: SortField,
    /// The position this page starts after; `None` at the beginning of the list.
    pub after: Option<ListPosition>,
}

/// The text of the paging parameters of a list request.
pub struct PagingParameters<'a> {
    pub cursor: Option<&'a str>,
    pub page: Option<&'a str>,
    pub per_page: Option<&'a str>,
}

/// Parses the paging of a list request. With `page[cursor]` (an empty value starts at the
/// beginning) the sort must be one ascending column, and `page[page]` must not be sent as well.
pub fn parse_paging(
    key: &CursorKey,
    list: CursorList,
    parameters: PagingParameters<'_>,
    sort: &Sort,
) -> Result<Paging, ApiError> {
    let Some(cursor) = parameters.cursor else {
        return Ok(Paging { page: parse_page(parameters.page, parameters.per_page)?, cursor: None });
    };
    if parameters.page.is_some_and(|page| !page.trim().is_empty()) {
        return Err(ListParameterError::CursorWithPageNumber.into());
    }
    let field = sort.cursor_field()?;
    let after = if cursor.trim().is_empty() { None } else { key.decode(cursor, list, field)? };
    let page = parse_page(None, parameters.per_page)?;
    Ok(Paging { page, cursor: Some(CursorWalk { list, field, after }) })
}

impl CursorWalk {
    /// Returns the sort column of the walk.
    pub const fn field(&self) -> SortField {
        self.field
    }

    /// Builds the response metadata: the cursor after `last`, the position of the last record on
    /// this page. After an empty page the cursor resumes where this page started, so a client can
    /// poll with it later.
    pub fn meta(&self, key: &CursorKey, last: Option<ListPosition>) -> CursorMeta {
        CursorMeta { next_cursor: key.encode(self.list, self.field, last.or(self.after)) }
    }
}

/// Metadata of a page of a cursor walk.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct CursorMeta {
    /// The value of `page[cursor]` for the next page. Send it unchanged, with the same `sort`
    /// and filters. After an empty page it resumes from the same place, so it can be kept to
    /// poll for changes later.
    pub next_cursor: String,
}
