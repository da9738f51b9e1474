//! An SMTP server (aiosmtpd) that keeps every message it receives in a maildir.
