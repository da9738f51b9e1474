//! Envelope encryption of personal data at rest: a data key per person under the installation's master key, and keyed blind indexes for lookups by equality.
