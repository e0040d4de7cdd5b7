//! The last guard on error trailers: whatever a handler or layer put in a status, no call
//! ends with more than [`MAX_MESSAGE_BYTES`] of `grpc-message` or [`MAX_DETAILS_BYTES`] of
//! `grpc-status-details-bin`. Standard clients refuse a response whose headers pass their
//! limit (16 KiB for h2) as RESOURCE_EXHAUSTED, and never see the refusal itself.

use http::HeaderMap;
use tonic::Status;

/// Of `grpc-message` as sent (percent-encoded).
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Of the `google.rpc.Status` in `grpc-status-details-bin`, before base64.
pub const MAX_DETAILS_BYTES: usize = 4096;

const GRPC_MESSAGE: &str = "grpc-message";
const GRPC_DETAILS: &str = "grpc-status-details-bin";

/// Shortens the status in `headers` (response headers of a trailers-only answer, or the
/// trailers of a stream) when it passes the limits; other headers stay as they are.
pub fn cap(headers: &mut HeaderMap) {
    let message_len = headers.get(GRPC_MESSAGE).map_or(0, |v| v.len());
    // base64 without padding: 4 characters per 3 bytes.
    let details_len = headers.get(GRPC_DETAILS).map_or(0, |v| v.len()) / 4 * 3;
    if message_len <= MAX_MESSAGE_BYTES && details_len <= MAX_DETAILS_BYTES {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let message = shorten_encoded(status.message(), MAX_MESSAGE_BYTES);
    let details = if status.details().len() <= MAX_DETAILS_BYTES {
        status.details().to_vec()
    } else {
        tracing::warn!(
            code = ?status.code(),
            bytes = status.details().len(),
            "dropped oversized error details"
        );
        Vec::new()
    };
    tracing::debug!(message_len, details_len, "shortened an oversized status");
    let mut fresh = HeaderMap::new();
    if Status::with_details(status.code(), message, details.into())
        .add_header(&mut fresh)
        .is_err()
    {
        // Unreachable with a percent-encoded message; never send the oversized one.
        headers.remove(GRPC_MESSAGE);
        headers.remove(GRPC_DETAILS);
        return;
    }
    for name in [GRPC_MESSAGE, GRPC_DETAILS] {
        match fresh.remove(name) {
            Some(v) => headers.insert(name, v),
            None => headers.remove(name),
        };
    }
}

/// The longest prefix of `message` whose percent-encoding, with the marker, fits `limit`.
fn shorten_encoded(message: &str, limit: usize) -> String {
    let marker = format!("… ({} characters)", message.chars().count());
    let budget = limit.saturating_sub(encoded_len(&marker));
    let mut used = 0;
    let mut cut = message.len();
    for (i, c) in message.char_indices() {
        used += encoded_len_char(c);
        if used > budget {
            cut = i;
            break;
        }
    }
    if cut == message.len() {
        return message.to_owned();
    }
    format!("{}{marker}", &message[..cut])
}

fn encoded_len(s: &str) -> usize {
    s.chars().map(encoded_len_char).sum()
}

/// tonic percent-encodes controls, non-ASCII and ` "#%<>`?{}`; the rest goes as is.
fn encoded_len_char(c: char) -> usize {
    if c.is_ascii_graphic() && !"\"#%<>`?{}".contains(c) {
        1
    } else {
        3 * c.len_utf8()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn an_oversized_message_is_cut_to_the_limit_and_oversized_details_dropped() {
        let huge = "值".repeat(70_000);
        let mut headers = HeaderMap::new();
        Status::with_details(Code::InvalidArgument, huge.clone(), vec![7; 100_000].into())
            .add_header(&mut headers)
            .unwrap();
        headers.insert("x-other", "kept".parse().unwrap());
        cap(&mut headers);
        assert!(headers[GRPC_MESSAGE].len() <= MAX_MESSAGE_BYTES);
        assert!(headers.get(GRPC_DETAILS).is_none());
        assert_eq!(headers["x-other"], "kept");
        let status = Status::from_header_map(&headers).unwrap();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with("值值"), "{}", status.message());
        assert!(status.message().ends_with("… (70000 characters)"));
    }

    #[test]
    fn a_status_within_the_limits_is_left_alone() {
        let mut headers = HeaderMap::new();
        Status::with_details(Code::NotFound, "no notice n-1", vec![1, 2, 3].into())
            .add_header(&mut headers)
            .unwrap();
        let before = headers.clone();
        cap(&mut headers);
        assert_eq!(headers, before);
    }
}
