//! Kannel bearerbox + smsbox with fakesmsc as the SMSC, on free loopback ports.
