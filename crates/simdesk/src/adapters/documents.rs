//! Identity document uploads: size limit and type sniffed from the content, not the file name.

/// Uploads above this are refused.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the file is empty; upload a photo or scan of the identity document")]
    Empty,
    #[error(
        "the file is {size} bytes; the limit is {limit} bytes (10 MB): upload a smaller photo"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("the file is not a JPEG, PNG or PDF (judged from its content); upload a photo or a PDF scan")]
    UnsupportedType,
    #[error("the file was sent as {declared} but its content is {found}; accepted are JPEG, PNG and PDF, sent as what they are")]
    Mismatch {
        declared: String,
        found: &'static str,
    },
}

/// The HTTP status that says what is wrong with an upload.
pub fn status(error: &DocumentError) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match error {
        DocumentError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        DocumentError::Empty => StatusCode::UNPROCESSABLE_ENTITY,
        DocumentError::UnsupportedType | DocumentError::Mismatch { .. } => {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        }
    }
}

/// Judges an upload from its bytes, and refuses one whose declared type (a multipart part's or
/// a request's `Content-Type`) names another accepted type than the content is: a file sent as
/// something it is not. A generic or absent declaration says nothing and is not held against it.
pub fn check(content: &[u8], declared: Option<&str>) -> Result<&'static str, DocumentError> {
    let found = sniff(content)?;
    let declared = declared
        .and_then(|d| d.split(';').next())
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    match declared {
        Some(d) if d != found && !(d == "image/jpg" && found == "image/jpeg") => {
            Err(DocumentError::Mismatch { declared: d, found })
        }
        _ => Ok(found),
    }
}

/// The content type of an upload, judged from its first bytes.
pub fn sniff(content: &[u8]) -> Result<&'static str, DocumentError> {
    if content.is_empty() {
        return Err(DocumentError::Empty);
    }
    if content.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge {
            size: content.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if content.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Ok("image/png")
    } else if content.starts_with(b"%PDF-") {
        Ok("application/pdf")
    } else {
        Err(DocumentError::UnsupportedType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Ok("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Ok("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Ok("application/pdf"));
        assert_eq!(
            sniff(b"<html>not a passport</html>"),
            Err(DocumentError::UnsupportedType)
        );
        assert_eq!(sniff(b""), Err(DocumentError::Empty));
        assert!(matches!(
            sniff(&vec![0xFF; MAX_DOCUMENT_BYTES + 1]),
            Err(DocumentError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_file_sent_as_another_type_is_refused() {
        let png = b"\x89PNG\r\n\x1a\n....";
        assert_eq!(check(png, Some("image/png")), Ok("image/png"));
        assert_eq!(
            check(png, Some("application/octet-stream")),
            Ok("image/png")
        );
        assert_eq!(check(png, None), Ok("image/png"));
        assert!(matches!(
            check(png, Some("image/jpeg")),
            Err(DocumentError::Mismatch { .. })
        ));
        assert_eq!(
            check(b"<html><script>", Some("image/jpeg")),
            Err(DocumentError::UnsupportedType)
        );
    }
}
