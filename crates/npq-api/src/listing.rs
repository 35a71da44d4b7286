//! Shared handling of list parameters: turning their text into domain list queries with the
//! parsers of `npq_domain::listing`, and their errors into 400 responses.

use npq_domain::listing::{ListParameterError, PageRequest, Sort};
use poem::Request;

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
