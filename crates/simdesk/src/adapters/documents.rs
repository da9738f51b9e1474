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
}
