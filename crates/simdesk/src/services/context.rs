//! The context every use case runs in: the store, the carriers' policies, the keys, the
//! one-time-code sender and the clock, built once by the application (`crate::app`) and shared by
//! every edge.

use super::policies::PolicyBook;
use crate::adapters::messages::CodeSender;
use crate::clock::Clock;
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
    /// The service's "now"; the web edge judges limits and lockouts by the same clock.
    pub clock: Clock,
}

impl ServiceContext {
    pub(crate) fn s(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The same context with the policies as they stand after a load.
    pub fn with_book(&self, book: PolicyBook) -> ServiceContext {
        ServiceContext {
            book: Arc::new(book),
            ..self.clone()
        }
    }
}
