//! The context every use case runs in: the store, the carriers' policies, the keys and the
//! one-time-code sender, built once by the application and shared by every edge.

use super::policies::PolicyBook;
use crate::adapters::messages::CodeSender;
use crate::keys::Keys;
use crate::store::Store;
use std::sync::Arc;

/// What the use cases work with.
#[derive(Clone)]
pub struct ServiceContext {
    pub store: Arc<dyn Store>,
    pub book: Arc<PolicyBook>,
    pub keys: Arc<Keys>,
    pub codes: Arc<dyn CodeSender>,
}

impl ServiceContext {
    pub(crate) fn s(&self) -> &dyn Store {
        self.store.as_ref()
    }
}
