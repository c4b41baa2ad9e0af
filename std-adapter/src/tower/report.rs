//! Where a tower layer given an observer reports, under one name.

use std::sync::Arc;

use steadfast::pipeline::{Event, Failure, Finish, Reason};
use steadfast::time::Instant;

use crate::bulkhead::Watch;
use crate::observer::LayerKind;
use crate::{Observer, SharedBulkhead};

/// An observer and the name a layer reports under (the policy name the
/// observer sees; a breaker layer's events also name the breaker). One
/// pointer, so that a response future without an observer stays small.
#[derive(Clone)]
pub(crate) struct Report(Arc<Inner>);

struct Inner {
    observer: Arc<dyn Observer>,
    name: Arc<str>,
    breaker: bool,
    /// A bulkhead layer's: the observer's watch over the bulkhead, when it
    /// [`watches_bulkheads`](Observer::watches_bulkheads) (asked once).
    watch: Option<Arc<Watch>>,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("name", &self.0.name)
            .finish_non_exhaustive()
    }
}

impl Report {
    /// Reports under `name`, as a breaker too when `breaker`; registers the
    /// series at once ([`Observer::on_register`]).
    pub(crate) fn new(observer: Arc<dyn Observer>, name: Arc<str>, breaker: bool) -> Self {
        observer.on_register(&name, breaker.then_some(&*name));
        Self(Arc::new(Inner {
            observer,
            name,
            breaker,
            watch: None,
        }))
    }

    /// Reports under the name of `bulkhead`, as [`new`](Self::new) does,
    /// and its occupancy through the observer's watch over it when the
    /// observer watches bulkheads.
    pub(crate) fn bulkhead(observer: Arc<dyn Observer>, bulkhead: &SharedBulkhead) -> Self {
        let name = bulkhead.name_arc();
        observer.on_register(&name, None);
        Self(Arc::new(Inner {
            watch: observer
                .watches_bulkheads()
                .then(|| bulkhead.watch(&observer)),
            observer,
            name,
            breaker: false,
        }))
    }

    /// Reports under `name`, the series of a machine of `kind` registered at
    /// once ([`Observer::on_register_layer`]), not a policy's.
    pub(crate) fn layer(observer: Arc<dyn Observer>, name: Arc<str>, kind: LayerKind) -> Self {
        observer.on_register_layer(kind, &name);
        Self(Arc::new(Inner {
            observer,
            name,
            breaker: false,
            watch: None,
        }))
    }

    /// A fault of `kind` injected on purpose.
    pub(crate) fn injection(&self, kind: &'static str) {
        self.0.observer.on_injection(&self.0.name, kind);
    }

    /// A failure answered by the fallback of this name (a cache).
    #[cfg(feature = "cache")]
    pub(crate) fn fallback(&self, failure: &Failure) {
        let r = &*self.0;
        r.observer.on_fallback(&r.name, None, &r.name, failure);
    }

    pub(crate) fn name(&self) -> &str {
        &self.0.name
    }

    pub(crate) fn event(&self, event: &Event) {
        let r = &*self.0;
        r.observer
            .on_event(&r.name, r.breaker.then_some(&*r.name), event);
    }

    pub(crate) fn finish(&self, finish: &Finish) {
        self.0.observer.on_finish(&self.0.name, finish);
    }

    /// A request refused (nothing called) for `reason`.
    pub(crate) fn refused(&self, reason: Reason) {
        self.finish(&Finish::Failed(Failure::new(reason, 0)));
    }

    /// The request that started at `started` ended now.
    pub(crate) fn latency(&self, started: Instant) {
        let latency = crate::time::now().saturating_duration_since(started);
        self.0.observer.on_latency(&self.0.name, latency);
    }

    /// The observer's watch over a bulkhead layer's bulkhead, if it watches
    /// it.
    pub(crate) fn watch(&self) -> Option<&Watch> {
        self.0.watch.as_deref()
    }
}
