//! Messages to travellers: one template per event in every language simdesk speaks.
