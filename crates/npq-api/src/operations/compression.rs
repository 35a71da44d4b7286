//! gzip compression of response bodies for clients that send `Accept-Encoding: gzip`.
//!
//! Every response body is in memory already (JSON documents and the documentation's assets), so
//! the body is compressed whole. Request bodies are never decompressed.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use poem::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, VARY};
use poem::http::{HeaderMap, HeaderValue, Method};
use poem::{Body, Response};

/// Returns whether the client accepts gzip: `gzip` or `*` is listed with a quality above zero, and
/// `gzip` is not listed with quality zero.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    let codings = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for coding in codings {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let quality = parts
            .filter_map(|parameter| parameter.trim().strip_prefix("q="))
            .find_map(|quality| quality.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case("gzip") {
            gzip = Some(quality > 0.0);
        } else if name == "*" {
            any = Some(quality > 0.0);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Compresses the response body with gzip when the client accepts it and the body is not already
/// encoded. `Vary: Accept-Encoding` is set either way, so caches keep the two forms apart.
pub async fn compress_response(mut response: Response, method: &Method, accepts_gzip: bool) -> Response {
    response.headers_mut().append(VARY, HeaderValue::from_static("accept-encoding"));
    if !accepts_gzip || *method == Method::HEAD || response.headers().contains_key(CONTENT_ENCODING) {
        return response;
    }
    let body = match response.take_body().into_bytes().await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "failed to read a response body for compression; sending it empty");
            return response;
        }
    };
    if body.is_empty() {
        response.set_body(body);
        return response;
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::default());
    let compressed = encoder.write_all(&body).and_then(|()| encoder.finish());
    match compressed {
        Ok(compressed) => {
            response.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            response.headers_mut().remove(CONTENT_LENGTH);
            response.set_body(Body::from(compressed));
        }
        Err(error) => {
            tracing::warn!(%error, "gzip compression failed; sending the body uncompressed");
            response.set_body(body);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::*;

    fn headers(accept_encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(accept_encoding).unwrap());
        headers
    }

    #[test]
    fn gzip_is_accepted_when_listed_or_by_wildcard() {
        assert!(accepts_gzip(&headers("gzip")));
        assert!(accepts_gzip(&headers("br, GZIP;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("br, deflate")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("*, gzip;q=0")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn compressed_body_decompresses_to_the_original() {
        let text = "{\"data\":[]}".repeat(50);
        let response = Response::builder().body(text.clone());
        let mut response = compress_response(response, &Method::GET, true).await;
        assert_eq!(response.headers().get(CONTENT_ENCODING).unwrap(), "gzip");
        let compressed = response.take_body().into_vec().await.unwrap();
        let mut decompressed = String::new();
        GzDecoder::new(compressed.as_slice()).read_to_string(&mut decompressed).unwrap();
        assert_eq!(decompressed, text);
    }

    #[tokio::test]
    async fn body_stays_plain_without_gzip() {
        let response = Response::builder().body("plain");
        let mut response = compress_response(response, &Method::GET, false).await;
        assert!(response.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(response.take_body().into_string().await.unwrap(), "plain");
    }
}
