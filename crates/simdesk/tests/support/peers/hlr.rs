//! OsmoHLR on its own loopback address, with its own database file.
