//! Recovery hooks: code that runs when a breaker changes state — reset a
//! connection pool when the database's breaker opens, warm a cache when it
//! closes — without ever delaying a call.
//!
//! [`Recovery`] is an [`Observer`]: give it to the policies (and the
//! registry, whose `force_open`/`reset` report too), alone or beside another
//! observer as a pair `(Standard, recovery)`. Each matching transition spawns
//! its hook as a Tokio task (on the runtime of the call that caused it, else
//! on the runtime [`Recovery::new`] was built in, else on a thread of its
//! own), so the caller that tripped the breaker goes on at once; hooks of
//! several transitions may run at the same time.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use steadfast_std::recovery::Recovery;
//! use steadfast_std::registry::Registry;
//! use steadfast_std::SharedBreaker;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool_resets = Arc::new(AtomicU32::new(0));
//! let resets = pool_resets.clone();
//! let recovery = Recovery::new().on_open("postgres", move |_transition| {
//!     let resets = resets.clone();
//!     async move {
//!         resets.fetch_add(1, Ordering::SeqCst); // pool.reset().await in a service
//!     }
//! });
//! let registry = Registry::builder()
//!     .breaker(SharedBreaker::new("postgres", Default::default())?)
//!     .observer(Arc::new(recovery))
//!     .build();
//! registry.force_open("postgres")?;
//! tokio::task::yield_now().await;
//! assert_eq!(pool_resets.load(Ordering::SeqCst), 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use steadfast::breaker::{State, Transition};
use steadfast::pipeline::Event;

use crate::observer::Observer;

/// Which transitions a hook runs on.
///
/// ```
/// use steadfast::breaker::State;
/// use steadfast::time::Instant;
/// use steadfast_std::recovery::When;
///
/// assert!(When::Opened.matches(&State::Open { until: Instant::ZERO }));
/// assert!(When::Opened.matches(&State::ForcedOpen));
/// assert!(!When::Closed.matches(&State::Open { until: Instant::ZERO }));
/// assert!(When::Any.matches(&State::Disabled));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum When {
    /// Into open or forced open: the breaker starts refusing calls.
    Opened,
    /// Into half-open: the first probes go out.
    HalfOpened,
    /// Into closed: the dependency is back.
    Closed,
    /// Every transition.
    Any,
}

impl When {
    /// Whether a transition into `to` matches.
    pub fn matches(self, to: &State) -> bool {
        match self {
            Self::Opened => matches!(to, State::Open { .. } | State::ForcedOpen),
            Self::HalfOpened => matches!(to, State::HalfOpen { .. }),
            Self::Closed => matches!(to, State::Closed),
            Self::Any => true,
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type HookFn = dyn Fn(Transition) -> BoxFuture + Send + Sync;

struct Hook {
    /// The breaker it watches; `None` for every breaker.
    breaker: Option<String>,
    when: When,
    run: Arc<HookFn>,
}

/// Hooks run on breaker transitions (see the [module](self) documentation).
pub struct Recovery {
    hooks: Vec<Hook>,
    handle: Option<tokio::runtime::Handle>,
}

impl fmt::Debug for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovery")
            .field(
                "hooks",
                &self
                    .hooks
                    .iter()
                    .map(|h| (h.breaker.as_deref().unwrap_or("*"), h.when))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Recovery {
    fn default() -> Self {
        Self::new()
    }
}

impl Recovery {
    /// No hooks yet. Built inside a Tokio runtime, it remembers that runtime
    /// for transitions reported from plain threads.
    pub fn new() -> Self {
        Self {
            hooks: Vec::new(),
            handle: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// Runs `hook` on every transition of breaker `breaker` (`"*"`: of every
    /// breaker) that `when` matches.
    ///
    /// ```
    /// use steadfast_std::recovery::{Recovery, When};
    /// let r = Recovery::new().on("*", When::Closed, |t| async move { println!("{t}") });
    /// assert!(format!("{r:?}").contains("Closed"));
    /// ```
    #[must_use]
    pub fn on<F, Fut>(mut self, breaker: &str, when: When, hook: F) -> Self
    where
        F: Fn(Transition) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks.push(Hook {
            breaker: (breaker != "*").then(|| breaker.to_owned()),
            when,
            run: Arc::new(move |t| Box::pin(hook(t))),
        });
        self
    }

    /// Runs `hook` when breaker `breaker` opens (or is forced open).
    #[must_use]
    pub fn on_open<F, Fut>(self, breaker: &str, hook: F) -> Self
    where
        F: Fn(Transition) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on(breaker, When::Opened, hook)
    }

    /// Runs `hook` when breaker `breaker` closes.
    #[must_use]
    pub fn on_close<F, Fut>(self, breaker: &str, hook: F) -> Self
    where
        F: Fn(Transition) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on(breaker, When::Closed, hook)
    }

    fn spawn(&self, task: BoxFuture) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            drop(handle.spawn(task));
        } else if let Some(handle) = &self.handle {
            drop(handle.spawn(task));
        } else {
            std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    rt.block_on(task);
                }
            });
        }
    }
}

impl Observer for Recovery {
    fn on_event(&self, _policy: &str, breaker: Option<&str>, event: &Event) {
        let Event::Breaker(transition) = event else {
            return;
        };
        for hook in &self.hooks {
            let watched = match (&hook.breaker, breaker) {
                (None, _) => true,
                (Some(want), Some(name)) => want == name,
                (Some(_), None) => false,
            };
            if watched && hook.when.matches(&transition.to()) {
                self.spawn((hook.run)(*transition));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::mpsc;
    use steadfast::time::Instant;

    fn opened(at: u64) -> Event {
        Event::Breaker(Transition::new(
            State::Closed,
            State::Open {
                until: Instant::from_secs(at + 30),
            },
            Instant::from_secs(at),
        ))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_slow_hook_never_delays_the_caller() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let started = Mutex::new(Some(started_tx));
        let release = Arc::new(Mutex::new(Some(release_rx)));
        let recovery = Recovery::new().on_open("db", move |_| {
            let started = started.lock().unwrap().take();
            let release = release.lock().unwrap().take();
            async move {
                if let Some(s) = started {
                    let _ = s.send(());
                }
                if let Some(r) = release {
                    let _ = r.await;
                }
            }
        });
        // The observer returns while the hook has not even started: it runs
        // as a task of its own, which then waits for the test to release it.
        recovery.on_event("p", Some("db"), &opened(1));
        started_rx.await.unwrap();
        release_tx.send(()).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hooks_run_only_for_their_breaker_and_transition() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let hook = |label: &'static str| {
            let tx = tx.clone();
            move |t: Transition| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((label, t.at()));
                }
            }
        };
        let recovery = Recovery::new()
            .on_open("db", hook("db opened"))
            .on_close("db", hook("db closed"))
            .on("*", When::Any, hook("any"));
        recovery.on_event("p", Some("cache"), &opened(1));
        recovery.on_event("p", Some("db"), &opened(2));
        recovery.on_event("p", None, &Event::TimedOut { attempt: 1 });
        recovery.on_event(
            "p",
            Some("db"),
            &Event::Breaker(Transition::new(
                State::HalfOpen {
                    probes_in_flight: 0,
                    successes: 1,
                    deadline: None,
                },
                State::Closed,
                Instant::from_secs(3),
            )),
        );
        // The hooks hold senders too: the channel closes once they are gone
        // and every spawned hook has sent.
        drop((tx, recovery));
        let mut seen = Vec::new();
        while let Some((label, at)) = rx.recv().await {
            seen.push((label, at.as_micros() / 1_000_000));
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                ("any", 1),
                ("any", 2),
                ("any", 3),
                ("db closed", 3),
                ("db opened", 2)
            ]
        );
    }

    #[test]
    fn outside_any_runtime_a_hook_runs_on_a_thread_of_its_own() {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let recovery = Recovery::new().on_open("db", move |t| {
            let tx = tx.lock().unwrap().clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let _ = tx.send(t.at());
            }
        });
        recovery.on_event("p", Some("db"), &opened(7));
        assert_eq!(rx.recv().unwrap(), Instant::from_secs(7));
    }
}
