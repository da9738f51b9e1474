//! OsmoHLR's CTRL interface as the network port.
