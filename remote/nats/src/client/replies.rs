//! One subscription for the replies of all of a client's requests: each
//! request gets a subject under the client's inbox, and its events are
//! routed to it. No subscription is made or removed per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_nats::{Client, Message};
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// Routes by the last token of the reply subject.
#[derive(Default)]
struct Routes {
    open: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
}

/// The client's reply subjects.
pub(crate) struct Replies {
    prefix: String,
    routes: Arc<Routes>,
    dispatcher: tokio::task::JoinHandle<()>,
}

impl Drop for Replies {
    fn drop(&mut self) {
        self.dispatcher.abort();
    }
}

impl Replies {
    /// Subscribes to `{inbox}.*` and starts routing.
    pub(crate) async fn start(client: &Client) -> Result<Self, async_nats::SubscribeError> {
        let prefix = client.new_inbox();
        let mut subscription = client.subscribe(format!("{prefix}.*")).await?;
        let routes = Arc::new(Routes::default());
        let dispatcher = tokio::spawn({
            let routes = routes.clone();
            async move {
                while let Some(message) = subscription.next().await {
                    let route = message
                        .subject
                        .rsplit('.')
                        .next()
                        .and_then(|token| token.parse::<u64>().ok());
                    let sender = route.and_then(|route| {
                        let open = routes.open.lock().ok()?;
                        open.get(&route).cloned()
                    });
                    // A reply for a request that ended is dropped.
                    if let Some(sender) = sender {
                        let _ = sender.send(message);
                    }
                }
            }
        });
        Ok(Self {
            prefix,
            routes,
            dispatcher,
        })
    }

    /// A reply subject for request `n`, and its events. The route closes
    /// when the [`Route`] is dropped.
    pub(crate) fn open(&self, n: u64) -> Route {
        let (sender, receiver) = mpsc::unbounded_channel();
        if let Ok(mut open) = self.routes.open.lock() {
            open.insert(n, sender);
        }
        Route {
            subject: format!("{}.{n}", self.prefix),
            n,
            routes: self.routes.clone(),
            receiver,
        }
    }
}

/// One request's reply subject and events. Its events are bounded by the
/// request's credit.
pub(crate) struct Route {
    pub(crate) subject: String,
    n: u64,
    routes: Arc<Routes>,
    pub(crate) receiver: mpsc::UnboundedReceiver<Message>,
}

impl Drop for Route {
    fn drop(&mut self) {
        if let Ok(mut open) = self.routes.open.lock() {
            open.remove(&self.n);
        }
    }
}
