//! Where a tower layer given an observer reports, under one name.

use std::sync::Arc;

use steadfast::pipeline::{Event, Failure, Finish, Reason};
use steadfast::time::Instant;

use crate::Observer;

/// An observer and the name a layer reports under (the policy name the
/// observer sees; a breaker layer's events also name the breaker).
#[derive(Clone)]
pub(crate) struct Report {
    observer: Arc<dyn Observer>,
    name: Arc<str>,
    breaker: bool,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Report {
    /// Reports under `name`, as a breaker too when `breaker`; registers the
    /// series at once ([`Observer::on_register`]).
    pub(crate) fn new(observer: Arc<dyn Observer>, name: Arc<str>, breaker: bool) -> Self {
        observer.on_register(&name, breaker.then_some(&*name));
        Self {
            observer,
            name,
            breaker,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn event(&self, event: &Event) {
        let breaker = self.breaker.then_some(&*self.name);
        self.observer.on_event(&self.name, breaker, event);
    }

    pub(crate) fn finish(&self, finish: &Finish) {
        self.observer.on_finish(&self.name, finish);
    }

    /// A request refused (nothing called) for `reason`.
    pub(crate) fn refused(&self, reason: Reason) {
        self.finish(&Finish::Failed(Failure::new(reason, 0)));
    }

    /// The request that started at `started` ended now.
    pub(crate) fn latency(&self, started: Instant) {
        let latency = crate::time::now().saturating_duration_since(started);
        self.observer.on_latency(&self.name, latency);
    }

    pub(crate) fn bulkhead(&self, in_flight: u32, queued: u32) {
        self.observer.on_bulkhead(&self.name, in_flight, queued);
    }
}
